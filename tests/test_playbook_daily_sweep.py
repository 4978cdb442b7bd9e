"""The ``daily_sweep`` playbook on the small demo shop, run with papermill at a fixed ``now``.

The demo's worked history leaves its newest cases (and a few never contacted) unanswered, dated at their
detection weeks ago. The fixture restarts the SLA clocks of those unanswered cases so that at a fixed ``now``
(the morning after the demo's export day) they have used, in turn, 60 %, 90 %, 120 % and 150 % of their
budget — a stable mix of warning and breached cases whatever day the suite runs; answered cases are left as
they are. The expected numbers are computed here with plain SQL and pandas, not with :mod:`reviewops.handling.sweep`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pm = pytest.importorskip("papermill")

import pandas as pd
import reviewops
import sqlalchemy as sa
from reviewops.core import store as stmod
from reviewops.core.sla import SlaEvent, replay, state_to_json
from reviewops.runner import playbooks_dir

PLAYBOOK = playbooks_dir() / "daily_sweep.ipynb"  # installed
SH = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=SH)  # the morning after the demo's export day
USED = (0.6, 0.9, 1.2, 1.5)  # the share of its SLA budget each unanswered case has used at NOW, in turn
NOW_TEXT = "2026-11-21T12:00:00+08:00"
AS_OF = "2026-11-20T18:00:00+08:00"  # the demo's history ends the evening before NOW (reproducible)
UTC = dt.UTC


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A small demo shop (scale 0.05) whose unanswered cases' SLA clocks are restarted before :data:`NOW`."""
    base = tmp_path_factory.mktemp("daily_sweep_demo")
    env = dict(os.environ, XDG_DATA_HOME=str(base / "xdg-data"), XDG_CONFIG_HOME=str(base / "xdg-config"),
               REVIEWOPS_DB=str(base / "d.db"), REVIEWOPS_DEMO_PASSWORD="demo-pass-123")
    env.pop("REVIEWOPS_MULTI_USER", None)
    subprocess.run([sys.executable, "-m", "reviewops", "demo", "--scale", "0.05", "--db", str(base / "d.db"),
                    "--as-of", AS_OF, "--out", str(base / "out")], check=True, env=env, capture_output=True,
                   timeout=300)
    from reviewops.core.policy import current_policy
    from reviewops.core.clock import calendar_of

    store = reviewops.Store.open(str(base / "d.db"))
    cal = calendar_of(current_policy(store))
    with store.write() as conn:
        rows = conn.execute(sa.select(stmod.cases.c.id, stmod.cases.c.sla_hours)
                            .where(stmod.cases.c.first_contact_at.is_(None),
                                   stmod.cases.c.state.not_in(["resolved", "follow_up_done", "closed"]))
                            .order_by(stmod.cases.c.id)).all()
        for k, r in enumerate(rows):
            used = USED[k % len(USED)]
            start = NOW.astimezone(UTC) - dt.timedelta(hours=float(r.sla_hours) * used)
            clock = replay([SlaEvent("start", start, float(r.sla_hours) * 60.0)], cal)
            conn.execute(stmod.cases.update().where(stmod.cases.c.id == r.id).values(
                created_at=start, updated_at=start, sla_started_at=start, sla_due_at=clock.due_at(cal),
                sla_state_json=state_to_json(clock)))
    store.close()
    return {"db": str(base / "d.db"), "env": env}


def _frame(db: str, sql: str) -> pd.DataFrame:
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return pd.read_sql_query(sa.text(sql), conn)
    finally:
        engine.dispose()


def _utc(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, utc=True, format="mixed")


def _expected_sla(db: str) -> dict[str, int]:
    """Unanswered cases overdue / at ≥ 80 % of their budget (即将超时) / at ≥ 50 % (a reminder: on the to-do list)
    at NOW (always-on clock, as the demo policy)."""
    c = _frame(db, "SELECT id, owner_role, sla_started_at, sla_due_at, sla_hours FROM cases "
                   "WHERE first_contact_at IS NULL AND state NOT IN ('resolved', 'follow_up_done', 'closed')")
    # (the awaiting states are reviewops.handling.cases.OPEN_STATES; spelled out here so the test does not trust it)
    now = pd.Timestamp(NOW).tz_convert("UTC")
    used = (now - _utc(c["sla_started_at"])).dt.total_seconds() / (c["sla_hours"] * 3600)
    overdue = _utc(c["sla_due_at"]) <= now
    return {"open": len(c), "breached": int(overdue.sum()), "warning": int(((used >= 0.8) & ~overdue).sum()),
            "reminded": int(((used >= 0.5) & ~overdue).sum()),
            "ids_breached": set(c.loc[overdue, "id"].astype(int))}


def _expected_delay_orders(db: str) -> set[str]:
    """P4 with pandas: late dispatch or stalled outbound parcel, promise within 30 days, not closed/refunded."""
    now = pd.Timestamp(NOW).tz_convert("UTC")
    since = now - pd.Timedelta(days=30)
    o = _frame(db, "SELECT shop_id, order_id, status_raw, paid_fen, refund_fen, promised_ship_at, shipped_at "
                   "FROM orders")
    promised, shipped = _utc(o["promised_ship_at"]), _utc(o["shipped_at"])
    late = promised.notna() & (promised < now) & (promised >= since) & (shipped.isna() | (shipped > promised))
    keys = set(zip(o.loc[late, "shop_id"], o.loc[late, "order_id"].astype(str)))
    s = _frame(db, "SELECT s.id, s.shop_id, s.order_id, s.promised_at, s.shipped_at, s.signed_at, s.status, "
                   "s.last_event_at, (SELECT max(event_at) FROM shipment_events e WHERE e.shipment_pk = s.id) AS ev "
                   "FROM shipments s WHERE s.direction = 'outbound' AND s.order_id IS NOT NULL")
    ev, stored, sent = _utc(s["ev"]), _utc(s["last_event_at"]), _utc(s["shipped_at"])
    ev = ev.where(ev <= now)  # events after NOW are not known at NOW
    last = ev.fillna(stored.where(stored <= now)).fillna(sent)
    signed_at, prom = _utc(s["signed_at"]), _utc(s["promised_at"])
    moving = ((signed_at.isna() | (signed_at > now)) & (sent.isna() | (sent <= now))
              & (~s["status"].isin(["signed", "returned", "rejected"]) | (signed_at > now)))
    stalled = moving & (((prom >= since) & (prom < now)) | ((last >= since) & (now - last >= pd.Timedelta(hours=48))))
    keys |= set(zip(s.loc[stalled, "shop_id"], s.loc[stalled, "order_id"].astype(str)))
    closed = o["status_raw"].fillna("").str.contains("关闭|取消|closed|cancel", case=False, regex=True)
    r = _frame(db, "SELECT shop_id, order_id, refund_fen, refunded_at FROM refunds WHERE refunded_at IS NOT NULL")
    r = r[_utc(r["refunded_at"]) <= now].groupby(["shop_id", "order_id"])["refund_fen"].sum()
    back = [max(a if pd.notna(a) else 0, r.get((shop, oid), 0))
            for shop, oid, a in zip(o["shop_id"], o["order_id"], o["refund_fen"])]
    refunded = (o["paid_fen"].fillna(0) > 0) & (pd.Series(back, index=o.index) >= o["paid_fen"].fillna(0))
    skip = set(zip(o.loc[closed | refunded, "shop_id"], o.loc[closed | refunded, "order_id"].astype(str)))
    done = _frame(db, "SELECT shop_id, order_id FROM delay_remedies")
    skip |= set(zip(done["shop_id"], done["order_id"].astype(str)))
    return {oid for shop, oid in keys - skip}


def _run(demo_db: dict, tmp_path: Path, name: str, **params) -> tuple[object, Path]:
    out_dir = tmp_path / name
    nb = pm.execute_notebook(str(PLAYBOOK), str(tmp_path / f"{name}.ipynb"), kernel_name="python3",
                             cwd=str(tmp_path), progress_bar=False,
                             parameters={"db": demo_db["db"], "now": NOW_TEXT, "output_dir": str(out_dir), **params})
    assert nb.metadata.papermill.exception is None
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    return nb, out_dir


def _csv(out_dir: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(out_dir / f"{name}.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _overview(out_dir: Path) -> dict[str, int]:
    return {r["指标"]: int(r["数值"]) for r in _csv(out_dir, "概览").to_dict("records")}


def _counts(db: str) -> dict[str, int]:
    return {t: int(_frame(db, f"SELECT count(*) AS n FROM {t}")["n"][0])
            for t in ("sla_notices", "delay_remedies", "case_events")}


def test_parameters_are_typed_and_documented() -> None:
    params = pm.inspect_notebook(str(PLAYBOOK))
    assert {k: p["inferred_type_name"] for k, p in params.items()} == {
        "db": "str", "shops": "str", "now": "str", "apply": "bool", "output_dir": "str"}
    assert all(p["help"] for p in params.values())


def test_daily_sweep_on_the_demo_shop(demo_db, tmp_path, monkeypatch) -> None:
    for k in ("XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(k, demo_db["env"][k])
    db = demo_db["db"]
    sla = _expected_sla(db)
    delay_orders = _expected_delay_orders(db)
    assert sla["breached"] >= 3 and sla["warning"] >= 3 and len(delay_orders) > 5  # the data exercises every rule
    before = _counts(db)

    # a dry run shows everything and writes nothing
    _, dry = _run(demo_db, tmp_path, "dry", apply=False)
    assert _counts(db) == before
    dry_over = _overview(dry)
    assert dry_over["已超时"] == sla["breached"] and dry_over["符合延迟补偿的订单"] == len(delay_orders)
    assert dry_over["本次发放延迟补偿券"] == 0

    # the real run
    nb, out = _run(demo_db, tmp_path, "run1")
    over = _overview(out)
    assert over["未首次联系的案件"] == sla["open"]
    assert over["已超时"] == sla["breached"] and over["即将超时"] == sla["warning"]
    assert over["本次自动升级"] == sla["breached"]  # demo owners are agent/supervisor/legal: all escalate
    sla_table = _csv(out, "响应时效")
    assert {int(x) for x in sla_table.loc[sla_table["状态"] == "已超时", "案件"]} == sla["ids_breached"]
    delays = _csv(out, "延迟补偿")
    assert set(delays["订单号"]) == delay_orders and (delays["本次已发放"] == "是").all()
    assert (delays["补偿券（元）"] == "5").all()
    assert not delays["消息（已脱敏）"].str.contains(r"1[3-9]\d{9}", regex=True).any()
    issued = _frame(db, "SELECT order_id, amount_fen, issued_by FROM delay_remedies")
    assert set(issued["order_id"]) == delay_orders and set(issued["amount_fen"]) == {500}
    assert set(issued["issued_by"]) == {"playbook:daily_sweep"}
    esc = _frame(db, "SELECT case_id FROM case_events WHERE action = 'sla_escalation'")
    assert set(esc["case_id"]) == sla["ids_breached"]
    owners = _frame(db, "SELECT id, owner_role FROM cases")
    assert set(owners.loc[owners["id"].isin(sla["ids_breached"]), "owner_role"]) <= {"supervisor", "admin"}

    # the to-do list: one section per policy role, every breached case on its new owner's list
    texts = [o.get("data", {}).get("text/markdown", "") for c in nb.cells for o in c.get("outputs", [])]
    for role in ("普通客服", "客服主管", "法务", "店长"):
        assert any(t.startswith(f"### {role}（") for t in texts), role
    todo = _csv(out, "全部待办")
    assert len(todo) == sla["breached"] + sla["reminded"] + len(delay_orders) + over["今日到期跟进"]
    assert set(todo.loc[todo["类型"] == "超时升级", "角色"]) <= {"客服主管", "店长"}
    assert set(todo.loc[todo["类型"] == "物流延迟补偿券", "案件/订单"]) == delay_orders
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(f"{n}.csv" for n in ("概览", "待办_普通客服", "待办_客服主管", "待办_法务", "待办_店长",
                                                "全部待办", "响应时效", "今日跟进", "延迟补偿"))
    after_first = _counts(db)

    # a second run at the same time: no new coupon, notice or escalation
    _, out2 = _run(demo_db, tmp_path, "run2")
    assert _counts(db) == after_first
    over2 = _overview(out2)
    assert over2["本次发放延迟补偿券"] == 0 and over2["本次新记录的时效提醒"] == 0 and over2["本次自动升级"] == 0
    assert _csv(out2, "延迟补偿").empty
    assert over2["已超时"] == sla["breached"]  # still to do, on the same (escalated) owner's list
    todo2 = _csv(out2, "全部待办")
    first_roles = dict(zip(todo.loc[todo["类型"] == "超时升级", "案件/订单"], todo.loc[todo["类型"] == "超时升级", "角色"]))
    assert dict(zip(todo2.loc[todo2["类型"] == "超时升级", "案件/订单"],
                    todo2.loc[todo2["类型"] == "超时升级", "角色"])) == first_roles


def test_malformed_now_fails_clearly(demo_db, tmp_path) -> None:
    before = _counts(demo_db["db"])
    with pytest.raises(pm.PapermillExecutionError) as err:
        pm.execute_notebook(str(PLAYBOOK), str(tmp_path / "broken.ipynb"), kernel_name="python3", cwd=str(tmp_path),
                            progress_bar=False, parameters={"db": demo_db["db"], "now": "yesterday-ish"})
    assert err.value.ename == "ConfigError"
    assert "yesterday-ish" in err.value.evalue and re.search("有效的时间", err.value.evalue)
    assert "ISO" in err.value.evalue
    assert _counts(demo_db["db"]) == before
    nb = nbformat.read(tmp_path / "broken.ipynb", as_version=4)
    assert nb.metadata.papermill.exception is True
