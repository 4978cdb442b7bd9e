"""The operator forms, headless (no kernel, no browser): ``button.click()`` fires handlers and setting
``.value`` fires observers (ecosystem.md §4). One demo store (scale 0.05) per module.

Covers: queue order, filters, countdown colours and the refresh thread; allowed buttons only; the H1
walk through the forms (contact → over-limit proposal → supervisor approval → delivery → resolution →
follow-ups); a stale save (R-04); an XSS payload shown escaped (S-04); widget tampering and
another shop's case (S-07, S-08); the deep link; the notebooks in a real kernel; CSS classes documented.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pytest
import sqlalchemy as sa
from reviewops.core.store import Store, cases, reviews
from reviewops.core.users import add_user, get_actor
from reviewops.handling.workbench import Workbench
from reviewops_widgets import (
    build_approvals,
    build_case,
    build_followups,
    build_queue,
    build_workbench,
)
from reviewops_widgets.common import case_id_from_query
from wb_fixtures import run_notebook

ROOT = Path(__file__).resolve().parents[1]
XSS = "<img src=x onerror=alert(1)>"


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    from reviewops.demo import build_demo
    from reviewops.handling.opening import triage_store

    path = tmp_path_factory.mktemp("widgets") / "demo.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REVIEWOPS_PII_KEY", "5e" * 8 + "0123456789abcdef" * 3)
        build_demo(str(path), scale=0.05)
        with Store.open(str(path)) as store:
            triage_store(store, actor="test", via="test")
            for name, role, shops in [("agent", "agent", None), ("supervisor", "supervisor", None),
                                      ("supervisor2", "supervisor", None), ("agent_shop1", "agent", [1])]:
                add_user(store, name, role=role, password="password1", shops=shops, actor="test")
    return str(path)


@pytest.fixture(scope="module")
def store(db: str):
    s = Store.open(db)
    yield s
    s.close()


def wb(store: Store, name: str) -> Workbench:
    return Workbench(store, get_actor(store, name))


def fresh_case(store: Store, *, shop: int | None = None, not_malicious: bool = True) -> int:
    """An untouched ``new`` case (each test takes its own)."""
    taken = fresh_case.__dict__.setdefault("taken", set())
    with store.read() as conn:
        q = sa.select(cases.c.id).where(cases.c.state == "new", cases.c.version == 1).order_by(cases.c.id)
        if shop is not None:
            q = q.where(cases.c.shop_id == shop)
        if not_malicious:
            q = q.where(cases.c.primary_category != "malicious")
        ids = [i for i in conn.execute(q).scalars() if i not in taken]
    taken.add(ids[0])
    return ids[0]


def visible(w: widgets.Widget) -> bool:
    return w.layout.display != "none"


def walk(w: Any):
    yield w
    for c in getattr(w, "children", ()) or ():
        yield from walk(c)


def case_row(store: Store, case_id: int) -> dict[str, Any]:
    with store.read() as conn:
        return dict(conn.execute(sa.select(cases).where(cases.c.id == case_id)).mappings().one())


# ------------------------------------------------------------------ queue
def test_queue_lists_cases_by_deadline_and_filters(store: Store) -> None:
    a = wb(store, "agent")
    form = build_queue(a, auto_refresh=False, page_size=200)
    expected = a.queue(limit=200)
    assert form.visible_case_ids() == [int(x) for x in expected["case_id"]]
    unanswered = expected[expected["sla_status"].isin(["running", "warning", "breached"])]
    dues = list(unanswered["due_at"].dropna())
    assert dues == sorted(dues) and len(dues) > 10
    assert "待处理" in form.counts.value and f"<b>{len(expected)}</b>" in form.counts.value
    row = form.rows[0]
    cid = form.visible_case_ids()[0]
    assert f"ro-queue-open-{cid}" in row.open._dom_classes and f"ro-queue-row-{cid}" in row.box._dom_classes
    assert any(c.startswith("ro-sla-") for c in row.box._dom_classes)

    form.category.value = "logistics"
    assert form.df["primary_category"].eq("logistics").all() and len(form.df) > 0
    assert form.visible_case_ids() == [int(x) for x in form.df["case_id"]]
    form.category.value = "__all__"
    form.platform.value = "douyin"
    assert set(form.df["platform"]) == {"douyin"}
    form.platform.value = "__all__"
    form.shop.value = 1
    assert set(form.df["shop_id"]) == {1}
    form.shop.value = "__all__"
    role = expected["owner_role"].iloc[-1]  # a role that owns open cases (the queue holds only those)
    form.role.value = role
    assert set(form.df["owner_role"]) == {role} and len(form.df) == int((expected["owner_role"] == role).sum())
    form.role.value = "__all__"
    form.mine.value = True
    assert form.df["assignee"].eq("agent").all() and visible(form.empty) == form.df.empty
    form.mine.value = False
    assert not visible(form.empty) and len(form.df) == len(expected)

    # countdown colours: an hour later nothing has changed in the store, the clock has
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    form.refresh(now=later)
    assert "ro-sla-breached" in form.rows[0].box._dom_classes
    assert "已超时" in form.rows[0].cells.value and "ro-left-breached" in form.rows[0].cells.value
    form.stop()


def test_queue_never_shows_one_case_in_two_rows_while_redrawing(store: Store) -> None:
    """Slots are reused: when a filter moves a case to another slot, the old slot lets go of the case's
    classes before the new one takes them — every intermediate state the browser receives is unambiguous."""
    form = build_queue(wb(store, "agent"), auto_refresh=False, page_size=200)
    seen: list[list[str]] = []
    doubled: list[list[str]] = []

    def check(_change: Any) -> None:  # collects (an assert here would be swallowed by the form's guard)
        tags = [c for r in form.rows for c in r.box._dom_classes if c.startswith("ro-queue-row-")]
        seen.append(tags)
        if len(tags) != len(set(tags)):
            doubled.append(tags)

    for r in form.rows:
        r.box.observe(check, names="_dom_classes")
    first = form.visible_case_ids()
    for shop in (1, "__all__", 2, "__all__"):  # each filter shifts cases between slots
        form.shop.value = shop
    assert len(seen) > 10 and doubled == []
    assert form.visible_case_ids() == first  # the queue is back as it was
    form.stop()


def test_queue_paging_and_refresh_thread(store: Store) -> None:
    form = build_queue(wb(store, "agent"), auto_refresh=False, page_size=20)
    first = form.visible_case_ids()
    assert len(first) == 20 and form.prev.disabled
    form.next.click()
    assert form.visible_case_ids() != first and len(form.visible_case_ids()) > 0
    form.prev.click()
    assert form.visible_case_ids() == first

    n = form.refreshes
    form.start(interval=0.05)
    assert form.running
    deadline = dt.datetime.now() + dt.timedelta(seconds=10)
    while form.refreshes < n + 2 and dt.datetime.now() < deadline:
        import time

        time.sleep(0.02)
    form.stop()
    assert form.refreshes >= n + 2 and not form.running
    assert form.status.kind != "error", form.status.text


def test_shop_limited_agent_sees_only_their_shop(store: Store) -> None:
    form = build_queue(wb(store, "agent_shop1"), auto_refresh=False, page_size=200)
    assert set(form.df["shop_id"]) == {1}
    assert [v for _l, v in form.shop.options] == ["__all__", 1]


# ------------------------------------------------------------------ case
def test_opening_a_case_shows_allowed_buttons_only(store: Store) -> None:
    app = build_workbench(wb(store, "agent"), auto_refresh=False)
    cid = app.queue.rows[0].case_id
    app.queue.rows[0].open.click()
    assert app.tabs.selected_index == 1
    form = app.case
    assert form.view is not None and form.view.case_id == cid, form.status.text
    shown = {code for code, b in form.buttons.items() if visible(b)}
    assert shown == set(form.view.actions)
    assert "approve" not in shown and "propose" not in shown  # an agent, a new case
    assert "agent" in app.user.value and "普通客服" in app.user.value
    assert not visible(form.unmask_box)  # agents may not unmask
    assert form.reply.value == (form.view.reply_text or form.view.draft.text)
    assert f"字数 {len(form.reply.value)}" in form.reply_length.value
    app.close()


def test_h1_walk_through_the_forms(store: Store) -> None:
    cid = fresh_case(store)
    agent = build_case(wb(store, "agent"), case_id=cid)
    assert agent.view.case_id == cid and agent.view.state == "new"
    agent.contact_channel.value = "phone"
    agent.contact_note.value = "电话联系客户，确认少发一件"
    agent.buttons["contact"].click()
    assert agent.status.kind == "ok", agent.status.text
    assert agent.view.state == "contacted" and "电话联系客户" in agent.contacts.value
    assert visible(agent.buttons["propose"])

    agent.problems["漏发"].value = True
    agent.diagnosis_text.value = "少发一件"
    agent.buttons["diagnose"].click()
    assert agent.status.kind == "ok", agent.status.text
    assert agent.view.diagnosis["problems"] == ["漏发"] and agent.problems["漏发"].value

    # an over-limit resend typed in yuan: pending for a supervisor (a resend, not a refund: a refund can never
    # exceed what the order paid, tests/test_ledger_money.py; above the order's value it needs a reason)
    for row in list(agent.item_rows):
        row.remove.click()
    row = agent._add_item()
    row.kind.value = "resend"
    row.amount.value = "400"
    agent.propose_note.value = "少发多件，整单补发并承担运费"
    assert "400 元" in agent.items_total.value
    agent.buttons["propose"].click()
    assert agent.status.kind == "ok", agent.status.text
    assert "已提交审批" in agent.status.text
    assert agent.view.state == "pending_approval"
    assert {code for code, b in agent.buttons.items() if visible(b)} == set(agent.view.actions)
    assert "approve" not in agent.view.actions

    sup = build_approvals(wb(store, "supervisor"))
    item = sup.item(cid)
    assert "400 元" in item.info.value and "agent" in item.info.value and not item.approve.disabled
    item.reason.value = "同意退款"
    item.approve.click()
    assert sup.status.kind == "ok", sup.status.text
    assert cid not in sup.items
    assert case_row(store, cid)["state"] == "remedy_proposed"

    agent.reload_button.click()
    assert visible(agent.buttons["deliver"])
    agent.buttons["deliver"].click()
    assert agent.status.kind == "ok", agent.status.text
    assert agent.view.state == "remedy_delivered" and "已送达" in agent.ledger.value
    agent.satisfied.value = True
    agent.buttons["resolve"].click()
    assert agent.status.kind == "ok", agent.status.text
    assert agent.view.state == "resolved"

    fu = build_followups(wb(store, "agent"), horizon_hours=24 * 400)
    tasks = [t for t in fu.tasks.values() if t.case_id == cid]
    assert len(tasks) >= 2
    for t in tasks:
        assert t.message.value.strip(), t.data
        assert f"ro-followups-message-{t.followup_id}" in t.message._dom_classes
        assert f".ro-followups-message-{t.followup_id} textarea" in t.copy.value
        assert t.message.value not in t.copy.value  # the copy button holds no user text
    first = tasks[0]
    first.skip.click()  # skipping needs a reason
    assert fu.status.kind == "error" and "原因" in fu.status.text
    first.done.click()
    assert fu.status.kind == "ok", fu.status.text
    assert first.followup_id not in fu.tasks


def test_stale_save_shows_conflict_and_keeps_the_first_save(store: Store) -> None:
    cid = fresh_case(store)
    one = build_case(wb(store, "agent"), case_id=cid)
    two = build_case(wb(store, "supervisor"), case_id=cid)
    one.reply.value = "第一位客服的回复：非常抱歉，我们马上为您补发。"
    one.buttons["save_reply"].click()
    assert one.status.kind == "ok", one.status.text
    two.reply.value = "第二个标签页的回复：抱歉给您带来不便。"
    two.buttons["save_reply"].click()
    assert visible(two.conflict) and two.status.kind == "error"
    assert "ro-case-conflict" in two.conflict._dom_classes
    assert any(c["field"] == "reply_text" and c["actor"] == "agent" for c in two.conflict_changes)
    assert "第一位客服的回复" in two.conflict_html.value
    assert two.reply.value.startswith("第二个标签页")  # the operator's input is kept until they reload
    assert case_row(store, cid)["reply_text"].startswith("第一位客服的回复")
    two.conflict_reload.click()
    assert not visible(two.conflict) and two.reply.value.startswith("第一位客服的回复")
    assert two.view.version == one.view.version


def test_xss_payload_renders_escaped(store: Store) -> None:
    cid = fresh_case(store)
    with store.write() as conn:
        pk = conn.execute(sa.select(cases.c.review_pk).where(cases.c.id == cid)).scalar_one()
        conn.execute(reviews.update().where(reviews.c.id == pk).values(
            content=XSS + "质量太差", append_content=XSS, buyer_nick_masked=XSS, seller_reply=XSS))
    app = build_workbench(wb(store, "agent"), auto_refresh=False)
    app.open_case(cid)
    assert app.case.view.case_id == cid, app.case.status.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in app.case.review.value
    queue = build_queue(wb(store, "agent"), auto_refresh=False, page_size=200)
    assert "&lt;img src=x onerror=alert(1)&gt;" in queue.row_for(cid).cells.value
    for root in (app.root, queue.root):
        for w in walk(root):
            if isinstance(w, (widgets.HTML, widgets.HTMLMath)):
                assert "<img" not in w.value, w.value[:200]
    app.close()


# ------------------------------------------------------------------ tampering (S-07, S-08)
def test_another_shops_case_is_refused(store: Store) -> None:
    other = fresh_case(store, shop=2)
    mine = fresh_case(store, shop=1)
    form = build_case(wb(store, "agent_shop1"), case_id=mine)
    assert form.view.case_id == mine
    form.case_id.value = str(other)  # the id field changed (a crafted comm message or typing)
    form.load_button.click()
    assert form.status.kind == "error" and "无权" in form.status.text
    assert form.view.case_id == mine  # still the allowed case; nothing of the other shown
    # a write after the tampered id still goes to the loaded case only, never to the other shop's
    form.contact_note.value = "联系客户"
    form.buttons["contact"].click()
    assert form.status.kind == "ok", form.status.text
    assert case_row(store, other)["version"] == 1
    deep = build_case(wb(store, "agent_shop1"), case_id=str(other))
    assert deep.view is None and "无权" in deep.status.text
    with store.read() as conn:
        denied = conn.execute(sa.text("select count(*) from access_log where actor='agent_shop1' "
                                      "and outcome='denied'")).scalar_one()
    assert denied >= 2


def test_tampered_display_fields_grant_nothing(store: Store) -> None:
    cid = fresh_case(store)
    a = wb(store, "agent")
    form = build_case(a, case_id=cid)
    form.contact_note.value = "已联系"
    form.buttons["contact"].click()
    row = form._add_item()
    for r in list(form.item_rows):
        if r is not row:
            r.remove.click()
    row.kind.value, row.amount.value = "resend", "450"
    form.propose_note.value = "整单补发"  # a reason: a resend above the order's value needs one
    form.buttons["propose"].click()
    assert form.view.state == "pending_approval", form.status.text

    # the agent rewrites the disabled "who am I" fields and clicks the (hidden) approve buttons
    sup_label = get_actor(store, "supervisor").label
    form.actor.value = sup_label
    assert not visible(form.buttons["approve"])
    form.buttons["approve"].click()
    assert form.status.kind == "error" and "无权" in form.status.text, form.status.text
    approvals = build_approvals(a)
    approvals.approver.value = sup_label
    item = approvals.item(cid)
    assert item.approve.disabled
    item.approve.click()
    assert approvals.status.kind == "error" and "无权" in approvals.status.text
    assert case_row(store, cid)["state"] == "pending_approval"

    # a supervisor cannot approve their own request either (S-08)
    cid2 = fresh_case(store)
    s = wb(store, "supervisor")
    f2 = build_case(s, case_id=cid2)
    f2.contact_note.value = "已联系"
    f2.buttons["contact"].click()
    row = f2._add_item()
    for r in list(f2.item_rows):
        if r is not row:
            r.remove.click()
    row.kind.value, row.amount.value = "resend", "1200"
    f2.propose_note.value = "整单补发"
    f2.buttons["propose"].click()
    assert f2.view.state == "pending_approval", f2.status.text
    own = build_approvals(s)
    assert not own.item(cid2).data["may_approve"]
    own.item(cid2).approve.click()
    assert own.status.kind == "error" and "自己" in own.status.text
    assert case_row(store, cid2)["state"] == "pending_approval"


def test_invalid_amount_and_missing_reason_show_messages(store: Store) -> None:
    cid = fresh_case(store)
    form = build_case(wb(store, "agent"), case_id=cid)
    form.contact_note.value = "已联系"
    form.buttons["contact"].click()
    version = form.view.version
    form.item_rows[0].amount.value = "$20"
    assert "人民币" in form.items_total.value
    form.buttons["propose"].click()
    assert form.status.kind == "error" and "人民币" in form.status.text
    form.reason.value = ""
    form.buttons["escalate"].click()
    assert form.status.kind == "error" and "原因" in form.status.text
    assert case_row(store, cid)["version"] == version
    form.reply.value = "亲，好评返现哦"
    form.buttons["save_reply"].click()
    assert form.status.kind == "error" and "Traceback" not in form.status.text


def test_unmask_only_for_roles_that_may(store: Store) -> None:
    cid = fresh_case(store)
    sup = build_case(wb(store, "supervisor"), case_id=cid)
    assert visible(sup.unmask_box)
    sup.unmask_button.click()  # with or without the vault installed: a message, never an exception
    assert sup.status.text
    if sup.status.kind != "error":
        assert sup.unmask_value.value


# ------------------------------------------------------------------ deep link and notebooks
def test_case_id_from_query(monkeypatch: pytest.MonkeyPatch, store: Store) -> None:
    monkeypatch.delenv("VOILA_PREHEAT", raising=False)
    monkeypatch.setenv("QUERY_STRING", "case=42&x=1")
    assert case_id_from_query() == "42"
    monkeypatch.setenv("QUERY_STRING", "")
    assert case_id_from_query() is None
    # a preheated kernel: the request info is already in the environment (open_session waited for it) …
    import voila.utils

    monkeypatch.setenv("VOILA_PREHEAT", "True")
    monkeypatch.setenv("QUERY_STRING", "case=7")
    monkeypatch.setattr(voila.utils, "get_query_string", lambda url=None: pytest.fail("waited twice"))
    assert case_id_from_query() == "7"
    # … or not yet: then Voila is asked
    monkeypatch.delenv("QUERY_STRING")
    monkeypatch.setattr(voila.utils, "get_query_string", lambda url=None: "case=8")
    assert case_id_from_query() == "8"
    monkeypatch.delenv("VOILA_PREHEAT")
    form = build_case(wb(store, "agent"), case_id="42 or 1=1")
    assert form.view is None and form.status.kind == "error" and "数字" in form.status.text


def test_notebooks_are_clean_and_run_with_the_server_identity(db: str, store: Store) -> None:
    import nbformat
    from reviewops.serve import IDENTITY_ENV, SECRET_ENV, default_forms_dir, make_identity_token

    for name in ("workbench.ipynb", "case.ipynb"):
        nb = nbformat.read(ROOT / "widgets" / name, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata["kernelspec"]["name"] == "python3"
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code)
        assert "open_session" in code[0].source and len(code[0].source.splitlines()) <= 12

    secret = "s" * 43
    token = make_identity_token("agent", secret=secret)
    cid = fresh_case(store)
    env = {SECRET_ENV: secret, IDENTITY_ENV: token, "REVIEWOPS_DB": db, "QUERY_STRING": f"case={cid}",
           "VOILA_PREHEAT": "False"}
    for name in ("case.ipynb", "workbench.ipynb"):
        out = run_notebook(default_forms_dir() / name, env)
        outputs = [o for c in out.cells if c.cell_type == "code" for o in c.outputs]
        assert not [o for o in outputs if o.output_type == "error"], outputs
        views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
        assert views, outputs
    # no identity: a message, never a traceback
    out = run_notebook(default_forms_dir() / "workbench.ipynb", {**env, IDENTITY_ENV: ""})
    outputs = [o for c in out.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    state = out.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    shown = [m["state"] for m in state.values() if "ro-start-error" in m["state"].get("_dom_classes", [])]
    assert shown and "身份" in shown[0]["value"] and "Traceback" not in shown[0]["value"]


# ------------------------------------------------------------------ CSS classes are documented
def test_every_actionable_widget_has_a_documented_class(store: Store) -> None:
    app = build_workbench(wb(store, "supervisor"), auto_refresh=False)
    cid = fresh_case(store)
    app.open_case(cid)
    app.followups.horizon.value = 24.0 * 400
    doc = (ROOT / "docs" / "forms.md").read_text(encoding="utf-8")
    actionable = (widgets.Button, widgets.Text, widgets.Textarea, widgets.Dropdown, widgets.Checkbox)
    missing, undocumented = [], set()
    for w in walk(app.root):
        ro = [c for c in w._dom_classes if c.startswith("ro-")]
        if isinstance(w, actionable) and not ro:
            missing.append(f"{type(w).__name__} {getattr(w, 'description', '')!r}")
        for c in ro:
            base = re.sub(r"-\d+$", "", c)
            if f"`{base}`" not in doc:
                undocumented.add(base)
    app.close()
    assert not missing, missing
    assert not undocumented, sorted(undocumented)


def test_the_app_builds_forms_on_first_use_and_refreshing_lists_does_not_leak_widgets(store):
    from ipywidgets.widgets.widget import _instances

    app = build_workbench(wb(store, "supervisor"), auto_refresh=False)
    assert app._built == {}  # only the queue is built for the first paint
    app.tabs.selected_index = 2
    assert set(app._built) == {2}
    app.tabs.selected_index = 3
    app.tabs.selected_index = 0
    app.approvals.refresh()
    app.followups.refresh()
    before = len(_instances)
    for _ in range(5):
        app.tabs.selected_index = 2
        app.tabs.selected_index = 3
        app.tabs.selected_index = 0
    assert len(_instances) <= before + 2, (before, len(_instances))
    app.close()


def test_the_appeals_tab_is_there_for_legal_supervisor_and_admin_only(store):
    """申诉 is the fifth tab for the roles of APPEAL_ROLES, built on first use; an agent has no such tab."""
    from reviewops.handling.appeals import APPEAL_ROLES
    from reviewops_widgets import AppealsForm, build_appeals
    from reviewops_widgets.app import APPEALS, TABS

    assert callable(build_appeals) and set(APPEAL_ROLES) == {"legal", "supervisor", "admin"}
    for name, role in (("legal_tab", "legal"), ("admin_tab", "admin")):
        if name not in fresh_case.__dict__.setdefault("users", set()):
            add_user(store, name, role=role, password="password1", actor="test")
            fresh_case.__dict__["users"].add(name)
    for name in ("agent", "agent_shop1"):
        app = build_workbench(wb(store, name), auto_refresh=False)
        try:
            assert tuple(app.tabs.titles) == TABS and len(app.tabs.children) == 4 and "申诉" not in app.tabs.titles
            assert not app.may_appeal and APPEALS not in app._slots
            with pytest.raises(AttributeError):
                app.appeals  # noqa: B018
            for index in (1, 2, 3, 0):  # every tab it has still works
                app.tabs.selected_index = index
            assert app.status.kind != "error", app.status.text
        finally:
            app.close()
    for name in ("supervisor", "legal_tab", "admin_tab"):
        app = build_workbench(wb(store, name), auto_refresh=False)
        try:
            assert tuple(app.tabs.titles) == (*TABS, "申诉") and len(app.tabs.children) == 5
            assert APPEALS not in app._built  # built the first time its tab is selected
            app.tabs.selected_index = APPEALS
            form = app._built[APPEALS]
            assert isinstance(form, AppealsForm) and app.appeals is form
            assert app.tabs.children[APPEALS].children == (form.root,)
            assert form.status.kind != "error", form.status.text
            app.tabs.selected_index = 0
            app.tabs.selected_index = APPEALS  # switching back refreshes the list
            assert app._built[APPEALS] is form and form.status.kind != "error", form.status.text
        finally:
            app.close()


def test_the_workbench_first_paint_stays_small(store):
    """The first open (docs/performance.md): every widget model of the first paint is sent to the browser and
    turned into a view, so the page is built with the queue only and its row slots share the models nobody
    changes per row (button/cell layouts and styles). 158 models at 20 slots; a regression adds dozens."""
    from ipywidgets.widgets.widget import _instances

    before = set(_instances)
    app = build_workbench(wb(store, "supervisor"), auto_refresh=False)
    try:
        new = len(set(_instances) - before)
        assert new <= 170, new
        rows = app.queue.rows
        assert len({id(r.open.layout) for r in rows}) == 1 and len({id(r.cells.style) for r in rows}) == 1
        assert len({id(r.box.layout) for r in rows}) == len(rows)  # each row hides on its own
    finally:
        app.close()
