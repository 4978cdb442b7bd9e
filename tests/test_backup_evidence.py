"""The evidence folder in backups (issue 17 §2): ``reviewops backup`` copies every evidence file the snapshot lists,
verify and restore recompute each SHA-256, a restore writes them into the restored store's evidence folder, a
corrupted evidence file in a backup is refused with nothing written, a damaged source folder still backs up the
rest (and says so), and a store without evidence — or a format-1 backup — still backs up and restores.
"""

from __future__ import annotations

import hashlib
import json
import stat
import struct
import uuid
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
import wb_fixtures as W
from reviewops.cli import main
from reviewops.core import backup as bk
from reviewops.core.store import Store
from reviewops.handling import evidence as ev

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + bytes(200)


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.delenv(ev.ENV_EVIDENCE_DIR, raising=False)
    monkeypatch.setattr("reviewops.grading.classify.default_model", lambda: None, raising=False)


def _with_evidence(store: Store, tmp_path: Path) -> tuple[int, list[str]]:
    """A case with a screenshot and a recording attached (two files in the evidence folder)."""
    case_id = W.make_case(store, tmp_path)
    shas = []
    for data, name, kind in ((PNG, "截图.png", "screenshot"), (MP3, "通话.mp3", "recording")):
        ev.add_evidence(store, "test", data, original_name=name, kind=kind, case_id=case_id, note="测试")
        shas.append(hashlib.sha256(data).hexdigest())
    return case_id, sorted(shas)


def _files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")}


def _members(archive: Path) -> list[str]:
    with zipfile.ZipFile(archive) as zf:
        return sorted(n for n in zf.namelist() if n.startswith("evidence/"))


def test_evidence_folder_follows_the_evidence_module(sqlite_store, tmp_path, monkeypatch):
    assert bk.evidence_folder(sqlite_store.url) == ev.evidence_root(sqlite_store)
    ev.set_evidence_root(sqlite_store, tmp_path / "elsewhere", actor="test")
    assert bk.evidence_folder(sqlite_store.url, sqlite_store.get_setting("evidence_dir")) == ev.evidence_root(sqlite_store)
    monkeypatch.setenv(ev.ENV_EVIDENCE_DIR, str(tmp_path / "env"))
    assert bk.evidence_folder(sqlite_store.url, "/x") == ev.evidence_root(sqlite_store) == (tmp_path / "env").resolve()


def test_round_trip_with_evidence_files(sqlite_store, tmp_path, capsys):
    case_id, shas = _with_evidence(sqlite_store, tmp_path)
    archive = tmp_path / "b.zip"
    result = bk.backup(sqlite_store, archive)
    m = result.manifest
    assert m["format_version"] == 2 and result.warnings == []
    assert m["evidence"]["count"] == 2 and [f[0] for f in m["evidence"]["files"]] == shas
    assert m["evidence"]["bytes"] == len(PNG) + len(MP3) and m["evidence"]["missing"] == m["evidence"]["altered"] == []
    assert _members(archive) == sorted(f"evidence/{s[:2]}/{s}" for s in shas)
    with zipfile.ZipFile(archive) as zf:
        assert {zf.getinfo(n).compress_type for n in _members(archive)} == {zipfile.ZIP_STORED}
    checks = bk.verify(archive).checks
    assert any("证据文件 2 个" in c and "SHA-256" in c for c in checks)

    target = tmp_path / "restored" / "new.db"
    code = main(["restore", str(archive), "--db", str(target)])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "证据文件 2 个已恢复" in out.out
    root = target.parent / "evidence"  # beside the restored database, like every store's default
    assert _files(root) == {hashlib.sha256(d).hexdigest(): d for d in (PNG, MP3)}
    for s in shas:
        assert stat.S_IMODE((root / s[:2] / s).stat().st_mode) == 0o400
    with Store.open(str(target)) as restored:
        report = ev.verify_evidence(restored)
        assert report.checked == 2 and not report.missing and not report.altered and not report.unknown_files
        items = ev.list_evidence(restored, "cli:test", case_id=case_id)
        assert sorted(i["sha256"] for i in items) == shas
    # restoring again over it (--force) keeps the files already there
    again = bk.restore(archive, str(target), force=True)
    assert again.evidence == {"folder": str(root), "files": 2, "written": 0, "present": 2}


def test_a_store_without_evidence_backs_up_and_restores(sqlite_store, tmp_path):
    W.make_case(sqlite_store, tmp_path)
    archive = tmp_path / "plain.zip"
    m = bk.backup(sqlite_store, archive).manifest
    assert m["evidence"]["count"] == 0 and _members(archive) == []
    bk.verify(archive)
    target = tmp_path / "r" / "plain.db"
    res = bk.restore(archive, str(target))
    assert res.evidence["files"] == 0 and not (target.parent / "evidence").exists() and res.warnings == []


def _rewrite(archive: Path, out: Path, change_member=None, change_manifest=None) -> None:
    """Copy ``archive`` with one member's bytes or the manifest changed — a valid ZIP (CRCs recomputed) whose
    manifest checksum is recomputed too, so only the evidence check can catch the change."""
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "manifest.json" and change_manifest is not None:
                manifest = change_manifest(json.loads(data))
                manifest["manifest_sha256"] = bk._manifest_digest(manifest)
                data = json.dumps(manifest, ensure_ascii=False).encode("utf-8")
            elif change_member is not None and info.filename.startswith("evidence/"):
                data = change_member(info.filename, data)
            dst.writestr(info, data)


def _refused(archive: Path, tmp_path: Path, capsys, *words: str) -> None:
    with pytest.raises(bk.BackupInvalid) as e:
        bk.verify(archive)
    msg = str(e.value)
    assert "未写入任何数据" in msg and all(w in msg for w in words), msg
    fresh = tmp_path / f"fresh-{uuid.uuid4().hex[:6]}" / "x.db"
    code = main(["restore", str(archive), "--db", str(fresh)])
    err = capsys.readouterr().err
    assert code == 2 and "不可用" in err and all(w in err for w in words), err
    assert not fresh.parent.exists()  # no database, no evidence folder


def test_a_corrupted_evidence_file_in_a_backup_is_refused(sqlite_store, tmp_path, capsys):
    _, shas = _with_evidence(sqlite_store, tmp_path)
    archive = tmp_path / "good.zip"
    bk.backup(sqlite_store, archive)
    target = f"evidence/{shas[0][:2]}/{shas[0]}"

    # one byte changed, CRC recomputed: caught by the SHA-256 of its name
    swapped = tmp_path / "swapped.zip"
    _rewrite(archive, swapped, change_member=lambda n, d: (d[:-1] + bytes([d[-1] ^ 1])) if n == target else d)
    _refused(swapped, tmp_path, capsys, target, "SHA-256", "altered")

    # one byte flipped in the stored data (the ZIP's own CRC no longer matches)
    flipped = tmp_path / "flipped.zip"
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(target)
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    data[info.header_offset + 30 + name_len + extra_len + info.compress_size // 2] ^= 0x5A
    flipped.write_bytes(bytes(data))
    _refused(flipped, tmp_path, capsys, target, "损坏")

    # a member dropped, or one the manifest does not list
    dropped = tmp_path / "dropped.zip"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(dropped, "w") as dst:
        for i in src.infolist():
            if i.filename != target:
                dst.writestr(i, src.read(i.filename))
    _refused(dropped, tmp_path, capsys, "缺少清单列出的证据文件")
    extra = tmp_path / "extra.zip"
    _rewrite(archive, extra)
    with zipfile.ZipFile(extra, "a") as zf:
        zf.writestr("evidence/../../etc/evil", b"x")
    _refused(extra, tmp_path, capsys, "意外的文件")

    # a manifest whose evidence list no longer matches the database's evidence_files table
    forged = tmp_path / "forged.zip"

    def drop_one(m):
        m["evidence"]["files"] = m["evidence"]["files"][1:]
        return m
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(forged, "w") as dst:
        for i in src.infolist():
            if i.filename == target:
                continue
            payload = src.read(i.filename)
            if i.filename == "manifest.json":
                m = drop_one(json.loads(payload))
                m["manifest_sha256"] = bk._manifest_digest(m)
                payload = json.dumps(m, ensure_ascii=False).encode("utf-8")
            dst.writestr(i, payload)
    _refused(forged, tmp_path, capsys, "evidence_files")


def test_a_damaged_source_folder_backs_up_the_rest_and_says_so(sqlite_store, tmp_path):
    _, shas = _with_evidence(sqlite_store, tmp_path)
    root = ev.evidence_root(sqlite_store)
    gone, changed = root / shas[0][:2] / shas[0], root / shas[1][:2] / shas[1]
    gone.unlink()
    changed.chmod(0o600)
    changed.write_bytes(changed.read_bytes() + b"!")
    archive = tmp_path / "damaged.zip"
    result = bk.backup(sqlite_store, archive)
    assert result.manifest["evidence"]["missing"] == [shas[0]] and result.manifest["evidence"]["altered"] == [shas[1]]
    assert result.manifest["evidence"]["count"] == 0 and _members(archive) == []
    assert len(result.warnings) == 1 and "reviewops evidence verify" in result.warnings[0]
    bk.verify(archive)  # the backup itself is sound
    res = bk.restore(archive, str(tmp_path / "r" / "d.db"))
    assert res.warnings and "缺少 1 个" in res.warnings[0]


def test_a_format_1_backup_without_evidence_still_restores(sqlite_store, tmp_path):
    _with_evidence(sqlite_store, tmp_path)
    archive = tmp_path / "v2.zip"
    bk.backup(sqlite_store, archive)
    old = tmp_path / "v1.zip"

    def as_v1(m):
        m["format_version"] = 1
        del m["evidence"]
        return m
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(old, "w") as dst:
        for i in src.infolist():
            if i.filename.startswith("evidence/"):
                continue
            payload = src.read(i.filename)
            if i.filename == "manifest.json":
                m = as_v1(json.loads(payload))
                m["manifest_sha256"] = bk._manifest_digest(m)
                payload = json.dumps(m, ensure_ascii=False).encode("utf-8")
            dst.writestr(i, payload)
    bk.verify(old)
    res = bk.restore(old, str(tmp_path / "r1" / "old.db"))
    assert res.evidence["files"] == 0
    assert any("格式版本 1" in w and "2 个证据文件" in w for w in res.warnings)


# ------------------------------------------------------------------ PostgreSQL
@pytest.fixture
def pg_empty_url(pg_server_url, _pg_admin_engine):
    name = f"rt_backup_ev_{uuid.uuid4().hex[:10]}"
    with _pg_admin_engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield pg_server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with _pg_admin_engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_pg_round_trip_with_evidence(pg_db_url, pg_empty_url, tmp_path):
    with Store.open(pg_db_url) as store:
        _, shas = _with_evidence(store, tmp_path)
        source_root = ev.evidence_root(store)
        archive = tmp_path / "pg.zip"
        assert bk.backup(store, archive).manifest["evidence"]["count"] == 2
    bk.verify(archive, db=pg_empty_url)
    res = bk.restore(archive, pg_empty_url)
    with Store.open(pg_empty_url) as restored:
        root = ev.evidence_root(restored)
        assert root != source_root and res.evidence["folder"] == str(root) and res.evidence["written"] == 2
        report = ev.verify_evidence(restored)
        assert report.checked == 2 and not report.missing and not report.altered
        with restored.read() as conn:
            assert sorted(conn.execute(sa.text("SELECT sha256 FROM evidence_files")).scalars()) == shas
