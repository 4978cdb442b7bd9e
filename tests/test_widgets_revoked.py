"""Issue 15 §6 (high): a page left open by a user who is then disabled (or moved to other shops) stops showing
data at its next refresh — the queue's auto-refresh, the case page, approvals and follow-ups clear what they
show and say 账号已停用或权限已变更，请重新登录. Before the fix they kept refreshing with the old rights."""

from __future__ import annotations

import time

import sqlalchemy as sa
from reviewops.core import store as stmod
from reviewops.core.users import set_active, set_role
from reviewops.handling.workbench import Workbench
from reviewops_widgets import build_approvals, build_case, build_followups, build_queue
from reviewops_widgets.common import REVOKED_ZH

from wb_fixtures import case_row, make_case, make_users


def _rows(form) -> list[int]:  # noqa: ANN001
    return form.visible_case_ids()


def test_the_queues_auto_refresh_clears_and_stops_for_a_disabled_user(sqlite_store, tmp_path):
    cid = make_case(sqlite_store, tmp_path)
    u = make_users(sqlite_store)
    form = build_queue(Workbench(sqlite_store, u["a1"]), auto_refresh=False)
    assert _rows(form) == [cid]
    form.start(interval=0.05)
    set_active(sqlite_store, "a1", False, actor="boss")
    deadline = time.monotonic() + 10
    while not form.revoked and time.monotonic() < deadline:
        time.sleep(0.05)
    assert form.revoked and _rows(form) == [] and form.df is None
    assert REVOKED_ZH in form.status.text and "停用" in form.status.text
    deadline = time.monotonic() + 5
    while form.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not form.running  # no more refreshes with a disabled account
    form.close()


def test_the_queue_shows_only_the_new_shops_after_a_move(sqlite_store, tmp_path):
    mine = make_case(sqlite_store, tmp_path, shop="A店")
    theirs = make_case(sqlite_store, tmp_path, shop="B店", text="破损严重，差评")
    u = make_users(sqlite_store)
    form = build_queue(Workbench(sqlite_store, u["s1"]), auto_refresh=False)
    assert set(_rows(form)) == {mine, theirs}
    set_role(sqlite_store, "s1", "supervisor", actor="boss", shops=[case_row(sqlite_store, mine)["shop_id"]])
    form.refresh_button.click()
    assert _rows(form) == [mine]


def test_the_case_page_clears_when_its_case_leaves_the_users_shops_or_the_user_is_disabled(sqlite_store, tmp_path):
    phone_case = make_case(sqlite_store, tmp_path, text="快递太慢了，我电话13912345678", shop="A店")
    other = make_case(sqlite_store, tmp_path, shop="B店", text="破损严重，差评")
    u = make_users(sqlite_store)
    form = build_case(Workbench(sqlite_store, u["s1"]), case_id=phone_case)
    assert form.view.case_id == phone_case and "139****5678" in form.review.value
    set_role(sqlite_store, "s1", "supervisor", actor="boss", shops=[case_row(sqlite_store, other)["shop_id"]])
    form.reload_button.click()
    assert form.view is None and form.review.value == "" and form.header.value == ""
    assert REVOKED_ZH in form.status.text
    form2 = build_case(Workbench(sqlite_store, u["a1"]), case_id=phone_case)
    assert form2.view is not None
    set_active(sqlite_store, "a1", False, actor="boss")
    form2.case_id.value = str(other)  # any read, even of another case: the session is over
    form2.load_button.click()
    assert form2.view is None and form2.review.value == "" and REVOKED_ZH in form2.status.text


def test_approvals_and_followups_clear_for_a_disabled_user(sqlite_store, tmp_path):
    cid = make_case(sqlite_store, tmp_path, paid_fen=45000)
    u = make_users(sqlite_store)
    a = Workbench(sqlite_store, u["a1"])
    v = a.record_contact(cid, 1, channel="phone", note="电话联系")
    assert a.propose(cid, v, [{"kind": "resend", "amount_fen": 40000}], note="补发").pending
    approvals = build_approvals(Workbench(sqlite_store, u["s1"]))
    followups = build_followups(Workbench(sqlite_store, u["s1"]), horizon_hours=24 * 400)
    assert [int(k) for k in approvals.items] == [cid]
    set_active(sqlite_store, "s1", False, actor="boss")
    approvals.refresh_button.click()
    followups.refresh_button.click()
    for form in (approvals, followups):
        assert form.revoked and REVOKED_ZH in form.status.text
    assert approvals.items == {} and approvals.list.children == () and approvals.summary.value == ""
    assert followups.tasks == {} and followups.list.children == ()
    with sqlite_store.read() as conn:
        targets = set(conn.execute(sa.select(stmod.access_log.c.target).where(
            stmod.access_log.c.actor == "s1", stmod.access_log.c.action == "read",
            stmod.access_log.c.outcome == "denied")).scalars())
    assert targets == {"approvals", "followups"}


def test_the_dashboard_clears_its_figures_and_stops_for_a_disabled_user(sqlite_store, tmp_path):
    from reviewops_widgets import build_dashboard

    make_case(sqlite_store, tmp_path)
    u = make_users(sqlite_store)
    form = build_dashboard(Workbench(sqlite_store, u["s1"]), auto_refresh=False)
    assert form.figures is not None and form.headline.value and not form.revoked
    set_active(sqlite_store, "s1", False, actor="boss")
    form.refresh_button.click()
    assert form.revoked and REVOKED_ZH in form.status.text
    assert form.figures is None and form.headline.value == "" and form.by_shop.value == ""
    assert form.sla.value == "" and form.dead_table.value == ""
    form.refresh()  # a revoked page never shows figures again
    assert form.figures is None and form.headline.value == ""
    form.close()
