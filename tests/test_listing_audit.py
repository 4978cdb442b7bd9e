"""P3 listing transparency audit (issue 19): reviewops.prevention.listing_audit and the listing_audit playbook.

Each finding kind on inline frames, with its absence when the listing states the fact; masked examples; thresholds,
departments and fixes from the policy's 商品信息审计 table; the store reader on a hand-built store (SQLite and
PostgreSQL); the playbook under papermill on a small demo shop with its figures checked against a count made with
plain sqlite3.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys

import pandas as pd
import pytest
from reviewops.core.errors import ConfigError
from reviewops.core.policy import DEFAULT_LISTING_RULES, Policy, default_policy
from reviewops.prevention.listing_audit import (
    FINDING_NAMES,
    ListingAuditSettings,
    audit_frame,
    listing_settings,
    short_region,
)

T = pd.Timestamp("2026-10-01T12:00:00Z")
H = pd.Timedelta(hours=1)


def listing(key: str = "L1", *, title: str = "纯棉T恤男夏季", category: str = "服装", hours: float | None = 48,
            excluded: str = "", size_chart: bool | None = True, colour_note: bool | None = True, shop: int = 1,
            sku: str = "") -> dict:
    return {"shop_id": shop, "listing_key": key, "sku": sku, "listing_id": key, "title": title, "category": category,
            "dispatch_hours": float("nan") if hours is None else hours, "excluded_regions": excluded,
            "size_chart": size_chart, "colour_note": colour_note}


def L(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def O(rows: list[tuple]) -> pd.DataFrame:
    """(order_id, listing_key, region, paid_at, shipped_at or None[, shop_id]) rows."""
    out = [{"shop_id": r[5] if len(r) > 5 else 1, "order_id": r[0], "listing_key": r[1], "region": r[2],
            "paid_at": r[3], "shipped_at": r[4]} for r in rows]
    return pd.DataFrame(out, columns=["shop_id", "order_id", "listing_key", "region", "paid_at", "shipped_at"])


def R(rows: list[tuple]) -> pd.DataFrame:
    """(listing_key, region, created_at, content, categories) rows, shop 1."""
    out = [{"shop_id": 1, "listing_key": r[0], "region": r[1], "created_at": r[2], "content": r[3],
            "categories": r[4]} for r in rows]
    return pd.DataFrame(out, columns=["shop_id", "listing_key", "region", "created_at", "content", "categories"])


def orders(n: int, key: str = "L1", *, hours: float = 10, late: int = 0, late_hours: float = 80,
           region: str = "浙江", start: int = 0) -> list[tuple]:
    """n shipped orders of ``key``, the first ``late`` shipped after ``late_hours``, the rest after ``hours``."""
    return [(f"9{start + i:06d}", key, region, T + i * H, T + i * H + (late_hours if i < late else hours) * H)
            for i in range(n)]


def codes(df: pd.DataFrame) -> list[str]:
    return list(df["finding"])


# ------------------------------------------------------------------------------------------ (a) no promise
def test_no_dispatch_promise_with_observed_hours_and_suggestion() -> None:
    ods = orders(20, hours=20) + orders(2, hours=40, start=100)
    out = audit_frame(L(listing(hours=None)), O(ods), R([]))
    assert list(out.columns) == list(FINDING_NAMES)
    assert codes(out) == ["no_dispatch"]
    r = out.iloc[0]
    assert r["orders"] == 22 and r["count"] == 22 and r["department"] == "运营/商品" and r["severity_zh"] == "中"
    assert "没有写发货时效" in r["evidence"] and "中位 20 小时" in r["evidence"]
    assert "可承诺 24 小时" in r["recommendation"]  # 90 % shipped within 20 h: the first step above is 24 h
    # present promise: no finding; no order in the period: none either (min_count 1)
    assert codes(audit_frame(L(listing(hours=48)), O(ods), R([]))) == []
    assert codes(audit_frame(L(listing(hours=None)), O([]), R([]))) == []


def test_a_promise_on_one_sku_counts_and_the_shortest_binds() -> None:
    rows = L(listing(hours=None, sku="S"), listing(hours=72, sku="M"), listing(hours=24, sku="L"))
    ods = orders(10, hours=30, late=0)
    out = audit_frame(rows, O(ods), R([]))
    # the 24 h promise binds: every order (30 h) is late
    assert codes(out) == ["late_dispatch"]
    assert out.iloc[0]["promise_hours"] == 24 and out.iloc[0]["skus"] == 3 and out.iloc[0]["count"] == 10


# ------------------------------------------------------------------------------------------ (b) broken promise
def test_late_dispatch_share_from_shipments() -> None:
    ods = orders(20, hours=30, late=4, late_hours=60) + [("9999999", "L1", "浙江", T, None)]  # one not shipped
    out = audit_frame(L(listing(hours=48)), O(ods), R([(  "L1", "浙江", T + 100 * H, "发货太慢了，等了三天", "logistics")]))
    assert codes(out) == ["late_dispatch"]
    r = out.iloc[0]
    assert (r["count"], r["base"], r["orders"]) == (4, 20, 21) and r["rate"] == pytest.approx(0.2)
    assert "期间已发货 20 单，其中 4 单超时发货（20%）" in r["evidence"] and "最慢 60 小时" in r["evidence"]
    assert r["department"] == "物流/仓储" and r["severity"] == "high"
    assert r["examples"] == ("发货太慢了，等了三天",)


def test_late_dispatch_absent_when_kept_or_below_thresholds() -> None:
    assert codes(audit_frame(L(listing(hours=48)), O(orders(20, hours=47.9)), R([]))) == []  # kept
    assert codes(audit_frame(L(listing(hours=48)), O(orders(20, late=1)), R([]))) == []  # 5 % < 10 %
    assert codes(audit_frame(L(listing(hours=48)), O(orders(9, late=5)), R([]))) == []  # 9 shipped < 10
    assert codes(audit_frame(L(listing(hours=48)), O(orders(10, late=1)), R([]))) == ["late_dispatch"]  # 10 %: at


# ------------------------------------------------------------------------------------------ (c) regions
def _region_case(excluded: str = "", region: str = "新疆") -> pd.DataFrame:
    ods = orders(95, region="浙江") + orders(5, region=region, start=500)
    revs = [("L1", region, T + (200 + k) * H, f"快递太慢了{k}", "logistics") for k in range(3)]
    revs += [("L1", "浙江", T + 300 * H, "物流慢", "logistics")]
    return audit_frame(L(listing(excluded=excluded)), O(ods), R(revs))


def test_region_complained_about_and_not_excluded() -> None:
    out = _region_case()
    assert codes(out) == ["region"]
    r = out.iloc[0]
    assert r["region"] == "新疆" and (r["count"], r["base"]) == (3, 5) and r["rate"] == pytest.approx(0.6)
    assert "新疆买家的物流投诉 3 条（该地区本商品订单 5 单，投诉率 60%；本店物流投诉率 4.0%）" in r["evidence"]
    assert "不发货地区：无" in r["evidence"] and "地区：新疆" in r["recommendation"]
    assert len(r["examples"]) == 3 and r["examples"][0] == "快递太慢了2"  # newest first
    # Zhejiang: one complaint, below min_count 3


def test_region_absent_when_excluded_in_any_spelling() -> None:
    assert codes(_region_case("新疆;西藏")) == []
    assert codes(_region_case("新疆维吾尔自治区、西藏")) == []
    assert codes(_region_case("港澳台", region="香港")) == []
    assert codes(_region_case("西藏")) == ["region"]


def test_region_needs_a_rate_above_the_shops() -> None:
    """3 complaints from 300 Xinjiang orders (1 %) in a shop at 1 %: not above 2 × the shop's rate."""
    ods = orders(300, region="新疆")
    revs = [("L1", "新疆", T + (400 + k) * H, "慢", "logistics") for k in range(3)]
    assert codes(audit_frame(L(listing()), O(ods), R(revs))) == []


def test_short_region() -> None:
    assert [short_region(x) for x in ("新疆维吾尔自治区", "广东省", "上海市", "内蒙古自治区", "广西壮族自治区", "", None)] == \
        ["新疆", "广东", "上海", "内蒙古", "广西", None, None]


# ------------------------------------------------------------------------------------------ (d) size chart
def test_apparel_without_size_chart_and_size_complaints() -> None:
    revs = [("L1", None, T + k * H, f"尺码偏小{k}", "size") for k in range(2)] + [("L1", None, T, "质量差", "quality")]
    out = audit_frame(L(listing(size_chart=False)), O(orders(3)), R(revs))
    assert codes(out) == ["size_chart"]
    r = out.iloc[0]
    assert r["count"] == 2 and "没有尺码表；期间尺码投诉 2 条（该商品中差评 3 条）" in r["evidence"]
    assert r["department"] == "运营/商品" and "尺码表" in r["recommendation"]
    assert codes(audit_frame(L(listing(size_chart=None)), O([]), R(revs))) == ["size_chart"]  # export says nothing
    assert "导出未说明" in audit_frame(L(listing(size_chart=None)), O([]), R(revs)).iloc[0]["evidence"]
    # present: none; not apparel: none; one complaint: none
    assert codes(audit_frame(L(listing(size_chart=True)), O([]), R(revs))) == []
    assert codes(audit_frame(L(listing(size_chart=False, title="每日坚果", category="食品")), O([]), R(revs))) == []
    assert codes(audit_frame(L(listing(size_chart=False)), O([]), R(revs[1:]))) == []


# ------------------------------------------------------------------------------------------ (e) colour note
def test_colour_and_description_complaints_without_a_note() -> None:
    revs = [("L1", None, T, "和图片不符", "description"),
            ("L1", None, T + H, "色差很大，颜色偏黄", "quality"),  # a case whose text says 色差
            ("L1", None, T + 2 * H, "没有色差，很满意", "")]  # not a case: a good review does not count
    out = audit_frame(L(listing(colour_note=False, title="面膜", category="美妆")), O([]), R(revs))
    assert codes(out) == ["colour_note"]
    r = out.iloc[0]
    assert r["count"] == 2 and "其中分类为描述不符 1 条，评价提到色差等词 1 条" in r["evidence"]
    assert r["severity_zh"] == "低" and r["examples"] == ("色差很大，颜色偏黄", "和图片不符")
    assert codes(audit_frame(L(listing(colour_note=True)), O([]), R(revs))) == []
    assert codes(audit_frame(L(listing(colour_note=False)), O([]), R(revs[:1] + revs[2:]))) == []


# ------------------------------------------------------------------------------------------ masking
def test_examples_are_masked_short_and_at_most_three() -> None:
    long = "颜色和图片完全不一样" * 20
    revs = [("L1", None, T + k * H, t, "description") for k, t in enumerate(
        ["联系我13812345678，色差太大", "身份证110101199003071234也没用", long, "旧的一条"])]
    revs[3] = ("L1", None, T - 10 * H, "旧的一条", "description")
    out = audit_frame(L(listing(colour_note=False)), O([]), R(revs))
    ex = out.iloc[0]["examples"]
    assert len(ex) == 3 and "旧的一条" not in ex
    joined = " ".join(ex)
    assert "13812345678" not in joined and "138****5678" in joined
    assert all(len(e) <= 80 for e in ex) and ex[0].endswith("…")


# ------------------------------------------------------------------------------------------ policy
def test_thresholds_departments_and_fixes_come_from_the_policy() -> None:
    p = default_policy()
    s = listing_settings(p)
    assert s.days == 90 and [r["code"] for r in s.rules] == [r["code"] for r in DEFAULT_LISTING_RULES]
    tables = {k: [dict(r) for r in v] for k, v in p.tables.items()}
    for r in tables["listing_rules"]:
        if r["code"] == "late_dispatch":
            r.update(min_count=3, min_rate=0.5, department="仓储部", severity="medium", action="测试：仓库加班")
    for r in tables["settings"]:
        if r["key"] == "listing_audit_days":
            r["value"] = "30"
    s2 = listing_settings(Policy.from_tables(tables))
    assert s2.days == 30
    few = O(orders(4, late=2))
    assert codes(audit_frame(L(listing()), few, R([]))) == []  # default: 4 shipped < 10
    out = audit_frame(L(listing()), few, R([]), s2)  # 2/4 = 50 % ≥ 50 %, 4 ≥ 3
    assert codes(out) == ["late_dispatch"]
    assert out.iloc[0]["department"] == "仓储部" and out.iloc[0]["severity_zh"] == "中"
    assert out.iloc[0]["recommendation"].startswith("测试：仓库加班")
    assert codes(audit_frame(L(listing()), O(orders(4, late=1)), R([]), s2)) == []  # 25 % < 50 %
    # an empty table = the built-in rules
    data = json.loads(p.to_json())
    data["tables"].pop("listing_rules", None)
    s3 = listing_settings(Policy.from_json(json.dumps(data)))
    assert [r["code"] for r in s3.rules] == [r["code"] for r in DEFAULT_LISTING_RULES]
    # a rule left out of the table is not audited
    s4 = ListingAuditSettings(rules=tuple(r for r in DEFAULT_LISTING_RULES if r["code"] != "no_dispatch"))
    assert codes(audit_frame(L(listing(hours=None)), O(orders(5)), R([]), s4)) == []


def test_bad_frames_are_refused_with_the_column_named() -> None:
    with pytest.raises(ConfigError, match="shipped_at"):
        audit_frame(L(listing()), O(orders(1)).drop(columns=["shipped_at"]), R([]))
    with pytest.raises(ConfigError, match="paid_at"):
        audit_frame(L(listing()), O([("1", "L1", None, None, None)]), R([]))


# ------------------------------------------------------------------------------------------ the store
UTC = dt.UTC


def _seed_store(store) -> None:
    """Two listings in one Douyin shop: L-A (T恤, 24 h promise, no size chart; 12 orders, 6 shipped after 30 h;
    size complaints from 新疆 about logistics), L-B (no promise, 3 orders)."""
    from reviewops.core.store import (
        cases,
        listings,
        order_lines,
        orders,
        reviews,
        shipments,
        shops,
    )

    t0 = dt.datetime(2026, 10, 1, 2, 0, tzinfo=UTC)
    with store.write() as conn:
        shop = conn.execute(shops.insert().values(platform="douyin", name="测试店", created_at=t0)).inserted_primary_key[0]
        for key, hours, chart in (("7001", 24, False), ("7002", None, True)):
            conn.execute(listings.insert().values(
                shop_id=shop, listing_key=key, sku="", listing_id=key, title=f"纯棉短袖T恤{key}", category="服饰内衣",
                dispatch_hours=hours, excluded_regions=json.dumps(["西藏"]), size_chart=chart, colour_note=True,
                commitments="[]", updated_at=t0))
        n = 0
        for key, count, late in (("7001", 12, 6), ("7002", 3, 0)):
            for i in range(count):
                n += 1
                oid = f"48{n:016d}"
                paid = t0 + dt.timedelta(hours=n)
                shipped = paid + dt.timedelta(hours=30 if i < late else 5)
                conn.execute(orders.insert().values(shop_id=shop, order_id=oid, paid_at=paid, created_at=paid,
                                                    province="新疆维吾尔自治区" if i < 4 else "浙江省"))
                conn.execute(order_lines.insert().values(shop_id=shop, order_id=oid, line_id=oid + "-1", product_id=key))
                conn.execute(shipments.insert().values(shop_id=shop, tracking_no=f"YT{n:010d}", order_id=oid,
                                                       direction="outbound", shipped_at=shipped))
                if key == "7001" and i < 4:
                    pk = conn.execute(reviews.insert().values(
                        shop_id=shop, review_key=f"r{n}", order_id=oid, product_id=key, created_at=paid + dt.timedelta(days=3),
                        content=f"尺码偏小，快递也慢，电话13900001111 第{i}", first_seen_at=paid + dt.timedelta(days=3),
                        is_default_review=False, version=1)).inserted_primary_key[0]
                    conn.execute(cases.insert().values(shop_id=shop, review_pk=pk, state="new", categories="size;logistics",
                                                       primary_category="size", created_at=t0, updated_at=t0, version=1))


def test_audit_listings_on_a_store(store) -> None:
    from reviewops.prevention.listing_audit import audit_listings

    _seed_store(store)
    out = audit_listings(store, now="2026-10-20T12:00:00+08:00")
    got = {(r.listing_key, r.finding): r for r in out.itertuples()}
    assert set(got) == {("7001", "late_dispatch"), ("7001", "region"), ("7001", "size_chart"), ("7002", "no_dispatch")}
    late = got[("7001", "late_dispatch")]
    assert (late.count, late.base, late.orders) == (6, 12, 12) and late.shop == "测试店（douyin）"
    reg = got[("7001", "region")]
    assert reg.region == "新疆" and (reg.count, reg.base) == (4, 4) and "不发货地区：西藏" in reg.evidence
    assert got[("7001", "size_chart")].count == 4
    assert all("13900001111" not in e and "139****1111" in e for e in got[("7001", "size_chart")].examples)
    assert out.attrs["region_source"] == "province" and out.attrs["listings"] == 2
    # period and shop filters
    assert audit_listings(store, since="2026-11-01", until="2026-11-10").query("finding != 'no_dispatch'").empty
    assert audit_listings(store, now="2026-10-20T12:00:00+08:00", shop_ids=[999]).empty
    with pytest.raises(ConfigError, match="since"):
        audit_listings(store, since="last week")


# ------------------------------------------------------------------------------------------ the playbook
AS_OF = "2026-11-20T18:00:00+08:00"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A small demo shop (scale 0.05) at a fixed --as-of."""
    base = tmp_path_factory.mktemp("listing_demo")
    db = str(base / "d.db")
    env = dict(os.environ, XDG_DATA_HOME=str(base / "xdg-data"), XDG_CONFIG_HOME=str(base / "xdg-config"),
               REVIEWOPS_DB=db, REVIEWOPS_DEMO_PASSWORD="demo-pass-123")
    env.pop("REVIEWOPS_MULTI_USER", None)
    subprocess.run([sys.executable, "-m", "reviewops", "demo", "--scale", "0.05", "--db", db, "--as-of", AS_OF,
                    "--out", str(base / "out")], check=True, env=env, capture_output=True, timeout=300)
    return {"db": db, "base": base, "env": env}


def _independent(db: str, since: str, until: str) -> dict:
    """Per (shop, listing_key), with plain sqlite3: the binding promise, orders paid in the period, shipped and late
    (paid → first shipment longer than the promise)."""
    import sqlite3

    con = sqlite3.connect(db)
    promise: dict = {}
    links: dict = {}
    for shop, key, lid, code, title, hours in con.execute(
            "select shop_id, listing_key, listing_id, merchant_code, title, dispatch_hours from listings order by id"):
        cur = promise.get((shop, key), "unset")
        promise[(shop, key)] = hours if cur == "unset" else (cur if hours is None else
                                                             (hours if cur is None else min(cur, hours)))
        for kind, v in (("id", lid), ("code", code), ("title", title)):
            if v:
                links.setdefault((shop, kind, v.strip()), key)
    per: dict = {}
    seen = set()
    for shop, oid, pid, code, title, paid, o_ship, l_ship, s_ship in con.execute(
            "select l.shop_id, l.order_id, l.product_id, l.merchant_code, l.title, coalesce(o.paid_at, o.created_at), "
            "o.shipped_at, l.shipped_at, (select min(s.shipped_at) from shipments s where s.shop_id = o.shop_id and "
            "s.order_id = o.order_id and (s.direction is null or s.direction = 'outbound')) "
            "from order_lines l join orders o on o.shop_id = l.shop_id and o.order_id = l.order_id "
            "where coalesce(o.paid_at, o.created_at) >= ? and coalesce(o.paid_at, o.created_at) <= ?", (since, until)):
        key = next((links[(shop, k, v.strip())] for k, v in (("id", pid), ("code", code), ("title", title))
                    if v and (shop, k, v.strip()) in links), None)
        if key is None or (shop, oid, key) in seen:
            continue
        seen.add((shop, oid, key))
        d = per.setdefault((shop, key), {"orders": 0, "shipped": 0, "late": 0})
        d["orders"] += 1
        ship = l_ship or o_ship or s_ship
        if ship:
            d["shipped"] += 1
            hours = (pd.Timestamp(ship) - pd.Timestamp(paid)).total_seconds() / 3600
            p = promise[(shop, key)]
            if p is not None and hours > p:
                d["late"] += 1
    con.close()
    return {"promise": promise, "per": per}


def test_listing_audit_playbook_runs_and_matches_an_independent_count(demo, tmp_path) -> None:
    pm = pytest.importorskip("papermill")
    from reviewops.runner import playbooks_dir

    nb = playbooks_dir() / "listing_audit.ipynb"
    params = pm.inspect_notebook(str(nb))
    assert {k: p["inferred_type_name"] for k, p in params.items()} == {
        "db": "str", "shops": "str", "now": "str", "days": "int", "output_dir": "str"}
    assert all(p["help"] for p in params.values())
    out = tmp_path / "tables"
    pm.execute_notebook(str(nb), str(tmp_path / "o.ipynb"), kernel_name="python3", cwd=str(tmp_path),
                        parameters={"db": demo["db"], "now": AS_OF, "days": 90, "output_dir": str(out)},
                        progress_bar=False)
    table = pd.read_csv(out / "问题清单.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    summary = pd.read_csv(out / "概览.csv", dtype=str, encoding="utf-8-sig")
    until = pd.Timestamp(AS_OF).tz_convert("UTC")
    since = until - pd.Timedelta(days=90)
    fmt = "%Y-%m-%d %H:%M:%S"
    ind = _independent(demo["db"], since.strftime(fmt), until.strftime(fmt) + ".999999")
    per, promise = ind["per"], ind["promise"]
    # no promise: exactly the listings without one that had an order in the period
    want_none = {k for k, p in promise.items() if p is None and per.get(k, {}).get("orders", 0) >= 1}
    got_none = {(int(s), k) for s, k, f in zip(table["店铺编号"], table["商品链接键"], table["问题代码"]) if f == "no_dispatch"}
    assert want_none and got_none == want_none
    # broken promise: the late and shipped counts, and the listings at ≥ 10 shipped and ≥ 10 % late
    want_late = {k: (d["late"], d["shipped"]) for k, d in per.items() if promise[k] is not None and d["shipped"] >= 10
                 and d["late"] > 0 and d["late"] / d["shipped"] >= 0.1}
    got_late = {(int(s), k): (int(c), int(b)) for s, k, f, c, b in
                zip(table["店铺编号"], table["商品链接键"], table["问题代码"], table["问题次数"], table["基数"])
                if f == "late_dispatch"}
    assert want_late and got_late == want_late
    # the overview: listings audited and findings, as counted above
    val = dict(zip(summary["项目"], summary["数值"]))
    assert int(val["审计商品链接"]) == len(promise)
    assert int(val["发现问题"]) == len(table)
    assert int(val["期间订单"]) == len({(s, o) for (s, o, _k) in _orders_seen(demo["db"], since, until)})
    joined = " ".join(table.astype(str).values.ravel())
    assert "nick:" not in joined and not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", joined)  # no phone number


def _orders_seen(db: str, since: pd.Timestamp, until: pd.Timestamp) -> set:
    """(shop, order, line) of the order lines paid in the period whose listing is known (as the audit links them)."""
    import sqlite3

    con = sqlite3.connect(db)
    fmt = "%Y-%m-%d %H:%M:%S"
    rows = con.execute(
        "select l.shop_id, l.order_id, l.line_id from order_lines l join orders o on o.shop_id = l.shop_id and "
        "o.order_id = l.order_id where coalesce(o.paid_at, o.created_at) between ? and ? and exists (select 1 from "
        "listings x where x.shop_id = l.shop_id and (x.listing_id = l.product_id or x.merchant_code = l.merchant_code "
        "or x.title = l.title))", (since.strftime(fmt), until.strftime(fmt) + ".999999")).fetchall()
    con.close()
    return set(rows)


# ------------------------------------------------------------------------------------------ the form
def _walk(w):
    yield w
    for c in getattr(w, "children", ()) or ():
        yield from _walk(c)


def test_the_form_shows_the_users_shops_only_and_every_class_is_documented(store) -> None:
    import re
    from pathlib import Path

    import ipywidgets as widgets
    from reviewops.core.errors import AccessDenied
    from reviewops.core.store import shops
    from reviewops.core.users import add_user, get_actor, set_active
    from reviewops.handling.workbench import Workbench
    from reviewops_widgets.listing_audit import build_listing_audit

    _seed_store(store)
    with store.write() as conn:
        other = conn.execute(shops.insert().values(platform="jd", name="别的店", created_at=dt.datetime(
            2026, 10, 1, tzinfo=UTC))).inserted_primary_key[0]
    add_user(store, "laoli", role="supervisor", shops=None, actor="test")
    add_user(store, "xiaowang", role="agent", shops=[other], actor="test")
    now = dt.datetime(2026, 10, 20, 4, 0, tzinfo=UTC)
    form = build_listing_audit(Workbench(store, get_actor(store, "laoli")), now=now)
    assert form.status.kind == "ok" and len(form.findings) == 4
    assert "发货承诺未兑现" in form.table.value and "139****1111" in form.table.value
    assert "13900001111" not in form.table.value
    form.kind.value = "region"
    form.run.click()
    assert list(form.findings["finding"]) == ["region"] and "新疆" in form.table.value
    # an agent of another shop sees none of this shop's listings
    agent = build_listing_audit(Workbench(store, get_actor(store, "xiaowang")), now=now)
    assert [v for _l, v in agent.shop.options] == ["__all__", other]
    assert agent.findings.empty and "没有发现问题" in agent.table.value
    agent.shop.options = [*agent.shop.options, ("测试店", 1)]  # a tampered option is still refused
    agent.shop.value = 1
    agent.run.click()
    assert agent.status.kind == "error" and agent.findings.empty
    set_active(store, "laoli", False, actor="test")
    form.run.click()
    assert form.status.kind == "error"
    with pytest.raises(AccessDenied):
        form.refresh(now)
    # every class of the form is documented (docs/forms.md), every actionable widget has one
    doc = (Path(__file__).resolve().parents[1] / "docs" / "forms.md").read_text(encoding="utf-8")
    actionable = (widgets.Button, widgets.Dropdown, widgets.BoundedIntText)
    for w in _walk(form.root):
        ro = [c for c in w._dom_classes if c.startswith("ro-")]
        assert ro or not isinstance(w, actionable), w
        for c in ro:
            assert f"`{re.sub(r'-[0-9]+$', '', c)}`" in doc or c in ("ro-form", "ro-section", "ro-sticky"), c
