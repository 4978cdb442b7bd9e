"""The compliance guard, hardened (issue 17 §4, SPEC Compliance): check_message blocks a benefit tied to a review
in its evasive forms and pressure to delete a review, and keeps passing lawful messages that mention 评价, 好评,
红包, 退款 or 优惠券. Examples written for these tests (the issue's named evasions first)."""

from __future__ import annotations

import pytest
from reviewops import check_message, default_policy, draft_reply
from reviewops.grading.extortion import disclaimed, incentive_hits
from reviewops.handling.remedy import remedy_for

BLOCKED = [
    # named in issue 17
    "亲 把评价改一下 我给您转10块",
    "差评删掉的话这单全额退给您",
    "h评返x",
    # abbreviations, split words, invisible characters, full width, emoji, traditional characters
    "hp返3元，联系客服",
    "5x好评返现8元",
    "好评给hb哦",
    "好 评 返 现",
    "好\u200b评\u2060返\u200b现",
    "ＨＰ返现",
    "好评有🧧",
    "五星好評返現五元",
    "hp送q，截图找kf",
    # 截图给客服, 加微信领, card inserts
    "五星好评截图给客服领红包",
    "好评后加微信领5元",
    "加微信领红包",
    "【感谢卡】晒图好评+收藏店铺=免费领取试用装一份",
    # conditions hidden in sentence order
    "给您补偿20元～方便的话帮忙改下评价哦",
    "给您转了15块，麻烦把一星改一下",
    "补偿已经准备好了，就等您改评价啦",
    "退款已经在走流程了，等您评价改了我就点同意",
    "评价改了没呀？改了的话红包马上发",
    # gifts, coupons, perks
    "亲，追评写“质量很好”，我们补寄一瓶试用装",
    "改成好评的话送您一张50元券",
    "五星评价后可参加抽奖",
    # pressure without a benefit
    "亲，麻烦把差评删了",
    "请您尽快删除差评，否则我们会一直联系您",
    "亲，您是不是点错了？麻烦改成好评哈",
]

LAWFUL = [
    "亲，已为您全额退款，评价您按真实感受写就好",
    "亲，补偿已发放，评价您自己决定",
    "抱歉给您带来不便，已补发并附赠5元优惠券，和评价无关",
    "亲，如果您愿意，可以更新一下评价，不强求",
    "问题已解决，方便的话可以追评说明一下处理情况，不方便也没关系",
    "感谢您的好评！欢迎再次光临",
    "您的好评我们收到了，赠品是下单时承诺的，已随包裹寄出",
    "邀请好友下单，您和好友各得10元券",
    "双十一店铺红包在首页领取，每人限领一次",
    "亲，红包雨活动今晚8点开始，所有顾客都能抢",
    "我们不做好评返现，看到返现卡片请不要扫码",
    "平台规定不能好评返现，但问题我们一定负责到底",
    "我们不会要求您删评",
    "亲，请把破损处的照片截图给客服，我们马上给您退款",
    "亲，您的差评我们看到了，已经为您办理退款",
    "亲，优惠券已经放到您账户了，下次购物可用",
]


@pytest.mark.parametrize("text", BLOCKED)
def test_conditional_incentives_and_pressure_are_blocked(text):
    problems = check_message(text, platform="taobao")
    assert problems, text
    assert all("SPEC Compliance" in p and " / " in p for p in problems)
    assert "违规诱导用语" in problems[0]


@pytest.mark.parametrize("text", LAWFUL)
def test_lawful_messages_pass(text):
    assert check_message(text, platform="taobao") == [], text


def test_every_default_template_still_passes():
    p = default_policy()
    for r in p.tables["templates"]:
        for cat in ("quality", "logistics", "malicious"):
            if p.template(r["kind"], cat, "taobao") is None:
                continue
            d = draft_reply(r["kind"], category=cat, platform="taobao", remedy=remedy_for(100), coupon_fen=500,
                            order_id="T1", days=3, remedy_delivered=True, problem="杯子破损")
            assert not any("SPEC Compliance" in x for x in d.problems), (r["kind"], d.text, d.problems)


def test_draft_with_a_conditional_remedy_is_refused():
    d = draft_reply(category="quality", platform="jd", remedy="您把差评改成好评后给您补偿20元")
    assert not d.ok and any("SPEC Compliance" in x for x in d.problems)


def test_incentive_hits_and_disclaimers():
    assert incentive_hits("好评返现") and incentive_hits("亲，您把评价删了，我送您一个杯子")
    assert incentive_hits("感谢您的好评") == [] and incentive_hits("") == []
    assert disclaimed("我们不做好评返现", "好评返现")
    assert not disclaimed("五星好评返现5元", "好评返现")
