"""Static checks of workbooks/ReviewOps.xlsm with openpyxl (no Excel needed)."""

from __future__ import annotations

import importlib
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.formula import ArrayFormula
from reviewops import excel

ROOT = Path(__file__).resolve().parents[1]
XLSM = ROOT / "workbooks" / "ReviewOps.xlsm"
CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\s*\(")
REF = r"\$?[A-Z]{1,3}\$?\d+(?::\$?[A-Z]{1,3}\$?\d+)?"


def _formula(cell) -> str | None:
    v = cell.value
    if isinstance(v, ArrayFormula):
        return v.text
    if isinstance(v, str) and v.startswith("="):
        return v
    return None


@pytest.fixture(scope="module")
def wb():
    return load_workbook(XLSM, keep_vba=True)


def _formulas(wb) -> list[tuple[str, str, str]]:
    return [(ws.title, c.coordinate, f) for ws in wb for row in ws.iter_rows() for c in row
            if (f := _formula(c)) is not None]


def test_conf_sheet_is_active_and_points_at_the_module(wb):
    assert "xlwings.conf" in wb.sheetnames and "_xlwings.conf" not in wb.sheetnames  # the underscore disables it
    conf = {r[0].value: r[1].value for r in wb["xlwings.conf"].iter_rows(min_row=1, max_row=9)}
    assert conf["UDF Modules"] == "reviewops.excel"
    mod = importlib.import_module(conf["UDF Modules"])
    assert mod is excel
    assert conf["Interpreter_Win"] == "python"
    assert {"示例", "分析"} <= set(wb.sheetnames)
    assert wb["分析"].max_row == 1 and wb["分析"]["A1"].value is None  # blank for the analyst


def test_vba_project_is_kept():
    with zipfile.ZipFile(XLSM) as z:
        assert "xl/vbaProject.bin" in z.namelist()
        ctypes = z.read("[Content_Types].xml").decode()
    assert "macroEnabled" in ctypes


def test_every_function_has_an_example_and_every_formula_names_a_function(wb):
    formulas = _formulas(wb)
    assert formulas
    used = set()
    for sheet, ref, f in formulas:
        names = {n.upper() for n in CALL.findall(f)}
        assert names, (sheet, ref, f)
        for n in names:
            assert n in excel.FUNCTIONS, f"{sheet}!{ref}: {f} calls {n}, which reviewops.excel does not define"
        used |= names
        # only cell references between the parentheses: no literal text, numbers or nested calls
        inner = re.fullmatch(r"=\s*(RO_[A-Z]+)\((.*)\)", f)
        assert inner, (ref, f)
        for a in filter(None, (p.strip() for p in inner.group(2).split(","))):
            assert re.fullmatch(REF, a), f"{sheet}!{ref}: argument {a!r} is not a cell reference"
    assert used == set(excel.FUNCTIONS)


def test_no_formula_cell_carries_user_text():
    """In the saved XML: formulas hold no string literals; every text cell is a shared string."""
    with zipfile.ZipFile(XLSM) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        for name in sheets:
            xml = z.read(name).decode("utf-8")
            for f in re.findall(r"<f[^>]*>(.*?)</f>", xml, flags=re.DOTALL):
                assert "&quot;" not in f and '"' not in f, (name, f)
                assert re.fullmatch(r"RO_[A-Z]+\([A-Z0-9:$,]*\)", f), (name, f)
            assert 't="str"' not in xml  # no formula-result strings cached from user text


def test_example_inputs_are_text_where_they_are_text(wb):
    ws = wb["示例"]
    header = {ws.cell(16, c).value: c for c in range(1, 6)}
    assert list(header) == ["订单号", "评价内容", "评分", "评价时间", "平台"]
    for r in range(17, 20):
        oid = ws.cell(r, header["订单号"])
        assert oid.data_type == "s" and oid.number_format == "@" and re.fullmatch(r"\d{19}", oid.value)
        assert ws.cell(r, header["评价内容"]).data_type == "s"
    for row in ws.iter_rows():
        for c in row:
            if isinstance(c.value, str) and _formula(c) is None:
                assert not c.value.lstrip().startswith(("=", "+", "-", "@")), c.coordinate


def test_examples_evaluate_in_python(wb, monkeypatch):
    """Each example formula, evaluated by calling the function on the example's input cells, gives no error."""
    monkeypatch.delenv("REVIEWOPS_DB", raising=False)
    excel._close_stores()
    ws = wb["示例"]

    def values(ref: str):
        if ":" not in ref:
            return ws[ref].value
        rows = [[c.value for c in r] for r in ws[ref]]
        return rows if len(rows[0]) > 1 else [r[0] for r in rows]

    for _, coord, f in _formulas(wb):
        name, args = re.fullmatch(r"=\s*(RO_[A-Z]+)\((.*)\)", f).groups()
        if excel.FUNCTIONS[name] in excel.STORE_FUNCTIONS:
            continue  # needs a shop database (tests/test_excel.py)
        out = excel.FUNCTIONS[name](*[values(a.strip()) for a in args.split(",")])
        assert not (isinstance(out, str) and out.startswith("#错误")), (coord, f, out)


def test_build_script_reproduces_the_committed_workbook(tmp_path):
    pytest.importorskip("xlwings")
    import sys

    sys.path.insert(0, str(ROOT / "workbooks"))
    try:
        import build_workbook
    finally:
        sys.path.pop(0)
    out = build_workbook.build(tmp_path / "ReviewOps.xlsm")
    a, b = load_workbook(out, keep_vba=True), load_workbook(XLSM, keep_vba=True)
    assert a.sheetnames == b.sheetnames
    for ws in a:
        for row in ws.iter_rows():
            for c in row:
                other = b[ws.title][c.coordinate]
                assert (_formula(c) or c.value) == (_formula(other) or other.value), (ws.title, c.coordinate)
