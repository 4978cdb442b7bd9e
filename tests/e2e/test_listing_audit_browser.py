"""The 商品信息审计 form (issue 19 P3) in a real browser (Debian Chromium via Playwright) against ``reviewops serve``.

Same session server and demo store as the other browser tests (tests/e2e/conftest.py). The demo supervisor laoli
opens 商品信息审计 from the start page, sees the findings of the last 90 days, filters 未写发货时效 and sees exactly
the listings the library (``audit_listings`` on the same store) reports without a dispatch promise.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from e2e_site import Server, close_form, login, open_form
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

TIMEOUT = 30_000


def test_a_supervisor_filters_listings_without_a_dispatch_promise(site: Server, store: Any, browser: Any) -> None:
    from reviewops.prevention.listing_audit import audit_listings

    def library() -> Any:  # what audit_listings says now (the page audits between two such calls)
        now = dt.datetime.now(dt.UTC)
        return audit_listings(store, since=now - dt.timedelta(days=90), until=now)

    before = library()
    ctx = login(browser, site, "laoli")
    page = None
    try:
        start = ctx.new_page()
        start.goto(site.base + "/")
        expect(start.locator("a[href*='listing_audit.ipynb']")).to_contain_text("商品信息审计")
        start.close()
        page = open_form(ctx, site, "listing_audit.ipynb", ".ro-listing-audit-findings")
        expect(page.locator(".ro-listing-audit-status")).to_contain_text("审计完成", timeout=TIMEOUT)
        rows = page.locator(".ro-listing-audit-findings tbody tr")
        assert rows.count() in {len(before), len(library())}
        page.locator(".ro-listing-audit-kind select").select_option(label="未写发货时效")
        page.locator(".ro-listing-audit-run").click()
        expect(page.locator(".ro-listing-audit-status")).to_contain_text("未写发货时效", timeout=TIMEOUT)
        after = library()
        options = [d[d["finding"] == "no_dispatch"] for d in (before, after)]
        assert all(len(o) > 0 for o in options)
        text = page.locator(".ro-listing-audit-table").inner_text()
        assert "发货承诺未兑现" not in text and "没有写发货时效" in text
        shown = rows.count()
        assert any(shown == len(o) and all(t in text for t in o["title"]) for o in options), shown
    finally:
        if page is not None:
            close_form(page)
        ctx.close()
