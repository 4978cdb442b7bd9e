"""The policy workbook as a shop supervisor meets it in Excel or WPS (issue 6): Chinese headers,
drop-downs on every choice column, a note on every header, a locked header row with editable data
rows, widths that fit Chinese text, a 说明 sheet, text-only cells with formula-like text kept inert,
and a lossless round trip through ``reviewops policy import``.
"""

from __future__ import annotations

import json
import re
import string
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reviewops.cli import main
from reviewops.core.errors import PolicyInvalid
from reviewops.core.policy import ANY, SETTINGS, TABLES, Policy, default_policy, export_policy, import_policy

HOSTILE = ['=HYPERLINK("http://evil.example","点我")', "@SUM(1,1)", "+86 138 0013 8000", "-5元",
           "=cmd|' /C calc'!A0", "\t=1+1", "＝1+1", " =1+1 亲"]


def _policy_with(fn) -> Policy:
    data = json.loads(default_policy().to_json())
    fn(data["tables"])
    return Policy.from_json(json.dumps(data, ensure_ascii=False), source="edited")


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_policy(default_policy(), tmp_path_factory.mktemp("pw") / "策略.xlsx")


def _sheet_xml(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n).decode("utf-8") for n in z.namelist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)}


def _expected_choices(col: Any, policy: Policy) -> list[str]:
    """The drop-down values a column must offer, built from the schema (not from the writer)."""
    if col.type == "choice":
        return [col.choice_zh.get(c, c) for c in col.choices] + ([ANY] if col.allow_any else [])
    if col.type == "role":
        return [r["code"] for r in policy.tables["roles"]]
    if col.type == "bool":
        return ["是", "否"]
    return []


def _validations(ws: Any) -> dict[str, list[str]]:
    """Column letter → list values of the data validations that start in row 2."""
    out: dict[str, list[str]] = {}
    for dv in ws.data_validations.dataValidation:
        for rng in str(dv.sqref).split():
            m = re.fullmatch(r"([A-Z]+)2(?::[A-Z]+\d+)?", rng)
            if m and dv.type == "list":
                out[m.group(1)] = dv.formula1.strip('"').split(",")
    return out


# ------------------------------------------------------------------ structure
def test_every_choice_column_has_a_drop_down_of_the_policys_values(tmp_path: Path) -> None:
    policy = _policy_with(lambda t: t["roles"].append(
        {"code": "night", "name_zh": "夜班客服", "escalates_to": "supervisor", "case_limit_fen": 1000,
         "window_days": 30, "window_limit_fen": 2000, "can_unmask": False}))
    wb = openpyxl.load_workbook(export_policy(policy, tmp_path / "p.xlsx"))
    n_checked = 0
    for spec in TABLES.values():
        ws = wb[spec.sheet]
        found = _validations(ws)
        for j, col in enumerate(spec.columns):
            letter = openpyxl.utils.get_column_letter(j + 1)
            want = _expected_choices(col, policy)
            if want:
                assert found.get(letter) == want, (spec.sheet, col.header, found.get(letter))
                n_checked += 1
            else:
                assert letter not in found, (spec.sheet, col.header)
    assert n_checked >= 14
    cats = _validations(wb["分类时效"])
    assert "night" in cats["D"] and cats["E"] == ["高", "中", "低"] and cats["F"] == ["是", "否"]
    assert _validations(wb["话术模板"])["A"][0] == "3S回复"
    # single settings with a fixed set of values get their own drop-down on the 参数 sheet
    ws = wb["参数"]
    rows = {ws.cell(r, 1).value: r for r in range(2, ws.max_row + 1)}
    per_cell = {str(dv.sqref): dv.formula1.strip('"').split(",") for dv in ws.data_validations.dataValidation}
    assert per_cell[f"B{rows['sla_clock']}"] == list(SETTINGS["sla_clock"].choices)
    assert per_cell[f"B{rows['use_cn_holidays']}"] == ["是", "否"]


def test_every_header_has_a_note_with_help_and_allowed_values(book: Path) -> None:
    wb = openpyxl.load_workbook(book)
    policy = default_policy()
    for spec in TABLES.values():
        ws = wb[spec.sheet]
        for j, col in enumerate(spec.columns, start=1):
            cell = ws.cell(1, j)
            assert cell.value == col.header and re.search(r"[\u4e00-\u9fff]", cell.value)
            assert cell.comment is not None, (spec.sheet, col.header)
            note = cell.comment.text
            assert col.help in note
            assert ("必填" in note) == col.required and ("可空" in note) == (not col.required)
            for value in _expected_choices(col, policy):
                assert value in note, (spec.sheet, col.header, value)
    assert "legal（法务）" in wb["分类时效"]["D1"].comment.text


def test_header_row_is_frozen_and_locked_data_rows_stay_editable(book: Path) -> None:
    wb = openpyxl.load_workbook(book)
    for spec in TABLES.values():
        ws = wb[spec.sheet]
        assert ws.freeze_panes == "A2", spec.sheet
        p = ws.protection
        assert p.sheet and not p.password, spec.sheet  # protected, no password (documented)
        # False = not protected: rows may be inserted, deleted, sorted and filtered
        assert (p.insertRows, p.deleteRows, p.sort, p.autoFilter, p.formatColumns) == (False,) * 5
        assert all(c.protection.locked for c in ws[1])
        if ws.max_row >= 2:  # an empty table (提醒渠道, 值班表 by default) has only the column format below
            assert not ws.cell(2, 1).protection.locked and not ws.cell(ws.max_row, len(spec.columns)).protection.locked
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:")
        # blank cells below the data (where a new row goes) are unlocked through the column format
        for j in range(1, len(spec.columns) + 1):
            dim = ws.column_dimensions[openpyxl.utils.get_column_letter(j)]
            assert dim.width and dim.width >= 8
    # widths fit the Chinese headers and text: a CJK character needs two units
    ws = wb["分类时效"]
    for j, col in enumerate(TABLES["categories"].columns, start=1):
        width = ws.column_dimensions[openpyxl.utils.get_column_letter(j)].width
        need = sum(2 if re.match(r"[\u3000-\u9fff\uff00-\uffef]", ch) else 1 for ch in col.header)
        assert width >= need, (col.header, width, need)
    assert wb["话术模板"].column_dimensions["D"].width >= 60  # the long template text


def test_every_cell_is_text_and_codes_stay_text(book: Path) -> None:
    wb = openpyxl.load_workbook(book)
    n = 0
    for spec in TABLES.values():
        ws = wb[spec.sheet]
        for row in ws.iter_rows(min_row=2):
            for c in row:
                if c.value is not None:
                    assert c.data_type == "s" and isinstance(c.value, str), (spec.sheet, c.coordinate, c.value)
                    assert c.number_format == "@", (spec.sheet, c.coordinate)
                    n += 1
    assert n > 1000
    bands = wb["补偿档位"]
    assert [bands.cell(r, 1).value for r in range(2, 5)] == ["0", "100", "300"]  # yuan as text


def test_the_readme_sheet_explains_editing_and_re_import(book: Path) -> None:
    wb = openpyxl.load_workbook(book)
    assert wb.sheetnames[0] == "说明"
    text = "\n".join(str(c.value) for row in wb["说明"].iter_rows() for c in row if c.value)
    assert "reviewops policy import" in text and "撤销工作表保护" in text and "下拉" in text
    for spec in TABLES.values():
        assert spec.sheet in text
        for col in spec.columns:
            assert f"{spec.sheet} · {col.header}" in text


# ------------------------------------------------------------ safety + round trip
def test_hostile_template_text_stays_text_and_round_trips(tmp_path: Path) -> None:
    def add(t: dict[str, list[dict[str, Any]]]) -> None:
        for row, payload in zip(t["templates"], HOSTILE):
            row["text"] = payload
        t["tiers"][0]["approach"] = "=1+1"

    policy = _policy_with(add)
    path = export_policy(policy, tmp_path / "hostile.xlsx")
    for name, xml in _sheet_xml(path).items():
        assert not re.search(r"<f[ >/]", xml), f"formula element in {name}"
    wb = openpyxl.load_workbook(path)
    ws = wb["话术模板"]
    cells = [ws.cell(r, 4) for r in range(2, 2 + len(HOSTILE))]
    stored = [r["text"] for r in policy.tables["templates"][: len(HOSTILE)]]  # the policy trims blanks
    assert [c.value for c in cells] == stored  # stored as written …
    for c in cells:
        assert c.data_type == "s"
        if c.value.lstrip(" ").startswith(("=", "@", "+", "-", "\t", "＝", "{=")):
            assert c.quotePrefix, c.value  # … and marked as text, as Excel marks a typed apostrophe
    assert wb["客户分层"]["I2"].quotePrefix
    back = import_policy(path)
    assert back.to_json() == policy.to_json()
    # opened and saved again (as Excel/WPS would), the text is still text and still the same
    wb.save(tmp_path / "resaved.xlsx")
    again = import_policy(tmp_path / "resaved.xlsx")
    assert again.to_json() == policy.to_json()
    for name, xml in _sheet_xml(tmp_path / "resaved.xlsx").items():
        assert not re.search(r"<f[ >/]", xml), f"formula element in {name} after a re-save"


def test_export_import_export_is_identical(tmp_path: Path) -> None:
    first = import_policy(export_policy(default_policy(), tmp_path / "a.xlsx"))
    second = import_policy(export_policy(first, tmp_path / "b.xlsx"))
    assert first.to_json() == default_policy().to_json() == second.to_json()


_SAFE_TEXT = st.text(alphabet=string.ascii_letters + string.digits + "=+-@ ,.!?()'\"|/:;差评快递物流亲您好＝",
                     min_size=1, max_size=40).map(str.strip).filter(lambda s: s != "")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(_SAFE_TEXT, min_size=1, max_size=4))
def test_any_template_text_round_trips(tmp_path: Path, texts: list[str]) -> None:
    def add(t: dict[str, list[dict[str, Any]]]) -> None:
        for row, text in zip(t["templates"][1:], texts):  # the first (*, *) 3S reply stays
            row["text"] = text

    policy = _policy_with(add)
    path = export_policy(policy, tmp_path / "h.xlsx")
    assert import_policy(path).to_json() == policy.to_json()
    assert not any(re.search(r"<f[ >/]", x) for x in _sheet_xml(path).values())


def test_edits_in_a_spreadsheet_are_picked_up_and_bad_choices_named(book: Path, tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(book)
    cats = wb["分类时效"]
    row = next(r for r in range(2, cats.max_row + 1) if cats.cell(r, 2).value == "物流")
    cats.cell(row, 3, 1.5)                       # SLA hours typed as a number
    kw = wb["词库"]
    kw.append(["拖拖拉拉", "负面", "物流", "2"])     # a new keyword row at the end
    tpl = wb["话术模板"]
    tpl.cell(2, 4, "亲，{customer}，非常抱歉，关于{problem}我们已安排{remedy}。")
    wb.save(tmp_path / "edited.xlsx")
    p = import_policy(tmp_path / "edited.xlsx")
    assert p.category("logistics")["sla_hours"] == 1.5
    assert {"word": "拖拖拉拉", "kind": "negative", "category": "logistics", "weight": 2.0} in map(dict, p.keywords())
    assert p.tables["templates"][0]["text"] == "亲，{customer}，非常抱歉，关于{problem}我们已安排{remedy}。"

    cats.cell(row, 5, "很高")  # not in the severity drop-down (a warning in Excel; the importer refuses it)
    wb.save(tmp_path / "bad.xlsx")
    with pytest.raises(PolicyInvalid) as exc:
        import_policy(tmp_path / "bad.xlsx")
    (prob,) = exc.value.problems
    assert (prob.file, prob.row, prob.column, prob.value) == ("bad.xlsx [分类时效]", row, "严重程度", "很高")
    assert "高" in prob.reason_zh and "high" in prob.reason_en


def test_cli_export_and_import_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "s.db")
    assert main(["policy", "export", str(tmp_path / "p.xlsx"), "--db", db]) == 0
    wb = openpyxl.load_workbook(tmp_path / "p.xlsx")
    wb["参数"]["B2"] = "0.6"  # negative_threshold
    wb.save(tmp_path / "p2.xlsx")
    assert main(["policy", "import", str(tmp_path / "p2.xlsx"), "--db", db]) == 0
    out = capsys.readouterr().out
    assert "v2" in out or "version 2" in out
    assert main(["policy", "export", str(tmp_path / "p3.xlsx"), "--db", db]) == 0
    assert import_policy(tmp_path / "p3.xlsx").setting("negative_threshold") == 0.6
