"""Fewer round trips per workbench step, for many seats on one store (issue 21, docs/performance.md "Many seats").

A workbench read (queue, case view, shops, suggestion) and the checks before a save run their queries on one
connection in one read transaction (``Workbench._reads``): one pool checkout — with PostgreSQL's liveness ping —
and one ``BEGIN``/end, instead of one per query. Under CPU contention (100 agents on one server) every round trip
waits for a core, so this is what the load test's p95 buys back. Checked on both backends: the number of
checkouts per step, that the results are the same, that a refused read is still written to the access log while
the read transaction is open, and that inside ``one_transaction`` nothing changes.
"""

from __future__ import annotations

import contextlib

import pytest
from reviewops.core.errors import AccessDenied, ConflictError
from reviewops.core.users import set_active
from reviewops.handling import workbench as W
from reviewops.handling.workbench import Workbench, one_transaction
from sqlalchemy import event
from wb_fixtures import access_rows, make_case, make_users


@contextlib.contextmanager
def checkouts(store):
    n = [0]

    def count(*_a):
        n[0] += 1

    event.listen(store.engine, "checkout", count)
    try:
        yield n
    finally:
        event.remove(store.engine, "checkout", count)


def test_each_workbench_step_reads_in_one_transaction(store, tmp_path):
    u = make_users(store)
    cid = make_case(store, tmp_path)
    wb = Workbench(store, u["a1"])
    wb.queue()  # the policy is read once per page
    with checkouts(store) as n:
        q = wb.queue()
    assert n[0] == 1 and list(q["case_id"]) == [cid]
    with checkouts(store) as n:
        view = wb.case(cid)
    assert n[0] == 1 and view.version == 1
    with checkouts(store) as n:
        assert wb.shops() and wb.suggestion(cid).draft
    assert n[0] == 2
    with checkouts(store) as n:
        assert wb.save_reply(cid, 1, "亲，非常抱歉，已为您安排补发。") == 2
    assert n[0] == 3  # the checks before the save (actor, shop, platform), the version check again, the write
    with checkouts(store) as n:
        assert wb.take(cid, 2) == 3
    assert n[0] == 2
    with pytest.raises(ConflictError):
        wb.take(cid, 2)
    assert store.read  # the store itself is back (not the bound one) after every step, even a refused one
    assert wb.store is store


def test_the_results_are_those_of_separate_reads(store, tmp_path, monkeypatch):
    """The same queue and case view with the reads bound and with one transaction per query (the old way)."""
    u = make_users(store)
    cid = make_case(store, tmp_path)
    make_case(store, tmp_path, customer="cust2")
    bound = Workbench(store, u["a1"])
    q1, v1 = bound.queue(), bound.case(cid)
    monkeypatch.setattr(W.Workbench, "_reads", lambda self: contextlib.nullcontext())
    separate = Workbench(store, u["a1"])
    q2, v2 = separate.queue(), separate.case(cid)
    assert q1.drop(columns=["minutes_left"]).equals(q2.drop(columns=["minutes_left"]))
    assert (v1.version, v1.reply_text, v1.review, v1.customer, v1.actions) == \
           (v2.version, v2.reply_text, v2.review, v2.customer, v2.actions)


def test_a_refused_read_is_logged_while_the_read_transaction_is_open(store, tmp_path):
    u = make_users(store)
    cid = make_case(store, tmp_path)
    wb = Workbench(store, u["a1"])
    set_active(store, "a1", False, actor="test")
    with pytest.raises(AccessDenied):
        wb.case(cid)
    with pytest.raises(AccessDenied):
        wb.queue()
    denied = [(r["action"], r["outcome"], r["target"]) for r in access_rows(store, "read")]
    assert denied == [("read", "denied", "case"), ("read", "denied", "queue")]
    assert wb.store is store


def test_inside_one_transaction_the_steps_stay_in_it(store, tmp_path):
    u = make_users(store)
    cid = make_case(store, tmp_path)
    with checkouts(store) as n, one_transaction(store) as tx:
        wb = Workbench(tx, u["a1"])
        v = wb.save_reply(cid, wb.case(cid).version, "亲，非常抱歉，已为您安排补发。")
        assert wb.case(cid).version == v == 2 and wb.store is tx
    assert n[0] == 1
