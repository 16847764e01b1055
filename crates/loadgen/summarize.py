"""Medians of switchboard-loadgen --json results, as a Markdown table.

Usage: python3 crates/loadgen/summarize.py DIR/result.json...

Next to each result.json, bench.sh leaves server_cpu_s (the server's CPU
seconds) and metrics.txt (its Prometheus text); when present they add the
server's average busy cores and mean group-commit batch (deliveries per
transaction) to the table.
"""

import json
import os
import re
import statistics
import sys
from collections import defaultdict


def extra(path, result):
    """Server CPU (average busy cores) and mean group-commit batch, or None."""
    d = os.path.dirname(path)
    cores = batch = None
    try:
        with open(os.path.join(d, "server_cpu_s")) as f:
            cores = float(f.read()) / result["elapsed_s"]
    except (OSError, ValueError):
        pass
    try:
        with open(os.path.join(d, "metrics.txt")) as f:
            m = f.read()
        total = re.search(r"^switchboard_ingest_batch_size_sum (\S+)", m, re.M)
        count = re.search(r"^switchboard_ingest_batch_size_count (\S+)", m, re.M)
        if total and count and float(count.group(1)) > 0:
            batch = float(total.group(1)) / float(count.group(1))
    except (OSError, ValueError):
        pass
    return cores, batch


def median(rs, f):
    vals = [f(r) for r in rs if f(r) is not None]
    return statistics.median(vals) if vals else float("nan")


def main(paths):
    runs = defaultdict(list)
    for path in paths:
        try:
            with open(path) as f:
                r = json.load(f)
        except (OSError, ValueError) as e:
            print(f"{path}: no result ({e})")
            continue
        r["_cores"], r["_batch"] = extra(path, r)
        key = (r["config"]["concurrency"], r["config"]["batch_max"])
        runs[key].append(r)
    print(
        "| concurrency | batch-max | runs | messages/s (min-max) | deliveries/s "
        "| p50 ms | p90 ms | p99 ms | max ms | lost | duplicated | exactly-once "
        "| server CPU (cores) | mean batch |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for (c, b) in sorted(runs):
        rs = runs[(c, b)]
        mps = [r["accepted_messages_per_s"] for r in rs]
        verdict = "PASS" if all(r["pass"] for r in rs) else "FAIL"
        lat = lambda k: median(rs, lambda r: r["latency_ms"][k])
        print(
            f"| {c} | {b} | {len(rs)} "
            f"| {statistics.median(mps):,.0f} ({min(mps):,.0f}-{max(mps):,.0f}) "
            f"| {median(rs, lambda r: r['deliveries_per_s']):,.0f} "
            f"| {lat('p50'):.1f} | {lat('p90'):.1f} | {lat('p99'):.1f} | {lat('max'):.1f} "
            f"| {sum(r['lost'] for r in rs)} | {sum(r['duplicated'] for r in rs)} | {verdict} "
            f"| {median(rs, lambda r: r['_cores']):.2f} | {median(rs, lambda r: r['_batch']):.1f} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
