#!/usr/bin/env python3
"""Build the example replay corpus (data/replay/example.jsonl).

Usage:
    python3 data/replay/build.py <datasets dir> > data/replay/example.jsonl

<datasets dir> holds the public datasets as copied for the project
(twitter-customer-care/, banking77/, clinc150/, bitext-customer-support/,
hinglish-top/, each with its README and licence). Standard library only.
The output is the same byte for byte for the same inputs and seed; counts
go to stderr.

What it builds (see data/replay/README.md):
- every conversation of twitter-customer-care `dev.json` (never
  `test.json`, which is held out for measuring): customer turns inbound,
  agent turns outbound, the agent's closing answer included; no labels;
- single- and two-message conversations from the training splits of
  BANKING77, CLINC150 (with out-of-scope), Bitext and Hinglish-TOP, labelled
  through data/mapping/public.toml (the project's reviewed mapping);
- timestamps over two weeks from Monday 4 May 2026 (IST), mostly Indian
  business hours, deterministic from the seed;
- social-media handles removed (or "@user" mid-sentence), URLs "<url>",
  e-mail addresses "<email>", phone-like and long digit strings "<number>".
"""

import argparse
import csv
import datetime as dt
import hashlib
import html
import json
import os
import random
import re
import sys
import tomllib
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
MAPPING = os.path.join(HERE, "..", "mapping", "public.toml")

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
START = dt.datetime(2026, 5, 4, tzinfo=IST)  # a Monday
DAYS = 14

# Intents with 50 single-request conversations each (the replay's launch
# gate asks for at least 50 per top intent), and two that are rarer in an
# inbox. Greetings and thanks come as the first or last message of other
# conversations, the way customers write them on WhatsApp.
PER_INTENT = 50
TOP = ["product_info", "order_status", "pricing", "problem", "complaint", "refund",
       "cancellation", "security_fraud", "purchase", "human_agent", "booking",
       "payment", "out_of_scope"]
MINOR = {"availability": 25, "feedback": 25}
WITH_GREETING = 60
WITH_THANKS = 60
# CLINC150's acknowledgement labels that read as a customer's closing line
# ("no", "maybe" and "cancel" need the question they answer).
THANKS_LABELS = {"thank_you", "goodbye"}

# ------------------------------------------------------------------ scrubbing

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
URL = re.compile(
    r"https?:\s?//\S+|\bwww\.\S+|"
    r"\b(?:[a-z0-9-]+\.)+(?:com|net|org|io|co|in|uk|me|ly|gl|gg|tv|be|us|app|dev|info|biz|tt)"
    r"\b(?:/\S*)?",
    re.IGNORECASE,
)
LEADING_HANDLES = re.compile(r"^(?:\s*[@＠]\w+)+[:,]?\s*")
HANDLE = re.compile(r"(?<![\w<])[@＠]\w+")
# Ten or more digits in groups (a phone number in any spelling), or eight
# or more in a row (a landline, an account or order number), not glued to a
# word ("0x80070005" is an error code). Dates such as 2020-04-01 have eight
# digits in groups and stay.
PHONE = re.compile(r"(?<!\w)(?:\+?\(?\d(?:[\s.()-]{0,2}\d){9,}\)?|\d{8,})")


def scrub(text):
    """A message with nothing that identifies a person or leads elsewhere."""
    text = html.unescape(text).replace("\u00a0", " ")
    text = EMAIL.sub("<email>", text)
    text = URL.sub("<url>", text)
    text = LEADING_HANDLES.sub("", text)
    text = HANDLE.sub("@user", text)
    text = PHONE.sub("<number>", text)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return "\n".join(lines).strip()


# -------------------------------------------------------------------- mapping

def load_mapping():
    with open(MAPPING, "rb") as f:
        sources = tomllib.load(f)["sources"]

    def target(source, label):
        m = sources[source]
        while "same_as" in m:
            m = sources[m["same_as"]]
        t = m.get("labels", {}).get(label) or m.get("default")
        return t["intent"], list(t.get("escalation", []))

    return target


# ------------------------------------------------------------------- sources

def bucket(source, key):
    # Same split rule as data/public/prepare.py, so "train" means the same.
    h = hashlib.sha256(f"switchboard-public-v1:{source}:{key}".encode()).digest()
    return int.from_bytes(h[:8], "big") % 100


def labelled_rows(root):
    """(source, label, text, language) from training splits only."""
    with open(os.path.join(root, "banking77", "train.csv"), newline="") as f:
        for r in csv.DictReader(f):
            if bucket("banking77", r["text"]) < 90:  # prepare.py's train part
                yield "banking77", r["category"], r["text"], "en"
    with open(os.path.join(root, "clinc150", "data_full.json")) as f:
        d = json.load(f)
    for key in ("train", "oos_train"):
        for text, label in d[key]:
            yield "clinc150", label, text, "en"
    path = os.path.join(root, "bitext-customer-support",
                        "Bitext_Sample_Customer_Support_Training_Dataset.csv")
    seen = set()
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            text = r["instruction"]
            if text in seen or bucket("bitext", text) >= 70:
                continue
            seen.add(text)
            yield "bitext", r["intent"], text, "en"
    with open(os.path.join(root, "hinglish-top", "train.tsv"), newline="") as f:
        for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            label = r["cs_parse"].split()[0].removeprefix("[IN:")
            yield "hinglish_top", label, r["cs_query"], "hinglish"


def twitter(root):
    with open(os.path.join(root, "twitter-customer-care", "dev.json")) as f:
        return json.load(f)


# --------------------------------------------------------------------- times

def conversation_start(rng):
    """Mostly Mon-Sat 09:00-20:00 IST; some evenings, nights and Sundays."""
    r = rng.random()
    while True:
        day = START + dt.timedelta(days=rng.randrange(DAYS))
        sunday = day.weekday() == 6
        if r < 0.80:
            if sunday:
                continue
            minute = rng.randrange(9 * 60, 20 * 60)
        elif r < 0.92:
            if sunday:
                continue
            minute = rng.choice([rng.randrange(20 * 60, 24 * 60), rng.randrange(0, 9 * 60)])
        else:
            if not sunday:
                continue
            minute = rng.randrange(8 * 60, 22 * 60)
        return day + dt.timedelta(minutes=minute, seconds=rng.randrange(60))


def iso(t):
    return t.astimezone(IST).isoformat(timespec="seconds")


def parse_utc(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse_duration(text):
    h, m, s = text.split(":")
    return dt.timedelta(hours=int(h), minutes=int(m), seconds=float(s))


# Real gaps between tweets run from a second to twelve days; a chat that
# waits days is a new conversation, so gaps are kept but capped.
MIN_GAP = dt.timedelta(seconds=5)
MAX_GAP = dt.timedelta(hours=6)


def clamp(gap):
    return max(MIN_GAP, min(MAX_GAP, gap))


# ------------------------------------------------------------------- build

def build_twitter(convs, rng, stats):
    out = []
    pseudonyms = {}
    for conv in convs:
        header = conv["dialogHeader"]
        turns = conv["dialogContent"]
        first_client = next((t["client"] for t in turns if "client" in t), None)
        if first_client not in pseudonyms:
            pseudonyms[first_client] = f"twcc-customer-{len(pseudonyms) + 1:04d}"
        start = conversation_start(rng)
        t0 = parse_utc(turns[0]["datetime"])
        prev_real, at = t0, start
        messages = []
        for turn in turns:
            real = parse_utc(turn["datetime"])
            if messages:
                at = at + clamp(real - prev_real)
            prev_real = real
            text = scrub(turn["message"])
            if not text:
                stats["twitter messages empty after scrubbing"] += 1
                continue
            direction = "outbound" if "agent" in turn else "inbound"
            messages.append({"direction": direction, "at": iso(at), "text": text})
        # The agent's closing answer (the dataset's outcome turn) ends the
        # conversation at start + the recorded duration.
        end_real = parse_utc(header["conversationDateTime"]) + parse_duration(header["duration"])
        at = at + clamp(end_real - prev_real)
        closing = scrub(conv["agentURL"]["url_utterance"])
        messages.append({"direction": "outbound", "at": iso(at), "text": closing})
        if not any(m["direction"] == "inbound" for m in messages):
            stats["twitter conversations dropped (no customer text left)"] += 1
            continue
        first_reply = next(m["at"] for m in messages if m["direction"] == "outbound")
        out.append((start, {
            "id": f"twcc-dev-{header['sessionID']}",
            "contact": pseudonyms[first_client],
            "messages": messages,
            "outcome": {"disposition": "resolved", "first_response_at": first_reply,
                        "resolved_at": messages[-1]["at"]},
        }))
    return out


def round_robin(rng, rows, n, used):
    """n rows, spread evenly over sources and then over each source's labels."""
    by_source = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if row[2] not in used:
            by_source[row[0]][row[1]].append(row)
    for labels in by_source.values():
        for items in labels.values():
            rng.shuffle(items)
    picked = []
    sources = sorted(by_source)
    rng.shuffle(sources)
    label_order = {s: sorted(by_source[s]) for s in sources}
    for s in sources:
        rng.shuffle(label_order[s])
    position = dict.fromkeys(sources, 0)
    while len(picked) < n and any(by_source[s][l] for s in sources for l in label_order[s]):
        for s in sources:
            labels = [l for l in label_order[s] if by_source[s][l]]
            if not labels or len(picked) >= n:
                continue
            label = labels[position[s] % len(labels)]
            position[s] += 1
            row = by_source[s][label].pop()
            if row[2] in used:
                continue
            used.add(row[2])
            picked.append(row)
    return picked


def message(text, at, intent, reasons):
    expected = {"intent": intent, "escalate": bool(reasons)}
    if reasons:
        expected["escalation_reasons"] = reasons
    return {"direction": "inbound", "at": iso(at), "text": text, "expected": expected}


def build_labelled(root, target, rng, stats):
    pools = defaultdict(list)
    for source, label, text, language in labelled_rows(root):
        text = scrub(text)
        if not text:
            continue
        intent, reasons = target(source, label)
        pools[intent].append((source, label, text, tuple(reasons)))
    for intent in pools:
        pools[intent].sort()
    used = set()
    requests = []
    for intent in TOP:
        requests += round_robin(rng, pools[intent], PER_INTENT, used)
    for intent, n in sorted(MINOR.items()):
        requests += round_robin(rng, pools[intent], n, used)
    greetings = round_robin(rng, pools["greeting"], WITH_GREETING, used)
    thanks = round_robin(rng, [r for r in pools["acknowledgement"] if r[1] in THANKS_LABELS],
                         WITH_THANKS, used)
    order = list(range(len(requests)))
    rng.shuffle(order)
    greet_at = set(order[:WITH_GREETING])
    thank_at = set(order[WITH_GREETING:WITH_GREETING + WITH_THANKS])
    greetings_iter, thanks_iter = iter(greetings), iter(thanks)
    out = []
    counters = Counter()
    for i, (source, label, text, reasons) in enumerate(requests):
        counters[source] += 1
        start = conversation_start(rng)
        at = start
        messages = []
        if i in greet_at:
            g = next(greetings_iter)
            messages.append(message(g[2], at, *target(g[0], g[1])))
            at += dt.timedelta(seconds=rng.randrange(5, 90))
        intent, _ = target(source, label)
        messages.append(message(text, at, intent, list(reasons)))
        if i in thank_at:
            t = next(thanks_iter)
            at += dt.timedelta(seconds=rng.randrange(30, 1200))
            messages.append(message(t[2], at, *target(t[0], t[1])))
        out.append((start, {
            "id": f"{source.replace('_', '-')}-{counters[source]:04d}",
            "contact": f"{source.replace('_', '-')}-customer-{counters[source]:04d}",
            "messages": messages,
        }))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("datasets", help="folder with the public datasets")
    ap.add_argument("--seed", type=int, default=20260504)
    ap.add_argument("--without-twitter", action="store_true",
                    help="leave out the tweets (see the README's note on redistribution)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    stats = Counter()
    target = load_mapping()
    conversations = [] if args.without_twitter else build_twitter(twitter(args.datasets), rng, stats)
    conversations += build_labelled(args.datasets, target, rng, stats)
    conversations.sort(key=lambda c: (c[0], c[1]["id"]))

    sys.stdout.write(
        "// Example replay corpus built by data/replay/build.py from public datasets. Modified:"
        " text scrubbed, re-timed, grouped into conversations, labelled through"
        " data/mapping/public.toml. Sources, licences and attribution: data/replay/README.md;"
        " lines with ids bitext-* are under CDLA-Sharing-1.0.\n")
    by_source = Counter()
    messages = Counter()
    by_intent = Counter()
    escalating = Counter()
    for _, conv in conversations:
        source = conv["id"].rsplit("-", 1)[0]
        by_source[source] += 1
        messages[source] += len(conv["messages"])
        intents = {m["expected"]["intent"] for m in conv["messages"] if "expected" in m}
        for intent in intents:
            by_intent[intent] += 1
        for m in conv["messages"]:
            for reason in m.get("expected", {}).get("escalation_reasons", []):
                escalating[reason] += 1
        sys.stdout.write(json.dumps(conv, ensure_ascii=False) + "\n")

    err = sys.stderr
    print(f"conversations: {len(conversations)}, messages: {sum(messages.values())}", file=err)
    print("\nper source           conversations  messages", file=err)
    for source in sorted(by_source):
        print(f"  {source:18} {by_source[source]:13} {messages[source]:9}", file=err)
    print("\nconversations per expected intent", file=err)
    for intent, n in sorted(by_intent.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {intent:18} {n:5}", file=err)
    print("\nlabelled messages per escalation reason", file=err)
    for reason, n in sorted(escalating.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {reason:18} {n:5}", file=err)
    for what, n in sorted(stats.items()):
        print(f"\n{what}: {n}", file=err)


if __name__ == "__main__":
    main()
