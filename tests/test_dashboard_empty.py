"""Empty ranges and empty charts (issue 14 §4): the dashboard opens on a range with data or says plainly
that the range is empty and offers the latest week with data; a chart with nothing to draw is a short
Chinese message, never axes (matplotlib's default for no data is −0.04 … 0.04, "negative counts").

The store below is built by hand; "today" is 2026-11-24 (Beijing), so the last seven days
(11-18 … 11-24) hold no review:

=======  ======  ========  ==========  ======
review   shop    platform  day         rating
=======  ======  ========  ==========  ======
r1       甲店    taobao    11-01 10:00  差评
r2       甲店    taobao    11-03 10:00  差评
r3       乙店    douyin    10-20 10:00  差评
=======  ======  ========  ==========  ======

so the latest week with data is 10-28 … 11-03 (the seven days ending on r2's day) for everyone, and
10-14 … 10-20 for a user of 乙店 only or with the platform filter douyin.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from reviewops.reporting import charts
from reviewops.core import store as stmod
from reviewops.reporting.dashboard import (
    category_figure,
    daily_figure,
    dashboard_charts,
    dashboard_figures,
    empty_range,
    latest_week,
    opening_range,
)
from reviewops.reporting.reports import SHANGHAI
from reviewops.core.users import add_user, get_actor
from reviewops.handling.workbench import Workbench
from reviewops_widgets import build_dashboard
from wb_fixtures import make_case, make_users

TODAY = dt.date(2026, 11, 24)
D = dt.date


def bj(month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=SHANGHAI)


def _at(store: Any, case_id: int, when: dt.datetime) -> None:
    with store.write() as conn:
        pk = conn.execute(sa.select(stmod.cases.c.review_pk).where(stmod.cases.c.id == case_id)).scalar_one()
        conn.execute(stmod.reviews.update().where(stmod.reviews.c.id == pk).values(created_at=when))


@pytest.fixture
def stale(sqlite_store: Any, tmp_path: Path) -> dict[str, Any]:
    """The store of the table above; its data ends three weeks before TODAY."""
    users = make_users(sqlite_store)
    _at(sqlite_store, make_case(sqlite_store, tmp_path, shop="甲店", customer="k1"), bj(11, 1))
    _at(sqlite_store, make_case(sqlite_store, tmp_path, shop="甲店", customer="k2", text="质量太差了"), bj(11, 3))
    _at(sqlite_store, make_case(sqlite_store, tmp_path, shop="乙店", platform="douyin", customer="k3"), bj(10, 20))
    with sqlite_store.read() as conn:
        b = conn.execute(sa.select(stmod.shops.c.id).where(stmod.shops.c.name == "乙店")).scalar_one()
    add_user(sqlite_store, "onlyb", role="agent", password="password1", actor="test", shops=[b])
    return {"store": sqlite_store, "users": users, "B": b, "onlyb": get_actor(sqlite_store, "onlyb")}


# ------------------------------------------------------------------ lib: charts
def test_an_empty_bar_chart_is_a_message_not_axes():
    for labels, values in (([], []), (["物流", "质量"], [0, 0]), (["物流"], [float("nan")])):
        fig = charts.bar_figure(labels, values, title="中差评分类", empty="所选范围内没有中差评")
        assert fig.axes == [] and charts.figure_message(fig) == "中差评分类：所选范围内没有中差评"
        assert charts.png(fig).startswith(b"\x89PNG")
    real = charts.bar_figure(["物流", "质量"], [3, 1], title="中差评分类")
    assert charts.figure_message(real) is None and len(real.axes) == 1
    ax = real.axes[0]
    assert ax.get_xlim()[0] == 0  # a count axis starts at 0
    assert all(float(t).is_integer() for t in ax.get_xticks())  # whole numbers of cases


def test_an_empty_trend_is_a_message_and_weeks_without_reviews_are_not_zero_percent():
    empty = pd.DataFrame({"week": ["2026-W48", "2026-W49"], "reviews": [0, 0], "negative": [0, 0], "rate": [None, None]})
    fig = charts.trend_figure(empty)
    assert fig.axes == [] and "没有评价" in charts.figure_message(fig)
    assert charts.trend_figure(empty.iloc[0:0]).axes == []  # no weeks at all
    part = pd.DataFrame({"week": ["2026-W46", "2026-W47", "2026-W48"], "reviews": [24, 32, 0], "negative": [3, 18, 0],
                         "rate": [0.125, 0.5625, None]})
    fig = charts.trend_figure(part)
    [ax] = fig.axes
    assert ax.get_ylim()[0] == 0
    ys = list(ax.lines[0].get_ydata())
    assert ys[:2] == [12.5, 56.25] and pd.isna(ys[2])  # no point at 0 % for a week without reviews
    notes = [t.get_text() for t in ax.texts]
    assert notes == ["3 条", "18 条", "无评价"]


# ------------------------------------------------------------------ lib: the opening range and empty ranges
def test_the_dashboard_opens_on_the_latest_week_with_data(stale):
    s1 = stale["users"]["s1"]
    o = opening_range(stale["store"], s1, TODAY)
    assert (o.first, o.last, o.moved) == (D(2026, 10, 28), D(2026, 11, 3), True)
    assert "最近 7 天（11-18 至 11-24）没有评价" in o.message and "2026-10-28 至 2026-11-03" in o.message
    fig = dashboard_figures(stale["store"], s1, o.first, o.last)
    assert fig.reviews == 2 and empty_range(stale["store"], s1, fig) is None
    # a user of 乙店 only: the latest week of *their* data
    o = opening_range(stale["store"], stale["onlyb"], TODAY)
    assert (o.first, o.last, o.moved) == (D(2026, 10, 14), D(2026, 10, 20), True)
    # when the last seven days hold data, they are what opens, without a note
    o = opening_range(stale["store"], s1, D(2026, 11, 5))
    assert (o.first, o.last, o.moved, o.message) == (D(2026, 10, 30), D(2026, 11, 5), False, "")


def test_an_empty_range_says_so_and_offers_the_latest_week_for_the_same_filters(stale):
    store, s1 = stale["store"], stale["users"]["s1"]
    fig = dashboard_figures(store, s1, D(2026, 11, 18), D(2026, 11, 24))
    e = empty_range(store, s1, fig)
    assert e.latest == (D(2026, 10, 28), D(2026, 11, 3))
    assert "所选范围 2026-11-18 至 2026-11-24（北京时间）没有评价" in e.message and "10-28 至 11-03" in e.button
    fig = dashboard_figures(store, s1, D(2026, 11, 18), D(2026, 11, 24), platform="douyin")
    e = empty_range(store, s1, fig, platform="douyin")
    assert e.latest == (D(2026, 10, 14), D(2026, 10, 20)) and "筛选条件" in e.message
    e = empty_range(store, s1, dashboard_figures(store, s1, D(2026, 11, 18), D(2026, 11, 24), sku="质量"), sku="质量")
    assert e.latest is None  # no review's product matches: nothing to offer
    e = empty_range(store, s1, dashboard_figures(store, s1, D(2026, 11, 18), D(2026, 11, 24), sku="外套"), sku="外套")
    assert e.latest == (D(2026, 10, 28), D(2026, 11, 3))
    assert latest_week(store, stale["onlyb"], shop=None) == (D(2026, 10, 14), D(2026, 10, 20))


def test_the_charts_of_an_empty_range_are_messages(stale):
    store, s1 = stale["store"], stale["users"]["s1"]
    fig = dashboard_figures(store, s1, D(2026, 11, 18), D(2026, 11, 24))
    charts_ = dashboard_charts(fig)
    assert [(c.key, c.png) for c in charts_] == [("daily", None), ("categories", None)]
    assert [c.message for c in charts_] == ["每日中差评（北京时间）：所选范围内没有评价", "中差评分类：所选范围内没有评价"]
    assert daily_figure(fig).axes == [] and category_figure(fig).axes == []
    full = dashboard_figures(store, s1, D(2026, 10, 28), D(2026, 11, 3))
    drawn = dashboard_charts(full)
    assert all(c.message is None and c.png.startswith(b"\x89PNG") for c in drawn)
    f = daily_figure(full)
    assert len(f.axes) == 2 and all(ax.get_ylim()[0] == 0 for ax in f.axes)  # counts and rates from 0
    assert category_figure(full).axes[0].get_xlim()[0] == 0


def test_an_empty_store_opens_on_the_last_week_and_says_there_is_no_data(sqlite_store):
    s1 = make_users(sqlite_store)["s1"]
    o = opening_range(sqlite_store, s1, TODAY)
    assert (o.first, o.last, o.moved, o.message) == (D(2026, 11, 18), D(2026, 11, 24), False, "")
    e = empty_range(sqlite_store, s1, dashboard_figures(sqlite_store, s1, o.first, o.last))
    assert e.latest is None and e.button == "" and "还没有任何评价数据" in e.message


# ------------------------------------------------------------------ the form
def _panels(form: Any) -> str:
    return form.headline.value + form.charts.value


def test_the_form_on_an_empty_store_shows_the_message_and_no_axes(sqlite_store):
    s1 = make_users(sqlite_store)["s1"]
    form = build_dashboard(Workbench(sqlite_store, s1), auto_refresh=False, today=TODAY)
    try:
        assert form.status.kind == "" and (form.start.value, form.end.value) == (D(2026, 11, 18), D(2026, 11, 24))
        assert "还没有任何评价数据" in form.notice.value and "ro-msg-warn" in form.notice.value
        assert form.latest_button.layout.display == "none"  # nothing to offer
        assert "<img" not in form.charts.value and form.charts.value.count("ro-dash-chart-empty") == 2
        assert "所选范围内没有评价" in form.charts.value
    finally:
        form.close()


def test_the_form_opens_on_data_and_its_button_brings_an_empty_range_back_to_data(stale):
    form = build_dashboard(Workbench(stale["store"], stale["users"]["s1"]), auto_refresh=False, today=TODAY)
    try:
        assert (form.start.value, form.end.value) == (D(2026, 10, 28), D(2026, 11, 3))
        assert "已打开有数据的最近一周" in form.notice.value and "ro-msg-info" in form.notice.value
        assert re.search(r'ro-dash-reviews">2<', form.headline.value)
        assert form.charts.value.count('src="data:image/png;base64,') == 2
        form.start.value = D(2026, 11, 18)  # the user picks the empty last week
        form.end.value = D(2026, 11, 24)
        assert re.search(r'ro-dash-reviews">0<', form.headline.value)
        assert "所选范围 2026-11-18 至 2026-11-24（北京时间）没有评价" in form.notice.value
        assert "已打开" not in form.notice.value  # the opening note is gone once the user chose
        assert form.latest_button.layout.display != "none" and "10-28 至 11-03" in form.latest_button.description
        assert "<img" not in form.charts.value and "ro-dash-chart-empty" in form.charts.value
        n = form.refreshes
        form.latest_button.click()
        assert form.status.kind != "error", form.status.text
        assert (form.start.value, form.end.value) == (D(2026, 10, 28), D(2026, 11, 3))
        assert form.refreshes == n + 1  # both dates set, one recomputation
        assert re.search(r'ro-dash-reviews">2<', form.headline.value) and form.notice.value == ""
        assert form.latest_button.layout.display == "none"
        assert form.charts.value.count('src="data:image/png;base64,') == 2
    finally:
        form.close()


def test_the_button_follows_the_platform_filter(stale):
    form = build_dashboard(Workbench(stale["store"], stale["users"]["s1"]), auto_refresh=False, today=TODAY)
    try:
        form.platform.value = "douyin"  # 10-28 … 11-03 has no douyin review
        assert re.search(r'ro-dash-reviews">0<', form.headline.value)
        assert "10-14 至 10-20" in form.latest_button.description
        form.latest_button.click()
        assert (form.start.value, form.end.value) == (D(2026, 10, 14), D(2026, 10, 20))
        assert re.search(r'ro-dash-reviews">1<', form.headline.value) and form.platform.value == "douyin"
    finally:
        form.close()
