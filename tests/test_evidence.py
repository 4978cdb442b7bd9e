"""reviewops.handling.evidence: the evidence chain (issue 17 §2, SPEC E4/P5) — content-addressed storage,
type sniffing and refusals of hostile uploads (nothing stored, refusal logged), the append-only custody log
on both backends, verify, chat-message links, role-gated content, and the ``reviewops evidence`` CLI."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import stat
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from reviewops.cli import EXIT_USER_ERROR, main
from reviewops.core import store as st
from reviewops.core.errors import AccessDenied, ConfigError, StoreError
from reviewops.core.users import add_user, get_actor
from reviewops.handling import evidence as ev
from wb_fixtures import access_rows, make_case, make_users

UTC = dt.UTC

# ------------------------------------------------------------------ samples
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(64))
GIF = b"GIF89a" + bytes(range(32))
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(32)
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(32)
MOV = b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  " + bytes(32)
M4A = b"\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00M4A mp42isom" + bytes(32)
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + bytes(64)
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(32)
AMR = b"#!AMR\n" + bytes(32)
TEXT = "买家：不给红包就差评\n客服：亲，我们按平台规则处理\n".encode()
CSV = "时间,发送方,内容\n2026-11-20 10:00,买家,不给返现就追评\n".encode()


def _zip(members: dict[str, bytes], *, symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name) if name.startswith(("/", "..")) else name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


XLSX = _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>", "_rels/.rels": b"<Relationships/>"})
ZIP = _zip({"聊天记录.txt": TEXT, "截图/1.png": PNG})


@pytest.mark.parametrize("data,name,mime", [
    (PNG, "a.png", ev.PNG), (JPEG, "a.JPG", ev.JPEG), (GIF, "a.gif", ev.GIF), (WEBP, "a.webp", ev.WEBP),
    (PDF, "质检报告.pdf", ev.PDF), (MP4, "开箱.mp4", ev.MP4), (MOV, "开箱.mov", ev.MOV), (M4A, "录音.m4a", ev.M4A),
    (MP3, "录音.mp3", ev.MP3), (WAV, "录音.wav", ev.WAV), (AMR, "录音.amr", ev.AMR), (ZIP, "导出.zip", ev.ZIP),
    (XLSX, "物流.xlsx", ev.XLSX), (TEXT, "聊天.txt", ev.TEXT), (CSV, "聊天.csv", ev.CSV),
    (b"\xef\xbb\xbf" + TEXT, "", ev.TEXT),  # no extension: the bytes decide
])
def test_accepted_types_are_sniffed_from_the_bytes(data, name, mime):
    assert ev.check_upload(data, name) == mime


# ---------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def _no_env_root(monkeypatch):
    monkeypatch.delenv(ev.ENV_EVIDENCE_DIR, raising=False)
    monkeypatch.delenv("REVIEWOPS_TOKEN", raising=False)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _rows(store, table) -> list[dict]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(table)).mappings()]


def _counts(store) -> tuple[int, int, int]:
    return (len(_rows(store, st.evidence_files)), len(_rows(store, st.evidence_links)),
            len(_rows(store, st.evidence_custody)))


@pytest.fixture
def world(store, tmp_path):
    """A case with users (agents a1/a2, supervisors, legal l1, admin boss)."""
    case_id = make_case(store, tmp_path)
    return {"store": store, "case": case_id, "users": make_users(store), "root": ev.evidence_root(store),
            "tmp": tmp_path}


# ------------------------------------------------------------ both backends
def test_add_dedup_list_read_and_custody(world):
    store, case, u, root = world["store"], world["case"], world["users"], world["root"]
    item = ev.add_evidence(store, u["a1"], PNG, original_name="截图13800138000.png", kind="screenshot", case_id=case,
                           note="买家电话 13800138000 要红包")
    sha = hashlib.sha256(PNG).hexdigest()
    assert (item.sha256, item.mime, item.stored, item.already_linked) == (sha, ev.PNG, "new", False)
    assert _files(root) == [root / sha[:2] / sha]
    assert (root / sha[:2] / sha).read_bytes() == PNG
    # same bytes, same case: no second file, no second link; another case: one file, two links
    again = ev.add_evidence(store, u["a2"], PNG, original_name="copy.png", kind="screenshot", case_id=case)
    assert (again.link_id, again.stored, again.already_linked) == (item.link_id, "present", True)
    other = make_case(store, world["tmp"], customer="cust2")
    ev.add_evidence(store, u["a1"], PNG, original_name="x.png", kind="photo", case_id=other)
    assert _files(root) == [root / sha[:2] / sha]
    assert _counts(store)[:2] == (1, 2)

    agent_view = ev.list_evidence(store, u["a1"], case_id=case)
    assert len(agent_view) == 1 and agent_view[0]["sha256"] == sha and not agent_view[0]["can_view"]
    assert "13800138000" not in agent_view[0]["original_name"] + agent_view[0]["note"]
    legal_view = ev.list_evidence(store, u["l1"], case_id=case)
    assert legal_view[0]["original_name"] == "截图13800138000.png" and legal_view[0]["can_view"]

    content = ev.read_evidence(store, u["l1"], sha, purpose="准备申诉")
    assert (content.data, content.mime) == (PNG, ev.PNG)
    with pytest.raises(AccessDenied):
        ev.read_evidence(store, u["a1"], sha)
    with pytest.raises(AccessDenied):
        ev.read_evidence(store, "cli:someone", sha)
    assert [r["outcome"] for r in access_rows(store, "evidence_view")] == ["denied", "denied"]
    ev.export_evidence(store, u["boss"], sha, purpose="平台申诉")
    log = ev.custody_log(store, sha)
    assert [(r["action"], r["actor"]) for r in log] == [("added", "a1"), ("added", "a1"), ("viewed", "l1"),
                                                        ("exported", "boss")]
    assert log[3]["detail"]["purpose"] == "平台申诉"


def test_custody_log_is_append_only(world, backend):
    store, case, u = world["store"], world["case"], world["users"]
    ev.add_evidence(store, u["a1"], PDF, original_name="质检.pdf", kind="qc_report", case_id=case)
    statements = ["UPDATE evidence_custody SET actor = 'someone else'", "DELETE FROM evidence_custody"]
    if backend == "postgres":
        statements.append("TRUNCATE evidence_custody")
    for sql in statements:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.write() as conn:
            conn.exec_driver_sql(sql)
    assert [(r["action"], r["actor"]) for r in _rows(store, st.evidence_custody)] == [("added", "a1")]


def test_verify_names_a_changed_byte_and_a_missing_file(world):
    store, case, u, root = world["store"], world["case"], world["users"], world["root"]
    a = ev.add_evidence(store, u["a1"], JPEG, original_name="a.jpg", kind="photo", case_id=case)
    b = ev.add_evidence(store, u["a1"], PDF, original_name="b.pdf", kind="logistics", case_id=case)
    c = ev.add_evidence(store, u["a1"], TEXT, original_name="c.txt", kind="chat_export", case_id=case)
    assert ev.verify_evidence(store).ok
    path_a = root / a.sha256[:2] / a.sha256
    os.chmod(path_a, 0o600)
    raw = bytearray(path_a.read_bytes())
    raw[20] ^= 0x01  # one bit of one byte
    path_a.write_bytes(bytes(raw))
    (root / b.sha256[:2] / b.sha256).unlink()
    report = ev.verify_evidence(store, actor="cli:auditor")
    assert not report.ok
    assert report.altered == [a.sha256] and report.missing == [b.sha256] and report.checked == 2
    results = {r["sha256"]: r["detail"]["result"] for r in ev.custody_log(store) if r["action"] == "verified"
               and r["actor"] == "cli:auditor"}
    assert results == {a.sha256: "altered", b.sha256: "missing", c.sha256: "ok"}
    with pytest.raises(StoreError, match="altered"):  # altered bytes are never handed out as evidence
        ev.read_evidence(store, u["l1"], a.sha256)
    # attaching the genuine bytes again repairs the copy
    assert ev.add_evidence(store, u["a1"], JPEG, original_name="a.jpg", kind="photo", case_id=case).stored == "repaired"
    assert ev.verify_evidence(store).missing == [b.sha256]


def test_a_refusal_stores_nothing_and_is_logged(world):
    store, case, u, root = world["store"], world["case"], world["users"], world["root"]
    with pytest.raises(ev.EvidenceRefused) as e:
        ev.add_evidence(store, u["a1"], b"<svg onload=alert(1)>", original_name="x.png", kind="screenshot",
                        case_id=case)
    assert e.value.code == "markup" and "不接收" in str(e.value) and "not accepted" in str(e.value)
    assert _counts(store) == (0, 0, 0) and _files(root) == []
    [row] = access_rows(store, "evidence_add")
    assert (row["actor"], row["outcome"], row["case_id"]) == ("a1", "denied", case)
    assert json.loads(row["detail_json"])["code"] == "markup"


def test_chat_messages_of_the_buyer_are_linked_with_their_own_hashes(world):
    store, case, u = world["store"], world["case"], world["users"]
    with store.write() as conn:
        c = conn.execute(sa.select(st.cases.c.shop_id, st.reviews.c.customer_id)
                         .select_from(st.cases.join(st.reviews, st.reviews.c.id == st.cases.c.review_pk))
                         .where(st.cases.c.id == case)).one()
        other = conn.execute(st.customers.insert().values(shop_id=c.shop_id, customer_key="someone-else",
                                                          nick_is_masked=True, created_at=st.utcnow())
                             .returning(st.customers.c.id)).scalar_one()
        at = dt.datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
        for i, (cust, role, text) in enumerate([(c.customer_id, "buyer", "不给20红包就一直追评"),
                                                (c.customer_id, "agent", "亲，我们按平台规则处理"),
                                                (other, "buyer", "什么时候发货")]):
            conn.execute(st.chat_messages.insert().values(
                shop_id=c.shop_id, message_key=f"k{i}", customer_id=cust, message_seq=i,
                sent_at=at + dt.timedelta(minutes=i), sender_role=role, content=text))
    assert ev.link_chat_messages(store, case, actor=u["a1"]) == 2
    assert ev.link_chat_messages(store, case) == 0  # already linked
    rows = [r for r in ev.list_evidence(store, u["l1"], case_id=case) if r["kind"] == "chat_message"]
    assert len(rows) == 2 and len({r["sha256"] for r in rows}) == 2 and all(len(r["message_ids"]) == 1 for r in rows)
    content = ev.read_evidence(store, u["l1"], rows[0]["sha256"])
    assert json.loads(content.data)["content"] == "不给20红包就一直追评"
    assert ev.verify_evidence(store).ok
    with store.write() as conn:  # the message is edited in the store after it was linked
        conn.execute(st.chat_messages.update().where(st.chat_messages.c.message_key == "k0").values(content="你好"))
    report = ev.verify_evidence(store)
    assert not report.ok and report.chat_changed == [{"link_id": rows[0]["link_id"],
                                                      "message_id": rows[0]["message_ids"][0], "state": "changed"}]


# ------------------------------------------------------------ SQLite only
def _hostile() -> list:
    zeros = bytes(30 * 1024 * 1024)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.txt", zeros)
    return [
        pytest.param(b"", "a.png", None, "empty", id="empty"),
        pytest.param(b"   \n", "a.txt", None, "empty", id="whitespace-only"),
        pytest.param(b"\xff\xd8\xff\xe0" + bytes(20 * 1024 * 1024), "big.jpg", None, "oversize", id="oversize-image"),
        pytest.param(PNG, "photo.jpg", None, "mismatch", id="png-named-jpg"),
        pytest.param(TEXT, "photo.jpg", None, "mismatch", id="text-named-jpg"),
        pytest.param(PNG, "a.png", "application/pdf", "mismatch", id="declared-type"),
        pytest.param(PNG, "a.exe", None, "mismatch", id="unknown-extension"),
        pytest.param(b"MZ\x90\x00\x03\x00\x00\x00" + bytes(64), "a", None, "unsupported", id="executable"),
        pytest.param(b"abc\x00def", "a.txt", None, "unsupported", id="text-with-nul"),
        pytest.param(_zip({"../../evil.sh": b"x"}), "a.zip", None, "zip_traversal", id="zip-dotdot"),
        pytest.param(_zip({"/etc/cron.d/x": b"x"}), "a.zip", None, "zip_traversal", id="zip-absolute"),
        pytest.param(_zip({"C:\\Windows\\x.dll": b"x"}), "a.zip", None, "zip_traversal", id="zip-drive"),
        pytest.param(_zip({"ok.txt": b"x"}, symlink="link"), "a.zip", None, "zip_traversal", id="zip-symlink"),
        pytest.param(bomb.getvalue(), "a.zip", None, "zip_bomb", id="zip-bomb"),
        pytest.param(b"PK\x03\x04garbage", "a.zip", None, "zip_invalid", id="zip-damaged"),
        pytest.param(b"<html><body><script>alert(1)</script></body></html>", "chat.txt", None, "markup", id="html-as-txt"),
        pytest.param(b"<!DOCTYPE html><p>hi</p>", "page.html", None, "markup", id="html"),
        pytest.param(b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "a.svg", None, "markup", id="svg"),
        pytest.param(b'<svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>', "a.png", None, "markup",
                     id="svg-named-png"),
        pytest.param(b"<?xml version='1.0'?><a/>", "a.txt", None, "markup", id="xml"),
        pytest.param(b"hello", "a.png", "image/svg+xml", "markup", id="declared-svg"),
        pytest.param(b"\xef\xbb\xbf  <script>alert(1)</script>", "x.csv", None, "markup", id="bom-script"),
        pytest.param(GIF + b"<script>alert(1)</script>", "a.gif", None, "markup", id="gif-polyglot"),
        pytest.param(PDF.replace(b"/Type /Catalog", b"/Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert(1)) >>"),
                     "report.pdf", None, "active_content", id="pdf-javascript"),
        pytest.param(PDF.replace(b"/Type /Catalog", b"/OpenAction << /S /#4caunch /F (calc.exe) >>"), "report.pdf", None,
                     "active_content", id="pdf-launch-hex-escaped"),
    ]


@pytest.fixture(scope="module")
def hostile_world(tmp_path_factory):
    """One SQLite store with a case and an agent, shared by the hostile-upload cases (nothing is ever stored)."""
    tmp = tmp_path_factory.mktemp("hostile")
    store = st.Store.open(tmp / "reviewops.db")
    case = make_case(store, tmp)
    add_user(store, "a1", role="agent", password="password1", actor="test")
    yield store, case, get_actor(store, "a1")
    store.close()


@pytest.mark.parametrize("data,name,declared,code", _hostile())
def test_hostile_uploads_are_refused_with_nothing_stored(hostile_world, data, name, declared, code):
    store, case, agent = hostile_world
    before = len(access_rows(store, "evidence_add"))
    with pytest.raises(ev.EvidenceRefused) as e:
        ev.add_evidence(store, agent, data, original_name=name, kind="other", case_id=case, declared_type=declared)
    assert e.value.code == code
    assert e.value.zh in str(e.value) and e.value.en in str(e.value)
    assert _counts(store) == (0, 0, 0)
    assert _files(ev.evidence_root(store)) == []
    rows = access_rows(store, "evidence_add")
    assert len(rows) == before + 1
    assert rows[-1]["outcome"] == "denied" and json.loads(rows[-1]["detail_json"])["code"] == code


def test_a_user_of_another_shop_may_not_attach_or_list(sqlite_store, tmp_path):
    store = sqlite_store
    case = make_case(store, tmp_path)
    other_shop = make_case(store, tmp_path, shop="别的店", customer="c9")
    with store.read() as conn:
        shop2 = conn.execute(sa.select(st.cases.c.shop_id).where(st.cases.c.id == other_shop)).scalar_one()
    add_user(store, "a9", role="agent", password="password1", actor="test", shops=[shop2])
    a9 = get_actor(store, "a9")
    with pytest.raises(AccessDenied):
        ev.add_evidence(store, a9, PNG, original_name="a.png", kind="photo", case_id=case)
    with pytest.raises(AccessDenied):
        ev.list_evidence(store, a9, case_id=case)
    assert _counts(store) == (0, 0, 0)
    assert {r["outcome"] for r in access_rows(store) if r["target"] == "evidence"} == {"denied"}
    with pytest.raises(ConfigError):
        ev.add_evidence(store, a9, PNG, original_name="a.png", kind="no-such-kind", case_id=other_shop)


def test_the_evidence_folder_default_setting_and_environment(sqlite_store, tmp_path, monkeypatch):
    store = sqlite_store
    assert ev.evidence_root(store) == (tmp_path / "evidence").resolve()  # beside the database file
    ev.set_evidence_root(store, tmp_path / "kept", actor="cli:admin")
    assert ev.evidence_root(store) == (tmp_path / "kept").resolve()
    monkeypatch.setenv(ev.ENV_EVIDENCE_DIR, str(tmp_path / "env"))
    assert ev.evidence_root(store) == (tmp_path / "env").resolve()
    case = make_case(store, tmp_path)
    item = ev.add_evidence(store, "cli:op", WAV, original_name="r.wav", kind="recording", case_id=case)
    assert (tmp_path / "env" / item.sha256[:2] / item.sha256).read_bytes() == WAV


def test_cli_round_trip(store, tmp_path, capsys):
    case = make_case(store, tmp_path)
    db = ["--db", store.url]
    shot = tmp_path / "截图.png"
    shot.write_bytes(PNG)
    assert main(["evidence", "add", str(shot), "--case", str(case), "--note", "买家索要红包", *db]) == 0
    assert "SHA-256 " + hashlib.sha256(PNG).hexdigest() in capsys.readouterr().out
    assert main(["evidence", "add", str(shot), "--case", str(case), "--json", *db]) == 0
    assert json.loads(capsys.readouterr().out)["already_linked"] is True
    fake = tmp_path / "fake.jpg"
    fake.write_bytes(b"<html><script>alert(1)</script></html>")
    assert main(["evidence", "add", str(fake), "--case", str(case), *db]) == EXIT_USER_ERROR
    assert "不接收" in capsys.readouterr().err
    assert main(["evidence", "list", "--case", str(case), "--json", *db]) == 0
    [row] = json.loads(capsys.readouterr().out)["evidence"]
    assert (row["kind"], row["mime"], row["original_name"]) == ("screenshot", ev.PNG, "截图.png")
    assert row["added_by"].startswith("cli")
    assert main(["evidence", "verify", *db]) == 0
    assert "全部完好" in capsys.readouterr().out
    path = ev.evidence_root(store) / row["sha256"][:2] / row["sha256"]
    path.unlink()
    assert main(["evidence", "verify", *db]) == 1
    assert row["sha256"] in capsys.readouterr().out


# ------------------------------------------------------------ the 案件处理 form
def _upload(name: str, data: bytes, mime: str) -> dict:
    return {"name": name, "type": mime, "size": len(data), "content": memoryview(data),
            "last_modified": dt.datetime(2026, 11, 20, tzinfo=UTC)}


def test_the_case_form_uploads_lists_and_previews_for_allowed_roles_only(sqlite_store, tmp_path):
    from reviewops.handling.workbench import Workbench
    from reviewops_widgets import build_case

    store = sqlite_store
    case = make_case(store, tmp_path)
    u = make_users(store)
    agent = build_case(Workbench(store, u["a1"]), case_id=case)
    agent.evidence_upload.value = (_upload("截图.png", PNG, "image/png"),
                                   _upload("page.html", b"<html><img src=x onerror=alert(1)></html>", "text/html"))
    agent.evidence_add.click()
    sha = hashlib.sha256(PNG).hexdigest()
    assert "拒收 1 个" in agent.status.widget.value and "page.html" in agent.status.widget.value
    assert sha in agent.evidence_list.value and "onerror" not in agent.evidence_list.value
    assert agent.evidence_upload.value == ()
    assert agent.evidence_pick.options == () and agent.evidence_preview.layout.display == "none"  # no preview
    assert _counts(store)[:2] == (1, 1)

    legal = build_case(Workbench(store, u["l1"]), case_id=case)
    assert sha in legal.evidence_list.value
    legal.evidence_pick.value = legal.evidence_pick.options[0][1]
    legal.evidence_show.click()
    assert legal.evidence_image.value == PNG and legal.evidence_image.format == "png"
    assert [r["action"] for r in ev.custody_log(store, sha)] == ["added", "viewed"]
    legal.revoke(AccessDenied("test"))
    assert legal.evidence_image.value == b"" and legal.evidence_list.value == ""
