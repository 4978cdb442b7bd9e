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
# # 每周差评TOP3 周报
#
# 由 `reviewops.reporting.reports.weekly_top3` 计算；本笔记本只负责展示。用户文本均已脱敏。

# %% tags=["parameters"]
week: str = ""  # ISO 周次，如 2026-W47；空 表示上一周
db: str = ""  # 数据库 URL；空 表示默认
shops: str = ""  # 店铺编号，逗号分隔；空 表示全部
trend_weeks: int = 4  # 趋势对比的周数（含本周）
output_dir: str = ""  # 表格输出目录；空 表示不另存

# %%
import datetime as dt

import pandas as pd
import reviewops
from IPython.display import HTML, Image, Markdown, display
from reviewops.reporting.charts import png, trend_figure
from reviewops.reporting.dashboard import ALERT_DELAY_TITLE, APPEAL_TITLE, alert_delay_table, appeal_table
from reviewops.reporting.dashboard import AMBASSADOR_TITLE, ambassador_table
from reviewops.reporting.dashboard import (COMMITMENT_EMPTY, COMMITMENT_TITLE, commitment_breach_table,
                                          commitment_table)
from reviewops.reporting.dashboard import sla_table as sla_table_of
from reviewops.core.outputs import REPORT_CSS, show_table
from reviewops.core.policy import fen_to_yuan_text
from reviewops.reporting.reports import iso_week, weekly_top3
from reviewops.runner import parse_shop_ids, publish_table, save_table

pd.set_option("display.max_colwidth", None)  # example reviews are shown whole, not cut at 50 characters

if not str(week).strip():
    week = iso_week(dt.datetime.now(dt.UTC) - dt.timedelta(days=7))
shop_ids = parse_shop_ids(shops)

store = reviewops.Store.open(db or None)
report = weekly_top3(store, str(week).strip(), shop_ids=shop_ids, trend_weeks=int(trend_weeks))


def pct(x):
    return "—" if x is None or pd.isna(x) else f"{x:.1%}"


def hours(x):
    return "—" if x is None or pd.isna(x) else f"{x:.1f} 小时"


def save(name, df):
    publish_table(name, df, output_dir)


show = show_table


def joined(items):
    return "；".join(str(i) for i in items) if items else "—"


display(HTML(REPORT_CSS))
display(Markdown(f"## 概览：{report.week}（{report.start:%Y-%m-%d} 至 {report.end - dt.timedelta(days=1):%Y-%m-%d}，北京时间）"))
overview = pd.DataFrame([
    {"指标": "评价数", "数值": str(report.reviews)},
    {"指标": "中差评数", "数值": str(report.negative)},
    {"指标": "中差评率", "数值": pct(report.rate)},
])
show(overview)

# %%
display(Markdown("## 趋势：与前几周对比"))
trend = pd.DataFrame({
    "周次": report.trend["week"],
    "评价数": report.trend["reviews"].astype(int),
    "中差评数": report.trend["negative"].astype(int),
    "中差评率": [pct(x) for x in report.trend["rate"]],
})
show(trend)
save("趋势", trend)
display(Image(png(trend_figure(report.trend))))

# %%
display(Markdown("## 差评TOP3 原因"))
top3 = pd.DataFrame({
    "排名": report.top3["rank"],
    "原因": report.top3["category_zh"],
    "分类代码": report.top3["category"],
    "案件数": report.top3["cases"],
    "占比": [pct(x) for x in report.top3["share"]],
    "涉及商品/SKU": [joined(x) for x in report.top3["skus"]],
    "供应商": [joined(x) for x in report.top3["suppliers"]],
    "快递公司": [joined(x) for x in report.top3["carriers"]],
})
if top3.empty:
    display(Markdown("本周没有中差评。"))
show(top3)
save("差评TOP3", top3)

display(Markdown("### 典型评价（已脱敏）"))
examples = pd.DataFrame(
    [{"排名": r["rank"], "原因": r["category_zh"], "评价内容": text}
     for _, r in report.top3.iterrows() for text in r["examples"]],
    columns=["排名", "原因", "评价内容"],
)
show(examples)
save("典型评价", examples)

# %%
display(Markdown("## 建议措施与负责部门"))
actions = pd.DataFrame({
    "排名": report.top3["rank"],
    "原因": report.top3["category_zh"],
    "负责部门": report.top3["department"],
    "建议措施": report.top3["action"],
})
show(actions)
save("建议措施", actions)

# %%
display(Markdown("## 响应时效（SLA）"))
sla_table = sla_table_of(report.sla, cases_label="本周案件数")
show(sla_table)
save("响应时效", sla_table)

# %%
display(Markdown(f"## {ALERT_DELAY_TITLE}"))
display(Markdown("本周到达的评价所触发的新案件提醒，按来源统计实测用时（秒）：检测 = 立案 − 到达，送达 = 首个渠道送达 − 到达；"
                 "P50/P95 为精确分位数（线性插值）。1 分钟内送达率以全部提醒为分母，未送达的计为未达标；"
                 "提醒数少于最小样本的行标注“样本不足”。"))
alerts = alert_delay_table(report.alert_delays)
if alerts.empty:
    display(Markdown("本周没有新案件提醒。"))
show(alerts)
save("提醒时效", alerts)

# %%
display(Markdown(f"## {APPEAL_TITLE}"))
display(Markdown("本周向平台提交、获平台受理或驳回的申诉数，以及周末时仍待平台处理的申诉；按时申诉率 = "
                 "申诉截止时间落在本周（且已过）的恶意差评中，首次申诉在截止前提交的比例。"))
appeals_table = appeal_table(report.appeals)
show(appeals_table)
save("平台申诉", appeals_table)

# %%
display(Markdown(f"## {COMMITMENT_TITLE}"))
display(Markdown("店铺公开的服务承诺（策略“服务承诺”表）：开始于本周的事件——付款订单、售后申请、买家咨询、破损理赔、"
                 "退货入库——按各自时限判断，恰好等于时限算守约；仍未结束且已超时的计为违约，未超时的计为进行中、不计入达成率。"
                 "违约明细的时间为北京时间，全部违约在 XLSX 的“承诺违约”表中。"))
commitments_table = commitment_table(report.commitments)
if int(report.commitments["eligible"].sum()) == 0:
    display(Markdown(COMMITMENT_EMPTY))
show(commitments_table)
save_table("服务承诺", commitments_table)  # XLSX sheet only: the CSV set stays as it was
breaches_table = commitment_breach_table(report.commitment_breaches, limit=None)
if breaches_table.empty:
    display(Markdown("本周没有违约。"))
show(breaches_table.head(50))
save_table("承诺违约", breaches_table)

# %%
display(Markdown("## 补偿措施与成本"))
remedies = pd.DataFrame({
    "补偿方式": report.remedies["kind_zh"],
    "次数": report.remedies["count"].astype(int),
    "金额（元）": [fen_to_yuan_text(int(x)) for x in report.remedies["amount_fen"]],
})
total_fen = int(report.remedies["amount_fen"].sum()) if len(report.remedies) else 0
if remedies.empty:
    display(Markdown("本周没有已发放的补偿。"))
show(remedies)
display(Markdown(f"补偿合计：**{fen_to_yuan_text(total_fen) or '0'} 元**"))
save("补偿", remedies)

# %%
display(Markdown(f"## {AMBASSADOR_TITLE}"))
display(Markdown("推荐大使方案（奖励只针对推荐好友下单，与评价无关）：本周申请且已批准或已发放的推荐优惠券与满额礼品成本，"
                 "以及本周下单、未取消且未全额退款的推荐订单与其收入（实付减退款）。金额与门槛来自店铺策略的推荐大使参数。"))
ambassadors_table = ambassador_table(report.ambassadors)
if not int(report.ambassadors.get("referred_orders") or 0) and not int(report.ambassadors.get("total") or 0):
    display(Markdown("本周没有推荐订单或推荐奖励。"))
show(ambassadors_table)
save_table("推荐大使", ambassadors_table)  # XLSX sheet only: the CSV set stays as it was

# %%
display(Markdown("## 追评改善（修改为好评）"))
revisions = pd.DataFrame([
    {"指标": "已解决案件", "数值": str(report.resolved)},
    {"指标": "改为好评", "数值": str(report.revised)},
    {"指标": "改评率", "数值": pct(report.revision_rate)},
])
show(revisions)
display(Markdown("改评仅作统计，任何补偿都不以改评为条件。"))
