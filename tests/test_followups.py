"""Follow-up scheduler: cadence from the policy, due list, done/skip, coupons, compliance guard."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from reviewops.core import store as stmod
from reviewops.core.errors import AccessDenied, ComplianceBlocked, ConfigError
from reviewops.handling.workbench import Workbench

from wb_fixtures import case_row, ledger_rows, make_case, make_users

LATER = dt.timedelta(days=40)


def _resolved_with_remedy(store, tmp_path, u) -> tuple[Workbench, int]:
    a = Workbench(store, u["a1"])
    cid = make_case(store, tmp_path, paid_fen=8900)
    v = a.record_contact(cid, 1, channel="phone", note="电话联系，确认漏发")
    p = a.propose(cid, v, [{"kind": "refund", "amount_fen": 8900}, {"kind": "coupon", "amount_fen": 500}])
    v = a.deliver(cid, p.version)
    a.resolve(cid, v, satisfied=True)
    return a, cid


def _tasks(store, case_id):
    with store.read() as conn:
        return {r.step: r for r in conn.execute(sa.select(stmod.followups).where(stmod.followups.c.case_id == case_id))}


def test_the_playbook_cadence_is_scheduled_from_delivery_and_resolution(store, tmp_path):
    u = make_users(store)
    a, cid = _resolved_with_remedy(store, tmp_path, u)
    t = _tasks(store, cid)
    c = case_row(store, cid)
    assert set(t) == {"revision_guidance", "care_day3", "silver_day30", "repurchase_coupon"}
    delivered_at = min(r["delivered_at"] for r in ledger_rows(store, cid))
    assert t["revision_guidance"].due_at == delivered_at + dt.timedelta(hours=24)
    assert t["care_day3"].due_at == c["resolved_at"] + dt.timedelta(days=3)
    assert t["silver_day30"].due_at == c["resolved_at"] + dt.timedelta(days=30)
    due_now = a.followups_due()
    assert due_now.empty  # nothing is due yet
    due = a.followups_due(now=stmod.utcnow() + dt.timedelta(days=4))
    assert list(due["step"]) == ["revision_guidance", "repurchase_coupon", "care_day3"]
    assert due["message_ok"].all() and "更新评价" in due["message"].iloc[0] and "5元" in due["message"].iloc[2]


def test_done_tasks_grant_their_coupons_and_finish_the_case(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    a, cid = _resolved_with_remedy(sqlite_store, tmp_path, u)
    due = a.followups_due(now=stmod.utcnow() + LATER)
    for fid in due["followup_id"]:
        a.complete_followup(int(fid))
    rows = {r["kind"]: r for r in ledger_rows(sqlite_store, cid)}
    assert rows["care_coupon"]["amount_fen"] == 500 and rows["care_coupon"]["decided_by"] == "policy"
    rep = rows["repurchase_coupon"]
    assert rep["stackable"] and rep["amount_fen"] == 1000
    assert rep["expires_at"] - rep["delivered_at"] == dt.timedelta(days=90)
    expiry = _tasks(sqlite_store, cid)["coupon_expiry"]
    assert expiry.due_at == rep["expires_at"] - dt.timedelta(days=7) and expiry.state == "open"
    assert case_row(sqlite_store, cid)["state"] == "follow_up_done"
    with pytest.raises(ConfigError, match="已完成"):
        a.complete_followup(int(due["followup_id"].iloc[0]))
    msg = a.followups_due(now=stmod.utcnow() + dt.timedelta(days=90))
    assert list(msg["step"]) == ["coupon_expiry"] and "还有7天到期" in msg["message"].iloc[0]


def test_skipping_needs_a_reason_and_is_audited(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    a, cid = _resolved_with_remedy(sqlite_store, tmp_path, u)
    fid = int(a.followups_due(now=stmod.utcnow() + LATER)["followup_id"].iloc[0])
    with pytest.raises(ConfigError, match="原因"):
        a.complete_followup(fid, done=False)
    row = a.complete_followup(fid, done=False, reason="客户要求不要再联系")
    assert (row["state"], row["done_by"], row["reason"]) == ("skipped", "a1", "客户要求不要再联系")
    with sqlite_store.read() as conn:
        ev = conn.execute(sa.select(stmod.case_events.c.action).where(stmod.case_events.c.case_id == cid)
                          .order_by(stmod.case_events.c.id.desc())).scalars().first()
    assert ev == "followup"


def test_revision_guidance_waits_for_every_remedy_to_be_delivered(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    a = Workbench(sqlite_store, u["a1"])
    cid = make_case(sqlite_store, tmp_path, paid_fen=8900)
    v = a.record_contact(cid, 1, channel="chat", note="解释了原因，客户接受")
    v = a.resolve(cid, v, satisfied=True)  # resolved without a remedy: guidance is scheduled from the resolution
    assert "revision_guidance" in _tasks(sqlite_store, cid)
    v = a.escalate(cid, v, "客户又要求补偿")
    a.propose(cid, v, [{"kind": "coupon", "amount_fen": 500}])  # approved, not delivered yet
    due = a.followups_due(now=stmod.utcnow() + LATER)
    guidance = due[due["step"] == "revision_guidance"].iloc[0]
    assert not guidance["message_ok"] and "补偿送达之前" in guidance["problems"]
    with pytest.raises(ComplianceBlocked, match="补偿送达之后"):
        a.complete_followup(int(guidance["followup_id"]))


@pytest.mark.parametrize("edited", ["亲，改成好评就给您返现10元哦", "删除差评后我们立即退款", "五星好评送红包"])
def test_an_edited_message_with_conditional_incentives_is_blocked(sqlite_store, tmp_path, edited):
    u = make_users(sqlite_store)
    a, cid = _resolved_with_remedy(sqlite_store, tmp_path, u)
    fid = int(a.followups_due(now=stmod.utcnow() + LATER)["followup_id"].iloc[0])
    with pytest.raises(ComplianceBlocked):
        a.complete_followup(fid, message=edited)
    assert _tasks(sqlite_store, cid)["revision_guidance"].state == "open"


def test_other_shops_tasks_are_invisible_and_refused(sqlite_store, tmp_path):
    u0 = make_users(sqlite_store)
    _, cid = _resolved_with_remedy(sqlite_store, tmp_path, u0)
    from reviewops.core.users import add_user, get_actor

    other = make_case(sqlite_store, tmp_path, shop="别的店", text="差评，太差了")
    add_user(sqlite_store, "x1", role="agent", password="password1", actor="t",
             shops=[case_row(sqlite_store, other)["shop_id"]])
    x = Workbench(sqlite_store, get_actor(sqlite_store, "x1"))
    assert x.followups_due(now=stmod.utcnow() + LATER).empty
    fid = int(_tasks(sqlite_store, cid)["care_day3"].id)
    with pytest.raises(AccessDenied):
        x.complete_followup(fid)


def test_steps_anchored_on_case_creation_are_scheduled_by_triage(sqlite_store, tmp_path):
    from reviewops.core.policy import Policy, current_policy, save_policy

    p = current_policy(sqlite_store)
    tables = {k: [dict(r) for r in rows] for k, rows in p.tables.items()}
    tables["followups"].append({"step": "first_touch", "name_zh": "建案即时安抚", "anchor": "created",
                                "offset_hours": 0.5, "template_kind": "care"})
    from reviewops.core.policy import TABLES, _json_to_cell

    raw = {k: [{c: _json_to_cell(TABLES[k], c, v) for c, v in r.items()} for r in rows] for k, rows in tables.items()}
    save_policy(sqlite_store, Policy.from_tables(raw), actor="test")
    cid = make_case(sqlite_store, tmp_path)
    t = _tasks(sqlite_store, cid)
    assert set(t) == {"first_touch"}
    assert t["first_touch"].due_at == case_row(sqlite_store, cid)["sla_started_at"] + dt.timedelta(minutes=30)
