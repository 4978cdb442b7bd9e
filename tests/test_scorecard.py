"""Staff scorecard (O1, O2) on hand-built inline data, both backends: every figure against hand counts."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reviewops.core import store as S
from reviewops.core.errors import ConfigError
from reviewops.core.policy import Policy, current_policy, default_policy
from reviewops.reporting.reports import SHANGHAI
from reviewops.reporting.scorecard import (
    COLUMNS,
    NO_DATA,
    period_from_text,
    quarter_bounds,
    staff_scorecard,
    weekly_report_punctuality,
)

START = dt.datetime(2026, 10, 1, tzinfo=SHANGHAI)
END = dt.datetime(2026, 11, 1, tzinfo=SHANGHAI)
NOW = dt.datetime(2026, 11, 20, tzinfo=SHANGHAI)


def policy_with(**values: str) -> Policy:
    """The default policy with some settings changed (values as written in the sheet)."""
    t = {k: [dict(r) for r in v] for k, v in default_policy().tables.items()}
    for r in t["settings"]:
        if r["key"] in values:
            r["value"] = values[r["key"]]
    return Policy.from_tables(t)


class World:
    """Inserts shops, customers, orders, reviews, cases and their events straight into the store."""

    def __init__(self, store, shop: str = "店A") -> None:
        self.store = store
        self.seq = itertools.count(1)
        self.shop_id = self.shop(shop)

    def shop(self, name: str) -> int:
        with self.store.write() as conn:
            return conn.execute(S.shops.insert().values(platform="taobao", name=name, created_at=START)
                                .returning(S.shops.c.id)).scalar_one()

    def customer(self, key: str | None = None, shop_id: int | None = None) -> int:
        with self.store.write() as conn:
            return conn.execute(S.customers.insert().values(
                shop_id=shop_id or self.shop_id, customer_key=key or f"c{next(self.seq)}", nick_masked="张*",
                nick_is_masked=True, created_at=START).returning(S.customers.c.id)).scalar_one()

    def order(self, customer_id: int, at: dt.datetime, paid_fen: int = 5000, shop_id: int | None = None) -> str:
        oid = f"9{next(self.seq):09d}"
        with self.store.write() as conn:
            conn.execute(S.orders.insert().values(shop_id=shop_id or self.shop_id, order_id=oid,
                                                  customer_id=customer_id, created_at=at, paid_fen=paid_fen))
        return oid

    def case(self, *, created: dt.datetime, agent: str | None = None, contact: dt.datetime | None = None,
             due: dt.datetime | None = None, resolved: dt.datetime | None = None, satisfied: bool | None = None,
             revised: bool = False, customer_id: int | None = None, shop_id: int | None = None) -> int:
        """One case; ``agent`` makes its first contact at ``contact`` (a ``contact`` event)."""
        n = next(self.seq)
        sid = shop_id or self.shop_id
        with self.store.write() as conn:
            pk = conn.execute(S.reviews.insert().values(
                shop_id=sid, review_key=f"rk{n}", order_id=f"8{n:09d}", customer_id=customer_id,
                rating_raw="好评" if revised else "差评", rating_class="positive" if revised else "negative",
                content="东西坏了", created_at=created, first_seen_at=created, is_default_review=False,
                version=2 if revised else 1).returning(S.reviews.c.id)).scalar_one()
            if revised:
                conn.execute(S.review_versions.insert().values(review_pk=pk, version=1, rating_raw="差评",
                                                               row_hash=f"h{n}", observed_at=created))
            cid = conn.execute(S.cases.insert().values(
                shop_id=sid, review_pk=pk, state="resolved" if resolved else ("contacted" if contact else "new"),
                created_at=created, updated_at=created, version=1, sla_due_at=due or created + dt.timedelta(hours=24),
                first_contact_at=contact, resolved_at=resolved, satisfied=satisfied)
                .returning(S.cases.c.id)).scalar_one()
        if agent is not None and contact is not None:
            self.event(cid, agent, "contact", contact, after={"first_contact_at": contact.isoformat()})
        if resolved is not None:
            self.event(cid, "closer", "resolve", resolved, after={"resolved_at": resolved.isoformat()})
        return cid

    def event(self, case_id: int, actor: str, action: str, at: dt.datetime, after: dict | None = None) -> None:
        with self.store.write() as conn:
            v = conn.execute(sa.select(sa.func.count()).select_from(S.case_events)
                             .where(S.case_events.c.case_id == case_id)).scalar_one() + 1
            conn.execute(S.case_events.insert().values(
                case_id=case_id, version_from=v, version_to=v + 1, action=action, actor=actor, via="form", at=at,
                after_json=json.dumps(after) if after else None))

    def survey(self, kind: str, score: int, at: dt.datetime, *, case_id: int | None = None,
               customer_id: int | None = None) -> None:
        with self.store.write() as conn:
            conn.execute(S.surveys.insert().values(shop_id=self.shop_id, survey_key=f"s{next(self.seq)}", kind=kind,
                                                   score=score, case_id=case_id, customer_id=customer_id,
                                                   answered_at=at))

    def compensation(self, case_id: int, amount_fen: int, state: str = "delivered", *, kind: str = "coupon",
                     at: dt.datetime | None = None, customer_id: int | None = None) -> None:
        at = at or START + dt.timedelta(days=3)
        with self.store.write() as conn:
            conn.execute(S.compensations.insert().values(
                case_id=case_id, shop_id=self.shop_id, customer_id=customer_id, kind=kind, amount_fen=amount_fen,
                state=state, requested_by="a1", requested_role="agent", requested_at=at,
                delivered_at=at if state == "delivered" else None, version=1))

    def training(self, agent: str, module: str, at: dt.datetime, *, passed: bool | None = None,
                 score: float | None = None) -> None:
        with self.store.write() as conn:
            conn.execute(S.training_records.insert().values(agent=agent, module=module, at=at, passed=passed,
                                                            score=score, recorded_by="boss", recorded_at=at))

    def redeem(self, agent: str, points: int, at: dt.datetime) -> None:
        with self.store.write() as conn:
            conn.execute(S.point_redemptions.insert().values(agent=agent, points=points, item="培训课", at=at,
                                                             recorded_by="boss"))


def d(day: int, hour: int = 10, month: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=SHANGHAI)


def row(card, agent: str) -> dict:
    [r] = card.agents[card.agents["agent"] == agent].to_dict("records")
    return r


def test_sla_met_at_exactly_the_deadline_and_one_second_after(store) -> None:
    w = World(store)
    due = d(5, 12)
    w.case(created=d(4), agent="a1", contact=due, due=due)  # exactly at the deadline: in time
    w.case(created=d(4), agent="a1", contact=due + dt.timedelta(seconds=1), due=due)  # one second late
    w.case(created=d(4), agent="a1", contact=d(4, 11), due=due)  # 60 minutes after the case
    w.case(created=d(4), due=due)  # never contacted: nobody's case
    card = staff_scorecard(store, START, END, now=NOW)
    r = row(card, "a1")
    assert (r["handled"], r["sla_met"]) == (3, 2)
    assert r["sla_rate"] == pytest.approx(2 / 3)
    # first-contact minutes: 26 h, 26 h + 1 s, 1 h → median 26 h
    assert r["first_contact_minutes_median"] == pytest.approx(26 * 60)
    assert list(card.agents["agent"]) == ["a1"]
    assert any("1 件尚未联系" in n for n in card.notes)


def test_a_case_belongs_to_the_agent_who_made_the_first_contact(store) -> None:
    w = World(store)
    cid = w.case(created=d(4), agent="a1", contact=d(4, 15))
    w.event(cid, "a2", "contact", d(4, 11), after={"first_contact_at": d(4, 11).isoformat()})  # earlier, logged later
    w.event(cid, "a3", "note", d(4, 9))  # not a contact
    card = staff_scorecard(store, START, END, now=NOW)
    assert list(card.agents["agent"]) == ["a2"]
    assert row(card, "a2")["handled"] == 1


def test_csat_absent_shows_no_data_present_counts_4_and_5(store) -> None:
    w = World(store)
    c1 = w.case(created=d(4), agent="a1", contact=d(4, 11), resolved=d(6), satisfied=True)
    w.case(created=d(4), agent="a2", contact=d(4, 11))
    for score in (5, 4, 3, 1):
        w.survey("csat", score, d(8), case_id=c1)
    w.survey("csat", 5, d(2, month=11), case_id=c1)  # after the period
    w.survey("nps", 10, d(8), case_id=c1)  # NPS is not CSAT
    card = staff_scorecard(store, START, END, now=NOW)
    a1, a2 = row(card, "a1"), row(card, "a2")
    assert (a1["csat_n"], a1["csat_score"], a1["csat_avg"]) == (4, pytest.approx(50.0), pytest.approx(3.25))
    assert (a2["csat_n"], a2["csat_score"], a2["csat_avg"]) == (0, None, None)
    neg = card.training[card.training["module"] == "negotiation"].set_index("agent")
    assert neg.loc["a1", "status"] == "未达标" and neg.loc["a1", "target"] == 85
    assert neg.loc["a2", "status"] == NO_DATA and neg.loc["a2", "actual"] is None


def _bonus_world(store) -> World:
    w = World(store)
    w.case(created=d(2), agent="a1", contact=d(2, 11), resolved=d(3), satisfied=True, revised=True)
    w.case(created=d(2), agent="a1", contact=d(2, 11), resolved=d(3), satisfied=True)
    w.case(created=d(2), agent="a1", contact=d(2, 11), resolved=d(3), satisfied=False, revised=True)
    w.case(created=d(2), agent="a1", contact=d(2, 11), resolved=d(3), satisfied=None)
    w.case(created=d(2), agent="a1", contact=d(2, 11))  # open
    w.case(created=d(20, month=9), agent="a1", contact=d(20, 11, 9), resolved=d(2, 10, 11), satisfied=True)
    return w


def test_bonus_counts_satisfied_resolved_cases_only_by_default(store) -> None:
    _bonus_world(store)
    card = staff_scorecard(store, START, END, now=NOW)
    r = row(card, "a1")
    assert (r["handled"], r["resolved"], r["satisfied"], r["revised"]) == (5, 4, 2, 2)
    assert r["revision_rate"] == pytest.approx(0.5)
    assert r["bonus_fen"] == 2 * 5000 and r["revision_pay_fen"] == 0  # default 50 yuan, revisions not paid
    assert card.pay_per_revision is False and not any("合规风险" in n for n in card.notes)


def test_pay_per_revision_is_shown_separately_and_flagged(store) -> None:
    _bonus_world(store)
    card = staff_scorecard(store, START, END, now=NOW, policy=policy_with(pay_per_revision="是",
                                                                          resolved_bonus_fen="30"))
    r = row(card, "a1")
    assert r["bonus_fen"] == 2 * 3000 and r["revision_pay_fen"] == 2 * 3000
    assert card.pay_per_revision is True and any("合规风险" in n for n in card.notes)


def test_service_points_earned_redeemed_and_balance(store) -> None:
    w = World(store)
    w.case(created=d(10, month=9), agent="a1", contact=d(10, 11, 9), resolved=d(12, 10, 9), satisfied=True)
    w.case(created=d(2), agent="a1", contact=d(2, 11), resolved=d(3), satisfied=True)
    w.case(created=d(2), agent="a1", contact=d(2, 11), resolved=d(4), satisfied=True)
    w.case(created=d(2), agent="a1", contact=d(2, 11), resolved=d(5), satisfied=False)
    w.case(created=d(2), agent="a1", contact=d(2, 11), resolved=d(3, month=11), satisfied=True)  # after the period
    w.redeem("a1", 5, d(20, month=9))
    w.redeem("a1", 8, d(15))
    w.redeem("a1", 100, d(5, month=11))  # after the period
    card = staff_scorecard(store, START, END, now=NOW, policy=policy_with(service_points_per_case="10"))
    r = row(card, "a1")
    assert (r["points_earned"], r["points_redeemed"], r["points_balance"]) == (20, 8, 30 - 13)


def test_remedy_cost_counts_delivered_compensation_of_the_agents_cases(store) -> None:
    w = World(store)
    c1 = w.case(created=d(2), agent="a1", contact=d(2, 11))
    c2 = w.case(created=d(2), agent="a2", contact=d(2, 11))
    w.compensation(c1, 1200)
    w.compensation(c1, 900, state="pending")
    w.compensation(c1, 700, at=d(3, month=11))  # delivered after the period
    w.compensation(c2, 450)
    card = staff_scorecard(store, START, END, now=NOW)
    assert row(card, "a1")["remedy_fen"] == 1200 and row(card, "a2")["remedy_fen"] == 450
    assert card.totals["remedy_fen"] == 1650


def test_quarterly_top3_by_satisfied_cases_ties_by_sla_rate(store) -> None:
    w = World(store)
    # a1: 2 satisfied, SLA 1/2; a2: 2 satisfied, SLA 2/2; a3: 3 satisfied; a4: 1 satisfied; a5: none
    late = {"due": d(2, 10)}
    for agent, n, kw in (("a1", 1, {}), ("a1", 1, late), ("a2", 2, {}), ("a3", 3, {}), ("a4", 1, {})):
        for _ in range(n):
            w.case(created=d(2, 8), agent=agent, contact=d(2, 11), resolved=d(20, month=11), satisfied=True, **kw)
    w.case(created=d(2, 8), agent="a5", contact=d(2, 11), resolved=d(3), satisfied=False)
    card = staff_scorecard(store, START, END, now=NOW, quarter="2026-Q4")
    assert card.quarter == "2026-Q4"
    assert list(card.top3["agent"]) == ["a3", "a2", "a1"]
    assert list(card.top3["satisfied"]) == [3, 2, 2] and list(card.top3["rank"]) == [1, 2, 3]
    # the period (October) has none of these satisfied resolutions
    assert int(card.agents["satisfied"].sum()) == 0
    assert staff_scorecard(store, START, END, now=NOW, quarter="2026-Q3").top3.empty


def test_training_kpis_against_targets(store) -> None:
    w = World(store)
    w.case(created=d(2), agent="a1", contact=d(2, 11))
    for passed in (True, True, True, False):
        w.training("a1", "emotion", d(9), passed=passed)
    w.training("a1", "knowledge", d(9), score=94)
    w.training("a1", "knowledge", d(10), score=98)
    w.training("a1", "emotion", d(9, month=9), passed=False)  # before the period
    w.training("a2", "knowledge", d(11), score=90)  # an agent with training only
    card = staff_scorecard(store, START, END, now=NOW)
    t = card.training.set_index(["agent", "module"])
    assert t.loc[("a1", "emotion"), "actual"] == pytest.approx(75.0) and t.loc[("a1", "emotion"), "n"] == 4
    assert t.loc[("a1", "emotion"), "status"] == "未达标" and t.loc[("a1", "emotion"), "target"] == 90
    assert t.loc[("a1", "knowledge"), "actual"] == pytest.approx(96.0)
    assert t.loc[("a1", "knowledge"), "status"] == "达标"
    assert t.loc[("a2", "knowledge"), "status"] == "未达标"
    assert t.loc[("a2", "emotion"), "status"] == NO_DATA
    assert t.loc[("（团队）", "data_analysis"), "status"] == NO_DATA  # no weekly report ever run
    # the targets are the shop's policy: a knowledge target of 90 makes a2's 90 pass, 97 makes a1's 96 fail
    for target, a1, a2 in (("90", "达标", "达标"), ("97", "未达标", "未达标")):
        t = staff_scorecard(store, START, END, now=NOW, policy=policy_with(knowledge_target=target)) \
            .training.set_index(["agent", "module"])
        assert t.loc[("a1", "knowledge"), "target"] == float(target)
        assert (t.loc[("a1", "knowledge"), "status"], t.loc[("a2", "knowledge"), "status"]) == (a1, a2)


def test_weekly_report_on_time_by_monday_noon_beijing(store) -> None:
    from reviewops.core.users import log_access

    def run(at: dt.datetime, week: str | None, outcome: str = "ok") -> None:
        with store.write() as conn:
            log_access(conn, actor="cron", role=None, action="export", outcome=outcome, target="weekly_top3",
                       detail={"params": {"week": week} if week else {}}, at=at)

    # October 2026: weeks W41 (Oct 5–11), W42, W43 end inside the period; W40 starts in September
    run(dt.datetime(2026, 10, 12, 12, 0, tzinfo=SHANGHAI), None)  # W41 at the deadline exactly: on time
    run(dt.datetime(2026, 10, 19, 12, 0, 1, tzinfo=SHANGHAI), None)  # W42 one second late
    run(dt.datetime(2026, 10, 20, 9, 0, tzinfo=SHANGHAI), "2026-W43")  # W43 early, by week parameter
    run(dt.datetime(2026, 10, 26, 9, 0, tzinfo=SHANGHAI), None, outcome="error")  # a failed run of W43: ignored
    W = World(store)
    W.case(created=d(2), agent="a1", contact=d(2, 11))
    card = staff_scorecard(store, START, END, now=NOW)
    [team] = card.training[card.training["module"] == "data_analysis"].to_dict("records")
    assert team["n"] == 3 and team["actual"] == pytest.approx(200 / 3) and team["status"] == "未达标"
    due, on_time = weekly_report_punctuality([], START, END, dt.datetime(2026, 10, 19, 11, tzinfo=SHANGHAI))
    assert due == ["2026-W41"] and on_time == set()  # W42 not yet due before Monday noon


def test_shop_filter_and_columns_declared_once(store) -> None:
    w = World(store)
    other = w.shop("店B")
    w.case(created=d(2), agent="a1", contact=d(2, 11))
    w.case(created=d(2), agent="a2", contact=d(2, 11), shop_id=other)
    card = staff_scorecard(store, START, END, now=NOW, shop_ids=[w.shop_id])
    assert list(card.agents["agent"]) == ["a1"]
    with pytest.raises(ConfigError, match="9999"):
        staff_scorecard(store, START, END, now=NOW, shop_ids=[9999])
    assert list(card.agents.columns) == [c for c, _, _ in COLUMNS["agents"]]
    assert list(card.training.columns) == [c for c, _, _ in COLUMNS["training"]]


def test_period_and_quarter_inputs_fail_clearly() -> None:
    with pytest.raises(ConfigError, match="2026-13-01"):
        period_from_text("2026-13-01", "2026-11-30", default="month")
    with pytest.raises(ConfigError, match="11/30"):
        period_from_text("2026-11-01", "11/30", default="month")
    with pytest.raises(ConfigError, match="2026-Q5"):
        quarter_bounds("2026-Q5")
    s, e = period_from_text("2026-11-01", "2026-11-30", default="month")
    assert (s, e) == (dt.datetime(2026, 11, 1, tzinfo=SHANGHAI), dt.datetime(2026, 12, 1, tzinfo=SHANGHAI))
    s, e = period_from_text("", "", default="month")
    assert s.day == 1 and e.day == 1 and (e - s).days in (28, 29, 30, 31)
    s, e = period_from_text("2026-10-05", "", default="month")  # a start alone: a month-long period from it
    assert s == dt.datetime(2026, 10, 5, tzinfo=SHANGHAI) and 28 <= (e - s).days <= 31
    s, e = period_from_text("", "2026-10-31", default="90d")  # an end alone: the 90 days up to it
    assert e == END and (e - s).days == 90
    with pytest.raises(ConfigError, match="早于"):
        period_from_text("2026-11-30", "2026-11-01", default="month")
    s, e = period_from_text("", "", default="90d")
    assert (e - s).days == 90
    assert quarter_bounds("2026-Q4") == (dt.datetime(2026, 10, 1, tzinfo=SHANGHAI),
                                         dt.datetime(2027, 1, 1, tzinfo=SHANGHAI))
    with pytest.raises(ConfigError):
        staff_scorecard(None, END, START)  # type: ignore[arg-type]


# ------------------------------------------------------------------ properties

_case = st.tuples(st.sampled_from(["a1", "a2", "a3", None]), st.integers(0, 40), st.integers(0, 72),
                  st.integers(0, 30 * 24), st.sampled_from([True, False, None]), st.booleans(), st.booleans())


_SHOPS = itertools.count(1)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases=st.lists(_case, max_size=10), per_revision=st.booleans())
def test_agent_rows_add_up_to_the_totals_and_bonus_is_satisfied_times_rate(sqlite_store, cases, per_revision) -> None:
    store = sqlite_store
    w = World(store, shop=f"店{next(_SHOPS)}")
    current_policy(store)
    pol = policy_with(pay_per_revision="是" if per_revision else "否", resolved_bonus_fen="50")
    for agent, day, contact_h, resolve_h, satisfied, resolved, revised in cases:
        created = START + dt.timedelta(days=day - 5)
        contact = created + dt.timedelta(hours=contact_h)
        res = contact + dt.timedelta(hours=resolve_h) if resolved and agent else None
        w.case(created=created, agent=agent, contact=contact if agent else None, resolved=res,
               satisfied=satisfied if res else None, revised=revised and res is not None)
    card = staff_scorecard(store, START, END, now=NOW, policy=pol, shop_ids=[w.shop_id])  # this example's shop
    for col in ("handled", "sla_met", "resolved", "satisfied", "revised", "remedy_fen", "bonus_fen",
                "revision_pay_fen", "points_earned"):
        got = int(card.agents[col].sum()) if len(card.agents) else 0
        assert got == card.totals[col], col
    for r in card.agents.to_dict("records"):
        assert r["bonus_fen"] == 5000 * r["satisfied"]
        assert r["revision_pay_fen"] == (5000 * r["revised"] if per_revision else 0)
    # the totals against a plain SQL count of satisfied resolutions in the period by contacted cases
    with store.read() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(S.cases).where(
            S.cases.c.satisfied.is_(True), S.cases.c.resolved_at >= START, S.cases.c.resolved_at < END,
            S.cases.c.first_contact_at.is_not(None), S.cases.c.shop_id == w.shop_id)).scalar_one()
    assert card.totals["satisfied"] == n
