#!/usr/bin/env python3
"""Near-duplicate check for a writing round's rows.

    python3 novelty.py --from en=13000,hg=11586,hi=11482 [--threshold 0.85] [PATH]

Compares every row whose id number is at or above its language's --from
number (the round's new rows) with every row of the same language before it
in the file (earlier rounds, and the round's own earlier rows), and prints
each pair whose `difflib.SequenceMatcher` ratio is at or above the threshold
after lower-casing and dropping punctuation (check.py's normalisation).
Exits 1 if it found any. check.py covers the schema and exact and normalised
duplicates over the whole set; a pairwise ratio over all 38,000 rows would
take hours, so this runs on one round against the rest (about 4 minutes for
2,400 rows). Standard library only.
"""
import argparse
import difflib
import json
import pathlib
import re
import sys

PREFIX = {"en": "en", "hg": "hinglish", "hi": "hi"}


def norm(text):
    # The same normalisation as check.py's duplicate count.
    return " ".join(re.sub(r"[!-/:-@\[-`{-~।॥…]+", " ", text.lower()).split())


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--from", dest="start", required=True,
                    help="first id number of the round per language prefix, e.g. en=13000,hg=11586,hi=11482")
    ap.add_argument("--threshold", type=float, default=0.85)
    ap.add_argument("path", nargs="?", default=str(pathlib.Path(__file__).with_name("in_domain.jsonl")))
    args = ap.parse_args(argv)
    start = {}
    for part in args.start.split(","):
        prefix, number = part.split("=")
        start[PREFIX[prefix]] = int(number)
    seen = {}
    found = 0
    checked = 0
    with open(args.path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            lang = row["language"]
            text = norm(row["text"])
            earlier = seen.setdefault(lang, [])
            if lang in start and int(row["id"].split("-")[1]) >= start[lang]:
                checked += 1
                matcher = difflib.SequenceMatcher(None, "", text, autojunk=False)
                for other_id, other in earlier:
                    matcher.set_seq1(other)
                    # The two quick ratios are upper bounds of ratio(): cheap rejections first.
                    if (matcher.real_quick_ratio() >= args.threshold
                            and matcher.quick_ratio() >= args.threshold
                            and matcher.ratio() >= args.threshold):
                        print(f"{row['id']} ~ {other_id} ({matcher.ratio():.2f}): {row['text']!r} / {other!r}")
                        found += 1
            earlier.append((row["id"], text))
    print(f"{checked} rows checked, {found} near-duplicate pairs at {args.threshold} or more")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
