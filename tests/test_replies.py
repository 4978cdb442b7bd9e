"""3S replies (E3, H1, Compliance): golden drafts, placeholder injection, platform limits,
conditional-incentive wording, revision guidance only after the remedy, properties."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reviewops import ConfigError, Policy, PolicyInvalid, default_policy, remedy_for
from reviewops.core.columns import PLATFORMS
from reviewops.core.policy import CATEGORY_CODES, TABLES, TEMPLATE_FIELDS, _json_to_cell
from reviewops.handling.replies import Draft, check_message, clean_user_text, draft_reply, fit_to_limit

CUSTOM_QUALITY_TAOBAO = "{customer}您好，{shop}非常抱歉！关于{problem}，已为您安排{remedy}。祝您生活愉快～"


def _raw() -> dict:
    return {k: [{c: _json_to_cell(TABLES[k], c, v) for c, v in r.items()} for r in rows]
            for k, rows in default_policy().tables.items()}


def _policy(*, templates=(), forbidden=(), taobao_limit=None) -> Policy:
    raw = _raw()
    raw["templates"] += [{"kind": k, "category": c, "platform": p, "text": t} for k, c, p, t in templates]
    raw["forbidden"] += [{"pattern": p, "reason_zh": r} for p, r in forbidden]
    if taobao_limit is not None:
        next(r for r in raw["platforms"] if r["platform"] == "taobao")["reply_max_chars"] = str(taobao_limit)
    return Policy.from_tables(raw, source="test")


CUSTOM = _policy(templates=[("reply_3s", "quality", "taobao", CUSTOM_QUALITY_TAOBAO)])


# ------------------------------------------------------------------------- golden
@pytest.mark.parametrize("kw, expected", [
    ({"category": "logistics", "platform": "taobao", "problem": "快递一周才到", "remedy": remedy_for(5000)},
     ("亲，非常抱歉让您久等了！快递一周才到给您添麻烦了。我们已为您安排退款并附赠5元优惠券，并已联系快递加急跟进，"
      "今天内给您答复。感谢您的耐心，我们会努力让下次更快送达～")),
    ({"category": "missing_wrong", "platform": "pdd", "remedy": remedy_for(20000)},
     ("亲，非常抱歉！漏发错发问题是我们仓库的失误。已为您安排补发并附赠10元优惠券，今天内处理完毕，"
      "并已提醒仓库加强核对。感谢您的耐心～")),
    ({"category": "other", "platform": "jd", "remedy": remedy_for(50000)},
     ("亲，看到您的评价我们深感抱歉！关于其他问题，我们已为您准备了由主管为您定制解决方案的解决方案，"
      "今天内为您处理完毕！后续有任何问题随时联系我们，祝您生活愉快～")),
    ({"category": "size", "platform": "douyin", "problem": "  偏小\n一码 ", "remedy": "换货"},
     ("亲，非常抱歉尺码不合适给您带来不便！关于偏小 一码，我们已为您安排换货，客服可以帮您对照尺码表"
      "选择更合适的尺码。感谢您的理解～")),
])
def test_golden_3s(kw, expected):
    d = draft_reply(**kw)
    assert d.text == expected
    assert d.ok and d.problems == () and d.kind == "reply_3s"
    assert d.length == len(expected) and d.limit == 500


def test_golden_followups_and_appeal():
    care = draft_reply("care", category="quality", platform="douyin", customer="小王")
    assert care.text == "小王您好，距离上次为您处理问题已经3天了，商品用得还顺心吗？特别为您准备了一张5元专属优惠券，欢迎随时回来看看～"
    rep = draft_reply("repurchase_coupon", category="size", platform="tmall")
    assert rep.text == "亲您好，送您一张10元复购券，90天内下单可与店铺其他优惠叠加使用。"
    delay = draft_reply("delay_notice", category="logistics", platform="jd", coupon_fen=800)
    assert "已为您发放8元优惠券" in delay.text and delay.ok
    for platform, rule in (("douyin", "同行竞争"), ("taobao", "恶意评价")):
        a = draft_reply("appeal", category="malicious", platform=platform, order_id="A123", problem="要求返现删评")
        # the buyer's extortion is quoted to the platform: not the shop's wording, not blocked
        assert a.ok, a.problems
        assert a.text == (f"订单A123的评价存在恶意情形，申诉类型：{rule}。买家在沟通中要求返现删评，"
                          "相关聊天记录与证据见附件，请平台核查处理。")
    bare = draft_reply("appeal", category="malicious", platform="douyin")
    assert not bare.ok and any("order_id" in p for p in bare.problems) and any("problem" in p for p in bare.problems)


def test_most_specific_template_and_defaults():
    d = draft_reply(category="quality", platform="taobao", remedy=remedy_for(100), policy=CUSTOM)
    assert d.template == CUSTOM_QUALITY_TAOBAO
    assert d.text == "亲您好，本店非常抱歉！关于质量问题，已为您安排退款并附赠5元优惠券。祝您生活愉快～"
    other = draft_reply(category="quality", platform="jd", policy=CUSTOM)  # falls back to (quality, *)
    assert other.text.startswith("亲，看到您的评价") and "售后处理" in other.text


def test_every_default_pair_is_clean():
    for c in CATEGORY_CODES:
        for p in PLATFORMS:
            for fen in (5000, 20000, 50000):
                d = draft_reply(category=c, platform=p, remedy=remedy_for(fen))
                assert d.ok, (c, p, d.problems)
                assert not re.search(r"\{(" + "|".join(TEMPLATE_FIELDS) + r")\}", d.text)


# ------------------------------------------------------------------------- injection
@pytest.mark.parametrize("evil", ["{coupon}", "{{", "}}", "{customer}{problem}", "%s%d%(x)s", "{0}", "{__class__}",
                                  "{problem.__class__}", "\\1 \\g<0>"])
def test_placeholders_in_user_text_stay_literal(evil):
    d = draft_reply(category="quality", platform="taobao", customer=evil, problem=evil, remedy=remedy_for(100),
                    policy=CUSTOM)
    assert d.text == f"{evil}您好，本店非常抱歉！关于{evil}，已为您安排退款并附赠5元优惠券。祝您生活愉快～"
    assert d.ok


def test_control_characters_and_whitespace():
    assert clean_user_text("a\x00b\x07 \t\n c\u202e\u200bd\r\n") == "ab cd"
    assert clean_user_text("\u0301小王") == "小王"
    assert clean_user_text("e\u0301") == "é"
    d = draft_reply("care", category="quality", platform="jd", customer="小\x1b[31m王\u202e\n\n")
    assert d.text.startswith("小[31m王您好")


def test_bad_arguments_raise_config_error():
    with pytest.raises(ConfigError, match="unknown platform"):
        draft_reply(category="quality", platform="amazon")
    with pytest.raises(ConfigError, match="unknown category"):
        draft_reply(category="shoes", platform="jd")
    with pytest.raises(ConfigError, match="unknown template kind"):
        draft_reply("sms", category="quality", platform="jd")
    with pytest.raises(ConfigError, match="no appeal template"):
        draft_reply("appeal", category="quality", platform="jd")
    with pytest.raises(ConfigError, match="fen"):
        draft_reply("care", category="quality", platform="jd", coupon_fen=5.5)
    with pytest.raises(ConfigError, match="Remedy"):
        draft_reply(category="quality", platform="jd", remedy=42)
    with pytest.raises(ConfigError, match="unknown platform"):
        check_message("hi", platform="ebay")


# ------------------------------------------------------------------------- limits
def test_long_problem_is_shortened_to_the_taobao_limit():
    long_problem = "做工粗糙线头很多" * 200
    d = draft_reply(category="quality", platform="taobao", problem=long_problem, remedy=remedy_for(20000))
    assert d.ok and d.shortened and d.length == 500 == d.limit
    head, tail = d.text.split("…")
    assert head == "亲，看到您的评价我们深感抱歉！商品出现" + long_problem[: len(head) - 19]
    assert tail == "是我们品控没做好。已为您准备补发并附赠10元优惠券，今天内为您处理完毕，同时已反馈质检部门改进。感谢您的包容～"
    assert check_message(d.text, platform="taobao") == []


def test_template_is_never_cut_a_problem_is_reported():
    p = _policy(taobao_limit=40)
    d = draft_reply(category="quality", platform="taobao", problem="很长的问题描述" * 20, policy=p)
    assert not d.ok and d.length > 40
    assert any("字数上限" in x and "40" in x for x in d.problems)
    assert d.text.endswith("同时已反馈质检部门改进。感谢您的包容～") and d.text.startswith("亲，看到您的评价我们深感抱歉！")


def test_check_message_counts_nfc_characters():
    assert check_message("好" * 500, platform="taobao") == []
    assert any("501 > 500" in x for x in check_message("好" * 501, platform="taobao"))
    # 500 × (e + combining acute) is 1000 code points but 500 characters after NFC
    assert check_message("e\u0301" * 500, platform="taobao") == []
    assert check_message("   \n", platform="jd") == ["消息为空，请填写回复内容 / the message is empty; write the reply first"]


def test_fit_to_limit():
    assert fit_to_limit("abc", 3) == "abc"
    assert fit_to_limit("abcdef", 4) == "abc…"
    assert fit_to_limit("abcdef", 1) == "…"
    assert fit_to_limit("abcdef", 0) == ""
    assert fit_to_limit("ab👩\u200d💻cd", 5) == "ab…"  # never splits an emoji sequence
    assert len(fit_to_limit("好" * 100, 10)) == 10


# ------------------------------------------------------------------------- compliance
@pytest.mark.parametrize("message", ["亲，改好评返现5元哦", "删评就退款", "好 评\u200b返 现", "给个五星好评送红包",
                                     "５星好评返现"])
def test_edited_message_with_conditional_incentive_is_blocked(message):
    problems = check_message(message, platform="taobao")
    assert problems and all("SPEC Compliance" in p for p in problems)
    assert "违规诱导用语" in problems[0]


def test_forbidden_wording_in_custom_template_policy():
    # a template with conditional-incentive wording is refused when the policy is loaded …
    with pytest.raises(PolicyInvalid, match="违规诱导"):
        _policy(templates=[("reply_3s", "quality", "jd", "亲，{remedy}，改好评返现哦")])
    # … a shop's own forbidden rows apply to drafts and edited messages, and so does the floor
    p = _policy(forbidden=[("加\\s*微信", "引导站外交易")],
                templates=[("reply_3s", "quality", "jd", "亲，关于{problem}，{remedy}。")])
    d = draft_reply(category="quality", platform="jd", remedy="加微信领补偿", policy=p)
    assert not d.ok and any("引导站外交易" in x for x in d.problems)
    assert any("引导站外交易" in x for x in check_message("亲加 微信", platform="jd", policy=p))
    d2 = draft_reply(category="quality", platform="jd", remedy="删除差评后退款", policy=p)
    assert not d2.ok and any("SPEC Compliance" in x for x in d2.problems)


def test_revision_guidance_only_after_the_remedy():
    refused = draft_reply("revision_guidance", category="quality", platform="taobao")
    assert not refused.ok and refused.text == "" and "remedy_delivered=True" in refused.problems[0]
    assert not draft_reply("revision_guidance", category="quality", platform="taobao", remedy_delivered="yes").ok
    sent = draft_reply("revision_guidance", category="quality", platform="taobao", remedy_delivered=True)
    assert sent.ok and "方便的话能否帮忙更新评价" in sent.text and "不会因此改变" in sent.text


def test_draft_is_frozen_and_serialisable():
    d = draft_reply(category="price", platform="kuaishou")
    assert isinstance(d, Draft)
    with pytest.raises(AttributeError):
        d.text = "x"  # type: ignore[misc]
    assert d.to_dict()["ok"] is True and d.to_dict()["problems"] == []


# ------------------------------------------------------------------------- properties
_SEGMENTS = re.split(r"\{(customer|problem)\}", CUSTOM_QUALITY_TAOBAO)
_SHAPE = re.compile("".join(re.escape(s.replace("{shop}", "本店").replace("{remedy}", "退款并附赠5元优惠券"))
                            if i % 2 == 0 else f"(?P<{s}>.*)" for i, s in enumerate(_SEGMENTS)), re.DOTALL)
LIMITED = _policy(templates=[("reply_3s", "quality", "taobao", CUSTOM_QUALITY_TAOBAO)], taobao_limit=120)


def _placed(value: str, clean: str, default: str) -> bool:
    if not clean:
        return value == default
    return value == clean or (value.endswith("…") and clean.startswith(value[:-1]))


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200), st.text(max_size=400), st.sampled_from([CUSTOM, LIMITED]))
def test_property_user_text_is_literal_and_limit_holds(customer, problem, policy):
    d = draft_reply(category="quality", platform="taobao", customer=customer, problem=problem,
                    remedy=remedy_for(100), policy=policy)
    m = _SHAPE.fullmatch(d.text)
    assert m, d.text  # the template's own wording is intact, nothing but user text between
    assert _placed(m["customer"], clean_user_text(customer), "亲")
    assert _placed(m["problem"], clean_user_text(problem), "质量问题")
    assert d.length <= d.limit or any("字数上限" in p for p in d.problems)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=600), st.sampled_from(PLATFORMS))
def test_property_check_message_never_raises(text, platform):
    problems = check_message(text, platform=platform)
    assert all(isinstance(p, str) and " / " in p for p in problems)
