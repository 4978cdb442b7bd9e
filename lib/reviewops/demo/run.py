"""The whole demo, as ``reviewops demo`` runs it (:func:`run_demo`): generate the shop up to as-of, import
every export, date detection, triage, create the demo users, work the history, then the aftermath."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

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


def run_demo(db: Any = None, *, seed: int = DEFAULT_SEED, scale: float = 1.0, as_of: Any = None,
             out_dir: str | os.PathLike[str] | None = None, password: str | None = None, actor: str = "demo",
             progress: bool = False) -> DemoRun:
    """The whole demo (``reviewops demo``): generate the shop up to ``as_of`` (default now), import every
    export, date detection, triage, create the demo users, work the history, then the aftermath
    (revised reviews, 追评, repurchases, as later exports). Same seed, scale and as-of → the same exports
    and the same store content (apart from the users' salted password hashes): the store is
    written under the simulated clock at ``as_of``, never the real one."""
    from ..core.policy import current_policy
    from ..core.store import Store, clock
    from ..handling.opening import triage_store
    from ..intake.ingest import import_paths

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

        with Store.open(db) as store, clock(at):
            policy = current_policy(store, actor=actor)
            demo = generate_demo(out_dir, seed=seed, scale=scale, as_of=at, policy=policy)
            done("generate")
            results: list[Any] = []
            for f in demo.files:
                results.extend(import_paths(store, [f.path], platform=f.platform, kind=f.kind, shop=f.shop,
                                            progress=progress))
            _fill_products(store, demo)
            done("import")
            date_demo_detection(store, seed=seed, now=at)
            triaged = triage_store(store, actor=actor, via="cli", dated_at_detection=True)
            users = create_demo_users(store, password, actor=actor)
            done("triage")
            history = work_demo_history(store, seed=seed, now=at)
            done("history")
            after, later = demo_aftermath(store, demo, seed=seed, now=at, progress=progress)
            results.extend(later)
            batches = [r.batch_id for r in later if getattr(r, "batch_id", None) is not None]
            if batches:
                date_demo_detection(store, seed=seed, now=at)
                more = triage_store(store, actor=actor, via="cli", dated_at_detection=True, batch_ids=batches)
                triaged.created += more.created
                triaged.case_ids.extend(more.case_ids)
            history.update({f"after_{k}": v for k, v in after.items()})
            done("aftermath")
        return DemoRun(results=results, triage=triaged, users=users, history=history, as_of=at, demo=demo,
                       timings=timings)
    finally:
        if tmp is not None:
            tmp.cleanup()
