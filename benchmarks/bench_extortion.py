"""Speed of ``reviewops.extortion_scores`` (issue 17 goal: ≥ 50,000 texts/s). Not a timed test.

Inputs (all built here, nothing downloaded):

* ``unique``: N distinct texts — every row of benchmarks/data/malicious/buyer_texts.tsv (all development data
  now, both old splits; trigger-dense:
  extortion, hard negatives) mixed 1:3 with ordinary short reviews and questions, each made distinct by a
  suffix (" 单号N": a space, two characters and a number, no punctuation), so the per-call memo of identical texts never helps;
* ``realistic``: the same mix without the suffix (real review exports repeat short texts such as 好评, 不错).

Usage::

    python benchmarks/bench_extortion.py [--n 200000] [--json benchmarks/results/extortion.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDINARY = ["宝贝收到了，质量不错，跟图片一样", "物流很快，包装完好，好评", "尺码偏小，建议拍大一码", "客服态度很好，耐心解答",
            "颜色和图片有点色差，其他还行", "用了一周，效果一般般吧", "请问什么时候发货？", "能开发票吗", "性价比高，会回购的",
            "快递太慢了，等了一个星期", "东西坏了，怎么退货", "味道还可以，孩子爱吃"]


def texts(n: int, unique: bool) -> list[str]:
    path = HERE / "data" / "malicious" / "buyer_texts.tsv"
    base: list[str] = []
    if path.exists():
        with open(path, encoding="utf-8", newline="") as f:
            base = [r["text"] for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    pool = []
    for i, t in enumerate(base):
        pool.append(t)
        pool.extend(ORDINARY[(3 * i + j) % len(ORDINARY)] for j in range(3))
    pool = pool or ORDINARY
    out = [pool[i % len(pool)] for i in range(n)]
    if unique:
        out = [f"{t} 单号{i}" for i, t in enumerate(out)]
    return out


def run(n: int) -> dict:
    from reviewops import extortion_scores

    extortion_scores(["预热"])  # build the automaton once (functools.cache), as a long-running process would
    res = {}
    for name, unique in (("unique", True), ("realistic", False)):
        data = texts(n, unique)
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            df = extortion_scores(data, channel="chat")
            best = min(best, time.perf_counter() - t0)
        res[name] = {"texts": n, "seconds": round(best, 4), "texts_per_s": round(n / best), "flagged": int(df["is_extortion"].sum())}
        print(f"{name:<10} {n} texts in {best:.3f} s = {n / best:,.0f} texts/s ({res[name]['flagged']} flagged)")
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--quick", action="store_true",
                    help="smoke run (the test suite's): 5,000 texts, JSON to a temporary place, printed last")
    args = ap.parse_args(argv)
    if args.quick:
        sys.path.insert(0, str(HERE))
        from _quick import print_result, quick_dir

        res = run(5_000)
        with quick_dir("extortion") as tmp:
            (tmp / "extortion.json").write_text(json.dumps(res, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print_result(res)
        return 0
    res = run(args.n)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
