"""Remedy by order value and customer tier (SPEC H1 step 2, D3), from the policy.

* :func:`tier_of` — which customer tier (high value, silent, new, regular …) a buyer is in,
  from their spend in the last year, their number of orders and the date of their last order.
* :func:`remedy_for` — what to offer for an order of a given value to a customer of a given
  tier: the remedy band (≤ 100 yuan refund + 5-yuan coupon, 100–300 resend + 10-yuan coupon,
  above 300 the supervisor decides), the approving role, and the tier's gift and approach.

Both read only the :class:`~reviewops.core.policy.Policy`; money is in fen (integers) throughout.
Nothing here is conditional on the customer changing a review (SPEC Compliance): the
remedy depends on the order and the customer, never on the review's outcome.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from ..core.errors import ConfigError
from ..core.policy import REMEDY_ZH, Policy, default_policy, fen_to_yuan_text

__all__ = ["Remedy", "Tier", "remedy_for", "tier_of"]


@dataclass(frozen=True)
class Tier:
    """A customer's tier and why."""

    code: str
    name_zh: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Remedy:
    """What to offer, in fen, with the approving role and the reason (Chinese / English)."""

    remedy: str  # refund | resend | supervisor (the policy's remedy codes)
    remedy_zh: str
    coupon_fen: int | None
    approver_role: str
    tier: str
    gift: str | None
    gift_cost_limit_fen: int | None
    approach: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fen(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} 应为以分为单位的整数，收到 {value!r}；例如 12900 表示 129 元 / {name} must be an "
                          f"integer amount in fen, got {value!r} (12900 = 129 yuan)")
    if value < 0:
        raise ConfigError(f"{name} 不能为负，收到 {value} / {name} must not be negative, got {value}")
    return value


def tier_of(annual_spend_fen: int, orders: int, last_order_date: dt.date | None, *, policy: Policy | None = None,
            today: dt.date | None = None) -> Tier:
    """The first tier (by the policy's 匹配优先级) whose every condition holds.

    Conditions: spend in the last year ≥ ``min_annual_spend_fen``; number of orders ≤
    ``max_orders``; days since ``last_order_date`` ≥ ``min_silent_days`` (a customer with no
    known last order is not silent). Blank conditions always hold; the policy guarantees a
    last tier without conditions, so every customer gets one.
    """
    policy = policy or default_policy()
    spend = _fen(annual_spend_fen, "annual_spend_fen")
    if isinstance(orders, bool) or not isinstance(orders, int) or orders < 0:
        raise ConfigError(f"orders 应为非负整数，收到 {orders!r} / orders must be a non-negative integer, got {orders!r}")
    if isinstance(last_order_date, dt.datetime):
        last_order_date = last_order_date.date()
    if last_order_date is not None and not isinstance(last_order_date, dt.date):
        raise ConfigError(f"last_order_date 应为日期，收到 {last_order_date!r} / last_order_date must be a date")
    today = today or dt.date.today()
    silent_days = None if last_order_date is None else (today - last_order_date).days
    for t in sorted(policy.tables["tiers"], key=lambda r: r["priority"]):
        why: list[str] = []
        if t["min_annual_spend_fen"] is not None:
            if spend < t["min_annual_spend_fen"]:
                continue
            why.append(f"年消费 {fen_to_yuan_text(spend)} 元 ≥ {fen_to_yuan_text(t['min_annual_spend_fen'])} 元")
        if t["max_orders"] is not None:
            if orders > t["max_orders"]:
                continue
            why.append(f"订单数 {orders} ≤ {t['max_orders']}")
        if t["min_silent_days"] is not None:
            if silent_days is None or silent_days < t["min_silent_days"]:
                continue
            why.append(f"距上次下单 {silent_days} 天 ≥ {t['min_silent_days']} 天")
        reason = "；".join(why) if why else "无其他分层条件满足（兜底分层）"
        return Tier(t["code"], t["name_zh"], f"{t['name_zh']}（{t['code']}）：{reason}")
    raise ConfigError("策略中没有可匹配的客户分层 / the policy has no tier that matches")  # pragma: no cover


def remedy_for(order_value_fen: int, tier: str | Tier | None = None, *, policy: Policy | None = None) -> Remedy:
    """The remedy band for ``order_value_fen`` and the tier's gift and approach.

    Bands are left-open, right-closed: 100 yuan exactly is in the first band (≤ 100),
    100.01 in the second. ``tier`` is a tier code, a :class:`Tier` or None (regular).
    """
    policy = policy or default_policy()
    value = _fen(order_value_fen, "order_value_fen")
    code = tier.code if isinstance(tier, Tier) else (tier or None)
    tiers = {t["code"]: t for t in policy.tables["tiers"]}
    if code is not None and code not in tiers:
        raise ConfigError(f"未知的客户分层 {code!r}；可用：{', '.join(tiers)} / unknown tier {code!r}; "
                          f"known: {', '.join(tiers)}")
    t = tiers[code] if code is not None else max(policy.tables["tiers"], key=lambda r: r["priority"])
    bands = sorted(policy.tables["remedy_bands"], key=lambda r: r["min_fen"])
    # bands are contiguous from 0 (checked when the policy is loaded): the first whose upper bound holds
    band = next(b for b in bands if b["max_fen"] is None or value <= b["max_fen"])
    lo = fen_to_yuan_text(band["min_fen"])
    span = f"{lo} 元以上" if band["max_fen"] is None else f"{lo}–{fen_to_yuan_text(band['max_fen'])} 元"
    role = band["approver_role"]
    role_zh = next((r["name_zh"] for r in policy.tables["roles"] if r["code"] == role), role)
    coupon = f" + {fen_to_yuan_text(band['coupon_fen'])} 元券" if band["coupon_fen"] else ""
    reason = (f"订单 {fen_to_yuan_text(value)} 元，档位 {span}："
              f"{REMEDY_ZH[band['remedy']]}{coupon}，由{role_zh}（{role}）审批；{t['name_zh']}："
              f"{t['approach'] or '按补偿档位处理'}"
              + (f"，礼遇 {t['gift']}（成本 ≤ {fen_to_yuan_text(t['gift_cost_limit_fen'])} 元）"
                 if t["gift"] and t["gift_cost_limit_fen"] is not None else ""))
    return Remedy(remedy=band["remedy"], remedy_zh=REMEDY_ZH[band["remedy"]], coupon_fen=band["coupon_fen"],
                  approver_role=band["approver_role"], tier=t["code"], gift=t["gift"],
                  gift_cost_limit_fen=t["gift_cost_limit_fen"], approach=t["approach"], reason=reason)
