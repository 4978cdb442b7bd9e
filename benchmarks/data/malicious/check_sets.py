#!/usr/bin/env python3
"""Check the malicious-review evaluation sets (issue 17).

    python check_sets.py                # verify both files, print counts, exit 1 on any problem
    python check_sets.py --write-split  # recompute the split column in place, then verify

Split rule: sha1 of the text with ALL whitespace removed (Python ``re.sub(r"\\s+", "", text)``,
which also removes the ideographic space U+3000), UTF-8 encoded; first hex digit 0-7 -> test,
8-f -> dev.  Texts must be unique within a file after the same whitespace removal.
Standard library only.
"""
from __future__ import annotations

import hashlib
import math
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent

BUYER = {
    "file": "buyer_texts.tsv",
    "header": ["id", "channel", "text", "is_extortion", "kind", "hard_negative", "split", "note"],
    "label": "is_extortion",
    "hard": "hard_negative",
    "kinds": {"money_for_review", "threat_bad_review", "abuse", "competitor"},
}
SELLER = {
    "file": "seller_messages.tsv",
    "header": ["id", "text", "blocked", "kind", "hard_lawful", "split", "note"],
    "label": "blocked",
    "hard": "hard_lawful",
    "kinds": {"cash_for_review", "refund_for_review", "gift_for_review", "coupon_for_review",
              "pressure_no_benefit", "other"},
}

_WS = re.compile(r"\s+")


def squash(text: str) -> str:
    return _WS.sub("", text)


def split_of(text: str) -> str:
    digit = hashlib.sha1(squash(text).encode("utf-8")).hexdigest()[0]
    return "test" if digit in "01234567" else "dev"


def read(spec: dict) -> tuple[list[str], list[dict]]:
    path = HERE / spec["file"]
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    header = lines[0].split("\t")
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        rows.append({"_line": n, "_cells": cells, **dict(zip(header, cells))})
    return header, rows


def write_split(spec: dict) -> int:
    path = HERE / spec["file"]
    header, rows = read(spec)
    col = header.index("split")
    changed = 0
    out = ["\t".join(header)]
    for r in rows:
        cells = list(r["_cells"])
        want = split_of(r["text"])
        if cells[col] != want:
            cells[col] = want
            changed += 1
        out.append("\t".join(cells))
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return changed


def check(spec: dict, problems: list[str]) -> dict:
    name = spec["file"]
    header, rows = read(spec)

    def bad(row, msg):
        problems.append(f"{name}:{row['_line']}: {msg}")

    if header != spec["header"]:
        problems.append(f"{name}: header {header!r} != {spec['header']!r}")
        return {}
    label, hard = spec["label"], spec["hard"]
    seen_ids: dict[str, int] = {}
    seen_text: dict[str, int] = {}
    for r in rows:
        if len(r["_cells"]) != len(header):
            bad(r, f"{len(r['_cells'])} cells, expected {len(header)}")
            continue
        if not r["id"] or r["id"] in seen_ids:
            bad(r, f"id {r['id']!r} empty or repeated (first at line {seen_ids.get(r['id'])})")
        seen_ids.setdefault(r["id"], r["_line"])
        text = r["text"]
        if not text.strip() or text != text.strip():
            bad(r, "text empty or with leading/trailing whitespace")
        key = squash(text)
        if key in seen_text:
            bad(r, f"duplicate text (after whitespace removal) of line {seen_text[key]}")
        seen_text.setdefault(key, r["_line"])
        if "channel" in r and r["channel"] not in {"chat", "review"}:
            bad(r, f"channel {r['channel']!r}")
        if r[label] not in {"0", "1"}:
            bad(r, f"{label} {r[label]!r}")
        if r[hard] not in {"0", "1"}:
            bad(r, f"{hard} {r[hard]!r}")
        if r[label] == "1":
            if r["kind"] not in spec["kinds"]:
                bad(r, f"kind {r['kind']!r} not in {sorted(spec['kinds'])}")
            if r[hard] == "1":
                bad(r, f"{hard}=1 on a positive row")
        elif r["kind"]:
            bad(r, f"kind {r['kind']!r} on a {label}=0 row")
        want = split_of(text)
        if r["split"] != want:
            bad(r, f"split {r['split']!r}, rule gives {want!r}")

    pos = [r for r in rows if r[label] == "1"]
    neg = [r for r in rows if r[label] == "0"]
    hardn = [r for r in neg if r[hard] == "1"]
    stats = {
        "rows": len(rows), "pos": len(pos), "neg": len(neg), "hard": len(hardn),
        "kinds": Counter(r["kind"] for r in pos),
        "split": Counter((r["split"], r[label], r[hard]) for r in rows),
        "channel": Counter((r.get("channel", ""), r[label]) for r in rows),
    }
    if spec is BUYER:
        if len(rows) < 420:
            problems.append(f"{name}: {len(rows)} rows < 420")
        if len(hardn) < math.ceil(len(rows) / 3):
            problems.append(f"{name}: {len(hardn)} hard negatives < a third of {len(rows)}")
        share = len(pos) / max(len(rows), 1)
        if not 0.35 <= share <= 0.45:
            problems.append(f"{name}: positive share {share:.2f} outside 0.35-0.45")
        for k in spec["kinds"]:
            if stats["kinds"][k] < 15:
                problems.append(f"{name}: kind {k} has {stats['kinds'][k]} rows < 15")
    else:
        if len(rows) < 320:
            problems.append(f"{name}: {len(rows)} rows < 320")
        if len(pos) < 180:
            problems.append(f"{name}: {len(pos)} blocked < 180")
        if len(neg) < 120:
            problems.append(f"{name}: {len(neg)} lawful < 120")
        if len(hardn) < 70:
            problems.append(f"{name}: {len(hardn)} hard lawful < 70")
        for k in spec["kinds"]:
            if stats["kinds"][k] < 10:
                problems.append(f"{name}: kind {k} has {stats['kinds'][k]} rows < 10")
    return stats


def report(spec: dict, s: dict) -> None:
    label, hard = spec["label"], spec["hard"]
    print(f"== {spec['file']}: {s['rows']} rows; {label}=1: {s['pos']} "
          f"({s['pos'] / s['rows']:.1%}); {label}=0: {s['neg']} (of which {hard}=1: {s['hard']})")
    for k, v in sorted(s["kinds"].items()):
        print(f"   kind {k:<20} {v}")
    for sp in ("dev", "test"):
        p = sum(v for (a, l, h), v in s["split"].items() if a == sp and l == "1")
        hn = sum(v for (a, l, h), v in s["split"].items() if a == sp and l == "0" and h == "1")
        en = sum(v for (a, l, h), v in s["split"].items() if a == sp and l == "0" and h == "0")
        print(f"   split {sp:<5} {label}=1: {p:<4} hard {label}=0: {hn:<4} other {label}=0: {en:<4} total {p + hn + en}")
    if spec is BUYER:
        for (ch, l), v in sorted(s["channel"].items()):
            print(f"   channel {ch:<7} {label}={l}: {v}")


def main(argv: list[str]) -> int:
    if "--write-split" in argv:
        for spec in (BUYER, SELLER):
            print(f"{spec['file']}: {write_split(spec)} split values rewritten")
    problems: list[str] = []
    for spec in (BUYER, SELLER):
        stats = check(spec, problems)
        if stats:
            report(spec, stats)
    for p in problems:
        print("PROBLEM", p, file=sys.stderr)
    print("OK" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
