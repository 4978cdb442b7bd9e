"""P3 listing audit benchmark (issue 19): ``reviewops.prevention.listing_audit.audit_listings`` over a demo store.

Times the whole audit (read the listings, order lines, shipments, reviews and cases of the period, link them to the
listings, audit) and its two halves — reading (``load_audit_data``) and the pure audit (``audit_frame``) — median of
``--repeat`` runs in one process, the first (cold) run reported apart. Goal: the audit over the full demo ≤ 10 s on
this machine.

    python benchmarks/bench_listing_audit.py --db /tmp/demo.db --as-of 2026-11-20T18:00:00+08:00 --json benchmarks/results/listing_audit.json
    python benchmarks/bench_listing_audit.py --scale 0.3        # builds a scale-0.3 demo in a temporary folder first
    python benchmarks/bench_listing_audit.py --quick            # smoke run: a scale-0.02 demo, one run

Results go to stdout (Markdown) and optionally JSON; docs/prevention.md quotes them. ``--quick`` writes its JSON to a
temporary directory (``_quick.py``) and prints it as the last stdout line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _quick import print_result, quick_dir

UTC = dt.UTC
AS_OF = "2026-11-20T18:00:00+08:00"
GOAL_S = 10.0


def _demo(db: Path, scale: float, as_of: str) -> float:
    env = dict(os.environ, REVIEWOPS_DEMO_PASSWORD="demo-pass-123", XDG_DATA_HOME=str(db.parent / "xdg"),
               XDG_CONFIG_HOME=str(db.parent / "xdgc"))
    env.pop("REVIEWOPS_MULTI_USER", None)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "reviewops", "demo", "--scale", str(scale), "--db", str(db),
                    "--as-of", as_of, "--out", str(db.parent / "out")], check=True, env=env, capture_output=True,
                   timeout=1200)
    return time.perf_counter() - t


def bench(db: str, as_of: str | None, repeat: int) -> dict:
    import reviewops
    from reviewops.core.policy import load_policy
    from reviewops.core.store import utcnow
    from reviewops.prevention.listing_audit import (
        _as_utc,
        audit_frame,
        audit_listings,
        listing_settings,
        load_audit_data,
    )

    store = reviewops.Store.open(db)
    now = _as_utc(as_of, "as_of") or utcnow()
    st = listing_settings(load_policy(store))
    since = now - dt.timedelta(days=st.days)
    whole, load, audit = [], [], []
    out = None
    for _ in range(max(1, repeat)):
        t = time.perf_counter()
        out = audit_listings(store, now=now, settings=st)
        whole.append(time.perf_counter() - t)
        t = time.perf_counter()
        with store.read() as conn:
            ls, od, rv, source = load_audit_data(conn, since=since, until=now)
        load.append(time.perf_counter() - t)
        t = time.perf_counter()
        audit_frame(ls, od, rv, st, region_source=source)
        audit.append(time.perf_counter() - t)
    store.close()
    assert out is not None
    warm = whole[1:] or whole
    return {
        "days": st.days, "listings": out.attrs["listings"], "orders": out.attrs["orders"],
        "order_lines": out.attrs["order_lines"], "reviews": out.attrs["reviews"], "findings": len(out),
        "by_finding": {k: int(v) for k, v in out["finding"].value_counts().sort_index().items()},
        "region_source": out.attrs["region_source"],
        "audit_s_cold": round(whole[0], 3), "audit_s_median": round(statistics.median(warm), 3),
        "audit_s_runs": [round(x, 3) for x in whole], "load_s_median": round(statistics.median(load), 3),
        "frame_s_median": round(statistics.median(audit), 3), "goal_s": GOAL_S,
        "met": max(whole) <= GOAL_S,
    }


def _md(r: dict) -> str:
    a = r["audit"]
    return "\n".join([
        f"# listing audit ({r['when']}, scale {r.get('scale', '?')}, load {r['machine']['loadavg_start']:.2f})", "",
        "| listings | orders | order lines | reviews | findings | cold s | median s | read s | audit s | goal s | met |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        (f"| {a['listings']:,} | {a['orders']:,} | {a['order_lines']:,} | {a['reviews']:,} | {a['findings']:,} | "
        f"{a['audit_s_cold']} | {a['audit_s_median']} | {a['load_s_median']} | {a['frame_s_median']} | {a['goal_s']:g} | "
        f"{'yes' if a['met'] else 'no'} |"), "", f"findings by kind: {a['by_finding']}"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", help="an existing demo store (built with --as-of AS_OF)")
    ap.add_argument("--scale", type=float, default=1.0, help="without --db: build a demo at this scale first")
    ap.add_argument("--as-of", default=AS_OF, help="the demo's --as-of, the end of the audited period")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args(argv)
    result: dict = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                "loadavg_start": os.getloadavg()[0]},
                    "when": dt.datetime.now(UTC).isoformat(timespec="seconds")}
    if a.quick:
        with quick_dir("listing_audit") as d:
            db = d / "demo.db"
            result["scale"] = 0.02
            result["demo_s"] = round(_demo(db, 0.02, AS_OF), 1)
            result["audit"] = bench(str(db), AS_OF, 1)
            (d / "listing_audit.json").write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str),
                                                  encoding="utf-8")
        print_result(result)
        return 0
    if a.db:
        result["db"] = "given"
        result["audit"] = bench(a.db, a.as_of, a.repeat)
    else:
        with tempfile.TemporaryDirectory(prefix="reviewops-bench-listing-") as tmp:
            db = Path(tmp) / "demo.db"
            result["scale"] = a.scale
            result["demo_s"] = round(_demo(db, a.scale, a.as_of), 1)
            result["audit"] = bench(str(db), a.as_of, a.repeat)
    print(_md(result))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
