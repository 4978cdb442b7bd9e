"""The demo lives at its as-of moment (issue 14.2): the live queue's SLA mix on any weekday and clock,
reproducible runs, texts that fit their product, and reports with true, non-zero figures per platform.

Runs ``run_demo`` at small scale; every check reads the store or the files, not the generator."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from reviewops.demo import _POSITIVE_GENERIC, _PRODUCT_TEXTS, catalogue, demo_as_of, run_demo
from reviewops.core.errors import ConfigError
from reviewops.core.store import Store

PII = "5e" * 8 + "0123456789abcdef" * 3
MONDAY = "2026-11-30T09:00"  # a Monday morning: the dashboard's week and last week both matter
OPEN = ("new", "contacted", "remedy_proposed", "pending_approval", "remedy_delivered", "escalated", "appeal")


@pytest.fixture(autouse=True)
def _pii(monkeypatch):
    monkeypatch.setenv("REVIEWOPS_PII_KEY", PII)


def _run(tmp: Path, scale: float, as_of: str, policy_settings: dict[str, str] | None = None):
    db = tmp / "demo.db"
    if policy_settings:
        from reviewops.core.policy import Policy, default_policy, save_policy

        # a copy: default_policy() is one shared object per process; changing its rows in place would change
        # every later demo's policy in this process (that made two "same" runs differ: issue 14.2)
        raw = {k: [dict(r) for r in v] for k, v in default_policy().tables.items()}
        for r in raw["settings"]:
            if r["key"] in policy_settings:
                r["value"] = policy_settings[r["key"]]
        with Store.open(str(db)) as store:
            save_policy(store, Policy.from_tables(raw, source="test"), actor="test")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REVIEWOPS_PII_KEY", PII)
        run = run_demo(str(db), scale=scale, as_of=as_of, out_dir=tmp / "out", password="demo-pass-1")
    return str(db), run


@pytest.fixture(scope="module")
def monday(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("monday"), 0.05, MONDAY)


def _default_settings() -> dict[str, str]:
    from reviewops.core.policy import default_policy

    return {r["key"]: str(r["value"]) for r in default_policy().tables["settings"]}


_PRISTINE = _default_settings()


def _mix(db: str, as_of: dt.datetime) -> Counter:
    """SLA status of the cases awaiting action at as-of, computed from the stored clock (sla.py)."""
    from reviewops.core.policy import current_policy
    from reviewops.core.sla import fraction_used, state_from_json
    from reviewops.core.clock import calendar_of

    with Store.open(db) as store:
        cal = calendar_of(current_policy(store))
        with store.read() as conn:
            rows = conn.execute(sa.text("SELECT state, first_contact_at, sla_state_json FROM cases")).all()
    out: Counter = Counter()
    for state, contacted, js in rows:
        if state not in OPEN:
            continue
        if contacted is not None:
            out["contacted"] += 1
            continue
        f = fraction_used(state_from_json(js), as_of, cal)
        out["within" if f < 0.5 else "warning" if f < 1 else "breached"] += 1
        out["max_over"] = max(out["max_over"], int(f))
    return out


def _assert_live_queue(db: str, as_of: dt.datetime) -> None:
    mix = _mix(db, as_of)
    assert mix["within"] >= 3 and mix["warning"] >= 2 and 1 <= mix["breached"] <= mix["within"], mix
    assert mix["max_over"] <= 30, f"a waiting case is {mix['max_over']}× over its budget: {mix}"


def test_history_ends_at_as_of_and_the_queue_is_live(monday):
    db, run = monday
    at = demo_as_of(MONDAY)
    assert run.as_of == at == dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)
    eng = sa.create_engine(f"sqlite:///{db}")
    with eng.connect() as c:
        latest = {t: c.execute(sa.text(q)).scalar() for t, q in {
            "review": "SELECT MAX(created_at) FROM reviews", "order": "SELECT MAX(created_at) FROM orders",
            "event": "SELECT MAX(at) FROM case_events", "case": "SELECT MAX(created_at) FROM cases"}.items()}
        due_today = c.execute(sa.text("SELECT COUNT(*) FROM followups WHERE state = 'open' AND due_at >= :a AND "
                                      "due_at < :b"), {"a": "2026-11-29 16:00:00", "b": "2026-11-30 16:00:00"}).scalar()
        stale = c.execute(sa.text("SELECT COUNT(*) FROM followups WHERE state = 'open' AND due_at < :a"),
                          {"a": "2026-11-27 16:00:00"}).scalar()
    eng.dispose()
    for what, t in latest.items():
        t = dt.datetime.fromisoformat(str(t)).replace(tzinfo=dt.UTC)
        assert at - dt.timedelta(hours=12) < t <= at, (what, t)
    assert due_today > 0 and stale == 0, (due_today, stale)
    _assert_live_queue(db, at)


@pytest.mark.parametrize("as_of, clock", [
    ("2026-12-05T23:30", "always"),      # a Saturday night
    ("2026-10-01T10:00", "business"),    # 国庆, a holiday, business hours with holidays (2027 is still future)
    ("2026-12-05T23:30", "business"),    # Saturday night on business hours: the budget ran on Friday
    ("2026-09-27T11:00", "business"),    # a 调休 Sunday that is a working day (国庆 2026)
])
def test_live_queue_on_any_day_and_clock(tmp_path, as_of, clock):
    db, run = _run(tmp_path, 0.02, as_of, {"sla_clock": clock, "use_cn_holidays": "是"})
    _assert_live_queue(db, run.as_of)
    assert _default_settings() == _PRISTINE  # the process's default policy is left as it was


def _digests(files) -> dict[str, str]:
    return {f.path.name: hashlib.sha256(f.path.read_bytes()).hexdigest() for f in files}


def _dump(path: str) -> dict[str, list[tuple[str, ...]]]:
    """Every table of the store, rows sorted, except the users' password hashes (salted at random)."""
    eng = sa.create_engine(f"sqlite:///{path}")
    with eng.connect() as c:
        names = [t for (t,) in c.execute(sa.text("SELECT name FROM sqlite_master WHERE type='table'"))]
        out = {}
        for t in sorted(names):
            cols = [r[1] for r in c.execute(sa.text(f'PRAGMA table_info("{t}")'))
                    if not (t == "users" and r[1] == "password_hash")]
            out[t] = sorted(tuple(map(str, r)) for r in c.execute(sa.text(
                f'SELECT {", ".join(chr(34) + x + chr(34) for x in cols)} FROM "{t}"')))
    eng.dispose()
    return out


_OTHER_PROCESS = """
import hashlib, json, sys
from pathlib import Path
from reviewops.demo import run_demo
tmp = Path(sys.argv[1])
run = run_demo(str(tmp / "demo.db"), scale=0.02, as_of=sys.argv[2], out_dir=tmp / "out", password="demo-pass-1")
print(json.dumps({"files": {f.path.name: hashlib.sha256(f.path.read_bytes()).hexdigest() for f in run.demo.files},
                  "history": run.history}))
"""


def test_same_seed_same_as_of_same_bytes_and_store(tmp_path):
    """Two runs with the same seed and as-of, seconds apart (so the real clock differs) and in two processes
    with different string hashing (PYTHONHASHSEED): identical export files and identical stores, table by
    table, apart from the salted password hashes."""
    import json
    import os
    import subprocess
    import sys

    (tmp_path / "a").mkdir()
    db, run = _run(tmp_path / "a", 0.02, MONDAY)
    other = tmp_path / "b"
    other.mkdir()
    env = dict(os.environ, REVIEWOPS_PII_KEY=PII,
               PYTHONHASHSEED="2" if os.environ.get("PYTHONHASHSEED") == "1" else "1")
    env.pop("REVIEWOPS_DB", None)
    proc = subprocess.run([sys.executable, "-c", _OTHER_PROCESS, str(other), MONDAY], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])

    assert any("追评改评" in f.path.name for f in run.demo.files)
    assert any("飞鸽" in f.path.name for f in run.demo.files)
    assert _digests(run.demo.files) == got["files"]
    assert run.history == got["history"]
    a, b = _dump(db), _dump(str(other / "demo.db"))
    assert a.keys() == b.keys()
    assert [t for t in a if a[t] != b[t]] == []


def test_as_of_is_parsed_as_beijing_time_and_never_future():
    assert demo_as_of("2026-11-30 09:00") == dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)
    assert demo_as_of("2026-11-30T09:00+00:00") == dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
    with pytest.raises(ConfigError, match="as-of"):
        demo_as_of("next monday")
    with pytest.raises(ConfigError, match="future"):
        demo_as_of(dt.datetime.now(dt.UTC) + dt.timedelta(days=2))


def test_review_texts_fit_their_product(monday):
    """No sentence written for one product appears on a review of another (generic texts may)."""
    from python_calamine import CalamineWorkbook

    _, run = monday
    products = catalogue()
    code_of = {}
    import random

    for p in catalogue(random.Random(run.demo.seed)):
        for platform, pid in p.platform_id.items():
            code_of[(platform, pid)] = p.code
    own = {c: set(q) | set(pr) for c, (q, pr, _) in _PRODUCT_TEXTS.items()}
    generic = set(_POSITIVE_GENERIC)
    checked = 0
    for f in run.demo.files:
        if f.kind != "reviews":
            continue
        if f.path.suffix == ".xlsx":
            rows = CalamineWorkbook.from_path(str(f.path)).get_sheet_by_name(
                CalamineWorkbook.from_path(str(f.path)).sheet_names[0]).to_python()
        else:
            import csv

            rows = list(csv.reader(f.path.read_text("utf-8-sig").splitlines()))
        head = [str(h).strip() for h in rows[0]]
        pid_col = next(i for i, h in enumerate(head) if h in ("宝贝ID", "商品ID", "商品id", "商品编号"))
        text_cols = [i for i, h in enumerate(head) if h in ("评价内容", "追评内容")]
        for r in rows[1:]:
            pid = str(r[pid_col]).strip().strip("\t")
            if isinstance(r[pid_col], float):
                pid = str(int(r[pid_col]))
            code = code_of[(f.platform, pid)]
            text = " ".join(str(r[i]) for i in text_cols)
            for other, sentences in own.items():
                if other == code:
                    continue
                wrong = [s for s in sentences - own[code] - generic
                         if s in text and not any(s in o for o in own[code] | generic)]
                assert not wrong, (f.name, code, other, wrong, text)
            checked += 1
    assert checked >= run.demo.spec.reviews
    assert len(products) == len(_PRODUCT_TEXTS)


def test_reports_have_true_figures_on_every_platform(monday):
    """customer_value, weekly_top3 and the staff scorecard on the demo: non-zero, plausible, per platform."""
    from reviewops.reporting.outcomes import customer_value
    from reviewops.reporting.reports import iso_week, weekly_top3
    from reviewops.reporting.scorecard import staff_scorecard

    db, run = monday
    at = run.as_of
    assert run.history["after_revised"] > 0 and run.history["after_repurchased"] > 0
    with Store.open(db) as store:
        cv = customer_value(store, at - dt.timedelta(days=60), at, now=at)
        last_week = weekly_top3(store, iso_week(at - dt.timedelta(days=7)), now=at)
        sc = staff_scorecard(store, at - dt.timedelta(days=28), at, now=at)
        with store.read() as conn:
            per = conn.execute(sa.text(
                "SELECT s.platform, COUNT(*), SUM(r.version > 1 AND r.rating_class = 'positive') FROM cases c "
                "JOIN reviews r ON r.id = c.review_pk JOIN shops s ON s.id = c.shop_id "
                "WHERE c.resolved_at IS NOT NULL GROUP BY s.platform")).all()
    rep = cv.repurchase.set_index("shop")
    shops = [s for s in rep.index if s != "合计 total"]
    assert len(shops) == 4
    for s in shops:
        assert rep.loc[s, "handled"] > 0 and rep.loc[s, "handled_repurchased"] > 0, rep.loc[s].to_dict()
    total = rep.loc["合计 total"]
    assert 0.1 <= total["handled_rate"] <= 0.7 and 0.05 <= total["baseline_rate"] <= 0.5, total.to_dict()
    conv = cv.conversion.iloc[0]
    assert 0.15 <= conv["rate"] <= 0.65, conv.to_dict()  # plausible, below the playbook's 78 % target
    assert all(n > 0 and 0 < k < n for _, n, k in per), per  # revisions on every platform, never all
    assert last_week.reviews > 0 and last_week.negative > 0 and last_week.resolved > 0 and len(last_week.top3)
    assert sc.agents["handled"].sum() > 0 and sc.agents["revised"].sum() > 0


def test_the_demo_has_ambassadors_and_referred_orders_in_the_reports(monday):
    """推荐大使 in the demo (issue 20): invited through the programme, friends' orders carrying the code in 买家留言
    imported as order exports, recognised and rewarded; the weekly figures match a count made with plain SQL."""
    from reviewops.handling.ambassadors import shop_results
    from reviewops.reporting.reports import iso_week, weekly_top3

    db, run = monday
    at = run.as_of
    assert run.history["after_ambassadors_invited"] >= run.history["after_ambassadors_active"] > 0
    assert run.history["after_referred_orders"] > 0
    assert any("推荐订单" in f.path.name for f in run.demo.files)
    with Store.open(db) as store:
        res = shop_results(store)
        with store.read() as conn:
            # independent: orders whose 买家留言 holds an active ambassador's code, placed after the consent,
            # not closed and not fully refunded
            orders = conn.execute(sa.text(
                "SELECT COUNT(*) FROM orders o JOIN ambassadors a ON a.shop_id = o.shop_id AND a.state = 'active' "
                "AND o.buyer_message LIKE '%' || a.referral_code || '%' AND o.created_at >= a.consent_at "
                "WHERE o.status_raw NOT LIKE '%关闭%' AND o.status_raw NOT LIKE '%取消%' AND o.paid_fen > 0 "
                "AND COALESCE(o.refund_fen, 0) < o.paid_fen")).scalar()
            sent = conn.execute(sa.text("SELECT COUNT(*) FROM ambassador_messages WHERE state = 'sent'")).scalar()
            start = at - dt.timedelta(days=7)
            week = weekly_top3(store, iso_week(start), now=at)
            cost = conn.execute(sa.text(
                "SELECT COALESCE(SUM(amount_fen), 0) FROM ambassador_rewards WHERE state IN ('approved', 'delivered') "
                "AND requested_at >= :s AND requested_at < :e"), {"s": week.start.astimezone(dt.UTC).replace(tzinfo=None),
                                                                   "e": week.end.astimezone(dt.UTC).replace(tzinfo=None)}
            ).scalar()
    assert int(res["referred_orders"].sum()) == orders > 0
    assert int(res["cost_fen"].sum()) >= 5000 * orders  # a 50-yuan coupon per order, plus the gifts
    assert sent >= 2 * run.history["after_ambassadors_active"]  # the invitation and the code, at least
    assert week.ambassadors["total"] == cost


def test_the_demo_printout_counts_down_at_the_as_of(tmp_path, capsys):
    """`reviewops demo --as-of <past>`: the queue's 剩余 is measured at the as-of moment (the demo's now), so a
    reproducible run a week later still shows the live mix, not every case thousands of minutes overdue."""
    import json

    from reviewops.cli import main
    from reviewops.handling.opening import open_queue

    db = str(tmp_path / "d.db")
    assert main(["demo", "--db", db, "--scale", "0.02", "--as-of", MONDAY, "--json", "--limit", "500",
                 "--demo-password", "demo-pass-1"]) == 0
    shown = {q["case_id"]: q["minutes_left"] for q in json.loads(capsys.readouterr().out)["queue"]}
    with Store.open(db) as store:
        at_as_of = open_queue(store, limit=500, now=demo_as_of(MONDAY))
    expected = {int(r.case_id): (None if r.minutes_left is None or r.minutes_left != r.minutes_left
                                 else int(r.minutes_left)) for r in at_as_of.itertuples()}
    assert shown == expected
    waiting = [m for m in shown.values() if m is not None]
    assert waiting and any(m > 0 for m in waiting), waiting  # some still within their SLA at the as-of
