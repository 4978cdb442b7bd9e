"""The staff_scorecard and customer_value playbooks on the demo shop, run with papermill.

The demo store is built once for the module; a little handling history is added on top through the
Workbench (contacts and resolutions by two agents) plus CSAT/NPS answers and training records, so
the tables are never empty whether or not the demo ships its own history. Every figure checked is
computed independently here with plain SQL/pandas (never with the functions under test).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pm = pytest.importorskip("papermill")

import reviewops
import sqlalchemy as sa
from reviewops.core import store as S
from reviewops.reporting.reports import SHANGHAI
from reviewops.runner import playbooks_dir

PLAYBOOKS = playbooks_dir()  # the installed ones
TODAY = dt.datetime.now(SHANGHAI).date()
P_START, P_END = (TODAY - dt.timedelta(days=150)).isoformat(), TODAY.isoformat()
T0 = dt.datetime.combine(TODAY - dt.timedelta(days=150), dt.time(0), tzinfo=SHANGHAI)
T1 = dt.datetime.combine(TODAY + dt.timedelta(days=1), dt.time(0), tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A small demo shop (scale 0.02) plus a handling history by agents xiaowang and pb_agent2."""
    base = tmp_path_factory.mktemp("scorecard_demo")
    env = dict(os.environ, XDG_DATA_HOME=str(base / "xdg-data"), XDG_CONFIG_HOME=str(base / "xdg-config"),
               REVIEWOPS_DB=str(base / "d.db"), REVIEWOPS_DEMO_PASSWORD="demo-pass-123")
    env.pop("REVIEWOPS_MULTI_USER", None)
    subprocess.run([sys.executable, "-m", "reviewops", "demo", "--scale", "0.02", "--db", str(base / "d.db"),
                    "--out", str(base / "out")], check=True, env=env, capture_output=True, timeout=300)
    from reviewops.core.users import add_user, get_actor

    store = reviewops.Store.open(str(base / "d.db"))
    add_user(store, "pb_agent2", role="agent", password="password1", actor="test")
    with store.read() as conn:
        open_cases = conn.execute(sa.select(S.cases.c.id, S.cases.c.version, S.cases.c.shop_id)
                                  .where(S.cases.c.state == "new").order_by(S.cases.c.id).limit(8)).all()
    agents = [get_actor(store, "xiaowang"), get_actor(store, "pb_agent2")]
    now = dt.datetime.now(dt.UTC)
    for i, (cid, version, shop_id) in enumerate(open_cases):
        wb = reviewops.Workbench(store, agents[i % 2])
        version = wb.record_contact(cid, version, channel="phone", note="已电话联系客户，了解问题")
        if i < 6:
            wb.resolve(cid, version, satisfied=i % 3 != 2)
        with store.write() as conn:
            conn.execute(S.surveys.insert().values(shop_id=shop_id, survey_key=f"pb-csat-{cid}", kind="csat",
                                                   score=5 - (i % 4), case_id=cid, answered_at=now))
            conn.execute(S.surveys.insert().values(shop_id=shop_id, survey_key=f"pb-nps-{cid}", kind="nps",
                                                   score=10 - 3 * (i % 3), case_id=cid, answered_at=now))
    with store.write() as conn:
        for agent, passed in (("xiaowang", True), ("xiaowang", False), ("pb_agent2", True)):
            conn.execute(S.training_records.insert().values(agent=agent, module="emotion", at=now, passed=passed,
                                                            recorded_by="test", recorded_at=now))
    return {"db": str(base / "d.db"), "env": env}


def _run(name: str, demo_db: dict, tmp_path: Path, monkeypatch, **params) -> tuple[object, Path]:
    for k in ("XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(k, demo_db["env"][k])
    tables = tmp_path / "tables"
    nb = pm.execute_notebook(str(PLAYBOOKS / f"{name}.ipynb"), str(tmp_path / f"{name}.out.ipynb"),
                             kernel_name="python3", cwd=str(tmp_path), progress_bar=False,
                             parameters={"db": demo_db["db"], "output_dir": str(tables), **params})
    assert nb.metadata.papermill.exception is None
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    return nb, tables


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _frame(conn, q, cols) -> pd.DataFrame:
    return pd.DataFrame(conn.execute(sa.text(q)).all(), columns=cols)


def _ts(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, utc=True, format="mixed")


def test_playbook_parameters_are_typed_and_documented() -> None:
    for name, extra in (("staff_scorecard", {"quarter"}), ("customer_value", set())):
        params = pm.inspect_notebook(str(PLAYBOOKS / f"{name}.ipynb"))
        assert set(params) == {"db", "shops", "start", "end", "output_dir"} | extra
        assert all(p["inferred_type_name"] == "str" for p in params.values())
        assert all(p["help"] for p in params.values())


def test_staff_scorecard_tables_match_an_independent_count(demo_db, tmp_path, monkeypatch) -> None:
    nb, tables = _run("staff_scorecard", demo_db, tmp_path, monkeypatch, start=P_START, end=P_END)
    assert sorted(p.name for p in tables.iterdir()) == sorted(
        f"{n}.csv" for n in ("客服绩效", "激励台账", "季度前三", "培训考核"))
    engine = sa.create_engine(f"sqlite:///{demo_db['db']}")
    with engine.connect() as conn:
        cs = _frame(conn, "SELECT id, first_contact_at, sla_due_at, resolved_at, satisfied FROM cases",
                    ["id", "fc", "due", "res", "sat"])
        ev = _frame(conn, "SELECT case_id, actor, at, id FROM case_events WHERE action = 'contact' "
                          "OR after_json LIKE '%\"first_contact_at\"%' ORDER BY at, id", ["case_id", "actor", "at", "id"])
        sv = _frame(conn, "SELECT case_id, score, answered_at FROM surveys WHERE kind = 'csat'",
                    ["case_id", "score", "at"])
    # the bonus rate is an input (the shop's policy setting), not a computed figure
    bonus_yuan = reviewops.current_policy(reviewops.Store.open(demo_db["db"])).setting("resolved_bonus_fen") / 100
    agent_of = ev.drop_duplicates("case_id").set_index("case_id")["actor"].to_dict()
    cs["agent"] = cs["id"].map(agent_of)
    for c in ("fc", "due", "res"):
        cs[c] = _ts(cs[c])
    t0, t1 = pd.Timestamp(T0), pd.Timestamp(T1)
    handled = cs[cs["fc"].notna() & (cs["fc"] >= t0) & (cs["fc"] < t1) & cs["agent"].notna()]
    res = cs[cs["res"].notna() & (cs["res"] >= t0) & (cs["res"] < t1) & cs["agent"].notna()]
    perf = _csv(tables / "客服绩效.csv").set_index("客服账号")
    ledger = _csv(tables / "激励台账.csv").set_index("客服账号")
    expected_agents = set(handled["agent"]) | set(res["agent"])
    assert {"xiaowang", "pb_agent2"} <= expected_agents
    assert expected_agents <= set(perf.index)
    sv["at"] = _ts(sv["at"])
    sv = sv[(sv["at"] >= t0) & (sv["at"] < t1)]
    for agent in expected_agents:
        h = handled[handled["agent"] == agent]
        r = res[res["agent"] == agent]
        sat = int(r["sat"].fillna(0).astype(int).sum())
        assert int(perf.loc[agent, "接手案件"]) == len(h), agent
        assert int(perf.loc[agent, "按时联系"]) == int((h["fc"] <= h["due"]).sum()), agent
        assert int(perf.loc[agent, "已解决"]) == len(r), agent
        assert int(perf.loc[agent, "客户确认满意"]) == sat, agent
        scores = sv[sv["case_id"].isin(set(cs[cs["agent"] == agent]["id"]))]["score"]
        assert int(perf.loc[agent, "满意度答卷数"]) == len(scores), agent
        if len(scores):
            assert float(perf.loc[agent, "满意度（4–5分占比×100）"]) == pytest.approx((scores >= 4).mean() * 100, abs=0.05)
        else:
            assert perf.loc[agent, "满意度（4–5分占比×100）"] == "无数据"
        assert float(ledger.loc[agent, "满意奖金（元）"]) == pytest.approx(bonus_yuan * sat), agent
        assert "改评奖金（元，合规风险）" not in ledger.columns  # pay_per_revision is off in the demo
    training = _csv(tables / "培训考核.csv")
    emo = training[(training["客服账号"] == "xiaowang") & (training["培训模块"] == "情绪管理")].iloc[0]
    assert emo["结果"] in ("未达标", "达标") and int(emo["样本数"]) >= 2
    html = "\n".join(str(o.get("data", {}).get("text/html", "")) for c in nb.cells for o in c.get("outputs", []))
    assert "客服绩效" in "\n".join(str(o.get("data", {}).get("text/markdown", "")) for c in nb.cells
                                   for o in c.get("outputs", [])) and "<table" in html


def test_customer_value_tables_match_an_independent_count(demo_db, tmp_path, monkeypatch) -> None:
    _, tables = _run("customer_value", demo_db, tmp_path, monkeypatch, start=P_START, end=P_END)
    assert sorted(p.name for p in tables.iterdir()) == sorted(f"{n}.csv" for n in ("复购对比", "挽回效果", "改评转化", "NPS", "推荐大使"))
    engine = sa.create_engine(f"sqlite:///{demo_db['db']}")
    with engine.connect() as conn:
        # the customer of a case: the review's nick, else the reviewed order's buyer (JD masks review nicks);
        # the buyer of an order: the order's, else whoever reviewed it (Douyin/PDD orders name no buyer)
        cs = _frame(conn, "SELECT c.id, c.resolved_at, COALESCE(r.customer_id, o.customer_id) FROM cases c "
                          "JOIN reviews r ON r.id = c.review_pk "
                          "LEFT JOIN orders o ON o.shop_id = r.shop_id AND o.order_id = r.order_id",
                    ["id", "res", "customer_id"])
        od = _frame(conn, "SELECT COALESCE(o.customer_id, (SELECT min(r.customer_id) FROM reviews r WHERE "
                          "r.shop_id = o.shop_id AND r.order_id = o.order_id)) AS cid, o.created_at, o.paid_fen "
                          "FROM orders o WHERE o.paid_fen > 0 AND o.created_at IS NOT NULL",
                    ["customer_id", "at", "paid_fen"])
        od = od[od["customer_id"].notna()]
        nps = _frame(conn, "SELECT score, answered_at FROM surveys WHERE kind = 'nps'", ["score", "at"])
    window = pd.Timedelta(days=90)  # the default policy's repurchase_window_days
    cs["res"], od["at"], nps["at"] = _ts(cs["res"]), _ts(od["at"]), _ts(nps["at"])
    t0, t1 = pd.Timestamp(T0), pd.Timestamp(T1)
    res = cs[cs["res"].notna() & (cs["res"] >= t0) & (cs["res"] < t1) & cs["customer_id"].notna()]
    ref_h = res.groupby("customer_id")["res"].min()
    ever = set(cs["customer_id"].dropna())
    inp = od[(od["at"] >= t0) & (od["at"] < t1) & ~od["customer_id"].isin(ever)]
    ref_b = inp.groupby("customer_id")["at"].min()

    def repurchased(refs: pd.Series) -> int:
        n = 0
        for cust, ref in refs.items():
            o = od[od["customer_id"] == cust]["at"]
            n += bool(((o > ref) & (o <= ref + window)).any())
        return n

    rep = _csv(tables / "复购对比.csv").set_index("店铺")
    total = rep.loc["合计 total"]
    assert int(total["处理客户数"]) == len(ref_h) and len(ref_h) >= 1
    assert int(total["处理客户复购数"]) == repurchased(ref_h)
    assert int(total["基线客户数"]) == len(ref_b) and len(ref_b) > 0
    assert int(total["基线复购数"]) == repurchased(ref_b)
    assert total["基线复购率"] == f"{repurchased(ref_b) / len(ref_b):.1%}"
    if len(ref_h) < 10:
        assert total["备注"] == "样本不足"
    n = nps[(nps["at"] >= t0) & (nps["at"] < t1)]["score"]
    all_row = _csv(tables / "NPS.csv").set_index("客户分组").loc["全部"]
    assert int(all_row["答卷数"]) == len(n)
    # a leading '-' is escaped as text in the CSV (S-01)
    assert float(all_row["NPS（分）"].lstrip("'")) == pytest.approx(((n >= 9).mean() - (n <= 6).mean()) * 100, abs=0.05)
    conv = _csv(tables / "改评转化.csv").iloc[0]
    assert int(conv["已解决案件"]) == int((cs["res"].notna() & (cs["res"] >= t0) & (cs["res"] < t1)).sum())
    assert conv["剧本示例"] == "78.0%"


@pytest.mark.parametrize("name", ["staff_scorecard", "customer_value"])
def test_a_bad_date_fails_clearly(name, demo_db, tmp_path) -> None:
    out = tmp_path / "broken.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as err:
        pm.execute_notebook(str(PLAYBOOKS / f"{name}.ipynb"), str(out), kernel_name="python3", cwd=str(tmp_path),
                            progress_bar=False, parameters={"db": demo_db["db"], "start": "2026-02-30"})
    assert err.value.ename == "ConfigError", (err.value.ename, err.value.evalue)
    assert "2026-02-30" in err.value.evalue and "YYYY-MM-DD" in err.value.evalue
    assert out.exists()
