"""Review ambassadors (好评大使, SPEC V3), done lawfully: referrals from won-back customers (issue 20).

The playbook's fifth section invites handled customers to recommend the shop: a 50-yuan coupon for each
friend they refer and a gift when three referred orders arrive. Paying for reviews is illegal (SPEC
Compliance, 《网络交易监督管理办法》), so the programme rewards **referrals, never reviews**: nothing here
reads, asks for or counts a review, and every text sent to a customer passes the compliance guard.
Customer-facing texts call the programme 推荐大使 (the internal name 好评大使 is the playbook's).

The steps, each a function taking the store and the signed-in :class:`~reviewops.core.users.Actor`:

1. :func:`candidates` — customers whose case was resolved with confirmed satisfaction (``cases.satisfied``,
   or a CSAT answer ≥ the programme's ``csat_mark`` or an NPS answer ≥ ``nps_promoter`` in ``surveys``
   linked to the case or its customer), with no malicious signal (``case_signals`` open or confirmed, or a
   case categorised malicious) on any of the customer's cases, after ``cooling_off_days`` from resolution;
   one row per customer with the reasons in Chinese.
2. :func:`propose_invitation` (any role) → :func:`approve_invitation` (a supervisor or above, never the
   proposer) queues the invitation. The text is the programme's template or an operator's edit; both are
   checked by :func:`check_programme_text` — the one guard :func:`reviewops.handling.replies.check_message`
   plus a programme rule: an ambassador text may not mention reviews or ratings at all (评价、好评、晒图 …),
   since a referral programme has no reason to. :func:`record_consent` (date, channel) comes before
   anything else is sent: it gives the referral code and queues the code message; :func:`mark_sent`
   refuses every non-invitation message without consent and every message after opt-out.
   :func:`opt_out` is one action: the ambassador ends, pending messages and undelivered rewards are
   cancelled, the code stops counting.
3. :func:`recognise_referrals` reads the shop's **imported orders**: no platform export carries a referral
   code column, so the code (``TJ`` + 6 characters) or the shop's recorded coupon code is looked for in the
   order's 买家留言 (``orders.buyer_message``) and 商家备注/订单备注 (``orders.seller_memo`` — staff type the code
   there when a friend gives it in chat). One row per shop and order (an order imported twice counts
   once); cancelled/closed orders (订单状态 关闭/取消), fully refunded orders (退款 ≥ 实付, from the order's
   退款金额 or the after-sales rows), unpaid orders, the ambassador's own orders and orders outside the
   consent…opt-out window are kept as ``excluded`` with the reason. A re-import that turns a counted order
   into a refunded one excludes it and cancels its undelivered coupon.
4. The rewards ledger (``ambassador_rewards``, fen): one ``referral_coupon`` per counted order and one
   ``threshold_gift`` when the counted orders reach ``gift_threshold``; unique per ambassador and
   ``reward_key``, inserted with ON CONFLICT DO NOTHING under a lock of the ambassador row, so each is
   issued exactly once even when two processes recognise at the same time (SQLite and PostgreSQL). Approval
   limits follow the compensation ledger: the requester's role ``case_limit_fen`` caps the ambassador's
   cumulative rewards and ``window_limit_fen`` the customer's rewards plus compensations within
   ``window_days``; above it the reward waits for a role that covers it (:func:`approve_reward`), and the
   approver is never the requester.
5. :func:`results` / :func:`shop_results` — invitations, consents, referred orders and revenue, rewards and
   cost, ROI (revenue ÷ cost); :func:`reward_costs` for the weekly report and dashboard.

The programme's numbers and texts (:class:`Programme`) are policy data: the 参数 rows ``ambassador_coupon_fen``,
``ambassador_gift_after``, ``ambassador_gift_fen``, ``ambassador_cooling_days``, ``ambassador_csat_min``,
``ambassador_nps_min`` and the general 话术模板 rows of kinds ``ambassador_invite`` / ``ambassador_code`` /
``ambassador_reward`` (:func:`programme_of`; the policy's load check refuses an ambassador template with a review
word). :func:`save_programme` stores them as a new policy version. A store's old ``settings`` row
``ambassadors.programme`` (JSON) still fills what an older stored policy version does not carry.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.errors import (
    AccessDenied,
    ComplianceBlocked,
    ConfigError,
    ConflictError,
    NotFound,
)
from ..core.policy import AMBASSADOR_REVIEW_WORDS_RE

if TYPE_CHECKING:
    import pandas as pd

    from ..core.policy import Policy
    from ..core.store import Store
    from ..core.users import Actor

__all__ = [
    "CODE_RE",
    "DEFAULT_PROGRAMME",
    "MESSAGE_KINDS",
    "REWARD_KINDS",
    "STATE_ZH",
    "ConsentRequired",
    "Programme",
    "Recognition",
    "approve_invitation",
    "approve_reward",
    "candidates",
    "check_programme_text",
    "deliver_reward",
    "mark_sent",
    "messages",
    "opt_out",
    "programme",
    "programme_of",
    "propose_invitation",
    "recognise_referrals",
    "record_consent",
    "referrals",
    "reject_reward",
    "results",
    "reward_costs",
    "rewards",
    "save_programme",
    "set_coupon_code",
    "shop_results",
]

SETTING_KEY = "ambassadors.programme"
STATE_ZH = {"proposed": "待主管批准", "invited": "已邀请（待同意）", "active": "已同意（推荐大使）", "declined": "已婉拒",
            "opted_out": "已退出"}
MESSAGE_KINDS = {"invitation": "邀请", "code": "推荐码", "reward_notice": "奖励通知"}
REWARD_KINDS = {"referral_coupon": "推荐优惠券", "threshold_gift": "推荐满额礼品"}
REWARD_STATE_ZH = {"approved": "已批准", "pending": "待审批", "rejected": "已驳回", "delivered": "已发放", "cancelled": "已取消"}
COUNTED_REWARDS = ("approved", "pending", "delivered")
#: A referral code as recognised in order notes: TJ + 6 of an alphabet without 0/O/1/I/L.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_RE = re.compile(r"TJ[" + CODE_ALPHABET + r"]{6}", re.IGNORECASE)
#: The letters new codes are drawn from: also without B, F, H, P, R, X and Z, which the compliance guard reads
#: as review and benefit abbreviations (hb 红包, fx 返现, hp 好评, 5r, zz …) — a code is put into a message the
#: guard checks, so every code must read as nothing (tests/test_ambassadors.py checks every 3-letter window).
CODE_GEN_ALPHABET = "23456789ACDEGJKMNQSTUVWY"
#: Words an ambassador text may not contain at all (the programme rewards referrals, never reviews).
REVIEW_WORDS_RE = AMBASSADOR_REVIEW_WORDS_RE  # declared in core.policy, checked there on load too
_CANCELLED_RE = re.compile(r"关闭|取消|撤销|cancel|closed", re.IGNORECASE)
_UNPAID_RE = re.compile(r"等待买家付款|待付款|未付款|unpaid", re.IGNORECASE)
_CLOSED_REFUND_RE = re.compile(r"关闭|取消|撤销|撤回|拒绝|驳回|失败|未通过|无效|closed|cancel|reject|fail", re.IGNORECASE)
CHANNELS = ("chat", "phone", "sms", "platform_message", "wechat", "in_person", "other")
CHANNEL_ZH = {"chat": "在线聊天", "phone": "电话", "sms": "短信", "platform_message": "平台消息", "wechat": "企业微信",
              "in_person": "当面", "other": "其他"}


class ConsentRequired(ComplianceBlocked):
    """A message other than the invitation, to a customer who has not consented (or has opted out)."""


# ------------------------------------------------------------------ programme
@dataclass(frozen=True)
class Programme:
    """The programme's numbers (fen, days) and texts. Placeholders: {customer} {shop} {code} {coupon}
    {threshold} {gift} {reward}."""

    cooling_off_days: int = 14
    csat_mark: int = 4  # CSAT 1–5
    nps_promoter: int = 9  # NPS 0–10
    referral_coupon_fen: int = 5000
    gift_threshold: int = 3
    gift_fen: int = 5000
    invite_template: str = ("{customer}您好，感谢您之前耐心帮我们改进！诚邀您成为{shop}的推荐大使：好友在本店下单时在买家留言里"
                            "填写您的推荐码，每位好友下单成功（未取消、未全额退款）您可获得{coupon}元优惠券，累计推荐{threshold}位"
                            "好友下单另送一份礼品。是否参加完全由您决定，回复“同意”参加，随时回复“退出”即可停止。")
    code_template: str = ("{customer}您好，感谢您加入{shop}推荐大使！您的推荐码是 {code}，好友下单时在买家留言里填写即可。"
                          "随时回复“退出”即可停止。")
    reward_template: str = "{customer}您好，您推荐的好友订单已确认，{reward}已发放，感谢您向朋友推荐{shop}！"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False, sort_keys=True)


DEFAULT_PROGRAMME = Programme()
_INT_FIELDS = ("cooling_off_days", "csat_mark", "nps_promoter", "referral_coupon_fen", "gift_threshold", "gift_fen")
_TEXT_FIELDS = ("invite_template", "code_template", "reward_template")
_RANGES = {"cooling_off_days": (0, 365), "csat_mark": (1, 5), "nps_promoter": (0, 10),
           "referral_coupon_fen": (0, 100_000), "gift_threshold": (1, 100), "gift_fen": (0, 500_000)}


def _validate(p: Programme) -> None:
    for name in _INT_FIELDS:
        v = getattr(p, name)
        lo, hi = _RANGES[name]
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ConfigError(f"推荐大使参数 {name} 应为 {lo}–{hi} 的整数，收到 {v!r}（金额以分计）/ programme setting "
                              f"{name} must be an integer in {lo}..{hi}, got {v!r}")


#: Programme field → the policy's 参数 key (issue 20: the numbers are policy data).
POLICY_SETTINGS = {"referral_coupon_fen": "ambassador_coupon_fen", "gift_threshold": "ambassador_gift_after",
                   "gift_fen": "ambassador_gift_fen", "cooling_off_days": "ambassador_cooling_days",
                   "csat_mark": "ambassador_csat_min", "nps_promoter": "ambassador_nps_min"}
#: Programme text field → the policy's 话术模板 kind (the general row: 分类 *, 平台 *).
POLICY_TEMPLATES = {"invite_template": "ambassador_invite", "code_template": "ambassador_code",
                    "reward_template": "ambassador_reward"}


def programme_of(policy: Policy, legacy: dict[str, Any] | None = None) -> Programme:
    """The programme a policy gives: each number from its 参数 row (``ambassador_*``), each text from its
    general (*, *) 话术模板 row of kind ``ambassador_invite`` / ``ambassador_code`` / ``ambassador_reward``.
    A policy stored before these existed has no such row: then the value of the old ``legacy`` JSON
    (``settings`` row ``ambassadors.programme``) is used if it has one, else the code default — so a store
    that saved its programme the old way keeps it until it saves a policy that carries the rows; from then
    on the policy wins."""
    legacy = legacy or {}
    keys = {r["key"] for r in policy.tables["settings"]}
    values: dict[str, Any] = {}
    for field, key in POLICY_SETTINGS.items():
        if key in keys or field not in legacy:
            values[field] = int(policy.setting(key))
        else:
            values[field] = int(legacy[field])
    for field, kind in POLICY_TEMPLATES.items():
        row = next((r for r in policy.tables["templates"] if r["kind"] == kind and r["category"] == "*"
                    and r["platform"] == "*" and r["text"]), None)
        values[field] = row["text"] if row else legacy.get(field) or getattr(DEFAULT_PROGRAMME, field)
    return Programme(**values)


def _legacy(store: Store, conn: sa.Connection | None) -> dict[str, Any]:
    raw = store.get_setting(SETTING_KEY, conn)
    return json.loads(raw) if raw else {}


def programme(store: Store, conn: sa.Connection | None = None) -> Programme:
    """The shop's programme: from the newest stored policy (:func:`programme_of`), with the old
    ``settings`` row ``ambassadors.programme`` filling what an older stored policy does not carry."""
    if conn is None:
        with store.read() as c:
            return programme_of(_policy(c), _legacy(store, c))
    return programme_of(_policy(conn), _legacy(store, conn))


def save_programme(store: Store, actor: Actor, **changes: Any) -> Programme:
    """Change the programme (supervisor or above) by storing a new policy version whose 参数 rows
    ``ambassador_*`` and general 话术模板 rows ``ambassador_*`` carry it (all of them, so values read from
    the old ``ambassadors.programme`` row move into the policy). The policy's own load check runs (ranges,
    placeholders, 违规用语, no review words in an ambassador template), then every template is checked by
    :func:`check_programme_text` on every platform of the store's shops; a blocked one raises
    :class:`ComplianceBlocked` naming the template and the problem, and nothing is stored."""
    from ..core.errors import PolicyInvalid
    from ..core.policy import Policy, fen_to_yuan_text, save_policy
    from ..core.store import shops

    _require_role(actor, "supervisor", "修改推荐大使方案")
    unknown = set(changes) - set(_INT_FIELDS) - set(_TEXT_FIELDS)
    if unknown:
        raise ConfigError(f"未知的推荐大使参数 {sorted(unknown)}；可用：{', '.join(_INT_FIELDS + _TEXT_FIELDS)} / "
                          f"unknown programme settings {sorted(unknown)}")
    with store.read() as conn:
        policy = _policy(conn)
        new = dataclasses.replace(programme_of(policy, _legacy(store, conn)), **changes)
        platforms = sorted({r for r in conn.execute(sa.select(shops.c.platform)).scalars()} or {"taobao"})
    _validate(new)
    sample = _fill_values(new, customer="亲", shop="本店", code="TJ2345AB", reward="50元优惠券")
    for name in _TEXT_FIELDS:
        for platform in platforms:
            problems = check_programme_text(_fill(getattr(new, name), sample), platform=platform, policy=policy)
            if problems:
                raise ComplianceBlocked(f"推荐大使话术 {name} 不合规：" + "；".join(problems)
                                        + f" / programme template {name} is blocked; reword it")
    data = json.loads(policy.to_json())
    tables = data["tables"]
    money = {"referral_coupon_fen", "gift_fen"}
    wanted = {key: (fen_to_yuan_text(getattr(new, f)) if f in money else str(getattr(new, f)))
              for f, key in POLICY_SETTINGS.items()}
    rows = [r for r in tables.get("settings", []) if r["key"] not in wanted]
    from ..core.policy import SETTINGS

    tables["settings"] = rows + [{"key": k, "value": v, "note": SETTINGS[k].zh} for k, v in wanted.items()]
    kinds = {kind: getattr(new, f) for f, kind in POLICY_TEMPLATES.items()}
    tables["templates"] = [r for r in tables.get("templates", []) if not (
        r["kind"] in kinds and r["category"] == "*" and r["platform"] == "*")] + [
        {"kind": k, "category": "*", "platform": "*", "text": t} for k, t in kinds.items()]
    try:
        changed = Policy.from_json(json.dumps(data, ensure_ascii=False), source="推荐大使方案")
    except PolicyInvalid as e:
        raise ComplianceBlocked(f"推荐大使方案不能保存：{e} / the programme does not pass the policy check") from e
    save_policy(store, changed, actor=actor.name, note="推荐大使方案 / ambassador programme")
    return new


# ------------------------------------------------------------------ guard
def check_programme_text(text: str, *, platform: str, policy: Policy | None = None) -> list[str]:
    """Problems of an ambassador text (invitation, code message, reward notice, operator edit): the
    compliance guard :func:`~reviewops.handling.replies.check_message` (length, conditional-incentive
    wording), then the programme's own rule: no review or rating words at all. Empty → fine to send."""
    from .replies import check_message

    problems = check_message(text, platform=platform, policy=policy)
    hits = sorted(set(REVIEW_WORDS_RE.findall(text or "")))
    if hits:
        problems.append(f"推荐大使话术不得提及评价或评分（{'、'.join(hits)}）：奖励只针对推荐好友下单，与评价无关 / an "
                        f"ambassador text may not mention reviews or ratings ({', '.join(hits)}); rewards are for "
                        "referrals only")
    return problems


def _guard(text: str, platform: str, policy: Policy, what: str) -> None:
    problems = check_programme_text(text, platform=platform, policy=policy)
    if problems:
        raise ComplianceBlocked(f"{what}不能使用：" + "；".join(problems) + f" / the {what} is blocked; reword it")


_PLACEHOLDER = re.compile(r"\{(customer|shop|code|coupon|threshold|gift|reward)\}")


def _fill(template: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def _yuan(fen: int) -> str:
    from ..core.policy import fen_to_yuan_text

    return fen_to_yuan_text(fen)


def _fill_values(p: Programme, **kw: str) -> dict[str, str]:
    return {"coupon": _yuan(p.referral_coupon_fen), "threshold": str(p.gift_threshold), "gift": _yuan(p.gift_fen), **kw}


# ------------------------------------------------------------------ helpers
def _policy(conn: sa.Connection) -> Policy:
    from ..core.policy import load_policy_in

    return load_policy_in(conn, None)


def _require_role(actor: Actor, role: str, verb: str, policy: Policy | None = None) -> None:
    from ..core.policy import default_policy
    from .ledger import covers

    if not covers(policy or default_policy(), actor.role, role):
        raise AccessDenied(f"{actor.role_zh}（{actor.role}）无权{verb}，须客服主管或以上 / {actor.role} may not do this; "
                           f"needs {role} or above")


def _check_shop(actor: Actor, shop_id: int) -> None:
    if actor.shops is not None and shop_id not in actor.shops:
        raise AccessDenied(f"无权操作店铺 {shop_id} / {actor.name} may not act for shop {shop_id}")


def _aware(at: dt.datetime | None, what: str) -> dt.datetime:
    from ..core.store import utcnow

    if at is None:
        return utcnow()
    if getattr(at, "tzinfo", None) is None:
        raise ConfigError(f"{what}缺少时区：{at!r}；请给带时区的时间 / {what}: naive datetime {at!r}; pass an aware one")
    return at.astimezone(dt.UTC)


def _ambassador(conn: sa.Connection, ambassador_id: int, *, lock: bool = False) -> Any:
    from ..core.store import ambassadors

    q = sa.select(ambassadors).where(ambassadors.c.id == ambassador_id)
    if lock:
        q = q.with_for_update()
    row = conn.execute(q).mappings().first()
    if row is None:
        raise NotFound(f"推荐大使 {ambassador_id} 不存在，请核对编号 / ambassador {ambassador_id} does not exist")
    return row


def _update(conn: sa.Connection, row: Any, now: dt.datetime, **values: Any) -> None:
    from ..core.store import ambassadors

    n = conn.execute(ambassadors.update().where(ambassadors.c.id == row["id"], ambassadors.c.version == row["version"])
                     .values(**values, updated_at=now, version=row["version"] + 1)).rowcount
    if n != 1:
        raise ConflictError(f"推荐大使 {row['id']} 已被他人修改，请刷新后重试 / ambassador {row['id']} changed meanwhile; "
                            "reload and retry")


def _shop_platform(conn: sa.Connection, shop_id: int) -> tuple[str, str]:
    from ..core.store import shops

    r = conn.execute(sa.select(shops.c.platform, shops.c.name).where(shops.c.id == shop_id)).first()
    if r is None:
        raise NotFound(f"店铺 {shop_id} 不存在 / shop {shop_id} does not exist")
    return r.platform, r.name


def _nick(conn: sa.Connection, customer_id: int) -> str:
    from ..core.store import customers

    return conn.execute(sa.select(customers.c.nick_masked).where(customers.c.id == customer_id)).scalar() or "亲"


def _queue(conn: sa.Connection, ambassador_id: int, kind: str, text: str, actor: str, now: dt.datetime) -> int:
    from ..core.store import ambassador_messages as m

    return conn.execute(m.insert().values(ambassador_id=ambassador_id, kind=kind, text=text, state="pending",
                                          created_by=actor, created_at=now).returning(m.c.id)).scalar_one()


# ------------------------------------------------------------------ 1. candidates
def candidates(store: Store, shop_id: int | None = None, *, now: dt.datetime | None = None,
               include_ineligible: bool = False) -> pd.DataFrame:
    """Customers who may be invited, one row per shop and customer (their latest qualifying case), with
    ``reasons`` (Chinese) and ``status`` (可邀请, or the programme state when already proposed). With
    ``include_ineligible`` the satisfied customers held back (cooling off, malicious signal) are listed
    too with ``eligible`` False and why."""
    import pandas as pd

    from ..core.store import (
        ambassadors,
        case_signals,
        cases,
        customers,
        reviews,
        shops,
        surveys,
    )

    now = _aware(now, "时间")
    with store.read() as conn:
        prog = programme(store, conn)
        q = (sa.select(cases.c.id.label("case_id"), cases.c.shop_id, shops.c.name.label("shop"),
                       shops.c.platform, cases.c.state, cases.c.resolved_at, cases.c.satisfied,
                       cases.c.primary_category, reviews.c.customer_id, customers.c.nick_masked.label("customer"))
             .select_from(cases.join(shops, shops.c.id == cases.c.shop_id)
                          .join(reviews, reviews.c.id == cases.c.review_pk)
                          .join(customers, customers.c.id == reviews.c.customer_id))
             .where(cases.c.state.in_(("resolved", "follow_up_done", "closed")), cases.c.resolved_at.is_not(None)))
        if shop_id is not None:
            q = q.where(cases.c.shop_id == shop_id)
        rows = [dict(r) for r in conn.execute(q.order_by(cases.c.resolved_at, cases.c.id)).mappings()]
        ids = [r["case_id"] for r in rows]
        custs = list({r["customer_id"] for r in rows})
        survey_rows = conn.execute(sa.select(surveys.c.kind, surveys.c.score, surveys.c.case_id, surveys.c.customer_id)
                                   .where(sa.or_(surveys.c.case_id.in_(ids or [-1]),
                                                 surveys.c.customer_id.in_(custs or [-1])))).all()
        # every case of these customers, to find a malicious signal on any of them
        cust_cases = conn.execute(sa.select(cases.c.id, reviews.c.customer_id, cases.c.primary_category)
                                  .select_from(cases.join(reviews, reviews.c.id == cases.c.review_pk))
                                  .where(reviews.c.customer_id.in_(custs or [-1]))).all()
        signalled = {r.case_id for r in conn.execute(
            sa.select(case_signals.c.case_id).where(case_signals.c.status.in_(("open", "confirmed")),
                                                    case_signals.c.case_id.in_([c.id for c in cust_cases] or [-1])))}
        existing = {(r.shop_id, r.customer_id): r.state for r in conn.execute(
            sa.select(ambassadors.c.shop_id, ambassadors.c.customer_id, ambassadors.c.state))}
    malicious_customers: dict[int, list[str]] = {}
    for c in cust_cases:
        if c.id in signalled:
            malicious_customers.setdefault(c.customer_id, []).append(f"案件 {c.id} 有恶意评价信号")
        elif c.primary_category == "malicious":
            malicious_customers.setdefault(c.customer_id, []).append(f"案件 {c.id} 被归为恶意评价")
    best: dict[tuple[int, int], dict[str, Any]] = {}
    for r in rows:
        basis = []
        if r["satisfied"]:
            basis.append("结案时客户确认满意")
        for s in survey_rows:
            if s.case_id == r["case_id"] or (s.case_id is None and s.customer_id == r["customer_id"]):
                if s.kind == "csat" and s.score >= prog.csat_mark:
                    basis.append(f"满意度评分 {s.score}/5（≥ {prog.csat_mark}）")
                elif s.kind == "nps" and s.score >= prog.nps_promoter:
                    basis.append(f"NPS {s.score}/10（推荐者）")
        if not basis:
            continue
        held = list(malicious_customers.get(r["customer_id"], []))
        ready_at = r["resolved_at"] + dt.timedelta(days=prog.cooling_off_days)
        days = (now - r["resolved_at"]).days
        if ready_at > now:
            held.append(f"冷静期未满：结案 {days} 天，须满 {prog.cooling_off_days} 天（{ready_at.date()} 起）")
        reasons = [f"案件 {r['case_id']} 已解决 {days} 天"] + list(dict.fromkeys(basis))
        if not held:
            reasons.append("无恶意评价信号")
        key = (r["shop_id"], r["customer_id"])
        state = existing.get(key)
        out = {"shop_id": r["shop_id"], "shop": r["shop"], "platform": r["platform"], "customer_id": r["customer_id"],
               "customer": r["customer"] or "", "case_id": r["case_id"], "resolved_at": r["resolved_at"],
               "eligible": not held, "basis": "；".join(dict.fromkeys(basis)),
               "reasons": "；".join(reasons + held),
               "status": STATE_ZH[state] if state else ("可邀请" if not held else "暂不邀请")}
        prev = best.get(key)
        # a held-back reason on any case holds the customer back; else the latest qualifying case
        if prev is None or (prev["eligible"] and (not out["eligible"] or out["resolved_at"] >= prev["resolved_at"])):
            best[key] = out
    cols = ["shop_id", "shop", "platform", "customer_id", "customer", "case_id", "resolved_at", "eligible", "basis",
            "reasons", "status"]
    df = pd.DataFrame(list(best.values()), columns=cols)
    if not include_ineligible:
        df = df[df["eligible"].astype(bool)]  # a boolean mask even when empty (an empty object column selects columns)
    return df.sort_values(["shop_id", "resolved_at", "customer_id"]).reset_index(drop=True)


# ------------------------------------------------------------------ 2. invitation and consent
def propose_invitation(store: Store, actor: Actor, case_id: int, *, text: str | None = None,
                       now: dt.datetime | None = None) -> int:
    """Propose inviting the customer of a resolved ``case_id`` (must be an eligible candidate). ``text``:
    an operator's edit of the invitation (else the programme's template, filled); checked by
    :func:`check_programme_text`. Returns the ambassador id (state ``proposed``)."""
    from ..core.store import ambassadors, cases

    now = _aware(now, "时间")
    with store.read() as conn:
        shop_id = conn.execute(sa.select(cases.c.shop_id).where(cases.c.id == case_id)).scalar()
    if shop_id is None:
        raise NotFound(f"案件 {case_id} 不存在 / case {case_id} does not exist")
    _check_shop(actor, shop_id)
    cand = candidates(store, shop_id, now=now, include_ineligible=True)
    mine = cand[cand["case_id"] == case_id]
    if mine.empty:
        raise ConfigError(f"案件 {case_id} 的客户不是候选人：须已解决且客户确认满意（或满意度/NPS 达标）/ the customer of "
                          f"case {case_id} is not a candidate (resolved with confirmed satisfaction)")
    c = mine.iloc[0]
    if not c["eligible"]:
        raise ConfigError(f"暂不能邀请：{c['reasons']} / not yet eligible")
    with store.write() as conn:
        prog = programme(store, conn)
        platform, shop_name = _shop_platform(conn, shop_id)
        body = text if text is not None else _fill(prog.invite_template, _fill_values(
            prog, customer=str(c["customer"] or "亲"), shop=shop_name))
        _guard(body, platform, _policy(conn), "邀请话术")
        if conn.execute(sa.select(ambassadors.c.id).where(ambassadors.c.shop_id == shop_id,
                                                          ambassadors.c.customer_id == int(c["customer_id"]))).first():
            raise ConflictError(f"该客户已在推荐大使名单中（{c['status']}）/ this customer is already in the programme")
        return conn.execute(ambassadors.insert().values(
            shop_id=shop_id, customer_id=int(c["customer_id"]), case_id=case_id, state="proposed", basis=c["basis"],
            invitation_text=body, proposed_by=actor.name, proposed_at=now, updated_at=now, version=1)
            .returning(ambassadors.c.id)).scalar_one()


def approve_invitation(store: Store, actor: Actor, ambassador_id: int, *, text: str | None = None,
                       now: dt.datetime | None = None) -> int:
    """A supervisor (or above, not the proposer) approves the invitation, optionally editing ``text``
    (checked again); the invitation message is queued. Returns the message id."""
    now = _aware(now, "时间")
    with store.write() as conn:
        row = _ambassador(conn, ambassador_id, lock=True)
        _check_shop(actor, row["shop_id"])
        _require_role(actor, "supervisor", "批准推荐大使邀请", _policy(conn))
        if row["proposed_by"] == actor.name:
            raise AccessDenied("批准人不能是提议人，请由另一位主管批准 / the approver may not be the proposer")
        if row["state"] != "proposed":
            raise ConflictError(f"该邀请当前为“{STATE_ZH[row['state']]}”，不能再批准 / invitation is {row['state']}")
        body = text if text is not None else row["invitation_text"]
        platform, _ = _shop_platform(conn, row["shop_id"])
        _guard(body, platform, _policy(conn), "邀请话术")
        _update(conn, row, now, state="invited", invitation_text=body, approved_by=actor.name, approved_at=now)
        return _queue(conn, ambassador_id, "invitation", body, actor.name, now)


def _new_code(conn: sa.Connection, shop_id: int, rng: Any = None) -> str:
    from ..core.store import ambassadors

    pick = secrets.choice if rng is None else rng.choice
    while True:
        code = "TJ" + "".join(pick(CODE_GEN_ALPHABET) for _ in range(6))
        if not conn.execute(sa.select(ambassadors.c.id).where(ambassadors.c.shop_id == shop_id,
                                                              ambassadors.c.referral_code == code)).first():
            return code


def record_consent(store: Store, actor: Actor, ambassador_id: int, *, channel: str,
                   consent_at: dt.datetime | None = None, declined: bool = False,
                   now: dt.datetime | None = None, rng: Any = None) -> str | None:
    """Record the customer's answer to the invitation: consent (date, channel) gives the referral code and
    queues the code message; ``declined`` ends it. Only after consent may anything else be sent.
    Returns the referral code (None when declined). The code's 6 characters come from :mod:`secrets`, or
    from ``rng`` (a ``random.Random``) when given — the demo passes a seeded one so the same seed gives the
    same store; a code already used in the shop is drawn again either way."""
    if channel not in CHANNELS:
        raise ConfigError(f"未知的渠道 {channel!r}；可选：{', '.join(CHANNELS)} / unknown channel {channel!r}")
    now = _aware(now, "时间")
    consent_at = _aware(consent_at or now, "同意时间")
    with store.write() as conn:
        row = _ambassador(conn, ambassador_id, lock=True)
        _check_shop(actor, row["shop_id"])
        if row["state"] != "invited":
            raise ConflictError(f"当前为“{STATE_ZH[row['state']]}”：只有已邀请（已批准）的客户才能记录同意 / only an "
                                f"invited customer can consent (state {row['state']})")
        if declined:
            _update(conn, row, now, state="declined", ended_at=consent_at, ended_channel=channel, ended_by=actor.name)
            _cancel_pending(conn, ambassador_id, now, "客户婉拒")
            return None
        code = _new_code(conn, row["shop_id"], rng)
        _update(conn, row, now, state="active", consent_at=consent_at, consent_channel=channel,
                consent_recorded_by=actor.name, referral_code=code)
        prog = programme(store, conn)
        platform, shop_name = _shop_platform(conn, row["shop_id"])
        body = _fill(prog.code_template, _fill_values(prog, customer=_nick(conn, row["customer_id"]), shop=shop_name,
                                                      code=code))
        _guard(body, platform, _policy(conn), "推荐码消息")
        _queue(conn, ambassador_id, "code", body, actor.name, now)
        return code


def set_coupon_code(store: Store, actor: Actor, ambassador_id: int, code: str,
                    now: dt.datetime | None = None) -> None:
    """Record a coupon code the shop created on the platform for this ambassador (recognised in buyer
    notes like the referral code). Only for an active ambassador; at least 4 characters."""
    code = (code or "").strip().upper()
    if len(code) < 4 or len(code) > 40 or not re.fullmatch(r"[0-9A-Z_-]+", code):
        raise ConfigError(f"优惠券码应为 4–40 位字母数字，收到 {code!r} / coupon code must be 4–40 letters/digits")
    now = _aware(now, "时间")
    with store.write() as conn:
        row = _ambassador(conn, ambassador_id, lock=True)
        _check_shop(actor, row["shop_id"])
        if row["state"] != "active":
            raise ConsentRequired(f"客户尚未同意或已退出（{STATE_ZH[row['state']]}），不能登记优惠券码 / no consent")
        _update(conn, row, now, coupon_code=code)


def _cancel_pending(conn: sa.Connection, ambassador_id: int, now: dt.datetime, reason: str) -> int:
    from ..core.store import ambassador_messages as m

    return conn.execute(m.update().where(m.c.ambassador_id == ambassador_id, m.c.state == "pending")
                        .values(state="cancelled", cancelled_at=now, reason=reason)).rowcount


def opt_out(store: Store, actor: Actor, ambassador_id: int, *, channel: str,
            at: dt.datetime | None = None, now: dt.datetime | None = None) -> dict[str, int]:
    """One action stops everything: the ambassador ends (``opted_out``), pending messages are cancelled,
    undelivered rewards cancelled, and orders after ``at`` no longer count. Returns what was cancelled."""
    from ..core.store import ambassador_rewards as rw

    if channel not in CHANNELS:
        raise ConfigError(f"未知的渠道 {channel!r}；可选：{', '.join(CHANNELS)} / unknown channel {channel!r}")
    now = _aware(now, "时间")
    at = _aware(at or now, "退出时间")
    with store.write() as conn:
        row = _ambassador(conn, ambassador_id, lock=True)
        _check_shop(actor, row["shop_id"])
        if row["state"] in ("opted_out", "declined"):
            return {"messages": 0, "rewards": 0}
        _update(conn, row, now, state="opted_out", ended_at=at, ended_channel=channel, ended_by=actor.name)
        msgs = _cancel_pending(conn, ambassador_id, now, "客户退出推荐大使")
        rewards_n = conn.execute(rw.update().where(rw.c.ambassador_id == ambassador_id,
                                                   rw.c.state.in_(("approved", "pending")))
                                 .values(state="cancelled", decision_reason="客户退出推荐大使", decided_at=now,
                                         decided_by=actor.name, decided_role=actor.role)).rowcount
    return {"messages": msgs, "rewards": rewards_n}


def mark_sent(store: Store, actor: Actor, message_id: int, *, channel: str,
              now: dt.datetime | None = None) -> None:
    """Record that a queued message was sent. Refused (:class:`ConsentRequired`) for anything but the
    invitation without the customer's consent, and for every message after opt-out or decline."""
    from ..core.store import ambassador_messages as m

    now = _aware(now, "时间")
    with store.write() as conn:
        msg = conn.execute(sa.select(m).where(m.c.id == message_id).with_for_update()).mappings().first()
        if msg is None:
            raise NotFound(f"消息 {message_id} 不存在 / message {message_id} does not exist")
        row = _ambassador(conn, msg["ambassador_id"], lock=True)
        _check_shop(actor, row["shop_id"])
        if row["state"] in ("opted_out", "declined"):
            raise ConsentRequired(f"客户已{STATE_ZH[row['state']]}，不能再发送任何消息 / the customer opted out")
        if msg["state"] != "pending":
            raise ConflictError(f"消息 {message_id} 已{'取消' if msg['state'] == 'cancelled' else '发送'}，不能发送 / "
                                f"message {message_id} is {msg['state']}")
        if msg["kind"] != "invitation" and (row["state"] != "active" or row["consent_at"] is None):
            raise ConsentRequired("客户尚未同意参加推荐大使，除邀请外不能发送任何消息；请先记录同意（日期、渠道）/ no consent "
                                  "recorded: nothing but the invitation may be sent")
        platform, _ = _shop_platform(conn, row["shop_id"])
        _guard(msg["text"], platform, _policy(conn), "消息")
        conn.execute(m.update().where(m.c.id == message_id)
                     .values(state="sent", sent_at=now, sent_by=actor.name, channel=channel))


def messages(store: Store, ambassador_id: int | None = None, *, state: str | None = None) -> pd.DataFrame:
    """The programme's outbox (all, or one ambassador's, or one state)."""
    import pandas as pd

    from ..core.store import ambassador_messages as m

    q = sa.select(m).order_by(m.c.id)
    if ambassador_id is not None:
        q = q.where(m.c.ambassador_id == ambassador_id)
    if state is not None:
        q = q.where(m.c.state == state)
    with store.read() as conn:
        return pd.DataFrame([dict(r) for r in conn.execute(q).mappings()], columns=[c.name for c in m.columns])


# ------------------------------------------------------------------ 3. referrals
@dataclass(frozen=True)
class Recognition:
    """What :func:`recognise_referrals` did: referred orders new / changed, counted and excluded in total,
    rewards issued (approved or pending) and cancelled."""

    new: int
    changed: int
    counted: int
    excluded: int
    rewards_issued: int
    rewards_pending: int
    rewards_cancelled: int


def _exclusion(o: Any, amb: Any, refunded: int) -> str | None:
    at = o.created_at or o.paid_at
    if amb["customer_id"] is not None and o.customer_id == amb["customer_id"]:
        return "推荐人本人的订单"
    if at is None:
        return "订单时间未知"
    if amb["consent_at"] is None or at < amb["consent_at"]:
        return "下单早于客户同意参加的时间"
    if amb["state"] == "opted_out" and amb["ended_at"] is not None and at >= amb["ended_at"]:
        return "下单晚于客户退出的时间"
    status = str(o.status_raw or "")
    if _CANCELLED_RE.search(status):
        return f"订单已取消或关闭（{status}）"
    if _UNPAID_RE.search(status) or not (o.paid_fen or 0):
        return "订单未付款"
    if refunded >= int(o.paid_fen):
        return f"订单已全额退款（退 {_yuan(refunded)} 元）"
    return None


def _refunded(conn: sa.Connection, shop_id: int, order_id: str, order_refund: int | None) -> int:
    from ..core.store import refunds

    rows = conn.execute(sa.select(refunds.c.status_raw, refunds.c.refund_fen, refunds.c.apply_fen,
                                  refunds.c.refunded_at, refunds.c.closed_at)
                        .where(refunds.c.shop_id == shop_id, refunds.c.order_id == order_id)).all()
    rows_fen = sum(int(r.refund_fen if r.refund_fen is not None else (r.apply_fen or 0)) for r in rows
                   if r.refunded_at is not None or not (r.closed_at is not None
                                                        or _CLOSED_REFUND_RE.search(str(r.status_raw or ""))))
    return max(int(order_refund or 0), rows_fen)


def _insert_ignore(conn: sa.Connection, table: sa.Table, values: dict[str, Any], keys: list[str]) -> int | None:
    """Insert unless the unique key exists (ON CONFLICT DO NOTHING); the new id or None."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table).values(**values).on_conflict_do_nothing(index_elements=keys).returning(table.c.id)
    return conn.execute(stmt).scalar()


def recognise_referrals(store: Store, actor: Actor, shop_id: int | None = None, *,
                        now: dt.datetime | None = None) -> Recognition:
    """Find referred orders in the imported orders of ``shop_id`` (or every shop the actor may act for),
    record each once, and issue the rewards they earn (see the module docstring). Safe to run again and
    concurrently: nothing is counted or issued twice."""
    from ..core.store import ambassador_referrals as ref
    from ..core.store import ambassadors, orders

    now = _aware(now, "时间")
    new = changed = 0
    issued = pending = cancelled = 0
    with store.read() as conn:
        q = sa.select(ambassadors.c.id, ambassadors.c.shop_id).where(ambassadors.c.consent_at.is_not(None))
        if shop_id is not None:
            q = q.where(ambassadors.c.shop_id == shop_id)
        ambs = [(r.id, r.shop_id) for r in conn.execute(q) if actor.shops is None or r.shop_id in actor.shops]
    shop_ids = sorted({s for _, s in ambs})
    for sid in shop_ids:
        with store.write() as conn:
            rows = {r["id"]: r for r in conn.execute(sa.select(ambassadors).where(
                ambassadors.c.shop_id == sid, ambassadors.c.consent_at.is_not(None))).mappings()}
            by_code: dict[str, int] = {}
            for r in rows.values():
                if r["referral_code"]:
                    by_code[r["referral_code"].upper()] = r["id"]
            by_coupon = {r["coupon_code"].upper(): r["id"] for r in rows.values() if r["coupon_code"]}
            first_consent = min(r["consent_at"] for r in rows.values())
            cand = conn.execute(sa.select(orders).where(
                orders.c.shop_id == sid,
                sa.or_(orders.c.created_at.is_(None), orders.c.created_at >= first_consent - dt.timedelta(days=1)),
                sa.or_(orders.c.buyer_message.is_not(None), orders.c.seller_memo.is_not(None)))).all()
            for o in cand:
                match = None
                for field in ("buyer_message", "seller_memo"):
                    text = str(getattr(o, field) or "").upper()
                    if not text:
                        continue
                    m = CODE_RE.search(text)
                    if m and m.group(0).upper() in by_code:
                        match = (by_code[m.group(0).upper()], "referral_code", field)
                        break
                    for code, aid in by_coupon.items():
                        if code in text:
                            match = (aid, "coupon_code", field)
                            break
                    if match:
                        break
                if match is None:
                    continue
                aid, how, where = match
                refunded = _refunded(conn, sid, o.order_id, o.refund_fen)
                why = _exclusion(o, rows[aid], refunded)
                status = "excluded" if why else "counted"
                revenue = max(0, int(o.paid_fen or 0) - refunded)
                vals = {"ambassador_id": aid, "shop_id": sid, "order_id": o.order_id, "matched_by": how, "matched_in": where,
                            "status": status, "excluded_reason": why, "order_at": o.created_at or o.paid_at,
                            "paid_fen": o.paid_fen, "revenue_fen": revenue, "recognised_at": now, "updated_at": now}
                if _insert_ignore(conn, ref, vals, ["shop_id", "order_id"]) is not None:
                    new += 1
                    continue
                old = conn.execute(sa.select(ref).where(ref.c.shop_id == sid, ref.c.order_id == o.order_id)
                                   ).mappings().one()
                if (old["status"], old["excluded_reason"], old["revenue_fen"]) != (status, why, revenue):
                    # the first ambassador matched keeps the order; its status follows the order's latest import
                    conn.execute(ref.update().where(ref.c.id == old["id"]).values(
                        status=status, excluded_reason=why, revenue_fen=revenue, paid_fen=o.paid_fen, updated_at=now))
                    changed += 1
        for aid in sorted(a for a, s in ambs if s == sid):
            i, p, c = _issue_rewards(store, actor, aid, now)
            issued, pending, cancelled = issued + i, pending + p, cancelled + c
    with store.read() as conn:
        q = sa.select(ref.c.status, sa.func.count()).group_by(ref.c.status)
        if shop_id is not None:
            q = q.where(ref.c.shop_id == shop_id)
        counts = dict(conn.execute(q).all())
    return Recognition(new, changed, int(counts.get("counted", 0)), int(counts.get("excluded", 0)), issued, pending,
                       cancelled)


def referrals(store: Store, shop_id: int | None = None, ambassador_id: int | None = None) -> pd.DataFrame:
    """The referred orders as recorded (counted and excluded, with the reason)."""
    import pandas as pd

    from ..core.store import ambassador_referrals as ref

    q = sa.select(ref).order_by(ref.c.id)
    if shop_id is not None:
        q = q.where(ref.c.shop_id == shop_id)
    if ambassador_id is not None:
        q = q.where(ref.c.ambassador_id == ambassador_id)
    with store.read() as conn:
        return pd.DataFrame([dict(r) for r in conn.execute(q).mappings()], columns=[c.name for c in ref.columns])


# ------------------------------------------------------------------ 4. rewards ledger
def _limits_problems(conn: sa.Connection, policy: Policy, role: str, amb: Any, extra_fen: int,
                     now: dt.datetime) -> list[str]:
    """Why ``role`` may NOT approve ``extra_fen`` more for this ambassador (the compensation ledger's
    limits: the role's per-case limit over the ambassador's rewards, its window limit over the customer's
    rewards and compensations in ``window_days``); empty = it may."""
    from ..core.store import ambassador_rewards as rw
    from ..core.store import compensations as comp

    r = policy.role(role)
    total = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(rw.c.amount_fen), 0)).where(
        rw.c.ambassador_id == amb["id"], rw.c.state.in_(COUNTED_REWARDS))).scalar_one()
    since = now - dt.timedelta(days=int(r["window_days"]))
    window = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(rw.c.amount_fen), 0)).where(
        rw.c.customer_id == amb["customer_id"], rw.c.state.in_(COUNTED_REWARDS), rw.c.requested_at >= since)
    ).scalar_one() + conn.execute(sa.select(sa.func.coalesce(sa.func.sum(comp.c.amount_fen), 0)).where(
        comp.c.customer_id == amb["customer_id"], comp.c.state.in_(COUNTED_REWARDS), comp.c.requested_at >= since)
    ).scalar_one()
    out = []
    if int(total) + extra_fen > int(r["case_limit_fen"]):
        out.append(f"该推荐大使累计奖励 {_yuan(int(total) + extra_fen)} 元超过{r['name_zh']}上限 {_yuan(r['case_limit_fen'])} 元")
    if int(window) + extra_fen > int(r["window_limit_fen"]):
        out.append(f"该客户 {r['window_days']} 天内奖励与补偿合计 {_yuan(int(window) + extra_fen)} 元超过{r['name_zh']}窗口上限 "
                   f"{_yuan(r['window_limit_fen'])} 元")
    return out


def _needed(conn: sa.Connection, policy: Policy, role: str, amb: Any, now: dt.datetime) -> str | None:
    from .ledger import _chain

    for up in _chain(policy, role)[1:]:
        if not _limits_problems(conn, policy, up, amb, 0, now):
            return up
    return None


def _issue_rewards(store: Store, actor: Actor, ambassador_id: int, now: dt.datetime) -> tuple[int, int, int]:
    """Issue the coupons and the threshold gift an ambassador's counted referrals earn, in one transaction
    holding the ambassador row's lock; cancel undelivered coupons of orders now excluded."""
    from ..core.store import ambassador_referrals as ref
    from ..core.store import ambassador_rewards as rw

    issued = pending = cancelled = 0
    with store.write() as conn:
        amb = _ambassador(conn, ambassador_id, lock=True)  # serialises issuing for one ambassador (PostgreSQL)
        prog = programme(store, conn)
        policy = _policy(conn)
        refs = conn.execute(sa.select(ref).where(ref.c.ambassador_id == ambassador_id).order_by(ref.c.order_at, ref.c.id)
                            ).mappings().all()
        excluded = [r["id"] for r in refs if r["status"] == "excluded"]
        if excluded:
            cancelled += conn.execute(rw.update().where(rw.c.referral_id.in_(excluded), rw.c.state.in_(("approved", "pending")))
                                      .values(state="cancelled", decided_at=now, decided_by=actor.name,
                                              decided_role=actor.role, decision_reason="订单已取消或退款，不再计入推荐")
                                      ).rowcount
        if amb["state"] != "active":
            return issued, pending, cancelled
        counted = [r for r in refs if r["status"] == "counted"]
        wanted = []
        if prog.referral_coupon_fen:
            wanted += [("referral_coupon", f"coupon:{r['order_id']}", r["id"], prog.referral_coupon_fen) for r in counted]
        if prog.gift_fen and len(counted) >= prog.gift_threshold:
            wanted.append(("threshold_gift", f"gift:{prog.gift_threshold}", None, prog.gift_fen))
        for kind, key, ref_id, fen in wanted:
            if conn.execute(sa.select(rw.c.id).where(rw.c.ambassador_id == ambassador_id, rw.c.reward_key == key)).first():
                continue
            problems = _limits_problems(conn, policy, actor.role, amb, fen, now)
            vals = {"ambassador_id": ambassador_id, "shop_id": amb["shop_id"], "customer_id": amb["customer_id"], "kind": kind,
                        "reward_key": key, "referral_id": ref_id, "amount_fen": fen, "requested_by": actor.name,
                        "requested_role": actor.role, "requested_at": now}
            if problems:
                vals.update(state="pending", needed_role=_needed(conn, policy, actor.role, amb, now) or "admin",
                            note="；".join(problems))
            else:
                vals.update(state="approved", decided_by=actor.name, decided_role=actor.role, decided_at=now,
                            decision_reason="在权限内自动批准")
            if _insert_ignore(conn, rw, vals, ["ambassador_id", "reward_key"]) is None:
                continue
            if problems:
                pending += 1
            else:
                issued += 1
    return issued, pending, cancelled


def _reward(conn: sa.Connection, reward_id: int) -> Any:
    from ..core.store import ambassador_rewards as rw

    row = conn.execute(sa.select(rw).where(rw.c.id == reward_id).with_for_update()).mappings().first()
    if row is None:
        raise NotFound(f"奖励 {reward_id} 不存在 / reward {reward_id} does not exist")
    return row


def approve_reward(store: Store, actor: Actor, reward_id: int, *, reason: str | None = None,
                   now: dt.datetime | None = None) -> None:
    """Approve a pending reward: the approver's role must cover the limits, and is never the requester."""
    from ..core.store import ambassador_rewards as rw

    now = _aware(now, "时间")
    with store.write() as conn:
        r = _reward(conn, reward_id)
        _check_shop(actor, r["shop_id"])
        if r["state"] != "pending":
            raise ConflictError(f"奖励 {reward_id} 当前为“{REWARD_STATE_ZH[r['state']]}”，不是待审批 / not pending")
        if r["requested_by"] == actor.name:
            raise AccessDenied("审批人不能是申请人 / the approver may not be the requester")
        amb = _ambassador(conn, r["ambassador_id"], lock=True)
        policy = _policy(conn)
        problems = _limits_problems(conn, policy, actor.role, amb, 0, now)
        if problems:
            raise AccessDenied("；".join(problems) + f" / above {actor.role}'s authority")
        conn.execute(rw.update().where(rw.c.id == reward_id).values(
            state="approved", decided_by=actor.name, decided_role=actor.role, decided_at=now, decision_reason=reason))


def reject_reward(store: Store, actor: Actor, reward_id: int, *, reason: str,
                  now: dt.datetime | None = None) -> None:
    """Reject a pending reward (a reason is required; not by the requester)."""
    from ..core.store import ambassador_rewards as rw

    if not (reason or "").strip():
        raise ConfigError("驳回须填写原因 / a reason is required")
    now = _aware(now, "时间")
    with store.write() as conn:
        r = _reward(conn, reward_id)
        _check_shop(actor, r["shop_id"])
        if r["state"] != "pending":
            raise ConflictError(f"奖励 {reward_id} 不是待审批 / reward {reward_id} is not pending")
        if r["requested_by"] == actor.name:
            raise AccessDenied("审批人不能是申请人 / the approver may not be the requester")
        conn.execute(rw.update().where(rw.c.id == reward_id).values(
            state="rejected", decided_by=actor.name, decided_role=actor.role, decided_at=now, decision_reason=reason))


def deliver_reward(store: Store, actor: Actor, reward_id: int, *, now: dt.datetime | None = None) -> int:
    """Mark an approved reward delivered and queue the reward notice (checked by the guard); only for an
    ambassador who consented and has not opted out. Returns the message id."""
    from ..core.store import ambassador_rewards as rw

    now = _aware(now, "时间")
    with store.write() as conn:
        r = _reward(conn, reward_id)
        _check_shop(actor, r["shop_id"])
        amb = _ambassador(conn, r["ambassador_id"], lock=True)
        if amb["state"] != "active":
            raise ConsentRequired(f"客户{STATE_ZH[amb['state']]}，不能发放或通知 / the ambassador is {amb['state']}")
        if r["state"] != "approved":
            raise ConflictError(f"奖励 {reward_id} 当前为“{REWARD_STATE_ZH[r['state']]}”，只有已批准的可发放 / not approved")
        conn.execute(rw.update().where(rw.c.id == reward_id).values(state="delivered", delivered_by=actor.name,
                                                                    delivered_at=now))
        prog = programme(store, conn)
        platform, shop_name = _shop_platform(conn, r["shop_id"])
        what = (f"{_yuan(r['amount_fen'])}元推荐优惠券" if r["kind"] == "referral_coupon"
                else f"推荐满{prog.gift_threshold}位好友的礼品")
        body = _fill(prog.reward_template, _fill_values(prog, customer=_nick(conn, amb["customer_id"]), shop=shop_name,
                                                        reward=what))
        _guard(body, platform, _policy(conn), "奖励通知")
        return _queue(conn, amb["id"], "reward_notice", body, actor.name, now)


def rewards(store: Store, shop_id: int | None = None, *, state: str | None = None) -> pd.DataFrame:
    """The rewards ledger rows (fen)."""
    import pandas as pd

    from ..core.store import ambassador_rewards as rw

    q = sa.select(rw).order_by(rw.c.id)
    if shop_id is not None:
        q = q.where(rw.c.shop_id == shop_id)
    if state is not None:
        q = q.where(rw.c.state == state)
    with store.read() as conn:
        return pd.DataFrame([dict(r) for r in conn.execute(q).mappings()], columns=[c.name for c in rw.columns])


# ------------------------------------------------------------------ 5. results
def reward_costs(conn: sa.Connection, start: dt.datetime, end: dt.datetime,
                 shop_ids: list[int] | None = None) -> dict[str, int]:
    """Cost (fen) of the programme's rewards approved or delivered with ``requested_at`` in [start, end),
    by kind, plus ``total`` and ``referred_revenue_fen`` (counted referred orders placed in the period)."""
    from ..core.store import ambassador_referrals as ref
    from ..core.store import ambassador_rewards as rw

    q = (sa.select(rw.c.kind, sa.func.coalesce(sa.func.sum(rw.c.amount_fen), 0))
         .where(rw.c.state.in_(("approved", "delivered")), rw.c.requested_at >= start, rw.c.requested_at < end)
         .group_by(rw.c.kind))
    rq = sa.select(sa.func.coalesce(sa.func.sum(ref.c.revenue_fen), 0), sa.func.count()).where(
        ref.c.status == "counted", ref.c.order_at >= start, ref.c.order_at < end)
    if shop_ids is not None:
        q = q.where(rw.c.shop_id.in_(shop_ids))
        rq = rq.where(ref.c.shop_id.in_(shop_ids))
    out = {k: 0 for k in REWARD_KINDS}
    out.update({k: int(v) for k, v in conn.execute(q).all()})
    out["total"] = sum(out[k] for k in REWARD_KINDS)
    rev, n = conn.execute(rq).one()
    out["referred_revenue_fen"], out["referred_orders"] = int(rev), int(n)
    return out


def results(store: Store, shop_id: int | None = None) -> pd.DataFrame:
    """Per ambassador: state, consent, referred orders counted / excluded, their revenue (fen, paid less
    refunds), rewards issued (approved + delivered) and their cost (fen), pending rewards, ROI
    (revenue ÷ cost; NaN without cost)."""
    import pandas as pd

    from ..core.store import ambassador_referrals as ref
    from ..core.store import ambassador_rewards as rw
    from ..core.store import ambassadors, customers, shops

    with store.read() as conn:
        q = (sa.select(ambassadors.c.id.label("ambassador_id"), ambassadors.c.shop_id, shops.c.name.label("shop"),
                       customers.c.nick_masked.label("customer"), ambassadors.c.state, ambassadors.c.referral_code,
                       ambassadors.c.approved_at, ambassadors.c.consent_at, ambassadors.c.consent_channel)
             .select_from(ambassadors.join(shops, shops.c.id == ambassadors.c.shop_id)
                          .join(customers, customers.c.id == ambassadors.c.customer_id)).order_by(ambassadors.c.id))
        if shop_id is not None:
            q = q.where(ambassadors.c.shop_id == shop_id)
        base = pd.DataFrame([dict(r) for r in conn.execute(q).mappings()])
        refs = pd.DataFrame([dict(r) for r in conn.execute(sa.select(ref.c.ambassador_id, ref.c.status, ref.c.revenue_fen)
                                                           ).mappings()], columns=["ambassador_id", "status", "revenue_fen"])
        rws = pd.DataFrame([dict(r) for r in conn.execute(sa.select(rw.c.ambassador_id, rw.c.state, rw.c.amount_fen)
                                                          ).mappings()], columns=["ambassador_id", "state", "amount_fen"])
    cols = ["ambassador_id", "shop_id", "shop", "customer", "state", "state_zh", "referral_code", "invited", "consented",
            "referred_orders", "excluded_orders", "revenue_fen", "rewards", "cost_fen", "pending_fen", "roi"]
    if base.empty:
        return pd.DataFrame(columns=cols)
    counted = refs[refs["status"] == "counted"]
    base["invited"] = base["approved_at"].notna()
    base["consented"] = base["consent_at"].notna()
    base["state_zh"] = base["state"].map(STATE_ZH)
    idx = base["ambassador_id"]
    base["referred_orders"] = idx.map(counted.groupby("ambassador_id").size()).fillna(0).astype(int)
    base["excluded_orders"] = idx.map(refs[refs["status"] == "excluded"].groupby("ambassador_id").size()).fillna(0).astype(int)
    base["revenue_fen"] = idx.map(counted.groupby("ambassador_id")["revenue_fen"].sum()).fillna(0).astype(int)
    done = rws[rws["state"].isin(["approved", "delivered"])]
    base["rewards"] = idx.map(done.groupby("ambassador_id").size()).fillna(0).astype(int)
    base["cost_fen"] = idx.map(done.groupby("ambassador_id")["amount_fen"].sum()).fillna(0).astype(int)
    base["pending_fen"] = idx.map(rws[rws["state"] == "pending"].groupby("ambassador_id")["amount_fen"].sum()
                                  ).fillna(0).astype(int)
    base["roi"] = [r / c if c else float("nan") for r, c in zip(base["revenue_fen"], base["cost_fen"])]
    return base[cols]


def shop_results(store: Store, shop_id: int | None = None) -> pd.DataFrame:
    """Per shop: invitations (approved), consents, active ambassadors, opt-outs, referred orders, revenue (fen),
    rewards and cost (fen), ROI."""
    import pandas as pd

    per = results(store, shop_id)
    cols = ["shop_id", "shop", "invitations", "consents", "active", "opted_out", "referred_orders", "revenue_fen",
            "rewards", "cost_fen", "roi"]
    if per.empty:
        return pd.DataFrame(columns=cols)
    g = per.groupby(["shop_id", "shop"], as_index=False).agg(
        invitations=("invited", "sum"), consents=("consented", "sum"),
        active=("state", lambda s: int((s == "active").sum())), opted_out=("state", lambda s: int((s == "opted_out").sum())),
        referred_orders=("referred_orders", "sum"), revenue_fen=("revenue_fen", "sum"), rewards=("rewards", "sum"),
        cost_fen=("cost_fen", "sum"))
    g["roi"] = [r / c if c else float("nan") for r, c in zip(g["revenue_fen"], g["cost_fen"])]
    for c in ("invitations", "consents"):
        g[c] = g[c].astype(int)
    return g[cols]
