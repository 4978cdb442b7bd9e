#!/usr/bin/env python3
"""Check the second fresh held-out malicious-review sets (fresh2/, issue 17) and print their counts.

    python benchmarks/data/malicious/fresh2/check_fresh.py   # exit 1 on any problem

Copied from ``fresh/check_fresh.py`` and adapted: ids ``GB…``/``GS…``, sources ``helper2/…``,
and the earlier-set check also covers ``fresh/``.

These rows are TEST ONLY: never use them to tune thresholds, lexicons or models.

Checks: header; unique ``GB…``/``GS…`` ids; ``channel`` and 0/1 labels; ``kind`` set exactly
when the label is 1 and from the codebook's list; ``hard_*`` = 1 only on label-0 rows;
``split`` = ``test`` on every row; ``source`` from the documented values; the ``sha1`` column
equals sha1 of the UTF-8 text with all whitespace removed (Python ``re.sub(r"\\s+", "", text)``);
no duplicate text (after whitespace removal) within or across the two files; no text that is
also in the earlier sets (one folder up and ``../fresh/``; only hashes are compared); and the minimums
(buyer >= 320 rows with >= 40 % hard negatives; seller >= 320 rows with >= 120 hard lawful).
Standard library only.
"""
from __future__ import annotations

import hashlib
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
_WS = re.compile(r"\s+")

BUYER = {
    "file": "buyer_texts.tsv",
    "prefix": "GB",
    "header": ["id", "channel", "text", "is_extortion", "kind", "hard_negative", "split", "note",
               "source", "sha1"],
    "label": "is_extortion",
    "hard": "hard_negative",
    "kinds": ["money_for_review", "threat_bad_review", "abuse", "competitor"],
    "sources": {"helper2/written", "helper2/written+obfuscated"},
}
SELLER = {
    "file": "seller_messages.tsv",
    "prefix": "GS",
    "header": ["id", "text", "blocked", "kind", "hard_lawful", "split", "note", "source", "sha1"],
    "label": "blocked",
    "hard": "hard_lawful",
    "kinds": ["cash_for_review", "refund_for_review", "gift_for_review", "coupon_for_review",
              "pressure_no_benefit", "other"],
    "sources": {f"helper2/{form}{obf}"
                for form in ("chat", "review-reply", "sms", "card-insert", "follow-up", "template")
                for obf in ("", "+obfuscated")},
}


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
    header, rows = read(HERE / name)
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


def old_hashes() -> set[str]:
    hashes = set()
    for folder in (HERE.parent, HERE.parent / "fresh"):
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


def main() -> int:
    problems: list[str] = []
    buyer = check(BUYER, problems)
    seller = check(SELLER, problems)
    both = {text_sha1(r["text"]) for r in buyer} & {text_sha1(r["text"]) for r in seller}
    if both:
        problems.append(f"{len(both)} texts occur in both files")
    old = old_hashes()
    for name, rows in (("buyer", buyer), ("seller", seller)):
        seen = [r["id"] for r in rows if text_sha1(r.get("text", "")) in old]
        if seen:
            problems.append(f"{name}: rows also in the earlier sets: {seen}")
    if len(buyer) < 320 or sum(r["hard_negative"] == "1" for r in buyer) < 0.40 * len(buyer):
        problems.append("buyer: needs >= 320 rows and >= 40 % hard negatives")
    if len(seller) < 320 or sum(r["hard_lawful"] == "1" for r in seller) < 120:
        problems.append("seller: needs >= 320 rows and >= 120 hard lawful rows")
    if not problems:
        report(BUYER, buyer)
        report(SELLER, seller)
        print("ok")
        return 0
    for p in problems:
        print("PROBLEM:", p)
    return 1


if __name__ == "__main__":
    sys.exit(main())
