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
# # 每日巡检：时效预警与升级、今日跟进、物流延迟补偿
#
# 由 `reviewops.handling.sweep.daily_sweep` 计算并记录（时效提醒每案每类一次，超时自动升级一次，延迟补偿券每单一次）；
# 本笔记本只负责展示。时间均为北京时间，用户文本均已脱敏。

# %% tags=["parameters"]
db: str = ""  # 数据库 URL；空 表示默认
shops: str = ""  # 店铺编号，逗号分隔；空 表示全部
now: str = ""  # 巡检时刻（ISO 格式，如 2026-11-25T09:00:00+08:00）；空 表示当前时间
apply: bool = True  # True 记录提醒、升级并发放补偿券；False 只预览不写入
output_dir: str = ""  # 表格输出目录；空 表示不另存

# %%
import pandas as pd
import reviewops
from IPython.display import HTML, Markdown, display
from reviewops.core.outputs import REPORT_CSS, show_table
from reviewops.runner import parse_shop_ids, publish_table
from reviewops.handling.sweep import SHANGHAI, daily_sweep

pd.set_option("display.max_colwidth", None)

shop_ids = parse_shop_ids(shops)

store = reviewops.Store.open(db or None)
sweep = daily_sweep(store, now=now, shop_ids=shop_ids, apply=bool(apply))


def save(name, df):
    publish_table(name, df, output_dir)


def yes_no(values):
    return ["是" if bool(v) else "否" for v in values]


show = show_table


display(HTML(REPORT_CSS))
mode = "已记录并发放" if sweep.applied else "预览（未写入）"
display(Markdown(f"## 概览：{sweep.now.astimezone(SHANGHAI):%Y-%m-%d %H:%M}（北京时间），{mode}"))
for warning in sweep.warnings:  # e.g. the next 60 days lack holiday data: deadlines would count Mon–Fri
    display(Markdown(f"> **⚠ 日历提醒：** {warning}"))
overview = sweep.summary
show(overview)
save("概览", overview)

# %%
display(Markdown("## 各角色待办"))
todo_cols = {"kind_zh": "类型", "ref": "案件/订单", "shop": "店铺", "what_zh": "待办事项", "due_local": "截止/承诺时间",
             "new": "本次新增"}
for code, name_zh in sweep.roles:
    rows = sweep.todo_for(code)
    display(Markdown(f"### {name_zh}（{code}）：{len(rows)} 项"))
    table = rows[list(todo_cols)].rename(columns=todo_cols).assign(本次新增=yes_no(rows["new"]))
    if table.empty:
        display(Markdown("今日没有待办。"))
    else:
        show(table)
    save(f"待办_{name_zh}", table)
other = sweep.todo[~sweep.todo["role"].isin([c for c, _ in sweep.roles])]
if len(other):
    display(Markdown(f"### 未指定角色：{len(other)} 项"))
    show(other[["role"] + list(todo_cols)].rename(columns={"role": "角色", **todo_cols}))
all_todo = (sweep.todo[["role_zh"] + list(todo_cols)].rename(columns={"role_zh": "角色", **todo_cols})
            .assign(本次新增=yes_no(sweep.todo["new"])))
save("全部待办", all_todo)

# %%
display(Markdown("## 响应时效（未首次联系的案件）"))
sla_table = pd.DataFrame({
    "案件": sweep.sla["case_id"].astype(str),
    "店铺": sweep.sla["shop"],
    "分类": sweep.sla["category_zh"],
    "原负责角色": sweep.sla["owner_role_zh"],
    "升级至": sweep.sla["escalate_to_zh"],
    "截止时间": sweep.sla["due_local"],
    "时效已用": [f"{x:.0%}" for x in sweep.sla["fraction_used"]],
    "剩余分钟": sweep.sla["minutes_left"],
    "状态": sweep.sla["sla_status_zh"],
    "本次提醒": sweep.sla["new_notices"],
    "本次升级给": sweep.sla["escalated_to_zh"],
})
show(sla_table)
save("响应时效", sla_table)

# %%
display(Markdown("## 今日到期跟进（含逾期）"))
followup_table = pd.DataFrame({
    "案件": sweep.followups["case_id"].astype(str),
    "店铺": sweep.followups["shop"],
    "跟进步骤": sweep.followups["step_zh"],
    "到期时间": sweep.followups["due_local"],
    "已逾期": yes_no(sweep.followups["overdue"]),
    "负责角色": sweep.followups["role_zh"],
    "话术（已脱敏）": sweep.followups["message"],
})
if followup_table.empty:
    display(Markdown("今日没有到期的跟进。"))
show(followup_table)
save("今日跟进", followup_table)

# %%
display(Markdown("## 物流延迟补偿（P4，每单一次）"))
delay_table = pd.DataFrame({
    "订单号": sweep.delays["order_id"].astype(str),
    "店铺": sweep.delays["shop"],
    "原因": sweep.delays["reason_zh"],
    "承诺时间": sweep.delays["promised_local"],
    "超时小时": sweep.delays["hours_late"],
    "快递": sweep.delays["carrier"],
    "补偿券（元）": sweep.delays["amount_yuan"],
    "本次已发放": yes_no(sweep.delays["issued"]),
    "消息（已脱敏）": sweep.delays["message"],
})
if delay_table.empty:
    display(Markdown("没有需要补偿的延迟订单。"))
show(delay_table)
save("延迟补偿", delay_table)
