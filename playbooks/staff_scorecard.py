# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 客服绩效与激励台账（O1、O2）
#
# 由 `reviewops.reporting.scorecard.staff_scorecard` 计算；本笔记本只负责展示。案件归属于首次联系客户的客服。
# 奖金只按“客户确认满意的已解决案件”计算；改评仅作统计（除非店铺明确开启按改评计奖）。

# %% tags=["parameters"]
db: str = ""  # 数据库 URL；空 表示默认
shops: str = ""  # 店铺编号，逗号分隔；空 表示全部
start: str = ""  # 开始日期 YYYY-MM-DD（北京时间）；空 表示上个自然月
end: str = ""  # 结束日期 YYYY-MM-DD（含当天）；空 表示上个自然月
quarter: str = ""  # 季度前三名所用季度，如 2026-Q4；空 表示结束日期所在季度
output_dir: str = ""  # 表格输出目录；空 表示不另存

# %%
import datetime as dt

import pandas as pd
import reviewops
from IPython.display import HTML, Markdown, display
from reviewops.core.outputs import REPORT_CSS, show_table
from reviewops.core.policy import fen_to_yuan_text
from reviewops.runner import parse_shop_ids, publish_table
from reviewops.reporting.scorecard import NO_DATA, period_from_text, staff_scorecard, zh_frame

shop_ids = parse_shop_ids(shops)
period_start, period_end = period_from_text(start, end, default="month")

store = reviewops.Store.open(db or None)
card = staff_scorecard(store, period_start, period_end, shop_ids=shop_ids, quarter=str(quarter).strip() or None)


def pct(x):
    return NO_DATA if x is None or pd.isna(x) else f"{x:.1%}"


def num(x, fmt="{:.1f}"):
    return NO_DATA if x is None or pd.isna(x) else fmt.format(x)


def yuan(x):
    return fen_to_yuan_text(int(x or 0)) or "0"


def save(name, df):
    publish_table(name, df, output_dir)


show = show_table


display(HTML(REPORT_CSS))
last_day = card.end - dt.timedelta(days=1)
display(Markdown(f"## 统计期：{card.start:%Y-%m-%d} 至 {last_day:%Y-%m-%d}（北京时间）"))
for note in card.notes:
    display(Markdown(f"> {note}"))

# %%
display(Markdown("## 客服绩效"))
a = card.agents
performance = zh_frame(pd.DataFrame({
    "agent": a["agent"], "display_name": a["display_name"], "handled": a["handled"], "sla_met": a["sla_met"],
    "sla_rate": [pct(x) for x in a["sla_rate"]],
    "first_contact_minutes_median": [num(x) for x in a["first_contact_minutes_median"]],
    "resolved": a["resolved"], "satisfied": a["satisfied"],
    "resolution_hours_median": [num(x) for x in a["resolution_hours_median"]],
    "csat_n": a["csat_n"], "csat_score": [num(x) for x in a["csat_score"]],
    "csat_avg": [num(x, "{:.2f}") for x in a["csat_avg"]],
    "revised": a["revised"], "revision_rate": [pct(x) for x in a["revision_rate"]],
}), "agents").rename(columns={"补偿成本（分）": "补偿成本（元）"})
performance["补偿成本（元）"] = [yuan(x) for x in a["remedy_fen"]]
if performance.empty:
    display(Markdown("本期没有客服处理过案件。"))
show(performance)
save("客服绩效", performance)
t = card.totals
display(Markdown(f"合计：接手 {t['handled']} 件，按时联系 {t['sla_met']} 件（{pct(t['sla_rate'])}），已解决 "
                 f"{t['resolved']} 件，其中客户确认满意 {t['satisfied']} 件；改为好评 {t['revised']} 件（仅作统计）；"
                 f"补偿成本 {yuan(t['remedy_fen'])} 元。"))

# %%
display(Markdown("## 激励台账（奖金与服务积分）"))
ledger = pd.DataFrame({
    "客服账号": a["agent"], "客服姓名": a["display_name"], "客户确认满意": a["satisfied"],
    "满意奖金（元）": [yuan(x) for x in a["bonus_fen"]],
})
if card.pay_per_revision:
    ledger["改为好评"] = a["revised"]
    ledger["改评奖金（元，合规风险）"] = [yuan(x) for x in a["revision_pay_fen"]]
ledger["服务积分（本期）"] = a["points_earned"]
ledger["已兑换积分（本期）"] = a["points_redeemed"]
ledger["积分余额"] = a["points_balance"]
show(ledger)
save("激励台账", ledger)
display(Markdown(f"奖金规则：每件客户确认满意的已解决案件 {yuan(card.resolved_bonus_fen)} 元、{card.points_per_case} 积分；"
                 + ("**已开启按改评计奖（合规风险）**。" if card.pay_per_revision else "改评不计奖。")))

# %%
display(Markdown(f"## 季度前三名（{card.quarter}）"))
top3 = zh_frame(card.top3.assign(sla_rate=[pct(x) for x in card.top3["sla_rate"]]), "top3")
if top3.empty:
    display(Markdown("本季度还没有客户确认满意的已解决案件。"))
show(top3)
save("季度前三", top3)

# %%
display(Markdown("## 培训考核（O1）"))
tr = card.training
training = zh_frame(tr.assign(target=[num(x, "{:g}") for x in tr["target"]],
                              actual=[num(x) for x in tr["actual"]]), "training").drop(columns=["模块代码"])
show(training)
save("培训考核", training)

# %%
display(Markdown("## 知识测验（P1）"))
display(Markdown("本期提交的知识测验：次数、最高分、最近得分、最近一次是否及格（及格线为策略的 quiz_pass_mark）；"
                 "平均分见上表“产品知识”。"))
quizzes = zh_frame(pd.DataFrame({
    "agent": a["agent"], "display_name": a["display_name"], "quizzes": a["quizzes"],
    "quiz_best": [num(x, "{:g}") for x in a["quiz_best"]], "quiz_last": [num(x, "{:g}") for x in a["quiz_last"]],
    "quiz_passed": [x if x is not None else NO_DATA for x in a["quiz_passed"]],
}), "agents")
show(quizzes)
