"""Build ``workbooks/ReviewOps.xlsm`` from the xlwings quickstart workbook (reproducible).

    python workbooks/build_workbook.py [--template PATH] [--out workbooks/ReviewOps.xlsm]

The template is ``quickstart.xlsm`` shipped inside the installed ``xlwings`` package (what
``xlwings quickstart`` copies). The script keeps its VBA project (``keep_vba=True``) and:

* renames ``_xlwings.conf`` to ``xlwings.conf`` so it is **active** (xlwings reads a sheet of
  that exact name first) and sets ``UDF Modules`` to ``reviewops.excel`` — the functions come
  from the installed package, not from a ``ReviewOps.py`` next to the workbook;
* turns ``Sheet1`` into ``示例``: worked examples of every ``RO_*`` function, inputs in cells
  and formulas that only reference those cells (no user text inside a formula);
* adds a blank ``分析`` sheet for the analyst's own lists.

Results span fixed ranges as array formulas (work in every Excel version); on Excel 365 a
formula typed by hand spills by itself.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.formula import ArrayFormula

HERE = Path(__file__).resolve().parent
OUT = HERE / "ReviewOps.xlsm"
CONF_SHEET = "xlwings.conf"
UDF_MODULE = "reviewops.excel"
EXAMPLES = "示例"
ANALYSIS = "分析"

BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
INPUT = PatternFill("solid", fgColor="FFF2CC")  # yellow: type here
NOTE = Font(italic=True, color="666666")


def _template() -> Path:
    import xlwings

    return Path(xlwings.__file__).parent / "quickstart.xlsm"


def _text(ws, ref: str, value: str) -> None:
    """A user-text input cell: an explicit string, formatted as text (IDs stay text)."""
    c = ws[ref]
    c.value = value
    c.data_type = "s"
    c.number_format = "@"
    c.fill = INPUT


def _value(ws, ref: str, value, number_format: str | None = None) -> None:
    c = ws[ref]
    c.value = value
    c.fill = INPUT
    if number_format:
        c.number_format = number_format


def _array(ws, ref: str, formula: str) -> None:
    """A result range filled by one array formula (top-left cell holds it)."""
    top = ref.split(":")[0]
    ws[top] = ArrayFormula(ref, formula)


def _label(ws, ref: str, text: str, font: Font = BOLD) -> None:
    ws[ref] = text
    ws[ref].font = font


def build_examples(ws) -> None:
    """Fill the 示例 sheet: one block per function."""
    ws.title = EXAMPLES
    _label(ws, "A1", "ReviewOps Excel 函数示例 / worked examples", TITLE)
    _label(ws, "A2", "黄色单元格是输入，可以改；结果区域由公式计算。需要 xlwings 加载项并“Import Python UDFs”，见 docs/excel.md。"
                     "时间均为北京时间。", NOTE)

    _label(ws, "A4", "RO_CLASSIFY：单条评价 → 中差评、负面分、主分类、全部分类")
    ws["A5"] = "评价内容"
    _text(ws, "B5", "物流太慢了，等了一周才到")
    ws["A6"] = "评分"
    _value(ws, "B6", 2)
    ws["A7"] = "结果"
    _array(ws, "B7:E7", "=RO_CLASSIFY(B5,B6)")

    _label(ws, "A9", "RO_CLASSIFY：一列评价 → 带表头的表")
    ws["A10"] = "评价内容"
    _text(ws, "A11", "质量很差，用了两天就坏了")
    _text(ws, "A12", "很好，下次还来")
    _text(ws, "A13", "客服态度恶劣，我要投诉")
    _array(ws, "C10:F13", "=RO_CLASSIFY(A11:A13)")

    _label(ws, "A15", "RO_TRIAGE：带表头的区域 → 分级、时效、负责角色、截止时间、理由（订单号列保持文本）")
    for col, head in zip("ABCDE", ("订单号", "评价内容", "评分", "评价时间", "平台")):
        ws[f"{col}16"] = head
        ws[f"{col}16"].font = BOLD
    rows = [
        ("3287461953021847561", "快递太慢了，一周才到", 1, dt.datetime(2026, 11, 20, 9, 30), "淘宝"),
        ("3287461953021847562", "衣服尺码偏小，穿不上", "中评", dt.datetime(2026, 11, 20, 14, 5), "抖店"),
        ("3287461953021847563", "不给返现就给差评", 1, dt.datetime(2026, 11, 21, 20, 0), "拼多多"),
    ]
    for i, (oid, text, rating, when, platform) in enumerate(rows, start=17):
        _text(ws, f"A{i}", oid)
        _text(ws, f"B{i}", text)
        if isinstance(rating, str):
            _text(ws, f"C{i}", rating)
        else:
            _value(ws, f"C{i}", rating)
        _value(ws, f"D{i}", when, "yyyy-mm-dd hh:mm")
        _text(ws, f"E{i}", platform)
    _array(ws, "G16:Q19", "=RO_TRIAGE(A16:E19)")

    _label(ws, "A21", "RO_SLA：分类 + 起算时间 → [时效(小时), 负责角色, 响应截止]")
    ws["A22"] = "分类"
    _text(ws, "B22", "质量")
    ws["A23"] = "起算时间"
    _value(ws, "B23", dt.datetime(2026, 11, 20, 17, 30), "yyyy-mm-dd hh:mm")
    ws["A24"] = "结果"
    _array(ws, "B24:D24", "=RO_SLA(B22,B23)")
    ws["D24"].number_format = "yyyy-mm-dd hh:mm"

    _label(ws, "A26", "RO_REMEDY：订单金额（元）+ 客户分层 → [补偿方式, 优惠券(元), 审批角色, 礼遇, 说明]")
    ws["A27"] = "订单金额(元)"
    _value(ws, "B27", 129.5)
    ws["A28"] = "客户分层"
    _text(ws, "B28", "高价值")
    ws["A29"] = "结果"
    _array(ws, "B29:F29", "=RO_REMEDY(B27,B28)")

    _label(ws, "A31", "RO_TIER：年消费（元）、订单数、最近下单日期 → [分层代码, 分层名称, 理由]")
    ws["A32"] = "年消费(元)"
    _value(ws, "B32", 1500)
    ws["A33"] = "订单数"
    _value(ws, "B33", 6)
    ws["A34"] = "最近下单"
    _value(ws, "B34", dt.datetime(2026, 10, 8), "yyyy-mm-dd")
    ws["A35"] = "结果"
    _array(ws, "B35:D35", "=RO_TIER(B32,B33,B34)")

    _label(ws, "A37", "RO_REPLY：分类、补偿、顾客称呼、平台 → [3S 回复草稿, 提示]")
    ws["A38"] = "分类"
    _text(ws, "B38", "物流")
    ws["A39"] = "补偿"
    _text(ws, "B39", "退款并附赠5元优惠券")
    ws["A40"] = "顾客称呼"
    _text(ws, "B40", "张女士")
    ws["A41"] = "平台"
    _text(ws, "B41", "淘宝")
    ws["A42"] = "结果"
    _array(ws, "B42:C42", "=RO_REPLY(B38,B39,B40,B41)")

    _label(ws, "A44", "RO_MASK：文本 → 打码（手机号、身份证、座机、QQ）")
    ws["A45"] = "文本"
    _text(ws, "B45", "收件人电话 13800138000，身份证 110101199001010017")
    ws["A46"] = "结果"
    ws["B46"] = "=RO_MASK(B45)"

    _label(ws, "A48", "RO_CASES：读取店铺数据库的案件（只读、已打码；需设置 REVIEWOPS_DB 和 REVIEWOPS_TOKEN（reviewops users token 你的账号）")
    ws["A49"] = "状态"
    _text(ws, "B49", "未关闭")
    ws["A50"] = "分类"
    _text(ws, "B50", "物流")
    ws["A51"] = "截止不早于"
    _value(ws, "B51", dt.datetime(2026, 11, 1), "yyyy-mm-dd")
    _array(ws, "A52:L62", "=RO_CASES(B49,B50,B51)")

    _label(ws, "A64", "RO_KPI：指标 + 日期范围（含首尾，北京时间）→ 该时段的数值（需设置 REVIEWOPS_DB）")
    ws["A65"] = "指标"
    _text(ws, "B65", "中差评率")
    ws["A66"] = "开始"
    _value(ws, "B66", dt.datetime(2026, 10, 1), "yyyy-mm-dd")
    ws["A67"] = "结束"
    _value(ws, "B67", dt.datetime(2026, 11, 25), "yyyy-mm-dd")
    ws["A68"] = "结果"
    ws["B68"] = "=RO_KPI(B65,B66,B67)"
    ws["B68"].number_format = "0.0%"

    _label(ws, "A70", "RO_RISK：高风险订单提示（P2：按买家下单前的历史打分，原因与建议措施；只读、不含个人信息；需设置 REVIEWOPS_DB 和 "
           "REVIEWOPS_TOKEN）")
    ws["A71"] = "开始（下单不早于）"
    _value(ws, "B71", dt.datetime(2026, 11, 14), "yyyy-mm-dd")
    ws["A72"] = "评分时刻（空=现在）"
    _value(ws, "B72", dt.datetime(2026, 11, 20, 18, 0), "yyyy-mm-dd hh:mm")
    ws["A73"] = "门槛（空=策略）"
    _value(ws, "B73", 0.5, "0.00")
    _array(ws, "A74:G84", "=RO_RISK(B71,B72,B73)")

    ws["A7"].comment = Comment("结果区域由数组公式填充；在 Excel 365 中自己输入的公式会自动溢出。", "ReviewOps")
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 34
    for col in "CDEFGHIJKLMNOPQ":
        ws.column_dimensions[col].width = 16
    for row in ws.iter_rows(min_row=16, max_row=19):
        for c in row:
            c.alignment = Alignment(vertical="top", wrap_text=c.column_letter == "Q")


def configure(ws) -> None:
    """The active ``xlwings.conf`` sheet: UDFs from the installed ``reviewops.excel``."""
    ws.title = CONF_SHEET
    for row in range(1, 10):
        if ws[f"A{row}"].value == "UDF Modules":
            ws[f"B{row}"] = UDF_MODULE
            break
    else:  # pragma: no cover - template changed
        raise SystemExit("template has no 'UDF Modules' row in its conf sheet")
    ws["A11"] = "ReviewOps:"
    ws["A11"].font = BOLD
    ws["A12"] = ("此工作表名为 xlwings.conf，因此生效：UDF 来自已安装的 reviewops.excel（pip install reviewops xlwings）。"
                 "Interpreter_Win 留 python 即可，或填 python.exe 的完整路径。")


def build(out: Path = OUT, template: Path | None = None) -> Path:
    """Write the workbook to ``out`` (through a temporary file) and return the path."""
    template = template or _template()
    wb = load_workbook(template, keep_vba=True)
    conf = wb["_xlwings.conf"]
    configure(conf)
    examples = wb["Sheet1"]
    build_examples(examples)
    wb.create_sheet(ANALYSIS, index=1)
    wb.active = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / out.name
        wb.save(staged)
        shutil.move(staged, out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--template", type=Path, default=None, help="quickstart.xlsm (default: from the installed xlwings)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    print(build(args.out, args.template))


if __name__ == "__main__":
    main()
