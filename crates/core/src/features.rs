//! Hashed text features shared by training and prediction.
//!
//! A message becomes a sparse vector over `2^bits` buckets: word unigrams
//! and bigrams of the normalised text ([`crate::text::normalize`]),
//! character 2- to 5-grams inside each word (padded with spaces, like
//! scikit-learn's `char_wb`), and a few surface signals that normalisation
//! removes (question mark, `!!!`, capitals, digits, length). Character
//! n-grams are what make Devanagari and the many spellings of romanised
//! Hindi work: "bhejdo" and "bhej do" share most of their n-grams.
//!
//! Hashing is xxh3 (a specified, platform-independent function), so a
//! model file means the same thing on every machine and in every release.
//! Each kind of feature has its own seed, so the word "hai" and the
//! character trigram "hai" are different features, and each hash also picks
//! a sign, which keeps collisions from adding up in one direction.
//! Word and character blocks are L2-normalised separately (after
//! `1 + ln(count)`), so neither drowns the other whatever the length.

use std::cell::RefCell;

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::text::normalize;

const SEED_WORD: u64 = 0x5357_0001;
const SEED_BIGRAM: u64 = 0x5357_0002;
const SEED_CHAR: u64 = 0x5357_0003;
const SEED_META: u64 = 0x5357_0004;

/// Smallest and largest character n-gram lengths.
const CHAR_MIN: usize = 2;
const CHAR_MAX: usize = 5;

/// Weight of the surface-signal block relative to the word and character
/// blocks (each of norm 1).
const META_WEIGHT: f32 = 0.5;

/// One sparse feature: a bucket index and its value.
pub type Feature = (u32, f32);

/// Turns text into hashed features over `2^bits` buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Featurizer {
    bits: u8,
}

impl Featurizer {
    /// A featurizer over `2^bits` buckets; `bits` is clamped to 10..=24.
    pub fn new(bits: u8) -> Self {
        Self {
            bits: bits.clamp(10, 24),
        }
    }

    /// The number of hash bits.
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// The number of buckets (`2^bits`).
    pub fn dim(&self) -> usize {
        1usize << self.bits
    }

    /// Extracts the features of `raw` into `out` (cleared first), sorted by
    /// bucket with duplicates merged. Never panics, whatever the text.
    pub fn extract(&self, raw: &str, out: &mut Vec<Feature>) {
        self.extract_normalized(raw, &normalize(raw), out);
    }

    /// Like [`Featurizer::extract`] when the caller already has
    /// `normalize(raw)` (triage normalises once for rules, language,
    /// sentiment and the model).
    pub fn extract_normalized(&self, raw: &str, norm: &str, out: &mut Vec<Feature>) {
        out.clear();
        let mut keys: [Vec<u32>; BLOCKS] = Default::default();
        self.keys(raw, norm, &mut keys);
        let [words, chars, meta] = &mut keys;
        normalise_block(words, self.bits, 1.0, out);
        let words_len = out.len();
        normalise_block(chars, self.bits, 1.0, out);
        let chars_len = out.len();
        normalise_block(meta, self.bits, META_WEIGHT, out);
        merge(out, words_len, chars_len);
    }

    /// Sets `keys` to the hashed keys of `raw` (whose `normalize` is
    /// `norm`), block by block: word unigrams and bigrams, character
    /// n-grams, surface signals. A key is a bucket (below 2^24) shifted
    /// left by one, the low bit set when the hash picks a negative sign:
    /// plain integers sort and compare faster than pairs.
    fn keys(&self, raw: &str, norm: &str, keys: &mut [Vec<u32>; BLOCKS]) {
        let mask = (1u64 << self.bits) - 1;
        let key_of = |h: u64| -> u32 { (((h & mask) as u32) << 1) | (h >> 63) as u32 };
        let key = |bytes: &[u8], seed: u64| key_of(xxh3_64_with_seed(bytes, seed));
        let bytes = norm.as_bytes();
        let [words, chars, meta] = keys;
        words.clear();
        chars.clear();
        meta.clear();

        // One pass over the tokens. Word unigrams and bigrams are
        // contiguous slices of `norm` (" tok1 tok2 "), so no string is
        // built per feature. Character n-grams are those of " word " (the
        // spaces mark the word's edges); a word's are the same every time,
        // and chat repeats words a lot: they come from this thread's cache
        // when it has them, found by the unigram's hash.
        let mut prev_start = None;
        let mut tokens = 0usize;
        let mut bounds: Vec<usize> = Vec::new();
        WORD_CACHE.with(|cache| {
            // Nothing below re-enters this cache; if it were borrowed the
            // n-grams are just computed.
            let mut cache = cache.try_borrow_mut().ok();
            if let Some(c) = cache.as_deref_mut() {
                c.prepare(self.bits);
            }
            for (s, e) in Tokens::new(bytes) {
                tokens += 1;
                let unigram = xxh3_64_with_seed(bytes.get(s..e).unwrap_or_default(), SEED_WORD);
                words.push(key_of(unigram));
                if let Some(p) = prev_start {
                    words.push(key(bytes.get(p..e).unwrap_or_default(), SEED_BIGRAM));
                }
                prev_start = Some(s);
                let (s, e) = (s.saturating_sub(1), (e + 1).min(bytes.len()));
                let Some(word) = norm.get(s..e) else { continue };
                match cache.as_deref_mut() {
                    Some(c) => c.char_keys(unigram, word, chars, |word, keys| {
                        char_keys(word, &key, &mut bounds, keys);
                    }),
                    None => char_keys(word, &key, &mut bounds, chars),
                }
            }
        });

        for signal in surface_signals(raw, tokens) {
            meta.push(key(signal.as_bytes(), SEED_META));
        }
    }

    /// The features of `raw` (whose `normalize` is `norm`) grouped for
    /// prediction by integer weight sums, into `out` (whose buffers are
    /// reused). The same features as [`Featurizer::extract_normalized`]
    /// up to float rounding: per block the same buckets and raw values,
    /// and a block's feature value is its raw value times the block's
    /// scale. A bucket two blocks share appears in both rather than once
    /// with the sum, which a linear model scores the same. Duplicates are
    /// merged by counting per bucket instead of sorting, in the order of
    /// their first occurrence (see `Keys::group`, which a prediction
    /// uses directly).
    pub fn extract_grouped(&self, raw: &str, norm: &str, out: &mut Grouped) {
        self.hash_keys(raw, norm, &mut out.keys);
        out.plus.clear();
        out.minus.clear();
        out.other.clear();
        for b in 0..BLOCKS {
            let mut lists = Lists {
                plus: &mut out.plus,
                minus: &mut out.minus,
                other: &mut out.other,
            };
            let scale = out.keys.group(b, &mut lists);
            if let Some(s) = out.scale.get_mut(b) {
                *s = scale;
            }
            if let Some(end) = out.ends.get_mut(b) {
                *end = (out.plus.len(), out.minus.len(), out.other.len());
            }
        }
    }

    /// Hashes the keys of `raw` (whose `normalize` is `norm`) into `out`,
    /// for [`Keys::group`] to count block by block.
    pub(crate) fn hash_keys(&self, raw: &str, norm: &str, out: &mut Keys) {
        self.keys(raw, norm, &mut out.keys);
        out.dim = self.dim();
    }
}

/// Number of feature blocks: words, characters, surface signals.
pub const BLOCKS: usize = 3;

/// Per block: its weight relative to the others (each block's raw values
/// are scaled to this L2 norm).
const BLOCK_WEIGHTS: [f32; BLOCKS] = [1.0, 1.0, META_WEIGHT];

/// A message's features grouped for integer weight sums (made by
/// [`Featurizer::extract_grouped`]). Within a block every feature value is
/// the block's scale times a raw value `±(1 + ln |count|)`, and most counts
/// are ±1: those features are listed by bucket only, so a model can sum
/// their integer weights exactly and multiply by the scale once.
#[derive(Debug, Clone, Default)]
pub struct Grouped {
    /// Per block: the factor from raw to feature values (the block's weight
    /// over the L2 norm of its raw values; 0 for an empty block).
    scale: [f32; BLOCKS],
    /// Per block: where it ends in `plus`, `minus` and `other`.
    ends: [(usize, usize, usize); BLOCKS],
    /// Buckets whose raw value is +1, block after block.
    plus: Vec<u32>,
    /// Buckets whose raw value is -1, block after block.
    minus: Vec<u32>,
    /// Buckets with any other non-zero raw value, with that value.
    other: Vec<Feature>,
    /// The message's keys, and the scratch that counts them.
    keys: Keys,
}

/// [`Featurizer::extract_grouped`]'s [`Sink`]: the buckets by raw value.
struct Lists<'a> {
    plus: &'a mut Vec<u32>,
    minus: &'a mut Vec<u32>,
    other: &'a mut Vec<Feature>,
}

impl Sink for Lists<'_> {
    fn unit(&mut self, bucket: u32, count: i32) {
        if count > 0 {
            self.plus.push(bucket);
        } else if count < 0 {
            self.minus.push(bucket);
        }
    }

    fn other(&mut self, bucket: u32, _count: i32, value: f32) {
        self.other.push((bucket, value));
    }
}

/// One block of a [`Grouped`]: its scale and its buckets by raw value.
#[derive(Debug, Clone, Copy)]
pub struct GroupedBlock<'a> {
    /// Factor from raw to feature values.
    pub scale: f32,
    /// Buckets with raw value +1.
    pub plus: &'a [u32],
    /// Buckets with raw value -1.
    pub minus: &'a [u32],
    /// Buckets with any other raw value, and that value.
    pub other: &'a [Feature],
}

impl Grouped {
    /// Block `b` (0 words, 1 characters, 2 surface signals); empty for
    /// `b >= BLOCKS`.
    pub fn block(&self, b: usize) -> GroupedBlock<'_> {
        let start = b
            .checked_sub(1)
            .and_then(|p| self.ends.get(p))
            .copied()
            .unwrap_or((0, 0, 0));
        let end = self.ends.get(b).copied().unwrap_or(start);
        GroupedBlock {
            scale: self.scale.get(b).copied().unwrap_or(0.0),
            plus: self.plus.get(start.0..end.0).unwrap_or_default(),
            minus: self.minus.get(start.1..end.1).unwrap_or_default(),
            other: self.other.get(start.2..end.2).unwrap_or_default(),
        }
    }
}

/// A message's hashed keys, block after block (made by
/// `Featurizer::hash_keys`), and the scratch that counts them per bucket
/// ([`Keys::group`]). A prediction reuses one per thread.
#[derive(Debug, Clone, Default)]
pub(crate) struct Keys {
    /// Per block: the hashed keys (see `Featurizer::keys`).
    keys: [Vec<u32>; BLOCKS],
    /// The number of buckets of the featurizer that made `keys`.
    dim: usize,
    /// Scratch: one signed count per bucket, all zero between calls (see
    /// [`count_direct`]).
    counts: Vec<i16>,
    /// Scratch: open-addressing table of (bucket, signed count); empty
    /// slots hold `u32::MAX`, which no bucket (below 2^24) equals. All
    /// slots are empty between calls; a block uses the first ones.
    table: Vec<(u32, i32)>,
    /// Scratch: the buckets (or table slots) in order of first occurrence.
    order: Vec<u32>,
}

impl Keys {
    /// The number of keys, over all blocks.
    pub(crate) fn len(&self) -> usize {
        self.keys.iter().map(Vec::len).sum()
    }

    /// Counts block `b`'s keys per bucket and hands every bucket with a
    /// non-zero signed count to `sink`, in order of first occurrence;
    /// returns the block's scale: its weight over the L2 norm of the raw
    /// values `±(1 + ln |count|)` (0 if none). Leaves the scratch clean for
    /// the next block, which must be counted apart (a bucket two blocks
    /// share is two features with different scales).
    ///
    /// Taking the buckets through a [`Sink`] lets a prediction sort them by
    /// count straight into rows to sum, instead of through lists that it
    /// then reads again.
    #[inline]
    pub(crate) fn group(&mut self, b: usize, sink: &mut impl Sink) -> f32 {
        let keys = self.keys.get(b).map_or(&[][..], Vec::as_slice);
        let weight = BLOCK_WEIGHTS.get(b).copied().unwrap_or(0.0);
        // The order buffer only grows, so that listing a bucket is a store
        // at an index (a `Vec::push` checks capacity and stores the length
        // every time).
        if self.order.len() < keys.len() {
            self.order.resize(keys.len(), 0);
        }
        // Units (counts of ±1) add exactly 1 each to the squared norm: how
        // many is the number listed less the others, counted where they
        // are rare.
        let mut rare = Rare::default();
        let listed = if self.dim <= DIRECT_MAX_DIM && keys.len() <= i16::MAX as usize {
            if self.counts.len() < self.dim {
                self.counts.resize(self.dim, 0);
            }
            let counts = self.counts.as_mut_slice();
            let listed = count_direct(keys, counts, &mut self.order);
            for &bucket in self.order.get(..listed).unwrap_or_default() {
                // Reading a count empties it, for the next block.
                let count = counts.get_mut(bucket as usize).map_or(0, std::mem::take);
                rare.hand(sink, bucket, i32::from(count));
            }
            listed
        } else {
            let listed = count_hashed(keys, &mut self.table, &mut self.order);
            let table = self.table.as_mut_slice();
            for &slot in self.order.get(..listed).unwrap_or_default() {
                let (bucket, count) = table
                    .get_mut(slot as usize)
                    .map_or((0, 0), |s| std::mem::replace(s, (u32::MAX, 0)));
                rare.hand(sink, bucket, count);
            }
            listed
        };
        let norm = (listed - rare.count) as f32 + rare.squares;
        if norm > 0.0 {
            weight / norm.sqrt()
        } else {
            0.0
        }
    }
}

/// What [`Keys::group`] hands each bucket to.
pub(crate) trait Sink {
    /// A bucket counted +1 or -1 (`count`), whose raw value is `count`:
    /// most of them (a prediction's implementation is inlined). A bucket
    /// whose keys cancelled (count 0) is not handed over.
    fn unit(&mut self, bucket: u32, count: i32);

    /// A bucket of any other non-zero count, and its raw value.
    fn other(&mut self, bucket: u32, count: i32, value: f32);
}

/// [`Keys::group`]'s tally of the buckets that are not units.
#[derive(Default)]
struct Rare {
    /// How many (zero counts included).
    count: usize,
    /// The sum of their squared raw values.
    squares: f32,
}

impl Rare {
    /// Hands `bucket` to `sink` by its count, keeping the tally. Inlined
    /// into both of `group`'s loops, so that `sink.unit` is too.
    #[inline(always)]
    fn hand(&mut self, sink: &mut impl Sink, bucket: u32, count: i32) {
        // -1 or +1 in one test (`count + 1` is 0 or 2): testing for each
        // let LLVM split the path by the sign, a branch the hash's coin
        // toss mispredicts half the time.
        if count.wrapping_add(1) & !2 == 0 {
            sink.unit(bucket, count);
            return;
        }
        self.count += 1;
        if count == 0 {
            // Keys that cancelled (rare): no value, nothing to the norm.
            return;
        }
        let c = count as f32;
        // Counts of ±2 are most of the rest: `1 + ln 2` is a constant (the
        // same value the logarithm gives), not a `logf` call each.
        let v = if count.unsigned_abs() == 2 {
            c.signum() * (1.0 + 2.0f32.ln())
        } else {
            c.signum() * (1.0 + c.abs().ln())
        };
        self.squares += v * v;
        sink.other(bucket, count, v);
    }
}

/// Largest number of buckets counted in a direct table (2 bytes per
/// bucket, 2 MiB per thread at most); larger hash sizes use a hash table.
const DIRECT_MAX_DIM: usize = 1 << 20;

/// Counts the keys (at most `i16::MAX`) per bucket in `counts`, one
/// signed count per bucket (all zero before and after a block), and lists
/// in `order` each bucket when its count leaves zero, so in order of first
/// occurrence; returns how many it listed. A bucket whose count returns
/// to zero and leaves it again is listed twice, the second time with a
/// count already taken (zero). Indexing the counts by bucket is a load and
/// a store per key, without the hashing, probing and branching of a table.
///
/// Not inlined: on its own the loop keeps everything in registers (inlined
/// into a prediction's grouping it reloaded spilled ones every key).
#[inline(never)]
fn count_direct(keys: &[u32], counts: &mut [i16], order: &mut [u32]) -> usize {
    let mut listed = 0usize;
    let mut count_key = |k: u32| {
        let bucket = k >> 1;
        let Some(count) = counts.get_mut(bucket as usize) else {
            return;
        };
        let was = *count;
        // +1 or -1 by the sign bit, looked up: no branch on the (random)
        // sign, and fewer steps than computing `1 - 2 * sign`.
        *count = was.wrapping_add(DELTA[(k & 1) as usize]);
        if let Some(o) = order.get_mut(listed) {
            *o = bucket;
        }
        listed += usize::from(was == 0);
    };
    // Two keys an iteration, for fewer loop instructions per key.
    let (twos, one) = keys.as_chunks::<2>();
    for &[a, b] in twos {
        count_key(a);
        count_key(b);
    }
    one.iter().for_each(|&k| count_key(k));
    listed
}

/// A key's count change by its sign bit.
const DELTA: [i16; 2] = [1, -1];

/// [`count_direct`] in an open-addressing table of (bucket, signed count)
/// instead (for hash sizes too large to count directly): lists the slots
/// in order of first occurrence and returns how many.
fn count_hashed(keys: &[u32], table: &mut Vec<(u32, i32)>, order: &mut [u32]) -> usize {
    // Linear probing at most half full; keys are hashes already, the
    // multiplication spreads buckets of few bits over a larger table.
    let size = (2 * keys.len()).next_power_of_two().max(16);
    let slot_mask = size - 1;
    let shift = 32 - size.trailing_zeros().min(31);
    // Every slot is empty between calls (the used ones are emptied
    // again after), so only growth fills: filling the whole table per
    // block cost more than probing it.
    if table.len() < size {
        table.resize(size, (u32::MAX, 0));
    }
    let mut listed = 0usize;
    for &k in keys {
        let bucket = k >> 1;
        let delta = 1 - 2 * (k & 1) as i32;
        let mut i = (bucket.wrapping_mul(0x9e37_79b1) >> shift) as usize & slot_mask;
        while let Some(slot) = table.get_mut(i) {
            if slot.0 == bucket {
                slot.1 += delta;
                break;
            }
            if slot.0 == u32::MAX {
                *slot = (bucket, delta);
                if let Some(o) = order.get_mut(listed) {
                    // Slots are below `2 * keys.len()`, which fits in u32.
                    *o = i as u32;
                }
                listed += 1;
                break;
            }
            i = (i + 1) & slot_mask;
        }
    }
    listed
}

/// Appends the keys of the character n-grams of `word` (" word ") to
/// `keys`, by length then position; `bounds` is scratch.
fn char_keys(
    word: &str,
    key: &impl Fn(&[u8], u64) -> u32,
    bounds: &mut Vec<usize>,
    keys: &mut Vec<u32>,
) {
    let wb = word.as_bytes();
    if word.is_ascii() {
        // One byte per character.
        let chars = wb.len();
        for n in CHAR_MIN..=CHAR_MAX.min(chars) {
            for gram in wb.windows(n) {
                keys.push(key(gram, SEED_CHAR));
            }
        }
        return;
    }
    bounds.clear();
    bounds.extend(word.char_indices().map(|(i, _)| i));
    bounds.push(word.len());
    let chars = bounds.len() - 1;
    for n in CHAR_MIN..=CHAR_MAX.min(chars) {
        for i in 0..=(chars - n) {
            if let (Some(&a), Some(&b)) = (bounds.get(i), bounds.get(i + n)) {
                keys.push(key(wb.get(a..b).unwrap_or_default(), SEED_CHAR));
            }
        }
    }
}

/// Words a thread's cache holds before it starts afresh. Chat vocabulary
/// is Zipfian: a few thousand words cover most of the tokens, in about
/// 200 KiB of keys.
const WORD_CACHE_WORDS: usize = 2048;

/// Slots of the cache's index, four per word, so that two words rarely
/// want the same one.
const WORD_CACHE_SLOTS: usize = 4 * WORD_CACHE_WORDS;

/// Longer words are not cached (rare, and their n-grams many).
const WORD_CACHE_MAX_BYTES: usize = 32;

thread_local! {
    static WORD_CACHE: RefCell<WordCache> = RefCell::new(WordCache::default());
}

/// The character n-gram keys of recently seen words, for one hash size.
/// A cache hit gives exactly the keys [`char_keys`] would compute.
#[derive(Default)]
struct WordCache {
    /// The hash bits the keys are for.
    bits: u8,
    /// Index by the xxh3 of a word's token (its unigram hash, which the
    /// features compute anyway): a word is in one of two slots picked by
    /// different bits of that hash, or not cached. A word whose slots
    /// others took is just computed again, which is rare with four slots
    /// per word and two choices; a hash map's probing cost more.
    slots: Vec<CachedWord>,
    /// How many words were cached since the cache was last emptied.
    words: usize,
    /// The cached words' bytes, one after another.
    bytes: Vec<u8>,
    /// The cached words' keys, one after another.
    keys: Vec<u32>,
}

/// Where one cached word's bytes and keys are (start, end); all zero for
/// an empty slot (no word is empty, so none matches it, and no cached
/// word's bytes end at 0).
#[derive(Clone, Copy, Default)]
struct CachedWord {
    hash: u64,
    bytes: (u32, u32),
    keys: (u32, u32),
}

impl WordCache {
    /// Empties the cache if it was for other hash bits.
    fn prepare(&mut self, bits: u8) {
        if self.bits != bits || self.slots.len() != WORD_CACHE_SLOTS {
            self.clear();
            self.bits = bits;
        }
    }

    fn clear(&mut self) {
        self.slots.clear();
        self.slots.resize(WORD_CACHE_SLOTS, CachedWord::default());
        self.words = 0;
        self.bytes.clear();
        self.keys.clear();
    }

    /// Appends the n-gram keys of `word` to `keys`: the cached ones, or
    /// those `compute` appends (then cached). `hash` is any hash of `word`
    /// that is the same for the same word (a hit compares the bytes).
    fn char_keys(
        &mut self,
        hash: u64,
        word: &str,
        keys: &mut Vec<u32>,
        compute: impl FnOnce(&str, &mut Vec<u32>),
    ) {
        let wb = word.as_bytes();
        // Two places a word may be in, from different bits of its hash.
        let places = [hash, hash >> 32].map(|h| (h % WORD_CACHE_SLOTS as u64) as usize);
        for at in places {
            if let Some(c) = self.slots.get(at)
                && c.hash == hash
                && self.bytes.get(c.bytes.0 as usize..c.bytes.1 as usize) == Some(wb)
            {
                let cached = self.keys.get(c.keys.0 as usize..c.keys.1 as usize);
                keys.extend_from_slice(cached.unwrap_or_default());
                return;
            }
        }
        let from = keys.len();
        compute(word, keys);
        if wb.len() > WORD_CACHE_MAX_BYTES {
            return;
        }
        if self.words >= WORD_CACHE_WORDS {
            self.clear();
        }
        let new = keys.get(from..).unwrap_or_default();
        // Offsets fit in u32: the cache holds at most WORD_CACHE_WORDS
        // words of at most WORD_CACHE_MAX_BYTES bytes, and their n-grams.
        let span = |start: usize, len: usize| (start as u32, (start + len) as u32);
        let cached = CachedWord {
            hash,
            bytes: span(self.bytes.len(), wb.len()),
            keys: span(self.keys.len(), new.len()),
        };
        self.bytes.extend_from_slice(wb);
        self.keys.extend_from_slice(new);
        // The first place if free, else the second (evicting its word).
        let [first, second] = places;
        let free = self.slots.get(first).is_some_and(|c| c.bytes.1 == 0);
        let at = if free { first } else { second };
        if let Some(slot) = self.slots.get_mut(at) {
            *slot = cached;
            self.words += 1;
        }
    }
}

/// Byte spans of the space-separated tokens of a normalised string. A space
/// byte never occurs inside a multi-byte UTF-8 character, so scanning bytes
/// finds the same tokens as scanning characters.
struct Tokens<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Tokens<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }
}

impl Iterator for Tokens<'_> {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        let rest = self.bytes.get(self.at..)?;
        let start = self.at + rest.iter().position(|&b| b != b' ')?;
        let len = self
            .bytes
            .get(start..)
            .and_then(|r| r.iter().position(|&b| b == b' '))
            .unwrap_or(self.bytes.len() - start);
        self.at = start + len;
        Some((start, start + len))
    }
}

/// Signals that normalisation throws away but that carry intent or tone.
/// (At most seven; an array, not a `Vec`: the allocation showed.)
fn surface_signals(raw: &str, tokens: usize) -> impl Iterator<Item = &'static str> {
    let mut out = [""; 7];
    let mut n = 0usize;
    let mut push = |signal: &'static str| {
        if let Some(o) = out.get_mut(n) {
            *o = signal;
            n += 1;
        }
    };
    let bytes = raw.as_bytes();
    if bytes.contains(&b'?') {
        push("question");
    }
    // Most messages have no '!' at all: one quick scan finds that.
    if bytes.contains(&b'!') && raw.contains("!!") {
        push("exclaim2");
    }
    let ascii = raw.is_ascii();
    let (upper, lower, digits, deva) = if ascii {
        // The same counts for ASCII, where a character is a byte: loops
        // that LLVM vectorises instead of Unicode lookups per character,
        // counting in bytes (16 to a register; in `usize` it took 2) over
        // pieces short enough not to overflow them.
        let count = |f: fn(&u8) -> bool| -> usize {
            let piece = |p: &[u8]| p.iter().fold(0u8, |n, b| n + u8::from(f(b)));
            bytes
                .chunks(usize::from(u8::MAX))
                .map(|p| usize::from(piece(p)))
                .sum()
        };
        (
            count(u8::is_ascii_uppercase),
            count(u8::is_ascii_lowercase),
            count(u8::is_ascii_digit),
            0,
        )
    } else {
        let (mut upper, mut lower, mut digits, mut deva) = (0usize, 0usize, 0usize, 0usize);
        for c in raw.chars() {
            if c.is_uppercase() {
                upper += 1;
            } else if c.is_lowercase() {
                lower += 1;
            } else if c.is_ascii_digit() {
                digits += 1;
            }
            if ('\u{0900}'..='\u{097f}').contains(&c) {
                deva += 1;
            }
        }
        (upper, lower, digits, deva)
    };
    if upper >= 8 && upper * 10 >= (upper + lower) * 8 {
        push("shouting");
    }
    if digits > 0 {
        push("digits");
    }
    if deva > 0 {
        push("devanagari");
    }
    let rupee = !ascii && raw.contains('₹');
    if rupee || (digits > 0 && (raw.contains("rs") || raw.contains("Rs"))) {
        push("amount");
    }
    push(match tokens {
        0 => "len0",
        1 => "len1",
        2..=3 => "len2_3",
        4..=7 => "len4_7",
        8..=15 => "len8_15",
        _ => "len16",
    });
    out.into_iter().take(n)
}

/// Sorts a block of keys, counts each bucket's signed occurrences, and
/// appends `(bucket, value)` for every non-zero count to `out`: sublinear
/// term frequency `±(1 + ln |count|)`, then L2 norm `scale` over the block.
/// (Counts are small integers, so summing them is exact in any order.)
fn normalise_block(keys: &mut [u32], bits: u8, scale: f32, out: &mut Vec<Feature>) {
    sort_keys(keys, bits);
    let from = out.len();
    let mut norm = 0.0f32;
    let mut i = 0usize;
    while let Some(&first) = keys.get(i) {
        let bucket = first >> 1;
        let mut count = 0i32;
        while let Some(&k) = keys.get(i) {
            if k >> 1 != bucket {
                break;
            }
            // +1 or -1 without a branch on the (random) sign bit.
            count += 1 - 2 * (k & 1) as i32;
            i += 1;
        }
        if count != 0 {
            // ±(1 + ln 1) is exactly ±1: skip the logarithm for the common case.
            let v = match count {
                1 => 1.0,
                -1 => -1.0,
                _ => {
                    let c = count as f32;
                    c.signum() * (1.0 + c.abs().ln())
                }
            };
            norm += v * v;
            out.push((bucket, v));
        }
    }
    if norm > 0.0 {
        let k = scale / norm.sqrt();
        for f in out.get_mut(from..).unwrap_or_default() {
            f.1 *= k;
        }
    }
}

/// Sorts hashed keys (below `2^(bits + 1)`): insertion sort for a few,
/// otherwise a least-significant-digit radix sort, one byte per pass. A
/// comparison sort mispredicts a branch on about every other comparison of
/// random keys; this has no data-dependent branch.
fn sort_keys(keys: &mut [u32], bits: u8) {
    if keys.len() <= 32 {
        for i in 1..keys.len() {
            let k = keys[i];
            let mut j = i;
            while j > 0 && keys[j - 1] > k {
                keys[j] = keys[j - 1];
                j -= 1;
            }
            keys[j] = k;
        }
        return;
    }
    let key_bits = u32::from(bits) + 1;
    let mut scratch = vec![0u32; keys.len()];
    let mut passes = 0;
    let (mut src, mut dst): (&mut [u32], &mut [u32]) = (keys, &mut scratch);
    let mut shift = 0;
    while shift < key_bits {
        let mut at = [0u32; 256];
        for &k in src.iter() {
            at[((k >> shift) & 0xff) as usize] += 1;
        }
        let mut sum = 0u32;
        for c in at.iter_mut() {
            let n = *c;
            *c = sum;
            sum += n;
        }
        for &k in src.iter() {
            let slot = &mut at[((k >> shift) & 0xff) as usize];
            if let Some(d) = dst.get_mut(*slot as usize) {
                *d = k;
            }
            *slot += 1;
        }
        std::mem::swap(&mut src, &mut dst);
        shift += 8;
        passes += 1;
    }
    if passes % 2 == 1 {
        // The sorted keys are in `scratch` (now `src`); `dst` is `keys`.
        dst.copy_from_slice(src);
    }
}

/// Appends the merge of two lists sorted by bucket to `out`, summing a
/// bucket both share (`a`'s value first).
fn merge_two(a: &[Feature], b: &[Feature], out: &mut Vec<Feature>) {
    let (mut i, mut j) = (0usize, 0usize);
    loop {
        match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => {
                if x.0 < y.0 {
                    out.push(x);
                    i += 1;
                } else if y.0 < x.0 {
                    out.push(y);
                    j += 1;
                } else {
                    out.push((x.0, x.1 + y.1));
                    i += 1;
                    j += 1;
                }
            }
            (Some(_), None) => {
                out.extend_from_slice(a.get(i..).unwrap_or_default());
                return;
            }
            (None, Some(_)) => {
                out.extend_from_slice(b.get(j..).unwrap_or_default());
                return;
            }
            (None, None) => return,
        }
    }
}

/// Merges the three sorted blocks `out[..a]`, `out[a..b]` and `out[b..]`
/// into one list sorted by bucket, summing a bucket that several blocks
/// share (in block order) and dropping zeros.
fn merge(out: &mut Vec<Feature>, a: usize, b: usize) {
    let (words, rest) = out.split_at(a.min(out.len()));
    let (chars, meta) = rest.split_at(b.saturating_sub(a).min(rest.len()));
    let mut text = Vec::with_capacity(words.len() + chars.len());
    merge_two(words, chars, &mut text);
    let mut merged = Vec::with_capacity(text.len() + meta.len());
    merge_two(&text, meta, &mut merged);
    merged.retain(|f| f.1 != 0.0);
    *out = merged;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // The first implementation of `extract_normalized`, kept as its
    // specification (sorting pairs, merging blocks by a second sort).
    fn reference(f: Featurizer, raw: &str, out: &mut Vec<Feature>) {
        let norm = &normalize(raw);
        out.clear();
        let mask = (1u64 << f.bits) - 1;
        let push = |out: &mut Vec<Feature>, bytes: &[u8], seed: u64| {
            let h = xxh3_64_with_seed(bytes, seed);
            let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
            // The mask keeps the value below 2^24, so it fits in a u32.
            out.push(((h & mask) as u32, sign));
        };

        // Word unigrams and bigrams are contiguous slices of `norm`
        // (" tok1 tok2 "), so no string is built per feature.
        let spans: Vec<(usize, usize)> = token_spans(norm);
        for &(s, e) in &spans {
            push(
                out,
                norm.as_bytes().get(s..e).unwrap_or_default(),
                SEED_WORD,
            );
        }
        for pair in spans.windows(2) {
            if let [(s, _), (_, e)] = pair {
                push(
                    out,
                    norm.as_bytes().get(*s..*e).unwrap_or_default(),
                    SEED_BIGRAM,
                );
            }
        }
        let words_end = out.len();

        // Character n-grams of " word " (the spaces mark the word's edges).
        let mut bounds: Vec<usize> = Vec::with_capacity(32);
        for &(s, e) in &spans {
            let (s, e) = (s.saturating_sub(1), (e + 1).min(norm.len()));
            let Some(word) = norm.get(s..e) else { continue };
            bounds.clear();
            bounds.extend(word.char_indices().map(|(i, _)| i));
            bounds.push(word.len());
            let chars = bounds.len() - 1;
            for n in CHAR_MIN..=CHAR_MAX.min(chars) {
                for i in 0..=(chars - n) {
                    if let (Some(&a), Some(&b)) = (bounds.get(i), bounds.get(i + n)) {
                        push(
                            out,
                            word.as_bytes().get(a..b).unwrap_or_default(),
                            SEED_CHAR,
                        );
                    }
                }
            }
        }
        let chars_end = out.len();

        for signal in surface_signals(raw, spans.len()) {
            push(out, signal.as_bytes(), SEED_META);
        }

        reference_normalise_block(out, 0, words_end, 1.0);
        reference_normalise_block(out, words_end, chars_end, 1.0);
        let meta_end = out.len();
        reference_normalise_block(out, chars_end, meta_end, META_WEIGHT);
        reference_merge(out);
    }

    /// Byte spans of the tokens of a normalised string.
    fn token_spans(norm: &str) -> Vec<(usize, usize)> {
        let mut spans = Vec::new();
        let mut start = None;
        for (i, c) in norm.char_indices() {
            match (c == ' ', start) {
                (true, Some(s)) => {
                    spans.push((s, i));
                    start = None;
                }
                (false, None) => start = Some(i),
                _ => {}
            }
        }
        if let Some(s) = start {
            spans.push((s, norm.len()));
        }
        spans
    }

    /// Sublinear term frequency and L2 norm `scale` over `feats[from..to]`.
    /// Duplicates inside the block are merged first.
    fn reference_normalise_block(feats: &mut [Feature], from: usize, to: usize, scale: f32) {
        let Some(block) = feats.get_mut(from..to) else {
            return;
        };
        block.sort_unstable_by_key(|f| f.0);
        // Merge equal buckets: sum the signed counts into the first of a run.
        let mut write = 0usize;
        for read in 0..block.len() {
            let (Some(&(b, v)), Some(&(wb, _))) = (block.get(read), block.get(write)) else {
                continue;
            };
            if read == 0 {
                continue;
            }
            if b == wb {
                if let Some(w) = block.get_mut(write) {
                    w.1 += v;
                }
                if let Some(r) = block.get_mut(read) {
                    r.1 = 0.0;
                }
            } else {
                write = read;
            }
        }
        let mut norm = 0.0f32;
        for f in block.iter_mut() {
            if f.1 != 0.0 {
                f.1 = f.1.signum() * (1.0 + f.1.abs().ln());
                norm += f.1 * f.1;
            }
        }
        if norm > 0.0 {
            let k = scale / norm.sqrt();
            for f in block.iter_mut() {
                f.1 *= k;
            }
        }
    }

    /// Sorts by bucket, merges duplicates across blocks and drops zeros.
    fn reference_merge(feats: &mut Vec<Feature>) {
        feats.sort_unstable_by_key(|f| f.0);
        let mut out: Vec<Feature> = Vec::with_capacity(feats.len());
        for &(b, v) in feats.iter() {
            match out.last_mut() {
                Some(last) if last.0 == b => last.1 += v,
                _ => out.push((b, v)),
            }
        }
        out.retain(|f| f.1 != 0.0);
        *feats = out;
    }

    /// Same buckets, and values equal up to the order in which a bucket
    /// shared by all three blocks is summed (the reference's second sort
    /// leaves that order unspecified).
    fn assert_same(text: &str, bits: u8) -> Result<(), TestCaseError> {
        let f = Featurizer::new(bits);
        let (mut new, mut old) = (Vec::new(), Vec::new());
        f.extract(text, &mut new);
        reference(f, text, &mut old);
        prop_assert_eq!(new.len(), old.len(), "{:?}", text);
        for (a, b) in new.iter().zip(&old) {
            prop_assert_eq!(a.0, b.0);
            prop_assert!(
                (a.1 - b.1).abs() <= 1e-6 * b.1.abs().max(1.0),
                "{:?}: {:?} vs {:?}",
                text,
                a,
                b
            );
        }
        Ok(())
    }

    /// The grouped features, scaled and summed per bucket, are the sorted
    /// ones up to float rounding.
    fn assert_grouped_same(text: &str, bits: u8) -> Result<(), TestCaseError> {
        let f = Featurizer::new(bits);
        let norm = normalize(text);
        let mut sorted = Vec::new();
        f.extract_normalized(text, &norm, &mut sorted);
        let mut g = Grouped::default();
        // Twice: the reused buffers must not leak into the second result.
        f.extract_grouped(
            "something else entirely?",
            " something else entirely ",
            &mut g,
        );
        f.extract_grouped(text, &norm, &mut g);
        let mut sums = std::collections::BTreeMap::<u32, f32>::new();
        for b in 0..BLOCKS {
            let block = g.block(b);
            let plus = block.plus.iter().map(|&k| (k, 1.0));
            let minus = block.minus.iter().map(|&k| (k, -1.0));
            for (bucket, v) in plus.chain(minus).chain(block.other.iter().copied()) {
                *sums.entry(bucket).or_default() += block.scale * v;
            }
        }
        sums.retain(|_, v| v.abs() > 1e-6);
        let got: Vec<Feature> = sums.into_iter().collect();
        let want: Vec<Feature> = sorted.into_iter().filter(|f| f.1.abs() > 1e-6).collect();
        prop_assert_eq!(got.len(), want.len(), "{:?}", text);
        for (a, b) in got.iter().zip(&want) {
            prop_assert_eq!(a.0, b.0);
            prop_assert!((a.1 - b.1).abs() <= 1e-6, "{:?}: {:?} vs {:?}", text, a, b);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn grouped_same_as_sorted(text in "\\PC{0,60}", bits in 10u8..=18) {
            assert_grouped_same(&text, bits)?;
        }

        #[test]
        fn grouped_same_as_sorted_on_chat_text(text in "([a-zA-Z ?!]{0,8}|paisa|nhi|kya|₹|123|👍|क्|मेरा पैसा|ड़|é|SHOUTING NOW|\\t){0,16}") {
            assert_grouped_same(&text, 10)?;
            assert_grouped_same(&text, 18)?;
        }

        #[test]
        fn same_as_reference(text in "\\PC{0,60}", bits in 10u8..=18) {
            assert_same(&text, bits)?;
        }

        #[test]
        fn same_as_reference_on_chat_text(text in "([a-zA-Z ?!]{0,8}|paisa|nhi|kya|₹|123|👍|क्|मेरा पैसा|ड़|é|SHOUTING NOW|\\t){0,16}") {
            assert_same(&text, 10)?;
            assert_same(&text, 18)?;
        }
    }

    /// Hash sizes too large to count directly, and blocks of more keys
    /// than an `i16` count holds, group through the hash table, the same;
    /// and a bucket whose count returns to zero is grouped once.
    #[test]
    fn grouping_by_hash_table_is_the_same() {
        for bits in [21, 24] {
            for text in ["paisa kat gaya paisa मेरा पैसा", "a a a b b!!", ""] {
                assert_grouped_same(text, bits).unwrap();
            }
        }
        // About 40,000 character n-grams in one block.
        let long: String = (0..3000).map(|i| format!("w{i}x ")).collect();
        assert_grouped_same(&long, 12).unwrap();
        let mut counts = vec![0i16; 8];
        let mut order = vec![0u32; 8];
        // Bucket 3 with signs +, -, +: listed twice, counted +1.
        let listed = count_direct(&[6, 7, 4, 6], &mut counts, &mut order);
        assert_eq!(order.get(..listed), Some(&[3, 2, 3][..]));
        assert_eq!((counts[3], counts[2]), (1, 1));
    }

    /// Cached n-grams are the computed ones, after a change of hash bits
    /// and after the cache fills up and starts afresh.
    #[test]
    fn word_cache_is_exact_across_bits_and_overflow() {
        let many: String = (0..3 * WORD_CACHE_WORDS)
            .map(|i| format!("w{i} "))
            .collect();
        for bits in [10, 18, 10] {
            assert_same("paisa kat gaya paisa मेरा पैसा", bits).unwrap();
            assert_same(&many, bits).unwrap();
            assert_same(&many, bits).unwrap();
            assert_grouped_same(&many, bits).unwrap();
        }
    }

    #[test]
    fn features_are_deterministic_sorted_and_normalised() {
        let f = Featurizer::new(16);
        let mut a = Vec::new();
        let mut b = Vec::new();
        f.extract("Paisa kat gaya par order nahi hua!!", &mut a);
        f.extract("Paisa kat gaya par order nahi hua!!", &mut b);
        assert_eq!(a, b);
        assert!(a.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(a.iter().all(|&(i, _)| (i as usize) < f.dim()));
        let norm: f32 = a.iter().map(|x| x.1 * x.1).sum();
        assert!(norm > 1.0 && norm < 3.0, "{norm}");
    }

    #[test]
    fn spelling_variants_share_features() {
        let f = Featurizer::new(18);
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        f.extract("order nhi aaya", &mut a);
        f.extract("order nahin aaya", &mut b);
        f.extract("मेरा पैसा वापस करो", &mut c);
        assert_eq!(a, b);
        assert!(c.len() > 10);
    }

    #[test]
    fn empty_and_odd_text() {
        let f = Featurizer::new(12);
        let mut out = Vec::new();
        for t in ["", "   ", "!!!", "👍", "\u{0301}", "क्", "a"] {
            f.extract(t, &mut out);
        }
    }
}
