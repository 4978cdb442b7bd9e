"""The 推荐大使 form (issue 20, SPEC V3) in a real browser (Debian Chromium via Playwright) against ``reviewops serve``.

Same session server and demo store as the other browser tests (tests/e2e/conftest.py). The demo agent xiaowang proposes
inviting a candidate (through the library, as the form's 提议邀请 does); the demo supervisor laoli opens 推荐大使 from the
start page, sees the candidate with its reasons, approves the invitation, records the customer's consent and then the
opt-out; the store says the same after each step. Only the programme's own tables are written.
"""

from __future__ import annotations

from typing import Any

import pytest
from e2e_site import Server, close_form, login, open_form
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

TIMEOUT = 30_000


def test_a_supervisor_approves_records_consent_and_opt_out(site: Server, store: Any, browser: Any) -> None:
    from reviewops.core.users import get_actor
    from reviewops.handling import ambassadors as amb

    agent = get_actor(store, "xiaowang")
    cands = amb.candidates(store)
    cands = cands[[agent.may_see_shop(int(s)) for s in cands["shop_id"]]]
    assert len(cands) > 0, "the demo store should have customers resolved with confirmed satisfaction"
    case_id = int(cands.iloc[0]["case_id"])
    aid = amb.propose_invitation(store, agent, case_id)
    ctx = login(browser, site, "laoli")
    page = None
    try:
        start = ctx.new_page()
        start.goto(site.base + "/")
        expect(start.locator("a[href*='ambassadors.ipynb']")).to_contain_text("推荐大使")
        start.close()
        page = open_form(ctx, site, "ambassadors.ipynb", ".ro-ambassadors-list")
        status = page.locator(".ro-ambassadors-status")
        expect(status).to_contain_text("候选人", timeout=TIMEOUT)
        expect(page.locator(".ro-ambassadors-candidates-box")).to_contain_text(str(case_id))
        expect(page.locator(".ro-ambassadors-candidates-box")).to_contain_text("结案时客户确认满意")
        expect(page.locator(".ro-ambassadors-list")).to_contain_text("待主管批准")
        box = page.locator(".ro-ambassadors-id input")
        box.fill(str(aid))
        box.press("Enter")
        page.locator(".ro-ambassadors-approve").click()
        expect(status).to_contain_text(f"已批准推荐大使 {aid} 的邀请", timeout=TIMEOUT)
        page.locator(".ro-ambassadors-channel select").select_option(label="电话")
        page.locator(".ro-ambassadors-consent").click()
        expect(status).to_contain_text("推荐码 TJ", timeout=TIMEOUT)
        row = amb.results(store).set_index("ambassador_id").loc[aid]
        assert row["state"] == "active" and row["consented"]
        expect(page.locator(".ro-ambassadors-list")).to_contain_text(row["referral_code"])
        page.locator(".ro-ambassadors-optout").click()
        expect(status).to_contain_text("已退出", timeout=TIMEOUT)
        assert amb.results(store).set_index("ambassador_id").loc[aid, "state"] == "opted_out"
        assert amb.messages(store, aid, state="pending").empty
    finally:
        if page is not None:
            close_form(page)
        ctx.close()
