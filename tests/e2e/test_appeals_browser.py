"""The 申诉 tab in a real browser (issue 17 §3): from a malicious case to a downloaded appeal packet.

Shares the session's server and demo store (tests/e2e/conftest.py ``site``/``store``), so it adds one page
and a few clicks. The store is prepared through the library: a malicious case of the demo shop (one the
demo already marks malicious, else an untouched case made malicious the way tests/test_appeals.py does)
gets one screenshot through ``handling.evidence.add_evidence``. Then 法务 (zhaofa, role legal) signs in
through the login page, opens the 申诉 tab, finds the case in the legal queue, builds the packet, downloads
it (Playwright's download event), and the ZIP is checked: 申诉书.txt, 证据清单.csv, 核对清单.csv and the
screenshot under 证据/ with its bytes. Finally 已提交 with a platform reference: the row says 已提交 and
the store holds who and the reference.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from e2e_site import XSS_SHOP, Server, close_form, login, open_form
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

TIMEOUT = 30_000  # ms for one click → kernel → DOM round trip
#: a small PNG (signature + IHDR chunk start): sniffed as image/png by the evidence store
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64)) + b"appeals-browser"
REF = "TB-SS-20261121-0042"


def malicious_case(store: Any) -> int:
    """An open malicious case without an appeal (not the XSS shop's), with one screenshot as evidence."""
    from reviewops.core import store as st
    from reviewops.handling.cases import OPEN_STATES
    from reviewops.handling.evidence import add_evidence

    with store.read() as conn:
        xss_shop = conn.execute(sa.select(st.shops.c.id).where(st.shops.c.name == XSS_SHOP)).scalar()
        appealed = sa.select(st.appeals.c.case_id)
        base = (sa.select(st.cases.c.id).where(st.cases.c.state.in_(OPEN_STATES),
                                               st.cases.c.id.not_in(appealed))
                .order_by(st.cases.c.id))
        if xss_shop is not None:
            base = base.where(st.cases.c.shop_id != xss_shop)
        case_id = conn.execute(base.where(st.cases.c.primary_category == "malicious")).scalars().first()
        if case_id is None:  # the demo marked none: make an untouched one malicious (tests/test_appeals.py)
            case_id = conn.execute(base.where(st.cases.c.state == "new", st.cases.c.version == 1)).scalars().first()
    assert case_id is not None, "no case left to appeal in the demo store"
    with store.write() as conn:
        row = conn.execute(sa.select(st.cases.c.version, st.cases.c.primary_category)
                           .where(st.cases.c.id == case_id)).one()
        if row.primary_category != "malicious":
            st.update_case(conn, case_id, row.version, {"primary_category": "malicious", "categories": "malicious",
                                                        "owner_role": "legal"}, actor="test", via="test")
    add_evidence(store, "test", PNG, original_name="旺旺截图.png", kind="screenshot", case_id=case_id,
                 note="旺旺完整对话截图：买家索要红包")
    return int(case_id)


def zip_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def test_legal_builds_downloads_and_submits_an_appeal(browser: Any, site: Server, store: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from reviewops.core.store import appeals, cases, reviews
    from reviewops.handling.evidence import ENV_EVIDENCE_DIR

    monkeypatch.delenv(ENV_EVIDENCE_DIR, raising=False)  # the evidence folder beside the served store, as the server
    cid = malicious_case(store)
    ctx = login(browser, site, "zhaofa")  # the demo's 法务
    page: Page | None = None
    try:
        page = open_form(ctx, site, "workbench.ipynb", ".ro-app-tabs .lm-TabBar-tab")
        expect(page.locator(".ro-app-user")).to_contain_text("zhaofa")
        page.locator(".ro-app-tabs .lm-TabBar-tab", has_text="申诉").click()
        item = page.locator(f".ro-appeals-item-{cid}")
        expect(item).to_be_visible(timeout=TIMEOUT)
        expect(item).to_contain_text(f"案件 #{cid}")
        expect(item).to_contain_text("尚未制作申诉包")

        page.click(f".ro-appeals-build-{cid}")
        expect(page.locator(".ro-appeals-status")).to_contain_text("申诉包已生成", timeout=TIMEOUT)
        link = page.locator(f".ro-appeals-packet-{cid} a.ro-appeals-download")
        expect(link).to_be_visible(timeout=TIMEOUT)
        with page.expect_download(timeout=TIMEOUT) as info:
            link.click()
        download = info.value
        assert download.suggested_filename.endswith(".zip"), download.suggested_filename
        data = Path(download.path()).read_bytes()
        members = zip_members(data)
        assert {"申诉书.txt", "证据清单.csv", "核对清单.csv"} <= set(members), sorted(members)
        sha = hashlib.sha256(PNG).hexdigest()
        shots = [n for n in members if n.startswith("证据/") and sha[:12] in n]
        assert len(shots) == 1 and members[shots[0]] == PNG, sorted(members)
        index = list(csv.reader(io.StringIO(members["证据清单.csv"].decode("utf-8-sig"))))
        assert any(shots[0] in row and sha in row for row in index[1:]), index
        # the packet is this case's: its file name names the case, its letter the case's order (the letter does
        # not carry the internal case number; a bare str(cid) check passed only when the digits happened to occur)
        assert f"案件{cid}-" in download.suggested_filename, download.suggested_filename
        with store.read() as conn:
            order_id = conn.execute(sa.select(reviews.c.order_id).select_from(
                cases.join(reviews, reviews.c.id == cases.c.review_pk)).where(cases.c.id == cid)).scalar_one()
        assert f"订单号：{order_id or '（无订单号）'}" in members["申诉书.txt"].decode("utf-8")
        with store.read() as conn:
            drafted = conn.execute(sa.select(appeals).where(appeals.c.case_id == cid)).mappings().one()
        assert drafted["state"] == "drafted" and drafted["created_by"] == "zhaofa"
        assert drafted["packet_sha256"] == hashlib.sha256(data).hexdigest()  # the bytes downloaded are the packet

        page.fill(f".ro-appeals-ref-{cid} input", REF)
        page.click(f".ro-appeals-submit-{cid}")
        expect(page.locator(".ro-appeals-status")).to_contain_text("已提交", timeout=TIMEOUT)
        item = page.locator(f".ro-appeals-item-{cid}")
        expect(item).to_contain_text("已提交", timeout=TIMEOUT)
        expect(item).to_contain_text(REF)
        expect(page.locator(f".ro-appeals-reject-{cid}")).to_be_visible()  # now awaiting the platform's decision
        with store.read() as conn:
            done = conn.execute(sa.select(appeals).where(appeals.c.case_id == cid)).mappings().one()
        assert (done["state"], done["submitted_by"], done["platform_ref"]) == ("submitted", "zhaofa", REF)
    finally:
        if page is not None:
            close_form(page)
        ctx.close()
