"""The workbench APIs the demo's worked history uses to stay fast without skipping a rule:
``Workbench.suggestion`` (the case view's draft and remedy alone), ``one_transaction`` (several steps,
one commit, each step a savepoint) and ``Workbench.complete_followups`` (a case's due tasks in one go)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from reviewops.core import store as stmod
from reviewops.core.errors import AccessDenied, ComplianceBlocked, ConfigError
from reviewops.handling.workbench import Workbench, one_transaction

from wb_fixtures import access_rows, case_row, ledger_rows, make_case, make_users


def _events(store, case_id: int) -> list[str]:
    with store.read() as conn:
        return conn.execute(sa.select(stmod.case_events.c.action).where(stmod.case_events.c.case_id == case_id)
                            .order_by(stmod.case_events.c.version_from)).scalars().all()


def test_suggestion_is_what_the_case_view_shows(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    big = make_case(sqlite_store, tmp_path, paid_fen=17900)
    none = make_case(sqlite_store, tmp_path, paid_fen=None, customer="cust2")
    a = Workbench(sqlite_store, u["a1"])
    for cid in (big, none):
        view, sug = a.case(cid), a.suggestion(cid)
        assert (sug.draft, sug.remedy, sug.suggested_items) == (view.draft, view.remedy, view.suggested_items)
    assert a.suggestion(big).suggested_items == [{"kind": "resend", "amount_fen": 17900},
                                                 {"kind": "coupon", "amount_fen": 1000}]
    v = a.save_diagnosis(big, 1, problems=["漏发"], text="少发一件")
    sug = a.suggestion(big)
    assert "漏发" in sug.draft.text and sug.draft == a.case(big).draft and v == 2
    other = Workbench(sqlite_store, make_users_in_shop(sqlite_store))
    with pytest.raises(AccessDenied):
        other.suggestion(big)


def make_users_in_shop(store):
    from reviewops.core.users import add_user, get_actor

    add_user(store, "elsewhere", role="agent", password="password1", actor="test", shops="999")
    return get_actor(store, "elsewhere")


def test_one_transaction_commits_every_step_at_the_end(store, tmp_path):
    """On both backends (savepoints on SQLite and PostgreSQL)."""
    u = make_users(store)
    cid = make_case(store, tmp_path, paid_fen=17900)
    other = stmod.Store.open(store.url)  # another process's view: sees nothing before the commit
    try:
        with one_transaction(store) as tx:
            a, s = Workbench(tx, u["a1"]), Workbench(tx, u["s1"])
            v = a.record_contact(cid, 1, channel="phone", note="已致电致歉")
            v = a.save_reply(cid, v, "亲，非常抱歉，已为您安排补发。")
            prop = a.propose(cid, v, a.suggestion(cid).suggested_items)
            assert case_row(tx, cid)["state"] == "remedy_proposed" and not prop.pending
            assert case_row(other, cid)["state"] == "new" and _events(other, cid) == ["create"]
            with pytest.raises(AccessDenied):  # an agent may not close: refused and the refusal logged
                a.close(cid, prop.version, "试试")
            with pytest.raises(ComplianceBlocked):
                a.save_reply(cid, prop.version, "亲，删评后马上给您退款")
            with pytest.raises(ConfigError), tx.write() as conn:  # a step that fails after writing is undone alone
                stmod.update_case(conn, cid, prop.version, {"notes": "半途"}, actor="a1", via="test")
                raise ConfigError("half way")
            v = s.deliver(cid, prop.version, "已补发")
        row = case_row(other, cid)
    finally:
        other.close()
    assert row["state"] == "remedy_delivered" and row["version"] == v
    assert _events(store, cid) == ["create", "transition", "reply", "transition", "transition"]
    assert case_row(store, cid)["notes"] != "半途"
    assert [r["state"] for r in ledger_rows(store, cid)] == ["delivered", "delivered"]
    assert any(r["action"] == "close" and r["outcome"] == "denied" for r in access_rows(store))


def test_one_transaction_rolls_back_as_a_whole_when_the_block_fails(store, tmp_path):
    u = make_users(store)
    cid = make_case(store, tmp_path)
    with pytest.raises(RuntimeError):
        with one_transaction(store) as tx:
            a = Workbench(tx, u["a1"])
            a.record_contact(cid, 1, channel="phone", note="已致电致歉")
            with one_transaction(tx) as inner:  # nested: joins the outer transaction
                assert inner is tx
            raise RuntimeError("crash mid-case")
    row = case_row(store, cid)
    assert row["state"] == "new" and row["version"] == 1 and _events(store, cid) == ["create"]


def _resolved(store, tmp_path, u) -> tuple[Workbench, int]:
    a = Workbench(store, u["a1"])
    cid = make_case(store, tmp_path, paid_fen=8900)
    v = a.record_contact(cid, 1, channel="phone", note="电话联系，确认漏发")
    p = a.propose(cid, v, [{"kind": "refund", "amount_fen": 8900}, {"kind": "coupon", "amount_fen": 500}])
    v = a.deliver(cid, p.version)
    a.resolve(cid, v, satisfied=True)
    return a, cid


def _tasks(store, case_id) -> dict[str, dict]:
    with store.read() as conn:
        return {r["step"]: dict(r) for r in conn.execute(sa.select(stmod.followups).where(
            stmod.followups.c.case_id == case_id)).mappings()}


def test_complete_followups_does_each_task_at_its_time_in_one_go(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    a, cid = _resolved(sqlite_store, tmp_path, u)
    due = a.followups_due(now=stmod.utcnow() + dt.timedelta(days=40))
    t0 = stmod.utcnow()
    batch = [{"followup_id": int(fid), "at": t0 + dt.timedelta(hours=i)} for i, fid in enumerate(due["followup_id"])]
    assert list(due["step"]) == ["revision_guidance", "repurchase_coupon", "care_day3", "silver_day30"]
    batch[2].update(done=False, reason="客户未接听")
    out = a.complete_followups(batch)
    assert [r["id"] for r in out] == [b["followup_id"] for b in batch]
    assert [r["state"] for r in out] == ["done", "done", "skipped", "done"] and out[2]["reason"] == "客户未接听"
    assert [r["done_at"] for r in out] == [b["at"] for b in batch]
    row = case_row(sqlite_store, cid)
    assert row["state"] == "follow_up_done" and row["follow_up_count"] == 4
    assert _events(sqlite_store, cid)[-5:] == ["followup"] * 4 + ["transition"]
    coupons = {r["kind"]: r for r in ledger_rows(sqlite_store, cid) if r["kind"].endswith("_coupon")}
    assert set(coupons) == {"repurchase_coupon"}  # the skipped care task grants no coupon
    assert coupons["repurchase_coupon"]["delivered_at"] == batch[1]["at"]
    expiry = _tasks(sqlite_store, cid)["coupon_expiry"]
    assert expiry["state"] == "open" and expiry["due_at"] == batch[1]["at"] + dt.timedelta(days=90 - 7)
    with pytest.raises(ConfigError, match="原因"):
        a.complete_followups([{"followup_id": 1, "done": False}])


def test_a_refused_task_undoes_the_whole_batch(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    a, cid = _resolved(sqlite_store, tmp_path, u)
    tasks = _tasks(sqlite_store, cid)
    a.complete_followup(int(tasks["care_day3"]["id"]))
    with pytest.raises(ConfigError, match="已完成"):
        a.complete_followups([{"followup_id": int(tasks["revision_guidance"]["id"])},
                              {"followup_id": int(tasks["care_day3"]["id"])}])
    assert _tasks(sqlite_store, cid)["revision_guidance"]["state"] == "open"
    from reviewops.core.users import add_user, get_actor

    other = make_case(sqlite_store, tmp_path, shop="别的店", text="差评，太差了")
    add_user(sqlite_store, "x1", role="agent", password="password1", actor="t",
             shops=[case_row(sqlite_store, other)["shop_id"]])
    x = Workbench(sqlite_store, get_actor(sqlite_store, "x1"))
    with pytest.raises(AccessDenied):
        x.complete_followups([{"followup_id": int(tasks["silver_day30"]["id"])}])
    denied = [r for r in access_rows(sqlite_store) if r["action"] == "followup" and r["outcome"] == "denied"]
    assert denied and denied[-1]["shop_id"] == case_row(sqlite_store, cid)["shop_id"]
    assert _tasks(sqlite_store, cid)["silver_day30"]["state"] == "open"
