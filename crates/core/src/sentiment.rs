//! Sentiment: negative / neutral / positive with a score in `-1..=1`.
//!
//! English is scored by VADER (the `vader_sentiment` crate, a port of the
//! original lexicon and rules). VADER knows no Hindi, so a Hinglish and
//! Devanagari overlay (`rules/lexicon/sentiment.txt`: bakwas, ghatiya,
//! pareshan, dhoka, shukriya, dhanyavad, …) adds its valences to VADER's
//! sum before the same normalisation `x / sqrt(x² + 15)`, and the labels
//! use VADER's usual cut-offs (±0.05).
//!
//! VADER allocates per call, so it only runs when the message contains a
//! word of its lexicon, an emoji or `!`: most Hinglish and Hindi messages
//! skip it, which keeps triage above 100,000 messages a second.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use unicase::UniCase;
use vader_sentiment::SentimentIntensityAnalyzer;

use crate::text::normalize;

const OVERLAY: &str = include_str!("../rules/lexicon/sentiment.txt");

/// VADER's normalisation constant.
const ALPHA: f64 = 15.0;
/// Negation damping, as in VADER.
const NEGATION: f64 = -0.74;

/// The sentiment label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SentimentLabel {
    /// Score ≤ -0.05.
    Negative,
    /// Between the cut-offs.
    Neutral,
    /// Score ≥ 0.05.
    Positive,
}

/// A message's sentiment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sentiment {
    /// Label from the score.
    pub label: SentimentLabel,
    /// VADER-style compound score in `-1..=1` (negative is bad).
    pub score: f32,
}

impl Default for Sentiment {
    fn default() -> Self {
        Self {
            label: SentimentLabel::Neutral,
            score: 0.0,
        }
    }
}

/// VADER plus the Hinglish/Hindi overlay.
#[derive(Debug, Clone)]
pub struct SentimentAnalyzer {
    overlay: HashMap<String, f64>,
}

impl Default for SentimentAnalyzer {
    fn default() -> Self {
        Self::builtin()
    }
}

impl SentimentAnalyzer {
    /// The analyzer with the built-in overlay.
    pub fn builtin() -> Self {
        let overlay = OVERLAY
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let (word, valence) = l.rsplit_once(' ')?;
                let valence: f64 = valence.parse().ok()?;
                Some((normalize(word).trim().to_owned(), valence))
            })
            .collect();
        Self { overlay }
    }

    /// Scores `text`; `norm` is `normalize(text)`.
    pub fn score(&self, text: &str, norm: &str) -> Sentiment {
        let tokens: Vec<&str> = norm.split_whitespace().collect();
        let mut overlay_sum = 0.0f64;
        let mut english_hit = false;
        for (i, tok) in tokens.iter().enumerate() {
            if let Some(v) = self.overlay.get(*tok) {
                let negated = [i.checked_sub(1), Some(i + 1)]
                    .into_iter()
                    .flatten()
                    .filter_map(|j| tokens.get(j))
                    .any(|t| matches!(*t, "nahi" | "na" | "mat" | "नहीं" | "नही" | "ना"));
                overlay_sum += if negated { v * NEGATION } else { *v };
            } else if !english_hit
                && tok.is_ascii()
                && vader_sentiment::LEXICON.contains_key(&UniCase::new(*tok))
            {
                english_hit = true;
            }
        }
        let emoji_or_bang = text
            .chars()
            .any(|c| c == '!' || (c as u32) >= 0x1f300 || ('\u{2600}'..='\u{27bf}').contains(&c));
        let vader_raw = if english_hit || emoji_or_bang {
            let analyzer = SentimentIntensityAnalyzer::new();
            let scores = analyzer.polarity_scores(text);
            let c = scores.get("compound").copied().unwrap_or(0.0);
            // Undo VADER's normalisation to add the overlay on its scale.
            let c = c.clamp(-0.9999, 0.9999);
            c * (ALPHA / (1.0 - c * c)).sqrt()
        } else {
            0.0
        };
        let total = vader_raw + overlay_sum;
        let score = if total == 0.0 {
            0.0
        } else {
            total / (total * total + ALPHA).sqrt()
        };
        let label = if score <= -0.05 {
            SentimentLabel::Negative
        } else if score >= 0.05 {
            SentimentLabel::Positive
        } else {
            SentimentLabel::Neutral
        };
        Sentiment {
            label,
            score: score as f32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(text: &str) -> Sentiment {
        SentimentAnalyzer::builtin().score(text, &normalize(text))
    }

    #[test]
    fn english_hinglish_hindi() {
        assert_eq!(
            score("worst service ever!!!").label,
            SentimentLabel::Negative
        );
        assert_eq!(
            score("thank you so much, great help").label,
            SentimentLabel::Positive
        );
        assert_eq!(
            score("the parcel is at the gate").label,
            SentimentLabel::Neutral
        );
        assert_eq!(score("bakwas service hai").label, SentimentLabel::Negative);
        assert!(score("ekdum ghatiya, dhoka hai").score < -0.6);
        assert_eq!(score("bahut shukriya bhai").label, SentimentLabel::Positive);
        assert_eq!(score("बहुत घटिया सर्विस").label, SentimentLabel::Negative);
        assert_eq!(score("धन्यवाद").label, SentimentLabel::Positive);
        assert_eq!(score("bura nahi tha").label, SentimentLabel::Positive);
    }
}
