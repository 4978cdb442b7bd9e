"""Many seats on one store (issue 21 §2): 100 agents work cases through the ``Workbench`` API while the watcher
takes 200 reviews/s by signed pushes.

What runs where (one machine, loopback only; see docs/deploy.md for the real layout):

* **the store** — a brand-new database on the PostgreSQL server of ``--db`` (default ``$REVIEWOPS_TEST_PG_URL``),
  dropped afterwards (:func:`bench_watch.scratch_db`); without either, a temp SQLite file (quick mode only);
* **the watcher(s)** — ``--watchers`` (default 1) :class:`reviewops.alerting.watch.Watcher` processes
  (:class:`bench_watch.WatcherProcess`) sharing the store's one alert ledger, each with its own push port; the
  pushes alternate between them. Alerts go to the Feishu stand-in of ``bench_watch`` (signature checked, every
  message's 提醒编号 recorded; the per-robot rate limit is lifted in the watcher so that every alert is one message);
* **the agents** — ``--agents`` users of role ``agent`` (each sees ``--shops-per-agent`` of the ``--shops`` shops,
  so about ``agents × shops-per-agent / shops`` agents share each shop and its queue), spread over ``--procs``
  processes as threads. Each agent has its own :class:`~reviewops.core.store.Store` (its own engine and
  connection, as each workbench kernel has) and its own :class:`~reviewops.handling.workbench.Workbench`, and
  loops: ``queue(limit=--queue-limit)`` (200, as the queue form) → pick one of the first ``--pick-top`` cases → ``case(id)`` → think → one save with the
  version it saw (``save_reply`` / ``record_contact`` / ``take``) → think. A refused save
  (:class:`~reviewops.core.errors.ConflictError`) is counted; the agent reopens the case and tries once more.
  Think time is uniform in [0.5, 1.5] × ``--think`` seconds;
* **the review stream** — this process: ``--rate`` reviews/s (1 in ``--negative-every`` a 差评) as events of
  ``--per-event`` reviews for the agents' shops in turn, on a fixed schedule, for the length of the run.

Before the run the shops get a backlog of ``--seed-per-shop`` negative reviews each (pushed, so their alerts count).

**Checks after the run** (the benchmark fails — exit 1 — when one does not hold):

* *lost updates*: every acknowledged save (case, new version, field, value, agent) is the ``case_events`` row of
  that case and version, by that agent, with that value; no two acknowledgements name the same case version; the
  case's final ``reply_text`` / ``last_contact_note`` is the value of the newest acknowledged save of that field;
  no refused save's value is in the store (each saved value is unique);
* *alerts*: every ``new_case`` alert of every case the run opened reached the stand-in, and no 提醒编号 arrived
  twice (duplicates of any kind are counted).

Goals (issue 21): case save p95 ≤ 200 ms, queue p95 ≤ 300 ms, 0 lost updates, 0 duplicated alerts.

    python benchmarks/bench_load.py [--db postgresql+psycopg://USER:PW@HOST:PORT/DB] [--seconds 180] [--watchers 2]
    python benchmarks/bench_load.py --quick      # smoke run: 6 agents, 15 s, 20 reviews/s (~40 s)

Results: ``benchmarks/results/load.json`` (``--out``); docs/performance.md "Many seats (load test)" quotes them.
``--quick`` writes into a temporary directory (``benchmarks/_quick.py``) and prints the result JSON as the last
stdout line. The installed ``reviewops`` is measured.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _quick import print_result, quick_dir
from bench_watch import (
    SECRET_ENV,
    FeishuReceiver,
    Reviews,
    WatcherProcess,
    _machine,
    _stats,
    _ts,
    ledger_of,
    scratch_db,
    send_push,
    setup_policy,
    wait_alerts,
)

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "load.json"
GOALS = {"save_p95_s": 0.200, "queue_p95_s": 0.300, "lost_updates": 0, "duplicated_alerts": 0}
SHOP_NAME = "代运营店{:02d}"
PLATFORM = "taobao"


# ------------------------------------------------------------------------------------------- pushes
def body(event_id: str, shop: str, reviews: list[dict[str, str]]) -> bytes:
    """A push event (docs/watch.md) for ``shop``."""
    return json.dumps({"event_id": event_id, "platform": PLATFORM, "shop": shop, "reviews": reviews},
                      ensure_ascii=False).encode("utf-8")


def seed(ports: list[int], secret: str, shops: list[str], per_shop: int) -> dict[str, Any]:
    """One event of ``per_shop`` negative reviews per shop (their cases are the agents' first backlog)."""
    gen = Reviews("LDS", 21)
    bodies = [body(f"seed-{k}", shop, gen.batch(per_shop, None)) for k, shop in enumerate(shops)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda kb: send_push(ports[kb[0] % len(ports)], secret, kb[1]), enumerate(bodies)))
    return {"reviews": gen.n, "http_status": dict(Counter(str(a[2]) for a in answers)),
            "seconds": round(max(a[1] for a in answers) - min(a[0] for a in answers), 2)}


def stream(ports: list[int], secret: str, shops: list[str], rate: float, per_event: int, negative_every: int,
           stop_at: float, out: dict[str, Any]) -> None:
    """Paced pushes until ``stop_at``: ``rate`` reviews/s as events of ``per_event``, shops and watchers in turn."""
    gen = Reviews("LDL", 22)
    every = per_event / rate
    answers: list[tuple[float, float, int, float]] = []
    lock = threading.Lock()

    def one(i: int, planned: float) -> None:
        batch = gen_batches[i]
        t0, t1, status = send_push(ports[i % len(ports)], secret, body(f"live-{i}", shops[i % len(shops)], batch))
        with lock:
            answers.append((t0, t1, status, planned))

    n_events = max(1, int((stop_at - time.time()) / every))
    gen_batches = [gen.batch(per_event, negative_every) for _ in range(n_events)]
    negatives = sum(r["rating_raw"] == "差评" for b in gen_batches for r in b)
    start = time.time() + 0.1
    with ThreadPoolExecutor(max_workers=8) as pool:
        for i in range(n_events):
            planned = start + i * every
            delay = planned - time.time()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, i, planned)
    first, last = min(a[0] for a in answers), max(a[1] for a in answers)
    out.update({"reviews": n_events * per_event, "negatives": negatives, "events": n_events,
                "reviews_per_event": per_event, "planned_reviews_per_s": rate,
                "reviews_per_s": round(n_events * per_event / (last - first), 1),
                "http_status": dict(Counter(str(a[2]) for a in answers)),
                "event_answer": _stats([a[1] - a[0] for a in answers]),
                "lag_behind_schedule": _stats([a[1] - a[3] for a in answers])})


# ------------------------------------------------------------------------------------------- agents
def _agent(url: str, name: str, stop_at: float, think: float, pick_top: int, seed_: int,
           queue_limit: int) -> dict[str, Any]:
    """One agent's loop; returns its timings, acknowledged and refused saves."""
    from reviewops.core.errors import ConflictError
    from reviewops.core.store import Store
    from reviewops.core.users import get_actor
    from reviewops.handling.workbench import Workbench

    rnd = random.Random(seed_)
    store = Store.open(url, migrate="if-needed")
    t: dict[str, list[float]] = {"queue": [], "case": [], "save": [], "save_refused": []}
    cpu: dict[str, list[float]] = {"queue": [], "case": [], "save": []}  # this thread's CPU time in each call
    acks: list[tuple[int, int, str, str, str]] = []  # (case, new version, field, value, action)
    refused: list[tuple[int, str, str]] = []  # (case, field, value)
    errors: Counter[str] = Counter()
    n = 0

    def pause() -> None:
        time.sleep(rnd.uniform(0.5, 1.5) * think)

    try:
        wb = Workbench(store, get_actor(store, name), via="bench")
        time.sleep(rnd.uniform(0, think))  # the seats do not all start in the same instant
        while time.time() < stop_at:
            try:
                t0, c0 = time.perf_counter(), time.thread_time()
                q = wb.queue(limit=queue_limit)
                t["queue"].append(time.perf_counter() - t0)
                cpu["queue"].append(time.thread_time() - c0)
                if not len(q):
                    pause()
                    continue
                cid = int(q["case_id"].iloc[rnd.randrange(min(pick_top, len(q)))])
                t0, c0 = time.perf_counter(), time.thread_time()
                view = wb.case(cid)
                t["case"].append(time.perf_counter() - t0)
                cpu["case"].append(time.thread_time() - c0)
                pause()
                kind = rnd.choices(("reply", "contact", "take"), (5, 3, 2))[0]
                for attempt in (1, 2):  # a refused save: reload the case and try once more, as a person would
                    n += 1
                    mark = f"〔{name}-{n}〕"  # bracketed: one mark is never a part of another
                    t0, c0 = time.perf_counter(), time.thread_time()
                    try:
                        if kind == "reply":
                            field, value = "reply_text", f"亲，非常抱歉给您带来不便，我们已为您安排处理。记录 {mark}"
                            v = wb.save_reply(cid, view.version, value)
                        elif kind == "contact":
                            field, value = "last_contact_note", f"电话联系客户，已说明处理方案 {mark}"
                            v = wb.record_contact(cid, view.version, channel="phone", note=value)
                        else:
                            field, value = "assignee", name
                            v = wb.take(cid, view.version)
                        t["save"].append(time.perf_counter() - t0)
                        cpu["save"].append(time.thread_time() - c0)
                        acks.append((cid, v, field, value, kind))
                        break
                    except ConflictError:
                        t["save_refused"].append(time.perf_counter() - t0)
                        refused.append((cid, field, value))
                        if attempt == 1:
                            view = wb.case(cid)
                pause()
            except Exception as e:  # noqa: BLE001 - counted and reported; the run goes on
                errors[f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"] += 1
                pause()
    finally:
        store.close()
    return {"t": t, "cpu": cpu, "acks": acks, "refused": refused, "errors": dict(errors)}


def _agents_main(url: str, names: list[str], stop_at: float, think: float, pick_top: int, seed_: int,
                 queue_limit: int, conn: Any) -> None:
    """Child process: ``names`` as threads; sends back every agent's result."""
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def run(k: int, name: str) -> None:
        r = _agent(url, name, stop_at, think, pick_top, seed_ * 1000 + k, queue_limit)
        with lock:
            results.append(r)

    threads = [threading.Thread(target=run, args=(k, nm), daemon=True) for k, nm in enumerate(names)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    conn.send(results)


# ------------------------------------------------------------------------------------------- checks
def check_saves(store: Any, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Acknowledged saves against ``case_events`` and the final case rows (see the module docstring)."""
    import sqlalchemy as sa
    from reviewops.core.store import case_events, cases

    acks = [(a, r_agent) for r_agent in results for a in r_agent["acks"]]
    by_case: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
    for (cid, v, field, value, _kind), _ in acks:
        by_case[cid].append((v, field, value))
    versions = Counter((cid, v) for (cid, v, *_), _ in acks)
    double = sum(n - 1 for n in versions.values() if n > 1)
    ids = sorted(by_case) + sorted({c for r in results for c, _, _ in r["refused"]} - set(by_case))
    events: dict[tuple[int, int], dict[str, Any]] = {}
    rows: dict[int, dict[str, Any]] = {}
    with store.read() as conn:
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            for e in conn.execute(sa.select(case_events.c.case_id, case_events.c.version_to, case_events.c.after_json)
                                  .where(case_events.c.case_id.in_(chunk))).mappings():
                events[(int(e["case_id"]), int(e["version_to"]))] = json.loads(e["after_json"] or "{}")
            for c in conn.execute(sa.select(cases.c.id, cases.c.reply_text, cases.c.last_contact_note,
                                            cases.c.version).where(cases.c.id.in_(chunk))).mappings():
                rows[int(c["id"])] = dict(c)
    lost: list[str] = []
    for cid, saves in by_case.items():
        for v, field, value in saves:
            if events.get((cid, v), {}).get(field) != value:
                lost.append(f"case {cid} v{v} {field}")
        for field in ("reply_text", "last_contact_note"):
            mine = [(v, value) for v, f, value in saves if f == field]
            if mine and rows[cid][field] != max(mine)[1]:
                lost.append(f"case {cid} final {field}")
    saved_values = {json.dumps(ev, ensure_ascii=False) for ev in events.values()}
    blob = "\n".join(saved_values)
    leaked = [f"case {cid} {field}" for r in results for cid, field, value in r["refused"]
              if field != "assignee" and value in blob]
    return {"acknowledged": len(acks), "refused": sum(len(r["refused"]) for r in results),
            "cases_saved": len(by_case), "two_acks_one_version": double, "lost_updates": len(lost) + double,
            "lost_examples": lost[:10], "refused_values_found_in_store": len(leaked)}


def check_alerts(store: Any, rec: FeishuReceiver, prefixes: tuple[str, ...]) -> dict[str, Any]:
    """Every new_case alert of the run's cases received once; duplicates of any 提醒编号 counted."""
    import sqlalchemy as sa
    from reviewops.core.store import cases, reviews

    with store.read() as conn:
        q = sa.select(cases.c.id).select_from(cases.join(reviews, reviews.c.id == cases.c.review_pk))
        q = q.where(sa.or_(*[reviews.c.review_id.like(p + "%") for p in prefixes]))
        case_ids = sorted(int(x) for x in conn.execute(q).scalars())
    keys = {f"new_case:{c}" for c in case_ids}
    wait_alerts(rec, keys, idle=60.0, limit=900.0)
    with rec.lock:
        per_key = Counter(k for _, k, _ in rec.got if k is not None)
        unkeyed = sum(1 for _, k, _ in rec.got if k is None)
    ledger = ledger_of(store, case_ids)
    lat = [_ts(r["delivered_at"]) - _ts(r["arrived_at"]) for r in ledger
           if r["delivered_at"] is not None and r["arrived_at"] is not None]
    return {"cases": len(case_ids), "new_case_alerts_expected": len(keys),
            "received": sum(1 for k in keys if k in per_key), "missing": sum(1 for k in keys if k not in per_key),
            "messages": sum(per_key.values()) + unkeyed, "messages_without_key": unkeyed,
            "duplicated_alerts": sum(n - 1 for n in per_key.values() if n > 1),
            "delivery_states": dict(Counter(str(r["state"]) for r in ledger)),
            "store_arrival_to_delivery": _stats(lat)}


# ------------------------------------------------------------------------------------------- run
def run(args: argparse.Namespace) -> dict[str, Any]:
    import sqlalchemy as sa
    from reviewops.core.store import Store, shops
    from reviewops.core.users import add_user

    url_arg = args.db or os.environ.get("REVIEWOPS_TEST_PG_URL") or None
    push_secret = secrets.token_urlsafe(24)
    feishu_secret = secrets.token_urlsafe(24)
    rec = FeishuReceiver(feishu_secret)
    rec.start()
    result: dict[str, Any] = {"benchmark": "load", "goals": dict(GOALS), "machine": _machine(),
                              "load_avg_start": os.getloadavg(), "params": {
                                  k: getattr(args, k) for k in ("agents", "procs", "shops", "shops_per_agent",
                                                                "seconds", "think", "pick_top", "queue_limit", "rate",
                                                                "per_event", "negative_every", "seed_per_shop",
                                                                "watchers")}}
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp, scratch_db(url_arg, Path(tmp)) as (url, backend):
        result["backend"] = backend
        store = Store.open(url)
        try:
            if backend == "postgresql":
                with store.read() as conn:
                    result["postgresql"] = {k: conn.exec_driver_sql(f"SHOW {k}").scalar() for k in (
                        "server_version", "max_connections", "shared_buffers", "fsync", "synchronous_commit")}
            setup_policy(store, rec.url)
            rec.self_test()
            watchers = []
            for k in range(args.watchers):
                folder = Path(tmp) / f"drop{k}"
                folder.mkdir()
                watchers.append(WatcherProcess(url, folder, push_secret, 0.5, 1.0, {SECRET_ENV: feishu_secret}))
            ports = [w.port for w in watchers]
            shop_names = [SHOP_NAME.format(k + 1) for k in range(args.shops)]
            print(f"[load] {backend}, {args.watchers} watcher(s) on {ports}; seeding {args.shops} shops …",
                  file=sys.stderr, flush=True)
            result["seed"] = seed(ports, push_secret, shop_names, args.seed_per_shop)
            with store.read() as conn:
                ids = dict(conn.execute(sa.select(shops.c.name, shops.c.id).where(shops.c.name.in_(shop_names))).all())
            shop_ids = [int(ids[nm]) for nm in shop_names]
            names = [f"agent{i:03d}" for i in range(args.agents)]
            for i, nm in enumerate(names):
                mine = [shop_ids[(i + j) % len(shop_ids)] for j in range(min(args.shops_per_agent, len(shop_ids)))]
                add_user(store, nm, role="agent", shops=mine, actor="bench")
            # ---- the measured run
            start = time.time() + 3.0
            stop_at = start + args.seconds
            ctx = mp.get_context("spawn")
            procs = []
            for p in range(args.procs):
                mine = names[p::args.procs]
                if not mine:
                    continue
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=_agents_main, args=(url, mine, stop_at, args.think, args.pick_top, p + 1,
                                                              args.queue_limit, child), daemon=True)
                proc.start()
                procs.append((proc, parent))
            print(f"[load] {args.agents} agents in {len(procs)} processes, {args.rate:g} reviews/s, {args.seconds} s …",
                  file=sys.stderr, flush=True)
            live: dict[str, Any] = {}
            loads: list[float] = []
            sampling = threading.Event()

            def sample_load() -> None:  # the machine is shared: what else ran is part of the result
                while not sampling.wait(5.0):
                    loads.append(os.getloadavg()[0])

            threading.Thread(target=sample_load, daemon=True).start()
            time.sleep(max(0.0, start - time.time()))
            if args.rate > 0:
                stream(ports, push_secret, shop_names, args.rate, args.per_event, args.negative_every, stop_at, live)
            else:
                time.sleep(max(0.0, stop_at - time.time()))
            results: list[dict[str, Any]] = []
            for proc, parent in procs:
                if parent.poll(args.seconds + 600):
                    results += parent.recv()
                proc.join(30)
            sampling.set()
            result["load_avg_end"] = os.getloadavg()
            result["load_1min_during_run"] = {"samples_every_5s": [round(x, 2) for x in loads],
                                              "mean": round(sum(loads) / len(loads), 2) if loads else None,
                                              "max": max(loads, default=None)}
            result["stream"] = live
            # ---- figures and checks
            t = {k: [x for r in results for x in r["t"][k]] for k in ("queue", "case", "save", "save_refused")}
            errors: Counter[str] = Counter()
            for r in results:
                errors.update(r["errors"])
            result["agents_reporting"] = len(results)
            result["timings"] = {k: _stats(v) for k, v in t.items()}
            # the client's own CPU in each call (thread CPU time): wall minus this is waiting — for the database,
            # for the GIL of the process, or for a core of the machine
            result["timings_cpu"] = {k: _stats([x for r in results for x in r["cpu"][k]]) for k in ("queue", "case", "save")}
            result["ops_per_s"] = {k: round(len(v) / args.seconds, 1) for k, v in t.items()}
            result["errors"] = dict(errors)
            result["saves"] = check_saves(store, results)
            result["alerts"] = check_alerts(store, rec, ("LDS", "LDL"))
            result["watchers"] = [w.stop() for w in watchers]
        finally:
            store.close()
            rec.stop()
    s, q = result["timings"]["save"], result["timings"]["queue"]
    result["goal_results"] = {
        "save_p95_s": {"value": s["p95_s"], "goal": GOALS["save_p95_s"],
                       "met": s["p95_s"] is not None and s["p95_s"] <= GOALS["save_p95_s"]},
        "queue_p95_s": {"value": q["p95_s"], "goal": GOALS["queue_p95_s"],
                        "met": q["p95_s"] is not None and q["p95_s"] <= GOALS["queue_p95_s"]},
        "lost_updates": {"value": result["saves"]["lost_updates"], "goal": 0,
                         "met": result["saves"]["lost_updates"] == 0
                         and result["saves"]["refused_values_found_in_store"] == 0},
        "duplicated_alerts": {"value": result["alerts"]["duplicated_alerts"], "goal": 0,
                              "met": result["alerts"]["duplicated_alerts"] == 0 and result["alerts"]["missing"] == 0},
    }
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="PostgreSQL server URL (a scratch database is made there and dropped); "
                                 "default $REVIEWOPS_TEST_PG_URL")
    ap.add_argument("--agents", type=int, default=100)
    ap.add_argument("--procs", type=int, default=8, help="processes the agents are spread over (threads inside)")
    ap.add_argument("--shops", type=int, default=30)
    ap.add_argument("--shops-per-agent", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--think", type=float, default=10.0, help="mean think time between steps (s)")
    ap.add_argument("--pick-top", type=int, default=10, help="an agent picks one of its queue's first N cases")
    ap.add_argument("--queue-limit", type=int, default=200, help="rows per queue load (the queue form's default)")
    ap.add_argument("--rate", type=float, default=200.0, help="reviews/s pushed to the watcher(s); 0: none")
    ap.add_argument("--per-event", type=int, default=100, help="reviews per push event (a relay batches them)")
    ap.add_argument("--negative-every", type=int, default=10)
    ap.add_argument("--seed-per-shop", type=int, default=40)
    ap.add_argument("--watchers", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help=f"result JSON (default {RESULTS.relative_to(HERE.parent)})")
    ap.add_argument("--quick", action="store_true", help="smoke run: 6 agents, 15 s, 20 reviews/s, temp output")
    args = ap.parse_args(argv)
    if args.quick:
        args.agents, args.procs, args.shops, args.seconds, args.think = 6, 1, 3, 15.0, 0.5
        args.rate, args.seed_per_shop, args.per_event = 20.0, 10, 10
        with quick_dir("load") as tmp:
            out = args.out or tmp / "load.json"
            result = run(args)
            out.write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
        result["quick"] = True
        print_result(result)
        checks = result["goal_results"]
        return 0 if checks["lost_updates"]["met"] and checks["duplicated_alerts"]["met"] else 1
    out = args.out or RESULTS
    result = run(args)
    text = json.dumps(result, ensure_ascii=False, indent=2, default=str)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0 if all(g["met"] for g in result["goal_results"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
