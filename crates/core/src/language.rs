//! Language of a message: `en`, `hi` (Devanagari), `hinglish` (Hindi in
//! Latin script) or another ISO 639-1 code.
//!
//! Off-the-shelf detectors call Hinglish English ("mera order abhi tak nahi
//! aaya" comes out as English from lingua and as Javanese from whatlang), so
//! the decision is layered, cheapest first:
//!
//! 1. **Script.** Any Devanagari letter makes the message `hi` (Indian
//!    customers mix English words into Hindi, never the reverse in
//!    Devanagari); the other Indic scripts name their language directly
//!    (Bengali `bn`, Gurmukhi `pa`, Gujarati `gu`, Odia `or`, Tamil `ta`,
//!    Telugu `te`, Kannada `kn`, Malayalam `ml`).
//! 2. **Lexicons** for Latin script: words of romanised Hindi that are not
//!    English (`rules/lexicon/hinglish.txt`) against frequent English words
//!    (`rules/lexicon/english.txt`). At least one Hindi word and at least
//!    half as many Hindi as English words make it `hinglish`.
//! 3. **lingua**, restricted to a few languages at build time (its default
//!    75 make a 295 MB binary), only for Latin text of three or more words
//!    with no word from either lexicon, and for Arabic script (`ur`/`ar`).
//!
//! Text without letters (emoji only, numbers) is `und` (ISO 639-2
//! "undetermined").

use std::sync::OnceLock;

use lingua::{Language, LanguageDetector, LanguageDetectorBuilder};

use crate::text::normalize;

const HINGLISH_WORDS: &str = include_str!("../rules/lexicon/hinglish.txt");
const ENGLISH_WORDS: &str = include_str!("../rules/lexicon/english.txt");

/// The languages lingua may answer with (the workspace enables exactly
/// these features).
const LINGUA_LANGUAGES: [Language; 10] = [
    Language::English,
    Language::Hindi,
    Language::Marathi,
    Language::Urdu,
    Language::Arabic,
    Language::Spanish,
    Language::French,
    Language::German,
    Language::Portuguese,
    Language::Indonesian,
];

/// Minimum lingua confidence for a non-English answer on Latin text.
const LINGUA_MIN_CONFIDENCE: f64 = 0.6;

/// The detector: two word lists, and lingua loaded on first need.
#[derive(Debug, Clone)]
pub struct LanguageDetect {
    // foldhash, not std's SipHash: a lookup per word of every message,
    // and the lists are fixed text, so no hash flooding to defend against.
    hinglish: foldhash::HashSet<String>,
    english: foldhash::HashSet<String>,
}

impl Default for LanguageDetect {
    fn default() -> Self {
        Self::builtin()
    }
}

fn word_list(text: &str) -> foldhash::HashSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| normalize(l).trim().to_owned())
        .filter(|w| !w.is_empty())
        .collect()
}

fn lingua() -> &'static LanguageDetector {
    static DETECTOR: OnceLock<LanguageDetector> = OnceLock::new();
    DETECTOR.get_or_init(|| LanguageDetectorBuilder::from_languages(&LINGUA_LANGUAGES).build())
}

impl LanguageDetect {
    /// The detector with the built-in word lists.
    pub fn builtin() -> Self {
        Self {
            hinglish: word_list(HINGLISH_WORDS),
            english: word_list(ENGLISH_WORDS),
        }
    }

    /// The language code of `text`; `norm` is `normalize(text)` (passed in
    /// because triage has already computed it).
    pub fn detect(&self, text: &str, norm: &str) -> &'static str {
        let mut counts = ScriptCounts::default();
        for c in text.chars() {
            counts.add(c);
        }
        if counts.devanagari > 0 {
            return "hi";
        }
        if let Some(code) = counts.indic() {
            return code;
        }
        if counts.arabic > counts.latin {
            return lingua()
                .detect_language_of(text)
                .filter(|l| matches!(l, Language::Urdu | Language::Arabic))
                .map_or("ur", |l| if l == Language::Arabic { "ar" } else { "ur" });
        }
        if counts.latin == 0 {
            return "und";
        }
        let (mut hindi, mut english, mut words) = (0usize, 0usize, 0usize);
        for w in norm.split_whitespace() {
            if !w.chars().all(|c| c.is_ascii_alphabetic()) {
                continue;
            }
            words += 1;
            if self.hinglish.contains(w) {
                hindi += 1;
            } else if self.english.contains(w) {
                english += 1;
            }
        }
        if hindi >= 1 && hindi * 2 >= english {
            return "hinglish";
        }
        if hindi == 0 && english == 0 && words >= 3 {
            let best = lingua()
                .compute_language_confidence_values(text)
                .into_iter()
                .next();
            if let Some((lang, confidence)) = best
                && lang != Language::English
                && confidence >= LINGUA_MIN_CONFIDENCE
            {
                return iso_code(lang);
            }
        }
        "en"
    }
}

fn iso_code(lang: Language) -> &'static str {
    match lang {
        Language::English => "en",
        Language::Hindi => "hi",
        Language::Marathi => "mr",
        Language::Urdu => "ur",
        Language::Arabic => "ar",
        Language::Spanish => "es",
        Language::French => "fr",
        Language::German => "de",
        Language::Portuguese => "pt",
        Language::Indonesian => "id",
        // Only the languages above are compiled in.
        #[allow(unreachable_patterns)]
        _ => "und",
    }
}

#[derive(Debug, Default)]
struct ScriptCounts {
    latin: usize,
    devanagari: usize,
    arabic: usize,
    indic: [usize; 8],
    other: usize,
}

const INDIC: [(char, char, &str); 8] = [
    ('\u{0980}', '\u{09ff}', "bn"),
    ('\u{0a00}', '\u{0a7f}', "pa"),
    ('\u{0a80}', '\u{0aff}', "gu"),
    ('\u{0b00}', '\u{0b7f}', "or"),
    ('\u{0b80}', '\u{0bff}', "ta"),
    ('\u{0c00}', '\u{0c7f}', "te"),
    ('\u{0c80}', '\u{0cff}', "kn"),
    ('\u{0d00}', '\u{0d7f}', "ml"),
];

impl ScriptCounts {
    fn add(&mut self, c: char) {
        if ('\u{0900}'..='\u{097f}').contains(&c) {
            self.devanagari += 1;
        } else if ('\u{0600}'..='\u{06ff}').contains(&c) {
            self.arabic += 1;
        } else if let Some(i) = INDIC.iter().position(|(a, b, _)| (*a..=*b).contains(&c)) {
            if let Some(n) = self.indic.get_mut(i) {
                *n += 1;
            }
        } else if c.is_alphabetic() {
            if c.is_ascii_alphabetic() || ('\u{00c0}'..='\u{024f}').contains(&c) {
                self.latin += 1;
            } else {
                self.other += 1;
            }
        }
    }

    fn indic(&self) -> Option<&'static str> {
        let (i, n) = self.indic.iter().enumerate().max_by_key(|(_, n)| **n)?;
        (*n > 0 && *n >= self.latin).then(|| INDIC.get(i).map(|x| x.2))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(text: &str) -> &'static str {
        LanguageDetect::builtin().detect(text, &normalize(text))
    }

    #[test]
    fn english_hinglish_and_hindi() {
        assert_eq!(detect("When can we sign?"), "en");
        assert_eq!(detect("ok thanks"), "en");
        assert_eq!(detect("price kya hai?"), "hinglish");
        assert_eq!(detect("mera order abhi tak nahi aaya"), "hinglish");
        assert_eq!(detect("paisa kat gaya par order nhi hua"), "hinglish");
        assert_eq!(detect("मेरा पैसा वापस करो"), "hi");
        assert_eq!(detect("refund कब मिलेगा?"), "hi");
        assert_eq!(detect("👍"), "und");
    }

    #[test]
    fn other_scripts_and_languages() {
        assert_eq!(detect("আমার অর্ডার কোথায়"), "bn");
        assert_eq!(detect("எனக்கு பணம் திரும்ப வேண்டும்"), "ta");
        assert_eq!(
            detect("Quisiera saber el precio del apartamento grande"),
            "es"
        );
    }
}
