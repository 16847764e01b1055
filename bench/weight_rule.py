#!/usr/bin/env python3
"""Reads the shortfall that picks the default model's in-domain weight.

    python3 bench/weight_rule.py W1.txt W2.txt …

Each file is the stderr of one `switchboard train` run of the default
recipe (`bench/default-model.flags`, which has `--gate-per-language`) with
`--weight in_domain=W` changed: its tables of held-out (dev split)
escalation by gate threshold, one per tune group and language. For each
language, this takes the threshold the trainer chose for it and each
group's larger shortfall from the targets there (recall 0.95, false
escalations 0.05); the run's score is the largest over languages and
groups. The weight with the smallest score is the one the recipe uses
(`data/public/README.md` lists the readings round by round). Standard
library only; no test split is read.
"""
import re
import sys

RECALL, FALSE_ESCALATIONS = 0.95, 0.05


def score(text):
    """(worst shortfall, {language: [(group, threshold, recall, false escalations, shortfall)]})."""
    gates = {code: float(t) for code, t in re.findall(r"\(gate, (\w+)\)\s+([0-9.]+)", text)}
    gates.pop("on", None)  # "(gate, on the combiner)": the one threshold
    rows = {}
    for table in re.split(r"held-out escalation of ", text)[1:]:
        head = table.split("\n", 1)[0]
        m = re.search(r", language (\w+) ", head)
        if not m or m.group(1) not in gates:
            continue
        code, t = m.group(1), gates[m.group(1)]
        for line in re.finditer(r"^\s+([0-9.]+)\s+recall ([0-9.]+)\s+false escalations ([0-9.]+)", table, re.M):
            if abs(float(line.group(1)) - t) < 1e-6:
                r, f = float(line.group(2)), float(line.group(3))
                short = max(RECALL - r, f - FALSE_ESCALATIONS)
                rows.setdefault(code, []).append((head.split(",")[0], t, r, f, short))
    if not rows:
        raise SystemExit("no per-language tables: was the run trained with --gate-per-language?")
    return max(x[-1] for v in rows.values() for x in v), rows


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    for path in sys.argv[1:]:
        worst, rows = score(open(path, encoding="utf-8").read())
        print(f"{path}: worst shortfall {worst:.3f}")
        for code, v in sorted(rows.items()):
            for group, t, r, f, short in v:
                print(f"  {code:<9} {group[:40]:<40} at {t:.2f}: recall {r:.3f}, "
                      f"false escalations {f:.3f}, shortfall {short:.3f}")


if __name__ == "__main__":
    main()
