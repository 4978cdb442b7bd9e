"""The shop's policy: every threshold, deadline, band and word the rules use, as data.

The playbook's rules are the default (:func:`default_policy`). A policy is a set
of tables — one sheet each in the Excel workbook a shop edits — declared once in
:data:`TABLES` with Chinese headers, types and help text:

=================  ==================  ==============================================
key                sheet               what it holds
=================  ==================  ==============================================
``categories``     分类时效             SLA matrix: category → hours, owner role, severity, appeal
``roles``          角色权限             roles, escalation chain, approval limits, who may unmask
``keywords``       词库                 the classifier's lexicon (negative/positive words, topics, …)
``remedy_bands``   补偿档位             remedy by order value (H1)
``tiers``          客户分层             customer tiers and their gifts (D3)
``templates``      话术模板             3S replies, revision guidance, care and win-back messages
``followups``      跟进节奏             follow-up cadence (24 h, day 3, day 30, coupon expiry)
``platforms``      平台规则             reply length limits and appeal types per platform
``forbidden``      违规用语             conditional-incentive wording that is blocked (Compliance)
``channels``       提醒渠道             where alerts go: Feishu/DingTalk/WeCom robots, e-mail, SMS (E1)
``duty``           值班表               who is on duty when; alerts @-mention them (E1)
``holidays``       节假日               the shop's own official holidays and 调休 workdays (over ``chinese_calendar``)
``risk_rules``     风险订单             P2 high-risk order flags: per reason its threshold, weight and recommended action
``knowledge``      知识库               P1 per-product Q&A and FAQ quick replies (category, product, question, answer, keywords)
``extortion_lexicon`` 恶意识别词库     the extortion/abuse detector's and compliance guard's lexicon (issue 17)
``appeal_rules``   申诉规则             per platform and ground: appeal type, entry, evidence, deadline, text limit (H3)
``settings``       参数                 single values (thresholds, clock, coupons)
=================  ==================  ==============================================

A :class:`Policy` is immutable and validated when it is built; every problem is
reported with sheet, row and column (:class:`PolicyInvalid`). Versions are kept
in the store (``policy_versions``): :func:`current_policy` returns the newest
(storing the default as version 1 on first use) and :func:`save_policy` adds a
version only when the content changed. Cases record the version they were
graded under.

Money is kept in fen (integers) inside the policy; the workbook shows yuan.

``channels``, ``duty``, ``holidays`` and ``risk_rules`` are optional tables: a policy stored before they existed loads with
them empty (no channel configured, nobody on duty, no day of the shop's own), and a workbook without those
sheets imports the same way. An empty ``holidays`` table is left out of :meth:`Policy.to_json`, so the
SHA-256 of a policy without it is what it was before the table existed. An empty ``risk_rules`` table is
left out the same way and means the built-in rules (:data:`DEFAULT_RISK_RULES`, read by
:mod:`reviewops.prevention.risk`). ``knowledge`` follows the same pattern: empty (or a policy stored before it
existed) means the built-in knowledge base :data:`DEFAULT_KNOWLEDGE` (:meth:`Policy.knowledge`, read by
:mod:`reviewops.prevention.knowledge` and :mod:`reviewops.prevention.quiz`). Every answer is checked like a
template: no conditional-incentive wording (the 违规用语 rows and the compliance floor, also with spaces,
invisible characters and full-width forms removed) and at most :data:`KB_ANSWER_MAX_CHARS` characters; the
reply an answer is inserted into is checked against the platform's own limit when it is saved or sent.

``extortion_lexicon`` (恶意识别词库) and ``appeal_rules`` (申诉规则) are optional too, and empty means the built-in
rows shipped as ``core/data/extortion_zh.tsv`` and ``core/data/appeal_rules.tsv`` (:func:`builtin_rows`; the
default policy holds them empty, so its SHA-256 does not carry two thousand lexicon rows). The workbook shows the
built-in rows when the table is empty, and a table read back equal to the built-in rows (in any order) is stored
empty again: exporting and re-importing an untouched workbook stores no new version, while an edited row makes
the whole table the shop's own. :meth:`Policy.extortion_lexicon` and :meth:`Policy.appeal_rules` return the rows
in force; :mod:`reviewops.grading.extortion` and :mod:`reviewops.handling.appeals` read them.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from .columns import PLATFORM_ZH, PLATFORMS
from .errors import PolicyInvalid, Problem

__all__ = [
    "AMBASSADOR_REVIEW_WORDS_RE",
    "AMBASSADOR_TEMPLATE_FIELDS",
    "AMBASSADOR_TEMPLATE_KINDS",
    "CATEGORY_CODES",
    "CATEGORY_ZH",
    "Column",
    "COMMITMENT_MEASURES",
    "COMMITMENT_MEASURE_ZH",
    "COMMITMENT_UNIT",
    "DEFAULT_COMMITMENTS",
    "DEFAULT_KNOWLEDGE",
    "DEFAULT_LISTING_RULES",
    "DEFAULT_RISK_RULES",
    "EVIDENCE_KINDS",
    "EXTORTION_ROLES",
    "EXTORTION_SIDES",
    "KB_CATEGORIES",
    "KB_CATEGORY_ZH",
    "KB_GENERAL",
    "LISTING_FINDINGS",
    "LISTING_FINDING_ZH",
    "Policy",
    "RISK_REASONS",
    "RISK_REASON_ZH",
    "SETTINGS",
    "TABLES",
    "Table",
    "TEMPLATE_FIELDS",
    "builtin_rows",
    "parse_requirements",
    "current_policy",
    "default_policy",
    "export_policy",
    "import_policy",
    "load_policy",
    "save_policy",
]

#: Complaint categories (SPEC), in the default tie-break order.
CATEGORY_CODES: tuple[str, ...] = (
    "logistics", "quality", "size", "missing_wrong", "description", "service", "price", "malicious", "other",
)
CATEGORY_ZH: dict[str, str] = {
    "logistics": "物流", "quality": "质量", "size": "尺码", "missing_wrong": "漏发错发",
    "description": "描述不符", "service": "服务", "price": "价格", "malicious": "恶意", "other": "其他",
}
#: Alert channel types (the 提醒渠道 table) and the events a channel can subscribe to (E1, E2).
CHANNEL_TYPES: tuple[str, ...] = ("feishu", "dingtalk", "wecom", "email", "sms")
CHANNEL_TYPE_ZH: dict[str, str] = {"feishu": "飞书", "dingtalk": "钉钉", "wecom": "企业微信", "email": "邮件", "sms": "短信"}
ALERT_EVENTS: tuple[str, ...] = ("new_case", "sla_warn", "sla_breach")
ALERT_EVENT_ZH: dict[str, str] = {"new_case": "新差评", "sla_warn": "时效预警", "sla_breach": "超时升级"}
SEVERITIES = ("high", "medium", "low")
SEVERITY_ZH = {"high": "高", "medium": "中", "low": "低"}
KEYWORD_KINDS = ("negative", "positive", "alarm", "topic", "negation", "contrast", "intensifier")
KEYWORD_KIND_ZH = {
    "negative": "负面", "positive": "正面", "alarm": "预警", "topic": "话题",
    "negation": "否定", "contrast": "转折", "intensifier": "程度",
}
REMEDIES = ("refund", "resend", "supervisor")
REMEDY_ZH = {"refund": "退款", "resend": "补发", "supervisor": "主管决定"}
TEMPLATE_KINDS = ("reply_3s", "revision_guidance", "care", "silver_member", "repurchase_coupon",
                  "delay_notice", "appeal", "coupon_expiry")
TEMPLATE_KIND_ZH = {
    "reply_3s": "3S回复", "revision_guidance": "评价修改指引", "care": "三日关怀", "silver_member": "三十日白银会员",
    "repurchase_coupon": "复购券", "delay_notice": "物流延迟补偿", "appeal": "平台申诉", "coupon_expiry": "券到期提醒",
}
#: Template kinds of the 推荐大使 programme (issue 20, :mod:`reviewops.handling.ambassadors`): rows of the 话术模板
#: sheet, not reply-builder kinds (the reply builder and the 跟进节奏 sheet use :data:`TEMPLATE_KINDS` only).
AMBASSADOR_TEMPLATE_KINDS = ("ambassador_invite", "ambassador_code", "ambassador_reward")
TEMPLATE_KIND_ZH.update({"ambassador_invite": "推荐大使邀请", "ambassador_code": "推荐大使推荐码",
                         "ambassador_reward": "推荐大使奖励通知"})
#: Placeholders an ambassador template may use (filled by handling.ambassadors).
AMBASSADOR_TEMPLATE_FIELDS = ("customer", "shop", "code", "coupon", "threshold", "gift", "reward")
#: Words an ambassador text may not contain at all: the programme rewards referrals, never reviews, so its
#: texts have no reason to mention reviews or ratings (checked on load for the ambassador templates and by
#: handling.ambassadors.check_programme_text on every text sent).
AMBASSADOR_REVIEW_WORDS_RE = re.compile(r"评价|好评|差评|中评|追评|晒图|评分|打分|五星|5星|星级|评论|点评|改评|删评|返现")
ANCHORS = ("created", "contacted", "remedy_delivered", "resolved")
ANCHOR_ZH = {"created": "建案", "contacted": "首次联系", "remedy_delivered": "补偿送达", "resolved": "问题解决"}
#: Placeholders a template may use; filled by the reply builder.
TEMPLATE_FIELDS = ("customer", "problem", "remedy", "coupon", "shop", "order_id", "days", "platform_rule")
ANY = "*"
#: Kinds of a 节假日 row: a day off (假日) or a make-up workday (调休上班).
HOLIDAY_KINDS = ("holiday", "workday")
HOLIDAY_KIND_ZH = {"holiday": "假日", "workday": "调休上班"}
#: Years a 节假日 date may lie in.
HOLIDAY_YEARS = (2000, 2099)
#: Reasons a P2 risk score can rest on (the 风险订单 table, :mod:`reviewops.prevention.risk`). The three rate
#: reasons compare the buyer's rate with the shop's (``min_ratio`` × the shop's rate); the others count events.
RISK_REASONS = ("refund_rate", "no_return", "returns", "serial", "bad_review", "malicious", "burst")
RISK_REASON_ZH = {"refund_rate": "退款率高", "no_return": "仅退款多", "returns": "退货多", "serial": "短时连续下单",
                  "bad_review": "曾给差评", "malicious": "恶意评价信号", "burst": "集中差评成员"}
#: The built-in 风险订单 rows (used when the policy's table is empty). Thresholds from shared/reference/prevention.md
#: §2: a rate ≥ 3× the shop's average (the platform's reported 90-day rule), 3 orders in a day (yueyue_repo), any
#: prior 中差评 (auto-review tools); weights are a first choice, see docs/prevention.md for how they were checked.
DEFAULT_RISK_RULES: tuple[dict[str, Any], ...] = (
    {"code": "refund_rate", "min_count": 2, "min_ratio": 3.0, "weight": 0.3,
     "action": "确认该商品已投保运费险（未投保则备好人工补偿方案）；订单备注，发货前核对商品"},
    {"code": "no_return", "min_count": 2, "min_ratio": 3.0, "weight": 0.4,
     "action": "发货前联系买家核对规格、数量与收货信息；打包拍照留证"},
    {"code": "returns", "min_count": 2, "min_ratio": 3.0, "weight": 0.2,
     "action": "确认运费险；随货附尺码/使用说明卡"},
    {"code": "serial", "min_count": 3, "min_ratio": None, "weight": 0.2,
     "action": "发货前联系买家确认每一单（规格、地址），避免重复下单后退款"},
    {"code": "bad_review", "min_count": 1, "min_ratio": None, "weight": 0.45,
     "action": "仔细打包并附质检记录（拍照留证）；发货后主动告知物流进度"},
    {"code": "malicious", "min_count": 1, "min_ratio": None, "weight": 0.7,
     "action": "主管人工复核后照常发货；保留聊天记录与打包视频作证据（不得拒绝交易或改价）"},
    {"code": "burst", "min_count": 1, "min_ratio": None, "weight": 0.6,
     "action": "主管人工复核；全程留证（打包视频、物流凭证），照常发货"},
)

#: Findings of the P3 listing audit (the 商品信息审计 table, :mod:`reviewops.prevention.listing_audit`).
LISTING_FINDINGS = ("no_dispatch", "late_dispatch", "region", "size_chart", "colour_note")
LISTING_FINDING_ZH = {"no_dispatch": "未写发货时效", "late_dispatch": "发货承诺未兑现", "region": "投诉地区未列为不发货",
                      "size_chart": "服装鞋类缺尺码表", "colour_note": "缺色差说明"}
#: The built-in 商品信息审计 rows (used when the policy's table is empty): shared/reference/prevention.md §3 (the
#: shortest shown promise binds; 不配送区域 stated; apparel needs a size table, coloured goods a 色差 note — shop
#: policy). Counts and rates are a first choice, see docs/prevention.md.
DEFAULT_LISTING_RULES: tuple[dict[str, Any], ...] = (
    {"code": "no_dispatch", "min_count": 1, "min_rate": None, "department": "运营/商品", "severity": "medium",
     "applies_to": "", "keywords": "",
     "action": "在发货时效设置与详情页写明发货时间（如“付款后48小时内发货”），并按近期实际发货用时承诺"},
    {"code": "late_dispatch", "min_count": 10, "min_rate": 0.1, "department": "物流/仓储", "severity": "high",
     "applies_to": "", "keywords": "",
     "action": "仓库按承诺时效排产发货；做不到时把承诺改为实际能做到的时效（以最短展示时效为准）"},
    {"code": "region", "min_count": 3, "min_rate": 2.0, "department": "物流/仓储", "severity": "medium",
     "applies_to": "", "keywords": "",
     "action": "在运费模板与详情页写明该地区不发货或时效较长，或为该地区换用更合适的快递"},
    {"code": "size_chart", "min_count": 2, "min_rate": None, "department": "运营/商品", "severity": "medium",
     "applies_to": "服装;服饰;鞋;靴;内衣;童装;女装;男装;裤;裙;衫;外套;卫衣;羽绒服;T恤", "keywords": "",
     "action": "补充尺码表（含实测尺寸与试穿建议），客服按尺码表推荐尺码"},
    {"code": "colour_note", "min_count": 2, "min_rate": None, "department": "运营/商品", "severity": "low",
     "applies_to": "", "keywords": "色差;颜色;偏色;褪色;与图片不符;和图片不一样;跟图片不一样;图片不符;实物不符",
     "action": "详情页加色差说明（实物拍摄、显示器差异），主图尽量还原实物颜色"},
)

#: What a P6 service commitment (the 服务承诺 table, :mod:`reviewops.prevention.commitments`) measures, and the unit
#: of its limit: paid → shipped; refund applied → first seller action; buyer's first message → first agent reply;
#: damage refund applied → refunded; return received → refunded.
COMMITMENT_MEASURES = ("dispatch_within_hours", "aftersales_response_hours", "chat_first_response_minutes",
                       "damage_claim_paid_hours", "return_no_reason_days")
COMMITMENT_MEASURE_ZH = {"dispatch_within_hours": "付款后发货用时(小时)", "aftersales_response_hours": "售后申请首次处理用时(小时)",
                         "chat_first_response_minutes": "咨询首次人工回复用时(分钟)",
                         "damage_claim_paid_hours": "破损理赔打款用时(小时)", "return_no_reason_days": "收到退货后退款用时(天)"}
COMMITMENT_UNIT = {"dispatch_within_hours": "hours", "aftersales_response_hours": "hours",
                   "chat_first_response_minutes": "minutes", "damage_claim_paid_hours": "hours",
                   "return_no_reason_days": "days"}
#: The built-in 服务承诺 rows (used when the policy's table is empty): shared/reference/prevention.md §4 (24小时售后响应
#: shop promise, 3-minute chat SLA of 千牛 tools, 7天无理由: refund within 7 days of receiving the return) and §3 (48 h
#: dispatch, the common default); 破损包赔 48 h is a first choice (no platform figure was found).
DEFAULT_COMMITMENTS: tuple[dict[str, Any], ...] = (
    {"code": "dispatch_48h", "name_zh": "48小时发货", "measure": "dispatch_within_hours", "limit": 48.0,
     "platform": "*", "warn_fraction": 0.75, "listing_words": "48小时发货;48小时内发货", "enabled": True},
    {"code": "aftersales_24h", "name_zh": "24小时售后响应", "measure": "aftersales_response_hours", "limit": 24.0,
     "platform": "*", "warn_fraction": 0.75, "listing_words": "24小时售后响应;售后响应", "enabled": True},
    {"code": "chat_3min", "name_zh": "3分钟客服响应", "measure": "chat_first_response_minutes", "limit": 3.0,
     "platform": "*", "warn_fraction": 0.67, "listing_words": "", "enabled": True},
    {"code": "damage_paid_48h", "name_zh": "破损包赔", "measure": "damage_claim_paid_hours", "limit": 48.0,
     "platform": "*", "warn_fraction": 0.75, "listing_words": "破损包赔;坏损包退;破损补寄", "enabled": True},
    {"code": "no_reason_7d", "name_zh": "7天无理由退货", "measure": "return_no_reason_days", "limit": 7.0,
     "platform": "*", "warn_fraction": 0.7, "listing_words": "7天无理由;七天无理由;7天退货", "enabled": True},
)

#: The 恶意识别词库 (issue 17): which reader a row feeds (buyer = extortion_scores on buyer texts, seller = the
#: compliance guard on what the shop sends, both) and the roles the rules of reviewops.grading.extortion read
#: (core/data/extortion_zh.tsv's header explains each).
EXTORTION_SIDES = ("buyer", "seller", "both")
EXTORTION_SIDE_ZH = {"buyer": "买家", "seller": "卖家", "both": "双方"}
EXTORTION_ROLES = ("benefit", "review", "action", "lever", "link", "negation", "honest", "report", "lawful", "flood",
                   "coerce", "abuse", "insult", "person", "smear", "divert", "rival", "del", "pressure", "request",
                   "ack", "uncond", "offsite", "rating", "illicit", "guard", "cond", "demand", "ultimatum", "go",
                   "intent")
#: The 申诉规则 (issue 17 §3, SPEC H3): the grounds of an appeal, how a deadline is counted and who set it.
APPEAL_GROUNDS = ("extortion", "rival", "abuse")
APPEAL_GROUND_ZH = {"extortion": "利用评价要挟", "rival": "同行或批量恶意", "abuse": "辱骂/隐私/广告"}
DEADLINE_BASES = ("calendar", "working")
DEADLINE_BASIS_ZH = {"calendar": "自然日", "working": "工作日"}
DEADLINE_KINDS = ("platform", "kit")
DEADLINE_KIND_ZH = {"platform": "平台规定", "kit": "系统目标"}
CONFIDENCES = ("H", "M", "L")
CONFIDENCE_ZH = {"H": "高", "M": "中", "L": "低"}
#: Evidence kinds an appeal requirement may name (the same as reviewops.handling.evidence.KINDS, which a test
#: checks; core cannot import handling).
EVIDENCE_KINDS = ("chat_export", "screenshot", "photo", "video", "recording", "logistics", "qc_report", "chat_message",
                  "other")
#: Bounds of the 申诉规则 numbers (as the TSV loader had them).
APPEAL_DEADLINE_MAX_DAYS = 365
APPEAL_TEXT_LIMITS = (50, 10000)

#: The 知识库 (P1) category column: a complaint category, or 通用 (``general``) for every case.
KB_GENERAL = "general"
KB_CATEGORIES: tuple[str, ...] = (*CATEGORY_CODES, KB_GENERAL)
KB_CATEGORY_ZH: dict[str, str] = {**CATEGORY_ZH, KB_GENERAL: "通用"}
#: The longest a 知识库 answer may be (characters, NFC) — the platforms' usual reply limit.
KB_ANSWER_MAX_CHARS = 500


def _kb(category: str, product: str, question: str, answer: str, keywords: str) -> dict[str, Any]:
    return {"category": category, "product": product or None, "question": question, "answer": answer,
            "keywords": keywords}


_CLOTHES = "T恤;牛仔裤;卫衣;连衣裙;羽绒服;开衫"
_SHOES = "小白鞋;跑步鞋;雪地靴;棉拖鞋;皮鞋"
_FOOD = "坚果;牛肉干;螺蛳粉;大米;普洱"
_BEAUTY = "面膜;洗面奶;口红;防晒霜;精华液"
#: The built-in 知识库 (used when the policy's table is empty): FAQ quick replies for every case (通用) and Q&A for
#: the demo shop's product kinds (reviewops.demo.catalogue). Written for this kit from the playbook's 一、前置预防
#: and shared/reference/prevention.md (运费险, 7天无理由, dispatch promises); sizes and care are common trade
#: practice, to be checked by each shop against its own size charts and labels. ``product`` holds terms
#: separated by ; — an entry fits a product whose id, SKU, merchant code, category or title contains one of them.
DEFAULT_KNOWLEDGE: tuple[dict[str, Any], ...] = (
    _kb("general", "", "下单后多久发货？",
        "亲，现货商品付款后48小时内发货，预售商品以详情页标注的发货时间为准；发货后可在订单详情查看快递单号和物流轨迹。"
        "节假日期间的发货安排以店铺首页公告为准～", "发货;多久发;什么时候发;几天发;发货时间"),
    _kb("general", "", "支持7天无理由退货吗？怎么申请？",
        "亲，本店商品支持7天无理由退货（定制商品、已拆封的食品和贴身用品等平台规定不适用的除外）。签收后7天内在订单详情点"
        "“申请售后—退货退款”，原因选“7天无理由”，商品保持完好、不影响二次销售，寄回后填写退货快递单号，我们收到后尽快为您退款。",
        "7天无理由;七天无理由;退货;怎么退;申请售后"),
    _kb("general", "", "有运费险吗？退货运费谁出？",
        "亲，带“运费险”标识的商品下单时已含退货运费险，退货时选择上门取件或自行寄回，运费会按平台规则理赔到您的账户。"
        "如果是质量问题、发错或漏发，退货运费由本店承担，请先联系客服登记。", "运费险;运费;退货运费;邮费"),
    _kb("general", "", "客服什么时间在线？多久回复？",
        "亲，客服在线时间为每天9:00–22:00，在线时一般3分钟内回复；夜间留言我们会在次日上班后第一时间处理，"
        "售后问题24小时内给您答复。", "客服;在线;人工;回复慢;没人回"),
    _kb("general", "", "怎么开发票？",
        "亲，本店可开具电子普通发票。确认收货后在订单详情点“申请开票”，或把发票抬头和税号发给客服，"
        "一般3个工作日内开出并发送到您的订单。", "发票;开票;抬头;税号"),
    _kb("logistics", "", "快递几天能到？",
        "亲，发货后江浙沪一般1–2天送达，大部分省份2–4天，新疆、西藏、青海等偏远地区约5–7天，具体以快递轨迹为准。"
        "超过承诺时间还没送到的，请联系客服，我们帮您催件跟进。", "几天到;多久到;快递;送达;慢"),
    _kb("logistics", "", "物流好几天没更新怎么办？",
        "亲，非常抱歉让您着急了！请把订单号发给客服，我们马上联系快递核实包裹位置；超过48小时没有轨迹更新的，"
        "我们会为您登记补发或退款，不让您白等。", "物流不动;没更新;不更新;停滞;查件;丢件"),
    _kb("logistics", "", "哪些地区不发货？",
        "亲，新疆、西藏等偏远地区和部分海岛可能不在配送范围内或需要补邮费，下单前请查看详情页的“配送范围”说明，"
        "或先咨询客服确认，避免下单后无法发货。", "偏远;不发货;配送范围;新疆;西藏;海岛"),
    _kb("logistics", "", "可以指定快递吗？",
        "亲，默认使用本店合作快递发货；如需指定快递，请在下单时留言备注，我们尽量安排。指定顺丰等快递可能需要补运费差价，"
        "请先联系客服确认。", "指定快递;顺丰;京东快递;换快递"),
    _kb("missing_wrong", "", "收到的商品少件或发错了怎么办？",
        "亲，非常抱歉！请拍下收到的商品、外包装和快递面单发给客服，我们核实后为您免费补发或换货，退回的运费由本店承担。",
        "少件;漏发;少发;发错;错发;不是我买的"),
    _kb("quality", "", "收到商品有破损怎么办？",
        "亲，非常抱歉！请在签收后48小时内拍下破损处、外包装和快递面单（有开箱视频更好）发给客服，"
        "我们核实后为您补发或退款，相关运费由本店承担。", "破损;坏了;压坏;碎了;摔坏"),
    _kb("description", "", "实物和图片有色差吗？",
        "亲，商品图片均为实物拍摄，但不同手机、电脑屏幕的显示效果和拍摄光线会带来轻微色差，请以收到的实物为准。"
        "如果颜色差别明显、与描述不符，请在自然光下拍照发给客服，我们为您退换。", "色差;颜色;和图片不一样;实物;图片"),
    _kb("price", "", "刚买完就降价了，能退差价吗？",
        "亲，价格保护以商品页的“价保”标识为准：价保期内同款降价的，把订单号发给客服即可申请退差价；"
        "参加平台大促的商品以活动规则为准。", "降价;差价;价保;便宜了"),
    _kb("size", "", "收到的商品大小、尺寸和描述不一样怎么办？",
        "亲，非常抱歉！请用尺子量一下实物的尺寸（食品、水果可以称重），连同吊牌或包装上的规格拍照发给客服，"
        "我们对照详情页标注的规格核实后，为您换货或退款。", "尺寸;大小;太小;太大;个头;不一样"),
    _kb("size", _CLOTHES, "衣服尺码怎么选？",
        "亲，请参考详情页尺码表里的实测数据（胸围、衣长、肩宽），拿一件自己穿着合身的同类衣服平铺测量对比最准确。"
        "身高体重在两个尺码之间时，喜欢宽松选大一码、喜欢修身选小一码；也可以把身高体重发给客服，帮您推荐尺码。",
        "尺码;码数;大小;偏大;偏小;身高;体重"),
    _kb("size", "牛仔裤", "牛仔裤的尺码和腰围怎么对应？",
        "亲，本店牛仔裤尺码对应腰围：25码约64cm（1尺9）、26码约66cm（2尺）、27码约69cm（2尺1）、28码约71cm（2尺2）、"
        "29码约74cm（2尺3）、30码约76cm（2尺4）。请按平量腰围选择，臀围、大腿偏粗的建议选大一码。",
        "腰围;尺码;几码;牛仔裤;裤子"),
    _kb("size", _SHOES, "鞋子偏大还是偏小？怎么选码？",
        "亲，请站立测量脚长（脚跟到最长脚趾），对照详情页尺码表选择：脚长约230mm选36码、235mm选37码，每5mm一个码。"
        "脚背高或脚偏宽的建议选大一码；雪地靴和棉拖按平时的码数即可。", "鞋码;尺码;偏大;偏小;脚长;挤脚;磨脚"),
    _kb("size", "纸尿裤", "纸尿裤尺码怎么选？",
        "亲，按宝宝体重选择：NB码约5kg以下，S码4–8kg，M码6–11kg，L码9–14kg，XL码12kg以上。处在两个尺码交界时建议选大一码，"
        "腰贴处留一指宽松度，宝宝更舒服、不勒腿。", "尺码;体重;勒腿;侧漏;纸尿裤"),
    _kb("size", "连体衣", "婴儿连体衣的尺码对应多大的宝宝？",
        "亲，尺码数字对应宝宝身高（cm）：59码约0–3个月，66码约3–6个月，73码约6–12个月，80码约12–18个月，"
        "90码约18–24个月。宝宝长得快，建议按身高选大一码。", "尺码;月龄;身高;连体衣;哈衣"),
    _kb("quality", "T恤;卫衣;连衣裙;开衫", "纯棉衣服会缩水吗？怎么洗？",
        "亲，纯棉面料第一次洗涤会有约1–3%的轻微缩水，属于正常现象。建议30℃以下冷水反面手洗或轻柔机洗，深浅色分开洗，"
        "不要暴晒和高温烘干，平铺或挂起阴干，可以减少缩水和变形。", "缩水;洗;起球;变形;掉色"),
    _kb("quality", "羽绒服", "羽绒服钻绒怎么办？能机洗吗？",
        "亲，少量钻绒是羽绒服的正常现象，看到绒毛时请从里面往回拉，不要从外面直接拔，越拔会越多。清洗建议30℃以下温水加"
        "中性洗涤剂轻轻按压手洗，不要拧干和暴晒，晾干后轻拍恢复蓬松。钻绒严重的请联系客服处理。", "钻绒;跑绒;掉毛;羽绒;洗"),
    _kb("quality", _FOOD, "食品保质期多久？怎么保存？",
        "亲，生产日期和保质期印在每件包装上，发货时保证在保质期内并留有充足的食用时间。开封后请密封，放在阴凉干燥处，"
        "避免阳光直射；坚果、牛肉干开袋后建议尽快吃完。", "保质期;生产日期;保存;过期;受潮"),
    _kb("quality", "苹果", "收到的苹果有磕碰或坏果怎么办？",
        "亲，水果在运输中难免有少量磕碰。签收后24小时内，请把坏果和整箱拍照发给客服并注明坏果个数，我们核实后按坏果比例"
        "为您退款或补发。苹果收到后放冰箱冷藏，口感更脆。", "坏果;烂果;磕碰;不新鲜;苹果"),
    _kb("quality", _BEAUTY, "敏感肌能用吗？用了过敏怎么办？",
        "亲，首次使用前请在耳后或手腕内侧小面积试用24小时，没有泛红刺痒再正常使用。如果出现过敏，请立即停用并用清水洗净，"
        "必要时及时就医，并联系客服说明情况，我们协助您办理售后。", "过敏;敏感肌;刺痛;泛红;烂脸"),
    _kb("description", "口红", "口红色号和图片一样吗？",
        "亲，色号图是自然光下的试色，不同唇色、灯光和屏幕显示都会有差异。建议参考详情页不同肤色的试色图选择；"
        "未拆封的商品支持7天无理由退换。", "色号;色差;显色;口红"),
    _kb("quality", "充电器;充电宝;数据线", "充电器支持哪些手机？会伤电池吗？",
        "亲，20W PD快充支持iPhone 8及以后的机型和大部分Type-C接口手机，会自动匹配设备支持的功率，不会损伤电池。"
        "请配合支持快充的数据线使用，避免在高温、潮湿的环境充电。", "快充;兼容;伤电池;充不进;发烫"),
    _kb("quality", "蓝牙耳机", "蓝牙耳机连不上或只有一边响怎么办？",
        "亲，请先把两只耳机放回充电仓，合盖10秒再打开；在手机蓝牙设置里删除旧的配对记录后重新搜索连接。仍然只有一边响的，"
        "长按充电仓按键10秒恢复出厂设置后再试；还不行请联系客服，为您检测或换新。", "连不上;一边响;断连;配对;没声音"),
    _kb("description", "机械键盘", "青轴、红轴、茶轴有什么区别？",
        "亲，青轴段落感明显、有清脆的“咔哒”声，打字手感好但声音较大；红轴直上直下、轻柔安静，适合游戏和办公室；"
        "茶轴介于两者之间，有轻微段落感、声音小。怕吵的话建议选红轴或茶轴。", "青轴;红轴;茶轴;声音大;手感"),
    _kb("description", "手机壳", "手机壳会发黄吗？适配哪些型号？",
        "亲，透明硅胶壳长期受紫外线和皮肤油脂影响会逐渐发黄，这是材质特性，平时用酒精棉片擦拭可以延缓。下单前请核对"
        "“适用型号”与您的手机完全一致，比如iPhone 16和16 Pro的壳不通用。", "发黄;型号;不合适;装不上;手机壳"),
    _kb("quality", "保温杯;吸管杯", "保温杯第一次怎么用？保温效果怎么样？",
        "亲，首次使用前请用温水加少量小苏打清洗，再用开水烫一遍。装满开水拧紧盖子，室温下6小时后水温约70℃以上。"
        "请不要装碳酸饮料，也不要长时间存放牛奶，不能放进微波炉。", "保温;异味;漏水;第一次用;清洗"),
    _kb("quality", "四件套;毛毯;枕头", "四件套第一次洗会掉色吗？",
        "亲，纯棉活性印染的四件套第一次洗涤可能有少量浮色，属于正常现象。建议首次单独冷水清洗，不要用含漂白成分的洗衣液，"
        "阴干后色牢度会更好。", "掉色;褪色;起球;异味;洗"),
    _kb("quality", "辅食机", "辅食机怎么清洗？有保修吗？",
        "亲，刀头和杯体可以拆下用清水冲洗，主机底座不能泡水，用湿布擦拭即可。小家电享受一年保修，"
        "使用中有任何问题请联系客服，我们安排检测维修或换新。", "清洗;保修;不转;坏了;噪音"),
    _kb("quality", "湿巾", "婴儿湿巾可以擦嘴吗？开封后能放多久？",
        "亲，手口湿巾可以给宝宝擦手擦嘴，成分表印在包装背面。开封后每次用完请盖紧或贴好封口，避免变干；建议开封后30天内用完。"
        "如果宝宝皮肤出现发红，请停用并联系客服。", "湿巾;擦嘴;变干;干了;刺激"),
    _kb("missing_wrong", "收纳箱", "收纳箱是几只装？",
        "亲，标题规格为3只装，叠放在一个包裹里发出。收到时请核对数量，少件的请拍照联系客服，我们为您补发。",
        "几只;数量;少了;收纳箱"),
)

_TRUE = {"是", "true", "yes", "y", "1", "on", "对", "√", "✓"}
_FALSE = {"否", "false", "no", "n", "0", "off", "不", "×", "✗", ""}


# ----------------------------------------------------------------------- schema
@dataclass(frozen=True)
class Column:
    """One column of a policy table: key, Chinese header, type, rules and help."""

    key: str
    zh: str
    type: str  # text | code | int | float | yuan | bool | choice | regex | hhmm | date
    help: str
    required: bool = True
    choices: tuple[str, ...] = ()
    choice_zh: Mapping[str, str] = field(default_factory=dict)
    min: float | None = None
    allow_any: bool = False  # choice may be "*" (any)

    @property
    def header(self) -> str:
        unit = "(元)" if self.type == "yuan" else ""
        return f"{self.zh}{unit}"


@dataclass(frozen=True)
class Table:
    """A policy table: sheet name, columns, key columns (unique) and help."""

    key: str
    sheet: str
    help: str
    columns: tuple[Column, ...]
    unique: tuple[str, ...] = ()
    optional: bool = False  # a policy or workbook without this table reads it as empty
    omit_empty: bool = False  # left out of the policy JSON (and its SHA-256) while empty

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)


_ROLE_REF = "role"  # choice filled from the roles table at validation time

TABLES: dict[str, Table] = {t.key: t for t in (
    Table("categories", "分类时效", "每个投诉分类的响应时效、负责角色和严重程度（SPEC E2）。九个分类都必须有且只有一行。", (
        Column("code", "分类代码", "choice", "SPEC 分类代码，不可改名 / category code", choices=CATEGORY_CODES,
               choice_zh=CATEGORY_ZH),
        Column("name_zh", "分类名称", "text", "显示名称 / display name"),
        Column("sla_hours", "响应时效(小时)", "float", "从发现差评起多少小时内必须响应 / hours to respond", min=0.05),
        Column("owner_role", "负责角色", _ROLE_REF, "负责处理的角色代码 / owner role"),
        Column("severity", "严重程度", "choice", "高/中/低", choices=SEVERITIES, choice_zh=SEVERITY_ZH),
        Column("appeal", "需平台申诉", "bool", "是否同时准备平台申诉材料 / also prepare a platform appeal"),
        Column("department", "改进部门", "text", "周报中负责改进的部门（采购/物流/客服…）/ department in the weekly report"),
        Column("action", "改进建议", "text", "周报中对该分类的建议措施 / recommended action in the weekly report",
               required=False),
        Column("priority", "主分类优先级", "int", "多个分类同分时，数字小的为主分类 / tie-break, lower wins", min=1),
    ), unique=("code",)),
    Table("roles", "角色权限", "角色、升级链、补偿审批上限与查看完整个人信息的权限。", (
        Column("code", "角色代码", "code", "英文小写代码，如 agent / role code"),
        Column("name_zh", "角色名称", "text", "显示名称 / display name"),
        Column("escalates_to", "升级至", _ROLE_REF, "超时后升级给哪个角色（空=不再升级）/ escalation target", required=False),
        Column("case_limit_fen", "单案审批上限", "yuan", "本角色对一个案件可批准的补偿累计上限 / per-case approval limit"),
        Column("window_days", "滚动窗口(天)", "int", "累计上限的滚动窗口天数 / rolling window in days", min=1),
        Column("window_limit_fen", "窗口累计上限", "yuan", "窗口内对同一客户批准的补偿累计上限 / per-customer limit in the window"),
        Column("can_unmask", "可查看完整个人信息", "bool", "是否可逐条查看未打码的手机/姓名/地址（留痕）/ may unmask PII"),
    ), unique=("code",)),
    Table("keywords", "词库", "分类器的词库：负面/正面情感词、预警词、话题词、否定词、转折词、程度词。词语按最长匹配。", (
        Column("word", "词语", "text", "要匹配的词（不区分大小写，全角半角统一）/ word or phrase"),
        Column("kind", "类型", "choice", "负面/正面/预警/话题/否定/转折/程度", choices=KEYWORD_KINDS, choice_zh=KEYWORD_KIND_ZH),
        Column("category", "分类", "choice", "该词指向的投诉分类（可空）/ category it points to", required=False,
               choices=CATEGORY_CODES, choice_zh=CATEGORY_ZH),
        Column("weight", "权重", "float", "负面/正面：情感强度；话题：分类权重；程度：倍数 / weight", min=0),
    ), unique=("word",)),
    Table("remedy_bands", "补偿档位", "按订单金额选择补偿方案（SPEC H1）。区间左开右闭，必须从 0 开始连续覆盖，最后一档上限留空。", (
        Column("min_fen", "订单金额下限", "yuan", "大于此金额 / above this amount"),
        Column("max_fen", "订单金额上限", "yuan", "不超过此金额（空=无上限）/ up to and including (blank = no limit)",
               required=False),
        Column("remedy", "补偿方式", "choice", "退款/补发/主管决定", choices=REMEDIES, choice_zh=REMEDY_ZH),
        Column("coupon_fen", "附赠券", "yuan", "附赠优惠券面额（可空）/ coupon value", required=False),
        Column("approver_role", "审批角色", _ROLE_REF, "需要哪个角色批准 / approving role"),
    )),
    Table("tiers", "客户分层", "客户分层规则（SPEC D3），按优先级从小到大匹配第一条；最后应有一条无条件的兜底分层。", (
        Column("code", "分层代码", "code", "英文小写代码 / tier code"),
        Column("name_zh", "分层名称", "text", "显示名称 / display name"),
        Column("priority", "匹配优先级", "int", "小的先匹配 / lower matches first", min=1),
        Column("min_annual_spend_fen", "年消费不低于", "yuan", "近一年消费 ≥ 此金额（空=不限）/ annual spend at least",
               required=False),
        Column("max_orders", "订单数不超过", "int", "历史订单数 ≤ 此数（空=不限）/ at most this many orders", required=False,
               min=0),
        Column("min_silent_days", "沉默天数不少于", "int", "距上次下单 ≥ 此天数（空=不限）/ days since last order at least",
               required=False, min=0),
        Column("gift", "处理后礼遇", "text", "差评处理后给予的礼遇 / gift after handling", required=False),
        Column("gift_cost_limit_fen", "礼遇成本上限", "yuan", "礼遇成本上限（空=无）/ gift cost cap", required=False),
        Column("approach", "处理方式", "text", "补偿与沟通方式说明 / how to approach", required=False),
    ), unique=("code",)),
    Table("templates", "话术模板", "回复与跟进话术。可用占位符：{customer} {problem} {remedy} {coupon} {shop} {order_id} {days} "
          "{platform_rule}；推荐大使话术（推荐大使邀请/推荐码/奖励通知）可用 {customer} {shop} {code} {coupon} {threshold} {gift} "
          "{reward}，且不得提及评价或评分。不得含以好评/改评为条件的利益诱导（见“违规用语”）。", (
        Column("kind", "用途", "choice", "3S回复/评价修改指引/三日关怀/…/推荐大使邀请", choices=TEMPLATE_KINDS
               + AMBASSADOR_TEMPLATE_KINDS, choice_zh=TEMPLATE_KIND_ZH),
        Column("category", "分类", "choice", "适用分类，* 表示全部 / category or *", choices=CATEGORY_CODES,
               choice_zh=CATEGORY_ZH, allow_any=True),
        Column("platform", "平台", "choice", "适用平台，* 表示全部 / platform or *", choices=PLATFORMS, choice_zh=PLATFORM_ZH,
               allow_any=True),
        Column("text", "话术", "text", "模板正文 / template text"),
    ), unique=("kind", "category", "platform")),
    Table("followups", "跟进节奏", "跟进任务：从哪个时间点起多少小时到期，用哪个话术（SPEC H1、V1、V2）。", (
        Column("step", "步骤代码", "code", "英文小写代码 / step code"),
        Column("name_zh", "步骤名称", "text", "显示名称 / display name"),
        Column("anchor", "起算点", "choice", "建案/首次联系/补偿送达/问题解决", choices=ANCHORS, choice_zh=ANCHOR_ZH),
        Column("offset_hours", "间隔(小时)", "float", "起算点之后多少小时到期 / due this many hours after the anchor", min=0),
        Column("template_kind", "话术用途", "choice", "发送哪类话术 / template kind", choices=TEMPLATE_KINDS,
               choice_zh=TEMPLATE_KIND_ZH),
    ), unique=("step",)),
    Table("platforms", "平台规则", "各平台的回复长度上限与申诉方式。", (
        Column("platform", "平台", "choice", "平台代码 / platform", choices=PLATFORMS, choice_zh=PLATFORM_ZH),
        Column("reply_max_chars", "回复字数上限", "int", "商家回复/评价解释的最多字数 / reply length limit", min=1),
        Column("appeal_type", "申诉类型", "text", "申诉时选择的类型 / appeal type to choose"),
        Column("appeal_evidence", "申诉证据", "text", "需要提交的证据 / evidence to submit"),
    ), unique=("platform",)),
    Table("forbidden", "违规用语", "以好评/改评/删评为条件的利益诱导用语（正则表达式）。话术与客服编辑的消息命中即被拦截。", (
        Column("pattern", "匹配规则(正则)", "regex", "Python 正则表达式 / regular expression"),
        Column("reason_zh", "拦截原因", "text", "给客服看的原因 / reason shown"),
    ), unique=("pattern",)),
    Table("channels", "提醒渠道", "新差评、时效预警和超时升级发到哪里（SPEC E1）：飞书/钉钉/企业微信群机器人、邮件、短信。"
          "密钥不写在表里，只写保存密钥的环境变量名。", (
        Column("name", "渠道代码", "code", "英文小写代码，如 kefu_feishu / channel code"),
        Column("type", "渠道类型", "choice", "飞书/钉钉/企业微信/邮件/短信 / channel type", choices=CHANNEL_TYPES,
               choice_zh=CHANNEL_TYPE_ZH),
        Column("target", "地址", "text", "机器人 Webhook 地址（https）；邮件：收件地址，逗号分隔；短信：可空（发给值班人手机）"
               " / robot webhook URL, e-mail addresses, or blank for SMS", required=False),
        Column("secret_env", "密钥环境变量", "text", "保存加签密钥的环境变量名，如 REVIEWOPS_FEISHU_SECRET（可空）/ name of "
               "the environment variable holding the signing secret", required=False),
        Column("events", "提醒事件", "text", "new_case 新差评；sla_warn 时效预警；sla_breach 超时升级；分号分隔，空=全部 / "
               "events, ;-separated, blank = all", required=False),
        Column("enabled", "启用", "bool", "是否启用 / enabled"),
        Column("per_minute", "每分钟上限", "int", "本渠道每分钟最多发几条；空=服务的上限（飞书100、钉钉/企业微信20、邮件/短信30）/ "
               "messages per minute; blank = the service's limit", required=False, min=1),
    ), unique=("name",), optional=True),
    Table("duty", "值班表", "谁在什么时间值班（北京时间）。提醒会 @ 当时值班的负责角色和客服主管，短信和邮件也发给他们。", (
        Column("role", "角色", _ROLE_REF, "值班角色 / role on duty"),
        Column("name", "姓名", "text", "显示名称 / name"),
        Column("weekdays", "星期", "text", "1=周一 … 7=周日，如 1-5 或 1,3,5；空=每天 / weekdays, blank = every day",
               required=False),
        Column("start", "开始", "hhmm", "值班开始，如 09:00 / shift start"),
        Column("end", "结束", "hhmm", "值班结束；早于开始表示跨夜 / shift end (before start = overnight)"),
        Column("mobile", "手机", "text", "钉钉/企业微信 @ 与短信用 / for DingTalk/WeCom mentions and SMS", required=False),
        Column("feishu_id", "飞书用户ID", "text", "飞书 open_id 或 user_id，用于 @ / Feishu id for mentions", required=False),
        Column("wecom_id", "企业微信账号", "text", "企业微信 userid，用于 @ / WeCom userid for mentions", required=False),
        Column("email", "邮箱", "text", "邮件提醒另抄送给此人 / also e-mailed", required=False),
    ), optional=True),
    Table("holidays", "节假日", "店铺自己录入的法定节假日与调休上班日（国务院办公厅每年发布），优先于内置的 chinese_calendar。"
          "内置日历缺少某一年时（如 2027 年），在这里录入该年的全部假日和调休上班日；某年只要有一行，该年就视为已录入，"
          "未列出的日子按周一至周五计算。", (
        Column("date", "日期", "date", "年-月-日，如 2027-01-01 / date, e.g. 2027-01-01"),
        Column("kind", "类型", "choice", "假日=放假不计时；调休上班=周末补班照常计时 / holiday or make-up workday",
               choices=HOLIDAY_KINDS, choice_zh=HOLIDAY_KIND_ZH),
        Column("name", "名称", "text", "如 元旦、春节 / name, e.g. New Year's Day", required=False),
    ), unique=("date",), optional=True, omit_empty=True),
    Table("risk_rules", "风险订单", "高风险订单提示（SPEC P2）：按买家在本店的历史（下单前的数据，近 risk_lookback_days 天）"
          "给新订单打分。每行一个原因：达到门槛即计入，分数 = 1 − ∏(1 − 权重)，计数类原因按倍数加重（最多 3 倍）；"
          "分数 ≥ risk_flag_threshold 即提示，并给出本表的建议措施。只提示、不拉黑：不得据此拒绝交易或改价。空表 = 内置规则。", (
        Column("code", "原因代码", "choice", "退款率高/仅退款多/退货多/短时连续下单/曾给差评/恶意评价信号/集中差评成员",
               choices=RISK_REASONS, choice_zh=RISK_REASON_ZH),
        Column("min_count", "最少次数", "int", "该买家至少有这么多次（退款、仅退款、退货、差评…；连续下单为窗口内含本单的单数）"
               " / at least this many events (serial: orders in the window, this one included)", min=1),
        Column("min_ratio", "高于本店倍数", "float", "比率类原因：买家比率 ≥ 本店比率 × 此倍数（空=只看次数）/ rate reasons: "
               "the buyer's rate at least this multiple of the shop's (blank = count only)", required=False, min=0),
        Column("weight", "权重", "float", "0–1，达到门槛时计入分数的权重（0=停用）/ weight 0–1 (0 = off)", min=0),
        Column("action", "建议措施", "text", "提示订单时给客服的建议（运费险、发货前联系、仔细打包…）/ recommended action"),
    ), unique=("code",), optional=True, omit_empty=True),
    Table("knowledge", "知识库", "产品知识库与常见问题快捷回复（SPEC P1）：案件处理表单按案件的商品和分类推荐，"
          "知识测验从这里出题。答案与话术一样检查：不得含以好评/改评为条件的利益诱导（见“违规用语”），最多 500 字。"
          "空表 = 内置知识库。", (
        Column("category", "分类", "choice", "适用的投诉分类，或 通用（所有案件）/ complaint category or 通用 (general)",
               choices=KB_CATEGORIES, choice_zh=KB_CATEGORY_ZH),
        Column("product", "商品", "text", "商品编号、SKU、商家编码、类目或标题中的词，多个用分号分隔；空=所有商品 / product "
               "id, SKU, merchant code, category or title words, ;-separated; blank = every product", required=False),
        Column("question", "问题", "text", "买家会怎么问 / the buyer's question"),
        Column("answer", "答案", "text", "标准答案（可直接插入回复）/ the answer (can be inserted into a reply)"),
        Column("keywords", "关键词", "text", "评价或问题里出现这些词时推荐本条，分号分隔 / words in a review that make this "
               "entry fit, ;-separated", required=False),
    ), unique=("category", "product", "question"), optional=True, omit_empty=True),
    Table("listing_rules", "商品信息审计", "商品信息透明度审计（SPEC P3）：每条商品链接缺少或与事实不符的信息——未写发货时效、"
          "发货承诺被本店实际发货打破、投诉物流的地区未列为不发货、服装鞋类有尺码投诉却无尺码表、有色差/描述不符投诉却无色差说明。"
          "每行一种问题：达到门槛即列出，并给出负责部门、严重程度与建议。空表 = 内置规则。", (
        Column("code", "问题代码", "choice", "未写发货时效/发货承诺未兑现/投诉地区未列为不发货/服装鞋类缺尺码表/缺色差说明",
               choices=LISTING_FINDINGS, choice_zh=LISTING_FINDING_ZH),
        Column("min_count", "最少次数", "int", "未写发货时效：期间订单数；发货承诺：已发货订单数；地区、尺码、色差：相关投诉数"
               " / at least this many orders (no_dispatch, late_dispatch) or complaints (the others)", min=0),
        Column("min_rate", "最低比率", "float", "发货承诺：超时发货占比（0–1）；地区：该地区物流投诉率 ≥ 本店物流投诉率 × 此倍数；"
               "空=只看次数 / late share (late_dispatch) or multiple of the shop's logistics complaint rate (region)",
               required=False, min=0),
        Column("department", "负责部门", "text", "负责改进的部门（物流/仓储、运营/商品、客服…）/ owner department"),
        Column("severity", "严重程度", "choice", "高/中/低", choices=SEVERITIES, choice_zh=SEVERITY_ZH),
        Column("applies_to", "适用商品", "text", "商品类目或标题中的词，分号分隔；空=所有商品 / category or title words, "
               ";-separated; blank = every product", required=False),
        Column("keywords", "投诉关键词", "text", "评价中出现这些词也算相关投诉（如 色差），分号分隔 / words in a review that "
               "make it count, ;-separated", required=False),
        Column("action", "建议措施", "text", "给负责部门的改进建议 / recommended fix"),
    ), unique=("code",), optional=True, omit_empty=True),
    Table("commitments", "服务承诺", "店铺公开的服务承诺（SPEC P6）：24小时售后响应、破损包赔、48小时发货、7天无理由……"
          "每行一项承诺：衡量什么（付款→发货、售后申请→首次处理、咨询→首次人工回复、破损退款申请→打款、收到退货→退款）、"
          "上限（单位见“衡量方式”：小时/分钟/天，恰好等于上限算守约）、适用平台、预警比例（已用时 ≥ 上限 × 比例即预警）。"
          "达成率与违约明细进周报和数据看板，进行中的违约发提醒。空表 = 内置承诺。", (
        Column("code", "承诺代码", "code", "英文小写代码，如 dispatch_48h / commitment code"),
        Column("name_zh", "承诺名称", "text", "店铺展示的承诺，如 48小时发货 / the commitment as shown"),
        Column("measure", "衡量方式", "choice", "付款后发货用时(小时)/售后申请首次处理用时(小时)/咨询首次人工回复用时(分钟)/"
               "破损理赔打款用时(小时)/收到退货后退款用时(天) / what is measured", choices=COMMITMENT_MEASURES,
               choice_zh=COMMITMENT_MEASURE_ZH),
        Column("limit", "上限", "float", "承诺的时限，单位随衡量方式（小时/分钟/天）/ the limit in the measure's unit",
               min=0.01),
        Column("platform", "平台", "choice", "只对该平台的店铺计算，* 表示全部 / platform or * for all", choices=PLATFORMS,
               choice_zh=PLATFORM_ZH, allow_any=True),
        Column("warn_fraction", "预警比例", "float", "0–1 之间：已用时达到上限的这一比例即预警 / warn when this share of "
               "the limit has passed", min=0.01),
        Column("listing_words", "商品页用语", "text", "商品导出的“服务承诺”中出现这些词即算该商品展示了本承诺，分号分隔 / "
               "words in a listing's commitments that mean it shows this one, ;-separated", required=False),
        Column("enabled", "启用", "bool", "是否计算 / measured"),
    ), unique=("code",), optional=True, omit_empty=True),
    Table("extortion_lexicon", "恶意识别词库", "恶意差评检测（买家的勒索、辱骂、同行抹黑）与合规拦截（店铺发出的好评返现类消息）"
          "共用的词库（issue 17）。每行一个词：用于哪一方、角色（benefit 好处、review 评价、action 动作、lever 改评删评、"
          "link 交换条件、negation 否定、flood 多号/曝光、coerce 胁迫、abuse 辱骂……各角色的含义见 core/data/extortion_zh.tsv "
          "的说明）、权重 0–1。匹配前统一全角半角、大小写、去空格，数字写作 #（转50 → 转#）。判定阈值是参数 extortion_threshold。"
          "改动后 reviewops policy import 即生效。空表 = 内置词库。", (
        Column("side", "适用方", "choice", "买家=检测买家消息与评价；卖家=合规拦截店铺消息；双方 / buyer, seller or both",
               choices=EXTORTION_SIDES, choice_zh=EXTORTION_SIDE_ZH),
        Column("role", "角色", "choice", "词在规则中的角色（benefit、review、action、lever、link、negation、flood、coerce、"
               "abuse、insult …）/ the word's role in the rules", choices=EXTORTION_ROLES),
        Column("term", "词语", "text", "要匹配的词（# 代表任意数字）/ term; # stands for any number"),
        Column("weight", "权重", "float", "0–1；guard 行为 0（只阻止更短的词在其中匹配）/ weight 0–1", min=0),
        Column("note", "备注", "text", "说明 / note", required=False),
    ), unique=("side", "role", "term"), optional=True, omit_empty=True),
    Table("appeal_rules", "申诉规则", "恶意差评的平台申诉规则（SPEC H3）：每个平台 × 申诉理由一行——申诉类型、入口、平台要求与建议的"
          "证据、从评价时间起的申诉时限、申诉文字上限、是否只能申诉一次。证据写成“说明=证据类别|证据类别”，多项用分号分隔；"
          "review 表示评价本身即证据。证据类别：" + "、".join(EVIDENCE_KINDS) + "。表中有行时，6 个平台 × 3 个理由都必须有且只有一行。"
          "空表 = 内置规则（来自 shared/reference/appeals.md，请在平台后台核实）。", (
        Column("platform", "平台", "choice", "平台 / platform", choices=PLATFORMS, choice_zh=PLATFORM_ZH),
        Column("ground", "申诉理由", "choice", "利用评价要挟/同行或批量恶意/辱骂隐私广告 / ground", choices=APPEAL_GROUNDS,
               choice_zh=APPEAL_GROUND_ZH),
        Column("appeal_type", "申诉类型", "text", "在平台申诉表单中选择的类型 / appeal type to choose"),
        Column("entry", "申诉入口", "text", "申诉表单所在的菜单路径 / where the form is"),
        Column("required", "必需证据", "text", "说明=证据类别|证据类别；分号分隔；或 review / required evidence"),
        Column("recommended", "建议证据", "text", "同上，核对清单标为“建议” / recommended evidence, same syntax",
               required=False),
        Column("deadline_days", "时限天数", "int", f"评价后多少天内必须申诉（1–{APPEAL_DEADLINE_MAX_DAYS}）/ days from the "
               "review time", min=1),
        Column("deadline_basis", "计日方式", "choice", "自然日/工作日（按节假日日历，截止到当日工作时间结束）/ calendar or "
               "working days", choices=DEADLINE_BASES, choice_zh=DEADLINE_BASIS_ZH),
        Column("deadline_kind", "时限来源", "choice", "平台规定/系统目标（未查到平台时限时本系统的申诉目标）/ platform rule or "
               "the kit's own target", choices=DEADLINE_KINDS, choice_zh=DEADLINE_KIND_ZH),
        Column("text_limit", "字数上限", "int", f"申诉文字最多多少字（{APPEAL_TEXT_LIMITS[0]}–{APPEAL_TEXT_LIMITS[1]}）/ "
               "most characters of appeal text", min=APPEAL_TEXT_LIMITS[0]),
        Column("once_only", "仅一次", "bool", "平台是否只受理一次申诉（被驳回不能再申诉）/ one appeal per review"),
        Column("confidence", "可信度", "choice", "高/中/低：规则来源的可信度 / confidence of the source",
               choices=CONFIDENCES, choice_zh=CONFIDENCE_ZH),
        Column("source", "来源", "text", "规则出处 / source"),
    ), unique=("platform", "ground"), optional=True, omit_empty=True),
    Table("settings", "参数", "单项参数。值的类型见“说明”列。", (
        Column("key", "参数", "code", "参数代码 / setting key"),
        Column("value", "值", "text", "参数值 / value", required=False),
        Column("note", "说明", "text", "含义 / meaning", required=False),
    ), unique=("key",)),
)}


@dataclass(frozen=True)
class Setting:
    key: str
    type: str  # float | int | bool | choice | hhmm | fractions | yuan | url | roles
    default: str
    zh: str
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None


SETTINGS: dict[str, Setting] = {s.key: s for s in (
    Setting("negative_threshold", "float", "0.5", "文本负面分 ≥ 此值判为负面（0–1）/ negative when text score ≥ this",
            min=0.0, max=1.0),
    Setting("rating_negative_max_stars", "int", "3", "评分 ≤ 此星级即为中差评 / stars at or below are negative",
            min=1, max=5),
    Setting("sla_start", "choice", "detected", "时效起算：detected=发现（导入）时间，posted=评价时间 / SLA clock start",
            choices=("detected", "posted")),
    Setting("sla_clock", "choice", "always", "计时方式：always=全天候，business=仅工作时间 / SLA clock",
            choices=("always", "business")),
    Setting("business_day_start", "hhmm", "09:00", "工作时间开始（北京时间）/ business day start"),
    Setting("business_day_end", "hhmm", "22:00", "工作时间结束（北京时间）/ business day end"),
    Setting("use_cn_holidays", "bool", "是", "工作日按中国法定节假日与调休计算 / Chinese holidays and make-up days"),
    Setting("sla_warn_fractions", "fractions", "0.5;0.8", "时效用到这些比例时提醒（分号分隔）/ warn at these fractions"),
    Setting("alarm_severity", "choice", "high", "命中预警词（投诉、12315…）时的严重程度 / severity on alarm words",
            choices=SEVERITIES),
    Setting("delay_coupon_fen", "yuan", "5", "物流延迟自动补偿券（元）/ delay coupon (yuan)", min=0),
    Setting("stall_hours", "int", "48", "物流轨迹超过此小时数无更新即判为停滞 / a shipment with no tracking event for "
            "this many hours is stalled", min=1, max=720),
    Setting("repurchase_coupon_days", "int", "90", "复购券有效天数 / repurchase coupon validity (days)", min=1),
    Setting("repurchase_coupon_fen", "yuan", "10", "复购券面额（元）/ repurchase coupon (yuan)", min=0),
    Setting("coupon_expiry_remind_days", "int", "7", "复购券到期前几天提醒 / remind this many days before a coupon "
            "expires", min=1, max=89),
    Setting("care_coupon_fen", "yuan", "5", "三日关怀专属券面额（元）/ day-3 care coupon (yuan)", min=0),
    Setting("resolved_bonus_fen", "yuan", "50", "客户确认满意的已解决案件奖金（元）/ bonus per resolved case", min=0),
    Setting("service_points_per_case", "int", "10", "客户确认满意的已解决案件计服务积分（可兑换培训）/ service points "
            "per satisfied resolved case", min=0, max=1000),
    Setting("csat_target", "int", "85", "谈判技巧考核：满意度目标（0–100）/ negotiation KPI: CSAT target", min=0, max=100),
    Setting("call_pass_target", "int", "90", "情绪管理考核：通话录音合格率目标（%）/ emotion KPI: call-recording pass "
            "rate target (%)", min=0, max=100),
    Setting("repurchase_window_days", "int", "90", "复购统计窗口（天）/ repurchase window (days)", min=1, max=730),
    Setting("gift_window_days", "int", "30", "礼遇成本上限按同一客户多少天内累计（同一案件始终累计）/ a tier's gift cap "
            "counts the customer's gifts over this many days (and every gift on the case)", min=1, max=730),
    Setting("knowledge_target", "int", "95", "产品知识考核：测验平均分目标（0–100）/ knowledge quiz target", min=0,
            max=100),
    Setting("min_sample", "int", "10", "报告中样本少于此数的比率标注“样本不足”/ rates over fewer are marked 样本不足",
            min=1, max=10000),
    Setting("delay_lookback_days", "int", "30", "物流延迟补偿只看最近多少天承诺的订单 / delay coupons look back this many "
            "days", min=1, max=365),
    Setting("pay_per_revision", "bool", "否", "是否按“改评”计奖（合规风险，默认否）/ pay per review revision (off)"),
    Setting("model_min_reviews", "int", "200", "训练模型至少需要的已评分评价数 / rated reviews needed to train", min=20),
    Setting("workbench_url", "url", "http://127.0.0.1:8866/", "提醒中案件链接的工作台地址 / workbench address used "
            "in alert links"),
    Setting("alert_max_review_age_hours", "int", "72", "评价发布超过此小时数才被发现的，照常建案但不逐条提醒（如首次导入的"
            "历史评价）/ reviews older than this when found get a case but no alert (e.g. a first import of history)",
            min=1, max=8760),
    Setting("alert_digest_over", "int", "5", "同一渠道同时待发的提醒超过此数时合并为一条发送（0=从不合并）/ more alerts than "
            "this due at once for a channel are sent as one combined message (0 = never)", min=0, max=1000),
    Setting("alert_max_attempts", "int", "8", "提醒发送失败重试次数上限，之后进入死信列表 / delivery attempts before an "
            "alert goes to the dead-letter list", min=1, max=50),
    Setting("alert_retry_seconds", "int", "5", "首次重试等待秒数，之后每次加倍（最多10分钟）/ first retry delay in seconds, "
            "doubled each time (at most 10 min)", min=1, max=600),
    Setting("excerpt_chars", "int", "60", "队列与提醒中评价摘录的字数 / excerpt length", min=10, max=500),
    Setting("risk_flag_threshold", "float", "0.5", "高风险订单：分数 ≥ 此值即提示（0–1）/ flag an order whose risk score "
            "is at least this", min=0.0, max=1.0),
    Setting("risk_lookback_days", "int", "90", "高风险订单：只看买家下单前多少天的历史 / days of the buyer's history a "
            "risk score reads", min=1, max=730),
    Setting("risk_serial_hours", "int", "24", "高风险订单：多少小时内的多笔订单算连续下单 / hours within which orders "
            "count as serial", min=1, max=720),
    Setting("quiz_pass_mark", "int", "95", "知识测验及格线（答对百分比，0–100；恰好等于即及格）/ knowledge quiz pass mark "
            "(% correct; exactly at the mark passes)", min=0, max=100),
    Setting("quiz_questions", "int", "10", "每次知识测验的题数 / questions per knowledge quiz", min=1, max=100),
    Setting("listing_audit_days", "int", "90", "商品信息审计：看最近多少天的订单和评价 / days of orders and reviews the "
            "listing audit reads", min=1, max=730),
    Setting("risk_expiry_days", "int", "14", "高风险订单：提示在下单后多少天过期（不是黑名单）/ days after the order when "
            "its flag expires", min=1, max=90),
    Setting("extortion_threshold", "float", "0.5", "恶意识别：买家消息或评价的文本分 ≥ 此值即判为勒索/辱骂/同行抹黑（0–1）"
            " / a buyer text scoring at least this is flagged", min=0.0, max=1.0),
    Setting("extortion_model_weight", "float", "0.7", "恶意识别：模型（字词特征）在文本分中的权重；0 = 只用恶意识别词库的规则"
            " / weight of the learned n-gram model in the text score; 0 = the lexicon's rules alone", min=0.0, max=1.0),
    Setting("compliance_model_block", "float", "0.7", "合规检查：模型（字词特征）判断为“以评价为条件的利益诱导/施压”的概率 ≥ 此值即拦截；"
            "1 = 模型不单独拦截 / the guard model alone blocks a message at this probability; 1 = never", min=0.0, max=1.0),
    Setting("compliance_model_pass", "float", "0.3", "合规检查：规则读出诱导、但模型概率 ≤ 此值时放行（店铺违规用语与底线词仍拦截）；"
            "0 = 规则读出即拦截 / a frame-rule hit passes when the guard model's probability is at most this (the shop's "
            "违规用语 rows and the floor still block); 0 = never", min=0.0, max=1.0),
    Setting("malicious_threshold", "float", "0.6", "恶意差评：案件综合分 ≥ 此值转法务（店铺法务确认/驳回够多后按其决定调整，"
            "0.5–0.9）/ default case threshold before a shop's decisions tune it", min=0.5, max=0.9),
    Setting("appeal_warn_hours", "int", "24", "平台申诉截止前多少小时预警（法务队列与每日巡检）/ warn this many hours "
            "before an appeal deadline", min=1, max=720),
    Setting("ambassador_coupon_fen", "yuan", "50", "推荐大使：每位推荐好友下单成功奖励的优惠券面额（元）/ ambassador "
            "coupon per referred order (yuan)", min=0),
    Setting("ambassador_gift_after", "int", "3", "推荐大使：累计推荐多少笔有效订单另送礼品 / referred orders that earn "
            "the gift", min=1, max=100),
    Setting("ambassador_gift_fen", "yuan", "50", "推荐大使：满额礼品的价值上限（元；剧本未给金额，50元为本系统默认）/ "
                                                  "ambassador gift value (yuan)", min=0),
    Setting("ambassador_cooling_days", "int", "14", "推荐大使：案件解决后多少天才可邀请（冷静期）/ cooling-off days after "
            "resolution before an invitation", min=0, max=365),
    Setting("ambassador_csat_min", "int", "4", "推荐大使：满意度（1–5）≥ 此值视为确认满意 / CSAT at least this counts "
            "as satisfied", min=1, max=5),
    Setting("ambassador_nps_min", "int", "9", "推荐大使：NPS（0–10）≥ 此值视为推荐者 / NPS at least this counts as a "
            "promoter", min=0, max=10),
    Setting("signal_roles", "roles", "legal;supervisor;admin", "可确认/驳回恶意信号、查看信号与阈值的角色（分号分隔的角色代码）"
            " / roles that decide detection signals"),
    Setting("appeal_roles", "roles", "legal;supervisor;admin", "可制作、提交平台申诉并记录结果的角色（分号分隔）/ roles that "
            "build, submit and decide appeals"),
    Setting("evidence_roles", "roles", "legal;supervisor;admin", "可查看证据内容与未打码文件名、备注的角色（分号分隔）/ roles "
            "that see evidence content unmasked"),
)}


# ---------------------------------------------------------------------- defaults
def _default_keywords() -> list[dict[str, Any]]:
    """The default lexicon, shipped as ``reviewops/core/data/lexicon_zh.tsv`` (word, kind, category, weight)."""
    from importlib.resources import files

    text = files("reviewops.core").joinpath("data", "lexicon_zh.tsv").read_text(encoding="utf-8")
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    for ln in lines[1:]:  # first line is the header
        word, kind, category, weight = (ln.split("\t") + ["", "", "", ""])[:4]
        if word in seen:  # first occurrence wins
            continue
        seen.add(word)
        rows.append({"word": word, "kind": kind, "category": category or None, "weight": float(weight)})
    return rows


_REPLY_3S = {
    ANY: "亲，看到您的评价我们深感抱歉！关于{problem}，我们已为您准备了{remedy}的解决方案，今天内为您处理完毕！"
         "后续有任何问题随时联系我们，祝您生活愉快～",
    "logistics": "亲，非常抱歉让您久等了！{problem}给您添麻烦了。我们已为您安排{remedy}，并已联系快递加急跟进，"
                 "今天内给您答复。感谢您的耐心，我们会努力让下次更快送达～",
    "quality": "亲，看到您的评价我们深感抱歉！商品出现{problem}是我们品控没做好。已为您准备{remedy}，"
               "今天内为您处理完毕，同时已反馈质检部门改进。感谢您的包容～",
    "size": "亲，非常抱歉尺码不合适给您带来不便！关于{problem}，我们已为您安排{remedy}，客服可以帮您对照尺码表"
            "选择更合适的尺码。感谢您的理解～",
    "missing_wrong": "亲，非常抱歉！{problem}是我们仓库的失误。已为您安排{remedy}，今天内处理完毕，"
                     "并已提醒仓库加强核对。感谢您的耐心～",
    "description": "亲，非常抱歉商品与您的预期不一致！关于{problem}，我们已为您准备{remedy}，并会尽快核对修正"
                   "商品详情描述。感谢您的反馈～",
    "service": "亲，非常抱歉我们的服务让您不满意！关于{problem}，店长已亲自跟进，为您准备了{remedy}，"
               "今天内为您处理完毕。我们会加强客服培训，感谢您的监督～",
    "price": "亲，感谢您的反馈，也很抱歉让您觉得价格不满意！关于{problem}，我们已为您准备{remedy}。"
             "后续店铺活动会第一时间通知您～",
    "malicious": "感谢您的反馈。本店已核实订单与沟通记录，相关情况已提交平台核查。如有任何问题，欢迎随时联系客服处理。",
}


def _default_templates() -> list[dict[str, Any]]:
    rows = [{"kind": "reply_3s", "category": c, "platform": ANY, "text": t} for c, t in _REPLY_3S.items()]
    rows += [
        {"kind": "revision_guidance", "category": ANY, "platform": ANY,
         "text": "亲，问题已经为您处理好了，感谢您的理解和支持！方便的话能否帮忙更新评价？我们可以提供操作视频指导。"
                 "更新与否完全由您决定，我们的售后服务不会因此改变～"},
        {"kind": "care", "category": ANY, "platform": ANY,
         "text": "{customer}您好，距离上次为您处理问题已经{days}天了，商品用得还顺心吗？特别为您准备了一张{coupon}"
                 "专属优惠券，欢迎随时回来看看～"},
        {"kind": "silver_member", "category": ANY, "platform": ANY,
         "text": "感恩您曾给予的建议，今日起您的账户升级为白银会员，享专属折扣。"},
        {"kind": "repurchase_coupon", "category": ANY, "platform": ANY,
         "text": "{customer}您好，送您一张{coupon}复购券，{days}天内下单可与店铺其他优惠叠加使用。"},
        {"kind": "coupon_expiry", "category": ANY, "platform": ANY,
         "text": "{customer}您好，您的{coupon}复购券还有{days}天到期，可与店铺其他优惠叠加使用，别忘了用哦～"},
        {"kind": "delay_notice", "category": "logistics", "platform": ANY,
         "text": "亲，您的包裹比承诺的时间慢了，非常抱歉！已为您发放{coupon}优惠券作为补偿，我们会持续跟进物流进度，"
                 "有任何问题随时联系我们～"},
        {"kind": "appeal", "category": "malicious", "platform": ANY,
         "text": "订单{order_id}的评价存在恶意情形，申诉类型：{platform_rule}。买家在沟通中{problem}，"
                 "相关聊天记录与证据见附件，请平台核查处理。"},
        # 推荐大使 (issue 20): written for this project; rewards are for referred orders, never reviews.
        {"kind": "ambassador_invite", "category": ANY, "platform": ANY,
         "text": "{customer}您好，感谢您之前耐心帮我们改进！诚邀您成为{shop}的推荐大使：好友在本店下单时在买家留言里"
                 "填写您的推荐码，每位好友下单成功（未取消、未全额退款）您可获得{coupon}元优惠券，累计推荐{threshold}位"
                 "好友下单另送一份礼品。是否参加完全由您决定，回复“同意”参加，随时回复“退出”即可停止。"},
        {"kind": "ambassador_code", "category": ANY, "platform": ANY,
         "text": "{customer}您好，感谢您加入{shop}推荐大使！您的推荐码是 {code}，好友下单时在买家留言里填写即可。"
                 "随时回复“退出”即可停止。"},
        {"kind": "ambassador_reward", "category": ANY, "platform": ANY,
         "text": "{customer}您好，您推荐的好友订单已确认，{reward}已发放，感谢您向朋友推荐{shop}！"},
    ]
    return rows


_REWARD = r"(返现|返钱|返款|返\s*\d|红包|现金|礼品|礼物|赠品|小礼|奖励|补偿|退款|退钱|退\s*\d|优惠券|券|钱|赔)"
_REVIEW = r"(好评|五星|5星|评价|差评|追评|晒图|评分|评)"
_CHANGE = r"(改|修改|删|删除|撤销|撤回|追加|补|给|打|写)"
_IF = r"(就|才|即可|即|后|之后|以后|可|可以|能|如果|只要|前提|条件)"

#: Conditional-incentive wording blocked in every template and edited message (SPEC Compliance).
#: These rows are the default 违规用语 sheet **and** a floor: they apply even if a shop deletes them.
COMPLIANCE_FLOOR: tuple[dict[str, str], ...] = (
    {"pattern": r"好评\s*返现|追评\s*返现|晒图\s*返现|五星\s*返现|5星\s*返现",
     "reason_zh": "“好评返现”类：以好评为条件的利益诱导"},
    {"pattern": r"返现\s*删评|删评\s*返现|返现\s*改评|改评\s*返现", "reason_zh": "以删除或修改评价换取返现"},
    {"pattern": r"(好评|五星|5星|晒图|追评)[^。！？!?\n]{0,12}" + _REWARD[:-1] + r"|领|可获得|可得|送)",
     "reason_zh": "以好评、晒图或追评换取红包、现金或礼品"},
    {"pattern": _CHANGE + r"\s*(成|为)?\s*" + _REVIEW + r"[^。！？!?\n]{0,10}" + _IF + r"[^。！？!?\n]{0,6}" + _REWARD,
     "reason_zh": "以修改/删除评价为条件给予补偿或奖励"},
    {"pattern": r"(删|删除|撤销|撤回)\s*掉?\s*(差评|评价|评论|评)[^。！？!?\n]{0,12}" + _REWARD
                + r"|(改|修改)\s*(成|为)?\s*(好评|五星|5星)[^。！？!?\n]{0,12}" + _REWARD,
     "reason_zh": "要求删除差评或改为好评，并提到补偿或奖励"},
    {"pattern": _REWARD + r"[^。！？!?\n]{0,10}(条件|前提|之后才|后才|才|就|只要|如果)[^。！？!?\n]{0,6}"
                r"(改|修改|删|删除|撤销|撤回|追加)\s*(成|为)?\s*" + _REVIEW,
     "reason_zh": "补偿或奖励以修改/删除评价为条件"},
)


#: Default recommended action per category for the weekly 差评TOP3 report (SPEC D2); editable in 分类时效.
_ACTIONS = {
    "logistics": "约谈承运快递，核查延误线路与转运节点；必要时切换快递或增加运费险",
    "quality": "向供应商反馈问题批次，加强到货抽检与出库质检",
    "size": "复核尺码表与详情页尺码说明，补充实测数据与试穿建议",
    "missing_wrong": "排查仓库拣货与复核流程，对易错SKU加贴标识并出库称重校验",
    "description": "修正详情页图文与参数，避免夸大描述，补充实拍图",
    "service": "复盘相关会话，针对话术与响应时效开展客服培训",
    "price": "核对价格与活动规则，价保诉求按规则及时处理",
    "malicious": "保全证据并提交平台申诉，标记风险账号",
    "other": "逐条复核原因，归入具体分类",
}


def _default_tables() -> dict[str, list[dict[str, Any]]]:
    cat = lambda code, hours, role, sev, appeal, dept, prio: {  # noqa: E731
        "code": code, "name_zh": CATEGORY_ZH[code], "sla_hours": hours, "owner_role": role, "severity": sev,
        "appeal": appeal, "department": dept, "action": _ACTIONS[code], "priority": prio}
    return {
        "categories": [
            cat("malicious", 1.0, "legal", "high", True, "法务", 1),
            cat("quality", 4.0, "supervisor", "high", False, "采购", 2),
            cat("missing_wrong", 2.0, "agent", "high", False, "物流", 3),
            cat("logistics", 2.0, "agent", "medium", False, "物流", 4),
            cat("description", 4.0, "supervisor", "medium", False, "运营", 5),
            cat("size", 4.0, "agent", "medium", False, "采购", 6),
            cat("service", 2.0, "supervisor", "high", False, "客服", 7),
            cat("price", 8.0, "agent", "low", False, "运营", 8),
            cat("other", 8.0, "agent", "low", False, "客服", 9),
        ],
        "roles": [
            {"code": "agent", "name_zh": "普通客服", "escalates_to": "supervisor", "case_limit_fen": 31000,
             "window_days": 30, "window_limit_fen": 50000, "can_unmask": False},
            {"code": "supervisor", "name_zh": "客服主管", "escalates_to": "admin", "case_limit_fen": 100000,
             "window_days": 30, "window_limit_fen": 200000, "can_unmask": True},
            {"code": "legal", "name_zh": "法务", "escalates_to": "admin", "case_limit_fen": 0,
             "window_days": 30, "window_limit_fen": 0, "can_unmask": True},
            {"code": "admin", "name_zh": "店长", "escalates_to": None, "case_limit_fen": 500000,
             "window_days": 30, "window_limit_fen": 1000000, "can_unmask": True},
        ],
        "keywords": _default_keywords(),
        "remedy_bands": [
            {"min_fen": 0, "max_fen": 10000, "remedy": "refund", "coupon_fen": 500, "approver_role": "agent"},
            {"min_fen": 10000, "max_fen": 30000, "remedy": "resend", "coupon_fen": 1000, "approver_role": "agent"},
            {"min_fen": 30000, "max_fen": None, "remedy": "supervisor", "coupon_fen": None,
             "approver_role": "supervisor"},
        ],
        "tiers": [
            {"code": "high_value", "name_zh": "高价值客户", "priority": 1, "min_annual_spend_fen": 100000,
             "max_orders": None, "min_silent_days": None, "gift": "VIP专属礼包", "gift_cost_limit_fen": 3000,
             "approach": "差评处理后赠送VIP专属礼包"},
            {"code": "silent", "name_zh": "沉默客户", "priority": 2, "min_annual_spend_fen": None,
             "max_orders": None, "min_silent_days": 180, "gift": "手写道歉卡+小额赠品", "gift_cost_limit_fen": 1500,
             "approach": "寄送手写道歉卡与小额赠品"},
            {"code": "new", "name_zh": "新客户", "priority": 3, "min_annual_spend_fen": None, "max_orders": 1,
             "min_silent_days": None, "gift": None, "gift_cost_limit_fen": None,
             "approach": "优先使用优惠券补偿，通过短信引导复购"},
            {"code": "regular", "name_zh": "普通客户", "priority": 9, "min_annual_spend_fen": None,
             "max_orders": None, "min_silent_days": None, "gift": None, "gift_cost_limit_fen": None,
             "approach": "按补偿档位处理"},
        ],
        "templates": _default_templates(),
        "followups": [
            {"step": "revision_guidance", "name_zh": "24小时评价修改指引", "anchor": "remedy_delivered",
             "offset_hours": 24.0, "template_kind": "revision_guidance"},
            {"step": "care_day3", "name_zh": "第3天关怀短信", "anchor": "resolved", "offset_hours": 72.0,
             "template_kind": "care"},
            {"step": "silver_day30", "name_zh": "第30天白银会员", "anchor": "resolved", "offset_hours": 720.0,
             "template_kind": "silver_member"},
            {"step": "repurchase_coupon", "name_zh": "复购券", "anchor": "resolved", "offset_hours": 24.0,
             "template_kind": "repurchase_coupon"},
        ],
        "platforms": [
            {"platform": "taobao", "reply_max_chars": 500, "appeal_type": "恶意评价", "appeal_evidence": "完整旺旺对话截图"},
            {"platform": "tmall", "reply_max_chars": 500, "appeal_type": "恶意评价", "appeal_evidence": "完整旺旺对话截图"},
            {"platform": "douyin", "reply_max_chars": 500, "appeal_type": "同行竞争",
             "appeal_evidence": "飞鸽客服沟通记录+通话录音"},
            {"platform": "jd", "reply_max_chars": 500, "appeal_type": "恶意评价", "appeal_evidence": "咚咚聊天记录截图"},
            {"platform": "pdd", "reply_max_chars": 500, "appeal_type": "恶意评价", "appeal_evidence": "聊天记录截图"},
            {"platform": "kuaishou", "reply_max_chars": 500, "appeal_type": "恶意评价", "appeal_evidence": "聊天记录截图"},
        ],
        "forbidden": [dict(r) for r in COMPLIANCE_FLOOR],
        "channels": [],  # the shop adds its own robots (their webhook addresses are its own)
        "duty": [],
        "holidays": [],  # the shop enters a year chinese_calendar does not know yet (e.g. 2027)
        "risk_rules": [dict(r) for r in DEFAULT_RISK_RULES],
        "knowledge": [dict(r) for r in DEFAULT_KNOWLEDGE],
        "listing_rules": [dict(r) for r in DEFAULT_LISTING_RULES],
        "commitments": [dict(r) for r in DEFAULT_COMMITMENTS],
        "extortion_lexicon": [],  # empty = the built-in core/data/extortion_zh.tsv (builtin_rows)
        "appeal_rules": [],  # empty = the built-in core/data/appeal_rules.tsv
        "settings": [{"key": s.key, "value": s.default, "note": s.zh} for s in SETTINGS.values()],
    }


# ----------------------------------------------------------------------- values
def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        if value.is_integer():
            return str(int(value))
    return str(value).strip()


def _yuan_to_fen(text: str) -> int:
    """A 元 cell → fen with the kit's one yuan parser (:func:`reviewops.core.money.parse_yuan`: thousands commas
    only in their place, a comma that could be a decimal comma refused); InvalidOperation when it is not one."""
    from .money import AmountError, parse_yuan

    try:
        return parse_yuan(text)
    except AmountError as e:
        raise InvalidOperation(str(e)) from None


def fen_to_yuan_text(fen: int | None) -> str:
    """``1050`` → ``"10.5"``, ``1000`` → ``"10"``; None → ``""``."""
    if fen is None:
        return ""
    d = (Decimal(int(fen)) / 100).normalize()
    return format(d, "f")


def _parse(col: Column, raw: Any, roles: Iterable[str], role_names: Mapping[str, str] | None = None
           ) -> tuple[Any, tuple[str, str] | None]:
    """Convert one cell; returns (value, None) or (None, (reason_zh, reason_en))."""
    text = _cell_text(raw)
    if not text:
        if col.required:
            return None, ("不能为空", "must not be empty")
        return None, None
    try:
        if col.type in ("text",):
            return text, None
        if col.type == "code":
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", text):
                return None, ("代码只能用小写英文字母、数字和下划线，且以字母开头",
                              "a code is lowercase letters, digits and _ starting with a letter")
            return text, None
        if col.type in ("choice", _ROLE_REF):
            choices = tuple(roles) if col.type == _ROLE_REF else col.choices
            if col.allow_any and text == ANY:
                return ANY, None
            if text in choices:
                return text, None
            by_zh = dict(role_names or {}) if col.type == _ROLE_REF else {v: k for k, v in col.choice_zh.items()}
            if text in by_zh:
                return by_zh[text], None
            shown = "、".join(f"{c}（{col.choice_zh[c]}）" if c in col.choice_zh else c for c in choices)
            any_note = "，或 * 表示全部" if col.allow_any else ""
            return None, (f"不是可选值；可选：{shown}{any_note}", f"not an allowed value; allowed: {', '.join(choices)}")
        if col.type == "date":
            day = _parse_date(text)
            if day is None:
                return None, ("应为日期 年-月-日，如 2027-01-01", "must be a date YYYY-MM-DD such as 2027-01-01")
            lo, hi = HOLIDAY_YEARS
            if not lo <= day.year <= hi:
                return None, (f"年份应在 {lo}–{hi} 之间", f"the year must be between {lo} and {hi}")
            return day.isoformat(), None
        if col.type == "hhmm":
            m = re.fullmatch(r"(\d{1,2})[:：](\d{2})(?::00)?", text)  # an Excel time cell reads as 10:00:00
            if not m or int(m[1]) > 23 or int(m[2]) > 59:
                return None, ("应为 时:分，如 09:00", "must be HH:MM such as 09:00")
            return f"{int(m[1]):02d}:{m[2]}", None
        if col.type == "bool":
            low = text.lower()
            if low in _TRUE:
                return True, None
            if low in _FALSE:
                return False, None
            return None, ("应为 是 或 否", "must be 是 (yes) or 否 (no)")
        if col.type == "int":
            d = Decimal(text)
            if d != d.to_integral_value():
                return None, ("应为整数", "must be a whole number")
            v: Any = int(d)
        elif col.type == "float":
            v = float(Decimal(text))
        elif col.type == "yuan":
            v = _yuan_to_fen(text)
            if v < 0:
                return None, ("金额不能为负", "amount must not be negative")
            return v, None
        elif col.type == "regex":
            try:
                re.compile(text)
            except re.error as e:
                return None, (f"正则表达式无效：{e}", f"invalid regular expression: {e}")
            return text, None
        else:  # pragma: no cover - schema error
            raise AssertionError(col.type)
    except (InvalidOperation, ValueError):
        want = {"int": ("整数", "a whole number"), "float": ("数字", "a number"),
                "yuan": ("金额（元，最多两位小数）", "an amount in yuan with at most 2 decimals")}[col.type]
        return None, (f"应为{want[0]}", f"must be {want[1]}")
    if col.min is not None and v < col.min:
        return None, (f"不能小于 {col.min:g}", f"must be at least {col.min:g}")
    return v, None


def _parse_date(text: str) -> dt.date | None:
    """``2027-01-01``, ``2027/1/1``, ``2027.1.1``, ``2027年1月1日`` (an Excel date cell reads as
    ``2027-01-01 00:00:00``) → the date; None when it is not one."""
    m = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]00:00(?::00(?:\.0+)?)?)?", text)
    if not m:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def _setting_value(s: Setting, text: str) -> tuple[Any, tuple[str, str] | None]:
    text = text.strip()
    if s.type in ("float", "int", "yuan", "bool"):  # the same conversion and messages as a table cell
        v, err = _parse(Column(s.key, s.key, s.type, s.zh, min=s.min), text or ("否" if s.type == "bool" else ""), ())
        if err is not None:
            return None, err
        if s.max is not None and v > s.max:
            return None, (f"不能大于 {s.max:g}", f"must be at most {s.max:g}")
        return v, None
    if s.type == "choice":
        if text not in s.choices:
            return None, (f"可选：{'、'.join(s.choices)}", f"allowed: {', '.join(s.choices)}")
        return text, None
    if s.type == "hhmm":
        m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::00)?", text)  # an Excel time cell reads as 10:00:00
        if not m or int(m[1]) > 23 or int(m[2]) > 59:
            return None, ("应为 时:分，如 09:00", "must be HH:MM such as 09:00")
        return dt.time(int(m[1]), int(m[2])), None
    if s.type == "url":
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", text):
            return None, ("应为 http(s):// 开头的地址，如 https://reviewops.example.com/ ",
                          "must be an http(s):// address such as https://reviewops.example.com/")
        return text if text.endswith("/") else text + "/", None
    if s.type == "fractions":
        try:
            vals = [float(Decimal(p)) for p in re.split(r"[;；,，\s]+", text) if p]
        except InvalidOperation:
            vals = []
        if not vals or any(not 0 < x < 1 for x in vals) or vals != sorted(set(vals)):
            return None, ("应为 0 到 1 之间递增的小数，用分号分隔，如 0.5;0.8",
                          "must be increasing fractions between 0 and 1, e.g. 0.5;0.8")
        return tuple(vals), None
    if s.type == "roles":
        codes = _split_list(text)
        if not codes or any(not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", c) for c in codes):
            return None, ("应为角色代码，分号分隔，如 legal;supervisor;admin",
                          "must be role codes separated by ;, e.g. legal;supervisor;admin")
        return tuple(dict.fromkeys(codes)), None
    raise AssertionError(s.type)  # pragma: no cover - schema error


def _split_list(text: str | None) -> list[str]:
    """``a;b，c`` → ``["a", "b", "c"]`` (semicolons or commas, ASCII or full-width)."""
    return [p.strip() for p in re.split(r"[;；,，]", text or "") if p.strip()]


def weekdays_of(text: str | None) -> frozenset[int] | None:
    """A duty row's 星期 (``1-5``, ``1,3,5``, ``6-7``; blank = every day) as ISO weekdays; None when unreadable."""
    days: set[int] = set()
    for part in _split_list((text or "").replace("、", ",")):
        m = re.fullmatch(r"([1-7])(?:\s*[-–~至]\s*([1-7]))?", part)
        if not m:
            return None
        lo, hi = int(m[1]), int(m[2] or m[1])
        if hi < lo:
            return None
        days.update(range(lo, hi + 1))
    return frozenset(days or range(1, 8))


def alert_events_of(row: Mapping[str, Any]) -> frozenset[str]:
    """The events a 提醒渠道 row subscribes to (blank = all)."""
    return frozenset(_split_list(row.get("events")) or ALERT_EVENTS)


# ----------------------------------------------------------------------- policy
@dataclass(frozen=True)
class Policy:
    """A validated policy. Build with :func:`default_policy`, :meth:`from_tables`,
    :meth:`from_json`, :func:`import_policy` or :func:`load_policy`.

    ``tables`` holds the normalised rows (JSON-ready; money in fen);
    ``version`` is the stored version number, None when not stored yet.
    """

    tables: Mapping[str, tuple[Mapping[str, Any], ...]]
    version: int | None = None
    source: str = "default"
    #: Notes that do not refuse the policy (e.g. a 节假日 row that differs from chinese_calendar: the
    #: shop's entry wins); :class:`Problem` with code ``policy_note``. Not part of the content.
    notes: tuple[Problem, ...] = field(default=(), compare=False)

    # -- construction -------------------------------------------------------
    @classmethod
    def from_tables(cls, raw: Mapping[str, Iterable[Mapping[str, Any]]], *, source: str = "tables",
                    version: int | None = None, row_offset: int = 2) -> "Policy":
        """Validate raw rows (cell values as read from a sheet or JSON) into a Policy.

        ``row_offset`` is the sheet row of the first data row (2 = just below the header),
        so problems name the row as Excel shows it. Raises :class:`PolicyInvalid` listing
        every problem.
        """
        problems: list[Problem] = []
        tables: dict[str, tuple[dict[str, Any], ...]] = {}
        raw = {**{k: () for k, t in TABLES.items() if t.optional and k not in raw}, **raw}
        missing = [t.sheet for k, t in TABLES.items() if k not in raw]
        for sheet in missing:
            problems.append(Problem(source, None, None, sheet, f"缺少工作表「{sheet}」",
                                    f"sheet {sheet!r} is missing", "policy_missing_sheet"))
        role_rows = list(raw.get("roles", ()))
        roles = [_cell_text(r.get("code")) for r in role_rows if _cell_text(r.get("code"))]
        role_names = {_cell_text(r.get("name_zh")): _cell_text(r.get("code")) for r in role_rows
                      if _cell_text(r.get("name_zh")) and _cell_text(r.get("code"))}
        for key, spec in TABLES.items():
            if key not in raw:
                continue
            out: list[dict[str, Any]] = []
            for i, row in enumerate(raw[key]):
                if all(_cell_text(row.get(c.key)) == "" for c in spec.columns):
                    continue  # blank line in the sheet
                excel_row = i + row_offset
                parsed: dict[str, Any] = {}
                bad = False
                for col in spec.columns:
                    value, err = _parse(col, row.get(col.key), roles, role_names)
                    if err:
                        bad = True
                        problems.append(Problem(f"{source} [{spec.sheet}]", excel_row, col.header,
                                                _cell_text(row.get(col.key)), err[0], err[1], "policy_cell"))
                    parsed[col.key] = value
                parsed["_row"] = excel_row
                parsed["_bad"] = bad
                out.append(parsed)
            tables[key] = tuple(out)
        if all(k in tables for k in TABLES):
            # rules across rows, on the rows whose cells are valid: every problem is reported in one round
            problems += _check_tables({k: tuple(r for r in rows if not r["_bad"]) for k, rows in tables.items()},
                                      source, all_rows=tables)
        if problems:
            raise PolicyInvalid(source, problems)
        clean = {k: tuple({c: v for c, v in r.items() if c not in ("_row", "_bad")} for r in rows)
                 for k, rows in tables.items()}
        clean = _collapse_builtin(clean)
        return cls(tables=clean, version=version, source=source, notes=tuple(_holiday_notes(tables["holidays"],
                                                                                             source)))

    @classmethod
    def from_json(cls, text: str, *, version: int | None = None, source: str = "store") -> "Policy":
        data = json.loads(text)
        raw = {k: [{c: _json_to_cell(TABLES[k], c, v) for c, v in r.items()} for r in rows]
               for k, rows in data["tables"].items() if k in TABLES}
        return cls.from_tables(raw, source=source, version=version)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys) of the tables; its SHA-256 identifies the content."""
        data = {"format": 1, "tables": {k: [dict(r) for r in rows] for k, rows in self.tables.items()
                                        if rows or not TABLES[k].omit_empty}}
        return json.dumps(data, ensure_ascii=False, sort_keys=True, default=str, separators=(",", ":"))

    @functools.cached_property
    def sha256(self) -> str:
        """SHA-256 of :meth:`to_json`; computed once per (immutable) policy object."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

    # -- lookups --------------------------------------------------------------
    def frame(self, table: str) -> pd.DataFrame:
        """One table as a DataFrame (money columns in fen)."""
        spec = TABLES[table]
        return pd.DataFrame(list(self.tables[table]), columns=[c.key for c in spec.columns])

    def category(self, code: str) -> Mapping[str, Any]:
        for r in self.tables["categories"]:
            if r["code"] == code:
                return r
        raise KeyError(code)

    def role(self, code: str) -> Mapping[str, Any]:
        for r in self.tables["roles"]:
            if r["code"] == code:
                return r
        raise KeyError(code)

    def setting(self, key: str) -> Any:
        """A setting's typed value (float, int, bool, time, tuple, fen …)."""
        spec = SETTINGS[key]
        for r in self.tables["settings"]:
            if r["key"] == key:
                return _setting_value(spec, r["value"] or "")[0]
        return _setting_value(spec, spec.default)[0]

    def keywords(self, kind: str | None = None) -> list[Mapping[str, Any]]:
        return [r for r in self.tables["keywords"] if kind is None or r["kind"] == kind]

    def template(self, kind: str, category: str = ANY, platform: str = ANY) -> str | None:
        """The most specific template text for (kind, category, platform), or None."""
        best: tuple[int, str] | None = None
        for r in self.tables["templates"]:
            if r["kind"] != kind:
                continue
            if r["category"] not in (category, ANY) or r["platform"] not in (platform, ANY):
                continue
            score = (r["category"] == category and category != ANY) * 2 + (r["platform"] == platform
                                                                          and platform != ANY)
            if best is None or score > best[0]:
                best = (score, r["text"])
        return best[1] if best else None

    @functools.cached_property
    def shop_days(self) -> tuple[Any, ...]:
        """The 节假日 rows as :class:`reviewops.core.sla.ShopDay` (date, working?, name), for the SLA clock."""
        from .sla import ShopDay

        return tuple(ShopDay(dt.date.fromisoformat(r["date"]), r["kind"] == "workday", r.get("name") or "")
                     for r in self.tables.get("holidays", ()))

    def forbidden_hits(self, text: str) -> list[tuple[str, str]]:
        """Forbidden conditional-incentive wording in ``text``: [(matched text, reason)].

        Checks the policy's 违规用语 rows and the built-in :data:`COMPLIANCE_FLOOR`, which
        a shop cannot switch off.
        """
        return _forbidden_hits(text, self.tables["forbidden"])

    def knowledge(self) -> tuple[Mapping[str, Any], ...]:
        """The 知识库 rows (P1), or the built-in :data:`DEFAULT_KNOWLEDGE` when the table is empty."""
        rows = self.tables.get("knowledge", ())
        return tuple(rows) if rows else DEFAULT_KNOWLEDGE

    def extortion_lexicon(self) -> tuple[Mapping[str, Any], ...]:
        """The 恶意识别词库 rows in force: the policy's, or the built-in lexicon when the table is empty."""
        rows = self.tables.get("extortion_lexicon", ())
        return tuple(rows) if rows else builtin_rows("extortion_lexicon")

    def appeal_rules(self) -> tuple[Mapping[str, Any], ...]:
        """The 申诉规则 rows in force: the policy's, or the built-in rules when the table is empty."""
        rows = self.tables.get("appeal_rules", ())
        return tuple(rows) if rows else builtin_rows("appeal_rules")

    def roles_setting(self, key: str) -> tuple[str, ...]:
        """A roles setting (``signal_roles``, ``appeal_roles``, ``evidence_roles``) as a tuple of role codes."""
        if SETTINGS[key].type != "roles":
            raise KeyError(key)
        return tuple(self.setting(key))


def _forbidden_hits(text: str, rows: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    hits: list[tuple[str, str]] = []
    seen: set[str] = set()
    for r in (*COMPLIANCE_FLOOR, *rows):
        if r["pattern"] in seen:
            continue
        seen.add(r["pattern"])
        m = re.search(r["pattern"], text)
        if m:
            hits.append((m.group(0), r["reason_zh"]))
    return hits


def _json_to_cell(spec: Table, col: str, value: Any) -> Any:
    """JSON value → the cell text the validator expects (money fen → yuan)."""
    try:
        c = spec.column(col)
    except StopIteration:
        return value
    if value is None:
        return None
    if c.type == "yuan":
        return fen_to_yuan_text(int(value))
    if c.type == "bool":
        return "是" if value else "否"
    return value


def _check_tables(t: Mapping[str, tuple[dict[str, Any], ...]], source: str,
                  all_rows: Mapping[str, tuple[dict[str, Any], ...]] | None = None) -> list[Problem]:
    """Cross-row rules: uniqueness, completeness, band coverage, template safety.

    ``t`` holds the rows whose cells are valid; ``all_rows`` every row (so a category
    whose row has a bad cell is not also reported missing, and band/tier coverage is
    only judged when all their rows are valid).
    """
    problems: list[Problem] = []
    all_rows = all_rows if all_rows is not None else t
    incomplete = {k for k, rows in all_rows.items() if len(rows) != len(t.get(k, ()))}

    def add(table: str, row: int | None, column: str | None, value: Any, zh: str, en: str) -> None:
        problems.append(Problem(f"{source} [{TABLES[table].sheet}]", row, column,
                                None if value is None else str(value), zh, en, "policy_rule"))

    for key, spec in TABLES.items():
        if not spec.unique:
            continue
        seen: dict[tuple[Any, ...], int] = {}
        for r in t.get(key, ()):
            k = tuple(r[c] for c in spec.unique)
            if k in seen:
                cols = "+".join(spec.column(c).header for c in spec.unique)
                add(key, r["_row"], cols, "/".join(map(str, k)), f"与第{seen[k]}行重复",
                    f"duplicates row {seen[k]}")
            else:
                seen[k] = r["_row"]
    present = {r["code"] for r in all_rows["categories"]}
    for code in CATEGORY_CODES:
        if code not in present:
            add("categories", None, "分类代码", code, f"缺少分类 {code}（{CATEGORY_ZH[code]}）",
                f"category {code} is missing")
    roles = {r["code"]: r for r in t["roles"]}
    for r in t["roles"]:  # escalation must not loop
        seen_roles, cur = {r["code"]}, r.get("escalates_to")
        while cur:
            if cur in seen_roles:
                add("roles", r["_row"], "升级至", r["escalates_to"], "升级链形成循环", "escalation chain loops")
                break
            seen_roles.add(cur)
            cur = roles.get(cur, {}).get("escalates_to")
    bands = [] if "remedy_bands" in incomplete else sorted(t["remedy_bands"], key=lambda r: r["min_fen"])
    expected = 0
    for i, b in enumerate(bands):
        if b["min_fen"] != expected:
            add("remedy_bands", b["_row"], "订单金额下限(元)", fen_to_yuan_text(b["min_fen"]),
                f"档位不连续：下限应为 {fen_to_yuan_text(expected)} 元",
                f"bands must be contiguous: lower bound should be {fen_to_yuan_text(expected)}")
        last = i == len(bands) - 1
        if b["max_fen"] is None and not last:
            add("remedy_bands", b["_row"], "订单金额上限(元)", "", "只有最后一档可以不填上限",
                "only the last band may have no upper bound")
        if b["max_fen"] is not None and b["max_fen"] <= b["min_fen"]:
            add("remedy_bands", b["_row"], "订单金额上限(元)", fen_to_yuan_text(b["max_fen"]), "上限必须大于下限",
                "upper bound must be above the lower bound")
        if last and b["max_fen"] is not None:
            add("remedy_bands", b["_row"], "订单金额上限(元)", fen_to_yuan_text(b["max_fen"]),
                "最后一档上限应留空（覆盖所有更高金额）", "the last band must have no upper bound")
        expected = b["max_fen"] if b["max_fen"] is not None else expected
    if not bands and "remedy_bands" not in incomplete:
        add("remedy_bands", None, None, None, "至少需要一个补偿档位", "at least one remedy band is needed")
    tiers = sorted(t["tiers"], key=lambda r: r["priority"])
    if "tiers" in incomplete:
        pass
    elif not tiers or any(tiers[-1][k] is not None for k in ("min_annual_spend_fen", "max_orders", "min_silent_days")):
        add("tiers", tiers[-1]["_row"] if tiers else None, None, None,
            "优先级最低的一条分层必须没有条件（兜底）", "the last tier (highest priority number) must have no conditions")
    placeholder = re.compile(r"\{([^{}]*)\}")
    for r in t["templates"]:
        if r["text"] is None:
            continue
        fields = AMBASSADOR_TEMPLATE_FIELDS if r["kind"] in AMBASSADOR_TEMPLATE_KINDS else TEMPLATE_FIELDS
        for name in placeholder.findall(r["text"]):
            if name not in fields:
                add("templates", r["_row"], "话术", "{" + name + "}", f"未知占位符；可用：{' '.join('{'+f+'}' for f in fields)}",
                    f"unknown placeholder; allowed: {', '.join(fields)}")
        if r["kind"] in AMBASSADOR_TEMPLATE_KINDS:
            hits = sorted(set(AMBASSADOR_REVIEW_WORDS_RE.findall(r["text"])))
            if hits:
                add("templates", r["_row"], "话术", "、".join(hits),
                    f"推荐大使话术不得提及评价或评分（{'、'.join(hits)}）：奖励只针对推荐好友下单，与评价无关",
                    "an ambassador text may not mention reviews or ratings; rewards are for referrals only")
        for matched, reason in _forbidden_hits(r["text"], [f for f in t["forbidden"] if f["pattern"]]):
            add("templates", r["_row"], "话术", matched, f"含违规诱导用语：{reason}",
                "conditional-incentive wording is not allowed (SPEC Compliance)")
    for kind in ("reply_3s", "revision_guidance"):
        if not any(r["kind"] == kind and r["category"] == ANY and r["platform"] == ANY for r in t["templates"]):
            add("templates", None, "用途", TEMPLATE_KIND_ZH[kind], f"缺少通用（分类 *、平台 *）的“{TEMPLATE_KIND_ZH[kind]}”话术",
                f"a general (*, *) {kind} template is required")
    for r in t["followups"]:
        if r["template_kind"] == "revision_guidance" and r["anchor"] not in ("remedy_delivered", "resolved"):
            add("followups", r["_row"], "起算点", ANCHOR_ZH.get(r["anchor"], r["anchor"]),
                "评价修改指引只能在补偿送达或问题解决之后发送（起算点应为“补偿送达”或“问题解决”）",
                "revision guidance is sent only after the remedy was delivered or the case resolved (SPEC Compliance)")
    for r in t.get("channels", ()):
        for ev in _split_list(r["events"]):
            if ev not in ALERT_EVENTS:
                add("channels", r["_row"], "提醒事件", ev, f"未知提醒事件；可用：{'、'.join(f'{e}（{z}）' for e, z in ALERT_EVENT_ZH.items())}",
                    f"unknown event; allowed: {', '.join(ALERT_EVENTS)}")
        target = (r["target"] or "").strip()
        if r["type"] in ("feishu", "dingtalk", "wecom") and not re.fullmatch(r"https?://\S+", target):
            add("channels", r["_row"], "地址", target, "机器人渠道需要 https:// 开头的 Webhook 地址",
                "a robot channel needs its https:// webhook address")
        if r["type"] == "email" and not target:
            add("channels", r["_row"], "地址", target, "邮件渠道需要收件地址", "an e-mail channel needs recipients")
        if r["secret_env"] and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", r["secret_env"]):
            # not a variable name: most likely the secret itself, so it is never quoted (issue 15 §2)
            add("channels", r["_row"], "密钥环境变量", str(r["secret_env"])[:2] + "***", "应为环境变量名（字母、数字、下划线），不要填密钥本身",
                "must be an environment variable name (letters, digits, _), not the secret itself")
    for r in t.get("duty", ()):
        if weekdays_of(r["weekdays"]) is None:
            add("duty", r["_row"], "星期", r["weekdays"], "应为 1–7 的数字，如 1-5 或 1,3,5（1=周一）",
                "must be weekdays 1–7 such as 1-5 or 1,3,5 (1 = Monday)")
        if r["start"] == r["end"]:
            add("duty", r["_row"], "结束", r["end"], "结束时间不能等于开始时间", "end must differ from start")
    for r in t.get("holidays", ()):
        day = dt.date.fromisoformat(r["date"])
        if r["kind"] == "workday" and day.weekday() < 5:
            add("holidays", r["_row"], "类型", f"{r['date']} {HOLIDAY_KIND_ZH['workday']}",
                f"{r['date']} 是{_WEEKDAY_ZH[day.weekday()]}，本来就上班；调休上班日应为周六或周日（请核对日期）",
                f"{r['date']} is a {day:%A}, already a working day; a make-up workday is a Saturday or Sunday "
                "(check the date)")
    for r in t.get("risk_rules", ()):
        if r["weight"] > 1:
            add("risk_rules", r["_row"], "权重", r["weight"], "权重应在 0 到 1 之间", "weight must be between 0 and 1")
    for r in t.get("commitments", ()):
        if r["warn_fraction"] >= 1:
            add("commitments", r["_row"], "预警比例", r["warn_fraction"], "预警比例应小于 1（如 0.75：用掉四分之三时限时预警）",
                "the warning fraction must be below 1 (e.g. 0.75: warn when three quarters of the limit have passed)")
    for r in t.get("extortion_lexicon", ()):
        if r["weight"] > 1:
            add("extortion_lexicon", r["_row"], "权重", r["weight"], f"词语「{_short(r['term'])}」的权重应在 0 到 1 之间",
                f"the weight of {r['term']!r} must be between 0 and 1")
    for r in t.get("appeal_rules", ()):
        if r["deadline_days"] > APPEAL_DEADLINE_MAX_DAYS:
            add("appeal_rules", r["_row"], "时限天数", r["deadline_days"], f"应在 1–{APPEAL_DEADLINE_MAX_DAYS} 天之间",
                f"must be 1–{APPEAL_DEADLINE_MAX_DAYS} days")
        if r["text_limit"] > APPEAL_TEXT_LIMITS[1]:
            add("appeal_rules", r["_row"], "字数上限", r["text_limit"], f"应在 {APPEAL_TEXT_LIMITS[0]}–{APPEAL_TEXT_LIMITS[1]} 之间",
                f"must be {APPEAL_TEXT_LIMITS[0]}–{APPEAL_TEXT_LIMITS[1]}")
        for col, zh in (("required", "必需证据"), ("recommended", "建议证据")):
            try:
                reqs = parse_requirements(r[col] or "")
            except ValueError as e:
                add("appeal_rules", r["_row"], zh, e.args[1], e.args[2], e.args[3])
                continue
            if col == "required" and not reqs:
                add("appeal_rules", r["_row"], zh, r[col], "至少需要一项证据要求（或 review）",
                    "at least one requirement (or review) is needed")
    if t.get("appeal_rules") and "appeal_rules" not in incomplete:
        have = {(r["platform"], r["ground"]) for r in t["appeal_rules"]}
        lack = [f"{PLATFORM_ZH[p]}/{APPEAL_GROUND_ZH[g]}" for p in PLATFORMS for g in APPEAL_GROUNDS if (p, g) not in have]
        if lack:
            add("appeal_rules", None, "平台+申诉理由", "、".join(lack), f"缺少这些平台与理由的规则：{'、'.join(lack)}"
                "（或清空整张表以使用内置规则）", "rows are missing for: " + ", ".join(
                    f"{p}/{g}" for p in PLATFORMS for g in APPEAL_GROUNDS if (p, g) not in have))
    for r in t.get("knowledge", ()):
        for problem in knowledge_answer_problems(r["answer"], [f for f in t["forbidden"] if f["pattern"]]):
            add("knowledge", r["_row"], "答案", _short(r["answer"]), f"知识库第{r['_row']}行（问题「{_short(r['question'])}」）"
                f"的答案{problem[0]}", problem[1])
    parsed: dict[str, tuple[Any, int]] = {}  # valid settings: value and sheet row
    for r in t["settings"]:
        spec = SETTINGS.get(r["key"])
        if spec is None:
            add("settings", r["_row"], "参数", r["key"], f"未知参数；可用：{'、'.join(SETTINGS)}",
                f"unknown setting; known: {', '.join(SETTINGS)}")
            continue
        value, err = _setting_value(spec, r["value"] or "")
        if err:
            add("settings", r["_row"], "值", r["value"], f"{r['key']}：{err[0]}", f"{r['key']}: {err[1]}")
        else:
            parsed[r["key"]] = (value, r["_row"])
    start, end = (parsed.get(k, (_setting_value(SETTINGS[k], SETTINGS[k].default)[0], None))
                  for k in ("business_day_start", "business_day_end"))
    if end[0] <= start[0]:
        row = end[1] if end[1] is not None else start[1]
        add("settings", row, "值", f"{start[0]:%H:%M}-{end[0]:%H:%M}", "工作时间结束必须晚于开始",
            "business_day_end must be after business_day_start")
    role_codes = {r["code"] for r in all_rows["roles"]}
    for key, (value, row) in parsed.items():
        if SETTINGS[key].type != "roles":
            continue
        unknown = [c for c in value if c not in role_codes]
        if unknown:
            add("settings", row, "值", ";".join(value), f"{key}：未知角色 {'、'.join(unknown)}；可用：{'、'.join(sorted(role_codes))}",
                f"{key}: unknown role(s) {', '.join(unknown)}; known: {', '.join(sorted(role_codes))}")
    return problems


_WEEKDAY_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def _short(text: Any, n: int = 30) -> str:
    s = str(text or "")
    return s if len(s) <= n else s[:n - 1] + "…"


def _squeeze(text: str) -> str:
    """Text as a reader sees it: NFKC (全角 → half width), without whitespace and invisible characters."""
    import unicodedata

    s = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in s if not ch.isspace() and unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))


def knowledge_answer_problems(answer: str, forbidden: Iterable[Mapping[str, Any]] = (),
                              max_chars: int | None = None) -> list[tuple[str, str]]:
    """Why a 知识库 answer may not be stored: [(Chinese, English)]; empty when it is fine.

    The same rules as a template: conditional-incentive wording from ``forbidden`` (the policy's 违规用语 rows)
    and the built-in :data:`COMPLIANCE_FLOOR`, looked for in the text and in its squeezed form (spaces, invisible
    characters and full-width forms removed); and at most ``max_chars`` characters (default
    :data:`KB_ANSWER_MAX_CHARS`). Not the platforms' reply limits: a shop that shortens one is not refused for
    answers it never wrote — the reply an answer goes into is checked against its platform's limit. The workbench checks the reply again with
    :func:`reviewops.handling.replies.check_message` before it is sent.
    """
    import unicodedata

    out: list[tuple[str, str]] = []
    rows = list(forbidden)
    seen: set[str] = set()
    for variant in (unicodedata.normalize("NFC", answer), _squeeze(answer)):
        for matched, reason in _forbidden_hits(variant, rows):
            if reason in seen:
                continue
            seen.add(reason)
            out.append((f"含违规诱导用语「{matched}」：{reason}。补偿不得以好评、改评或删评为条件，请改写",
                        f"conditional-incentive wording {matched!r} is not allowed (SPEC Compliance: {reason})"))
    n = len(unicodedata.normalize("NFC", answer))
    max_chars = KB_ANSWER_MAX_CHARS if max_chars is None else max_chars
    if n > max_chars:
        out.append((f"有 {n} 字，超过知识库答案的上限 {max_chars} 字，请删减至少 {n - max_chars} 字",
                    f"has {n} characters, over the knowledge-base answer limit {max_chars}"))
    return out


def _holiday_notes(rows: Iterable[Mapping[str, Any]], source: str) -> list[Problem]:
    """A 节假日 row that says otherwise than ``chinese_calendar`` for its date: the shop's entry wins, noted."""
    from .sla import package_working_day

    notes: list[Problem] = []
    sheet = TABLES["holidays"].sheet
    for r in rows:
        if r.get("_bad"):
            continue
        day = dt.date.fromisoformat(r["date"])
        known = package_working_day(day)
        working = r["kind"] == "workday"
        if known is None or known == working:
            continue
        pkg = "工作日" if known else "休息日"
        pkg_en = "a working day" if known else "a day off"
        notes.append(Problem(f"{source} [{sheet}]", r.get("_row"), "类型", f"{r['date']} {HOLIDAY_KIND_ZH[r['kind']]}",
                             f"内置日历（chinese_calendar）中 {r['date']} 是{pkg}；以店铺录入的“{HOLIDAY_KIND_ZH[r['kind']]}”为准",
                             f"chinese_calendar has {r['date']} as {pkg_en}; the shop's entry "
                             f"({r['kind']}) takes precedence", "policy_note"))
    return notes


# ------------------------------------------------------------ built-in sheets (TSV)
#: Tables whose empty value means rows shipped as a TSV in core/data: key → file name.
_BUILTIN_FILES = {"extortion_lexicon": "extortion_zh.tsv", "appeal_rules": "appeal_rules.tsv"}


@functools.cache
def builtin_rows(key: str) -> tuple[Mapping[str, Any], ...]:
    """The built-in rows of ``extortion_lexicon`` or ``appeal_rules`` (read from ``core/data``), parsed as the
    sheet's cells are. The lexicon file's ``setting`` rows are left out (its threshold is the setting
    ``extortion_threshold``), and a (side, role, term) listed twice keeps its highest weight — the detector
    always took the highest, so it reads the same."""
    from importlib.resources import files

    spec = TABLES[key]
    text = files("reviewops.core").joinpath("data", _BUILTIN_FILES[key]).read_text(encoding="utf-8")
    header: list[str] | None = None
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for no, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = [c.strip() for c in line.split("\t")]
        if header is None:
            header = cells
            continue
        raw = dict(zip(header, cells))
        if key == "extortion_lexicon" and raw.get("role") == "setting":
            continue
        row: dict[str, Any] = {}
        for col in spec.columns:
            value, err = _parse(col, raw.get(col.key), ())
            if err:  # pragma: no cover - the shipped file is checked by the tests
                raise PolicyInvalid(_BUILTIN_FILES[key], [Problem(_BUILTIN_FILES[key], no, col.key, raw.get(col.key),
                                                                  err[0], err[1], "policy_cell")])
            row[col.key] = value
        k = tuple(row[c] for c in spec.unique)
        old = out.get(k)
        if old is None:
            out[k] = row
        elif key == "extortion_lexicon":
            old["weight"] = max(old["weight"], row["weight"])
            old["note"] = old["note"] or row["note"]
    return tuple(out.values())


def _canon(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    return sorted(json.dumps(dict(r), ensure_ascii=False, sort_keys=True, default=str) for r in rows)


@functools.cache
def _builtin_canon(key: str) -> tuple[str, ...]:
    return tuple(_canon(builtin_rows(key)))


def _collapse_builtin(tables: dict[str, tuple[dict[str, Any], ...]]) -> dict[str, tuple[dict[str, Any], ...]]:
    """A built-in-backed table read back equal to its built-in rows (in any order) is stored empty."""
    for key in _BUILTIN_FILES:
        rows = tables.get(key)
        if rows and len(rows) == len(builtin_rows(key)) and tuple(_canon(rows)) == _builtin_canon(key):
            tables[key] = ()
    return tables


def parse_requirements(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """A 申诉规则 evidence cell (``说明=类别|类别;…``, or ``review``) → [(label, kinds)]; ``review`` gives
    ``("", ())`` (the review itself is the evidence). Raises ValueError(reason, value, zh, en) when a part is
    not of that form or names an unknown evidence kind (:data:`EVIDENCE_KINDS`)."""
    out: list[tuple[str, tuple[str, ...]]] = []
    for part in (p.strip() for p in re.split(r"[;；]", text or "")):
        if not part:
            continue
        if part.lower() == "review":
            out.append(("", ()))
            continue
        label, sep, kinds_s = part.partition("=")
        kinds = tuple(k.strip() for k in kinds_s.split("|") if k.strip())
        if not sep or not label.strip() or not kinds:
            raise ValueError("syntax", part, "应写成“说明=证据类别|证据类别”（多项用分号分隔），或 review",
                             'write "label=kind|kind" (several separated by ;), or review')
        bad = [k for k in kinds if k not in EVIDENCE_KINDS]
        if bad:
            raise ValueError("kind", part, f"未知的证据类别 {'、'.join(bad)}；可用：{'、'.join(EVIDENCE_KINDS)}",
                             f"unknown evidence kind(s) {', '.join(bad)}; known: {', '.join(EVIDENCE_KINDS)}")
        out.append((label.strip(), kinds))
    return out


_DEFAULT: Policy | None = None


def default_policy() -> Policy:
    """The playbook's rules as a validated policy (not yet stored)."""
    global _DEFAULT
    if _DEFAULT is None:
        raw = {k: [{c: _json_to_cell(TABLES[k], c, v) for c, v in r.items()} for r in rows]
               for k, rows in _default_tables().items()}
        _DEFAULT = Policy.from_tables(raw, source="default")
    return _DEFAULT


# ------------------------------------------------------------------------ Excel
_README_SHEET = "说明"
#: Sheet protection options of the policy workbook: the header row is locked (no password — it guards
#: against accidental edits only); data rows stay editable, rows can be added, deleted, sorted and filtered.
SHEET_PROTECTION: dict[str, bool] = {
    "insert_rows": True, "delete_rows": True, "format_columns": True, "format_rows": True, "sort": True,
    "autofilter": True, "select_locked_cells": True, "select_unlocked_cells": True, "objects": False,
}
_TYPE_ZH = {"text": "文字", "code": "代码（小写英文、数字、下划线）", "int": "整数", "float": "数字", "yuan": "金额（元，最多两位小数）",
            "bool": "是/否", "choice": "下拉选择", _ROLE_REF: "角色代码（角色权限表）", "regex": "正则表达式",
            "hhmm": "时间（时:分，北京时间）", "date": "日期（年-月-日，如 2027-01-01）"}


def _display_width(text: str) -> int:
    """Column width Excel needs for ``text``: CJK and full-width characters count double."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _choice_list(col: Column, policy: Policy) -> list[str]:
    """The drop-down values of a column: Chinese names of the choices (+ ``*``), role codes, 是/否."""
    if col.type == "choice":
        return [col.choice_zh.get(c, c) for c in col.choices] + ([ANY] if col.allow_any else [])
    if col.type == _ROLE_REF:
        return [r["code"] for r in policy.tables["roles"]]
    if col.type == "bool":
        return ["是", "否"]
    return []


def _column_note(col: Column, policy: Policy) -> str:
    """The header note: what the column means, its type, required or not, and the allowed values."""
    lines = [col.help, f"类型 type：{_TYPE_ZH.get(col.type, col.type)}；{'必填 required' if col.required else '可空 optional'}"]
    if col.type == "choice":
        shown = "、".join(f"{col.choice_zh.get(c, c)}（{c}）" for c in col.choices)
        lines.append(f"可选 allowed：{shown}{'、*（全部 any）' if col.allow_any else ''}；中文名或代码均可")
    elif col.type == _ROLE_REF:
        shown = "、".join(f"{r['code']}（{r['name_zh']}）" for r in policy.tables["roles"])
        lines.append(f"可选 allowed：{shown}；新增角色先在“{TABLES['roles'].sheet}”表添加一行")
    elif col.type == "bool":
        lines.append("可选 allowed：是、否")
    if col.min is not None:
        lines.append(f"最小值 minimum：{col.min:g}")
    return "\n".join(lines)


def _cell_out(col: Column, v: Any) -> str:
    """A policy value as the text the workbook shows (money in yuan, yes/no, Chinese choice names)."""
    if col.type == "yuan":
        return fen_to_yuan_text(v)
    if col.type == "bool":
        return "是" if v else "否"
    if col.type == "choice" and v != ANY:
        return col.choice_zh.get(v, v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    return str(v)


def export_policy(policy: Policy, path: str | Path) -> Path:
    """Write the policy as an editable workbook for Excel or WPS: a 说明 sheet, then one sheet per table.

    * Every cell is an explicit string (numbers as their text, money in yuan, codes and IDs as text) in
      a text-formatted (``@``) column, so nothing a shop types or a policy holds becomes a formula or a
      number (S-02); text that a spreadsheet would run as a formula (``= + - @``, tab …,
      :func:`reviewops.core.outputs.formula_safe`) is stored unchanged but marked with Excel's quote prefix
      (the apostrophe Excel itself uses), so it stays text even when the cell is edited — and the
      value read back is exactly the policy's text.
    * Headers are the Chinese column names; each header has a note (cell comment) with the help text,
      type, required/optional and the allowed values.
    * Choice columns (categories, severities, template kinds, platforms, anchors …), role columns and
      是/否 columns get a drop-down list (Chinese names; role codes from the roles sheet); a value
      outside the list only warns, the importer has the last word. Single settings with a choice or
      yes/no type get their own drop-down on the 参数 sheet.
    * The header row is frozen, filterable and locked by sheet protection **without a password**
      (:data:`SHEET_PROTECTION`); data rows stay editable and rows can be added, deleted and sorted.
    * Column widths fit the Chinese text. The file is written to a temporary name and moved into place.
    """
    import os
    import tempfile

    import xlsxwriter

    from .outputs import formula_safe

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".policy-", suffix=".xlsx", dir=path.parent)
    os.close(fd)
    try:
        wb = xlsxwriter.Workbook(tmp, {"strings_to_formulas": False, "strings_to_numbers": False,
                                       "strings_to_urls": False})
        head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "locked": True, "num_format": "@",
                              "text_wrap": True, "valign": "top"})
        text = wb.add_format({"num_format": "@", "locked": False, "valign": "top"})
        quoted = wb.add_format({"num_format": "@", "locked": False, "valign": "top", "quote_prefix": True})
        wrap = wb.add_format({"num_format": "@", "text_wrap": True, "valign": "top"})

        def put(ws: Any, i: int, j: int, s: str, fmt: Any = None) -> None:
            """An explicit string cell; formula-like text gets the quote prefix (value unchanged)."""
            if formula_safe(s) != s:
                ws.write_string(i, j, s, quoted)
            else:
                ws.write_string(i, j, s, fmt if fmt is not None else text)

        ws = wb.add_worksheet(_README_SHEET)
        ws.set_column(0, 0, 20, wrap)
        ws.set_column(1, 1, 110, wrap)
        info = [
            ("ReviewOps 策略 / policy",
             (f"版本 version {policy.version if policy.version is not None else '（未保存 not stored）'} · "
             f"SHA-256 {policy.sha256[:12]}")),
            ("怎样修改 / how to edit",
             ("在各工作表中直接修改数据行；需要新增时在表格末尾空行填写（如新增一个词语、一条话术）；删除整行即删除该条。"
             "带下拉箭头的列请从列表中选择（中文名或英文代码均可）；把鼠标移到表头上可看到该列的说明和可选值。"
             " / edit the data rows; add rows at the end; pick choice columns from the drop-down; hover a header for help.")),
            ("保存与导入 / re-import",
             ("保存为 .xlsx（WPS 请选“Excel 工作簿 *.xlsx”），然后执行：reviewops policy import 本文件.xlsx 。"
             "校验通过后保存为新的策略版本（旧版本保留，可回看）；有错误时会逐条列出 工作表、行、列 和填写的值，改正后再导入。"
             " / save as .xlsx, then run `reviewops policy import FILE.xlsx`; every problem names sheet, row, column and value.")),
            ("不要修改 / do not change",
             ("不要修改表头和工作表名称，不要插入列。表头行已锁定（工作表保护，无密码：审阅 → 撤销工作表保护 即可解除）。"
             " / keep headers and sheet names; the header row is protected without a password.")),
            ("格式 / formats",
             ("金额单位为元（最多两位小数）；时效、间隔以小时计；“是/否”列填 是 或 否；代码只用小写英文、数字和下划线；"
             "所有单元格都按文本保存，订单号等长数字不会变成科学计数法。以 = + - @ 开头的内容按文本保存，不会被当作公式。"
             " / money in yuan; hours; 是/否; every cell is text, formula-like text stays text.")),
        ]
        info += [(f"工作表 {TABLES[k].sheet}", TABLES[k].help) for k in TABLES]
        info.append(("", ""))
        info.append(("各列说明 / columns", "工作表 · 列名 · 类型 · 必填 · 说明"))
        for spec in TABLES.values():
            for col in spec.columns:
                info.append((f"{spec.sheet} · {col.header}",
                             _column_note(col, policy).replace("\n", "；")))
        for i, (a, b) in enumerate(info):
            ws.write_string(i, 0, a, head if i == 0 else wrap)
            put(ws, i, 1, b, wrap)
        ws.activate()

        for key, spec in TABLES.items():
            ws = wb.add_worksheet(spec.sheet)
            ws.freeze_panes(1, 0)
            rows = policy.tables[key] or (builtin_rows(key) if key in _BUILTIN_FILES else ())
            n = max(len(rows) + 200, 500)
            ws.set_row(0, 30)
            widths: list[int] = []
            for j, col in enumerate(spec.columns):
                ws.write_string(0, j, col.header, head)
                ws.write_comment(0, j, _column_note(col, policy), {"x_scale": 3, "y_scale": 2.2})
                choices = _choice_list(col, policy)
                shown = [col.header, *choices] + [_cell_out(col, r[col.key]) for r in rows
                                                   if r.get(col.key) is not None]
                widths.append(min(max(_display_width(s) for s in shown) + 3, 70))
                if choices and len(",".join(choices)) < 250:
                    ws.data_validation(1, j, n, j, {
                        "validate": "list", "source": choices, "ignore_blank": True, "error_type": "warning",
                        "input_title": col.zh[:32], "input_message": "从列表中选择 / pick from the list"[:255],
                        "error_title": "不在列表中 / not in the list",
                        "error_message": f"可选：{'、'.join(choices)}。导入时会再校验。"[:255]})
            for j, w in enumerate(widths):
                ws.set_column(j, j, max(w, 8), text)
            for i, r in enumerate(rows, start=1):
                for j, col in enumerate(spec.columns):
                    v = r.get(col.key)
                    if v is not None:
                        put(ws, i, j, _cell_out(col, v))
                    else:
                        ws.write_blank(i, j, None, text)
            if key == "settings":  # a drop-down for single settings that have a fixed set of values
                vcol = next(j for j, c in enumerate(spec.columns) if c.key == "value")
                for i, r in enumerate(rows, start=1):
                    s = SETTINGS.get(r["key"])
                    choices = list(s.choices) if s and s.type == "choice" else (["是", "否"] if s and s.type == "bool"
                                                                                 else [])
                    if choices:
                        ws.data_validation(i, vcol, i, vcol, {"validate": "list", "source": choices,
                                                              "error_type": "warning"})
            ws.autofilter(0, 0, max(len(rows), 1), len(spec.columns) - 1)
            ws.protect("", SHEET_PROTECTION)
        wb.close()
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def import_policy(path: str | Path) -> Policy:
    """Read and validate a policy workbook written by :func:`export_policy` (and edited).

    Raises :class:`PolicyInvalid` naming sheet, row and column of every bad cell,
    unknown or missing headers, and missing sheets.
    """
    from python_calamine import CalamineWorkbook

    path = Path(path)
    name = path.name
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as e:  # noqa: BLE001 - any unreadable file
        raise PolicyInvalid(name, [Problem(name, None, None, None, f"无法读取工作簿：{e}",
                                           f"cannot read the workbook: {e}", "policy_file")]) from None
    raw: dict[str, list[dict[str, Any]]] = {}
    problems: list[Problem] = []
    sheets = set(wb.sheet_names)
    for key, spec in TABLES.items():
        if spec.sheet not in sheets:
            continue  # reported by from_tables
        rows = wb.get_sheet_by_name(spec.sheet).to_python(skip_empty_area=False)
        if not rows:
            raw[key] = []
            continue
        header = [_cell_text(h) for h in rows[0]]
        by_header = {c.header: c.key for c in spec.columns}
        by_header.update({c.zh: c.key for c in spec.columns})
        idx: dict[str, int] = {}
        for j, h in enumerate(header):
            if not h:
                continue
            if h in by_header:
                idx[by_header[h]] = j
            else:
                problems.append(Problem(f"{name} [{spec.sheet}]", 1, h, h, "未知的表头；请不要修改表头",
                                        "unknown header; do not rename headers", "policy_header"))
        for c in spec.columns:
            if c.key not in idx:
                problems.append(Problem(f"{name} [{spec.sheet}]", 1, c.header, None, "缺少这一列",
                                        "this column is missing", "policy_header"))
        raw[key] = [{k: (r[j] if j < len(r) else None) for k, j in idx.items()} for r in rows[1:]]
    if problems:
        raise PolicyInvalid(name, problems)
    return Policy.from_tables(raw, source=name)


# ------------------------------------------------------------------------ store
_PARSED: dict[tuple[int, str], Policy] = {}


def load_policy(store: Any, version: int | None = None) -> Policy | None:
    """The stored policy ``version`` (default: newest), or None when none is stored."""
    with store.read() as conn:
        return load_policy_in(conn, version, missing_ok=True)


@functools.cache
def _policy_stmts() -> tuple[sa.Select, sa.Select, sa.Select]:
    """The statements of :func:`load_policy_in`, built once (it runs in nearly every workbench step): the
    newest version's number and hash, a given version's number and hash, a version's text."""
    from .store import policy_versions as pv

    head = sa.select(pv.c.version, pv.c.sha256)
    return (head.order_by(pv.c.version.desc()).limit(1),
            head.where(pv.c.version == sa.bindparam("v")),
            sa.select(pv.c.policy_json).where(pv.c.version == sa.bindparam("v")))


def load_policy_in(conn: sa.Connection, version: int | None = None, *, missing_ok: bool = False) -> Policy | None:
    """:func:`load_policy` in the caller's transaction; with no stored policy, the default
    (or None with ``missing_ok``). Parsed versions are kept in memory by content hash."""
    latest, by_version, text_of = _policy_stmts()
    row = conn.execute(latest).first() if version is None else conn.execute(by_version, {"v": version}).first()
    if row is None:
        if version is not None:
            from .errors import NotFound
            raise NotFound(f"策略版本 {version} 不存在 / policy version {version} does not exist; "
                           "see `reviewops policy show`")
        return None if missing_ok else default_policy()
    key = (int(row.version), str(row.sha256))
    hit = _PARSED.get(key)
    if hit is None:
        text = conn.execute(text_of, {"v": row.version}).scalar_one()
        hit = Policy.from_json(text, version=row.version, source=f"store v{row.version}")
        if len(_PARSED) > 32:
            _PARSED.clear()
        _PARSED[key] = hit
    return hit


def save_policy(store: Any, policy: Policy, *, actor: str, note: str | None = None) -> Policy:
    """Store ``policy`` as a new version unless the newest stored one has the same content.

    Returns the policy with its version number. The version row is the audit
    record (who, when, note, SHA-256).
    """
    from .store import policy_versions as pv
    from .store import utcnow

    sha = policy.sha256
    for attempt in range(5):
        try:
            with store.write() as conn:
                last = conn.execute(sa.select(pv.c.version, pv.c.sha256)
                                    .order_by(pv.c.version.desc()).limit(1)).first()
                if last is not None and last.sha256 == sha:
                    return Policy(tables=policy.tables, version=last.version, source=policy.source)
                version = 1 if last is None else last.version + 1
                conn.execute(pv.insert().values(version=version, policy_json=policy.to_json(), sha256=sha,
                                                note=note, created_by=actor, created_at=utcnow()))
            return Policy(tables=policy.tables, version=version, source=policy.source)
        except sa.exc.IntegrityError:
            # someone stored a version at the same moment (PostgreSQL): look again
            if attempt == 4:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def current_policy(store: Any, *, actor: str = "system") -> Policy:
    """The newest stored policy; stores the default as version 1 when there is none."""
    p = load_policy(store)
    if p is None:
        p = save_policy(store, default_policy(), actor=actor, note="默认策略（剧本）/ default policy (playbook)")
    return p


def policy_or_default(policy: Policy | None) -> Policy:
    """``policy`` or the default policy."""
    return policy if policy is not None else default_policy()



def policy_versions_list(store: Any) -> list[dict[str, Any]]:
    """Stored policy versions, newest first: version, created_at, created_by, sha256, note."""
    from .store import policy_versions as pv

    with store.read() as conn:
        rows = conn.execute(sa.select(pv.c.version, pv.c.created_at, pv.c.created_by, pv.c.sha256, pv.c.note)
                            .order_by(pv.c.version.desc())).mappings().all()
    return [{**r, "created_at": r["created_at"].isoformat(timespec="seconds")} for r in rows]
