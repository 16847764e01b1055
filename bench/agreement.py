#!/usr/bin/env python3
"""How reproducible are the in-domain set's labels? Scores the two
independent annotations in data/triage/agreement/annotations.jsonl against
the set's own labels (data/triage/in_domain.jsonl) and against each other.

    python3 bench/agreement.py

For each pair it prints, read as if the first were the truth and the second
a classifier: escalation recall and false-escalation rate (the same
definitions as EVAL.md), Cohen's kappa of escalate yes/no, the share of
messages given exactly the same set of reasons, and recall per category;
then the same per language. A classifier cannot be expected to beat the
annotators' own agreement with the labels: where they disagree, the label
itself is in doubt. Standard library only.
"""
import json
import os
import sys
from collections import Counter, defaultdict

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CATEGORIES = ("fresh_high_intent", "information_request", "passive_engagement")


def load():
    with open(os.path.join(ROOT, "data/triage/in_domain.jsonl"), encoding="utf-8") as f:
        gold = {r["id"]: r for r in map(json.loads, filter(str.strip, f))}
    by = defaultdict(dict)
    with open(os.path.join(ROOT, "data/triage/agreement/annotations.jsonl"), encoding="utf-8") as f:
        for a in map(json.loads, filter(str.strip, f)):
            by[a["annotator"]][a["id"]] = a
    return gold, by


def escalation_scores(ref, hyp, ids):
    """Escalate-or-not of `hyp` read against `ref` as the truth, over `ids`
    (`ref` and `hyp` map an id to its list of reasons; `[]` is no
    escalation): recall and false-escalation rate as EVAL.md defines them
    (None without positives or negatives), the share of ids on which both
    agree, Cohen's kappa of that agreement (NaN when chance agreement is
    certain) and the counts. bench/public_per_message.py scores with it too."""
    pos = [i for i in ids if ref[i]]
    neg = [i for i in ids if not ref[i]]
    tp = sum(bool(hyp[i]) for i in pos)
    fp = sum(bool(hyp[i]) for i in neg)
    n = len(ids)
    observed = (tp + len(neg) - fp) / n
    p_ref, p_hyp = len(pos) / n, (tp + fp) / n
    chance = p_ref * p_hyp + (1 - p_ref) * (1 - p_hyp)
    return {
        "recall": tp / len(pos) if pos else None,
        "false_escalation_rate": fp / len(neg) if neg else None,
        "agreement": observed,
        "kappa": (observed - chance) / (1 - chance) if chance < 1 else float("nan"),
        "messages": n,
        "should_escalate": len(pos),
        "should_not": len(neg),
    }


def compare(ref, hyp, ids):
    """Scores `hyp` against `ref` over `ids` (dicts of id -> label row)."""
    e = escalation_scores({i: ref[i]["escalation_reasons"] for i in ids},
                          {i: hyp[i]["escalation_reasons"] for i in ids}, ids)
    n = len(ids)
    same = sum(set(ref[i]["escalation_reasons"]) == set(hyp[i]["escalation_reasons"]) for i in ids)
    total, right = Counter(), Counter()
    for i in ids:
        total[ref[i]["category"]] += 1
        right[ref[i]["category"]] += hyp[i]["category"] == ref[i]["category"]
    cats = "  ".join(
        f"{c} {right[c] / total[c]:.3f}" for c in CATEGORIES if total[c]
    )
    return (f"n {n:4}  recall {e['recall']:.3f}  false escalations {e['false_escalation_rate']:.3f}  "
            f"kappa {e['kappa']:.3f}  same reasons {same / n:.3f}  category recall: {cats}")


def main():
    gold, by = load()
    if sorted(by) != ["a", "b"]:
        sys.exit("expected annotators a and b")
    ids = sorted(by["a"])
    missing = [i for i in ids if i not in gold or i not in by["b"]]
    if missing:
        sys.exit(f"ids without a label or a second annotation: {missing[:5]}")
    pairs = (("labels", "a", gold, by["a"]), ("labels", "b", gold, by["b"]), ("a", "b", by["a"], by["b"]))
    for ref_name, hyp_name, ref, hyp in pairs:
        print(f"{hyp_name} against {ref_name}: {compare(ref, hyp, ids)}")
    for lang in ("en", "hinglish", "hi"):
        sub = [i for i in ids if gold[i]["language"] == lang]
        for ref_name, hyp_name, ref, hyp in pairs[:2]:
            print(f"  {lang:8} {hyp_name} against {ref_name}: {compare(ref, hyp, sub)}")


if __name__ == "__main__":
    main()
