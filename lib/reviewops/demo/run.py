"""The whole demo, as ``reviewops demo`` runs it (:func:`run_demo`): generate the shop up to as-of, import
every export, date detection, triage, create the demo users, work the history, then the aftermath."""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import os
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import ConfigError
from .generate import DemoResult, _fill_products, generate_demo
from .history import (
    create_demo_users,
    date_demo_detection,
    demo_aftermath,
    work_demo_history,
)
from .timeline import DEFAULT_SEED, demo_as_of


@dataclass
class DemoRun:
    """What :func:`run_demo` did: import results (first and later exports), the triage, the demo users,
    the worked history's counts (with the aftermath's), the as-of moment and the generated shop."""

    results: list[Any]
    triage: Any
    users: list[dict[str, Any]]
    history: dict[str, int]
    as_of: dt.datetime
    demo: DemoResult
    #: wall seconds per phase: generate, import, triage (with detection dates and users), history, aftermath
    timings: dict[str, float] = field(default_factory=dict)


#: the smallest scale at which :func:`run_demo` reads ahead in a worker process by default: below it the
#: worker's start-up (its imports, about a second of the other core) buys nothing
PIPELINE_MIN_SCALE = 0.25
ENV_PREPARE_WORKERS = "REVIEWOPS_DEMO_PREPARE_WORKERS"


def _prepare_workers(asked: int | None, scale: float) -> int:
    if asked is None:
        env = os.environ.get(ENV_PREPARE_WORKERS, "").strip()
        if env:
            try:
                asked = int(env)
            except ValueError:
                raise ConfigError(f"{ENV_PREPARE_WORKERS}={env!r} 不是整数 / is not an integer: "
                                  "give 0 (read in this process) or the number of worker processes") from None
        else:
            asked = 1 if (os.cpu_count() or 1) >= 2 and scale >= PIPELINE_MIN_SCALE else 0
    if asked < 0:
        raise ConfigError(f"prepare_workers={asked} 不能为负 / cannot be negative: give 0 or more")
    return asked


@contextlib.contextmanager
def _pool(workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """A spawn-started process pool (no fork of a process holding a database connection) whose workers do
    their imports at once, while the demo generates its exports; ``None`` for 0 workers."""
    if workers <= 0:
        yield None
        return
    from ..intake.ingest import warm_worker

    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        for _ in range(workers):
            pool.submit(warm_worker)
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_demo(db: Any = None, *, seed: int = DEFAULT_SEED, scale: float = 1.0, as_of: Any = None,
             out_dir: str | os.PathLike[str] | None = None, password: str | None = None, actor: str = "demo",
             progress: bool = False, prepare_workers: int | None = None) -> DemoRun:
    """The whole demo (``reviewops demo``): generate the shop up to ``as_of`` (default now), import every
    export, date detection, triage, create the demo users, work the history, then the aftermath
    (revised reviews, 追评, repurchases, as later exports). Same seed, scale and as-of → the same exports
    and the same store content (apart from the users' salted password hashes): the store is
    written under the simulated clock at ``as_of``, never the real one.

    ``prepare_workers``: processes that read and check the next export files while this one writes the
    previous ones (:func:`reviewops.intake.ingest.prepare_ahead`); the store is the same either way. Default
    (``None``): ``$REVIEWOPS_DEMO_PREPARE_WORKERS`` if set, else 1 on a machine with two or more cores at
    scale ≥ :data:`PIPELINE_MIN_SCALE` (the full demo: about 8 s less of its minute), else 0."""
    from ..core.policy import current_policy
    from ..core.store import Store, clock
    from ..handling.defence import detect_malicious
    from ..handling.opening import triage_store
    from ..intake.ingest import import_paths, prepare_ahead

    at = demo_as_of(as_of)
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if out_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="reviewops-demo-")
        out_dir = tmp.name
    try:
        # the whole store is written as of ``at``: the store's own bookkeeping times (shops, customers, review
        # versions, import batches, the policy version, the users) come from the simulated clock, never from
        # the real one, so the same seed and as-of give the same store (the history's steps nest earlier clocks)
        timings: dict[str, float] = {}
        lap = [time.perf_counter()]

        def done(phase: str) -> None:
            now_ = time.perf_counter()
            timings[phase] = round(timings.get(phase, 0.0) + now_ - lap[0], 2)
            lap[0] = now_

        workers = _prepare_workers(prepare_workers, scale)
        with Store.open(db) as store, clock(at), _pool(workers) as pool:
            policy = current_policy(store, actor=actor)
            demo = generate_demo(out_dir, seed=seed, scale=scale, as_of=at, policy=policy)
            done("generate")
            results: list[Any] = []
            # with a pool, a worker reads and checks file n+1 while this process writes file n
            ahead = ({str(f.path): prepare_ahead(pool, store, f.path, platform=f.platform, kind=f.kind)
                      for f in demo.files} if pool is not None else None)
            for f in demo.files:
                results.extend(import_paths(store, [f.path], platform=f.platform, kind=f.kind, shop=f.shop,
                                            progress=progress, ahead=ahead))
            _fill_products(store, demo)
            done("import")
            date_demo_detection(store, seed=seed, now=at)
            triaged = triage_store(store, actor=actor, via="cli", dated_at_detection=True)
            users = create_demo_users(store, password, actor=actor)
            done("triage")
            history = work_demo_history(store, seed=seed, now=at)
            # the legal desk's detectors over the whole shop at as-of (issue 17): signals on every case they
            # rest on — for legal to confirm or reject — and the still-open cases above the threshold go to 法务;
            # the history's closed cases keep their outcome
            found = detect_malicious(store, now=at, actor=actor)
            history.update(signals=found.signals_new, malicious_routed=len(found.malicious))
            done("history")
            after, later = demo_aftermath(store, demo, seed=seed, now=at, progress=progress)
            results.extend(later)
            batches = [r.batch_id for r in later if getattr(r, "batch_id", None) is not None]
            if batches:
                date_demo_detection(store, seed=seed, now=at)
                more = triage_store(store, actor=actor, via="cli", dated_at_detection=True, batch_ids=batches,
                                    detect=True)
                triaged.created += more.created
                triaged.case_ids.extend(more.case_ids)
            history.update({f"after_{k}": v for k, v in after.items()})
            done("aftermath")
        return DemoRun(results=results, triage=triaged, users=users, history=history, as_of=at, demo=demo,
                       timings=timings)
    finally:
        if tmp is not None:
            tmp.cleanup()
