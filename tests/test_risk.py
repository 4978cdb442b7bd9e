"""P2 high-risk order flags (issue 19): reviewops.prevention.risk, the risk_orders playbook and RO_RISK.

Unit tests on inline frames (each reason, the shop's baseline, strict "before", expiry, the policy's rules),
Hypothesis properties (no event at or after an order changes its score; the same history gives the same score;
bounded examples), the store reader on a hand-built store, the playbook under papermill with its figures checked
against an independent count, and the Excel function with Excel-shaped inputs.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reviewops.core.errors import ConfigError
from reviewops.core.policy import DEFAULT_RISK_RULES, Policy, default_policy
from reviewops.prevention.risk import (
    RISK_NAMES,
    RiskSettings,
    lift_table,
    risk_settings,
    score_frame,
)

T = pd.Timestamp("2026-10-01T12:00:00Z")
DAY = pd.Timedelta(days=1)


def ev(rows: list[tuple]) -> pd.DataFrame:
    """(shop_id, buyer, kind, at) rows."""
    return pd.DataFrame(rows, columns=["shop_id", "buyer", "kind", "at"])


def od(rows: list[tuple]) -> pd.DataFrame:
    """(shop_id, order_id, buyer, created_at) rows."""
    return pd.DataFrame(rows, columns=["shop_id", "order_id", "buyer", "created_at"])


def shop_history(n: int = 100, refunds: int = 8, start: pd.Timestamp = T - 60 * DAY) -> list[tuple]:
    """n orders of other buyers in shop 1, ``refunds`` of them refunded (8 % by default)."""
    rows = [(1, f"other{i}", "order", start + i * pd.Timedelta(minutes=7)) for i in range(n)]
    rows += [(1, f"other{i}", "refund", start + i * pd.Timedelta(minutes=7) + DAY) for i in range(refunds)]
    return rows


# ------------------------------------------------------------------------------------------ units
def test_clean_buyer_scores_zero_with_no_reasons() -> None:
    out = score_frame(od([(1, "9001", "nick:a", T)]), ev(shop_history() + [(1, "nick:a", "order", T - 30 * DAY)]))
    r = out.iloc[0]
    assert list(out.columns) == list(RISK_NAMES)
    assert r["score"] == 0 and not r["flagged"] and r["reasons"] == "" and r["recommendations"] == ""
    assert r["prior_orders"] == 1 and r["shop_refund_rate"] == pytest.approx(8 / 101)


def test_refund_rate_against_the_shop_baseline_with_chinese_reason() -> None:
    mine = [(1, "nick:a", "order", T - k * 10 * DAY) for k in (1, 2, 3, 4, 5)]
    mine += [(1, "nick:a", "refund", T - k * 10 * DAY + DAY) for k in (1, 2, 3)]
    mine += [(1, "nick:a", "no_return", T - k * 10 * DAY + DAY) for k in (1, 2, 3)]
    out = score_frame(od([(1, "9001", "nick:a", T)]), ev(shop_history() + mine))
    r = out.iloc[0]
    assert r["refunds"] == 3 and r["prior_orders"] == 5 and r["refund_rate"] == pytest.approx(0.6)
    assert r["flagged"] and r["reason_codes"] == "refund_rate;no_return"
    assert "该买家近90天退款率 60%（3/5 单；本店平均 10%）" in r["reasons"]  # (8 + 3) / (100 + 5)
    assert "仅退款 3 次" in r["reasons"]
    # weights 0.3 and 0.4 with m = min(3/2, 3) = 1.5 → 1 − 0.7 × 0.6^1.5
    assert r["score"] == pytest.approx(round(1 - 0.7 * 0.6 ** 1.5, 4))
    assert "运费险" in r["recommendations"] and "发货前联系买家" in r["recommendations"]


def test_a_rate_at_the_shops_level_does_not_fire() -> None:
    """2 refunds of 20 orders (10 %) in a shop refunding 8 %: below 3× the shop's rate."""
    mine = [(1, "nick:a", "order", T - k * DAY) for k in range(1, 21)]
    mine += [(1, "nick:a", "refund", T - k * DAY + pd.Timedelta(hours=1)) for k in (3, 9)]
    r = score_frame(od([(1, "9001", "nick:a", T)]), ev(shop_history() + mine)).iloc[0]
    assert r["refunds"] == 2 and "refund_rate" not in r["reason_codes"]


def test_serial_orders_count_this_one() -> None:
    mine = [(1, "nick:a", "order", T - pd.Timedelta(hours=h)) for h in (2, 5)]
    r = score_frame(od([(1, "9001", "nick:a", T)]), ev(mine)).iloc[0]
    assert r["serial_orders"] == 3 and r["reason_codes"] == "serial"
    assert "24 小时内连续下单 3 单（含本单）" in r["reasons"]
    assert not r["flagged"]  # 0.2 alone stays below 0.5
    r2 = score_frame(od([(1, "9001", "nick:a", T)]), ev(mine[:1])).iloc[0]
    assert r2["serial_orders"] == 2 and r2["reason_codes"] == ""


def test_bad_reviews_malicious_and_bursts() -> None:
    mine = [(1, "nick:a", "order", T - 20 * DAY), (1, "nick:a", "bad_review", T - 10 * DAY),
            (1, "nick:a", "malicious", T - 10 * DAY), (1, "nick:a", "burst", T - 9 * DAY)]
    r = score_frame(od([(1, "9001", "nick:a", T)]), ev(mine)).iloc[0]
    assert (r["bad_reviews"], r["malicious"], r["bursts"]) == (1, 1, 1)
    assert r["reason_codes"] == "bad_review;malicious;burst" and r["flagged"]
    assert r["score"] == pytest.approx(round(1 - 0.55 * 0.3 * 0.4, 4))
    assert "恶意评价信号" in r["reasons"] and "集中差评" in r["reasons"] and "照常发货" in r["recommendations"]


def test_one_bad_review_alone_is_shown_but_not_flagged() -> None:
    r = score_frame(od([(1, "9001", "nick:a", T)]), ev([(1, "nick:a", "bad_review", T - DAY)])).iloc[0]
    assert r["reason_codes"] == "bad_review" and r["score"] == pytest.approx(0.45) and not r["flagged"]
    assert r["reasons"] and r["recommendations"] == ""  # reasons always shown; actions for flagged orders


def test_strictly_before_and_lookback() -> None:
    rows = [(1, "nick:a", "bad_review", T), (1, "nick:a", "bad_review", T + DAY),  # at / after: never
            (1, "nick:a", "bad_review", T - 91 * DAY)]  # older than the 90-day lookback
    r = score_frame(od([(1, "9001", "nick:a", T)]), ev(rows)).iloc[0]
    assert r["bad_reviews"] == 0 and r["score"] == 0
    r = score_frame(od([(1, "9001", "nick:a", T)]), ev(rows), RiskSettings(lookback_days=120)).iloc[0]
    assert r["bad_reviews"] == 1


def test_other_buyers_and_unknown_buyers_do_not_count() -> None:
    rows = [(1, "nick:b", "bad_review", T - DAY), (1, None, "bad_review", T - DAY)]
    out = score_frame(od([(1, "9001", "nick:a", T), (1, "9002", None, T)]), ev(rows))
    assert list(out["bad_reviews"]) == [0, 0] and list(out["score"]) == [0, 0]


def test_buyer_matched_across_shops_baseline_per_shop() -> None:
    rows = [(2, "nick:a", "order", T - 5 * DAY), (2, "nick:a", "refund", T - 4 * DAY),
            (2, "nick:a", "order", T - 3 * DAY), (2, "nick:a", "refund", T - 2 * DAY)] + shop_history()
    r = score_frame(od([(1, "9001", "nick:a", T)]), ev(rows)).iloc[0]
    assert r["prior_orders"] == 2 and r["refunds"] == 2
    assert r["shop_refund_rate"] == pytest.approx(8 / 100)  # shop 1's own orders only


def test_expiry_and_policy_settings() -> None:
    p = default_policy()
    s = risk_settings(p)
    assert s.threshold == 0.5 and s.lookback_days == 90 and s.expiry_days == 14 and len(s.rules) == 7
    out = score_frame(od([(1, "9001", "nick:a", T)]), ev([]), s)
    assert out.iloc[0]["expires_at"] == T + 14 * DAY
    # the policy's table drives the rules: a shop that makes one bad review enough
    tables = {k: [dict(r) for r in v] for k, v in p.tables.items()}
    for r in tables["risk_rules"]:
        if r["code"] == "bad_review":
            r["weight"], r["action"] = 0.6, "测试建议"
    for r in tables["settings"]:
        if r["key"] == "risk_expiry_days":
            r["value"] = "3"
    s2 = risk_settings(Policy.from_tables(tables))
    r = score_frame(od([(1, "9001", "nick:a", T)]), ev([(1, "nick:a", "bad_review", T - DAY)]), s2).iloc[0]
    assert r["flagged"] and r["recommendations"] == "测试建议" and r["expires_at"] == T + 3 * DAY


def test_empty_rules_table_means_the_built_in_rules() -> None:
    import json

    data = json.loads(default_policy().to_json())
    data["tables"].pop("risk_rules")
    s = risk_settings(Policy.from_json(json.dumps(data)))
    assert [r["code"] for r in s.rules] == [r["code"] for r in DEFAULT_RISK_RULES]


def test_bad_review_ratio_spares_a_buyer_with_many_orders() -> None:
    rules = tuple({**r, "min_ratio": 3.0} if r["code"] == "bad_review" else r for r in DEFAULT_RISK_RULES)
    many = [(1, "nick:a", "order", T - pd.Timedelta(hours=30 + 5 * k)) for k in range(200)]
    rows = many + [(1, "nick:a", "bad_review", T - 2 * DAY)] + shop_history() + \
        [(1, f"other{i}", "bad_review", T - 50 * DAY) for i in range(4)]
    r = score_frame(od([(1, "9001", "nick:a", T)]), ev(rows), RiskSettings(rules=rules)).iloc[0]
    assert r["bad_reviews"] == 1 and "bad_review" not in r["reason_codes"]
    r = score_frame(od([(1, "9001", "nick:a", T)]), ev(rows)).iloc[0]
    assert "bad_review" in r["reason_codes"]  # the default: any bad review counts


def test_inputs_are_checked() -> None:
    with pytest.raises(ConfigError, match="缺少列"):
        score_frame(od([(1, "9001", "nick:a", T)]).drop(columns="buyer"), ev([]))
    with pytest.raises(ConfigError, match="未知的历史事件类型"):
        score_frame(od([(1, "9001", "nick:a", T)]), ev([(1, "nick:a", "blacklist", T - DAY)]))
    with pytest.raises(ConfigError, match="created_at"):
        score_frame(od([(1, "9001", "nick:a", "not a time")]), ev([]))
    # naive times are Beijing time; order ids stay text
    out = score_frame(od([(1, 2960129512633587517, "nick:a", "2026-10-01 20:00:00")]), ev([]))
    assert out.iloc[0]["created_at"] == T and out.iloc[0]["order_id"] == "2960129512633587517"


def test_lift_table() -> None:
    t = lift_table(pd.Series([0.9, 0.6, 0.1, 0.0]), pd.Series([True, False, True, False]), [0.5])
    r = t.iloc[0]
    assert (r["flagged"], r["bad_flagged"], r["flag_rate"], r["capture"], r["lift"]) == (2, 1, 0.5, 0.5, 1.0)


# ------------------------------------------------------------------------------------------ properties
KINDS = ("order", "refund", "no_return", "return", "bad_review", "malicious", "burst")
hours = st.integers(min_value=-24 * 120, max_value=24 * 30)
event = st.tuples(st.sampled_from([1, 2]), st.sampled_from(["nick:a", "nick:b", None]), st.sampled_from(KINDS), hours)
order = st.tuples(st.sampled_from([1, 2]), st.sampled_from(["nick:a", "nick:b"]), hours)


def _frames(orders: list[tuple], events: list[tuple]) -> tuple[pd.DataFrame, pd.DataFrame]:
    o = od([(s, f"o{i}", b, T + pd.Timedelta(hours=h)) for i, (s, b, h) in enumerate(orders)])
    e = ev([(s, b, k, T + pd.Timedelta(hours=h)) for s, b, k, h in events])
    return o, e


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(orders=st.lists(order, min_size=1, max_size=4), events=st.lists(event, max_size=30),
       later=st.lists(st.tuples(st.sampled_from([1, 2]), st.sampled_from(["nick:a", "nick:b", None]),
                                st.sampled_from(KINDS), st.integers(min_value=0, max_value=24 * 60)), max_size=10),
       drop=st.integers(min_value=0, max_value=29))
def test_no_event_at_or_after_an_order_changes_its_score(orders, events, later, drop) -> None:
    o, e = _frames(orders, events)
    base = score_frame(o, e)
    for i in range(len(o)):
        t = o.iloc[i]["created_at"]
        # change the future of order i: add events at/after it, and remove one event at/after it
        extra = ev([(s, b, k, t + pd.Timedelta(hours=h)) for s, b, k, h in later])
        future = e.index[pd.to_datetime(e["at"], utc=True) >= t] if len(e) else []
        kept = e.drop(index=[future[drop % len(future)]]) if len(future) else e
        changed = score_frame(o.iloc[[i]], pd.concat([kept, extra], ignore_index=True))
        a, b = base.iloc[i], changed.iloc[0]
        for col in ("score", "flagged", "reasons", "reason_codes", "recommendations", "prior_orders",
                    "shop_refund_rate", "serial_orders", "bad_reviews"):
            assert a[col] == b[col], (col, a[col], b[col])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(orders=st.lists(order, min_size=1, max_size=4), events=st.lists(event, max_size=30),
       seed=st.integers(min_value=0, max_value=2**16))
def test_the_same_history_gives_the_same_score(orders, events, seed) -> None:
    o, e = _frames(orders, events)
    a = score_frame(o, e)
    rng = np.random.default_rng(seed)
    # the same history in another row order, and the same orders scored one at a time
    e2 = e.iloc[rng.permutation(len(e))] if len(e) else e
    b = pd.concat([score_frame(o.iloc[[i]], e2) for i in range(len(o))], ignore_index=True)
    pd.testing.assert_frame_equal(a, b)
    # another buyer with the same history gets the same score (the key is only a key)
    o3 = o.assign(buyer=o["buyer"].map({"nick:a": "nick:x", "nick:b": "nick:y"}))
    e3 = e.assign(buyer=e["buyer"].map({"nick:a": "nick:x", "nick:b": "nick:y", None: None}))
    c = score_frame(o3, e3)
    assert list(c["score"]) == list(a["score"]) and list(c["reasons"]) == list(a["reasons"])
    assert ((a["score"] >= 0) & (a["score"] <= 1)).all()


# ------------------------------------------------------------------------------------------ the store
SH = dt.timezone(dt.timedelta(hours=8))
AS_OF = "2026-11-20T18:00:00+08:00"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A small demo shop (scale 0.05) at a fixed --as-of."""
    base = tmp_path_factory.mktemp("risk_demo")
    db = str(base / "d.db")
    env = dict(os.environ, XDG_DATA_HOME=str(base / "xdg-data"), XDG_CONFIG_HOME=str(base / "xdg-config"),
               REVIEWOPS_DB=db, REVIEWOPS_DEMO_PASSWORD="demo-pass-123")
    env.pop("REVIEWOPS_MULTI_USER", None)
    subprocess.run([sys.executable, "-m", "reviewops", "demo", "--scale", "0.05", "--db", db, "--as-of", AS_OF,
                    "--out", str(base / "out")], check=True, env=env, capture_output=True, timeout=300)
    return {"db": db, "base": base, "env": env}


def _independent_counts(db: str, order_ids: list[tuple[int, str]]) -> dict:
    """Prior orders and bad reviews of each order's buyer, counted with plain sqlite3 and Python."""
    import sqlite3

    con = sqlite3.connect(db)
    cust = {cid: (f"nick:{h}" if h else f"cust:{cid}") for cid, h in con.execute("select id, nick_hash from customers")}
    orders = [(s, o, cust.get(c), pd.Timestamp(t, tz="UTC")) for s, o, c, t in
              con.execute("select shop_id, order_id, customer_id, created_at from orders where created_at is not null")]
    bad = [(cust.get(c), pd.Timestamp(t, tz="UTC")) for c, t in con.execute(
        "select coalesce(r.customer_id, o.customer_id), r.created_at from reviews r "
        "left join orders o on o.shop_id = r.shop_id and o.order_id = r.order_id "
        "where r.rating_class = 'negative' or exists (select 1 from cases k where k.review_pk = r.id)")]
    con.close()
    when = {(s, o): (b, t) for s, o, b, t in orders}
    out = {}
    for key in order_ids:
        b, t = when[key]
        lo = t - pd.Timedelta(days=90)
        out[key] = (sum(1 for _s, _o, b2, t2 in orders if b is not None and b2 == b and lo <= t2 < t),
                    sum(1 for b2, t2 in bad if b is not None and b2 == b and lo <= t2 < t))
    return out


def test_score_orders_on_the_demo_store(demo) -> None:
    import reviewops
    from reviewops.prevention.risk import score_orders

    store = reviewops.Store.open(demo["db"])
    df = score_orders(store, now=AS_OF)
    assert len(df) > 100 and df["created_at"].is_monotonic_decreasing
    assert df["shop"].notna().all() and (df["flagged"] == (df["score"] >= 0.5)).all()
    assert (df.loc[df["score"] > 0, "reasons"] != "").all()
    # no personal data in what is shown
    text = " ".join(df["reasons"]) + " ".join(df["recommendations"])
    assert not re.search(r"1[3-9]\d{9}|\*{2,}|nick:|cust:", text)  # no phone, masked name or buyer key
    sample = df.sort_values(["bad_reviews", "prior_orders"], ascending=False).head(15)
    expect = _independent_counts(demo["db"], list(zip(sample["shop_id"], sample["order_id"])))
    for r in sample.itertuples():
        assert (r.prior_orders, r.bad_reviews) == expect[(r.shop_id, r.order_id)], r.order_id
    # since / shop filter
    one = int(df["shop_id"].iloc[0])
    d2 = score_orders(store, now=AS_OF, since="2026-11-13", shop_ids=[one])
    assert set(d2["shop_id"]) == {one} and (d2["created_at"] >= pd.Timestamp("2026-11-12T16:00:00Z")).all()
    merged = d2.merge(df, on=["shop_id", "order_id"], suffixes=("", "_all"))
    assert (merged["score"] == merged["score_all"]).all()  # the same order scores the same whatever the filter
    with pytest.raises(ConfigError, match="since"):
        score_orders(store, now=AS_OF, since="yesterday-ish")
    store.close()


# ------------------------------------------------------------------------------------------ playbook
def test_risk_orders_playbook_runs_and_matches_an_independent_count(demo, tmp_path) -> None:
    pm = pytest.importorskip("papermill")
    import reviewops
    from reviewops.prevention.risk import score_orders
    from reviewops.runner import playbooks_dir

    nb = playbooks_dir() / "risk_orders.ipynb"
    params = pm.inspect_notebook(str(nb))
    assert {k: p["inferred_type_name"] for k, p in params.items()} == {
        "db": "str", "shops": "str", "now": "str", "days": "int", "output_dir": "str"}
    out = tmp_path / "tables"
    pm.execute_notebook(str(nb), str(tmp_path / "o.ipynb"), kernel_name="python3", cwd=str(tmp_path),
                        parameters={"db": demo["db"], "now": AS_OF, "days": 7, "output_dir": str(out)},
                        progress_bar=False)
    table = pd.read_csv(out / "高风险订单.csv", dtype=str, encoding="utf-8-sig")
    summary = pd.read_csv(out / "概览.csv", dtype=str, encoding="utf-8-sig")
    # independent count: the orders of the last 7 days (Beijing days) scored from the store, flagged at 0.5
    store = reviewops.Store.open(demo["db"])
    since = (pd.Timestamp(AS_OF).tz_convert("Asia/Shanghai").normalize() - pd.Timedelta(days=6))
    full = score_orders(store, now=AS_OF)
    store.close()
    recent = full[full["created_at"] >= since.tz_convert("UTC")]
    want = recent[recent["score"] >= 0.5]
    assert len(recent) > 0 and len(table) == len(want)
    assert set(table["订单号"]) == set(want["order_id"])
    import sqlite3

    con = sqlite3.connect(demo["db"])
    lo, hi = since.tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S"), "2026-11-20 10:00:00.999999"
    n_orders = con.execute("select count(*) from orders where created_at >= ? and created_at <= ?", (lo, hi)).fetchone()[0]
    con.close()
    assert int(summary.loc[summary["项目"] == "订单数", "数值"].iloc[0]) == n_orders == len(recent)
    # the bad-review counts written in the reasons match a count made without reviewops
    keyed = {(int(s_), o): (s_, o) for s_, o in zip(want["shop_id"], want["order_id"])}
    expect = _independent_counts(demo["db"], list(keyed))
    by_order = dict(zip(want["order_id"], want["shop_id"]))
    for oid, why in zip(table["订单号"], table["原因"]):
        m = re.search(r"给过中差评 (\d+) 次（其订单 (\d+) 单）", why)
        if m:
            assert (int(m.group(2)), int(m.group(1))) == expect[(int(by_order[oid]), oid)], (oid, why)
    assert int(summary.loc[summary["项目"] == "高风险订单", "数值"].iloc[0]) == len(want)
    if len(table):
        assert (table["原因"].str.len() > 0).all() and (table["建议措施"].str.len() > 0).all()
    joined = " ".join(table.astype(str).values.ravel())
    assert "nick:" not in joined and "cust:" not in joined  # no buyer keys, names or phones


# ------------------------------------------------------------------------------------------ Excel
def test_ro_risk_with_excel_shaped_inputs(demo, monkeypatch) -> None:
    from reviewops import excel

    monkeypatch.setenv("REVIEWOPS_DB", demo["db"])
    monkeypatch.setenv("XDG_DATA_HOME", str(demo["base"] / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(demo["base"] / "xdg-config"))
    excel._close_stores()
    import reviewops
    from reviewops.core.users import issue_token

    with reviewops.Store.open(demo["db"]) as store:
        token = issue_token(store, "dianzhang", actor="test")  # the demo's 店长 (every shop)
    monkeypatch.setenv("REVIEWOPS_TOKEN", token)
    serial = 46346.75  # Excel serial of 2026-11-20 18:00 (1900 system), as classic xlwings sends a date cell
    rows = excel.ro_risk(serial - 7, serial, None)
    assert isinstance(rows, list), rows
    assert rows[0][:3] == ["订单号", "店铺", "下单时间(北京时间)"]
    body = [r for r in rows[1:] if r[0] and not str(r[0]).startswith("（")]
    assert all(isinstance(r[0], str) and r[0].isdigit() for r in body)  # order ids as text
    assert all(float(r[3]) >= 0.5 for r in body)  # flagged only by default
    # a datetime cell, a threshold cell as float, "全部" = every order with reasons
    rows2 = excel.ro_risk(dt.datetime(2026, 11, 13), dt.datetime(2026, 11, 20, 18), 0.0)
    assert len(rows2) >= len(rows)
    assert excel.ro_risk("不是日期", serial, None).startswith("#错误")
    assert excel.ro_risk(serial - 7, serial, 7.0).startswith("#错误")  # threshold out of 0–1
    assert excel.ro_risk(serial - 7, serial, "#N/A").startswith("#错误")
    excel._close_stores()
