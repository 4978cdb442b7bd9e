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
