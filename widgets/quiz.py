"""知识测验 (SPEC P1, O1; issue 19): the signed-in user takes a knowledge quiz drawn from the policy's 知识库.

``build_quiz(wb)`` shows the user's past results and a 开始新测验 button. A new quiz
(:func:`reviewops.prevention.quiz.new_quiz`, for ``wb.actor.name`` only — never a name from a widget) is shown
as one group of four options per question. The form holds a :class:`~reviewops.prevention.quiz.QuizView`, which
has no key: the correct options stay in the store and are read only when 提交答案 calls
:func:`~reviewops.prevention.quiz.submit_quiz`, which checks the answers, stores the result and returns the score,
the pass mark (the policy's ``quiz_pass_mark``) and, only then, the correct letter of each question answered
wrongly. Unanswered questions count as wrong; the form asks before submitting with some unanswered.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from .common import (
    STYLE,
    Form,
    button,
    esc,
    guard,
    msg_html,
    section,
    set_visible,
    table_html,
)

__all__ = ["QuizForm", "build_quiz", "history_html", "result_html"]


def history_html(rows: list[dict[str, Any]]) -> str:
    """The user's submitted quizzes, newest first (escaped)."""
    from reviewops.core.outputs import fmt_time

    def verdict(r: dict[str, Any]) -> str:
        return {True: "及格", False: "未及格"}.get(r["passed"], "—")

    return table_html(["测验", "提交时间（北京）", "答对", "得分", "及格线", "结果"],
                      [[r["quiz_id"], fmt_time(r["submitted_at"], empty="—"),
                        f"{r['correct']}/{r['questions']}" if r["questions"] else "—",
                        "—" if r["score"] is None else f"{r['score']:g}",
                        "—" if r["pass_mark"] is None else r["pass_mark"], verdict(r)] for r in rows],
                      cls="ro-quiz-history-table", empty="还没有测验成绩")


def result_html(r: Any) -> str:
    """A graded quiz: score, pass mark, verdict and the questions answered wrongly with the correct letter."""
    kind = "ok" if r.passed else "error"
    head = msg_html(kind, f"答对 {r.correct}/{r.total} 题，得分 {r.score:g} 分，及格线 {r.pass_mark} 分 — "
                          + ("及格" if r.passed else "未及格"))
    wrong = table_html(["题号", "您的答案", "正确答案"],
                       [[k, r.chosen[k - 1] or "未答", r.key[k - 1]] for k in r.wrong],
                       cls="ro-quiz-wrong", empty="全部答对")
    return f'<div class="ro-quiz-score">{head}{wrong}</div>'


class QuizForm(Form):
    """知识测验. Handles: ``start`` (Button 开始新测验), ``questions_box``, ``choices`` (one RadioButtons per question,
    options ``A. …``, value the option index or None), ``submit`` (Button 提交答案), ``confirm`` (Checkbox: submit
    with questions unanswered), ``result`` (HTML, filled only after submitting), ``history`` (HTML);
    ``quiz`` (the open :class:`~reviewops.prevention.quiz.QuizView` — no key) and ``last_result``. Every action
    re-checks the signed-in user in the store; a user disabled since the page opened gets the form revoked."""

    name = "quiz"

    def __init__(self, wb: Any):
        super().__init__(wb)
        self.quiz: Any = None
        self.last_result: Any = None
        self.choices: list[widgets.RadioButtons] = []
        who = widgets.HTML(f'<div class="ro-sub">当前用户：<b>{esc(wb.actor.label)}</b>；测验题目来自店铺策略的“知识库”，'
                           f"提交后才显示成绩和正确答案</div>")
        who.add_class("ro-quiz-user")
        # long options wrap inside their own row (ipywidgets keeps radio labels on one line by default)
        css = widgets.HTML("<style>.ro-quiz-choice{height:auto!important}.ro-quiz-choice .widget-radio-box{height:auto}"
                           ".ro-quiz-choice .widget-radio-box label{display:flex;flex-direction:row-reverse;justify-content:flex-end;"
                           "white-space:normal;"
                           "height:auto;line-height:1.5;margin:2px 0;align-items:flex-start}.ro-quiz-choice .widget-radio-box input{margin-top:4px;"
                           "flex:none}</style>", layout=widgets.Layout(display="none"))
        self.start = button("开始新测验", "ro-quiz-start", style="primary", icon="play")
        self.start.on_click(guard(self.status, lambda _b: self.new()))
        self.questions_box = widgets.VBox([])
        self.questions_box.add_class("ro-quiz-questions")
        self.confirm = widgets.Checkbox(value=False, description="还有未答的题，仍然提交（未答按答错计）", indent=False,
                                        style=STYLE, layout=widgets.Layout(width="auto"))
        self.confirm.add_class("ro-quiz-confirm")
        set_visible(self.confirm, False)
        self.submit = button("提交答案", "ro-quiz-submit", style="success", icon="check")
        self.submit.on_click(guard(self.status, lambda _b: self.send()))
        self.submit_bar = widgets.HBox([self.submit, self.confirm],
                                       layout=widgets.Layout(flex_flow="row wrap", align_items="center"))
        set_visible(self.submit_bar, False)
        self.result = widgets.HTML("")
        self.result.add_class("ro-quiz-result")
        self.history = widgets.HTML("")
        self.history.add_class("ro-quiz-history")
        self._finish(
            css, who, widgets.HBox([self.start]), self.status.widget,
            section("测验", self.questions_box, self.submit_bar, self.result, sub="单选，每题一个答案 / one answer each",
                    cls="ro-quiz-box"),
            section("我的成绩", self.history, sub="最新在前 / newest first", cls="ro-quiz-history-box"),
        )
        self.refresh_history()

    # ------------------------------------------------------------ reads
    def _still_allowed(self) -> bool:
        """Re-check the signed-in user in the store (disabled since the page opened → the form is revoked)."""
        from reviewops.core.errors import AccessDenied
        from reviewops.core.users import get_actor

        try:
            get_actor(self.wb.store, self.wb.actor.name)
        except AccessDenied as e:
            self.revoke(e)
            return False
        return True

    def refresh_history(self) -> None:
        from reviewops.prevention.quiz import quiz_results

        if not self._still_allowed():
            return
        self.history.value = history_html(quiz_results(self.wb.store, self.wb.actor.name))

    def clear_data(self) -> None:
        self.quiz = None
        self.last_result = None
        self.choices = []
        self.questions_box.children = []
        self.result.value = ""
        self.history.value = ""
        set_visible(self.submit_bar, False)

    # ------------------------------------------------------------ actions
    def new(self) -> Any:
        """Draw a quiz for the signed-in user and show its questions (no key)."""
        from reviewops.prevention.quiz import LETTERS, new_quiz

        if not self._still_allowed():
            return None
        view = new_quiz(self.wb.store, self.wb.actor.name, created_by=self.wb.actor.name, policy=self.wb.policy)
        self.quiz = view
        self.last_result = None
        self.result.value = ""
        boxes, self.choices = [], []
        for q in view.questions:
            scope = q.category_zh + (f" · {q.product.replace(';', '、')}" if q.product else "")
            head = widgets.HTML(f'<div class="ro-quiz-q"><b>{esc(q.number)}. {esc(q.question)}</b> '
                                f'<span class="ro-sub">（{esc(scope)}）</span></div>')
            radio = widgets.RadioButtons(options=[(f"{LETTERS[i]}. {o}", i) for i, o in enumerate(q.options)],
                                         value=None, layout=widgets.Layout(width="100%"))
            radio.add_class("ro-quiz-choice")
            radio.add_class(f"ro-quiz-choice-{q.number}")
            self.choices.append(radio)
            boxes.append(widgets.VBox([head, radio]))
        self.questions_box.children = boxes
        self.confirm.value = False
        set_visible(self.confirm, False)
        self.submit.disabled = False
        set_visible(self.submit_bar, True)
        self.status.info(f"测验 #{view.quiz_id}：共 {len(view.questions)} 题，及格线 {view.pass_mark} 分；答完点“提交答案”")
        return view

    def answers(self) -> list[int | None]:
        return [c.value for c in self.choices]

    def send(self) -> Any:
        """Submit the chosen options; the library checks them against the stored key and stores the result."""
        from reviewops.core.errors import ConfigError
        from reviewops.prevention.quiz import submit_quiz

        if self.quiz is None:
            raise ConfigError("请先点“开始新测验” / start a quiz first")
        answers = self.answers()
        missing = [k + 1 for k, a in enumerate(answers) if a is None]
        if missing and not self.confirm.value:
            set_visible(self.confirm, True)
            self.status.warn(f"第 {'、'.join(map(str, missing))} 题还没有作答；答完再提交，或勾选“仍然提交”")
            return None
        if not self._still_allowed():
            return None
        result = submit_quiz(self.wb.store, self.quiz.quiz_id, answers, agent=self.wb.actor.name)
        self.last_result = result
        self.result.value = result_html(result)
        for c in self.choices:
            c.disabled = True
        self.submit.disabled = True
        set_visible(self.confirm, False)
        self.quiz = None
        self.refresh_history()
        (self.status.ok if result.passed else self.status.warn)(
            f"已提交：得分 {result.score:g} 分（及格线 {result.pass_mark} 分），{'及格' if result.passed else '未及格'}")
        return result


def build_quiz(wb: Any) -> QuizForm:
    """The 知识测验 form for the signed-in ``wb.actor``."""
    return QuizForm(wb)
