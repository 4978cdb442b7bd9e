"""P6 service commitments (issue 19): reviewops.prevention.commitments and the policy's 服务承诺 sheet.

Each measure on a hand-built store (SQLite and PostgreSQL) at the limit boundary — exactly at the limit is kept, one
second over is breached, open within the limit is not counted, open past it is breached —; the policy sheet's
validation and workbook round trip; the platform scope; the listings' shown commitments; breaches in progress with
their stages and keys; figures checked against an independent count made with plain SQL.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from reviewops.core.errors import PolicyInvalid
from reviewops.core.policy import (
    DEFAULT_COMMITMENTS,
    Policy,
    default_policy,
    export_policy,
    import_policy,
)
from reviewops.core.store import (
    Store,
    chat_messages,
    listings,
    orders,
    refunds,
    shipments,
    shops,
)
from reviewops.prevention.commitments import (
    ADHERENCE_COLUMNS,
    BREACH_COLUMNS,
    PROGRESS_COLUMNS,
    breaches_in_progress,
    commitment_adherence,
    listing_commitments,
)

UTC = dt.UTC
T0 = dt.datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 Beijing
H = dt.timedelta(hours=1)
START, END = dt.datetime(2026, 11, 1, tzinfo=UTC), dt.datetime(2026, 11, 9, tzinfo=UTC)
NOW = dt.datetime(2026, 11, 20, tzinfo=UTC)


def _shop(conn: sa.Connection, platform: str = "taobao", name: str = "测试店") -> int:
    return int(conn.execute(shops.insert().values(platform=platform, name=name, created_at=T0 - 100 * H))
               .inserted_primary_key[0])


def _order(conn: sa.Connection, shop: int, oid: str, paid: dt.datetime, shipped: dt.datetime | None,
           status: str = "交易成功") -> None:
    conn.execute(orders.insert().values(shop_id=shop, order_id=oid, paid_at=paid, created_at=paid, shipped_at=shipped,
                                        status_raw=status))


def _refund(conn: sa.Connection, shop: int, rid: str, applied: dt.datetime, **kw: object) -> None:
    conn.execute(refunds.insert().values(shop_id=shop, refund_id=rid, order_id="O" + rid, applied_at=applied, **kw))


def _chat(conn: sa.Connection, shop: int, conv: str, msgs: list[tuple[str, dt.datetime]]) -> None:
    for i, (role, at) in enumerate(msgs):
        conn.execute(chat_messages.insert().values(shop_id=shop, message_key=f"{conv}-{i}", conversation_hash=conv,
                                                   conversation_masked=f"买家{conv}", message_seq=i, sent_at=at,
                                                   sender_role=role, content="…"))


def _row(adh, code: str) -> dict:
    return adh.set_index("commitment").loc[code].to_dict()


@pytest.fixture
def shop_store(store: Store) -> tuple[Store, int]:
    with store.write() as conn:
        shop = _shop(conn)
    return store, shop


# ------------------------------------------------------------------------------------------ each measure
def test_dispatch_boundary(shop_store: tuple[Store, int]) -> None:
    store, shop = shop_store
    with store.write() as conn:
        _order(conn, shop, "1001", T0, T0 + 48 * H)  # exactly at the limit: kept
        _order(conn, shop, "1002", T0, T0 + 48 * H + dt.timedelta(seconds=1))  # one second over: breached
        _order(conn, shop, "1003", T0, None, status="买家已付款，等待卖家发货")  # open past the limit: breached
        _order(conn, shop, "1004", T0, None, status="交易关闭")  # closed without shipping: no event
        _order(conn, shop, "1005", END - H, None, status="买家已付款，等待卖家发货")  # open within the limit at END
        _order(conn, shop, "1006", START - H, START + H)  # paid before the period: not in it
    adh, br = commitment_adherence(store, START, END, now=END)  # judged at the period's end
    assert list(adh.columns) == [c.name for c in ADHERENCE_COLUMNS]
    assert list(br.columns) == [c.name for c in BREACH_COLUMNS]
    r = _row(adh, "dispatch_48h")
    assert (r["eligible"], r["kept"], r["breached"], r["open"]) == (3, 1, 2, 1)
    assert r["rate"] == pytest.approx(1 / 3)
    d = br[br["commitment"] == "dispatch_48h"]
    assert sorted(d["order_id"]) == ["1002", "1003"]
    assert str(d["started_at"].dt.tz) == "Asia/Shanghai" and d["started_at"].iloc[0].hour == 10
    assert set(d["status_zh"]) == {"违约（超时结束）", "进行中已超时"}
    later, _ = commitment_adherence(store, START, END, now=NOW)  # measured later: 1005 is now past its limit
    assert _row(later, "dispatch_48h")["breached"] == 3 and _row(later, "dispatch_48h")["open"] == 0


def test_aftersales_first_seller_action(shop_store: tuple[Store, int]) -> None:
    store, shop = shop_store
    with store.write() as conn:
        _refund(conn, shop, "R1", T0, agreed_at=T0 + 24 * H, refunded_at=T0 + 30 * H)  # first action at the limit
        _refund(conn, shop, "R2", T0, refunded_at=T0 + 30 * H, closed_at=T0 + 25 * H)  # first action 25 h: breached
        _refund(conn, shop, "R3", T0, finished_at=T0 + 2 * H)  # kept
        _refund(conn, shop, "R4", T0)  # nothing yet, long past: breached
    adh, br = commitment_adherence(store, START, END, now=NOW)
    r = _row(adh, "aftersales_24h")
    assert (r["eligible"], r["kept"], r["breached"]) == (4, 2, 2)
    assert sorted(br[br["commitment"] == "aftersales_24h"]["event_id"]) == ["R2", "R4"]


def test_chat_first_agent_reply(shop_store: tuple[Store, int]) -> None:
    store, shop = shop_store
    m = dt.timedelta(minutes=1)
    with store.write() as conn:
        # turn 1: two buyer messages, a bot, then an agent at exactly 3 min after the first: kept
        # turn 2: a buyer message answered 3 min 1 s later: breached
        _chat(conn, shop, "c1", [("buyer", T0), ("buyer", T0 + m), ("bot", T0 + 2 * m), ("agent", T0 + 3 * m),
                                 ("buyer", T0 + 10 * m), ("agent", T0 + 13 * m + dt.timedelta(seconds=1))])
        _chat(conn, shop, "c2", [("buyer", T0), ("agent", T0 + m)])  # kept
        _chat(conn, shop, "c3", [("agent", T0), ("buyer", T0 + m)])  # never answered: breached
    adh, br = commitment_adherence(store, START, END, now=NOW)
    r = _row(adh, "chat_3min")
    assert (r["eligible"], r["kept"], r["breached"]) == (4, 2, 2)
    assert r["unit_zh"] == "分钟" and r["median"] == pytest.approx(3.0)  # closed turns: 3, 3.02 and 1 minutes
    ids = sorted(br[br["commitment"] == "chat_3min"]["event_id"])
    assert ids == ["买家c1@2026-11-02 10:10:00", "买家c3@2026-11-02 10:01:00"]


def test_damage_claim_paid(shop_store: tuple[Store, int]) -> None:
    store, shop = shop_store
    with store.write() as conn:
        _refund(conn, shop, "D1", T0, reason="包装/商品破损/污渍", refunded_at=T0 + 48 * H)  # kept at the limit
        _refund(conn, shop, "D2", T0, reason="收到商品损坏", refunded_at=T0 + 49 * H)  # breached
        _refund(conn, shop, "D3", T0, reason="破损", closed_at=T0 + H)  # closed without payment: not counted
        _refund(conn, shop, "D4", T0, reason="尺码不合适", refunded_at=T0 + 100 * H)  # not a damage claim
    adh, _ = commitment_adherence(store, START, END, now=NOW)
    r = _row(adh, "damage_paid_48h")
    assert (r["eligible"], r["kept"], r["breached"]) == (2, 1, 1)


def test_return_refunded_after_receipt(shop_store: tuple[Store, int]) -> None:
    store, shop = shop_store
    day = dt.timedelta(days=1)
    with store.write() as conn:
        for tn, signed in (("RT1", T0), ("RT2", T0), ("RT3", T0)):
            conn.execute(shipments.insert().values(shop_id=shop, tracking_no=tn, direction="return", signed_at=signed))
        _refund(conn, shop, "N1", T0 - 3 * day, need_return=True, return_tracking_no="RT1", refunded_at=T0 + 7 * day)
        _refund(conn, shop, "N2", T0 - 3 * day, need_return=True, return_tracking_no="RT2",
                refunded_at=T0 + 7 * day + dt.timedelta(seconds=1))
        _refund(conn, shop, "N3", T0 - 3 * day, need_return=True, return_tracking_no="RT3")  # open past 7 days
        _refund(conn, shop, "N4", T0, need_return=True, return_tracking_no="RTX")  # return not received: no event
    adh, _ = commitment_adherence(store, START, END, now=NOW)
    r = _row(adh, "no_reason_7d")
    assert (r["eligible"], r["kept"], r["breached"]) == (3, 1, 2) and r["unit_zh"] == "天"


def test_empty_period_gives_zero_rows(shop_store: tuple[Store, int]) -> None:
    store, _ = shop_store
    adh, br = commitment_adherence(store, START, END, now=NOW)
    assert list(adh["commitment"]) == [r["code"] for r in DEFAULT_COMMITMENTS]
    assert (adh["eligible"] == 0).all() and adh["rate"].isna().all() and br.empty


def test_platform_scope_and_shop_filter(shop_store: tuple[Store, int]) -> None:
    store, shop = shop_store
    with store.write() as conn:
        other = _shop(conn, "douyin", "抖店")
        _order(conn, shop, "1", T0, T0 + 50 * H)
        _order(conn, other, "2", T0, T0 + 50 * H)
    rows = [dict(r) for r in DEFAULT_COMMITMENTS]
    rows[0] = {**rows[0], "platform": "douyin"}
    pol = Policy.from_tables({**{k: list(v) for k, v in default_policy().tables.items()}, "commitments": rows})
    adh, br = commitment_adherence(store, START, END, now=NOW, policy=pol)
    assert _row(adh, "dispatch_48h")["breached"] == 1 and list(br["shop_id"]) == [other]
    adh, _ = commitment_adherence(store, START, END, now=NOW, shop_ids=[shop])
    assert _row(adh, "dispatch_48h")["breached"] == 1


def test_figures_match_an_independent_count(shop_store: tuple[Store, int]) -> None:
    store, shop = shop_store
    with store.write() as conn:
        for i in range(40):
            hours = [10, 47, 48, 49, 70][i % 5]
            _order(conn, shop, f"9{i:03d}", T0 + i * H, T0 + i * H + hours * H)
    adh, br = commitment_adherence(store, START, END, now=NOW)
    with store.read() as conn:
        rows = conn.execute(sa.select(orders.c.paid_at, orders.c.shipped_at)).all()
    late = sum(1 for p, s in rows if (s - p).total_seconds() > 48 * 3600)
    r = _row(adh, "dispatch_48h")
    assert (r["eligible"], r["breached"], r["kept"]) == (len(rows), late, len(rows) - late) and late == 16
    assert len(br) == late


# ------------------------------------------------------------------------------------------ in progress
def test_breaches_in_progress_stages(shop_store: tuple[Store, int]) -> None:
    store, shop = shop_store
    now = T0 + 100 * H
    with store.write() as conn:
        _order(conn, shop, "W1", now - 36 * H, None, status="待发货")  # 36/48 = 0.75: warning (at the fraction)
        _order(conn, shop, "W2", now - 35 * H, None, status="待发货")  # below the fraction: nothing
        _order(conn, shop, "B1", now - 49 * H, None, status="待发货")  # past the limit: breached
        _order(conn, shop, "S1", now - 49 * H, now - H)  # shipped (late): closed, not in progress
        _order(conn, shop, "OLD", now - 30 * 24 * H, None, status="待发货")  # backlog beyond the lookback
    p = breaches_in_progress(store, now)
    assert list(p.columns) == [c.name for c in PROGRESS_COLUMNS]
    got = dict(zip(p["order_id"], p["stage"]))
    assert got == {"W1": "warning", "B1": "breached"}
    assert list(p["key"]) == [f"commit_breach:dispatch_48h:{shop}:B1", f"commit_warn:dispatch_48h:{shop}:W1"]


def test_in_progress_keys_are_stable_and_move_from_warning_to_breach(shop_store: tuple[Store, int]) -> None:
    store, shop = shop_store
    m = dt.timedelta(minutes=1)
    with store.write() as conn:
        _refund(conn, shop, "P1", T0)  # no seller action yet
        _chat(conn, shop, "cx", [("buyer", T0)])
    warn = breaches_in_progress(store, T0 + 18 * H)  # 18/24 = 0.75 of the after-sales limit; the chat long breached
    again = breaches_in_progress(store, T0 + 18 * H)
    assert list(warn["key"]) == list(again["key"])  # the same keys every run: one alert per event and stage
    assert dict(zip(warn["commitment"], warn["stage"])) == {"chat_3min": "breached", "aftersales_24h": "warning"}
    assert breaches_in_progress(store, T0 + 18 * H - m)["commitment"].tolist() == ["chat_3min"]  # below the fraction
    late = breaches_in_progress(store, T0 + 24 * H + m)
    assert f"commit_breach:aftersales_24h:{shop}:P1" in set(late["key"])
    assert set(late.loc[late["commitment"] == "aftersales_24h", "stage_zh"]) == {"已违约"}
    with store.write() as conn:
        conn.execute(refunds.update().where(refunds.c.refund_id == "P1").values(agreed_at=T0 + 25 * H))
    assert "aftersales_24h" not in set(breaches_in_progress(store, T0 + 26 * H)["commitment"])  # closed: no longer


# ------------------------------------------------------------------------------------------ listings
def test_listing_commitments(shop_store: tuple[Store, int]) -> None:
    store, shop = shop_store
    with store.write() as conn:
        for key, sku, shown in (("L1", "a", ["7天无理由", "运费险"]), ("L1", "b", ["破损包赔"]), ("L2", "", [])):
            conn.execute(listings.insert().values(shop_id=shop, listing_key=key, sku=sku, title=f"商品{key}",
                                                  commitments=json.dumps(shown, ensure_ascii=False), updated_at=T0))
    lc = listing_commitments(store).set_index("listing_key")
    assert lc.loc["L1", "commitments"] == "damage_paid_48h;no_reason_7d"
    assert lc.loc["L1", "not_measured"] == "运费险" and lc.loc["L2", "commitments"] == ""
    adh, _ = commitment_adherence(store, START, END, now=NOW)
    assert _row(adh, "no_reason_7d")["listings"] == 1 and _row(adh, "dispatch_48h")["listings"] == 0


# ------------------------------------------------------------------------------------------ policy
def _tables(**changes: object) -> dict:
    t = {k: [dict(r) for r in v] for k, v in default_policy().tables.items()}
    t["commitments"][0].update(changes)
    return t


@pytest.mark.parametrize(("change", "column"), [
    ({"measure": "reply_speed"}, "衡量方式"), ({"limit": 0}, "上限"), ({"warn_fraction": 1.0}, "预警比例"),
    ({"platform": "amazon"}, "平台"), ({"code": "Dispatch 48"}, "承诺代码"), ({"name_zh": ""}, "承诺名称"),
])
def test_policy_sheet_refuses_bad_rows(change: dict, column: str) -> None:
    with pytest.raises(PolicyInvalid) as e:
        Policy.from_tables(_tables(**change))
    assert any(column in (p.column or "") and "服务承诺" in p.file for p in e.value.problems)


def test_policy_sheet_duplicate_code_refused() -> None:
    t = _tables()
    t["commitments"].append(dict(t["commitments"][0]))
    with pytest.raises(PolicyInvalid):
        Policy.from_tables(t)


def test_policy_sheet_round_trip(tmp_path) -> None:
    t = _tables(limit=36, warn_fraction=0.5, platform="pdd", listing_words="36小时发货")
    pol = Policy.from_tables(t)
    path = export_policy(pol, tmp_path / "策略.xlsx")
    back = import_policy(path)
    assert back.tables["commitments"] == pol.tables["commitments"] and back.sha256 == pol.sha256
    assert back.tables["commitments"][0]["limit"] == 36.0 and back.tables["commitments"][0]["platform"] == "pdd"


# ------------------------------------------------------------------------------------------ reports
def _late_orders(store: Store, shop: int) -> int:
    """40 orders in 2026-W45 shipped after 10, 47, 48, 49, 70 h; returns how many are late by a plain SQL count."""
    with store.write() as conn:
        for i in range(40):
            _order(conn, shop, f"9{i:03d}", T0 + i * H, T0 + i * H + [10, 47, 48, 49, 70][i % 5] * H)
    with store.read() as conn:
        return int(conn.execute(sa.text("SELECT COUNT(*) FROM orders WHERE shipped_at > paid_at + INTERVAL '48 hours'"
                                         if store.engine.dialect.name == "postgresql" else
                                         "SELECT COUNT(*) FROM orders WHERE julianday(shipped_at) - julianday(paid_at)"
                                         " > 2.0 + 1e-9")).scalar_one())


def test_report_section_matches_an_independent_count(shop_store: tuple[Store, int]) -> None:
    from reviewops.reporting.dashboard import commitment_breach_table, commitment_table
    from reviewops.reporting.reports import report_figures, weekly_top3

    store, shop = shop_store
    late = _late_orders(store, shop)
    assert late == 16
    week = weekly_top3(store, "2026-W45", now=NOW)
    fig = report_figures(store, START, END, now=NOW)
    for adh, br in ((week.commitments, week.commitment_breaches), (fig.commitments, fig.commitment_breaches)):
        row = commitment_table(adh).set_index("承诺").loc["48小时发货"]
        assert (row["应履约"], row["守约"], row["违约"], row["达成率"]) == ("40", str(40 - late), str(late), "60.0%")
        b = commitment_breach_table(br)
        assert len(b) == late and b["开始(北京)"].iloc[0] == "2026-11-02 13:00:00"  # the first late: 9003 paid 05:00 UTC
    empty = weekly_top3(store, "2026-W30", now=NOW)
    assert commitment_table(empty.commitments)["应履约"].eq("0").all()
    assert commitment_table(empty.commitments)["达成率"].eq("—").all() and empty.commitment_breaches.empty


def test_weekly_playbook_shows_the_section(sqlite_db_url: str, sqlite_store: Store, tmp_path) -> None:
    import re

    import papermill as pm
    from reviewops.reporting.dashboard import COMMITMENT_TITLE, commitment_table
    from reviewops.reporting.reports import weekly_top3
    from reviewops.runner import playbooks_dir

    with sqlite_store.write() as conn:
        shop = _shop(conn)
    late = _late_orders(sqlite_store, shop)
    nb = pm.execute_notebook(str(playbooks_dir() / "weekly_top3.ipynb"), str(tmp_path / "out.ipynb"),
                             kernel_name="python3", cwd=str(tmp_path), progress_bar=False,
                             parameters={"week": "2026-W45", "db": sqlite_db_url})
    texts = [o.get("data", {}).get("text/html") or o.get("data", {}).get("text/markdown") or ""
             for c in nb.cells for o in c.get("outputs", [])]
    assert any(t.startswith(f"## {COMMITMENT_TITLE}") for t in texts)
    [table] = [t for t in texts if "<th>展示商品数</th>" in t]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", table)
    want = commitment_table(weekly_top3(sqlite_store, "2026-W45").commitments)
    assert cells == [str(v) for row in want.itertuples(index=False) for v in row]
    assert cells[:6] == ["48小时发货", "48 小时", "40", str(40 - late), str(late), "0"]
