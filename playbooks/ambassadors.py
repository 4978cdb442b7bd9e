# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 推荐大使（好评大使，V3）：候选人、邀请、推荐订单与奖励
#
# 由 `reviewops.handling.ambassadors` 计算；本笔记本只负责展示。候选人：案件已解决且客户确认满意（或满意度/NPS 达标）、
# 没有恶意评价信号、已过冷静期。奖励只针对**推荐好友下单**（每位好友下单一张推荐优惠券、推荐满额送礼品），**与评价无关**：
# 按《网络交易监督管理办法》，不得以好评、改评为条件给予任何好处。推荐订单来自本店导入的订单（买家留言/商家备注中的推荐码
# 或优惠券码），每单只计一次，已取消或全额退款的订单不计。金额以元显示（库内以分保存）；买家昵称已脱敏。

# %% tags=["parameters"]
db: str = ""  # 数据库 URL；空 表示默认
shops: str = ""  # 店铺编号，逗号分隔；空 表示全部
output_dir: str = ""  # 表格输出目录；空 表示不另存

# %%
import math

import pandas as pd
import reviewops
from IPython.display import HTML, Markdown, display
from reviewops.core.outputs import REPORT_CSS, fmt_time, show_table
from reviewops.core.policy import fen_to_yuan_text
from reviewops.handling.ambassadors import REWARD_KINDS, REWARD_STATE_ZH, candidates, programme, results, rewards
from reviewops.runner import parse_shop_ids, publish_table

shop_ids = parse_shop_ids(shops)
store = reviewops.Store.open(db or None)
prog = programme(store)


def keep(df):
    return df if shop_ids is None or df.empty else df[df["shop_id"].isin(shop_ids)]


def yuan(fen):
    return f"{fen_to_yuan_text(int(fen)) or '0'}"


def roi(x):
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2f}"


def save(name, df):
    publish_table(name, df, output_dir)


display(HTML(REPORT_CSS))
rules = pd.DataFrame({
    "项目": ["冷静期（结案后天数）", "满意度达标（1–5 分）", "NPS 推荐者（0–10 分）", "每位推荐好友下单的优惠券（元）",
           "满额礼品：推荐订单数", "满额礼品成本（元）"],
    "数值": [str(prog.cooling_off_days), f"≥ {prog.csat_mark}", f"≥ {prog.nps_promoter}", yuan(prog.referral_coupon_fen),
           str(prog.gift_threshold), yuan(prog.gift_fen)],
})
display(Markdown("## 方案参数"))
show_table(rules)
save("方案参数", rules)

# %%
display(Markdown("## 候选人（一客户一行，附原因与状态：可邀请，或已在推荐大使名单中的进度）"))
cand = keep(candidates(store))
candidate_table = pd.DataFrame({
    "店铺": cand["shop"], "店铺编号": cand["shop_id"].astype(str), "案件": cand["case_id"].astype(str),
    "客户（脱敏）": cand["customer"], "结案时间（北京）": [fmt_time(t) for t in cand["resolved_at"]],
    "状态": cand["status"], "原因": cand["reasons"],
})
show_table(candidate_table)
save("候选人", candidate_table)

# %%
display(Markdown("## 每位推荐大使：邀请、同意、推荐订单、收入、奖励与成本"))
per = keep(results(store))
ambassador_table = pd.DataFrame({
    "推荐大使编号": per["ambassador_id"].astype(str), "店铺": per["shop"], "客户（脱敏）": per["customer"],
    "状态": per["state_zh"], "已邀请": ["是" if x else "否" for x in per["invited"]],
    "已同意": ["是" if x else "否" for x in per["consented"]],
    "推荐订单": per["referred_orders"].astype(str), "不计入订单": per["excluded_orders"].astype(str),
    "推荐收入（元）": [yuan(x) for x in per["revenue_fen"]], "奖励笔数": per["rewards"].astype(str),
    "奖励成本（元）": [yuan(x) for x in per["cost_fen"]], "待审批（元）": [yuan(x) for x in per["pending_fen"]],
    "收入/成本": [roi(x) for x in per["roi"]],
})
show_table(ambassador_table)
save("推荐大使", ambassador_table)

# %%
display(Markdown("## 每个店铺汇总"))
if per.empty:
    shop_table = pd.DataFrame(columns=["店铺编号", "店铺", "邀请", "同意", "推荐订单", "推荐收入（元）", "奖励笔数",
                                       "奖励成本（元）", "收入/成本"])
else:
    g = per.groupby(["shop_id", "shop"], as_index=False).agg(
        invited=("invited", "sum"), consented=("consented", "sum"), orders=("referred_orders", "sum"),
        revenue=("revenue_fen", "sum"), n=("rewards", "sum"), cost=("cost_fen", "sum"))
    shop_table = pd.DataFrame({
        "店铺编号": g["shop_id"].astype(str), "店铺": g["shop"], "邀请": g["invited"].astype(int).astype(str),
        "同意": g["consented"].astype(int).astype(str), "推荐订单": g["orders"].astype(str),
        "推荐收入（元）": [yuan(x) for x in g["revenue"]], "奖励笔数": g["n"].astype(str),
        "奖励成本（元）": [yuan(x) for x in g["cost"]],
        "收入/成本": [roi(r / c if c else float("nan")) for r, c in zip(g["revenue"], g["cost"])],
    })
show_table(shop_table)
save("店铺汇总", shop_table)

# %%
display(Markdown("## 奖励台账（每项只发一次）"))
rw = keep(rewards(store))
reward_table = pd.DataFrame({
    "奖励编号": rw["id"].astype(str), "推荐大使编号": rw["ambassador_id"].astype(str),
    "类型": rw["kind"].map(REWARD_KINDS), "金额（元）": [yuan(x) for x in rw["amount_fen"]],
    "状态": rw["state"].map(REWARD_STATE_ZH), "申请人": rw["requested_by"], "审批人": rw["decided_by"].fillna(""),
})
show_table(reward_table)
save("奖励台账", reward_table)
display(Markdown("奖励只针对推荐好友下单，与评价无关；客户随时可以退出，退出后不再发送任何消息。"))
