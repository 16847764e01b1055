#!/usr/bin/env python3
"""Does more in-domain data still help? A learning curve with a stand-in
model any data scientist would use, quick enough to run on every data round.

    bench/.venv/bin/python bench/learning_curve.py [--upto en=N,hg=N,hi=N]

Model: scikit-learn TF-IDF over word 1-2-grams and character 2-5-grams
(within word boundaries) + logistic regression, escalate yes/no, trained on
the in-domain set alone. Rows: the train + dev rows of data/triage (never
the test split), optionally only those up to the given ids (to read the
curve of an earlier version). Folds: bench/cv.py's own `fold_of`. For each share of each fold's training rows
(an eighth, a quarter, a half, all; a nested subset chosen by a hash of the
id) it prints the false-escalation rate at the threshold that gives
escalation recall 0.95 over the out-of-fold scores. The shape, not the
level, is the point: the default recipe's own curve is `bench/cv.py
--train-fraction F`, about 10 minutes a point. Needs bench/.venv (bench/run.sh
makes it).
"""
import hashlib
import json
import os
import sys

import numpy as np
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from cv import fold_of

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def share_of(record_id: str) -> int:
    """Which eighth of the training rows a row belongs to (nested shares)."""
    digest = hashlib.sha256(("switchboard-curve:" + record_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % 8


def fer_at_recall(p, y, recall=0.95):
    pos = np.sort(p[y == 1])
    threshold = pos[int(np.floor((1 - recall) * len(pos)))]
    return float((p[y == 0] >= threshold).mean())


def main(argv):
    upto = None
    if argv[:1] == ["--upto"]:
        upto = {k: int(v) for k, v in (kv.split("=") for kv in argv[1].split(","))}
    elif argv:
        sys.exit(__doc__)
    with open(os.path.join(ROOT, "data/triage/in_domain.jsonl"), encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    rows = [r for r in rows if r["split"] != "test"]
    if upto:
        rows = [r for r in rows if int(r["id"].split("-")[1]) <= upto[r["id"].split("-")[0]]]
    text = [r["text"].lower() for r in rows]
    y = np.array([1 if r["escalation_reasons"] else 0 for r in rows])
    fold = np.array([fold_of(r["id"], 5) for r in rows])
    share = np.array([share_of(r["id"]) for r in rows])
    print(f"{len(rows)} train + dev rows, {int(y.sum())} escalations")
    for eighths in (1, 2, 4, 8):
        scores = np.zeros(len(y))
        for k in range(5):
            train = np.where((fold != k) & (share < eighths))[0]
            test = np.where(fold == k)[0]
            words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
            chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)
            a = hstack([words.fit_transform([text[i] for i in train]),
                        chars.fit_transform([text[i] for i in train])]).tocsr()
            b = hstack([words.transform([text[i] for i in test]),
                        chars.transform([text[i] for i in test])]).tocsr()
            model = LogisticRegression(C=10, max_iter=3000).fit(a, y[train])
            scores[test] = model.predict_proba(b)[:, 1]
        print(f"{eighths}/8 of the training rows (about {int(len(y) * 0.8 * eighths / 8)}): "
              f"false escalations at recall 0.95 {fer_at_recall(scores, y):.3f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
