"""The workbench APIs the demo's worked history uses to stay fast without skipping a rule:
``Workbench.suggestion`` (the case view's draft and remedy alone), ``one_transaction`` (several steps,
one commit, each step a savepoint) and ``Workbench.complete_followups`` (a case's due tasks in one go)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from reviewops import store as stmod
from reviewops.errors import AccessDenied, ComplianceBlocked, ConfigError
from reviewops.workbench import Workbench, one_transaction

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
    from reviewops.users import add_user, get_actor

    add_user(store, "elsewhere", role="agent", password="password1", actor="test", shops="999")
    return get_actor(store, "elsewhere")


def test_one_transaction_commits_every_step_at_the_end(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path, paid_fen=17900)
    other = stmod.Store.open(sqlite_store.url)  # another process's view: sees nothing before the commit
    try:
        with one_transaction(sqlite_store) as tx:
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
    assert _events(sqlite_store, cid) == ["create", "transition", "reply", "transition", "transition"]
    assert case_row(sqlite_store, cid)["notes"] != "半途"
    assert [r["state"] for r in ledger_rows(sqlite_store, cid)] == ["delivered", "delivered"]
    assert any(r["action"] == "close" and r["outcome"] == "denied" for r in access_rows(sqlite_store))


def test_one_transaction_rolls_back_as_a_whole_when_the_block_fails(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path)
    with pytest.raises(RuntimeError):
        with one_transaction(sqlite_store) as tx:
            a = Workbench(tx, u["a1"])
            a.record_contact(cid, 1, channel="phone", note="已致电致歉")
            with one_transaction(tx) as inner:  # nested: joins the outer transaction
                assert inner is tx
            raise RuntimeError("crash mid-case")
    row = case_row(sqlite_store, cid)
    assert row["state"] == "new" and row["version"] == 1 and _events(sqlite_store, cid) == ["create"]
