#!/usr/bin/env python3
"""Held-out mistakes of the last cross-validation run, for writing the next
round of in-domain rows (data/triage/README.md describes the rounds).

    python3 bench/mistakes.py [--cv DIR] [--out FILE]

Needs `python3 bench/cv.py` to have written DIR (default target/cv): for each
fold K, `in_domain_foldK_scored.jsonl` (the held-out train + dev rows) and
`foldK.sbm` (the model trained without them). Triages every held-out row with
its fold's model and writes one JSON object per mistake to FILE (default
DIR/mistakes.jsonl): `kind` is `false_escalation` (gold has no escalation
reason, the model escalated), `missed` (the reverse) or `category` (gold
`fresh_high_intent` or `passive_engagement`, predicted another), with the
text, language, domain and gold and predicted intent, category and reasons.
Prints the counts by kind and language. Never reads the test split (cv.py
drops it before anything else). Standard library only.
"""
import json
import os
import sys
from collections import Counter

from cv import HISTORY_ONLY, triage_fold


def main(argv):
    cv = "target/cv"
    out = None
    i = 0
    while i < len(argv):
        if argv[i] == "--cv":
            cv = argv[i + 1]
            i += 2
        elif argv[i] == "--out":
            out = argv[i + 1]
            i += 2
        else:
            sys.exit(f"unknown argument {argv[i]!r}")
    out = out or os.path.join(cv, "mistakes.jsonl")
    sb = os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "switchboard")
    counts = Counter()
    with open(out, "w", encoding="utf-8") as o:
        k = 0
        while os.path.exists(os.path.join(cv, f"fold{k}.sbm")):
            scored = os.path.join(cv, f"in_domain_fold{k}_scored.jsonl")
            for r, p in triage_fold(sb, os.path.join(cv, f"fold{k}.sbm"), scored):
                gold = [x for x in r.get("escalation_reasons", []) if x not in HISTORY_ONLY]
                pred = [x for x in p["escalation_reasons"] if x not in HISTORY_ONLY]
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


if __name__ == "__main__":
    main(sys.argv[1:])
