#!/usr/bin/env python3
"""Turn the public datasets under data/public/ into one JSON Lines format.

Standard library only. Writes OUT/public.jsonl (every source, every split)
and OUT/in_domain.jsonl (a copy of data/triage/in_domain.jsonl with
`source`), where each line is

    {"text", "label" (string, or list for multi-label NLU++), "source",
     "split" (train | dev | test), "language" (en | hinglish)}

Labels stay the sources' own: data/mapping/public.toml maps them to
Switchboard intents and escalation reasons, so the mapping is reviewed as
data and applied by `switchboard train/eval --mapping`.

Splits: the sources' own where they have them (BANKING77 train/test,
CLINC150 train/val/test, Hinglish-TOP train/validation/test); for sources
without one (Bitext, NLU++, DSTC11) and for BANKING77's dev carve-out, the
same rule as data/triage: SHA-256 of "switchboard-public-v1:" + source + ":"
+ key, first 8 bytes big-endian mod 100, <70 train, <85 dev, else test
(BANKING77: <90 train, else dev, from its train file only).

Also writes two measurement-only files from test splits: OUT/goemotions_test.jsonl
({"text", "sentiment": "negative" | "not_negative"}; negative when any of
the comment's emotions is in GoEmotions' own negative group) and
OUT/language_test.jsonl (Hinglish-TOP test, both sides, {"text",
"language"}).

Usage: python3 data/public/prepare.py [--out target/triage-data]
"""

import argparse
import csv
import glob
import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def bucket(source, key):
    h = hashlib.sha256(f"switchboard-public-v1:{source}:{key}".encode()).digest()
    return int.from_bytes(h[:8], "big") % 100


def split_of(source, key):
    b = bucket(source, key)
    return "train" if b < 70 else "dev" if b < 85 else "test"


def rows():
    # BANKING77: official train/test; 10% of train held out as dev for tuning.
    for split, name in (("train", "train.csv"), ("test", "test.csv")):
        with open(os.path.join(HERE, "banking77", name), newline="") as f:
            for r in csv.DictReader(f):
                s = split
                if split == "train" and bucket("banking77", r["text"]) >= 90:
                    s = "dev"
                yield r["text"], r["category"], "banking77", s, "en"
    # CLINC150 (full): train/val/test plus the out-of-scope lists.
    with open(os.path.join(HERE, "clinc150", "data_full.json")) as f:
        d = json.load(f)
    for key, split in (("train", "train"), ("val", "dev"), ("test", "test"),
                       ("oos_train", "train"), ("oos_val", "dev"), ("oos_test", "test")):
        for text, label in d[key]:
            yield text, label, "clinc150", split, "en"
    # Bitext: one file, no split.
    path = os.path.join(HERE, "bitext-customer-support",
                        "Bitext_Sample_Customer_Support_Training_Dataset.csv")
    with open(path, newline="") as f:
        seen = set()
        for r in csv.DictReader(f):
            text = r["instruction"]
            if text in seen:
                continue
            seen.add(text)
            yield text, r["intent"], "bitext", split_of("bitext", text), "en"
    # NLU++: multi-label; examples without intents are slot-only answers.
    for domain in ("banking", "hotels"):
        files = sorted(glob.glob(os.path.join(HERE, "nlu-plus-plus", domain, "fold*.json")))
        for path in files:
            with open(path) as f:
                for r in json.load(f):
                    text = r["text"]
                    labels = sorted(r.get("intents", []))
                    yield text, labels, "nlupp", split_of("nlupp", text), "en"
    # DSTC11 / NatCS customer turns.
    for path in sorted(glob.glob(os.path.join(HERE, "dstc11-intent-induction", "*.jsonl"))):
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                yield (r["utterance"], r["intent"], "dstc11",
                       split_of("dstc11", r["utterance_id"]), "en")
    # Hinglish-TOP: both sides of every parallel pair, top intent as label.
    for name, split in (("train.tsv", "train"), ("validation.tsv", "dev"), ("test.tsv", "test")):
        with open(os.path.join(HERE, "hinglish-top", name), newline="") as f:
            for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                label = r["cs_parse"].split()[0].removeprefix("[IN:")
                yield r["cs_query"], label, "hinglish_top", split, "hinglish"
                yield r["en_query"], label, "hinglish_top_en", split, "en"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "target", "triage-data"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    counts = {}
    with open(os.path.join(args.out, "public.jsonl"), "w") as out:
        for text, label, source, split, lang in rows():
            text = " ".join(text.split())
            if not text:
                continue
            out.write(json.dumps({"text": text, "label": label, "source": source,
                                  "split": split, "language": lang}, ensure_ascii=False) + "\n")
            counts[(source, split)] = counts.get((source, split), 0) + 1
    with open(os.path.join(ROOT, "data", "triage", "in_domain.jsonl")) as f, \
            open(os.path.join(args.out, "in_domain.jsonl"), "w") as out:
        for line in f:
            r = json.loads(line)
            r["source"] = "in_domain"
            out.write(json.dumps(r, ensure_ascii=False) + "\n")
            counts[("in_domain", r["split"])] = counts.get(("in_domain", r["split"]), 0) + 1
    ge = os.path.join(HERE, "goemotions")
    with open(os.path.join(ge, "emotions.txt")) as f:
        names = [l.strip() for l in f if l.strip()]
    with open(os.path.join(ge, "sentiment_dict.json")) as f:
        negative = set(json.load(f)["negative"])
    with open(os.path.join(ge, "test.tsv"), newline="") as f, \
            open(os.path.join(args.out, "goemotions_test.jsonl"), "w") as out:
        for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            emotions = {names[int(i)] for i in row[1].split(",")}
            label = "negative" if emotions & negative else "not_negative"
            out.write(json.dumps({"text": row[0], "sentiment": label, "source": "goemotions",
                                  "split": "test"}, ensure_ascii=False) + "\n")
    with open(os.path.join(args.out, "public.jsonl")) as f, \
            open(os.path.join(args.out, "language_test.jsonl"), "w") as out:
        for line in f:
            r = json.loads(line)
            if r["source"].startswith("hinglish_top") and r["split"] == "test":
                out.write(json.dumps({"text": r["text"], "language": r["language"],
                                      "source": r["source"], "split": "test"},
                                     ensure_ascii=False) + "\n")
    for (source, split), n in sorted(counts.items()):
        print(f"{source:18} {split:5} {n:6}")


if __name__ == "__main__":
    main()
