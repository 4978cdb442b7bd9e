"""The papermill playbooks (issue 5): Jupytext pairing, and a top-to-bottom run on the demo shop.

Only ``weekly_top3`` exists so far. Each playbook is committed as a Jupytext ``py:percent`` source
and a paired, output-free ``.ipynb``; the run tests execute the ``.ipynb`` with papermill's Python
API in a fresh kernel, with every path taken from parameters (``cwd`` is a scratch directory).
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
jupytext = pytest.importorskip("jupytext")
pm = pytest.importorskip("papermill")

import reviewops
import sqlalchemy as sa
from reviewops.reporting.reports import iso_week, weekly_top3
from reviewops.runner import playbooks_dir

# the installed playbooks (reviewops_playbooks; the same files as playbooks/ in the repository)
PLAYBOOKS = playbooks_dir()
NOTEBOOKS = sorted(PLAYBOOKS.glob("*.ipynb"))


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def test_weekly_top3_playbook_exists() -> None:
    assert (PLAYBOOKS / "weekly_top3.ipynb").exists() and (PLAYBOOKS / "weekly_top3.py").exists()


@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_paired_notebook_matches_its_py_source_and_has_no_outputs(ipynb: Path) -> None:
    py = ipynb.with_suffix(".py")
    assert py.exists(), f"{ipynb.name} has no paired py:percent source"
    nb = nbformat.read(ipynb, as_version=4)
    src = jupytext.read(py)
    assert [(c.cell_type, c.source, _tags(c)) for c in nb.cells] == \
        [(c.cell_type, c.source, _tags(c)) for c in src.cells], \
        f"{ipynb.name} and {py.name} differ: run `jupytext --sync {py}`"
    for c in nb.cells:
        if c.cell_type == "code":
            assert c.get("outputs") == [] and c.get("execution_count") is None, f"{ipynb.name} has stored outputs"
    params = [c for c in nb.cells if "parameters" in _tags(c)]
    assert len(params) == 1 and params[0].cell_type == "code"
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert "parameters" in _tags(first_code), "the first code cell must be the parameters cell"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


def test_weekly_top3_parameters_are_typed_and_documented() -> None:
    params = pm.inspect_notebook(str(PLAYBOOKS / "weekly_top3.ipynb"))
    assert set(params) == {"week", "db", "shops", "trend_weeks", "output_dir"}
    assert {k: p["inferred_type_name"] for k, p in params.items()} == {
        "week": "str", "db": "str", "shops": "str", "trend_weeks": "int", "output_dir": "str"}
    assert all(p["help"] for p in params.values())  # a help comment with "=" would drop the parameter


# ------------------------------------------------------------------ runs on the demo shop


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A small demo shop (scale 0.05, about 4 s), built once for the module in its own directory."""
    base = tmp_path_factory.mktemp("playbook_demo")
    env = dict(os.environ, XDG_DATA_HOME=str(base / "xdg-data"), XDG_CONFIG_HOME=str(base / "xdg-config"),
               REVIEWOPS_DB=str(base / "d.db"), REVIEWOPS_DEMO_PASSWORD="demo-pass-123")
    env.pop("REVIEWOPS_MULTI_USER", None)
    subprocess.run([sys.executable, "-m", "reviewops", "demo", "--scale", "0.05", "--db", str(base / "d.db"),
                    "--out", str(base / "out")], check=True, env=env, capture_output=True, timeout=300)
    from reviewops.core.store import reviews

    store = reviewops.Store.open(str(base / "d.db"))
    with store.read() as conn:
        created = [r[0] for r in conn.execute(sa.select(reviews.c.created_at))]
    counts = collections.Counter(iso_week(t if t.tzinfo else t.replace(tzinfo=dt.UTC)) for t in created)
    week = counts.most_common(1)[0][0]
    golden = weekly_top3(store, week)
    return {"db": str(base / "d.db"), "week": week, "golden": golden, "env": env}


def _outputs_text(nb) -> list[str]:
    texts = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            data = o.get("data", {})
            texts.append(data.get("text/html") or data.get("text/markdown") or data.get("text/plain") or
                         o.get("text", ""))
    return texts


def test_weekly_top3_runs_top_to_bottom_on_the_demo_shop(demo_db, tmp_path, monkeypatch) -> None:
    for k in ("XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(k, demo_db["env"][k])
    out = tmp_path / "weekly_top3.out.ipynb"
    nb = pm.execute_notebook(str(PLAYBOOKS / "weekly_top3.ipynb"), str(out), kernel_name="python3",
                             cwd=str(tmp_path), progress_bar=False,
                             parameters={"week": demo_db["week"], "db": demo_db["db"],
                                         "output_dir": str(tmp_path / "tables")})
    assert nb.metadata.papermill.exception is None
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    texts = _outputs_text(nb)
    joined = "\n".join(texts)
    golden = demo_db["golden"]
    assert len(golden.top3) == 3
    for heading in (f"## 概览：{golden.week}", "## 趋势：与前几周对比", "## 差评TOP3 原因", "### 典型评价（已脱敏）",
                    "## 建议措施与负责部门", "## 响应时效（SLA）", "## 平台申诉（恶意差评）", "## 补偿措施与成本",
                    "## 追评改善（修改为好评）"):
        assert any(t.startswith(heading) for t in texts), heading
    # the top-3 table: the categories weekly_top3 returns, in rank order, with their case counts
    [top_html] = [t for t in texts if "<th>分类代码</th>" in t]
    codes = re.findall(r"<td>([a-z_]+)</td>", top_html)
    assert codes == list(golden.top3["category"])
    for zh, n in zip(golden.top3["category_zh"], golden.top3["cases"]):
        assert re.search(rf"<td>{re.escape(zh)}</td>\s*<td>[a-z_]+</td>\s*<td[^>]*>{n}</td>", top_html), (zh, n)
    # department and recommended action per cause
    [act_html] = [t for t in texts if "<th>建议措施</th>" in t]
    for dept, action in zip(golden.top3["department"], golden.top3["action"]):
        assert f"<td>{dept}</td>" in act_html and action in act_html
    assert f"<td>{golden.negative}</td>" in joined  # the headline count
    # tables handed on as files for downstream steps
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == sorted(
        f"{n}.csv" for n in ("趋势", "差评TOP3", "典型评价", "建议措施", "响应时效", "提醒时效", "平台申诉", "补偿"))
    # the appeal figures (issue 17 §3): the table weekly_top3's figures give, with its Chinese labels
    from reviewops.reporting.dashboard import APPEAL_LABELS, appeal_table

    [appeal_html] = [t for t in texts if APPEAL_LABELS["in_time_rate"] in t and "<table" in t]
    for label, value in appeal_table(golden.appeals).itertuples(index=False):
        assert re.search(rf"<td>{re.escape(label)}</td>\s*<td[^>]*>{re.escape(value)}</td>", appeal_html), (label, value)
    assert "Traceback" not in joined
    # the trend chart is an embedded PNG (drawn with a CJK font by reviewops.reporting.charts)
    assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


def test_weekly_top3_fails_clearly_on_a_week_that_does_not_exist(demo_db, tmp_path) -> None:
    out = tmp_path / "broken.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as err:
        pm.execute_notebook(str(PLAYBOOKS / "weekly_top3.ipynb"), str(out), kernel_name="python3",
                            cwd=str(tmp_path), progress_bar=False,
                            parameters={"week": "2026-W99", "db": demo_db["db"]})
    assert err.value.ename == "ConfigError", (err.value.ename, err.value.evalue)
    assert "2026-W99" in err.value.evalue and "没有这一周" in err.value.evalue
    assert out.exists()  # the failed notebook is kept for inspection


def test_weekly_top3_refuses_shop_ids_that_are_not_numbers(demo_db, tmp_path) -> None:
    with pytest.raises(pm.PapermillExecutionError) as err:
        pm.execute_notebook(str(PLAYBOOKS / "weekly_top3.ipynb"), str(tmp_path / "bad_shops.ipynb"),
                            kernel_name="python3", cwd=str(tmp_path), progress_bar=False,
                            parameters={"week": demo_db["week"], "db": demo_db["db"], "shops": "1,旗舰店"})
    assert "店铺编号" in err.value.evalue and "旗舰店" in err.value.evalue


def test_weekly_top3_figures_match_an_independent_count(demo_db, tmp_path, monkeypatch) -> None:
    """The notebook's headline and ranking against plain SQL over the demo store (not reports.py)."""
    import pandas as pd
    from reviewops.reporting.reports import week_bounds

    for k in ("XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(k, demo_db["env"][k])
    start, end = week_bounds(demo_db["week"])
    engine = sa.create_engine(f"sqlite:///{demo_db['db']}")
    with engine.connect() as conn:
        rows = pd.read_sql(sa.text("SELECT r.created_at, c.primary_category FROM reviews r "
                                   "LEFT JOIN cases c ON c.review_pk = r.id"), conn)
    engine.dispose()
    created = pd.to_datetime(rows["created_at"], utc=True, format="mixed")
    week = rows[(created >= pd.Timestamp(start)) & (created < pd.Timestamp(end))]
    neg = week[week["primary_category"].notna()]
    counts = neg["primary_category"].value_counts()
    assert len(counts) >= 3 and len(week) > 0
    nb = pm.execute_notebook(str(PLAYBOOKS / "weekly_top3.ipynb"), str(tmp_path / "o.ipynb"), kernel_name="python3",
                             cwd=str(tmp_path), progress_bar=False,
                             parameters={"week": demo_db["week"], "db": demo_db["db"]})
    texts = _outputs_text(nb)
    [overview] = [t for t in texts if "<td>中差评数</td>" in t]
    assert re.search(rf"<td>评价数</td>\s*<td>{len(week)}</td>", overview)
    assert re.search(rf"<td>中差评数</td>\s*<td>{len(neg)}</td>", overview)
    [top_html] = [t for t in texts if "<th>分类代码</th>" in t]
    shown = dict(zip(re.findall(r"<td>([a-z_]+)</td>\s*<td[^>]*>\d+</td>", top_html),
                     map(int, re.findall(r"<td>[a-z_]+</td>\s*<td[^>]*>(\d+)</td>", top_html)), strict=True))
    assert len(shown) == 3
    for code, n in shown.items():
        assert counts[code] == n  # each shown cause has its true count …
    assert sorted(shown.values(), reverse=True) == list(counts.iloc[:3])  # … and they are the three largest
