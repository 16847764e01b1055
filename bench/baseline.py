#!/usr/bin/env python3
"""scikit-learn baseline for the intent benchmarks (EVAL.md).

TfidfVectorizer (defaults: lower-cased word unigrams) + LogisticRegression,
trained on the train split, scored on the test split: accuracy, macro-F1
and the time of one single-message `predict` (what a service pays per
message), averaged over the first 1,000 test messages: the median of 5 such
passes.

    python3 bench/baseline.py --prepare DIR   # write DIR/{banking77,clinc150}_{train,test}.jsonl
    python3 bench/baseline.py DIR             # print a JSON report
"""

import argparse
import json
import os
import time


def prepare(src, out):
    """Benchmark files from data/public/prepare.py's output (official splits:
    the BANKING77 dev carve-out and CLINC150 val go back to neither side)."""
    files = {}
    with open(os.path.join(src, "public.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            name = r["source"]
            if name not in ("banking77", "clinc150"):
                continue
            split = r["split"]
            if name == "banking77" and split == "dev":
                split = "train"  # BANKING77's official train split includes it
            if split == "dev":
                continue
            key = f"{name}_{split}"
            files.setdefault(key, []).append({"text": r["text"], "intent": r["label"].lower().replace("?", "")})
    os.makedirs(out, exist_ok=True)
    for key, rows in files.items():
        with open(os.path.join(out, key + ".jsonl"), "w") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        print(key, len(rows))


def load(path):
    with open(path) as f:
        rows = [json.loads(l) for l in f if l.strip()]
    return [r["text"] for r in rows], [r["intent"] for r in rows]


def run(d):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import make_pipeline

    report = {}
    for name in ("banking77", "clinc150"):
        xtr, ytr = load(os.path.join(d, f"{name}_train.jsonl"))
        xte, yte = load(os.path.join(d, f"{name}_test.jsonl"))
        pipe = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000))
        t0 = time.perf_counter()
        pipe.fit(xtr, ytr)
        fit_s = time.perf_counter() - t0
        pred = pipe.predict(xte)
        sample = xte[:1000]
        # Median of 5 timed passes, as `switchboard train --test` times ours.
        passes = []
        for _ in range(5):
            t0 = time.perf_counter()
            for x in sample:
                pipe.predict([x])
            passes.append((time.perf_counter() - t0) / len(sample) * 1e6)
        single_us = sorted(passes)[len(passes) // 2]
        report[name] = {
            "train": len(xtr),
            "test": len(xte),
            "accuracy": accuracy_score(yte, pred),
            "macro_f1": f1_score(yte, pred, average="macro"),
            "fit_seconds": fit_s,
            "micros_per_message": single_us,
        }
    import sklearn
    report["sklearn"] = sklearn.__version__
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--prepare", metavar="SRC")
    a = ap.parse_args()
    if a.prepare:
        prepare(a.prepare, a.dir)
    else:
        run(a.dir)
