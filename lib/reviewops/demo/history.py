"""The demo's worked history: the demo users, the detection times of the reviews (the shop imports every
15 minutes), the older cases worked through the real Workbench under the simulated clock (contact,
diagnosis, reply, remedy with approvals, delivery, resolution, follow-ups, escalations, appeals; the
ledger and follow-ups are the Workbench's own), the CSAT/NPS answers and training records, and the
aftermath (revised reviews, 追评, repurchases) written as the platforms' later exports and imported."""

from __future__ import annotations

import datetime as dt
import functools
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .customers import new_order
from .generate import DemoResult
from .reviews import _APPEND_RESOLVED, _APPEND_WORSE, finish_review, review_for
from .shop import PLATFORMS, Shop, _cum, _Order, _Review
from .timeline import DAY, DEFAULT_SEED, SHANGHAI, H, _sec, demo_now, detection_time
from .writers import _Writer

DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    ("xiaowang", "agent", "客服小王"),
    ("laoli", "supervisor", "主管老李"),
    ("zhaofa", "legal", "法务赵"),
    ("dianzhang", "admin", "店长"),
    ("xiaozhang", "agent", "客服小张"),
    ("xiaochen", "agent", "客服小陈"),
)
DEMO_PASSWORD_ENV = "REVIEWOPS_DEMO_PASSWORD"


def create_demo_users(store: Any, password: str | None = None, *, actor: str = "demo") -> list[dict[str, Any]]:
    """Create the demo workbench users that are absent (every shop, one password for all).

    The password is ``password``, else ``$REVIEWOPS_DEMO_PASSWORD``, else a random one. Returns one
    dict per demo user: ``name, display_name, role, created`` and ``password`` (the password set
    now; ``None`` for a user that already existed and was left unchanged).
    """
    import secrets

    from ..core.users import add_user, user_row

    pw = password or os.environ.get(DEMO_PASSWORD_ENV) or secrets.token_urlsafe(9)
    out: list[dict[str, Any]] = []
    for name, role, display in DEMO_USERS:
        created = user_row(store, name) is None
        if created:
            add_user(store, name, role=role, password=pw, shops="*", display_name=display, actor=actor)
        out.append({"name": name, "display_name": display, "role": role, "created": created,
                    "password": pw if created else None})
    return out


# ------------------------------------------------------------------ worked history (issue 5)
#: The demo agents' working habits: share of cases taken, first-contact delay as a fraction of the
#: SLA budget (low, high), share answered after the deadline, share never contacted.
AGENT_HABITS: dict[str, dict[str, float]] = {
    "xiaowang": {"share": 0.40, "fast": 0.15, "slow": 0.80, "late": 0.08, "never": 0.03},
    "xiaozhang": {"share": 0.35, "fast": 0.05, "slow": 0.40, "late": 0.02, "never": 0.01},
    "xiaochen": {"share": 0.25, "fast": 0.30, "slow": 0.95, "late": 0.25, "never": 0.06},
}
#: Cases that at the demo's "now" have used less than this share of their SLA budget (working time, the
#: policy's clock) are left untouched: they are the live queue (within SLA, in warning, a few breached).
FRESH_FRACTION = 1.5
#: Cases never contacted are taken over and closed by the supervisor after this many days (a few days old
#: ones stay in the queue, breached).
NEVER_CLOSE_DAYS = (3.0, 4.5)
#: Call-recording pass rate and quiz score (mean) of each demo agent (O1 training records).
AGENT_TRAINING: dict[str, tuple[float, float]] = {"xiaowang": (0.80, 82.0), "xiaozhang": (0.92, 90.0),
                                                   "xiaochen": (0.62, 71.0)}
#: Cases worked per write transaction: each step is a savepoint of it, the batch commits once (a commit is a
#: full sync to disk: one per case was a fifth of the history's wall time). The store written is the same.
CASES_PER_TRANSACTION = 100
_CONTACT_NOTES = ("已致电客户致歉，了解具体情况", "在线联系客户，核实订单与问题", "客户已回复，确认问题经过",
                  "短信告知处理方案并致歉", "站内信联系客户，说明补救措施")


def date_demo_detection(store: Any, *, seed: int = DEFAULT_SEED, now: dt.datetime | None = None) -> int:
    """Set each review's detection time (``first_seen_at``) to the demo shop's next import after it was
    posted (:func:`detection_time`: imports every 15 minutes, so 1–16 minutes after posting), never after
    ``now``; reviews whose detection is already earlier are left alone. Run before triage. Returns rows
    changed. (``seed`` is accepted for compatibility; the rule has no randomness.)"""
    import sqlalchemy as sa

    from ..core.store import reviews

    now = now or demo_now()
    with store.write() as conn:
        rows = conn.execute(sa.select(reviews.c.id, reviews.c.created_at, reviews.c.first_seen_at)
                            .order_by(reviews.c.id)).all()
        updates = []
        for r in rows:
            if r.created_at is None:
                continue
            seen = detection_time(r.created_at, now)
            if r.first_seen_at is None or seen < r.first_seen_at:
                updates.append({"pk": r.id, "seen": seen})
        if updates:
            conn.execute(reviews.update().where(reviews.c.id == sa.bindparam("pk"))
                         .values(first_seen_at=sa.bindparam("seen")), updates)
    return len(updates)


class _Sim:
    """One case's timeline: actions run under the simulated clock in ascending time, none after ``end``."""

    def __init__(self, end: dt.datetime, start: dt.datetime):
        self.end = end
        self.t = start

    def at(self, t: dt.datetime) -> bool:
        """Advance to ``t`` (never backwards); False when that is after the end of the history."""
        self.t = max(self.t, t)
        return self.t <= self.end

    def after(self, rng: random.Random, lo_min: float, hi_min: float) -> bool:
        return self.at(self.t + dt.timedelta(minutes=rng.uniform(lo_min, hi_min)))


def work_demo_history(store: Any, *, seed: int = DEFAULT_SEED, now: dt.datetime | None = None,
                      fresh_fraction: float = FRESH_FRACTION) -> dict[str, int]:
    """Work the demo's older cases through the real workbench, under the simulated clock.

    Every ``new`` case that at ``now`` (default :func:`demo_now`) has used at least ``fresh_fraction`` of its
    SLA budget (working time on the policy's clock; younger ones stay ``new``: the live queue) is handled
    by one of the demo agents (:data:`AGENT_HABITS`; seeded per case): first contact within or after
    the SLA (a few never), diagnosis, the 3S reply, the suggested H1 remedy (approved by 主管老李 when
    it needs approval), delivery, resolution (mostly satisfied), due follow-ups; a few are escalated;
    malicious ones go to 法务赵 for a platform appeal. Then CSAT/NPS answers and O1 training records
    (:mod:`reviewops.intake.surveys`). Needs the demo users (:func:`create_demo_users`). Cases already worked
    are skipped, so running it again changes nothing. Returns counts of what was done.
    """
    import sqlalchemy as sa

    from ..core.clock import calendar_of
    from ..core.policy import current_policy
    from ..core.sla import working_minutes_between
    from ..core.store import cases, clock, reviews
    from ..core.users import get_actor
    from ..handling.workbench import Workbench, one_transaction

    now = now or demo_now()
    policy = current_policy(store)
    cal = calendar_of(policy)
    actors = {n: get_actor(store, n) for n in (*AGENT_HABITS, "laoli", "zhaofa", "dianzhang")}
    with store.read() as conn:
        rows = conn.execute(sa.select(cases.c.id, cases.c.created_at, cases.c.sla_due_at, cases.c.sla_hours,
                                      cases.c.primary_category, cases.c.categories, reviews.c.customer_id)
                            .select_from(cases.outerjoin(reviews, reviews.c.id == cases.c.review_pk))
                            .where(cases.c.state == "new", cases.c.version == 1, cases.c.created_at < now)
                            .order_by(cases.c.created_at, cases.c.id)).all()
    recent = now - dt.timedelta(days=14)  # older cases are past any budget × fresh_fraction, even over 国庆

    def fresh(c: Any) -> bool:
        if c.created_at < recent:
            return False
        used, _ = working_minutes_between(c.created_at, now, cal)
        return used < fresh_fraction * float(c.sla_hours or 24.0) * 60.0

    todo = [c for c in rows if not fresh(c)]
    stats = {"cases": len(todo), "contacted": 0, "late": 0, "never": 0, "proposed": 0, "approved": 0,
             "delivered": 0, "resolved": 0, "escalated": 0, "appealed": 0, "closed": 0, "followups": 0}
    names = list(AGENT_HABITS)
    weights = [AGENT_HABITS[n]["share"] for n in names]
    for first in range(0, len(todo), CASES_PER_TRANSACTION):
        # a batch of cases, one transaction (one commit); every step still the workbench's own, a savepoint
        with one_transaction(store) as tx:
            for c in todo[first:first + CASES_PER_TRANSACTION]:
                rng = random.Random(f"{seed}:case:{c.id}")
                agent = rng.choices(names, weights)[0]
                wb = {n: Workbench(tx, a, via="demo", policy=policy) for n, a in actors.items()}
                _work_case(wb, agent, c, rng, now, stats, clock)
    from ..intake.surveys import demo_surveys, demo_training

    stats.update(demo_surveys(store, seed=seed, now=now))
    stats.update(demo_training(store, agents=names, seed=seed, now=now, habits=AGENT_TRAINING))
    return stats


def _work_case(wb: dict[str, Any], agent: str, c: Any, rng: random.Random, end: dt.datetime,
               stats: dict[str, int], clock: Callable[[dt.datetime], Any]) -> None:
    """One case's history (see :func:`work_demo_history`)."""
    from ..core.errors import AccessDenied, ComplianceBlocked
    from ..handling.ledger import ReasonRequired
    from ..handling.workbench import CHANNELS, PROBLEMS

    habit = AGENT_HABITS[agent]
    me = wb[agent]
    if rng.random() < habit["never"]:
        stats["never"] += 1
        sim = _Sim(end, c.created_at)
        if sim.at(c.created_at + dt.timedelta(days=rng.uniform(*NEVER_CLOSE_DAYS))):
            with clock(sim.t):
                v = wb["laoli"].escalate(c.id, 1, "超过时效仍未联系客户，主管接手复盘")
            stats["escalated"] += 1
            if sim.after(rng, 20, 180):
                with clock(sim.t):
                    wb["laoli"].close(c.id, v, "多次联系客户未果，评价已超出处理期，关闭并计入超时")
                stats["closed"] += 1
        return
    budget = (c.sla_due_at - c.created_at) if c.sla_due_at is not None else dt.timedelta(hours=24)
    late = rng.random() < habit["late"]
    frac = rng.uniform(1.05, 2.5) if late else rng.uniform(habit["fast"], habit["slow"])
    sim = _Sim(end, c.created_at)
    if not sim.at(c.created_at + budget * frac):
        return
    with clock(sim.t):
        v = me.record_contact(c.id, 1, channel=rng.choice(sorted(CHANNELS)), note=rng.choice(_CONTACT_NOTES))
    stats["contacted"] += 1
    stats["late"] += int(late)
    cat = c.primary_category or "other"
    problems = [p for p, k in PROBLEMS.items() if k == cat] or ["其他"]
    if not sim.after(rng, 3, 25):
        return
    with clock(sim.t):
        v = me.save_diagnosis(c.id, v, problems=[rng.choice(problems)], text="已与客户核实")
        view = me.suggestion(c.id)  # the draft and remedy the case form shows, without the rest of the view
        if view.draft.text and not view.draft.problems:
            try:
                v = me.save_reply(c.id, v, view.draft.text)
            except ComplianceBlocked:
                pass
    if cat == "malicious" or "malicious" in (c.categories or "").split(";"):
        if not sim.after(rng, 60, 24 * 60):
            return
        with clock(sim.t):
            v = wb["zhaofa"].appeal(c.id, v, "疑似恶意差评/勒索，提交平台申诉（附聊天记录）")
        stats["appealed"] += 1
        if rng.random() < 0.6 and sim.after(rng, 2 * 24 * 60, 5 * 24 * 60):
            with clock(sim.t):
                wb["zhaofa"].close(c.id, v, "平台申诉已受理，评价已处理")
            stats["closed"] += 1
        return
    proposer = me
    if rng.random() < 0.06:
        if not sim.after(rng, 10, 120):
            return
        with clock(sim.t):
            v = me.escalate(c.id, v, "客户情绪激动，要求主管处理")
        stats["escalated"] += 1
        proposer = wb["laoli"]
    items = view.suggested_items
    if items:
        if not sim.after(rng, 5, 60):
            return
        with clock(sim.t):
            try:
                prop = proposer.propose(c.id, v, items)
            except ReasonRequired:  # coupons and the VIP gift above a cheap order's value: say why (audited)
                prop = proposer.propose(c.id, v, items, note="按策略补偿：客户分层礼遇与补偿券")
        v = prop.version
        stats["proposed"] += 1
        if prop.pending:
            if not sim.after(rng, 30, 8 * 60):
                return
            approver = wb["laoli"] if proposer is not wb["laoli"] else wb["dianzhang"]
            with clock(sim.t):
                try:
                    v = approver.approve(c.id, v, "同意按策略补偿")
                except AccessDenied:  # above the supervisor's authority (refusal audited): the shop owner decides
                    v = wb["dianzhang"].approve(c.id, v, "同意按策略补偿")
            stats["approved"] += 1
        if not sim.after(rng, 60, 24 * 60):
            return
        with clock(sim.t):
            v = proposer.deliver(c.id, v, "已执行")
        stats["delivered"] += 1
    if not sim.after(rng, 60, 36 * 60):
        return
    with clock(sim.t):
        v = proposer.resolve(c.id, v, satisfied=rng.random() < 0.85)
    stats["resolved"] += 1
    _followups(proposer, c.id, rng, sim, stats, clock)


@functools.cache
def _open_tasks_stmt() -> Any:
    """A case's (``:case_id``) open follow-up tasks in due order, built once."""
    import sqlalchemy as sa

    from ..core.store import followups

    return (sa.select(followups.c.id, followups.c.due_at)
            .where(followups.c.case_id == sa.bindparam("case_id"), followups.c.state == "open")
            .order_by(followups.c.due_at, followups.c.id))


def _followups(me: Any, case_id: int, rng: random.Random, sim: _Sim, stats: dict[str, int],
               clock: Callable[[dt.datetime], Any]) -> None:
    """Complete the case's follow-ups as they fall due (a few skipped), until the end of the history: the open
    tasks in due order, each at its own time, as one batch (``Workbench.complete_followups``); a done 复购券 task
    adds its expiry reminder (due weeks after every other task), which the next round takes."""
    while True:  # every task exists once due (delivery + resolution)
        with me.store.read() as conn:
            open_tasks = conn.execute(_open_tasks_stmt(), {"case_id": case_id}).all()
        batch: list[dict[str, Any]] = []
        for t in open_tasks:
            if not sim.at(t.due_at + dt.timedelta(minutes=rng.uniform(5, 6 * 60))):
                break
            if rng.random() < 0.05:
                batch.append({"followup_id": t.id, "done": False, "reason": "客户未接听，按规定跳过", "at": sim.t})
            else:
                batch.append({"followup_id": t.id, "at": sim.t})
        if batch:
            with clock(batch[-1]["at"]):  # each task carries its own time; sim.t may already be past the end
                me.complete_followups(batch)
            stats["followups"] += len(batch)
        if len(batch) < len(open_tasks) or not batch:
            return


# ------------------------------------------------------------------ after good handling (issue 14)


#: What buyers do after their case was resolved, by whether they said they were satisfied: change the
#: rating to a good one (with a 追评 most of the time), only append a 追评, buy again (within 45 days).
AFTERMATH: dict[bool, dict[str, float]] = {
    True: {"revise": 0.45, "append": 0.2, "repurchase": 0.32},
    False: {"revise": 0.04, "append": 0.3, "repurchase": 0.08},
}
AFTERMATH_SUFFIX = "_追评改评"


def demo_aftermath(store: Any, demo: DemoResult, *, seed: int = DEFAULT_SEED, now: dt.datetime | None = None,
                   progress: bool = False) -> tuple[dict[str, int], list[Any]]:
    """What happens after the worked history: for each resolved case (seeded per case, rates
    :data:`AFTERMATH`), the buyer may change the rating to a good one (a 追评 explaining it most of the
    time), only append a 追评, and/or buy again — a new order, often reviewed. Everything before ``now``
    is written as the platforms' later exports (the same layouts, files named ``…_追评改评``: the
    reviews as they now read, the new orders and their reviews) and loaded through the real importer,
    which records the changed reviews as new versions — what the reports count as 改评. Returns counts and
    the import results. ``demo`` is the :func:`generate_demo` result of the first exports."""
    import sqlalchemy as sa

    from ..core.store import cases, clock, reviews, shops
    from ..intake.ingest import import_paths

    g: Shop = demo._gen
    now = now or demo.as_of or demo_now()
    end_local = now.astimezone(SHANGHAI).replace(tzinfo=None)
    by_key: dict[tuple[str, str, str], _Review] = {}
    for platform in PLATFORMS:
        for rv in g.reviews[platform]:
            by_key[(platform, rv.order.order_id, rv.line.product.platform_id[platform])] = rv
    with store.read() as conn:
        rows = conn.execute(sa.select(cases.c.id, cases.c.resolved_at, cases.c.satisfied, shops.c.platform,
                                      reviews.c.order_id, reviews.c.product_id)
                            .select_from(cases.join(shops, shops.c.id == cases.c.shop_id)
                                         .join(reviews, reviews.c.id == cases.c.review_pk))
                            .where(cases.c.resolved_at.is_not(None))
                            .order_by(cases.c.id)).all()
    g.rng = random.Random(f"{seed}:aftermath")
    prod_cum = _cum([p.weight for p in g.products])
    changed: dict[str, list[_Review]] = {p: [] for p in PLATFORMS}
    new_orders: dict[str, list[_Order]] = {p: [] for p in PLATFORMS}
    stats = {"resolved": len(rows), "revised": 0, "appended": 0, "repurchased": 0, "repurchase_reviews": 0}
    for c in rows:
        rv = by_key.get((c.platform, c.order_id, c.product_id))
        if rv is None or rv.burst or rv.malicious:
            continue
        rng = random.Random(f"{seed}:after:{c.id}")
        odds = AFTERMATH[bool(c.satisfied)]
        resolved = c.resolved_at.astimezone(SHANGHAI).replace(tzinfo=None)
        at = resolved + _sec(rng.uniform(2 * H, 5 * DAY))
        x = rng.random()
        if at < end_local and x < odds["revise"] + odds["append"]:
            if x < odds["revise"]:
                rv.cls = "positive"
                rv.score = 5 if rng.random() < 0.8 else 4
                rv.score_srv = 5
                stats["revised"] += 1
                if rng.random() < 0.7:
                    rv.append, rv.append_at = rng.choice(_APPEND_RESOLVED), at
            else:
                rv.append, rv.append_at = rng.choice(_APPEND_RESOLVED if c.satisfied else _APPEND_WORSE), at
                stats["appended"] += 1
            changed[c.platform].append(rv)
        if rng.random() < odds["repurchase"]:
            buy = resolved + _sec(rng.uniform(1 * DAY, 45 * DAY))
            if buy < end_local - dt.timedelta(hours=2):
                o = new_order(g, rv.order.customer, buy, prod_cum)
                new_orders[c.platform].append(o)
                stats["repurchased"] += 1
                if o.completed is not None and rng.random() < 0.7:
                    ln = o.lines[0]
                    ln.issue = None
                    nr = review_for(g, o, ln)
                    if nr is not None:
                        finish_review(g, nr)
                        changed[c.platform].append(nr)
                        stats["repurchase_reviews"] += 1
    out = Path(demo.files[0].path).parent
    w = _Writer(g, out, suffix=AFTERMATH_SUFFIX, orders=new_orders, reviews=changed)
    writers = {"taobao": (w.taobao_orders, w.taobao_reviews), "douyin": (w.douyin_orders, w.douyin_reviews),
               "pdd": (w.pdd_orders, w.pdd_reviews), "jd": (w.jd_orders, w.jd_reviews)}
    for platform in PLATFORMS:
        if new_orders[platform]:
            writers[platform][0]()
    for platform in PLATFORMS:
        if changed[platform]:
            changed[platform].sort(key=lambda x: x.created, reverse=True)
            writers[platform][1]()
    results: list[Any] = []
    with clock(now):
        for f in w.files:
            results.extend(import_paths(store, [f.path], platform=f.platform, kind=f.kind, shop=f.shop,
                                        progress=progress))
    demo.files.extend(w.files)
    more, later = demo_ambassadors(store, demo, seed=seed, now=now, progress=progress)
    stats.update(more)
    results.extend(later)
    return stats, results


def _times(o: _Order) -> list[dt.datetime]:
    """Every time an order (and its refunds) carries, naive Beijing time."""
    objs = [o, *o.refunds]
    return [v for x in objs for k in getattr(x, "__slots__", ()) if isinstance(v := getattr(x, k, None), dt.datetime)]


#: 推荐大使 in the demo (issue 20): how many satisfied customers are invited (at most), the share who consent,
#: and how many friends' orders each consenting one brings (inclusive range).
DEMO_AMBASSADORS = {"invite": 6, "consent": 0.8, "referred": (1, 4)}
AMBASSADOR_SUFFIX = "_推荐订单"


def demo_ambassadors(store: Any, demo: DemoResult, *, seed: int = DEFAULT_SEED, now: dt.datetime | None = None,
                     progress: bool = False) -> tuple[dict[str, int], list[Any]]:
    """The 推荐大使 programme in the demo (issue 20), through :mod:`reviewops.handling.ambassadors`: up to
    :data:`DEMO_AMBASSADORS` ``invite`` customers eligible at ``now`` (resolved, satisfied, no malicious signal) are
    invited once their cooling-off has passed — proposed by 客服小王 and approved by 主管老李 a few hours later,
    the invitation marked sent; most consent a day later (the code message marked sent), the others decline.
    Friends of each consenting one (other buyers of the same platform) then order with the code in 买家留言; these
    orders are written as the platforms' order exports (files ``…_推荐订单<ISO week>``, one set per week in which
    referred orders were placed) and imported at the end of that week (or ``now``), after which 主管老李 runs
    :func:`~reviewops.handling.ambassadors.recognise_referrals` and delivers the approved rewards — so coupon and
    gift costs fall in the weeks the friends ordered. Randomness: ``random.Random(f"{seed}:ambassadors")`` and, for
    the orders, the generator's ``rng`` re-seeded from ``f"{seed}:ambassador-orders"`` — the earlier exports
    are unchanged. An order the generator makes cancelled or refunded is excluded by the recognition, as in a shop.
    Returns counts (``ambassadors_invited``, ``ambassadors_active``, ``referred_orders``) and the import results."""
    from ..core.errors import ReviewOpsError
    from ..core.store import clock
    from ..core.users import get_actor
    from ..handling import ambassadors as amb
    from ..intake.ingest import import_paths

    g: Shop = demo._gen
    now = now or demo.as_of or demo_now()
    stats = {"ambassadors_invited": 0, "ambassadors_active": 0, "referred_orders": 0}
    results: list[Any] = []
    try:
        agent, sup = get_actor(store, DEMO_USERS[0][0]), get_actor(store, DEMO_USERS[1][0])
    except ReviewOpsError:
        return stats, results  # no demo users: nothing to act with
    prog = amb.programme(store)
    rng = random.Random(f"{seed}:ambassadors")
    end_local = now.astimezone(SHANGHAI).replace(tzinfo=None)
    latest = now - dt.timedelta(days=21)  # leave three weeks for friends to order
    cand = amb.candidates(store, now=now)
    cand = cand[[r + dt.timedelta(days=prog.cooling_off_days + 1) < latest for r in cand["resolved_at"]]]
    picks = sorted(rng.sample(range(len(cand)), min(DEMO_AMBASSADORS["invite"], len(cand))))
    friends: list[tuple[dt.datetime, str, str]] = []  # (order time, platform, code)
    for i in picks:
        r = cand.iloc[i]
        span = (latest - r["resolved_at"]).total_seconds() / DAY - prog.cooling_off_days - 1
        at = r["resolved_at"] + dt.timedelta(days=prog.cooling_off_days + 1 + rng.uniform(0, min(span, 20)))
        try:
            aid = amb.propose_invitation(store, agent, int(r["case_id"]), now=at)
            at += dt.timedelta(hours=rng.uniform(1, 6))
            msg = amb.approve_invitation(store, sup, aid, now=at)
            amb.mark_sent(store, agent, msg, channel="chat", now=at + dt.timedelta(minutes=10))
        except ReviewOpsError:
            continue  # not eligible at that moment (e.g. the satisfaction came later): not invited
        stats["ambassadors_invited"] += 1
        consent_at = at + dt.timedelta(days=1, hours=rng.uniform(0, 12))
        if rng.random() >= DEMO_AMBASSADORS["consent"]:
            amb.record_consent(store, agent, aid, channel="chat", consent_at=consent_at, declined=True, now=consent_at)
            continue
        code = amb.record_consent(store, agent, aid, channel="chat", consent_at=consent_at, now=consent_at, rng=rng)
        code_msg = amb.messages(store, aid)
        for m in code_msg.itertuples(index=False):
            if m.kind == "code" and m.state == "pending":
                amb.mark_sent(store, agent, int(m.id), channel="chat", now=consent_at + dt.timedelta(minutes=5))
        stats["ambassadors_active"] += 1
        first = consent_at.astimezone(SHANGHAI).replace(tzinfo=None) + dt.timedelta(days=1)
        last = end_local - dt.timedelta(hours=2)
        for _ in range(rng.randint(*DEMO_AMBASSADORS["referred"])):
            friends.append((first + _sec(rng.uniform(0, (last - first).total_seconds())), str(r["platform"]), str(code)))
    if not friends:
        return stats, results
    g.rng = random.Random(f"{seed}:ambassador-orders")
    prod_cum = _cum([p.weight for p in g.products])
    weeks: dict[str, dict[str, list[_Order]]] = {}
    for when, platform, code in sorted(friends):
        buyer = g.rng.choice(g.customers[platform])
        o = new_order(g, buyer, when, prod_cum)
        o.buyer_msg = f"朋友推荐，推荐码 {code}"
        y, w, _ = when.isocalendar()
        weeks.setdefault(f"{y}-W{w:02d}", {p: [] for p in PLATFORMS})[platform].append(o)
        stats["referred_orders"] += 1
    out = Path(demo.files[0].path).parent
    for week in sorted(weeks):
        orders = weeks[week]
        wr = _Writer(g, out, suffix=f"{AMBASSADOR_SUFFIX}{week}", orders=orders, reviews={p: [] for p in PLATFORMS})
        writers = {"taobao": wr.taobao_orders, "douyin": wr.douyin_orders, "pdd": wr.pdd_orders, "jd": wr.jd_orders}
        for platform in PLATFORMS:
            if orders[platform]:
                writers[platform]()
        # imported once the week is over and every event its orders carry (payment, delivery, completion,
        # refunds) has happened — the importer refuses times in its future
        y, w = int(week[:4]), int(week[-2:])
        last = max([dt.datetime.fromisocalendar(y, w, 7).replace(hour=23, minute=30)]
                   + [t + dt.timedelta(hours=1) for p in PLATFORMS for o in orders[p] for t in _times(o)])
        at = min(last.replace(tzinfo=SHANGHAI).astimezone(dt.UTC), now)
        with clock(at):
            for f in wr.files:
                results.extend(import_paths(store, [f.path], platform=f.platform, kind=f.kind, shop=f.shop,
                                            progress=progress))
        amb.recognise_referrals(store, sup, now=at)
        for rw in amb.rewards(store, state="approved").itertuples(index=False):
            amb.deliver_reward(store, sup, int(rw.id), now=at)
        demo.files.extend(wr.files)
    return stats, results
