#!/usr/bin/env bash
# Regenerates EVAL.md: every number in it comes from this script.
#
#   bash bench/run.sh
#
# Needs python3 (3.11+) and network access to PyPI once (scikit-learn for
# the baseline goes into bench/.venv). Takes about 10 minutes on 2 cores.
# Test splits are only measured here; nothing is tuned on them.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/eval
mkdir -p "$out"

python3 data/public/prepare.py --out target/triage-data > "$out/prepare.txt"
python3 bench/baseline.py --prepare target/triage-data target/bench > /dev/null
cargo build --release -p switchboard-cli 2>&1 | tail -1
sb="${CARGO_TARGET_DIR:-target}/release/switchboard"

# The timings come first: this host (2 vCPUs in a VM) can run slower for
# a minute or so after minutes of full load (the BANKING77 model read 4.32
# µs a message right after a 20-minute cross-validation, 4.08 µs in the
# next run and 2.80 µs a minute later), and timed after the retrain and the
# evaluations below our side of the scikit-learn ratio read 4.3 and 4.4 µs
# in two runs. Timing first narrows that; it does not remove the host's
# spread (EVAL.md).
cargo bench -p switchboard-core --bench decisions --no-run 2>&1 | tail -1

# 1. Trainer quality on the standard benchmarks, ours and scikit-learn's.
#    2^16 buckets: on the held-out fifth of each train split (never the test
#    split), macro-F1 at 2^15..2^18 buckets was banking77 0.9008 / 0.8994 /
#    0.8975 / 0.8979 and clinc150 (2^16..2^18) 0.9334 / 0.9343 / 0.9340, so
#    the smaller table costs nothing measurable and fits the cache better.
for b in banking77 clinc150; do
  $sb train --quiet --bits 16 --data "target/bench/${b}_train.jsonl" \
    --test "target/bench/${b}_test.jsonl" --out "$out/$b.sbm" \
    --report "$out/${b}_ours.json" 2> "$out/${b}_ours.txt"
done
if [ ! -x bench/.venv/bin/python ]; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install -q -r bench/requirements.txt
fi
# Each scikit-learn timing pass is paired with a timing of ours on the same
# messages a moment later (`switchboard speed`); the speed ratio in EVAL.md
# is the median of the rounds' ratios, because the host drifts between
# runs minutes apart by more than the target's margin (bench/baseline.py).
bench/.venv/bin/python bench/baseline.py target/bench --ours "$sb" --models "$out" > "$out/baseline.json"

# 2. Speed and footprint: criterion, binary size, resident memory.
cargo bench -p switchboard-core --bench decisions -- triage 2>&1 | tee "$out/criterion.txt" | grep -E "^triage|time:" || true
python3 - "$sb" "$out" <<'PY'
import json, os, resource, subprocess, sys
sb, out = sys.argv[1], sys.argv[2]
lines = [json.loads(l)["text"] for l in open("target/triage-data/in_domain.jsonl")]
data = "\n".join(lines * 4) + "\n"
subprocess.run([sb, "triage"], input=data.encode(), stdout=subprocess.DEVNULL, check=True)
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
json.dump({"binary_bytes": os.path.getsize(sb), "max_rss_kib": rss,
           "messages": len(lines) * 4}, open(f"{out}/footprint.json", "w"))
PY

# 3. The default model is reproducible: retrain it and compare bytes.
#    Its training flags live in bench/default-model.flags (bench/cv.py reads
#    them too).
# shellcheck disable=SC2046  # the flags file is words on purpose
$sb train --quiet $(cat bench/default-model.flags) \
  --data target/triage-data/public.jsonl --data target/triage-data/in_domain.jsonl \
  --mapping data/mapping/public.toml \
  --out "$out/default.sbm" --report "$out/default_train.json" 2> "$out/default_train.txt"
if cmp -s "$out/default.sbm" crates/core/models/default.sbm; then echo identical > "$out/reproducible.txt"; else echo different > "$out/reproducible.txt"; fi

# 4. Escalation, intents, categories, languages: pooled public test splits
#    and, separately, the in-domain test split.
$sb eval --quiet --split test --data target/triage-data/public.jsonl \
  --mapping data/mapping/public.toml --format json --out "$out/public_test.json"
#    The pooled set's BANKING77 part once more, against a per-message
#    annotation under issue #3's definitions instead of the label-level
#    mapping (data/public/banking77/per_message/README.md).
python3 bench/public_per_message.py --json "$out/public_per_message.json" > /dev/null
$sb eval --quiet --split test --data target/triage-data/in_domain.jsonl \
  --mapping data/mapping/public.toml --format json --out "$out/in_domain_test.json"
$sb eval --quiet --split test --data target/triage-data/in_domain.jsonl \
  --mapping data/mapping/public.toml --format html --out "$out/in_domain_test.html"
#    Earlier versions' test messages, unchanged since, each subset comparable
#    with the EVAL.md runs of its time: v1 = the first version's 328 (ids up
#    to en-0788, hg-0777, hi-0791), v2 = the second's 781 (up to en-1751,
#    hg-1761, hi-1720; the third round added harder rows), v3 = the third's
#    1,032 (up to en-2349, hg-2398, hi-2319), v4 = the fourth's 1,248 (up to
#    en-2807, hg-2868, hi-2779), v5 = the fifth's 1,478 (up to en-3290,
#    hg-3351, hi-3259), v6 = the sixth's 1,647 (up to en-3723, hg-3785,
#    hi-3680), v7 = the seventh's 1,956 (up to en-4323, hg-4385, hi-4280),
#    v8 = the eighth's 2,302 (up to en-5123, hg-5185, hi-5080), v9 = the
#    ninth's 2,813 (up to en-6323, hg-6385, hi-5980), v10 = the tenth's
#    3,197 (up to en-7123, hg-7185, hi-6780), v11 = the eleventh's 3,628
#    (up to en-8324, hg-7885, hi-7781), v12 = the twelfth's 3,983 (up to
#    en-9124, hg-8685, hi-8581), v13 = the thirteenth's 4,357 (up to
#    en-9924, hg-9485, hi-9381), v14 = the fourteenth's 4,727 (up to
#    en-10999, hg-10185, hi-10081), v15 = the fifteenth's 5,073 (up to
#    en-11999, hg-10885, hi-10781), v16 = the sixteenth's 5,446 (up to
#    en-12999, hg-11585, hi-11481), v17 = the seventeenth's 5,772 (up to
#    en-13999, hg-12285, hi-12181), v18 = the eighteenth's 6,139 (up to
#    en-14999, hg-12985, hi-12881), v19 = the nineteenth's 6,477 (up to
#    en-15999, hg-13685, hi-13581), v20 = the twentieth's 6,844 (up to
#    en-16999, hg-14385, hi-14281), v21 = the twenty-first's 7,256 (up to
#    en-18399, hg-15085, hi-14981), v22 = the twenty-second's 7,707 (up to
#    en-19799, hg-15785, hi-15681).
for version in "v1 788 777 791" "v2 1751 1761 1720" "v3 2349 2398 2319" "v4 2807 2868 2779" "v5 3290 3351 3259" "v6 3723 3785 3680" "v7 4323 4385 4280" "v8 5123 5185 5080" "v9 6323 6385 5980" "v10 7123 7185 6780" "v11 8324 7885 7781" "v12 9124 8685 8581" "v13 9924 9485 9381" "v14 10999 10185 10081" "v15 11999 10885 10781" "v16 12999 11585 11481" "v17 13999 12285 12181" "v18 14999 12985 12881" "v19 15999 13685 13581" "v20 16999 14385 14281" "v21 18399 15085 14981" "v22 19799 15785 15681"; do
  set -- $version
  python3 - "$2" "$3" "$4" <<'PY' > "target/triage-data/in_domain_test_$1.jsonl"
import json, sys
last = dict(zip(("en", "hg", "hi"), map(int, sys.argv[1:4])))
for line in open("target/triage-data/in_domain.jsonl", encoding="utf-8"):
    r = json.loads(line)
    prefix, n = r["id"].split("-")
    if r.get("split") == "test" and int(n) <= last[prefix]:
        print(line, end="")
PY
  $sb eval --quiet --data "target/triage-data/in_domain_test_$1.jsonl" \
    --mapping data/mapping/public.toml --format json --out "$out/in_domain_test_$1.json"
done
$sb eval --quiet --data target/triage-data/language_test.jsonl \
  --mapping data/mapping/public.toml --format json --out "$out/language_test.json"
$sb eval --quiet --data target/triage-data/goemotions_test.jsonl \
  --mapping data/mapping/public.toml --format json --out "$out/goemotions_test.json"

python3 bench/make_eval.py "$out" > EVAL.md
echo "EVAL.md written"
