//! VADER's compound sentiment score without an allocation per character.
//!
//! VADER (Hutto & Gilbert, "VADER: A Parsimonious Rule-based Model for
//! Sentiment Analysis of Social Media Text", ICWSM 2014) scores a text from
//! a lexicon of word valences and a few rules: boosters ("very", "kinda"),
//! negations ("not", "isn't"), capitals, "but", "least", special idioms
//! and `!`/`?` emphasis. The `vader_sentiment` crate (0.1.1, MIT,
//! <https://github.com/ckw017/vader-sentiment-rust>) ports it to Rust; its
//! lexicons are used here as it ships them. Its `polarity_scores` allocates
//! a `String` for every character of the message (to look it up in the
//! emoji lexicon), hashes every token with SipHash over case-folded
//! characters and builds a `HashMap` for its result, which made it the
//! largest single cost of a triage decision. [`compound`] follows the
//! crate's rules step for step (including its quirks: a text with no
//! valence but an `!` scores negative, "least" always negates the word
//! after it) over the same lexicons, with lowercase ASCII tables for the
//! common case and the crate's own case-insensitive tables for any other
//! token. The crate's booster, negation and idiom lists and constants are
//! private, so they are copied below, under VADER's licence:
//!
//! > The MIT License (MIT). Copyright (c) 2016 C.J. Hutto. Permission is
//! > hereby granted, free of charge, to any person obtaining a copy of this
//! > software and associated documentation files (the "Software"), to deal
//! > in the Software without restriction, including without limitation the
//! > rights to use, copy, modify, merge, publish, distribute, sublicense,
//! > and/or sell copies of the Software, and to permit persons to whom the
//! > Software is furnished to do so, subject to the following conditions:
//! > The above copyright notice and this permission notice shall be
//! > included in all copies or substantial portions of the Software. THE
//! > SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
//! > IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
//! > MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT.
//! > IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY
//! > CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT,
//! > TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE
//! > SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
//!
//! One deliberate difference: where two special idioms match the same
//! window the crate takes whichever its `HashMap` iterates first (an order
//! that changes from process to process); this takes the first in the
//! list below.
//!
//! `sentiment::tests` checks that both give the same score on every
//! message of the in-domain set.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::Regex;
use unicase::UniCase;

/// Booster increment and decrement.
const B_INCR: f64 = 0.293;
const B_DECR: f64 = -0.293;
/// Capitals on a sentiment word in a mixed-case text.
const C_INCR: f64 = 0.733;
/// Negation.
const NEGATION_SCALAR: f64 = -0.740;
/// `?` and `!` emphasis.
const QMARK_INCR: f64 = 0.180;
const EMARK_INCR: f64 = 0.292;
const MAX_EMARK: usize = 4;
const MAX_QMARK: usize = 3;
const MAX_QMARK_INCR: f64 = 0.96;
/// The normalisation constant of `x / sqrt(x² + alpha)`.
const NORMALIZATION_ALPHA: f64 = 15.0;

const NEGATIONS: &[&str] = &[
    "aint",
    "arent",
    "cannot",
    "cant",
    "couldnt",
    "darent",
    "didnt",
    "doesnt",
    "ain't",
    "aren't",
    "can't",
    "couldn't",
    "daren't",
    "didn't",
    "doesn't",
    "dont",
    "hadnt",
    "hasnt",
    "havent",
    "isnt",
    "mightnt",
    "mustnt",
    "neither",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "isn't",
    "mightn't",
    "mustn't",
    "neednt",
    "needn't",
    "never",
    "none",
    "nope",
    "nor",
    "not",
    "nothing",
    "nowhere",
    "oughtnt",
    "shant",
    "shouldnt",
    "uhuh",
    "wasnt",
    "werent",
    "oughtn't",
    "shan't",
    "shouldn't",
    "uh-uh",
    "wasn't",
    "weren't",
    "without",
    "wont",
    "wouldnt",
    "won't",
    "wouldn't",
    "rarely",
    "seldom",
    "despite",
];

const BOOSTERS: &[(&str, f64)] = &[
    ("absolutely", B_INCR),
    ("amazingly", B_INCR),
    ("awfully", B_INCR),
    ("completely", B_INCR),
    ("considerable", B_INCR),
    ("considerably", B_INCR),
    ("decidedly", B_INCR),
    ("deeply", B_INCR),
    ("effing", B_INCR),
    ("enormous", B_INCR),
    ("enormously", B_INCR),
    ("entirely", B_INCR),
    ("especially", B_INCR),
    ("exceptional", B_INCR),
    ("exceptionally", B_INCR),
    ("extreme", B_INCR),
    ("extremely", B_INCR),
    ("fabulously", B_INCR),
    ("flipping", B_INCR),
    ("flippin", B_INCR),
    ("frackin", B_INCR),
    ("fracking", B_INCR),
    ("fricking", B_INCR),
    ("frickin", B_INCR),
    ("frigging", B_INCR),
    ("friggin", B_INCR),
    ("fully", B_INCR),
    ("fuckin", B_INCR),
    ("fucking", B_INCR),
    ("fuggin", B_INCR),
    ("fugging", B_INCR),
    ("greatly", B_INCR),
    ("hella", B_INCR),
    ("highly", B_INCR),
    ("hugely", B_INCR),
    ("incredible", B_INCR),
    ("incredibly", B_INCR),
    ("intensely", B_INCR),
    ("major", B_INCR),
    ("majorly", B_INCR),
    ("more", B_INCR),
    ("most", B_INCR),
    ("particularly", B_INCR),
    ("purely", B_INCR),
    ("quite", B_INCR),
    ("really", B_INCR),
    ("remarkably", B_INCR),
    ("so", B_INCR),
    ("substantially", B_INCR),
    ("thoroughly", B_INCR),
    ("total", B_INCR),
    ("totally", B_INCR),
    ("tremendous", B_INCR),
    ("tremendously", B_INCR),
    ("uber", B_INCR),
    ("unbelievably", B_INCR),
    ("unusually", B_INCR),
    ("utter", B_INCR),
    ("utterly", B_INCR),
    ("very", B_INCR),
    ("almost", B_DECR),
    ("barely", B_DECR),
    ("hardly", B_DECR),
    ("just enough", B_DECR),
    ("kind of", B_DECR),
    ("kinda", B_DECR),
    ("kindof", B_DECR),
    ("kind-of", B_DECR),
    ("less", B_DECR),
    ("little", B_DECR),
    ("marginal", B_DECR),
    ("marginally", B_DECR),
    ("occasional", B_DECR),
    ("occasionally", B_DECR),
    ("partly", B_DECR),
    ("scarce", B_DECR),
    ("scarcely", B_DECR),
    ("slight", B_DECR),
    ("slightly", B_DECR),
    ("somewhat", B_DECR),
    ("sort of", B_DECR),
    ("sorta", B_DECR),
    ("sortof", B_DECR),
    ("sort-of", B_DECR),
];

/// Special idioms containing lexicon words: their valence replaces the
/// word's.
const IDIOMS: &[(&str, f64)] = &[
    ("the shit", 3.0),
    ("the bomb", 3.0),
    ("bad ass", 1.5),
    ("badass", 1.5),
    ("yeah right", -2.0),
    ("kiss of death", -1.5),
    ("to die for", 3.0),
];

/// The lookup tables, built once from the crate's lexicons.
struct Tables {
    /// Lexicon valences by lowercase ASCII word.
    lexicon: foldhash::HashMap<String, f64>,
    /// Booster values by lowercase word.
    boosters: foldhash::HashMap<&'static str, f64>,
    /// Negation words, lowercase.
    negations: foldhash::HashSet<&'static str>,
    /// Emoji descriptions by character (the crate looks a text up one
    /// character at a time, so only one-character entries ever match).
    emoji: foldhash::HashMap<char, &'static str>,
    /// The crate's all-capitals test, for tokens that are not ASCII.
    all_caps: Option<Regex>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| Tables {
        lexicon: vader_sentiment::LEXICON
            .iter()
            .map(|(k, &v)| (k.to_lowercase(), v))
            .filter(|(k, _)| k.is_ascii())
            .collect(),
        boosters: BOOSTERS.iter().copied().collect(),
        negations: NEGATIONS.iter().copied().collect(),
        emoji: vader_sentiment::EMOJI_LEXICON
            .iter()
            .filter_map(|(k, &v)| {
                let mut chars = k.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Some((c, v)),
                    _ => None,
                }
            })
            .collect(),
        all_caps: Regex::new(r"^[A-Z\W]+$").ok(),
    })
}

/// Whether VADER's lexicon has `word` (any case, compared as the crate's
/// `UniCase` keys are).
pub(crate) fn in_lexicon(word: &str) -> bool {
    if word.is_ascii() {
        tables()
            .lexicon
            .contains_key(ascii_lower(word, &mut String::new()))
    } else {
        vader_sentiment::LEXICON.contains_key(&UniCase::new(word))
    }
}

/// `word` in ASCII lowercase: itself when it has no capital (no copy),
/// else a copy in `buf`.
fn ascii_lower<'b>(word: &'b str, buf: &'b mut String) -> &'b str {
    if word.bytes().any(|b| b.is_ascii_uppercase()) {
        buf.clear();
        buf.push_str(word);
        buf.make_ascii_lowercase();
        buf.as_str()
    } else {
        word
    }
}

/// Case-insensitive equality as the crate's `UniCase` compares.
fn eq_ci(token: &str, word: &str) -> bool {
    if token.is_ascii() {
        token.eq_ignore_ascii_case(word)
    } else {
        UniCase::new(token) == UniCase::new(word)
    }
}

/// The crate's `^[A-Z\W]+$` and longer than one byte.
fn is_all_caps(t: &Tables, token: &str) -> bool {
    if token.len() <= 1 {
        return false;
    }
    if token.is_ascii() {
        token
            .bytes()
            .all(|b| b.is_ascii_uppercase() || !(b.is_ascii_alphanumeric() || b == b'_'))
    } else {
        t.all_caps.as_ref().is_some_and(|r| r.is_match(token))
    }
}

/// One token's precomputed facts.
struct Token<'a> {
    text: &'a str,
    valence: Option<f64>,
    booster: Option<f64>,
    caps: bool,
    negated: bool,
}

/// VADER's compound score of `text`, in `-1..=1` (the crate's
/// `polarity_scores(text)["compound"]`).
pub(crate) fn compound(text: &str) -> f64 {
    let t = tables();
    let text = with_emoji_descriptions(t, text);
    let mut lower = String::new();
    let tokens: Vec<Token<'_>> = text
        .split_whitespace()
        .filter(|s| s.len() > 1)
        .map(|s| {
            let stripped = s.trim_matches(|c: char| c.is_ascii_punctuation());
            let text = if stripped.len() <= 1 { s } else { stripped };
            // One lowercase key per token for all three tables; tokens
            // beyond ASCII compare as the crate's `UniCase` does.
            let (valence, booster, negated) = if text.is_ascii() {
                let key = ascii_lower(text, &mut lower);
                (
                    t.lexicon.get(key).copied(),
                    t.boosters.get(key).copied(),
                    t.negations.contains(key),
                )
            } else {
                (
                    vader_sentiment::LEXICON.get(&UniCase::new(text)).copied(),
                    BOOSTERS
                        .iter()
                        .find(|(k, _)| eq_ci(text, k))
                        .map(|&(_, v)| v),
                    NEGATIONS.iter().any(|k| eq_ci(text, k)),
                )
            };
            Token {
                text,
                valence,
                booster,
                caps: is_all_caps(t, text),
                negated: negated || text.contains("n't"),
            }
        })
        .collect();
    if tokens.is_empty() {
        return 0.0;
    }
    let mixed_caps = tokens.iter().any(|k| k.caps) && tokens.iter().any(|k| !k.caps);
    let n = tokens.len();
    let mut sentiments: Vec<f64> = (0..n)
        .map(|i| {
            let kind_of = i + 1 < n
                && tokens.get(i).is_some_and(|k| eq_ci(k.text, "kind"))
                && tokens.get(i + 1).is_some_and(|k| eq_ci(k.text, "of"));
            match tokens.get(i) {
                Some(k) if k.booster.is_none() && !kind_of => {
                    valence(&tokens, i, mixed_caps, &mut lower)
                }
                _ => 0.0,
            }
        })
        .collect();
    if let Some(but) = tokens.iter().position(|k| eq_ci(k.text, "but")) {
        for (i, s) in sentiments.iter_mut().enumerate() {
            if i < but {
                *s *= 0.5;
            } else if i > but {
                *s *= 1.5;
            }
        }
    }
    let emarks = text.bytes().filter(|&b| b == b'!').count();
    let qmarks = text.bytes().filter(|&b| b == b'?').count();
    let amplifier = emarks.min(MAX_EMARK) as f64 * EMARK_INCR
        + if qmarks > MAX_QMARK {
            MAX_QMARK_INCR
        } else {
            qmarks as f64 * QMARK_INCR
        };
    let mut total: f64 = sentiments.iter().sum();
    if total > 0.0 {
        total += amplifier;
    } else {
        total -= amplifier;
    }
    (total / (total * total + NORMALIZATION_ALPHA).sqrt()).clamp(-1.0, 1.0)
}

/// `text` with every emoji the lexicon describes replaced by its
/// description (a space before it unless one is there); borrowed when
/// there is none.
fn with_emoji_descriptions<'a>(t: &Tables, text: &'a str) -> Cow<'a, str> {
    if text.is_ascii() || !text.chars().any(|c| t.emoji.contains_key(&c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 32);
    let mut prev_space = true;
    for c in text.chars() {
        if let Some(description) = t.emoji.get(&c) {
            if !prev_space {
                out.push(' ');
            }
            out.push_str(description);
            prev_space = false;
        } else {
            prev_space = c == ' ';
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The valence of token `i` with the rules of the three words before it.
fn valence(tokens: &[Token<'_>], i: usize, mixed_caps: bool, scratch: &mut String) -> f64 {
    let Some(word) = tokens.get(i) else {
        return 0.0;
    };
    let Some(mut valence) = word.valence else {
        return 0.0;
    };
    if word.caps && mixed_caps {
        valence += if valence > 0.0 { C_INCR } else { -C_INCR };
    }
    for start in 0..3usize {
        let Some(before) = i.checked_sub(start + 1).and_then(|j| tokens.get(j)) else {
            continue;
        };
        if before.valence.is_some() {
            continue;
        }
        let mut scalar = 0.0;
        if let Some(b) = before.booster {
            scalar = if valence < 0.0 { -b } else { b };
            if before.caps && mixed_caps {
                scalar += if valence > 0.0 { C_INCR } else { -C_INCR };
            }
        }
        if start == 1 {
            scalar *= 0.95;
        } else if start == 2 {
            scalar *= 0.9;
        }
        valence += scalar;
        valence = negation_check(valence, tokens, start, i);
        if start == 2 {
            valence = special_idioms(valence, tokens, i, scratch);
        }
    }
    if i > 0 && tokens.get(i - 1).is_some_and(|k| eq_ci(k.text, "least")) {
        valence *= NEGATION_SCALAR;
    }
    valence
}

/// The crate's `negation_check`, with its operator precedence.
fn negation_check(valence: f64, tokens: &[Token<'_>], start: usize, i: usize) -> f64 {
    let is = |back: usize, word: &str| {
        i.checked_sub(back)
            .and_then(|j| tokens.get(j))
            .is_some_and(|k| eq_ci(k.text, word))
    };
    let negated = i
        .checked_sub(start + 1)
        .and_then(|j| tokens.get(j))
        .is_some_and(|k| k.negated);
    let factor = match start {
        0 if negated => NEGATION_SCALAR,
        1 if is(2, "never") && (is(1, "so") || is(1, "this")) => 1.25,
        1 if is(2, "without") && is(1, "doubt") => 1.0,
        1 if negated => NEGATION_SCALAR,
        2 if is(3, "never") && is(2, "so") || is(2, "this") || is(1, "so") || is(1, "this") => 1.25,
        2 if is(3, "without") && is(2, "doubt") || is(1, "doubt") => 1.0,
        2 if negated => NEGATION_SCALAR,
        _ => 1.0,
    };
    valence * factor
}

/// The crate's `special_idioms_check`: an idiom in the window from three
/// words before to two after sets the valence; boosters in the three
/// words before add theirs (as substrings of the joined words, as the
/// crate does).
fn special_idioms(mut valence: f64, tokens: &[Token<'_>], i: usize, scratch: &mut String) -> f64 {
    let (Some(from), n) = (i.checked_sub(3), tokens.len()) else {
        return valence;
    };
    let end = if i + 1 < n { (i + 3).min(n) } else { i + 1 };
    let join = |to: usize, out: &mut String| {
        out.clear();
        for (j, k) in tokens.get(from..to).unwrap_or_default().iter().enumerate() {
            if j > 0 {
                out.push(' ');
            }
            out.push_str(k.text);
        }
        *out = out.to_lowercase();
    };
    join(end, scratch);
    if let Some(&(_, v)) = IDIOMS.iter().find(|(k, _)| scratch.contains(k)) {
        valence = v;
    }
    join(i, scratch);
    for &(k, v) in BOOSTERS {
        if scratch.contains(k) {
            valence += v;
        }
    }
    valence
}
