#!/usr/bin/env python3
"""Held-out mistakes of the last cross-validation run, for writing the next
round of in-domain rows (data/triage/README.md describes the rounds), and
the same run rescored under another rules file.

    python3 bench/mistakes.py [--cv DIR] [--out FILE] [--rules FILE]

Needs `python3 bench/cv.py` to have written DIR (default target/cv): for each
fold K, `in_domain_foldK_scored.jsonl` (the held-out train + dev rows) and
`foldK.sbm` (the model trained without them). Triages every held-out row with
its fold's model and writes one JSON object per mistake to FILE (default
DIR/mistakes.jsonl): `kind` is `false_escalation` (gold has no escalation
reason, the model escalated), `missed` (the reverse) or `category` (gold
`fresh_high_intent` or `passive_engagement`, predicted another), with the
text, language, domain and gold and predicted intent, category and reasons.
Prints the counts by kind and language, then escalation recall and
false-escalation rate overall and per language and high-intent and passive
recall over all held-out rows.

--rules FILE triages with that rules file instead of the built-in one. The
rules are applied at triage time, so a rules change can be judged on the
existing fold models without retraining: this is how rules v5 was chosen
(on the thirteenth version's folds, 1,140 -> 1,060 false escalations).
Never reads the test split (cv.py drops it before anything else). Standard
library only.
"""
import argparse
import json
import os
import sys
from collections import Counter

from cv import DEFAULT_BIN, HISTORY_ONLY, triage_fold


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cv", default="target/cv", help="cv.py's output directory")
    ap.add_argument("--out", help="mistakes file (default DIR/mistakes.jsonl)")
    ap.add_argument("--rules", help="rules file (default: the built-in rules)")
    args = ap.parse_args(argv)
    cv = args.cv
    out = args.out or os.path.join(cv, "mistakes.jsonl")
    counts = Counter()
    totals = Counter()
    with open(out, "w", encoding="utf-8") as o:
        k = 0
        while os.path.exists(os.path.join(cv, f"fold{k}.sbm")):
            scored = os.path.join(cv, f"in_domain_fold{k}_scored.jsonl")
            for r, p in triage_fold(DEFAULT_BIN, os.path.join(cv, f"fold{k}.sbm"), scored,
                                    args.rules):
                gold = [x for x in r.get("escalation_reasons", []) if x not in HISTORY_ONLY]
                pred = [x for x in p["escalation_reasons"] if x not in HISTORY_ONLY]
                for group in ("all", r["language"]):
                    totals[(group, "escalate" if gold else "calm")] += 1
                    totals[(group, "escalated")] += bool(gold and pred)
                    totals[(group, "false")] += bool(pred and not gold)
                if r.get("category") in ("fresh_high_intent", "passive_engagement"):
                    totals[(r["category"], "n")] += 1
                    totals[(r["category"], "right")] += r["category"] == p["category"]
                if gold and not pred:
                    kind = "missed"
                elif pred and not gold:
                    kind = "false_escalation"
                elif r.get("category") != p["category"] and r.get("category") in (
                        "fresh_high_intent", "passive_engagement"):
                    kind = "category"
                else:
                    continue
                counts[(kind, r["language"])] += 1
                o.write(json.dumps({
                    "id": r["id"], "kind": kind, "language": r["language"],
                    "domain": r.get("domain"), "text": r["text"],
                    "gold_intent": r.get("intent"), "pred_intent": p["intent"],
                    "gold_category": r.get("category"), "pred_category": p["category"],
                    "gold_reasons": gold, "pred_reasons": pred,
                }, ensure_ascii=False) + "\n")
            k += 1
    if k == 0:
        sys.exit(f"no fold models in {cv}: run python3 bench/cv.py first")
    for (kind, language), n in sorted(counts.items()):
        print(f"{kind:17} {language:9} {n}")
    print(f"wrote {sum(counts.values())} mistakes from {k} folds to {out}")
    for group in ("all", "en", "hi", "hinglish"):
        esc, calm = totals[(group, "escalate")], totals[(group, "calm")]
        if esc and calm:
            print(f"{group:9} recall {totals[(group, 'escalated')] / esc:.4f} "
                  f"({totals[(group, 'escalated')]}/{esc})  false escalations "
                  f"{totals[(group, 'false')] / calm:.4f} ({totals[(group, 'false')]}/{calm})")
    for category in ("fresh_high_intent", "passive_engagement"):
        if totals[(category, "n")]:
            print(f"{category:20} recall {totals[(category, 'right')] / totals[(category, 'n')]:.4f}")


if __name__ == "__main__":
    main(sys.argv[1:])
