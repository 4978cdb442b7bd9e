"""The case state machine: allowed moves, reasons, version checks, audit (R-05)."""

from __future__ import annotations

import csv
import json

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewops import ConfigError, ConflictError, NotFound, import_file, triage_store
from reviewops.core import store as stmod
from reviewops.handling.cases import (
    LEDGER_STATES,
    STATES,
    TRANSITIONS,
    InvalidTransition,
    allowed_transitions,
    transition_case,
    transition_in,
)


def _move(store, case_id, version, state, **kw):
    """One move; the remedy states go through transition_in (the ledger's door), the rest through transition_case."""
    if state in LEDGER_STATES:
        with store.write() as conn:
            return transition_in(conn, case_id, version, state, actor=kw.pop("actor", "a"), via="test", **kw)
    return transition_case(store, case_id, version, state, via="test", **{"actor": "a", **kw})

HEADER = ["订单编号", "买家昵称", "评价结果", "评价内容", "评价时间", "宝贝标题", "追评内容", "追评时间", "解释内容"]


def _case(store, tmp_path, text="物流太慢了，等了一周", name="r.csv") -> dict:
    path = tmp_path / name
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([HEADER, ["2841234567890123401", "张三", "差评", text, "2025-09-28 10:00:00", "外套",
                                          "", "", ""]])
    import_file(store, path, platform="taobao", kind="reviews", shop="店")
    (case_id,) = triage_store(store, model=False).case_ids
    with store.read() as conn:
        return dict(conn.execute(sa.select(stmod.cases).where(stmod.cases.c.id == case_id)).mappings().one())


def _events(store, case_id):
    with store.read() as conn:
        return conn.execute(sa.select(stmod.case_events.c.action, stmod.case_events.c.before_json,
                                      stmod.case_events.c.after_json)
                            .where(stmod.case_events.c.case_id == case_id)
                            .order_by(stmod.case_events.c.version_from)).all()


def test_the_playbook_path_end_to_end(store, tmp_path):
    case = _case(store, tmp_path)
    v = case["version"]
    for state in ("contacted", "remedy_proposed", "pending_approval", "remedy_proposed", "remedy_delivered",
                  "resolved", "follow_up_done", "closed"):
        v = _move(store, case["id"], v, state, actor="agent1", reason="完成" if state == "closed" else None)
    events = _events(store, case["id"])
    assert [a for a, _, _ in events] == ["create"] + ["transition"] * 8
    assert json.loads(events[-1].before_json)["state"] == "follow_up_done"
    assert json.loads(events[-1].after_json) == {"state": "closed", "notes": "完成"}
    assert allowed_transitions("closed", malicious=False) == []
    with pytest.raises(InvalidTransition, match="已关闭"):
        transition_case(store, case["id"], v, "contacted", actor="a", via="test")


def test_skipping_approval_or_appealing_a_normal_case_is_refused(sqlite_store, tmp_path):
    case = _case(sqlite_store, tmp_path)
    v = transition_case(sqlite_store, case["id"], 1, "contacted", actor="a", via="test")
    with pytest.raises(InvalidTransition, match="补偿流程"):
        transition_case(sqlite_store, case["id"], v, "remedy_proposed", actor="a", via="test")
    v = _move(sqlite_store, case["id"], v, "remedy_proposed")
    with pytest.raises(InvalidTransition, match="补偿流程"):
        transition_case(sqlite_store, case["id"], v, "remedy_delivered", actor="a", via="test")
    v = _move(sqlite_store, case["id"], v, "pending_approval")
    with pytest.raises(InvalidTransition, match="待审批"):
        _move(sqlite_store, case["id"], v, "remedy_delivered")
    with pytest.raises(InvalidTransition, match="恶意"):
        transition_case(sqlite_store, case["id"], v, "appeal", actor="a", via="test", reason="想申诉")
    with pytest.raises(ConfigError, match="原因"):
        transition_case(sqlite_store, case["id"], v, "escalated", actor="a", via="test", reason="  ")
    assert transition_case(sqlite_store, case["id"], v, "escalated", actor="a", via="test", reason="客户情绪激动") == v + 1


def test_malicious_cases_can_go_to_appeal(sqlite_store, tmp_path):
    case = _case(sqlite_store, tmp_path, text="不赔钱就差评，说到做到")
    assert case["primary_category"] == "malicious"
    assert "appeal" in allowed_transitions("new", malicious=True)
    assert transition_case(sqlite_store, case["id"], 1, "appeal", actor="legal1", via="test",
                           reason="勒索，提交平台申诉") == 2


def test_stale_version_unknown_case_and_state(sqlite_store, tmp_path):
    case = _case(sqlite_store, tmp_path)
    transition_case(sqlite_store, case["id"], 1, "contacted", actor="a", via="test")
    with pytest.raises(ConflictError):
        transition_case(sqlite_store, case["id"], 1, "contacted", actor="b", via="test")
    with pytest.raises(NotFound):
        transition_case(sqlite_store, 999, 1, "contacted", actor="a", via="test")
    with pytest.raises(ConfigError, match="unknown case state"):
        transition_case(sqlite_store, case["id"], 2, "done", actor="a", via="test")
    with pytest.raises(ConfigError):
        allowed_transitions("done", malicious=False)


def test_the_table_is_closed_and_everything_open_can_escalate():
    assert set(TRANSITIONS) == set(STATES)
    for src, targets in TRANSITIONS.items():
        assert targets <= set(STATES) and src not in targets
        if src not in ("closed", "follow_up_done", "escalated"):
            assert "escalated" in targets, src


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(STATES), max_size=12))
def test_random_moves_follow_the_table_and_the_audit(tmp_path_factory, moves):
    from reviewops.core.store import Store

    d = tmp_path_factory.mktemp("sm")
    with Store.open(d / "s.db") as store:
        case = _case(store, d)
        state, version, ok = "new", 1, 0
        for to in moves:
            legal = to in allowed_transitions(state, malicious=False) and to not in LEDGER_STATES
            try:
                version = transition_case(store, case["id"], version, to, actor="a", via="test", reason="r")
            except InvalidTransition:
                assert not legal
                continue
            assert legal
            state, ok = to, ok + 1
        assert len(_events(store, case["id"])) == ok + 1
        with store.read() as conn:
            row = conn.execute(sa.select(stmod.cases.c.state, stmod.cases.c.version)
                               .where(stmod.cases.c.id == case["id"])).one()
        assert (row.state, row.version) == (state, version)
