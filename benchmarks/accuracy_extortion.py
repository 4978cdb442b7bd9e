"""Accuracy of the extortion detector and the compliance guard (issue 17; results: docs/accuracy.md).

Data: ``benchmarks/data/malicious/buyer_texts.tsv`` and ``seller_messages.tsv`` — hand-written, labelled
independently of the detector (see that folder's README.md). Each row has a ``split`` column dev/test (by sha1
of the whitespace-free text), but **every row is development data now**: the old ``test`` rows were scored
once (docs/accuracy.md, commit ``be9d49a``), then their errors were read and used to tune the rules, so they
are no longer a test set. ``--split dev`` reads all rows of both files; ``--split old-dev`` / ``old-test``
read one old half (for comparison with the figures reported before). The held-out set is
``benchmarks/data/malicious/fresh/buyer_texts.tsv`` and ``fresh/seller_messages.tsv`` (same columns; written
by someone else) was scored once at the end of round 1 and has been development data since (round 2):
``--split fresh`` reads it, ``--split all`` reads dev + fresh (every row seen). The second held-out set is
``benchmarks/data/malicious/fresh2/`` (same files and columns, written by someone else while round 2 was done and
never opened by it) was scored once on 2026-12-07 and has been development data since (it chose the
settings of the extortion model, ``train_extortion_model.py``); ``--split all`` reads every seen row. The
third held-out set is ``benchmarks/data/malicious/fresh3/`` (written 2026-12-08 by a helper who saw neither
the detector nor any earlier row): ``--split fresh3`` scores it, once, by the coordinator, after the rules and
the model were frozen; ``--rules-only`` adds the rules' figures alone beside the default detector's (and, since
the guard has a model too, the guard's rules alone). fresh3 then chose the guard model's settings
(``train_guard_model.py``) and is seen; the fourth held-out set ``fresh4/`` (written 2026-12-08 by a fourth
helper) is scored once, by the coordinator, after both models were frozen.

* Buyer texts: ``reviewops.extortion_scores(texts, channel=row channel)``; positive = ``is_extortion``.
  Precision, recall, F1, per kind (recall of the rows of that kind; a flagged row counts whatever kind the
  detector named) and the false-positive rate on hard / easy negatives.
* Seller messages: ``reviewops.check_message(text, platform="taobao")`` blocks when it reports a
  conditional-incentive problem (the length check never fires on these short texts). Block rate per
  blocked kind, false-block rate on lawful messages (hard / plain).

Protocol: the lexicon is tuned on ``dev`` (all old rows) and on probe sentences written for the tests.
``--show-errors`` lists misreadings and refuses on ``fresh4``. The ``fresh4`` figures are computed by the
coordinator once, after the lexicon, the rules and both models are frozen.

Usage::

    python benchmarks/accuracy_extortion.py --split dev [--show-errors]
    python benchmarks/accuracy_extortion.py --split all [--show-errors]
    python benchmarks/accuracy_extortion.py --split fresh4 --rules-only --json benchmarks/results/accuracy_extortion_fresh4.json
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "malicious"


FRESH = DATA / "fresh"
FRESH2 = DATA / "fresh2"
FRESH3 = DATA / "fresh3"
FRESH4 = DATA / "fresh4"
#: --split name → [(folder, rows kept by the old split column or None for every row)]
SPLITS = {"dev": [(DATA, None)], "old-dev": [(DATA, "dev")], "old-test": [(DATA, "test")],
          "fresh": [(FRESH, None)], "all": [(DATA, None), (FRESH, None), (FRESH2, None)], "fresh2": [(FRESH2, None)],
          "fresh3": [(FRESH3, None)], "fresh4": [(FRESH4, None)]}
#: splits still held out: scored once by the coordinator, never with --show-errors
HELD_OUT = ("fresh4",)


def load(name: str, split: str) -> list[dict[str, str]]:
    """The rows of ``name`` for ``split`` (dev = every row of the old files; fresh = the first held-out set, seen
    since it was scored; all = dev + fresh + fresh2; fresh3 = the third, seen since; fresh4 = the fourth)."""
    out: list[dict[str, str]] = []
    for folder, keep in SPLITS[split]:
        path = folder / name
        if not path.exists():
            raise SystemExit(f"评测集不存在：{path} / no such evaluation file: {path}"
                             + ("; the held-out set is written by someone else — wait for it"
                                if split in HELD_OUT else ""))
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        out.extend(r for r in rows if keep is None or r.get("split") == keep)
    return out


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def buyer_figures(split: str, show_errors: bool = False, rules_only: bool = False) -> dict:
    from reviewops import extortion_scores

    rows = load("buyer_texts.tsv", split)
    flagged: list[bool] = [False] * len(rows)
    kinds: list[str] = [""] * len(rows)
    reasons: list[str] = [""] * len(rows)
    for channel in ("chat", "review"):
        idx = [i for i, r in enumerate(rows) if r["channel"] == channel]
        if not idx:
            continue
        df = extortion_scores([rows[i]["text"] for i in idx], channel=channel,
                              **({"model": None} if rules_only else {}))
        for i, f, k, why in zip(idx, df["is_extortion"], df["kind"], df["reasons"]):
            flagged[i], kinds[i], reasons[i] = bool(f), k, why
    tp = sum(1 for r, f in zip(rows, flagged) if f and r["is_extortion"] == "1")
    fp = sum(1 for r, f in zip(rows, flagged) if f and r["is_extortion"] == "0")
    fn = sum(1 for r, f in zip(rows, flagged) if not f and r["is_extortion"] == "1")
    p, rc = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    out: dict = {"rows": len(rows), "positives": tp + fn, "tp": tp, "fp": fp, "fn": fn, "precision": p,
                 "recall": rc, "f1": round(2 * p * rc / (p + rc), 4) if p and rc else None, "per_kind": {}}
    for kind in ("money_for_review", "threat_bad_review", "abuse", "competitor"):
        sel = [(f, k) for r, f, k in zip(rows, flagged, kinds) if r["kind"] == kind]
        out["per_kind"][kind] = {"n": len(sel), "recall": _ratio(sum(f for f, _ in sel), len(sel)),
                                 "kind_right": _ratio(sum(k == kind for _, k in sel), len(sel))}
    for name, hard in (("hard_negatives", "1"), ("easy_negatives", "0")):
        sel = [f for r, f in zip(rows, flagged) if r["is_extortion"] == "0" and r["hard_negative"] == hard]
        out[name] = {"n": len(sel), "false_positive_rate": _ratio(sum(sel), len(sel))}
    if show_errors:
        if split in HELD_OUT:
            raise SystemExit(f"--show-errors is not allowed on the held-out set {split}")
        for r, f, k, why in zip(rows, flagged, kinds, reasons):
            if f != (r["is_extortion"] == "1"):
                print(f"  {'FP' if f else 'FN'} [{r['kind'] or '-'}] {r['text']}  →  {why}")
    return out


def rules_only_policy() -> object:
    """The default policy with the guard's model off (compliance_model_pass 0, compliance_model_block 1)."""
    from reviewops.core.policy import Policy, default_policy

    data = json.loads(default_policy().to_json())
    for r in data["tables"]["settings"]:
        if r["key"] in ("compliance_model_pass", "compliance_model_block"):
            r["value"] = "0" if r["key"] == "compliance_model_pass" else "1"
    return Policy.from_json(json.dumps(data, ensure_ascii=False), source="rules only")


def seller_figures(split: str, show_errors: bool = False, rules_only: bool = False) -> dict:
    from reviewops import check_message

    rows = load("seller_messages.tsv", split)
    policy = rules_only_policy() if rules_only else None
    blocked = []
    probs = []
    for r in rows:
        pr = [p for p in check_message(r["text"], platform="taobao", policy=policy) if "SPEC Compliance" in p]
        blocked.append(bool(pr))
        probs.append(pr)
    out: dict = {"rows": len(rows), "per_kind": {}}
    pos = [b for r, b in zip(rows, blocked) if r["blocked"] == "1"]
    neg = [b for r, b in zip(rows, blocked) if r["blocked"] == "0"]
    out["blocked_n"], out["block_rate"] = len(pos), _ratio(sum(pos), len(pos))
    out["lawful_n"], out["false_block_rate"] = len(neg), _ratio(sum(neg), len(neg))
    for kind in ("cash_for_review", "refund_for_review", "gift_for_review", "coupon_for_review",
                 "pressure_no_benefit", "other"):
        sel = [b for r, b in zip(rows, blocked) if r["kind"] == kind]
        out["per_kind"][kind] = {"n": len(sel), "block_rate": _ratio(sum(sel), len(sel))}
    for name, hard in (("hard_lawful", "1"), ("plain_lawful", "0")):
        sel = [b for r, b in zip(rows, blocked) if r["blocked"] == "0" and r["hard_lawful"] == hard]
        out[name] = {"n": len(sel), "false_block_rate": _ratio(sum(sel), len(sel))}
    if show_errors:
        if split in HELD_OUT:
            raise SystemExit(f"--show-errors is not allowed on the held-out set {split}")
        for r, b, pr in zip(rows, blocked, probs):
            if b != (r["blocked"] == "1"):
                print(f"  {'FALSE-BLOCK' if b else 'MISSED'} [{r['kind'] or '-'}] {r['text']}  →  "
                      f"{pr[0].split(' / ')[0] if pr else ''}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=tuple(SPLITS), default="dev",
                    help="dev = all rows of the old files (both old halves, all seen); old-dev / old-test = one old "
                         "half; fresh, fresh2, fresh3 = earlier held-out sets (scored once, seen since); all = dev + fresh + "
                         "fresh2 (all seen); fresh4 = the fourth held-out set (scored once by the coordinator)")
    ap.add_argument("--show-errors", action="store_true", help="list misreadings (not on fresh4)")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON")
    ap.add_argument("--rules-only", action="store_true",
                    help="also score the buyer texts with the rules alone (extortion_scores(model=None)), for comparison")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run (the test suite's): the dev rows, JSON to a temporary place, printed last")
    args = ap.parse_args(argv)
    if args.show_errors and args.split in HELD_OUT:
        raise SystemExit(f"--show-errors is not allowed on the held-out set {args.split}")
    if args.quick:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _quick import print_result, quick_dir

        if args.split != "dev" or args.show_errors:
            raise SystemExit("--quick reads the dev split only")
        with quick_dir("accuracy_extortion") as tmp:
            figures = {"split": "dev", "buyer": buyer_figures("dev", False), "seller": seller_figures("dev", False)}
            (tmp / "accuracy_extortion.json").write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n",
                                                          encoding="utf-8")
        print_result({"split": "dev", "precision": figures["buyer"]["precision"],
                      "recall": figures["buyer"]["recall"], "block_rate": figures["seller"]["block_rate"],
                      "false_block_rate": figures["seller"]["false_block_rate"]})
        return 0
    figures = {"split": args.split, "buyer": buyer_figures(args.split, args.show_errors),
               "seller": seller_figures(args.split, args.show_errors)}
    if args.rules_only:
        figures["buyer_rules_only"] = r = buyer_figures(args.split, False, rules_only=True)
        print(f"[{args.split}] rules alone: precision {r['precision']}  recall {r['recall']}  "
              f"(tp {r['tp']} fp {r['fp']} fn {r['fn']} of {r['rows']})")
        figures["seller_rules_only"] = g = seller_figures(args.split, False, rules_only=True)
        print(f"[{args.split}] guard rules alone: blocked {g['block_rate']} of {g['blocked_n']}, false blocks "
              f"{g['false_block_rate']} of {g['lawful_n']} lawful")
    b, s = figures["buyer"], figures["seller"]
    print(f"[{args.split}] extortion_scores: precision {b['precision']}  recall {b['recall']}  "
          f"(tp {b['tp']} fp {b['fp']} fn {b['fn']} of {b['rows']})")
    for k, v in b["per_kind"].items():
        print(f"    {k:<18} n={v['n']:<3} recall {v['recall']}  kind right {v['kind_right']}")
    print(f"    hard negatives FP rate {b['hard_negatives']['false_positive_rate']} (n={b['hard_negatives']['n']}), "
          f"easy {b['easy_negatives']['false_positive_rate']} (n={b['easy_negatives']['n']})")
    print(f"[{args.split}] compliance guard: blocked {s['block_rate']} of {s['blocked_n']}, false blocks "
          f"{s['false_block_rate']} of {s['lawful_n']} lawful")
    for k, v in s["per_kind"].items():
        print(f"    {k:<20} n={v['n']:<3} blocked {v['block_rate']}")
    print(f"    hard lawful false-block {s['hard_lawful']['false_block_rate']} (n={s['hard_lawful']['n']}), "
          f"plain {s['plain_lawful']['false_block_rate']} (n={s['plain_lawful']['n']})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
