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
# # 客户价值：复购、挽回与 NPS（V4）
#
# 由 `reviewops.reporting.outcomes.customer_value` 计算；本笔记本只负责展示。每个比率都附带计数；
# 样本过少的比率标记为“样本不足”。改评仅作统计，任何补偿都不以改评为条件。

# %% tags=["parameters"]
db: str = ""  # 数据库 URL；空 表示默认
shops: str = ""  # 店铺编号，逗号分隔；空 表示全部
start: str = ""  # 开始日期 YYYY-MM-DD（北京时间）；空 表示最近 90 天
end: str = ""  # 结束日期 YYYY-MM-DD（含当天）；空 表示昨天
output_dir: str = ""  # 表格输出目录；空 表示不另存

# %%
import datetime as dt

import pandas as pd
import reviewops
from IPython.display import HTML, Markdown, display
from reviewops.reporting.outcomes import OUTCOME_COLUMNS, customer_value
from reviewops.core.outputs import REPORT_CSS, show_table
from reviewops.core.policy import fen_to_yuan_text
from reviewops.runner import parse_shop_ids, publish_table
from reviewops.reporting.scorecard import NO_DATA, period_from_text, zh_frame

shop_ids = parse_shop_ids(shops)
period_start, period_end = period_from_text(start, end, default="90d")

store = reviewops.Store.open(db or None)
value = customer_value(store, period_start, period_end, shop_ids=shop_ids)


def pct(x):
    return NO_DATA if x is None or pd.isna(x) else f"{x:.1%}"


def num(x, fmt="{:.1f}"):
    return NO_DATA if x is None or pd.isna(x) else fmt.format(x)


def save(name, df):
    publish_table(name, df, output_dir)


show = show_table


display(HTML(REPORT_CSS))
last_day = value.end - dt.timedelta(days=1)
display(Markdown(f"## 统计期：{value.start:%Y-%m-%d} 至 {last_day:%Y-%m-%d}（北京时间），复购窗口 {value.window_days} 天，"
                 f"最小样本 {value.min_sample}"))
for note in value.notes:
    display(Markdown(f"> {note}"))

# %%
display(Markdown("## 复购率：处理过的客户 vs 店铺基线"))
r = value.repurchase
repurchase = zh_frame(r.assign(shop_id=[NO_DATA if x is None else str(int(x)) for x in r["shop_id"]],
                               handled_rate=[pct(x) for x in r["handled_rate"]],
                               baseline_rate=[pct(x) for x in r["baseline_rate"]],
                               difference_points=[num(x) for x in r["difference_points"]]),
                      "repurchase", OUTCOME_COLUMNS).drop(columns=["店铺编号"])
show(repurchase)
save("复购对比", repurchase)

# %%
display(Markdown("## 挽回效果"))
w = value.winback
winback = zh_frame(w.assign(rate=[pct(x) for x in w["rate"]]), "winback", OUTCOME_COLUMNS).drop(columns=["项目代码"])
winback = winback.rename(columns={"订单金额（分）": "订单金额（元）"})
winback["订单金额（元）"] = [fen_to_yuan_text(int(x)) or "0" for x in w["order_fen"]]
show(winback)
save("挽回效果", winback)

# %%
display(Markdown("## 改评率（转化率）"))
c = value.conversion
conversion = zh_frame(c.assign(rate=[pct(x) for x in c["rate"]], example=[pct(x) for x in c["example"]]),
                      "conversion", OUTCOME_COLUMNS)
show(conversion)
save("改评转化", conversion)
display(Markdown("改评仅作统计，任何补偿都不以改评为条件。"))

# %%
display(Markdown("## NPS（净推荐值）"))
n = value.nps
nps = zh_frame(n.assign(nps=[num(x) for x in n["nps"]], prev_nps=[num(x) for x in n["prev_nps"]],
                        change=[num(x, "{:+.1f}") for x in n["change"]]), "nps", OUTCOME_COLUMNS)
nps = nps.drop(columns=["分组代码"])
show(nps)
save("NPS", nps)

# %%
display(Markdown("## 推荐大使（V3）：邀请、同意、推荐订单、收入、奖励成本与 ROI"))
from reviewops.handling.ambassadors import shop_results  # noqa: E402

a = shop_results(store)
if shop_ids is not None:
    a = a[a["shop_id"].isin(shop_ids)]
ambassadors = pd.DataFrame({
    "店铺": a["shop"], "邀请": a["invitations"].astype(str), "同意": a["consents"].astype(str),
    "退出": a["opted_out"].astype(str), "推荐订单": a["referred_orders"].astype(str),
    "推荐收入（元）": [fen_to_yuan_text(int(x)) or "0" for x in a["revenue_fen"]],
    "奖励成本（元）": [fen_to_yuan_text(int(x)) or "0" for x in a["cost_fen"]],
    "收入/成本": [num(x, "{:.2f}") for x in a["roi"]],
})
show(ambassadors)
save("推荐大使", ambassadors)
display(Markdown("推荐大使的奖励只针对推荐好友下单（未取消、未全额退款），与评价无关；累计至今，不限统计期。"))
