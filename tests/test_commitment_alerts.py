"""Service commitments in progress raise alerts (issue 19 §P6): reviewops.alerting.alerts.raise_commitment_alerts.

On SQLite and PostgreSQL: each key of breaches_in_progress becomes one case-less alert_events row (kinds commit_warn /
commit_breach) exactly once, warning then breach, nothing more once the event is closed; the channels follow the
sla_warn / sla_breach subscriptions; the message names the commitment, the order, the time used against the limit
and what to do, with no case link and no personal data; delivery through an in-process channel and the rendered
payloads of every channel type; existing case alerts still go out beside them; migration 0013 keeps existing alerts
and their deliveries (SQLite rebuilds the table).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import sqlalchemy as sa
from alert_fixtures import (
    NICK,
    PHONE,
    Recorder,
    feishu,
    policy_with,
    review_rows,
    write_export,
)
from reviewops.alerting import alerts
from reviewops.alerting.channels import render
from reviewops.core.policy import current_policy
from reviewops.core.store import (
    Store,
    alert_deliveries,
    alert_events,
    chat_messages,
    orders,
    refunds,
    shops,
)
from reviewops.prevention.commitments import breaches_in_progress

UTC = dt.UTC
H = dt.timedelta(hours=1)
NOW = dt.datetime.now(UTC).replace(microsecond=0) - 2 * H  # near the real time: deliveries are due when dispatched


def _shop(store: Store) -> int:
    with store.write() as conn:
        return int(conn.execute(shops.insert().values(platform="taobao", name="承诺测试店", created_at=NOW - 900 * H))
                   .inserted_primary_key[0])


def _order(store: Store, shop: int, oid: str, paid: dt.datetime, shipped: dt.datetime | None = None) -> None:
    with store.write() as conn:
        conn.execute(orders.insert().values(shop_id=shop, order_id=oid, paid_at=paid, created_at=paid,
                                            shipped_at=shipped, status_raw="已发货" if shipped else "待发货"))


def _events(store: Store) -> list[dict]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(alert_events).order_by(alert_events.c.id)).mappings()]


def _deliveries(store: Store) -> list[dict]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(alert_deliveries).order_by(alert_deliveries.c.id)).mappings()]


def test_each_key_is_raised_once_warning_then_breach_and_nothing_after_closing(store: Store) -> None:
    policy_with(store, [feishu()])
    shop = _shop(store)
    paid = NOW - 40 * H  # 40/48 h: past the 0.75 warning fraction of 48小时发货, within the limit
    _order(store, shop, "2841234567000001", paid)
    first = alerts.raise_commitment_alerts(store, now=NOW)
    assert alerts.raise_commitment_alerts(store, now=NOW) == []  # run twice: still one alert
    ev = _events(store)
    assert len(first) == 1 and [e["id"] for e in ev] == first
    assert ev[0]["key"] == f"commit_warn:dispatch_48h:{shop}:2841234567000001"
    assert (ev[0]["kind"], ev[0]["case_id"], ev[0]["shop_id"]) == ("commit_warn", None, shop)
    sub = json.loads(ev[0]["subject"])
    assert (sub["commitment"], sub["order"], sub["limit"]) == ("dispatch_48h", "2841234567000001", 48.0)
    assert ev[0]["arrived_at"] == paid + 36 * H  # when the warning fraction was reached
    assert len(_deliveries(store)) == 1

    later = NOW + 10 * H  # 50 h: breached — the breach stage is a new key, the warning is not raised again
    second = alerts.raise_commitment_alerts(store, now=later)
    assert alerts.raise_commitment_alerts(store, now=later + H) == []
    assert [e["kind"] for e in _events(store)] == ["commit_warn", "commit_breach"] and len(second) == 1
    assert _events(store)[1]["arrived_at"] == paid + 48 * H

    with store.write() as conn:  # shipped at last: closed, nothing more is raised for it
        conn.execute(orders.update().where(orders.c.order_id == "2841234567000001").values(shipped_at=later + 2 * H))
    assert alerts.raise_commitment_alerts(store, now=later + 3 * H) == []
    assert len(_events(store)) == 2

    _order(store, shop, "2841234567000002", NOW - 20 * H, NOW - 19 * H)  # shipped in time: never an alert
    _order(store, shop, "2841234567000003", NOW - 30 * H)  # open, below the fraction: no alert yet
    assert alerts.raise_commitment_alerts(store, now=NOW) == []


def test_a_closed_event_is_never_alerted_and_keys_match_breaches_in_progress(store: Store) -> None:
    policy_with(store, [feishu()])
    shop = _shop(store)
    _order(store, shop, "A1", NOW - 50 * H, NOW - 49 * H)  # shipped late but closed before anyone looked
    _order(store, shop, "A2", NOW - 50 * H)
    with store.write() as conn:
        conn.execute(refunds.insert().values(shop_id=shop, refund_id="RF1", order_id="A3", applied_at=NOW - 20 * H))
    keys = set(breaches_in_progress(store, NOW)["key"])
    alerts.raise_commitment_alerts(store, now=NOW)
    assert {e["key"] for e in _events(store)} == keys == {f"commit_breach:dispatch_48h:{shop}:A2",
                                                           f"commit_warn:aftersales_24h:{shop}:RF1"}


def test_channels_follow_the_sla_warn_and_sla_breach_subscriptions(store: Store) -> None:
    policy_with(store, [feishu("warn", events="sla_warn"), feishu("boss", events="sla_breach"),
                        feishu("new", events="new_case")])
    shop = _shop(store)
    _order(store, shop, "W1", NOW - 40 * H)
    _order(store, shop, "B1", NOW - 50 * H)
    alerts.raise_commitment_alerts(store, now=NOW)
    by_kind = {e["kind"]: e["id"] for e in _events(store)}
    got = {(d["event_id"], d["channel"]) for d in _deliveries(store)}
    assert got == {(by_kind["commit_warn"], "warn"), (by_kind["commit_breach"], "boss")}


def test_the_message_says_what_to_do_and_carries_no_personal_data(store: Store) -> None:
    policy_with(store, [feishu()], duty=[{"role": "supervisor", "name": "老李", "weekdays": "1-7", "start": "00:00",
                                 "end": "23:59", "mobile": "13900000001"}])
    shop = _shop(store)
    with store.write() as conn:  # personal data in the exports: a phone and a nickname in the buyer's texts
        conn.execute(refunds.insert().values(shop_id=shop, refund_id="RF9", order_id="2841234567000009",
                                             applied_at=NOW - 30 * H, buyer_note=f"{NICK} 电话{PHONE} 快处理"))
        conn.execute(chat_messages.insert().values(shop_id=shop, message_key="c-0", conversation_hash="h1",
                                                   conversation_masked="王**", message_seq=0, sent_at=NOW - H,
                                                   sender_role="buyer", content=f"我是{NICK}，电话{PHONE}"))
    alerts.raise_commitment_alerts(store, now=NOW)
    events = {e["kind"] + ":" + json.loads(e["subject"])["commitment"]: e for e in _events(store)}
    assert set(events) == {"commit_breach:aftersales_24h", "commit_breach:chat_3min"}
    refund = events["commit_breach:aftersales_24h"]
    msg = alerts.message_for(store, refund["id"], at=NOW)
    assert msg.case_id is None and msg.case_url == "" and msg.customer == "—" and msg.rating is None
    assert msg.title == "服务承诺已违约：24小时售后响应"
    assert "2841234567000009" in msg.subject and "RF9" in msg.subject
    assert "30.0 小时" in msg.excerpt and "承诺上限 24 小时" in msg.excerpt and "请售后立即处理" in msg.excerpt
    assert "北京时间" in msg.excerpt and msg.due_local == (NOW - 6 * H).astimezone(
        dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
    assert msg.role_zh.startswith("售后") and [m.name for m in msg.mentions] == ["老李"]
    chat = alerts.message_for(store, events["commit_breach:chat_3min"]["id"], at=NOW)
    for m in (msg, chat):
        for channel_type in ("feishu", "dingtalk", "wecom", "email", "sms"):
            payload = render(channel_type, m)
            text = payload.as_string() if channel_type == "email" else json.dumps(payload, ensure_ascii=False)
            if channel_type == "email":
                import email

                parsed = email.message_from_string(text)
                text = " ".join(str(p.get_payload(decode=True).decode("utf-8")) for p in parsed.walk()
                                if not p.is_multipart()) + str(parsed["Subject"])
            assert PHONE not in text and NICK not in text, channel_type
            assert "打开案件" not in text and "案件 #" not in text and "workbench" not in text, channel_type
            if channel_type != "sms":
                assert "服务承诺" in text and "请" in text, channel_type
            else:  # four short parameters: the commitment's name instead of a rating, the key shortened
                assert all(len(p) <= 12 for p in payload) and payload[1] == m.category_zh[:12], payload
                assert payload[3].startswith("CB-"), payload
    assert "请客服立即回复" in chat.excerpt and "分钟" in chat.excerpt and "王**" in chat.subject


def test_delivered_through_a_channel_beside_case_alerts(store: Store, tmp_path: Path) -> None:
    from reviewops.core.policy import current_policy as cp
    from reviewops.handling.opening import triage_store
    from reviewops.intake.ingest import import_file

    policy_with(store, [feishu()])
    results = import_file(store, write_export(tmp_path / "r.csv", review_rows(0, 2)))
    policy = cp(store)
    triage_store(store, policy=policy, batch_ids=[r.batch_id for r in results],
                 on_case=alerts.case_alert_hook(policy, source="folder", arrived_at=None))
    shop = _shop(store)
    _order(store, shop, "D1", NOW - 50 * H)
    alerts.raise_commitment_alerts(store, now=NOW)
    rec = Recorder()
    res = alerts.dispatch(store, channels={"kf": rec})
    assert (res.delivered, res.retried, res.dead) == (2, 0, 0)
    kinds = sorted(m.kind for m in rec.messages)
    assert kinds == ["commit_breach", "new_case"]
    case_msg = next(m for m in rec.messages if m.kind == "new_case")
    assert case_msg.case_id is not None and "workbench" in case_msg.case_url  # the case alert is unchanged
    assert alerts.dispatch(store, channels={"kf": rec}).delivered == 0
    assert all(d["state"] == "delivered" for d in _deliveries(store))
    # a combined message (digest) names the commitment alert by its subject
    digest = alerts.digest_message(rec.messages, queue_url="http://x/")
    assert "D1" in digest.excerpt
    # a dead commitment alert is listed with no case
    rec.fail = [__import__("reviewops.alerting.channels", fromlist=["ChannelError"]).ChannelError(
        "bad key", channel="kf", retryable=False)]
    _order(store, shop, "D2", NOW - 50 * H)
    alerts.raise_commitment_alerts(store, now=NOW)
    assert alerts.dispatch(store, channels={"kf": rec}).dead == 1
    dead = alerts.dead_letters(store)
    assert list(dead["kind"]) == ["commit_breach"] and dead["case_id"].isna().all()


def test_the_watcher_check_raises_them(store: Store, tmp_path: Path) -> None:
    from reviewops.alerting.watch import WatchConfig, Watcher

    policy_with(store, [feishu()])
    shop = _shop(store)
    _order(store, shop, "WT1", dt.datetime.now(UTC) - 50 * H)
    w = Watcher(store, WatchConfig(folder=tmp_path))
    assert w.sla_check() == 1
    assert w.sla_check() == 0
    assert [e["kind"] for e in _events(store)] == ["commit_breach"]


def test_migration_0013_keeps_existing_alerts_and_their_deliveries(store: Store, tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config
    from reviewops.core import store as store_mod
    from reviewops.handling.opening import triage_store
    from reviewops.intake.ingest import import_file

    policy_with(store, [feishu()])
    results = import_file(store, write_export(tmp_path / "r.csv", review_rows(0, 2)))
    policy = current_policy(store)
    triage_store(store, policy=policy, batch_ids=[r.batch_id for r in results],
                 on_case=alerts.case_alert_hook(policy, source="folder", arrived_at=None))
    shop = _shop(store)
    _order(store, shop, "M1", NOW - 50 * H)
    alerts.raise_commitment_alerts(store, now=NOW)
    before_ev, before_del = _events(store), _deliveries(store)
    assert {e["kind"] for e in before_ev} == {"new_case", "commit_breach"}
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(store_mod.__file__).parent / "migrations"))
    with store.write() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0012")  # case-less alerts cannot exist there: they and their deliveries go
    with store.read() as conn:
        cols = {c["name"]: c["nullable"] for c in sa.inspect(conn).get_columns("alert_events")}
        left = conn.execute(sa.text("SELECT id FROM alert_events ORDER BY id")).scalars().all()
        left_del = conn.execute(sa.text("SELECT id, event_id FROM alert_deliveries ORDER BY id")).all()
    assert "subject" not in cols and cols["case_id"] is False
    case_ev = [e for e in before_ev if e["case_id"] is not None]
    assert left == [e["id"] for e in case_ev]
    assert [tuple(r) for r in left_del] == [(d["id"], d["event_id"]) for d in before_del
                                            if d["event_id"] in set(left)]
    store.migrate()
    assert [e["id"] for e in _events(store)] == left
    assert [(d["id"], d["event_id"], d["state"]) for d in _deliveries(store)] == [
        (d["id"], d["event_id"], d["state"]) for d in before_del if d["event_id"] in set(left)]
    alerts.raise_commitment_alerts(store, now=NOW)  # raised again after the round trip: case_id may be empty again
    assert {e["kind"] for e in _events(store)} == {"new_case", "commit_breach"}
