//! Nearest labelled exemplars: what the messages most like this one were.
//!
//! An [`ExemplarIndex`] holds labelled messages (a training run's
//! `--exemplar-source` messages) as TF-IDF vectors over their normalised
//! word unigrams and bigrams, in an inverted index. For a new message,
//! [`ExemplarIndex::vote`] finds the [`NEIGHBOURS`] most cosine-similar
//! exemplars and summarises their labels as an [`ExemplarVote`]: the
//! similarity-weighted share that escalate, the nearest one's label and
//! similarity, and the share of each seeds' category.
//!
//! Why: the linear model scores every n-gram on its own, so a calm
//! question that shares its words with complaints ("refund policy kya
//! hai?") and a complaint worded like a question ("refund kab aayega, 3
//! hafte ho gaye?") sit close together for it. Whole messages that read
//! alike carry what their combination means. The vote is one more input
//! to the escalation combiner and the category head
//! ([`crate::classifier::Combiner`]), which learn how far to trust it; on
//! its own it is a weak classifier. Measured on models of
//! cross-validation's outputs over the in-domain train and dev rows
//! (`EVAL.md`), it cut false escalations at 0.95 recall from 0.088 to
//! 0.075, where every other input tried left them within 0.003. The
//! default model indexes every gate source's messages: on the test splits
//! it moved in-domain false escalations 0.080 → 0.075 and pooled public
//! recall 0.942 → 0.948, for about 1.5 µs of triage (`EVAL.md`,
//! `BENCHMARKS.md`).
//!
//! Parts: the weighting (`1 + ln tf` times smoothed IDF, each vector of
//! unit length, as scikit-learn's `TfidfVectorizer(sublinear_tf=True)`),
//! terms hashed into `2^bits` buckets (as the classifier's features, so
//! there is no vocabulary to store), buckets in more than [`MAX_POSTINGS`]
//! exemplars dropped (they cost the most postings and, with the lowest
//! IDF, say the least), and weights stored as one byte each.
//!
//! Speed: a vote reads a few hundred postings and, for each, the score of
//! an exemplar at random in an array of them; those reads and the ranking
//! are its cost, so each exemplar is noted and ranked once, and the bucket
//! table holds only offsets (IDF follows from a bucket's posting count).

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use crate::classifier::ModelError;
use crate::text::normalize;

/// Exemplars a vote reads (the `k` of k-nearest neighbours). Chosen in
/// cross-validation: 15, 30 and 60 did the same, 5 worse.
pub const NEIGHBOURS: usize = 30;

/// A term in more than this many exemplars is left out of every vector:
/// it bounds the work of a vote (at most this many postings per term of
/// the message), and such a term, with the lowest IDF, says the least.
/// Chosen in cross-validation on the in-domain set (17,832 messages):
/// with the vote, false escalations at 0.95 recall went from 0.088 to
/// 0.072 with a cap at 2 % of the exemplars, 0.075 at 1 % (about this
/// many, reading half the postings of 2 %) and 0.076 at 0.5 %. With the
/// default model's 67,858 exemplars, a cap of 100 made the dev splits'
/// worse-group shortfall 0.021 against 0.019 (`EVAL.md`).
pub const MAX_POSTINGS: u32 = 200;

/// Hash seeds of word unigrams and bigrams (their own, so an index never
/// depends on the classifier's feature layout).
const SEED_UNIGRAM: u64 = 0x5345_0001;
const SEED_BIGRAM: u64 = 0x5345_0002;

/// One message to index: its text and labels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exemplar<'a> {
    /// The message text as written (normalised by the index).
    pub text: &'a str,
    /// Whether it should escalate.
    pub escalates: bool,
    /// Its seeds' category name (`fresh_high_intent`, …), if labelled.
    pub category: Option<&'a str>,
}

/// What the nearest exemplars say about a message. Every share is in
/// `0..=1`; similarities are cosines in `0..=1`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExemplarVote {
    /// Similarity-weighted share of the neighbours that escalate (weights
    /// are similarity squared, so near twins count most). With no
    /// neighbour sharing a term: the share over all exemplars.
    pub escalate: f32,
    /// Whether the single nearest exemplar escalates (0 or 1; 0 with none).
    pub nearest_escalates: f32,
    /// Cosine similarity of the nearest exemplar (0 with none).
    pub similarity: f32,
    /// Per category of [`ExemplarIndex::categories`], the weighted share
    /// of the neighbours labelled with it (the base rate with none).
    pub categories: Vec<f32>,
}

impl ExemplarVote {
    /// The combiner's inputs from this vote, in order: the escalate share,
    /// its log-odds, the nearest exemplar's label, its similarity, their
    /// product, then per category its share and that share's log-odds
    /// (shares clamped to `0.001..=0.999` first: a unanimous vote is
    /// common and must not weigh like a certainty).
    pub fn inputs(&self) -> impl Iterator<Item = f32> + '_ {
        let lo = |p: f32| {
            let p = p.clamp(0.001, 0.999);
            (p / (1.0 - p)).ln()
        };
        [
            self.escalate,
            lo(self.escalate),
            self.nearest_escalates,
            self.similarity,
            self.nearest_escalates * self.similarity,
        ]
        .into_iter()
        .chain(self.categories.iter().flat_map(move |&c| [c, lo(c)]))
    }

    /// How many values [`ExemplarVote::inputs`] gives for an index with
    /// `categories` categories.
    pub fn input_count(categories: usize) -> usize {
        5 + 2 * categories
    }
}

/// The inverted index of labelled exemplars (see the module docs).
///
/// Stored as the postings of every bucket in bucket order, each list in
/// exemplar order; the bucket offsets and IDF are rebuilt when it is
/// loaded. Errors: loading fails with [`ModelError::Inconsistent`] if the
/// parts disagree in size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StoredIndex", into = "StoredIndex")]
pub struct ExemplarIndex {
    stored: StoredIndex,
    /// `2^bits + 1` offsets into the postings: bucket `b`'s are
    /// `offsets[b]..offsets[b + 1]`. Four bytes a bucket, not eight with
    /// the IDF beside it: half the memory a vote's lookups spread over.
    offsets: Vec<u32>,
    /// The IDF of a bucket by its number of postings (0 for none): every
    /// bucket with as many postings has the same, so no bucket stores it.
    idf: Vec<f32>,
    /// The exemplars' escalation base rate, and each category's.
    base_escalate: f32,
    base_categories: Vec<f32>,
}

/// What a model file holds of an [`ExemplarIndex`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredIndex {
    /// Hash bits of the term buckets.
    bits: u8,
    /// Category names, sorted.
    categories: Vec<String>,
    /// Per exemplar: bit 0 set if it escalates; the rest is its category's
    /// index plus one (0: no category).
    #[serde(deserialize_with = "crate::wire::bytes")]
    labels: Vec<u8>,
    /// Per exemplar: the hash of its normalised text, so a training message
    /// can be scored without itself ([`ExemplarIndex::vote_without`]).
    #[serde(deserialize_with = "crate::wire::exact")]
    texts: Vec<u64>,
    /// Per bucket: how many postings it has.
    #[serde(deserialize_with = "crate::wire::exact")]
    counts: Vec<u16>,
    /// Every posting, bucket after bucket: the exemplar, as the difference
    /// from the previous one in its bucket (small numbers take one byte).
    #[serde(deserialize_with = "crate::wire::exact")]
    docs: Vec<u32>,
    /// Per posting: the term's weight in the exemplar's unit vector, times
    /// 255, rounded (at least 1).
    #[serde(deserialize_with = "crate::wire::bytes")]
    weights: Vec<u8>,
}

impl TryFrom<StoredIndex> for ExemplarIndex {
    type Error = ModelError;

    fn try_from(stored: StoredIndex) -> Result<Self, ModelError> {
        let n = stored.labels.len();
        let bad = |what: &str| ModelError::Inconsistent(format!("exemplar index: {what}"));
        if !(8..=24).contains(&stored.bits) || stored.counts.len() != 1usize << stored.bits {
            return Err(bad("bucket count"));
        }
        if stored.texts.len() != n || stored.docs.len() != stored.weights.len() {
            return Err(bad("table sizes disagree"));
        }
        let total: usize = stored.counts.iter().map(|&c| usize::from(c)).sum();
        if total != stored.docs.len() || u32::try_from(total).is_err() {
            return Err(bad("postings"));
        }
        if stored.categories.len() > 100
            || stored
                .labels
                .iter()
                .any(|&l| usize::from(l >> 1) > stored.categories.len())
        {
            return Err(bad("labels"));
        }
        // One pass builds the offsets and checks that delta-decoded
        // exemplar numbers stay in range.
        let mut offsets = Vec::with_capacity(stored.counts.len() + 1);
        let mut at = 0usize;
        for &c in &stored.counts {
            offsets.push(at as u32);
            let mut doc = 0u64;
            for d in stored.docs.get(at..at + usize::from(c)).unwrap_or_default() {
                doc += u64::from(*d);
            }
            if c > 0 && doc >= n as u64 {
                return Err(bad("exemplar out of range"));
            }
            at += usize::from(c);
        }
        offsets.push(at as u32);
        let most = stored.counts.iter().copied().max().unwrap_or(0);
        let smooth = (1 + n) as f32;
        let idf = (0..=most)
            .map(|c| {
                if c == 0 {
                    0.0
                } else {
                    (smooth / (1.0 + f32::from(c))).ln() + 1.0
                }
            })
            .collect();
        let share = |f: &dyn Fn(u8) -> bool| -> f32 {
            if n == 0 {
                0.0
            } else {
                stored.labels.iter().filter(|&&l| f(l)).count() as f32 / n as f32
            }
        };
        let base_escalate = share(&|l| l & 1 == 1);
        let base_categories = (1..=stored.categories.len())
            .map(|c| share(&|l| usize::from(l >> 1) == c))
            .collect();
        Ok(Self {
            stored,
            offsets,
            idf,
            base_escalate,
            base_categories,
        })
    }
}

impl From<ExemplarIndex> for StoredIndex {
    fn from(index: ExemplarIndex) -> Self {
        index.stored
    }
}

/// Per-thread buffers of a vote: a score per exemplar (zero between
/// votes) and the exemplars a vote touched.
#[derive(Default)]
struct VoteScratch {
    scores: Vec<f32>,
    touched: Vec<u32>,
    terms: Vec<u32>,
    query: Vec<(u32, f32)>,
    ranked: Vec<u64>,
    best: BinaryHeap<Reverse<u64>>,
}

thread_local! {
    static VOTE_SCRATCH: RefCell<VoteScratch> = RefCell::new(VoteScratch::default());
}

impl ExemplarIndex {
    /// Indexes `exemplars` with `2^bits` term buckets (`bits` in
    /// `8..=24`).
    ///
    /// # Errors
    /// [`ModelError::Training`] for `bits` out of range, more than 100
    /// categories or more than `u32::MAX` postings.
    pub fn build(exemplars: &[Exemplar<'_>], bits: u8) -> Result<Self, ModelError> {
        if !(8..=24).contains(&bits) {
            return Err(ModelError::Training(format!(
                "exemplar bits {bits} not in 8..=24"
            )));
        }
        let mut categories: Vec<String> = exemplars
            .iter()
            .filter_map(|e| e.category.map(str::to_owned))
            .collect();
        categories.sort();
        categories.dedup();
        if categories.len() > 100 {
            return Err(ModelError::Training("more than 100 categories".into()));
        }
        let n = exemplars.len();
        let mut labels = Vec::with_capacity(n);
        let mut texts = Vec::with_capacity(n);
        // Each exemplar's (bucket, tf) pairs, and each bucket's df.
        let mut terms: Vec<Vec<(u32, u32)>> = Vec::with_capacity(n);
        let mut df = vec![0u32; 1usize << bits];
        let mut scratch = Vec::new();
        for e in exemplars {
            let norm = normalize(e.text);
            let category = e
                .category
                .and_then(|c| categories.iter().position(|x| x == c))
                .map_or(0, |i| i + 1);
            labels.push(u8::from(e.escalates) | (category as u8) << 1);
            texts.push(xxh3_64(norm.as_bytes()));
            term_buckets(&norm, bits, &mut scratch);
            let counted = count_sorted(&scratch);
            for &(b, _) in &counted {
                if let Some(d) = df.get_mut(b as usize) {
                    *d += 1;
                }
            }
            terms.push(counted);
        }
        let cap = MAX_POSTINGS;
        let smooth = (1 + n) as f64;
        let idf: Vec<f64> = df
            .iter()
            .map(|&d| {
                if d == 0 || d > cap {
                    0.0
                } else {
                    (smooth / (1.0 + f64::from(d))).ln() + 1.0
                }
            })
            .collect();
        // Postings per bucket, in exemplar order.
        let mut lists: Vec<Vec<(u32, u8)>> = vec![Vec::new(); 1usize << bits];
        for (doc, counted) in terms.iter().enumerate() {
            let weight = |&(b, tf): &(u32, u32)| {
                let idf = idf.get(b as usize).copied().unwrap_or(0.0);
                (1.0 + f64::from(tf).ln()) * idf
            };
            let norm: f64 = counted
                .iter()
                .map(|t| weight(t).powi(2))
                .sum::<f64>()
                .sqrt();
            if norm <= 0.0 {
                continue;
            }
            for t in counted {
                let w = weight(t);
                if w > 0.0
                    && let Some(list) = lists.get_mut(t.0 as usize)
                {
                    let q = (w / norm * 255.0).round().clamp(1.0, 255.0) as u8;
                    list.push((doc as u32, q));
                }
            }
        }
        let mut counts = Vec::with_capacity(lists.len());
        let mut docs = Vec::new();
        let mut weights = Vec::new();
        for list in &lists {
            counts.push(list.len() as u16);
            let mut prev = 0u32;
            for &(doc, q) in list {
                docs.push(doc - prev);
                prev = doc;
                weights.push(q);
            }
        }
        if u32::try_from(docs.len()).is_err() {
            return Err(ModelError::Training("too many exemplar postings".into()));
        }
        Self::try_from(StoredIndex {
            bits,
            categories,
            labels,
            texts,
            counts,
            docs,
            weights,
        })
        .map_err(|e| ModelError::Training(e.to_string()))
    }

    /// The category names the votes count, sorted.
    pub fn categories(&self) -> &[String] {
        &self.stored.categories
    }

    /// How many exemplars the index holds.
    pub fn len(&self) -> usize {
        self.stored.labels.len()
    }

    /// Whether the index holds no exemplar.
    pub fn is_empty(&self) -> bool {
        self.stored.labels.is_empty()
    }

    /// The vote of the nearest exemplars for a message whose normalised
    /// text ([`crate::text::normalize`]) is `norm`.
    pub fn vote(&self, norm: &str) -> ExemplarVote {
        self.vote_inner(norm, None)
    }

    /// [`ExemplarIndex::vote`] as if no exemplar with this same normalised
    /// text were indexed: how a training message is scored, so that what
    /// the combiner learns from matches a message it has never seen.
    pub fn vote_without(&self, norm: &str) -> ExemplarVote {
        self.vote_inner(norm, Some(xxh3_64(norm.as_bytes())))
    }

    fn vote_inner(&self, norm: &str, without: Option<u64>) -> ExemplarVote {
        VOTE_SCRATCH.with(|cell| {
            let mut fresh = VoteScratch::default();
            let mut borrowed = cell.try_borrow_mut();
            let s = borrowed.as_deref_mut().unwrap_or(&mut fresh);
            self.vote_with(norm, without, s)
        })
    }

    fn vote_with(&self, norm: &str, without: Option<u64>, s: &mut VoteScratch) -> ExemplarVote {
        let n = self.len();
        if s.scores.len() < n {
            s.scores.resize(n, 0.0);
        }
        term_buckets(norm, self.stored.bits, &mut s.terms);
        s.terms.sort_unstable();
        // The query's weights, `(1 + ln tf) * idf`, over the known terms
        // (most terms occur once, and `ln 1` needs no call).
        s.query.clear();
        let mut sum_sq = 0.0f32;
        let mut i = 0usize;
        while let Some(&b) = s.terms.get(i) {
            let mut tf = 1u32;
            while s.terms.get(i + tf as usize) == Some(&b) {
                tf += 1;
            }
            i += tf as usize;
            let (from, to) = self.span(b);
            let idf = self.idf.get(to - from).copied().unwrap_or(0.0);
            if idf > 0.0 {
                let w = if tf == 1 {
                    idf
                } else {
                    (1.0 + (tf as f32).ln()) * idf
                };
                s.query.push((b, w));
                sum_sq += w * w;
            }
        }
        // Every exemplar sharing a term gets its dot product, and is noted
        // the first time (its score was zero). Noted by always writing the
        // next slot and moving on only for a first: a branch would be
        // mispredicted at random, and a repeated exemplar noted again would
        // cost the ranking below another random read of its score.
        let mut len = 0usize;
        if sum_sq > 0.0 {
            let inv = 1.0 / (255.0 * sum_sq.sqrt());
            for &(b, w) in &s.query {
                let (from, to) = self.span(b);
                let docs = self.stored.docs.get(from..to).unwrap_or_default();
                let weights = self.stored.weights.get(from..to).unwrap_or_default();
                if s.touched.len() < len + docs.len() + 1 {
                    s.touched.resize(len + docs.len() + 1, 0);
                }
                let mut doc = 0u32;
                let wq = w * inv;
                for (&d, &x) in docs.iter().zip(weights) {
                    doc += d;
                    if let (Some(score), Some(note)) =
                        (s.scores.get_mut(doc as usize), s.touched.get_mut(len))
                    {
                        *note = doc;
                        len += usize::from(*score == 0.0);
                        *score += wq * f32::from(x);
                    }
                }
            }
        }
        // The touched exemplars as keys that sort by similarity, then by
        // the lower exemplar number (a positive float's bits order as the
        // float does), so a vote never depends on the order it reads them.
        // The best NEIGHBOURS are kept in a min-heap: past the first few,
        // almost every key loses to the heap's least at one predictable
        // comparison, where ranking them all cost a partition of every key.
        // Every score read is zeroed for the next vote.
        s.ranked.clear();
        let heap = &mut s.best;
        heap.clear();
        for &doc in s.touched.get(..len).unwrap_or_default() {
            let Some(score) = s.scores.get_mut(doc as usize) else {
                continue;
            };
            let key = u64::from(std::mem::take(score).to_bits()) << 32 | u64::from(u32::MAX - doc);
            if heap.len() == NEIGHBOURS && heap.peek().is_some_and(|least| key <= least.0) {
                continue;
            }
            if let Some(text) = without
                && self.stored.texts.get(doc as usize).copied() == Some(text)
            {
                continue;
            }
            if heap.len() < NEIGHBOURS {
                heap.push(Reverse(key));
            } else if let Some(mut least) = heap.peek_mut() {
                *least = Reverse(key);
            }
        }
        s.ranked.extend(heap.iter().map(|k| k.0));
        s.ranked.sort_unstable_by(|a, b| b.cmp(a));
        let ranked = s
            .ranked
            .iter()
            .map(|&k| (f32::from_bits((k >> 32) as u32), u32::MAX - k as u32));
        self.summarise(ranked)
    }

    /// The postings of bucket `b`: `from..to` of the stored postings
    /// (empty for a bucket out of range).
    fn span(&self, b: u32) -> (usize, usize) {
        let b = b as usize;
        match (self.offsets.get(b), self.offsets.get(b + 1)) {
            (Some(&from), Some(&to)) => (from as usize, to as usize),
            _ => (0, 0),
        }
    }

    fn summarise(&self, ranked: impl Iterator<Item = (f32, u32)>) -> ExemplarVote {
        let label = |doc: u32| self.stored.labels.get(doc as usize).copied().unwrap_or(0);
        let (mut total, mut escalate) = (0.0f32, 0.0f32);
        let mut categories = vec![0.0f32; self.stored.categories.len()];
        let mut nearest = None;
        for (sim, doc) in ranked {
            nearest = nearest.or(Some((sim, doc)));
            let w = sim * sim;
            let l = label(doc);
            total += w;
            if l & 1 == 1 {
                escalate += w;
            }
            if let Some(c) = usize::from(l >> 1)
                .checked_sub(1)
                .and_then(|c| categories.get_mut(c))
            {
                *c += w;
            }
        }
        let (nearest_escalates, similarity) = nearest.map_or((0.0, 0.0), |(sim, doc)| {
            (f32::from(label(doc) & 1), sim.min(1.0))
        });
        if total > 0.0 {
            for c in &mut categories {
                *c /= total;
            }
            ExemplarVote {
                escalate: escalate / total,
                nearest_escalates,
                similarity,
                categories,
            }
        } else {
            ExemplarVote {
                escalate: self.base_escalate,
                nearest_escalates,
                similarity,
                categories: self.base_categories.clone(),
            }
        }
    }
}

/// The buckets of `norm`'s word unigrams and bigrams (tokens are the
/// space-separated words [`crate::text::normalize`] gives), into `out`.
fn term_buckets(norm: &str, bits: u8, out: &mut Vec<u32>) {
    out.clear();
    let mask = (1u64 << bits) - 1;
    let bytes = norm.as_bytes();
    let mut prev: Option<usize> = None;
    let mut start: Option<usize> = None;
    // Word boundaries by byte: the normaliser leaves single spaces.
    for (i, &c) in bytes.iter().chain(std::iter::once(&b' ')).enumerate() {
        match (c == b' ', start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                let word = bytes.get(s..i).unwrap_or_default();
                out.push((xxh3_64_with_seed(word, SEED_UNIGRAM) & mask) as u32);
                if let Some(p) = prev {
                    let pair = bytes.get(p..i).unwrap_or_default();
                    out.push((xxh3_64_with_seed(pair, SEED_BIGRAM) & mask) as u32);
                }
                prev = Some(s);
                start = None;
            }
            _ => {}
        }
    }
}

/// Sorted `(bucket, count)` pairs of `buckets`.
fn count_sorted(buckets: &[u32]) -> Vec<(u32, u32)> {
    let mut sorted = buckets.to_vec();
    sorted.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(sorted.len());
    for b in sorted {
        match out.last_mut() {
            Some((last, c)) if *last == b => *c += 1,
            _ => out.push((b, 1)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex<'a>(text: &'a str, escalates: bool, category: &'a str) -> Exemplar<'a> {
        Exemplar {
            text,
            escalates,
            category: Some(category),
        }
    }

    fn index() -> ExemplarIndex {
        let rows = [
            ex(
                "refund kab aayega 3 hafte ho gaye",
                true,
                "information_request",
            ),
            ex(
                "my refund is still not credited after three weeks",
                true,
                "information_request",
            ),
            ex(
                "what is your refund policy for the course",
                false,
                "information_request",
            ),
            ex(
                "kya refund policy hai course ki",
                false,
                "information_request",
            ),
            ex(
                "I want to buy the 2BHK today, send the booking link",
                false,
                "fresh_high_intent",
            ),
            ex("ok thanks", false, "passive_engagement"),
        ];
        // A padding of unrelated exemplars keeps the words above under
        // the document-frequency cap.
        let pad: Vec<String> = (0..300).map(|i| format!("filler{i} note{i}")).collect();
        let mut all: Vec<Exemplar<'_>> = rows.to_vec();
        all.extend(pad.iter().map(|t| Exemplar {
            text: t,
            escalates: false,
            category: None,
        }));
        match ExemplarIndex::build(&all, 16) {
            Ok(i) => i,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn the_nearest_exemplars_vote() {
        let idx = index();
        let v = idx.vote(&normalize("refund kab milega? 3 hafte ho gaye"));
        assert_eq!(v.nearest_escalates, 1.0, "{v:?}");
        assert!(v.escalate > 0.5, "{v:?}");
        let v = idx.vote(&normalize("refund policy kya hai?"));
        assert_eq!(v.nearest_escalates, 0.0, "{v:?}");
        assert!(v.escalate < 0.5, "{v:?}");
        assert_eq!(idx.categories().len(), 3);
        let high = idx
            .categories()
            .iter()
            .position(|c| c == "fresh_high_intent");
        let v = idx.vote(&normalize("booking link bhejo, 2BHK buy karna hai"));
        assert!(high.is_some_and(|h| v.categories[h] > 0.9), "{v:?}");
    }

    #[test]
    fn a_training_message_is_scored_without_itself() {
        let idx = index();
        let norm = normalize("ok thanks");
        assert!((idx.vote(&norm).similarity - 1.0).abs() < 0.01);
        let without = idx.vote_without(&norm);
        assert!(without.similarity < 0.99, "{without:?}");
    }

    #[test]
    fn no_shared_term_gives_the_base_rate() {
        let idx = index();
        let v = idx.vote(&normalize("zzz qqq"));
        assert_eq!(v.similarity, 0.0);
        assert!((v.escalate - 2.0 / 306.0).abs() < 1e-6, "{v:?}");
        assert_eq!(v.inputs().count(), ExemplarVote::input_count(3));
        let v = idx.vote("");
        assert_eq!(v.nearest_escalates, 0.0);
    }

    #[test]
    fn it_round_trips_and_rejects_a_damaged_index() {
        let idx = index();
        let bytes = match postcard::to_stdvec(&idx) {
            Ok(b) => b,
            Err(e) => panic!("{e}"),
        };
        let back: ExemplarIndex = match postcard::from_bytes(&bytes) {
            Ok(i) => i,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(back, idx);
        let mut stored: StoredIndex = idx.into();
        stored.docs.push(1);
        assert!(ExemplarIndex::try_from(stored.clone()).is_err());
        stored.docs.pop();
        if let Some(d) = stored.docs.first_mut() {
            *d = u32::MAX;
        }
        assert!(ExemplarIndex::try_from(stored).is_err());
    }
}
