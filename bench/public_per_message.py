#!/usr/bin/env python3
"""Does the label-level mapping flatter or hurt the pooled public numbers?

Scores the engine's escalations on BANKING77's test split twice: against the
label-level mapping (`data/mapping/public.toml`, one decision per BANKING77
label, as EVAL.md's pooled set uses it) and against a per-message
annotation of the same 3,080 messages under issue #3's definitions
(`data/public/banking77/per_message/annotations.jsonl`, see its README).
Also prints how far the two annotators agree with each other and with the
label-level mapping, and which labels the per-message reading moves most.

    python3 bench/public_per_message.py [--model MODEL] [--json OUT]

Needs the release binary (`cargo build --release`, found through
`CARGO_TARGET_DIR` like bench/run.sh); without `--model` it
triages with the built-in default model. Standard library only.
"""
import csv
import json
import os
import subprocess
import sys
import tomllib
from collections import Counter

from agreement import escalation_scores

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
HISTORY_ONLY = ("repeat_unanswered", "bot_failure")


def label_level_reasons():
    """BANKING77 label -> escalation reasons, from the reviewed mapping."""
    with open(os.path.join(ROOT, "data/mapping/public.toml"), "rb") as f:
        mapping = tomllib.load(f)
    src = mapping["sources"]["banking77"]
    default = src.get("default", {}).get("escalation", [])
    return lambda label: src["labels"].get(label, {}).get("escalation", default)


def main(argv):
    model = argv[argv.index("--model") + 1] if "--model" in argv else None
    json_out = argv[argv.index("--json") + 1] if "--json" in argv else None
    with open(os.path.join(ROOT, "data/public/banking77/test.csv"), newline="", encoding="utf-8") as f:
        test = list(csv.DictReader(f))
    by_label = label_level_reasons()
    label_gold = [by_label(r["category"]) for r in test]
    primary, second = {}, {}
    with open(os.path.join(ROOT, "data/public/banking77/per_message/annotations.jsonl"), encoding="utf-8") as f:
        for a in map(json.loads, filter(str.strip, f)):
            if a["text"] != test[a["row"]]["text"]:
                sys.exit(f"annotation for row {a['row']} does not match test.csv's text")
            (primary if a["primary"] else second)[a["row"]] = a
    if len(primary) != len(test):
        sys.exit(f"{len(test) - len(primary)} test rows have no primary annotation")
    message_gold = [primary[i]["escalation_reasons"] for i in range(len(test))]

    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    sb = os.path.join(target, "release/switchboard")
    cmd = [sb, "triage"] + (["--model", model] if model else [])
    lines = "".join(json.dumps({"text": r["text"]}, ensure_ascii=False) + "\n" for r in test)
    out = subprocess.run(cmd, input=lines.encode("utf-8"), capture_output=True, check=True)
    pred = [[x for x in json.loads(l)["escalation_reasons"] if x not in HISTORY_ONLY]
            for l in out.stdout.decode("utf-8").splitlines()]

    every = list(range(len(test)))
    both = sorted(second)
    other = {i: second[i]["escalation_reasons"] for i in both}
    moved = Counter()
    for i in every:
        if bool(message_gold[i]) != bool(label_gold[i]):
            moved[(test[i]["category"], "+" if message_gold[i] else "-")] += 1
    result = {
        "messages": len(test),
        "label_level": escalation_scores(label_gold, pred, every),
        "per_message": escalation_scores(message_gold, pred, every),
        "annotators": escalation_scores(message_gold, other, both),
        "annotation_vs_label_level": escalation_scores(message_gold, label_gold, every),
        "moved": [{"label": l, "direction": d, "messages": n} for (l, d), n in moved.most_common()],
    }

    def line(name, r):
        print(f"{name:<34} recall {r['recall']:.3f} ({r['should_escalate']} should escalate), "
              f"false escalations {r['false_escalation_rate']:.3f} ({r['should_not']} should not)")

    print(f"BANKING77 test, {len(test)} messages; the engine's escalations against:")
    line("label-level mapping", result["label_level"])
    line("per-message annotation", result["per_message"])
    k = result["annotators"]
    print(f"annotators on {k['messages']} messages both labelled: agreement {k['agreement']:.3f}, "
          f"kappa {k['kappa']:.3f}")
    k = result["annotation_vs_label_level"]
    print(f"per-message annotation vs label-level mapping: agreement {k['agreement']:.3f}, "
          f"kappa {k['kappa']:.3f}")
    print("labels the per-message reading moves most (+ escalates where the label does not, - the reverse):")
    for m in result["moved"][:12]:
        print(f"  {m['direction']} {m['label']}: {m['messages']}")
    if json_out:
        with open(json_out, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main(sys.argv[1:])
