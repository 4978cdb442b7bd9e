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
# # 高风险订单提示（P2）：今日需要留意的订单、原因与建议措施
#
# 由 `reviewops.prevention.risk.score_orders` 计算：每单只看买家在**下单之前**的历史（近 90 天，按策略），与本店的平均水平比较。
# 只是提示，不是黑名单：不保存、不拒单、不改价；提示在下单后若干天过期（策略「风险订单」与参数表）。本页不显示买家昵称、姓名、电话或地址。
# 时间均为北京时间。

# %% tags=["parameters"]
db: str = ""  # 数据库 URL；空 表示默认
shops: str = ""  # 店铺编号，逗号分隔；空 表示全部
now: str = ""  # 评分时刻（ISO 格式，如 2026-11-20T18:00:00+08:00）；空 表示当前时间
days: int = 1  # 列出最近几天（北京时间，含今天）下单的订单
output_dir: str = ""  # 表格输出目录；空 表示不另存

# %%
import pandas as pd
import reviewops
from IPython.display import HTML, Markdown, display
from reviewops.core.outputs import REPORT_CSS, show_table
from reviewops.core.policy import RISK_REASON_ZH, load_policy
from reviewops.prevention.risk import SHANGHAI, risk_settings, score_orders
from reviewops.runner import parse_shop_ids, publish_table

pd.set_option("display.max_colwidth", None)

if int(days) < 1:
    raise ValueError(f"days 应为 ≥ 1 的整数，收到 {days!r} / days must be at least 1")
shop_ids = parse_shop_ids(shops)
store = reviewops.Store.open(db or None)
settings = risk_settings(load_policy(store))
at = pd.Timestamp(now) if now else pd.Timestamp.now(tz=SHANGHAI)
at = at.tz_localize(SHANGHAI) if at.tzinfo is None else at.tz_convert(SHANGHAI)
since = at.normalize() - pd.Timedelta(days=int(days) - 1)
scored = score_orders(store, since=since.to_pydatetime(), now=at.to_pydatetime(), shop_ids=shop_ids,
                      settings=settings)
flagged = scored[scored["flagged"]]


def save(name, df):
    publish_table(name, df, output_dir)


def local(ts):
    return [t.tz_convert(SHANGHAI).strftime("%Y-%m-%d %H:%M") for t in ts]


display(HTML(REPORT_CSS))
display(Markdown(f"## 概览：{since:%Y-%m-%d} 至 {at:%Y-%m-%d %H:%M}（北京时间）下单的订单"))
overview = pd.DataFrame({
    "项目": ["订单数", "高风险订单", "提示比例", "提示门槛", "历史窗口（天）", "提示有效期（天）"],
    "数值": [str(len(scored)), str(len(flagged)), f"{(len(flagged) / len(scored)) if len(scored) else 0:.1%}",
           f"{settings.threshold:g}", str(settings.lookback_days), str(settings.expiry_days)],
})
show_table(overview)
save("概览", overview)

# %%
display(Markdown("## 高风险订单（分数从高到低）"))
table = pd.DataFrame({
    "订单号": flagged["order_id"].astype(str),
    "店铺": flagged["shop"],
    "下单时间": local(flagged["created_at"]),
    "风险分": [f"{s:.2f}" for s in flagged["score"]],
    "原因": flagged["reasons"],
    "建议措施": flagged["recommendations"],
    "提示过期": local(flagged["expires_at"]),
}).iloc[flagged["score"].to_numpy().argsort(kind="stable")[::-1]]
if table.empty:
    display(Markdown("今日没有高风险订单。"))
else:
    show_table(table)
save("高风险订单", table)

# %%
display(Markdown("## 各原因的订单数（含未达门槛、只作参考的订单）"))
codes = scored["reason_codes"].str.split(";").explode()
codes = codes[codes.notna() & (codes != "")]
flag_codes = flagged["reason_codes"].str.split(";").explode()
flag_codes = flag_codes[flag_codes.notna() & (flag_codes != "")]
by_reason = pd.DataFrame({
    "原因": [RISK_REASON_ZH[c] for c in RISK_REASON_ZH],
    "涉及订单": [int((codes == c).sum()) for c in RISK_REASON_ZH],
    "其中高风险": [int((flag_codes == c).sum()) for c in RISK_REASON_ZH],
    "建议措施": [str((settings.rule(c) or {}).get("action") or "") for c in RISK_REASON_ZH],
})
show_table(by_reason)
save("原因统计", by_reason)
display(Markdown("> 提示只用于提前沟通、备注、仔细打包、确认运费险与人工复核；不得据此拒绝交易、改价或对外共享名单"
                 "（《个人信息保护法》第二十四条）。"))
