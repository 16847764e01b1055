//! Text normalisation shared by every matcher.
//!
//! WhatsApp text is informal: "PLEEEASE", "plz", "nhi", "₹5k", emojis,
//! Devanagari with virama and nukta. Matching on raw text would need every
//! spelling in every rule, so both the message and every rule phrase pass
//! through [`normalize`] and are compared as space-delimited token strings.

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// Normalises `text` into space-separated tokens with a leading and a
/// trailing space (`" when can we sign "`), so that a phrase `" can we "`
/// matches only whole words.
///
/// Steps: Unicode NFKC; lowercase; a few emojis become words (`👍` → `ok`,
/// `🙏` → `please`, angry faces → `angry`); `₹` becomes `rs`; every character
/// that is not a letter, a digit or a Devanagari sign becomes a space; runs
/// of three or more identical letters collapse to one ("pleeease" →
/// "please"); common chat spellings map to one form ("plz"/"pls" →
/// "please", "u" → "you", "nhi"/"nahin" → "nahi", "kia" → "kya", "h" →
/// "hai", "thx" → "thanks", "bohot"/"bhot" → "bahut", "vapas" → "wapas",
/// "chaiye" → "chahiye", "dont" → "don t" as an apostrophe would give).
pub fn normalize(text: &str) -> String {
    let mut out = String::new();
    normalize_into(text, &mut out);
    out
}

/// [`normalize`] into `out` (replacing its contents), reusing its buffer:
/// a prediction normalises into a buffer kept per thread, instead of
/// allocating and freeing a string per message.
pub(crate) fn normalize_into(text: &str, out: &mut String) {
    out.clear();
    out.reserve(text.len() + 2);
    // NFKC leaves ASCII unchanged, and leaves any text that is already NFKC
    // unchanged, so the (slow) composing iterator runs only when needed.
    if text.is_ascii() {
        let mut bytes = std::mem::take(out).into_bytes();
        normalize_ascii(text.as_bytes(), &mut bytes);
        // ASCII throughout (the canonical spellings are ASCII too), so
        // never the empty default.
        *out = String::from_utf8(bytes).unwrap_or_default();
        return;
    }
    let mut n = Normalizer {
        out: std::mem::take(out),
        token: 1,
        last: None,
        run: 0,
    };
    n.out.push(' ');
    if is_nfkc_quick(text.chars()) == IsNormalized::Yes {
        for c in text.chars().flat_map(char::to_lowercase) {
            n.feed(c);
        }
    } else {
        for c in text.nfkc().flat_map(char::to_lowercase) {
            n.feed(c);
        }
    }
    n.end_token();
    *out = n.out;
}

/// [`normalize`] of ASCII text, a token at a time. Most messages are
/// ASCII, and for ASCII every step is a slice operation: no emoji, no
/// Unicode classes, a byte per character. The same steps as
/// [`Normalizer`], which feeding a character at a time into a `String`
/// (encoding each `char`, comparing `Option<char>` runs) made about 45
/// instructions a byte.
fn normalize_ascii(text: &[u8], out: &mut Vec<u8>) {
    out.push(b' ');
    let mut rest = text;
    // Letters and digits found by a table lookup a byte: testing the two
    // ranges took twice the instructions of the scans.
    let word_byte = |b: &u8| WORD_BYTES[usize::from(*b)];
    while let Some(start) = rest.iter().position(word_byte) {
        let word = rest.get(start..).unwrap_or_default();
        let len = word
            .iter()
            .position(|b| !word_byte(b))
            .unwrap_or(word.len());
        let (word, tail) = word.split_at(len);
        rest = tail;
        let from = out.len();
        out.extend(word.iter().map(u8::to_ascii_lowercase));
        let token = out.get(from..).unwrap_or_default();
        // Runs of three or more of one letter are rare: only then is the
        // token rebuilt.
        let triple = |((a, b), c): ((&u8, &u8), &u8)| a == b && b == c && a.is_ascii_alphabetic();
        let runs = token
            .iter()
            .zip(token.iter().skip(1))
            .zip(token.iter().skip(2));
        if runs.into_iter().any(triple) {
            let lowered: Vec<u8> = token.to_vec();
            out.truncate(from);
            collapse_runs(&lowered, out);
        }
        if let Some(canonical) = canonical_spelling(out.get(from..).unwrap_or_default()) {
            out.truncate(from);
            out.extend_from_slice(canonical.as_bytes());
        }
        out.push(b' ');
    }
}

/// Per byte value: whether it is an ASCII letter or digit.
const WORD_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    table
};

/// Appends `token` to `out` with the third and later of every run of one
/// letter dropped, together with the second ("eee" → "e"), as
/// [`Normalizer::push`] does.
fn collapse_runs(token: &[u8], out: &mut Vec<u8>) {
    let (mut last, mut run) = (None, 0usize);
    for &b in token {
        if last == Some(b) {
            run += 1;
        } else {
            (last, run) = (Some(b), 1);
        }
        if run >= 3 && b.is_ascii_alphabetic() {
            if run == 3 {
                out.pop();
            }
            continue;
        }
        out.push(b);
    }
}

/// [`normalize`] one character at a time, writing tokens straight into the
/// output: runs of identical letters collapse as they arrive and a finished
/// token is swapped for its canonical spelling in place.
struct Normalizer {
    out: String,
    /// Byte offset in `out` where the current token starts.
    token: usize,
    /// The current token's last character and how many times it repeats.
    last: Option<char>,
    run: usize,
}

impl Normalizer {
    fn feed(&mut self, c: char) {
        match c {
            '👍' | '👌' | '✅' => self.word("ok"),
            '🙏' => self.word("please"),
            '😡' | '😠' | '🤬' | '😤' => self.word("angry"),
            '₹' => self.word("rs"),
            '\u{200c}' | '\u{200d}' => {}
            c if is_word_char(c) => self.push(c),
            _ => self.end_token(),
        }
    }

    /// Appends `c` to the current token; the third and later of a run of
    /// one letter are dropped, together with the second ("eee" → "e").
    #[inline]
    fn push(&mut self, c: char) {
        if self.last == Some(c) {
            self.run += 1;
        } else {
            self.last = Some(c);
            self.run = 1;
        }
        if self.run >= 3 && c.is_alphabetic() {
            if self.run == 3 {
                self.out.pop();
            }
            return;
        }
        self.out.push(c);
    }

    /// A replacement word standing alone, as `" ok "` would.
    fn word(&mut self, w: &str) {
        self.end_token();
        for c in w.chars() {
            self.push(c);
        }
        self.end_token();
    }

    fn end_token(&mut self) {
        self.last = None;
        self.run = 0;
        let Some(token) = self.out.get(self.token..) else {
            return;
        };
        if token.is_empty() {
            return;
        }
        if let Some(canonical) = canonical_spelling(token.as_bytes()) {
            self.out.truncate(self.token);
            self.out.push_str(canonical);
        }
        self.out.push(' ');
        self.token = self.out.len();
    }
}

/// True for characters that belong inside a word: Unicode letters and digits
/// plus the Devanagari block's combining signs (virama, nukta, vowel signs),
/// which are not all "alphabetic" but are part of the word they sit in. The
/// dandas (`।`, `॥`) are punctuation. The Devanagari range is tested first:
/// `char::is_alphanumeric` of a non-ASCII character is a table search, the
/// largest single cost of triaging a Hindi message before this order.
pub fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    (('\u{0900}'..='\u{097f}').contains(&c) && c != '\u{0964}' && c != '\u{0965}')
        || c.is_alphanumeric()
}

/// Chat spellings, each group with the one form its spellings map to.
const SPELLINGS: &[(&[&str], &str)] = &[
    (&["plz", "pls", "plss", "plzz", "pliz", "plis"], "please"),
    (&["u"], "you"),
    (&["ur"], "your"),
    (
        &["thx", "thnx", "thanx", "thnks", "tnx", "thankyou"],
        "thanks",
    ),
    (&["ty"], "thanks"),
    (&["k", "kk", "okk", "okay", "okey"], "ok"),
    (&["nhi", "nahin", "nai", "nahee", "nahi"], "nahi"),
    (&["kia", "kyaa"], "kya"),
    (&["h", "hy", "hain"], "hai"),
    (&["kr"], "kar"),
    (&["krna"], "karna"),
    (&["krdo", "kardo"], "kar do"),
    (&["rs", "inr", "rupees", "rupaye", "rupay"], "rs"),
    (&["msg"], "message"),
    (&["bhai", "bhaiya", "bhaiyya", "bhayya"], "bhai"),
    (&["mam", "maam", "madam", "mem"], "madam"),
    (&["sir", "sirji", "sirjee"], "sir"),
    // Romanised Hindi has no standard spelling: one form per word.
    (&["kyu", "kyun", "kyon", "kiyu", "kiyun"], "kyun"),
    (
        &["bahut", "bohot", "bhot", "bahot", "bohut", "bhut"],
        "bahut",
    ),
    (&["accha", "acha", "achha", "achchha", "acchha"], "accha"),
    (&["theek", "thik", "teek", "tik"], "theek"),
    (
        &["wapas", "vapas", "vaapas", "waapas", "vapis", "wapis"],
        "wapas",
    ),
    (&["karo", "kro", "kijiye", "kariye"], "karo"),
    (
        &["chahiye", "chaiye", "chahie", "chiye", "chahye", "chahiya"],
        "chahiye",
    ),
    (&["jaldi", "jldi"], "jaldi"),
    (&["abhi", "abi", "abhee"], "abhi"),
    (&["mujhe", "muje", "mjhe", "mujhko"], "mujhe"),
    (&["paisa", "paisaa", "pesa", "paissa"], "paisa"),
    (&["paise", "pese", "paisee"], "paise"),
    (
        &["dhanyavad", "dhanyawad", "dhanyavaad", "dhanyawaad"],
        "dhanyavad",
    ),
    (&["shukriya", "sukriya", "shukria"], "shukriya"),
    (&["hello", "helo", "hlo", "hellow"], "hello"),
    (&["hii"], "hi"),
    (&["wat", "wht"], "what"),
    (&["abt"], "about"),
    (&["bcoz", "bcz", "coz", "cuz", "because"], "because"),
    (&["dont"], "don t"),
    (&["cant"], "can t"),
    (&["wont"], "won t"),
    (&["didnt"], "didn t"),
    (&["doesnt"], "doesn t"),
    (&["isnt"], "isn t"),
    (&["im"], "i m"),
];

/// Slots of [`SPELLING_INDEX`]: a power of two over sixteen times the
/// spellings, so that a token that is none of them (most) nearly always
/// finds its slot empty. With four times, 63% of banking77's token lookups
/// met a spelling's slot and compared with it (a mispredicted branch or
/// two each).
const SPELLING_SLOTS: usize = 2048;

/// The slot where [`SPELLING_INDEX`]'s probing for `token` starts: its
/// length and first and last two bytes, mixed by one multiplication. Not a
/// hash of every byte: a chain of multiplications, one per byte, made
/// every token wait for it; tokens that share these bytes only probe a
/// slot further.
const fn spelling_hash(token: &[u8]) -> usize {
    let (a, b, c, d) = match token {
        [] => (0, 0, 0, 0),
        [a] => (*a, 0, 0, *a),
        [a, d] => (*a, 0, 0, *d),
        [a, b, d] => (*a, *b, 0, *d),
        [a, b, .., c, d] => (*a, *b, *c, *d),
    };
    let x = token.len() as u64
        | (a as u64) << 8
        | (b as u64) << 16
        | (c as u64) << 24
        | (d as u64) << 32;
    (x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 53) as usize % SPELLING_SLOTS
}

/// Open addressing over [`SPELLINGS`], built at compile time: a slot holds
/// `1 + (group << 4 | spelling)` (groups have under 16 spellings), or 0 if
/// empty.
const SPELLING_INDEX: [u16; SPELLING_SLOTS] = {
    let mut index = [0u16; SPELLING_SLOTS];
    let mut group = 0;
    while group < SPELLINGS.len() {
        let spellings = SPELLINGS[group].0;
        assert!(spellings.len() < 16);
        let mut i = 0;
        while i < spellings.len() {
            let mut at = spelling_hash(spellings[i].as_bytes());
            while index[at] != 0 {
                at = (at + 1) % SPELLING_SLOTS;
            }
            index[at] = 1 + ((group << 4) | i) as u16;
            i += 1;
        }
        group += 1;
    }
    index
};

/// The one form of a chat spelling (`"plz"` → `"please"`), if `token` is
/// one. A hash-table lookup: a `match` over the hundred spellings compared
/// the token with every spelling of its length, about 120 instructions a
/// token, most of them for the usual word that is none.
fn canonical_spelling(token: &[u8]) -> Option<&'static str> {
    let mut at = spelling_hash(token);
    loop {
        let entry = usize::from(*SPELLING_INDEX.get(at)?).checked_sub(1)?;
        let (spellings, canonical) = SPELLINGS.get(entry >> 4)?;
        if spellings.get(entry & 15)?.as_bytes() == token {
            return Some(canonical);
        }
        at = (at + 1) % SPELLING_SLOTS;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The first `canonical_spelling`, a `match`, kept as its specification.
    fn reference_spelling(token: &str) -> Option<&'static str> {
        Some(match token {
            "plz" | "pls" | "plss" | "plzz" | "pliz" | "plis" => "please",
            "u" => "you",
            "ur" => "your",
            "thx" | "thnx" | "thanx" | "thnks" | "tnx" | "thankyou" => "thanks",
            "ty" => "thanks",
            "k" | "kk" | "okk" | "okay" | "okey" => "ok",
            "nhi" | "nahin" | "nai" | "nahee" | "nahi" => "nahi",
            "kia" | "kyaa" => "kya",
            "h" | "hy" | "hain" => "hai",
            "kr" => "kar",
            "krna" => "karna",
            "krdo" | "kardo" => "kar do",
            "rs" | "inr" | "rupees" | "rupaye" | "rupay" => "rs",
            "msg" => "message",
            "bhai" | "bhaiya" | "bhaiyya" | "bhayya" => "bhai",
            "mam" | "maam" | "madam" | "mem" => "madam",
            "sir" | "sirji" | "sirjee" => "sir",
            // Romanised Hindi has no standard spelling: one form per word.
            "kyu" | "kyun" | "kyon" | "kiyu" | "kiyun" => "kyun",
            "bahut" | "bohot" | "bhot" | "bahot" | "bohut" | "bhut" => "bahut",
            "accha" | "acha" | "achha" | "achchha" | "acchha" => "accha",
            "theek" | "thik" | "teek" | "tik" => "theek",
            "wapas" | "vapas" | "vaapas" | "waapas" | "vapis" | "wapis" => "wapas",
            "karo" | "kro" | "kijiye" | "kariye" => "karo",
            "chahiye" | "chaiye" | "chahie" | "chiye" | "chahye" | "chahiya" => "chahiye",
            "jaldi" | "jldi" => "jaldi",
            "abhi" | "abi" | "abhee" => "abhi",
            "mujhe" | "muje" | "mjhe" | "mujhko" => "mujhe",
            "paisa" | "paisaa" | "pesa" | "paissa" => "paisa",
            "paise" | "pese" | "paisee" => "paise",
            "dhanyavad" | "dhanyawad" | "dhanyavaad" | "dhanyawaad" => "dhanyavad",
            "shukriya" | "sukriya" | "shukria" => "shukriya",
            "hello" | "helo" | "hlo" | "hellow" => "hello",
            "hii" => "hi",
            "wat" | "wht" => "what",
            "abt" => "about",
            "bcoz" | "bcz" | "coz" | "cuz" | "because" => "because",
            "dont" => "don t",
            "cant" => "can t",
            "wont" => "won t",
            "didnt" => "didn t",
            "doesnt" => "doesn t",
            "isnt" => "isn t",
            "im" => "i m",
            _ => return None,
        })
    }

    /// The first implementation of [`normalize`], kept as its specification.
    fn reference(text: &str) -> String {
        let mut cleaned = String::with_capacity(text.len() + 2);
        cleaned.push(' ');
        for c in text.nfkc().flat_map(char::to_lowercase) {
            match c {
                '👍' | '👌' | '✅' => cleaned.push_str(" ok "),
                '🙏' => cleaned.push_str(" please "),
                '😡' | '😠' | '🤬' | '😤' => cleaned.push_str(" angry "),
                '₹' => cleaned.push_str(" rs "),
                '\u{200c}' | '\u{200d}' => {}
                c if is_word_char(c) => cleaned.push(c),
                _ => cleaned.push(' '),
            }
        }
        let mut out = String::with_capacity(cleaned.len() + 2);
        out.push(' ');
        for token in cleaned.split_whitespace() {
            let collapsed = collapse_repeats(token);
            out.push_str(reference_spelling(&collapsed).unwrap_or(&collapsed));
            out.push(' ');
        }
        out
    }

    fn collapse_repeats(token: &str) -> String {
        let chars: Vec<char> = token.chars().collect();
        let mut out = String::with_capacity(token.len());
        let mut i = 0;
        while let Some(&c) = chars.get(i) {
            let mut j = i;
            while chars.get(j) == Some(&c) {
                j += 1;
            }
            let run = j - i;
            let keep = if run >= 3 && c.is_alphabetic() {
                1
            } else {
                run
            };
            for _ in 0..keep {
                out.push(c);
            }
            i = j;
        }
        out
    }

    proptest! {
        #[test]
        fn same_as_reference(text in "\\PC{0,40}") {
            prop_assert_eq!(normalize(&text), reference(&text));
        }

        #[test]
        fn same_as_reference_on_ascii(text in "([a-zA-Z0-9 ,.!?'\t]{0,6}|eee|EEE|eEe|Plz|nhi|h|U|dont|kk|aaaa1111|Okkk){0,12}") {
            prop_assert_eq!(normalize(&text), reference(&text));
        }

        #[test]
        fn spelling_table_same_as_match(word in "[a-z]{0,10}") {
            prop_assert_eq!(canonical_spelling(word.as_bytes()), reference_spelling(&word));
        }

        #[test]
        fn same_as_reference_on_chat_text(text in "([a-zA-Z ]{0,6}|eee|EEE|!|pls|Plz|nhi|h|₹|👍|🙏|😡|\u{200d}|\u{200c}|ﬁ|Ⅻ|क्|ड़|ड\u{093c}|é|e\u{301}|İ|ß|Σ|٣|１２|\u{301}|।|\t|\n){0,12}") {
            prop_assert_eq!(normalize(&text), reference(&text));
        }
    }

    #[test]
    fn normalises_case_repeats_and_chat_spellings() {
        assert_eq!(normalize("PLEEEASE help!!"), " please help ");
        assert_eq!(normalize("plz call me"), " please call me ");
        assert_eq!(normalize("Price kia h?"), " price kya hai ");
        assert_eq!(normalize("order nhi aaya"), " order nahi aaya ");
        assert_eq!(normalize("₹5,000"), " rs 5 000 ");
        assert_eq!(normalize("ok 👍"), " ok ok ");
    }

    #[test]
    fn keeps_devanagari_words_whole() {
        assert_eq!(normalize("मेरा पैसा वापस करो।"), " मेरा पैसा वापस करो ");
        assert_eq!(normalize("क्या"), " क्या ");
    }

    /// The spelling table finds what the first `match` did, and nothing
    /// else.
    #[test]
    fn spelling_table_is_the_match() {
        for (spellings, canonical) in SPELLINGS {
            for s in *spellings {
                assert_eq!(canonical_spelling(s.as_bytes()), Some(*canonical), "{s}");
                assert_eq!(reference_spelling(s), Some(*canonical), "{s}");
            }
        }
        for word in [
            "", "a", "the", "pleas", "plzz2", "okayy", "nahi ", "ph", "कर",
        ] {
            assert_eq!(
                canonical_spelling(word.as_bytes()),
                reference_spelling(word)
            );
        }
    }

    #[test]
    fn double_letters_survive() {
        assert_eq!(normalize("good need"), " good need ");
    }
}
