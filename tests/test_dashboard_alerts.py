"""The dashboard's alert panels (issue 7 follow-up): 「提醒服务」 (the watcher's heartbeat, the delivery
queue in Chinese, the oldest waiting alert, the problems) and 「发送失败的提醒（死信）」 (the dead letters of
the signed-in user's shops, re-sent from the browser by a supervisor or admin only) — headless, on
SQLite and PostgreSQL.

The store: 甲店 with two new-case alerts and 乙店 with one, each sent through a channel that refuses
for good (``ChannelError(retryable=False)``), so all three are dead letters from the start."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pytest
import sqlalchemy as sa
from alert_fixtures import Recorder, feishu, policy_with, review_rows, write_export
from reviewops.alerting import alerts
from reviewops.alerting.channels import ChannelError
from reviewops.reporting.dashboard import (
    CHANNEL_PROBLEM_NOTE,
    DEAD_LETTER_HEAD,
    alert_service,
    dead_letter_list,
    dead_letter_table,
    may_resend,
)
from reviewops.intake.ingest import import_file
from reviewops.core.policy import current_policy
from reviewops.reporting.reports import SHANGHAI
from reviewops.core.store import access_log, alert_deliveries, alert_events, shops, utcnow
from reviewops.handling.opening import triage_store
from reviewops.core.users import add_user, get_actor
from reviewops.alerting.watch import WatchConfig, Watcher
from reviewops.handling.workbench import Workbench
from reviewops_widgets import build_dashboard
from reviewops_widgets.common import guard

ROOT = Path(__file__).resolve().parents[1]
XSS = '<img src=x onerror="document.body.dataset.pwned=1">'


class Refusing:
    """A channel that refuses every message for good (a bad key): each delivery becomes a dead letter."""

    def __init__(self, message: str = "签名校验失败 19021") -> None:
        self.message = message
        self.calls = 0

    def send(self, msg: Any, *, timeout: float = 5.0) -> None:
        self.calls += 1
        raise ChannelError(self.message, channel="kf", retryable=False, code="19021")


def add_dead_letters(store: Any, tmp_path: Path, rows: list[str], *, name: str, error: str = "签名校验失败 19021") -> None:
    """Import and triage ``rows`` with new-case alerts, then send them through a refusing channel."""
    results = import_file(store, write_export(tmp_path / name, rows))
    policy = current_policy(store)
    triage_store(store, policy=policy, batch_ids=[r.batch_id for r in results],
                 on_case=alerts.case_alert_hook(policy, source="folder", arrived_at=None))
    ch = Refusing(error)
    res = alerts.dispatch(store, channels={"kf": ch})
    assert res.dead == ch.calls and res.delivered == 0


def shop_id(store: Any, name: str) -> int:
    with store.read() as conn:
        return int(conn.execute(sa.select(shops.c.id).where(shops.c.name == name)).scalar_one())


def deliveries(store: Any) -> dict[int, dict[str, Any]]:
    """Delivery id → state, attempts, updated_at and the event's shop, straight from the tables."""
    with store.read() as conn:
        rows = conn.execute(sa.select(alert_deliveries.c.id, alert_deliveries.c.state, alert_deliveries.c.attempts,
                                      alert_deliveries.c.updated_at, alert_events.c.shop_id, alert_events.c.key)
                            .select_from(alert_deliveries.join(alert_events,
                                                               alert_events.c.id == alert_deliveries.c.event_id))
                            ).mappings().all()
    return {int(r["id"]): dict(r) for r in rows}


def resend_log(store: Any) -> list[dict[str, Any]]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(access_log).where(access_log.c.action == "alert_resend")
                                              .order_by(access_log.c.id)).mappings()]


@pytest.fixture
def world(store: Any, tmp_path: Path) -> dict[str, Any]:
    """Dead letters in 甲店 (2) and 乙店 (1); a supervisor of each shop, an agent of 甲店, an admin
    (SQLite and PostgreSQL: the times and the shop limits are the backend's)."""
    policy_with(store, [feishu("kf")])
    add_dead_letters(store, tmp_path, review_rows(0, 4, shop="甲店"), name="a.csv")  # rows 0 and 2 are 差评
    add_dead_letters(store, tmp_path, review_rows(10, 2, shop="乙店"), name="b.csv")  # row 10
    a, b = shop_id(store, "甲店"), shop_id(store, "乙店")
    add_user(store, "laoli", role="supervisor", shops=[a], actor="t")
    add_user(store, "laozhang", role="supervisor", shops=[b], actor="t")
    add_user(store, "xiaowang", role="agent", shops=[a], actor="t")
    add_user(store, "boss", role="admin", actor="t")
    d = deliveries(store)
    return {"store": store, "A": a, "B": b, "tmp": tmp_path,
            "dead_a": sorted(i for i, r in d.items() if r["shop_id"] == a),
            "dead_b": sorted(i for i, r in d.items() if r["shop_id"] == b),
            **{n: get_actor(store, n) for n in ("laoli", "laozhang", "xiaowang", "boss")}}


def form_for(world: dict[str, Any], who: str) -> Any:
    return build_dashboard(Workbench(world["store"], world[who]), auto_refresh=False)


def walk(w: widgets.Widget):
    yield w
    for c in getattr(w, "children", ()) or ():
        yield from walk(c)


def row_ids(form: Any) -> list[int]:
    """The 投递编号 column of the dead-letter table as shown (first cell of each body row)."""
    return [int(x) for x in re.findall(r"<tr><td>(\d+)</td>", form.dead_table.value)]


def beijing(t: dt.datetime) -> str:
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


# ------------------------------------------------------------------------------------ dead letters
def test_the_world_has_three_dead_letters(world):
    d = deliveries(world["store"])
    assert len(world["dead_a"]) == 2 and len(world["dead_b"]) == 1
    assert {r["state"] for r in d.values()} == {"dead"}


def test_a_supervisor_sees_their_shops_dead_letters_and_resends_one_then_all(world):
    store, ids = world["store"], world["dead_a"]
    form = form_for(world, "laoli")
    assert form.status.kind == "" and form.may_resend
    assert sorted(row_ids(form)) == ids and set(form.dead["shop_id"]) == {world["A"]}
    html = form.dead_table.value
    for header in DEAD_LETTER_HEAD.values():
        assert f"<th>{header}</th>" in html
    d = deliveries(store)
    assert beijing(d[ids[0]]["updated_at"]) in html  # 进入死信 in Beijing time (UTC + 8)
    assert "新中差评" in html and "飞书" in html and "签名校验失败 19021" in html and d[ids[0]]["key"] in html
    assert "甲店（淘宝）#" in html and "乙店" not in html
    assert sorted(v for _l, v in form.dead_select.options) == ids
    assert "ro-dash-resend" in form.resend_button._dom_classes and not form.resend_button.disabled

    form.dead_select.value = (ids[0],)
    form.resend_button.click()
    assert form.status.kind == "ok" and "已重新排队 1 条" in form.status.text
    d = deliveries(store)
    assert (d[ids[0]]["state"], d[ids[0]]["attempts"]) == ("pending", 0)
    assert d[ids[1]]["state"] == "dead" and all(d[i]["state"] == "dead" for i in world["dead_b"])
    log = resend_log(store)
    assert [(r["actor"], r["role"], r["outcome"]) for r in log] == [("laoli", "supervisor", "ok")]
    assert json.loads(log[0]["detail_json"])["deliveries"] == [ids[0]]
    assert row_ids(form) == [ids[1]] and [v for _l, v in form.dead_select.options] == [ids[1]]  # refreshed
    assert "待发送" in form.alert_service.value

    form.resend_all_button.click()
    assert form.status.kind == "ok" and "已重新排队 1 条" in form.status.text
    d = deliveries(store)
    assert all(d[i]["state"] == "pending" for i in ids) and all(d[i]["state"] == "dead" for i in world["dead_b"])
    assert json.loads(resend_log(store)[-1]["detail_json"])["deliveries"] == [ids[1]]
    assert row_ids(form) == [] and "没有发送失败的提醒" in form.dead_table.value
    assert form.resend_button.disabled and form.resend_all_button.disabled
    form.close()


def test_nothing_selected_or_already_resent_is_a_message(world):
    store, ids = world["store"], world["dead_a"]
    form = form_for(world, "laoli")
    form.resend_button.click()  # nothing selected
    assert form.status.kind == "error" and "请先在列表中选择" in form.status.text
    form.dead_select.value = (ids[0],)
    alerts.resend(store, [ids[0]], actor="operator")  # the CLI got there first
    form.resend_button.click()
    assert form.status.kind == "error" and "不在死信列表中" in form.status.text and str(ids[0]) in form.status.text
    assert row_ids(form) == [ids[1]]  # the list shows what is left
    form.close()


def test_refresh_shows_new_dead_letters_and_keeps_the_selection(world):
    store, ids = world["store"], world["dead_a"]
    form = form_for(world, "laoli")
    form.dead_select.value = (ids[1],)
    add_dead_letters(store, world["tmp"], review_rows(20, 2, shop="甲店"), name="a2.csv")
    assert len(row_ids(form)) == 2
    form.refresh_button.click()
    assert len(row_ids(form)) == 3 and form.dead_select.value == (ids[1],)
    form.close()


def test_a_supervisor_of_another_shop_does_not_see_them(world):
    store = world["store"]
    form = form_for(world, "laozhang")
    assert row_ids(form) == world["dead_b"] and set(form.dead["shop_id"]) == {world["B"]}
    keys = {deliveries(store)[i]["key"] for i in world["dead_a"]}
    assert not any(k in form.dead_table.value for k in keys) and "甲店" not in form.dead_table.value
    assert [v for _l, v in form.dead_select.options] == world["dead_b"]
    form.resend_all_button.click()  # all = all of *their* shops
    assert "已重新排队 1 条" in form.status.text
    d = deliveries(store)
    assert all(d[i]["state"] == "dead" for i in world["dead_a"]) and d[world["dead_b"][0]]["state"] == "pending"
    form.close()
    boss = form_for(world, "boss")  # an admin without a shop limit sees every shop's
    assert sorted(row_ids(boss)) == world["dead_a"] and boss.may_resend
    boss.close()


def test_an_agent_sees_the_list_without_buttons(world):
    store = world["store"]
    form = form_for(world, "xiaowang")
    assert not form.may_resend and not may_resend(world["xiaowang"]) and may_resend(world["laoli"])
    assert sorted(row_ids(form)) == world["dead_a"]
    assert form.dead_select is None and form.resend_button is None and form.resend_all_button is None
    assert not [w for w in walk(form.root) if isinstance(w, (widgets.Button, widgets.SelectMultiple))
                and any(c.startswith(("ro-dash-resend", "ro-dash-dead")) for c in w._dom_classes)]
    assert "只有客服主管或店长可以重新发送" in form.dead_table.value
    before = deliveries(store)
    guard(form.status, form.resend_all)()  # what a button would do: the library refuses, the status says so
    assert form.status.kind == "error" and "无权重新发送提醒" in form.status.text
    assert deliveries(store) == before
    assert [(r["actor"], r["outcome"]) for r in resend_log(store)] == [("xiaowang", "denied")]
    form.close()


def test_a_hostile_error_text_stays_inert(world):
    store = world["store"]
    add_dead_letters(store, world["tmp"], review_rows(30, 2, shop="甲店"), name="x.csv", error="坏 " + XSS)
    form = form_for(world, "laoli")
    assert len(row_ids(form)) == 3
    everything = "".join(w.value for w in walk(form.root) if isinstance(w, widgets.HTML))
    assert "<img src=x" not in everything and "&lt;img src=x onerror=&quot;" in form.dead_table.value
    assert "dataset.pwned" in form.dead_table.value  # shown, as text
    form.close()


def test_the_table_for_display():
    import pandas as pd

    t = dt.datetime(2026, 11, 26, 1, 2, 3)  # naive = UTC, as SQLite returns it
    df = pd.DataFrame([{"delivery_id": 7, "key": "warn_80:5", "kind": "warn_80", "case_id": 5, "shop_id": 1,
                        "channel": "kf", "channel_type": "dingtalk", "attempts": 8, "last_error": None,
                        "arrived_at": t, "updated_at": pd.NaT, "shop": "甲店（淘宝）#1"}])
    out = dead_letter_table(df)
    assert list(out.columns) == list(DEAD_LETTER_HEAD.values())
    row = dict(zip(out.columns, out.iloc[0]))
    assert row["提醒类型"] == "时效预警 80%" and row["渠道类型"] == "钉钉" and row["失败原因"] == ""
    assert row["评价到达（北京时间）"] == "2026-11-26 09:02:03" and row["进入死信（北京时间）"] == "—"
    assert row["投递编号"] == "7" and row["已尝试次数"] == "8"


# ---------------------------------------------------------------------------------- service panel
def test_the_service_panel_before_and_after_a_heartbeat(world):
    store = world["store"]
    svc = alert_service(store)
    assert (svc.state, svc.state_zh, svc.age_s, svc.watchers) == ("never", "从未运行", None, [])
    assert svc.queue == [("pending", "待发送", 0), ("sending", "发送中", 0), ("delivered", "已送达", 0),
                         ("dead", "死信", 3)]
    assert svc.oldest_pending_s is None and not svc.ok
    assert any("3 条提醒发送失败" in p for p in svc.problems) and any("没有正在运行的监控服务" in p for p in svc.problems)
    form = form_for(world, "xiaowang")  # everyone sees the service panel (no personal data in it)
    html = form.alert_service.value
    assert "提醒服务" in html and "从未运行" in html and "ro-dash-alert-never" in html
    assert re.search(r"<th>待发送</th><th>发送中</th><th>已送达</th><th>死信</th></tr></thead><tbody><tr>"
                     r"<td>0</td><td>0</td><td>0</td><td>3</td>", html)
    assert "没有待发送的提醒" in html and "3 条提醒发送失败" in html

    drop = world["tmp"] / "drop"
    drop.mkdir()
    w = Watcher(store, WatchConfig(folder=drop, channels={"kf": Recorder()}, name="watch-1"))
    w.run_once()  # one round ends with a heartbeat
    form.refresh_button.click()
    html = form.alert_service.value
    assert form.service.state == "running" and 0 <= form.service.age_s < 30
    assert "运行中" in html and "ro-dash-alert-running" in html and "从未运行" not in html
    assert "没有正在运行的监控服务" not in html
    for secret in (str(w.config.folder), "pid", "host"):
        assert secret not in html  # host, pid, folder and counters stay out of the browser

    later = utcnow() + dt.timedelta(seconds=125)
    form.refresh(now=later)  # no beat for two minutes
    html = form.alert_service.value
    assert form.service.state == "stale" and "无心跳" in html and "ro-dash-alert-stale" in html
    assert re.search(r"最后一次心跳在 12[4-6] 秒前", html)
    form.close()


def test_the_queue_and_the_oldest_waiting_alert(world):
    store = world["store"]
    alerts.resend(store, world["dead_a"][:1], actor="operator")
    later = utcnow() + dt.timedelta(seconds=90)
    svc = alert_service(store, now=later)
    assert [n for _k, _zh, n in svc.queue] == [1, 0, 0, 2]
    assert svc.oldest_pending_s is not None and svc.oldest_pending_s >= 89  # measured from the alert's creation
    form = form_for(world, "laoli")
    form.refresh(now=later)
    assert re.search(r"已等待 \d+ 秒", form.alert_service.value)


def test_a_channel_problem_says_where_it_was_checked(world):
    store = world["store"]
    policy_with(store, [feishu("kf"), feishu("signed", secret_env="NO_SUCH_SECRET_VAR_FOR_TEST")])
    svc = alert_service(store)
    mine = [p for p in svc.problems if p.startswith("渠道 signed")]
    assert len(mine) == 1 and mine[0].endswith(CHANNEL_PROBLEM_NOTE) and "NO_SUCH_SECRET_VAR_FOR_TEST" in mine[0]
    assert not any(p.endswith(CHANNEL_PROBLEM_NOTE) for p in svc.problems if not p.startswith("渠道 "))


def test_dead_letter_list_is_limited_to_the_users_shops(world):
    store = world["store"]
    assert sorted(dead_letter_list(store, world["laoli"])["delivery_id"]) == world["dead_a"]
    assert sorted(dead_letter_list(store, world["laozhang"])["delivery_id"]) == world["dead_b"]
    assert len(dead_letter_list(store, world["boss"])) == 3
    assert len(dead_letter_list(store, world["boss"], limit=2)) == 2


def test_every_alert_panel_class_is_documented(world):
    form = form_for(world, "laoli")
    doc = (ROOT / "docs" / "forms.md").read_text(encoding="utf-8")
    classes = set()
    for w in walk(form.root):
        classes |= {c for c in w._dom_classes if c.startswith("ro-dash")}
    html = form.alert_service.value + form.dead_table.value
    classes |= set(re.findall(r"\b(ro-dash-[a-z-]+)", html))
    for needed in ("ro-dash-alert-service", "ro-dash-dead-letters", "ro-dash-dead-table", "ro-dash-dead-select",
                   "ro-dash-resend", "ro-dash-resend-all", "ro-dash-alert-state", "ro-dash-alert-queue"):
        assert needed in classes
    assert not sorted(c for c in classes if f"`{c}`" not in doc)
    form.close()


def test_every_alert_kind_reads_in_chinese_in_the_dead_letter_list():
    from reviewops.reporting.dashboard import alert_kind_zh

    assert alert_kind_zh("malicious") == "疑似恶意差评（转法务）"
    assert alert_kind_zh("appeal_overdue") == "申诉已逾期"
    assert alert_kind_zh("commit_warn") == "服务承诺即将违约"
    assert alert_kind_zh("warn_80") == "时效预警 80%"
    assert alert_kind_zh("some_new_kind") == "some_new_kind"  # unknown: as stored
