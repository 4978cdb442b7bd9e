"""Platform appeal packets for malicious reviews (issue 17 §3, SPEC H3).

* **Rules as data.** The policy's 申诉规则 sheet (``appeal_rules``, :meth:`reviewops.core.policy.Policy.appeal_rules`;
  empty = the built-in rules shipped as ``core/data/appeal_rules.tsv``) holds, per platform (taobao, tmall,
  douyin, jd, pdd, kuaishou) and ground (``extortion`` 利用评价要挟, ``rival`` 同行/批量恶意, ``abuse`` 辱骂/隐私/广告): the appeal
  type to choose, where the form is, the evidence the platform requires and recommends (as evidence kinds of
  :mod:`reviewops.handling.evidence`), the deadline in days from the review time (calendar or working days,
  and whether the platform set it or the kit, where no platform deadline was found), the text limit, whether
  the platform takes one appeal per review only, the confidence and the source (``shared/reference/appeals.md``).
  The policy validates the sheet when it is imported (errors name the sheet, row, column and value);
  :func:`load_appeal_rules` gives the rules of a policy (``policy=``; compiled once per policy SHA-256), of a
  TSV file (``path``, validated the same way, errors naming the line) or the built-in ones. A shop's edit
  counts from the ``reviewops policy import`` that stores it: :func:`build_packet` and :func:`legal_queue` read
  the store's current policy.
* **The packet.** :func:`build_packet` writes a ZIP (``申诉书.txt`` — the appeal text drafted from the case
  within the platform's text limit; ``证据清单.csv`` — file, SHA-256, time, kind, what it shows; ``核对清单.csv``
  — the platform's requirements marked 已满足/缺少; ``证据/NN_…`` — the evidence files in index order, read
  through :func:`~reviewops.handling.evidence.export_evidence` so custody records ``exported``) and a one-page
  HTML summary beside it. The same case with the same evidence gives the same ZIP bytes: members are stored
  (not deflated) in a fixed order with a fixed time (the review's, in Beijing time), fixed attributes, and no
  name or text depends on the clock.
* **Tracking.** Table ``appeals``: drafted → submitted (who, when, the platform's reference) → accepted /
  rejected (when, the platform's reason), each change checked against the row's ``version`` (optimistic
  locking) and written to the access log. :func:`legal_queue` lists what legal must file, by deadline, with
  a warning within :func:`warn_hours` hours (the policy's ``appeal_warn_hours``, 24 = :data:`WARN_HOURS`) and
  an overdue flag; working-day deadlines count on the policy's
  holiday calendar (``chinese_calendar`` and the policy's 节假日 rows).
* **Access.** Only signed-in users of the policy's ``appeal_roles`` (default :data:`APPEAL_ROLES`: legal,
  supervisor, admin; :func:`appeal_roles`) who may see the
  case's shop build, submit and decide; every refusal is in the access log (``log_denied``). The queue is
  open to those roles and to the local operator (a plain ``cli:<user>`` string).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import functools
import hashlib
import html
import io
import json
import os
import re
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.columns import PLATFORM_ZH, PLATFORMS
from ..core.errors import AccessDenied, ConfigError, ConflictError, NotFound
from ..core.outputs import fmt_time, formula_safe
from ..core.privacy import mask_text
from ..core.sla import SlaCalendar, is_working_day
from ..core.store import (
    appeals,
    case_signals,
    cases,
    chat_messages,
    orders,
    reviews,
    shops,
    utcnow,
)
from ..core.users import Actor, current_actor, log_access, log_denied
from .evidence import (
    FAMILY,
    KIND_ZH,
    export_evidence,
    link_chat_messages,
    list_evidence,
)

if TYPE_CHECKING:
    from ..core.policy import Policy
    from ..core.store import Store

__all__ = [
    "APPEAL_ROLES", "APPEAL_STATES", "APPEAL_STATE_ZH", "GROUNDS", "GROUND_ZH", "RULES_PATH", "WARN_HOURS",
    "AppealPacket", "AppealRule", "Requirement", "appeal_deadline", "appeal_roles", "build_packet", "choose_ground",
    "decide_appeal", "get_appeal", "legal_queue", "list_appeals", "load_appeal_rules", "rule_for",
    "submit_appeal", "warn_hours",
]

#: Roles that build, submit and decide appeals: the default of the policy setting ``appeal_roles``, which the
#: checks read (:func:`appeal_roles`).
APPEAL_ROLES = ("legal", "supervisor", "admin")
APPEAL_STATES = ("drafted", "submitted", "accepted", "rejected")
APPEAL_STATE_ZH = {"drafted": "已起草", "submitted": "已提交", "accepted": "申诉成功", "rejected": "申诉被驳回"}
GROUNDS = ("extortion", "rival", "abuse")
GROUND_ZH = {"extortion": "利用评价要挟/索要额外利益", "rival": "同行或批量恶意评价", "abuse": "辱骂/泄露隐私/广告"}
#: Evidence rows the one-page summary lists (the rest: the packet's index).
SUMMARY_EVIDENCE_ROWS = 12
#: The queue warns (and the sweep alerts 法务, :func:`reviewops.handling.sweep.appeal_sweep`) when a deadline is
#: this close (hours) — the default of the policy setting ``appeal_warn_hours`` (:func:`warn_hours`).
WARN_HOURS = 24
#: The policy setting that holds the warning window, when :data:`reviewops.core.policy.SETTINGS` declares it.
WARN_HOURS_SETTING = "appeal_warn_hours"
RULES_PATH = Path(__file__).resolve().parent.parent / "core" / "data" / "appeal_rules.tsv"
RULE_COLUMNS = ("platform", "ground", "appeal_type", "entry", "required", "recommended", "deadline_days",
                "deadline_basis", "deadline_kind", "text_limit", "once_only", "confidence", "source")
BASES = ("calendar", "working")
BASIS_ZH = {"calendar": "自然日", "working": "工作日"}
DEADLINE_KINDS = ("platform", "kit")
REQUESTS = {
    "extortion": "买家以差评为要挟，索要评价之外的额外利益（返现、红包等），属恶意评价。请平台核实后删除（屏蔽）该评价，并恢复店铺评分。",
    "rival": "该评价并非真实购物体验，而是同行或批量账号所为的恶意评价（见证据）。请平台核实后删除（屏蔽）该评价，并恢复店铺评分。",
    "abuse": "该评价含辱骂、泄露隐私或广告等不当内容。请平台核实后删除或屏蔽相关内容。",
}
EXTENSION = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
             "application/pdf": ".pdf", "video/mp4": ".mp4", "video/quicktime": ".mov", "audio/mpeg": ".mp3",
             "audio/mp4": ".m4a", "audio/wav": ".wav", "audio/amr": ".amr", "application/zip": ".zip",
             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx", "text/plain": ".txt",
             "text/csv": ".csv", "application/json": ".json"}
TEXT_NAME, INDEX_NAME, CHECK_NAME, EVIDENCE_DIR = "申诉书.txt", "证据清单.csv", "核对清单.csv", "证据"
INDEX_HEADER = ["序号", "文件", "SHA-256", "时间（北京时间）", "类别", "证明内容", "大小（字节）"]
CHECK_HEADER = ["序号", "要求", "类别", "状态", "依据", "来源"]
MET, MISSING = "已满足", "缺少"
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


# ------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class Requirement:
    """One evidence requirement: met when a linked file is of one of ``kinds``; ``kinds == ()`` means the
    review itself is the evidence (met when the review has text)."""

    label: str
    kinds: tuple[str, ...]
    required: bool

    @property
    def is_review(self) -> bool:
        return not self.kinds


@dataclass(frozen=True)
class AppealRule:
    """One row of the 申诉规则 sheet (or ``appeal_rules.tsv``)."""

    platform: str
    ground: str
    appeal_type: str
    entry: str
    requirements: tuple[Requirement, ...]
    deadline_days: int
    deadline_basis: str
    deadline_kind: str
    text_limit: int
    once_only: bool
    confidence: str
    source: str

    @property
    def deadline_text(self) -> str:
        who = "平台规定" if self.deadline_kind == "platform" else "未查到平台时限，本系统的申诉目标"
        return f"评价后 {self.deadline_days} 个{BASIS_ZH[self.deadline_basis]}（{who}）"


def _rule_error(path: Path, line: int, column: str, value: str, zh: str, en: str) -> ConfigError:
    return ConfigError(f"申诉规则 {path.name} 第 {line} 行，列 {column}，值 {value!r}：{zh}\n"
                       f"appeal rules {path.name} line {line}, column {column}, value {value!r}: {en}")


_REVIEW_LABEL = "评价原文（评价本身即证据）"


def _requirements(text: str, *, required: bool, path: Path, line: int, column: str) -> list[Requirement]:
    from ..core.policy import parse_requirements

    try:
        parsed = parse_requirements(text)
    except ValueError as e:
        raise _rule_error(path, line, column, e.args[1], e.args[2], e.args[3]) from None
    return [Requirement(label or _REVIEW_LABEL, kinds, required) for label, kinds in parsed]


def _rule_of(r: Any) -> AppealRule:
    """An :class:`AppealRule` from a validated 申诉规则 row of the policy."""
    from ..core.policy import parse_requirements

    reqs = [Requirement(label or _REVIEW_LABEL, kinds, True) for label, kinds in parse_requirements(r["required"])]
    reqs += [Requirement(label or _REVIEW_LABEL, kinds, False)
             for label, kinds in parse_requirements(r.get("recommended") or "")]
    return AppealRule(platform=r["platform"], ground=r["ground"], appeal_type=r["appeal_type"], entry=r["entry"],
                      requirements=tuple(reqs), deadline_days=int(r["deadline_days"]),
                      deadline_basis=r["deadline_basis"], deadline_kind=r["deadline_kind"],
                      text_limit=int(r["text_limit"]), once_only=bool(r["once_only"]), confidence=r["confidence"],
                      source=r["source"])


_POLICY_RULES: dict[str, dict[tuple[str, str], AppealRule]] = {}


def _policy_rules(policy: Policy) -> dict[tuple[str, str], AppealRule]:
    """The rules of ``policy``'s 申诉规则 (the built-in ones when empty), built once per policy SHA-256."""
    if not policy.tables.get("appeal_rules"):
        return _builtin_rules()
    hit = _POLICY_RULES.get(policy.sha256)
    if hit is None:
        hit = {(r["platform"], r["ground"]): _rule_of(r) for r in policy.appeal_rules()}
        if len(_POLICY_RULES) > 16:
            _POLICY_RULES.clear()
        _POLICY_RULES[policy.sha256] = hit
    return hit


@functools.cache
def _builtin_rules() -> dict[tuple[str, str], AppealRule]:
    from ..core.policy import builtin_rows

    return {(r["platform"], r["ground"]): _rule_of(r) for r in builtin_rows("appeal_rules")}


@functools.lru_cache(maxsize=8)
def _load(path_s: str, mtime: float) -> dict[tuple[str, str], AppealRule]:
    path = Path(path_s)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"无法读取申诉规则 {path}：{e} / cannot read the appeal rules {path}: {e}") from None
    header: list[str] | None = None
    rules: dict[tuple[str, str], AppealRule] = {}
    for no, raw in enumerate(lines, 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        cells = [c.strip() for c in raw.split("\t")]
        if header is None:
            if tuple(cells) != RULE_COLUMNS:
                raise _rule_error(path, no, "(表头 header)", raw[:80], f"表头应为 {' '.join(RULE_COLUMNS)}",
                                  f"the header must be {' '.join(RULE_COLUMNS)}")
            header = cells
            continue
        if len(cells) != len(RULE_COLUMNS):
            raise _rule_error(path, no, "(整行 row)", raw[:80], f"应有 {len(RULE_COLUMNS)} 列，实有 {len(cells)} 列",
                              f"expected {len(RULE_COLUMNS)} tab-separated columns, got {len(cells)}")
        r = dict(zip(RULE_COLUMNS, cells))
        if r["platform"] not in PLATFORMS:
            raise _rule_error(path, no, "platform", r["platform"], f"未知平台；可用：{', '.join(PLATFORMS)}",
                              f"unknown platform; known: {', '.join(PLATFORMS)}")
        if r["ground"] not in GROUNDS:
            raise _rule_error(path, no, "ground", r["ground"], f"可用：{', '.join(GROUNDS)}",
                              f"known grounds: {', '.join(GROUNDS)}")
        for col in ("appeal_type", "entry", "source"):
            if not r[col]:
                raise _rule_error(path, no, col, "", "不能为空", "must not be empty")
        ints = {}
        for col, lo, hi in (("deadline_days", 1, 365), ("text_limit", 50, 10000)):
            try:
                ints[col] = int(r[col])
            except ValueError:
                ints[col] = -1
            if not lo <= ints[col] <= hi:
                raise _rule_error(path, no, col, r[col], f"应为 {lo}–{hi} 之间的整数", f"must be an integer {lo}–{hi}")
        for col, allowed in (("deadline_basis", BASES), ("deadline_kind", DEADLINE_KINDS),
                             ("once_only", ("yes", "no")), ("confidence", ("H", "M", "L"))):
            if r[col] not in allowed:
                raise _rule_error(path, no, col, r[col], f"可用：{' / '.join(allowed)}", f"allowed: {', '.join(allowed)}")
        req = _requirements(r["required"], required=True, path=path, line=no, column="required")
        if not req:
            raise _rule_error(path, no, "required", "", "至少需要一项证据要求（或 review）",
                              "at least one requirement (or review) is needed")
        rec = _requirements(r["recommended"], required=False, path=path, line=no, column="recommended")
        key = (r["platform"], r["ground"])
        if key in rules:
            raise _rule_error(path, no, "platform+ground", f"{key[0]} {key[1]}", "重复的平台与申诉理由",
                              "this platform and ground appear twice")
        rules[key] = AppealRule(
            platform=r["platform"], ground=r["ground"], appeal_type=r["appeal_type"], entry=r["entry"],
            requirements=tuple(req + rec), deadline_days=ints["deadline_days"], deadline_basis=r["deadline_basis"],
            deadline_kind=r["deadline_kind"], text_limit=ints["text_limit"], once_only=r["once_only"] == "yes",
            confidence=r["confidence"], source=r["source"])
    if header is None:
        raise ConfigError(f"申诉规则 {path} 没有表头 / the appeal rules {path} have no header row")
    missing = [f"{p}/{g}" for p in PLATFORMS for g in GROUNDS if (p, g) not in rules]
    if missing:
        raise ConfigError(f"申诉规则 {path.name} 缺少：{', '.join(missing)} / the appeal rules lack rows for "
                          f"{', '.join(missing)}")
    return rules


def load_appeal_rules(path: str | os.PathLike[str] | None = None, *, policy: Policy | None = None
                      ) -> dict[tuple[str, str], AppealRule]:
    """The appeal rules keyed by (platform, ground): ``policy``'s 申诉规则 (validated when the policy was built;
    empty = built in), else the TSV at ``path`` validated here — every platform × ground present once, kinds
    known, numbers in range; errors are :class:`ConfigError` naming the line, column and value — else the
    built-in rules (``core/data/appeal_rules.tsv``)."""
    if path is None:
        return _policy_rules(policy) if policy is not None else _builtin_rules()
    p = Path(path)
    try:
        mtime = p.stat().st_mtime
    except OSError as e:
        raise ConfigError(f"无法读取申诉规则 {p}：{e.strerror} / cannot read the appeal rules {p}") from None
    return _load(str(p), mtime)


def rule_for(platform: str, ground: str = "extortion", *, rules: dict[tuple[str, str], AppealRule] | None = None,
             policy: Policy | None = None) -> AppealRule:
    """The rule of (platform, ground) among ``rules``, else ``policy``'s, else the built-in ones."""
    rules = rules or load_appeal_rules(policy=policy)
    try:
        return rules[(platform, ground)]
    except KeyError:
        raise ConfigError(f"没有 {platform}/{ground} 的申诉规则 / no appeal rule for {platform}/{ground}") from None


# --------------------------------------------------------------------- deadlines
def _holiday_calendar(policy: Policy) -> SlaCalendar:
    """Working days as the policy counts them (``chinese_calendar`` when the policy uses it, the policy's
    节假日 rows first), whatever its SLA clock mode: a working day is a working day even for a 7×24 SLA."""
    return SlaCalendar(mode="business", day_start=policy.setting("business_day_start"),
                       day_end=policy.setting("business_day_end"), holidays=bool(policy.setting("use_cn_holidays")),
                       shop_days=policy.shop_days)


def appeal_deadline(rule: AppealRule, review_at: dt.datetime, policy: Policy) -> dt.datetime:
    """When the appeal must be filed: ``review_at`` + N days (calendar), or the close of business of the Nth
    working day after the review's local date (working days on the policy's holiday calendar)."""
    if review_at.tzinfo is None:
        raise ConfigError("评价时间缺少时区 / the review time must be timezone-aware")
    if rule.deadline_basis == "calendar":
        return (review_at + dt.timedelta(days=rule.deadline_days)).astimezone(dt.UTC)
    cal = _holiday_calendar(policy)
    day = review_at.astimezone(cal.zone).date()
    left = rule.deadline_days
    while left:
        day += dt.timedelta(days=1)
        if is_working_day(day, cal)[0]:
            left -= 1
    return dt.datetime.combine(day, cal.day_end, tzinfo=cal.zone).astimezone(dt.UTC)


def warn_hours(policy: Policy) -> float:
    """The warning window before an appeal deadline, in hours: the policy's ``appeal_warn_hours`` setting; a
    value equal to the setting's default (24) reads as :data:`WARN_HOURS` (the same 24 unless a test patches
    the module constant)."""
    from ..core.policy import SETTINGS

    value = policy.setting(WARN_HOURS_SETTING)
    if value is None or float(value) == float(SETTINGS[WARN_HOURS_SETTING].default):
        return float(WARN_HOURS)
    return float(value)


def appeal_roles(policy: Policy | None) -> tuple[str, ...]:
    """The roles that build, submit and decide appeals under ``policy`` (its ``appeal_roles`` setting; None:
    :data:`APPEAL_ROLES`)."""
    return APPEAL_ROLES if policy is None else policy.roles_setting("appeal_roles")


def _store_policy(store: Store) -> Policy:
    from ..core.policy import load_policy_in

    with store.read() as conn:
        return load_policy_in(conn)


# ------------------------------------------------------------------------ access
def _deny(store: Store, actor: Actor | str, action: str, zh: str, en: str, *, case_id: int | None = None,
          shop_id: int | None = None) -> AccessDenied:
    err = AccessDenied(f"{zh}\n{en}")
    log_denied(store, actor, action, err, case_id=case_id, shop_id=shop_id, target="appeal")
    return err


def _authorise(store: Store, actor: Actor | str, action: str, *, case_id: int | None = None,
               shop_id: int | None = None) -> Actor:
    """The signed-in actor, re-read from the store, of the policy's ``appeal_roles`` (:func:`appeal_roles`) and
    the case's shop; else refused (and logged)."""
    if not isinstance(actor, Actor):
        raise _deny(store, actor, action, "申诉只能由登录的法务、主管或管理员办理（命令行请设置 REVIEWOPS_TOKEN）",
                    "appeals need a signed-in legal, supervisor or admin user (on the command line set REVIEWOPS_TOKEN)",
                    case_id=case_id, shop_id=shop_id)
    actor = current_actor(store, actor, view="appeal", case_id=case_id, shop_id=shop_id)
    allowed = appeal_roles(_store_policy(store))
    if actor.role not in allowed:
        raise _deny(store, actor, action, f"{actor.label}无权办理平台申诉（可办理的角色：{'、'.join(allowed)}；策略参数 "
                    f"appeal_roles）", f"role {actor.role} may not handle platform appeals (allowed: "
                    f"{', '.join(allowed)}; policy setting appeal_roles)",
                    case_id=case_id, shop_id=shop_id)
    if shop_id is not None and not actor.may_see_shop(shop_id):
        raise _deny(store, actor, action, f"{actor.name} 无权访问店铺 {shop_id} 的案件",
                    f"{actor.name} may not access cases of shop {shop_id}", case_id=case_id, shop_id=shop_id)
    return actor


# ----------------------------------------------------------------- case content
def _clean(text: Any) -> str:
    s = unicodedata.normalize("NFC", str(text or ""))
    return _CONTROL.sub(" ", s.replace("\r\n", "\n")).strip()


def _one_line(text: Any, limit: int | None = None) -> str:
    s = re.sub(r"\s+", " ", _clean(text))
    if limit is not None and len(s) > limit:
        s = s[:max(limit - 1, 1)] + "…"
    return s


def _case_facts(store: Store, case_id: int) -> dict[str, Any]:
    if isinstance(case_id, bool) or not isinstance(case_id, int):
        raise ConfigError(f"案件编号应为整数，收到 {case_id!r} / the case id must be an integer, got {case_id!r}")
    with store.read() as conn:
        row = conn.execute(
            sa.select(cases.c.id, cases.c.shop_id, cases.c.state, cases.c.primary_category, cases.c.categories,
                      cases.c.triage_json, cases.c.version, shops.c.platform, shops.c.name.label("shop_name"),
                      reviews.c.id.label("review_pk"), reviews.c.order_id, reviews.c.content, reviews.c.created_at,
                      reviews.c.rating_raw, reviews.c.append_content, reviews.c.append_created_at,
                      reviews.c.product_title)
            .select_from(cases.join(shops, shops.c.id == cases.c.shop_id)
                         .outerjoin(reviews, reviews.c.id == cases.c.review_pk))
            .where(cases.c.id == case_id)).mappings().first()
        if row is None:
            raise NotFound(f"案件 {case_id} 不存在；请检查案件编号\ncase {case_id} does not exist; check the case number")
        facts = dict(row)
        facts["order"] = None
        if row["order_id"]:
            o = conn.execute(sa.select(orders.c.created_at, orders.c.paid_at, orders.c.shipped_at,
                                       orders.c.completed_at, orders.c.paid_fen, orders.c.titles)
                             .where(orders.c.shop_id == row["shop_id"], orders.c.order_id == row["order_id"])
                             ).mappings().first()
            facts["order"] = dict(o) if o else None
        facts["signals"] = [dict(r) for r in conn.execute(
            sa.select(case_signals.c.id, case_signals.c.kind, case_signals.c.score, case_signals.c.pointers,
                      case_signals.c.status)
            .where(case_signals.c.case_id == case_id, case_signals.c.status != "rejected")
            .order_by(case_signals.c.id)).mappings()]
    return facts


def choose_ground(signals: list[dict[str, Any]]) -> str:
    """The appeal ground the case's (not rejected) signals support: a money demand or threat in the chats or
    the review → ``extortion``; a rival, a burst or a serial buyer → ``rival``; only abuse → ``abuse``;
    no signals → ``extortion`` (a malicious case is most often one)."""
    found: set[str] = set()
    for s in signals:
        kind = s["kind"]
        if kind.startswith("extortion"):
            try:
                dk = set(json.loads(s["pointers"] or "{}").get("detector_kind") or [])
            except ValueError:
                dk = set()
            if dk & {"money_for_review", "threat_bad_review"} or not dk:
                found.add("extortion")
            if "competitor" in dk:
                found.add("rival")
            if "abuse" in dk:
                found.add("abuse")
        elif kind.startswith("burst") or kind == "serial_buyer":
            found.add("rival")
    for g in GROUNDS:
        if g in found:
            return g
    return "extortion"


@dataclass(frozen=True)
class _Item:
    index: int
    sha256: str
    mime: str
    size: int
    kind: str
    at: dt.datetime
    shows: str
    member: str
    link_id: int


def _evidence_items(store: Store, actor: Actor, case_id: int) -> tuple[list[_Item], list[dict[str, Any]]]:
    """The case's evidence in index order (time, then hash; one entry per file) and the linked chat messages."""
    rows = list_evidence(store, actor, case_id=case_id)
    msg_ids = sorted({int(m) for r in rows for m in r["message_ids"]})
    msgs: dict[int, dict[str, Any]] = {}
    if msg_ids:
        with store.read() as conn:
            msgs = {int(r["id"]): dict(r) for r in conn.execute(
                sa.select(chat_messages.c.id, chat_messages.c.sent_at, chat_messages.c.sender_role,
                          chat_messages.c.content).where(chat_messages.c.id.in_(msg_ids))).mappings()}
    keyed = []
    for r in rows:
        at, shows = r["added_at"], _one_line(r["note"]) or KIND_ZH.get(r["kind"], r["kind"])
        if r["kind"] == "chat_message" and r["message_ids"]:
            m = msgs.get(int(r["message_ids"][0]))
            if m is not None:
                at = m["sent_at"]
                who = "买家" if m["sender_role"] in ("buyer", "unknown") else "客服" if m["sender_role"] in (
                    "agent", "bot") else "系统"
                shows = f"{who}消息：“{_one_line(mask_text(m['content']) or '', 60)}”"
        keyed.append((at, r["sha256"], shows, r))
    keyed.sort(key=lambda t: (t[0], t[1]))
    items: list[_Item] = []
    seen: set[str] = set()
    for at, sha, shows, r in keyed:
        if sha in seen:
            continue
        seen.add(sha)
        i = len(items) + 1
        ext = EXTENSION.get(r["mime"], ".bin")
        member = f"{EVIDENCE_DIR}/{i:02d}_{KIND_ZH.get(r['kind'], r['kind'])}_{sha[:12]}{ext}"
        items.append(_Item(index=i, sha256=sha, mime=r["mime"], size=int(r["size"]), kind=r["kind"], at=at,
                           shows=_one_line(mask_text(shows) or "", 200), member=member, link_id=int(r["link_id"])))
    return items, [msgs[k] for k in sorted(msgs)]


def _quotes(facts: dict[str, Any], msgs: list[dict[str, Any]], policy: Policy | None = None
            ) -> list[tuple[dt.datetime, str]]:
    """The buyer's messages to quote: those the case's chat signals rest on, else those the extortion reader
    flags now (with ``policy``'s lexicon); in time order, masked."""
    buyer = [m for m in msgs if m["sender_role"] in ("buyer", "unknown") and _clean(m["content"])]
    if not buyer:
        return []
    pointed = {int(i) for s in facts["signals"] if s["kind"] == "extortion_chat"
               for i in (json.loads(s["pointers"] or "{}").get("messages") or [])}
    chosen = [m for m in buyer if int(m["id"]) in pointed]
    if not chosen:
        from ..grading.extortion import extortion_scores

        scored = extortion_scores([m["content"] for m in buyer], channel="chat", policy=policy)
        chosen = [m for m, flag in zip(buyer, scored["is_extortion"]) if bool(flag)]
    chosen.sort(key=lambda m: (m["sent_at"], m["id"]))
    return [(m["sent_at"], _one_line(mask_text(m["content"]) or "")) for m in chosen]


# ------------------------------------------------------------------- the text
def _nlen(text: str) -> int:
    return len(unicodedata.normalize("NFC", text))


def draft_text(facts: dict[str, Any], rule: AppealRule, quotes: list[tuple[dt.datetime, str]], n_evidence: int,
               deadline_at: dt.datetime | None) -> str:
    """The appeal text (申诉书), shortened to the rule's text limit: first the quotes beyond the first ones are
    left to the evidence index, then each quote and the review text are cut, never the request."""
    platform_zh = PLATFORM_ZH.get(facts["platform"], facts["platform"])
    review_text = _one_line(mask_text(facts["content"]) or "")
    order = facts["order"] or {}

    def compose(n_quotes: int, quote_len: int | None, review_len: int | None) -> str:
        head = [f"申诉类型：{rule.appeal_type}",
                f"平台：{platform_zh}　店铺：{_one_line(facts['shop_name'])}",
                f"订单号：{facts['order_id'] or '（无订单号）'}"]
        if facts["created_at"] is not None:
            head.append(f"评价时间：{fmt_time(facts['created_at'])}（北京时间）")
        if deadline_at is not None:
            head.append(f"申诉截止：{fmt_time(deadline_at)}（北京时间，{rule.deadline_text}）")
        timeline = []
        for key, what in (("created_at", "买家下单"), ("paid_at", "买家付款"), ("shipped_at", "商家发货"),
                          ("completed_at", "交易完成")):
            if order.get(key) is not None:
                timeline.append((order[key], what))
        if facts["created_at"] is not None:
            rv = review_text if review_len is None else _one_line(review_text, review_len)
            timeline.append((facts["created_at"], f"买家发表{facts['rating_raw'] or '差评'}：“{rv}”"))
        for at, q in quotes[:n_quotes]:
            timeline.append((at, f"买家发送消息：“{q if quote_len is None else _one_line(q, quote_len)}”"))
        timeline.sort(key=lambda t: t[0])
        lines = head + ["", "事实经过（北京时间）："]
        lines += [f"{fmt_time(at)} {what}" for at, what in timeline]
        if len(quotes) > n_quotes:
            lines.append(f"另有 {len(quotes) - n_quotes} 条买家消息，见证据清单。")
        lines += ["", f"证据：共 {n_evidence} 份，见《{INDEX_NAME}》（含每份文件的 SHA-256 与时间）。",
                  "", f"申诉请求：{REQUESTS[rule.ground]}"]
        return "\n".join(lines) + "\n"

    limit = rule.text_limit
    n = len(quotes)
    text = compose(n, None, None)
    while _nlen(text) > limit and n > 1:
        n -= 1
        text = compose(n, None, None)
    for qlen, rlen in ((80, 80), (40, 40), (20, 20), (10, 10)):
        if _nlen(text) <= limit:
            break
        text = compose(n, qlen, rlen)
    if _nlen(text) > limit and n:
        text = compose(0, 10, 10)
    if _nlen(text) > limit:  # only a very small limit gets here: keep the request, cut the facts
        req = f"\n申诉请求：{REQUESTS[rule.ground]}\n"
        text = text[:max(limit - _nlen(req) - 1, 0)] + "…" + req
        text = text[:limit]
    return text


# ------------------------------------------------------------------- the packet
@dataclass
class AppealPacket:
    """What :func:`build_packet` wrote."""

    appeal_id: int
    case_id: int
    platform: str
    ground: str
    appeal_type: str
    state: str
    version: int
    zip_path: Path
    summary_path: Path
    sha256: str
    size: int
    text: str
    deadline_at: dt.datetime | None
    evidence: list[dict[str, Any]]
    checklist: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    @property
    def missing(self) -> list[str]:
        return [c["要求"] for c in self.checklist if c["状态"] == MISSING and c["类别"] == "必需"]

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.update(zip_path=str(self.zip_path), summary_path=str(self.summary_path), missing=self.missing,
                 deadline_at=self.deadline_at.isoformat() if self.deadline_at else None)
        return d


def _csv_bytes(header: list[str], rows: list[list[Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    w.writerow(header)
    for row in rows:
        w.writerow(["" if v is None else formula_safe(str(v)) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _checklist(facts: dict[str, Any], rule: AppealRule, items: list[_Item], text: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(what: str, required: bool, ok: bool, basis: str, source: str) -> None:
        rows.append({"序号": len(rows) + 1, "要求": what, "类别": "必需" if required else "建议",
                     "状态": MET if ok else MISSING, "依据": basis, "来源": source})

    add("订单号", True, bool(facts["order_id"]), facts["order_id"] or "案件没有订单号", "SPEC H3")
    add(f"申诉类型选择“{rule.appeal_type}”", True, True, rule.entry, rule.source)
    add(f"申诉文字不超过 {rule.text_limit} 字", True, _nlen(text) <= rule.text_limit, f"{_nlen(text)} 字",
        "anchors.md A1/A2（未查到平台申诉字数上限，按 500 字）")
    for req in rule.requirements:
        if req.is_review:
            ok = bool(_clean(facts["content"]))
            add(req.label, req.required, ok, "评价原文已写入申诉书" if ok else "评价没有文字", rule.source)
            continue
        hits = [it for it in items if it.kind in req.kinds]
        kinds_zh = "或".join(KIND_ZH[k] for k in req.kinds)
        basis = ("证据 " + "、".join(f"#{it.index}" for it in hits)) if hits else f"需附：{kinds_zh}"
        add(req.label, req.required, bool(hits), basis, rule.source)
    return rows


def _zip_bytes(members: list[tuple[str, bytes]], when: dt.datetime | None) -> bytes:
    if when is None:
        stamp = _ZIP_EPOCH
    else:
        local = fmt_time(when, "%Y %m %d %H %M %S")
        stamp = tuple(int(x) for x in local.split())  # type: ignore[assignment]
        stamp = max(stamp, _ZIP_EPOCH)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=stamp)  # type: ignore[arg-type]
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def packet_names(case_id: int, platform: str) -> tuple[str, str]:
    """The file names of a case's packet and its summary (no clock, no random part)."""
    base = f"申诉包-案件{case_id}-{platform}"
    return f"{base}.zip", f"{base}.summary.html"


def build_packet(store: Store, actor: Actor | str, case_id: int, *, out_dir: str | os.PathLike[str],
                 ground: str | None = None, policy: Policy | None = None, link_chats: bool = True) -> AppealPacket:
    """Build the appeal packet of a case into ``out_dir`` and record it in ``appeals`` (see the module text).

    ``ground`` overrides the one the case's signals give (:func:`choose_ground`). With ``link_chats`` (the
    default) the case buyer's imported chat messages not yet linked are first linked as evidence
    (:func:`~reviewops.handling.evidence.link_chat_messages`, custody ``added`` by this user), so a chat imported
    after the last build is in the packet. A drafted appeal of the case
    is updated (its version goes up when the packet changed); a submitted or decided one is left as it is
    and the packet is only written (``notes`` says so); after a rejection a new drafted appeal is opened
    unless the platform takes one appeal per review only.
    """
    from ..core.policy import current_policy

    facts = _case_facts(store, case_id)
    shop_id = int(facts["shop_id"])
    actor = _authorise(store, actor, "appeal_build", case_id=case_id, shop_id=shop_id)
    if ground is not None and ground not in GROUNDS:
        raise ConfigError(f"未知的申诉理由 {ground!r}；可用：{', '.join(GROUNDS)} / unknown ground {ground!r}")
    platform = facts["platform"]
    policy = policy or current_policy(store, actor=actor.name)
    rule = rule_for(platform, ground or choose_ground(facts["signals"]), policy=policy)
    if link_chats:
        link_chat_messages(store, case_id, actor=actor)
    deadline = appeal_deadline(rule, facts["created_at"], policy) if facts["created_at"] is not None else None
    items, msgs = _evidence_items(store, actor, case_id)
    quotes = _quotes(facts, msgs, policy)
    text = draft_text(facts, rule, quotes, len(items), deadline)
    checklist = _checklist(facts, rule, items, text)
    members: list[tuple[str, bytes]] = [(TEXT_NAME, text.encode("utf-8"))]
    index_rows = [[it.index, it.member, it.sha256, fmt_time(it.at, "%Y-%m-%d %H:%M:%S"),
                   KIND_ZH.get(it.kind, it.kind), it.shows, it.size] for it in items]
    members.append((INDEX_NAME, _csv_bytes(INDEX_HEADER, index_rows)))
    members.append((CHECK_NAME, _csv_bytes(CHECK_HEADER, [[c[h] for h in CHECK_HEADER] for c in checklist])))
    purpose = f"平台申诉包 案件{case_id}"
    for it in items:
        content = export_evidence(store, actor, it.sha256, purpose=purpose, link_id=it.link_id)
        members.append((it.member, content.data))
    data = _zip_bytes(members, facts["created_at"])
    sha = hashlib.sha256(data).hexdigest()
    zip_name, summary_name = packet_names(case_id, platform)
    out = Path(out_dir)
    _write_atomic(out / zip_name, data)

    notes: list[str] = []
    now = utcnow()
    with store.write() as conn:
        last = conn.execute(sa.select(appeals).where(appeals.c.case_id == case_id)
                            .order_by(appeals.c.id.desc()).limit(1)).mappings().first()
        values = {"platform": platform, "ground": rule.ground, "appeal_type": rule.appeal_type, "packet_sha256": sha,
                  "packet_name": zip_name, "review_at": facts["created_at"], "deadline_at": deadline}
        if last is None or (last["state"] == "rejected" and not rule.once_only):
            appeal_id = int(conn.execute(appeals.insert().values(
                case_id=case_id, shop_id=shop_id, state="drafted", created_by=actor.name, created_at=now,
                updated_at=now, version=1, **values).returning(appeals.c.id)).scalar_one())
            state, version, action = "drafted", 1, "created"
        elif last["state"] == "drafted":
            appeal_id, state, version = int(last["id"]), "drafted", int(last["version"])
            changed = {k: v for k, v in values.items() if last[k] != v}
            action = "unchanged"
            if changed:
                res = conn.execute(appeals.update().where(appeals.c.id == appeal_id,
                                                          appeals.c.version == version)
                                   .values(**changed, updated_at=now, version=version + 1))
                if res.rowcount != 1:
                    raise _stale(appeal_id, None, version)
                version, action = version + 1, "rebuilt"
        else:
            appeal_id, state, version = int(last["id"]), last["state"], int(last["version"])
            action = "packet_only"
            if last["state"] == "rejected":
                notes.append(f"平台只受理一次申诉（{rule.source}）：申诉 {appeal_id} 已被驳回，不能再次申诉；本次只生成材料 / "
                             "the platform takes one appeal per review: nothing new was recorded")
            elif last["packet_sha256"] != sha:
                notes.append(f"申诉 {appeal_id} 已{APPEAL_STATE_ZH[last['state']]}，登记的材料哈希不变；本次生成的材料与已提交的不同 / "
                             f"appeal {appeal_id} is {last['state']}: the recorded packet is unchanged, this build differs")
        log_access(conn, actor=actor.name, role=actor.role, action="appeal_build", outcome="ok", case_id=case_id,
                   shop_id=shop_id, target=f"appeal:{appeal_id}",
                   detail={"sha256": sha, "evidence": len(items), "ground": rule.ground, "result": action})
    if any(c["状态"] == MISSING and c["类别"] == "必需" for c in checklist):
        notes.append("缺少平台要求的材料，见核对清单 / required material is missing: see the checklist")
    evidence = [{"index": it.index, "file": it.member, "sha256": it.sha256, "time": fmt_time(it.at), "kind": it.kind,
                 "kind_zh": KIND_ZH.get(it.kind, it.kind), "shows": it.shows, "size": it.size,
                 "family": FAMILY.get(it.mime, "other")} for it in items]
    packet = AppealPacket(appeal_id=appeal_id, case_id=case_id, platform=platform, ground=rule.ground,
                          appeal_type=rule.appeal_type, state=state, version=version, zip_path=out / zip_name,
                          summary_path=out / summary_name, sha256=sha, size=len(data), text=text,
                          deadline_at=deadline, evidence=evidence, checklist=checklist, notes=notes)
    _write_atomic(out / summary_name, summary_html(packet, rule, facts, now=now).encode("utf-8"))
    return packet


# --------------------------------------------------------------------- summary
_CSS = """body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;font-size:10px;margin:0;color:#111}
h1{font-size:15px;margin:0 0 4px}h2{font-size:12px;margin:6px 0 2px}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:1px 3px;text-align:left;vertical-align:top}
th{background:#eee;white-space:nowrap}.missing{color:#b00;font-weight:bold}.met{color:#060}p{margin:2px 0}
pre{white-space:pre-wrap;border:1px solid #999;padding:3px;margin:0;font-family:inherit;font-size:9px;line-height:1.3}
.mono{font-family:monospace;font-size:9px}
@page{size:A4;margin:10mm}"""


def summary_html(packet: AppealPacket, rule: AppealRule, facts: dict[str, Any], *, now: dt.datetime) -> str:
    """The one-page summary (static HTML: every value escaped, no script, a CSP that forbids any)."""
    e = html.escape
    left = ""
    if packet.deadline_at is not None:
        hours = (packet.deadline_at - now).total_seconds() / 3600
        left = "已逾期" if hours < 0 else f"剩余 {hours / 24:.1f} 天" + ("（不足 24 小时）" if hours <= WARN_HOURS else "")
    facts_rows = [
        ("案件", f"{packet.case_id}（{PLATFORM_ZH.get(packet.platform, packet.platform)} · {_one_line(facts['shop_name'])}）"),
        ("订单号", facts["order_id"] or "—"),
        ("申诉理由", GROUND_ZH[packet.ground]),
        ("申诉类型", packet.appeal_type),
        ("申诉入口", rule.entry),
        ("申诉截止（北京时间）", f"{fmt_time(packet.deadline_at, empty='—')}　{rule.deadline_text}　{left}"),
        ("只能申诉一次", "是：提交前请核对全部材料" if rule.once_only else "否"),
        ("申诉状态", f"申诉 {packet.appeal_id}：{APPEAL_STATE_ZH[packet.state]}（版本 {packet.version}）"),
        ("申诉包", f"{packet.zip_path.name}（{packet.size} 字节）"),
        ("申诉包 SHA-256", packet.sha256),
        ("规则来源", f"{rule.source}（可信度 {rule.confidence}）"),
    ]
    out = ['<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
           f"<title>平台申诉摘要 案件{packet.case_id}</title><style>{_CSS}</style></head><body>",
           f"<h1>平台申诉摘要 · 案件 {packet.case_id}</h1><table>"]
    out += [f"<tr><th>{e(k)}</th><td{' class=mono' if k.endswith('SHA-256') else ''}>{e(str(v))}</td></tr>"
            for k, v in facts_rows]
    out.append("</table>")
    for note in packet.notes:
        out.append(f'<p class="missing">{e(note)}</p>')
    out.append("<h2>核对清单</h2><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in CHECK_HEADER[1:]) + "</tr>")
    for c in packet.checklist:
        cls = "met" if c["状态"] == MET else "missing"
        out.append(f"<tr><td>{e(c['要求'])}</td><td>{e(c['类别'])}</td><td class={cls}>{e(c['状态'])}</td>"
                   f"<td>{e(c['依据'])}</td><td>{e(c['来源'])}</td></tr>")
    out.append("</table><h2>证据清单</h2><table><tr><th>序号</th><th>时间</th><th>类别</th><th>证明内容</th>"
               "<th>SHA-256（前 16 位，全文见证据清单）</th></tr>")
    shown = packet.evidence[:SUMMARY_EVIDENCE_ROWS]
    for it in shown:
        out.append(f"<tr><td>{it['index']}</td><td>{e(it['time'])}</td><td>{e(it['kind_zh'])}</td>"
                   f"<td>{e(it['shows'])}</td><td class=mono>{e(it['sha256'][:16])}…</td></tr>")
    if not packet.evidence:
        out.append('<tr><td colspan="5" class="missing">没有证据</td></tr>')
    if len(packet.evidence) > len(shown):
        out.append(f'<tr><td colspan="5">另有 {len(packet.evidence) - len(shown)} 份，见申诉包内的《{INDEX_NAME}》</td></tr>')
    out.append(f"</table><h2>申诉书（{_nlen(packet.text)}/{rule.text_limit} 字）</h2><pre>{e(packet.text)}</pre>")
    out.append(f"<p>生成于 {e(fmt_time(now))}（北京时间）</p></body></html>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------- tracking
def _stale(appeal_id: int, current: int | None, expected: int) -> ConflictError:
    now = f"当前版本 {current}，" if current is not None else ""
    return ConflictError(f"申诉 {appeal_id} 已被他人修改（{now}你看到的是 {expected}）；请刷新后重试。\n"
                         f"Appeal {appeal_id} was changed by someone else (you had version {expected}); reload and retry.")


def get_appeal(store: Store, appeal_id: int) -> dict[str, Any]:
    with store.read() as conn:
        row = conn.execute(sa.select(appeals).where(appeals.c.id == appeal_id)).mappings().first()
    if row is None:
        raise NotFound(f"申诉 {appeal_id} 不存在 / appeal {appeal_id} does not exist")
    return dict(row)


def list_appeals(store: Store, *, case_id: int | None = None) -> list[dict[str, Any]]:
    q = sa.select(appeals).order_by(appeals.c.id)
    if case_id is not None:
        q = q.where(appeals.c.case_id == case_id)
    with store.read() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def _change(store: Store, actor: Actor | str, appeal_id: int, action: str, expected_version: int | None,
            from_state: str, values: dict[str, Any], detail: dict[str, Any]) -> dict[str, Any]:
    if isinstance(appeal_id, bool) or not isinstance(appeal_id, int):
        raise ConfigError(f"申诉编号应为整数，收到 {appeal_id!r} / the appeal id must be an integer")
    row = get_appeal(store, appeal_id)
    actor = _authorise(store, actor, action, case_id=int(row["case_id"]), shop_id=int(row["shop_id"]))
    version = int(row["version"]) if expected_version is None else int(expected_version)
    if version != row["version"]:
        raise _stale(appeal_id, int(row["version"]), version)
    if row["state"] != from_state:
        raise ConfigError(f"申诉 {appeal_id} 当前为“{APPEAL_STATE_ZH[row['state']]}”，只有“{APPEAL_STATE_ZH[from_state]}”"
                          f"的申诉可以这样处理\nappeal {appeal_id} is {row['state']}; only a {from_state} appeal can "
                          f"be {action.split('_')[-1]}ed")
    now = utcnow()
    values = {k: (v(actor, now) if callable(v) else v) for k, v in values.items()}
    with store.write() as conn:
        res = conn.execute(appeals.update().where(appeals.c.id == appeal_id, appeals.c.version == version)
                           .values(**values, updated_at=now, version=version + 1))
        if res.rowcount != 1:
            raise _stale(appeal_id, None, version)
        log_access(conn, actor=actor.name, role=actor.role, action=action, outcome="ok", case_id=int(row["case_id"]),
                   shop_id=int(row["shop_id"]), target=f"appeal:{appeal_id}", detail=detail)
        if action == "appeal_submit":
            _case_to_appeal(conn, int(row["case_id"]), actor.name, values["platform_ref"], now)
    return get_appeal(store, appeal_id)


def _case_to_appeal(conn: sa.Connection, case_id: int, actor: str, ref: str, now: dt.datetime) -> None:
    """Move the case to 平台申诉中 when its state allows (a malicious case in an open state)."""
    from .cases import allowed_transitions, transition_in

    cur = conn.execute(sa.select(cases.c.state, cases.c.version, cases.c.primary_category, cases.c.categories)
                       .where(cases.c.id == case_id)).first()
    if cur is None or cur.state == "appeal":
        return
    malicious = cur.primary_category == "malicious" or "malicious" in (cur.categories or "").split(";")
    if "appeal" in allowed_transitions(cur.state, malicious=malicious):
        transition_in(conn, case_id, int(cur.version), "appeal", actor=actor, via="appeal",
                      reason=f"已向平台提交申诉，平台编号 {ref}", at=now)


def _text_arg(value: Any, name: str, zh: str, *, required: bool, limit: int) -> str:
    text = _one_line(value)
    if required and len(text) < 2:
        raise ConfigError(f"请填写{zh}（至少 2 个字）/ {name} is required (2+ characters)")
    if len(text) > limit:
        raise ConfigError(f"{zh}过长（{len(text)} 字，上限 {limit}）/ {name} is too long ({len(text)}, limit {limit})")
    return text


def submit_appeal(store: Store, actor: Actor | str, appeal_id: int, platform_ref: str, *,
                  expected_version: int | None = None) -> dict[str, Any]:
    """Record that a drafted appeal was filed with the platform under ``platform_ref`` (who, when); the case
    moves to 平台申诉中 when it may. ``expected_version`` (the version the user saw) guards against a change
    made meanwhile (:class:`ConflictError`)."""
    ref = _text_arg(platform_ref, "platform_ref", "平台申诉编号", required=True, limit=100)
    return _change(store, actor, appeal_id, "appeal_submit", expected_version, "drafted",
                   {"state": "submitted", "platform_ref": ref, "submitted_by": lambda a, n: a.name,
                    "submitted_at": lambda a, n: n}, {"platform_ref": ref})


def decide_appeal(store: Store, actor: Actor | str, appeal_id: int, accepted: bool, reason: str | None = None, *,
                  expected_version: int | None = None) -> dict[str, Any]:
    """Record the platform's decision on a submitted appeal: accepted, or rejected with the platform's reason
    (required for a rejection)."""
    if not isinstance(accepted, bool):
        raise ConfigError("accepted 应为 True 或 False / accepted must be True or False")
    text = _text_arg(reason, "reason", "平台给出的理由", required=not accepted, limit=2000)
    return _change(store, actor, appeal_id, "appeal_decide", expected_version, "submitted",
                   {"state": "accepted" if accepted else "rejected", "platform_reason": text or None,
                    "decided_by": lambda a, n: a.name, "decided_at": lambda a, n: n},
                   {"accepted": accepted, "reason": text[:300]})


# ------------------------------------------------------------------------- queue
def _needs_appeal(row: Any) -> bool:
    if row.primary_category == "malicious" or row.state == "appeal":
        return True
    if "malicious" in (row.categories or "").split(";"):
        return True
    try:
        return bool(json.loads(row.triage_json or "{}").get("needs_appeal"))
    except ValueError:
        return False


def legal_queue(store: Store, actor: Actor | str, now: dt.datetime | None = None, *,
                include_submitted: bool = False, policy: Policy | None = None) -> list[dict[str, Any]]:
    """What legal must file, soonest deadline first: open malicious cases without an appeal yet (state
    ``to_build``, deadline from the review time and the platform's rule) and drafted appeals; with
    ``include_submitted`` also appeals awaiting the platform. Each row: ``warning`` (deadline within
    :func:`warn_hours` h, default :data:`WARN_HOURS`), ``overdue`` (passed, not filed), ``hours_left``."""
    from ..core.policy import current_policy
    from .cases import OPEN_STATES

    if isinstance(actor, Actor):
        actor = _authorise(store, actor, "appeal_queue")
    elif not isinstance(actor, str) or not actor.strip():
        raise ConfigError("需要操作人 / an actor is required")
    now = now or utcnow()
    policy = policy or current_policy(store)
    window = warn_hours(policy)
    rules = load_appeal_rules(policy=policy)
    with store.read() as conn:
        crows = conn.execute(
            sa.select(cases.c.id, cases.c.shop_id, cases.c.state, cases.c.primary_category, cases.c.categories,
                      cases.c.triage_json, shops.c.platform, reviews.c.created_at)
            .select_from(cases.join(shops, shops.c.id == cases.c.shop_id)
                         .outerjoin(reviews, reviews.c.id == cases.c.review_pk))
            .where(cases.c.state.in_(OPEN_STATES)).order_by(cases.c.id)).all()
        arows = conn.execute(sa.select(appeals).order_by(appeals.c.id)).mappings().all()
        sig = conn.execute(sa.select(case_signals.c.case_id, case_signals.c.kind, case_signals.c.pointers,
                                     case_signals.c.status).where(case_signals.c.status != "rejected")).mappings().all()
    latest: dict[int, dict[str, Any]] = {}
    for a in arows:
        latest[int(a["case_id"])] = dict(a)
    signals: dict[int, list[dict[str, Any]]] = {}
    for s in sig:
        signals.setdefault(int(s["case_id"]), []).append(dict(s))
    visible = (lambda shop: actor.may_see_shop(shop)) if isinstance(actor, Actor) else (lambda shop: True)
    out: list[dict[str, Any]] = []

    def row_for(case_id: int, shop_id: int, platform: str, state: str, ground: str, appeal_type: str,
                deadline: dt.datetime | None, appeal: dict[str, Any] | None) -> dict[str, Any]:
        secs = None if deadline is None else (deadline - now).total_seconds()
        hours = None if secs is None else round(secs / 3600, 1)
        pending = state in ("to_build", "drafted")
        return {"case_id": case_id, "shop_id": shop_id, "platform": platform,
                "platform_zh": PLATFORM_ZH.get(platform, platform), "appeal_id": appeal["id"] if appeal else None,
                "state": state, "state_zh": APPEAL_STATE_ZH.get(state, "待制作申诉包"), "ground": ground,
                "appeal_type": appeal_type, "deadline_at": deadline, "hours_left": hours,
                "warning": bool(pending and secs is not None and 0 <= secs <= window * 3600),
                "overdue": bool(pending and secs is not None and secs < 0),
                "filed_in_time": (None if appeal is None or appeal["submitted_at"] is None or deadline is None
                                  else appeal["submitted_at"] <= deadline),
                "platform_ref": appeal["platform_ref"] if appeal else None,
                "version": appeal["version"] if appeal else None}

    for c in crows:
        if not visible(int(c.shop_id)) or int(c.id) in latest or not _needs_appeal(c):
            continue
        rule = rule_for(c.platform, choose_ground(signals.get(int(c.id), [])), rules=rules)
        deadline = appeal_deadline(rule, c.created_at, policy) if c.created_at is not None else None
        out.append(row_for(int(c.id), int(c.shop_id), c.platform, "to_build", rule.ground, rule.appeal_type,
                           deadline, None))
    wanted = ("drafted", "submitted") if include_submitted else ("drafted",)
    for case_id, a in latest.items():
        if a["state"] in wanted and visible(int(a["shop_id"])):
            out.append(row_for(case_id, int(a["shop_id"]), a["platform"], a["state"], a["ground"], a["appeal_type"],
                               a["deadline_at"], a))
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    out.sort(key=lambda r: (r["state"] == "submitted", r["deadline_at"] or far, r["case_id"]))
    return out
