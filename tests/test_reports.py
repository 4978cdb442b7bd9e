"""The weekly 差评TOP3 figures (SPEC D2): weeks, counts and trend, top causes, SLA, remedies."""

from __future__ import annotations

import datetime as dt

import pytest

from reviewops.core.errors import ConfigError
from reviewops.reporting.reports import iso_week, week_bounds, weekly_top3
from reviewops.core.store import utcnow
from reviewops.handling.workbench import Workbench

from wb_fixtures import make_case, make_users


def test_weeks_are_iso_weeks_in_beijing_time():
    start, end = week_bounds("2026-W47")
    assert (start.isoformat(), end.isoformat()) == ("2026-11-16T00:00:00+08:00", "2026-11-23T00:00:00+08:00")
    assert iso_week(dt.datetime(2026, 11, 15, 16, 30, tzinfo=dt.timezone.utc)) == "2026-W47"  # Monday 00:30 in Beijing
    assert iso_week(dt.datetime(2026, 11, 15, 15, 59, tzinfo=dt.timezone.utc)) == "2026-W46"
    for bad in ("2026-47", "W47", "2026-W54", ""):
        with pytest.raises(ConfigError, match="2026-W47|没有这一周"):
            week_bounds(bad)


def test_the_weeks_top_three_causes_with_examples_skus_and_actions(sqlite_store, tmp_path):
    texts = ["快递太慢了，一个星期才到"] * 3 + ["质量太差，穿一次就开线了"] * 2 + ["尺码偏小，穿不上"] + \
        ["太贵了，买贵了不值这个价"]
    ids = [make_case(sqlite_store, tmp_path, text=t + f"（第{i}单，电话13800138000）", customer=f"c{i}")
           for i, t in enumerate(texts)]
    assert len(ids) == 7
    r = weekly_top3(sqlite_store, "2026-W47", examples=2)
    assert (r.week, r.reviews, r.negative, r.rate) == ("2026-W47", 7, 7, 1.0)
    assert list(r.trend["week"]) == ["2026-W44", "2026-W45", "2026-W46", "2026-W47"]
    assert list(r.trend["negative"]) == [0, 0, 0, 7]
    top = r.top3.set_index("rank")
    assert list(top["category"]) == ["logistics", "quality", "size"]  # size beats price on the policy's priority
    assert list(top["cases"]) == [3, 2, 1] and top.loc[1, "department"] == "物流" and "快递" in top.loc[1, "action"]
    assert len(top.loc[1, "examples"]) == 2 and all("138****8000" in e for e in top.loc[1, "examples"])
    assert top.loc[1, "skus"] == ["外套（3）"]
    assert weekly_top3(sqlite_store, "2026-W46").top3.empty


def test_sla_compliance_and_remedies_of_the_week(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    a = Workbench(sqlite_store, u["a1"])
    answered = make_case(sqlite_store, tmp_path, text="快递太慢了", customer="x1", paid_fen=5000)
    make_case(sqlite_store, tmp_path, text="质量太差了", customer="x2")
    v = a.record_contact(answered, 1, channel="chat", note="已联系")
    p = a.propose(answered, v, [{"kind": "refund", "amount_fen": 5000}, {"kind": "coupon", "amount_fen": 500}])
    a.resolve(answered, a.deliver(answered, p.version), satisfied=True)
    r = weekly_top3(sqlite_store, "2026-W47", now=utcnow() + dt.timedelta(days=1))
    assert (r.sla["met"], r.sla["late"], r.sla["breached_unanswered"], r.sla["compliance"]) == (1, 0, 1, 0.5)
    assert r.sla["first_contact_hours_median"] < 1 and r.resolved == 1 and r.revised == 0
    assert dict(zip(r.remedies["kind"], r.remedies["amount_fen"])) == {"coupon": 500, "refund": 5000}
    assert weekly_top3(sqlite_store, "2026-W47").sla["breached_unanswered"] == 0  # not yet past its 4 h


# ------------------------------------------------------------------ platform appeals (issue 17 §3)
UTC = dt.timezone.utc
BJ = dt.timezone(dt.timedelta(hours=8))
REVIEW_AT = dt.datetime(2026, 10, 1, 10, 0, tzinfo=BJ)  # Taobao, extortion: 30 calendar days
DEADLINE = REVIEW_AT + dt.timedelta(days=30)  # 2026-10-31 10:00 Beijing, in 2026-W44


def _utc(month: int, day: int, hour: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, 0, tzinfo=UTC)


def _malicious(store, tmp_path, customer: str, shop: str = "测试店", malicious: bool = True) -> int:
    """A bad review of REVIEW_AT turned into a case; marked malicious by hand (as tests/test_appeals.py does)."""
    import sqlalchemy as sa
    from reviewops.core import store as st

    cid = make_case(store, tmp_path, text="质量太差了，垃圾", customer=customer, shop=shop)
    with store.write() as conn:
        pk, version = conn.execute(sa.select(st.cases.c.review_pk, st.cases.c.version)
                                   .where(st.cases.c.id == cid)).one()
        conn.execute(st.reviews.update().where(st.reviews.c.id == pk).values(created_at=REVIEW_AT))
        if malicious:
            st.update_case(conn, cid, version, {"primary_category": "malicious", "categories": "malicious",
                                                "owner_role": "legal"}, actor="test", via="test")
    return cid


def _appeal(store, actor, case_id: int, out, *, built, submitted=None, decided=None, accepted=True) -> int:
    from reviewops.core.store import clock
    from reviewops.handling import appeals as ap

    with clock(built):
        appeal_id = ap.build_packet(store, actor, case_id, out_dir=out).appeal_id
    if submitted is not None:
        with clock(submitted):
            ap.submit_appeal(store, actor, appeal_id, f"REF-{case_id}")
    if decided is not None:
        with clock(decided):
            ap.decide_appeal(store, actor, appeal_id, accepted, None if accepted else "证据不足")
    return appeal_id


@pytest.fixture
def appeal_world(store, tmp_path, monkeypatch):
    """Cases of 2026-10-01 (appeal deadline 2026-10-31 02:00 UTC, in 2026-W44), each with a known fate:

    A filed 10-27 (in time), won 10-28 · B filed 10-29 (in time), lost 11-03 (2026-W45) · C filed 10-31 05:00 UTC
    (late), never decided · D malicious, never appealed · E packet drafted, never filed · F not malicious ·
    G another shop's, filed 10-29 (in time), never decided.
    """
    monkeypatch.setattr("reviewops.grading.classify.default_model", lambda: None, raising=False)
    monkeypatch.delenv("REVIEWOPS_EVIDENCE_DIR", raising=False)
    legal = make_users(store)["l1"]
    out = tmp_path / "packets"
    ids = {k: _malicious(store, tmp_path, f"ap-{k}") for k in "ABCDE"}
    ids["F"] = _malicious(store, tmp_path, "ap-F", malicious=False)
    ids["G"] = _malicious(store, tmp_path, "ap-G", shop="二店")
    _appeal(store, legal, ids["A"], out, built=_utc(10, 27, 1), submitted=_utc(10, 27), decided=_utc(10, 28))
    _appeal(store, legal, ids["B"], out, built=_utc(10, 28), submitted=_utc(10, 29), decided=_utc(11, 3),
            accepted=False)
    _appeal(store, legal, ids["C"], out, built=_utc(10, 30), submitted=_utc(10, 31, 5))
    _appeal(store, legal, ids["E"], out, built=_utc(10, 29))
    _appeal(store, legal, ids["G"], out, built=_utc(10, 28), submitted=_utc(10, 29))
    return {"ids": ids, "legal": legal}


def _hand_count(store, start, end, now, shop_ids=None) -> dict:
    """The figures counted again from the stored rows with plain loops (the hand count's rules)."""
    import sqlalchemy as sa
    from reviewops.core import store as st

    def aware(t):
        return None if t is None else (t if t.tzinfo else t.replace(tzinfo=UTC))

    with store.read() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(st.appeals).order_by(st.appeals.c.id)).mappings()]
        mal = conn.execute(sa.select(st.cases.c.id, st.cases.c.shop_id).where(
            st.cases.c.primary_category == "malicious")).all()
    rows = [r for r in rows if shop_ids is None or r["shop_id"] in shop_ids]
    cutoff = min(end, now)
    sub = [aware(r["submitted_at"]) for r in rows]
    dec = [aware(r["decided_at"]) for r in rows]
    won = sum(1 for r, d in zip(rows, dec) if d and start <= d < end and r["state"] == "accepted")
    lost = sum(1 for r, d in zip(rows, dec) if d and start <= d < end and r["state"] == "rejected")
    due = in_time = 0
    for cid, shop in mal:
        if shop_ids is not None and shop not in shop_ids:
            continue
        mine = [r for r in rows if r["case_id"] == cid]
        deadline = aware(mine[0]["deadline_at"]) if mine else DEADLINE.astimezone(UTC)
        if start <= deadline < end and deadline <= now:
            due += 1
            in_time += bool(mine and mine[0]["submitted_at"] and aware(mine[0]["submitted_at"]) <= deadline)
    return {"filed": sum(1 for s in sub if s and start <= s < end), "won": won, "lost": lost,
            "pending": sum(1 for s, d in zip(sub, dec) if s and s < cutoff and (d is None or d >= cutoff)),
            "due": due, "in_time": in_time, "in_time_rate": (in_time / due) if due else None}


def test_appeal_figures_of_the_week_match_the_hand_count(store, appeal_world):
    from reviewops.reporting.reports import appeal_figures, report_figures

    later = _utc(12, 1)
    w44, w45 = week_bounds("2026-W44"), week_bounds("2026-W45")
    assert w44[0] <= DEADLINE < w44[1]
    r = weekly_top3(store, "2026-W44", now=later)
    # by hand: filed A B C G; won A; lost none (B is lost in W45); awaiting the platform at the week's end
    # B C G; deadlines that fell: A B C D E G, first filed by the deadline A B G
    assert r.appeals == {"filed": 4, "won": 1, "lost": 0, "pending": 3, "due": 6, "in_time": 3, "in_time_rate": 0.5}
    assert r.appeals == _hand_count(store, *w44, later)
    assert weekly_top3(store, "2026-W45", now=later).appeals == {
        "filed": 0, "won": 0, "lost": 1, "pending": 2, "due": 0, "in_time": 0, "in_time_rate": None}
    assert appeal_figures(store, *w45, now=later) == _hand_count(store, *w45, later)
    # one shop (G is 二店's): the report's shop filter applies
    shop1 = _shop_of(store, appeal_world["ids"]["A"])
    assert _shop_of(store, appeal_world["ids"]["G"]) != shop1
    fig = report_figures(store, *w44, shop_ids=[shop1], now=later)
    assert fig.appeals == {"filed": 3, "won": 1, "lost": 0, "pending": 2, "due": 5, "in_time": 2, "in_time_rate": 0.4}
    assert fig.appeals == _hand_count(store, *w44, later, shop_ids={shop1})
    # before the deadline nothing has fallen due yet
    early = appeal_figures(store, *w44, now=_utc(10, 30))
    assert (early["due"], early["in_time"], early["in_time_rate"]) == (0, 0, None)
    # a week without appeals
    assert weekly_top3(store, "2026-W40", now=later).appeals["filed"] == 0


def _shop_of(store, case_id: int) -> int:
    import sqlalchemy as sa
    from reviewops.core import store as st

    with store.read() as conn:
        return int(conn.execute(sa.select(st.cases.c.shop_id).where(st.cases.c.id == case_id)).scalar_one())


def test_appeal_figures_on_the_dashboard_and_its_table(store, appeal_world):
    from reviewops.core.users import get_actor
    from reviewops.reporting.dashboard import APPEAL_LABELS, appeal_table, dashboard_figures, figures_summary

    boss = get_actor(store, "boss")  # admin: every shop
    fig = dashboard_figures(store, boss, dt.date(2026, 10, 26), dt.date(2026, 11, 1), now=_utc(12, 1))
    summary = figures_summary(fig)
    assert (summary["appeals_filed"], summary["appeals_won"], summary["appeals_lost"], summary["appeals_pending"],
            summary["appeals_in_time_rate"]) == (4, 1, 0, 3, 0.5)
    table = appeal_table(fig.appeals)
    assert list(table.columns) == ["指标", "数值"] and list(table["指标"]) == list(APPEAL_LABELS.values())
    shown = dict(zip(table["指标"], table["数值"]))
    assert shown[APPEAL_LABELS["filed"]] == "4" and shown[APPEAL_LABELS["lost"]] == "0"
    assert shown[APPEAL_LABELS["in_time_rate"]] == "50.0%" and shown[APPEAL_LABELS["due"]] == "6"
    assert appeal_table(fig.appeals | {"due": 0, "in_time": 0, "in_time_rate": None})["数值"].iloc[-1] == "—"
