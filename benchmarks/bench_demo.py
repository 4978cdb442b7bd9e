"""Benchmark: the whole demo (``reviewops.demo.run_demo``: generate, import, triage, worked history,
aftermath) at one scale, wall and CPU time, and the wall time of each phase.

    python benchmarks/bench_demo.py            # full size (scale 1.0), one run
    python benchmarks/bench_demo.py --quick    # scale 0.02 (the test suite's cheap check)

Prints JSON: scale, as_of, wall_s, cpu_s (user + sys of this process), phases_s (wall per phase), cases,
worked, load_before / load_after (1-minute load average). The machine's cores may be shared: compare CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="scale 0.02")
    ap.add_argument("--scale", type=float, default=None)
    ap.add_argument("--as-of", default="2026-11-30T09:00")
    args = ap.parse_args(argv)
    scale = args.scale if args.scale is not None else (0.02 if args.quick else 1.0)
    os.environ.setdefault("REVIEWOPS_PII_KEY", "5e" * 8 + "0123456789abcdef" * 3)
    load_before = round(os.getloadavg()[0], 2)
    t_imp = time.perf_counter()
    from reviewops.demo import run_demo

    import_s = round(time.perf_counter() - t_imp, 1)
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        run = run_demo(str(Path(tmp) / "d.db"), scale=scale, as_of=args.as_of, password="bench-pass-1")
        out = {"scale": scale, "as_of": run.as_of.isoformat(), "wall_s": round(time.perf_counter() - t0, 1),
               "cpu_s": round(time.process_time() - c0, 1), "phases_s": run.timings,
               "import_reviewops_s": import_s, "cases": run.triage.created, "worked": run.history.get("cases", 0),
               "followups": run.history.get("followups", 0), "load_before": load_before,
               "load_after": round(os.getloadavg()[0], 2)}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
