"""The 知识测验 form (issue 19 P1) in a real browser (Debian Chromium via Playwright) against ``reviewops serve``.

Same session server and demo store as the other browser tests (tests/e2e/conftest.py). The demo agent xiaowang
opens 知识测验 from the start page, starts a quiz, sees the questions with no answer marked, picks the correct
option of every question but the last (read here with plain SQL from the stored key) and submits: the page shows
the score and the verdict against the pass mark, and the store holds the same result.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from e2e_site import Server, close_form, login, open_form
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

TIMEOUT = 30_000


def newest_quiz(store: Any, agent: str) -> tuple[int, list[int], Any]:
    """(id, key, score) of the agent's newest knowledge quiz, read with plain SQL."""
    from reviewops.core.store import training_records

    with store.read() as conn:
        row = conn.execute(sa.select(training_records.c.id, training_records.c.note, training_records.c.score)
                           .where(training_records.c.agent == agent, training_records.c.module == "knowledge")
                           .order_by(training_records.c.id.desc()).limit(1)).one()
    return row.id, [q["correct"] for q in json.loads(row.note)["questions"]], row.score


def test_an_agent_takes_a_quiz_and_sees_the_score_only_after_submitting(site: Server, store: Any,
                                                                        browser: Any) -> None:
    ctx = login(browser, site, "xiaowang")
    page = None
    try:
        start = ctx.new_page()
        start.goto(site.base + "/")
        expect(start.locator("a[href*='quiz.ipynb']")).to_contain_text("知识测验")
        start.close()
        page = open_form(ctx, site, "quiz.ipynb", ".ro-quiz-start")
        page.locator(".ro-quiz-start").click()
        page.wait_for_selector(".ro-quiz-choice-1", state="visible", timeout=TIMEOUT)
        quiz_id, key, score = newest_quiz(store, "xiaowang")
        assert score is None and len(key) == 10  # the policy's quiz_questions
        choices = page.locator(".ro-quiz-choice")
        expect(choices).to_have_count(len(key))
        # before submitting: nothing chosen, no verdict, no answer marked on the page
        assert page.locator(".ro-quiz-choice input:checked").count() == 0
        assert page.locator(".ro-quiz-result").inner_text().strip() == ""
        assert "正确答案" not in page.locator(".ro-quiz-box").inner_text()
        for n, k in enumerate(key, start=1):
            pick = k if n < len(key) else (k + 1) % 4  # the last one wrong: 9/10 = 90 < 95
            page.locator(f".ro-quiz-choice-{n} .widget-radio-box label").nth(pick).click()
        page.locator(".ro-quiz-submit").click()
        result = page.locator(".ro-quiz-result .ro-quiz-score")
        expect(result).to_contain_text("得分 90 分", timeout=TIMEOUT)
        expect(result).to_contain_text("及格线 95 分")
        expect(result).to_contain_text("未及格")
        expect(page.locator(".ro-quiz-wrong")).to_contain_text(str(len(key)))
        assert newest_quiz(store, "xiaowang")[0] == quiz_id
        assert newest_quiz(store, "xiaowang")[2] == 90.0
        expect(page.locator(".ro-quiz-history")).to_contain_text(str(quiz_id))
    finally:
        if page is not None:
            close_form(page)
        ctx.close()
