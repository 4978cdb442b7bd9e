#!/usr/bin/env python3
"""Check the fresh held-out malicious-review sets (issue 17) and print their counts.

    python benchmarks/data/malicious/check_fresh.py            # every set below; exit 1 on any problem
    python benchmarks/data/malicious/check_fresh.py fresh2     # one set

One checker for every held-out set; each set's own rules (its id prefixes, the source tag of its
writer, the earlier sets it must not repeat, its minimum of hard lawful seller rows) are in
:data:`SETS`. A new set is one more entry there.

These rows are TEST ONLY: never use them to tune thresholds, lexicons or models.

Checks: header; unique ids with the set's prefixes; ``channel`` and 0/1 labels; ``kind`` set exactly
when the label is 1 and from the codebook's list; ``hard_*`` = 1 only on label-0 rows;
``split`` = ``test`` on every row; ``source`` from the set's documented values; the ``sha1`` column
equals sha1 of the UTF-8 text with all whitespace removed (Python ``re.sub(r"\\s+", "", text)``);
no duplicate text (after whitespace removal) within or across the two files; no text that is
also in an earlier set (only hashes are compared); and the minimums (buyer >= 320 rows with >= 40 %
hard negatives; seller >= 320 rows with the set's minimum of hard lawful rows).
Standard library only.
"""
from __future__ import annotations

import hashlib
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent  # benchmarks/data/malicious
_WS = re.compile(r"\s+")

#: Each held-out set: its folder, id prefixes (buyer, seller), its writer's source tag, the sets
#: written before it (folders; "." is the labelled set one level up), its minimum of hard lawful
#: seller rows.
SETS: dict[str, dict] = {
    "fresh": {"prefixes": ("FB", "FS"), "tag": "helper", "earlier": (".",), "min_hard_lawful": 100},
    "fresh2": {"prefixes": ("GB", "GS"), "tag": "helper2", "earlier": (".", "fresh"),
               "min_hard_lawful": 120},
    "fresh3": {"prefixes": ("HB", "HS"), "tag": "helper3", "earlier": (".", "fresh", "fresh2"),
               "min_hard_lawful": 120},
    "fresh4": {"prefixes": ("IB", "IS"), "tag": "helper4", "earlier": (".", "fresh", "fresh2", "fresh3"),
               "min_hard_lawful": 120},
}

BUYER_KINDS = ["money_for_review", "threat_bad_review", "abuse", "competitor"]
SELLER_KINDS = ["cash_for_review", "refund_for_review", "gift_for_review", "coupon_for_review",
                "pressure_no_benefit", "other"]
SELLER_FORMS = ("chat", "review-reply", "sms", "card-insert", "follow-up", "template")


def specs(name: str) -> tuple[dict, dict]:
    """The buyer and seller file rules of one set."""
    s = SETS[name]
    folder = HERE / name
    buyer = {
        "folder": folder, "file": "buyer_texts.tsv", "prefix": s["prefixes"][0],
        "header": ["id", "channel", "text", "is_extortion", "kind", "hard_negative", "split", "note",
                   "source", "sha1"],
        "label": "is_extortion", "hard": "hard_negative", "kinds": BUYER_KINDS,
        "sources": {f"{s['tag']}/written", f"{s['tag']}/written+obfuscated"},
    }
    seller = {
        "folder": folder, "file": "seller_messages.tsv", "prefix": s["prefixes"][1],
        "header": ["id", "text", "blocked", "kind", "hard_lawful", "split", "note", "source", "sha1"],
        "label": "blocked", "hard": "hard_lawful", "kinds": SELLER_KINDS,
        "sources": {f"{s['tag']}/{form}{obf}" for form in SELLER_FORMS for obf in ("", "+obfuscated")},
    }
    return buyer, seller


def text_sha1(text: str) -> str:
    return hashlib.sha1(_WS.sub("", text).encode("utf-8")).hexdigest()


def read(path: Path) -> tuple[list[str], list[dict]]:
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    header = lines[0].split("\t")
    rows = [{"_line": n, "_cells": line.split("\t"), **dict(zip(header, line.split("\t")))}
            for n, line in enumerate(lines[1:], start=2)]
    return header, rows


def check(spec: dict, problems: list[str]) -> list[dict]:
    name = spec["file"]
    header, rows = read(spec["folder"] / name)
    if header != spec["header"]:
        problems.append(f"{name}: header {header} != {spec['header']}")
        return rows
    ids = Counter(r["id"] for r in rows)
    for r in rows:
        where = f"{name} line {r['_line']}"
        if len(r["_cells"]) != len(header):
            problems.append(f"{where}: {len(r['_cells'])} cells, expected {len(header)}")
            continue
        if not re.fullmatch(spec["prefix"] + r"\d{4}", r["id"]) or ids[r["id"]] > 1:
            problems.append(f"{where}: bad or repeated id {r['id']!r}")
        if not r["text"].strip():
            problems.append(f"{where}: empty text")
        if "channel" in r and r["channel"] not in ("chat", "review"):
            problems.append(f"{where}: channel {r['channel']!r} is not chat/review")
        label, hard, kind = r[spec["label"]], r[spec["hard"]], r["kind"]
        if label not in ("0", "1") or hard not in ("0", "1"):
            problems.append(f"{where}: labels must be 0/1 ({label!r}, {hard!r})")
        if label == "1" and kind not in spec["kinds"]:
            problems.append(f"{where}: label 1 needs a kind from {spec['kinds']}, got {kind!r}")
        if label == "0" and kind:
            problems.append(f"{where}: label 0 must have an empty kind, got {kind!r}")
        if label == "1" and hard == "1":
            problems.append(f"{where}: {spec['hard']}=1 on a label-1 row")
        if r["split"] != "test":
            problems.append(f"{where}: split must be 'test' (held-out set), got {r['split']!r}")
        if r["source"] not in spec["sources"]:
            problems.append(f"{where}: unknown source {r['source']!r}")
        if r["sha1"] != text_sha1(r["text"]):
            problems.append(f"{where}: sha1 column does not match the text")
    dup = [h for h, n in Counter(text_sha1(r["text"]) for r in rows).items() if n > 1]
    if dup:
        problems.append(f"{name}: {len(dup)} duplicate texts after whitespace removal")
    return rows


def old_hashes(name: str) -> set[str]:
    hashes = set()
    for folder in (HERE / f for f in SETS[name]["earlier"]):
        for fname in ("buyer_texts.tsv", "seller_messages.tsv"):
            path = folder / fname
            if not path.exists():
                continue
            _header, rows = read(path)
            hashes |= {text_sha1(r["text"]) for r in rows if "text" in r}
    return hashes


def report(spec: dict, rows: list[dict]) -> None:
    label, hard = spec["label"], spec["hard"]
    pos = [r for r in rows if r[label] == "1"]
    neg = [r for r in rows if r[label] == "0"]
    n_hard = sum(r[hard] == "1" for r in neg)
    print(f"{spec['file']}: {len(rows)} rows, {label}=1: {len(pos)} ({len(pos) / len(rows):.1%}), "
          f"{label}=0: {len(neg)} ({hard}=1: {n_hard} = {n_hard / len(rows):.1%} of all rows; "
          f"plain: {len(neg) - n_hard})")
    kinds = Counter(r["kind"] for r in pos)
    print("  " + ", ".join(f"{k} {kinds[k]}" for k in spec["kinds"]))
    if "channel" in rows[0]:
        for ch in ("chat", "review"):
            sub = [r for r in rows if r["channel"] == ch]
            print(f"  {ch}: {len(sub)} rows, {sum(r[label] == '1' for r in sub)} positive, "
                  f"{sum(r[hard] == '1' for r in sub)} hard negative")
    sources = Counter(r["source"] for r in rows)
    print("  source: " + ", ".join(f"{s} {n}" for s, n in sorted(sources.items())))


def check_set(name: str) -> list[str]:
    """Check one set; print its counts when it is clean; return its problems."""
    problems: list[str] = []
    buyer_spec, seller_spec = specs(name)
    buyer = check(buyer_spec, problems)
    seller = check(seller_spec, problems)
    both = {text_sha1(r["text"]) for r in buyer} & {text_sha1(r["text"]) for r in seller}
    if both:
        problems.append(f"{len(both)} texts occur in both files")
    old = old_hashes(name)
    for who, rows in (("buyer", buyer), ("seller", seller)):
        seen = [r["id"] for r in rows if text_sha1(r.get("text", "")) in old]
        if seen:
            problems.append(f"{who}: rows also in the earlier sets: {seen}")
    if len(buyer) < 320 or sum(r.get("hard_negative") == "1" for r in buyer) < 0.40 * len(buyer):
        problems.append("buyer: needs >= 320 rows and >= 40 % hard negatives")
    need = SETS[name]["min_hard_lawful"]
    if len(seller) < 320 or sum(r.get("hard_lawful") == "1" for r in seller) < need:
        problems.append(f"seller: needs >= 320 rows and >= {need} hard lawful rows")
    print(f"== {name}")
    if not problems:
        report(buyer_spec, buyer)
        report(seller_spec, seller)
        print("ok")
    return [f"{name}: {p}" for p in problems]


def main(argv: list[str]) -> int:
    names = argv or [n for n in SETS if (HERE / n).is_dir()]
    unknown = [n for n in names if n not in SETS]
    if unknown:
        print(f"unknown set(s) {unknown}; known: {sorted(SETS)}")
        return 2
    problems = [p for n in names for p in check_set(n)]
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
