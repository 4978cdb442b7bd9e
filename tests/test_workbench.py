"""The Workbench facade: queue order and filters, the case view (masked), SLA stop at first
contact, stale saves (R-04), concurrent moves (R-05), identity and access (S-07, S-08)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from reviewops.core import store as stmod
from reviewops.handling.cases import InvalidTransition, transition_case
from reviewops.core.errors import AccessDenied, ComplianceBlocked, ConfigError, ConflictError
from reviewops.handling.opening import recompute_due
from reviewops.core.users import get_actor, set_role
from reviewops.handling.workbench import Workbench, describe_conflict

from wb_fixtures import access_rows, case_row, ledger_rows, make_case, make_users


def test_queue_is_by_deadline_with_answered_cases_last_and_filters(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    quality = make_case(sqlite_store, tmp_path, text="质量太差，穿一次就开线了")      # 4 h, supervisor
    logistics = make_case(sqlite_store, tmp_path, text="快递太慢了，一个星期才到")      # 2 h, agent
    malicious = make_case(sqlite_store, tmp_path, text="不赔钱就差评，说到做到")  # 1 h, legal
    a = Workbench(sqlite_store, u["a1"])
    q = a.queue()
    assert list(q["case_id"]) == [malicious, logistics, quality]
    assert list(q["owner_role"]) == ["legal", "agent", "supervisor"]
    assert set(q["sla_status"]) == {"running"}
    a.record_contact(logistics, 1, channel="chat", note="已联系")
    q = a.queue()
    assert list(q["case_id"]) == [malicious, quality, logistics]  # answered cases sink
    assert q.set_index("case_id").loc[logistics, "sla_status"] == "met"
    assert list(a.queue(role="supervisor")["case_id"]) == [quality]
    assert list(a.queue(category="malicious")["case_id"]) == [malicious]
    assert list(a.queue(mine=True)["case_id"]) == [logistics]  # the first contact assigns the case
    late = a.queue(now=stmod.utcnow() + dt.timedelta(hours=3))
    assert late.set_index("case_id").loc[malicious, "sla_status"] == "breached"
    assert late.set_index("case_id").loc[quality, "sla_status"] == "running"  # 3 h of 4 h: below the 80 % warning
    assert a.queue_counts(late)["breached"] == 1 and a.queue_counts(late)["unanswered"] == 2


def test_warning_status_at_the_policy_fraction(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path, text="快递太慢了")  # 2 h
    a = Workbench(sqlite_store, u["a1"])
    start = case_row(sqlite_store, cid)["sla_started_at"]
    status = lambda minutes: a.queue(now=start + dt.timedelta(minutes=minutes))["sla_status"].iloc[0]  # noqa: E731
    assert [status(m) for m in (10, 90, 97, 121)] == ["running", "running", "warning", "breached"]


def test_first_contact_stops_the_clock_and_the_audit_rebuilds_it(store, tmp_path):
    u = make_users(store)
    cid = make_case(store, tmp_path, text="快递太慢了")
    a = Workbench(store, u["a1"])
    due = case_row(store, cid)["sla_due_at"]
    a.record_contact(cid, 1, channel="phone", note="电话道歉并说明原因")
    row = case_row(store, cid)
    assert row["state"] == "contacted" and row["first_contact_at"] is not None and row["assignee"] == "a1"
    assert row["sla_due_at"] == due and '"stopped": true' in row["sla_state_json"]
    assert recompute_due(store, cid) == due  # R-10 still holds after the stop
    v = a.record_contact(cid, 2, channel="chat", note="发了补发单号")
    assert case_row(store, cid)["first_contact_at"] == row["first_contact_at"]
    view = a.case(cid)
    assert [c["note"] for c in view.contacts] == ["电话道歉并说明原因", "发了补发单号"] and view.version == v


def test_case_view_is_masked_and_offers_only_allowed_actions(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path, paid_fen=17900,
                    text="东西坏了，打我电话+86 138 0013 8000，身份证110101199003070017")
    a, s = Workbench(sqlite_store, u["a1"]), Workbench(sqlite_store, u["s1"])
    view = a.case(cid)
    assert "138****8000" in view.review["content"] and "13800138000" not in view.review["content"].replace(" ", "")
    assert "110101********0017" in view.review["content"]
    assert view.order["paid"] == "179 元" and view.remedy.remedy == "resend"
    assert view.suggested_items == [{"kind": "resend", "amount_fen": 17900}, {"kind": "coupon", "amount_fen": 1000}]
    assert "在您（普通客服）的审批权限内" in view.approval_note
    assert view.actions == ["take", "diagnose", "save_reply", "contact", "escalate"]
    assert view.unmask_fields == [] and s.case(cid).unmask_fields  # agents may not unmask (policy)
    assert view.draft.ok and "补发" in view.draft.text and view.draft.length <= view.draft.limit


def test_diagnosis_can_correct_the_category_as_a_training_label(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path, text="不满意，差评")
    a = Workbench(sqlite_store, u["a1"])
    v = a.save_diagnosis(cid, 1, problems=["漏发"], text="少发一双袜子", category="missing_wrong")
    row = case_row(sqlite_store, cid)
    assert row["primary_category"] == "missing_wrong" and row["version"] == v == 3
    with sqlite_store.read() as conn:
        actions = conn.execute(sa.select(stmod.case_events.c.action).where(stmod.case_events.c.case_id == cid)
                               .order_by(stmod.case_events.c.version_from)).scalars().all()
    assert actions == ["create", "diagnose", "recategorize"]
    with pytest.raises(ConfigError, match="未知的问题类型"):
        a.save_diagnosis(cid, v, problems=["乱写"])


def test_reply_is_checked_before_it_is_saved(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path)
    a = Workbench(sqlite_store, u["a1"])
    with pytest.raises(ComplianceBlocked):
        a.save_reply(cid, 1, "亲，删评后马上给您退款")
    with pytest.raises(ComplianceBlocked, match="500"):
        a.save_reply(cid, 1, "抱歉" * 300)
    assert a.save_reply(cid, 1, "亲，非常抱歉，已为您安排补发。") == 2


def test_a_stale_save_is_a_conflict_that_overwrites_nothing(store, tmp_path):
    """R-04: A and B load the case; A saves; B's save is refused with what changed; A's change stays."""
    u = make_users(store)
    cid = make_case(store, tmp_path)
    a, b = Workbench(store, u["a1"]), Workbench(store, u["a2"])
    seen_a, seen_b = a.case(cid).version, b.case(cid).version
    a.save_reply(cid, seen_a, "亲，A 写的回复")
    with pytest.raises(ConflictError, match="已被他人修改"):
        b.save_reply(cid, seen_b, "亲，B 写的回复")
    assert case_row(store, cid)["reply_text"] == "亲，A 写的回复"
    changes = describe_conflict(store, cid, seen_b)
    assert [(c["actor"], c["field"], c["after"]) for c in changes] == [("a1", "reply_text", "亲，A 写的回复")]


def test_concurrent_moves_have_exactly_one_winner(sqlite_store, tmp_path):
    """R-05: two agents make the same move on the same case at the same instant, 1,000 times."""
    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path)
    version = Workbench(sqlite_store, u["a1"]).record_contact(cid, 1, channel="chat", note="联系")
    moves = ["escalated", "contacted"]
    for i in range(1000):
        to = moves[i % 2]
        barrier = threading.Barrier(2)
        results: list[object] = [None, None]

        def go(k: int, to=to, v=version, barrier=barrier, results=results) -> None:
            barrier.wait()
            try:
                results[k] = transition_case(sqlite_store, cid, v, to, actor=f"a{k}", via="test", reason="并发")
            except (ConflictError, InvalidTransition) as e:
                results[k] = e
        threads = [threading.Thread(target=go, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wins = [r for r in results if isinstance(r, int)]
        assert len(wins) == 1, results
        version = wins[0]
    row = case_row(sqlite_store, cid)
    assert (row["state"], row["version"]) == ("contacted", version)
    with sqlite_store.read() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(stmod.case_events)
                         .where(stmod.case_events.c.case_id == cid)).scalar_one()
    assert n == version  # one audit event per version, none lost, none doubled


def test_two_supervisors_approving_at_once_approve_once(store, tmp_path):
    u = make_users(store)
    for i in range(20):
        cid = make_case(store, tmp_path, paid_fen=45000, customer=f"c{i}")  # a refund ≤ what the order paid
        a = Workbench(store, u["a1"])
        p = a.propose(cid, a.record_contact(cid, 1, channel="chat", note="联系"),
                      [{"kind": "refund", "amount_fen": 40000}])
        barrier = threading.Barrier(2)
        out: list[object] = [None, None]

        def go(k: int, cid=cid, v=p.version, barrier=barrier, out=out) -> None:
            wb = Workbench(store, u[("s1", "s2")[k]])
            barrier.wait()
            try:
                out[k] = wb.approve(cid, v, "同意")
            except (ConflictError, ConfigError) as e:
                out[k] = e
        threads = [threading.Thread(target=go, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(isinstance(r, int) for r in out) == 1, out
        rows = ledger_rows(store, cid)
        assert [r["state"] for r in rows] == ["approved"] and rows[0]["version"] == 2


def test_identity_comes_from_the_store_not_from_the_caller(sqlite_store, tmp_path):
    """S-08: an agent cannot raise their own role; a disabled user cannot act."""
    from reviewops.core.users import set_active

    make_users(sqlite_store)
    with pytest.raises(AccessDenied, match="自己"):
        set_role(sqlite_store, "a1", "admin", actor="a1")
    assert get_actor(sqlite_store, "a1").role == "agent"
    assert [r["outcome"] for r in access_rows(sqlite_store, "user_change")] == ["denied"]
    set_active(sqlite_store, "a2", False, actor="boss")
    with pytest.raises(AccessDenied, match="停用"):
        get_actor(sqlite_store, "a2")
    with pytest.raises(AccessDenied):
        get_actor(sqlite_store, "nobody")


def test_agents_cannot_close_appeal_or_approve(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path, text="不给钱就差评，说到做到")
    a, legal = Workbench(sqlite_store, u["a1"]), Workbench(sqlite_store, u["l1"])
    with pytest.raises(AccessDenied):
        a.appeal(cid, 1, "恶意")
    with pytest.raises(AccessDenied):
        a.close(cid, 1, "结束")
    assert "appeal" not in a.case(cid).actions and "appeal" in legal.case(cid).actions
    assert legal.appeal(cid, 1, "聊天记录显示勒索，提交平台申诉") == 2


def test_an_open_page_acts_with_what_the_store_says_now(sqlite_store, tmp_path):
    """A user disabled (or demoted) while their form is open cannot act with the old rights."""
    from reviewops.core.users import set_active

    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path, paid_fen=45000)  # a refund ≤ what the order paid
    s1 = Workbench(sqlite_store, u["s1"])
    set_role(sqlite_store, "s1", "agent", actor="boss")
    v = s1.record_contact(cid, 1, channel="chat", note="联系")
    assert s1.actor.role == "agent"
    p = s1.propose(cid, v, [{"kind": "refund", "amount_fen": 40000}])
    assert p.pending  # judged with the agent's limits, not the supervisor's the page was opened with
    set_active(sqlite_store, "s1", False, actor="boss")
    with pytest.raises(AccessDenied, match="停用"):
        s1.save_reply(cid, p.version, "亲，抱歉")
