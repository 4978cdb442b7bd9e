"""Staff scorecard (SPEC O1 training KPIs, O2 incentives): per agent, for a period.

Attribution rule: a case belongs to the agent who made its **first contact** — the actor of the
case's earliest ``case_events`` row (by time, then id) that is a ``contact`` or sets
``first_contact_at`` (the same rule as the dashboard's agent breakdown in :mod:`reviewops.reporting.reports`).
Cases nobody has contacted belong to no agent.

Which cases count for a period ``[start, end)``:

* **handled** (接手案件): cases whose first contact falls in the period; **SLA met** = first contact
  at or before ``sla_due_at`` (exactly at the deadline is in time); the first-contact time is
  ``first_contact_at − created_at`` (median minutes).
* **resolved** (已解决): cases resolved in the period; among them **satisfied** (customer-confirmed,
  ``cases.satisfied``), **revised** (the review later changed to a good rating — reported only) and the
  median resolution hours (``resolved_at − created_at``).
* **CSAT**: ``csat`` survey answers (1–5) answered in the period for the agent's cases: the share of
  4–5 answers ×100 and the average; no answers → None (shown as 无数据, never 0).
* **remedy cost**: delivered compensations of the agent's cases delivered in the period (fen).
* **incentive ledger** (Compliance): bonus = ``resolved_bonus_fen`` × resolved-and-satisfied cases.
  Only when the policy's ``pay_per_revision`` is on is a per-revision amount (``resolved_bonus_fen`` ×
  revised cases) added, in its own column and flagged as a compliance risk. Service points earned =
  ``service_points_per_case`` × satisfied resolved cases; redeemed = ``point_redemptions`` in the
  period; balance = all points earned up to ``end`` minus all redeemed up to ``end``.
* **quarterly top 3**: agents ranked by satisfied resolved cases in the quarter, ties by SLA rate,
  then by name.
* **training KPIs** (O1): emotion management = call-recording pass rate (``training_records`` module
  ``emotion``) vs ``call_pass_target``; negotiation = CSAT vs ``csat_target``; knowledge = quiz
  average vs ``knowledge_target`` (95); data analysis (team) = weekly reports on time: each ISO week ending in the period
  and due by ``now`` is on time when an ``access_log`` row (action ``export``, target ``weekly_top3``,
  outcome ``ok``) for that week was written by Monday 12:00 Beijing of the following week.

* **knowledge quizzes** (P1, O1; per agent in ``agents``): the ``knowledge`` training records with a score whose
  time (the submission, :mod:`reviewops.prevention.quiz`) falls in the period — how many, the best and the last
  score, and whether the last one passed (its stored ``passed``; a record without one, e.g. entered by hand,
  passes when its score ≥ the policy's ``quiz_pass_mark``). Open (unsubmitted) quizzes have no score and do not
  count. No quiz in the period → 0 and None.

Every table is a DataFrame whose columns are declared once in :data:`COLUMNS` with a Chinese header
and a description; money in fen; text masked.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from ..core.errors import ConfigError
from .measures import check_period, check_shops, revised_review_pks
from .reports import SHANGHAI, first_contact_agents, iso_week, week_bounds

if TYPE_CHECKING:
    from ..core.policy import Policy
    from ..core.store import Store

__all__ = ["COLUMNS", "NO_DATA", "Scorecard", "period_from_text", "quarter_bounds",
           "staff_scorecard", "zh_frame"]

NO_DATA = "无数据"
WEEKLY_REPORT_TARGET = 100.0  # weekly report on time, percent (O1)
REPORT_DEADLINE = dt.time(12, 0)  # Monday noon (Beijing) after the reported week
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$")

# table → [(column, 中文表头, description)] — declared once; the playbook shows the Chinese headers.
COLUMNS: dict[str, list[tuple[str, str, str]]] = {
    "agents": [
        ("agent", "客服账号", "the agent's login name (first contact of the case)"),
        ("display_name", "客服姓名", "the agent's display name"),
        ("handled", "接手案件", "cases first contacted by the agent in the period"),
        ("sla_met", "按时联系", "handled cases first contacted at or before their SLA deadline"),
        ("sla_rate", "SLA 达成率", "sla_met / handled (None without handled cases)"),
        ("first_contact_minutes_median", "首次联系用时中位数（分钟）", "median minutes from case to first contact"),
        ("resolved", "已解决", "the agent's cases resolved in the period"),
        ("satisfied", "客户确认满意", "resolved cases with customer-confirmed satisfaction"),
        ("resolution_hours_median", "解决用时中位数（小时）", "median hours from case to resolution"),
        ("csat_n", "满意度答卷数", "CSAT answers (1–5) for the agent's cases answered in the period"),
        ("csat_score", "满意度（4–5分占比×100）", "share of 4–5 answers ×100; None without answers"),
        ("csat_avg", "满意度平均分", "average CSAT answer; None without answers"),
        ("revised", "改为好评", "resolved cases whose review later became positive (reported, not paid)"),
        ("revision_rate", "改评率", "revised / resolved"),
        ("remedy_fen", "补偿成本（分）", "delivered compensation of the agent's cases in the period, fen"),
        ("bonus_fen", "满意奖金（分）", "resolved_bonus_fen × satisfied resolved cases, fen"),
        ("revision_pay_fen", "改评奖金（分，合规风险）", "only with pay_per_revision on: resolved_bonus_fen × revised"),
        ("points_earned", "服务积分（本期）", "service_points_per_case × satisfied resolved cases"),
        ("points_redeemed", "已兑换积分（本期）", "points redeemed in the period"),
        ("points_balance", "积分余额", "all points earned up to the period end minus all redeemed"),
        ("quizzes", "知识测验次数", "knowledge quizzes with a score submitted in the period"),
        ("quiz_best", "测验最高分", "the best quiz score (0–100) in the period; None without quizzes"),
        ("quiz_last", "测验最近得分", "the last quiz score in the period; None without quizzes"),
        ("quiz_passed", "最近测验及格", "是 / 否: the last quiz passed (score ≥ quiz_pass_mark); None without quizzes"),
    ],
    "top3": [
        ("rank", "排名", "1–3"),
        ("agent", "客服账号", "login name"),
        ("display_name", "客服姓名", "display name"),
        ("satisfied", "客户确认满意", "satisfied resolved cases in the quarter"),
        ("sla_rate", "SLA 达成率", "the tie-breaker"),
    ],
    "training": [
        ("agent", "客服账号", "login name; （团队） for team-level KPIs"),
        ("module", "模块代码", "emotion | negotiation | knowledge | data_analysis"),
        ("module_zh", "培训模块", "the module in Chinese"),
        ("kpi", "考核指标", "what is measured"),
        ("target", "目标", "the target (percent or score)"),
        ("actual", "实际", "the measured value; None without data"),
        ("n", "样本数", "records / answers / weeks behind the value"),
        ("status", "结果", "达标 | 未达标 | 无数据"),
    ],
}


def zh_frame(df: pd.DataFrame, table: str, columns: dict[str, list[tuple[str, str, str]]] | None = None) -> pd.DataFrame:
    """``df`` with its columns renamed to the Chinese headers declared in :data:`COLUMNS`."""
    spec = (columns or COLUMNS)[table]
    return df.rename(columns={c: zh for c, zh, _ in spec})


def _frame(rows: list[dict[str, Any]], table: str) -> pd.DataFrame:
    cols = [c for c, _, _ in COLUMNS[table]]
    df = pd.DataFrame(rows, columns=cols)
    return df.astype(object).where(df.notna(), None) if len(df) else df


@dataclass
class Scorecard:
    """The scorecard of ``[start, end)``: see the module docstring for every figure."""

    start: dt.datetime
    end: dt.datetime
    quarter: str
    agents: pd.DataFrame  # COLUMNS["agents"], one row per agent, sorted by satisfied then handled
    totals: dict[str, Any]  # the same figures over all cases of the selected shops (agents summed)
    top3: pd.DataFrame  # COLUMNS["top3"] for ``quarter``
    training: pd.DataFrame  # COLUMNS["training"]
    pay_per_revision: bool
    resolved_bonus_fen: int
    points_per_case: int
    notes: list[str] = field(default_factory=list)


def quarter_bounds(quarter: str) -> tuple[dt.datetime, dt.datetime]:
    """``"2026-Q4"`` → (Oct 1 00:00, Jan 1 00:00) Beijing, aware."""
    m = _QUARTER.match(str(quarter).strip().upper())
    if not m:
        raise ConfigError(f"季度格式应为 2026-Q4，收到 {quarter!r} / a quarter is written like 2026-Q4, got {quarter!r}")
    y, q = int(m.group(1)), int(m.group(2))
    start = dt.datetime(y, 3 * q - 2, 1, tzinfo=SHANGHAI)
    end = dt.datetime(y + 1, 1, 1, tzinfo=SHANGHAI) if q == 4 else dt.datetime(y, 3 * q + 1, 1, tzinfo=SHANGHAI)
    return start, end


def quarter_of(moment: dt.datetime) -> str:
    """The quarter (Beijing) an aware datetime falls in, e.g. ``"2026-Q4"``."""
    d = moment.astimezone(SHANGHAI)
    return f"{d.year}-Q{(d.month - 1) // 3 + 1}"


def period_from_text(start: str, end: str, *, default: str) -> tuple[dt.datetime, dt.datetime]:
    """Playbook dates (ISO ``YYYY-MM-DD``, Beijing, both inclusive) → the aware half-open period.

    Empty values take ``default``: ``"month"`` = the previous full month, ``"90d"`` = the 90 days
    before today (Beijing). A malformed date raises :class:`ConfigError` naming the value."""
    from .reports import day_bounds

    def parse(name: str, value: str) -> dt.date | None:
        text = str(value or "").strip()
        if not text:
            return None
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise ConfigError(f"{name} 日期格式应为 YYYY-MM-DD（北京时间），收到 {value!r} / {name} must be an ISO date "
                              f"such as 2026-11-01, got {value!r}") from None

    first, last = parse("start", start), parse("end", end)
    today = dt.datetime.now(SHANGHAI).date()
    if first is None or last is None:
        if default == "month":
            d_last = today.replace(day=1) - dt.timedelta(days=1)
            d_first = d_last.replace(day=1)
        else:
            d_last = today - dt.timedelta(days=1)
            d_first = today - dt.timedelta(days=90)
        if first is None and last is not None:
            d_first = last - (d_last - d_first)
        first = first or d_first
        last = last or (first + (d_last - d_first) if str(start or "").strip() else d_last)
    return day_bounds(first, last)


def _case_frame(conn: sa.Connection, shops: list[int] | None, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """Cases contacted or resolved before ``end`` or created in ``[start, end)`` (selected shops), with agent
    and revised flag."""
    from ..core.store import cases

    q = (sa.select(cases.c.id.label("case_id"), cases.c.shop_id, cases.c.review_pk, cases.c.created_at,
                   cases.c.sla_due_at, cases.c.first_contact_at, cases.c.resolved_at, cases.c.satisfied)
         .where(sa.or_(cases.c.first_contact_at < end, cases.c.resolved_at < end,
                       sa.and_(cases.c.created_at >= start, cases.c.created_at < end))))
    if shops is not None:
        q = q.where(cases.c.shop_id.in_(shops))
    cols = ["case_id", "shop_id", "review_pk", "created_at", "sla_due_at", "first_contact_at", "resolved_at",
            "satisfied"]
    df = pd.DataFrame(conn.execute(q).mappings().all(), columns=cols)
    agents = first_contact_agents(conn, [int(c) for c in df["case_id"]]) if len(df) else {}
    df["agent"] = [agents.get(int(c)) for c in df["case_id"]]
    resolved_pks = [int(p) for p, r in zip(df["review_pk"], df["resolved_at"]) if pd.notna(r) and pd.notna(p)]
    rev = revised_review_pks(conn, resolved_pks)
    df["revised"] = [bool(pd.notna(r) and pd.notna(p) and int(p) in rev) for p, r in zip(df["review_pk"], df["resolved_at"])]
    for c in ("created_at", "sla_due_at", "first_contact_at", "resolved_at"):
        df[c] = pd.to_datetime(df[c], utc=True)
    df["satisfied"] = df["satisfied"].map(lambda v: bool(v) if v is not None and not pd.isna(v) else False)
    return df


def _in(s: pd.Series, start: dt.datetime, end: dt.datetime) -> pd.Series:
    return s.notna() & (s >= pd.Timestamp(start)) & (s < pd.Timestamp(end))


def _median(values: pd.Series) -> float | None:
    v = values.dropna()
    return float(v.median()) if len(v) else None


def _figures(df: pd.DataFrame, csat: pd.DataFrame, comp: pd.DataFrame, start: dt.datetime,
             end: dt.datetime) -> dict[str, Any]:
    """The per-agent figures of one group of cases (``df``) and their surveys/compensations."""
    handled = df[_in(df["first_contact_at"], start, end)]
    res = df[_in(df["resolved_at"], start, end)]
    met = int((handled["first_contact_at"] <= handled["sla_due_at"]).sum())
    fc = (handled["first_contact_at"] - handled["created_at"]).dt.total_seconds() / 60
    rs = (res["resolved_at"] - res["created_at"]).dt.total_seconds() / 3600
    ids = {int(c) for c in df["case_id"]}
    sc = csat[csat["case_id"].isin(ids)]["score"] if len(csat) else pd.Series([], dtype=float)
    cost = int(comp[comp["case_id"].isin(ids)]["amount_fen"].sum()) if len(comp) else 0
    resolved, revised = len(res), int(res["revised"].sum())
    return {"handled": len(handled), "sla_met": met, "sla_rate": (met / len(handled)) if len(handled) else None,
            "first_contact_minutes_median": _median(fc), "resolved": resolved,
            "satisfied": int(res["satisfied"].sum()), "resolution_hours_median": _median(rs),
            "csat_n": len(sc), "csat_score": (float((sc >= 4).mean() * 100) if len(sc) else None),
            "csat_avg": (float(sc.mean()) if len(sc) else None), "revised": revised,
            "revision_rate": (revised / resolved) if resolved else None, "remedy_fen": cost}


def staff_scorecard(store: Store, start: dt.datetime, end: dt.datetime, *, shop_ids: list[int] | None = None,
                    policy: Policy | None = None, quarter: str | None = None,
                    now: dt.datetime | None = None) -> Scorecard:
    """Per-agent scorecard of ``[start, end)`` (aware datetimes) for the given shops (None = all).

    ``quarter`` (``"2026-Q4"``; None = the quarter holding the period's last moment) selects the top 3.
    ``now`` (default: now) decides which weekly reports were already due. See the module docstring.
    """
    from ..core.policy import current_policy
    from ..core.privacy import mask_text
    from ..core.store import access_log, compensations, point_redemptions, surveys, training_records, users, utcnow

    check_period(start, end)
    now = now or utcnow()
    policy = policy or current_policy(store)
    with store.read() as conn:
        shops = check_shops(conn, shop_ids)
    quarter = quarter_of(end - dt.timedelta(microseconds=1)) if quarter is None or not str(quarter).strip() else quarter
    q_start, q_end = quarter_bounds(quarter)
    quarter = f"{q_start.year}-Q{(q_start.month - 1) // 3 + 1}"
    bonus = int(policy.setting("resolved_bonus_fen"))
    per_revision = bool(policy.setting("pay_per_revision"))
    ppc = int(policy.setting("service_points_per_case"))
    csat_target = float(policy.setting("csat_target"))
    call_target = float(policy.setting("call_pass_target"))
    knowledge_target = float(policy.setting("knowledge_target"))
    pass_mark = int(policy.setting("quiz_pass_mark"))
    horizon = max(end, q_end)
    with store.read() as conn:
        df = _case_frame(conn, shops, start, horizon)
        names = {r.name: r.display_name for r in conn.execute(sa.select(users.c.name, users.c.display_name))}
        sq = sa.select(surveys.c.case_id, surveys.c.score, surveys.c.answered_at).where(
            surveys.c.kind == "csat", surveys.c.case_id.is_not(None))
        if shops is not None:
            sq = sq.where(surveys.c.shop_id.in_(shops))
        csat_all = pd.DataFrame(conn.execute(sq).mappings().all(), columns=["case_id", "score", "answered_at"])
        cq = (sa.select(compensations.c.case_id, compensations.c.amount_fen,
                        sa.func.coalesce(compensations.c.delivered_at, compensations.c.requested_at).label("at"))
              .where(compensations.c.state == "delivered"))
        if shops is not None:
            cq = cq.where(compensations.c.shop_id.in_(shops))
        comp_all = pd.DataFrame(conn.execute(cq).mappings().all(), columns=["case_id", "amount_fen", "at"])
        red = pd.DataFrame(conn.execute(sa.select(point_redemptions.c.agent, point_redemptions.c.points,
                                                  point_redemptions.c.at)
                                        .where(point_redemptions.c.at < end)).mappings().all(),
                           columns=["agent", "points", "at"])
        tr = pd.DataFrame(conn.execute(sa.select(training_records.c.id, training_records.c.agent,
                                                 training_records.c.module, training_records.c.passed,
                                                 training_records.c.score, training_records.c.at)
                                       .where(training_records.c.at >= start, training_records.c.at < end))
                          .mappings().all(), columns=["id", "agent", "module", "passed", "score", "at"])
        runs = conn.execute(sa.select(access_log.c.at, access_log.c.detail_json).where(
            access_log.c.action == "export", access_log.c.target == "weekly_top3", access_log.c.outcome == "ok",
            access_log.c.at < horizon + dt.timedelta(days=8))).all()
    for frame, col in ((csat_all, "answered_at"), (comp_all, "at"), (red, "at")):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    csat = csat_all[_in(csat_all["answered_at"], start, end)]
    comp = comp_all[_in(comp_all["at"], start, end)]
    red_period = red[_in(red["at"], start, end)]

    agent_list = sorted({a for a in df["agent"].dropna()
                         if _in(df[df["agent"] == a]["first_contact_at"], start, end).any()
                         or _in(df[df["agent"] == a]["resolved_at"], start, end).any()}
                        | set(red_period["agent"]) | set(tr["agent"]))
    rows = []
    for a in agent_list:
        part = df[df["agent"] == a]
        f = _figures(part, csat, comp, start, end)
        earned_all = int(((part["resolved_at"] < pd.Timestamp(end)) & part["satisfied"]).sum()) * ppc
        redeemed_all = int(red[red["agent"] == a]["points"].sum())
        rows.append({"agent": a, "display_name": mask_text(names.get(a) or a), **f,
                     "bonus_fen": bonus * f["satisfied"],
                     "revision_pay_fen": bonus * f["revised"] if per_revision else 0,
                     "points_earned": ppc * f["satisfied"],
                     "points_redeemed": int(red_period[red_period["agent"] == a]["points"].sum()),
                     "points_balance": earned_all - redeemed_all, **_quizzes(tr, a, pass_mark)})
    agents = _frame(rows, "agents")
    if len(agents):
        agents = agents.sort_values(["satisfied", "handled", "agent"], ascending=[False, False, True],
                                    kind="stable").reset_index(drop=True)
    tot = _figures(df[df["agent"].notna()], csat, comp, start, end)
    totals = {**tot, "bonus_fen": bonus * tot["satisfied"],
              "revision_pay_fen": bonus * tot["revised"] if per_revision else 0,
              "points_earned": ppc * tot["satisfied"],
              "points_redeemed": int(red_period[red_period["agent"].isin(agent_list)]["points"].sum())}
    # quarterly top 3
    qrows = []
    for a in sorted(set(df["agent"].dropna())):
        f = _figures(df[df["agent"] == a], csat_all.iloc[0:0], comp_all.iloc[0:0], q_start, q_end)
        if f["satisfied"] > 0:
            qrows.append({"agent": a, "display_name": mask_text(names.get(a) or a), "satisfied": f["satisfied"],
                          "sla_rate": f["sla_rate"]})
    qrows.sort(key=lambda r: (-r["satisfied"], -(r["sla_rate"] if r["sla_rate"] is not None else -1), r["agent"]))
    top3 = _frame([{"rank": i, **r} for i, r in enumerate(qrows[:3], start=1)], "top3")
    training = _training(agents, tr, runs, start, end, now, csat_target, call_target, knowledge_target)
    notes = []
    if per_revision:
        notes.append("已开启“按改评计奖”（pay_per_revision）：存在诱导好评的合规风险（《网络交易监督管理办法》），"
                     "改评奖金单列 / pay per revision is ON: a compliance risk; shown separately")
    open_new = int((_in(df["created_at"], start, end) & df["first_contact_at"].isna()).sum())
    if open_new:
        notes.append(f"本期新建案件中 {open_new} 件尚未联系，不计入任何客服 / {open_new} cases of the period have no "
                     "first contact yet and belong to no agent")
    orphan = int((df["first_contact_at"].notna() & df["agent"].isna()).sum())
    if orphan:
        notes.append(f"{orphan} 件案件有首次联系时间但没有联系记录，未计入任何客服 / {orphan} contacted cases have no "
                     "contact event and are not attributed to any agent")
    return Scorecard(start=start, end=end, quarter=quarter, agents=agents, totals=totals, top3=top3,
                     training=training, pay_per_revision=per_revision, resolved_bonus_fen=bonus, points_per_case=ppc,
                     notes=notes)


def _quizzes(tr: pd.DataFrame, agent: str, pass_mark: int) -> dict[str, Any]:
    """The agent's knowledge quizzes in the period (``tr`` is already the period's): count, best, last, last passed."""
    q = tr[(tr["agent"] == agent) & (tr["module"] == "knowledge") & tr["score"].notna()]
    if not len(q):
        return {"quizzes": 0, "quiz_best": None, "quiz_last": None, "quiz_passed": None}
    q = q.assign(at=pd.to_datetime(q["at"], utc=True)).sort_values(["at", "id"], kind="stable")
    last = q.iloc[-1]
    passed = bool(last["passed"]) if last["passed"] is not None and not pd.isna(last["passed"]) else \
        float(last["score"]) >= pass_mark - 1e-9
    return {"quizzes": len(q), "quiz_best": float(q["score"].max()), "quiz_last": float(last["score"]),
            "quiz_passed": "是" if passed else "否"}


MODULE_ZH = {"emotion": "情绪管理", "negotiation": "谈判技巧", "knowledge": "产品知识", "data_analysis": "数据分析"}
TEAM = "（团队）"


def _status(actual: float | None, target: float) -> str:
    if actual is None:
        return NO_DATA
    return "达标" if actual >= target - 1e-9 else "未达标"


def _training(agents: pd.DataFrame, tr: pd.DataFrame, runs: list[Any], start: dt.datetime, end: dt.datetime,
              now: dt.datetime, csat_target: float, call_target: float, knowledge_target: float) -> pd.DataFrame:
    """O1: per agent emotion / negotiation / knowledge, and the team's weekly report punctuality."""
    rows = []
    names = sorted(set(agents["agent"]) if len(agents) else set())
    for a in names:
        t = tr[tr["agent"] == a]
        emo = t[(t["module"] == "emotion") & t["passed"].notna()]
        emo_actual = float(emo["passed"].astype(bool).mean() * 100) if len(emo) else None
        rows.append({"agent": a, "module": "emotion", "module_zh": MODULE_ZH["emotion"], "kpi": "通话录音合格率（%）",
                     "target": call_target, "actual": emo_actual, "n": len(emo), "status": _status(emo_actual, call_target)})
        row = agents[agents["agent"] == a].iloc[0]
        cs = row["csat_score"]
        rows.append({"agent": a, "module": "negotiation", "module_zh": MODULE_ZH["negotiation"],
                     "kpi": "客户满意度（4–5分占比×100）", "target": csat_target, "actual": cs, "n": int(row["csat_n"]),
                     "status": _status(cs, csat_target)})
        kn = t[(t["module"] == "knowledge") & t["score"].notna()]["score"]
        kn_actual = float(kn.mean()) if len(kn) else None
        rows.append({"agent": a, "module": "knowledge", "module_zh": MODULE_ZH["knowledge"], "kpi": "知识测验平均分",
                     "target": knowledge_target, "actual": kn_actual, "n": len(kn),
                     "status": _status(kn_actual, knowledge_target)})
    due, on_time = weekly_report_punctuality(runs, start, end, now)
    actual = (len(on_time) / len(due) * 100) if due and runs else None  # no weekly run ever logged: 无数据
    rows.append({"agent": TEAM, "module": "data_analysis", "module_zh": MODULE_ZH["data_analysis"],
                 "kpi": "周报按时完成率（%）", "target": WEEKLY_REPORT_TARGET, "actual": actual, "n": len(due),
                 "status": _status(actual, WEEKLY_REPORT_TARGET)})
    return _frame(rows, "training")


def weekly_report_punctuality(runs: list[Any], start: dt.datetime, end: dt.datetime,
                              now: dt.datetime) -> tuple[list[str], set[str]]:
    """(weeks due, weeks reported on time): ISO weeks ending inside ``[start, end)`` whose deadline (the
    following Monday 12:00 Beijing) is not after ``now``; a week is on time when a successful
    ``weekly_top3`` export for it (its ``week`` parameter, or — without one — the week before the run)
    was logged by the deadline."""
    due: list[str] = []
    w = iso_week(start)
    ws, we = week_bounds(w)
    while we <= end:
        if ws >= start and dt.datetime.combine(we.date(), REPORT_DEADLINE, tzinfo=SHANGHAI) <= now:
            due.append(iso_week(ws))
        ws, we = we, we + dt.timedelta(days=7)
    on_time: set[str] = set()
    for at, detail in runs:
        at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
        week = None
        try:
            params = (json.loads(detail) or {}).get("params") or {} if detail else {}
            week = str(params.get("week") or "").strip().upper() or None
        except (ValueError, AttributeError):
            week = None
        if week is None:
            week = iso_week(at - dt.timedelta(days=7))
        try:
            _, w_end = week_bounds(week)
        except ConfigError:
            continue
        if at <= dt.datetime.combine(w_end.date(), REPORT_DEADLINE, tzinfo=SHANGHAI):
            on_time.add(iso_week(w_end - dt.timedelta(days=1)))
    return due, on_time & set(due)
