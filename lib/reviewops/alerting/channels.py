"""Alert channels (SPEC E1): Feishu, DingTalk and WeCom group robots, e-mail and SMS.

One row of the policy's 提醒渠道 table becomes one :class:`Channel` through :func:`build_channel`;
the alert ledger calls ``channel.send(msg, timeout=…)`` with an :class:`AlertMessage` whose personal
data the caller has already masked. A failed send raises :class:`ChannelError` whose ``retryable`` says
whether trying again later can help (network, timeout, HTTP 429/5xx, the service's rate limit) or not
(bad signature, bad key, malformed payload, refused login). See ``docs/channels.md``.

What each service receives (see :func:`render`, which returns exactly that payload):

* **Feishu** custom bot: ``msg_type: post`` (zh_cn title, one text line per fact, an ``a`` tag for the case
  link, ``at`` tags by ``user_id``); signed robots get ``timestamp`` (seconds) and
  ``sign = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))`` in the body.
* **DingTalk** custom robot: ``msgtype: markdown`` with ``at.atMobiles`` plus ``@138…`` in the text (DingTalk
  needs both), ``isAtAll`` always false; signed robots get ``timestamp`` (ms) and
  ``sign = base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"))`` as URL query parameters.
* **WeCom** group robot: ``msgtype: markdown`` (≤ 4096 bytes; the excerpt is cut, never the link) with
  ``<@userid>``; markdown cannot carry mobile mentions, so on-duty people known only by mobile are
  mentioned in a second ``text`` message with ``mentioned_mobile_list``.
* **E-mail**: subject ``【中差评提醒】…``, a plain-text and an HTML part (everything ``html.escape``d), sent
  with the shop's SMTP settings (:class:`reviewops.alerting.delivery.SmtpConfig`, STARTTLS/SSL with verified
  certificates).
* **SMS**: four short plain-text template parameters (≤ 12 characters each, Tencent's limit for one
  variable) — 平台店铺, 星级+分类, 截止时间, 提醒编号 — through an :class:`SmsProvider`; :class:`TencentSms`
  uses the Tencent Cloud SDK (optional extra ``reviewops[sms]``).

An appeal-deadline alert (kinds ``appeal_warn`` / ``appeal_overdue``) is headed 【平台申诉提醒】 instead of
【中差评提醒】 and shows 平台店铺, 案件, 申诉事项 (case, platform, appeal type and state, what to do), 申诉截止
(Beijing time), 负责角色 and 提醒编号 — no customer, rating or review excerpt; its SMS carries the stage
(申诉即将截止 / 申诉已逾期) in place of 星级+分类 and a key shortened to ``AW-<case>`` / ``AO-<case>``.

A service-commitment alert (kinds ``commit_warn`` / ``commit_breach``, issue 19 §P6) has no case
(``AlertMessage.case_id`` None): it is headed 【服务承诺提醒】 and shows 平台店铺, 服务承诺, 事项 (``subject``: the order or
masked event), 情况与处理, 承诺时限, 负责 and 提醒编号, with no case line or link; its SMS carries the commitment's name
in place of 星级+分类 and a long key is shortened to ``CW-`` / ``CB-`` plus the key's end.

User text (excerpt, nick, shop …) can never create a link, header, image, HTML or a mention in any
channel: line breaks are folded, control and zero-width characters dropped, and the characters that
carry markup in the robots' markdown (``[ ] ( ) < > * _ # ` ! ~ | @ & \\``) become their full-width forms.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import html
import http.client
import importlib.util
import ipaddress
import json
import os
import re
import smtplib
import socket
import ssl
import threading
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any, Protocol

from ..core.errors import ConfigError, ReviewOpsError
from ..core.policy import CHANNEL_TYPE_ZH, CHANNEL_TYPES
from .delivery import SmtpConfig, _tls_context, parse_recipients

__all__ = [
    "CHANNEL_TYPES", "CHANNEL_TYPE_ZH", "AlertMessage", "Channel", "ChannelError", "DingTalkChannel",
    "EmailChannel", "FeishuChannel", "HttpSession", "Mention", "SmsChannel", "SmsProvider", "TencentSms", "WeComChannel",
    "alert_title", "build_channel", "render",
]

# the policy's 提醒渠道 table declares the types (one list for validation, the workbook and here)

EXCERPT_MAX = 300            # characters of the review excerpt in an IM message
EMAIL_EXCERPT_MAX = 2000     # … in an e-mail
WECOM_MARKDOWN_MAX = 4096    # bytes (UTF-8) of a WeCom markdown ``content``
WECOM_TEXT_MAX = 2048        # bytes of a WeCom text ``content``
SMS_PARAM_MAX = 12           # characters of one Tencent SMS template variable (error 1036 beyond)

# Service error codes (see docs/channels.md for sources). Anything not listed is not retryable.
FEISHU_RETRYABLE = frozenset({9499, 11232, 2200})        # request limit / frequency limited / internal error
DINGTALK_RETRYABLE = frozenset({-1, 130101, 410100})     # system busy / send too fast / rate limited
WECOM_RETRYABLE = frozenset({-1, 45009})                 # system busy / api freq out of limit
TENCENT_RETRYABLE_PREFIXES = ("LimitExceeded", "RequestLimitExceeded", "InternalError", "ClientNetworkError",
                              "ServerNetworkError")

_KIND_ZH = {"new_case": "新中差评", "breach": "超时升级", "malicious": "疑似恶意差评（转法务）",
            "appeal_warn": "申诉即将截止", "appeal_overdue": "申诉已逾期",
            "commit_warn": "服务承诺即将违约", "commit_breach": "服务承诺已违约"}
#: Kinds about a platform appeal's deadline: their own headline prefix and facts (no customer, rating or review).
_APPEAL_KINDS = ("appeal_warn", "appeal_overdue")
#: Kinds about a service commitment in progress (issue 19 §P6): no case, no customer, rating or review.
_COMMIT_KINDS = ("commit_warn", "commit_breach")
_MARKUP = str.maketrans({
    "[": "［", "]": "］", "(": "（", ")": "）", "<": "＜", ">": "＞", "*": "＊", "_": "＿", "#": "＃", "`": "｀",
    "!": "！", "~": "～", "|": "｜", "@": "＠", "&": "＆", "\\": "＼", "{": "｛", "}": "｝", "$": "＄", "^": "＾",
})
_SAFE_KEY = re.compile(r"^[A-Za-z0-9:.\-]*_?[A-Za-z0-9:.\-]*$")   # at most one "_": never an italic pair
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@\-]{0,127}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# --------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Mention:
    """One on-duty person to @-mention / notify (from the policy's duty roster)."""

    name: str
    mobile: str | None = None      # DingTalk atMobiles, WeCom mentioned_mobile_list, SMS recipient
    feishu_id: str | None = None   # Feishu open_id / user_id for <at>
    wecom_id: str | None = None    # WeCom userid for <@userid> / mentioned_list
    email: str | None = None       # extra e-mail recipient


@dataclass(frozen=True)
class AlertMessage:
    """One alert, everything already masked by the caller."""

    key: str
    kind: str
    title: str
    case_id: int | None  # None = an alert about no case (a service commitment in progress)
    platform_zh: str
    shop: str
    customer: str
    rating: int | None
    category_zh: str
    severity_zh: str
    excerpt: str
    due_local: str
    role_zh: str
    case_url: str
    mentions: tuple[Mention, ...] = ()
    rating_text: str = ""  # the platform's own grade when there are no stars (淘宝 好评/中评/差评)
    subject: str = ""  # a case-less alert: what it is about (commitment and masked order / event id)


class ChannelError(ReviewOpsError):
    """A channel could not deliver an alert. ``retryable`` tells the ledger whether to try again later.

    The message names the channel, the HTTP status and the service's error code/message — never a phone
    number, name or review text.
    """

    def __init__(self, message: str, *, channel: str, retryable: bool, code: str | None = None):
        super().__init__(message)
        self.channel = channel
        self.retryable = retryable
        self.code = code

    def to_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "message": str(self), "channel": self.channel,
                "retryable": self.retryable, "code": self.code}


class Channel(ABC):
    """One configured alert channel (a row of the policy's 提醒渠道 table)."""

    name: str
    type: str
    enabled: bool = True
    events: str | None = None

    @abstractmethod
    def send(self, msg: AlertMessage, *, timeout: float = 5.0) -> None:
        """Deliver ``msg``; raise :class:`ChannelError` when it was not delivered."""

    def close(self) -> None:
        """Close the connections kept open for the next message (robots: :class:`HttpSession`)."""
        session = getattr(self, "session", None)
        if session is not None:
            session.close()

    def __repr__(self) -> str:  # never the URL, key or secret
        return f"<{type(self).__name__} name={self.name!r} type={self.type!r}>"


class SmsProvider(Protocol):
    """Sends one templated SMS to several phones (E.164). Raises :class:`ChannelError` on failure."""

    def send(self, phones: list[str], params: list[str], *, timeout: float) -> None: ...


# ------------------------------------------------------------------------------------ text helpers


def _clean(text: Any, limit: int | None = None) -> str:
    """One line of plain text: control/format characters dropped, any run of whitespace → one space."""
    s = unicodedata.normalize("NFC", "" if text is None else str(text))
    s = "".join(" " if ch.isspace() else "" if unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs") else ch
                for ch in s)
    s = " ".join(s.split())
    if limit is not None and len(s) > limit:
        s = s[: max(limit - 1, 0)].rstrip() + "…"
    return s


def _inert(text: Any, limit: int | None = None) -> str:
    """User text made inert for IM markdown/rich text: no link, header, image, HTML, code or mention."""
    s = _clean(text, limit).translate(_MARKUP)
    s = re.sub(r":(?=//)", "：", s)                    # no bare-URL autolink (http://…)
    return re.sub(r"(?i)\bwww\.", "www．", s)


def _key(msg: AlertMessage, text: Callable[[Any, int], str] | None = None) -> str:
    """The 提醒编号 as shown: a plain key as it is, anything else through ``text`` (default :func:`_inert`)."""
    ok = msg.key and len(msg.key) <= 80 and _SAFE_KEY.match(msg.key)
    return msg.key if ok else (text or _inert)(msg.key, 80)


def _stars(rating: int | None, text: str = "") -> str:
    if rating is None or not isinstance(rating, int) or not 1 <= rating <= 5:
        return _inert(text, 10) if text else "未知"
    return "★" * rating + "☆" * (5 - rating) + f"（{rating} 星）"


def alert_title(kind: str) -> str:
    """The headline of an alert kind: 新中差评, 时效预警：已用 NN% (``warn_NN``), 超时升级, 疑似恶意差评（转法务）,
    申诉即将截止 / 申诉已逾期 (``appeal_warn`` / ``appeal_overdue``); 中差评提醒 otherwise."""
    m = re.match(r"^warn_(\d+)$", kind or "")
    return f"时效预警：已用 {m.group(1)}%" if m else _KIND_ZH.get(kind, "中差评提醒")


def _title(msg: AlertMessage) -> str:
    return _clean(msg.title, 40) or alert_title(msg.kind)


def _banner(msg: AlertMessage) -> str:
    """The bracketed name every message starts with: 平台申诉提醒 for an appeal deadline, 服务承诺提醒 for a
    service commitment in progress, else 中差评提醒."""
    return "平台申诉提醒" if msg.kind in _APPEAL_KINDS else "服务承诺提醒" if msg.kind in _COMMIT_KINDS else "中差评提醒"


def _case_ref(msg: AlertMessage) -> str:
    """``案件 #N`` (plain text); for an alert about no case its subject (commitment and masked order / event id)."""
    return f"案件 #{int(msg.case_id)}" if msg.case_id is not None else (_clean(msg.subject, 60) or "无关联案件")


def _case_line(msg: AlertMessage, url: str | None, *, markdown: bool) -> str | None:
    """The last line that links the case (markdown or plain); None for an alert about no case."""
    if msg.case_id is None:
        return None
    if markdown:
        return f"[打开案件 #{int(msg.case_id)}]({url})" if url else f"案件 #{int(msg.case_id)}（链接无效）"
    return f"案件：#{int(msg.case_id)} {url or '（链接无效，请在工作台查找）'}"


def _link(url: str) -> str | None:
    """The case URL if it is an http(s) link, percent-encoded so it cannot break out of ``[..](..)``."""
    u = (url or "").strip()
    parts = urllib.parse.urlsplit(u)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c in u for c in "\r\n"):
        return None
    return urllib.parse.quote(u, safe=":/?#@!$&'*+,;=%~-._[]")


def _mobile(raw: str | None) -> str | None:
    """A mainland mobile as DingTalk/WeCom want it (11 digits), or an E.164 number without spaces."""
    if not raw:
        return None
    s = re.sub(r"[\s\-()]", "", str(raw))
    for prefix in ("+86", "0086"):
        if s.startswith(prefix) and len(s) == len(prefix) + 11:
            s = s[len(prefix):]
    if re.fullmatch(r"1[3-9]\d{9}", s) or re.fullmatch(r"\+[1-9]\d{6,14}", s):
        return s
    return None


def _e164(raw: str | None) -> str | None:
    """Phone number in E.164 (+86… for an 11-digit mainland mobile), None when it is not one."""
    if not raw:
        return None
    s = re.sub(r"[\s\-()]", "", str(raw))
    if s.startswith("00"):
        s = "+" + s[2:]
    if re.fullmatch(r"1[3-9]\d{9}", s):
        s = "+86" + s
    elif re.fullmatch(r"861[3-9]\d{9}", s):
        s = "+" + s
    return s if re.fullmatch(r"\+[1-9]\d{6,14}", s) else None


def _safe_id(value: str | None) -> str | None:
    v = (value or "").strip()
    if not _SAFE_ID.match(v) or v.lower() in ("all", "@all"):
        return None
    return v


def _facts(msg: AlertMessage, limit: int, text: Callable[[Any, int], str] | None = None) -> list[tuple[str, str]]:
    """(label, value) pairs shown in every channel, in order. ``text`` makes each value safe for the
    channel: :func:`_inert` (default, the IM robots' markup) or :func:`_clean` (e-mail, escaped later)."""
    t = text or _inert
    if msg.kind in _COMMIT_KINDS:  # about a shop's promise, not a review: no customer, rating or review text
        return [
            ("平台店铺", f"{t(msg.platform_zh, 20)} · {t(msg.shop, 60)}"),
            ("服务承诺", t(msg.category_zh, 30)),
            ("事项", t(msg.subject, 80)),
            ("情况与处理", t(msg.excerpt, limit)),
            ("承诺时限", f"{t(msg.due_local, 30)}（北京时间）"),
            ("负责", t(msg.role_zh, 40)),
            ("提醒编号", _key(msg, t)),
        ]
    if msg.kind in _APPEAL_KINDS:  # about the appeal, not the review: no customer, rating or review text
        return [
            ("平台店铺", f"{t(msg.platform_zh, 20)} · {t(msg.shop, 60)}"),
            ("案件", f"#{int(msg.case_id)}"),
            ("申诉事项", t(msg.excerpt, limit)),
            ("申诉截止", f"{t(msg.due_local, 30)}（北京时间）"),
            ("负责角色", t(msg.role_zh, 30)),
            ("提醒编号", _key(msg, t)),
        ]
    return [
        ("平台店铺", f"{t(msg.platform_zh, 20)} · {t(msg.shop, 60)}"),
        ("顾客", t(msg.customer, 40)),
        ("评分", _stars(msg.rating, msg.rating_text)),
        ("分类", f"{t(msg.category_zh, 20)}（严重度：{t(msg.severity_zh, 10)}）"),
        ("评价摘录", t(msg.excerpt, limit) or "（无文字）"),
        ("处理截止", f"{t(msg.due_local, 30)}（北京时间）"),
        ("负责角色", t(msg.role_zh, 30)),
        ("提醒编号", _key(msg, t)),
    ]


# ---------------------------------------------------------------------------------------- render


def _render_feishu(msg: AlertMessage) -> dict[str, Any]:
    lines: list[list[dict[str, Any]]] = [[{"tag": "text", "text": f"{label}：{value}"}]
                                         for label, value in _facts(msg, EXCERPT_MAX)]
    url = _link(msg.case_url)
    if msg.case_id is None:
        pass  # an alert about no case: nothing to link
    elif url:
        lines.append([{"tag": "text", "text": "案件："}, {"tag": "a", "text": f"打开案件 #{int(msg.case_id)}", "href": url}])
    else:
        lines.append([{"tag": "text", "text": f"案件：#{int(msg.case_id)}（链接无效，请在工作台查找）"}])
    at: list[dict[str, Any]] = []
    for m in msg.mentions:
        uid = _safe_id(m.feishu_id)
        if uid:
            at += [{"tag": "at", "user_id": uid, "user_name": _clean(m.name, 20)}, {"tag": "text", "text": " "}]
        else:
            at.append({"tag": "text", "text": f"{_inert(m.name, 20)} "})
    if at:
        lines.append([{"tag": "text", "text": "值班："}, *at, {"tag": "text", "text": "请尽快处理"}])
    return {"msg_type": "post",
            "content": {"post": {"zh_cn": {"title": f"【{_banner(msg)}】{_inert(_title(msg))}", "content": lines}}}}


def _render_dingtalk(msg: AlertMessage) -> dict[str, Any]:
    title = _inert(_title(msg))
    parts = [f"### 【{_banner(msg)}】{title}"]
    parts += [f"**{label}**：{value}" for label, value in _facts(msg, EXCERPT_MAX)]
    line = _case_line(msg, _link(msg.case_url), markdown=True)
    if line:
        parts.append(line)
    mobiles: list[str] = []
    tags: list[str] = []
    for m in msg.mentions:
        mob = _mobile(m.mobile)
        if mob and mob not in mobiles:
            mobiles.append(mob)
            tags.append(f"@{mob}")
        elif not mob:
            tags.append(_inert(m.name, 20))
    if tags:
        parts.append("值班：" + " ".join(tags) + " 请尽快处理")
    return {"msgtype": "markdown",
            "markdown": {"title": f"{_banner(msg)}：{title}", "text": "\n\n".join(parts)},
            "at": {"atMobiles": mobiles, "isAtAll": False}}


def _wecom_content(msg: AlertMessage, excerpt_limit: int) -> str:
    color = ("warning" if msg.kind in ("breach", "malicious", "appeal_overdue") else "info" if msg.kind == "new_case"
             else "comment")
    lines = [f"### 【{_banner(msg)}】<font color=\"{color}\">{_inert(_title(msg))}</font>"]
    lines += [f"> **{label}**：{value}" for label, value in _facts(msg, excerpt_limit)]
    line = _case_line(msg, _link(msg.case_url), markdown=True)
    if line:
        lines.append(line)
    tags = []
    for m in msg.mentions:
        uid = _safe_id(m.wecom_id)
        tags.append(f"<@{uid}>" if uid else _inert(m.name, 20))
    if tags:
        lines.append("值班：" + " ".join(tags) + " 请尽快处理")
    return "\n".join(lines)


def _render_wecom(msg: AlertMessage) -> dict[str, Any]:
    limit = EXCERPT_MAX
    content = _wecom_content(msg, limit)
    while len(content.encode("utf-8")) > WECOM_MARKDOWN_MAX and limit > 1:
        over = len(content.encode("utf-8")) - WECOM_MARKDOWN_MAX
        limit = max(1, limit - max(1, over // 3 + 1))       # ≥ 1 char per 3 bytes over
        content = _wecom_content(msg, limit)
    return {"msgtype": "markdown", "markdown": {"content": content}}


def _wecom_mobile_followup(msg: AlertMessage) -> dict[str, Any] | None:
    """The ``text`` message that @-mentions on-duty people WeCom knows only by mobile (markdown can't)."""
    mobiles: list[str] = []
    for m in msg.mentions:
        mob = _mobile(m.mobile)
        if not _safe_id(m.wecom_id) and mob and mob not in mobiles:
            mobiles.append(mob)
    if not mobiles:
        return None
    content = _clean(f"【{_banner(msg)}】{_title(msg)}：{_case_ref(msg)} 请尽快处理，提醒编号 {_key(msg)}",
                     WECOM_TEXT_MAX // 3)
    return {"msgtype": "text", "text": {"content": content, "mentioned_mobile_list": mobiles}}


def _email_subject(msg: AlertMessage) -> str:
    s = f"【{_banner(msg)}】{_title(msg)}｜{_clean(msg.platform_zh, 20)}·{_clean(msg.shop, 60)}｜{_case_ref(msg)}"
    return _clean(s, 200)


def _render_email(msg: AlertMessage) -> EmailMessage:
    facts = _facts(msg, EMAIL_EXCERPT_MAX, _clean)
    duty = "、".join(_clean(m.name, 20) for m in msg.mentions)
    url = _link(msg.case_url)
    title = _title(msg)
    text = [f"【{_banner(msg)}】{title}", ""] + [f"{k}：{v}" for k, v in facts]
    line = _case_line(msg, url, markdown=False)
    if line:
        text.append(line)
    if duty:
        text.append(f"值班：{duty}")
    text += ["", "顾客信息已脱敏。/ Customer data is masked.", "此邮件由 ReviewOps 自动发送。/ Sent automatically by ReviewOps."]

    def cell(v: str) -> str:      # escaped, and no bare URL a mail client would turn into a link
        return re.sub(r":(?=//)", "&#58;", html.escape(v, quote=True)).replace("www.", "www&#46;")

    rows = "".join(f"<tr><th style=\"text-align:left;padding:2px 12px 2px 0\">{html.escape(k)}</th>"
                   f"<td>{cell(v)}</td></tr>" for k, v in facts)
    link = ("" if msg.case_id is None else
            f"<a href=\"{html.escape(url, quote=True)}\">打开案件 #{int(msg.case_id)}</a>" if url
            else f"案件 #{int(msg.case_id)}（链接无效）")
    body = (f"<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"></head><body>"
            f"<h3>【{html.escape(_banner(msg))}】{cell(title)}</h3><table>{rows}</table>"
            + (f"<p>{link}</p>" if link else "")
            + (f"<p>值班：{cell(duty)}</p>" if duty else "")
            + "<p style=\"color:#888\">顾客信息已脱敏。此邮件由 ReviewOps 自动发送。</p></body></html>")
    em = EmailMessage()
    em["Subject"] = _email_subject(msg)
    em.set_content("\n".join(text))
    em.add_alternative(body, subtype="html")
    return em


def _sms_params(msg: AlertMessage) -> list[str]:
    def p(v: Any) -> str:
        s = _clean(v).replace("【", "[").replace("】", "]")
        s = re.sub(r"(?i)(https?:/*|www\.)", "", s)           # no URL in a variable (Tencent error 1048)
        return s[:SMS_PARAM_MAX] or "-"

    stars = f"{msg.rating}星" if isinstance(msg.rating, int) and 1 <= msg.rating <= 5 else _clean(msg.rating_text, 4)
    due = _clean(msg.due_local)
    m = re.match(r"^\d{4}-(\d{2}-\d{2} \d{2}:\d{2})", due)
    key = _clean(msg.key)
    if len(key) > SMS_PARAM_MAX:
        w = re.match(r"^warn_(\d+)", msg.kind or "")
        abbr = ("N" if msg.kind == "new_case" else "B" if msg.kind == "breach" else "M" if msg.kind == "malicious"
                else "AW" if msg.kind == "appeal_warn" else "AO" if msg.kind == "appeal_overdue"
                else "CW" if msg.kind == "commit_warn" else "CB" if msg.kind == "commit_breach"
                else f"W{w.group(1)}" if w else "A")
        key = (f"{abbr}-{int(msg.case_id)}" if msg.case_id is not None  # no case: the key's end (the event id)
               else f"{abbr}-{key[-(SMS_PARAM_MAX - len(abbr) - 1):]}")
    what = (alert_title(msg.kind) if msg.kind in _APPEAL_KINDS  # no rating: the appeal's stage instead
            else _clean(msg.category_zh) if msg.kind in _COMMIT_KINDS  # the commitment's name
            else f"{stars}{_clean(msg.category_zh)}")
    return [p(f"{_clean(msg.platform_zh)}{_clean(msg.shop)}"), p(what),
            p(m.group(1) if m else due), p(key)]


def render(channel_type: str, msg: AlertMessage) -> Any:
    """The payload a channel of ``channel_type`` sends for ``msg`` (without signature/timestamp):
    a dict for feishu/dingtalk/wecom, an :class:`EmailMessage` (no From/To yet) for email,
    the template parameters (list of str) for sms."""
    t = _norm_type(channel_type)
    if t == "feishu":
        return _render_feishu(msg)
    if t == "dingtalk":
        return _render_dingtalk(msg)
    if t == "wecom":
        return _render_wecom(msg)
    if t == "email":
        return _render_email(msg)
    if t == "sms":
        return _sms_params(msg)
    raise ConfigError(f"未知的提醒渠道类型 {channel_type!r}；应为 {'、'.join(CHANNEL_TYPES)} / unknown channel type "
                      f"{channel_type!r}; use one of {', '.join(CHANNEL_TYPES)}")


# ----------------------------------------------------------------------------------------- HTTP


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _short(text: Any, limit: int = 160) -> str:
    return _clean(text, limit)


class HttpSession:
    """The HTTP connections of one robot channel, kept open between messages (keep-alive).

    One connection per scheme, host and port, used by one message at a time (a lock), so a burst of alerts
    costs one TCP (and TLS) handshake instead of one per message. A connection idle for more than
    :attr:`IDLE_S` seconds is closed before the next message rather than reused (services close idle
    connections after a while; sending into one they are closing risks a lost request). If a *reused*
    connection turns out to have been closed by the service before it answered (``RemoteDisconnected``,
    reset, broken pipe), the message is sent once more on a fresh connection — the classic keep-alive race,
    where the service has not processed the request. Redirects are never followed. Behind an HTTP(S) proxy
    (``https_proxy`` … in the environment, ``no_proxy`` respected) every message goes through
    :mod:`urllib.request` as before, one connection each. ``opened`` and ``requests`` count connections and
    messages (tests, benchmarks)."""

    IDLE_S = 20.0

    def __init__(self) -> None:
        self._conns: dict[tuple[str, str, int], tuple[http.client.HTTPConnection, float]] = {}
        self._lock = threading.Lock()
        self.opened = 0
        self.requests = 0

    def close(self) -> None:
        with self._lock:
            for conn, _ in self._conns.values():
                with contextlib.suppress(Exception):
                    conn.close()
            self._conns.clear()

    def post(self, url: str, data: bytes, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
        """POST ``data``; (HTTP status, at most 64 KiB of the answer). Raises what :mod:`http.client` raises."""
        parts = urllib.parse.urlsplit(url)
        if _proxied(parts):
            req = urllib.request.Request(url, data=data, method="POST", headers=headers)
            try:
                with _OPENER.open(req, timeout=timeout) as resp:
                    self.requests += 1
                    return resp.status, resp.read(65536)
            except urllib.error.HTTPError as e:
                return e.code, (e.read(65536) if e.fp else b"")
            except urllib.error.URLError as e:
                raise e.reason if isinstance(e.reason, BaseException) else OSError(str(e.reason)) from None
        https = parts.scheme == "https"
        key = (parts.scheme, parts.hostname or "", parts.port or (443 if https else 80))
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        with self._lock:
            for attempt in (0, 1):
                conn, reused = self._connection(key, timeout)
                try:
                    conn.request("POST", path, body=data, headers={**headers, "Host": parts.netloc})
                    resp = conn.getresponse()
                    body = resp.read(65536)
                except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
                    self._drop(key)
                    if reused and attempt == 0:
                        continue  # the service closed an idle connection: not processed, send on a new one
                    raise
                except BaseException:
                    self._drop(key)
                    raise
                self.requests += 1
                if resp.will_close or not resp.isclosed():  # the service closes it, or an answer over 64 KiB
                    self._drop(key)
                else:
                    self._conns[key] = (conn, time.monotonic())
                return resp.status, body
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self, key: tuple[str, str, int], timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        held = self._conns.get(key)
        if held is not None and time.monotonic() - held[1] <= self.IDLE_S and held[0].sock is not None:
            conn = held[0]
            conn.timeout = timeout
            conn.sock.settimeout(timeout)
            return conn, True
        if held is not None:
            self._drop(key)
        scheme, host, port = key
        conn = (http.client.HTTPSConnection(host, port, timeout=timeout, context=_tls_default())
                if scheme == "https" else http.client.HTTPConnection(host, port, timeout=timeout))
        self._conns[key] = (conn, time.monotonic())
        self.opened += 1
        return conn, False

    def _drop(self, key: tuple[str, str, int]) -> None:
        held = self._conns.pop(key, None)
        if held is not None:
            with contextlib.suppress(Exception):
                held[0].close()


_TLS: ssl.SSLContext | None = None


def _tls_default() -> ssl.SSLContext:
    """One verifying TLS context for the robots' webhooks (the system's CAs, as urllib uses)."""
    global _TLS
    if _TLS is None:
        _TLS = ssl.create_default_context()
    return _TLS


def _proxied(parts: urllib.parse.SplitResult) -> bool:
    """An HTTP(S) proxy is configured for this URL (then urllib carries the message, as before keep-alive)."""
    proxies = urllib.request.getproxies()
    return bool(proxies.get(parts.scheme)) and not urllib.request.proxy_bypass(parts.hostname or "")


def _post_json(channel: Channel, url: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
    """POST ``payload`` as JSON over the channel's :class:`HttpSession` (kept-alive connections); the decoded
    JSON answer. Transport problems become ChannelError."""
    zh = CHANNEL_TYPE_ZH[channel.type]
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "ReviewOps-alerts"}
    session = getattr(channel, "session", None)
    if session is None:
        session = HttpSession()  # a channel made without one: a connection for this message only
        try:
            return _post_json_via(channel, session, zh, url, data, headers, timeout)
        finally:
            session.close()
    return _post_json_via(channel, session, zh, url, data, headers, timeout)


def _post_json_via(channel: Channel, session: HttpSession, zh: str, url: str, data: bytes, headers: dict[str, str],
                   timeout: float) -> dict[str, Any]:
    try:
        status, body = session.post(url, data, headers, timeout)
    except TimeoutError as e:
        raise ChannelError(f"{zh}渠道 {channel.name}：{timeout:g} 秒内无响应，稍后重试 / {channel.type} channel "
                           f"{channel.name}: no answer within {timeout:g}s ({type(e).__name__})",
                           channel=channel.name, retryable=True, code="timeout") from None
    except ssl.SSLCertVerificationError:
        raise ChannelError(f"{zh}渠道 {channel.name}：服务器证书不受信任，未发送 / {channel.type} channel "
                           f"{channel.name}: untrusted server certificate", channel=channel.name,
                           retryable=False, code="tls") from None
    except (ConnectionRefusedError, socket.gaierror) as e:
        raise ChannelError(f"{zh}渠道 {channel.name}：无法连接（{type(e).__name__}），稍后重试 / "
                           f"{channel.type} channel {channel.name}: cannot connect ({_short(e, 80)})",
                           channel=channel.name, retryable=True, code="network") from None
    except (OSError, http.client.HTTPException) as e:
        raise ChannelError(f"{zh}渠道 {channel.name}：连接中断（{type(e).__name__}），稍后重试 / {channel.type} "
                           f"channel {channel.name}: connection failed", channel=channel.name, retryable=True,
                           code="network") from None
    if 300 <= status < 400:
        raise ChannelError(f"{zh}渠道 {channel.name}：webhook 返回跳转 HTTP {status}，未发送；请检查地址 / "
                           f"{channel.type} channel {channel.name}: webhook answered a redirect ({status})",
                           channel=channel.name, retryable=False, code=f"http_{status}")
    if status == 429 or status >= 500:
        raise ChannelError(f"{zh}渠道 {channel.name}：服务暂时不可用 HTTP {status}，稍后重试 / "
                           f"{channel.type} channel {channel.name}: HTTP {status}, will retry",
                           channel=channel.name, retryable=True, code=f"http_{status}")
    try:
        answer = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        answer = None
    if not isinstance(answer, dict):
        raise ChannelError(f"{zh}渠道 {channel.name}：HTTP {status} 的回复不是 JSON，请检查 webhook 地址 / "
                           f"{channel.type} channel {channel.name}: HTTP {status} answer is not JSON; check the "
                           f"webhook URL", channel=channel.name, retryable=False, code=f"http_{status}")
    if status >= 400 and not any(k in answer for k in ("code", "StatusCode", "errcode")):
        raise ChannelError(f"{zh}渠道 {channel.name}：HTTP {status}，未发送 / {channel.type} channel {channel.name}: "
                           f"HTTP {status}", channel=channel.name, retryable=False, code=f"http_{status}")
    return answer


def _service_error(channel: Channel, errcode: int, errmsg: Any, retryable: bool, hint: str) -> ChannelError:
    zh = CHANNEL_TYPE_ZH[channel.type]
    what = "稍后重试" if retryable else hint
    return ChannelError(f"{zh}渠道 {channel.name}：服务返回错误码 {errcode}（{_short(errmsg)}），{what} / "
                        f"{channel.type} channel {channel.name}: service error {errcode} ({_short(errmsg)})"
                        + ("; will retry" if retryable else ""),
                        channel=channel.name, retryable=retryable, code=str(errcode))


def _int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------------------------- channels


class FeishuChannel(Channel):
    """Feishu (飞书) custom group bot."""

    type = "feishu"

    def __init__(self, name: str, url: str, secret: str | None = None, *, clock: Callable[[], float] = time.time):
        self.name, self._url, self._secret, self._clock = name, url, secret, clock
        self.session = HttpSession()

    def payload(self, msg: AlertMessage) -> dict[str, Any]:
        body = render("feishu", msg)
        if self._secret:
            ts = str(int(self._clock()))
            digest = hmac.new(f"{ts}\n{self._secret}".encode(), b"", hashlib.sha256).digest()
            body = {"timestamp": ts, "sign": base64.b64encode(digest).decode(), **body}
        return body

    def send(self, msg: AlertMessage, *, timeout: float = 5.0) -> None:
        answer = _post_json(self, self._url, self.payload(msg), timeout)
        code = _int(answer.get("code", answer.get("StatusCode")))
        if code == 0:
            return
        err = code if code is not None else -999
        hints = {19021: "签名不匹配或时间戳超过 1 小时：请检查密钥和服务器时间", 19022: "IP 不在机器人白名单",
                 19024: "消息不含机器人的自定义关键词（请加关键词「中差评」）"}
        raise _service_error(self, err, answer.get("msg", answer.get("StatusMessage")), err in FEISHU_RETRYABLE,
                             hints.get(err, "请检查机器人配置"))


class DingTalkChannel(Channel):
    """DingTalk (钉钉) custom group robot."""

    type = "dingtalk"

    def __init__(self, name: str, url: str, secret: str | None = None, *, clock: Callable[[], float] = time.time):
        self.name, self._url, self._secret, self._clock = name, url, secret, clock
        self.session = HttpSession()

    def signed_url(self) -> str:
        if not self._secret:
            return self._url
        ts = str(int(self._clock() * 1000))
        digest = hmac.new(self._secret.encode(), f"{ts}\n{self._secret}".encode(), hashlib.sha256).digest()
        parts = urllib.parse.urlsplit(self._url)
        query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
                 if k not in ("timestamp", "sign")]
        query += [("timestamp", ts), ("sign", base64.b64encode(digest).decode())]
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))

    def send(self, msg: AlertMessage, *, timeout: float = 5.0) -> None:
        answer = _post_json(self, self.signed_url(), render("dingtalk", msg), timeout)
        code = _int(answer.get("errcode"))
        if code == 0:
            return
        err = code if code is not None else -999
        hints = {310000: "签名不匹配、时间戳过期、不含关键词或 IP 不在白名单：请检查加签密钥、服务器时间和安全设置",
                 300001: "access_token 无效", 300005: "access_token 不存在或机器人已删除"}
        raise _service_error(self, err, answer.get("errmsg"), err in DINGTALK_RETRYABLE,
                             hints.get(err, "请检查机器人配置"))


class WeComChannel(Channel):
    """WeCom (企业微信) group robot. No signing: the webhook key in the URL is the secret."""

    type = "wecom"

    def __init__(self, name: str, url: str):
        self.name, self._url = name, url
        self.session = HttpSession()

    def _check(self, answer: dict[str, Any]) -> None:
        code = _int(answer.get("errcode"))
        if code == 0:
            return
        err = code if code is not None else -999
        hints = {93000: "webhook 地址无效或机器人已删除：请检查 key", 40008: "消息类型无效", 44004: "内容为空",
                 40058: "参数不合法"}
        raise _service_error(self, err, answer.get("errmsg"), err in WECOM_RETRYABLE, hints.get(err, "请检查机器人配置"))

    def send(self, msg: AlertMessage, *, timeout: float = 5.0) -> None:
        self._check(_post_json(self, self._url, render("wecom", msg), timeout))
        follow = _wecom_mobile_followup(msg)
        if follow is not None:
            try:
                self._check(_post_json(self, self._url, follow, timeout))
            except ChannelError as e:
                raise ChannelError(f"企业微信渠道 {self.name}：提醒已发出，但按手机号 @ 值班人员的消息失败：{e} / the alert "
                                   f"was posted but the mobile @-mention message failed",
                                   channel=self.name, retryable=e.retryable, code=e.code) from None


class EmailChannel(Channel):
    """E-mail through the shop's SMTP server (REVIEWOPS_SMTP_*)."""

    type = "email"

    def __init__(self, name: str, recipients: list[str], smtp: SmtpConfig):
        self.name, self.recipients, self.smtp = name, list(recipients), smtp

    def _fail(self, text_zh: str, text_en: str, retryable: bool, code: str | None) -> ChannelError:
        where = f"{self.smtp.host}:{self.smtp.effective_port}"
        return ChannelError(f"邮件渠道 {self.name}（{where}）：{text_zh} / email channel {self.name} ({where}): "
                            f"{text_en}", channel=self.name, retryable=retryable, code=code)

    def message(self, msg: AlertMessage) -> tuple[EmailMessage, list[str]]:
        extra = [m.email.strip() for m in msg.mentions if m.email and m.email.strip()]
        try:
            to = parse_recipients(self.recipients + extra)
        except ConfigError:
            raise self._fail("值班人员的邮箱地址无效，未发送；请在值班表中更正", "an on-duty e-mail address is invalid; "
                             "fix the duty roster", False, "bad_address") from None
        em = _render_email(msg)
        em["From"] = formataddr(("ReviewOps 中差评提醒", self.smtp.sender))
        em["To"] = ", ".join(to)
        em["Date"] = dt.datetime.now(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        em["Message-ID"] = make_msgid(domain=self.smtp.sender.rsplit("@", 1)[-1])
        return em, to

    def send(self, msg: AlertMessage, *, timeout: float = 5.0) -> None:
        em, to = self.message(msg)
        cfg = self.smtp
        try:
            if cfg.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.effective_port, timeout=timeout,
                                                       context=_tls_context(cfg))
            else:
                client = smtplib.SMTP(cfg.host, cfg.effective_port, timeout=timeout)
            with client:
                client.ehlo()
                if cfg.security == "starttls":
                    if not client.has_extn("starttls"):
                        raise self._fail("服务器不支持 STARTTLS，未发送", "the server does not offer STARTTLS", False,
                                         "no_starttls")
                    client.starttls(context=_tls_context(cfg))
                    client.ehlo()
                if cfg.user:
                    client.login(cfg.user, cfg.password or "")
                client.send_message(em, from_addr=cfg.sender, to_addrs=to)
        except ChannelError:
            raise
        except smtplib.SMTPAuthenticationError as e:
            raise self._fail(f"登录被拒绝（{e.smtp_code}）；请检查 REVIEWOPS_SMTP_USER / REVIEWOPS_SMTP_PASSWORD",
                             f"login refused ({e.smtp_code})", False, str(e.smtp_code)) from None
        except smtplib.SMTPRecipientsRefused as e:
            codes = [c for c, _ in e.recipients.values()]
            retry = bool(codes) and all(400 <= c < 500 for c in codes)
            raise self._fail(f"全部收件人被拒收（{sorted(set(codes))}）", f"all recipients refused {sorted(set(codes))}",
                             retry, str(codes[0]) if codes else None) from None
        except smtplib.SMTPResponseException as e:
            retry = 400 <= e.smtp_code < 500
            raise self._fail(f"服务器拒绝（{e.smtp_code}）" + ("，稍后重试" if retry else ""),
                             f"server refused ({e.smtp_code})", retry, str(e.smtp_code)) from None
        except (ssl.SSLCertVerificationError, ssl.CertificateError):
            raise self._fail("服务器证书不受信任；私有 CA 请设置 REVIEWOPS_SMTP_CAFILE", "untrusted certificate", False,
                             "tls") from None
        except ssl.SSLError as e:
            raise self._fail(f"TLS 握手失败（{e.__class__.__name__}）", "TLS handshake failed", False, "tls") from None
        except (smtplib.SMTPException, OSError) as e:
            raise self._fail(f"无法发送（{e.__class__.__name__}），稍后重试", f"could not send ({e.__class__.__name__})",
                             True, "network") from None


class SmsChannel(Channel):
    """SMS to the on-duty people's mobiles (plus fixed numbers) through an :class:`SmsProvider`."""

    type = "sms"

    def __init__(self, name: str, provider: SmsProvider, numbers: list[str] | None = None):
        self.name, self.provider, self.numbers = name, provider, list(numbers or [])

    def phones(self, msg: AlertMessage) -> list[str]:
        out = list(self.numbers)
        for i, m in enumerate(msg.mentions, 1):
            if not m.mobile:
                continue
            num = _e164(m.mobile)
            if num is None:
                raise ChannelError(f"短信渠道 {self.name}：值班人员第 {i} 位的手机号格式无效，未发送；请在值班表中更正 / "
                                   f"sms channel {self.name}: on-duty person #{i} has an invalid mobile number",
                                   channel=self.name, retryable=False, code="bad_phone")
            if num not in out:
                out.append(num)
        if not out:
            raise ChannelError(f"短信渠道 {self.name}：没有收件手机号（值班人员无手机号且渠道未配置号码）/ sms channel "
                               f"{self.name}: no recipient (no on-duty mobile, no fixed number)",
                               channel=self.name, retryable=False, code="no_recipients")
        return out

    def send(self, msg: AlertMessage, *, timeout: float = 5.0) -> None:
        phones, params = self.phones(msg), _sms_params(msg)
        try:
            self.provider.send(phones, params, timeout=timeout)
        except ChannelError as e:
            if e.channel == self.name:
                raise
            raise ChannelError(str(e).replace(e.channel, self.name) if e.channel else str(e), channel=self.name,
                               retryable=e.retryable, code=e.code) from None
        except (TimeoutError, OSError) as e:
            raise ChannelError(f"短信渠道 {self.name}：网关无响应（{type(e).__name__}），稍后重试 / sms channel "
                               f"{self.name}: gateway unreachable", channel=self.name, retryable=True,
                               code="network") from None
        except ConfigError as e:
            raise ChannelError(f"短信渠道 {self.name}：{e}", channel=self.name, retryable=False, code="config") from None


# ---------------------------------------------------------------------------------- Tencent SMS


def _sdk_installed() -> bool:
    try:
        return importlib.util.find_spec("tencentcloud.sms.v20210111") is not None
    except ModuleNotFoundError:
        return False


class TencentSms:
    """Tencent Cloud SMS (SendSms, API 2021-01-11) through ``tencentcloud-sdk-python-sms``.

    ``endpoint`` is a host (``sms.tencentcloudapi.com``, the default) or a URL; ``http://`` only for
    loopback (a test double or a local relay).
    """

    channel_label = "tencent-sms"

    def __init__(self, *, secret_id: str, secret_key: str, app_id: str, sign: str, template: str,
                 region: str = "ap-guangzhou", endpoint: str | None = None):
        if not _sdk_installed():
            raise ConfigError("未安装腾讯云短信 SDK：请执行 pip install 'reviewops[sms]'（tencentcloud-sdk-python-sms）/ "
                              "the Tencent Cloud SMS SDK is not installed: pip install 'reviewops[sms]'")
        for label, v in (("REVIEWOPS_SMS_SECRET_ID", secret_id), ("REVIEWOPS_SMS_SECRET_KEY", secret_key),
                         ("REVIEWOPS_SMS_APP_ID", app_id), ("REVIEWOPS_SMS_SIGN", sign),
                         ("REVIEWOPS_SMS_TEMPLATE", template)):
            if not v or not str(v).strip():
                raise ConfigError(f"短信设置缺少 {label}；请设置该环境变量 / SMS setting {label} is missing")
        if not re.fullmatch(r"\d{5,20}", str(app_id).strip()):
            raise ConfigError(f"REVIEWOPS_SMS_APP_ID 应为数字 SdkAppId（如 1400006666），收到 {app_id!r} / the SMS app id "
                              f"must be the numeric SdkAppId")
        if not re.fullmatch(r"\d{1,20}", str(template).strip()):
            raise ConfigError(f"REVIEWOPS_SMS_TEMPLATE 应为数字模板 ID，收到 {template!r} / the SMS template must be the "
                              f"numeric TemplateId")
        self.secret_id, self._secret_key = secret_id.strip(), secret_key.strip()
        self.app_id, self.sign, self.template = str(app_id).strip(), sign.strip(), str(template).strip()
        self.region = (region or "ap-guangzhou").strip()
        self.scheme, self.host = "https", "sms.tencentcloudapi.com"
        if endpoint:
            ep = endpoint.strip()
            parts = urllib.parse.urlsplit(ep if "://" in ep else "https://" + ep)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(f"REVIEWOPS_SMS_ENDPOINT 无效：{endpoint!r} / bad SMS endpoint")
            if parts.scheme == "http" and not _is_loopback_host(parts.hostname):
                raise ConfigError(f"REVIEWOPS_SMS_ENDPOINT 必须用 https（http 只允许本机），收到 {endpoint!r} / the SMS "
                                  f"endpoint must use https (http only on loopback)")
            self.scheme, self.host = parts.scheme, parts.netloc

    def __repr__(self) -> str:
        return f"<TencentSms app_id={self.app_id} endpoint={self.scheme}://{self.host}>"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TencentSms:
        e = os.environ if env is None else env

        def get(k: str) -> str:
            return str(e.get("REVIEWOPS_SMS_" + k) or "")

        return cls(secret_id=get("SECRET_ID"), secret_key=get("SECRET_KEY"), app_id=get("APP_ID"), sign=get("SIGN"),
                   template=get("TEMPLATE"), region=get("REGION") or "ap-guangzhou", endpoint=get("ENDPOINT") or None)

    def _error(self, code: str, detail: str) -> ChannelError:
        retry = code.startswith(TENCENT_RETRYABLE_PREFIXES)
        detail = re.sub(r"\+?\d{7,}", "…", detail)          # never a phone number in the message
        return ChannelError(f"短信渠道 {self.channel_label}：腾讯云短信返回 {code}（{_short(detail, 120)}）"
                            + ("，稍后重试" if retry else "，请检查短信配置（密钥、SdkAppId、签名、模板）")
                            + f" / sms channel {self.channel_label}: Tencent Cloud SMS error {code}",
                            channel=self.channel_label, retryable=retry, code=code)

    def send(self, phones: list[str], params: list[str], *, timeout: float) -> None:
        from tencentcloud.common import credential
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import models, sms_client

        hprof = HttpProfile(protocol=self.scheme, endpoint=self.host, reqTimeout=timeout)
        client = sms_client.SmsClient(credential.Credential(self.secret_id, self._secret_key), self.region,
                                      ClientProfile(httpProfile=hprof))
        req = models.SendSmsRequest()
        req.PhoneNumberSet = list(phones)
        req.SmsSdkAppId = self.app_id
        req.SignName = self.sign
        req.TemplateId = self.template
        req.TemplateParamSet = list(params)
        try:
            resp = client.SendSms(req)
        except TencentCloudSDKException as e:
            raise self._error(str(e.get_code() or "ClientError"), str(e.get_message() or "")) from None
        failed = [s.Code for s in (resp.SendStatusSet or []) if (s.Code or "").lower() != "ok"]
        if failed:
            codes = sorted(set(failed))
            retry = all(c.startswith(TENCENT_RETRYABLE_PREFIXES) for c in codes)
            raise ChannelError(f"短信渠道 {self.channel_label}：{len(failed)}/{len(phones)} 个号码发送失败（{'、'.join(codes)}）"
                               + ("，稍后重试" if retry else "") + f" / sms channel {self.channel_label}: "
                               f"{len(failed)} of {len(phones)} numbers failed ({', '.join(codes)})",
                               channel=self.channel_label, retryable=retry, code=codes[0])


# ----------------------------------------------------------------------------------- build_channel


def _norm_type(value: Any) -> str:
    t = str(value or "").strip().lower()
    by_zh = {zh: code for code, zh in CHANNEL_TYPE_ZH.items()}
    return by_zh.get(str(value or "").strip(), t)


def _is_loopback_host(host: str) -> bool:
    h = host.strip("[]").lower()
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def _redact(url: str) -> str:
    """The URL with its secret parts (query values, last path segment of a hook) replaced by ***."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "***"
    path = parts.path
    if "/hook/" in path:
        path = path.rsplit("/", 1)[0] + "/***"
    query = "&".join(f"{k}=***" for k, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, query, ""))[:200]


def _webhook(name: str, ctype: str, target: Any) -> str:
    zh = CHANNEL_TYPE_ZH[ctype]
    url = str(target or "").strip()
    if not url:
        raise ConfigError(f"提醒渠道 {name}（{zh}）缺少机器人 webhook 地址 / channel {name} ({ctype}): the robot "
                          f"webhook URL is missing")
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    if parts is None or parts.scheme not in ("http", "https") or not host or any(c in url for c in " \r\n\t"):
        raise ConfigError(f"提醒渠道 {name}（{zh}）的 webhook 地址无效：{_redact(url)!r}；应形如 https://… / "
                          f"channel {name}: bad webhook URL {_redact(url)!r}")
    if parts.scheme == "http" and not _is_loopback_host(host):
        raise ConfigError(f"提醒渠道 {name}（{zh}）的 webhook 必须用 https（http 只允许本机 127.0.0.1/localhost/::1），收到 "
                          f"{_redact(url)!r} / channel {name}: the webhook must use https (http only on loopback)")
    query = dict(urllib.parse.parse_qsl(parts.query))
    if ctype == "wecom" and not query.get("key"):
        raise ConfigError(f"提醒渠道 {name}（企业微信）的 webhook 缺少 key 参数：{_redact(url)!r}；请复制机器人的完整地址 "
                          f"…/cgi-bin/webhook/send?key=… / channel {name}: the WeCom webhook has no key=")
    if ctype == "dingtalk" and not query.get("access_token"):
        raise ConfigError(f"提醒渠道 {name}（钉钉）的 webhook 缺少 access_token 参数：{_redact(url)!r}；请复制机器人的完整地址 "
                          f"…/robot/send?access_token=… / channel {name}: the DingTalk webhook has no access_token=")
    if ctype == "feishu" and len(parts.path.strip("/")) < 2:
        raise ConfigError(f"提醒渠道 {name}（飞书）的 webhook 缺少路径：{_redact(url)!r}；应形如 "
                          f"https://open.feishu.cn/open-apis/bot/v2/hook/… / channel {name}: bad Feishu webhook")
    return url


def _secret(name: str, ctype: str, secret_env: Any, env: Mapping[str, str]) -> str | None:
    var = str(secret_env or "").strip()
    if not var:
        return None
    zh = CHANNEL_TYPE_ZH[ctype]
    if ctype not in ("feishu", "dingtalk"):
        raise ConfigError(f"提醒渠道 {name}（{zh}）不支持加签密钥，请清空 secret_env（收到 {var!r}）/ channel {name}: "
                          f"{ctype} has no signing secret; clear secret_env")
    if not _ENV_NAME.match(var):
        raise ConfigError(f"提醒渠道 {name}（{zh}）的密钥应填环境变量名（如 REVIEWOPS_FEISHU_SECRET），而不是密钥本身；"
                          f"收到的值不是合法的变量名 / channel {name}: secret_env must name an environment variable, "
                          f"not hold the secret")
    value = env.get(var)
    if not value or not str(value).strip():
        raise ConfigError(f"提醒渠道 {name}（{zh}）的加签密钥环境变量 {var} 未设置；请设置它，或清空 secret_env 改用不加签的机器人 / "
                          f"channel {name}: environment variable {var} (signing secret) is not set")
    return str(value).strip()


def build_channel(row: Mapping[str, Any], *, env: Mapping[str, str] | None = None,
                  sms_provider: SmsProvider | None = None) -> Channel:
    """The :class:`Channel` for one row of the policy's 提醒渠道 table (see module docstring).

    Raises :class:`ConfigError` naming the channel and the bad value.
    """
    env = os.environ if env is None else env
    name = str(row.get("name") or "").strip()
    if not name:
        raise ConfigError("提醒渠道缺少渠道代码（name）/ a channel row has no name")
    ctype = _norm_type(row.get("type"))
    if ctype not in CHANNEL_TYPES:
        raise ConfigError(f"提醒渠道 {name} 的类型 {row.get('type')!r} 无效；应为 {'、'.join(CHANNEL_TYPES)} / channel "
                          f"{name}: unknown type {row.get('type')!r}; use one of {', '.join(CHANNEL_TYPES)}")
    target = row.get("target")
    channel: Channel
    if ctype == "feishu":
        channel = FeishuChannel(name, _webhook(name, ctype, target), _secret(name, ctype, row.get("secret_env"), env))
    elif ctype == "dingtalk":
        channel = DingTalkChannel(name, _webhook(name, ctype, target), _secret(name, ctype, row.get("secret_env"), env))
    elif ctype == "wecom":
        _secret(name, ctype, row.get("secret_env"), env)
        channel = WeComChannel(name, _webhook(name, ctype, target))
    elif ctype == "email":
        if not str(target or "").strip():
            raise ConfigError(f"提醒渠道 {name}（邮件）缺少收件地址 / channel {name}: no e-mail address given")
        try:
            to = parse_recipients([p for p in re.split(r"[,;，；、\s]+", str(target)) if p])
        except ConfigError as e:
            raise ConfigError(f"提醒渠道 {name}（邮件）：{e}") from None
        try:
            smtp = SmtpConfig.from_env(dict(env))
        except ConfigError as e:
            raise ConfigError(f"提醒渠道 {name}（邮件）：{e}") from None
        channel = EmailChannel(name, to, smtp)
    else:
        numbers: list[str] = []
        for raw in (p for p in re.split(r"[,;，；、\s]+", str(target or "")) if p):
            num = _e164(raw)
            if num is None:
                raise ConfigError(f"提醒渠道 {name}（短信）的号码格式无效（第 {len(numbers) + 1} 个）；应为手机号如 "
                                  f"13800000000 或 +8613800000000 / channel {name}: invalid phone number in target")
            if num not in numbers:
                numbers.append(num)
        try:
            provider = sms_provider if sms_provider is not None else TencentSms.from_env(env)
        except ConfigError as e:
            raise ConfigError(f"提醒渠道 {name}（短信）：{e}") from None
        channel = SmsChannel(name, provider, numbers)
    channel.enabled = bool(row.get("enabled", True))
    channel.events = row.get("events")
    return channel
