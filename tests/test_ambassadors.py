"""Review ambassadors (推荐大使 / 好评大使, SPEC V3, issue 20): candidates, the guard on invitation and reward
texts, consent before anything is sent, opt-out, referral matching from imported orders, the rewards ledger
(each reward once, the threshold gift once under concurrency on both backends), results."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import threading
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from reviewops import check_message, import_file
from reviewops.core import store as stmod
from reviewops.core.errors import AccessDenied, ComplianceBlocked, ConfigError
from reviewops.handling import ambassadors as amb
from reviewops.intake.surveys import record_survey
from wb_fixtures import make_case, make_users

CN = ZoneInfo("Asia/Shanghai")
ORDER_HEADER = ["订单编号", "买家会员名", "买家应付货款", "买家实际支付金额", "订单状态", "买家留言", "订单创建时间", "宝贝标题",
                "宝贝总数量"]
_seq = itertools.count(1)


def O(n) -> str:
    """A Taobao-shaped order id (14 digits) for test order ``n``."""
    return f"28419999{int(n):06d}"
BAD_TEXT = "亲，推荐好友下单送您50元优惠券，记得把评价改成好评哦"  # ties the reward to a review


def _resolve(store, case_id, *, days_ago=30, satisfied=True):
    at = stmod.utcnow() - dt.timedelta(days=days_ago)
    with store.write() as conn:
        conn.execute(stmod.cases.update().where(stmod.cases.c.id == case_id).values(
            state="resolved", resolved_at=at, satisfied=satisfied))


def _shop_id(store, case_id):
    with store.read() as conn:
        return conn.execute(sa.select(stmod.cases.c.shop_id).where(stmod.cases.c.id == case_id)).scalar_one()


def _active(store, tmp_path, u, *, customer="cust1", consent_days_ago=10):
    """A resolved satisfied case → proposed by a1, approved by s1, consent recorded; (ambassador id, code)."""
    cid = make_case(store, tmp_path, customer=customer)
    _resolve(store, cid)
    aid = amb.propose_invitation(store, u["a1"], cid)
    amb.approve_invitation(store, u["s1"], aid)
    code = amb.record_consent(store, u["a1"], aid, channel="chat",
                              consent_at=stmod.utcnow() - dt.timedelta(days=consent_days_ago))
    return aid, code


def _orders_csv(tmp_path, rows):
    """rows: (order id, nick, paid yuan, status, buyer note, days ago)."""
    path = tmp_path / f"orders{next(_seq)}.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(ORDER_HEADER)
        for oid, nick, paid, status, note, days in rows:
            at = (dt.datetime.now(CN) - dt.timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")
            w.writerow([O(oid), nick, paid, paid, status, note, at, "外套", "1"])
    return path


def _import(store, path):
    return import_file(store, path, platform="taobao", kind="orders", shop="测试店")


# ------------------------------------------------------------------ candidates
def test_candidates_need_satisfaction_cooling_off_and_no_malicious_signal(sqlite_store, tmp_path):
    s = sqlite_store
    ok = make_case(s, tmp_path, customer="c-ok")
    _resolve(s, ok)
    fresh = make_case(s, tmp_path, customer="c-fresh")
    _resolve(s, fresh, days_ago=3)
    unhappy = make_case(s, tmp_path, customer="c-unhappy")
    _resolve(s, unhappy, satisfied=False)
    by_survey = make_case(s, tmp_path, customer="c-csat")
    _resolve(s, by_survey, satisfied=None)
    record_survey(s, shop_id=_shop_id(s, by_survey), survey_key="q1", kind="csat", score=5,
                  answered_at=stmod.utcnow() - dt.timedelta(days=20), case_id=by_survey)
    low_survey = make_case(s, tmp_path, customer="c-lowcsat")
    _resolve(s, low_survey, satisfied=None)
    record_survey(s, shop_id=_shop_id(s, low_survey), survey_key="q2", kind="csat", score=3,
                  answered_at=stmod.utcnow() - dt.timedelta(days=20), case_id=low_survey)
    bad = make_case(s, tmp_path, customer="c-bad")
    _resolve(s, bad)
    with s.write() as conn:
        now = stmod.utcnow()
        conn.execute(stmod.case_signals.insert().values(case_id=bad, signal_key="chat:1", kind="extortion_chat",
                                                        score=0.9, reasons="索要好处", pointers="{}", detected_at=now,
                                                        updated_at=now, status="open"))
    df = amb.candidates(s)
    assert sorted(df["case_id"]) == sorted([ok, by_survey])
    row = df[df["case_id"] == by_survey].iloc[0]
    assert "满意度评分 5/5" in row["reasons"] and "无恶意评价信号" in row["reasons"]
    assert "结案时客户确认满意" in df[df["case_id"] == ok].iloc[0]["reasons"]
    everyone = amb.candidates(s, include_ineligible=True).set_index("case_id")
    assert "冷静期未满" in everyone.loc[fresh, "reasons"]
    assert "恶意评价信号" in everyone.loc[bad, "reasons"]
    assert unhappy not in everyone.index and low_survey not in everyone.index
    u = make_users(s)
    with pytest.raises(ConfigError, match="冷静期未满"):
        amb.propose_invitation(s, u["a1"], fresh)


def test_an_empty_store_has_empty_results(sqlite_store):
    s = sqlite_store
    assert amb.candidates(s).empty and amb.candidates(s, include_ineligible=True).empty
    assert amb.results(s).empty and amb.shop_results(s).empty and amb.rewards(s).empty and amb.referrals(s).empty
    assert "shop_id" in amb.candidates(s).columns
    with s.read() as conn:
        assert amb.reward_costs(conn, stmod.utcnow() - dt.timedelta(days=7), stmod.utcnow())["total"] == 0


# ------------------------------------------------------------------ the guard
def test_guard_blocks_reward_for_review_in_template_and_operator_edit(sqlite_store, tmp_path):
    s = sqlite_store
    u = make_users(s)
    cid = make_case(s, tmp_path)
    _resolve(s, cid)
    # the operator's edit of the invitation
    with pytest.raises(ComplianceBlocked, match="评价"):
        amb.propose_invitation(s, u["a1"], cid, text=BAD_TEXT)
    aid = amb.propose_invitation(s, u["a1"], cid)
    # the supervisor's edit at approval
    with pytest.raises(ComplianceBlocked):
        amb.approve_invitation(s, u["s1"], aid, text="推荐好友下单送50元券，给个五星好评再送礼品")
    # the programme's templates (invitation and reward notice)
    with pytest.raises(ComplianceBlocked, match="invite_template"):
        amb.save_programme(s, u["s1"], invite_template=BAD_TEXT)
    with pytest.raises(ComplianceBlocked, match="reward_template"):
        amb.save_programme(s, u["s1"], reward_template="{customer}您好，好评返现{reward}已发放")
    assert amb.programme(s) == amb.DEFAULT_PROGRAMME
    # the one guard itself blocks the classic wording; the programme rule blocks any review word
    assert amb.check_programme_text("好评返现，推荐好友得红包", platform="taobao")
    assert amb.check_programme_text("每推荐一位好友送50元券，记得给我们好评", platform="taobao")
    assert amb.check_programme_text(amb.DEFAULT_PROGRAMME.invite_template, platform="taobao") == []
    with pytest.raises(AccessDenied):
        amb.save_programme(s, u["a1"], cooling_off_days=7)
    assert amb.save_programme(s, u["s1"], cooling_off_days=7).cooling_off_days == 7


# ------------------------------------------------------------------ consent and opt-out
def test_nothing_but_the_invitation_is_sent_without_consent(sqlite_store, tmp_path):
    s = sqlite_store
    u = make_users(s)
    cid = make_case(s, tmp_path)
    _resolve(s, cid)
    aid = amb.propose_invitation(s, u["a1"], cid)
    with pytest.raises(AccessDenied):
        amb.approve_invitation(s, u["a2"], aid)  # an agent may not approve
    msg = amb.approve_invitation(s, u["s1"], aid)
    # a message other than the invitation, queued before consent (e.g. by hand), cannot be sent
    with s.write() as conn:
        early = amb._queue(conn, aid, "code", "{customer}您好，推荐码 TJ2345AB", "a1", stmod.utcnow())
    with pytest.raises(amb.ConsentRequired, match="尚未同意"):
        amb.mark_sent(s, u["a1"], early, channel="chat")
    with pytest.raises(amb.ConsentRequired):
        amb.set_coupon_code(s, u["a1"], aid, "SHOP2026")
    amb.mark_sent(s, u["a1"], msg, channel="chat")  # the invitation itself may go
    code = amb.record_consent(s, u["a1"], aid, channel="chat")
    assert amb.CODE_RE.fullmatch(code)
    row = amb.results(s).iloc[0]
    assert row["consented"] and row["referral_code"] == code
    pending = amb.messages(s, aid, state="pending")
    assert list(pending["kind"]) == ["code", "code"]
    amb.mark_sent(s, u["a1"], int(pending[pending["id"] != early]["id"].iloc[0]), channel="chat")


def test_opting_out_stops_pending_messages_and_rewards(sqlite_store, tmp_path):
    s = sqlite_store
    u = make_users(s)
    aid, code = _active(s, tmp_path, u)
    _import(s, _orders_csv(tmp_path, [("9001", "朋友甲", "120.00", "交易成功", f"推荐码{code}", 2)]))
    amb.recognise_referrals(s, u["a1"])
    coupon = amb.rewards(s)
    assert list(coupon["state"]) == ["approved"]
    out = amb.opt_out(s, u["a1"], aid, channel="sms", at=stmod.utcnow() - dt.timedelta(days=1))
    assert out == {"messages": 2, "rewards": 1}  # the unsent invitation and code message, the undelivered coupon
    msgs = amb.messages(s, aid)
    assert "pending" not in set(msgs["state"])
    assert set(msgs[msgs["kind"] == "code"]["state"]) == {"cancelled"}
    with pytest.raises(amb.ConsentRequired):
        amb.mark_sent(s, u["a1"], int(msgs["id"].iloc[-1]), channel="chat")
    with pytest.raises(amb.ConsentRequired):
        amb.deliver_reward(s, u["a1"], int(coupon["id"].iloc[0]))
    # later orders with the code no longer count, and nothing new is issued
    _import(s, _orders_csv(tmp_path, [("9002", "朋友乙", "80.00", "交易成功", f"{code}", 0)]))
    amb.recognise_referrals(s, u["a1"])
    refs = amb.referrals(s).set_index("order_id")
    assert refs.loc[O(9002), "status"] == "excluded" and "退出" in refs.loc[O(9002), "excluded_reason"]
    assert set(amb.rewards(s)["state"]) == {"cancelled"}


# ------------------------------------------------------------------ referral matching
def test_same_order_imported_twice_counts_once_and_refunds_cancellations_are_excluded(sqlite_store, tmp_path):
    s = sqlite_store
    u = make_users(s)
    _aid, code = _active(s, tmp_path, u)
    rows = [("8001", "朋友甲", "100.00", "交易成功", f"朋友推荐 {code.lower()}", 3),  # lower case still matches
            ("8002", "朋友乙", "60.00", "交易关闭", f"{code}", 3),
            ("8003", "朋友丙", "90.00", "交易成功", "", 3),  # no code
            ("8004", "朋友丁", "50.00", "交易成功", f"{code}", 10.5),  # half a day before consent
            ("8005", "朋友戊", "70.00", "卖家已发货", f"{code}", 2)]
    path = _orders_csv(tmp_path, rows)
    _import(s, path)
    r1 = amb.recognise_referrals(s, u["a1"])
    _import(s, path)  # the same export again
    _import(s, _orders_csv(tmp_path, [rows[0]]))  # and a new file carrying the same order
    r2 = amb.recognise_referrals(s, u["a1"])
    refs = amb.referrals(s).set_index("order_id")
    assert (r1.new, r1.counted, r1.excluded) == (4, 2, 2)
    assert (r2.new, r2.changed, r2.counted) == (0, 0, 2)
    assert sorted(refs.index) == [O(8001), O(8002), O(8004), O(8005)]
    assert "取消或关闭" in refs.loc[O(8002), "excluded_reason"] and "早于" in refs.loc[O(8004), "excluded_reason"]
    rw = amb.rewards(s)
    assert sorted(rw["reward_key"]) == ["coupon:" + O(8001), "coupon:" + O(8005)] and set(rw["amount_fen"]) == {5000}
    # 8005 is fully refunded later (the 退款金额 of a later export): excluded, its coupon cancelled
    with s.write() as conn:
        conn.execute(stmod.orders.update().where(stmod.orders.c.order_id == O(8005)).values(refund_fen=7000))
    r3 = amb.recognise_referrals(s, u["a1"])
    assert (r3.changed, r3.counted, r3.rewards_cancelled) == (1, 1, 1)
    assert "全额退款" in amb.referrals(s).set_index("order_id").loc[O(8005), "excluded_reason"]
    res = amb.results(s).iloc[0]
    assert (res["referred_orders"], res["revenue_fen"], res["cost_fen"]) == (1, 10000, 5000)
    assert res["roi"] == pytest.approx(2.0)


def test_self_referral_and_coupon_code_in_seller_memo(sqlite_store, tmp_path):
    s = sqlite_store
    u = make_users(s)
    aid, code = _active(s, tmp_path, u)
    amb.set_coupon_code(s, u["a1"], aid, "dashi-zhang")
    _import(s, _orders_csv(tmp_path, [("7001", "朋友甲", "100.00", "交易成功", "用了券 DASHI-ZHANG", 1)]))
    amb.recognise_referrals(s, u["a1"])
    refs = amb.referrals(s).set_index("order_id")
    assert refs.loc[O(7001), "matched_by"] == "coupon_code" and refs.loc[O(7001), "status"] == "counted"
    # the ambassador's own order with their own code does not count
    with s.write() as conn:
        cust = conn.execute(sa.select(stmod.ambassadors.c.customer_id)).scalar_one()
        sid = conn.execute(sa.select(stmod.ambassadors.c.shop_id)).scalar_one()
        conn.execute(stmod.orders.insert().values(shop_id=sid, order_id=O(7002), customer_id=cust, paid_fen=5000,
                                                  created_at=stmod.utcnow(), status_raw="交易成功", seller_memo=code))
    amb.recognise_referrals(s, u["a1"])
    assert amb.referrals(s).set_index("order_id").loc[O(7002), "excluded_reason"] == "推荐人本人的订单"


# ------------------------------------------------------------------ rewards ledger
def test_threshold_gift_exactly_once_under_concurrency(store, tmp_path):
    s = store
    u = make_users(s)
    _aid, code = _active(s, tmp_path, u)
    _import(s, _orders_csv(tmp_path, [(str(6000 + i), f"朋友{i}", "100.00", "交易成功", f"推荐码 {code}", 2)
                                      for i in range(4)]))
    n = 4
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run():
        try:
            barrier.wait()
            amb.recognise_referrals(s, u["a1"])
        except BaseException as e:  # noqa: BLE001 — reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    rw = amb.rewards(s)
    assert list(rw["kind"]).count("threshold_gift") == 1
    assert sorted(rw[rw["kind"] == "referral_coupon"]["reward_key"]) == ["coupon:" + O(6000 + i) for i in range(4)]
    assert len(amb.referrals(s)) == 4
    # the database itself refuses a second gift
    with pytest.raises(sa.exc.IntegrityError), s.write() as conn:
        row = dict(conn.execute(sa.select(stmod.ambassador_rewards).where(
            stmod.ambassador_rewards.c.kind == "threshold_gift")).mappings().one())
        row.pop("id")
        conn.execute(stmod.ambassador_rewards.insert().values(**row))


def test_rewards_above_the_agents_limit_wait_for_approval(sqlite_store, tmp_path):
    s = sqlite_store
    u = make_users(s)
    amb.save_programme(s, u["s1"], referral_coupon_fen=20000, gift_fen=0)  # 200 yuan a referral
    aid, code = _active(s, tmp_path, u)
    _import(s, _orders_csv(tmp_path, [("5001", "朋友甲", "300.00", "交易成功", code, 1),
                                      ("5002", "朋友乙", "300.00", "交易成功", code, 1)]))
    amb.recognise_referrals(s, u["a1"])
    rw = amb.rewards(s).set_index("reward_key")
    # the agent's case limit is 310 yuan: the first 200 fits, the second (400 cumulative) waits for a supervisor
    assert rw.loc["coupon:" + O(5001), "state"] == "approved" and rw.loc["coupon:" + O(5002), "state"] == "pending"
    assert rw.loc["coupon:" + O(5002), "needed_role"] == "supervisor"
    pid = int(rw.loc["coupon:" + O(5002), "id"])
    with pytest.raises(AccessDenied):
        amb.approve_reward(s, u["a1"], pid)  # the requester
    with pytest.raises(AccessDenied):
        amb.approve_reward(s, u["a2"], pid)  # another agent: above the limit
    amb.approve_reward(s, u["s1"], pid)
    mid = amb.deliver_reward(s, u["a1"], pid)
    text = amb.messages(s, aid).set_index("id").loc[mid, "text"]
    assert "200元推荐优惠券" in text and not amb.check_programme_text(text, platform="taobao")
    with s.read() as conn:
        costs = amb.reward_costs(conn, stmod.utcnow() - dt.timedelta(days=7), stmod.utcnow() + dt.timedelta(seconds=1))
    assert costs["referral_coupon"] == 40000 and costs["total"] == 40000
    assert costs["referred_orders"] == 2 and costs["referred_revenue_fen"] == 60000
    shop = amb.shop_results(s).iloc[0]
    assert (shop["invitations"], shop["consents"], shop["referred_orders"], shop["cost_fen"]) == (1, 1, 2, 40000)


def test_costs_in_the_report_figures_and_dashboard_table(sqlite_store, tmp_path):
    from reviewops.reporting.dashboard import ambassador_table, figures_summary
    from reviewops.reporting.reports import report_figures

    s = sqlite_store
    u = make_users(s)
    _aid, code = _active(s, tmp_path, u)
    _import(s, _orders_csv(tmp_path, [(str(4000 + i), f"朋友{i}", "80.00", "交易成功", code, 1) for i in range(3)]))
    amb.recognise_referrals(s, u["a1"])
    now = stmod.utcnow()
    fig = report_figures(s, now - dt.timedelta(days=7), now + dt.timedelta(minutes=1))
    # independent count: 3 coupons of 50 yuan and one gift of 50 yuan; 3 orders of 80 yuan
    assert fig.ambassadors == {"referral_coupon": 15000, "threshold_gift": 5000, "total": 20000,
                               "referred_orders": 3, "referred_revenue_fen": 24000}
    assert figures_summary(fig)["ambassador_cost_fen"] == 20000
    table = dict(ambassador_table(fig.ambassadors).values.tolist())
    assert table["奖励成本合计"] == "200.00 元" and table["每 1 元奖励带来的收入"] == "1.20"
    empty = report_figures(s, now - dt.timedelta(days=30), now - dt.timedelta(days=20))
    assert empty.ambassadors["total"] == 0
    assert dict(ambassador_table(empty.ambassadors).values.tolist())["每 1 元奖励带来的收入"] == "—"


def test_cli_walks_the_programme(sqlite_store, sqlite_db_url, tmp_path, monkeypatch, capsys):
    import json

    from reviewops.cli import main
    from reviewops.core.users import issue_token

    s = sqlite_store
    make_users(s)
    cid = make_case(s, tmp_path)
    _resolve(s, cid)
    tokens = {n: issue_token(s, n, actor="test") for n in ("a1", "s1")}

    def run(who, *args):
        monkeypatch.setenv("REVIEWOPS_TOKEN", tokens[who]) if who else monkeypatch.delenv("REVIEWOPS_TOKEN", raising=False)
        capsys.readouterr()
        code = main(["ambassadors", *args, "--db", sqlite_db_url, "--json"])
        out = capsys.readouterr()
        return code, (json.loads(out.out) if code == 0 else out.err)

    code, rows = run(None, "candidates")
    assert code == 0 and [r["case_id"] for r in rows] == [cid]
    code, err = run(None, "invite", str(cid))
    assert code == 2 and "REVIEWOPS_TOKEN" in err
    code, err = run("a1", "invite", str(cid), "--text", BAD_TEXT)
    assert code == 2 and "评价" in err
    code, out = run("a1", "invite", str(cid))
    aid = out["ambassador_id"]
    assert run("a1", "invite", str(aid), "--approve")[0] == 2  # an agent may not approve
    assert run("s1", "invite", str(aid), "--approve")[0] == 0
    yesterday = (dt.datetime.now(CN) - dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    code, out = run("a1", "consent", str(aid), "--channel", "chat", "--at", yesterday)
    assert code == 0 and amb.CODE_RE.fullmatch(out["referral_code"])
    _import(s, _orders_csv(tmp_path, [("3001", "朋友甲", "100.00", "交易成功", out["referral_code"], 0)]))
    code, refs = run("a1", "referrals", "--scan")
    assert code == 0 and [(r["order_id"], r["status"]) for r in refs] == [(O(3001), "counted")]
    code, rw = run(None, "rewards")
    assert [(r["kind"], r["amount_fen"], r["state"]) for r in rw] == [("referral_coupon", 5000, "approved")]
    code, summary = run(None, "rewards", "--summary")
    assert (summary[0]["referred_orders"], summary[0]["cost_fen"], summary[0]["roi"]) == (1, 5000, 2.0)
    code, out = run("a1", "optout", str(aid), "--channel", "phone")
    assert out["cancelled"] == {"messages": 2, "rewards": 1}


def test_playbook_runs_and_matches_an_independent_count(sqlite_store, sqlite_db_url, tmp_path):
    import sqlite3

    import pandas as pd

    pm = pytest.importorskip("papermill")
    from reviewops.runner import playbooks_dir

    s = sqlite_store
    u = make_users(s)
    aid, code = _active(s, tmp_path, u, customer="c1")
    aid2, code2 = _active(s, tmp_path, u, customer="c2")
    waiting = make_case(s, tmp_path, customer="c3")  # a candidate not yet invited
    _resolve(s, waiting)
    _import(s, _orders_csv(tmp_path, [("2001", "甲", "100.00", "交易成功", code, 1), ("2002", "乙", "55.50", "交易成功", code, 1),
                                      ("2003", "丙", "80.00", "交易成功", code, 1), ("2004", "丁", "60.00", "交易关闭", code, 1),
                                      ("2005", "戊", "42.00", "交易成功", code2, 1)]))
    amb.recognise_referrals(s, u["a1"])
    nb = playbooks_dir() / "ambassadors.ipynb"
    params = pm.inspect_notebook(str(nb))
    assert {k: p["inferred_type_name"] for k, p in params.items()} == {"db": "str", "shops": "str", "output_dir": "str"}
    out = tmp_path / "tables"
    pm.execute_notebook(str(nb), str(tmp_path / "o.ipynb"), kernel_name="python3", cwd=str(tmp_path),
                        parameters={"db": sqlite_db_url, "output_dir": str(out)}, progress_bar=False)
    read = lambda name: pd.read_csv(out / f"{name}.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    per, shop, cand, ledger = read("推荐大使"), read("店铺汇总"), read("候选人"), read("奖励台账")
    # the independent count: straight SQL on the file
    con = sqlite3.connect(sqlite_db_url.removeprefix("sqlite:///"))
    want = {}
    for a in (aid, aid2):
        orders, revenue = con.execute(
            "SELECT count(*), coalesce(sum(o.paid_fen - coalesce(o.refund_fen, 0)), 0) FROM orders o JOIN ambassadors a "
            "ON a.shop_id = o.shop_id WHERE a.id = ? AND (o.buyer_message LIKE '%' || a.referral_code || '%') "
            "AND o.status_raw NOT LIKE '%关闭%'", (a,)).fetchone()
        cost = con.execute("SELECT coalesce(sum(amount_fen), 0) FROM ambassador_rewards WHERE ambassador_id = ? "
                           "AND state IN ('approved', 'delivered')", (a,)).fetchone()[0]
        want[str(a)] = (str(orders), f"{revenue / 100:g}", f"{cost / 100:g}")
    con.close()
    assert want[str(aid)] == ("3", "235.5", "200")  # 3 coupons of 50 + the gift at 3 orders (50)
    got = {r["推荐大使编号"]: (r["推荐订单"], r["推荐收入（元）"], r["奖励成本（元）"]) for _, r in per.iterrows()}
    assert got == want
    row = shop.iloc[0]
    assert (row["邀请"], row["同意"], row["推荐订单"], row["奖励成本（元）"]) == ("2", "2", "4", "250")
    assert row["收入/成本"] == f"{(23550 + 4200) / 25000:.2f}"
    status = dict(zip(cand["案件"], cand["状态"]))
    assert status.pop(str(waiting)) == "可邀请" and set(status.values()) == {"已同意（推荐大使）"}
    assert all("结案时客户确认满意" in r for r in cand["原因"])
    assert sorted(ledger["类型"]) == ["推荐优惠券"] * 4 + ["推荐满额礼品"]
    # the customer_value playbook shows the same per-shop figures
    out2 = tmp_path / "cv"
    pm.execute_notebook(str(playbooks_dir() / "customer_value.ipynb"), str(tmp_path / "cv.ipynb"), kernel_name="python3",
                        cwd=str(tmp_path), parameters={"db": sqlite_db_url, "output_dir": str(out2)}, progress_bar=False)
    cv = pd.read_csv(out2 / "推荐大使.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False).iloc[0]
    assert (cv["邀请"], cv["同意"], cv["推荐订单"], cv["推荐收入（元）"], cv["奖励成本（元）"]) == (
        "2", "2", "4", f"{(23550 + 4200) / 100:g}", "250")


def _walk(w):
    yield w
    for c in getattr(w, "children", ()) or ():
        yield from _walk(c)


def test_the_supervisor_form_and_every_class_is_documented(sqlite_store, tmp_path):
    import re
    from pathlib import Path

    widgets = pytest.importorskip("ipywidgets")
    from reviewops.core.users import get_actor, set_active
    from reviewops.handling.workbench import Workbench
    from reviewops_widgets.ambassadors import build_ambassadors

    s = sqlite_store
    u = make_users(s)
    cid = make_case(s, tmp_path)
    _resolve(s, cid)
    agent = build_ambassadors(Workbench(s, u["a1"]))
    assert agent.status.kind == "ok" and list(agent.candidates_df["case_id"]) == [cid]
    assert "结案时客户确认满意" in agent.candidates.value
    agent.case.value = cid
    agent.text.value = BAD_TEXT
    agent.propose.click()
    assert agent.status.kind == "error" and "评价" in agent.status.text and agent.results_df.empty
    agent.text.value = ""
    agent.propose.click()
    assert agent.status.kind == "ok", agent.status.text
    aid = int(agent.ambassador.value)
    agent.approve.click()  # an agent may not approve
    assert agent.status.kind == "error"
    sup = build_ambassadors(Workbench(s, get_actor(s, "s1")))
    sup.ambassador.value = aid
    sup.consent.click()  # not yet approved: no consent before the invitation
    assert sup.status.kind == "error"
    sup.approve.click()
    assert sup.status.kind == "ok" and "待发送" in sup.status.text
    sup.channel.value = "phone"
    sup.consent.click()
    assert sup.status.kind == "ok" and "推荐码 TJ" in sup.status.text
    assert sup.results_df.iloc[0]["state"] == "active" and "已同意" in sup.listing.value
    sup.optout.click()
    assert sup.status.kind == "ok" and "已退出" in sup.status.text
    assert sup.results_df.iloc[0]["state"] == "opted_out" and amb.messages(s, aid, state="pending").empty
    set_active(s, "s1", False, actor="test")
    sup.refresh_button.click()
    assert sup.status.kind == "error" and sup.results_df is not None
    # every class of the form is documented (docs/forms.md), every actionable widget has one
    doc = (Path(__file__).resolve().parents[1] / "docs" / "forms.md").read_text(encoding="utf-8")
    actionable = (widgets.Button, widgets.Dropdown, widgets.IntText, widgets.Textarea)
    for w in _walk(agent.root):
        ro = [c for c in w._dom_classes if c.startswith("ro-")]
        assert ro or not isinstance(w, actionable), w
        for c in ro:
            assert f"`{re.sub(r'-[0-9]+$', '', c)}`" in doc or c in ("ro-form", "ro-section", "ro-sticky"), c


# ------------------------------------------------------------------ the programme is policy data
def test_the_default_policy_carries_the_default_programme():
    from reviewops.core.policy import default_policy

    assert amb.programme_of(default_policy()) == amb.DEFAULT_PROGRAMME
    p = default_policy()
    assert (p.setting("ambassador_coupon_fen"), p.setting("ambassador_gift_after"), p.setting("ambassador_gift_fen"),
            p.setting("ambassador_cooling_days"), p.setting("ambassador_csat_min"), p.setting("ambassador_nps_min")
            ) == (5000, 3, 5000, 14, 4, 9)


def _policy_with(**edits):
    """The default policy's JSON with ambassador settings (key → cell text) and templates (kind → text) changed."""
    import json

    from reviewops.core.policy import Policy, default_policy

    data = json.loads(default_policy().to_json())
    for r in data["tables"]["settings"]:
        if r["key"] in edits:
            r["value"] = edits[r["key"]]
    for r in data["tables"]["templates"]:
        if r["kind"] in edits:
            r["text"] = edits[r["kind"]]
    return Policy.from_json(json.dumps(data, ensure_ascii=False))


def test_policy_load_refuses_an_ambassador_template_tying_the_reward_to_a_review():
    from reviewops.core.errors import PolicyInvalid

    with pytest.raises(PolicyInvalid, match="不得提及评价"):  # any review word, even without a condition
        _policy_with(ambassador_invite="{customer}您好，推荐好友下单送{coupon}元券，欢迎评价")
    with pytest.raises(PolicyInvalid, match="违规诱导"):  # the compliance floor on the reward notice
        _policy_with(ambassador_reward="{customer}您好，好评返现{reward}已发放")
    with pytest.raises(PolicyInvalid, match="占位符"):
        _policy_with(ambassador_code="您的推荐码 {order_id}")
    with pytest.raises(PolicyInvalid, match="ambassador_csat_min"):
        _policy_with(ambassador_csat_min="6")
    ok = _policy_with(ambassador_coupon_fen="30", ambassador_gift_after="5", ambassador_code="推荐码 {code}，{shop}")
    prog = amb.programme_of(ok)
    assert (prog.referral_coupon_fen, prog.gift_threshold, prog.code_template) == (3000, 5, "推荐码 {code}，{shop}")


def test_programme_round_trips_through_the_policy_workbook(tmp_path):
    from reviewops.core.policy import export_policy, import_policy

    p = _policy_with(ambassador_gift_fen="88.5", ambassador_cooling_days="21",
                     ambassador_reward="{customer}您好，{reward}已发放，谢谢您推荐{shop}！")
    back = import_policy(export_policy(p, tmp_path / "policy.xlsx"))
    assert back.sha256 == p.sha256
    prog = amb.programme_of(back)
    assert (prog.gift_fen, prog.cooling_off_days) == (8850, 21)
    assert prog.reward_template == "{customer}您好，{reward}已发放，谢谢您推荐{shop}！"


def test_old_programme_json_keeps_working_until_the_policy_carries_it(sqlite_store):
    import json

    from reviewops.core.policy import Policy, default_policy, load_policy, save_policy

    s = sqlite_store
    u = make_users(s)
    # a store from before: a policy version without the ambassador rows, and the programme saved as JSON
    data = json.loads(default_policy().to_json())
    data["tables"]["settings"] = [r for r in data["tables"]["settings"] if not r["key"].startswith("ambassador_")]
    data["tables"]["templates"] = [r for r in data["tables"]["templates"] if not r["kind"].startswith("ambassador_")]
    save_policy(s, Policy.from_json(json.dumps(data, ensure_ascii=False)), actor="test")
    with s.write() as conn:
        conn.execute(stmod.settings.insert().values(key=amb.SETTING_KEY, value=json.dumps(
            {"referral_coupon_fen": 2000, "gift_threshold": 2, "invite_template": "{customer}您好，欢迎加入{shop}推荐大使"},
            ensure_ascii=False)))
    prog = amb.programme(s)
    assert (prog.referral_coupon_fen, prog.gift_threshold, prog.gift_fen) == (2000, 2, 5000)
    assert prog.invite_template == "{customer}您好，欢迎加入{shop}推荐大使"
    # saving moves everything into a new policy version; from then on the policy wins over the old row
    before = load_policy(s).version
    saved = amb.save_programme(s, u["s1"], cooling_off_days=10)
    stored = load_policy(s)
    assert stored.version == before + 1
    assert (saved.referral_coupon_fen, saved.gift_threshold, saved.cooling_off_days) == (2000, 2, 10)
    assert stored.setting("ambassador_coupon_fen") == 2000 and stored.setting("ambassador_cooling_days") == 10
    assert stored.template("ambassador_invite") == "{customer}您好，欢迎加入{shop}推荐大使"
    with s.write() as conn:
        conn.execute(stmod.settings.update().where(stmod.settings.c.key == amb.SETTING_KEY).values(
            value=json.dumps({"referral_coupon_fen": 9900})))
    assert amb.programme(s).referral_coupon_fen == 2000
    # a blocked template stores nothing
    with pytest.raises(ComplianceBlocked):
        amb.save_programme(s, u["s1"], code_template="推荐码 {code}，记得五星")
    assert load_policy(s).version == stored.version


def test_weekly_playbook_and_dashboard_show_the_programme_cost(sqlite_store, sqlite_db_url, tmp_path):
    """A small store with one referred order of 80 yuan: the weekly 差评TOP3 playbook's 推荐大使 section and the
    数据看板 form show 1 order, 80 yuan revenue, one 50-yuan coupon, no gift, 50 yuan in all, 1.60 per yuan."""
    import re

    pm = pytest.importorskip("papermill")
    pytest.importorskip("ipywidgets")
    from reviewops.handling.workbench import Workbench
    from reviewops.reporting.dashboard import AMBASSADOR_TITLE
    from reviewops.reporting.reports import iso_week
    from reviewops.runner import playbooks_dir
    from reviewops_widgets import build_dashboard

    s = sqlite_store
    u = make_users(s)
    _aid, code = _active(s, tmp_path, u)
    _import(s, _orders_csv(tmp_path, [("5001", "朋友甲", "80.00", "交易成功", f"朋友推荐 {code}", 0)]))
    amb.recognise_referrals(s, u["a1"])
    want = {"推荐订单（未取消、未全额退款）": "1", "推荐订单收入（实付减退款）": "80.00 元", "推荐优惠券成本": "50.00 元",
            "推荐满额礼品成本": "0.00 元", "奖励成本合计": "50.00 元", "每 1 元奖励带来的收入": "1.60"}
    out = tmp_path / "tables"
    nb = pm.execute_notebook(str(playbooks_dir() / "weekly_top3.ipynb"), str(tmp_path / "o.ipynb"), kernel_name="python3",
                             cwd=str(tmp_path), progress_bar=False,
                             parameters={"week": iso_week(stmod.utcnow()), "db": sqlite_db_url, "output_dir": str(out)})
    texts = ["".join(o.get("data", {}).get("text/html", "") or o.get("data", {}).get("text/markdown", ""))
             for c in nb.cells for o in c.get("outputs", [])]
    assert any(t.startswith(f"## {AMBASSADOR_TITLE}") for t in texts)
    [html] = [t for t in texts if "推荐优惠券成本" in t and "<table" in t]
    for label, value in want.items():
        assert re.search(rf"<td>{re.escape(label)}</td>\s*<td[^>]*>{re.escape(value)}</td>", html), (label, value)
    assert "推荐大使.csv" not in {p.name for p in out.iterdir()}  # XLSX sheet only
    # the dashboard form, today's Beijing date
    form = build_dashboard(Workbench(s, u["s1"]), auto_refresh=False)
    today = dt.datetime.now(CN).date()
    form.start.value, form.end.value = today - dt.timedelta(days=1), today
    form.refresh()
    assert AMBASSADOR_TITLE in form.remedies.value
    for label, value in want.items():
        assert re.search(rf"<td>{re.escape(label)}</td>\s*<td[^>]*>{re.escape(value)}</td>", form.remedies.value), (
            label, value)
    form.close()


def test_every_default_ambassador_template_passes_the_guard_on_every_platform():
    """The default policy's 推荐大使 texts, filled, pass check_programme_text on every platform (the reply
    builder's test of default templates covers the reply kinds only)."""
    from reviewops.core.columns import PLATFORMS
    from reviewops.core.policy import AMBASSADOR_TEMPLATE_KINDS, default_policy

    p = default_policy()
    prog = amb.programme_of(p)
    values = amb._fill_values(prog, customer="张**", shop="禾木优选旗舰店", code="TJ2345AB", reward="50元推荐优惠券")
    kinds = {r["kind"] for r in p.tables["templates"] if r["kind"] in AMBASSADOR_TEMPLATE_KINDS}
    assert kinds == set(AMBASSADOR_TEMPLATE_KINDS)
    for field in amb.POLICY_TEMPLATES:
        text = amb._fill(getattr(prog, field), values)
        assert "{" not in text
        for platform in PLATFORMS:
            assert amb.check_programme_text(text, platform=platform, policy=p) == [], (field, platform)


def test_no_referral_code_trips_the_compliance_guard():
    """A code goes into the 推荐码 message the guard checks: no 3-letter window of the code alphabet may read
    as a review or benefit abbreviation (the old alphabet gave e.g. TJCB5RJV and TJX6RA94, blocked)."""
    import itertools

    from reviewops.core.policy import default_policy
    from reviewops.handling.ambassadors import CODE_GEN_ALPHABET, CODE_RE

    text = next(r["text"] for r in default_policy().tables["templates"] if r["kind"] == "ambassador_code")
    blocked = []
    for a, b, c in itertools.product(CODE_GEN_ALPHABET, repeat=3):
        code = f"TJ2{a}{b}{c}22"
        assert CODE_RE.fullmatch(code)
        msg = text.replace("{customer}", "亲").replace("{shop}", "本店").replace("{code}", code)
        if check_message(msg, platform="taobao"):
            blocked.append(code)
    assert blocked == []
