"""reviewops run: parameters checked before execution, outputs safe and moved into place atomically."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import openpyxl
import pytest
from reviewops import runner
from reviewops.core.errors import ConfigError

FIXTURE = Path(__file__).parent / "playbooks_fixture" / "tiny.ipynb"
PAYLOAD = "=1+1 <script>document.documentElement.dataset.pwned=1</script>"


@pytest.fixture(scope="module")
def payload_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("payload")
    return runner.run_playbook(FIXTURE, {"week": PAYLOAD, "limit": "2"}, out_dir=out, progress=False)


@pytest.fixture(scope="module")
def id_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("ids")
    db = str(d / "store.db")
    result = runner.run_playbook(FIXTURE, {"week": "007"}, db=db, out_dir=d / "out", pdf=True,
                                 chromium=str(d / "no-chromium"), progress=False, actor="tester")
    return result, db


def _cells(path: Path) -> list[openpyxl.cell.cell.Cell]:
    wb = openpyxl.load_workbook(path, data_only=False)
    return [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]


def test_playbooks_dir_from_env(monkeypatch):
    monkeypatch.setenv("REVIEWOPS_PLAYBOOKS", str(FIXTURE.parent))
    assert runner.playbooks_dir() == FIXTURE.parent
    assert runner.resolve_playbook("tiny") == FIXTURE
    with pytest.raises(ConfigError, match="tiny"):  # lists the available ones
        runner.resolve_playbook("no_such_playbook")


def test_declared_parameters():
    declared = runner.declared_parameters(FIXTURE)
    assert {n: d["type"] for n, d in declared.items()} == {"week": "str", "limit": "int", "db": "str"}


def test_unknown_name_refused_before_running(tmp_path):
    with pytest.raises(ConfigError) as e:
        runner.run_playbook(FIXTURE, {"wek": "2026-W47"}, out_dir=tmp_path)
    assert "wek" in str(e.value) and "week (str)" in str(e.value) and "limit (int)" in str(e.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", ["yes", "3.5", "", "1e3", "3; import os"])
def test_bad_int_refused_before_running(tmp_path, value):
    with pytest.raises(ConfigError, match="limit"):
        runner.run_playbook(FIXTURE, {"limit": value}, out_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_value_conversion_is_strict():
    assert runner.convert_value("id", "str", "007") == "007"
    assert runner.convert_value("n", "int", " -4 ") == -4
    assert runner.convert_value("x", "float", "2.5") == 2.5
    assert runner.convert_value("f", "bool", "False") is False
    for kind, value in [("str", 7), ("int", True), ("float", "nan"), ("bool", "yes"), ("bool", "是")]:
        with pytest.raises(ConfigError):
            runner.convert_value("p", kind, value)
    with pytest.raises(ConfigError, match="name=value"):
        runner.parse_param_args(["week"])
    assert runner.parse_param_args(["week=a=b"]) == {"week": "a=b"}


def test_outputs_written(id_run):
    result, _ = id_run
    for kind in ("ipynb", "html", "xlsx", "json"):
        assert result.outputs[kind].is_file(), kind
    out = result.outputs["json"].parent
    assert sorted(p.name for p in out.iterdir()) == ["tiny.html", "tiny.ipynb", "tiny.json", "tiny.xlsx"]
    summary = json.loads(result.outputs["json"].read_text(encoding="utf-8"))
    assert summary["playbook"] == "tiny" and summary["params"] == {"week": "007"}
    assert summary["duration_s"] >= 0 and "pdf" not in summary["outputs"]
    assert result.notes and "PDF" in result.notes[0]  # chromium missing: skipped with a clear note


def test_string_ids_stay_strings(id_run):
    result, _ = id_run
    cells = _cells(result.outputs["xlsx"])
    assert [c.value for c in cells if c.column == 1 and c.row > 1] == ["007", "007", "007"]
    assert all(c.value == "str" for c in cells if c.column == 3 and c.row > 1)


def test_run_recorded_in_access_log(id_run):
    import sqlalchemy as sa
    from reviewops.core.store import Store, access_log

    _, db = id_run
    with Store.open(db) as store, store.read() as conn:
        rows = conn.execute(sa.select(access_log).where(access_log.c.action == "export")).mappings().all()
    assert len(rows) == 1
    assert rows[0]["actor"] == "tester" and rows[0]["target"] == "tiny" and rows[0]["outcome"] == "ok"
    detail = json.loads(rows[0]["detail_json"])
    assert detail["params"] == {"week": "007"} and "tiny.xlsx" in detail["sha256"]


def test_html_has_no_code_and_escapes_script(payload_run):
    html = payload_run.outputs["html"].read_text(encoding="utf-8")
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert "save_table" not in html and "import pandas" not in html  # no code input
    assert "<script>document" not in html
    assert "&lt;script&gt;document.documentElement.dataset.pwned=1&lt;/script&gt;" in html


def test_xlsx_has_no_formula_cells(payload_run):
    path = payload_run.outputs["xlsx"]
    cells = _cells(path)
    assert cells and all(c.data_type != "f" for c in cells)
    assert [c.value for c in cells if c.column == 1 and c.row > 1] == ["'" + PAYLOAD] * 2
    with zipfile.ZipFile(path) as z:
        for n in z.namelist():
            if n.startswith("xl/worksheets/"):
                assert "<f>" not in z.read(n).decode("utf-8")


def test_failing_cell_named_and_notebook_kept(tmp_path):
    with pytest.raises(runner.PlaybookFailed) as e:
        runner.run_playbook(FIXTURE, {"limit": "-1"}, out_dir=tmp_path, progress=False)
    err = e.value
    assert err.ename == "ValueError" and "negative" in err.evalue and err.playbook_cell == 2
    assert "cell 2" in str(err) and "ValueError" in str(err) and "第 2 个单元格" in str(err)
    assert err.failed_notebook == tmp_path / "tiny.failed.ipynb" and err.failed_notebook.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.failed.ipynb"]


@pytest.mark.parametrize("fail_at", [1, 3])
def test_crash_while_moving_leaves_no_final_files(tmp_path, monkeypatch, fail_at):
    real = runner._replace
    calls = []

    def flaky(src, dst):
        calls.append(dst)
        if len(calls) == fail_at:
            raise OSError("simulated crash while moving into place")
        real(src, dst)

    monkeypatch.setattr(runner, "_replace", flaky)
    with pytest.raises(OSError, match="simulated"):
        runner.run_playbook(FIXTURE, {}, out_dir=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []  # no final files, no staging folder


def test_cli_refuses_bad_param(tmp_path, capsys):
    from reviewops.cli import main

    assert main(["run", str(FIXTURE), "--param", "limit=yes", "--out", str(tmp_path)]) == 2
    assert "limit" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path(runner.CHROMIUM).is_file(), reason="Debian chromium not installed")
def test_pdf_printed_by_chromium(tmp_path):
    result = runner.run_playbook(FIXTURE, {"limit": "1"}, out_dir=tmp_path, formats=("ipynb", "json"), pdf=True,
                                 progress=False)
    assert result.outputs["pdf"].read_bytes()[:5] == b"%PDF-"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.ipynb", "tiny.json", "tiny.pdf"]


@pytest.mark.parametrize("value", ['x"; import os; os.system("touch PWNED") #', "a\\", "a\\\"\nb", "\u2028\x00'''\"\"\"",
                                   "店铺 \U0001f600", "x" * 100_000])
def test_values_injected_only_as_literals(tmp_path, value):
    import ast

    import nbformat
    import papermill as pm

    values = runner.check_parameters(FIXTURE, {"week": value})
    pm.execute_notebook(str(FIXTURE), str(tmp_path / "o.ipynb"), parameters=values, prepare_only=True,
                        progress_bar=False)
    nb = nbformat.read(str(tmp_path / "o.ipynb"), as_version=4)
    cell = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    tree = ast.parse(cell.source)
    assert len(tree.body) == 1 and isinstance(tree.body[0], ast.Assign)
    assert ast.literal_eval(tree.body[0].value) == value


def test_payload_round_trips_and_is_inert_in_chromium(payload_run, tmp_path):
    import subprocess

    import nbformat

    nb = nbformat.read(str(payload_run.outputs["ipynb"]), as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert f"week: {PAYLOAD} str" in printed
    if not Path(runner.CHROMIUM).is_file():
        pytest.skip("Debian chromium not installed")
    dom = subprocess.run([runner.CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                          f"--user-data-dir={tmp_path}", "--dump-dom", payload_run.outputs["html"].as_uri()],
                         check=False, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}).stdout
    assert "data-pwned" not in dom and "dataset.pwned=1" in dom  # shown as text, never run


def test_same_inputs_same_tables(payload_run, tmp_path):
    again = runner.run_playbook(FIXTURE, {"week": PAYLOAD, "limit": "2"}, out_dir=tmp_path, formats=("xlsx",),
                                progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.xlsx"]

    def sheets(path):
        wb = openpyxl.load_workbook(path)
        return {ws.title: [[c.value for c in r] for r in ws.iter_rows()] for ws in wb.worksheets}

    assert sheets(again.outputs["xlsx"]) == sheets(payload_run.outputs["xlsx"])
    assert list(sheets(again.outputs["xlsx"])) == ["汇总"]
