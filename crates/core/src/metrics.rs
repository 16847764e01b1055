//! Evaluation arithmetic: confusion matrices, precision / recall / F1, and
//! escalation recall with its false-escalation rate.
//!
//! Pure counting over (gold, predicted) pairs; the CLI reads the data,
//! runs triage and prints. Definitions used everywhere in Switchboard:
//!
//! - **escalation recall**: of the messages that should escalate (any
//!   reason), the share that did (any reason);
//! - **false-escalation rate**: of the messages that should not escalate,
//!   the share that did;
//! - **reason recall**: of the messages carrying reason R, the share whose
//!   prediction carries R itself.

use std::collections::BTreeMap;

use serde::Serialize;

/// Precision, recall, F1 and support of one class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ClassScore {
    /// Of the predictions of this class, the share that were right.
    pub precision: f64,
    /// Of the messages of this class, the share predicted as it.
    pub recall: f64,
    /// Harmonic mean of the two (0 when both are 0).
    pub f1: f64,
    /// Messages of this class.
    pub support: u64,
}

/// A confusion matrix over string labels.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Confusion {
    /// `counts[gold][predicted]`.
    pub counts: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Confusion {
    /// Counts one pair.
    pub fn add(&mut self, gold: &str, predicted: &str) {
        *self
            .counts
            .entry(gold.to_owned())
            .or_default()
            .entry(predicted.to_owned())
            .or_default() += 1;
    }

    /// Every label seen as gold or predicted, sorted.
    pub fn labels(&self) -> Vec<String> {
        let mut l: Vec<String> = self
            .counts
            .iter()
            .flat_map(|(g, row)| std::iter::once(g.clone()).chain(row.keys().cloned()))
            .collect();
        l.sort();
        l.dedup();
        l
    }

    /// Pairs counted.
    pub fn total(&self) -> u64 {
        self.counts.values().flat_map(|r| r.values()).sum()
    }

    /// Share of pairs where prediction equals gold.
    pub fn accuracy(&self) -> f64 {
        let right: u64 = self
            .counts
            .iter()
            .map(|(g, row)| row.get(g).copied().unwrap_or(0))
            .sum();
        ratio(right, self.total())
    }

    /// Per-class scores, for every label with gold support or predictions.
    pub fn scores(&self) -> BTreeMap<String, ClassScore> {
        let mut predicted: BTreeMap<&str, u64> = BTreeMap::new();
        for row in self.counts.values() {
            for (p, n) in row {
                *predicted.entry(p.as_str()).or_default() += n;
            }
        }
        self.labels()
            .into_iter()
            .map(|l| {
                let row = self.counts.get(&l);
                let support: u64 = row.map_or(0, |r| r.values().sum());
                let tp = row.and_then(|r| r.get(&l)).copied().unwrap_or(0);
                let pred = predicted.get(l.as_str()).copied().unwrap_or(0);
                let precision = ratio(tp, pred);
                let recall = ratio(tp, support);
                let f1 = if precision + recall > 0.0 {
                    2.0 * precision * recall / (precision + recall)
                } else {
                    0.0
                };
                (
                    l,
                    ClassScore {
                        precision,
                        recall,
                        f1,
                        support,
                    },
                )
            })
            .collect()
    }

    /// Unweighted mean F1 over the classes with gold support (what
    /// scikit-learn's `f1_score(average="macro")` computes over the labels
    /// present in the gold data).
    pub fn macro_f1(&self) -> f64 {
        let s: Vec<f64> = self
            .scores()
            .values()
            .filter(|c| c.support > 0)
            .map(|c| c.f1)
            .collect();
        if s.is_empty() {
            0.0
        } else {
            s.iter().sum::<f64>() / s.len() as f64
        }
    }
}

/// Escalation counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EscalationCounts {
    /// Should escalate and did.
    pub true_positive: u64,
    /// Should escalate and did not.
    pub false_negative: u64,
    /// Should not escalate and did.
    pub false_positive: u64,
    /// Should not escalate and did not.
    pub true_negative: u64,
}

impl EscalationCounts {
    /// Counts one message.
    pub fn add(&mut self, gold: bool, predicted: bool) {
        match (gold, predicted) {
            (true, true) => self.true_positive += 1,
            (true, false) => self.false_negative += 1,
            (false, true) => self.false_positive += 1,
            (false, false) => self.true_negative += 1,
        }
    }

    /// Escalation recall (`None` without gold escalations).
    pub fn recall(&self) -> Option<f64> {
        let n = self.true_positive + self.false_negative;
        (n > 0).then(|| ratio(self.true_positive, n))
    }

    /// False-escalation rate (`None` without gold non-escalations).
    pub fn false_escalation_rate(&self) -> Option<f64> {
        let n = self.false_positive + self.true_negative;
        (n > 0).then(|| ratio(self.false_positive, n))
    }

    /// Messages that should escalate.
    pub fn positives(&self) -> u64 {
        self.true_positive + self.false_negative
    }

    /// Messages that should not.
    pub fn negatives(&self) -> u64 {
        self.false_positive + self.true_negative
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_match_hand_counts() {
        let mut c = Confusion::default();
        for (g, p) in [("a", "a"), ("a", "b"), ("b", "b"), ("b", "b"), ("c", "a")] {
            c.add(g, p);
        }
        assert!((c.accuracy() - 0.6).abs() < 1e-9);
        let s = c.scores();
        assert!((s["a"].precision - 0.5).abs() < 1e-9);
        assert!((s["a"].recall - 0.5).abs() < 1e-9);
        assert!((s["b"].precision - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(s["c"].f1, 0.0);
        let macro_f1 = (0.5 + 0.8 + 0.0) / 3.0;
        assert!((c.macro_f1() - macro_f1).abs() < 1e-9);

        let mut e = EscalationCounts::default();
        e.add(true, true);
        e.add(true, false);
        e.add(false, true);
        e.add(false, false);
        e.add(false, false);
        assert_eq!(e.recall(), Some(0.5));
        assert!((e.false_escalation_rate().unwrap() - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(EscalationCounts::default().recall(), None);
    }
}
