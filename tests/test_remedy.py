"""Remedy by order value and tier (H1, D3): golden values at the band edges, tiers, properties."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reviewops import ConfigError, Policy, default_policy, remedy_for, tier_of
from reviewops.core.policy import TABLES, _json_to_cell

TODAY = dt.date(2025, 10, 1)


@pytest.mark.parametrize("fen, remedy, coupon, approver", [
    (0, "refund", 500, "agent"),
    (9999, "refund", 500, "agent"),
    (10000, "refund", 500, "agent"),        # exactly 100 yuan is "≤ 100"
    (10001, "resend", 1000, "agent"),       # 100.01 yuan is in 100–300
    (30000, "resend", 1000, "agent"),
    (30001, "supervisor", None, "supervisor"),
    (10**12, "supervisor", None, "supervisor"),
])
def test_playbook_bands(fen, remedy, coupon, approver):
    r = remedy_for(fen)
    assert (r.remedy, r.coupon_fen, r.approver_role, r.tier) == (remedy, coupon, approver, "regular")
    assert "审批" in r.reason


def test_tier_gifts_follow_the_playbook():
    high = remedy_for(5000, "high_value")
    assert high.gift == "VIP专属礼包" and high.gift_cost_limit_fen == 3000 and "成本 ≤ 30 元" in high.reason
    silent = remedy_for(5000, tier_of(0, 3, dt.date(2025, 1, 1), today=TODAY))
    assert silent.tier == "silent" and silent.gift_cost_limit_fen == 1500
    assert "优惠券" in remedy_for(5000, "new").approach


@pytest.mark.parametrize("spend, orders, last, tier", [
    (100000, 9, dt.date(2025, 9, 30), "high_value"),   # ≥ 1000 yuan a year
    (99999, 9, dt.date(2025, 9, 30), "regular"),
    (100000, 9, dt.date(2024, 1, 1), "high_value"),    # high value wins over silent (priority)
    (0, 5, dt.date(2025, 4, 4), "silent"),             # 180 days
    (0, 5, dt.date(2025, 4, 5), "regular"),            # 179 days
    (0, 1, dt.date(2025, 9, 1), "new"),
    (0, 0, None, "new"),
    (0, 5, None, "regular"),                           # no known last order: not silent
])
def test_tiers(spend, orders, last, tier):
    t = tier_of(spend, orders, last, today=TODAY)
    assert t.code == tier and t.name_zh in t.reason


def test_datetime_last_order_is_read_as_a_date():
    assert tier_of(0, 5, dt.datetime(2025, 4, 4, 23, 59), today=TODAY).code == "silent"


@pytest.mark.parametrize("call", [
    lambda: remedy_for(99.5),
    lambda: remedy_for(-1),
    lambda: remedy_for(True),
    lambda: remedy_for(100, "vip"),
    lambda: tier_of(100, -1, None),
    lambda: tier_of(100, 1, "2025-01-01"),
])
def test_bad_input_is_named(call):
    with pytest.raises(ConfigError):
        call()


def test_an_edited_policy_moves_the_bands():
    raw = {k: [{c: _json_to_cell(TABLES[k], c, v) for c, v in r.items()} for r in rows]
           for k, rows in default_policy().tables.items()}
    raw["remedy_bands"][0]["max_fen"] = "50"
    raw["remedy_bands"][1]["min_fen"] = "50"
    p = Policy.from_tables(raw, source="edit")
    assert remedy_for(6000, policy=p).remedy == "resend"
    assert remedy_for(6000).remedy == "refund"


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**9), st.integers(0, 10**9))
def test_bands_are_monotone_and_total(a, b):
    order = ["refund", "resend", "supervisor"]
    lo, hi = sorted((a, b))
    assert order.index(remedy_for(lo).remedy) <= order.index(remedy_for(hi).remedy)
