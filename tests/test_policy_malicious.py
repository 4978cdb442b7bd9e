"""The malicious-review defence as policy data (issue 17): the 恶意识别词库 and 申诉规则 sheets and the settings
extortion_threshold, malicious_threshold, appeal_warn_hours, signal_roles, appeal_roles and evidence_roles —
built-in defaults when empty, a round trip through the Excel workbook, validation naming sheet and row, the
detector, the compliance guard and the appeal packet following a shop's edit, the version in the audit."""

from __future__ import annotations

import csv
import datetime as dt
import json
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from reviewops import import_file, triage_store
from reviewops.core import store as st
from reviewops.core.errors import AccessDenied, PolicyInvalid
from reviewops.core.policy import (
    EVIDENCE_KINDS,
    EXTORTION_ROLES,
    SETTINGS,
    Policy,
    builtin_rows,
    default_policy,
    export_policy,
    import_policy,
    load_policy,
    policy_versions_list,
    save_policy,
)
from reviewops.grading import extortion as ext
from reviewops.handling import appeals as ap
from reviewops.handling import defence as df
from reviewops.handling import evidence as ev
from reviewops.handling.replies import check_message
from wb_fixtures import make_case, make_users

LEX, RULES = "恶意识别词库", "申诉规则"
REVIEW_HEADER = ["评价ID", "订单编号", "宝贝ID", "宝贝标题", "买家昵称", "评价结果", "评价内容", "评价时间", "追评内容",
                 "解释内容", "IP地址", "设备ID"]
ABUSE_TEXT = "你这个蛆虫，东西也太差了"  # 蛆虫 is not in the built-in lexicon
GUARD_TEXT = "晒图好评，奶茶一杯"  # 奶茶 is no benefit in the built-in lexicon


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.delenv(ev.ENV_EVIDENCE_DIR, raising=False)
    monkeypatch.delenv("REVIEWOPS_TOKEN", raising=False)
    monkeypatch.setattr("reviewops.grading.classify.default_model", lambda: None, raising=False)


@pytest.fixture(scope="module")
def default_xlsx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_policy(default_policy(), tmp_path_factory.mktemp("policy") / "default.xlsx")


def _edit(src: Path, dst: Path, fn) -> Path:
    wb = openpyxl.load_workbook(src)
    fn(wb)
    wb.save(dst)
    return dst


def _col(ws: Any, header: str) -> int:
    return next(c.column for c in ws[1] if c.value == header)


def _row(ws: Any, **match: str) -> int:
    cols = {_col(ws, h): v for h, v in match.items()}
    for r in range(2, ws.max_row + 1):
        if all(ws.cell(r, c).value == v for c, v in cols.items()):
            return r
    raise AssertionError(f"no row {match} in {ws.title}")


def _add(ws: Any, **cells: Any) -> int:
    r = ws.max_row + 1
    for h, v in cells.items():
        ws.cell(r, _col(ws, h), v)
    return r


def _shop_edit(wb: openpyxl.Workbook) -> None:
    """A shop's edit: a new buyer abuse term and a new seller benefit, a weight lowered, two deadlines changed,
    a longer warning window, and the learned model turned off (the shop's lexicon alone decides)."""
    lex = wb[LEX]
    _add(lex, 适用方="买家", 角色="abuse", 词语="蛆虫", 权重=0.9, 备注="店铺新增")
    _add(lex, 适用方="卖家", 角色="benefit", 词语="奶茶", 权重="1", 备注="店铺新增：奶茶券")
    lex.cell(_row(lex, 适用方="买家", 角色="abuse", 词语="傻逼"), _col(lex, "权重"), 0.3)
    rules = wb[RULES]
    rules.cell(_row(rules, 平台="淘宝", 申诉理由="利用评价要挟"), _col(rules, "时限天数"), 15)
    rules.cell(_row(rules, 平台="淘宝", 申诉理由="辱骂/隐私/广告"), _col(rules, "时限天数"), 20)
    params = wb["参数"]
    params.cell(_row(params, 参数="appeal_warn_hours"), _col(params, "值"), "48")
    params.cell(_row(params, 参数="extortion_model_weight"), _col(params, "值"), "0")  # its lexicon alone decides


# ------------------------------------------------------------------------------ defaults
def test_empty_sheets_mean_the_built_in_rows_and_the_default_hash_does_not_carry_them():
    p = default_policy()
    assert p.tables["extortion_lexicon"] == () and p.tables["appeal_rules"] == ()
    assert '"extortion_lexicon"' not in p.to_json() and '"appeal_rules"' not in p.to_json()
    lex, rules = p.extortion_lexicon(), p.appeal_rules()
    assert lex == builtin_rows("extortion_lexicon") and len(lex) > 2000
    assert {r["role"] for r in lex} <= set(EXTORTION_ROLES) and all(0 <= r["weight"] <= 1 for r in lex)
    assert len(rules) == 18 and ap.load_appeal_rules(policy=p) == ap.load_appeal_rules(ap.RULES_PATH)
    # the detector with the default policy reads exactly as without one
    texts = ["不给我退50块我就给差评", "给200块好处费就删评，你看着办", "杯子漏水，我要退货退款", ABUSE_TEXT, "傻逼"]
    assert ext.extortion_scores(texts, policy=p).equals(ext.extortion_scores(texts))
    # the guard's rules pass GUARD_TEXT (奶茶 is no benefit in the built-in lexicon); its model blocks it, alone
    assert ext.incentive_hits(GUARD_TEXT, p) == []
    [problem] = check_message(GUARD_TEXT, platform="taobao", policy=p)
    assert "模型判断" in problem
    assert check_message(GUARD_TEXT, platform="taobao", policy=_with(p, compliance_model_block="1")) == []


def _with(p: Policy, **settings: str) -> Policy:
    data = json.loads(p.to_json())
    for r in data["tables"]["settings"]:
        if r["key"] in settings:
            r["value"] = settings[r["key"]]
    return Policy.from_json(json.dumps(data, ensure_ascii=False), source="test")


def test_the_built_in_values_are_the_old_constants():
    tsv = (Path(ext.__file__).parent.parent / "core" / "data" / "extortion_zh.tsv").read_text(encoding="utf-8")
    assert "both\tsetting\tthreshold\t0.5\t" in tsv and SETTINGS["extortion_threshold"].default == "0.5"
    p = default_policy()
    assert p.setting("malicious_threshold") == df.MALICIOUS_THRESHOLD
    assert ap.warn_hours(p) == ap.WARN_HOURS == p.setting("appeal_warn_hours") == 24
    assert df.decide_roles(p) == df.DECIDE_ROLES and ap.appeal_roles(p) == ap.APPEAL_ROLES
    assert ev.evidence_roles(p) == ev.EVIDENCE_ROLES
    assert EVIDENCE_KINDS == ev.KINDS  # core keeps its own copy of the evidence kinds


# ------------------------------------------------------------------------------ workbook
def test_untouched_round_trip_is_the_same_policy(default_xlsx):
    wb = openpyxl.load_workbook(default_xlsx, read_only=True)
    assert wb[LEX].max_row == len(builtin_rows("extortion_lexicon")) + 1  # the built-in rows are shown
    assert wb[RULES].max_row == 19
    p = import_policy(default_xlsx)
    assert p.tables["extortion_lexicon"] == () and p.tables["appeal_rules"] == ()  # stored empty again
    assert p.sha256 == default_policy().sha256


def test_an_edited_workbook_changes_the_detector_the_guard_and_the_deadlines(default_xlsx, tmp_path):
    p = import_policy(_edit(default_xlsx, tmp_path / "策略.xlsx", _shop_edit))
    assert len(p.tables["extortion_lexicon"]) == len(builtin_rows("extortion_lexicon")) + 2
    assert {"side": "seller", "role": "benefit", "term": "奶茶", "weight": 1.0, "note": "店铺新增：奶茶券"} in [
        dict(r) for r in p.extortion_lexicon()]
    before, after = ext.extortion_scores([ABUSE_TEXT, "傻逼"]), ext.extortion_scores([ABUSE_TEXT, "傻逼"], policy=p)
    assert before["is_extortion"].tolist() == [False, True]
    assert after["is_extortion"].tolist() == [True, False] and after["kind"][0] == "abuse" and after["score"][1] == 0.3
    assert "蛆虫" in after["reasons"][0] and "模型判断" not in after["reasons"][0]
    # with the model on (the default weight), the lowered weight still counts in the rule part of the score
    with_model = ext.extortion_scores(["傻逼"], policy=_with(p, extortion_model_weight="0.7"))
    assert with_model["score"][0] < ext.extortion_scores(["傻逼"])["score"][0]
    problems = check_message(GUARD_TEXT, platform="taobao", policy=p)
    assert len(problems) == 1 and "奶茶" in problems[0]
    assert ext.incentive_hits(GUARD_TEXT) == [] and ext.disclaimed("我们不做好评奶茶", "好评奶茶", p)
    rules = ap.load_appeal_rules(policy=p)
    assert rules[("taobao", "extortion")].deadline_days == 15 and rules[("taobao", "abuse")].deadline_days == 20
    assert rules[("tmall", "extortion")].deadline_days == 30
    review = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
    assert ap.appeal_deadline(ap.rule_for("taobao", policy=p), review, p) == review + dt.timedelta(days=15)
    assert ap.warn_hours(p) == 48
    # compiled once per policy content
    same = Policy.from_json(p.to_json())
    assert ext._reader_for("buyer", same) is ext._reader_for("buyer", p) is not ext._reader("buyer")
    assert ap.load_appeal_rules(policy=same) is ap.load_appeal_rules(policy=p)


# ------------------------------------------------------------------------------ validation
def _problems(default_xlsx: Path, tmp_path: Path, fn) -> list:
    with pytest.raises(PolicyInvalid) as e:
        import_policy(_edit(default_xlsx, tmp_path / "bad.xlsx", fn))
    return e.value.problems


def test_bad_lexicon_rows_are_refused_naming_sheet_row_column_value(default_xlsx, tmp_path):
    rows: dict[str, int] = {}

    def fn(wb):
        lex = wb[LEX]
        rows["role"] = _add(lex, 适用方="买家", 角色="bribe", 词语="奶茶钱", 权重=1)
        rows["weight"] = _add(lex, 适用方="买家", 角色="benefit", 词语="奶茶钱", 权重=1.5)
        rows["negative"] = _add(lex, 适用方="卖家", 角色="benefit", 词语="奶茶", 权重=-0.2)
        rows["side"] = _add(lex, 适用方="路人", 角色="benefit", 词语="咖啡", 权重=1)

    found = {(p.file.split("[")[-1].rstrip("]"), p.row, p.column, p.value) for p in _problems(default_xlsx, tmp_path, fn)}
    assert (LEX, rows["role"], "角色", "bribe") in found
    assert (LEX, rows["weight"], "权重", "1.5") in found
    assert (LEX, rows["negative"], "权重", "-0.2") in found
    assert (LEX, rows["side"], "适用方", "路人") in found
    with pytest.raises(PolicyInvalid) as e:
        import_policy(_edit(default_xlsx, tmp_path / "bad2.xlsx", fn))
    assert "恶意识别词库" in str(e.value) and "bribe" in str(e.value) and "0 到 1" in str(e.value)


def test_bad_appeal_rules_are_refused_naming_sheet_row_column_value(default_xlsx, tmp_path):
    rows: dict[str, int] = {}

    def fn(wb):
        r = wb[RULES]
        rows["neg"] = _row(r, 平台="淘宝", 申诉理由="利用评价要挟")
        r.cell(rows["neg"], _col(r, "时限天数"), -3)
        rows["kind"] = _row(r, 平台="京东", 申诉理由="同行或批量恶意")
        r.cell(rows["kind"], _col(r, "必需证据"), "聊天截图=screenshot|fax")
        rows["limit"] = _row(r, 平台="抖店", 申诉理由="利用评价要挟")
        r.cell(rows["limit"], _col(r, "字数上限"), 20000)

    problems = _problems(default_xlsx, tmp_path, fn)
    found = {(p.file.split("[")[-1].rstrip("]"), p.row, p.column) for p in problems}
    assert found == {(RULES, rows["neg"], "时限天数"), (RULES, rows["kind"], "必需证据"), (RULES, rows["limit"], "字数上限")}
    text = str(PolicyInvalid("bad.xlsx", problems))
    assert "-3" in text and "不能小于 1" in text and "fax" in text and "20000" in text

    def missing(wb):  # a table with rows must cover every platform × ground
        r = wb[RULES]
        r.delete_rows(_row(r, 平台="快手", 申诉理由="辱骂/隐私/广告"))

    (problem,) = _problems(default_xlsx, tmp_path, missing)
    assert RULES in problem.file and "快手/辱骂/隐私/广告" in problem.reason_zh and "清空整张表" in problem.reason_zh


def test_role_settings_name_known_roles(default_xlsx, tmp_path):
    def fn(wb):
        params = wb["参数"]
        params.cell(_row(params, 参数="appeal_roles"), _col(params, "值"), "legal;lawyer")

    (problem,) = _problems(default_xlsx, tmp_path, fn)
    assert problem.column == "值" and "lawyer" in problem.reason_zh and "参数" in problem.file


# ------------------------------------------------------------------------------ in the store
def _import_review(store: st.Store, tmp: Path, i: int, text: str) -> None:
    when = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)).astimezone(dt.timezone(dt.timedelta(hours=8)))
    path = tmp / f"r{i}.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([REVIEW_HEADER, [f"R{i}", f"28400000000{i:05d}", "P1", "保温杯", f"买家{i}", "差评", text,
                                                 when.strftime("%Y-%m-%d %H:%M:%S"), "", "", "", ""]])
    import_file(store, path, platform="taobao", kind="reviews", shop="测试店")


def _case(store: st.Store, review_id: str) -> dict:
    with store.read() as conn:
        return dict(conn.execute(sa.select(st.cases).select_from(
            st.cases.join(st.reviews, st.reviews.c.id == st.cases.c.review_pk))
            .where(st.reviews.c.review_id == review_id)).mappings().one())


def test_an_imported_edit_counts_for_detection_and_is_recorded(store, default_xlsx, tmp_path):
    _import_review(store, tmp_path, 1, ABUSE_TEXT)
    triage_store(store, model=False, actor="tester", detect=True)
    assert _case(store, "R1")["primary_category"] != "malicious"  # the built-in lexicon: a complaint
    edited = import_policy(_edit(default_xlsx, tmp_path / "策略.xlsx", _shop_edit))
    saved = save_policy(store, edited, actor="dianzhang", note="import 策略.xlsx")
    assert saved.version == 2 and load_policy(store).sha256 == edited.sha256
    (v2, v1) = policy_versions_list(store)[:2]
    assert (v2["version"], v2["created_by"], v2["note"], v2["sha256"]) == (2, "dianzhang", "import 策略.xlsx",
                                                                         edited.sha256)
    assert v1["version"] == 1
    # a new review and the earlier case, detected again, read with the shop's lexicon
    _import_review(store, tmp_path, 2, ABUSE_TEXT)
    res = triage_store(store, model=False, actor="tester", detect=True)
    again = df.detect_malicious(store, case_ids=[_case(store, "R1")["id"]], actor="tester")
    for rid in ("R1", "R2"):
        case = _case(store, rid)
        assert case["primary_category"] == "malicious" and case["owner_role"] == "legal"
        record = json.loads(case["triage_json"])
        assert record["defence"]["policy_version"] == 2  # the version detection ran under
    assert _case(store, "R2")["id"] in res.malicious and again.malicious == [_case(store, "R1")["id"]]


def test_thresholds_and_roles_come_from_the_store_policy(store, tmp_path):
    u = make_users(store)
    p = default_policy()
    data = json.loads(p.to_json())
    for r in data["tables"]["settings"]:
        if r["key"] == "malicious_threshold":
            r["value"] = "0.85"
        if r["key"] in ("appeal_roles", "signal_roles", "evidence_roles"):
            r["value"] = "legal"
    save_policy(store, Policy.from_json(json.dumps(data, ensure_ascii=False)), actor="test")
    shop = make_case(store, tmp_path)
    with store.read() as conn:
        shop_id = conn.execute(sa.select(st.cases.c.shop_id).where(st.cases.c.id == shop)).scalar_one()
    assert df.tuned_threshold(store, shop_id) == 0.85
    info = df.threshold_info(store, u["l1"], shop_id)
    assert info[0]["default"] == 0.85
    with pytest.raises(AccessDenied, match="signal_roles"):
        df.threshold_info(store, u["s1"], shop_id)
    with pytest.raises(AccessDenied, match="appeal_roles"):
        ap.legal_queue(store, u["s1"])
    assert ap.legal_queue(store, u["l1"]) == []
    assert not ev.may_view(u["s1"], load_policy(store)) and ev.may_view(u["l1"], load_policy(store))


def test_the_appeal_packet_follows_the_shops_rules(store, default_xlsx, tmp_path):
    u = make_users(store)
    case_id = make_case(store, tmp_path, platform="taobao", text="质量太差了，垃圾")
    with store.write() as conn:
        cur = conn.execute(sa.select(st.cases.c.version).where(st.cases.c.id == case_id)).scalar_one()
        st.update_case(conn, case_id, cur, {"primary_category": "malicious", "categories": "malicious",
                                            "owner_role": "legal"}, actor="test", via="test")
    first = ap.build_packet(store, u["l1"], case_id, out_dir=tmp_path / "a")
    assert "评价后 30 个自然日" in first.text
    save_policy(store, import_policy(_edit(default_xlsx, tmp_path / "策略.xlsx", _shop_edit)), actor="test")
    second = ap.build_packet(store, u["l1"], case_id, out_dir=tmp_path / "b")
    assert "评价后 15 个自然日" in second.text and second.deadline_at == first.deadline_at - dt.timedelta(days=15)
    with zipfile.ZipFile(second.zip_path) as zf:
        assert "评价后 15 个自然日" in zf.read(ap.TEXT_NAME).decode("utf-8")
    row = next(r for r in ap.legal_queue(store, u["l1"]) if r["case_id"] == case_id)
    assert row["deadline_at"] == second.deadline_at
