"""Customer value (V4) on hand-built inline data, both backends: repurchase windows, baseline, win-back, NPS."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reviewops.core.errors import ConfigError
from reviewops.reporting.outcomes import OUTCOME_COLUMNS, customer_value, nps_points
from reviewops.reporting.measures import SMALL_SAMPLE
from test_scorecard import END, START, World, d, policy_with

NOW = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)  # every repurchase window of October has closed


def total(value) -> dict:
    [r] = value.repurchase[value.repurchase["shop_id"].isna()].to_dict("records")
    return r


def test_repurchase_window_counts_day_n_not_day_n_plus_1(store) -> None:
    w = World(store)
    resolved = d(10, 15)
    a, b, c = w.customer(), w.customer(), w.customer()
    for cust in (a, b, c):
        w.order(cust, d(1, month=9))  # the order behind the case
        w.case(created=d(5), agent="a1", contact=d(5, 11), resolved=resolved, satisfied=True, customer_id=cust)
    w.order(a, resolved + dt.timedelta(days=30))  # day 30 of a 30-day window: counts
    w.order(b, resolved + dt.timedelta(days=31))  # day 31: does not
    w.order(c, resolved - dt.timedelta(hours=1))  # before the resolution: does not
    value = customer_value(store, START, END, policy=policy_with(repurchase_window_days="30"), now=NOW, min_sample=1)
    t = total(value)
    assert (t["handled"], t["handled_repurchased"]) == (3, 1)
    assert t["handled_rate"] == pytest.approx(1 / 3)
    assert value.window_days == 30 and value.notes == []


def test_baseline_is_buyers_of_the_period_without_any_case(store) -> None:
    w = World(store)
    handled, earlier_case, b1, b2, b3, late = (w.customer() for _ in range(6))
    w.case(created=d(5), agent="a1", contact=d(5, 11), resolved=d(6), satisfied=True, customer_id=handled)
    w.order(handled, d(7))  # a handled customer buying in the period is not baseline …
    w.order(handled, d(8))  # … and this is their repurchase
    w.case(created=d(5, month=8), agent="a1", contact=d(5, 11, 8), resolved=d(6, 10, 8), customer_id=earlier_case)
    w.order(earlier_case, d(9))  # had a case (before the period): not baseline either
    w.order(earlier_case, d(10))
    w.order(b1, d(3))
    w.order(b1, d(3) + dt.timedelta(days=90))  # within 90 days of the first order in the period
    w.order(b2, d(4))
    w.order(b2, d(4) + dt.timedelta(days=91))  # outside
    w.order(b3, d(20))
    w.order(b3, d(20), paid_fen=0)  # unpaid: not an order
    w.order(late, d(5, month=11))  # buys after the period: not in the period's baseline
    value = customer_value(store, START, END, now=NOW, min_sample=1)
    t = total(value)
    assert (t["baseline"], t["baseline_repurchased"]) == (3, 1)
    assert (t["handled"], t["handled_repurchased"]) == (1, 1)
    assert t["difference_points"] == pytest.approx((1 - 1 / 3) * 100)
    [shop_row] = value.repurchase[value.repurchase["shop_id"].notna()].to_dict("records")
    assert shop_row["shop_id"] == w.shop_id and shop_row["baseline"] == 3 and "店A" in shop_row["shop"]
    assert list(value.repurchase.columns) == [c for c, _, _ in OUTCOME_COLUMNS["repurchase"]]


def test_shop_filter_keeps_other_shops_out(store) -> None:
    w = World(store)
    other = w.shop("店B")
    a, b = w.customer(), w.customer(shop_id=other)
    w.case(created=d(5), agent="a1", contact=d(5, 11), resolved=d(6), customer_id=a)
    w.case(created=d(5), agent="a1", contact=d(5, 11), resolved=d(6), customer_id=b, shop_id=other)
    w.order(b, d(9), shop_id=other)
    value = customer_value(store, START, END, now=NOW, shop_ids=[w.shop_id], min_sample=1)
    assert total(value)["handled"] == 1 and total(value)["handled_repurchased"] == 0
    assert list(value.repurchase["shop_id"].dropna()) == [w.shop_id]
    with pytest.raises(ConfigError, match="9999"):
        customer_value(store, START, END, now=NOW, shop_ids=[9999])
    both = customer_value(store, START, END, now=NOW, min_sample=1)
    assert total(both)["handled"] == 2 and total(both)["handled_repurchased"] == 1


def test_small_samples_are_flagged(store) -> None:
    w = World(store)
    cust = w.customer()
    w.case(created=d(5), agent="a1", contact=d(5, 11), resolved=d(6), customer_id=cust)
    value = customer_value(store, START, END, now=NOW, min_sample=2)
    assert total(value)["note"] == SMALL_SAMPLE
    assert value.conversion.iloc[0]["note"] == SMALL_SAMPLE and value.conversion.iloc[0]["resolved"] == 1
    assert customer_value(store, START, END, now=NOW, min_sample=1).conversion.iloc[0]["note"] == ""
    # without an explicit min_sample the policy's setting decides (default 10)
    assert customer_value(store, START, END, now=NOW).conversion.iloc[0]["note"] == SMALL_SAMPLE
    assert customer_value(store, START, END, now=NOW, policy=policy_with(min_sample="1")).conversion.iloc[0]["note"] == ""


def test_nps_handled_vs_other_and_change_against_the_previous_period(store) -> None:
    w = World(store)
    h1, h2, o1 = w.customer(), w.customer(), w.customer()
    c1 = w.case(created=d(5), agent="a1", contact=d(5, 11), resolved=d(6), customer_id=h1)
    w.case(created=d(5), agent="a1", contact=d(5, 11), resolved=d(7), customer_id=h2)
    for score in (10, 9):
        w.survey("nps", score, d(15), case_id=c1)  # by case
    w.survey("nps", 8, d(15), customer_id=h2)  # by customer
    w.survey("nps", 3, d(16), customer_id=h2)
    w.survey("nps", 0, d(16), customer_id=o1)
    w.survey("nps", 10, d(17))
    w.survey("csat", 5, d(17), customer_id=o1)  # CSAT is not NPS
    # the previous period has the same length as October (31 days): 31 Aug 00:00 to 1 Oct 00:00 Beijing
    w.survey("nps", 10, d(15, month=9))
    w.survey("nps", 2, d(31, 1, month=8))  # inside the previous period
    w.survey("nps", 10, d(30, 23, month=8))  # before it
    value = customer_value(store, START, END, now=NOW, min_sample=1)
    n = value.nps.set_index("group")
    assert (n.loc["handled", "n"], n.loc["handled", "promoters"], n.loc["handled", "passives"],
            n.loc["handled", "detractors"]) == (4, 2, 1, 1)
    assert n.loc["handled", "nps"] == pytest.approx(25.0)
    assert n.loc["other", "nps"] == pytest.approx(0.0) and n.loc["other", "n"] == 2
    assert n.loc["all", "nps"] == pytest.approx((3 - 2) / 6 * 100)
    assert n.loc["all", "prev_n"] == 2 and n.loc["all", "prev_nps"] == pytest.approx(0.0)
    assert n.loc["all", "change"] == pytest.approx((3 - 2) / 6 * 100)
    assert n.loc["handled", "prev_nps"] is None and n.loc["handled", "change"] is None


def test_nps_without_answers_is_no_data(store) -> None:
    World(store)
    value = customer_value(store, START, END, now=NOW)
    assert list(value.nps["note"]) == ["无数据"] * 3 and list(value.nps["nps"]) == [None] * 3


def test_winback_coupons_and_silent_customers(store) -> None:
    w = World(store)
    loyal, silent, quiet = w.customer(), w.customer(), w.customer()
    w.order(loyal, d(1, month=9))
    w.order(silent, dt.datetime(2026, 1, 2, tzinfo=dt.UTC))  # ≥ 180 days before the case
    w.order(quiet, dt.datetime(2026, 6, 1, tzinfo=dt.UTC))  # 126 days: not silent
    cases = {}
    for cust in (loyal, silent, quiet):
        cases[cust] = w.case(created=d(5), agent="a1", contact=d(5, 11), resolved=d(6), customer_id=cust)
    w.compensation(cases[loyal], 1000, kind="repurchase_coupon", at=d(6, 12), customer_id=loyal)
    w.compensation(cases[silent], 1000, kind="repurchase_coupon", at=d(6, 12), customer_id=silent)
    w.compensation(cases[quiet], 1000, kind="repurchase_coupon", state="pending", at=d(6, 12), customer_id=quiet)
    w.order(loyal, d(20), paid_fen=12900)
    w.order(silent, d(21), paid_fen=4500)
    value = customer_value(store, START, END, now=NOW, min_sample=1)
    wb = value.winback.set_index("measure")
    assert (wb.loc["repurchase_coupon", "customers"], wb.loc["repurchase_coupon", "reordered"]) == (2, 2)
    assert wb.loc["repurchase_coupon", "order_fen"] == 12900 + 4500
    # silent: last order before the case ≥ 180 days earlier (the policy's silent tier): only `silent`
    assert (wb.loc["silent", "customers"], wb.loc["silent", "reordered"]) == (1, 1)
    assert wb.loc["silent", "order_fen"] == 4500


def test_conversion_counts_revised_resolved_cases(store) -> None:
    w = World(store)
    for revised in (True, True, False):
        w.case(created=d(5), agent="a1", contact=d(5, 11), resolved=d(6), revised=revised)
    w.case(created=d(5), agent="a1", contact=d(5, 11), revised=True)  # not resolved: not counted
    value = customer_value(store, START, END, now=NOW, min_sample=1)
    c = value.conversion.iloc[0]
    assert (c["resolved"], c["revised"]) == (3, 2) and c["rate"] == pytest.approx(2 / 3)
    assert c["example"] == pytest.approx(0.78)


def test_open_windows_are_noted_and_bad_periods_refused(store) -> None:
    w = World(store)
    cust = w.customer()
    w.case(created=d(5), agent="a1", contact=d(5, 11), resolved=d(6), customer_id=cust)
    value = customer_value(store, START, END, now=d(20))
    assert value.notes and "尚未结束" in value.notes[0]
    with pytest.raises(ConfigError):
        customer_value(store, END, START)


@given(st.lists(st.integers(0, 10), max_size=40))
def test_nps_points_is_promoter_share_minus_detractor_share(scores) -> None:
    got = nps_points(scores)
    if not scores:
        assert got is None
        return
    p = sum(1 for s in scores if s >= 9)
    dd = sum(1 for s in scores if s <= 6)
    assert got == pytest.approx(100 * (p - dd) / len(scores))
    assert -100 <= got <= 100
