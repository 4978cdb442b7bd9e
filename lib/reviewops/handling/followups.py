"""Follow-up scheduler (SPEC H1 steps 3–4, V1, V2).

The policy's 跟进节奏 table says which task falls due how many hours after which point of
a case (建案 / 首次联系 / 补偿送达 / 问题解决) and which template it sends. By default:
24 h after the remedy was delivered the revision guidance; 3 days after resolution the
care message with an exclusive coupon; day 30 the "白银会员" message (V1); and the V2
repurchase coupon (stackable, valid 90 days), whose expiry gets its own reminder.

Tasks are created when the case enters the anchoring state (:func:`schedule_in`, called by
:func:`reviewops.handling.cases.transition_in` in the same transaction), once per case and step.
:func:`due_followups` lists what is due with the message to send; :func:`complete_followup`
marks a task done (recording the message as sent and the coupon it grants) or skipped with a
reason. Compliance: the revision guidance is only ever produced after every approved remedy
was delivered, and every message — as drafted or as edited — is checked for
conditional-incentive wording.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from ..core.errors import AccessDenied, ComplianceBlocked, ConfigError, NotFound

if TYPE_CHECKING:
    from ..core.store import Store
    from ..core.users import Actor

__all__ = ["COUPON_EXPIRY", "complete_followup", "complete_followups", "due_followups", "followup_message"]

COUPON_EXPIRY = "coupon_expiry"
STATE_ZH = {"open": "待跟进", "done": "已完成", "skipped": "已跳过"}
_COUPON_OF = {"care": ("care_coupon", "care_coupon_fen"), "repurchase_coupon": ("repurchase_coupon",
                                                                                  "repurchase_coupon_fen")}


@functools.cache
def _statements() -> dict[str, Any]:
    """The Core statements of the hot follow-up paths, built once (parameters bound per call)."""
    from ..core.store import cases, followups, shops
    from ..core.store import compensations as comp

    cid = sa.bindparam("_case_id")
    return {
        "comp_undelivered": sa.select(sa.func.count()).select_from(comp).where(
            comp.c.case_id == cid, comp.c.state.in_(("approved", "pending"))),
        "insert_task_plain": followups.insert(),
        "message_case": sa.select(cases.c.primary_category, cases.c.policy_version, shops.c.platform, shops.c.name)
        .select_from(cases.join(shops, shops.c.id == cases.c.shop_id)).where(cases.c.id == cid),
        "repurchase_coupon": sa.select(comp.c.amount_fen, comp.c.expires_at)
        .where(comp.c.case_id == cid, comp.c.kind == "repurchase_coupon").order_by(comp.c.id.desc()),
        "task_for_update": sa.select(followups).where(followups.c.id == sa.bindparam("_fid")).with_for_update(),
        "task": sa.select(followups).where(followups.c.id == sa.bindparam("_fid")),
        # the whole case row, locked: update_case takes it as ``current`` instead of reading it again
        "complete_case": sa.select(cases, shops.c.platform, shops.c.name)
        .select_from(cases.join(shops, shops.c.id == cases.c.shop_id)).where(cases.c.id == cid)
        .with_for_update(of=cases),
        "expiry_task": sa.select(followups.c.id).where(followups.c.case_id == cid,
                                                       followups.c.step == COUPON_EXPIRY),
        "finish_task": followups.update().where(followups.c.id == sa.bindparam("_fid")).values(
            state=sa.bindparam("_state", type_=followups.c.state.type),
            done_by=sa.bindparam("_done_by", type_=followups.c.done_by.type),
            done_at=sa.bindparam("_done_at", type_=followups.c.done_at.type),
            reason=sa.bindparam("_reason", type_=followups.c.reason.type),
            message=sa.bindparam("_message", type_=followups.c.message.type)),
        "open_left": sa.select(sa.func.count()).select_from(followups).where(
            followups.c.case_id == cid, followups.c.state == "open", followups.c.step != COUPON_EXPIRY),
    }


def _step_names(policy: Any) -> dict[str, str]:
    names = {r["step"]: r["name_zh"] for r in policy.tables["followups"]}
    names[COUPON_EXPIRY] = "复购券到期提醒"
    return names


def _undelivered(conn: sa.Connection, case_id: int) -> int:
    return int(conn.execute(_statements()["comp_undelivered"], {"_case_id": case_id}).scalar_one())


def followup_message(conn: sa.Connection, task: Any, *, policy: Any | None = None,
                     case: Any | None = None) -> tuple[str, list[str]]:
    """The message a task sends (drafted from the policy template) and its problems (empty = ok).

    ``case``: the task's case row with ``primary_category``, ``policy_version`` and its shop's ``platform``
    and ``name``, when the caller has just read it in this transaction (else it is read here)."""
    from ..core.policy import load_policy_in
    from .replies import draft_reply

    if case is None:
        case = conn.execute(_statements()["message_case"], {"_case_id": task.case_id}).one()
    policy = policy or load_policy_in(conn, case.policy_version)
    kwargs: dict[str, Any] = {}
    if task.template_kind == "revision_guidance":
        kwargs["remedy_delivered"] = _undelivered(conn, task.case_id) == 0
    if task.template_kind == "coupon_expiry":
        coupon = conn.execute(_statements()["repurchase_coupon"], {"_case_id": task.case_id}).first()
        if coupon is not None:
            kwargs["coupon_fen"] = int(coupon.amount_fen)
            kwargs["days"] = max(0, (coupon.expires_at - task.due_at).days) if coupon.expires_at else None
    d = draft_reply(task.template_kind, category=case.primary_category or "other", platform=case.platform,
                    shop=case.name, policy=policy, **kwargs)
    return d.text, list(d.problems)


def due_followups(store: "Store", actor: "Actor", *, now: dt.datetime | None = None, horizon_hours: float = 0.0,
                  include_done: bool = False) -> pd.DataFrame:
    """Follow-ups due by ``now`` (+ ``horizon_hours``) in the actor's shops, most overdue first.

    Columns: followup_id, case_id, platform, shop, step, step_zh, template_kind, due_at, due_local,
    minutes_left (negative = overdue), state, state_zh, message, message_ok, problems.
    """
    from ..core.outputs import fmt_time as _fmt_local  # Beijing time, the one formatter for people
    from ..core.policy import load_policy_in
    from ..core.store import followups, shops, utcnow

    now = now or utcnow()
    until = now + dt.timedelta(hours=float(horizon_hours))
    cols = ["followup_id", "case_id", "platform", "shop", "step", "step_zh", "template_kind", "due_at", "due_local",
            "minutes_left", "state", "state_zh", "message", "message_ok", "problems"]
    out = []
    with store.read() as conn:
        q = (sa.select(followups, shops.c.platform, shops.c.name.label("shop"))
             .select_from(followups.join(shops, shops.c.id == followups.c.shop_id))
             .where(followups.c.due_at <= until).order_by(followups.c.due_at, followups.c.id))
        if not include_done:
            q = q.where(followups.c.state == "open")
        policy = load_policy_in(conn, None)
        names = _step_names(policy)
        for t in conn.execute(q).all():
            if not actor.may_see_shop(t.shop_id):
                continue
            message, problems = (t.message, []) if t.state != "open" else followup_message(conn, t)
            out.append({
                "followup_id": t.id, "case_id": t.case_id, "platform": t.platform, "shop": t.shop, "step": t.step,
                "step_zh": names.get(t.step, t.step), "template_kind": t.template_kind, "due_at": t.due_at,
                "due_local": _fmt_local(t.due_at), "minutes_left": round((t.due_at - now).total_seconds() / 60.0),
                "state": t.state, "state_zh": STATE_ZH[t.state], "message": message or "",
                "message_ok": not problems, "problems": "；".join(problems),
            })
    return pd.DataFrame(out, columns=cols)


def case_followups(conn: sa.Connection, case_id: int) -> list[dict[str, Any]]:
    """Every task of one case, by due time, with Chinese labels."""
    from ..core.policy import load_policy_in
    from ..core.store import followups

    names = _step_names(load_policy_in(conn, None))
    rows = conn.execute(sa.select(followups).where(followups.c.case_id == case_id)
                        .order_by(followups.c.due_at, followups.c.id)).mappings().all()
    return [{**r, "step_zh": names.get(r["step"], r["step"]), "state_zh": STATE_ZH[r["state"]]} for r in rows]


def complete_followup(store: "Store", actor: "Actor", followup_id: int, *, done: bool = True,
                      reason: str | None = None, message: str | None = None, via: str = "form",
                      at: dt.datetime | None = None) -> dict[str, Any]:
    """Mark a task done (the message was sent) or skipped (``done=False``, reason required).

    ``message`` is the text actually sent when the operator edited it; it is checked like the
    draft. Done care/repurchase tasks record their coupon in the ledger (the repurchase coupon
    stackable, valid per policy, with an expiry reminder scheduled). The case's audit log gets a
    ``followup`` event; when no task but expiry reminders is left, a resolved case moves to
    ``follow_up_done``. Returns the task as stored.
    """
    return complete_followups(store, actor, [{"followup_id": followup_id, "done": done, "reason": reason,
                                               "message": message, "at": at}], via=via)[0]


def complete_followups(store: "Store", actor: "Actor", tasks: list[dict[str, Any]], *,
                       via: str = "form") -> list[dict[str, Any]]:
    """:func:`complete_followup` for several tasks, in the given order, in one transaction: each item is a
    dict with ``followup_id`` and optionally ``done`` (default True), ``reason``, ``message`` and ``at``
    (when it was done; default now). Every task gets exactly the checks and records of
    :func:`complete_followup`; the first refusal undoes the whole batch (a refused access is logged).
    Returns the tasks as stored."""
    from ..core.policy import load_policy_in
    from ..core.store import utcnow
    from ..core.users import log_denied

    items = []
    for item in tasks:
        done = bool(item.get("done", True))
        reason = (item.get("reason") or "").strip() or None
        if not done and reason is None:
            raise ConfigError("跳过跟进需要填写原因 / skipping a follow-up needs a reason")
        items.append((int(item["followup_id"]), done, reason, item.get("message"), item.get("at") or utcnow()))
    current: list[Any] = [None, None]  # the task being completed and its shop, for the access log
    out: list[dict[str, Any]] = []
    try:
        with store.write() as conn:
            policy = load_policy_in(conn, None)
            for followup_id, done, reason, message, now in items:
                current[:] = [followup_id, None]
                out.append(_complete_in(conn, actor, policy, followup_id, done=done, reason=reason, message=message,
                                        via=via, now=now, seen=current))
            return out
    except AccessDenied as e:
        log_denied(store, actor, "followup", e, shop_id=current[1], target=str(current[0]))
        raise


def _complete_in(conn: sa.Connection, actor: "Actor", policy: Any, followup_id: int, *, done: bool,
                 reason: str | None, message: str | None, via: str, now: dt.datetime,
                 seen: list[Any]) -> dict[str, Any]:
    """One task of :func:`complete_followups` in the caller's transaction."""
    from ..core.store import update_case
    from .cases import transition_in
    from .ledger import record_policy_coupon
    from .replies import check_message

    q = _statements()
    t = conn.execute(q["task_for_update"], {"_fid": followup_id}).first()
    if t is None:
        raise NotFound(f"跟进任务 {followup_id} 不存在 / follow-up {followup_id} does not exist")
    seen[1] = t.shop_id
    actor.check_shop(t.shop_id, what="跟进任务")
    if t.state != "open":
        raise ConfigError(f"跟进任务 {followup_id} 已{STATE_ZH[t.state]}（{t.done_by}，{t.done_at:%Y-%m-%d %H:%M}）；"
                          f"无需重复操作 / follow-up {followup_id} is already {t.state}")
    case = conn.execute(q["complete_case"], {"_case_id": t.case_id}).one()
    sent = None
    if done:
        drafted, problems = followup_message(conn, t, policy=policy, case=case)
        text = (message or "").strip() or drafted
        if t.template_kind == "revision_guidance" and _undelivered(conn, t.case_id):
            raise ComplianceBlocked("还有未送达或待审批的补偿：评价修改指引只能在补偿送达之后发送，且不得作为补偿的条件\n"
                                    "revision guidance is sent only after every remedy was delivered")
        if message is None and not problems and t.template_kind != "appeal":
            # the draft as drafted, with no problem: draft_reply already checked this very text with this
            # policy and platform (length, emptiness, wording), so check_message would find nothing either
            problems = []
        else:
            problems = ([p for p in problems if message is None] +
                        (check_message(text, platform=case.platform, policy=policy) if text else []))
        if problems or not text:
            raise ComplianceBlocked("消息不能发送：" + "；".join(problems or ["内容为空"]) + " / the message cannot "
                                    "be sent")
        sent = text
        kind = _COUPON_OF.get(t.template_kind)
        if kind is not None:
            amount = int(policy.setting(kind[1]))
            expires = None
            if kind[0] == "repurchase_coupon":
                expires = now + dt.timedelta(days=int(policy.setting("repurchase_coupon_days")))
            if amount > 0:
                record_policy_coupon(conn, case_id=t.case_id, kind=kind[0], amount_fen=amount, actor=actor.name,
                                     role=actor.role, at=now, expires_at=expires,
                                     stackable=kind[0] == "repurchase_coupon", note=t.step)
            if expires is not None:
                remind = expires - dt.timedelta(days=int(policy.setting("coupon_expiry_remind_days")))
                exists = conn.execute(q["expiry_task"], {"_case_id": t.case_id}).first()
                if exists is None:
                    conn.execute(q["insert_task_plain"], {
                        "case_id": t.case_id, "shop_id": t.shop_id, "step": COUPON_EXPIRY,
                        "template_kind": "coupon_expiry", "due_at": max(remind, now), "state": "open",
                        "created_at": now})
    conn.execute(q["finish_task"], {"_fid": followup_id, "_state": "done" if done else "skipped",
                                    "_done_by": actor.name, "_done_at": now, "_reason": reason, "_message": sent})
    names = _step_names(policy)
    v = update_case(conn, t.case_id, case.version,
                    {"follow_up_count": int(case.follow_up_count or 0) + 1,
                     "notes": f"跟进“{names.get(t.step, t.step)}”{'已完成' if done else '已跳过：' + str(reason)}"},
                    actor=actor.name, via=via, action="followup", at=now, current=case._mapping)
    left = conn.execute(q["open_left"], {"_case_id": t.case_id}).scalar_one()
    if not left and case.state == "resolved":
        transition_in(conn, t.case_id, v, "follow_up_done", actor=actor.name, via=via,
                      reason="全部跟进已完成 / every follow-up is done", at=now)
    if type(now) is dt.datetime:
        # the locked row with what finish_task wrote, as the store gives it back (times in UTC): no read-back
        return {**t._mapping, "state": "done" if done else "skipped", "done_by": actor.name,
                "done_at": now.astimezone(dt.timezone.utc), "reason": reason, "message": sent}
    row = conn.execute(q["task"], {"_fid": followup_id}).mappings().one()
    return dict(row)
