"""The shop's policy (reviewops.core.policy): playbook defaults, Excel round trip, validation, versions.

The default policy must encode the playbook (SPEC E2, H1, D3, V1, E3) and pass its own
compliance check; a workbook written by ``export_policy`` must be safe to open (no
formulas, text cells, drop-downs) and come back unchanged; edits made in Excel
(simulated with openpyxl) must be read back; bad edits must be reported with the sheet,
the Excel row, the Chinese column header and the value, in Chinese and English; the
store keeps immutable versions on both backends.

"""

from __future__ import annotations

import functools
import json
import re
import tempfile
import zipfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst
from python_calamine import CalamineWorkbook
from reviewops.cli import EXIT_USER_ERROR, main
from reviewops.core.errors import NotFound, PolicyInvalid, Problem
from reviewops.core.policy import (
    SETTINGS,
    TABLES,
    Policy,
    current_policy,
    default_policy,
    export_policy,
    import_policy,
    load_policy,
    policy_versions_list,
    save_policy,
)

CJK = re.compile(r"[\u4e00-\u9fff]")


# ------------------------------------------------------------------ helpers
@pytest.fixture(scope="module")
def default_xlsx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default policy exported once per module (tests copy it before editing)."""
    return export_policy(default_policy(), tmp_path_factory.mktemp("policy") / "default.xlsx")


def edited(src: Path, dst: Path, edit: Callable[[openpyxl.Workbook], Any]) -> tuple[Path, Any]:
    """Open ``src`` in openpyxl (as Excel would), apply ``edit``, save as ``dst``; returns (dst, edit's result)."""
    wb = openpyxl.load_workbook(src)
    result = edit(wb)
    wb.save(dst)
    return dst, result


def row_of(ws: Any, value: str, col: int = 1) -> int:
    """The Excel row (1-based) whose column ``col`` holds ``value``."""
    for row in ws.iter_rows(min_row=2):
        if row[col - 1].value == value:
            return row[0].row
    raise AssertionError(f"{value!r} not found in sheet {ws.title}")


def col_of(ws: Any, header: str) -> int:
    """The 1-based column of ``header`` in row 1."""
    for cell in ws[1]:
        if cell.value == header:
            return cell.column
    raise AssertionError(f"header {header!r} not found in sheet {ws.title}")


def set_cell(ws: Any, key: str, header: str, value: Any, key_col: int = 1) -> int:
    """Write ``value`` in the row whose first column is ``key``, column ``header``; returns the row."""
    r = row_of(ws, key, key_col)
    ws.cell(r, col_of(ws, header), value)
    return r


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(PolicyInvalid) as exc:
        import_policy(path)
    assert exc.value.problems, "PolicyInvalid without problems"
    return exc.value.problems


def find(problems: list[Problem], *, sheet: str | None, row: int | None, column: str | None) -> Problem:
    """The one problem at (sheet, row, column); asserts it exists."""
    hits = [p for p in problems
            if (sheet is None or p.file.endswith(f"[{sheet}]")) and p.row == row and p.column == column]
    assert hits, f"no problem at {sheet} row {row} column {column}; got:\n" + "\n".join(map(str, problems))
    return hits[0]


def assert_bilingual(p: Problem) -> None:
    assert CJK.search(p.reason_zh), p
    english = re.sub(r"'[^']*'|\{[^}]*\}", "", p.reason_en)  # quoted values may be Chinese
    assert re.search(r"\b[a-z]{3,}\b", english) and not CJK.search(english), p
    text = str(p)
    assert p.reason_zh in text and p.reason_en in text


def edit_json(policy: Policy, fn: Callable[[dict[str, list[dict[str, Any]]]], None]) -> Policy:
    """A policy with ``fn`` applied to its JSON tables (money in fen), validated again."""
    data = json.loads(policy.to_json())
    fn(data["tables"])
    return Policy.from_json(json.dumps(data, ensure_ascii=False), source="edited")


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return code, out.out, out.err


# ------------------------------------------------------------- the playbook
def test_default_policy_encodes_the_playbook() -> None:
    p = default_policy()

    logistics, quality, malicious = p.category("logistics"), p.category("quality"), p.category("malicious")
    assert (logistics["sla_hours"], logistics["owner_role"], logistics["appeal"]) == (2.0, "agent", False)
    assert (quality["sla_hours"], quality["owner_role"], quality["appeal"]) == (4.0, "supervisor", False)
    assert (malicious["sla_hours"], malicious["owner_role"], malicious["appeal"]) == (1.0, "legal", True)
    assert {r["code"] for r in p.tables["categories"]} == {
        "logistics", "quality", "size", "missing_wrong", "description", "service", "price", "malicious", "other"}

    bands = [(b["min_fen"], b["max_fen"], b["remedy"], b["coupon_fen"], b["approver_role"])
             for b in sorted(p.tables["remedy_bands"], key=lambda b: b["min_fen"])]
    assert bands == [
        (0, 10000, "refund", 500, "agent"),          # ≤ 100 yuan: refund + 5-yuan coupon
        (10000, 30000, "resend", 1000, "agent"),     # 100–300 yuan: resend + 10-yuan coupon
        (30000, None, "supervisor", None, "supervisor"),  # above 300: the supervisor decides
    ]

    tiers = {t["code"]: t for t in p.tables["tiers"]}
    assert tiers["high_value"]["min_annual_spend_fen"] == 100000
    assert tiers["high_value"]["gift_cost_limit_fen"] == 3000
    assert tiers["silent"]["gift_cost_limit_fen"] == 1500

    steps = {f["step"]: f for f in p.tables["followups"]}
    assert (steps["revision_guidance"]["offset_hours"], steps["revision_guidance"]["template_kind"]) == (
        24.0, "revision_guidance")
    assert steps["revision_guidance"]["anchor"] == "remedy_delivered"  # guidance only after the remedy
    assert (steps["care_day3"]["offset_hours"], steps["care_day3"]["template_kind"]) == (72.0, "care")
    assert (steps["silver_day30"]["offset_hours"], steps["silver_day30"]["template_kind"]) == (
        720.0, "silver_member")

    taobao = next(r for r in p.tables["platforms"] if r["platform"] == "taobao")
    assert taobao["reply_max_chars"] == 500

    assert p.setting("negative_threshold") == 0.5
    assert p.setting("delay_coupon_fen") == 500
    assert p.setting("pay_per_revision") is False  # SPEC Compliance: not paid per revision by default
    assert p.version is None and p.sha256 == default_policy().sha256


def test_default_templates_are_compliant_and_lookup_falls_back_to_any() -> None:
    p = default_policy()
    assert len(p.tables["templates"]) >= 9
    for r in p.tables["templates"]:
        assert p.forbidden_hits(r["text"]) == [], r
    for r in p.tables["platforms"]:
        for t in p.tables["templates"]:
            assert len(t["text"]) <= r["reply_max_chars"]

    logistics = p.template("reply_3s", "logistics", "taobao")
    general = p.template("reply_3s", "*", "*")
    assert logistics is not None and general is not None and logistics != general
    assert logistics == next(r["text"] for r in p.tables["templates"]
                             if r["kind"] == "reply_3s" and r["category"] == "logistics")
    assert "快递" in logistics
    assert p.template("reply_3s", "no_such_category", "taobao") == general
    assert p.template("reply_3s", "other", "douyin") == general  # no specific 'other' template
    assert p.template("appeal", "logistics") is None  # only the malicious appeal exists


# ------------------------------------------------------------ Excel round trip
def test_export_import_round_trip_is_lossless_and_the_workbook_is_safe(tmp_path: Path) -> None:
    risky = ["=1+1", "+86 138 0000 0000", "-5", "@SUM(A1:A2)", '=HYPERLINK("http://x","y")']

    def add_risky_text(t: dict[str, list[dict[str, Any]]]) -> None:
        for tier, text in zip(t["tiers"], risky):
            tier["approach"] = text
        t["keywords"].append({"word": "=cmd|' /C calc'!A0", "kind": "negative", "category": None, "weight": 1.0})

    policy = edit_json(default_policy(), add_risky_text)
    path = export_policy(policy, tmp_path / "策略.xlsx")
    back = import_policy(path)
    assert back.sha256 == policy.sha256
    assert back.to_json() == policy.to_json()
    assert [t["approach"] for t in back.tables["tiers"]][:4] == risky[:4]

    with zipfile.ZipFile(path) as z:
        sheets = sorted(n for n in z.namelist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n))
        assert len(sheets) == 1 + len(TABLES)
        xml = {n: z.read(n).decode("utf-8") for n in sheets}
    n_cells = 0
    for name, text in xml.items():
        assert not re.search(r"<f[ >/]", text), f"formula in {name}"
        for cell in re.finditer(r"<c ([^>]*?)(/>|>(.*?)</c>)", text, re.DOTALL):
            attrs, body = cell.group(1), cell.group(3) or ""
            if "<v>" in body or "<is>" in body:
                n_cells += 1
                assert re.search(r'\bt="(s|inlineStr)"', attrs), f"non-text cell in {name}: {cell.group(0)[:120]}"
    assert n_cells > 1000

    wb = CalamineWorkbook.from_path(str(path))
    assert wb.sheet_names[0] == "说明"
    assert wb.sheet_names[1:] == [t.sheet for t in TABLES.values()]
    readme = wb.get_sheet_by_name("说明").to_python()
    assert any("reviewops policy import" in str(c) for row in readme for c in row)
    for spec in TABLES.values():
        rows = wb.get_sheet_by_name(spec.sheet).to_python()
        assert [str(h) for h in rows[0][: len(spec.columns)]] == [c.header for c in spec.columns]
        assert all(CJK.search(c.header) for c in spec.columns)
    assert "响应时效(小时)" in [c.header for c in TABLES["categories"].columns]
    assert "附赠券(元)" in [c.header for c in TABLES["remedy_bands"].columns]

    # every choice / role / yes-no column has a drop-down list on its sheet
    sheet_xml = {spec.sheet: xml[f"xl/worksheets/sheet{i}.xml"] for i, spec in enumerate(TABLES.values(), start=2)}
    for spec in TABLES.values():
        choice_cols = [j for j, c in enumerate(spec.columns) if c.type in ("choice", "role", "bool")]
        text = sheet_xml[spec.sheet]
        if choice_cols:
            assert "<dataValidation" in text, spec.sheet
        sqrefs = re.findall(r'<dataValidation [^>]*sqref="([A-Z]+)2:', text)
        assert sorted(sqrefs) == sorted(chr(ord("A") + j) for j in choice_cols), spec.sheet
    lists = re.findall(r"<formula1>(.*?)</formula1>", sheet_xml["分类时效"])
    assert '"物流,质量,尺码,漏发错发,描述不符,服务,价格,恶意,其他"' in lists  # Chinese names in the drop-down
    assert '"agent,supervisor,legal,admin"' in lists and '"是,否"' in lists


def test_edits_made_in_excel_are_imported(default_xlsx: Path, tmp_path: Path) -> None:
    def edit(wb: openpyxl.Workbook) -> dict[str, int]:
        cats = wb["分类时效"]
        set_cell(cats, "物流", "响应时效(小时)", 3)             # typed as a number
        set_cell(cats, "价格", "负责角色", "supervisor")          # role code from the drop-down
        set_cell(cats, "价格", "严重程度", "高")                  # choice in Chinese
        set_cell(cats, "质量", "需平台申诉", "是")
        kw = wb["词库"]
        new_row = kw.max_row + 1
        for header, value in (("词语", "慢得离谱"), ("类型", "负面"), ("分类", "物流"), ("权重", 2.5)):
            kw.cell(new_row, col_of(kw, header), value)
        bands = wb["补偿档位"]
        set_cell(bands, "100", "补偿方式", "主管决定")            # Chinese name of 'supervisor'
        set_cell(bands, "100", "附赠券(元)", 7.5)                 # money typed as a number, in yuan
        set_cell(bands, "100", "审批角色", "supervisor")
        params = wb["参数"]
        set_cell(params, "sla_clock", "值", "business")
        set_cell(params, "business_day_start", "值", "08:30")
        set_cell(params, "delay_coupon_fen", "值", "6.6")
        return {"keyword_row": new_row}

    path, _ = edited(default_xlsx, tmp_path / "策略.xlsx", edit)
    p = import_policy(path)
    assert p.category("logistics")["sla_hours"] == 3.0
    assert (p.category("price")["owner_role"], p.category("price")["severity"]) == ("supervisor", "high")
    assert p.category("quality")["appeal"] is True
    assert {"word": "慢得离谱", "kind": "negative", "category": "logistics", "weight": 2.5} in [
        dict(r) for r in p.keywords("negative")]
    band = next(b for b in p.tables["remedy_bands"] if b["min_fen"] == 10000)
    assert (band["remedy"], band["coupon_fen"], band["approver_role"]) == ("supervisor", 750, "supervisor")
    assert p.setting("sla_clock") == "business"
    assert p.setting("business_day_start").strftime("%H:%M") == "08:30"
    assert p.setting("delay_coupon_fen") == 660
    # everything not edited is unchanged
    d = default_policy()
    assert p.category("malicious") == d.category("malicious")
    assert p.tables["templates"] == d.tables["templates"]
    assert len(p.tables["keywords"]) == len(d.tables["keywords"]) + 1


# ---------------------------------------------------------------- validation
def test_bad_cells_are_all_reported_with_sheet_row_column_and_value(default_xlsx: Path, tmp_path: Path) -> None:
    def edit(wb: openpyxl.Workbook) -> dict[str, int]:
        return {
            "sla": set_cell(wb["分类时效"], "物流", "响应时效(小时)", "两小时"),
            "role": set_cell(wb["分类时效"], "质量", "负责角色", "manager"),
            "coupon": set_cell(wb["补偿档位"], "0", "附赠券(元)", "5.555"),
            "weight": set_cell(wb["词库"], wb["词库"]["A2"].value, "权重", "很高"),
        }

    path, rows = edited(default_xlsx, tmp_path / "bad.xlsx", edit)
    problems = problems_of(path)
    assert len(problems) == 4, "\n".join(map(str, problems))
    sla = find(problems, sheet="分类时效", row=rows["sla"], column="响应时效(小时)")
    assert (sla.file, sla.value, sla.code) == ("bad.xlsx [分类时效]", "两小时", "policy_cell")
    assert "数字" in sla.reason_zh and "number" in sla.reason_en
    role = find(problems, sheet="分类时效", row=rows["role"], column="负责角色")
    assert role.value == "manager" and "supervisor" in role.reason_zh and "supervisor" in role.reason_en
    coupon = find(problems, sheet="补偿档位", row=rows["coupon"], column="附赠券(元)")
    assert coupon.value == "5.555" and "2 decimals" in coupon.reason_en
    weight = find(problems, sheet="词库", row=rows["weight"], column="权重")
    assert weight.value == "很高"
    for p in problems:
        assert_bilingual(p)
    assert rows["sla"] == 5  # the default's 4th category row (header is row 1)


def test_broken_rules_are_all_reported_at_once(default_xlsx: Path, tmp_path: Path) -> None:
    def edit(wb: openpyxl.Workbook) -> dict[str, int]:
        cats, roles, bands, tpl, params = wb["分类时效"], wb["角色权限"], wb["补偿档位"], wb["话术模板"], wb["参数"]
        rows = {"dup": set_cell(cats, "物流", "分类代码", "质量")}   # duplicates 质量, logistics now missing
        rows["quality"] = row_of(cats, "质量")
        rows["agent"] = row_of(roles, "agent")
        rows["supervisor"] = set_cell(roles, "supervisor", "升级至", "agent")  # agent → supervisor → agent
        rows["gap"] = set_cell(bands, "100", "订单金额下限(元)", "150")
        rows["open"] = set_cell(bands, "300", "订单金额上限(元)", "1000")
        rows["foo"] = row_of(tpl, "物流", 2)
        tpl.cell(rows["foo"], 4, tpl.cell(rows["foo"], 4).value + "（{foo}）")
        rows["cash"] = row_of(tpl, "质量", 2)
        tpl.cell(rows["cash"], 4, "亲，给您带来不便很抱歉，好评返现5元哦")
        rows["delete"] = row_of(tpl, "尺码", 2)
        tpl.cell(rows["delete"], 4, "亲，删评就退款")
        rows["threshold"] = set_cell(params, "negative_threshold", "值", "1.5")
        rows["unknown"] = params.max_row + 1
        params.cell(rows["unknown"], 1, "auto_refund_everything")
        params.cell(rows["unknown"], 2, "是")
        return rows

    path, rows = edited(default_xlsx, tmp_path / "rules.xlsx", edit)
    problems = problems_of(path)

    dup = find(problems, sheet="分类时效", row=rows["dup"], column="分类代码")
    assert dup.value == "quality" and f"第{rows['quality']}行" in dup.reason_zh
    missing = find(problems, sheet="分类时效", row=None, column="分类代码")
    assert missing.value == "logistics" and "物流" in missing.reason_zh and "missing" in missing.reason_en
    loop = find(problems, sheet="角色权限", row=rows["supervisor"], column="升级至")
    assert loop.value == "agent" and "循环" in loop.reason_zh and "loop" in loop.reason_en
    find(problems, sheet="角色权限", row=rows["agent"], column="升级至")
    gap = find(problems, sheet="补偿档位", row=rows["gap"], column="订单金额下限(元)")
    assert gap.value == "150" and "100" in gap.reason_zh and "contiguous" in gap.reason_en
    last = find(problems, sheet="补偿档位", row=rows["open"], column="订单金额上限(元)")
    assert last.value == "1000" and "last band" in last.reason_en
    foo = find(problems, sheet="话术模板", row=rows["foo"], column="话术")
    assert foo.value == "{foo}" and "占位符" in foo.reason_zh and "placeholder" in foo.reason_en
    cash = find(problems, sheet="话术模板", row=rows["cash"], column="话术")
    assert "好评返" in cash.value and "conditional-incentive" in cash.reason_en
    delete = find(problems, sheet="话术模板", row=rows["delete"], column="话术")
    assert "删评" in delete.value
    threshold = find(problems, sheet="参数", row=rows["threshold"], column="值")
    assert threshold.value == "1.5" and "negative_threshold" in threshold.reason_en
    unknown = find(problems, sheet="参数", row=rows["unknown"], column="参数")
    assert unknown.value == "auto_refund_everything" and "unknown setting" in unknown.reason_en
    for p in problems:
        assert p.file.startswith("rules.xlsx [") and p.code == "policy_rule"
        assert_bilingual(p)
    assert rows["dup"] == 5 and rows["supervisor"] == 3 and rows["gap"] == 3 and rows["open"] == 4


def test_business_day_end_before_start_is_rejected(default_xlsx: Path, tmp_path: Path) -> None:
    path, _ = edited(default_xlsx, tmp_path / "hours.xlsx",
                     lambda wb: set_cell(wb["参数"], "business_day_end", "值", "08:00"))
    [p] = problems_of(path)
    assert (p.file, p.column, p.value) == ("hours.xlsx [参数]", "值", "09:00-08:00")
    assert "晚于" in p.reason_zh and "after" in p.reason_en


def test_business_day_end_before_start_names_the_row(default_xlsx: Path, tmp_path: Path) -> None:
    path, row = edited(default_xlsx, tmp_path / "hours.xlsx",
                       lambda wb: set_cell(wb["参数"], "business_day_end", "值", "08:00"))
    [p] = problems_of(path)
    assert p.row == row


def test_bad_setting_values_name_their_rows(default_xlsx: Path, tmp_path: Path) -> None:
    def edit(wb: openpyxl.Workbook) -> dict[str, int]:
        return {"start": set_cell(wb["参数"], "business_day_start", "值", "9点"),
                "clock": set_cell(wb["参数"], "sla_clock", "值", "sometimes"),
                "fractions": set_cell(wb["参数"], "sla_warn_fractions", "值", "0.8;0.5"),
                "coupon": set_cell(wb["参数"], "care_coupon_fen", "值", "-5")}

    path, rows = edited(default_xlsx, tmp_path / "settings.xlsx", edit)
    problems = problems_of(path)
    assert len(problems) == 4, "\n".join(map(str, problems))
    start = find(problems, sheet="参数", row=rows["start"], column="值")
    assert start.value == "9点" and "09:00" in start.reason_zh
    clock = find(problems, sheet="参数", row=rows["clock"], column="值")
    assert clock.value == "sometimes" and "business" in clock.reason_en
    find(problems, sheet="参数", row=rows["fractions"], column="值")
    coupon = find(problems, sheet="参数", row=rows["coupon"], column="值")
    assert coupon.value == "-5" and "care_coupon_fen" in coupon.reason_en
    for p in problems:
        assert_bilingual(p)


def test_renamed_header_is_reported(default_xlsx: Path, tmp_path: Path) -> None:
    def edit(wb: openpyxl.Workbook) -> None:
        wb["分类时效"].cell(1, col_of(wb["分类时效"], "响应时效(小时)"), "时效")

    path, _ = edited(default_xlsx, tmp_path / "header.xlsx", edit)
    problems = problems_of(path)
    unknown = find(problems, sheet="分类时效", row=1, column="时效")
    assert unknown.value == "时效" and "表头" in unknown.reason_zh and "header" in unknown.reason_en
    gone = find(problems, sheet="分类时效", row=1, column="响应时效(小时)")
    assert "缺少" in gone.reason_zh and "missing" in gone.reason_en
    for p in problems:
        assert_bilingual(p)


def test_missing_sheet_is_reported(default_xlsx: Path, tmp_path: Path) -> None:
    def edit(wb: openpyxl.Workbook) -> None:
        del wb["跟进节奏"]

    path, _ = edited(default_xlsx, tmp_path / "sheet.xlsx", edit)
    [p] = problems_of(path)
    assert p.value == "跟进节奏" and p.code == "policy_missing_sheet" and "跟进节奏" in p.reason_zh
    assert p.file.startswith("sheet.xlsx")
    assert_bilingual(p)


def test_unreadable_file_is_a_policy_problem(tmp_path: Path) -> None:
    path = tmp_path / "junk.xlsx"
    path.write_bytes(b"PK\x03\x04 not a workbook")
    [p] = problems_of(path)
    assert p.code == "policy_file" and p.file == "junk.xlsx"


def test_cell_and_rule_problems_are_collected_in_one_round(default_xlsx: Path, tmp_path: Path) -> None:
    def edit(wb: openpyxl.Workbook) -> dict[str, int]:
        return {"sla": set_cell(wb["分类时效"], "物流", "响应时效(小时)", "两小时"),
                "gap": set_cell(wb["补偿档位"], "100", "订单金额下限(元)", "150")}

    path, rows = edited(default_xlsx, tmp_path / "both.xlsx", edit)
    problems = problems_of(path)
    find(problems, sheet="分类时效", row=rows["sla"], column="响应时效(小时)")
    find(problems, sheet="补偿档位", row=rows["gap"], column="订单金额下限(元)")


def test_cli_rejects_a_bad_workbook_and_stores_nothing(default_xlsx: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    exported = tmp_path / "策略.xlsx"
    code, out, _ = cli(capsys, "policy", "export", str(exported))
    assert code == 0 and "v1" in out and exported.exists()
    code, before, _ = cli(capsys, "policy", "show", "--json")
    assert code == 0 and [v["version"] for v in json.loads(before)] == [1]

    bad, row = edited(exported, tmp_path / "bad.xlsx",
                      lambda wb: set_cell(wb["分类时效"], "物流", "响应时效(小时)", "两小时"))
    code, out, err = cli(capsys, "policy", "import", str(bad), "--note", "坏的")
    assert code == EXIT_USER_ERROR
    assert "bad.xlsx [分类时效]" in err and f"第{row}行" in err and "响应时效(小时)" in err and "两小时" in err
    assert "未保存" in err and "nothing was stored" in err
    code, after, _ = cli(capsys, "policy", "show", "--json")
    assert code == 0 and after == before

    code, out, err = cli(capsys, "policy", "import", str(tmp_path / "missing.xlsx"))
    assert code == EXIT_USER_ERROR and out == ""
    code, out, err = cli(capsys, "policy", "export", str(tmp_path / "v9.xlsx"), "--version", "9")
    assert code == EXIT_USER_ERROR and "9" in err and not (tmp_path / "v9.xlsx").exists()

    good, _ = edited(exported, tmp_path / "good.xlsx",
                     lambda wb: set_cell(wb["分类时效"], "物流", "响应时效(小时)", "3"))
    code, out, _ = cli(capsys, "policy", "import", str(good), "--note", "物流 3 小时", "--json")
    assert code == 0 and json.loads(out)["version"] == 2 and json.loads(out)["changed"] is True
    code, out, _ = cli(capsys, "policy", "import", str(good))
    assert code == 0 and "v2" in out  # same content: no new version
    code, out, _ = cli(capsys, "policy", "show", "--json")
    versions = json.loads(out)
    assert [v["version"] for v in versions] == [2, 1] and versions[0]["note"] == "物流 3 小时"


# ---------------------------------------------------------------- compliance
@pytest.mark.parametrize("text", ["好评返现", "改好评返5元", "删评就退款", "五星送礼品", "追加好评返红包",
                                  "亲，麻烦删除差评，我们马上退款", "修改评价后给您补偿优惠券"])
def test_forbidden_hits_catch_conditional_incentives(text: str) -> None:
    hits = default_policy().forbidden_hits(text)
    assert hits, text
    assert all(m in text and CJK.search(reason) for m, reason in hits)


@pytest.mark.parametrize("text", [
    "__revision_guidance__",
    "已为您退款并补发",
    "感谢您的评价",
    "亲，非常抱歉，已为您补发并附赠5元优惠券，今天内发出～",
    "感谢您的好评，期待您再次光临！",
    "退款已到账，您可以随时修改评价",  # guidance after the remedy, not a condition
    "我们不会要求您删评",
])
def test_forbidden_hits_leave_legitimate_texts_alone(text: str) -> None:
    p = default_policy()
    if text == "__revision_guidance__":
        text = p.template("revision_guidance")
        assert text and "更新评价" in text
    assert p.forbidden_hits(text) == []


@pytest.mark.parametrize("text", ["五星好评后联系客服领红包", "晒图好评可获得5元红包", "追评返现"])
def test_forbidden_hits_catch_common_cashback_phrasings(text: str) -> None:
    assert default_policy().forbidden_hits(text), text


def test_emptying_the_forbidden_sheet_does_not_switch_compliance_off(default_xlsx: Path, tmp_path: Path) -> None:
    def edit(wb: openpyxl.Workbook) -> None:
        ws = wb["违规用语"]
        ws.delete_rows(2, ws.max_row)
        wb["话术模板"].cell(2, 4, "亲，好评返现5元！")

    path, _ = edited(default_xlsx, tmp_path / "nocheck.xlsx", edit)
    problems_of(path)


# -------------------------------------------------------------------- store
def test_versions_are_stored_once_and_kept(store: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert load_policy(store) is None
    assert policy_versions_list(store) == []
    v1 = current_policy(store, actor="test")
    assert v1.version == 1 and v1.sha256 == default_policy().sha256
    assert current_policy(store).version == 1
    assert [v["version"] for v in policy_versions_list(store)] == [1]

    same = save_policy(store, default_policy(), actor="test", note="again")
    assert same.version == 1
    assert len(policy_versions_list(store)) == 1

    def slower(t: dict[str, list[dict[str, Any]]]) -> None:
        next(r for r in t["categories"] if r["code"] == "logistics")["sla_hours"] = 3.0

    changed = edit_json(default_policy(), slower)
    v2 = save_policy(store, changed, actor="alice", note="物流改为 3 小时")
    assert v2.version == 2 and v2.sha256 == changed.sha256
    assert current_policy(store).version == 2
    assert current_policy(store).category("logistics")["sla_hours"] == 3.0

    old = load_policy(store, 1)
    assert old is not None and old.version == 1 and old.sha256 == default_policy().sha256
    assert old.category("logistics")["sla_hours"] == 2.0
    with pytest.raises(NotFound, match="3"):
        load_policy(store, 3)

    rows = policy_versions_list(store)
    assert [r["version"] for r in rows] == [2, 1]
    assert (rows[0]["created_by"], rows[0]["note"], rows[0]["sha256"]) == ("alice", "物流改为 3 小时", v2.sha256)
    assert rows[1]["created_by"] == "test" and rows[1]["sha256"] == v1.sha256

    code, out, _ = cli(capsys, "policy", "show", "--json", "--db", store.url)
    assert code == 0
    shown = json.loads(out)
    assert [r["version"] for r in shown] == [2, 1] and shown[0]["sha256"] == v2.sha256
    code, out, _ = cli(capsys, "policy", "show", "--db", store.url)
    assert code == 0 and out.index("v2") < out.index("v1")


# ------------------------------------------------------------- properties
def _raw_tables(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Cell values per table, as a shop's workbook holds them (header row → column keys)."""
    wb = CalamineWorkbook.from_path(str(path))
    raw: dict[str, list[dict[str, Any]]] = {}
    for key, spec in TABLES.items():
        rows = wb.get_sheet_by_name(spec.sheet).to_python()
        keys = {c.header: c.key for c in spec.columns}
        cols = [keys.get(str(h)) for h in rows[0]]
        raw[key] = [{k: v for k, v in zip(cols, r) if k} for r in rows[1:]]
    return raw


@functools.lru_cache(maxsize=1)
def _default_raw_json() -> str:
    with tempfile.TemporaryDirectory() as d:
        return json.dumps(_raw_tables(export_policy(default_policy(), Path(d) / "default.xlsx")), ensure_ascii=False)


def _yuan_text(fen: int) -> str:
    return format((Decimal(fen) / 100).normalize(), "f")


hundredths = hst.integers(min_value=5, max_value=100_000)      # SLA hours × 100 in [0.05, 1000]
fen = hst.integers(min_value=0, max_value=10_000_000)          # money in fen (≤ 100,000 yuan)
as_number = hst.booleans()                                     # typed as a number cell or as text


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sla=hundredths, sla_number=as_number, coupon=fen, coupon_number=as_number, delay=fen,
       delay_number=as_number, zeros=hst.booleans())
def test_numeric_edits_survive_the_round_trip_exactly(sla: int, sla_number: bool, coupon: int,
                                                      coupon_number: bool, delay: int, delay_number: bool,
                                                      zeros: bool) -> None:
    raw = json.loads(_default_raw_json())  # the default workbook's cells; edited below as a shop would
    hours = Decimal(sla) / 100
    hours_text = f"{hours:.2f}" if zeros else format(hours.normalize(), "f")
    yuan = Decimal(coupon) / 100
    coupon_text = f"{yuan:.2f}" if zeros else _yuan_text(coupon)
    logistics = next(r for r in raw["categories"] if r["code"] == "物流")
    logistics["sla_hours"] = float(hours) if sla_number else hours_text
    first_band = next(r for r in raw["remedy_bands"] if str(r["min_fen"]) == "0")
    first_band["coupon_fen"] = float(yuan) if coupon_number else coupon_text
    delay_row = next(r for r in raw["settings"] if r["key"] == "delay_coupon_fen")
    delay_row["value"] = float(Decimal(delay) / 100) if delay_number else _yuan_text(delay)

    edited_policy = Policy.from_tables(raw, source="edited.xlsx")
    assert edited_policy.category("logistics")["sla_hours"] == float(hours)
    with tempfile.TemporaryDirectory() as d:
        path = export_policy(edited_policy, Path(d) / "策略.xlsx")
        back = import_policy(path)
        cells = _raw_tables(path)
    # the workbook shows canonical yuan text: no float noise, no trailing zeros
    assert next(r for r in cells["remedy_bands"] if r["min_fen"] == "0")["coupon_fen"] == _yuan_text(coupon)
    assert next(r for r in cells["categories"] if r["code"] == "物流")["sla_hours"] == format(hours.normalize(), "f")
    assert back.category("logistics")["sla_hours"] == float(hours)
    band = next(b for b in back.tables["remedy_bands"] if b["min_fen"] == 0)
    assert band["coupon_fen"] == coupon and isinstance(band["coupon_fen"], int)
    assert back.setting("delay_coupon_fen") == delay
    assert back.sha256 == edited_policy.sha256


def test_float_cells_keep_full_precision_on_export(tmp_path: Path) -> None:
    def fine(t: dict[str, list[dict[str, Any]]]) -> None:
        next(r for r in t["categories"] if r["code"] == "logistics")["sla_hours"] = 1 / 12  # 5 minutes
        t["keywords"][0]["weight"] = 1234567.0

    policy = edit_json(default_policy(), fine)
    back = import_policy(export_policy(policy, tmp_path / "p.xlsx"))
    assert back.category("logistics")["sla_hours"] == 1 / 12
    assert back.sha256 == policy.sha256


def test_settings_table_lists_every_setting_with_its_default() -> None:
    rows = {r["key"]: r for r in default_policy().tables["settings"]}
    assert set(rows) == set(SETTINGS)
    for key, spec in SETTINGS.items():
        assert rows[key]["value"] == spec.default
        assert CJK.search(rows[key]["note"])


def test_role_names_and_excel_time_cells_are_understood(default_xlsx: Path, tmp_path: Path) -> None:
    import datetime as dt

    def edit(wb: openpyxl.Workbook) -> None:
        set_cell(wb["分类时效"], "物流", "负责角色", "客服主管")  # the role's Chinese name
        row = set_cell(wb["参数"], "business_day_start", "值", "x")
        wb["参数"].cell(row, 2).value = dt.time(10, 0)  # a real Excel time cell reads as 10:00:00

    path, _ = edited(default_xlsx, tmp_path / "names.xlsx", edit)
    p = import_policy(path)
    assert p.category("logistics")["owner_role"] == "supervisor"
    assert p.setting("business_day_start") == dt.time(10, 0)


def test_revision_guidance_cannot_be_scheduled_before_the_remedy():
    from reviewops.core.policy import TABLES, _json_to_cell

    tables = {k: [dict(r) for r in rows] for k, rows in default_policy().tables.items()}
    for r in tables["followups"]:
        if r["template_kind"] == "revision_guidance":
            r["anchor"] = "contacted"
    raw = {k: [{c: _json_to_cell(TABLES[k], c, v) for c, v in r.items()} for r in rows] for k, rows in tables.items()}
    with pytest.raises(PolicyInvalid, match="补偿送达"):
        Policy.from_tables(raw)
