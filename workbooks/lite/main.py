"""ReviewOps functions for xlwings Lite (paste into the add-in's main.py tab).

xlwings Lite runs Python in the browser (Pyodide). It cannot install the full ``reviewops`` wheel (voila,
ipykernel, pyahocorasick … have no Pyodide build), so requirements.txt installs ``reviewops-core``: the same
library built by ``packaging/core`` with only Pyodide-installable dependencies. Only the functions that need no
database are offered here: RO_CLASSIFY, RO_TRIAGE, RO_SLA, RO_REMEDY, RO_TIER, RO_REPLY and
RO_MASK work with pure-Python / Pyodide packages (without the C extension ``pyahocorasick`` the
lexicon uses its pure-Python matcher, which finds the same words). RO_CASES and RO_KPI (the shop
database) are classic-xlwings only.

Each function calls the same ``reviewops.excel`` function the classic add-in uses, so the
inputs, results and error texts are identical; see docs/excel.md. Dates arrive from Office.js
as Excel serial numbers, which the functions accept (1900 date system, Beijing time).
"""

from xlwings import arg, func

from reviewops import excel as ro

@func
@arg("text", doc="评价内容：一个单元格或一列 / review text, one cell or a column")
@arg("rating", doc="可选：评分 1–5 或 好评/中评/差评 / optional rating")
def ro_classify(text, rating=None):
    """判断评价是否中差评，给出负面分、主分类和全部分类。Negative flag, score, primary category, categories."""
    return ro.ro_classify(text, rating)


@func
@arg("table", ndim=2, doc="带表头的区域：评价内容/text 必填，评分、评价时间、平台、订单号 可选")
@arg("now", doc="可选：没有发现时间时的起算时间 / optional clock start")
def ro_triage(table, now=None):
    """中差评分级：分类、响应时效、负责角色、截止时间（北京时间）和判定理由。Triage table for a range with headers."""
    return ro.ro_triage(table, now)


@func
@arg("category", doc="分类：中文名或代码 / category name or code")
@arg("created_at", doc="时效起算时间（北京时间）/ when the clock starts")
def ro_sla(category, created_at):
    """分类的响应时效：[时效(小时), 负责角色, 响应截止(北京时间)]。SLA hours, owner role and due time."""
    return ro.ro_sla(category, created_at)


@func
@arg("order_value", doc="订单金额（元）/ order value in yuan")
@arg("tier", doc="可选：客户分层 / optional customer tier")
def ro_remedy(order_value, tier=None):
    """按订单金额与客户分层给出补偿：[补偿方式, 优惠券(元), 审批角色, 礼遇, 说明]。Remedy band for an order."""
    return ro.ro_remedy(order_value, tier)


@func
@arg("annual_spend", doc="近一年消费金额（元）/ spend in the last year, yuan")
@arg("orders", doc="订单数 / number of orders")
@arg("last_order_date", doc="可选：最近一次下单日期 / optional date of the last order")
def ro_tier(annual_spend, orders, last_order_date=None):
    """客户分层：[分层代码, 分层名称, 理由]。Customer tier from spend, orders and last order date."""
    return ro.ro_tier(annual_spend, orders, last_order_date)


@func
@arg("category", doc="分类：中文名或代码 / category")
@arg("remedy", doc="补偿：文字、refund/resend/supervisor，或订单金额（数字）/ remedy")
@arg("customer_name", doc="可选：顾客称呼 / optional customer name")
@arg("platform", doc="平台：淘宝、抖店、京东、拼多多… / platform")
def ro_reply(category, remedy=None, customer_name=None, platform="taobao"):
    """3S 回复草稿：[回复文本, 提示]。A 3S reply draft within the platform's limit."""
    return ro.ro_reply(category, remedy, customer_name, platform)


@func
@arg("text", doc="文本或区域 / text or range to mask")
def ro_mask(text):
    """打码个人信息（手机号、身份证、座机、QQ）。Masks personal numbers in text."""
    return ro.ro_mask(text)
