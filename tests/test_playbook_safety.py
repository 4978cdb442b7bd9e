"""Reports are safe to open (issue 5; S-01, S-02, S-03, P-01, P-05).

A demo store gets a second Taobao shop whose only reviews are hostile: script and event-handler
markup, spreadsheet formulas (``= + - @``, tab, CR), a mobile number, an ID-card number and a
landline in the text, and markup in the product title. Each playbook then runs through
``reviewops run`` on that shop, and its files are checked as a user would open them:

* the HTML report in Debian's headless chromium: no payload runs (the probe attribute never
  appears), the payload is visible as text, and a control page with the same markup unescaped does
  set the probe (so the check can fail);
* the XLSX: no formula cell anywhere, every cell that starts with a formula trigger is the escaped
  ``'`` form, and the hostile text is there (so the check looked at it);
* no unmasked phone, ID-card or landline number in any file the run published (P-01);
* the PDF is printed with an embedded CJK font (Chinese renders, not boxes);
* every run is recorded in the access log with the hashes of its files (P-05).
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

openpyxl = pytest.importorskip("openpyxl")
pytest.importorskip("papermill")

import reviewops
import sqlalchemy as sa
from reviewops import runner
from reviewops.core.environ import patched_environ
from reviewops.reporting.reports import iso_week

PHONE, ID_CARD, LANDLINE = "13812345678", "110101199003071234", "010-62345678"
PROBE = "data-pwned"
XSS = f"<img src=x onerror=\"document.body.setAttribute('{PROBE}','1')\">"
SCRIPT = f"<script>document.body.setAttribute('{PROBE}','2')</script>"
HOSTILE = [
    f"=HYPERLINK(\"http://evil.example\",\"点我\") 质量太差了，一洗就破洞，差评！电话{PHONE}",
    f"+cmd|' /C calc'!A0 {XSS} 做工粗糙，线头很多，身份证{ID_CARD}，太失望",
    f"@SUM(1+1) {SCRIPT} 客服态度恶劣，根本不理人，座机{LANDLINE}，投诉",
    f"\t-2+3 物流太慢了，等了十天才到，包装还破了 {XSS}",
    f"\r=1+1 尺码偏小两码，穿不上，退货还要自己付运费 {SCRIPT}",
]
TITLE = "<b>纯棉外套</b><script>alert(1)</script>"
SHOP = "安全测试店"


def _write_reviews(path: Path, when: str) -> Path:
    header = ["订单编号", "买家昵称", "评价结果", "评价内容", "评价时间", "宝贝标题"]
    rows = [[f"28412345678901{i:05d}", f"<script>nick{i}</script>", "差评", text, when, TITLE]
            for i, text in enumerate(HOSTILE)]
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return path


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The small demo shop plus the hostile shop, triaged; the hostile reviews' week and shop id."""
    import datetime as dt

    base = tmp_path_factory.mktemp("safety")
    db = str(base / "d.db")
    env = dict(os.environ, XDG_DATA_HOME=str(base / "xdg-data"), XDG_CONFIG_HOME=str(base / "xdg-config"),
               REVIEWOPS_DB=db, REVIEWOPS_DEMO_PASSWORD="demo-pass-123")
    env.pop("REVIEWOPS_MULTI_USER", None)

    def cli(*args: str) -> None:
        subprocess.run([sys.executable, "-m", "reviewops", *args], check=True, env=env, capture_output=True,
                       timeout=300)

    cli("demo", "--scale", "0.05", "--db", db, "--out", str(base / "out"))
    posted = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    shanghai = posted.astimezone(dt.timezone(dt.timedelta(hours=8)))
    cli("import", str(_write_reviews(base / "hostile.csv", f"{shanghai:%Y-%m-%d %H:%M:%S}")), "--platform", "taobao",
        "--kind", "reviews", "--shop", SHOP, "--db", db)
    cli("triage", "--db", db, "--limit", "0")
    from reviewops.core.store import shops

    with reviewops.Store.open(db) as store, store.read() as conn:
        shop_id = conn.execute(sa.select(shops.c.id).where(shops.c.name == SHOP)).scalar_one()
    return {"db": db, "env": env, "week": iso_week(posted), "shop": str(shop_id), "base": base}


def _params(playbook: str, hostile: dict) -> dict[str, str]:
    declared = runner.declared_parameters(runner.resolve_playbook(playbook))
    params = {"shops": hostile["shop"]} if "shops" in declared else {}
    if "week" in declared:
        params["week"] = hostile["week"]
    return params


PLAYBOOKS = sorted(p.stem for p in runner.playbooks_dir().glob("*.ipynb"))


@pytest.fixture(scope="module", params=PLAYBOOKS)
def run(request: pytest.FixtureRequest, hostile: dict, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp(f"run-{request.param}")
    with patched_environ({k: hostile["env"][k] for k in ("XDG_DATA_HOME", "XDG_CONFIG_HOME")}):
        return runner.run_playbook(request.param, _params(request.param, hostile), db=hostile["db"], out_dir=out,
                                   pdf=True, progress=False, actor="safety-test")


def _dom(html: Path, profile: Path) -> str:
    return subprocess.run([runner.CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           f"--user-data-dir={profile}", "--virtual-time-budget=3000", "--dump-dom", html.as_uri()],
                          check=False, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "XDG_CONFIG_HOME": str(profile)}).stdout


def _chromium() -> None:
    if not Path(runner.CHROMIUM).is_file():
        if os.environ.get("CI"):
            pytest.fail("CI must run the chromium checks: /usr/bin/chromium is missing")
        pytest.skip("Debian chromium not installed")


def test_control_page_proves_the_probe_fires(tmp_path: Path) -> None:
    _chromium()
    page = tmp_path / "control.html"
    page.write_text(f"<html><body>{XSS}</body></html>", encoding="utf-8")
    assert f'{PROBE}="1"' in _dom(page, tmp_path / "p")


def test_html_report_is_inert_in_chromium(run, tmp_path: Path) -> None:
    _chromium()
    html = run.outputs["html"]
    raw = html.read_text(encoding="utf-8")
    assert "Content-Security-Policy" in raw
    dom = _dom(html, tmp_path / "p")
    assert "</html>" in dom and PROBE + '="' not in dom
    if run.playbook == "weekly_top3":  # the hostile reviews are the report's examples: shown as text
        assert "onerror=" in dom and "&lt;img src=x" in dom
        assert "&lt;b&gt;纯棉外套&lt;/b&gt;" in dom


def test_xlsx_has_no_formula_cells(run) -> None:
    wb = openpyxl.load_workbook(run.outputs["xlsx"], data_only=False)
    texts = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate, c.value)
                if isinstance(c.value, str):
                    texts.append(c.value)
                    assert not c.value.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r")), \
                        (ws.title, c.coordinate, c.value)
    if run.playbook == "weekly_top3":
        assert any(t.startswith("'=HYPERLINK") for t in texts)
        assert any(t.startswith("'+cmd|") for t in texts)


def test_no_unmasked_personal_data_in_any_file(run) -> None:
    for kind, path in run.outputs.items():
        if Path(path).suffix not in (".html", ".ipynb", ".json"):
            continue
        text = Path(path).read_text(encoding="utf-8")
        for secret in (PHONE, ID_CARD, LANDLINE, "62345678"):
            assert secret not in text, (kind, secret)
    wb = openpyxl.load_workbook(run.outputs["xlsx"])
    cells = " ".join(str(c.value) for ws in wb.worksheets for r in ws.iter_rows() for c in r if c.value)
    for secret in (PHONE, ID_CARD, "62345678"):
        assert secret not in cells
    if run.playbook == "weekly_top3":
        assert "138****5678" in run.outputs["html"].read_text(encoding="utf-8")


def test_pdf_embeds_a_cjk_font(run) -> None:
    _chromium()
    pdf = run.outputs.get("pdf")
    assert pdf is not None and pdf.is_file(), run.notes
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    assert re.search(rb"/FontName\s*/[A-Z]{6}\+NotoSansCJK", data) or b"NotoSansCJK" in data


def test_run_is_recorded_with_file_hashes(run, hostile) -> None:
    from reviewops.core.outputs import file_sha256
    from reviewops.core.store import access_log

    with reviewops.Store.open(hostile["db"]) as store, store.read() as conn:
        rows = conn.execute(sa.select(access_log.c.detail_json).where(
            access_log.c.action == "export", access_log.c.target == run.playbook,
            access_log.c.actor == "safety-test")).all()
    assert rows
    hashes = json.loads(rows[-1].detail_json)["sha256"]
    for kind in ("html", "xlsx"):
        assert hashes[run.outputs[kind].name] == file_sha256(run.outputs[kind])


@pytest.mark.parametrize("playbook", ["weekly_top3", "staff_scorecard", "customer_value"])
def test_same_inputs_give_the_same_tables(playbook: str, hostile: dict, tmp_path: Path) -> None:
    """R-12: re-running a report on unchanged data reproduces every table cell for cell.

    (``daily_sweep`` writes what it did — notices, escalations, coupons — so its second run differs by design;
    tests/test_playbook_daily_sweep.py checks that the second run issues nothing new.)
    """
    with patched_environ({k: hostile["env"][k] for k in ("XDG_DATA_HOME", "XDG_CONFIG_HOME")}):
        runs = [runner.run_playbook(playbook, _params(playbook, hostile), db=hostile["db"], out_dir=tmp_path / str(i),
                                    formats=("xlsx",), progress=False) for i in range(2)]

    def sheets(path: Path) -> dict[str, list[list[object]]]:
        wb = openpyxl.load_workbook(path)
        return {ws.title: [[c.value for c in r] for r in ws.iter_rows()] for ws in wb.worksheets}

    first, second = (sheets(r.outputs["xlsx"]) for r in runs)
    assert first == second and len(first) >= 2
