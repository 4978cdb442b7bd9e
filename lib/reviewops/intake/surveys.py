"""Survey answers and training records (SPEC O1, V4): record, import, and the demo's history.

* :func:`record_survey` stores one CSAT (1–5) or NPS (0–10) answer of a shop's customer, linked
  to the order, its case and customer when the order is known. Idempotent on the survey tool's
  answer id (``survey_key``): the same key again is skipped, never duplicated.
* :func:`record_training` stores one O1 training result of an agent: a call-recording check of
  the ``emotion`` module (passed / failed), a ``knowledge`` quiz score (0–100), …
* :func:`import_surveys` reads a CSV or XLSX export with Chinese headers (问卷编号, 类型, 分数,
  订单号, 回答时间); every bad row is reported with its row, column and value
  (:class:`~reviewops.core.errors.ImportRejected`, nothing written), unless ``skip_bad_rows``.
* :func:`demo_surveys` / :func:`demo_training` give the demo shop seeded answers and records
  (called by :func:`reviewops.demo.work_demo_history`).

Every time is timezone-aware (stored UTC); a naive answer time in a file is read as Asia/Shanghai.
"""

from __future__ import annotations

import datetime as dt
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.errors import ConfigError, ImportRejected, NotFound, Problem

if TYPE_CHECKING:
    from ..core.store import Store

__all__ = ["HEADERS", "KINDS", "MODULES", "SurveyImport", "demo_surveys", "demo_training", "import_surveys",
           "record_survey", "record_training"]

#: Survey kinds and their score ranges.
KINDS: dict[str, tuple[int, int]] = {"csat": (1, 5), "nps": (0, 10)}
#: O1 training modules (as in :data:`reviewops.reporting.scorecard.MODULE_ZH`).
MODULES: dict[str, str] = {"emotion": "情绪管理", "negotiation": "谈判技巧", "knowledge": "产品知识",
                           "data_analysis": "数据分析"}
#: The import file's headers (Chinese) → field.
HEADERS: dict[str, str] = {"问卷编号": "survey_key", "类型": "kind", "分数": "score", "订单号": "order_id",
                           "回答时间": "answered_at"}
_SHANGHAI = "Asia/Shanghai"


def _aware(at: Any, what: str) -> dt.datetime:
    if not isinstance(at, dt.datetime) or at.tzinfo is None:
        raise ConfigError(f"{what}需要带时区的时间，收到 {at!r} / {what} must be a timezone-aware datetime, got {at!r}")
    return at.astimezone(dt.UTC)


def _check_score(kind: str, score: Any) -> int:
    if kind not in KINDS:
        raise ConfigError(f"未知的问卷类型 {kind!r}；可选：{'、'.join(KINDS)} / unknown survey kind {kind!r}; use csat or nps")
    lo, hi = KINDS[kind]
    if isinstance(score, bool) or not isinstance(score, int) or not lo <= score <= hi:
        raise ConfigError(f"{kind} 分数应为 {lo}–{hi} 的整数，收到 {score!r} / a {kind} score must be an integer "
                          f"{lo}–{hi}, got {score!r}")
    return score


def _shop_exists(conn: sa.Connection, shop_id: Any) -> int:
    from ..core.store import shops

    if isinstance(shop_id, bool) or not isinstance(shop_id, int):
        raise ConfigError(f"店铺编号应为整数，收到 {shop_id!r} / shop id must be an integer, got {shop_id!r}")
    if conn.execute(sa.select(shops.c.id).where(shops.c.id == shop_id)).first() is None:
        raise NotFound(f"店铺 {shop_id} 不存在；用 reviewops status 查看店铺 / shop {shop_id} does not exist")
    return shop_id


def _links(conn: sa.Connection, shop_id: int, order_id: str | None) -> tuple[int | None, int | None]:
    """(case_id, customer_id) of an order: its customer and the newest case on a review of it."""
    from ..core.store import cases, orders, reviews

    if not order_id:
        return None, None
    customer = conn.execute(sa.select(orders.c.customer_id).where(orders.c.shop_id == shop_id,
                                                                   orders.c.order_id == order_id)).scalar()
    case = conn.execute(sa.select(cases.c.id).select_from(cases.join(reviews, reviews.c.id == cases.c.review_pk))
                        .where(cases.c.shop_id == shop_id, reviews.c.order_id == order_id)
                        .order_by(cases.c.id.desc())).scalar()
    return case, customer


def _insert_survey(conn: sa.Connection, *, shop_id: int, survey_key: str, kind: str, score: int,
                   answered_at: dt.datetime, order_id: str | None, case_id: int | None, customer_id: int | None,
                   source: str | None) -> bool:
    from ..core.store import surveys

    exists = conn.execute(sa.select(surveys.c.id).where(surveys.c.shop_id == shop_id,
                                                        surveys.c.survey_key == survey_key)).first()
    if exists is not None:
        return False
    if order_id and (case_id is None or customer_id is None):
        c, cu = _links(conn, shop_id, order_id)
        case_id = case_id if case_id is not None else c
        customer_id = customer_id if customer_id is not None else cu
    conn.execute(surveys.insert().values(shop_id=shop_id, survey_key=survey_key, kind=kind, score=score,
                                         order_id=order_id, case_id=case_id, customer_id=customer_id,
                                         answered_at=answered_at, source=source))
    return True


def record_survey(store: Store, *, shop_id: int, survey_key: str, kind: str, score: int,
                  answered_at: dt.datetime, order_id: str | None = None, case_id: int | None = None,
                  customer_id: int | None = None, source: str | None = None) -> bool:
    """Store one survey answer; True when written, False when ``survey_key`` was already stored.

    Raises :class:`ConfigError` for an unknown kind, a score out of range (csat 1–5, nps 0–10),
    an empty key or a naive time, and :class:`NotFound` for an unknown shop. The order's case and
    customer are looked up when not given.
    """
    score = _check_score(kind, score)
    answered_at = _aware(answered_at, "回答时间 answered_at")
    key = str(survey_key or "").strip()
    if not key:
        raise ConfigError("问卷编号为空 / the survey key is empty; give the survey tool's answer id")
    with store.write() as conn:
        _shop_exists(conn, shop_id)
        return _insert_survey(conn, shop_id=shop_id, survey_key=key, kind=kind, score=score, answered_at=answered_at,
                              order_id=(str(order_id).strip() or None) if order_id is not None else None,
                              case_id=case_id, customer_id=customer_id, source=source)


def record_training(store: Store, *, agent: str, module: str, at: dt.datetime, recorded_by: str,
                    passed: bool | None = None, score: float | None = None, note: str | None = None) -> int:
    """Store one O1 training result of ``agent`` (a user); returns its id.

    ``emotion`` (call-recording check) needs ``passed``; ``knowledge`` (quiz) needs ``score`` 0–100;
    other modules need one of them. Raises :class:`ConfigError` for an unknown module, a missing
    or bad result, a naive time, and :class:`NotFound` for an unknown agent.
    """
    from ..core.store import training_records, users, utcnow

    if module not in MODULES:
        raise ConfigError(f"未知的培训模块 {module!r}；可选：{'、'.join(MODULES)} / unknown training module {module!r}")
    at = _aware(at, "培训时间 at")
    if passed is not None and not isinstance(passed, bool):
        raise ConfigError(f"passed 应为 True/False，收到 {passed!r} / passed must be True or False")
    if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))
                              or not 0 <= float(score) <= 100):
        raise ConfigError(f"测验分数应在 0–100 之间，收到 {score!r} / a quiz score must be 0–100, got {score!r}")
    if module == "emotion" and passed is None:
        raise ConfigError("通话录音抽检（emotion）需要 passed=True/False / an emotion record needs passed")
    if module == "knowledge" and score is None:
        raise ConfigError("产品知识测验（knowledge）需要分数 score / a knowledge record needs a score")
    if passed is None and score is None:
        raise ConfigError(f"{module} 需要 passed 或 score / a training record needs passed or score")
    with store.write() as conn:
        if conn.execute(sa.select(users.c.name).where(users.c.name == agent)).first() is None:
            raise NotFound(f"用户 {agent!r} 不存在；先用 reviewops users add 创建 / user {agent!r} does not exist")
        return int(conn.execute(training_records.insert().values(
            agent=agent, module=module, at=at, passed=passed, score=None if score is None else float(score),
            note=note, recorded_by=recorded_by, recorded_at=utcnow()).returning(training_records.c.id)).scalar_one())


# ----------------------------------------------------------------------------- import
@dataclass
class SurveyImport:
    """What :func:`import_surveys` did: rows read, written, already stored, and the bad rows skipped."""

    file: str
    rows: int = 0
    inserted: int = 0
    duplicates: int = 0
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "rows": self.rows, "inserted": self.inserted, "duplicates": self.duplicates,
                "problems": [p.to_dict() for p in self.problems]}


def _read_table(path: Path) -> list[dict[str, Any]]:
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        df = pd.read_excel(path, dtype=object, engine="openpyxl")
    elif suffix == ".csv":
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except UnicodeDecodeError:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="gb18030")
    else:
        raise ConfigError(f"只支持 .csv 或 .xlsx 文件，收到 {path.name!r} / only .csv or .xlsx files, got {path.name!r}")
    df.columns = [str(c).strip() for c in df.columns]
    missing = [h for h in HEADERS if h not in df.columns]
    if missing:
        raise ImportRejected(str(path), [Problem(str(path), 1, h, None, f"缺少列「{h}」；需要：{'、'.join(HEADERS)}",
                                                 f"missing column {h!r}", "missing_column") for h in missing])
    return df.to_dict("records")


def _cell(v: Any) -> str:
    import pandas as pd

    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _parse_time(v: Any) -> dt.datetime:
    import pandas as pd

    t = v if isinstance(v, dt.datetime) else pd.Timestamp(_cell(v)).to_pydatetime()
    if t.tzinfo is None:
        from zoneinfo import ZoneInfo

        t = t.replace(tzinfo=ZoneInfo(_SHANGHAI))
    return t.astimezone(dt.UTC)


def import_surveys(store: Store, path: str | os.PathLike[str], *, shop_id: int, source: str | None = None,
                   skip_bad_rows: bool = False) -> SurveyImport:
    """Import survey answers from a CSV/XLSX with the headers of :data:`HEADERS` into ``shop_id``.

    Every row is checked first (key present and unique in the file, kind csat/nps, integer score in
    range, answer time readable); bad rows raise :class:`ImportRejected` listing row (as the
    spreadsheet shows it, header = row 1), column and value, and nothing is written — unless
    ``skip_bad_rows``, which writes the good rows and reports the bad ones. Keys already stored
    are counted as duplicates (importing the same file twice adds nothing).
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"文件不存在：{p} / file not found: {p}")
    name = p.name
    records = _read_table(p)
    result = SurveyImport(file=name, rows=len(records))
    good: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    col = {v: k for k, v in HEADERS.items()}
    for i, r in enumerate(records, start=2):
        def bad(field_: str, value: Any, zh: str, en: str, code: str) -> None:
            result.problems.append(Problem(name, i, col[field_], _cell(value), zh, en, code))  # noqa: B023

        n_before = len(result.problems)
        key = _cell(r["问卷编号"])
        if not key:
            bad("survey_key", r["问卷编号"], "问卷编号为空", "empty survey key", "empty")
        elif key in seen:
            bad("survey_key", key, f"问卷编号与第{seen[key]}行重复", f"duplicate of row {seen[key]}", "duplicate")
        else:
            seen[key] = i
        kind = _cell(r["类型"]).lower()
        if kind not in KINDS:
            bad("kind", r["类型"], "类型应为 csat 或 nps", "kind must be csat or nps", "kind")
        raw = _cell(r["分数"])
        score = None
        try:
            score = int(raw) if raw.lstrip("-").isdigit() else None
        except ValueError:
            score = None
        if score is None:
            bad("score", r["分数"], "分数应为整数", "score must be an integer", "score")
        elif kind in KINDS and not KINDS[kind][0] <= score <= KINDS[kind][1]:
            lo, hi = KINDS[kind]
            bad("score", r["分数"], f"{kind} 分数应在 {lo}–{hi}", f"{kind} score must be {lo}–{hi}", "range")
        try:
            at = _parse_time(r["回答时间"]) if _cell(r["回答时间"]) else None
        except (ValueError, TypeError):
            at = None
        if at is None:
            bad("answered_at", r["回答时间"], "回答时间无法识别（如 2026-11-20 10:30）",
                "unreadable answer time (e.g. 2026-11-20 10:30)", "time")
        if len(result.problems) == n_before:
            good.append({"survey_key": key, "kind": kind, "score": score, "answered_at": at,
                         "order_id": _cell(r["订单号"]) or None})
    if result.problems and not skip_bad_rows:
        raise ImportRejected(name, result.problems, rows_read=len(records))
    with store.write() as conn:
        _shop_exists(conn, shop_id)
        for g in good:
            if _insert_survey(conn, shop_id=shop_id, case_id=None, customer_id=None, source=source or name, **g):
                result.inserted += 1
            else:
                result.duplicates += 1
    return result


# ----------------------------------------------------------------------------- demo
def demo_surveys(store: Store, *, seed: int, now: dt.datetime, csat_share: float = 0.6,
                 nps_handled_share: float = 0.5, nps_baseline: int | None = None) -> dict[str, int]:
    """Seeded CSAT answers for ``csat_share`` of the resolved cases (1–2 days after resolution; satisfied
    customers mostly 4–5) and NPS answers from ``nps_handled_share`` of the handled customers and a
    sample of other customers who bought (``nps_baseline``, default as many as the handled ones);
    nothing after ``now``. With the checks of :func:`record_survey`, in one transaction; idempotent
    (keys ``demo-csat-…``/``demo-nps-…``)."""
    from ..core.store import cases, orders, reviews

    rng = random.Random(f"{seed}:surveys")
    with store.read() as conn:
        done = conn.execute(sa.select(cases.c.id, cases.c.shop_id, cases.c.resolved_at, cases.c.satisfied,
                                      reviews.c.order_id, reviews.c.customer_id)
                            .select_from(cases.join(reviews, reviews.c.id == cases.c.review_pk))
                            .where(cases.c.resolved_at.is_not(None)).order_by(cases.c.id)).all()
        handled = {r.customer_id for r in done if r.customer_id is not None}
        buyers = conn.execute(sa.select(orders.c.shop_id, orders.c.customer_id, sa.func.max(orders.c.order_id))
                              .where(orders.c.customer_id.is_not(None))
                              .group_by(orders.c.shop_id, orders.c.customer_id)
                              .order_by(orders.c.shop_id, orders.c.customer_id)).all()
    n = {"csat": 0, "nps": 0}
    answers: list[dict[str, Any]] = []
    for r in done:
        if rng.random() >= csat_share:
            continue
        at = r.resolved_at + dt.timedelta(hours=rng.uniform(1, 48))
        if at > now:
            continue
        score = rng.choices((5, 4, 3), (0.6, 0.32, 0.08))[0] if r.satisfied else rng.choices((1, 2, 3, 4),
                                                                                            (0.3, 0.35, 0.25, 0.1))[0]
        answers.append({"shop_id": r.shop_id, "survey_key": f"demo-csat-{r.id}", "kind": "csat", "score": score,
                            "answered_at": at, "order_id": r.order_id, "case_id": r.id, "customer_id": r.customer_id})
    nps_handled = [r for r in done if r.customer_id is not None]
    picked = [r for r in nps_handled if rng.random() < nps_handled_share]
    for r in picked:
        at = r.resolved_at + dt.timedelta(days=rng.uniform(3, 20))
        if at > now:
            continue
        score = rng.choices(range(11), (1, 1, 1, 2, 2, 4, 6, 10, 14, 14, 12) if r.satisfied else
                            (4, 4, 5, 6, 6, 6, 5, 4, 3, 2, 1))[0]
        answers.append({"shop_id": r.shop_id, "survey_key": f"demo-nps-c{r.id}", "kind": "nps", "score": score,
                            "answered_at": at, "order_id": r.order_id, "case_id": r.id, "customer_id": r.customer_id})
    others = [b for b in buyers if b.customer_id not in handled]
    k = min(len(others), nps_baseline if nps_baseline is not None else max(len(picked), 20))
    for b in rng.sample(others, k) if k else []:
        at = now - dt.timedelta(days=rng.uniform(1, 60))
        score = rng.choices(range(11), (2, 1, 2, 3, 4, 8, 10, 14, 16, 12, 8))[0]
        answers.append({"shop_id": b.shop_id, "survey_key": f"demo-nps-u{b.customer_id}", "kind": "nps", "score": score,
                            "answered_at": at, "order_id": None, "case_id": None, "customer_id": b.customer_id})
    with store.write() as conn:  # one transaction, the checks of record_survey
        for a in answers:
            _check_score(a["kind"], a["score"])
            a["answered_at"] = _aware(a["answered_at"], "回答时间 answered_at")
            _shop_exists(conn, a["shop_id"])
            n[a["kind"]] += _insert_survey(conn, source="demo", **a)
    return {"csat_answers": n["csat"], "nps_answers": n["nps"]}


def demo_training(store: Store, *, agents: list[str], seed: int, now: dt.datetime,
                  habits: dict[str, tuple[float, float]], weeks: int = 8, recorded_by: str = "laoli") -> dict[str, int]:
    """Seeded O1 records per agent: a weekly call-recording check (``emotion``, passed with the agent's rate)
    and a quiz (``knowledge``) every four weeks around the agent's mean score; nothing after ``now``.
    Skipped for an agent who already has records (idempotent)."""
    from ..core.store import clock, training_records

    rng = random.Random(f"{seed}:training")
    n = 0
    for a in agents:
        rate, mean = habits.get(a, (0.8, 80.0))
        with store.read() as conn:
            if conn.execute(sa.select(training_records.c.id).where(training_records.c.agent == a)).first():
                continue
        for w in range(weeks, 0, -1):
            at = now - dt.timedelta(days=7 * w - rng.uniform(0, 3))
            for _ in range(2):
                with clock(at):  # recorded when checked
                    record_training(store, agent=a, module="emotion", at=at, passed=rng.random() < rate,
                                    note="通话录音抽检 / call-recording check", recorded_by=recorded_by)
                n += 1
            if w % 4 == 0:
                score = round(min(100.0, max(0.0, rng.gauss(mean, 6.0))), 1)
                quiz = min(at + dt.timedelta(hours=2), now)
                with clock(quiz):
                    record_training(store, agent=a, module="knowledge", at=quiz, score=score,
                                    note="产品知识测验 / product quiz", recorded_by=recorded_by)
                n += 1
    return {"training_records": n}
