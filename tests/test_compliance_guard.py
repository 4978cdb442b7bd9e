"""The compliance guard, hardened (issue 17 §4, SPEC Compliance): check_message blocks a benefit tied to a review
in its evasive forms and pressure to delete a review, and keeps passing lawful messages that mention 评价, 好评,
红包, 退款 or 优惠券. Examples written for these tests (the issue's named evasions first).

``PROBE_*``: seller messages written by the engineer who reworked the guard (issue 17 generalisation), in rounds
A–G; each round was written before the rule change that followed it and read once as unseen text (first
readings in docs/accuracy.md). New phrasings, not copied from any set; kept as regression tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from reviewops import check_message, default_policy, draft_reply
from reviewops.core.policy import TEMPLATE_KINDS
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


# ------------------------------------------------------------------ probes (rounds A–J, see the module docstring)
PROBE_BLOCKED = [
    ('亲，五星后私聊客服有小惊喜哦', 'A'),
    ('您把那条评价删掉，这次的运费我们来出', 'A'),
    ('评价改成满意后，本单差价给您补上', 'A'),
    ('hp+3图 返5r', 'A'),
    ('好.评.返.红.包', 'A'),
    ('收到货给个五星，下次下单直接八折', 'A'),
    ('麻烦把一星改掉哈，我们补您一个新的', 'A'),
    ('亲，给我们写个好评吧，写好了发截图，送您运费险', 'A'),
    ('您先把评价撤一下，退款马上给您批', 'A'),
    ('亲，差评的事我们能不能商量一下，您撤了我们赔您双倍', 'A'),
    ('您要是不删评，我们天天给您打电话', 'A'),
    ('差评不撤的话，退货申请我们这边不会同意', 'A'),
    ('晒单15字+3张图，联系客服返2元', 'A'),
    ('追评带图的亲，订单备注截图可兑换小样', 'A'),
    ('⭐⭐⭐⭐⭐+图 = 🧧', 'A'),
    ('亲，我们把钱退给您，条件是那条评价得删', 'A'),
    ('您如果愿意把评价改成好评，我们再额外送一个', 'A'),
    ('好評截圖發給客服，返現十元', 'A'),
    ('评价里写“物流快质量好”，就能领优惠', 'A'),
    ('亲，改完评价跟我说一声，给您发个小红包', 'A'),
    ('亲，您的宝贵评价能不能改成五星呀，我们给您包邮寄一个新的', 'B'),
    ('麻烦把评论删掉，我们这边给您补偿十元话费', 'B'),
    ('收到宝贝给五星的亲，凭截图下单立减十元', 'B'),
    ('亲亲，差评撤回之后，退款申请我这边马上通过', 'B'),
    ('评价晒三张图+二十字，私信客服领取现金红包', 'B'),
    ('亲～给个五星吧，五星的亲都有神秘礼品哦', 'B'),
    ('只要您把差评改一下，这次的运费我们全部承担', 'B'),
    ('您的追评可以写好一点吗？写好了我给您发个红包', 'B'),
    ('亲，好评截图，客服返3r', 'B'),
    ('五🌟好评，送同款一个', 'B'),
    ('您要是不撤差评，我们只能通过其他方式联系您了', 'B'),
    ('差评您删了吧，我们这边会有专人一直跟进您', 'B'),
    ('亲，五星好评后联系客服，赠您运费险一份', 'B'),
    ('请在评价中写上“客服态度好”，我们送您积分500', 'B'),
    ('这单先不退，您改了评价再说', 'B'),
    ('亲，改成好评可以参加我们的VIP抽奖活动', 'B'),
    ('hp➕图 🧧5', 'B'),
    ('您把评价删了，我们再给您寄一个新的替换', 'B'),
    ('请您把一星改成五星，谢谢亲的配合', 'B'),
    ('亲，感谢支持，好评后加店长微信有福利', 'B'),
    ('亲，评价有礼：五星带图评价后找客服领取10元无门槛券', 'C'),
    ('晒图有礼！截图发客服即送精美小礼品', 'C'),
    ('亲爱的，方便把中评改成好评吗？给您补偿一个小红包', 'C'),
    ('亲，差评删除后，我们立即给您办理全额退款', 'C'),
    ('hp+晒图 联系kf 返💰', 'C'),
    ('亲亲，把一星调整到五星，我们给您免单', 'C'),
    ('追评写好一点，下次来店里报手机号打八折', 'C'),
    ('改好评→返5元', 'C'),
    ('亲，麻烦您删一下评论，我们这边真的很难，拜托了', 'C'),
    ('评价您改了吗？没改的话退款我们就先不处理了', 'C'),
    ('亲，您给了差评，我们领导让我必须请您删掉，求您了', 'C'),
    ('五星评价送运费险，联系客服登记', 'C'),
    ('收到货后好评+关注店铺，即可获得下次购物优惠', 'C'),
    ('您把差评修改成好评，今后您在本店买东西都是会员价', 'C'),
    ('亲，好评截个图发我，给您转个大红包', 'C'),
    ('亲，能否把评价改成满意？我们送您一个礼盒表示歉意', 'C'),
    ('h评 f现 3元', 'C'),
    ('请您务必在今天把差评撤掉，不然我们还会继续联系', 'C'),
    ('亲，您这边方便把评价调整一下吗？调整后我们额外送您一个配件', 'D'),
    ('给好评的顾客我们都会安排优先发货哦', 'D'),
    ('亲，请问可以把三星改成五星吗，改好后联系客服领小礼物', 'D'),
    ('评价截图+订单号私信，返两元哦亲', 'D'),
    ('亲，您的差评让我们很难受，如果您能删掉，我们可以给您补一个新的', 'D'),
    ('差评不删我们这边没办法给您售后哦', 'D'),
    ('亲亲好评后记得找客服，有惊喜红包', 'D'),
    ('麻烦您修改一下评价吧，我们已经给您退了十块钱了', 'D'),
    ('五星好评➕3张图➕15字=返现8元', 'D'),
    ('亲，请务必给五星好评，否则我们会被扣钱', 'D'),
    ('加入会员群的条件是五星好评截图', 'D'),
    ('亲，您好，如果您愿意删除差评，本次订单我们可以全额退款', 'D'),
    ('亲，晒單好評後截圖給客服，即送紅包', 'E'),
    ('hp返xj 5', 'E'),
    ('好评🉐🧧', 'E'),
    ('麻烦您帮我们改一下评价呗，改完给您发个优惠券', 'E'),
    ('收到宝贝后给我们五颗星，联系客服即可领取小样三份', 'E'),
    ('亲 这边可以给您补偿20 但是评价需要改一下哈', 'E'),
    ('尊敬的顾客：五星好评并带图，即可参与店铺周年抽奖', 'E'),
    ('亲，评价删了的话，运费险的钱我们也一起退给您', 'E'),
    ('亲爱的，能不能给个好评呀？我们给您包个红包', 'E'),
    ('亲，差评您再考虑一下，如果不删，这个订单的售后我们就不处理了', 'E'),
    ('亲，麻烦您把差评改改，给您退五块钱哈', 'F'),
    ('亲～五星+晒图，返现金五元，截图私聊', 'F'),
    ('亲，差评撤回的话，我们这边可以额外补偿您', 'F'),
    ('评价修改为好评后，可以找我领取一张无门槛券', 'F'),
    ('亲爱的买家，好评截图可兑换店铺积分1000', 'F'),
    ('亲，您要是给了五星好评，下次给您优先发货', 'F'),
    ('能帮我们把那条追评删一下吗？真的很影响我们，我们给您寄个小礼物', 'F'),
    ('亲，差评这边请您删除一下，我们每天都会回访', 'F'),
    ('好评率对我们很重要，麻烦给个五星，谢谢', 'F'),
    ('改 评 送 券', 'F'),
    ('亲，好评返现活动，好评后截图领取3元', 'F'),
    ('亲，只要评价写满三十字配图，就返您两块', 'F'),
    ('亲，您要是能把差评删掉，我们给您申请一个大额优惠券', 'G'),
    ('感谢购买～好评晒图后截图找客服领现金红包哦', 'G'),
    ('亲，改个好评呗，补偿马上到', 'G'),
    ('亲，这边给您返五元，但是需要您追加一个好评哈', 'G'),
    ('追评带视频，客服返十元', 'G'),
    ('五星好評送贈品', 'G'),
    ('亲，评价改成五星的话，以后在我们家买东西都包邮', 'G'),
    ('您好，为表歉意给您退十块钱，顺便麻烦把差评删一下', 'G'),
    ('亲，收到货给个五星，客服给您发3元红包', 'G'),
    ('差评删掉后截图给我，给您退款', 'G'),
    ('亲，你这个差评不删的话，我们会一直给你打电话', 'G'),
    ('能麻烦您把评价改成好评吗，我们给您补发一个', 'G'),
    ('hp后找kf领fx', 'G'),
    ('好评满二十字，送您一个精美钥匙扣', 'G'),
    ('亲～晒图评价可以参加抽免单哦', 'G'),
    ('评价修改一下，我们就同意退款', 'G'),
    ('亲，方便的话把评价修改一下，我们这边给您返个小红包表示歉意', 'H'),
    ('收到货的亲，给五星好评，联系客服可以领两元红包', 'H'),
    ('亲，这边给您全额退款，只需要您把差评删掉', 'H'),
    ('亲～好评带图的宝宝们私信我，有小礼物送', 'H'),
    ('晒图评价返现三元，限时活动', 'H'),
    ('亲，差评对我们影响太大了，求您删掉吧，我们真的很难', 'H'),
    ('亲，如果不改评价，您的退货申请我们无法通过', 'H'),
    ('好评+收藏，截图领5元无门槛', 'H'),
    ('亲，评价里帮我们说几句好话，送您一份小零食', 'H'),
    ('您先把中评改成好评，我这边马上安排补发', 'H'),
    ('亲，给个好评呗，我们这边给您返五块', 'H'),
    ('hpfx 3r 私kf', 'H'),
    ('亲，可以帮我们把评价改一改吗？这边给您补偿一个红包', 'I'),
    ('亲，五星带图后截图私聊，有惊喜', 'I'),
    ('差评撤销以后，我们再给您退款哦', 'I'),
    ('给我们好评，送您会员积分翻倍', 'I'),
    ('亲，追评写上“正品”两个字，我们返您五元', 'I'),
    ('亲，您删一下那条评价吧，我们老板天天骂我', 'I'),
    ('亲，好评后可享受终身保修', 'I'),
    ('好评返5，截图私', 'I'),
    ('亲，差评改中评也行，我们给您退十块钱', 'I'),
    ('五星评价+晒图，可以找客服领取专属优惠', 'I'),
    ('亲，评价写好之后截图发我，给您返现金', 'J'),
    ('给个好评吧，下次来给您打折', 'J'),
    ('亲，您的中评能不能改成好评？我们给您补偿运费', 'J'),
    ('五星好评截图，加客服微信领红包', 'J'),
    ('亲，您把追评删了我们再给您发一个新的', 'J'),
    ('晒图好评的亲，下单前联系客服可享专属折扣', 'J'),
    ('亲，退款我们可以同意，但您得先把评价改一下', 'J'),
    ('亲，帮忙把一星撤了吧，我们会一直打电话直到您撤为止', 'J'),
    ('亲，好评+五张图，返十元', 'J'),
    ('好.评.截.图.领.红.包', 'J'),
    ('亲，差评对我们影响很大，您改成好评后我们给您免单', 'J'),
    ('收藏店铺+五星好评，即送运费险', 'J'),
    ('改一下評價，送您優惠券', 'J'),
    ('亲～五星好评的宝宝，下次购物免运费哦', 'J'),    # round K (round 2): first reading 11 of 14 missed (pressure without a benefit, most of them)
    ('亲，那条评价麻烦您隐藏掉，谢谢', 'K'),
    ('您好，请尽快处理一下您的差评', 'K'),
    ('麻烦您把评价里“掉色”两个字去掉', 'K'),
    ('亲，能不能把三星调成五星呀', 'K'),
    ('评价的事请您配合一下，不然我们只能一直联系您', 'K'),
    ('差评不撤的话，保修就没法给您办', 'K'),
    ('我们有您的收货地址，评价的事您自己掂量', 'K'),
    ('亲，星星帮我们点满好吗', 'K'),
    ('第四次打扰您了，评价那边麻烦您看一下', 'K'),
    ('麻烦撤销一下那条评价，我们也不容易', 'K'),
    ('能不能把差评去掉啊亲', 'K'),
    ('改一下评价吧亲，拜托了', 'K'),
    ('追加一条好评，下单立减五元', 'K'),
    # round L (round 2, after round K's change): first reading 2 of 10 missed
    ('亲，差评那条您能不能撤一撤', 'L'),
    ('您那个一星能帮我们改成五星吗', 'L'),
    ('我们会一直给您打电话直到您把评价处理掉', 'L'),
    ('评价里的照片麻烦删一下，其他不用动', 'L'),
    ('请您把评价修改为满意，谢谢配合', 'L'),
    ('亲，改完评价告诉我，给您寄个小礼物', 'L'),
    ('追评写个好评，下次下单包邮', 'L'),
    ('麻烦您把中评换成好评吧', 'L'),
    ('评价不删除的话，退货我们不受理', 'L'),
    ('亲，评价方便重新评一下吗？五星就行', 'L'),
]
PROBE_LAWFUL = [
    ('亲，您的退款已经原路退回，有任何问题随时找我们', 'A'),
    ('非常抱歉，补偿的10元红包已经发到您账户，不需要任何回报', 'A'),
    ('您的评价我们会认真对待，下批货会加强质检', 'A'),
    ('优惠券是新人专享，和是否评价没有任何关系', 'A'),
    ('亲，评价是您的权利，我们不会干涉', 'A'),
    ('老带新活动：好友下单成功，双方各得5元无门槛券', 'A'),
    ('问题处理好了，如果方便的话，可以追评补充一下后续，写什么都行', 'A'),
    ('已安排补发，评价这块您按真实体验来写', 'A'),
    ('看到您给了差评，非常抱歉，我们先给您退款，评价改不改都可以', 'A'),
    ('本店不接受也不提供任何好评返现，请勿相信陌生人', 'A'),
    ('亲，差评我们收到了，已经上报质检部门', 'A'),
    ('店铺满199减30，全场通用', 'A'),
    ('您反馈的破损我们已补偿5元，感谢您的耐心', 'A'),
    ('收到货后如有问题请先联系客服，我们会第一时间处理', 'A'),
    ('感谢您的五星好评，祝您生活愉快', 'A'),
    ('退款已同意，您无需修改评价', 'A'),
    ('会员积分每月1号自动发放，跟评价无关', 'A'),
    ('红包封已经补发了一套新的给您', 'A'),
    ('您说的差评内容我们都看了，是我们的问题，已全额退款', 'A'),
    ('亲，麻烦您确认一下收货地址，改了我们就发货', 'A'),
    ('亲，我们已经为您办理了退款，无论您如何评价，我们都会继续改进', 'B'),
    ('您的差评我们看到了，问题是我们的，已经为您补发', 'B'),
    ('新用户首单立减10元，老用户有专属满减', 'B'),
    ('补偿金5元已到账，祝您生活愉快', 'B'),
    ('感谢您的好评，下次购物可以使用店铺通用券哦', 'B'),
    ('亲，如果问题已解决，您可以视情况追评，我们不做任何要求', 'B'),
    ('本店不参与任何形式的好评返现活动', 'B'),
    ('关于您评价里提到的色差问题，我们已经更新了商品图片', 'B'),
    ('亲，这个红包是平台发放的，领取后全店通用', 'B'),
    ('您的评价是对我们最大的监督，我们会认真整改', 'B'),
    ('已为您退款20元作为延误补偿，这个补偿和评价没有关系', 'B'),
    ('邀请好友成功注册，您可获得积分奖励', 'B'),
    ('亲，质保期内免费维修，请把机器寄回', 'B'),
    ('您好，我们没有让任何人联系您改评价，如有请举报', 'B'),
    ('抱歉让您久等了，运费由我们承担，已安排重新发货', 'B'),
    ('感谢您的追评，您说的问题我们已经反馈给工厂', 'B'),
    ('亲，评价内容您按实际情况写就行，我们虚心接受', 'B'),
    ('下单满两件送一双袜子，所有顾客都有', 'B'),
    ('您的好评我们收到啦，谢谢您～', 'B'),
    ('亲，差评能理解，我们先把问题解决好', 'B'),
    ('亲，评价有礼活动已经取消，我们不提供任何评价奖励', 'C'),
    ('非常抱歉，已经给您退款了，您的评价我们也会认真看', 'C'),
    ('亲，差评我们接受，商品问题已反馈给工厂', 'C'),
    ('亲，无论是好评还是差评，都是对我们的鼓励', 'C'),
    ('老顾客回购专享9折，下单备注老顾客即可', 'C'),
    ('您的退款已处理，如有其他问题可以随时联系我们', 'C'),
    ('亲，售后问题您随时找我，跟您写什么评价没关系', 'C'),
    ('补发的商品已经寄出，单号发您了', 'C'),
    ('亲，您之前给的好评我们看到了，感谢支持！', 'C'),
    ('邀请新朋友注册下单，您可得20元红包', 'C'),
    ('亲，我们的质保是一年，期间免费换新', 'C'),
    ('抱歉让您失望了，已为您退款，评价请按您的真实感受', 'C'),
    ('关于您说的起球问题，建议手洗，已经为您补偿5元', 'C'),
    ('亲，店铺周年庆，全场满100减20', 'C'),
    ('我们不会因为差评就拒绝您的售后，请放心', 'C'),
    ('您好，您的评价里提到的漏发，我们已经补寄了', 'C'),
    ('亲，差评您有权保留，我们只希望解决您的问题', 'C'),
    ('感谢您的建议，我们会改进包装', 'C'),
    ('亲，退款已经处理好了，和评价无关，您放心', 'D'),
    ('感谢反馈，差评中提到的问题我们已联系快递公司核实', 'D'),
    ('亲，我们已经为您补发，评价的事您不必在意', 'D'),
    ('今日下单赠送试用装一份，数量有限', 'D'),
    ('亲，感谢您的五星好评，送您的积分是平台自动发放的会员积分', 'D'),
    ('您的评价对其他买家很有参考价值，欢迎您真实评价', 'D'),
    ('退货运费我们来承担，您直接寄回即可', 'D'),
    ('看到您的差评，我们非常重视，已为您全额退款并召回该批次', 'D'),
    ('您好，关注店铺可领取5元店铺券', 'D'),
    ('亲，我们从不花钱买好评，请您放心', 'D'),
    ('补偿已经到账，感谢您的耐心', 'D'),
    ('亲，售后问题我们一定处理到底，评价由您自己决定', 'D'),
    ('亲，红包袋已经补发，请注意查收', 'E'),
    ('亲，新品上市，前100名下单送小样', 'E'),
    ('您的评价我们已经看到了，非常抱歉，客服主管会跟进', 'E'),
    ('您好，我们已经给您全额退款了，不需要您做任何事情', 'E'),
    ('亲，好评返现是平台禁止的，我们店不做', 'E'),
    ('亲，如对商品满意，欢迎再次光临', 'E'),
    ('这边给您申请了10元补偿，已经到账，请查收', 'E'),
    ('亲，收到货有任何问题随时联系，支持七天无理由', 'E'),
    ('您之前给的差评我们收到了，问题已经处理，您看还有什么需要', 'E'),
    ('店铺会员每月可领一张5元券，入会免费', 'E'),
    ('亲，十分抱歉，已经为您全额退款，您不用做任何操作', 'F'),
    ('亲，您说的问题已记录，我们会补发一个新的给您', 'F'),
    ('好评返现违反平台规定，本店从不参与', 'F'),
    ('亲，您对商品有任何不满意都可以直接告诉我们', 'F'),
    ('本店所有商品支持七天无理由退货', 'F'),
    ('亲，赠品随包裹发出，不需要做任何评价', 'F'),
    ('已给您补偿5元无门槛券，祝您购物愉快', 'F'),
    ('看到您的反馈，我们已经安排质检部门复查', 'F'),
    ('亲，评价是您的自由，我们尊重您的选择', 'F'),
    ('老顾客推荐新顾客下单，双方各得10元券，和评价无关', 'F'),
    ('您的差评我们会认真反思，不会打扰您', 'F'),
    ('亲，春节期间下单赠送春联一副', 'F'),
    ('亲，我们已经给您补发了，单号稍后发给您', 'G'),
    ('亲，店铺红包是平台活动，领取后下单可用', 'G'),
    ('亲，您的差评我们已经看到了，非常抱歉，我们马上为您处理退款', 'G'),
    ('本店郑重承诺：不做好评返现，请勿相信任何返现信息', 'G'),
    ('亲，感谢您的耐心，补偿券已经放到您的账户', 'G'),
    ('您好，收到您的追评了，谢谢您的认可', 'G'),
    ('欢迎推荐朋友来购买，朋友下单您可得积分', 'G'),
    ('亲，退换货运费我们承担，和您的评价无关', 'G'),
    ('亲，您的好评是对我们最大的鼓励，谢谢', 'G'),
    ('亲，已为您申请价保，差价三天内到账', 'G'),
    ('亲，问题处理完后，您可以根据实际体验更新评价，不需要改成好评', 'G'),
    ('已为您登记换货，新货今天发出', 'G'),
    ('亲，评价我们不干涉，有问题随时联系我们', 'G'),
    ('全店满99包邮，活动截止到周日', 'G'),
    ('非常抱歉，我们已经给您退了运费，评价您随意', 'G'),
    ('亲，我们给所有延迟发货的订单都补偿了5元券', 'G'),
    ('亲，已经为您处理了退款，有问题随时联系', 'H'),
    ('谢谢亲的好评，我们会继续努力', 'H'),
    ('亲，您的评价我们都会认真阅读，有问题欢迎随时反馈', 'H'),
    ('亲，现在下单满199送价值39元的收纳盒，所有顾客都有', 'H'),
    ('亲，您反映的问题我们已经补发了新的，不需要您做任何事', 'H'),
    ('亲，评价请以真实体验为准，我们不会要求任何内容', 'H'),
    ('本店不参加任何好评返现，收到返现卡请拨打平台电话举报', 'H'),
    ('已为您补偿10元，请查收，祝您生活愉快', 'H'),
    ('亲，看到您的差评了，真的很抱歉，我们马上为您补发', 'H'),
    ('推荐好友下单，您可获得5元券', 'H'),
    ('亲，运费险已经理赔到您账户', 'H'),
    ('亲，您可以凭订单号申请售后，和评价无关', 'H'),
    ('亲，橙子坏果我们已经按数量给您退款了', 'I'),
    ('亲，您的评价我们已经看到，非常抱歉，已经安排补发', 'I'),
    ('亲，店铺新客首单立减5元', 'I'),
    ('补发的耳机已经寄出，您收到后有问题再联系我们', 'I'),
    ('亲，我们绝不做好评返现，感谢您的监督', 'I'),
    ('亲，您的差评我们尊重，问题已经处理', 'I'),
    ('感谢您的好评，祝您生活愉快', 'I'),
    ('亲，会员日全场8折，所有会员都能享受', 'I'),
    ('亲，不管您给什么评价，售后我们都负责到底', 'I'),
    ('亲，已为您申请运费补偿，请注意查收', 'I'),
    ('亲，我们的售后不会因为评价而改变，请放心', 'J'),
    ('亲，您的评价已收到，我们会反馈给质检部门', 'J'),
    ('亲，现在关注店铺即可领取优惠券，所有人都可以领', 'J'),
    ('亲，非常抱歉，已为您办理全额退款，祝您生活愉快', 'J'),
    ('亲，好评返现是违法的，我们从来不做', 'J'),
    ('亲，补发的商品已经到了吗？有问题随时联系', 'J'),
    ('亲，为了表示歉意，我们给您补偿了5元，和评价无关', 'J'),
    ('亲，感谢您对我们的认可', 'J'),
    ('亲，差评我们看到了，非常抱歉，问题马上处理', 'J'),
    ('亲，新品试用活动开始报名了，欢迎参加', 'J'),
    ('亲，您可以根据实际使用情况评价，我们都会虚心接受', 'J'),
    ('双十一全场满减，店铺券可叠加使用', 'J'),
    ('亲，评价时如遇问题可以联系客服指导操作', 'J'),
    ('亲，退货地址已经发给您，运费我们承担', 'J'),    # round K: first reading 3 of 12 blocked (a staff rule, a withdrawn card offer, a reply about the review)
    ('您评价里提到的划痕，我们已补发新件，无需退回', 'K'),
    ('感谢您上周的好评，祝您生活愉快', 'K'),
    ('本店从不做好评返现，遇到冒充客服的请举报', 'K'),
    ('退款已经给您处理好了，评价怎么写都是您的权利', 'K'),
    ('问题解决后如果您愿意，可以更新一下评价，不强求', 'K'),
    ('补偿款已打到您账户，跟评价没有关系', 'K'),
    ('员工守则：禁止以红包换取好评或要求顾客删评', 'K'),
    ('看到您评价说尺码偏小，已经给您换大一码，运费我们出', 'K'),
    ('之前卡片上印的好评返现已停用，请按真实感受评价', 'K'),
    ('您的差评我们看到了，已经给您全额退款，您不用修改什么', 'K'),
    ('关于您说的客服承诺返现一事，我们核实后向您致歉，这是违规行为', 'K'),
    ('重发的快递单号发您了，评价随您心意', 'K'),
    # round L: first reading 0 of 10 blocked
    ('亲，已给您安排补发，无论您怎么评价都不影响售后', 'L'),
    ('谢谢您的五星好评，欢迎再来', 'L'),
    ('我们不搞任何形式的好评返现，请放心按真实情况评价', 'L'),
    ('您的差评提到包装破损，已经改进了包装', 'L'),
    ('问题解决了的话，您方便时可以追评说一下处理结果，不方便也没关系', 'L'),
    ('全店满199减20，所有顾客都可以用', 'L'),
    ('给您退了运费险之外的差价，跟评价无关', 'L'),
    ('员工不得私下联系顾客修改评价，一经发现严肃处理', 'L'),
    ('邀请好友下单各得10元券', 'L'),
    ('评价中提到的色差问题，我们已安排换货', 'L'),
]


@pytest.mark.parametrize("text, probe_round", PROBE_BLOCKED)
def test_probe_conditional_incentives_are_blocked(text, probe_round):
    problems = [p for p in check_message(text, platform="taobao") if "SPEC Compliance" in p]
    assert problems, (probe_round, text)


@pytest.mark.parametrize("text, probe_round", PROBE_LAWFUL)
def test_probe_lawful_messages_pass(text, probe_round):
    assert check_message(text, platform="taobao") == [], (probe_round, text)


@pytest.mark.parametrize("text, blocked", [
    # a benefit and a review far apart in one sentence need a link between them (a card insert)
    ("收到后如果满意，请给五星好评并晒图（20字以上），截图发在线客服，即可领取小礼品", True),
    ("收到后如有问题，请联系在线客服（9:00-22:00），我们会尽快处理，祝您购物愉快", False),
    # a bare change/delete with a link and cash: 改了我转你
    ("改了我马上转你", True),
    # a change to a good rating is pressure, however the words fell; a request to update is not
    ("亲，请把评价改为五星", True),
    ("亲，问题解决后方便的话可以更新一下评价，不强求", False),
    # a threat to withhold after-sales unless the review goes
    ("您不删评的话，售后我们就不处理了", True),
    # a request for a review, then a benefit in the next sentence
    ("能帮忙给个好评吗？给您发个红包", True),
    # the remedy said to be unconditional, or the practice refused
    ("已为您退款，评价改不改都可以", False),
    ("本店承诺不以任何形式用返现换取评价", False),
    # split words with punctuation, traditional characters
    ("好.评.返.现", True),
    ("曬圖好評，聯繫客服領獎勵", True),
])
def test_guard_frames(text, blocked):
    problems = [p for p in check_message(text, platform="taobao") if "SPEC Compliance" in p]
    assert bool(problems) is blocked, (text, problems)


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
        if r["kind"] not in TEMPLATE_KINDS:
            continue  # 推荐大使 texts (invitation, code, reward notice): tests/test_ambassadors.py checks them
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


# ------------------------------------------------------------------ the guard's model (issue 17 §4)
def _with(**settings: str):
    import json

    from reviewops.core.policy import Policy, default_policy

    data = json.loads(default_policy().to_json())
    for r in data["tables"]["settings"]:
        if r["key"] in settings:
            r["value"] = settings[r["key"]]
    return Policy.from_json(json.dumps(data, ensure_ascii=False), source="test")


def test_the_guard_model_is_shipped_verified_and_trained_on_the_committed_sets():
    import hashlib

    from reviewops.grading import extortion as ext

    m = ext.guard_model()
    assert m is not None and m.header["version"].endswith("g1") and m.header["kinds"] == []
    assert (m.header["block_at"], m.header["pass_at"], m.header["min_chars"]) == (0.7, 0.3, 8)
    root = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "malicious"
    for name, sha in m.header["trained_on"]["files_sha256"].items():
        assert hashlib.sha256((root / name).read_bytes()).hexdigest() == sha
    assert "fresh4" not in str(m.header["trained_on"])


def test_a_frame_reading_the_model_is_sure_is_lawful_passes_and_the_rules_alone_would_block_it():
    from reviewops.grading.extortion import guard_probability, incentive_hits

    text = "您不用删评价的，我们更想把问题处理好"  # the frame rules read pressure to delete
    assert incentive_hits(text) and guard_probability(text)[0] <= 0.3
    assert check_message(text, platform="taobao") == []
    rules_alone = _with(compliance_model_pass="0", compliance_model_block="1")
    assert check_message(text, platform="taobao", policy=rules_alone)


def test_the_model_blocks_alone_names_itself_and_can_be_turned_off():
    from reviewops.grading.extortion import guard_probability, incentive_hits

    text = "好评带图，奶茶一杯请你喝哦"  # 奶茶 is no benefit in the built-in lexicon: the rules pass it
    p, n = guard_probability(text)
    assert not incentive_hits(text) and p >= 0.7 and n >= 8
    [problem] = check_message(text, platform="taobao")
    assert "模型判断" in problem and "SPEC Compliance" in problem
    assert check_message(text, platform="taobao", policy=_with(compliance_model_block="1")) == []


def test_short_and_repeated_messages_are_left_to_the_rules():
    from reviewops.grading.extortion import collapse_runs, guard_probability

    assert collapse_runs("好好好好好好好") == "好好好" and collapse_runs("哈哈哈") == "哈哈哈"
    assert check_message("好评", platform="taobao") == []  # 2 characters: below the model's min_chars
    assert check_message("好" * 500, platform="taobao") == []
    assert guard_probability("好" * 500) == guard_probability("好" * 4)


def test_the_shops_own_forbidden_rows_block_whatever_the_model_says():
    # the built-in floor phrase 好评返现 blocks even in a disclaimer-free lawful-sounding sentence
    problems = check_message("好评返现活动已结束，感谢支持", platform="taobao",
                             policy=_with(compliance_model_pass="1"))  # the model may overrule every frame reading
    assert problems and "好评返现" in problems[0]
