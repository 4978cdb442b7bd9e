"""PDF reports keep every column on the page (issue 14 §4): checked on the RENDERED PDF.

Each playbook is run with ``pdf=True`` (as ``reviewops run --pdf`` does) on a small demo store; the PDF's
text is extracted per page with pdfplumber and rebuilt into lines from the characters' positions. Then:

* every column header of every report table (read from the HTML report) is found **whole, on one line,
  beside another header of the same table** — a header cut behind a scrollbar or wrapped one character
  per line is not;
* every demo shop name shown in the report is found whole on one line;
* no character lies outside the page box (x0 ≥ 0, x1 ≤ page width);
* the first table starts on page 1 (no nearly empty first page).

A synthetic table far too wide for any page checks the column-group split the same way. Characters are
compared after NFKC normalisation (the CJK fonts map some glyphs to Kangxi radicals such as ⽰ for 示).
"""

from __future__ import annotations

import collections
import datetime as dt
import html
import logging
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pandas as pd
import pdfplumber
import pytest
import reviewops
import sqlalchemy as sa
from reviewops import runner
from reviewops.core.outputs import REPORT_CSS, html_table
from reviewops.reporting.reports import SHANGHAI, iso_week

pytestmark = pytest.mark.skipif(not Path(runner.CHROMIUM).is_file(), reason="Debian chromium not installed")
logging.getLogger("pdfminer").setLevel(logging.ERROR)  # "Could not get FontBBox" for the CJK fonts

PLAYBOOKS = ("weekly_top3", "staff_scorecard", "customer_value", "daily_sweep")


# ------------------------------------------------------------------ reading the PDF
def norm(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def pdf_pages(path: Path) -> list[dict[str, Any]]:
    """Per page: its text lines (characters grouped by vertical centre, ordered left to right, normalised),
    the characters outside the page box, and the page size."""
    pages = []
    with pdfplumber.open(path) as pdf:
        for page in pdf.pages:
            chars = sorted(page.chars, key=lambda c: (c["top"] + c["bottom"]) / 2)
            lines: list[list[dict]] = []
            centre = None
            for c in chars:
                mid = (c["top"] + c["bottom"]) / 2
                if centre is None or abs(mid - centre) > max(2.0, 0.4 * c["size"]):
                    lines.append([])
                    centre = mid
                lines[-1].append(c)
            outside = [c["text"] for c in page.chars
                       if c["x0"] < -0.5 or c["x1"] > page.width + 0.5 or c["bottom"] > page.height + 0.5]
            pages.append({"lines": [norm("".join(c["text"] for c in sorted(ln, key=lambda c: c["x0"])))
                                    for ln in lines],
                          "outside": outside, "width": page.width, "height": page.height})
    return pages


def report_tables(report_html: str) -> list[list[str]]:
    """The column headers of every report table (``reviewops.core.outputs.html_table``) of an HTML report."""
    return [[norm(html.unescape(h)) for h in re.findall(r"<th>(.*?)</th>", m.group(1))]
            for m in re.finditer(r'<table class="ro-table"><thead><tr>(.*?)</tr></thead>', report_html, re.S)]


def header_found(header: str, headers: list[str], lines: list[str]) -> bool:
    """``header`` whole on a line that also holds another header of its table (a header row, not a heading)."""
    others = [o for o in headers if o != header]
    return any(header in ln and (not others or any(o in ln.replace(header, "", 1) for o in others)) for ln in lines)


def layout_problems(pdf: Path, report_html: str, names: list[str]) -> list[str]:
    pages = pdf_pages(pdf)
    lines = [ln for p in pages for ln in p["lines"]]
    problems = [f"page {i}: outside the page box: {''.join(p['outside'])[:60]!r}"
                for i, p in enumerate(pages, start=1) if p["outside"]]
    tables = report_tables(report_html)
    for headers in tables:
        problems += [f"column header {h!r} not whole on a header row" for h in headers
                     if not header_found(h, headers, lines)]
    problems += [f"shop name {n!r} not whole on one line" for n in names
                 if html.escape(n) in report_html and not any(norm(n) in ln for ln in lines)]
    if tables and not header_found(tables[0][0], tables[0], pages[0]["lines"]):
        problems.append("the first table does not start on page 1")
    return problems


# ------------------------------------------------------------------ the playbooks on a demo store
@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every playbook run with pdf=True on a demo store (scale 0.02), periods chosen around its data."""
    base = tmp_path_factory.mktemp("pdf_layout")
    env = {"XDG_DATA_HOME": str(base / "xdg-data"), "XDG_CONFIG_HOME": str(base / "xdg-config"),
           "REVIEWOPS_DB": str(base / "d.db"), "REVIEWOPS_PII_KEY": "ab" * 32,  # its own store: any fixed key
           "REVIEWOPS_DEMO_PASSWORD": "demo-pass-123"}
    full = {k: v for k, v in os.environ.items() if k != "REVIEWOPS_MULTI_USER"} | env
    subprocess.run([sys.executable, "-m", "reviewops", "demo", "--scale", "0.02", "--db", str(base / "d.db"),
                    "--out", str(base / "demo-out")], check=True, env=full, capture_output=True, timeout=300)
    from reviewops.core.store import reviews, shops

    store = reviewops.Store.open(str(base / "d.db"))
    try:
        with store.read() as conn:
            newest = conn.execute(sa.select(sa.func.max(reviews.c.created_at))).scalar_one()
            names = [str(n) for n in conn.execute(sa.select(shops.c.name)).scalars()]
    finally:
        store.close()
    last = newest.astimezone(SHANGHAI).date()
    params = {"weekly_top3": {"week": iso_week(newest)},
              "staff_scorecard": {"start": str(last - dt.timedelta(days=60)), "end": str(last)},
              "customer_value": {"start": str(last - dt.timedelta(days=120)), "end": str(last)},
              "daily_sweep": {"apply": "False"}}
    out: dict[str, Any] = {"names": names}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        mp.delenv("REVIEWOPS_MULTI_USER", raising=False)
        for name in PLAYBOOKS:
            res = runner.run_playbook(name, params[name], db=str(base / "d.db"), out_dir=base / "reports",
                                      formats=("html",), pdf=True, progress=False)
            assert "pdf" in res.outputs, res.notes
            out[name] = res.outputs
    return out


@pytest.mark.parametrize("name", PLAYBOOKS)
def test_every_column_and_shop_name_is_whole_on_the_rendered_page(rendered, name):
    outputs = rendered[name]
    report_html = outputs["html"].read_text(encoding="utf-8")
    assert report_tables(report_html), "the report shows tables"
    problems = layout_problems(outputs["pdf"], report_html, rendered["names"])
    assert problems == [], problems


def test_the_staff_scorecard_is_split_into_column_groups_that_repeat_its_key_columns(rendered):
    pages = pdf_pages(rendered["staff_scorecard"]["pdf"])
    lines = [ln for p in pages for ln in p["lines"]]
    assert all(p["width"] > p["height"] for p in pages)  # landscape: the report has wide tables
    # the performance table (15 columns) comes in parts, each starting with 客服账号 and 客服姓名
    heads = [ln for ln in lines if ln.startswith("客服账号客服姓名")]
    assert any(ln.startswith("客服账号客服姓名接手案件") for ln in heads), heads  # part 1
    assert any("改评率" in ln and "接手案件" not in ln for ln in heads), heads  # a later part, keys repeated
    assert any(re.match(r"第1/\d部分", ln) for ln in lines)
    # every agent row appears once per part, beside its name
    with_name = [ln for ln in lines if ln.startswith("xiaowang客服小王")]
    assert len(with_name) >= 3  # performance (two parts or more) + ledger


# ------------------------------------------------------------------ a table too wide for any page
def _wide_frame() -> pd.DataFrame:
    cols = {"店铺": ["禾木优选京东旗舰店（京东）", "禾木优选抖音小店（抖店）"],
            "订单编号": ["261112-107147593443984", "6920669873895793836"]}
    for i in range(1, 25):
        cols[f"第{i}项指标（单位：元/件）"] = [f"{i * 1234.5:.1f}", f"{i}"]
    cols["处理说明"] = ["客户反映物流太慢，已电话联系并补发优惠券，客户表示理解并同意修改评价内容" * 2, "短"]
    return pd.DataFrame(cols)


def test_print_html_splits_only_what_does_not_fit():
    narrow = html_table(pd.DataFrame({"店铺": ["甲店"], "数量": [1]}))
    doc = runner.print_html(f"<html><head></head><body>{narrow}</body></html>")
    assert "size: A4 portrait" in doc and doc.count("<table") == 1 and "ro-part" not in doc.split("</style>")[-1]
    wide = html_table(_wide_frame())
    doc = runner.print_html(f"<html><head></head><body>{wide}</body></html>")
    assert "size: A4 landscape" in doc
    body = doc.split("</head>", 1)[1]
    tables = re.findall(r"<thead><tr>(.*?)</tr></thead>", body)
    assert len(tables) >= 3
    heads = [re.findall(r"<th[^>]*>(.*?)</th>", t) for t in tables]
    assert all(h[:2] == ["店铺", "订单编号"] for h in heads)  # the key columns start every part
    shown = [c for h in heads for c in h[2:]]
    assert shown == list(_wide_frame().columns[2:])  # every other column exactly once, in order
    assert body.count('<td class="ro-wrap">') == 2  # only the long-text column wraps (both its cells)
    assert "第 1/" in body and "每部分都重复「店铺、订单编号」" in body


def test_a_table_too_wide_for_any_page_keeps_every_column_in_the_pdf(tmp_path):
    report = tmp_path / "wide.html"
    report.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'>{REPORT_CSS}</head><body>"
                      f"<h2>很宽的表格</h2>{html_table(_wide_frame())}</body></html>", encoding="utf-8")
    pdf = tmp_path / "wide.pdf"
    assert runner.write_pdf(report, pdf) is None
    report_html = report.read_text(encoding="utf-8")
    problems = layout_problems(pdf, report_html, ["禾木优选京东旗舰店", "禾木优选抖音小店"])
    assert problems == [], problems
    lines = [ln for p in pdf_pages(pdf) for ln in p["lines"]]
    counts = collections.Counter(ln[:len("禾木优选京东旗舰店(京东)")] for ln in lines)
    assert counts["禾木优选京东旗舰店(京东)"] >= 3  # the key column is repeated in every part
    assert any("261112-107147593443984" in ln for ln in lines)  # an order id is never broken
