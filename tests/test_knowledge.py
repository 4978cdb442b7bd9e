"""Issue 19 P1: the 知识库 as policy data (validated, compliance-checked, versioned, round-tripped through the
workbook), the ranking of entries for a case, and the 案件处理 form's 知识库推荐 section with 插入回复."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from reviewops.core.columns import PLATFORMS
from reviewops.core.errors import PolicyInvalid
from reviewops.core.policy import (
    DEFAULT_KNOWLEDGE,
    TABLES,
    Policy,
    current_policy,
    default_policy,
    export_policy,
    import_policy,
    save_policy,
)
from reviewops.core.store import Store, cases
from reviewops.handling.replies import check_message
from reviewops.prevention.knowledge import product_matches, suggest, suggest_for_case

BAD = "亲，麻烦给个好评，返现5元到您的账户"


def policy_json_with(edit: Any) -> str:
    data = json.loads(default_policy().to_json())
    edit(data["tables"])
    return json.dumps(data, ensure_ascii=False)


# ------------------------------------------------------------------ the table
def test_the_default_knowledge_base_is_valid_useful_and_passes_the_message_guard() -> None:
    from reviewops.demo.catalogue import _CATALOGUE

    p = default_policy()
    kb = p.knowledge()
    assert kb == p.tables["knowledge"] and len(kb) >= 30
    for e in kb:
        for platform in PLATFORMS:  # the one guard every sent message gets
            assert check_message(e["answer"], platform=platform, policy=p) == [], (e["question"], platform)
    text = " ".join(e["answer"] for e in kb)
    for topic in ("尺码", "色差", "48小时内发货", "运费险", "7天无理由", "清洗"):
        assert topic in text, topic
    # every demo product has at least one entry written for it
    lonely = [c[0] for c in _CATALOGUE if not any(e["product"] and product_matches(e, [c[3]]) for e in kb)]
    assert lonely == []


def test_a_policy_stored_before_the_table_existed_reads_the_built_in_base() -> None:
    def drop(t: dict[str, Any]) -> None:
        t.pop("knowledge")

    old = Policy.from_json(policy_json_with(drop))
    assert old.tables["knowledge"] == () and old.knowledge() == DEFAULT_KNOWLEDGE
    assert "knowledge" not in json.loads(old.to_json())["tables"]  # omitted while empty: old SHA-256 unchanged


@pytest.mark.parametrize("answer", [BAD, "亲，好 评 返 现哦", "删除差评就退款给您", "亲，好评返现"])
def test_an_answer_tying_a_benefit_to_a_review_is_refused_naming_the_row(answer: str) -> None:
    def edit(t: dict[str, Any]) -> None:
        t["knowledge"][4]["answer"] = answer

    with pytest.raises(PolicyInvalid) as e:
        Policy.from_json(policy_json_with(edit), source="test")
    msg = str(e.value)
    q = DEFAULT_KNOWLEDGE[4]["question"]
    assert "知识库" in msg and "第6行" in msg and q[:10] in msg and "违规诱导用语" in msg, msg
    assert {p.column for p in e.value.problems} == {"答案"}


def test_an_answer_over_the_shortest_reply_limit_and_an_unknown_category_are_refused() -> None:
    def edit(t: dict[str, Any]) -> None:
        t["knowledge"][0]["answer"] = "亲" * 501
        t["knowledge"][1]["category"] = "快递"

    with pytest.raises(PolicyInvalid) as e:
        Policy.from_json(policy_json_with(edit), source="test")
    msg = str(e.value)
    assert "501 字" in msg and "500" in msg and "第2行" in msg
    assert "第3行" in msg and "分类" in msg


def test_a_shorter_platform_reply_limit_does_not_refuse_the_built_in_answers() -> None:
    def edit(t: dict[str, Any]) -> None:
        t["platforms"][0]["reply_max_chars"] = 60

    p = Policy.from_json(policy_json_with(edit))
    long = max(p.knowledge(), key=lambda e: len(e["answer"]))["answer"]
    assert len(long) > 60 and check_message(long, platform=p.tables["platforms"][0]["platform"], policy=p)


def test_the_workbook_round_trip_keeps_the_base_and_an_excel_edit_is_checked(tmp_path: Path) -> None:
    p = default_policy()
    path = export_policy(p, tmp_path / "策略.xlsx")
    again = import_policy(path)
    assert again.sha256 == p.sha256 and again.tables["knowledge"] == p.tables["knowledge"]
    sheet = TABLES["knowledge"].sheet
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    headers = [c.value for c in ws[1]]
    col = headers.index("答案") + 1
    ws.cell(row=3, column=col, value="亲，您好！发货后三天内送达。")  # a shop's own edit: fine
    wb.save(tmp_path / "ok.xlsx")
    edited = import_policy(tmp_path / "ok.xlsx")
    assert edited.knowledge()[1]["answer"] == "亲，您好！发货后三天内送达。" and edited.sha256 != p.sha256
    ws.cell(row=7, column=col, value=BAD)
    wb.save(tmp_path / "bad.xlsx")
    with pytest.raises(PolicyInvalid) as e:
        import_policy(tmp_path / "bad.xlsx")
    [problem] = e.value.problems
    assert (problem.row, problem.column) == (7, "答案") and sheet in problem.file


def test_knowledge_edits_are_versioned(sqlite_store: Store) -> None:
    first = current_policy(sqlite_store)

    def edit(t: dict[str, Any]) -> None:
        t["knowledge"].append({"category": "general", "product": None, "question": "周末发货吗？",
                               "answer": "亲，周末和节假日正常发货～", "keywords": "周末"})

    second = save_policy(sqlite_store, Policy.from_json(policy_json_with(edit)), actor="test")
    assert second.version == first.version + 1
    assert current_policy(sqlite_store).knowledge()[-1]["question"] == "周末发货吗？"


# ------------------------------------------------------------------ ranking
TSHIRT = "纯棉圆领短袖T恤男夏季宽松半袖打底衫"


def test_suggestions_rank_product_then_category_then_keywords_and_say_why() -> None:
    got = suggest(None, categories=["size", "quality"], primary_category="size", products=[TSHIRT, "白色;XL"],
                  text="衣服偏大，洗了一次还缩水", limit=None)
    top = [s.question for s in got[:2]]
    assert top == ["纯棉衣服会缩水吗？怎么洗？", "衣服尺码怎么选？"]
    assert got[0].reasons[0] == "商品匹配「T恤」" and "评价提到「缩水」" in got[0].why
    assert "主分类：尺码" in got[1].why
    # an entry for another product never fits; the same case gives the same list
    assert not any("羽绒服" == s.product or "鞋" in s.question for s in got)
    assert got == suggest(None, categories=["size", "quality"], primary_category="size",
                          products=[TSHIRT, "白色;XL"], text="衣服偏大，洗了一次还缩水", limit=None)
    scores = [s.score for s in got]
    assert scores == sorted(scores, reverse=True)
    # limit
    assert len(suggest(None, categories=["size"], products=[TSHIRT], limit=3)) == 3


def test_an_entry_of_another_category_fits_only_when_the_review_mentions_it() -> None:
    plain = suggest(None, categories=["logistics"], primary_category="logistics", products=["普通商品"], limit=None)
    assert all(s.category in ("logistics", "general") for s in plain)
    colour = suggest(None, categories=["logistics"], primary_category="logistics", products=["普通商品"],
                     text="到得很慢，而且有色差", limit=None)
    hit = [s for s in colour if s.category == "description"]
    assert hit and "分类不同" in hit[0].why and "色差" in hit[0].why
    assert hit[0].score < max(s.score for s in colour if s.category == "logistics")


# ------------------------------------------------------------------ the 案件处理 form
DEMO_AS_OF = "2026-11-20T09:30:00+08:00"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from reviewops.core.users import add_user
    from reviewops.demo import build_demo
    from reviewops.handling.opening import triage_store

    path = tmp_path_factory.mktemp("kb") / "demo.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REVIEWOPS_PII_KEY", "5e" * 8 + "0123456789abcdef" * 3)
        build_demo(str(path), scale=0.05, as_of=DEMO_AS_OF)  # fixed: the first new 尺码 case must not move with the clock
        store = Store.open(str(path))
        triage_store(store, actor="test", via="test")
        add_user(store, "kbagent", role="agent", password="password1", shops=None, actor="test")
        yield store
        store.close()


def test_the_case_form_suggests_entries_and_inserts_an_answer_into_the_reply(demo: Store) -> None:
    from reviewops.core.users import get_actor
    from reviewops.handling.workbench import Workbench
    from reviewops_widgets.case import build_case

    wb = Workbench(demo, get_actor(demo, "kbagent"))
    with demo.read() as conn:
        ids = conn.execute(sa.select(cases.c.id).where(cases.c.state == "new", cases.c.primary_category == "size")
                           .order_by(cases.c.id).limit(1)).scalars().all()
    form = build_case(wb, case_id=ids[0])
    view = form.view
    assert form.kb_suggestions == suggest_for_case(view, wb.policy) and form.kb_suggestions
    assert all(s.question in form.kb_table.value for s in form.kb_suggestions)
    assert form.kb_suggestions[0].category == "size" and "尺码" in form.kb_table.value  # a 尺码 case: 尺码 first
    assert form.kb_pick.options[0][0].endswith(form.kb_suggestions[0].question)
    before = form.reply.value
    form.kb_pick.value = 0
    form.kb_insert.click()
    entry = form.kb_suggestions[0]
    assert form.reply.value == f"{before.rstrip()}\n{entry.answer}"
    assert "已插入知识库答案" in form.status.widget.value
    # the guard runs on the result: an answer pushed over the platform's limit is reported, not sent
    form.reply.value = "亲" * 480
    form.kb_insert.click()
    assert "字数上限" in form.reply_problems.value
    # saved like any edited reply
    form.reply.value = entry.answer
    form.buttons["save_reply"].click()
    assert form.view.reply_text == entry.answer
