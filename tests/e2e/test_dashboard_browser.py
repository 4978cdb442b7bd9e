"""The 数据看板 (D1) in a real browser (Debian Chromium via Playwright) against ``reviewops serve``.

Same server and demo store as the workbench tests (tests/e2e/conftest.py: demo scale 0.05, a hostile
review in ``E2E安全测试店``, an agent limited to shop 1). The expected numbers are counted here with plain
SQL on the served store — never with the function the dashboard calls.

1. the demo supervisor opens the dashboard from the start page; the headline count equals the store's;
   changing the start date and then the shop updates it; the hostile product title stays text;
2. the one-shop agent is offered only shop 1 and sees only shop 1's figures.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from e2e_site import SHOP_AGENT, Server, close_form, login, open_form
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

TIMEOUT = 30_000
READY = ".ro-dash-headline .ro-dash-reviews"


def reviews_in(store: Any, first: dt.date, last: dt.date, shop: int | None = None) -> int:
    """Reviews posted on Beijing days ``first`` … ``last``, counted with plain SQL."""
    from reviewops.core.store import reviews

    tz = dt.timezone(dt.timedelta(hours=8))
    start = dt.datetime.combine(first, dt.time(0), tzinfo=tz)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    q = sa.select(sa.func.count()).select_from(reviews).where(reviews.c.created_at >= start,
                                                              reviews.c.created_at < end)
    if shop is not None:
        q = q.where(reviews.c.shop_id == shop)
    with store.read() as conn:
        return int(conn.execute(q).scalar_one())


def shop_names(store: Any) -> dict[int, str]:
    from reviewops.core.store import shops

    with store.read() as conn:
        return {int(i): n for i, n in conn.execute(sa.select(shops.c.id, shops.c.name))}


def today_bj() -> dt.date:
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()


def opening_days(store: Any) -> tuple[dt.date, dt.date]:
    """The last 7 days if they hold a review, else the 7 days ending on the newest review's Beijing day."""
    from reviewops.core.store import reviews

    last = today_bj()
    if reviews_in(store, last - dt.timedelta(days=6), last):
        return last - dt.timedelta(days=6), last
    with store.read() as conn:
        newest = conn.execute(sa.select(sa.func.max(reviews.c.created_at))).scalar_one()
    if newest.tzinfo is None:  # stored as UTC
        newest = newest.replace(tzinfo=dt.timezone.utc)
    day = newest.astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    return day - dt.timedelta(days=6), day


def headline(page: Page, name: str):
    return page.locator(f".ro-dash-headline .ro-dash-{name}")


def test_the_supervisor_sees_the_stores_figures_and_filters_them(site: Server, store: Any, browser: Any) -> None:
    ctx = login(browser, site, "laoli")
    page = None
    try:
        start_page = ctx.new_page()
        start_page.goto(site.base + "/")
        expect(start_page.locator("a[href*='dashboard.ipynb']")).to_contain_text("数据看板")
        start_page.close()
        page = open_form(ctx, site, "dashboard.ipynb", READY)
        first, last = opening_days(store)  # a range with data: the last 7 days or the latest week with data
        expect(headline(page, "reviews")).to_have_text(str(reviews_in(store, first, last)), timeout=TIMEOUT)
        assert reviews_in(store, first, last) > 0
        expect(page.locator(".ro-dash-charts img.ro-dash-chart-daily")).to_have_count(1)
        last = today_bj()
        # a wider period: the start date 60 days back
        first = last - dt.timedelta(days=60)
        want = reviews_in(store, first, last)
        assert want > 0
        page.fill(".ro-dash-start input", first.isoformat())
        page.locator(".ro-dash-start input").blur()
        expect(headline(page, "reviews")).to_have_text(str(want), timeout=TIMEOUT)
        # one shop
        page.locator(".ro-dash-shop select").select_option(label=_label(page, 2))
        want2 = reviews_in(store, first, last, shop=2)
        assert want2 != want
        expect(headline(page, "reviews")).to_have_text(str(want2), timeout=TIMEOUT)
        expect(page.locator(".ro-dash-by-shop")).to_contain_text(shop_names(store)[2])
        # back to all shops, SKU text "<b>外套": the hostile product title is shown as text
        page.locator(".ro-dash-shop select").select_option(index=0)
        expect(headline(page, "reviews")).to_have_text(str(want), timeout=TIMEOUT)
        page.fill(".ro-dash-sku input", "<b>外套")
        page.locator(".ro-dash-sku input").press("Enter")
        expect(headline(page, "negative")).to_have_text("1", timeout=TIMEOUT)
        expect(page.locator(".ro-dash-by-sku")).to_contain_text("<b>外套</b>")
        assert page.locator(".ro-dash-by-sku b", has_text="外套").count() == 0
        assert page.evaluate("document.body.dataset.pwned") is None
        expect(page.locator(".ro-dash-status")).not_to_contain_text("错误")
    finally:
        if page is not None:
            close_form(page)
        ctx.close()


def _label(page: Page, shop_id: int) -> str:
    """The shop dropdown's label of ``shop_id`` (labels end in ``#<id>``)."""
    labels = page.locator(".ro-dash-shop select option").all_inner_texts()
    return next(lb for lb in labels if lb.endswith(f"#{shop_id}"))


def test_a_one_shop_agent_sees_only_that_shop(site: Server, store: Any, browser: Any) -> None:
    ctx = login(browser, site, SHOP_AGENT)
    page = None
    try:
        page = open_form(ctx, site, "dashboard.ipynb", READY)
        labels = page.locator(".ro-dash-shop select option").all_inner_texts()
        assert len(labels) == 2 and labels[1].endswith("#1"), labels
        last = today_bj()
        first = last - dt.timedelta(days=60)
        page.fill(".ro-dash-start input", first.isoformat())
        page.locator(".ro-dash-start input").blur()
        want = reviews_in(store, first, last, shop=1)
        assert want != reviews_in(store, first, last)
        expect(headline(page, "reviews")).to_have_text(str(want), timeout=TIMEOUT)
        names = shop_names(store)
        by_shop = page.locator(".ro-dash-by-shop")
        expect(by_shop).to_contain_text(names[1])
        for sid, name in names.items():
            if sid != 1:
                expect(by_shop).not_to_contain_text(name)
    finally:
        if page is not None:
            close_form(page)
        ctx.close()
