"""Extortion and abuse in buyer texts, and the "benefit ↔ review" reading of what the shop sends (SPEC H2,
Compliance; issue 17).

* :func:`extortion_scores` — per buyer chat message or review: a 0–1 ``score``, ``is_extortion`` at the
  lexicon's threshold, the ``kind`` (money_for_review, threat_bad_review, abuse, competitor) and the
  ``reasons`` (the phrases and rules that fired, Chinese, ``；``-joined).
* :func:`incentive_hits` — the seller side: [(matched words, reason)] when a message ties a benefit to a
  review, or presses the buyer to delete a review / make it good. The compliance guard
  (:func:`reviewops.handling.replies.check_message`) uses it next to the policy's 违规用语 sheet.

**Rules and models.** Both readers below are rules over the lexicon; next to each sits a learned model (hashed
character n-grams, :class:`ExtortionModel`, shipped in ``grading/data/``): :func:`extortion_scores` combines its
rule score with :func:`extortion_model`'s probability (``min(1, 0.375·rule + w·p)``, ``w`` = the policy's
``extortion_model_weight``, a rule score ≥ 0.7 kept), and the compliance guard
(:func:`reviewops.handling.replies.check_message`) weighs :func:`incentive_hits` against
:func:`guard_probability` (``compliance_model_pass`` / ``compliance_model_block``). docs/defence.md,
docs/replies.md and docs/accuracy.md say how they were trained and chosen and what they measure.

How a text is read by the rules: the text is normalised (:func:`reviewops.grading.lexicon.normalize_text`:
NFKC, lower case), then whitespace and invisible characters are removed (so "红 包" and "红\u200b包" read as
红包), about 150 traditional characters are simplified (曬圖好評 → 晒图好评), a word split by the same
punctuation between single characters is joined (好.评.返.现, 删-差-评) and every run of digits becomes ``#``
(转50 → 转#). One leftmost-longest Aho-Corasick pass over the lexicon (``core/data/extortion_zh.tsv``) finds the
terms and the clause/sentence breaks (the policy's 恶意识别词库 sheet when given, see below). Each term has a role (benefit, review, action, lever, link, negation,
ultimatum, intent, …; the TSV's header explains them) and a weight. The rules read frames — who gives what to
whom, on what condition — from the roles per clause, not whole phrasings:

* **money_for_review**: a benefit (红包, hb, 转#, 返现, 好处费, "你懂的", 开个价, 不寄回 …) and a review lever (a review
  word and an action, 删评/改成好评, or a bare action such as 给钱就删) scored 0.4 benefit + 0.35 lever + 0.25
  exchange link (就, 的话, 只要, 到位, 立删, or an ultimatum 不给我…), decayed by distance: the same or the
  adjacent clause freely, up to :data:`MONEY_SPAN` clauses apart in one sentence or two across a sentence break
  only with a link between (v我50，看看实力，差评删不删就看这个了). A negation before the benefit in its clause
  (不要红包, 没有返现) cancels it; an honesty word (如实, 不会删) cancels the lever of its clause unless a
  condition or an ultimatum ties it (否则差评不会删除); a reporting or asking frame anywhere (客服说, 卡片, 违规,
  说可以返我, 请问 …: the *seller's* offer or a public promotion) divides the score unless the buyer demands
  (我现在就要).
* **threat_bad_review**: 0.5 flood (小号, 五个号, 所有宝贝, 一排差评, 发到网上, 卖不出去 …) + 0.4 coercion
  (你看着办, 掂量, 别逼我, 自己考虑 …) + 0.25 ultimatum (不答应的话, 除非, 要么, 不按我说的 …) + 0.2 a review
  word + 0.2 the buyer's own future action (我会, 我让; only with a named harm). A weak flood (朋友, 天天) needs a
  coercion or an ultimatum; an ultimatum over one bad review stays below the threshold (不给我退款就差评 is the
  buyer's right), and a lawful route or entitlement (12315, 消协, 退款, 换货 …) lowers all but the flood part.
  When a benefit demand is also flagged it is the kind, unless the flood is the main content.
* **abuse**: a curse or slur (alone enough), or an insult aimed at a person in the same sentence: a
  person-noun (蠢猪, 流氓, 废物) with any addressee (你, 客服, 老板), an adjective (垃圾, 恶心, 骗子) only with a
  pointed one (你这种人, 老板是个) — "他妈的，这锅垃圾" and "客服态度垃圾" are complaints, not abuse.
* **competitor**: a smear (假货, 黑店, 仿的, 盗版) with a diversion (去买, 认准, 真货在, 看我主页, 私我) or a rival's voice
  (我们厂, 同行, 我家卖). A weak diversion (旗舰店, 隔壁, 别家: a buyer comparing) counts only with a go/compare
  word in its clause (去XX旗舰店, 隔壁同款便宜一半).

The seller side (:func:`incentive_hits`) reads the same roles with the seller's lexicon rows: a benefit (cash,
refunds — also a refund or after-sales *withheld*, 先不退 —, coupons, gifts, perks) and a review in the same or
the adjacent clause with a tie, up to :data:`GUARD_SPAN` clauses apart in one sentence with an exchange link
between (a card insert), or across a sentence break after a request (能不能给个好评呀？我们给您包个红包); a bare
change with a link and cash (改了我转你); off-site collection (加微信领); and pressure without a benefit (删了吧,
不删的话, a change to a good rating such as 把评价改为五星, 请给五星好评; and, since round 2, a ``del`` word — delete,
hide, change, 处理一下, 请配合, 点满, or harassment: 一直联系, 您的地址, 第#次联系您 — next to a review word in its or
the adjacent clause, unless the sentence leaves it to the buyer: 不强求, 随您). A remedy said to be unconditional
(和评价无关, 由您决定, 改不改都可以) or the practice disclaimed (不以任何形式, 是违规的) cancels the benefit readings; a
rule or withdrawn offer in the pressure's clause (不得, 禁止, 已作废) cancels the pressure reading; a clause that
replies about the review's content (评价里提到的划痕) or thanks for it (``ack``) is never read as the lever.

**Policy data.** The lexicon is the policy's 恶意识别词库 sheet (``extortion_lexicon``,
:meth:`reviewops.core.policy.Policy.extortion_lexicon`): a shop edits, adds or removes terms and weights in the
policy workbook, and ``reviewops policy import`` makes them count. An empty sheet — and ``policy=None`` — means
the built-in lexicon shipped as ``core/data/extortion_zh.tsv``. The cut-off is the setting ``extortion_threshold``
(0.5, the TSV's ``setting  threshold`` row). Each lexicon is compiled once: the built-in one per process, a
shop's once per policy content (keyed by the policy's SHA-256, the last :data:`READER_CACHE` kept), so
scoring speed does not depend on where the lexicon came from.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core.policy import EXTORTION_ROLES, SETTINGS, builtin_rows
from .lexicon import _new_matcher, normalize_text

__all__ = ["KINDS", "ExtortionModel", "collapse_runs", "disclaimed", "extortion_model", "extortion_scores", "guard_model",
           "guard_probability", "incentive_hits", "read_text", "squeeze", "squeeze_many"]

KINDS = ("money_for_review", "threat_bad_review", "abuse", "competitor")
KIND_ZH = {"money_for_review": "以评价索要好处", "threat_bad_review": "以差评/多号威胁", "abuse": "辱骂诅咒",
           "competitor": "同行抹黑引流"}
CHANNELS = ("chat", "review")

_CLAUSE_BREAKS = ",、;:~…()[]<>《》【】〔〕|/"  # quotes are not breaks: 追评写“质量很好”，… is one clause
_SENTENCE_BREAKS = "。!?\n\r."
# removed before matching: whitespace and invisible/format characters (zero-width, bidi, variation selectors)
_DROP_CHARS = (" \t\u00a0\u1680\u180e\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f"
               "\u205f\u3000\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u061c"
               "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufe0e\ufe0f\x0b\x0c\x1c\x1d\x1e\x1f\x85")
_DROP_RE = re.compile("[" + re.escape(_DROP_CHARS) + "]+")
_LINE_SEP_RE = re.compile("[\u2028\u2029]")
# traditional → simplified, only characters whose mapping is unambiguous in this vocabulary
_TRAD_MAP = dict(zip("評現紅刪轉給錢禮塊優換價號們讓說這點發寫圖後麼個來還領費贈貼補償會員積聯繫係幫為對將與條請謝當錯時間準備買賣貨單帳賬額總處變親"
                     "購寶貝質帶曬論獎勵運險關問題銷説騙媽滾詐網絕夠讚誠則過邊實際樣隨頭權勸廠級載圓滿顆態護陸續傳鏈結連讀書腦強無啟視頻覺"
                     "幾著裡嗎話氣爛廢豬蟲報應罵賤種殺車門廣聽規辦擔選賠爺該裝紙碼",
                     "评现红删转给钱礼块优换价号们让说这点发写图后么个来还领费赠贴补偿会员积联系系帮为对将与条请谢当错时间准备买卖货单账账额总处变亲"
                     "购宝贝质带晒论奖励运险关问题销说骗妈滚诈网绝够赞诚则过边实际样随头权劝厂级载圆满颗态护陆续传链结连读书脑强无启视频觉"
                     "几着里吗话气烂废猪虫报应骂贱种杀车门广听规办担选赔爷该装纸码"))
_TRAD_TABLE = str.maketrans(_TRAD_MAP)
_TRAD_RE = re.compile("[" + "".join(_TRAD_MAP) + "]")
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
# a word split by the same punctuation between single characters (好.评.返.红.包, 删-差-评, 好*评): the separators go
_SPLIT_WORD = re.compile(r"[\u4e00-\u9fff](?:[.·•・*_/|\-~^][\u4e00-\u9fff]){2,}")
_SPLIT_SEPS = re.compile(r"[.·•・*_/|\-~^]")
_SEP = "\ue000"  # a private-use character joins a batch for one normalisation pass
# appended before matching: pyahocorasick's iter_long (2.3.1) drops a shorter word that ends the text while a
# longer word is still partly matched ("一个差评" with 一个差评不够 in the lexicon gave no 差评); a character in no
# term makes it settle
_END = "\x00"


def _squeeze_str(s: str) -> str:
    """Everything after :func:`normalize_text` (works on one text or on a batch joined with ``_SEP``)."""
    s = _DROP_RE.sub("", s)
    if "\u2028" in s or "\u2029" in s:
        s = _LINE_SEP_RE.sub("\n", s)
    if _TRAD_RE.search(s):
        s = s.translate(_TRAD_TABLE)
    if "12315" in s:
        s = s.replace("12315", "一二三一五")
    s = _SPLIT_WORD.sub(_join_split, s)
    return _DIGITS.sub("#", s)


def _join_split(m: re.Match) -> str:
    return _SPLIT_SEPS.sub("", m.group(0))


def squeeze(text: Any) -> str:
    """The form every text is matched in: :func:`normalize_text` (NFKC, lower case), whitespace and invisible
    characters removed, a few traditional characters simplified, 12315 kept as a word and every other run of
    digits written as ``#``. Stable under inserted spaces, zero-width characters and full-width forms."""
    s = normalize_text(text)
    return _squeeze_str(s) if s else s


def squeeze_many(texts: Sequence[Any]) -> list[str]:
    """:func:`squeeze` of each text (same results): :func:`normalize_text` per text, then the rest in one pass
    over the batch joined with a private-use separator."""
    normed = [normalize_text(t) for t in texts]
    if not normed:
        return []
    if any(_SEP in t for t in normed):
        return [_squeeze_str(t) if t else t for t in normed]
    out = _squeeze_str(_SEP.join(normed)).split(_SEP)
    if len(out) != len(normed):  # cannot happen (the separator survives every step); be safe
        return [_squeeze_str(t) if t else t for t in normed]
    return out


# ------------------------------------------------------------------ lexicon
_BREAK, _SENT = "break", "sentence"
ROLES = EXTORTION_ROLES  # the 恶意识别词库's role column (core.policy validates it)
#: The built-in cut-off (the setting's default; the TSV's ``setting  threshold`` row says the same).
DEFAULT_THRESHOLD = float(SETTINGS["extortion_threshold"].default)
#: Compiled lexicons of shops' policies kept in memory (by policy SHA-256 and side).
READER_CACHE = 8


_NEGATABLE = {"buyer": frozenset(("benefit", "lever", "del", "pressure", "lawful")),
              "seller": frozenset(("benefit", "lever", "del", "pressure", "review"))}


@dataclass(frozen=True)
class _Reader:
    side: str
    threshold: float
    iter_long: Any


def _lexicon_rows() -> list[dict[str, Any]]:
    """The built-in lexicon rows (side, role, term, weight, note), as the policy reads them."""
    return [dict(r) for r in builtin_rows("extortion_lexicon")]


@functools.cache
def _reader(side: str) -> _Reader:
    """The built-in lexicon's automaton for ``side`` (buyer | seller), built once per process."""
    return _compile(side, builtin_rows("extortion_lexicon"), DEFAULT_THRESHOLD)


_READERS: dict[tuple[str, str], _Reader] = {}


def _reader_for(side: str, policy: Any) -> _Reader:
    """The automaton of ``policy``'s 恶意识别词库 for ``side``: the built-in one when there is no policy or its
    sheet is empty, else compiled once per policy content (SHA-256)."""
    rows = getattr(policy, "tables", {}).get("extortion_lexicon") if policy is not None else None
    if not rows:
        return _reader(side)
    key = (side, policy.sha256)
    hit = _READERS.get(key)
    if hit is None:
        hit = _compile(side, rows, DEFAULT_THRESHOLD)
        if len(_READERS) >= 2 * READER_CACHE:
            _READERS.clear()
        _READERS[key] = hit
    return hit


def _compile(side: str, rows: Iterable[Any], threshold: float) -> _Reader:
    """One Aho-Corasick automaton over the lexicon rows of ``side`` (and ``both``): per normalised term its
    roles with the highest weight of each."""
    entries: dict[str, dict[str, float]] = {}
    for r in rows:
        if r["side"] not in (side, "both"):
            continue
        if r["role"] not in ROLES:
            raise ValueError(f"恶意识别词库：未知角色 {r['role']!r} / unknown lexicon role {r['role']!r}")
        term = squeeze(r["term"])
        if not term:
            continue
        roles = entries.setdefault(term, {})
        roles[r["role"]] = max(roles.get(r["role"], 0.0), float(r["weight"]))
    a = _new_matcher("auto")
    for ch in _CLAUSE_BREAKS:
        entries.setdefault(ch, {})[_BREAK] = 0.0
    for ch in _SENTENCE_BREAKS:
        entries.setdefault(ch, {})[_SENT] = 0.0
    for term, roles in entries.items():
        if _SENT in roles:
            value: Any = _SENT
        elif _BREAK in roles:
            value = _BREAK
        elif "guard" in roles:
            value = None
        else:  # (term, ((role, weight, 1 negation / 2 negatable / 0), …))
            value = (term, tuple((role, w, 1 if role == "negation" else 2 if role in _NEGATABLE[side] else 0)
                                 for role, w in roles.items()))
        a.add_word(term, value)
    a.make_automaton()
    return _Reader(side, threshold, a.iter_long)


Clause = tuple[int, int, dict[str, tuple[float, str]]]  # (sentence number, clause number, {role: (weight, term)})


def _clauses(reader: _Reader, s: str) -> tuple[list[Clause], dict[str, tuple[float, str]]]:
    """[(sentence number, clause number, {role: (weight, term)})] for each clause that has any hit (clause
    numbers count every clause, so adjacency is real), and the text's strongest term per role. A negation
    cancels a benefit, lever, delete word or lawful route (seller side: also a review word) starting within
    :data:`NEGATION_WINDOW` characters after it."""
    out: list[Clause] = []
    totals: dict[str, tuple[float, str]] = {}
    cur: dict[str, tuple[float, str]] | None = None
    sent = k = 0
    neg_until = -1
    for end, value in reader.iter_long(s + _END):
        if value is None:
            continue
        if value.__class__ is str:  # a break
            if cur is not None:
                out.append((sent, k, cur))
                cur = None
            k += 1
            neg_until = -1
            if value == _SENT:
                sent += 1
            continue
        term, roles = value
        if cur is None:
            cur = {}
        for role, w, flag in roles:
            if flag:
                if flag == 1:
                    neg_until = end + NEGATION_WINDOW
                elif end + 1 - len(term) <= neg_until:
                    continue
            old = cur.get(role)
            if old is None or w > old[0]:
                cur[role] = hit = (w, term)
                old = totals.get(role)
                if old is None or w > old[0]:
                    totals[role] = hit
    if cur is not None:
        out.append((sent, k, cur))
    return out, totals


#: a negation cancels what starts at most this many characters after it, in its clause (不要什么红包; 没有问题的话给个好评 is not negated)
NEGATION_WINDOW = 5


_ZERO = (0.0, "")


def _best(window: Iterable[dict[str, tuple[float, str]]], role: str) -> tuple[float, str]:
    best = (0.0, "")
    for c in window:
        v = c.get(role)
        if v is not None and v[0] > best[0]:
            best = v
    return best


# ------------------------------------------------------------------ buyer side
#: how many clauses apart a benefit and a review lever may sit in one sentence (beyond one clause an exchange
#: link must sit between them: v我50，看看实力，差评删不删就看这个了); across a sentence break at most two
#: clauses, with a link (差评挂了三天了…想好了就微信转账)
MONEY_SPAN = 3
_DECAY = (1.0, 1.0, 0.92, 0.85)


def _money(clauses: Sequence[Clause], has_review: bool) -> tuple[float, list[str]]:
    """The best benefit ↔ review-lever pairing: 0.4 benefit + 0.35 lever + 0.25 exchange link, decayed by distance.
    A clause with an honesty word (如实, 不会删) gives no lever unless a condition or ultimatum sits in it or
    between it and the benefit (否则差评不会删除; 不给我补两百，这个差评我不会删)."""
    best, why = 0.0, []
    n = len(clauses)
    for i in range(n):
        sb, k, c = clauses[i]
        b = c.get("benefit")
        if b is None:
            continue
        for j in range(n):
            sj, kj, cj = clauses[j]
            d = kj - k if kj > k else k - kj
            cross = sj != sb
            if d > MONEY_SPAN or (cross and d > 2):
                continue
            if "honest" in cj and not any("cond" in clauses[x][2] or "ultimatum" in clauses[x][2]
                                          for x in range(min(i, j), max(i, j) + 1)):
                continue  # 差评我不会删 is honest; 不给我补两百，这个差评我不会删 is a condition
            lever, rev, act = cj.get("lever"), cj.get("review"), cj.get("action")
            if lever is not None:
                ra, ra_terms = lever[0], [lever[1]]
            elif rev is not None and act is not None:
                ra, ra_terms = min(rev[0], act[0]), [rev[1], act[1]]
            elif rev is not None:
                ra, ra_terms = 0.6 * rev[0], [rev[1]]
            elif act is not None:  # 给钱就删, 每条50删: the review is implicit or named in another clause
                ra, ra_terms = (0.6 if has_review else 0.5) * act[0], [act[1]]
            else:
                continue
            if d or cross:
                lo, hi = (i, j) if i < j else (j, i)
                # the link may also follow the pair (给钱就删，不给拉倒; 补我300，不然免谈)
                link = _link(clauses[x][2] for x in range(lo, min(hi + 2, n)))
                if (d > 1 or cross) and not link[0]:
                    continue
            else:
                link = _link(clauses[x][2] for x in range(i, min(i + 2, n)))
            sc = (0.4 * b[0] + 0.35 * ra + 0.25 * link[0]) * _DECAY[d] * (0.9 if cross else 1.0)
            if sc > best:
                best = sc
                why = [b[1], *ra_terms] + ([link[1]] if link[0] else [])
    return best, why


def _link(window: Iterable[dict[str, tuple[float, str]]]) -> tuple[float, str]:
    """The strongest exchange link in ``window``; an ultimatum (不给我…) ties a benefit to a review as a link does."""
    best = _ZERO
    for c in window:
        for role in ("link", "ultimatum"):
            v = c.get(role)
            if v is not None and v[0] > best[0]:
                best = v
    return best


def _threat(totals: dict[str, tuple[float, str]]) -> tuple[float, list[str]]:
    """Flood (many accounts, friends, every listing, exposure), coercion (你看着办, 给个交代) and an ultimatum
    (不答应的话, 除非, 要么…要么, 不按我说的): 0.5 flood + 0.4 coerce + 0.25 ultimatum + 0.2 review word + 0.2 the
    buyer's own future action (我会, 我让, 都会来) — the last only adds to one of the first three. An ultimatum
    with a single bad review stays below the threshold (不给我退款就差评 is within the buyer's rights)."""
    flood, coerce, ult = totals.get("flood", _ZERO), totals.get("coerce", _ZERO), totals.get("ultimatum", _ZERO)
    if flood[0] < 0.8 and coerce[0] < 0.8 and not ult[0]:  # a weak flood (天天, 朋友) needs a coercion or an ultimatum
        return 0.0, []
    rev = totals.get("review") or totals.get("lever") or _ZERO
    intent = totals.get("intent", _ZERO) if rev[0] else _ZERO  # 我就取消订单 is no threat: the intent must name a harm
    s = 0.5 * flood[0] + 0.4 * coerce[0] + 0.25 * ult[0] + 0.2 * (1.0 if rev[0] else 0.0) + 0.2 * intent[0]
    return s, [t for w, t in (flood, coerce, ult, rev, intent) if w]


def _abuse(clauses: Sequence[Clause], totals: dict[str, tuple[float, str]]) -> tuple[float, list[str]]:
    """A curse or slur alone; or an insult aimed at a person in the same sentence. A person-noun insult (蠢猪,
    流氓, 废物; weight ≥ 0.85) needs any addressee (你, 客服, 老板); an adjective (垃圾, 恶心) needs a pointed one
    (你这种人, 客服就是; weight ≥ 0.9) — 客服态度垃圾 is a complaint."""
    strong = totals.get("abuse", _ZERO)
    if strong[0]:
        return strong[0], [strong[1]]
    best, why = 0.0, []
    for sent, _, c in clauses:
        ins = c.get("insult")
        if ins is None:
            continue
        person = _best((cc for s2, _, cc in clauses if s2 == sent), "person")
        if not person[0] or (person[0] < 0.9 and ins[0] < 0.85):
            continue
        sc = min(1.0, ins[0] + 0.3 * person[0])
        if sc > best:
            best, why = sc, [person[1], ins[1]]
    return best, why


def _competitor(clauses: Sequence[Clause], totals: dict[str, tuple[float, str]]) -> tuple[float, list[str]]:
    """A smear (假货, 黑店, 仿的) with a diversion (去买, 认准, 真货在, 看我主页) or a rival's voice (同行, 我们店);
    a weak diversion (旗舰店, 别家: a buyer comparing) does not reach the threshold with a smear alone."""
    smear, divert, rival = (totals.get(r, _ZERO) for r in ("smear", "divert", "rival"))
    if divert[0] and divert[0] < 0.5:  # 去XX旗舰店, 隔壁同款便宜一半: a weak diversion with a go/compare word is strong
        for _, _, c in clauses:
            if "divert" in c and "go" in c:
                divert = (0.9, f"{c['go'][1]}…{c['divert'][1]}")
                break
    coerce = totals.get("coerce", _ZERO) if rival[0] else _ZERO  # a rival's threat (我是隔壁店的…小心点)
    s = 0.45 * smear[0] + 0.45 * divert[0] + 0.35 * rival[0] + 0.3 * coerce[0]
    return s, [t for w, t in (smear, divert, rival, coerce) if w]


@dataclass(frozen=True)
class Reading:
    score: float
    is_extortion: bool
    kind: str
    reasons: str


def read_text(text: Any, channel: str = "chat", threshold: float | None = None, policy: Any = None) -> Reading:
    """One buyer text's reading (what :func:`extortion_scores` returns per row), with ``policy``'s lexicon and
    threshold when given."""
    reader = _reader_for("buyer", policy)
    if threshold is None:
        threshold = _threshold(policy)
    return _read_squeezed(reader, squeeze(text), reader.threshold if threshold is None else threshold)


def _read_squeezed(reader: _Reader, s: str, thr: float) -> Reading:
    if not s:
        return _NOTHING if thr > 0.0 else Reading(0.0, True, "", "")
    clauses, totals = _clauses(reader, s)
    if not totals:
        return _NOTHING if thr > 0.0 else Reading(0.0, True, "", "")
    best, kind, why = 0.0, "", []
    notes: list[str] = []
    if "benefit" in totals:
        money, mwhy = _money(clauses, "review" in totals or "lever" in totals)
        if money and "report" in totals and "demand" not in totals:  # 客服说…我现在就要: a demand, not a report
            money *= 0.3
            notes.append(f"转述/举报卖家的返现（{totals['report'][1]}）")
        if money > best:
            best, kind, why = money, "money_for_review", mwhy
    if "flood" in totals or "coerce" in totals or "ultimatum" in totals:
        threat, twhy = _threat(totals)
        if threat and "lawful" in totals:  # a lawful route or entitlement lowers all but the flood
            flood = totals.get("flood", _ZERO)[0]
            threat = 0.5 * flood + 0.6 * (threat - 0.5 * flood)
            notes.append(f"合法维权途径（{totals['lawful'][1]}）")
        # a benefit demanded for the review is the kind, unless the flood is the main content (codebook)
        if threat > best and not (kind and best >= thr and totals.get("flood", _ZERO)[0] < 0.8):
            best, kind, why = threat, "threat_bad_review", twhy
    if "abuse" in totals or "insult" in totals:
        abuse, awhy = _abuse(clauses, totals)
        if abuse > best:
            best, kind, why = abuse, "abuse", awhy
    if "smear" in totals or "divert" in totals or "rival" in totals:
        comp, cwhy = _competitor(clauses, totals)
        if comp > best:
            best, kind, why = comp, "competitor", cwhy
    score = round(min(1.0, best), 4)
    if score <= 0.0:
        return _NOTHING if thr > 0.0 else Reading(0.0, True, "", "")
    flagged = score >= thr
    reasons = [f"{KIND_ZH[kind]}：{'＋'.join(dict.fromkeys(t for t in why if t))}", *notes]
    return Reading(score, flagged, kind if flagged else "", "；".join(reasons))


_NOTHING = Reading(0.0, False, "", "")


def _threshold(policy: Any) -> float | None:
    if policy is None:
        return None
    try:
        return float(policy.setting("extortion_threshold"))
    except (KeyError, AttributeError, TypeError, ValueError):
        return None


def extortion_scores(texts: Iterable[Any], channel: str = "chat", policy: Any = None,
                     model: Any = "default") -> pd.DataFrame:
    """Extortion/abuse reading of buyer texts, one row per text in order.

    ``policy`` (a :class:`reviewops.core.policy.Policy`, optional): its 恶意识别词库 (empty: the built-in lexicon)
    and its ``extortion_threshold`` setting; without one, the built-in lexicon and threshold (0.5).

    ``model``: ``"default"`` (the shipped :class:`ExtortionModel`, see :func:`extortion_model`), an
    :class:`ExtortionModel`, or ``None`` for the rules alone. With a model the score is
    ``min(1, rule_weight · rule score + model_weight · model probability)`` — 0.375 and the policy's
    ``extortion_model_weight`` (0.7; 0 turns the model off) — or the rule score itself when it reaches the
    model's ``rule_floor`` (0.7): at the 0.5 threshold the model alone flags at p ≥ 0.71, a weak rule reading
    needs the model's agreement, and a strong one is never vetoed. Without a model it is the rule score.

    Columns: ``score`` (0–1 float), ``is_extortion`` (``score >= threshold``), ``kind``
    (money_for_review, threat_bad_review, abuse, competitor; "" when not flagged: the rules' kind, else the
    model's kind head) and ``reasons`` (Chinese, ``；``-joined: the words and the rule that fired, any
    lawful/reporting frame that lowered the score, and the model's probability with the character n-grams that
    weighed most). ``channel`` is ``"chat"`` (IM messages) or ``"review"``. None/NaN texts read as empty
    (score 0). Identical texts in one call are read once.
    """
    if channel not in CHANNELS:
        from ..core.errors import ConfigError

        raise ConfigError(f"未知渠道 {channel!r}；可用：chat、review / unknown channel {channel!r}; use chat or review")
    if isinstance(texts, str):
        texts = [texts]
    reader = _reader_for("buyer", policy)
    thr = _threshold(policy)
    if thr is None:
        thr = reader.threshold
    items = texts if isinstance(texts, Sequence) else list(texts)
    # identical texts are read once: index of each distinct text (unhashable values are read alone)
    first: dict[Any, int] = {}
    uniq: list[Any] = []
    slot: list[int] = []
    for t in items:
        try:
            k = first.get(t)
            if k is None:
                k = first[t] = len(uniq)
                uniq.append(t)
        except TypeError:
            k = len(uniq)
            uniq.append(t)
        slot.append(k)
    squeezed = squeeze_many(uniq)
    m = _model_arg(model)
    weight = _model_weight(policy)
    if m is not None and weight is None:
        weight = m.model_weight
    if m is None or not weight:
        readings = [_read_squeezed(reader, s, thr) for s in squeezed]
    else:
        readings = _combined(m, reader, squeezed, thr, weight)
    if len(readings) == len(items):
        rows = readings
    else:
        rows = [readings[k] for k in slot]
    return pd.DataFrame({"score": pd.array([r.score for r in rows], dtype=float),
                         "is_extortion": pd.array([r.is_extortion for r in rows], dtype=bool),
                         "kind": pd.Series([r.kind for r in rows], dtype=object),
                         "reasons": pd.Series([r.reasons for r in rows], dtype=object)})


# ------------------------------------------------------------------ the learned part (issue 17)
@dataclass(frozen=True)
class ExtortionModel:
    r"""A logistic regression over hashed character 1–3-grams of squeezed (:func:`squeeze`) buyer texts (binary head)
    plus a head over :data:`KINDS` (learned on the positive rows), trained by
    ``benchmarks/train_extortion_model.py`` on the labelled sets that have been seen; ``header`` is its JSON
    (version, settings, training files' sha256, the protocol's figures). Scored with numpy."""

    n_bits: int
    weights: np.ndarray  # (1, 2**n_bits) float32
    bias: np.ndarray  # (1,)
    kind_weights: np.ndarray  # (len(KINDS), 2**n_bits)
    kind_bias: np.ndarray
    rule_weight: float
    model_weight: float  # the default of the policy setting extortion_model_weight
    rule_floor: float
    length_shrink: float  # the n-gram part of a text of L characters counts L / (L + length_shrink)
    header: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.header.get("version", ""))

    def probability(self, squeezed: Sequence[str]) -> np.ndarray:
        """P(positive) per squeezed text (0 for an empty one); a model whose header says ``collapse_runs``
        reads every run of one character as at most three (好好好好好 → 好好好)."""
        from .textmodel import _linear_scores

        if self.header.get("collapse_runs"):
            squeezed = [collapse_runs(s) for s in squeezed]
        z = _linear_scores(squeezed, self.n_bits, self.weights, self.bias)[:, 0]
        if self.length_shrink:  # a short text has few n-grams: pull it towards the bias (less evidence)
            n = np.fromiter(map(len, squeezed), dtype=float, count=len(squeezed))
            z = self.bias[0] + (z - self.bias[0]) * n / (n + self.length_shrink)
        p = 1.0 / (1.0 + np.exp(-z))
        p[np.fromiter((not s for s in squeezed), dtype=bool, count=len(squeezed))] = 0.0
        return p

    def kinds(self, squeezed: Sequence[str]) -> list[str]:
        from .textmodel import _linear_scores

        z = _linear_scores(squeezed, self.n_bits, self.kind_weights, self.kind_bias)
        return [KINDS[int(k)] for k in z.argmax(axis=1)]

    def top_ngrams(self, texts: Sequence[str], k: int = 3) -> list[list[str]]:
        """Per squeezed text, its ``k`` character bi- and trigrams with the largest positive weights (what an
        operator reads as the model's reason; ``^``/``$`` mark the text's start and end), a longer one
        shadowing the shorter ones inside it. One hashing pass over the batch."""
        from .textmodel import _positions

        if not texts:
            return []
        _f1, f2, f3, _doc, _n = _positions(texts, self.n_bits)
        w = np.append(self.weights[0], np.float32(0))
        w2, w3 = w[f2], w[f3]
        joined = "\x00" + "\x00".join(t.replace("\x00", " ") for t in texts) + "\x00"
        out: list[list[str]] = []
        a = 0  # the separator before text j
        for s in texts:
            b = a + len(s) + 1  # the separator after it
            cands: dict[str, float] = {}
            for size, ws in ((2, w2), (3, w3)):
                seg = ws[a:b - size + 2]
                for i in np.argsort(-seg, kind="stable")[:3 * k]:
                    if seg[i] <= 0:
                        break
                    gram = joined[a + i:a + i + size]
                    shown = ("^" + gram[1:]) if gram[0] == "\x00" else gram
                    shown = (shown[:-1] + "$") if shown[-1] == "\x00" else shown
                    cands[shown] = max(cands.get(shown, 0.0), float(seg[i]))
            grams: list[str] = []
            for gram, _w in sorted(cands.items(), key=lambda kv: (-kv[1], kv[0])):
                core = gram.strip("^$")
                if not core or any(core in o or o.strip("^$") in core for o in grams):
                    continue
                grams.append(gram)
                if len(grams) == k:
                    break
            out.append(grams)
            a = b
        return out

    @classmethod
    def from_files(cls, npz_path: Any, json_path: Any, kinds: tuple[str, ...] = KINDS) -> ExtortionModel:
        """Load and verify a model's files (its .npz must match the sha256 in its JSON); ``kinds`` is the kind
        head it must carry (:data:`KINDS` for the buyer side, none for the guard's model)."""
        import hashlib
        import io
        import json

        from ..core.errors import ModelError

        try:
            with open(json_path, encoding="utf-8") as fh:
                header = json.load(fh)
            with open(npz_path, "rb") as fh:
                blob = fh.read()
            if header.get("format") != 1:
                raise ValueError(f"format {header.get('format')!r}, expected 1")
            if hashlib.sha256(blob).hexdigest() != header.get("npz_sha256"):
                raise ValueError("the .npz does not match the sha256 in its header")
            if tuple(header.get("kinds", ())) != tuple(kinds):
                raise ValueError(f"kinds {header.get('kinds')!r}, expected {list(kinds)}")
            z = np.load(io.BytesIO(blob), allow_pickle=False)
            n_bits = int(header["n_bits"])
            weights = np.asarray(z["weights"], dtype=np.float32)
            kind_weights = np.asarray(z["kind_weights"], dtype=np.float32)
            if weights.shape != (1, 1 << n_bits) or kind_weights.shape != (len(kinds), 1 << n_bits):
                raise ValueError(f"weights of shape {weights.shape} / {kind_weights.shape} for {n_bits} bits")
            return cls(n_bits=n_bits, weights=weights, bias=np.asarray(z["bias"], dtype=np.float64),
                       kind_weights=kind_weights, kind_bias=np.asarray(z["kind_bias"], dtype=np.float64),
                       rule_weight=float(header["rule_weight"]), model_weight=float(header["model_weight"]),
                       rule_floor=float(header["rule_floor"]), length_shrink=float(header["length_shrink"]),
                       header=header)
        except (OSError, ValueError, KeyError) as e:
            raise ModelError(f"恶意识别模型无法读取（{e}）；请重新安装 reviewops / the shipped extortion model cannot be "
                             f"read ({e}); reinstall reviewops or run benchmarks/train_extortion_model.py") from None


_RUN = re.compile(r"(.)\1{3,}")


def collapse_runs(s: str) -> str:
    """Every run of four or more of one character written as three (a count-based n-gram model would otherwise
    read 500 × 好 as overwhelming evidence)."""
    return _RUN.sub(r"\1\1\1", s)


_MODELS: dict[str, ExtortionModel | None] = {}


def _shipped(name: str, kinds: tuple[str, ...]) -> ExtortionModel | None:
    if name not in _MODELS:
        from pathlib import Path

        here = Path(__file__).resolve().parent / "data"
        npz, js = here / f"{name}.npz", here / f"{name}.json"
        _MODELS[name] = ExtortionModel.from_files(npz, js, kinds) if npz.exists() and js.exists() else None
    return _MODELS[name]


def extortion_model() -> ExtortionModel | None:
    """The shipped extortion model (``grading/data/extortion_model.npz`` + ``.json``, loaded once), or None
    when the package carries none."""
    return _shipped("extortion_model", KINDS)


def guard_model() -> ExtortionModel | None:
    """The shipped compliance-guard model (``grading/data/guard_model.npz`` + ``.json``, no kind head; trained by
    ``benchmarks/train_guard_model.py``), or None. :func:`reviewops.handling.replies.check_message` reads it."""
    return _shipped("guard_model", ())


def guard_probability(text: Any) -> tuple[float, int]:
    """The guard model's probability that a seller message ties a benefit to a review or presses for one (0 when
    the package carries no guard model or the text is empty), and the message's length as the model reads it
    (squeezed, runs collapsed): the guard lets the model block alone only from the model's ``min_chars``."""
    m = guard_model()
    s = collapse_runs(squeeze(text))
    return (float(m.probability([s])[0]) if m is not None and s else 0.0), len(s)


def _model_weight(policy: Any) -> float | None:
    if policy is None:
        return None
    try:
        return float(policy.setting("extortion_model_weight"))
    except (KeyError, AttributeError, TypeError, ValueError):
        return None


def _model_arg(model: Any) -> ExtortionModel | None:
    if model is None:
        return None
    if isinstance(model, ExtortionModel):
        return model
    if model == "default":
        return extortion_model()
    from ..core.errors import ConfigError

    raise ConfigError(f"未知模型参数 {model!r}；可用：\"default\"、None 或 ExtortionModel / unknown model {model!r}; "
                      f"use \"default\", None or an ExtortionModel")


_ANY = 1e-9  # a threshold that keeps the rules' kind and reasons for any positive score


def _combined(m: ExtortionModel, reader: _Reader, squeezed: Sequence[str], thr: float,
              model_weight: float) -> list[Reading]:
    """The rules and the model together: score = min(1, rule_weight·rule + model_weight·p), or the rule score
    itself when it is at least the model's ``rule_floor`` and higher."""
    rules = [_read_squeezed(reader, s, _ANY) if s else _NOTHING for s in squeezed]
    p = m.probability(squeezed)
    rule = np.fromiter((r.score for r in rules), float, len(rules))
    score = np.minimum(1.0, m.rule_weight * rule + model_weight * p)
    score = np.where(rule >= m.rule_floor, np.maximum(score, rule), score).round(4)
    flagged = score >= thr if thr > 0 else np.ones(len(rules), dtype=bool)
    need_kind = [i for i, r in enumerate(rules) if flagged[i] and not r.kind]
    head = dict(zip(need_kind, m.kinds([squeezed[i] for i in need_kind]))) if need_kind else {}
    explain = [i for i, r in enumerate(rules) if p[i] >= 0.5 or (flagged[i] and not r.reasons)]
    evidence = dict(zip(explain, m.top_ngrams([squeezed[i] for i in explain])))
    out: list[Reading] = []
    for i, r in enumerate(rules):
        reasons = [r.reasons] if r.reasons else []
        if i in evidence:
            grams = "、".join(evidence[i])
            reasons.append(f"模型判断 {p[i]:.2f}" + (f"（{grams}）" if grams else ""))
        kind = (r.kind or head.get(i, "")) if flagged[i] else ""
        out.append(Reading(float(score[i]), bool(flagged[i]), kind, "；".join(reasons)))
    return out


# ------------------------------------------------------------------ seller side (the compliance guard)
def incentive_hits(text: Any, policy: Any = None) -> list[tuple[str, str]]:
    """What a seller message does wrong: [(matched words, reason_zh)], empty when it reads lawful.

    Blocks a benefit (cash, 红包, 返现, refund — also one withheld —, coupon, gift, points, perks …) tied to a
    review: in the same clause; in an adjacent clause when an action, exchange link or request is there (the
    condition may sit in sentence order: 给您补偿20元～方便的话帮忙改下评价); up to :data:`GUARD_SPAN` clauses
    apart in one sentence with an exchange link between (a card insert); in the next sentence after a request
    for a review. Also a bare change with a link and cash (改了我转你), off-site collection next to a benefit, and
    pressure to delete a review or make it good without any benefit (删了吧, 不删的话, 把评价改为五星). A message
    that says the remedy does not depend on the review (和评价无关, 不需要您做任何事, 由您决定 …) or thanks for a
    review already given is not an incentive. ``policy``: read with its 恶意识别词库 (seller and both rows;
    empty or None: the built-in lexicon).
    """
    reader = _reader_for("seller", policy)
    s = squeeze(text)
    if not s:
        return []
    clauses, totals = _clauses(reader, s)
    if not clauses:
        return []
    hits: list[tuple[str, str]] = []
    if "uncond" not in totals and "illicit" not in totals:
        for sent, k, c in clauses:
            b = c.get("benefit")
            if b is None:
                continue
            for sj, kj, cj in clauses:
                d = abs(kj - k)
                if d > GUARD_SPAN or "ack" in cj or (d > 2 and sj != sent):
                    continue
                r = cj.get("lever") or cj.get("pressure") or cj.get("review")
                if r is None and "review" in totals:  # 给您30元，麻烦您帮忙删除 (the review named earlier)
                    r = cj.get("del")
                if r is None:
                    # 改了我转你: a bare change/delete with a link and cash in the same or the next clause
                    r = cj.get("action") if d <= 1 and sj == sent else None
                    if r is None or not _best((cc for _, kk, cc in clauses if min(k, kj) <= kk <= max(k, kj)),
                                              "link")[0]:
                        continue
                if d:
                    span = [cc for _, kk, cc in clauses if min(k, kj) <= kk <= max(k, kj)]
                    link = _best(span, "link")[0]
                    tie = link or any(_best(span, role)[0] for role in _TIES)
                    # 晒图加五星，返您两元: a good rating right before the benefit needs no other tie
                    rated = d == 1 and kj < k and sj == sent and "rating" in cj
                    # farther apart in one sentence (a card: 请给五星好评并晒图（15字以上），截图发给客服，即可领取礼品)
                    # an exchange link must sit between them
                    if not rated and (not tie or (d >= 2 and not link)):
                        continue
                    # across a sentence break: adjacent clauses, and the benefit clause acts/links or the review
                    # clause is a request (能不能给个好评呀？我们给您包个红包)
                    if sj != sent and (d > 1 or not (c.get("action") or c.get("link") or c.get("lever")
                                                     or (kj < k and "request" in cj))):
                        continue
                hits.append((f"{b[1]}…{r[1]}" if d else f"{b[1]}+{r[1]}",
                             "以好评、晒图、改评或删评为条件给予好处（返现、红包、退款、券、礼品、积分等）"))
                break
            if hits:
                break
    if not hits:
        for sent, k, c in clauses:
            off = c.get("offsite")
            if off is None:
                continue
            cash = _best((cc for _, kk, cc in clauses if abs(kk - k) <= 1), "benefit")
            if cash[0]:
                hits.append((f"{off[1]}…{cash[1]}", "引导加微信/站外领取返现、红包或礼品（好评返现的常见变体）"))
                break
    if not hits:
        for sent, k, c in clauses:
            p = c.get("pressure")
            if (p is None and "ack" not in c and c.get("rating", _ZERO)[0] >= 1.0
                    and ("lever" in c or "action" in c) and (c.get("lever") or c["action"])[1] != c["rating"][1]):
                # 把评价改为五星: a change to a good rating, however the words fell
                p = (1.0, f"{(c.get('lever') or c['action'])[1]}…{c['rating'][1]}")
            if p is None and "del" in c and "ack" not in c:
                # a delete/change/harassment word next to a review (隐藏一下差评, 评价的事请您配合, 我们有您的地址…
                # 评价的事您掂量): pressure, unless the sentence leaves it to the buyer (不强求, 随您, 您决定)
                same = [cc for s2, _, cc in clauses if s2 == sent]
                if _best(same, "uncond")[0] or "illicit" in c:
                    continue
                window = [cc for s2, kk, cc in clauses if s2 == sent and abs(kk - k) <= 1 and "ack" not in cc]
                rev = _best(window, "review")
                if not rev[0]:
                    rev = _best(window, "rating")
                if rev[0]:
                    p = (1.0, f"{rev[1]}…{c['del'][1]}")
            if p is not None and "illicit" in c:
                p = None  # 店铺规定：客服不得…要求顾客删除评价 — a rule, not a request
            if p is not None:
                hits.append((p[1], "要求买家删除评价或改为好评（施压删评/改评，无论是否给予好处）"))
                break
    return hits


_TIES = ("action", "request", "del", "lever", "pressure")
#: how many clauses apart (one sentence) a benefit and a review may sit in a seller message; beyond 1 with a link
GUARD_SPAN = 4


def disclaimed(text: Any, matched: Any, policy: Any = None) -> bool:
    """True when ``matched`` (a phrase found in the seller message ``text``, e.g. by the policy's 违规用语
    rows) sits after a negation in its clause (我们不做好评返现, 平台规定不能好评返现), in a clause that thanks for
    a review already given (您的好评我们已经收到) or in one that calls it a violation (好评返现是违规行为) — a
    statement about the rule, not an offer."""
    s, m = squeeze(text), squeeze(matched)
    if not m:
        return False
    at = s.find(m)
    if at < 0:
        return False
    reader = _reader_for("seller", policy)
    negated = acked = False
    for end, value in reader.iter_long(s + _END):
        if value is None:
            continue
        if value.__class__ is str:  # a break: past the match's clause, or a new clause before it
            if end >= at:
                break
            negated = acked = False
            continue
        roles = {x[0] for x in value[1]}
        if "ack" in roles or "illicit" in roles:  # 感谢您的好评 / 好评返现是违规行为: a statement, not an offer
            acked = True
        start = end + 1 - len(value[0])
        if start < at and ("negation" in roles or ("uncond" in roles and end >= at)):
            negated = True  # 不做好评返现, 不能好评返现: a negation before the phrase or a disclaimer around it
    return negated or acked
