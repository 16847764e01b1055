#!/usr/bin/env python3
"""Recompute or verify the `split` field of data/triage/in_domain.jsonl.

Rule: SHA-256 of the UTF-8 string "switchboard-triage-v1:" + id; the first
8 bytes as a big-endian unsigned integer, mod 100: < 70 train, < 85 dev,
otherwise test.

Usage:
  python3 split.py [PATH]            verify (exit 1 on any mismatch)
  python3 split.py --write [PATH]    rewrite the split field in place
Standard library only.
"""
import hashlib
import json
import os
import sys

SEED = "switchboard-triage-v1:"


def split_for(record_id: str) -> str:
    digest = hashlib.sha256((SEED + record_id).encode("utf-8")).digest()
    bucket = int.from_bytes(digest[:8], "big") % 100
    if bucket < 70:
        return "train"
    if bucket < 85:
        return "dev"
    return "test"


def main(argv):
    write = "--write" in argv
    args = [a for a in argv if a != "--write"]
    path = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "in_domain.jsonl")
    with open(path, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    bad = 0
    for rec in records:
        want = split_for(rec["id"])
        if rec.get("split") != want:
            bad += 1
            if not write:
                print(f"{rec['id']}: split={rec.get('split')!r}, expected {want!r}")
            rec["split"] = want
    if write:
        with open(path, "w", encoding="utf-8") as f:
            for rec in records:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        print(f"rewrote {len(records)} records ({bad} changed)")
        return 0
    print(f"{len(records)} records, {bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
