"""Malicious-review defence (SPEC H2, issue 17 §1): record the detection signals on cases, route the cases that
cross the threshold to 法务, let legal staff confirm or reject each signal, and tune the threshold per shop.

What runs (:func:`detect_malicious`, on the cases given, or every case):

* **Extortion in text** — :func:`reviewops.grading.extortion.extortion_scores` on the case's review text
  (content and 追评, ``channel="review"``) and on the imported chat messages the case's buyer sent in that
  shop (same customer or same order; not a message tied to another order; from :data:`CHAT_LOOKBACK_DAYS`
  days before the review to :data:`CHAT_AFTER_DAYS` days after it, ``channel="chat"``). A text the detector flags becomes an ``extortion_review`` / ``extortion_chat`` signal
  scored ``0.6 + 0.4 × detector score`` (so any flagged text reaches the default threshold on its own).
* **Accounts and bursts** — :mod:`reviewops.grading.signals`: ``serial_buyer``, ``burst_ip``,
  ``burst_device``, ``burst_receiver``, ``burst_text``.

Each signal is recorded once per case (``case_signals``, unique ``(case_id, signal_key)``): a run again
inserts nothing new; an *open* signal whose evidence grew (a burst with one more review, a new extortion
message) is refreshed in place; a decided signal is never touched (new chat messages after a decision make
a new signal).

Combined score of a case: the signals are grouped in families whose members describe the same thing
(extortion: chat + review; links: IP, device, receiver; near-identical text; serial buyer); a family counts
with its strongest signal; the families combine as independent evidence, ``1 − Π(1 − s)``. A rejected
signal counts 0, a confirmed one 1. When the combined score reaches the shop's threshold
(:func:`tuned_threshold`, default :data:`MALICIOUS_THRESHOLD`) and the case is open and not already
malicious, the case becomes malicious in the same transaction: primary category ``malicious``, owner and
severity from the policy's 恶意 row (法务, high), the response deadline re-budgeted so that the category's
SLA (1 h) runs **from detection** on the policy's working clock (the working time already used stays on
the clock, so :func:`reviewops.handling.opening.recompute_due` rebuilds the same deadline from the audit
log), ``needs_appeal`` set in the case's ``triage_json`` with the score, threshold and signal ids, and one
``detect_malicious`` audit event. A case already contacted keeps its stopped clock (only the routing
changes, as :func:`~reviewops.handling.opening.recategorize_case` does).

The alert: handling may not import alerting, so :func:`detect_malicious` takes an ``on_malicious(conn,
case_id, info)`` hook, run in the transaction that makes the case malicious (the same guarantee as
``triage_store``'s ``on_case``): the watcher and ``reviewops triage`` pass
:func:`reviewops.alerting.watch.malicious_alert_hook`, which writes the alert into the alert ledger. A case
that becomes malicious in the transaction that opens it needs no second alert: its new-case alert is built
from the case when it is sent, so it already says 恶意 / 法务 / 1 h.

Legal review (:func:`decide_signal`, :func:`list_signals`, :func:`pending_signals`, :func:`threshold_info`):
the ``reviewops signal`` commands and the 信号复核 section of the 申诉 form call these; a rejection needs a
reason, a decision is stored once (:class:`SignalAlreadyDecided`), reads and decisions are role-checked
(the policy's ``signal_roles`` setting, default :data:`DECIDE_ROLES`) with refusals in the access log.

Policy data (issue 17): detection reads the store's current policy (:func:`reviewops.core.policy.load_policy_in`,
parsed once per version) — the 恶意识别词库 sheet and ``extortion_threshold`` for the text detector (the
compiled lexicon is cached by the policy's SHA-256, :mod:`reviewops.grading.extortion`), ``malicious_threshold``
for the default case threshold (:data:`MALICIOUS_THRESHOLD` is its built-in value) and ``signal_roles`` for who
decides. A shop's edit counts from the ``reviewops policy import`` that stores it; a case made malicious keeps the
policy version its detection ran under in ``triage_json.defence.policy_version``. The account and burst
detectors' numbers stay in :data:`reviewops.grading.signals.SIGNAL_POLICY` (code, not yet policy data).

When it runs: ``triage_store(..., detect=True)`` runs it on the new cases inside the transaction that opens
them (the watcher and ``reviewops triage`` do so); :func:`detect_new_chats` runs it on the cases of the buyers
whose chat messages were imported since the last run (a chat imported after its review updates the case).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from ..core.errors import AccessDenied, ConfigError, NotFound
from ..core.sla import SlaEvent, state_from_json, state_to_json
from ..grading.extortion import extortion_scores
from ..grading.signals import KIND_ZH, Signal, burst_signals, buyer_signals

if TYPE_CHECKING:
    from ..core.store import Store
    from ..core.users import Actor

__all__ = ["CHAT_AFTER_DAYS", "CHAT_LOOKBACK_DAYS", "DECIDE_ROLES", "MALICIOUS_THRESHOLD", "STATUS_ZH", "DefenceResult",
           "SignalAlreadyDecided", "SignalReasonRequired", "case_signals_frame", "combined_score", "decide_roles",
           "decide_signal",
           "detect_malicious", "detect_new_chats", "list_signals", "pending_signals", "pointers_text",
           "threshold_info", "tuned_threshold"]

#: A case becomes malicious when its combined score reaches this (until the shop's decisions tune it): the
#: built-in value of the policy setting ``malicious_threshold``, which the detector reads.
MALICIOUS_THRESHOLD = 0.6
#: The tuned threshold never leaves these bounds.
THRESHOLD_BOUNDS = (0.5, 0.9)
#: Decided signals a shop needs before its threshold moves at all.
TUNING_MIN_DECISIONS = 10
#: Weight of the default threshold in the tuned one, in decisions (shrinkage: n / (n + prior) of the way).
TUNING_PRIOR = 20
#: A missed malicious review (a confirmed signal below the threshold) costs this many false alarms.
MISS_WEIGHT = 2.0
#: Roles that may confirm or reject a signal, and read the signal lists and thresholds (法务, 客服主管, 店长): the
#: default of the policy setting ``signal_roles`` (:func:`decide_roles`), which the checks read.
DECIDE_ROLES = ("legal", "supervisor", "admin")


def decide_roles(policy: Any) -> tuple[str, ...]:
    """The roles that decide signals under ``policy`` (its ``signal_roles`` setting; None: :data:`DECIDE_ROLES`)."""
    if policy is None:
        return DECIDE_ROLES
    return policy.roles_setting("signal_roles")


def _store_policy(store: Store) -> Any:
    """The store's newest policy (the default when none is stored), without writing."""
    from ..core.policy import load_policy_in

    with store.read() as conn:
        return load_policy_in(conn)
#: A signal's status in Chinese.
STATUS_ZH = {"open": "待复核", "confirmed": "已确认", "rejected": "已驳回"}
#: Longest decision note kept (characters); a longer one is refused, not cut.
NOTE_MAX_CHARS = 500
#: Chat messages of the buyer taken into account: from this many days before the review …
CHAT_LOOKBACK_DAYS = 14
#: … to this many days after it (a demand to delete or change a review comes after it).
CHAT_AFTER_DAYS = 30
#: The settings key of the last import batch whose chats :func:`detect_new_chats` examined.
CHAT_WATERMARK = "defence_chat_batch_seen"

FAMILY = {"extortion_chat": "extortion", "extortion_review": "extortion", "serial_buyer": "serial",
          "burst_ip": "link", "burst_device": "link", "burst_receiver": "link", "burst_text": "text"}
_OPEN_STATES = ("new", "contacted", "remedy_proposed", "pending_approval", "remedy_delivered", "escalated", "appeal")
_BUYER_ROLES = ("buyer", "unknown")

OnMalicious = Callable[[sa.Connection, int, dict[str, Any]], None]


@dataclass
class DefenceResult:
    """What one detection run did: cases examined, signals recorded / refreshed, cases made malicious (ids),
    and the combined score of every examined case that has a signal."""

    examined: int = 0
    signals_new: int = 0
    signals_updated: int = 0
    malicious: list[int] = field(default_factory=list)
    scores: dict[int, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _utcnow() -> dt.datetime:
    from ..core.store import utcnow

    return utcnow()


def _chunks(values: Sequence[Any], n: int = 5000) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), n):
        yield values[i:i + n]


def text_signal_score(detector_score: float) -> float:
    """The signal score of a flagged text: ``0.6 + 0.4 × score`` (0.8–1.0 for the detector's 0.5–1.0)."""
    return round(min(1.0, 0.6 + 0.4 * float(detector_score)), 4)


# ----------------------------------------------------------------------------------------- detection
def detect_malicious(store: Store, *, case_ids: Iterable[int] | None = None, now: dt.datetime | None = None,
                     actor: str = "system", via: str = "cli", on_malicious: OnMalicious | None = None) -> DefenceResult:
    """Run the detectors on ``case_ids`` (None = every case), record their signals once, and make the cases
    whose combined score reaches the shop's threshold malicious (see the module text). Idempotent.
    ``on_malicious(conn, case_id, info)`` runs in the transaction that makes a case malicious."""
    secret = store.pii_key  # may write the key on first use: before the write transaction
    with store.write() as conn:
        return detect_in(conn, case_ids=case_ids, now=now, actor=actor, via=via, on_malicious=on_malicious,
                         secret=secret)


def detect_in(conn: sa.Connection, *, case_ids: Iterable[int] | None, now: dt.datetime | None = None,
              actor: str = "system", via: str = "cli", on_malicious: OnMalicious | None = None,
              secret: bytes = b"", _expand: bool = True) -> DefenceResult:
    """:func:`detect_malicious` in the caller's write transaction (what ``triage_store(detect=True)`` uses).

    A burst found around a given case is recorded on every case of the burst: the other members' cases are
    examined too (once, not transitively)."""
    from ..core.policy import load_policy_in
    from ..core.store import cases, orders, reviews

    at = now or _utcnow()
    result = DefenceResult()
    policy = load_policy_in(conn)  # the shop's current policy: lexicon, thresholds
    q = (sa.select(cases.c.id, cases.c.shop_id, cases.c.review_pk, cases.c.state, cases.c.primary_category,
                   reviews.c.content, reviews.c.append_content, reviews.c.created_at, reviews.c.is_default_review,
                   reviews.c.order_id, sa.func.coalesce(reviews.c.customer_id, orders.c.customer_id).label("customer_id"))
         .select_from(cases.join(reviews, reviews.c.id == cases.c.review_pk)
                      .outerjoin(orders, sa.and_(orders.c.shop_id == reviews.c.shop_id,
                                                 orders.c.order_id == reviews.c.order_id))))
    if case_ids is not None:
        ids = sorted({int(c) for c in case_ids})
        if not ids:
            return result
        rows = [r for chunk in _chunks(ids) for r in conn.execute(q.where(cases.c.id.in_(chunk))).mappings().all()]
    else:
        rows = list(conn.execute(q).mappings().all())
    if not rows:
        return result
    cs = pd.DataFrame(rows).drop_duplicates("id").reset_index(drop=True)
    cs["created_at"] = pd.to_datetime(cs["created_at"], utc=True)
    result.examined = len(cs)
    by_review = {int(r): int(c) for r, c in zip(cs["review_pk"], cs["id"])}
    found: list[tuple[int, Signal]] = []
    found += _review_text_signals(cs, policy)
    existing = _existing(conn, [int(c) for c in cs["id"]])
    found += _chat_signals(conn, cs, existing, policy)
    pks = list(by_review)
    bursts = burst_signals(conn, pks, secret=secret)
    for sig in bursts + buyer_signals(conn, pks):
        found.append((by_review[sig.review_pk], sig))
    new, updated = _record(conn, found, existing, at)
    result.signals_new, result.signals_updated = new, updated
    existing = _existing(conn, [int(c) for c in cs["id"]])
    thresholds: dict[int, float] = {}
    policies: dict[int | None, Any] = {}
    per_case: dict[int, list[dict[str, Any]]] = {}
    for (cid, _k), sig_row in existing.items():
        per_case.setdefault(cid, []).append(sig_row)
    for row in cs.itertuples(index=False):
        sigs = per_case.get(int(row.id), [])
        if not sigs:
            continue
        score = combined_score(sigs)
        result.scores[int(row.id)] = round(score, 4)
        shop = int(row.shop_id)
        if shop not in thresholds:
            thresholds[shop] = _tuned_in(conn, shop, policy)
        if score < thresholds[shop] or row.primary_category == "malicious" or row.state not in _OPEN_STATES:
            continue
        info = {"shop_id": shop, "score": round(score, 4), "threshold": thresholds[shop], "detected_at": at,
                "signals": sorted(int(s["id"]) for s in sigs if s["status"] != "rejected"),
                "kinds": sorted({s["kind"] for s in sigs if s["status"] != "rejected"}),
                "evidence_at": _evidence_at(conn, sigs, row), "review_created_at": row.created_at.to_pydatetime(),
                "policy_version": policy.version}
        if _make_malicious(conn, int(row.id), info, at=at, actor=actor, via=via, policies=policies):
            result.malicious.append(int(row.id))
            if on_malicious is not None:
                on_malicious(conn, int(row.id), info)
    others = {int(p) for sig in bursts for p in sig.pointers.get("reviews", [])} - set(by_review)
    if _expand and others:
        more = [int(c) for chunk in _chunks(sorted(others)) for (c,) in conn.execute(
            sa.select(cases.c.id).where(cases.c.review_pk.in_(chunk)))]
        if more:
            extra = detect_in(conn, case_ids=more, now=now, actor=actor, via=via, on_malicious=on_malicious,
                              secret=secret, _expand=False)
            result.signals_new += extra.signals_new
            result.signals_updated += extra.signals_updated
            result.malicious += extra.malicious
            result.scores.update(extra.scores)
    return result


def _review_text_signals(cs: pd.DataFrame, policy: Any = None) -> list[tuple[int, Signal]]:
    texts = []
    for r in cs.itertuples(index=False):
        if bool(r.is_default_review):
            texts.append("")
            continue
        parts = [str(t) for t in (r.content, r.append_content) if isinstance(t, str) and t.strip()]
        texts.append("\n".join(parts))
    scored = extortion_scores(texts, channel="review", policy=policy)
    out = []
    for r, s in zip(cs.itertuples(index=False), scored.itertuples(index=False)):
        if not bool(s.is_extortion):
            continue
        out.append((int(r.id), Signal(
            review_pk=int(r.review_pk), kind="extortion_review", key=f"review:{int(r.review_pk)}",
            score=text_signal_score(s.score),
            reasons=[f"{KIND_ZH['extortion_review']}：评价内容被识别为 {s.kind}（检测分 {float(s.score):.2f}）", str(s.reasons)],
            pointers={"reviews": [int(r.review_pk)], "orders": [str(r.order_id)] if r.order_id else [],
                      "detector_kind": [str(s.kind)]})))
    return out


def _chat_signals(conn: sa.Connection, cs: pd.DataFrame, existing: dict[tuple[int, str], dict[str, Any]],
                  policy: Any = None) -> list[tuple[int, Signal]]:
    from ..core.store import chat_messages as cm

    shops = sorted({int(s) for s in cs["shop_id"]})
    custs = sorted({int(c) for c in cs["customer_id"].dropna()})
    ords = sorted({str(o) for o in cs["order_id"].dropna()})
    if not custs and not ords:
        return []
    cond = []
    frames = []
    base = (sa.select(cm.c.id, cm.c.shop_id, cm.c.customer_id, cm.c.order_id, cm.c.sent_at, cm.c.content)
            .where(cm.c.shop_id.in_(shops), cm.c.sender_role.in_(_BUYER_ROLES)))
    for chunk in _chunks(custs):
        cond.append(base.where(cm.c.customer_id.in_(chunk)))
    for chunk in _chunks(ords):
        cond.append(base.where(cm.c.order_id.in_(chunk)))
    for qq in cond:
        frames.append(pd.DataFrame(conn.execute(qq).all(),
                                   columns=["id", "shop_id", "customer_id", "order_id", "sent_at", "content"]))
    msgs = pd.concat(frames).drop_duplicates("id") if frames else pd.DataFrame()
    if msgs.empty:
        return []
    msgs = msgs.sort_values("id").reset_index(drop=True)
    msgs["sent_at"] = pd.to_datetime(msgs["sent_at"], utc=True)
    scored = extortion_scores(msgs["content"].tolist(), channel="chat", policy=policy)
    msgs = pd.concat([msgs, scored[["score", "is_extortion", "kind", "reasons"]].reset_index(drop=True)], axis=1)
    flagged = msgs[msgs["is_extortion"].astype(bool)]
    if flagged.empty:
        return []
    out = []
    look, after = pd.Timedelta(days=CHAT_LOOKBACK_DAYS), pd.Timedelta(days=CHAT_AFTER_DAYS)
    by_key: dict[tuple[Any, ...], list[int]] = {}
    for pos, (s_, c, o) in enumerate(zip(flagged["shop_id"], flagged["customer_id"], flagged["order_id"])):
        if pd.notna(c):
            by_key.setdefault((int(s_), "c", int(c)), []).append(pos)
        if isinstance(o, str) and o:
            by_key.setdefault((int(s_), "o", o), []).append(pos)
    for r in cs.itertuples(index=False):
        hit = set(by_key.get((int(r.shop_id), "c", int(r.customer_id)), [])) if r.customer_id == r.customer_id \
            and r.customer_id is not None else set()
        if isinstance(r.order_id, str) and r.order_id:
            hit.update(by_key.get((int(r.shop_id), "o", r.order_id), []))
        if not hit:
            continue
        mine = flagged.iloc[sorted(hit)]
        other_order = mine["order_id"].map(lambda o: isinstance(o, str) and bool(o)) & (mine["order_id"] != r.order_id)
        mine = mine[(mine["sent_at"] >= r.created_at - look) & (mine["sent_at"] <= r.created_at + after) & ~other_order]
        if mine.empty:
            continue
        chat = {k: s for (cid, k), s in existing.items() if cid == int(r.id) and s["kind"] == "extortion_chat"}
        decided = {int(m) for s in chat.values() if s["status"] != "open"
                   for m in json.loads(s["pointers"]).get("messages", [])}
        mine = mine[~mine["id"].isin(decided)]  # a decided signal keeps its messages; the open one takes the rest
        if mine.empty:
            continue
        open_keys = sorted(k for k, s in chat.items() if s["status"] == "open")
        key = open_keys[0] if open_keys else f"chat:{int(mine['id'].min())}"
        best = mine.sort_values(["score", "id"], ascending=[False, True]).iloc[0]
        kinds = sorted({str(k) for k in mine["kind"] if k})
        reasons = [(f"{KIND_ZH['extortion_chat']}：买家在聊天中 {len(mine)} 条消息被识别为勒索/威胁"
                    f"（{'、'.join(kinds)}；最高检测分 {float(best['score']):.2f}）")]
        reasons += list(dict.fromkeys(str(x) for x in mine["reasons"] if x))[:5]
        out.append((int(r.id), Signal(
            review_pk=int(r.review_pk), kind="extortion_chat", key=key, score=text_signal_score(best["score"]),
            reasons=reasons,
            pointers={"messages": [int(m) for m in mine["id"]],
                      "orders": sorted({str(o) for o in mine["order_id"].dropna()} | ({str(r.order_id)} if r.order_id else set())),
                      "reviews": [int(r.review_pk)], "detector_kind": kinds})))
    return out


def _existing(conn: sa.Connection, case_ids: list[int]) -> dict[tuple[int, str], dict[str, Any]]:
    from ..core.store import case_signals

    out: dict[tuple[int, str], dict[str, Any]] = {}
    for chunk in _chunks(case_ids):
        for r in conn.execute(sa.select(case_signals).where(case_signals.c.case_id.in_(chunk))).mappings():
            out[(int(r["case_id"]), str(r["signal_key"]))] = dict(r)
    return out


def _record(conn: sa.Connection, found: list[tuple[int, Signal]], existing: dict[tuple[int, str], dict[str, Any]],
            at: dt.datetime) -> tuple[int, int]:
    from ..core.store import case_signals

    new = updated = 0
    seen: set[tuple[int, str]] = set()
    for case_id, sig in found:
        k = (case_id, sig.key)
        if k in seen:
            continue
        seen.add(k)
        pointers = json.dumps(sig.pointers, ensure_ascii=False, sort_keys=True, default=str)
        reasons = "；".join(dict.fromkeys(x for x in sig.reasons if x))
        old = existing.get(k)
        if old is None:
            nested = conn.begin_nested()  # another run may record the same signal between the read and here
            try:
                conn.execute(case_signals.insert().values(
                    case_id=case_id, signal_key=sig.key, kind=sig.kind, score=float(sig.score), reasons=reasons,
                    pointers=pointers, detected_at=at, updated_at=at, status="open"))
            except sa.exc.IntegrityError:
                nested.rollback()
                continue
            nested.commit()
            new += 1
        elif old["status"] == "open" and (old["pointers"] != pointers or abs(float(old["score"]) - sig.score) > 1e-9
                                          or old["reasons"] != reasons):
            conn.execute(case_signals.update().where(case_signals.c.id == old["id"])
                         .where(case_signals.c.status == "open")
                         .values(score=float(sig.score), reasons=reasons, pointers=pointers, updated_at=at))
            updated += 1
    return new, updated


def combined_score(signals: Iterable[dict[str, Any]]) -> float:
    """``1 − Π(1 − family max)`` over the signal families; rejected signals count 0, confirmed ones 1."""
    best: dict[str, float] = {}
    for s in signals:
        if s["status"] == "rejected":
            continue
        v = 1.0 if s["status"] == "confirmed" else float(s["score"])
        fam = FAMILY.get(str(s["kind"]), str(s["kind"]))
        best[fam] = max(best.get(fam, 0.0), v)
    rest = 1.0
    for v in best.values():
        rest *= 1.0 - min(1.0, max(0.0, v))
    return 1.0 - rest


def _evidence_at(conn: sa.Connection, sigs: list[dict[str, Any]], row: Any) -> dt.datetime:
    """The newest time among what the signals rest on (the review, the chat messages): alerts about old
    material (a first import of history) are not paged."""
    from ..core.store import chat_messages, reviews

    latest = row.created_at.to_pydatetime()
    msg_ids, rev_ids = set(), set()
    for s in sigs:
        p = json.loads(s["pointers"])
        msg_ids.update(int(m) for m in p.get("messages", []))
        rev_ids.update(int(r) for r in p.get("reviews", []))
    for ids, col, table in ((sorted(msg_ids), chat_messages.c.sent_at, chat_messages),
                            (sorted(rev_ids), reviews.c.created_at, reviews)):
        for chunk in _chunks(ids):
            t = conn.execute(sa.select(sa.func.max(col)).where(table.c.id.in_(chunk))).scalar()
            if t is not None:
                t = t if t.tzinfo else t.replace(tzinfo=dt.UTC)
                latest = max(latest, t)
    return latest


def _make_malicious(conn: sa.Connection, case_id: int, info: dict[str, Any], *, at: dt.datetime, actor: str,
                    via: str, policies: dict[int | None, Any]) -> bool:
    """Route the case to 法务 as malicious (see the module text), in the caller's transaction. False when the
    case is no longer open or already malicious."""
    from ..core.clock import calendar_of
    from ..core.policy import load_policy_in
    from ..core.store import cases, update_case

    cur = conn.execute(sa.select(cases.c.version, cases.c.state, cases.c.primary_category, cases.c.categories,
                                 cases.c.sla_state_json, cases.c.triage_json, cases.c.policy_version)
                       .where(cases.c.id == case_id).with_for_update()).first()
    if cur is None or cur.primary_category == "malicious" or cur.state not in _OPEN_STATES:
        return False
    if cur.policy_version not in policies:
        policies[cur.policy_version] = load_policy_in(conn, cur.policy_version)
    policy = policies[cur.policy_version]
    cat = policy.category("malicious")
    rest = [c for c in (cur.categories or "").split(";") if c and c != "malicious"]
    changes: dict[str, Any] = {"primary_category": "malicious", "categories": ";".join(["malicious", *rest]),
                               "owner_role": cat["owner_role"], "severity": cat["severity"]}
    due = None
    if cur.sla_state_json:
        cal = calendar_of(policy)
        clock = state_from_json(cur.sla_state_json)
        if clock.last_event_at is not None and at < clock.last_event_at:
            at = clock.last_event_at  # never before the clock's last event (a replayed or simulated time)
        if not clock.stopped:  # the category's SLA from detection: what was used stays on the clock
            budget = clock.used_minutes(at, cal) + float(cat["sla_hours"]) * 60.0
            clock = clock.apply(SlaEvent("rebudget", at, budget), cal)
            due = clock.due_at(cal)
            changes.update({"sla_hours": budget / 60.0, "sla_due_at": due, "sla_state_json": state_to_json(clock)})
    try:
        record = json.loads(cur.triage_json or "{}")
    except ValueError:
        record = {}
    kinds = "、".join(KIND_ZH.get(k, k) for k in info["kinds"])
    record["needs_appeal"] = True
    record["defence"] = {"score": info["score"], "threshold": info["threshold"], "signals": info["signals"],
                         "kinds": info["kinds"], "detected_at": at.astimezone(dt.UTC).isoformat(),
                         "sla_hours_from_detection": float(cat["sla_hours"]),
                         "due_at": due.isoformat() if due is not None else None,
                         "previous_category": cur.primary_category,
                         "policy_version": info.get("policy_version")}
    reasons = list(record.get("reasons") or [])
    reasons.append(f"恶意差评检测：综合分 {info['score']:.2f} ≥ 阈值 {info['threshold']:.2f}（{kinds}），"
                   f"转{cat.get('department') or '法务'}，{float(cat['sla_hours']):g} 小时内处理并准备平台申诉")
    record["reasons"] = reasons
    changes["triage_json"] = json.dumps(record, ensure_ascii=False, sort_keys=True)
    update_case(conn, case_id, int(cur.version), changes, actor=actor, via=via, action="detect_malicious", at=at)
    return True


# ------------------------------------------------------------------------------- chats after reviews
def cases_of_chat_batches(conn: sa.Connection, batch_ids: Iterable[int]) -> list[int]:
    """The cases whose buyer (same shop and customer, or same order) sent a chat message in these import batches."""
    from ..core.store import cases, orders, reviews
    from ..core.store import chat_messages as cm

    ids = sorted({int(b) for b in batch_ids})
    if not ids:
        return []
    keys = conn.execute(sa.select(cm.c.shop_id, cm.c.customer_id, cm.c.order_id)
                        .where(cm.c.batch_id.in_(ids), cm.c.sender_role.in_(_BUYER_ROLES)).distinct()).all()
    custs = sorted({(int(s), int(c)) for s, c, _o in keys if c is not None})
    ords = sorted({(int(s), str(o)) for s, _c, o in keys if o is not None})
    out: set[int] = set()
    cust = sa.func.coalesce(reviews.c.customer_id, orders.c.customer_id)
    j = (cases.join(reviews, reviews.c.id == cases.c.review_pk)
         .outerjoin(orders, sa.and_(orders.c.shop_id == reviews.c.shop_id, orders.c.order_id == reviews.c.order_id)))
    for shop in sorted({s for s, _ in custs} | {s for s, _ in ords}):
        cs = [c for s, c in custs if s == shop]
        os_ = [o for s, o in ords if s == shop]
        for chunk in _chunks(cs):
            out.update(int(x) for (x,) in conn.execute(sa.select(cases.c.id).select_from(j)
                                                       .where(cases.c.shop_id == shop, cust.in_(chunk))))
        for chunk in _chunks(os_):
            out.update(int(x) for (x,) in conn.execute(sa.select(cases.c.id).select_from(j)
                                                       .where(cases.c.shop_id == shop, reviews.c.order_id.in_(chunk))))
    return sorted(out)


def detect_new_chats(store: Store, *, batch_ids: Iterable[int] | None = None, now: dt.datetime | None = None,
                     actor: str = "system", via: str = "cli", on_malicious: OnMalicious | None = None) -> DefenceResult:
    """Detection for the cases of the buyers whose chats arrived in ``batch_ids`` — by default every chat import
    batch after the store's watermark (``settings.defence_chat_batch_seen``), which then moves to the newest
    batch examined. A chat imported after its review thus updates the case; a run again finds nothing new."""
    from ..core.store import import_batches, settings

    secret = store.pii_key
    with store.write() as conn:
        seen = int(store.get_setting(CHAT_WATERMARK, conn) or 0)
        if batch_ids is None:
            ids = [int(b) for (b,) in conn.execute(sa.select(import_batches.c.id).where(
                import_batches.c.kind == "chats", import_batches.c.id > seen).order_by(import_batches.c.id))]
        else:
            ids = sorted({int(b) for b in batch_ids})
        if not ids:
            return DefenceResult()
        case_ids = cases_of_chat_batches(conn, ids)
        result = detect_in(conn, case_ids=case_ids, now=now, actor=actor, via=via, on_malicious=on_malicious,
                           secret=secret) if case_ids else DefenceResult()
        top = max(ids)
        if top > seen and conn.execute(settings.update().where(settings.c.key == CHAT_WATERMARK)
                                       .values(value=str(top))).rowcount == 0:
            conn.execute(settings.insert().values(key=CHAT_WATERMARK, value=str(top)))
        return result


# --------------------------------------------------------------------------------------- decisions
class SignalAlreadyDecided(ConfigError):
    """The signal was already confirmed or rejected (a decision is stored once and never changed)."""


class SignalReasonRequired(ConfigError):
    """A rejection without a reason (or a note longer than :data:`NOTE_MAX_CHARS`)."""


_SIGN_IN_HINT = ("确认或驳回信号需要登录的法务、主管或管理员（命令行请设置 REVIEWOPS_TOKEN：reviewops users token 用户名）",
                 ("deciding signals needs a signed-in legal, supervisor or admin user (on the command line set "
                  "REVIEWOPS_TOKEN: reviewops users token NAME)"))


def _actor_of(store: Store, actor: Actor | str) -> Actor:
    from ..core.users import Actor, UserDisabled, get_actor

    if isinstance(actor, Actor):
        return get_actor(store, actor.name)  # as the store says now (role, shops, active)
    if not isinstance(actor, str) or not actor.strip():
        raise ConfigError("需要操作人 / an actor is required")
    try:
        return get_actor(store, actor)
    except UserDisabled as e:  # e.g. cli:<os user> without a token
        zh, en = str(e).split(" / ", 1) if " / " in str(e) else (str(e), "")
        raise UserDisabled(f"{zh}；{_SIGN_IN_HINT[0]}\n{en}; {_SIGN_IN_HINT[1]}") from None


def _clean_note(note: str | None, *, required: bool, signal_id: int) -> str | None:
    from ..core.privacy import mask_text

    text = (note or "").strip() if isinstance(note, str) or note is None else str(note).strip()
    if required and not text:
        raise SignalReasonRequired(f"驳回信号 {signal_id} 必须写明理由（--note \"…\"，如：正常客户，买家已撤回投诉）\n"
                                   f"rejecting signal {signal_id} needs a reason (--note \"…\")")
    if len(text) > NOTE_MAX_CHARS:
        raise SignalReasonRequired(f"说明太长：{len(text)} 字，最多 {NOTE_MAX_CHARS} 字；请精简后重试\n"
                                   f"the note has {len(text)} characters; at most {NOTE_MAX_CHARS}")
    return mask_text(text) or None


def decide_signal(store: Store, actor: Actor | str, signal_id: int, confirm: bool, note: str | None = None, *,
                  via: str = "cli", now: dt.datetime | None = None) -> dict[str, Any]:
    """法务 (legal), 客服主管 (supervisor) or 店长 (admin) — the policy's ``signal_roles`` (:func:`decide_roles`) — confirms or rejects one open
    signal; the decision is kept (who, when, note) and feeds :func:`tuned_threshold`. Anyone else — another
    role, a user without the case's shop, an unknown or disabled user (``cli:<os user>`` without a token) — is
    refused (:class:`AccessDenied`) and the refusal is written to the access log (action ``signal_decide``,
    outcome ``denied``). A rejection needs a reason (:class:`SignalReasonRequired`, nothing written); the note
    is stored masked (:func:`reviewops.core.privacy.mask_text`), at most :data:`NOTE_MAX_CHARS` characters.
    A decision is stored once: deciding an already decided signal again — the same way or not — raises
    :class:`SignalAlreadyDecided` naming who decided it and how, and changes nothing.

    A confirmed signal on an open case that is not malicious yet makes it malicious (same routing as
    detection). A rejection never un-routes a case: a legal user who disagrees recategorises it (the answer
    says when the remaining score is below the threshold). Returns the signal as decided, with the case's
    combined score and the shop's threshold after the decision."""
    from ..core.store import case_signals, cases
    from ..core.users import log_access, log_denied

    if isinstance(signal_id, bool) or not isinstance(signal_id, int):
        raise ConfigError(f"信号编号应为整数，收到 {signal_id!r} / the signal id must be an integer, got {signal_id!r}")
    at = now or _utcnow()
    from ..core.policy import load_policy_in

    with store.read() as conn:
        policy = load_policy_in(conn)
        row = conn.execute(sa.select(case_signals.c.case_id, case_signals.c.kind, cases.c.shop_id)
                           .select_from(case_signals.join(cases, cases.c.id == case_signals.c.case_id))
                           .where(case_signals.c.id == int(signal_id))).first()
    if row is None:
        raise NotFound(f"信号 {signal_id} 不存在；用 reviewops signal list 查看 / signal {signal_id} does not exist")
    case_id, shop_id = int(row.case_id), int(row.shop_id)
    try:
        who = _actor_of(store, actor)
        allowed = decide_roles(policy)
        if who.role not in allowed:
            raise AccessDenied(f"{who.name}（{who.role_zh}）无权确认或驳回恶意差评信号；可以的角色：{'、'.join(allowed)}"
                               f"（策略参数 signal_roles）\n{who.name} ({who.role}) may not decide malicious-review "
                               f"signals; allowed roles: {', '.join(allowed)} (policy setting signal_roles)")
        who.check_shop(shop_id, what="恶意差评信号 malicious-review signals")
    except AccessDenied as e:
        log_denied(store, actor, "signal_decide", e, case_id=case_id, shop_id=shop_id, target=f"signal:{int(signal_id)}")
        raise
    text = _clean_note(note, required=not confirm, signal_id=int(signal_id))
    status = "confirmed" if confirm else "rejected"
    with store.write() as conn:
        done = conn.execute(case_signals.update()
                            .where(case_signals.c.id == int(signal_id), case_signals.c.status == "open")
                            .values(status=status, decided_by=who.name, decided_at=at, decision_note=text)).rowcount
        if not done:
            cur = conn.execute(sa.select(case_signals.c.status, case_signals.c.decided_by, case_signals.c.decided_at)
                               .where(case_signals.c.id == int(signal_id))).first()
            from ..core.outputs import fmt_time

            raise SignalAlreadyDecided(
                f"信号 {signal_id} 已由 {cur.decided_by} 于 {fmt_time(cur.decided_at)}（北京时间）"
                f"{STATUS_ZH.get(cur.status, cur.status)}，判定只记录一次，不能再改；如判定有误，请在案件中更正分类\n"
                f"signal {signal_id} was already {cur.status} by {cur.decided_by}; a decision is kept once and "
                f"cannot be changed (recategorise the case instead)")
        log_access(conn, actor=who.name, role=who.role, action=f"signal_{'confirm' if confirm else 'reject'}",
                   outcome="ok", case_id=case_id, shop_id=shop_id, target=f"signal:{int(signal_id)}",
                   detail={"note": text[:200]} if text else None, at=at)
        sigs = list(_existing(conn, [case_id]).values())
        score = combined_score(sigs)
        thr = _tuned_in(conn, shop_id, policy)
        made = False
        if confirm and score >= thr:
            info = {"shop_id": shop_id, "score": round(score, 4), "threshold": thr, "detected_at": at,
                    "signals": sorted(int(s["id"]) for s in sigs if s["status"] != "rejected"),
                    "kinds": sorted({s["kind"] for s in sigs if s["status"] != "rejected"}),
                    "policy_version": policy.version}
            made = _make_malicious(conn, case_id, info, at=at, actor=who.name, via=via, policies={})
        state = conn.execute(sa.select(cases.c.primary_category).where(cases.c.id == case_id)).scalar()
    return {"signal_id": int(signal_id), "case_id": case_id, "shop_id": shop_id, "kind": str(row.kind),
            "kind_zh": KIND_ZH.get(str(row.kind), str(row.kind)), "status": status, "status_zh": STATUS_ZH[status],
            "decided_by": who.name, "decided_at": at, "decision_note": text, "combined_score": round(score, 4),
            "threshold": thr, "made_malicious": made, "malicious": state == "malicious", "below_threshold": score < thr}


def tuned_threshold(store: Store, shop_id: int) -> float:
    """The shop's malicious threshold, tuned by its legal decisions.

    Rule: every decided signal of the shop's cases is a labelled example (its score; confirmed = malicious).
    With fewer than :data:`TUNING_MIN_DECISIONS`, the default: the policy's ``malicious_threshold`` (built in
    :data:`MALICIOUS_THRESHOLD`). Otherwise the cut
    ``t`` within :data:`THRESHOLD_BOUNDS` (candidates: the bounds, the default and every decided score) that
    minimises ``rejected signals scoring ≥ t`` (false alarms) + :data:`MISS_WEIGHT` × ``confirmed signals
    scoring < t`` (misses); ties go to the cut nearest the default. The result moves from the default toward
    ``t`` by ``n / (n + TUNING_PRIOR)`` (n decisions), rounded to 0.01 and kept within the bounds.
    Detection (:func:`detect_in`) and :func:`decide_signal` use this value for the case's shop."""
    with store.read() as conn:
        return _tuned_in(conn, int(shop_id))


def _tuned_in(conn: sa.Connection, shop_id: int, policy: Any = None) -> float:
    return float(_tuning_in(conn, shop_id, policy)["threshold"])


def _default_threshold(policy: Any) -> float:
    """The policy's ``malicious_threshold`` (:data:`MALICIOUS_THRESHOLD` without a policy)."""
    return MALICIOUS_THRESHOLD if policy is None else float(policy.setting("malicious_threshold"))


def _tuning_in(conn: sa.Connection, shop_id: int, policy: Any = None) -> dict[str, Any]:
    """The tuned threshold of a shop and what it rests on (see :func:`tuned_threshold`); the default from
    ``policy`` (the store's current one when not given)."""
    from ..core.policy import load_policy_in
    from ..core.store import case_signals, cases

    if policy is None:
        policy = load_policy_in(conn)

    rows = conn.execute(sa.select(case_signals.c.score, case_signals.c.status)
                        .select_from(case_signals.join(cases, cases.c.id == case_signals.c.case_id))
                        .where(cases.c.shop_id == int(shop_id), case_signals.c.status.in_(("confirmed", "rejected")))
                        ).all()
    n = len(rows)
    confirmed = sum(1 for _s, st in rows if st == "confirmed")
    base = _default_threshold(policy)
    out: dict[str, Any] = {"shop_id": int(shop_id), "threshold": base, "default": base, "decisions": n,
                           "confirmed": confirmed, "rejected": n - confirmed, "min_decisions": TUNING_MIN_DECISIONS,
                           "bounds": list(THRESHOLD_BOUNDS), "tuned": False, "best_cut": None, "weight": 0.0}
    if n < TUNING_MIN_DECISIONS:
        return out
    lo, hi = THRESHOLD_BOUNDS
    cands = sorted({lo, hi, base, *(min(hi, max(lo, float(s))) for s, _ in rows)})

    def cost(t: float) -> float:
        fa = sum(1 for s, st in rows if st == "rejected" and float(s) >= t)
        miss = sum(1 for s, st in rows if st == "confirmed" and float(s) < t)
        return fa + MISS_WEIGHT * miss

    best = min(cands, key=lambda t: (cost(t), abs(t - base)))
    t = base + (best - base) * n / (n + TUNING_PRIOR)
    out.update(threshold=round(min(hi, max(lo, t)), 2), tuned=True, best_cut=round(float(best), 4),
               weight=round(n / (n + TUNING_PRIOR), 4))
    return out


# ------------------------------------------------------------------------------------------ reading
def case_signals_frame(store: Store, case_id: int) -> pd.DataFrame:
    """The signals recorded on a case (newest first): id, kind, kind_zh, score, status, reasons, pointers (dict),
    detected_at, decided_by, decided_at, decision_note."""
    from ..core.store import case_signals

    with store.read() as conn:
        rows = conn.execute(sa.select(case_signals).where(case_signals.c.case_id == int(case_id))
                            .order_by(case_signals.c.id.desc())).mappings().all()
    df = pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in case_signals.columns])
    df["kind_zh"] = df["kind"].map(lambda k: KIND_ZH.get(k, k))
    df["pointers"] = df["pointers"].map(json.loads)
    return df


# ---------------------------------------------------------------------------------- legal review
#: Pointer kinds in Chinese, in the order they are shown.
POINTER_ZH = {"messages": "聊天消息", "reviews": "评价", "orders": "订单", "refunded_orders": "退款订单",
              "window": "时间窗", "detector_kind": "检测类型"}


def pointers_text(pointers: dict[str, Any] | str | None, *, limit: int = 5) -> str:
    """What a signal rests on, for people: ``聊天消息 #5 #6 等 9 条；评价 #12；订单 2840…；时间窗 …``.

    Store row ids (reviews, chat messages) with ``#``, platform order ids as they are (not personal data,
    P-02), the burst window in Beijing time; at most ``limit`` items per kind ("等 N 条"); the whole text
    passes :func:`reviewops.core.privacy.mask_text`. Pointers never hold an IP, a device id, a phone or an
    address (the detectors keep keyed hashes in the signal key only)."""
    from ..core.outputs import fmt_time
    from ..core.privacy import mask_text

    if isinstance(pointers, str):
        try:
            pointers = json.loads(pointers)
        except ValueError:
            pointers = {}
    parts = []
    pointers = pointers or {}
    order = [k for k in POINTER_ZH if k in pointers] + sorted(k for k in pointers if k not in POINTER_ZH)
    for key in order:
        values = pointers[key]
        if not isinstance(values, list) or not values:
            continue
        label = POINTER_ZH.get(key, key)
        if key == "window":
            times = [fmt_time(pd.Timestamp(v)) for v in values[:2]]
            parts.append(f"{label} {' – '.join(times)}（北京时间）")
            continue
        shown = [f"#{v}" if key in ("reviews", "messages") else str(v) for v in values[:limit]]
        more = f" 等 {len(values)} 条" if len(values) > limit else ""
        parts.append(f"{label} {' '.join(shown)}{more}")
    return mask_text("；".join(parts)) or ""


def _authorise_read(store: Store, actor: Actor | str, action: str, *, case_id: int | None = None,
                    shop_id: int | None = None) -> Actor | None:
    """A signed-in :class:`Actor` of the policy's ``signal_roles`` (:func:`decide_roles`; re-read from the store; the shop checked when given),
    or ``None`` for the local operator (a plain ``cli:<user>`` string — the command line without a token, a
    playbook — who can read the store anyway, as for the appeal queue). Refusals are logged."""
    from ..core.users import Actor, current_actor, log_denied

    if not isinstance(actor, Actor):
        if not isinstance(actor, str) or not actor.strip():
            raise ConfigError("需要操作人 / an actor is required")
        return None
    who = current_actor(store, actor, view="signals", case_id=case_id, shop_id=shop_id)
    err: AccessDenied | None = None
    allowed = decide_roles(_store_policy(store))
    if who.role not in allowed:
        err = AccessDenied(f"{who.label}无权查看恶意差评信号复核；可以的角色：{'、'.join(allowed)}（策略参数 signal_roles）\n"
                           f"{who.name} ({who.role}) may not review malicious-review signals; allowed roles: "
                           f"{', '.join(allowed)} (policy setting signal_roles)")
    elif shop_id is not None and not who.may_see_shop(shop_id):
        err = AccessDenied(f"{who.name} 无权访问店铺 {shop_id} 的恶意差评信号；请联系管理员分配店铺\n"
                           f"{who.name} may not access the signals of shop {shop_id}; ask an admin to assign the shop")
    if err is not None:
        log_denied(store, who, action, err, case_id=case_id, shop_id=shop_id, target="signals")
        raise err
    return who


def list_signals(store: Store, actor: Actor | str, *, case_id: int | None = None,
                 case_ids: Iterable[int] | None = None, shop_id: int | None = None, pending: bool = False,
                 with_open: bool = False) -> list[dict[str, Any]]:
    """The signals legal reviews, as rows for the CLI and the forms.

    Filters: ``case_id`` (one case; :class:`NotFound` when it does not exist), ``case_ids``, ``shop_id``,
    ``pending`` (open signals only), ``with_open`` (every signal of the cases that still have an open one —
    the 信号复核 section, so a decision stays in view). Only the shops the signed-in user may see (a user
    outside the policy's ``signal_roles`` (:func:`decide_roles`), or asking for another shop's case or shop, is refused and logged — action
    ``signal_list``); the local operator (a plain string) sees every shop. Order: cases that are still open
    first, newest case first, then the signal id.

    Each row: ``signal_id case_id shop_id shop_name platform platform_zh case_state case_state_zh
    primary_category malicious kind kind_zh score status status_zh reasons pointers pointers_text detected_at
    decided_by decided_at decision_note``. ``reasons`` and ``pointers_text`` are masked
    (:func:`reviewops.core.privacy.mask_text`); ``pointers`` holds ids only."""
    from ..core.columns import PLATFORM_ZH
    from ..core.privacy import mask_text
    from ..core.store import case_signals, cases, shops
    from .cases import STATE_ZH

    one = None
    if case_id is not None:
        if isinstance(case_id, bool) or not isinstance(case_id, int):
            raise ConfigError(f"案件编号应为整数，收到 {case_id!r} / the case id must be an integer, got {case_id!r}")
        with store.read() as conn:
            one = conn.execute(sa.select(cases.c.shop_id).where(cases.c.id == case_id)).scalar()
        if one is None:
            raise NotFound(f"案件 {case_id} 不存在；请检查案件编号\ncase {case_id} does not exist; check the case number")
    if shop_id is not None:
        if isinstance(shop_id, bool) or not isinstance(shop_id, int):
            raise ConfigError(f"店铺编号应为整数，收到 {shop_id!r} / the shop id must be an integer, got {shop_id!r}")
        with store.read() as conn:
            if conn.execute(sa.select(shops.c.id).where(shops.c.id == shop_id)).scalar() is None:
                raise NotFound(f"店铺 {shop_id} 不存在；用 reviewops status 查看 / shop {shop_id} does not exist")
    who = _authorise_read(store, actor, "signal_list", case_id=case_id,
                          shop_id=int(one) if one is not None else shop_id)
    q = (sa.select(case_signals, cases.c.shop_id, cases.c.state.label("case_state"), cases.c.primary_category,
                   shops.c.name.label("shop_name"), shops.c.platform)
         .select_from(case_signals.join(cases, cases.c.id == case_signals.c.case_id)
                      .join(shops, shops.c.id == cases.c.shop_id)))
    if case_id is not None:
        q = q.where(case_signals.c.case_id == case_id)
    if shop_id is not None:
        q = q.where(cases.c.shop_id == shop_id)
    if pending:
        q = q.where(case_signals.c.status == "open")
    if with_open:
        q = q.where(case_signals.c.case_id.in_(sa.select(case_signals.c.case_id)
                                               .where(case_signals.c.status == "open").scalar_subquery()))
    if who is not None and who.shops is not None:
        q = q.where(cases.c.shop_id.in_(sorted(who.shops)))
    with store.read() as conn:
        if case_ids is not None:
            ids = sorted({int(c) for c in case_ids})
            rows = [r for chunk in _chunks(ids) for r in
                    conn.execute(q.where(case_signals.c.case_id.in_(chunk))).mappings().all()]
        else:
            rows = list(conn.execute(q).mappings().all())
    out = []
    for r in rows:
        pointers = json.loads(r["pointers"] or "{}")
        out.append({
            "signal_id": int(r["id"]), "case_id": int(r["case_id"]), "shop_id": int(r["shop_id"]),
            "shop_name": r["shop_name"], "platform": r["platform"],
            "platform_zh": PLATFORM_ZH.get(r["platform"], r["platform"]), "case_state": r["case_state"],
            "case_state_zh": STATE_ZH.get(r["case_state"], r["case_state"]),
            "primary_category": r["primary_category"], "malicious": r["primary_category"] == "malicious",
            "kind": r["kind"], "kind_zh": KIND_ZH.get(r["kind"], r["kind"]), "score": round(float(r["score"]), 4),
            "status": r["status"], "status_zh": STATUS_ZH.get(r["status"], r["status"]),
            "reasons": mask_text(r["reasons"]) or "", "pointers": pointers, "pointers_text": pointers_text(pointers),
            "detected_at": r["detected_at"], "decided_by": r["decided_by"], "decided_at": r["decided_at"],
            "decision_note": r["decision_note"]})
    out.sort(key=lambda x: (x["case_state"] not in _OPEN_STATES, -x["case_id"], x["signal_id"]))
    return out


def pending_signals(store: Store, actor: Actor | str, shop_id: int | None = None) -> list[dict[str, Any]]:
    """The legal queue of signals: every open (undecided) signal the user may see, open cases first
    (:func:`list_signals` with ``pending=True``)."""
    return list_signals(store, actor, shop_id=shop_id, pending=True)


def threshold_info(store: Store, actor: Actor | str, shop_id: int | None = None) -> list[dict[str, Any]]:
    """Per shop the user may see (or just ``shop_id``): the tuned threshold, the default and what it rests on —
    ``shop_id shop_name platform platform_zh threshold default decisions confirmed rejected min_decisions
    bounds tuned best_cut weight`` (see :func:`tuned_threshold`). Same access as :func:`list_signals`
    (refusals logged as ``signal_threshold``)."""
    from ..core.columns import PLATFORM_ZH
    from ..core.store import shops

    if shop_id is not None and (isinstance(shop_id, bool) or not isinstance(shop_id, int)):
        raise ConfigError(f"店铺编号应为整数，收到 {shop_id!r} / the shop id must be an integer, got {shop_id!r}")
    with store.read() as conn:
        q = sa.select(shops.c.id, shops.c.name, shops.c.platform).order_by(shops.c.id)
        if shop_id is not None:
            q = q.where(shops.c.id == shop_id)
        rows = conn.execute(q).all()
    if shop_id is not None and not rows:
        raise NotFound(f"店铺 {shop_id} 不存在；用 reviewops status 查看 / shop {shop_id} does not exist")
    who = _authorise_read(store, actor, "signal_threshold", shop_id=shop_id)
    out = []
    with store.read() as conn:
        for sid, name, platform in rows:
            if who is not None and not who.may_see_shop(int(sid)):
                continue
            out.append({"shop_name": name, "platform": platform, "platform_zh": PLATFORM_ZH.get(platform, platform),
                        **_tuning_in(conn, int(sid))})
    return out
