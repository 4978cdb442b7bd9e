"""The demo's worked history (issue 5): detection times, cases worked through the workbench under the
simulated clock, surveys and training records — deterministic, audited, compliant, with a queue left.

The checks below are plain SQL over the store, independent of the code that wrote the history."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections import Counter

import pytest
import sqlalchemy as sa
from reviewops.core import store as st
from reviewops.demo import (
    AGENT_HABITS,
    DEMO_USERS,
    FRESH_FRACTION,
    create_demo_users,
    date_demo_detection,
    demo_as_of,
    work_demo_history,
)
from reviewops.core.errors import ConfigError
from reviewops.core.store import Store

PII = "5e" * 8 + "0123456789abcdef" * 3
AS_OF = demo_as_of("2026-11-20T09:30")


def demo_now() -> dt.datetime:
    """The history's fixed end in these tests."""
    return AS_OF


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> str:
    """A triaged scale-0.05 demo with its users, before any history (a file to copy)."""
    from reviewops.demo import build_demo
    from reviewops.handling.opening import triage_store

    path = tmp_path_factory.mktemp("history") / "base.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REVIEWOPS_PII_KEY", PII)
        build_demo(str(path), scale=0.05, as_of=AS_OF)
        with Store.open(str(path)) as store:
            date_demo_detection(store, now=demo_now())
            triage_store(store, actor="demo", via="cli", dated_at_detection=True)
            create_demo_users(store, "demo-pass-1")
    return str(path)


def _worked(base: str, tmp_path_factory, name: str) -> tuple[str, dict]:
    path = tmp_path_factory.mktemp(name) / "d.db"
    shutil.copy(base, path)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REVIEWOPS_PII_KEY", PII)
        with Store.open(str(path)) as store:
            stats = work_demo_history(store, now=demo_now())
    return str(path), stats


@pytest.fixture(scope="module")
def worked(base, tmp_path_factory) -> tuple[str, dict]:
    return _worked(base, tmp_path_factory, "a")


@pytest.fixture
def conn(worked):
    eng = sa.create_engine(f"sqlite:///{worked[0]}")
    with eng.connect() as c:
        yield c
    eng.dispose()


def _utc(t):
    return None if t is None else (dt.datetime.fromisoformat(t) if isinstance(t, str) else t).replace(
        tzinfo=dt.UTC)


def _dump(path: str) -> dict:
    eng = sa.create_engine(f"sqlite:///{path}")
    with eng.connect() as c:
        out = {t: [tuple(r) for r in c.execute(sa.text(q))] for t, q in {
            "events": "SELECT case_id, version_from, action, actor, at, after_json FROM case_events ORDER BY id",
            "cases": "SELECT id, state, version, assignee, first_contact_at, resolved_at, satisfied FROM cases "
                     "ORDER BY id",
            "comp": "SELECT case_id, kind, amount_fen, state, requested_by, decided_by, delivered_at FROM "
                    "compensations ORDER BY id",
            "followups": "SELECT case_id, step, due_at, state, done_by, done_at FROM followups ORDER BY id",
            "surveys": "SELECT shop_id, survey_key, kind, score, case_id, customer_id, answered_at FROM surveys "
                       "ORDER BY id",
            "training": "SELECT agent, module, at, passed, score, recorded_at FROM training_records ORDER BY id",
        }.items()}
    eng.dispose()
    return out


def test_same_seed_same_history_and_rerun_adds_nothing(base, worked, tmp_path_factory):
    other, stats = _worked(base, tmp_path_factory, "b")
    assert stats == worked[1]
    first = _dump(worked[0])
    assert first == _dump(other)
    assert len(first["events"]) > 5 * stats["contacted"] > 0
    with Store.open(other) as store:  # idempotent: the worked cases are no longer new, answers keyed
        again = work_demo_history(store, now=demo_now())
    assert again["contacted"] == 0 and again["csat_answers"] == 0 and again["training_records"] == 0
    assert _dump(other)["events"] == first["events"]


def test_detection_shortly_after_posting_and_cases_dated_at_detection(conn):
    rows = conn.execute(sa.text("SELECT r.created_at, r.first_seen_at, c.created_at, c.sla_started_at FROM reviews r "
                                "LEFT JOIN cases c ON c.review_pk = r.id")).all()
    assert rows
    for posted, seen, created, started in rows:
        delay = (_utc(seen) - _utc(posted)).total_seconds()
        assert 60 <= delay <= 1800, (posted, seen)
        if created is not None:
            assert _utc(created) == _utc(seen) == _utc(started)


def test_agents_differ(conn):
    first = dict(conn.execute(sa.text(
        "SELECT e.actor, COUNT(*) FROM case_events e JOIN cases c ON c.id = e.case_id "
        "WHERE json_extract(e.after_json, '$.first_contact_at') IS NOT NULL GROUP BY e.actor")).all())
    assert set(first) == set(AGENT_HABITS)
    assert len(set(first.values())) == 3, first
    late = dict(conn.execute(sa.text(
        "SELECT assignee, AVG(first_contact_at > sla_due_at) FROM cases WHERE first_contact_at IS NOT NULL "
        "GROUP BY assignee")).all())
    assert late["xiaochen"] > 2 * max(late["xiaowang"], late["xiaozhang"]), late
    fast = dict(conn.execute(sa.text(
        "SELECT assignee, AVG((julianday(first_contact_at) - julianday(created_at)) / "
        "(julianday(sla_due_at) - julianday(created_at))) FROM cases WHERE first_contact_at IS NOT NULL "
        "GROUP BY assignee")).all())
    assert fast["xiaozhang"] < min(fast["xiaowang"], fast["xiaochen"]), fast


def test_every_step_audited_in_time_order(conn, worked):
    users = {n for n, _, _ in DEMO_USERS}
    real_now = dt.datetime.now(dt.UTC)
    end = demo_now()
    created = {i: _utc(t) for i, t in conn.execute(sa.text("SELECT id, created_at FROM cases"))}
    by_case: dict[int, list] = {}
    for cid, vf, vt, action, actor, at in conn.execute(sa.text(
            "SELECT case_id, version_from, version_to, action, actor, at FROM case_events ORDER BY case_id, "
            "version_from")):
        by_case.setdefault(cid, []).append((vf, vt, action, actor, _utc(at)))
    worked_cases = [c for c, ev in by_case.items() if len(ev) > 1]
    assert len(worked_cases) >= worked[1]["contacted"] > 0
    for cid in worked_cases:
        ev = by_case[cid]
        assert [e[0] for e in ev] == list(range(len(ev))) and all(e[1] == e[0] + 1 for e in ev)
        assert ev[0][2] == "create" and ev[0][4] == created[cid]
        assert all(e[3] in users for e in ev[1:]), ev
        times = [e[4] for e in ev]
        assert times == sorted(times) and times[0] >= created[cid] and times[-1] <= end < real_now
    actions = Counter(e[2] for ev in by_case.values() for e in ev)
    assert actions["diagnose"] > 0 and actions["reply"] > 0 and actions["followup"] > 0


def test_no_delivery_before_approval_and_no_self_approval(conn):
    rows = conn.execute(sa.text("SELECT state, requested_by, requested_at, decided_by, decided_at, delivered_at "
                                "FROM compensations")).all()
    delivered = [r for r in rows if r.state == "delivered"]
    assert delivered
    for r in delivered:
        assert r.decided_by is not None and r.decided_at is not None
        assert _utc(r.requested_at) <= _utc(r.decided_at) <= _utc(r.delivered_at)
        if r.decided_by not in (r.requested_by, "policy"):
            assert _utc(r.decided_at) > _utc(r.requested_at)
    # every delivery event on a case comes after any approval transition of that case
    for cid, at in conn.execute(sa.text("SELECT case_id, at FROM case_events WHERE "
                                        "json_extract(after_json, '$.state') = 'remedy_delivered'")):
        pend = conn.execute(sa.text("SELECT MAX(at) FROM case_events WHERE case_id = :c AND "
                                    "json_extract(after_json, '$.state') = 'pending_approval'"), {"c": cid}).scalar()
        if pend is not None:
            appr = conn.execute(sa.text("SELECT MIN(at) FROM case_events WHERE case_id = :c AND version_from > "
                                        "(SELECT MAX(version_from) FROM case_events WHERE case_id = :c AND "
                                        "json_extract(after_json, '$.state') = 'pending_approval') AND "
                                        "json_extract(after_json, '$.state') = 'remedy_proposed'"),
                                {"c": cid}).scalar()
            assert appr is not None and _utc(appr) <= _utc(at)


def test_revision_guidance_only_after_delivery(conn):
    done = conn.execute(sa.text("SELECT case_id, done_at FROM followups WHERE step = 'revision_guidance' AND "
                                "state = 'done'")).all()
    assert done
    for cid, at in done:
        comp = conn.execute(sa.text("SELECT COUNT(*), MAX(delivered_at), SUM(state != 'delivered') FROM compensations "
                                    "WHERE case_id = :c AND decided_by != 'policy'"), {"c": cid}).one()
        if comp[0]:
            assert comp[2] == 0 and _utc(comp[1]) <= _utc(at)
        else:  # resolved without a remedy: the explanation was the remedy
            resolved = conn.execute(sa.text("SELECT resolved_at FROM cases WHERE id = :c"), {"c": cid}).scalar()
            assert resolved is not None and _utc(resolved) <= _utc(at)


def test_a_fresh_queue_remains(conn):
    """Cases younger than FRESH_FRACTION of their budget (7×24 default clock) are untouched; older ones worked."""
    rows = conn.execute(sa.text("SELECT state, version, created_at, sla_hours FROM cases")).all()
    assert rows
    for r in rows:
        used = (demo_now() - _utc(r.created_at)).total_seconds() / 3600 / r.sla_hours
        if used < FRESH_FRACTION:
            assert r.state == "new" and r.version == 1, r
    fresh = sum(1 for r in rows if r.state == "new" and r.version == 1)
    assert 0 < fresh < len(rows) / 4
    states = Counter(s for (s,) in conn.execute(sa.text("SELECT state FROM cases")))
    assert states["follow_up_done"] + states["resolved"] > len(rows) / 2, states


def test_surveys_and_training(conn):
    rows = conn.execute(sa.text("SELECT kind, score, case_id, answered_at FROM surveys")).all()
    csat = [r for r in rows if r.kind == "csat"]
    nps = [r for r in rows if r.kind == "nps"]
    assert all(1 <= r.score <= 5 and r.case_id is not None for r in csat)
    assert all(0 <= r.score <= 10 for r in nps)
    assert any(r.case_id is None for r in nps) and any(r.case_id is not None for r in nps)
    resolved = conn.execute(sa.text("SELECT COUNT(*) FROM cases WHERE resolved_at IS NOT NULL")).scalar()
    assert 0.4 * resolved <= len(csat) <= 0.8 * resolved
    assert max(_utc(r.answered_at) for r in rows) <= demo_now()
    tr = conn.execute(sa.text("SELECT agent, module, AVG(passed), AVG(score), COUNT(*) FROM training_records "
                              "GROUP BY agent, module")).all()
    got = {(a, m): (p, s, n) for a, m, p, s, n in tr}
    assert {a for a, _ in got} == set(AGENT_HABITS) and {m for _, m in got} == {"emotion", "knowledge"}
    assert all(got[(a, "emotion")][2] == 16 and got[(a, "knowledge")][2] == 2 for a in AGENT_HABITS)


def test_clock_is_aware_never_future_and_restored():
    t = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)
    with st.clock(t):
        assert st.utcnow() == t
        with st.clock(t + dt.timedelta(hours=1)):
            assert st.utcnow() == t + dt.timedelta(hours=1)
        assert st.utcnow() == t
    assert abs((st.utcnow() - dt.datetime.now(dt.UTC)).total_seconds()) < 5
    with pytest.raises(ConfigError, match="时区"):
        st.clock(dt.datetime(2026, 1, 1)).__enter__()
    with pytest.raises(ConfigError, match="future"):
        st.clock(dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).__enter__()


def test_demo_cli_shows_the_history(worked):
    assert json.dumps(worked[1])  # plain ints
    assert worked[1]["contacted"] > worked[1]["never"] > 0


def test_the_scorecard_compares_the_three_agents(worked, conn):
    """The staff scorecard over the worked history: each agent's handled count is their first contacts."""
    from reviewops.reporting.scorecard import staff_scorecard

    start = demo_now() - dt.timedelta(days=60)
    end = demo_now()
    want = dict(conn.execute(sa.text(
        "SELECT e.actor, COUNT(*) FROM case_events e WHERE json_extract(e.after_json, '$.first_contact_at') "
        "IS NOT NULL AND e.at >= :s AND e.at < :e GROUP BY e.actor"),
        {"s": start.replace(tzinfo=None).isoformat(sep=" "), "e": end.replace(tzinfo=None).isoformat(sep=" ")}).all())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REVIEWOPS_PII_KEY", PII)
        with Store.open(worked[0]) as store:
            sc = staff_scorecard(store, start, end, now=end)
    got = dict(zip(sc.agents["agent"], sc.agents["handled"]))
    assert {a: got[a] for a in AGENT_HABITS} == {a: want[a] for a in AGENT_HABITS}
    assert sc.agents.set_index("agent").loc[list(AGENT_HABITS), "csat_n"].min() > 0
