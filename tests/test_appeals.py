"""reviewops.handling.appeals: platform appeal packets (issue 17 §3, SPEC H3) — the rules file, packet contents and
checklist per platform (golden files under tests/golden/appeals/), byte-identical rebuilds, deadlines across
holidays (国庆), roles (only legal/supervisor/admin; refusals logged), the appeal state machine with optimistic
versions on both backends, the legal queue, and the ``reviewops appeal`` CLI.

Goldens: set ``REVIEWOPS_UPDATE_GOLDEN=1`` to rewrite them from the current output, then review the diff.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from reviewops.cli import EXIT_USER_ERROR, main
from reviewops.core import store as st
from reviewops.core.errors import AccessDenied, ConfigError, ConflictError
from reviewops.core.policy import default_policy
from reviewops.handling import appeals as ap
from reviewops.handling import evidence as ev
from wb_fixtures import access_rows, make_case, make_users

UTC = dt.UTC
BJ = dt.timezone(dt.timedelta(hours=8))
GOLDEN = Path(__file__).parent / "golden" / "appeals"
UPDATE = os.environ.get("REVIEWOPS_UPDATE_GOLDEN") == "1"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + bytes(64)
CHATS = [  # (minutes after the review, sender role, text)
    (-60, "buyer", "衣服什么时候发货"),
    (-50, "agent", "亲，今天下午发出"),
    (5, "buyer", "不给我转50块红包，我就天天追评差评"),
    (8, "agent", "亲，我们按平台规则处理售后"),
    (12, "buyer", "给200块好处费就删评，你看着办"),
]


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.delenv(ev.ENV_EVIDENCE_DIR, raising=False)
    monkeypatch.delenv("REVIEWOPS_TOKEN", raising=False)
    # the cases here are made malicious by hand: the shipped text model (being retrained in parallel work) is
    # not needed to open them, so triage reads the lexicon only
    monkeypatch.setattr("reviewops.grading.classify.default_model", lambda: None, raising=False)


def _malicious_case(store, tmp_path, *, platform="taobao", chats=True, screenshot=True, shop="测试店",
                    link=True) -> int:
    """A bad review of 2026-11-20 10:00 (Beijing) with a fixed order timeline, the buyer's chats linked as
    evidence and a screenshot; the case marked malicious."""
    # imported through the Taobao layout (the fixture's headers), then the shop is moved to ``platform``
    case_id = make_case(store, tmp_path, platform="taobao", shop=shop, text="质量太差了，垃圾")
    with store.write() as conn:
        conn.execute(st.shops.update().where(st.shops.c.id == sa.select(st.cases.c.shop_id).where(
            st.cases.c.id == case_id).scalar_subquery()).values(platform=platform))
        c = conn.execute(sa.select(st.cases.c.shop_id, st.reviews.c.customer_id, st.reviews.c.order_id,
                                   st.reviews.c.created_at)
                         .select_from(st.cases.join(st.reviews, st.reviews.c.id == st.cases.c.review_pk))
                         .where(st.cases.c.id == case_id)).one()
        t0 = c.created_at
        conn.execute(st.orders.update().where(st.orders.c.shop_id == c.shop_id, st.orders.c.order_id == c.order_id)
                     .values(created_at=t0 - dt.timedelta(days=4), paid_at=t0 - dt.timedelta(days=4, minutes=-2),
                             shipped_at=t0 - dt.timedelta(days=3), completed_at=t0 - dt.timedelta(days=1)))
        if chats:
            for i, (minutes, role, text) in enumerate(CHATS):
                conn.execute(st.chat_messages.insert().values(
                    shop_id=c.shop_id, message_key=f"k{case_id}-{i}", customer_id=c.customer_id,
                    conversation_hash="conv", message_seq=i, sent_at=t0 + dt.timedelta(minutes=minutes),
                    sender_name="买家" if role == "buyer" else "客服小美", sender_role=role, content=text))
        cur = conn.execute(sa.select(st.cases.c.version).where(st.cases.c.id == case_id)).scalar_one()
        st.update_case(conn, case_id, cur, {"primary_category": "malicious", "categories": "malicious",
                                            "owner_role": "legal"}, actor="test", via="test")
    with st.clock(dt.datetime(2026, 11, 21, 2, 0, tzinfo=UTC)):  # evidence added at a fixed time (goldens)
        if chats and link:
            ev.link_chat_messages(store, case_id, actor="test")
        if screenshot:
            ev.add_evidence(store, "test", PNG, original_name="旺旺截图.png", kind="screenshot", case_id=case_id,
                            note="旺旺完整对话截图：买家索要红包")
    return case_id


@pytest.fixture
def world(store, tmp_path):
    users = make_users(store)
    case_id = _malicious_case(store, tmp_path)
    return {"store": store, "case": case_id, "users": users, "tmp": tmp_path}


def _zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


# ------------------------------------------------------------------ the rules file
def test_rules_cover_every_platform_and_ground_with_sources():
    rules = ap.load_appeal_rules()
    assert set(rules) == {(p, g) for p in ("taobao", "tmall", "douyin", "jd", "pdd", "kuaishou") for g in ap.GROUNDS}
    for r in rules.values():
        assert r.source and r.entry and r.appeal_type and r.text_limit > 0
        assert any(q.required for q in r.requirements)
    assert rules[("douyin", "rival")].appeal_type == "同行竞争"  # SPEC H3
    assert {q.kinds for q in rules[("douyin", "rival")].requirements if q.required} >= {("recording",)}
    assert rules[("taobao", "abuse")].deadline_days == 90 and rules[("jd", "extortion")].once_only
    assert rules[("pdd", "extortion")].deadline_basis == "working" and rules[("pdd", "extortion")].deadline_kind == "kit"


@pytest.mark.parametrize("edit,needle", [
    (lambda s: s.replace("taobao\textortion", "taobaox\textortion", 1), "platform"),
    (lambda s: s.replace("=chat_message|chat_export|screenshot", "=chat_message|fax", 1), "required"),
    (lambda s: s.replace("\t30\tcalendar", "\tthirty\tcalendar", 1), "deadline_days"),
    (lambda s: s.replace("\tcalendar\t", "\tlunar\t", 1), "deadline_basis"),
    (lambda s: "\n".join(ln for ln in s.splitlines() if not ln.startswith("kuaishou\tabuse")), "kuaishou/abuse"),
])
def test_bad_rules_file_is_refused_naming_line_column_value(tmp_path, edit, needle):
    bad = tmp_path / "rules.tsv"
    bad.write_text(edit(ap.RULES_PATH.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        ap.load_appeal_rules(bad)
    assert needle in str(e.value)


# ------------------------------------------------------------------- deadlines
def test_deadlines_calendar_and_working_days_across_national_day():
    policy = default_policy()
    review = dt.datetime(2026, 9, 29, 10, 0, tzinfo=BJ)
    # calendar days ignore holidays: review time + 30 days
    assert ap.appeal_deadline(ap.rule_for("taobao"), review, policy) == review + dt.timedelta(days=30)
    # 7 working days on the Chinese calendar: 9-30, 10-08, 10-09, 10-10 (Saturday 调休), 10-12, 10-13, 10-14
    due = ap.appeal_deadline(ap.rule_for("pdd"), review, policy)
    assert due.astimezone(BJ) == dt.datetime(2026, 10, 14, 22, 0, tzinfo=BJ)
    # without holidays (Monday–Friday) the same rule ends on 10-08: the holidays moved it six days
    assert ap._holiday_calendar(policy).holidays

    class NoHolidays:
        def __init__(self, p):
            self.p = p
            self.shop_days = ()

        def setting(self, key):
            return False if key == "use_cn_holidays" else self.p.setting(key)
    assert ap.appeal_deadline(ap.rule_for("pdd"), review, NoHolidays(policy)).astimezone(BJ).date() == dt.date(2026, 10, 8)


def test_queue_orders_by_deadline_with_warning_and_overdue_flags(world):
    store, u, tmp = world["store"], world["users"], world["tmp"]
    pdd_case = _malicious_case(store, tmp, platform="pdd", shop="拼多多店", chats=False, screenshot=False)
    plain = make_case(store, tmp, customer="c9", shop="别的店")  # not malicious: not in the queue
    review = dt.datetime(2026, 11, 20, 10, 0, tzinfo=BJ)
    # 2026-11-20 (Friday) + 7 working days = 12-01 22:00; taobao: 12-20 10:00
    now = dt.datetime(2026, 12, 1, 0, 0, tzinfo=BJ)
    q = ap.legal_queue(store, u["l1"], now=now)
    assert [r["case_id"] for r in q] == [pdd_case, world["case"]] and plain not in [r["case_id"] for r in q]
    first, second = q
    assert first["state"] == "to_build" and first["warning"] and not first["overdue"]
    assert first["deadline_at"].astimezone(BJ) == dt.datetime(2026, 12, 1, 22, 0, tzinfo=BJ)
    assert second["deadline_at"] == review + dt.timedelta(days=30) and not second["warning"]
    late = ap.legal_queue(store, u["l1"], now=dt.datetime(2026, 12, 2, 9, 0, tzinfo=BJ))
    assert late[0]["overdue"] and not late[0]["warning"]
    # a built packet turns the row into a drafted appeal; a submitted one leaves the default queue
    pk = ap.build_packet(store, u["l1"], world["case"], out_dir=tmp / "out")
    q2 = ap.legal_queue(store, u["l1"], now=now)
    assert [(r["case_id"], r["state"], r["appeal_id"]) for r in q2][1] == (world["case"], "drafted", pk.appeal_id)
    ap.submit_appeal(store, u["l1"], pk.appeal_id, "TB-2026-001")
    assert [r["case_id"] for r in ap.legal_queue(store, u["l1"], now=now)] == [pdd_case]
    full = ap.legal_queue(store, u["l1"], now=now, include_submitted=True)
    assert full[-1]["state"] == "submitted" and full[-1]["filed_in_time"] is True
    # an agent may not see the legal queue (logged); the local operator may
    with pytest.raises(AccessDenied):
        ap.legal_queue(store, u["a1"], now=now)
    assert access_rows(store, "appeal_queue")[-1]["outcome"] == "denied"
    assert len(ap.legal_queue(store, "cli:tester", now=now)) == 1


# --------------------------------------------------------------------- packets
def _golden_text(pk: ap.AppealPacket, case_id: int, order_id: str) -> str:
    files = _zip(pk.zip_path)
    parts = []
    for name in (ap.TEXT_NAME, ap.INDEX_NAME, ap.CHECK_NAME):
        body = files[name].decode("utf-8-sig").replace("\r\n", "\n")
        parts.append(f"===== {name} =====\n{body}")
    parts.append("===== members =====\n" + "\n".join(files))
    text = "\n".join(parts)
    return text.replace(order_id, "<ORDER>").replace(f"案件{case_id}", "案件<CASE>")


def _order_id(store, case_id):
    with store.read() as conn:
        return conn.execute(sa.select(st.reviews.c.order_id).select_from(
            st.cases.join(st.reviews, st.reviews.c.id == st.cases.c.review_pk)).where(st.cases.c.id == case_id)).scalar()


@pytest.mark.parametrize("platform,ground", [
    ("taobao", None), ("tmall", None), ("douyin", None), ("douyin", "rival"), ("jd", None), ("pdd", None),
    ("kuaishou", None), ("taobao", "abuse"),
])
def test_packet_contents_and_checklist_per_platform_golden(store, tmp_path, platform, ground):
    u = make_users(store)
    case_id = _malicious_case(store, tmp_path, platform=platform, shop=f"{platform}店")
    pk = ap.build_packet(store, u["l1"], case_id, out_dir=tmp_path / "out", ground=ground)
    got = _golden_text(pk, case_id, _order_id(store, case_id))
    path = GOLDEN / f"{platform}_{pk.ground}.txt"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"missing golden {path}; run with REVIEWOPS_UPDATE_GOLDEN=1"
    assert got == path.read_text(encoding="utf-8")
    rule = ap.rule_for(platform, pk.ground)
    assert len(pk.text) <= rule.text_limit


def test_packet_layout_evidence_hashes_and_custody(world):
    store, u, case, tmp = world["store"], world["users"], world["case"], world["tmp"]
    pk = ap.build_packet(store, u["l1"], case, out_dir=tmp / "out")
    assert pk.ground == "extortion" and pk.appeal_type == "恶意评价（不合理要求）" and pk.state == "drafted"
    files = _zip(pk.zip_path)
    names = list(files)
    assert names[:3] == [ap.TEXT_NAME, ap.INDEX_NAME, ap.CHECK_NAME]
    index = _csv(files[ap.INDEX_NAME])
    assert index[0] == ap.INDEX_HEADER and len(index) == 1 + 6  # 5 chat messages (buyer and agent) + 1 screenshot
    # every evidence member is listed in index order with its own SHA-256, and the bytes match
    assert [r[1] for r in index[1:]] == names[3:]
    for row in index[1:]:
        assert hashlib.sha256(files[row[1]]).hexdigest() == row[2]
    assert hashlib.sha256(pk.zip_path.read_bytes()).hexdigest() == pk.sha256
    text = files[ap.TEXT_NAME].decode()
    assert "不给我转50块红包，我就天天追评差评" in text and "给200块好处费就删评" in text
    assert "衣服什么时候发货" not in text  # only the extortion messages are quoted
    assert "2026-11-20 10:00" in text and "申诉请求" in text and "北京时间" in text
    checks = {r[1]: r[3] for r in _csv(files[ap.CHECK_NAME])[1:]}
    assert all(v == ap.MET for k, v in checks.items() if "旺旺" in k)
    # custody: every exported file has an 'exported' entry with the purpose
    exported = [c for c in ev.custody_log(store, case_id=case) if c["action"] == "exported"]
    assert {c["sha256"] for c in exported} == {r[2] for r in index[1:]}
    assert all("平台申诉包" in c["detail"]["purpose"] and c["actor"] == "l1" for c in exported)
    html = pk.summary_path.read_text(encoding="utf-8")
    assert "<script" not in html and "Content-Security-Policy" in html and pk.sha256 in html


def test_rebuild_is_byte_identical_and_new_evidence_changes_it(world):
    store, u, case, tmp = world["store"], world["users"], world["case"], world["tmp"]
    a = ap.build_packet(store, u["l1"], case, out_dir=tmp / "a")
    b = ap.build_packet(store, u["s1"], case, out_dir=tmp / "b")  # another user, later, elsewhere
    assert a.zip_path.read_bytes() == b.zip_path.read_bytes() and a.sha256 == b.sha256
    assert (b.appeal_id, b.version) == (a.appeal_id, a.version)  # nothing changed: the row stays
    ev.add_evidence(store, u["l1"], MP3, original_name="通话录音.mp3", kind="recording", case_id=case,
                    note="买家电话索要红包")
    c = ap.build_packet(store, u["l1"], case, out_dir=tmp / "c")
    assert c.sha256 != a.sha256 and (c.appeal_id, c.version) == (a.appeal_id, a.version + 1)
    assert ap.get_appeal(store, a.appeal_id)["packet_sha256"] == c.sha256


def test_text_limit_is_kept_with_many_quotes(store, tmp_path):
    u = make_users(store)
    case_id = _malicious_case(store, tmp_path, platform="jd", chats=True)
    with store.write() as conn:
        shop, cust = conn.execute(sa.select(st.chat_messages.c.shop_id, st.chat_messages.c.customer_id)).first()
        t0 = dt.datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
        for i in range(40):
            conn.execute(st.chat_messages.insert().values(
                shop_id=shop, message_key=f"many{i}", customer_id=cust, conversation_hash="conv", message_seq=100 + i,
                sent_at=t0 + dt.timedelta(minutes=i), sender_role="buyer",
                content=f"第{i}次说：不给返现红包就一直追评差评，让你店铺评分掉光，赶紧转账给我好处费"))
    ev.link_chat_messages(store, case_id, actor="test")
    pk = ap.build_packet(store, u["l1"], case_id, out_dir=tmp_path / "o")
    assert len(pk.text) <= 500 and "申诉请求" in pk.text and "见证据清单" in pk.text
    assert len(pk.evidence) == 46


def test_missing_required_evidence_is_marked(store, tmp_path):
    u = make_users(store)
    case_id = _malicious_case(store, tmp_path, platform="douyin", chats=False, screenshot=False)
    pk = ap.build_packet(store, u["l1"], case_id, out_dir=tmp_path / "o", ground="rival")
    assert pk.missing == ["飞鸽聊天记录（带时间）", "通话录音"]
    assert any("缺少" in n for n in pk.notes) and pk.evidence == []


# ----------------------------------------------------------------------- roles
def test_only_legal_supervisor_admin_build_and_submit_refusals_logged(world):
    store, u, case, tmp = world["store"], world["users"], world["case"], world["tmp"]
    for who in ("a1", "a2"):
        with pytest.raises(AccessDenied):
            ap.build_packet(store, u[who], case, out_dir=tmp / who)
        assert not (tmp / who).exists()
    with pytest.raises(AccessDenied):
        ap.build_packet(store, "cli:someone", case, out_dir=tmp / "cli")
    denied = [r for r in access_rows(store, "appeal_build") if r["outcome"] == "denied"]
    assert [r["actor"] for r in denied] == ["a1", "a2", "cli:someone"] and all(r["case_id"] == case for r in denied)
    assert ap.list_appeals(store) == []
    for who in ("l1", "s1", "boss"):
        ap.build_packet(store, u[who], case, out_dir=tmp / who)
    appeal_id = ap.list_appeals(store)[0]["id"]
    with pytest.raises(AccessDenied):
        ap.submit_appeal(store, u["a1"], appeal_id, "REF-1")
    assert access_rows(store, "appeal_submit")[-1]["outcome"] == "denied"
    assert ap.get_appeal(store, appeal_id)["state"] == "drafted"


def test_legal_of_another_shop_is_refused(store, tmp_path):
    from reviewops.core.users import add_user, get_actor

    case_id = _malicious_case(store, tmp_path)
    with store.read() as conn:
        other = conn.execute(sa.select(sa.func.max(st.shops.c.id))).scalar_one() + 1
    with store.write() as conn:
        conn.execute(st.shops.insert().values(id=other, platform="jd", name="别人的店", created_at=st.utcnow()))
    add_user(store, "l2", role="legal", password="password1", actor="test", shops=[other])
    with pytest.raises(AccessDenied):
        ap.build_packet(store, get_actor(store, "l2"), case_id, out_dir=tmp_path / "o")
    assert access_rows(store, "appeal_build")[-1]["actor"] == "l2"


# --------------------------------------------------------------- state machine
def test_state_machine_and_stale_version(world):
    store, u, case, tmp = world["store"], world["users"], world["case"], world["tmp"]
    pk = ap.build_packet(store, u["l1"], case, out_dir=tmp / "o")
    with pytest.raises(ConfigError):
        ap.decide_appeal(store, u["l1"], pk.appeal_id, True, "ok")  # not submitted yet
    with pytest.raises(ConfigError):
        ap.submit_appeal(store, u["l1"], pk.appeal_id, " ")  # a reference is required
    with pytest.raises(ConflictError):
        ap.submit_appeal(store, u["l1"], pk.appeal_id, "TB-1", expected_version=pk.version - 1 or 99)
    row = ap.submit_appeal(store, u["l1"], pk.appeal_id, "TB-1", expected_version=pk.version)
    assert (row["state"], row["platform_ref"], row["submitted_by"], row["version"]) == ("submitted", "TB-1", "l1",
                                                                                        pk.version + 1)
    assert row["submitted_at"] is not None
    with store.read() as conn:
        assert conn.execute(sa.select(st.cases.c.state).where(st.cases.c.id == case)).scalar_one() == "appeal"
    with pytest.raises(ConfigError):
        ap.submit_appeal(store, u["l1"], pk.appeal_id, "TB-2")  # already submitted
    with pytest.raises(ConflictError):  # someone decided from an old screen
        ap.decide_appeal(store, u["s1"], pk.appeal_id, False, "证据不足", expected_version=pk.version)
    with pytest.raises(ConfigError):
        ap.decide_appeal(store, u["s1"], pk.appeal_id, False, "")  # a rejection needs the platform's reason
    done = ap.decide_appeal(store, u["s1"], pk.appeal_id, False, "证据不足，聊天记录未显示索要金额")
    assert (done["state"], done["decided_by"], done["platform_reason"]) == ("rejected", "s1",
                                                                              "证据不足，聊天记录未显示索要金额")
    # taobao takes a new appeal after a rejection: a new drafted row
    again = ap.build_packet(store, u["l1"], case, out_dir=tmp / "o2")
    assert again.appeal_id != pk.appeal_id and again.state == "drafted"
    actions = [(r["action"], r["outcome"]) for r in access_rows(store) if r["action"].startswith("appeal_")]
    assert ("appeal_submit", "ok") in actions and ("appeal_decide", "ok") in actions


def test_once_only_platform_after_rejection_records_nothing_new(store, tmp_path):
    u = make_users(store)
    case_id = _malicious_case(store, tmp_path, platform="jd")
    pk = ap.build_packet(store, u["l1"], case_id, out_dir=tmp_path / "o")
    ap.submit_appeal(store, u["l1"], pk.appeal_id, "JD-9")
    ap.decide_appeal(store, u["l1"], pk.appeal_id, False, "不符合规则")
    again = ap.build_packet(store, u["l1"], case_id, out_dir=tmp_path / "o2")
    assert again.appeal_id == pk.appeal_id and again.state == "rejected" and any("一次" in n for n in again.notes)
    assert len(ap.list_appeals(store)) == 1


def test_accepted_appeal(world):
    store, u = world["store"], world["users"]
    pk = ap.build_packet(store, u["boss"], world["case"], out_dir=world["tmp"] / "o")
    ap.submit_appeal(store, u["boss"], pk.appeal_id, "TB-7")
    row = ap.decide_appeal(store, u["l1"], pk.appeal_id, True)
    assert row["state"] == "accepted" and row["decided_at"] is not None and row["platform_reason"] is None


# --------------------------------------------------------------------------- CLI
def test_cli_build_submit_decide_queue(world, monkeypatch, capsys):
    from reviewops.core.users import issue_token

    store, case, tmp = world["store"], world["case"], world["tmp"]
    db = store.url
    out = tmp / "cli"
    monkeypatch.setenv("REVIEWOPS_TOKEN", issue_token(store, "l1", actor="test"))
    monkeypatch.setattr("reviewops.runner.write_pdf", lambda html, pdf, **kw: pdf.write_bytes(b"%PDF-1.4\n") and None)
    assert main(["appeal", "build", str(case), "--out", str(out), "--db", db, "--json"]) == 0
    built = json.loads(capsys.readouterr().out)
    assert Path(built["zip_path"]).is_file() and Path(built["summary_path"]).is_file()
    assert Path(built["pdf_path"]).is_file()
    assert main(["appeal", "queue", "--db", db]) == 0
    assert "已起草" in capsys.readouterr().out
    assert main(["appeal", "submit", str(built["appeal_id"]), "--ref", "TB-88", "--db", db]) == 0
    assert main(["appeal", "decide", str(built["appeal_id"]), "--accepted", "--db", db]) == 0
    assert ap.get_appeal(store, built["appeal_id"])["state"] == "accepted"
    capsys.readouterr()
    monkeypatch.delenv("REVIEWOPS_TOKEN")
    assert main(["appeal", "build", str(case), "--out", str(out), "--db", db]) == EXIT_USER_ERROR
    assert "法务" in capsys.readouterr().err


# ------------------------------------------------------------------------ the 申诉 form
def test_appeals_form_build_download_submit_decide(world):
    import base64
    import re

    from reviewops.handling.workbench import Workbench
    from reviewops_widgets.appeals import build_appeals

    store, u, case, tmp = world["store"], world["users"], world["case"], world["tmp"]
    form = build_appeals(Workbench(store, u["l1"]), out_dir=tmp / "form")
    assert not form.status.text and list(form.rows) == [case]
    row = form.row(case)
    assert row.data["state"] == "to_build"
    row.build.click()
    assert form.status.kind == "ok", form.status.text
    pk = form.last_packet
    link = re.search(r'href="data:application/zip;base64,([^"]+)"', form.row(case).packet.value)
    assert link and base64.b64decode(link.group(1)) == pk.zip_path.read_bytes()  # the download is the packet
    row = form.row(case)
    assert row.data["state"] == "drafted" and row.version == pk.version
    row.ref.value = "TB-2026-42"
    row.submit.click()
    assert form.status.kind == "ok" and ap.get_appeal(store, pk.appeal_id)["state"] == "submitted"
    # a decision from a stale list is refused and the list refreshed
    row = form.row(case)
    ap.decide_appeal(store, u["s1"], pk.appeal_id, True)
    row.accept.click()
    assert form.status.kind == "error" and "刷新" in form.status.text
    assert ap.get_appeal(store, pk.appeal_id)["state"] == "accepted" and case not in form.rows


def test_appeals_form_refuses_an_agent(world):
    from reviewops.handling.workbench import Workbench
    from reviewops_widgets.appeals import build_appeals

    form = build_appeals(Workbench(world["store"], world["users"]["a1"]), out_dir=world["tmp"] / "f")
    assert form.status.kind == "error" and "无权" in form.status.text and form.rows == {}
    assert access_rows(world["store"], "appeal_queue")[-1]["outcome"] == "denied"


def test_appeals_form_classes_are_documented(world):
    import re

    import ipywidgets as widgets
    from reviewops.handling.workbench import Workbench
    from reviewops_widgets.appeals import build_appeals

    store, u, case = world["store"], world["users"], world["case"]
    form = build_appeals(Workbench(store, u["l1"]), out_dir=world["tmp"] / "f")
    form.row(case).build.click()
    doc = (Path(__file__).resolve().parents[1] / "docs" / "forms.md").read_text(encoding="utf-8")

    def walk(w):
        yield w
        for c in getattr(w, "children", ()):
            yield from walk(c)
    actionable = (widgets.Button, widgets.Text, widgets.Textarea, widgets.Dropdown, widgets.Checkbox)
    missing, undocumented = [], set()
    for w in walk(form.root):
        ro = [c for c in w._dom_classes if c.startswith("ro-")]
        if isinstance(w, actionable) and not ro:
            missing.append(type(w).__name__)
        undocumented |= {re.sub(r"-\d+$", "", c) for c in ro if f"`{re.sub(r'-[0-9]+$', '', c)}`" not in doc}
    assert not missing and not undocumented, (missing, sorted(undocumented))
    assert "ro-appeals-download" in form.row(case).packet.value


def test_build_links_the_buyers_chats_first(store, tmp_path):
    u = make_users(store)
    case_id = _malicious_case(store, tmp_path, link=False, screenshot=False)
    assert ev.list_evidence(store, u["l1"], case_id=case_id) == []
    pk = ap.build_packet(store, u["l1"], case_id, out_dir=tmp_path / "o")
    assert len(pk.evidence) == len(CHATS) and "给200块好处费就删评" in pk.text
    added = [c for c in ev.custody_log(store, case_id=case_id) if c["action"] == "added"]
    assert len(added) == len(CHATS) and {c["actor"] for c in added} == {"l1"}
    bare = _malicious_case(store, tmp_path, link=False, screenshot=False, shop="另一店")
    assert ap.build_packet(store, u["l1"], bare, out_dir=tmp_path / "p", link_chats=False).evidence == []
