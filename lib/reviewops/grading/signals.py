"""Account and burst signals of malicious reviews (SPEC H2, issue 17 §1): pure detection that reads the store
and writes nothing. :mod:`reviewops.handling.defence` records what is found on the cases.

* :func:`buyer_signals` — per buyer (the keyed nick hash only, matched across the shop's stores): orders,
  refunds, the 仅退款 (refund without return) rate and bad reviews, each compared with the shop's baseline
  by a one-sided binomial test → ``serial_buyer`` ("serial orders with an abnormal return rate"), explained.
* :func:`burst_signals` — several bad reviews within a short window sharing an IP (``burst_ip``), a device
  (``burst_device``), a receiver (``burst_receiver``: the receiver phone's keyed hash, or a keyed hash of a
  detailed masked address) or near-identical text on the same product (``burst_text``: MinHash + LSH over
  character 3-gram shingles, datasketch, verified by the exact Jaccard similarity of the shingle sets).

Every :class:`Signal` has a ``kind``, a ``score`` (0–1), Chinese ``reasons`` and ``pointers`` (store row ids of
reviews and chat messages, platform order ids) and a stable ``key`` (what makes recording it idempotent).

The numbers are policy-like constants in :data:`SIGNAL_POLICY` (one dict, so that they can move into the
policy workbook later). "Bad review" = a review that has a case (triage found it negative) or whose
rating class is negative.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa

from .lexicon import normalize_text

__all__ = [
    "SIGNAL_KINDS",
    "SIGNAL_POLICY",
    "Signal",
    "burst_signals",
    "buyer_signals",
    "near_duplicates",
    "shingles",
]

#: The thresholds of the account and burst signals (policy-like; one place to tune them).
SIGNAL_POLICY: dict[str, Any] = {
    "burst_window_hours": 24.0,  # a burst: this many hours …
    "burst_min_reviews": 3,  # … holding at least this many bad reviews that share a key
    # a burst of the minimum size scores the base; alone it stays below the malicious threshold (0.6) unless it
    # is larger (4 same-IP reviews on one product within an hour reach it) or other evidence joins it
    "burst_base_score": {"burst_ip": 0.45, "burst_device": 0.5, "burst_receiver": 0.5, "burst_text": 0.45},
    "burst_step": 0.08,  # + per review beyond the minimum
    "burst_tight_hours": 1.0,  # + burst_tight_bonus when the whole burst lies within this many hours
    "burst_tight_bonus": 0.05,
    "burst_same_product_bonus": 0.05,  # a link burst on one product (sock puppets aim at one listing)
    "burst_max_score": 0.95,
    "near_dup_jaccard": 0.6,  # shingle-set Jaccard similarity that counts as near-identical
    "minhash_perm": 64,
    "shingle_chars": 3,
    "min_text_chars": 6,  # shorter texts (after squeezing) are too generic to be called duplicates
    "address_min_detail_chars": 4,  # a masked address is a key only with this much detail beyond the region
    "serial_min_orders": 3,
    "serial_alpha": 0.01,  # one-sided binomial p-value below which a rate is abnormal
    "serial_min_ratio": 2.0,  # … and at least this multiple of the shop's baseline rate
    "serial_base_score": 0.3,
    "serial_max_score": 0.55,  # alone a serial buyer never reaches the malicious threshold (0.6)
}

SIGNAL_KINDS = ("extortion_chat", "extortion_review", "serial_buyer", "burst_ip", "burst_device", "burst_receiver",
                "burst_text")
KIND_ZH = {"extortion_chat": "聊天勒索/威胁", "extortion_review": "评价内容勒索/威胁", "serial_buyer": "连续下单、退货率异常",
           "burst_ip": "同一IP集中差评", "burst_device": "同一设备集中差评", "burst_receiver": "同一收货人集中差评",
           "burst_text": "近似文本集中差评"}
_LINK_ZH = {"burst_ip": "同一 IP", "burst_device": "同一设备", "burst_receiver": "同一收货人（手机号或详细地址的键控哈希）"}


@dataclass
class Signal:
    """One detection signal about one review's case (``review_pk``)."""

    review_pk: int
    kind: str
    key: str
    score: float
    reasons: list[str]
    pointers: dict[str, list[Any]] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------- helpers
def _tag(secret: bytes, value: str) -> str:
    """A short keyed tag of a value (IP, device, address) for a signal key: never the value itself."""
    return hmac.new(secret, value.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def _bad_reviews_query(where: Any = None) -> Any:
    from ..core.store import cases, orders, reviews

    q = (sa.select(reviews.c.id.label("review_pk"), reviews.c.shop_id, reviews.c.product_id, reviews.c.created_at,
                   reviews.c.ip, reviews.c.device_id, reviews.c.content, reviews.c.order_id, reviews.c.customer_id,
                   reviews.c.is_default_review, orders.c.receiver_phone_hash, orders.c.receiver_address_masked,
                   orders.c.province, orders.c.city, orders.c.district)
         .select_from(reviews.outerjoin(cases, cases.c.review_pk == reviews.c.id)
                      .outerjoin(orders, sa.and_(orders.c.shop_id == reviews.c.shop_id,
                                                 orders.c.order_id == reviews.c.order_id)))
         .where(sa.or_(cases.c.id.is_not(None), reviews.c.rating_class == "negative")))
    return q if where is None else q.where(where)


_COLS = ["review_pk", "shop_id", "product_id", "created_at", "ip", "device_id", "content", "order_id", "customer_id",
         "is_default_review", "receiver_phone_hash", "receiver_address_masked", "province", "city", "district"]


def _frame(conn: sa.Connection, q: Any) -> pd.DataFrame:
    df = pd.DataFrame(conn.execute(q).all(), columns=_COLS)
    df["created_at"] = pd.to_datetime(df["created_at"], utc=True)
    return df.drop_duplicates("review_pk")


_MASK = re.compile(r"[*＊•·]+")
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def _address_key(row: Any, min_detail: int) -> str | None:
    """A detailed masked address (beyond province/city/district and the mask) as a matching value, else None."""
    addr = row.receiver_address_masked
    if not isinstance(addr, str) or not addr.strip():
        return None
    rest = addr
    for part in (row.province, row.city, row.district):
        if isinstance(part, str) and part:
            rest = rest.replace(part, "")
    detail = _NOT_WORD.sub("", _MASK.sub("", normalize_text(rest)))
    return normalize_text(addr).replace(" ", "") if len(detail) >= min_detail else None


def _link_values(df: pd.DataFrame, kind: str, policy: dict[str, Any]) -> pd.Series:
    if kind == "burst_ip":
        v = df["ip"]
    elif kind == "burst_device":
        v = df["device_id"]
    else:  # receiver: the phone's keyed hash first, else a detailed masked address
        addr = [_address_key(r, int(policy["address_min_detail_chars"])) for r in df.itertuples(index=False)]
        v = pd.Series([("tel:" + p) if isinstance(p, str) and p else (("addr:" + a) if a else None)
                       for p, a in zip(df["receiver_phone_hash"], addr)], index=df.index, dtype=object)
    clean = [str(x).strip() if isinstance(x, str) else None for x in v]
    return pd.Series([x or None for x in clean], index=df.index, dtype=object)


def _windows(times: Sequence[pd.Timestamp], i: int, window: pd.Timedelta, need: int) -> list[int]:
    """Indices (into sorted ``times``) of the fullest ``window``-long span that holds ``times[i]`` and at least
    ``need`` items (the earliest such span on a tie); empty when there is none."""
    best: tuple[int, int] | None = None
    n = len(times)
    for s in range(i, -1, -1):
        if times[i] - times[s] > window:
            break
        end = s
        while end + 1 < n and times[end + 1] - times[s] <= window:
            end += 1
        if end >= i and end - s + 1 >= need and (best is None or end - s >= best[1] - best[0]):
            best = (s, end)
    return list(range(best[0], best[1] + 1)) if best else []


def _burst_score(kind: str, n: int, span: pd.Timedelta, one_product: bool, policy: dict[str, Any]) -> float:
    s = float(policy["burst_base_score"][kind]) + float(policy["burst_step"]) * max(0, n - int(policy["burst_min_reviews"]))
    if span <= pd.Timedelta(hours=float(policy["burst_tight_hours"])):
        s += float(policy["burst_tight_bonus"])
    if one_product and kind != "burst_text":
        s += float(policy["burst_same_product_bonus"])
    return round(min(float(policy["burst_max_score"]), s), 4)


def _fmt_span(span: pd.Timedelta) -> str:
    minutes = span.total_seconds() / 60
    return f"{minutes:.0f} 分钟" if minutes < 120 else f"{minutes / 60:.1f} 小时"


# --------------------------------------------------------------------------------------- text
def _squeeze(text: Any) -> str:
    return _NOT_WORD.sub("", normalize_text(text))


def shingles(text: Any, k: int | None = None) -> set[str]:
    """Character ``k``-gram shingles (default 3) of :func:`~reviewops.grading.lexicon.normalize_text` output with
    whitespace and punctuation removed; a text shorter than ``k`` is its own single shingle."""
    k = int(k or SIGNAL_POLICY["shingle_chars"])
    s = _squeeze(text)
    if not s:
        return set()
    return {s[i:i + k] for i in range(max(1, len(s) - k + 1))}


_LSH_PARAMS: dict[tuple[float, int], tuple[int, int]] = {}


def near_duplicates(texts: Sequence[Any], *, threshold: float | None = None, num_perm: int | None = None,
                    min_chars: int | None = None, groups: Sequence[Any] | None = None,
                    comparable: Callable[[int, int], bool] | None = None) -> dict[int, set[int]]:
    """Index → indices of the other texts that are near-identical to it (MinHash + MinHashLSH candidates from
    :mod:`datasketch`, kept when the exact Jaccard similarity of the shingle sets reaches ``threshold``).
    Texts shorter than ``min_chars`` (after squeezing) are left out; with ``groups`` (one label per text) only
    texts of the same group are compared (the same shop and product), and with ``comparable(i, j)`` only the
    pairs it accepts (e.g. posted within the burst window)."""
    from datasketch import MinHash, MinHashLSH

    threshold = float(threshold if threshold is not None else SIGNAL_POLICY["near_dup_jaccard"])
    num_perm = int(num_perm or SIGNAL_POLICY["minhash_perm"])
    min_chars = int(min_chars if min_chars is not None else SIGNAL_POLICY["min_text_chars"])
    sets: dict[int, set[str]] = {}
    for i, t in enumerate(texts):
        if len(_squeeze(t)) >= min_chars:
            sets[i] = shingles(t)
    out: dict[int, set[int]] = {i: set() for i in sets}
    if len(sets) < 2:
        return out
    key = (threshold, num_perm)
    if key not in _LSH_PARAMS:  # the (bands, rows) optimisation integrates numerically: once per setting
        probe = MinHashLSH(threshold=threshold, num_perm=num_perm)
        _LSH_PARAMS[key] = (probe.b, probe.r)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, params=_LSH_PARAMS[key])
    order = list(sets)
    hashes = MinHash.bulk([[x.encode("utf-8") for x in sorted(sets[i])] for i in order], num_perm=num_perm, seed=1)
    for i, m in zip(order, hashes):
        lsh.insert(i, m)
    for i, m in zip(order, hashes):
        for j in lsh.query(m):
            if j == i or j in out[i] or (groups is not None and groups[i] != groups[j]):
                continue
            if comparable is not None and not comparable(i, j):
                continue
            a, b = sets[i], sets[j]
            if len(a & b) / len(a | b) >= threshold:
                out[i].add(j)
                out[j].add(i)
    return out


# ------------------------------------------------------------------------------------------ bursts
def burst_signals(conn: sa.Connection, review_pks: Iterable[int] | None = None, *, secret: bytes = b"",
                  policy: dict[str, Any] | None = None) -> list[Signal]:
    """Burst signals of the bad reviews ``review_pks`` (None = every bad review in the store).

    For each review and each link (IP, device, receiver): the bad reviews with the same value, in any of the
    shop's stores, inside a ``burst_window_hours`` span holding the review and at least ``burst_min_reviews``
    of them. For text: the same, among the near-identical bad reviews of the same product. ``secret`` keys the
    tags of IPs, devices and addresses in the signal keys (the store's PII key)."""
    from ..core.store import reviews

    policy = {**SIGNAL_POLICY, **(policy or {})}
    window = pd.Timedelta(hours=float(policy["burst_window_hours"]))
    need = int(policy["burst_min_reviews"])
    if review_pks is None:
        bad = _frame(conn, _bad_reviews_query())
        targets = set(bad["review_pk"].astype(int))
    else:
        targets = {int(x) for x in review_pks}
        if not targets:
            return []
        tgt = _frame(conn, _bad_reviews_query(reviews.c.id.in_(sorted(targets))))
        if tgt.empty:
            return []
        lo, hi = tgt["created_at"].min() - window, tgt["created_at"].max() + window
        # the reviews that can share a burst with a target: same IP, device, order/receiver or product, near in time
        ors = [reviews.c.product_id.in_([p for p in tgt["product_id"].dropna().unique().tolist()])]
        for col in ("ip", "device_id"):
            vals = [v for v in tgt[col].dropna().unique().tolist() if str(v).strip()]
            if vals:
                ors.append(reviews.c[col].in_(vals))
        has_receiver = tgt["receiver_phone_hash"].notna().any() or tgt["receiver_address_masked"].notna().any()
        where = sa.and_(reviews.c.created_at >= lo.to_pydatetime(), reviews.c.created_at <= hi.to_pydatetime())
        if not has_receiver:
            where = sa.and_(where, sa.or_(*ors))
        bad = _frame(conn, _bad_reviews_query(where))
        bad = pd.concat([bad, tgt]).drop_duplicates("review_pk")
    if bad.empty:
        return []
    bad = bad.sort_values(["created_at", "review_pk"]).reset_index(drop=True)
    out: list[Signal] = []
    for kind in ("burst_ip", "burst_device", "burst_receiver"):
        vals = _link_values(bad, kind, policy)
        have = vals.notna()
        if not have.any():
            continue
        sub = bad[have].assign(_v=vals[have])
        for value, grp in sub.groupby("_v", sort=False):
            if len(grp) < need:
                continue
            times = list(grp["created_at"])
            pks = list(grp["review_pk"].astype(int))
            for i, pk in enumerate(pks):
                if pk not in targets:
                    continue
                idx = _windows(times, i, window, need)
                if not idx:
                    continue
                members = grp.iloc[idx]
                span = members["created_at"].max() - members["created_at"].min()
                products = members["product_id"].dropna().unique()
                one_product = len(products) == 1 and members["product_id"].notna().all()
                score = _burst_score(kind, len(members), span, one_product, policy)
                what = _LINK_ZH[kind]
                reasons = [f"{KIND_ZH[kind]}：{len(members)} 条差评来自{what}，集中在 {_fmt_span(span)} 内"
                           f"（窗口 {float(policy['burst_window_hours']):g} 小时、至少 {need} 条）"]
                if one_product:
                    reasons.append("全部针对同一商品")
                if members["shop_id"].nunique() > 1:
                    reasons.append(f"涉及本店 {members['shop_id'].nunique()} 个平台店铺")
                out.append(Signal(
                    review_pk=pk, kind=kind, key=f"{kind}:{_tag(secret, str(value))}", score=score, reasons=reasons,
                    pointers={"reviews": [int(x) for x in members["review_pk"]],
                              "orders": sorted({str(o) for o in members["order_id"].dropna()}),
                              "window": [members["created_at"].min().isoformat(),
                                         members["created_at"].max().isoformat()]}))
    out.extend(_text_bursts(bad, targets, window, need, policy))
    return out


def _text_bursts(bad: pd.DataFrame, targets: set[int], window: pd.Timedelta, need: int,
                 policy: dict[str, Any]) -> list[Signal]:
    out: list[Signal] = []
    bad = bad.reset_index(drop=True)
    texts = bad["content"].where(~bad["is_default_review"].fillna(False).astype(bool), None)
    groups = [(s, p) if isinstance(p, str) and p else (s, None, i)
              for i, (s, p) in enumerate(zip(bad["shop_id"], bad["product_id"]))]
    ns = bad["created_at"].to_numpy(dtype="datetime64[ns]").astype("int64")
    w = int(window.value)
    dup = near_duplicates(list(texts), threshold=float(policy["near_dup_jaccard"]),
                          num_perm=int(policy["minhash_perm"]), min_chars=int(policy["min_text_chars"]), groups=groups,
                          comparable=lambda i, j: abs(int(ns[i]) - int(ns[j])) <= w)
    pks = bad["review_pk"].astype(int).tolist()
    for i, pk in enumerate(pks):
        if pk not in targets or len(dup.get(i, ())) + 1 < need:
            continue
        near = sorted({i, *dup[i]}, key=lambda j: (int(ns[j]), pks[j]))
        times = [pd.Timestamp(int(ns[j]), tz="UTC") for j in near]
        idx = _windows(times, near.index(i), window, need)
        if not idx:
            continue
        members = bad.iloc[[near[k] for k in idx]]
        span = members["created_at"].max() - members["created_at"].min()
        score = _burst_score("burst_text", len(members), span, True, policy)
        ips = members["ip"].dropna().nunique()
        reasons = [f"{KIND_ZH['burst_text']}：同一商品的 {len(members)} 条差评文字几乎相同"
                   f"（3 字片段 Jaccard ≥ {float(policy['near_dup_jaccard']):g}，MinHash 检索），集中在 {_fmt_span(span)} 内"]
        if ips > 1:
            reasons.append(f"来自 {ips} 个不同 IP")
        first = int(members["review_pk"].min())
        out.append(Signal(
            review_pk=pk, kind="burst_text", key=f"burst_text:{first}", score=score, reasons=reasons,
            pointers={"reviews": [int(x) for x in members["review_pk"]],
                      "orders": sorted({str(o) for o in members["order_id"].dropna()}),
                      "window": [members["created_at"].min().isoformat(), members["created_at"].max().isoformat()]}))
    return out


# ------------------------------------------------------------------------------------------- buyers
def _binom_sf(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p) (exact sum; n is a buyer's order count, small)."""
    if k <= 0:
        return 1.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    return min(1.0, sum(math.comb(n, j) * p ** j * (1 - p) ** (n - j) for j in range(k, n + 1)))


def _baselines(conn: sa.Connection, shop_ids: Sequence[int]) -> dict[int, dict[str, float]]:
    """Per shop: orders, and the shares of orders refunded, refunded without return (仅退款) and reviewed badly."""
    from ..core.store import cases, orders, refunds, reviews

    out: dict[int, dict[str, float]] = {}
    if not shop_ids:
        return out
    n_orders = dict(conn.execute(sa.select(orders.c.shop_id, sa.func.count()).where(orders.c.shop_id.in_(shop_ids))
                                 .group_by(orders.c.shop_id)).all())
    ref = sa.select(refunds.c.shop_id, refunds.c.order_id, _no_return_expr().label("nr")).where(
        refunds.c.shop_id.in_(shop_ids)).subquery()
    rows = conn.execute(sa.select(ref.c.shop_id, sa.func.count(sa.distinct(ref.c.order_id)),
                                  sa.func.count(sa.distinct(sa.case((ref.c.nr == 1, ref.c.order_id)))))
                        .group_by(ref.c.shop_id)).all()
    refunded = {int(s): (int(a), int(b)) for s, a, b in rows}
    bad = dict(conn.execute(
        sa.select(reviews.c.shop_id, sa.func.count(sa.distinct(reviews.c.id)))
        .select_from(reviews.outerjoin(cases, cases.c.review_pk == reviews.c.id))
        .where(reviews.c.shop_id.in_(shop_ids))
        .where(sa.or_(cases.c.id.is_not(None), reviews.c.rating_class == "negative"))
        .group_by(reviews.c.shop_id)).all())
    for s in shop_ids:
        n = int(n_orders.get(s, 0))
        r, nr = refunded.get(int(s), (0, 0))
        out[int(s)] = {"orders": n, "refund": r / n if n else 0.0, "no_return": nr / n if n else 0.0,
                       "bad": int(bad.get(s, 0)) / n if n else 0.0}
    return out


def _no_return_expr() -> Any:
    """1 when a refund row is a refund without return (仅退款: the kind says so, or no return is needed)."""
    from ..core.store import refunds

    return sa.case((sa.or_(refunds.c.kind_raw.like("%仅退款%"), refunds.c.need_return.is_(False)), 1), else_=0)


def buyer_signals(conn: sa.Connection, review_pks: Iterable[int] | None = None, *,
                  policy: dict[str, Any] | None = None) -> list[Signal]:
    """``serial_buyer`` signals for the buyers of the reviews ``review_pks`` (None = every bad review's buyer).

    A buyer is the keyed hash of the nick (``customers.nick_hash``), matched across the shop's stores (every
    shop in the store); a review without a customer takes its order's. Counted over the buyer's orders:
    refunded orders, orders refunded without return (仅退款) and bad reviews. A rate is abnormal when the
    buyer has at least ``serial_min_orders`` orders, the rate is at least ``serial_min_ratio`` × the
    baseline (the shops' rates weighted by the buyer's orders per shop) and the one-sided binomial
    p-value is below ``serial_alpha``. Score ``serial_base_score`` + 0.05 per decade of p-value below
    ``serial_alpha``, at most ``serial_max_score``."""
    from ..core.store import cases, customers, orders, refunds, reviews

    policy = {**SIGNAL_POLICY, **(policy or {})}
    q = (sa.select(reviews.c.id, reviews.c.shop_id, sa.func.coalesce(reviews.c.customer_id, orders.c.customer_id))
         .select_from(reviews.outerjoin(orders, sa.and_(orders.c.shop_id == reviews.c.shop_id,
                                                        orders.c.order_id == reviews.c.order_id))))
    if review_pks is not None:
        pks = sorted({int(x) for x in review_pks})
        if not pks:
            return []
        q = q.where(reviews.c.id.in_(pks))
    else:
        q = q.where(sa.exists().where(cases.c.review_pk == reviews.c.id))
    rev = [(int(r), int(s), int(c)) for r, s, c in conn.execute(q).all() if c is not None]
    if not rev:
        return []
    cust_ids = sorted({c for _, _, c in rev})
    hashes = dict(conn.execute(sa.select(customers.c.id, customers.c.nick_hash).where(customers.c.id.in_(cust_ids))).all())
    identity = {c: (f"nick:{hashes[c]}" if hashes.get(c) else f"cust:{c}") for c in cust_ids}
    nick_hashes = sorted({h for h in hashes.values() if h})
    members: dict[str, set[int]] = {identity[c]: {c} for c in cust_ids}
    if nick_hashes:
        for cid, h in conn.execute(sa.select(customers.c.id, customers.c.nick_hash)
                                   .where(customers.c.nick_hash.in_(nick_hashes))).all():
            members.setdefault(f"nick:{h}", set()).add(int(cid))
    all_ids = sorted({c for ids in members.values() for c in ids})
    od = pd.DataFrame(conn.execute(sa.select(orders.c.customer_id, orders.c.shop_id, orders.c.order_id)
                                   .where(orders.c.customer_id.in_(all_ids))).all(),
                      columns=["customer_id", "shop_id", "order_id"])
    if od.empty:
        return []
    rf = pd.DataFrame(conn.execute(
        sa.select(refunds.c.shop_id, refunds.c.order_id, _no_return_expr().label("nr"))
        .where(sa.tuple_(refunds.c.shop_id, refunds.c.order_id).in_(
            list(od[["shop_id", "order_id"]].itertuples(index=False, name=None))))).all(),
        columns=["shop_id", "order_id", "nr"]) if len(od) else pd.DataFrame(columns=["shop_id", "order_id", "nr"])
    bad = pd.DataFrame(conn.execute(
        sa.select(reviews.c.id, reviews.c.customer_id)
        .select_from(reviews.outerjoin(cases, cases.c.review_pk == reviews.c.id))
        .where(reviews.c.customer_id.in_(all_ids))
        .where(sa.or_(cases.c.id.is_not(None), reviews.c.rating_class == "negative"))).all(),
        columns=["review_pk", "customer_id"]).drop_duplicates("review_pk")
    base = _baselines(conn, sorted({int(s) for s in od["shop_id"]}))
    refunded = {(int(s), str(o)) for s, o in zip(rf["shop_id"], rf["order_id"])}
    no_return = {(int(s), str(o)) for s, o, nr in zip(rf["shop_id"], rf["order_id"], rf["nr"]) if int(nr) == 1}
    out: list[Signal] = []
    cache: dict[str, Signal | None] = {}
    od = od.drop_duplicates(["shop_id", "order_id"])
    orders_of: dict[int, list[tuple[int, str]]] = {}
    for c, s_, o in zip(od["customer_id"], od["shop_id"], od["order_id"]):
        orders_of.setdefault(int(c), []).append((int(s_), str(o)))
    bad_of: dict[int, list[int]] = {}
    for pk, c in zip(bad["review_pk"], bad["customer_id"]):
        bad_of.setdefault(int(c), []).append(int(pk))
    for review_pk, _shop, cust in rev:
        ident = identity[cust]
        if ident not in cache:
            ids = members[ident]
            keys = sorted({k for c in ids for k in orders_of.get(c, [])})
            cache[ident] = _serial(ident, keys, sorted({p for c in ids for p in bad_of.get(c, [])}), refunded,
                                   no_return, base, policy)
        sig = cache[ident]
        if sig is not None:
            out.append(Signal(review_pk=review_pk, kind=sig.kind, key=sig.key, score=sig.score,
                              reasons=list(sig.reasons), pointers=dict(sig.pointers)))
    return out


def _serial(ident: str, keys: list[tuple[int, str]], bad_pks: list[int], refunded: set[tuple[int, str]],
            no_return: set[tuple[int, str]], base: dict[int, dict[str, float]],
            policy: dict[str, Any]) -> Signal | None:
    n = len(keys)
    if n < int(policy["serial_min_orders"]):
        return None
    k_ref = sum(1 for k in keys if k in refunded)
    k_nr = sum(1 for k in keys if k in no_return)
    k_bad = min(n, len(bad_pks))
    per_shop: dict[int, int] = {}
    for s_, _o in keys:
        per_shop[s_] = per_shop.get(s_, 0) + 1

    def expected(rate: str) -> float:
        return float(sum(base.get(int(s), {}).get(rate, 0.0) * c for s, c in per_shop.items()) / n)

    tests = []
    for rate, k, label in (("refund", k_ref, "退款"), ("no_return", k_nr, "仅退款"), ("bad", k_bad, "差评")):
        p0 = expected(rate)
        if k == 0:
            continue
        pv = _binom_sf(k, n, max(p0, 1e-4))
        abnormal = (k / n) >= float(policy["serial_min_ratio"]) * p0 and pv < float(policy["serial_alpha"])
        tests.append((rate, k, p0, pv, abnormal, label))
    hits = [t for t in tests if t[4]]
    if not hits:
        return None
    pmin = min(t[3] for t in hits)
    score = float(policy["serial_base_score"]) + 0.05 * max(0.0, -math.log10(max(pmin, 1e-300))
                                                             + math.log10(float(policy["serial_alpha"])))
    score = round(min(float(policy["serial_max_score"]), score), 4)
    parts = [f"{label} {k} 单（{k / n:.0%}，本店基线 {p0:.1%}）" for _r, k, p0, _pv, _ab, label in tests]
    shops = len(per_shop)
    where = f"在本店 {shops} 个平台店铺" if shops > 1 else "在本店"
    abnormal = "、".join(label for *_x, label in hits)
    reasons = [f"{KIND_ZH['serial_buyer']}：同一买家（昵称键控哈希）{where}共 {n} 单，" + "，".join(parts),
               f"{abnormal}率显著高于基线（二项检验 p = {pmin:.1g} < {float(policy['serial_alpha']):g}）"]
    return Signal(review_pk=0, kind="serial_buyer", key=f"serial_buyer:{ident.split(':', 1)[1][:16]}", score=score,
                  reasons=reasons,
                  pointers={"orders": sorted({o for _s, o in keys})[:100],
                            "refunded_orders": sorted({o for s, o in keys if (s, o) in refunded})[:100],
                            "reviews": bad_pks[:100]})
