"""An alert's case link in a real browser (issue 7): the link the ledger puts into every IM, e-mail and
SMS alert opens the served workbench on that case for whoever is signed in — and only within their shops.

The link is built by :func:`reviewops.alerting.alerts.message_for` from a real alert event of the e2e demo store
(the shop's ``workbench_url`` is replaced by this test server's address), so a change of the link's
format or of the workbench's deep-link handling fails here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from e2e_site import SHOP_AGENT, Server, close_form, login
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

READY = 90_000


def _alert_link(store: Any, *, shop: int | None = None, exclude_shop: int | None = None) -> tuple[int, str]:
    """Raise a new-case alert for an open case (no channel needed) and return (case id, path + query)."""
    from reviewops.alerting import alerts
    from reviewops.core.store import alert_events, cases

    with store.read() as conn:
        q = (sa.select(cases.c.id).where(cases.c.state == "new").where(cases.c.primary_category != "malicious")
             .order_by(cases.c.id))
        if shop is not None:
            q = q.where(cases.c.shop_id == shop)
        if exclude_shop is not None:
            q = q.where(cases.c.shop_id != exclude_shop)
        case_id = int(conn.execute(q.limit(1)).scalar_one())
    alerts.raise_case_alerts(store, [case_id], source="import", include_history=True)  # demo reviews are days old
    with store.read() as conn:
        event_id = conn.execute(sa.select(alert_events.c.id).where(alert_events.c.case_id == case_id)
                                .where(alert_events.c.kind == "new_case")).scalar_one()
    url = urlsplit(alerts.message_for(store, event_id).case_url)
    assert url.path.endswith("/voila/render/workbench.ipynb") and url.query == f"case={case_id}"
    return case_id, f"{url.path}?{url.query}"


def test_an_alert_link_opens_its_case_in_the_workbench(browser: Any, site: Server, store: Any) -> None:
    case_id, link = _alert_link(store, shop=1)
    ctx = login(browser, site, "laoli")  # the on-duty supervisor taps the link in the group chat
    page = ctx.new_page()
    try:
        page.goto(site.base + link)
        header = page.locator(".ro-case-header")
        expect(header).to_contain_text(f"案件 #{case_id}", timeout=READY)
        expect(page.locator(".ro-app-tabs .lm-TabBar-tab.lm-mod-current, .ro-app-tabs .p-TabBar-tab.p-mod-current")
               ).to_contain_text("案件处理")
    finally:
        close_form(page)
        ctx.close()


def test_an_alert_link_to_another_shops_case_shows_nothing_of_it(browser: Any, site: Server, store: Any) -> None:
    case_id, link = _alert_link(store, exclude_shop=1)
    ctx = login(browser, site, SHOP_AGENT)  # limited to shop 1
    page = ctx.new_page()
    try:
        page.goto(site.base + link)
        expect(page.locator(".ro-case-status")).to_contain_text("无权", timeout=READY)
        expect(page.locator(".ro-case-header")).not_to_contain_text(f"#{case_id}")
        expect(page.locator(".ro-case-review")).to_be_hidden()
    finally:
        close_form(page)
        ctx.close()
