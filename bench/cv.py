#!/usr/bin/env python3
"""K-fold cross-validation of the default training recipe on the in-domain
train + dev rows, so a change to features, data or training can be judged
without looking at the test split.

    python3 bench/cv.py [--folds 5] [--bin PATH] [--score-upto en=N,hg=N,hi=N]
                        [--train-fraction F] [-- extra `switchboard train` flags]

Extra flags replace the recipe's own (bench/default-model.flags, which
bench/run.sh trains the default model with) when they name the same option.

Needs `bash bench/run.sh` (or `data/public/prepare.py`) to have prepared
target/triage-data. Each fold: the in-domain rows whose id hashes into the
fold are relabelled `split: "test"` (so training neither fits nor calibrates
on them), the model is trained with bench/run.sh's recipe plus any extra
flags, and `switchboard eval --split test` scores the held-out rows. Prints
escalation recall / false-escalation rate overall and per language, and
category recall, summed over the folds (every train + dev row is scored
exactly once), then what raised each false escalation: a rule phrase, a model
head, an intent that implies a reason, the tone checks (from the `reasons` texts of `switchboard triage` with the fold's
model). Test rows are dropped before anything else happens.

--train-fraction F (0 < F <= 1) keeps only that share of each fold's
in-domain training rows (chosen by a hash of the id, so the same rows at
every fold, and a smaller share is a subset of a larger one) while still
scoring every row once: one point of a learning curve. Its models and
reports go to target/cv-fF instead of target/cv.
Standard library only.
"""
import hashlib
import json
import os
import subprocess
import sys
from collections import Counter


def flag_groups(words):
    """Command-line words as [name, value, …] groups, one per flag."""
    groups = []
    for w in words:
        if w.startswith("--") or not groups:
            groups.append([w])
        else:
            groups[-1].append(w)
    return groups


def fold_of(record_id: str, folds: int) -> int:
    digest = hashlib.sha256(("switchboard-cv:" + record_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % folds


# The release binary bench/run.sh builds; bench/mistakes.py uses it too.
DEFAULT_BIN = os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "switchboard")


def main(argv):
    folds = 5
    sb = DEFAULT_BIN
    extra = []
    upto = None
    fraction = 1.0
    if "--" in argv:
        extra = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    i = 0
    while i < len(argv):
        if argv[i] == "--folds":
            folds = int(argv[i + 1])
            i += 2
        elif argv[i] == "--score-upto":
            # e.g. en=1751,hg=1761,hi=1720: score only rows up to these ids
            # (the others are still held out), to compare with an earlier set.
            upto = {k: int(v) for k, v in (kv.split("=") for kv in argv[i + 1].split(","))}
            i += 2
        elif argv[i] == "--train-fraction":
            fraction = float(argv[i + 1])
            if not 0 < fraction <= 1:
                sys.exit("--train-fraction takes a number in (0, 1]")
            i += 2
        elif argv[i] == "--bin":
            sb = argv[i + 1]
            i += 2
        else:
            sys.exit(f"unknown argument {argv[i]}")
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "default-model.flags")) as f:
        recipe_words = f.read().split()
    data = "target/triage-data"
    out = "target/cv" if fraction == 1.0 else f"target/cv-f{fraction:g}"
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(data, "in_domain.jsonl"), encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    rows = [r for r in rows if r.get("split") != "test"]

    esc = Counter()
    raised_by = Counter()
    by_lang = {}
    cats = Counter()
    for k in range(folds):
        path = os.path.join(out, f"in_domain_fold{k}.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for r in rows:
                r2 = dict(r)
                if fold_of(r["id"], folds) == k:
                    r2["split"] = "test"
                elif not kept(r["id"], fraction):
                    continue
                f.write(json.dumps(r2, ensure_ascii=False) + "\n")
        model = os.path.join(out, f"fold{k}.sbm")
        # (name, values) groups: a flag may repeat (`--gate-source`) or
        # take no value (`--gate-per-language`).
        recipe = [kv for kv in flag_groups(recipe_words) if kv[0] not in extra]
        flags = list(extra)
        subprocess.run(
            [sb, "train", "--quiet", *[x for kv in recipe for x in kv],
             "--data", os.path.join(data, "public.jsonl"), "--data", path,
             "--mapping", "data/mapping/public.toml", "--out", model, *flags],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        scored = os.path.join(out, f"in_domain_fold{k}_scored.jsonl")
        with open(scored, "w", encoding="utf-8") as f:
            for r in rows:
                prefix, n = r["id"].split("-")
                if fold_of(r["id"], folds) == k and (upto is None or int(n) <= upto.get(prefix, -1)):
                    f.write(json.dumps(dict(r, split="test"), ensure_ascii=False) + "\n")
        report = os.path.join(out, f"fold{k}.json")
        subprocess.run(
            [sb, "eval", "--quiet", "--split", "test", "--data", scored, "--model", model,
             "--mapping", "data/mapping/public.toml", "--format", "json", "--out", report],
            check=True, stdout=subprocess.DEVNULL,
        )
        with open(report, encoding="utf-8") as f:
            rep = json.load(f)
        esc.update(rep["escalation"]["counts"])
        for lang, v in rep["escalation_by_language"].items():
            by_lang.setdefault(lang, Counter()).update(v["counts"])
        for cat, (n, right) in rep["category"]["by_value"].items():
            cats[cat + ":n"] += n
            cats[cat + ":right"] += right
        raised_by.update(false_escalation_sources(sb, model, scored))
        print(f"fold {k}: recall {rep['escalation']['recall']:.3f}, "
              f"false escalations {rep['escalation']['false_escalation_rate']:.3f}", flush=True)

    def line(name, c):
        pos = c["true_positive"] + c["false_negative"]
        neg = c["false_positive"] + c["true_negative"]
        rec = c["true_positive"] / pos if pos else float("nan")
        fer = c["false_positive"] / neg if neg else float("nan")
        print(f"{name:10} recall {rec:.3f}  false escalations {fer:.3f}  ({pos} / {neg})")

    line("all", esc)
    for lang in sorted(by_lang):
        line(lang, by_lang[lang])
    for cat in ("fresh_high_intent", "information_request", "passive_engagement"):
        n = cats[cat + ":n"]
        print(f"{cat:20} recall {cats[cat + ':right'] / n:.3f} ({n})" if n else f"{cat}: none")
    print("false escalations raised by (a message can have several):",
          ", ".join(f"{k} {v}" for k, v in raised_by.most_common()))


def kept(record_id: str, fraction: float) -> bool:
    """Whether a training row stays at this --train-fraction."""
    digest = hashlib.sha256(("switchboard-cv-keep:" + record_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % 1_000_000 < fraction * 1_000_000


HISTORY_ONLY = ("repeat_unanswered", "bot_failure")


def triage_fold(sb, model, scored, rules=None):
    """Each row of the scored file with what `switchboard triage --model`
    (and `--rules`, when given; the built-in rules otherwise) makes of its
    text: a list of (row, result) pairs. bench/mistakes.py reads the same
    pairs."""
    with open(scored, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    lines = "".join(json.dumps({"text": r["text"]}, ensure_ascii=False) + "\n" for r in rows)
    cmd = [sb, "triage", "--model", model] + (["--rules", rules] if rules else [])
    out = subprocess.run(cmd, input=lines.encode("utf-8"),
                         capture_output=True, check=True).stdout.decode("utf-8").splitlines()
    return [(r, json.loads(line)) for r, line in zip(rows, out)]


def false_escalation_sources(sb, model, scored):
    """Counts, over the scored rows that should not escalate but did, what
    raised the escalation, read from the engine's `reasons` texts."""
    counts = Counter()
    for r, p in triage_fold(sb, model, scored):
        gold = [x for x in r.get("escalation_reasons", []) if x not in HISTORY_ONLY]
        pred = [x for x in p["escalation_reasons"] if x not in HISTORY_ONLY]
        if gold or not pred:
            continue
        kinds = set()
        for t in p["reasons"]:
            if "held back" in t or t.startswith(("rule: intent", "model: intent")) and "implies" not in t:
                continue
            if t.startswith("rule: matched"):
                kinds.add("rule")
            elif "implies" in t:
                kinds.add("intent")
            elif t.startswith("model:"):
                kinds.add("head")
            elif "sentiment" in t or "exclamation" in t or "capitals" in t:
                kinds.add("tone")
            elif "never-automate" in t:
                kinds.add("never_automate")
        counts.update(kinds or {"other"})
    return counts


if __name__ == "__main__":
    main(sys.argv[1:])
