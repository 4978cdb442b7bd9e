"""P2 risk scoring benchmark and lift table (issue 19): ``reviewops.prevention.risk``.

* **speed**: :func:`~reviewops.prevention.risk.score_frame` on synthetic orders and history events (numpy, seeded):
  N orders by a heavy-tailed buyer population over 150 days, each with the buyer's earlier orders, refunds (仅退款,
  returns), bad reviews, extortion signals and burst members as events. Timed with the column checks (the public
  call) and without (``checked=True``, what ``score_orders`` does), median of ``--repeat`` runs. Goal: 1,000,000
  orders ≤ 30 s on this machine.
* **store** (``--db``): ``score_orders`` end to end on a demo store (reading, burst detection, scoring).
* **lift** (``--db``, ``--lift``): of the orders that later got a bad review, what share the score flagged, and at
  what flag rate. The flag threshold is chosen on an EARLIER period (the highest capture with a flag rate ≤
  ``--max-flag-rate``; on a tie the higher threshold, fewer flags), then reported on a LATER period; weights are the policy's defaults, not tuned.

    python benchmarks/bench_risk.py --orders 1000000 --repeat 3 --json benchmarks/results/risk.json
    python benchmarks/bench_risk.py --db /tmp/demo.db --as-of 2026-11-20T18:00:00+08:00 --lift   # demo lift table
    python benchmarks/bench_risk.py --quick      # smoke run: 20,000 orders, a scale-0.02 demo, one run each

Results go to stdout (Markdown) and optionally JSON; docs/prevention.md quotes them. ``--quick`` writes its JSON to
a temporary directory (``_quick.py``) and prints it as the last stdout line.
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
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _quick import print_result, quick_dir

HERE = Path(__file__).resolve().parent
UTC = dt.UTC
T0 = pd.Timestamp("2026-06-01T00:00:00Z")
DAYS = 150


def synthetic(n_orders: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Orders (the last ``n_orders`` of the history are scored) and history events, deterministic for ``seed``."""
    rng = np.random.default_rng(seed)
    n_buyers = max(10, n_orders // 3)
    # heavy tail: a few buyers order often (Zipf-like weights), 2 % are risky (refund and complain more)
    weights = 1.0 / np.arange(1, n_buyers + 1) ** 0.8
    buyer = rng.choice(n_buyers, size=n_orders, p=weights / weights.sum())
    secs = np.sort(rng.uniform(0, DAYS * 86_400, size=n_orders))
    created = T0 + pd.to_timedelta(secs, unit="s")
    shop = (buyer % 4 + 1).astype(np.int64)
    risky = (buyer % 50) == 0
    keys = np.char.add("nick:", buyer.astype(str)).astype(object)
    orders = pd.DataFrame({"shop_id": shop, "order_id": np.char.add("28", np.arange(n_orders).astype(str)).astype(object),
                           "buyer": keys, "created_at": created})
    later = lambda mask, lo, hi: created[mask] + pd.to_timedelta(rng.uniform(lo, hi, size=int(mask.sum())), unit="D")
    p_ref = np.where(risky, 0.5, 0.08)
    ref = rng.random(n_orders) < p_ref
    nr = ref & (rng.random(n_orders) < np.where(risky, 0.6, 0.3))
    ret = ref & ~nr
    bad = rng.random(n_orders) < np.where(risky, 0.4, 0.04)
    mal = bad & risky & (rng.random(n_orders) < 0.3)
    burst = bad & (rng.random(n_orders) < 0.01)
    parts = [pd.DataFrame({"shop_id": shop, "buyer": keys, "kind": "order", "at": created})]
    for kind, mask, lo, hi in (("refund", ref, 1, 10), ("no_return", nr, 1, 10), ("return", ret, 1, 10),
                               ("bad_review", bad, 3, 20), ("malicious", mal, 3, 20), ("burst", burst, 4, 21)):
        parts.append(pd.DataFrame({"shop_id": shop[mask], "buyer": keys[mask], "kind": kind,
                                   "at": later(mask, lo, hi)}))
    events = pd.concat(parts, ignore_index=True)
    return orders, events


def bench_speed(n: int, repeat: int) -> dict:
    from reviewops.prevention.risk import (
        EVENT_COLUMNS,
        ORDER_COLUMNS,
        check_frame,
        risk_settings,
        score_frame,
    )

    t = time.perf_counter()
    orders, events = synthetic(n)
    gen_s = time.perf_counter() - t
    st = risk_settings()
    checked, unchecked = [], []
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = score_frame(orders, events, st)
        checked.append(time.perf_counter() - t)
    o2, e2 = check_frame(orders, ORDER_COLUMNS, "orders"), check_frame(events, EVENT_COLUMNS, "events")
    for _ in range(repeat):
        t = time.perf_counter()
        score_frame(o2, e2, st, checked=True)
        unchecked.append(time.perf_counter() - t)
    assert out is not None and len(out) == n
    return {"orders": n, "events": len(events), "generate_s": round(gen_s, 2),
            "score_s_median": round(statistics.median(checked), 2), "score_s_runs": [round(x, 2) for x in checked],
            "score_unchecked_s_median": round(statistics.median(unchecked), 2),
            "flag_rate": round(float(out["flagged"].mean()), 4), "goal_s": 30.0,
            "met": statistics.median(checked) <= 30.0}


def bench_store(db: str, as_of: str | None) -> dict:
    import reviewops
    from reviewops.prevention.risk import score_orders

    store = reviewops.Store.open(db)
    t = time.perf_counter()
    df = score_orders(store, now=as_of)
    all_s = time.perf_counter() - t
    t = time.perf_counter()
    df2 = score_orders(store, now=as_of, bursts=False)
    noburst_s = time.perf_counter() - t
    store.close()
    return {"orders": len(df), "flagged": int(df["flagged"].sum()), "score_orders_s": round(all_s, 2),
            "score_orders_no_bursts_s": round(noburst_s, 2), "flagged_no_bursts": int(df2["flagged"].sum())}


THRESHOLDS = (0.2, 0.3, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8)


#: the settings tried on the earlier period: the 差评 rule's ratio to the shop's bad-review share (None = any bad
#: review counts, the policy's default) × the flag thresholds
GRID_BAD_RATIO = (None, 2.0, 3.0, 5.0)


def lift(db: str, as_of: str | None, max_flag_rate: float, review_lag_days: int) -> dict:
    """Score every order once per setting (history strictly before each), label each with 'got a bad review later',
    choose the setting and threshold on the earlier period (highest capture at a flag rate ≤ max_flag_rate; on a
    tie the higher threshold) and report the later period with that choice, untouched."""
    import reviewops
    import sqlalchemy as sa
    from reviewops.core.policy import load_policy
    from reviewops.core.store import cases, reviews, utcnow
    from reviewops.prevention.risk import (
        _as_utc,
        lift_table,
        load_history,
        risk_settings,
        score_frame,
    )

    store = reviewops.Store.open(db)
    now = _as_utc(as_of, "as_of") or utcnow()
    base = risk_settings(load_policy(store))
    with store.read() as conn:
        od, ev = load_history(conn, now=now)
        bad = pd.DataFrame(conn.execute(
            sa.select(reviews.c.shop_id, reviews.c.order_id)
            .select_from(reviews.outerjoin(cases, cases.c.review_pk == reviews.c.id))
            .where(sa.or_(cases.c.id.is_not(None), reviews.c.rating_class == "negative"),
                   reviews.c.order_id.is_not(None))).all(), columns=["shop_id", "order_id"]).drop_duplicates()
    store.close()
    bad["bad"] = True
    bad["order_id"] = bad["order_id"].astype(str)
    last = od["created_at"].max()
    end = (last - pd.Timedelta(days=review_lag_days)).normalize()  # reviews of later orders may not be written yet
    mid = end - pd.Timedelta(days=30)
    start = mid - pd.Timedelta(days=30)
    first = od["created_at"].min()
    start = max(start, first + pd.Timedelta(days=30))
    pick = (od["created_at"] >= start) & (od["created_at"] < end)
    target = od[pick].reset_index(drop=True)

    def scored(ratio: float | None) -> pd.DataFrame:
        rules = tuple({**r, "min_ratio": ratio} if r["code"] == "bad_review" else r for r in base.rules)
        s = score_frame(target, ev, risk_settings(None, **{**base.__dict__, "rules": rules}), checked=True)
        m = s.merge(bad, on=["shop_id", "order_id"], how="left")
        m["bad"] = m["bad"].fillna(False).astype(bool)
        return m

    grid = []
    frames = {}
    for ratio in GRID_BAD_RATIO:
        m = frames[ratio] = scored(ratio)
        e = m[m["created_at"] < mid]
        t = lift_table(e["score"], e["bad"], THRESHOLDS).assign(bad_review_ratio=ratio)
        grid.append(t)
    g = pd.concat(grid, ignore_index=True)
    ok = g[(g["flag_rate"] <= max_flag_rate) & (g["flagged"] > 0)]
    best = ok.sort_values(["capture", "lift", "threshold"], ascending=[False, False, False]).iloc[0] if len(ok) \
        else g.iloc[-1]
    chosen, ratio = float(best["threshold"]), best["bad_review_ratio"]
    ratio = None if ratio is None or pd.isna(ratio) else float(ratio)
    m = frames[ratio]
    early, late = m[m["created_at"] < mid], m[m["created_at"] >= mid]
    t_early = lift_table(early["score"], early["bad"], THRESHOLDS)
    t_late = lift_table(late["score"], late["bad"], THRESHOLDS)
    d = frames[None]
    d_late = d[d["created_at"] >= mid]
    fl = late[late["score"] >= chosen - 1e-12]
    by_reason = {}
    for code in ("refund_rate", "no_return", "returns", "serial", "bad_review", "malicious", "burst"):
        has = fl["reason_codes"].str.split(";").map(lambda xs, c=code: c in xs)
        by_reason[code] = {"flagged": int(has.sum()), "bad": int((has & fl["bad"]).sum())}

    def fmt(t: pd.DataFrame) -> list[dict]:
        return [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in t.to_dict("records")]

    return {"periods": {"history_from": str(first.date()), "earlier": [str(start.date()), str(mid.date())],
                        "later": [str(mid.date()), str(end.date())], "review_lag_days": review_lag_days},
            "max_flag_rate": max_flag_rate, "chosen_threshold": chosen, "chosen_bad_review_ratio": ratio,
            "grid_earlier": fmt(g), "earlier": fmt(t_early), "later": fmt(t_late),
            "later_at_chosen": fmt(t_late[t_late["threshold"] == chosen]),
            "later_policy_default": fmt(lift_table(d_late["score"], d_late["bad"], THRESHOLDS)),
            "later_by_reason_at_chosen": by_reason}


def _md_lift(rows: list[dict]) -> str:
    out = ["| 门槛 threshold | 订单 | 提示 | 提示率 | 差评订单 | 其中被提示 | 覆盖率 capture | 精确率 | 提升 lift |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['threshold']:g} | {r['orders']:,} | {r['flagged']:,} | {r['flag_rate']:.1%} | "
                   f"{r['bad_orders']:,} | {r['bad_flagged']:,} | {r['capture']:.1%} | {r['precision']:.1%} | "
                   f"{r['lift']:.1f}× |")
    return "\n".join(out)


def _demo(db: Path, scale: float, as_of: str) -> None:
    env = dict(os.environ, REVIEWOPS_DEMO_PASSWORD="demo-pass-123", XDG_DATA_HOME=str(db.parent / "xdg"),
               XDG_CONFIG_HOME=str(db.parent / "xdgc"))
    env.pop("REVIEWOPS_MULTI_USER", None)
    subprocess.run([sys.executable, "-m", "reviewops", "demo", "--scale", str(scale), "--db", str(db),
                    "--as-of", as_of, "--out", str(db.parent / "out")], check=True, env=env, capture_output=True,
                   timeout=600)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--db", help="a demo store for the end-to-end time and the lift table")
    ap.add_argument("--as-of", default=None, help="the demo's --as-of (the scoring time); default now")
    ap.add_argument("--lift", action="store_true", help="the lift table on --db")
    ap.add_argument("--max-flag-rate", type=float, default=0.05)
    ap.add_argument("--review-lag-days", type=int, default=15)
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args(argv)
    result: dict = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                "loadavg_start": os.getloadavg()[0]},
                    "when": dt.datetime.now(UTC).isoformat(timespec="seconds")}
    if a.quick:
        with quick_dir("risk") as d:
            result["speed"] = bench_speed(20_000, 1)
            as_of = "2026-11-20T18:00:00+08:00"
            db = d / "demo.db"
            _demo(db, 0.02, as_of)
            result["store"] = bench_store(str(db), as_of)
            result["lift"] = lift(str(db), as_of, a.max_flag_rate, a.review_lag_days)
            (d / "risk.json").write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        print_result(result)
        return 0
    if not a.no_speed:
        result["speed"] = bench_speed(a.orders, a.repeat)
        s = result["speed"]
        print(f"score_frame: {s['orders']:,} orders, {s['events']:,} events: median {s['score_s_median']} s "
              f"(without column checks {s['score_unchecked_s_median']} s), goal ≤ 30 s: {'met' if s['met'] else 'NOT met'}")
    if a.db:
        result["store"] = bench_store(a.db, a.as_of)
        print(f"score_orders on {a.db}: {result['store']}")
        if a.lift:
            result["lift"] = lf = lift(a.db, a.as_of, a.max_flag_rate, a.review_lag_days)
            print(f"\nperiods: {lf['periods']}; chosen on the earlier period (flag rate ≤ {a.max_flag_rate:.0%}): "
                  f"threshold {lf['chosen_threshold']:g}, 差评 ratio {lf['chosen_bad_review_ratio']}")
            print("\nearlier period:\n" + _md_lift(lf["earlier"]))
            print("\nlater period:\n" + _md_lift(lf["later"]))
            print("\nlater period, the policy's default rules:\n" + _md_lift(lf["later_policy_default"]))
            print("\nlater period, reasons of flagged orders at the chosen threshold:", lf["later_by_reason_at_chosen"])
    result["loadavg_end"] = os.getloadavg()[0]
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
