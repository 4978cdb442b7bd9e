"""extortion_scores: buyer-side extortion / abuse reading (issue 17 §1, SPEC H2).

Inline examples were written for these tests (not copied from the evaluation sets). The accuracy floor reads
every row of benchmarks/data/malicious/buyer_texts.tsv and seller_messages.tsv (both old splits: the old test
half has been seen, so all rows are development data), fresh/ and fresh2/; the third held-out set fresh3/ only
through a floor at the level it was scored at once (docs/accuracy.md).

``PROBE_*``: sentences written by the engineer who reworked the rules (issue 17 generalisation), in rounds A–J.
Each round was written *before* the rule change that followed it and read once as unseen text; the first
reading of each round is in docs/accuracy.md. They are new phrasings, not copied from any set, and are kept
here as regression tests (all pass now, so they no longer measure generalisation).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pandas as pd
import pytest
import reviewops
from hypothesis import given, settings
from hypothesis import strategies as st
from reviewops import extortion_scores
from reviewops.core.errors import ConfigError
from reviewops.grading import extortion as ext

ROOT = Path(__file__).resolve().parents[1]
THRESHOLD = ext._reader("buyer").threshold


# ------------------------------------------------------------------ examples
@pytest.mark.parametrize("text, kind", [
    ("老板，发个红包，我马上把差评删了", "money_for_review"),
    ("hb 到了我就改好评", "money_for_review"),
    ("ｈｂ到位，评价秒改", "money_for_review"),
    ("红 包 到 位 差 评 就 撤", "money_for_review"),
    ("红\u200b包到了就删评", "money_for_review"),
    ("🧧来了⭐⭐⭐⭐⭐就来了", "money_for_review"),
    ("转我50，追评我就不写了", "money_for_review"),
    ("你懂的，意思一下这条差评就没了", "money_for_review"),
    ("好处费给到位，删评没问题", "money_for_review"),
    ("返现翻倍我就不追差评", "money_for_review"),
    ("我有十几个小号，你自己看着办", "threat_bad_review"),
    ("不给个交代，我每天买一单给你一个差评", "threat_bad_review"),
    ("你们客服就是个脑残", "abuse"),
    ("祝你们全家不得好死", "abuse"),
    ("这家卖假货，大家去隔壁买吧", "competitor"),
])
def test_extortion_is_found_with_its_kind(text, kind):
    row = extortion_scores([text]).iloc[0]
    assert row["is_extortion"], (text, row.to_dict())
    assert row["kind"] == kind, (text, row.to_dict())
    assert row["reasons"] and any("\u4e00" <= ch <= "\u9fff" for ch in row["reasons"])


@pytest.mark.parametrize("text", [
    "东西坏了，我要退款",                                  # a refund the buyer is entitled to
    "我要求换货，不然就投诉到12315",                          # a lawful complaint
    "再不处理我就找消协，评价我也会如实写",
    "他妈的，这锅垃圾，一炒就粘，差评",                          # angry but genuine
    "客服说好评返现5元，这是违规的吧？",                         # reporting the seller's offer
    "包裹里有张好评返现卡，我没去领，东西一般",
    "我不要红包，只要正品",
    "我已经自己把差评改成好评了，不用给我任何东西",
    "这款小号和中号差多少？",                                 # 小号 = size S
    "红包封质量不错，图案喜庆",                                 # the product is red envelopes
    "有没有满200返20的活动？",
    "快递摔坏了显示器，按实际价格赔偿，评价我会如实写",
    "",
])
def test_lawful_and_honest_texts_are_not_flagged(text):
    row = extortion_scores([text]).iloc[0]
    assert not row["is_extortion"], (text, row.to_dict())
    assert row["kind"] == ""


# ------------------------------------------------------------------ probes (rounds A–J, see the module docstring)
PROBE_EXTORTION = [
    ('给我打个888，评价这事就算了', 'money_for_review', 'A'),
    ('老板大气点，发个六十六的红包，一星我马上撤', 'money_for_review', 'A'),
    ('支付宝到账之前，这个差评我是不会动的', 'money_for_review', 'A'),
    ('想让我改评也行，先拿两百块来', 'money_for_review', 'A'),
    ('加我vx转一百，追评给你改成满意', 'money_for_review', 'A'),
    ('这样吧，补我二十块，晒图好评给你安排上', 'money_for_review', 'A'),
    ('钱到了评价自然就好看了', 'money_for_review', 'A'),
    ('评价可以删，前提是退款之外再给我五十', 'money_for_review', 'A'),
    ('不转钱这条差评永远挂着', 'money_for_review', 'A'),
    ('你们给多少，我就把差评改成几星', 'money_for_review', 'A'),
    ('不给我满意答复，我让全公司同事每人下一单给差评', 'threat_bad_review', 'A'),
    ('一个星期内不解决，我就每天换个号给你们刷一星', 'threat_bad_review', 'A'),
    ('你不答应，我把这件事发到网上，让大家都看看你们是什么店', 'threat_bad_review', 'A'),
    ('我有的是时间，你们店里每件商品我都会去留言说有质量问题', 'threat_bad_review', 'A'),
    ('等着看你的店评分一天天往下掉吧，除非按我说的做', 'threat_bad_review', 'A'),
    ('再不给我个说法，我老婆我妈的号都会来给你打一星', 'threat_bad_review', 'A'),
    ('这只是第一条差评，后面还有很多条', 'threat_bad_review', 'A'),
    ('我认识好多做测评的，一句话就能让你这款没人买', 'threat_bad_review', 'A'),
    ('你们客服是不是脑子进水了，废物一个', 'abuse', 'A'),
    ('什么狗屁老板，滚回家种地吧', 'abuse', 'A'),
    ('你个死骗子，祝你生意倒闭全家倒霉', 'abuse', 'A'),
    ('客服真是个蠢猪，听不懂人话', 'abuse', 'A'),
    ('这种货色也敢卖？我们店同款质量好一倍，价格还便宜', 'competitor', 'A'),
    ('大家别在这买了，都是仿货，真货在我签名里的店', 'competitor', 'A'),
    ('劝大家绕道，XX专营店的才是原厂货', 'competitor', 'A'),
    ('同行路过，这个价格绝对是假货，懂的来问我', 'competitor', 'A'),
    ('老板，我这人好说话，手机充值一百，差评我今晚就撤', 'money_for_review', 'B'),
    ('想私了就发五十个红包过来，不然这个一星会一直在', 'money_for_review', 'B'),
    ('我也不为难你，表示一下心意，追评我就写好话', 'money_for_review', 'B'),
    ('给我免单，评价我帮你改成五星', 'money_for_review', 'B'),
    ('你家这差评值多少钱自己心里算算，转账备注删评', 'money_for_review', 'B'),
    ('微信给我发个两百，我把追评也删了', 'money_for_review', 'B'),
    ('你们要是肯再寄两件过来，这条差评可以考虑撤掉', 'money_for_review', 'B'),
    ('删评可以，三百块一口价，拖一天加五十', 'money_for_review', 'B'),
    ('这评价你想要没了，就拿点实际的出来', 'money_for_review', 'B'),
    ('先把钱打过来，我看到到账就去改', 'money_for_review', 'B'),
    ('hb50，cp秒删，不讲价', 'money_for_review', 'B'),
    ('咱们做个交易，你给我补点钱，我把差评换成好评', 'money_for_review', 'B'),
    ('你们不是怕差评吗？那就花钱买个清净', 'money_for_review', 'B'),
    ('我认识的人多，今天不给我一个满意的处理，明天你们店就多二十条差评', 'threat_bad_review', 'B'),
    ('我已经注册了五个新账号，都会来你家买一单然后差评', 'threat_bad_review', 'B'),
    ('你不理我是吧？我让我们班同学一人给你一个差评', 'threat_bad_review', 'B'),
    ('我会把你们的聊天截图发到微博和小红书，看你们还怎么做生意', 'threat_bad_review', 'B'),
    ('别逼我，你家每款产品底下我都去留个差评', 'threat_bad_review', 'B'),
    ('我有空，天天买天天退天天差评，看谁耗得起', 'threat_bad_review', 'B'),
    ('今天给不出方案，我就在所有平台上写你们是黑心店', 'threat_bad_review', 'B'),
    ('我已经在几个群里说了，大家都会来给你们店打低分', 'threat_bad_review', 'B'),
    ('好啊，那就看看你这店还能开几天', 'threat_bad_review', 'B'),
    ('客服你是猪吗？说了八百遍还不懂', 'abuse', 'B'),
    ('你们这群骗子不得好死', 'abuse', 'B'),
    ('滚吧你，垃圾东西，跟你说话浪费时间', 'abuse', 'B'),
    ('狗东西客服，祝你天天倒霉', 'abuse', 'B'),
    ('老板你脑子是不是有坑，这么蠢还开店', 'abuse', 'B'),
    ('sb店家，ntm是不是有病', 'abuse', 'B'),
    ('这家店就是卖高仿的，想要正品的来我们店看看', 'competitor', 'B'),
    ('买家们注意，这家是翻新货，要买去官方自营', 'competitor', 'B'),
    ('同样的东西我家卖39，这家卖89还是假的，傻子才买', 'competitor', 'B'),
    ('都别买了，垃圾货，搜“美好生活小店”才是良心店', 'competitor', 'B'),
    ('我们是做这个的，这家用的是回收料，懂的人都不会买，有需要私聊', 'competitor', 'B'),
    ('zfb转我80，一星立刻变五星', 'money_for_review', 'C'),
    ('亲，评价的事好商量，您出个数', 'money_for_review', 'C'),
    ('东西我不退了，你再给我打一百，我就不追评了', 'money_for_review', 'C'),
    ('给点辛苦钱，我这条长差评就撤了，不然挂到天荒地老', 'money_for_review', 'C'),
    ('vx发我个666红包，好评马上安排', 'money_for_review', 'C'),
    ('你们赔我一千块精神损失，我就不在评价里写你们欺诈', 'money_for_review', 'C'),
    ('听说你们怕差评？一条两百，删不删你们决定', 'money_for_review', 'C'),
    ('五星可以给，前提是把这单钱全退了东西我留着，再加二十', 'money_for_review', 'C'),
    ('hb给够，差评秒变好评😏', 'money_for_review', 'C'),
    ('要我追加好评也行，意思意思吧老板', 'money_for_review', 'C'),
    ('三天内不给我答复，我就叫上我所有亲戚一起给你们差评', 'threat_bad_review', 'C'),
    ('你们不处理也行，我有的是号，慢慢给你们写', 'threat_bad_review', 'C'),
    ('我是专业打假的，不给个说法，我让你这个店铺开不下去', 'threat_bad_review', 'C'),
    ('你家每一个链接我都会去评论区说是假货，不信走着瞧', 'threat_bad_review', 'C'),
    ('我粉丝十万，一条视频你们店就凉了，自己考虑', 'threat_bad_review', 'C'),
    ('再不回复，我就天天来问大家里说你们东西有毒', 'threat_bad_review', 'C'),
    ('这次差评只是个开头，不按我说的来，后面一条接一条', 'threat_bad_review', 'C'),
    ('我和我室友四个号都买了，全部一星，你看着处理吧', 'threat_bad_review', 'C'),
    ('你这种人就该被骂，死了都没人管', 'abuse', 'C'),
    ('客服是人工智障吧，蠢得要命', 'abuse', 'C'),
    ('卖家你个老不死的', 'abuse', 'C'),
    ('你们全家都是骗子，早晚遭报应', 'abuse', 'C'),
    ('去你妈的客服', 'abuse', 'C'),
    ('这款还不如隔壁小马家的，人家是正品还便宜一半，别在这浪费钱', 'competitor', 'C'),
    ('奉劝各位，这家都是库存尾货翻新的，想要新货私我', 'competitor', 'C'),
    ('同行来说句公道话，这家的价格根本不可能是真货，去官方买吧', 'competitor', 'C'),
    ('假货！！！想买真的点我头像进店', 'competitor', 'C'),
    ('买的电饭煲用了两次就有焦味，找客服只给退一半，我说了，不给我额外补两百，这个差评和追评我都不会删，你们看着办吧', 'money_for_review', 'D'),
    ('亲，你们是不是很在乎评分？那我们谈谈，我把一星撤了，你给我发个包', 'money_for_review', 'D'),
    ('本来想给好评的，既然你们不返点钱，那就只能差评了', 'money_for_review', 'D'),
    ('老板，我这人讲道理，你让我满意了，评价我自然会改，你懂我意思吧', 'money_for_review', 'D'),
    ('这条差评删除的价格是一百八，过了今晚涨价', 'money_for_review', 'D'),
    ('想要好评？可以，先转我三十块辛苦费', 'money_for_review', 'D'),
    ('东西退了我还要差评，除非你们把运费和我的时间费都赔了，两百不多吧', 'money_for_review', 'D'),
    ('👉🧧👈 到了就删', 'money_for_review', 'D'),
    ('我跟你说，我在好几个平台都有号，你们这家我会一个个去写差评，直到你们给我一个交代', 'threat_bad_review', 'D'),
    ('我表哥在电视台，你们再这样我就让他来曝光', 'threat_bad_review', 'D'),
    ('不赔我钱，接下来一个月我每天都来买一单然后差评退货', 'threat_bad_review', 'D'),
    ('等着吧，今晚我就发到业主群和朋友圈，让大家都知道你们是什么货色', 'threat_bad_review', 'D'),
    ('我们宿舍六个人都买了，如果不给解决，六个差评马上到', 'threat_bad_review', 'D'),
    ('劝你识趣一点，我搞过好几家店了，你不会想知道后果', 'threat_bad_review', 'D'),
    ('滚，你们这帮吸血鬼', 'abuse', 'D'),
    ('客服小妹是不是没读过书？脑子被驴踢了吧', 'abuse', 'D'),
    ('操，客服就是个傻子', 'abuse', 'D'),
    ('你们老板不得好死，生儿子没屁眼', 'abuse', 'D'),
    ('这家卖的是假冒伪劣，真正的原装在我店里，想要的来', 'competitor', 'D'),
    ('纯路人提醒，这个牌子官方早就停产了，这家肯定是假的，想要正品的去搜“悦享家居”', 'competitor', 'D'),
    ('我们厂就是给这个牌子代工的，这家卖的根本不是原厂货，私我拿出厂价', 'competitor', 'D'),
    ('我也不想闹，八十八块钱的事，你转了我就改成好评，皆大欢喜', 'money_for_review', 'E'),
    ('差评删不删，全看老板给的红包大小', 'money_for_review', 'E'),
    ('h b 到 手 ， 评 价 改 口', 'money_for_review', 'E'),
    ('免费再给我发一套，追评我就夸你们', 'money_for_review', 'E'),
    ('说吧，多少钱能让我把这条评价撤了？你开个价', 'money_for_review', 'E'),
    ('我要的不多，两百块，差评换好评，成交就发我', 'money_for_review', 'E'),
    ('家里人都有淘宝号，一人一条差评，你自己算算吧', 'threat_bad_review', 'E'),
    ('我可以告诉你，我手上有十几个账号，每个都能给你们差评', 'threat_bad_review', 'E'),
    ('你们要是不同意，我就去你们每个宝贝下面追评说质量有问题', 'threat_bad_review', 'E'),
    ('拖是吧？我会让我们公司同事都来给你们评一星', 'threat_bad_review', 'E'),
    ('你妈死了吗客服', 'abuse', 'E'),
    ('傻x卖家', 'abuse', 'E'),
    ('你们这群垃圾人，赚黑心钱早晚出事', 'abuse', 'E'),
    ('这家质量垃圾还是假货，我在某宝另一家买的同款才是正品，链接私我', 'competitor', 'E'),
    ('姐妹们别买这家了，全是山寨货，去我主页看正品', 'competitor', 'E'),
    ('你给我个痛快话，一百块，这差评我今天就删', 'money_for_review', 'F'),
    ('商量个事，你们退我五十，我把追评改成好的', 'money_for_review', 'F'),
    ('只要钱到位，什么评价都好说', 'money_for_review', 'F'),
    ('这样，你们补偿我一个月会员费，我的评价就改过来', 'money_for_review', 'F'),
    ('差评在这摆着，你们看看值不值得花点钱', 'money_for_review', 'F'),
    ('加个微信吧，私下给我点，评价的事包在我身上', 'money_for_review', 'F'),
    ('东西我就不退了，给我个大红包，一星改五星', 'money_for_review', 'F'),
    ('老板，删一条差评给三十，你们家我写了三条，自己算', 'money_for_review', 'F'),
    ('不给钱？行，那我每周都来买一次，每次都写差评', 'threat_bad_review', 'F'),
    ('我老公是律师，我朋友是记者，你们不给我个说法就等着上新闻吧', 'threat_bad_review', 'F'),
    ('我不会只写一条的，你们所有的商品评论区我都会去留言', 'threat_bad_review', 'F'),
    ('别以为我就一个号，我这里随时能换号继续给你们差评', 'threat_bad_review', 'F'),
    ('我已经发动身边所有人了，你们就等着评分暴跌吧', 'threat_bad_review', 'F'),
    ('今晚十二点前不给我处理好，明天你们就会看到一排差评', 'threat_bad_review', 'F'),
    ('你们这些奸商都该去死', 'abuse', 'F'),
    ('客服你就是个废物，什么都不会', 'abuse', 'F'),
    ('祝你们老板出门踩狗屎被雷劈', 'abuse', 'F'),
    ('这家是卖假货的，正品我家有，进我主页', 'competitor', 'F'),
    ('说句实话，这款在我们厂出厂价才十块，别买这家，来找我', 'competitor', 'F'),
    ('山寨的，别上当，买正版要去认证的那家', 'competitor', 'F'),
    ('做生意嘛，大家互相给个面子，你发我六十八，我把评价改成五星', 'money_for_review', 'G'),
    ('追评写什么取决于你们的态度，态度就是红包', 'money_for_review', 'G'),
    ('老板，帮我把这单的钱全退了，东西我也不寄回，差评我立马删', 'money_for_review', 'G'),
    ('给个五十的购物卡，我给你们写个三百字的好评', 'money_for_review', 'G'),
    ('我这人很好说话的，你懂的，差评的事可以商量', 'money_for_review', 'G'),
    ('hb安排一下，不然这个cp不会撤的', 'money_for_review', 'G'),
    ('先给钱再改评，没钱免谈', 'money_for_review', 'G'),
    ('你们要是再赔两百，我就把评价里的照片都删了', 'money_for_review', 'G'),
    ('五百块，少一分这个差评都挂着', 'money_for_review', 'G'),
    ('朋友们都在等我一句话，不给我满意的结果，差评会一波一波来', 'threat_bad_review', 'G'),
    ('我会在抖音上发视频，标题就写这家店骗人，你们自己掂量', 'threat_bad_review', 'G'),
    ('拿不出诚意来，我就开十个号轮流给你们差评', 'threat_bad_review', 'G'),
    ('你们店的每个商品我都会买一个，然后全部差评', 'threat_bad_review', 'G'),
    ('信不信我让你这个月一单都卖不出去', 'threat_bad_review', 'G'),
    ('要么退钱加赔偿，要么我天天来写差评，你们选', 'threat_bad_review', 'G'),
    ('你们客服是不是智商有问题', 'abuse', 'G'),
    ('老板真是个人渣', 'abuse', 'G'),
    ('傻逼店家，全家死光', 'abuse', 'G'),
    ('你这个狗东西，赶紧滚', 'abuse', 'G'),
    ('别在这家当冤大头了，我店里同款只要一半价钱，主页有', 'competitor', 'G'),
    ('这家东西是假的，我是做这一行的，正品只有我们家有', 'competitor', 'G'),
    ('大家认准官方授权店，这家是盗版，去搜“正品小铺”', 'competitor', 'G'),
    ('亲，我的评价对你们影响挺大的吧？咱们私下解决，给我返个一百，我马上改', 'money_for_review', 'H'),
    ('我不是不能改评价，只是需要一点动力，比如一个红包', 'money_for_review', 'H'),
    ('shan评可以，先zhuan账', 'money_for_review', 'H'),
    ('差评变好评，明码标价一百，微信支付宝都行', 'money_for_review', 'H'),
    ('收到货挺失望的，不过你要是给我点补偿，我也不是不能给五星，三十块怎么样', 'money_for_review', 'H'),
    ('老板你看，我写了这么长一篇差评，你出两百我就删，不出我就置顶', 'money_for_review', 'H'),
    ('退款我不要了，你直接微信给我八十，这事就过去了，评价我也会去改', 'money_for_review', 'H'),
    ('跟你说清楚，不给钱的话我还有三个号没用呢', 'threat_bad_review', 'H'),
    ('你们这种店我见多了，不服我们就耗着，我每天都写一条追评', 'threat_bad_review', 'H'),
    ('我已经截图了，不给个满意的答复，这些截图明天全网都能看到', 'threat_bad_review', 'H'),
    ('不解决的话，我家亲戚十几个人，每人买一单给你差评', 'threat_bad_review', 'H'),
    ('告诉你们，我是职业的，你们不配合，我有的是办法让你们评分掉下来', 'threat_bad_review', 'H'),
    ('要是这次不按我的要求来，你家以后每个新品我都去差评', 'threat_bad_review', 'H'),
    ('你们客服都是猪脑子吗', 'abuse', 'H'),
    ('你个臭不要脸的骗子老板', 'abuse', 'H'),
    ('客服去死吧，浪费我时间', 'abuse', 'H'),
    ('祝你们店主一家出门都被车撞', 'abuse', 'H'),
    ('各位别被骗了，这家全是仿品，正品我这里有，私聊', 'competitor', 'H'),
    ('这个牌子根本不是这家的，这家是假冒的，去搜官方店铺“优品生活旗舰店”买', 'competitor', 'H'),
    ('友商路过，这价钱绝对做不出正品，想买靠谱的看我头像', 'competitor', 'H'),
    ('这箱橙子烂了三个，其实也无所谓，你们发个二十的红包，评价我给你们改回来', 'money_for_review', 'I'),
    ('耳机有杂音，退货麻烦，给我补一百块钱我就不写差评了', 'money_for_review', 'I'),
    ('我这边可以撤销评价，但是要一点补偿，你知道我说的是什么', 'money_for_review', 'I'),
    ('给我返点现，不多，五十，好评马上到', 'money_for_review', 'I'),
    ('你们的差评我可以帮你们处理掉，前提你懂', 'money_for_review', 'I'),
    ('👉红包👈 来了我就把一星删了', 'money_for_review', 'I'),
    ('朋友圈我有三千好友，不想你们的店被挂出来就表示一下', 'threat_bad_review', 'I'),
    ('这只是开胃菜，你们再拖，我每个平台都去发帖', 'threat_bad_review', 'I'),
    ('你再不回我消息，我就组织群里的人一起给你刷差评', 'threat_bad_review', 'I'),
    ('我会一直下单一直差评，直到你们给我道歉赔钱为止', 'threat_bad_review', 'I'),
    ('要么今天把钱退了再赔五百，要么等着店铺被降权吧', 'threat_bad_review', 'I'),
    ('这种客服就是个草包，废物一个', 'abuse', 'I'),
    ('老板你全家都不得好死', 'abuse', 'I'),
    ('滚你丫的，什么狗客服', 'abuse', 'I'),
    ('这家就是个坑人的黑店，我们店同款只要一半的价，点我主页', 'competitor', 'I'),
    ('别买了，假的，我是代理，要正品找我', 'competitor', 'I'),
    ('说白了就是钱的事，给够了差评自然消失', 'money_for_review', 'J'),
    ('一星评价撤回的条件：退全款，东西不退，另加五十', 'money_for_review', 'J'),
    ('我可以删，你先把红包发过来我看看诚意', 'money_for_review', 'J'),
    ('老板，红包一到，评价马上变样', 'money_for_review', 'J'),
    ('我闺蜜团十几个人，你们要是不给个说法，每人一个差评', 'threat_bad_review', 'J'),
    ('你们等着，我要让全网都知道你们卖的什么东西', 'threat_bad_review', 'J'),
    ('今天你们不低头，明天就让你们店铺评分跌破四点五', 'threat_bad_review', 'J'),
    ('你们这帮狗东西', 'abuse', 'J'),
    ('客服你是不是有病，脑残吧', 'abuse', 'J'),
    ('这家卖的是翻新货，同样的价格去某某官方旗舰店能买到全新的', 'competitor', 'J'),
    # round K (round 2, after the first fresh set was read): first reading 8 of 15 missed
    ('不处理是吧，我再注册几个账号接着写', 'threat_bad_review', 'K'),
    ('我手上号不少，一个号一条差评，慢慢来', 'threat_bad_review', 'K'),
    ('这周先一个差评，下周还有，直到你们回我为止', 'threat_bad_review', 'K'),
    ('我把你们店的链接发到业主群和妈妈群，看谁还来买', 'threat_bad_review', 'K'),
    ('我就说用了过敏进医院了，看平台帮谁', 'threat_bad_review', 'K'),
    ('我们几个同学约好了，一人一个一星', 'threat_bad_review', 'K'),
    ('懂行的都知道这货是拼多多九块九的，想要好货搜我店名', 'competitor', 'K'),
    ('这玩意儿就是割韭菜，我们工厂直销一半价格，主页有链接', 'competitor', 'K'),
    ('各位别被骗，这家是贴牌货，认准我们的正牌', 'competitor', 'K'),
    ('祝你们全家出门被车撞', 'abuse', 'K'),
    ('客服是不是脑子有坑，说话听不懂吗', 'abuse', 'K'),
    ('给个两百块，差评立马消失', 'money_for_review', 'K'),
    ('想让我把星星加回来？看你们的表示了', 'money_for_review', 'K'),
    # round L (round 2, after round K's change): first reading 3 of 11 missed
    ('老子有十几个号，一个个给你刷一星', 'threat_bad_review', 'L'),
    ('你们不给说法，我就在小红书和抖音都发一遍', 'threat_bad_review', 'L'),
    ('我表哥在报社，这事捅出去你们就完了', 'threat_bad_review', 'L'),
    ('不退钱？那我每天换个号来骂一次', 'threat_bad_review', 'L'),
    ('转我八十，这条差评我马上删', 'money_for_review', 'L'),
    ('差评撤不撤，全看你们给多少', 'money_for_review', 'L'),
    ('这家都是库存尾货翻新的，真想买好的来我们家，链接在我签名', 'competitor', 'L'),
    ('我就是干服装批发的，这种料子进价五块，谁买谁傻，正品私我', 'competitor', 'L'),
    ('你这种客服活该一辈子打工', 'abuse', 'L'),
    ('老板死全家', 'abuse', 'L'),
]
PROBE_LAWFUL = [
    ('质量太差了，我要申请退款，不退的话我就投诉到平台', 'A'),
    ('不给我换货我就给差评，这是我的权利', 'A'),
    ('商家私信我说好评给五块钱红包，我没理他', 'A'),
    ('收到的卡片上写着五星好评返现十元，这种做法不对吧', 'A'),
    ('你们发货太慢了，气死我了，差评！', 'A'),
    ('我买的小号衣服太紧了，能换中号吗', 'A'),
    ('请问这个红包是店铺的还是平台的，下单能用吗', 'A'),
    ('如果再拖着不处理，我会向消费者协会反映', 'A'),
    ('评价我写的是实话，不会因为你们打电话就改', 'A'),
    ('客服态度差得要命，垃圾服务，再也不来了', 'A'),
    ('这个充电器是假货吧，和官方旗舰店买的完全不一样', 'A'),
    ('差价什么时候退给我？保价期内降了二十', 'A'),
    ('退款到账了，差评我已经改成好评了，谢谢', 'A'),
    ('之前说好的补偿二十块到现在都没给，我要投诉', 'A'),
    ('我给了一星，因为漏发了一个零件，补发了我再追评', 'A'),
    ('骗子店铺，图片和实物差太多了，大家谨慎购买', 'A'),
    ('你们的客服说只要给好评就返现，我觉得这是在骗人', 'A'),
    ('朋友推荐我来买的，结果一般，给个中评', 'A'),
    ('快递员态度很恶心，不是店家的问题', 'A'),
    ('我的几个号都是家里人用的，不是刷单', 'A'),
    ('收到的杯子裂了，要么给我换新的，要么退款，不然我就给差评', 'B'),
    ('第三次联系了还是没人管，我会投诉到平台，评价也会实话实说', 'B'),
    ('你们的短信写着好评返现十元，我没好评也不要钱，就是想提醒一下别人', 'B'),
    ('我不是为了红包，东西确实好，主动给个好评', 'B'),
    ('客服态度太恶心了，问什么都答非所问，差评', 'B'),
    ('这鞋子垃圾，穿一天就开胶，骗钱的玩意', 'B'),
    ('请问评价晒图有没有红包？看到别人说有', 'B'),
    ('已经申请仅退款了，商家不同意的话我申请平台介入', 'B'),
    ('我女儿的账号和我的账号都买了，两单都有问题', 'B'),
    ('差评是我写的，写的都是实际情况，你们打电话我也不会改', 'B'),
    ('这次补发很快，我把之前的差评改成好评了，不用给我什么', 'B'),
    ('价格保护期内降价了，按规则把差价退给我，谢谢', 'B'),
    ('我朋友也买了，她那件也是一样的线头问题', 'B'),
    ('官方旗舰店买的和你家的对比了一下，做工差不少，有点失望', 'B'),
    ('店家主动说给我补偿五元，我说不用了，东西没问题就行', 'B'),
    ('卖家说改好评给返现，我拒绝了，这种行为平台应该查', 'B'),
    ('妈的快递又晚了三天，急用的东西', 'B'),
    ('我要给一星，产品和描述不符，请大家参考', 'B'),
    ('如果这周还收不到货，我就申请退款并且给差评', 'B'),
    ('商品有质量问题，按三包规定请给我维修或者更换', 'B'),
    ('店铺红包怎么领不了，提示已经领完', 'B'),
    ('打印机HP的墨盒兼容吗', 'B'),
    ('这款小号偏大，我平时穿S', 'B'),
    ('假一赔十是真的吗，我怀疑是假货想送检', 'B'),
    ('你们东西不错，我已经推荐给同事了', 'B'),
    ('东西坏了不给修，我就去12315投诉，差评也会写', 'C'),
    ('收到货发现是旧的，要求退货退款，不然给差评，这是正当要求', 'C'),
    ('快递员把我的包裹丢了，你们得补发或者退款', 'C'),
    ('差评写了，原因是包装破损，不是针对客服', 'C'),
    ('你们卡片上说好评送十元，我觉得没必要，我就按实际评价', 'C'),
    ('客服问我能不能改评价，说给我返现，我没答应', 'C'),
    ('我的评价是真实的，你们再打电话骚扰我就报警', 'C'),
    ('店铺双十二的红包怎么用？满多少可以减', 'C'),
    ('能不能给我补发一个配件？差评我可以改', 'C'),
    ('有点生气，等了十天才发货，给中评', 'C'),
    ('垃圾质量，穿了一次就起球，后悔买了', 'C'),
    ('我们全家都在用这个牌子，这次买的感觉不太一样，是不是批次问题', 'C'),
    ('我想问下晒图评价有没有活动，没有也没关系', 'C'),
    ('刚下单就降价五十，麻烦按价保退我差价', 'C'),
    ('朋友们别急着下单，等我用几天再来追评', 'C'),
    ('请问这款有小号吗，孩子穿', 'C'),
    ('我没用过别家的，不知道这个算不算好', 'C'),
    ('店家很负责，主动退了我二十块运费，好评', 'C'),
    ('被快递坑惨了，不是店家的错', 'C'),
    ('要不是客服态度好，我肯定给差评了', 'C'),
    ('买了三次了，这次的质量明显不如以前，给个差评提醒一下，希望店家重视', 'D'),
    ('你们说好的48小时发货，现在五天了，不发货我就申请退款，并给差评', 'D'),
    ('商家在包裹里放了好评返现卡，扫码要加微信，我没加，提醒大家不要上当', 'D'),
    ('退款还没到账，麻烦看一下，我差评已经删了', 'D'),
    ('收到有破损，拍照给客服了，客服说补发，等补发到了我再改评价', 'D'),
    ('我上次差评后店家主动联系给我补发了，态度很好，追评一下', 'D'),
    ('客服说如果我改好评就给我五元红包，我觉得这样不好，评价就按真实的写', 'D'),
    ('这个价格还要什么自行车，一般般吧，中评', 'D'),
    ('问一下，好评返现是你们店的活动吗？我看评论里很多人说有', 'D'),
    ('太坑了，买回来就是坏的，退货！', 'D'),
    ('别家卖的都有赠品，你们家为什么没有', 'D'),
    ('我用小号买的，收货地址写的我妈家', 'D'),
    ('亲戚推荐的，说这家正品，果然不错', 'D'),
    ('今天之内不发货我就取消订单了', 'D'),
    ('质量很差，我要求退款，不给退的话我会找平台客服介入', 'D'),
    ('祝店家生意兴隆，东西很好用', 'D'),
    ('说实话有点失望，不过客服态度好，给三星', 'D'),
    ('你们的包装太差了，垃圾包装，东西都压坏了', 'D'),
    ('红包袋做工不错，过年发红包正合适', 'E'),
    ('小号的杯子容量偏小，建议买大号', 'E'),
    ('HP打印机用这个墨盒很合适', 'E'),
    ('和男朋友买的cp款，很可爱', 'E'),
    ('已经转账付款了，什么时候发货', 'E'),
    ('这个设计的好处是收纳方便', 'E'),
    ('买了两个号码的鞋，一个自己穿一个给老公', 'E'),
    ('评价返现卡我拍照举报给平台了', 'E'),
    ('店家说好评返红包，我没要，东西确实一般', 'E'),
    ('东西有问题，给我退款或者换货，否则我只能差评了', 'E'),
    ('你们这样处理我很不满意，我要投诉到消费者协会', 'E'),
    ('这什么破质量，气死了，差评差评差评', 'E'),
    ('老板人不错，多送了一个小礼物，好评', 'E'),
    ('追评：用了一个月，还是很好用', 'E'),
    ('请问晒图好评有奖励吗？我看别人说有', 'E'),
    ('快递太慢，和店家无关，不给差评', 'E'),
    ('新人红包领了，下单便宜了十块', 'E'),
    ('我是第二次买了，第一次用的我老公的号', 'E'),
    ('假的吧？和我在专柜买的味道不一样，求店家解释', 'E'),
    ('我不要补偿，只要你们给我换个新的', 'E'),
    ('如果明天还不发货，我就申请退款然后给差评', 'F'),
    ('收到货是坏的，要求全额退款，这是我应得的', 'F'),
    ('你们的返现卡片太过分了，我已经截图发给平台了', 'F'),
    ('商家客服私信我要我改好评，说可以返我二十块，我觉得很离谱', 'F'),
    ('为了这个破杯子我跑了三趟快递点，气死了', 'F'),
    ('退款已经收到，谢谢，评价就不改了，还是如实写', 'F'),
    ('有没有满减活动啊？红包能叠加吗', 'F'),
    ('我家孩子穿小号正好', 'F'),
    ('这款我已经推荐给好几个朋友了，大家都说好', 'F'),
    ('差评是因为物流，东西本身没问题', 'F'),
    ('东西和描述不一样，我要退货，不然就找平台', 'F'),
    ('你们客服回复太慢了，能不能多招几个人', 'F'),
    ('收到的是二手货吧，有使用痕迹，我要投诉', 'F'),
    ('价格比别家贵了十块，但服务好，值了', 'F'),
    ('我的差评不会删，除非你们真正解决问题', 'F'),
    ('说好的赠品没有发，请补发，不然我给差评', 'F'),
    ('老公用他的号又买了一单，第二单也有同样的问题', 'F'),
    ('刚看到你们说好评返五元，这是违规的吧', 'F'),
    ('店家态度很好，主动补偿了五块钱，好评', 'F'),
    ('你们家东西真垃圾，用了三天就坏了', 'F'),
    ('产品有瑕疵，请给我退款，不退我就给差评', 'G'),
    ('客服说五星好评送小礼品，我觉得这样不好，就没参加', 'G'),
    ('收到的卡片写着好评返五元，我直接扔了', 'G'),
    ('我的评价都是实话，不会删，也不需要补偿', 'G'),
    ('快递慢得要死，差评给快递', 'G'),
    ('都是假话，说好的包邮结果收了运费，投诉', 'G'),
    ('我不要红包，我要一个能用的东西', 'G'),
    ('这个小号的尺码表不准，退了', 'G'),
    ('红包领了但是用不了，提示不满足条件', 'G'),
    ('如果你们能补发，我就把差评改了', 'G'),
    ('你们店的东西我全家都喜欢', 'G'),
    ('差评！发错颜色了，要求换货', 'G'),
    ('店家太实在了，多给我寄了一包，好评', 'G'),
    ('用了一周，质量一般，对得起价格', 'G'),
    ('退款十几天了还没到账，再不处理我就找平台介入', 'G'),
    ('客服态度恶心，我问了三次都不理', 'G'),
    ('我是老顾客了，这次真的失望，一星', 'G'),
    ('店家让我改评价，我没同意，评价是我的自由', 'G'),
    ('商家说给我退二十块让我删差评，我拒绝了，这种做法不对', 'G'),
    ('看到评论区有人说好评返现，是真的吗？', 'G'),
    ('给了差评之后，店家态度很好地给我退了款', 'G'),
    ('这家是不是卖假货啊？和我之前在官方买的不一样，求解释', 'G'),
    ('等了半个月才到，我要退款，如果不给退，我就如实写差评', 'H'),
    ('你们的客服打了三次电话让我删评，我不会删的，也不要你们的红包', 'H'),
    ('包裹里的卡片说好评返八元，我觉得这是违规的，已经举报', 'H'),
    ('东西很好用，客服也耐心，五星好评', 'H'),
    ('这什么垃圾东西，破了个洞，申请退货', 'H'),
    ('新人红包怎么领？我找不到入口', 'H'),
    ('我买了小号，孩子穿正好，就是颜色有点浅', 'H'),
    ('差评已经改成好评了，店家处理得很好，没有给我任何东西', 'H'),
    ('因为物流慢给了差评，现在店家补偿了运费，我愿意追评说明', 'H'),
    ('如果你们能补发零件，我就不给差评了，毕竟东西本身还行', 'H'),
    ('你们这种态度我只能投诉到平台了', 'H'),
    ('被坑了，买贵了五十，申请价保', 'H'),
    ('我的评价写的都是事实，你们要是觉得不对可以申诉', 'H'),
    ('客服一直让我改好评，还说给我返现，我拒绝了', 'H'),
    ('这款之前在别家买过，质量差不多', 'H'),
    ('我老婆也用我的账号买东西，所以订单有点多', 'H'),
    ('太气人了，第三次收到坏的，差评！', 'H'),
    ('问一下评价有没有返现，朋友说有', 'H'),
    ('这款比旗舰店便宜，但是质量也还行', 'H'),
    ('再不发货就退款', 'H'),
    ('橙子烂了好几个，要求按坏果数量退款，不然差评', 'I'),
    ('耳机有杂音，申请换货，客服处理很快，好评', 'I'),
    ('你们客服说给我返现让我撤销评价，我没同意', 'I'),
    ('我的差评是真实体验，不会因为红包改', 'I'),
    ('什么垃圾耳机，一边没声音', 'I'),
    ('这个价格买到正品，很值，推荐', 'I'),
    ('发错了颜色，我要投诉到平台', 'I'),
    ('卡片上写好评返现，我觉得没必要，就给个中评吧', 'I'),
    ('问一下你们店的会员有没有红包', 'I'),
    ('店家很诚信，说补发就补发，好评', 'I'),
    ('质量差，差评，但是客服态度还可以', 'I'),
    ('小号买的，送朋友的', 'I'),
    ('你们的东西是不是假的？我要去鉴定', 'I'),
    ('我要求退一赔三，这是你们自己承诺的假一赔三', 'I'),
    ('收到货后客服私信说好评送礼物，我直接拒绝了', 'I'),
    ('再不发货我就申请平台介入', 'I'),
    ('东西还行，就是物流慢，给了三星', 'J'),
    ('我在评价里说了实话，你们客服就一直打电话，太烦了', 'J'),
    ('客服主动说给我补个红包，我说不用了', 'J'),
    ('我要求按照七天无理由退货，运费你们出', 'J'),
    ('差评一个，东西跟图片不符，退货中', 'J'),
    ('我没有收到承诺的赠品，请补发', 'J'),
    ('店里搞活动送的红包我领到了，谢谢', 'J'),
    ('这家的衣服我买过好多次，这次的小号偏小', 'J'),
    ('请问评价后还能申请退货吗', 'J'),
    ('太差了，垃圾，再也不买了', 'J'),    # round K: first reading 0 of 10 flagged (lawful 追评 about the shop's handling among them)
    ('客服很快就帮我换了，追评补充一下，服务不错', 'K'),
    ('联系了售后，退款到账了，追评更新一下进度', 'K'),
    ('等了一周客服都没回复，追评记录一下给后来的人参考', 'K'),
    ('商家主动联系重发了，追评说一下处理结果', 'K'),
    ('第一次评价写错了，追评改正一下，东西其实没问题', 'K'),
    ('找客服三次都没解决，只好追评提醒大家注意尺码', 'K'),
    ('这家卖的和旗舰店不一样吗？我有点怀疑是不是正品', 'K'),
    ('店家说好评返现，我觉得这样不好，举报了', 'K'),
    ('我朋友也买了，她那件也有色差', 'K'),
    ('不给退我就去12315投诉，差评也会写', 'K'),
    ('找了客服也没解决，追评让大家看看', 'K'),
    ('客服道歉了也给解决了，追评说明一下', 'K'),
    # round L: first reading 1 of 9 flagged (a buyer asking whether it is genuine)
    ('客服态度很好，后来补发了，追评给个说法：满意', 'L'),
    ('售后一直拖，我已经投诉到平台了，追评告诉大家进度', 'L'),
    ('收到后有点漏，联系商家退了一半钱，追评说明', 'L'),
    ('不好意思之前给了差评，现在问题解决了，我改成好评了', 'L'),
    ('商家说只要五星就返十块，我觉得不合适，拒绝了', 'L'),
    ('这个价格比旗舰店便宜不少，不知道是不是正品', 'L'),
    ('我和同事一起买的，三个人都收到了坏的', 'L'),
    ('再不发货我就申请退款了', 'L'),
    ('你们的客服说话真让人生气，态度太差', 'L'),
]


@pytest.mark.parametrize("text, kind, probe_round", PROBE_EXTORTION)
def test_probe_extortion_is_flagged(text, kind, probe_round):
    row = extortion_scores([text]).iloc[0]
    assert row["is_extortion"], (probe_round, text, row.to_dict())
    assert row["kind"] in ext.KINDS


@pytest.mark.parametrize("text, probe_round", PROBE_LAWFUL)
def test_probe_lawful_is_not_flagged(text, probe_round):
    row = extortion_scores([text]).iloc[0]
    assert not row["is_extortion"], (probe_round, text, row.to_dict())


def test_probe_kinds_mostly_right():
    df = extortion_scores([t for t, _, _ in PROBE_EXTORTION])
    right = sum(k == want for k, (_, want, _) in zip(df["kind"], PROBE_EXTORTION))
    assert right / len(PROBE_EXTORTION) >= 0.9, right


# ------------------------------------------------------------------ frames (what generalises)
@pytest.mark.parametrize("text, flagged", [
    # an ultimatum over one bad review: lawful when the demand is the buyer's right, a threat when unstated
    ("不给我退款我就给差评", False),
    ("不给我一个满意的交代，我就给差评", True),
    # a flood needs no demand; a weak flood (朋友, 天天) needs a coercion or an ultimatum
    ("我家里五个号都会来给你差评", True),
    ("朋友们别急着下单，等我用几天再来追评", False),
    ("不答应的话，朋友们都会来给你差评", True),
    # the buyer's own future action is no threat without a named harm
    ("今天之内不发货我就取消订单了", False),
    # an honesty word shields the review unless a condition ties it to a benefit
    ("差评我不会删，东西就是有问题", False),
    ("不给我补两百，这个差评我不会删", True),
    # the seller's offer reported, or a question about a promotion
    ("店家私信我说改好评可以返我十块，我没理", False),
    ("请问晒图好评有奖励吗？", False),
    ("之前客服说改评给钱，我现在就要，不给我就再追一条", True),
    # far apart in one sentence, with a link between
    ("v我50，先看看诚意，差评删不删就看这个了", True),
    # a diversion: comparing with a flagship store is not a recommendation
    ("这个是假货吧，和旗舰店买的不一样", False),
    ("这个是假货，大家去XX旗舰店买", True),
    # insults: a person-noun with any addressee; an adjective only with a pointed one
    ("客服真是个蠢猪", True),
    ("客服态度垃圾，差评", False),
    ("你这种人就是垃圾", True),
])
def test_frames(text, flagged):
    row = extortion_scores([text]).iloc[0]
    assert bool(row["is_extortion"]) is flagged, (text, row.to_dict())


def test_split_words_and_traditional_characters_are_normalised():
    assert ext.squeeze("好.评.返.红.包") == "好评返红包"
    assert ext.squeeze("删-差-评") == "删差评"
    assert ext.squeeze("3.5元") == "#元"  # a decimal is an amount, not a split word
    assert ext.squeeze("十幾個小號") == "十几个小号"
    assert extortion_scores(["我有十幾個小號，你自己看著辦"]).iloc[0]["kind"] == "threat_bad_review"


def test_money_is_the_kind_unless_the_flood_is_the_main_content():
    money = extortion_scores(["不给我额外补两百，这个差评我不会删，你们看着办吧"]).iloc[0]
    assert money["kind"] == "money_for_review", money.to_dict()
    flood = extortion_scores(["不给钱，我就开十个号轮流给你们差评"]).iloc[0]
    assert flood["kind"] == "threat_bad_review", flood.to_dict()


def test_frame_columns_types_and_order():
    texts = ["发个红包我就删差评", None, float("nan"), "好评", "sb客服"]
    df = extortion_scores(texts, channel="chat")
    assert list(df.columns) == ["score", "is_extortion", "kind", "reasons"]
    assert len(df) == len(texts)
    assert df["score"].dtype == float and df["is_extortion"].dtype == bool
    assert df["is_extortion"].tolist() == [True, False, False, False, True]
    assert df.loc[1, "score"] == 0.0 and df.loc[1, "reasons"] == ""
    empty = extortion_scores([])
    assert list(empty.columns) == ["score", "is_extortion", "kind", "reasons"] and len(empty) == 0
    assert len(extortion_scores(pd.Series(["红包到位差评秒删"]), channel="review")) == 1


def test_bad_channel_is_a_config_error():
    with pytest.raises(ConfigError, match="chat"):
        extortion_scores(["x"], channel="email")


def test_exported_from_the_package():
    assert reviewops.extortion_scores is extortion_scores and "extortion_scores" in reviewops.__all__


def test_reasons_are_chinese_and_semicolon_joined():
    why = extortion_scores(["客服说好评返现，我没领"]).iloc[0]["reasons"]
    assert "；" in why and "转述" in why


def test_lexicon_is_data_with_known_roles():
    rows = ext._lexicon_rows()
    assert len(rows) > 300
    assert {r["side"] for r in rows} <= {"buyer", "seller", "both"}
    assert {r["role"] for r in rows} <= set(ext.ROLES) | {"setting"}
    assert all(0.0 <= r["weight"] <= 1.0 for r in rows)
    assert 0.0 < THRESHOLD < 1.0


# ------------------------------------------------------------------ properties
_FRAGMENTS = ["红包", "hb", "差评", "好评", "删", "改", "就", "我", "你", "的话", "小号", "你看着办", "12315", "投诉",
              "退款", "客服说", "返现", "转", "50", "元", "，", "。", "！", "?", "sb", "去买", "假货", "一星", "⭐",
              "🧧", "不要", "如实", "abc", "Hp", "V我50"]
_text = st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(alphabet="的了是不在有这个人们东西质量很好", max_size=3)),
                 max_size=12).map("".join)
_FULLWIDTH = {c: chr(c - 0x21 + 0xFF01) for c in range(0x21, 0x7F)}


@settings(max_examples=150, deadline=None)
@given(st.lists(_text, max_size=20))
def test_property_order_range_and_threshold(texts):
    df = extortion_scores(texts)
    assert len(df) == len(texts)
    singles = [extortion_scores([t]).iloc[0]["score"] for t in texts]
    assert df["score"].tolist() == singles  # order preserved, row i is text i
    assert all(0.0 <= s <= 1.0 and not math.isnan(s) for s in df["score"])
    assert (df["is_extortion"] == (df["score"] >= THRESHOLD)).all()
    assert ((df["kind"] != "") == df["is_extortion"]).all()


@settings(max_examples=150, deadline=None)
@given(_text, st.lists(st.tuples(st.integers(0, 200), st.sampled_from([" ", "\u3000", "\u200b", "\u2060", "\ufeff",
                                                                     "\u00a0", "\u200d"])), max_size=6),
       st.booleans())
def test_property_stable_under_spaces_zero_width_and_full_width(text, inserts, full_width):
    variant = text
    for pos, ch in inserts:
        pos = pos % (len(variant) + 1)
        variant = variant[:pos] + ch + variant[pos:]
    if full_width:
        variant = variant.translate(_FULLWIDTH)
    a, b = extortion_scores([text]).iloc[0], extortion_scores([variant]).iloc[0]
    assert (a["score"], a["is_extortion"], a["kind"]) == (b["score"], b["is_extortion"], b["kind"]), (text, variant)


# ------------------------------------------------------------------ accuracy floor (all seen rows: old files + fresh)
def _accuracy_module():
    spec = importlib.util.spec_from_file_location("accuracy_extortion", ROOT / "benchmarks" / "accuracy_extortion.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


#: measured on all seen rows (``--split all``: the old files, fresh/ and fresh2/, 1,135 buyer, 999 seller) with the
#: rules and the extortion model frozen at f860363 (docs/accuracy.md); the floor is 0.03 below. Every one of these
#: rows was used for tuning or training: the floor guards against regressions, it says nothing about unseen text.
DEV_PRECISION, DEV_RECALL = 0.9915, 1.0
DEV_BLOCK_RATE, DEV_FALSE_BLOCK_RATE = 0.9796, 0.0121
#: the held-out sets as scored once (benchmarks/results/accuracy_extortion_<set>.json): fresh3/ after the detector's
#: model was frozen (f860363), fresh4/ after both models were (1d6c385) — rows, detector precision and recall,
#: guard block and false-block rates; the floor is 0.03 below (above for false blocks)
HELD_OUT_SCORED = {
    "fresh3": (387, 0.9075, 0.9458, 0.9135, 0.103),
    "fresh4": (346, 0.9236, 0.9667, 0.9641, 0.0458),
}


def test_accuracy_floor_on_all_seen_rows():
    mod = _accuracy_module()
    if not (mod.DATA / "buyer_texts.tsv").exists() or not (mod.FRESH2 / "buyer_texts.tsv").exists():
        pytest.skip("benchmarks/data/malicious (with fresh/, fresh2/) is not in this checkout")
    b = mod.buyer_figures("all")
    assert b["rows"] >= 1100, b  # the old files, fresh/ and fresh2/
    assert b["precision"] >= DEV_PRECISION - 0.03, b
    assert b["recall"] >= DEV_RECALL - 0.03, b
    s = mod.seller_figures("all")
    assert s["block_rate"] >= DEV_BLOCK_RATE - 0.03, s
    assert s["false_block_rate"] <= DEV_FALSE_BLOCK_RATE + 0.03, s



@pytest.mark.parametrize("split", sorted(HELD_OUT_SCORED))
def test_accuracy_floor_on_the_held_out_sets_as_scored(split: str) -> None:
    """A held-out set scored once after a freeze: a change that loses more than 0.03 of what was measured there
    fails here (it is a floor, not a target to tune on)."""
    rows, precision, recall, block_rate, false_block_rate = HELD_OUT_SCORED[split]
    mod = _accuracy_module()
    if not (mod.DATA / split / "buyer_texts.tsv").exists():
        pytest.skip(f"benchmarks/data/malicious/{split} is not in this checkout")
    b = mod.buyer_figures(split)
    assert b["rows"] == rows
    assert b["precision"] >= precision - 0.03 and b["recall"] >= recall - 0.03, b
    s = mod.seller_figures(split)
    assert s["block_rate"] >= block_rate - 0.03, s
    assert s["false_block_rate"] <= false_block_rate + 0.03, s


# ------------------------------------------------------------------ the learned model (issue 17)
def test_the_shipped_model_loads_and_records_what_it_learned_from():
    m = ext.extortion_model()
    assert m is not None and m.version and m.n_bits == 16
    assert (m.rule_weight, m.model_weight, m.rule_floor, m.length_shrink) == (0.375, 0.7, 0.7, 4.0)
    files = m.header["trained_on"]["files_sha256"]
    import hashlib

    for name, sha in files.items():  # the committed sets are the ones it was trained on (retrain when they change)
        assert hashlib.sha256((ROOT / "benchmarks" / "data" / "malicious" / name).read_bytes()).hexdigest() == sha
    assert "fresh3" not in str(m.header["trained_on"])


def test_a_tampered_model_file_is_refused(tmp_path):
    from reviewops.core.errors import ModelError

    data = Path(ext.__file__).parent / "data"
    blob = bytearray((data / "extortion_model.npz").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (tmp_path / "m.npz").write_bytes(bytes(blob))
    with pytest.raises(ModelError, match="sha256"):
        ext.ExtortionModel.from_files(tmp_path / "m.npz", data / "extortion_model.json")


def test_model_none_and_a_zero_policy_weight_are_the_rules_alone():
    import json

    from reviewops.core.policy import Policy, default_policy

    texts = ["那个差评嘛，看你诚意咯😏", "杯子漏水，我要退货退款", "发个红包我就删差评", "你们客服是猪吗", ""]
    rules = pd.DataFrame([ext.read_text(t) for t in texts])
    alone = extortion_scores(texts, model=None)
    assert alone["score"].tolist() == rules["score"].tolist()
    data = json.loads(default_policy().to_json())
    for r in data["tables"]["settings"]:
        if r["key"] == "extortion_model_weight":
            r["value"] = "0"
    off = Policy.from_json(json.dumps(data, ensure_ascii=False), source="test")
    assert extortion_scores(texts, policy=off).equals(alone)
    assert not extortion_scores(texts).equals(alone)  # the default reads differently: the model is on


def test_the_combination_is_the_documented_formula():
    m = ext.extortion_model()
    texts = ["那个差评嘛，看你诚意咯😏", "杯子漏水，我要退货退款", "发个红包我就删差评", "我觉得这个价格有点贵"]
    p = m.probability(ext.squeeze_many(texts))
    rule = [ext.read_text(t).score for t in texts]
    got = extortion_scores(texts)["score"].tolist()
    for g, r, q in zip(got, rule, p):
        want = min(1.0, 0.375 * r + 0.7 * q)
        want = max(want, r) if r >= 0.7 else want
        assert g == pytest.approx(round(want, 4), abs=1e-4)


def test_a_strong_rule_reading_is_never_vetoed_and_a_short_text_needs_more_evidence():
    texts = ["不用那么麻烦，不给我退50块我就给差评", "给200块好处费就删评，你看着办"]
    assert all(ext.read_text(t).score >= 0.7 for t in texts)
    assert extortion_scores(texts)["is_extortion"].all()
    # the demo's buyer chasing a parcel: the unshrunk model read 0.78 here (docs/accuracy.md)
    row = extortion_scores(["那你们快点"]).iloc[0]
    assert not row["is_extortion"], row.to_dict()


def test_a_model_flag_names_its_evidence():
    df = extortion_scores(["亲，差评可以删，转我50就行"])
    why = df["reasons"][0]
    assert df["is_extortion"][0] and "模型判断" in why and "以评价索要好处" in why
    grams = why.split("模型判断")[1]
    assert "（" in grams and "）" in grams  # the n-grams that weighed most


def test_the_model_keeps_speed_and_order_on_repeats_and_odd_values():
    texts = ["发个红包我就删差评", None, "发个红包我就删差评", float("nan"), 12345, "好评"] * 50
    df = extortion_scores(texts)
    assert len(df) == 300 and df["is_extortion"].tolist()[:6] == [True, False, True, False, False, False]
    assert df.iloc[:6].equals(df.iloc[6:12].reset_index(drop=True))
