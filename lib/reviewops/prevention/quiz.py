"""P1 knowledge quiz (SPEC P1, O1; issue 19): questions drawn from the 知识库 per agent, checked, stored.

* :func:`draw` — pure: the questions of one quiz from the knowledge base, deterministic for a seed. Each question
  is an entry's 问题 with four options (单选): the entry's 答案 and three other entries' answers (same category
  first), shuffled. Entries that fit the agent's products and categories come first (:func:`agent_focus`: the
  cases assigned to the agent), so the quiz covers what the agent handles; the rest fill up to ``n``.
* :func:`grade` — pure: the answers against the key; ``passed`` when ``correct × 100 ≥ pass_mark × total``
  (exactly at the mark passes; integers, no rounding).
* :func:`new_quiz` / :func:`open_quiz` / :func:`submit_quiz` / :func:`quiz_results` — the stored attempts.

**Storage.** An attempt is one row of ``training_records`` (module ``knowledge``, the O1 table the staff scorecard
reads): created with ``score`` and ``passed`` empty and the quiz (questions, options and the key) as JSON in
``note``; submitting sets ``at`` (the submission time), ``score`` (0–100, one decimal), ``passed`` and adds the
answers. The scorecard counts a knowledge record only once it has a score, so an open quiz is not a result. The
key stays in the store and the process that checks it: :class:`QuizView` (what a form or the terminal shows) has
the questions and options only; the key is read again from the store on submission. A quiz is submitted once.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.errors import AccessDenied, ConfigError, NotFound
from ..core.policy import KB_CATEGORY_ZH, KB_GENERAL, Policy
from .knowledge import product_matches, product_terms

if TYPE_CHECKING:
    from ..core.store import Store

__all__ = ["LETTERS", "QuizClosed", "QuizResult", "QuizView", "agent_focus", "draw", "grade", "new_quiz",
           "open_quiz", "parse_answers", "quiz_results", "submit_quiz"]

LETTERS = "ABCD"
OPTIONS = 4
MODULE = "knowledge"
FORMAT = "reviewops-quiz/1"


class QuizClosed(ConfigError):
    """The quiz was already submitted (a quiz is answered once; start a new one)."""


@dataclass(frozen=True)
class Question:
    """One question as shown: number (1-based), the entry's question, its options, the category and product."""

    number: int
    question: str
    options: tuple[str, ...]
    category: str
    category_zh: str
    product: str


@dataclass(frozen=True)
class QuizView:
    """What an agent sees before submitting: no key. ``quiz_id`` is the training record's id."""

    quiz_id: int
    agent: str
    created_at: dt.datetime
    pass_mark: int
    questions: tuple[Question, ...]
    submitted: bool = False


@dataclass(frozen=True)
class QuizResult:
    """A graded quiz: counts, score 0–100 (one decimal), passed, and per question the chosen and correct letters."""

    quiz_id: int
    agent: str
    correct: int
    total: int
    score: float
    pass_mark: int
    passed: bool
    chosen: tuple[str | None, ...] = ()
    key: tuple[str, ...] = ()
    wrong: tuple[int, ...] = field(default=())  # 1-based numbers answered wrongly


# ------------------------------------------------------------------ pure parts
def agent_focus(store: Store, agent: str) -> tuple[list[str], list[str]]:
    """(product strings, categories) of the cases assigned to ``agent``: what the quiz should cover first."""
    from ..core.store import cases, reviews

    with store.read() as conn:
        rows = conn.execute(sa.select(cases.c.primary_category, cases.c.categories, reviews.c.product_title,
                                      reviews.c.sku_text)
                            .select_from(cases.outerjoin(reviews, reviews.c.id == cases.c.review_pk))
                            .where(cases.c.assignee == agent)).all()
    products: set[str] = set()
    cats: set[str] = set()
    for primary, categories, title, sku in rows:
        if primary:
            cats.add(primary)
        try:
            cats.update(c for c in json.loads(categories or "[]") if isinstance(c, str))
        except (ValueError, TypeError):
            pass
        products.update(p for p in (title, sku) if p)
    return sorted(products), sorted(cats)


def _relevance(entry: Mapping[str, Any], products: Sequence[str], categories: Sequence[str]) -> int:
    """2: the entry is for one of the agent's products; 1: for one of the agent's categories (or 通用); 0: neither."""
    if product_terms(entry.get("product")):
        return 2 if product_matches(entry, products) else 0
    if entry["category"] in categories or (categories and entry["category"] == KB_GENERAL):
        return 1
    return 0


def draw(entries: Sequence[Mapping[str, Any]], n: int, seed: int | str, *, products: Sequence[str] = (),
         categories: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The questions of a quiz with their key: [{entry, question, options, correct (0–3), category, product}].

    Deterministic for (entries, n, seed, products, categories). Entries with distinct answers only (an entry
    whose answer repeats another's could not be told apart). Raises :class:`ConfigError` when ``n`` < 1 or the
    base has fewer than ``OPTIONS`` distinct answers.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"题数应为正整数，收到 {n!r} / the number of questions must be a positive whole number")
    pool: list[tuple[int, Mapping[str, Any]]] = []
    seen: set[str] = set()
    for i, e in enumerate(entries):
        if e["answer"] not in seen:
            seen.add(e["answer"])
            pool.append((i, e))
    if len(pool) < OPTIONS:
        raise ConfigError(f"知识库只有 {len(pool)} 条不同的答案，出一道四选一的题至少需要 {OPTIONS} 条；请在策略的“知识库”表"
                          f"补充条目 / the knowledge base has {len(pool)} distinct answers; a quiz needs at least {OPTIONS}")
    rng = random.Random(f"reviewops-quiz:{seed}")
    groups: dict[int, list[tuple[int, Mapping[str, Any]]]] = {2: [], 1: [], 0: []}
    for i, e in pool:
        groups[_relevance(e, products, categories)].append((i, e))
    order: list[tuple[int, Mapping[str, Any]]] = []
    for level in (2, 1, 0):
        g = groups[level]
        rng.shuffle(g)
        order += g
    chosen = order[:min(n, len(order))]
    out: list[dict[str, Any]] = []
    for i, e in chosen:
        same = [x for j, x in pool if j != i and x["category"] == e["category"]]
        other = [x for j, x in pool if j != i and x["category"] != e["category"]]
        rng.shuffle(same)
        rng.shuffle(other)
        distractors = [x["answer"] for x in (same + other)[:OPTIONS - 1]]
        options = [e["answer"], *distractors]
        rng.shuffle(options)
        out.append({"entry": i, "question": e["question"], "options": options, "correct": options.index(e["answer"]),
                    "category": e["category"], "product": e.get("product") or ""})
    return out


def parse_answers(answers: Iterable[Any] | str, total: int) -> list[int | None]:
    """Answers as option indexes: letters (``A``–``D``, any case, full-width too) or 0-based ints, one per
    question in order; text: one per line, or ``1 B`` / ``1=B`` / ``1:B`` lines in any order, or ``ABDC``.
    None = not answered. Raises :class:`ConfigError` naming the bad answer."""
    def one(v: Any, where: str) -> int | None:
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        if isinstance(v, bool):
            raise ConfigError(f"{where}的答案 {v!r} 无效 / answer {v!r} is not valid")
        if isinstance(v, int):
            if 0 <= v < OPTIONS:
                return v
            raise ConfigError(f"{where}的答案 {v} 超出范围 0–{OPTIONS - 1} / answer {v} out of range")
        s = str(v).strip().upper().replace("Ａ", "A").replace("Ｂ", "B").replace("Ｃ", "C").replace("Ｄ", "D")
        if len(s) == 1 and s in LETTERS:
            return LETTERS.index(s)
        raise ConfigError(f"{where}的答案「{v}」无效；请填写 A、B、C 或 D / answer {v!r} is not one of A B C D")

    if isinstance(answers, str):
        lines = [ln.strip() for ln in answers.splitlines() if ln.strip() and not ln.strip().startswith("#")]
        numbered = [re.fullmatch(r"(\d+)\s*[.、:：=\s]\s*(\S+)", ln) for ln in lines]
        if lines and all(numbered):
            out: list[int | None] = [None] * total
            for m in numbered:
                k = int(m[1])
                if not 1 <= k <= total:
                    raise ConfigError(f"题号 {k} 不存在；本测验共 {total} 题 / question {k} does not exist ({total} questions)")
                out[k - 1] = one(m[2], f"第{k}题")
            return out
        if len(lines) == 1 and len(lines[0]) == total and all(ch.upper() in LETTERS for ch in lines[0]):
            lines = list(lines[0])
        answers = lines
    values = list(answers)
    if len(values) > total:
        raise ConfigError(f"给了 {len(values)} 个答案，本测验只有 {total} 题 / {len(values)} answers for {total} questions")
    return [one(v, f"第{k + 1}题") for k, v in enumerate(values)] + [None] * (total - len(values))


def grade(key: Sequence[int], chosen: Sequence[int | None], pass_mark: int) -> tuple[int, float, bool]:
    """(correct, score 0–100 with one decimal, passed): passed when correct × 100 ≥ pass_mark × total."""
    total = len(key)
    if total == 0:
        raise ConfigError("测验没有题目 / the quiz has no questions")
    correct = sum(1 for k, c in zip(key, chosen, strict=False) if c is not None and c == k)
    return correct, round(correct * 100.0 / total, 1), correct * 100 >= int(pass_mark) * total


# ------------------------------------------------------------------ storage
def _policy(store: Store) -> Policy:
    from ..core.policy import current_policy

    return current_policy(store)


def _view(row: Mapping[str, Any], data: Mapping[str, Any]) -> QuizView:
    qs = tuple(Question(number=k + 1, question=q["question"], options=tuple(q["options"]), category=q["category"],
                        category_zh=KB_CATEGORY_ZH.get(q["category"], q["category"]), product=q.get("product") or "")
               for k, q in enumerate(data["questions"]))
    return QuizView(quiz_id=int(row["id"]), agent=row["agent"], created_at=row["recorded_at"],
                    pass_mark=int(data["pass_mark"]), questions=qs, submitted=data.get("state") == "submitted")


def _load(conn: sa.Connection, quiz_id: Any) -> tuple[Mapping[str, Any], dict[str, Any]]:
    from ..core.store import training_records

    try:
        qid = int(quiz_id)
    except (TypeError, ValueError):
        raise ConfigError(f"测验编号应为整数，收到 {quiz_id!r} / a quiz id is a whole number") from None
    row = conn.execute(sa.select(training_records).where(training_records.c.id == qid,
                                                         training_records.c.module == MODULE)).mappings().first()
    data: dict[str, Any] = {}
    if row is not None:
        try:
            data = json.loads(row["note"] or "")
        except ValueError:
            data = {}
    if row is None or not isinstance(data, dict) or data.get("format") != FORMAT:
        raise NotFound(f"没有编号为 {quiz_id} 的知识测验；用 reviewops quiz new --agent 名字 新建 / no knowledge quiz "
                       f"{quiz_id}; create one with reviewops quiz new --agent NAME")
    return row, data


def new_quiz(store: Store, agent: str, *, n: int | None = None, seed: int | None = None,
             created_by: str | None = None, policy: Policy | None = None) -> QuizView:
    """Draw a quiz for ``agent`` (a user) from the current policy's 知识库 and store it open; returns it without key.

    ``n`` defaults to the policy's ``quiz_questions``; ``seed`` to a random one (stored, so the quiz can be drawn
    again from the same policy version). The pass mark is the policy's ``quiz_pass_mark`` at creation.
    """
    from ..core.store import training_records, users, utcnow

    policy = policy or _policy(store)
    n = int(policy.setting("quiz_questions")) if n is None else n
    if seed is None:
        seed = random.SystemRandom().randrange(1, 2**31)
    with store.read() as conn:
        if conn.execute(sa.select(users.c.name).where(users.c.name == agent)).first() is None:
            raise NotFound(f"用户 {agent!r} 不存在；先用 reviewops users add 创建 / user {agent!r} does not exist")
    products, categories = agent_focus(store, agent)
    questions = draw(policy.knowledge(), n, seed, products=products, categories=categories)
    now = utcnow()
    data = {"format": FORMAT, "state": "open", "seed": seed, "n": n, "policy_version": policy.version,
            "pass_mark": int(policy.setting("quiz_pass_mark")), "questions": questions}
    with store.write() as conn:
        qid = int(conn.execute(training_records.insert().values(
            agent=agent, module=MODULE, at=now, passed=None, score=None,
            note=json.dumps(data, ensure_ascii=False, sort_keys=True), recorded_by=created_by or agent,
            recorded_at=now).returning(training_records.c.id)).scalar_one())
        row, data = _load(conn, qid)
    return _view(row, data)


def open_quiz(store: Store, quiz_id: Any, *, agent: str | None = None) -> QuizView:
    """A stored quiz as shown to its agent (no key). With ``agent``, another agent's quiz is refused."""
    with store.read() as conn:
        row, data = _load(conn, quiz_id)
    if agent is not None and row["agent"] != agent:
        raise AccessDenied(f"测验 {quiz_id} 属于 {row['agent']}，不是 {agent} / quiz {quiz_id} belongs to another agent")
    return _view(row, data)


def submit_quiz(store: Store, quiz_id: Any, answers: Iterable[Any] | str, *, agent: str | None = None
                ) -> QuizResult:
    """Check ``answers`` (:func:`parse_answers`) against the stored key, store the result, return it.

    With ``agent`` (the signed-in user), only that agent's quiz is accepted. A quiz is submitted once
    (:class:`QuizClosed` after that). Unanswered questions count as wrong.
    """
    from ..core.store import training_records, utcnow

    with store.write() as conn:
        row, data = _load(conn, quiz_id)
        if agent is not None and row["agent"] != agent:
            raise AccessDenied(f"测验 {quiz_id} 属于 {row['agent']}，不能由 {agent} 提交 / quiz {quiz_id} belongs to "
                               "another agent")
        if data.get("state") != "open" or row["score"] is not None:
            raise QuizClosed(f"测验 {quiz_id} 已于 {row['at']:%Y-%m-%d %H:%M} UTC 提交，成绩 {row['score']}；每次测验只能提交一次，"
                             f"请新建测验 / quiz {quiz_id} was already submitted; start a new one")
        key = [int(q["correct"]) for q in data["questions"]]
        chosen = parse_answers(answers, len(key))
        correct, score, passed = grade(key, chosen, int(data["pass_mark"]))
        now = utcnow()
        data.update(state="submitted", answers=chosen, correct=correct, total=len(key), submitted_at=now.isoformat())
        conn.execute(training_records.update().where(training_records.c.id == row["id"]).values(
            at=now, score=score, passed=passed, note=json.dumps(data, ensure_ascii=False, sort_keys=True)))
    return QuizResult(quiz_id=int(row["id"]), agent=row["agent"], correct=correct, total=len(key), score=score,
                      pass_mark=int(data["pass_mark"]), passed=passed,
                      chosen=tuple(None if c is None else LETTERS[c] for c in chosen),
                      key=tuple(LETTERS[k] for k in key),
                      wrong=tuple(k + 1 for k, (a, c) in enumerate(zip(key, chosen, strict=True)) if a != c))


def quiz_results(store: Store, agent: str | None = None, *, include_open: bool = False) -> list[dict[str, Any]]:
    """Knowledge quizzes, newest first: {quiz_id, agent, created_at, submitted_at, questions, correct, score,
    pass_mark, passed, state}. Also lists knowledge records entered otherwise (``reviewops`` demo, surveys) with
    their score, ``questions`` empty. Open quizzes only with ``include_open``."""
    from ..core.store import training_records

    q = sa.select(training_records).where(training_records.c.module == MODULE)
    if agent is not None:
        q = q.where(training_records.c.agent == agent)
    with store.read() as conn:
        rows = conn.execute(q.order_by(training_records.c.at.desc(), training_records.c.id.desc())).mappings().all()
    out: list[dict[str, Any]] = []
    for r in rows:
        try:
            data = json.loads(r["note"] or "")
        except ValueError:
            data = {}
        quiz = isinstance(data, dict) and data.get("format") == FORMAT
        state = (data.get("state") if quiz else "recorded") or "recorded"
        if state == "open" and not include_open:
            continue
        out.append({"quiz_id": int(r["id"]), "agent": r["agent"], "created_at": r["recorded_at"],
                    "submitted_at": r["at"] if r["score"] is not None else None,
                    "questions": int(data.get("total") or len(data.get("questions") or [])) if quiz else None,
                    "correct": data.get("correct") if quiz else None, "score": r["score"],
                    "pass_mark": data.get("pass_mark") if quiz else None, "passed": r["passed"], "state": state})
    return out
