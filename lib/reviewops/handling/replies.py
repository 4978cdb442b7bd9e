"""3S replies and follow-up messages from the policy's templates (SPEC E3, H1, Compliance).

* :func:`draft_reply` — fill the most specific template for (kind, category, platform) with the
  customer's problem, the offered remedy, the coupon, the shop … and check the result.
* :func:`check_message` — the checks every message gets before it is sent, including one an
  agent edited by hand: not empty, within the platform's length limit, no conditional-incentive
  wording (好评返现, 删评就退款 …).
* :func:`fit_to_limit` — shorten one piece of user text to a number of characters, with "…".
* :func:`clean_user_text` — what user-supplied values (nickname, problem text) go through.

Filling never uses ``str.format``: only the template's own ``{customer}`` … ``{platform_rule}``
placeholders are replaced, in one pass, so a customer called ``{coupon}`` stays ``{coupon}``.
When the filled text is over the platform's limit, the user-supplied problem text (then the
nickname) is shortened with "…"; the template's Sorry–Solve–Smile wording is never cut. If that
is not enough the draft carries a problem instead of being cut silently.

Compliance: revision guidance (方便的话能否帮忙更新评价…) is drafted only when the caller says
the remedy was delivered (``remedy_delivered=True``); remedies are never conditional on a review.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..core.columns import PLATFORM_ZH, PLATFORMS
from ..core.errors import ConfigError
from ..core.policy import (
    CATEGORY_CODES,
    CATEGORY_ZH,
    TEMPLATE_FIELDS,
    TEMPLATE_KIND_ZH,
    TEMPLATE_KINDS,
    Policy,
    default_policy,
    fen_to_yuan_text,
)
from ..grading.extortion import (
    disclaimed,
    guard_model,
    guard_probability,
    incentive_hits,
)
from .remedy import Remedy

__all__ = ["Draft", "check_message", "clean_user_text", "draft_reply", "fit_to_limit"]

ELLIPSIS = "…"
DEFAULT_CUSTOMER = "亲"
DEFAULT_SHOP = "本店"
DEFAULT_REMEDY = "售后处理"
#: shortest a shortened problem / nickname may become (characters, including "…")
MIN_PROBLEM_CHARS = 6
MIN_CUSTOMER_CHARS = 3

_PLACEHOLDER = re.compile(r"\{(" + "|".join(TEMPLATE_FIELDS) + r")\}")
# invisible characters that can hide or reorder text: zero-width space, BOM, word joiner, soft hyphen,
# bidi marks, embeddings, overrides and isolates (ZWJ/ZWNJ are kept: emoji and scripts need them)
_INVISIBLE = frozenset("\u200b\ufeff\u2060\u00ad\u200e\u200f\u061c"
                       "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKS = frozenset("\t\n\r\v\f\x1c\x1d\x1e\x1f\x85\u2028\u2029")
_JOINERS = frozenset("\u200d\ufe0e\ufe0f")
# default coupon setting and default {days} per kind
_KIND_COUPON_SETTING = {"care": "care_coupon_fen", "repurchase_coupon": "repurchase_coupon_fen",
                        "delay_notice": "delay_coupon_fen"}


@dataclass(frozen=True)
class Draft:
    """A filled message and what is wrong with it (``problems`` empty → ``ok``).

    ``length`` counts characters as the platforms do (of the NFC text); ``limit`` is the
    platform's ``reply_max_chars``; ``template`` is the raw policy template used;
    ``shortened`` says the user-supplied problem text or nickname was cut with "…" to fit.
    """

    text: str
    kind: str
    category: str
    platform: str
    length: int
    limit: int
    template: str
    problems: tuple[str, ...] = ()
    shortened: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["problems"] = list(self.problems)
        d["ok"] = self.ok
        return d


# ------------------------------------------------------------------ user text
def clean_user_text(value: Any) -> str:
    """User text made safe to place in a message.

    Line breaks and tabs become spaces; other control characters, lone surrogates and invisible
    format characters (zero-width space, bidi overrides …) are removed; whitespace runs collapse
    to one space; leading combining marks are dropped; the result is NFC. Braces, ``%s`` and the
    like are kept literally — filling never interprets them.
    """
    s = unicodedata.normalize("NFC", str(value))
    out: list[str] = []
    for ch in s:
        if ch in _LINE_BREAKS:
            out.append(" ")
        elif ch in _INVISIBLE or unicodedata.category(ch) in ("Cc", "Cs"):
            continue
        else:
            out.append(ch)
    s = " ".join("".join(out).split())
    i = 0
    while i < len(s) and (unicodedata.combining(s[i]) or s[i] in _JOINERS):
        i += 1
    return unicodedata.normalize("NFC", s[i:])


def fit_to_limit(text: str, limit: int) -> str:
    """``text`` if it has at most ``limit`` characters, else its start and "…" in ``limit`` characters.

    Never splits a character from its combining marks or an emoji joiner sequence (it cuts a
    little earlier instead); ``limit`` ≤ 0 gives "".
    """
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise ConfigError(f"limit 应为整数，收到 {limit!r} / limit must be an integer, got {limit!r}")
    text = unicodedata.normalize("NFC", text)
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    end = limit - 1
    while end > 0 and (unicodedata.combining(text[end]) or text[end] in _JOINERS or text[end - 1] == "\u200d"):
        end -= 1
    return text[:end].rstrip() + ELLIPSIS


def _nfc_len(text: str) -> int:
    return len(unicodedata.normalize("NFC", text))


# ------------------------------------------------------------------- checks
def _platform_row(policy: Policy, platform: Any) -> Mapping[str, Any]:
    if platform not in PLATFORMS:
        raise ConfigError(f"未知平台 {platform!r}；可用：{', '.join(PLATFORMS)} / unknown platform {platform!r}; "
                          f"known: {', '.join(PLATFORMS)}")
    for r in policy.tables["platforms"]:
        if r["platform"] == platform:
            return r
    raise ConfigError(f"策略的“平台规则”表中没有 {PLATFORM_ZH[platform]}（{platform}）；请在该表添加一行并填写回复字数上限 / "
                      f"the policy's platforms sheet has no row for {platform!r}; add one with its reply limit")


def _squeezed(text: str) -> str:
    """Text as a reader sees it: NFKC (全角 → half width), without invisible characters and whitespace."""
    s = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in s if not ch.isspace() and ch not in _INVISIBLE
                   and unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))


def _forbidden_problems(text: str, policy: Policy) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    # the policy's 违规用语 rows and floor, except a phrase the message disclaims (我们不做好评返现) …
    hits = [h for variant in (unicodedata.normalize("NFC", text), _squeezed(text))
            for h in policy.forbidden_hits(variant) if not disclaimed(text, h[0], policy)]
    # the "benefit ↔ review" reading shared with extortion_scores (abbreviations, split words, emoji,
    # conditions hidden in sentence order, pressure to delete) — after the policy's own rows; with the
    # policy's 恶意识别词库 (seller rows; compiled once per policy SHA-256, empty = the built-in lexicon).
    # The guard model (grading/data/guard_model.*) overrules that reading when it is sure the message is
    # lawful (p <= compliance_model_pass) and blocks on its own when sure it is not (p >= compliance_model_block,
    # on a message of at least the model's min_chars characters); the policy's own rows and the floor always count.
    frame = incentive_hits(text, policy)
    p, n = guard_probability(text)
    if frame and p > float(policy.setting("compliance_model_pass")):
        hits += frame
    model = guard_model()
    if not hits and model is not None and n >= int(model.header.get("min_chars", 0)) \
            and p >= float(policy.setting("compliance_model_block")):
        hits.append((f"模型判断 {p:.2f}", "以评价为条件的利益诱导或施压（模型根据整句用词判断，请改写为不附条件的表述）"))
    for matched, reason in hits:
        if reason in seen:
            continue
        seen.add(reason)
        out.append(f"含违规诱导用语「{matched}」：{reason}。补偿不得以好评、改评或删评为条件，请删改后再发送 / "
                   f"conditional-incentive wording {matched!r} is not allowed (SPEC Compliance: {reason}); "
                   f"remedies are never conditional on a review — rephrase before sending")
    return out


def _length_problem(length: int, limit: int, platform: str) -> str | None:
    if length <= limit:
        return None
    return (f"超出{PLATFORM_ZH.get(platform, platform)}回复字数上限：{length} 字 > {limit} 字，请删减至少 {length - limit} 字 / "
            f"over the {platform} reply limit: {length} > {limit} characters; cut at least {length - limit}")


def check_message(text: str, *, platform: str, policy: Policy | None = None) -> list[str]:
    """Problems of a message about to be sent (empty list → fine to send).

    Checks: not empty; at most the platform's ``reply_max_chars`` characters (counted as the
    platform does: the NFC text's length); no conditional-incentive wording from the policy's
    违规用语 sheet or the built-in compliance floor (also looked for with spaces, invisible
    characters and full-width forms removed), nor a benefit tied to a review as the policy's 恶意识别词库
    reads it (:func:`reviewops.grading.extortion.incentive_hits`; pass the store's current policy so a shop's
    lexicon edit counts). Each problem is Chinese, then English.
    """
    policy = policy or default_policy()
    if not isinstance(text, str):
        raise ConfigError(f"消息应为文本，收到 {type(text).__name__} {text!r} / the message must be a string")
    row = _platform_row(policy, platform)
    problems: list[str] = []
    if not text.strip():
        problems.append("消息为空，请填写回复内容 / the message is empty; write the reply first")
        return problems
    lp = _length_problem(_nfc_len(text), row["reply_max_chars"], platform)
    if lp:
        problems.append(lp)
    problems += _forbidden_problems(text, policy)
    return problems


# ------------------------------------------------------------------- drafting
def _fill(template: str, values: Mapping[str, str]) -> str:
    """Replace the template's known placeholders in one pass; values are never re-scanned."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def _remedy_text(remedy: Remedy) -> str:
    if remedy.remedy == "supervisor":
        return "由主管为您定制解决方案"
    base = remedy.remedy_zh
    if remedy.coupon_fen:
        return f"{base}并附赠{fen_to_yuan_text(remedy.coupon_fen)}元优惠券"
    return base


def _fen_arg(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{name} 应为以分为单位的非负整数，收到 {value!r}；例如 500 表示 5 元 / "
                          f"{name} must be a non-negative integer amount in fen, got {value!r} (500 = 5 yuan)")
    return value


def _text_arg(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigError(f"{name} 应为文本，收到 {type(value).__name__} {value!r} / {name} must be text, got {value!r}")
    s = clean_user_text(value)
    return s or None


def draft_reply(kind: str = "reply_3s", *, category: str, platform: str, customer: str | None = None,
                problem: str | None = None, remedy: Remedy | str | None = None, coupon_fen: int | None = None,
                shop: str | None = None, order_id: str | int | None = None, days: int | None = None,
                remedy_delivered: bool = False, policy: Policy | None = None) -> Draft:
    """Fill the policy's most specific ``kind`` template for ``category`` and ``platform``.

    Defaults: customer "亲"; problem the category's Chinese name + "问题" (e.g. 物流问题);
    remedy from a :class:`Remedy` ("退款并附赠5元优惠券", "补发并附赠10元优惠券",
    "由主管为您定制解决方案") or the given text, else "售后处理"; coupon ``coupon_fen``, else the
    Remedy's coupon, else the kind's setting (care / repurchase / delay coupon), shown as "5元";
    shop "本店"; days for ``care`` from the follow-up cadence (3), for ``repurchase_coupon`` the
    coupon validity (90); ``{platform_rule}`` is the platform's appeal type.

    Customer-supplied values go through :func:`clean_user_text` and are placed literally.
    Problems (not exceptions) are reported for: over the platform limit even after shortening the
    problem text and nickname; conditional-incentive wording; a placeholder the caller gave no
    value for (coupon, order id, days); an appeal without the buyer's conduct; revision guidance
    before the remedy was delivered (then ``text`` is empty). Bad arguments (unknown kind,
    category or platform, no template, wrong types) raise :class:`ConfigError`.
    """
    policy = policy or default_policy()
    if kind not in TEMPLATE_KINDS:
        raise ConfigError(f"未知的话术用途 {kind!r}；可用：{', '.join(TEMPLATE_KINDS)} / unknown template kind {kind!r}; "
                          f"known: {', '.join(TEMPLATE_KINDS)}")
    if category not in CATEGORY_CODES:
        raise ConfigError(f"未知分类 {category!r}；可用：{', '.join(CATEGORY_CODES)} / unknown category {category!r}; "
                          f"known: {', '.join(CATEGORY_CODES)}")
    prow = _platform_row(policy, platform)
    limit = int(prow["reply_max_chars"])
    template = policy.template(kind, category, platform)
    if template is None:
        raise ConfigError(f"没有适用于 {CATEGORY_ZH[category]}（{category}）/ {PLATFORM_ZH[platform]}（{platform}）的"
                          f"“{TEMPLATE_KIND_ZH[kind]}”话术；请在策略“话术模板”表添加一行（分类或平台可填 *）/ "
                          f"no {kind} template for category {category!r} on {platform!r}; add a row to the "
                          f"templates sheet (category or platform may be *)")
    used = set(_PLACEHOLDER.findall(template))
    problems: list[str] = []

    if kind == "revision_guidance" and remedy_delivered is not True:
        problems.append("补偿送达之前不能发送评价修改指引：指引只能在补偿完成后发送，且不得作为补偿的条件；"
                        "请先完成并确认补偿，再以 remedy_delivered=True 生成 / revision guidance is sent only after the "
                        "remedy was delivered and never as its condition (SPEC H1, Compliance); deliver the remedy "
                        "first, then draft with remedy_delivered=True")
        return Draft(text="", kind=kind, category=category, platform=platform, length=0, limit=limit,
                     template=template, problems=tuple(problems))

    # -- values ------------------------------------------------------------
    customer_v = _text_arg(customer, "customer")
    problem_v = _text_arg(problem, "problem")
    if remedy is None:
        remedy_v = None
    elif isinstance(remedy, Remedy):
        remedy_v = _remedy_text(remedy)
    elif isinstance(remedy, str):
        remedy_v = clean_user_text(remedy) or None
    else:
        raise ConfigError(f"remedy 应为 Remedy（remedy_for 的结果）或文本，收到 {type(remedy).__name__} / "
                          f"remedy must be a Remedy (from remedy_for) or text, got {remedy!r}")
    if coupon_fen is not None:
        coupon = _fen_arg(coupon_fen, "coupon_fen")
    elif isinstance(remedy, Remedy) and remedy.coupon_fen:
        coupon = remedy.coupon_fen
    elif kind in _KIND_COUPON_SETTING:
        coupon = policy.setting(_KIND_COUPON_SETTING[kind])
    else:
        coupon = None
    if days is not None:
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise ConfigError(f"days 应为非负整数，收到 {days!r} / days must be a non-negative integer, got {days!r}")
        days_v: int | None = days
    elif kind == "repurchase_coupon":
        days_v = policy.setting("repurchase_coupon_days")
    else:
        step = next((f for f in policy.tables["followups"] if f["template_kind"] == kind), None)
        days_v = round(step["offset_hours"] / 24) if step is not None else None
    try:
        cat_zh = policy.category(category)["name_zh"]
    except KeyError:
        cat_zh = CATEGORY_ZH[category]
    values: dict[str, str] = {
        "customer": customer_v or DEFAULT_CUSTOMER,
        "problem": problem_v or f"{cat_zh}问题",
        "remedy": remedy_v or DEFAULT_REMEDY,
        "coupon": f"{fen_to_yuan_text(coupon)}元" if coupon is not None else "",
        "shop": _text_arg(shop, "shop") or DEFAULT_SHOP,
        "order_id": _text_arg(order_id, "order_id") or "",
        "days": str(days_v) if days_v is not None else "",
        "platform_rule": prow["appeal_type"],
    }
    if "coupon" in used and coupon is None:
        problems.append("话术含 {coupon}，但没有券面额；请传入 coupon_fen 或 Remedy / the template uses {coupon} "
                        "but no coupon amount was given; pass coupon_fen or a Remedy")
    if "order_id" in used and not values["order_id"]:
        problems.append("话术含 {order_id}，但没有订单号；请传入 order_id / the template uses {order_id}; pass order_id")
    if "days" in used and days_v is None:
        problems.append("话术含 {days}，但没有天数；请传入 days / the template uses {days}; pass days")
    if kind == "appeal" and "problem" in used and problem_v is None:
        problems.append("申诉需写明买家的具体情形（如“要求返现删评”）；请传入 problem / an appeal must state the "
                        "buyer's conduct; pass problem")

    # -- fit the platform limit: shorten user text only, never the template ----------
    text = _fill(template, values)
    shortened = False
    for key, given, floor in (("problem", problem_v, MIN_PROBLEM_CHARS), ("customer", customer_v, MIN_CUSTOMER_CHARS)):
        over = _nfc_len(text) - limit
        if over <= 0:
            break
        if given is None or key not in used:
            continue
        n = _PLACEHOLDER.findall(template).count(key)  # a value used twice shrinks twice
        target = max(floor, len(given) - math.ceil(over / n))
        if target < len(given):
            values[key] = fit_to_limit(given, target)
            shortened = True
            text = _fill(template, values)
    lp = _length_problem(_nfc_len(text), limit, platform)
    if lp:
        problems.append(lp + "（已尽量缩短顾客问题与昵称，话术本身未删减，请手动精简 / user text was shortened as far as "
                             "it goes; the template was not cut — shorten it by hand）")

    # -- compliance: the whole message; for an appeal (to the platform, quoting the buyer's
    # extortion) the buyer's own words are left out of the scan
    if kind == "appeal":
        scan = _fill(template, {**values, "problem": "。", "customer": "。"})
    else:
        scan = text
    problems += _forbidden_problems(scan, policy)
    if not text.strip():
        problems.append("消息为空 / the message is empty")
    return Draft(text=text, kind=kind, category=category, platform=platform, length=_nfc_len(text), limit=limit,
                 template=template, problems=tuple(problems), shortened=shortened)
