"""What operators read on the forms (issue 14 §5), headless.

* **No developer notes.** No form page — the notebooks' markdown and every text the built forms show
  (workbench with all its tabs, 申诉 included, case page, dashboard) — talks about how it is served
  (``reviewops serve``, ``.ipynb`` links, Voila, 服务器登录 …). Those notes live in docs/forms.md and
  docs/serve.md.
* **One time zone for people.** The approvals card, the queue's 更新于 clock and deadlines, the case
  page, report tables and the analysis export show Beijing time for a UTC instant, never "UTC" and never
  the server's local time: the whole module runs with the process time zone set to America/New_York
  (``TZ`` + ``time.tzset()``), so a naive ``datetime.now()`` or ``astimezone()`` would show up.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from reviewops.core.store import Store, cases
from reviewops.core.users import add_user, get_actor
from reviewops.handling.workbench import Workbench

ROOT = Path(__file__).resolve().parents[1]
BEIJING = dt.timezone(dt.timedelta(hours=8))  # China has kept UTC+8 without DST since 1991
INSTANT = dt.datetime(2026, 12, 7, 15, 29, tzinfo=dt.UTC)  # the example: 23:29 in Beijing
DEV_WORDS = ("reviewops serve", ".ipynb", "voila", "服务器登录", "open_session", "spec d1", "live figures",
             "reviewops.", "http_x_", "kernel", "内核")


def beijing(t: dt.datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return t.astimezone(BEIJING).strftime(fmt)


@pytest.fixture(scope="module", autouse=True)
def new_york() -> Iterator[None]:
    """The process runs on a New York clock: a server-local time would differ from Beijing by 13 hours."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    assert dt.datetime.now().astimezone().utcoffset() in (dt.timedelta(hours=-5), dt.timedelta(hours=-4))
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    from reviewops.demo import build_demo
    from reviewops.handling.opening import triage_store

    path = tmp_path_factory.mktemp("widgets_text") / "demo.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REVIEWOPS_PII_KEY", "5e" * 8 + "0123456789abcdef" * 3)
        build_demo(str(path), scale=0.02)
        with Store.open(str(path)) as s:
            triage_store(s, actor="test", via="test")
            add_user(s, "sup", role="supervisor", password="password1", actor="test")
        s = Store.open(str(path))
        try:
            yield s
        finally:
            s.close()


def wb(store: Store, name: str = "sup") -> Workbench:
    return Workbench(store, get_actor(store, name))


def texts(w: Any) -> Iterator[str]:
    """Every text a widget tree shows: HTML/Label values, descriptions, placeholders, options, tab titles."""
    for attr in ("value", "description", "placeholder", "tooltip"):
        v = getattr(w, attr, None)
        if isinstance(v, str):
            yield v
    for attr in ("options", "titles"):
        for o in getattr(w, attr, ()) or ():
            yield str(o[0] if isinstance(o, tuple) else o)
    for child in getattr(w, "children", ()) or ():
        yield from texts(child)


def visible_text(html: str) -> str:
    """An HTML value without its tags and stylesheet (what the page shows)."""
    html = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


# ------------------------------------------------------------------ developer wording
def test_form_notebooks_show_no_developer_notes() -> None:
    for nb in sorted((ROOT / "widgets").glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        shown = " ".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown").lower()
        assert shown.strip(), nb.name  # a page still has its title
        assert not [w for w in DEV_WORDS if w in shown], (nb.name, shown)


def test_built_forms_show_no_developer_notes(store: Store) -> None:
    from reviewops_widgets import build_case, build_dashboard, build_workbench

    app = build_workbench(wb(store), auto_refresh=False)
    for tab in (app.case, app.approvals, app.followups, app.appeals):  # build every tab (sup sees 申诉)
        assert tab.root is not None
    app.queue.open_case(1)  # what the queue says when it opens a case
    cid = int(app.queue.visible_case_ids()[0])
    case = build_case(wb(store), case_id=cid)
    dash = build_dashboard(wb(store), auto_refresh=False)
    try:
        for form in (app.root, case.root, dash.root):
            shown = " ".join(visible_text(t) for t in texts(form)).lower()
            assert not [w for w in DEV_WORDS if w in shown], [w for w in DEV_WORDS if w in shown]
    finally:
        app.close()
        dash.close()


# ------------------------------------------------------------------ one time zone for people
@settings(max_examples=60, deadline=None)
@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31), timezones=st.just(dt.UTC)))
def test_the_one_formatter_shows_beijing_time_whatever_the_server_clock(t: dt.datetime) -> None:
    import pandas as pd
    from reviewops.core.outputs import fmt_time, local_naive, now_text

    want = beijing(t)
    assert fmt_time(t) == want
    assert fmt_time(pd.Timestamp(t)) == want
    assert fmt_time(t.astimezone(dt.timezone(dt.timedelta(hours=-5)))) == want  # any aware zone
    assert fmt_time(t.replace(tzinfo=None)) == want  # naive = UTC, as the store keeps it; never server-local
    assert fmt_time(t.isoformat()) == want
    assert local_naive(t) == t.astimezone(BEIJING).replace(tzinfo=None)
    assert now_text(now=t) == beijing(t, "%H:%M:%S")


def test_no_time_is_empty() -> None:
    import pandas as pd
    from reviewops.core.outputs import fmt_time, local_naive

    assert fmt_time(None) == fmt_time(pd.NaT) == fmt_time(float("nan")) == ""
    assert fmt_time(None, empty="—") == "—" and local_naive(None) is None


def test_the_approvals_card_shows_beijing_time() -> None:
    from reviewops_widgets.approvals import item_html

    card = visible_text(item_html({"case_id": 7, "version": 2, "platform": "taobao", "shop": "店",
                                   "requested_at": INSTANT, "requested_by": "xiaowang", "may_approve": True}))
    assert "提出时间" in card and "2026-12-07 23:29" in card
    assert "UTC" not in card and "15:29" not in card and "10:29" not in card  # neither UTC nor New York


def test_the_queue_clock_and_deadlines_are_beijing_time(store: Store) -> None:
    from reviewops_widgets import build_queue

    q = build_queue(wb(store), auto_refresh=False)
    q.refresh(now=INSTANT)
    counts = visible_text(q.counts.value)
    assert "更新于 23:29:00" in counts, counts
    q.refresh()  # the real clock: Beijing, not New York
    before = dt.datetime.now(dt.UTC)
    shown = re.search(r"更新于 (\d\d:\d\d):\d\d", q.counts.value).group(1)
    assert shown in {beijing(before, "%H:%M"), beijing(before - dt.timedelta(minutes=1), "%H:%M")}, shown
    assert "UTC" not in q.counts.value
    row = next(r for r in q.df.to_dict("records") if r["due_at"] is not None and r["due_at"] == r["due_at"])
    assert row["due_local"] == beijing(row["due_at"].to_pydatetime() if hasattr(row["due_at"], "to_pydatetime")
                                       else row["due_at"])


def test_the_case_page_shows_beijing_time(store: Store) -> None:
    from reviewops_widgets import build_case
    from reviewops_widgets.case import _local

    with store.read() as conn:
        cid, due = conn.execute(sa.select(cases.c.id, cases.c.sla_due_at)
                                .where(cases.c.sla_due_at.is_not(None)).order_by(cases.c.id)).first()
    form = build_case(wb(store), case_id=cid)
    shown = " ".join(visible_text(t) for t in texts(form.root))
    assert f"截止 {beijing(due)}" in shown, shown[:400]
    assert "UTC" not in shown
    assert _local(INSTANT) == "2026-12-07 23:29"
    assert form.view.due_local == beijing(due)


def test_report_tables_and_lists_show_beijing_time() -> None:
    import pandas as pd
    from reviewops.core.outputs import html_table
    from reviewops.handling.sweep import _local as sweep_local
    from reviewops.core.outputs import fmt_time as _fmt_local
    from reviewops.handling.workbench import _local as workbench_local

    table = visible_text(html_table(pd.DataFrame({"截止（北京时间）": [pd.Timestamp(INSTANT), pd.NaT]})))
    assert "2026-12-07 23:29" in table and "+00:00" not in table and "UTC" not in table
    for f in (sweep_local, _fmt_local, workbench_local):
        assert f(INSTANT) == "2026-12-07 23:29", f


def test_the_dashboard_and_report_mail_times_are_beijing_time() -> None:
    from reviewops.reporting.dashboard import _beijing

    assert _beijing(INSTANT) == "2026-12-07 23:29:00"
    assert _beijing(INSTANT.replace(tzinfo=None)) == "2026-12-07 23:29:00"  # stored naive = UTC


def test_the_analysis_export_is_beijing_time(store: Store, tmp_path: Path) -> None:
    import openpyxl
    from reviewops.reporting.analysis import export_analysis

    from reviewops.core.store import reviews

    with store.read() as conn:  # the export lists the cases of the reviews posted in the period
        cid, created, posted = conn.execute(
            sa.select(cases.c.id, cases.c.created_at, reviews.c.created_at)
            .select_from(cases.join(reviews, reviews.c.id == cases.c.review_pk))
            .order_by(reviews.c.created_at.desc())).first()
    day = posted.astimezone(BEIJING).date()
    out = export_analysis(store, f"{day:%Y-%m-%d}..{day:%Y-%m-%d}", tmp_path / "a.xlsx", actor="test")
    ws = openpyxl.load_workbook(out.path, read_only=True)["案件"]
    rows = list(ws.iter_rows(values_only=True))
    head = list(rows[0])
    row = next(r for r in rows[1:] if r[head.index("案件号")] == cid)
    # Beijing wall-clock time (a New York or UTC value would be 13 or 8 hours off)
    assert abs(row[head.index("建案时间")] - created.astimezone(BEIJING).replace(tzinfo=None)) < dt.timedelta(seconds=1)
    about = " ".join(str(c) for r in openpyxl.load_workbook(out.path, read_only=True)["说明"].iter_rows(values_only=True)
                     for c in r if c)
    assert "北京时间" in about and "UTC" not in about
