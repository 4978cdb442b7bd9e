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
# # 商品信息透明度审计（P3）：每条商品链接缺少或与事实不符的信息
#
# 由 `reviewops.prevention.listing_audit.audit_listings` 计算：商品导出（发货时效、不发货地区、尺码表、色差说明）对照本店
# 期间内的订单、发货记录、评价与案件分类。五类问题——未写发货时效、发货承诺被本店实际发货打破、投诉物流的地区未列为不发货、
# 服装鞋类有尺码投诉却无尺码表、有色差/描述不符投诉却无色差说明——门槛、负责部门、严重程度与建议来自策略「商品信息审计」表。
# 典型评价已脱敏；本页不显示买家昵称、姓名、电话或地址。时间均为北京时间。

# %% tags=["parameters"]
db: str = ""  # 数据库 URL；空 表示默认
shops: str = ""  # 店铺编号，逗号分隔；空 表示全部
now: str = ""  # 审计截止时刻（ISO 格式，如 2026-11-20T18:00:00+08:00）；空 表示当前时间
days: int = 0  # 看截止前多少天的订单和评价；0 表示按策略参数 listing_audit_days
output_dir: str = ""  # 表格输出目录；空 表示不另存

# %%
import pandas as pd
import reviewops
from IPython.display import HTML, Markdown, display
from reviewops.core.outputs import REPORT_CSS, show_table
from reviewops.core.policy import LISTING_FINDING_ZH, load_policy
from reviewops.prevention.listing_audit import audit_listings, listing_settings
from reviewops.runner import parse_shop_ids, publish_table

pd.set_option("display.max_colwidth", None)
SHANGHAI = "Asia/Shanghai"

if int(days) < 0:
    raise ValueError(f"days 应为 ≥ 0 的整数，收到 {days!r} / days must be 0 (the policy's) or more")
shop_ids = parse_shop_ids(shops)
store = reviewops.Store.open(db or None)
settings = listing_settings(load_policy(store))
at = pd.Timestamp(now) if now else pd.Timestamp.now(tz=SHANGHAI)
at = at.tz_localize(SHANGHAI) if at.tzinfo is None else at.tz_convert(SHANGHAI)
span = int(days) or settings.days
findings = audit_listings(store, since=(at - pd.Timedelta(days=span)).to_pydatetime(), until=at.to_pydatetime(),
                          shop_ids=shop_ids, settings=settings)
facts = findings.attrs


def save(name, df):
    publish_table(name, df, output_dir)


display(HTML(REPORT_CSS))
since = pd.Timestamp(facts["since"]).tz_convert(SHANGHAI)
display(Markdown(f"## 概览：{since:%Y-%m-%d %H:%M} 至 {at:%Y-%m-%d %H:%M}（北京时间，{span} 天）"))
overview = pd.DataFrame({
    "项目": ["审计商品链接", "期间订单", "期间评价", "发现问题", *[f"其中：{z}" for z in LISTING_FINDING_ZH.values()],
           "地区来源"],
    "数值": [str(facts["listings"]), str(facts["orders"]), str(facts["reviews"]), str(len(findings)),
           *[str(int((findings["finding"] == c).sum())) for c in LISTING_FINDING_ZH],
           "订单收货省份" if facts["region_source"] == "province" else "物流轨迹最后一站（订单无收货省份）"],
})
show_table(overview)
save("概览", overview)

# %%
display(Markdown("## 问题清单（严重程度从高到低）"))
table = pd.DataFrame({
    "严重程度": findings["severity_zh"],
    "问题": findings["finding_zh"],
    "店铺": findings["shop"],
    "商品标题": findings["title"],
    "地区": findings["region"].fillna(""),
    "证据": findings["evidence"],
    "典型评价（已脱敏）": ["；".join(e) for e in findings["examples"]],
    "负责部门": findings["department"],
    "建议措施": findings["recommendation"],
    "店铺编号": findings["shop_id"].astype(str),
    "商品链接键": findings["listing_key"],
    "商品ID": findings["listing_id"].fillna(""),
    "问题代码": findings["finding"],
    "问题次数": findings["count"].astype(str),
    "基数": findings["base"].astype(str),
})
if table.empty:
    display(Markdown("期间没有发现问题。"))
else:
    show_table(table)
save("问题清单", table)

# %%
display(Markdown("## 按负责部门"))
by_dept = (findings.groupby(["department", "finding_zh"]).size().rename("问题数").reset_index()
           .rename(columns={"department": "负责部门", "finding_zh": "问题"}))
if by_dept.empty:
    display(Markdown("（无）"))
else:
    show_table(by_dept)
save("按部门", by_dept)
display(Markdown("> 门槛（最少订单/投诉数、比率）、负责部门、严重程度和建议措施在策略「商品信息审计」表中修改；"
                 "发货时效以各 SKU 中最短的展示时效为准。"))
