"""The ``reviewops`` command line around the importer: summaries, --json, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from reviewops.intake import ingest
from reviewops.cli import EXIT_INTERNAL, EXIT_USER_ERROR, main

GOOD = ("订单编号,买家昵称,评价结果,评价内容,评价时间,宝贝标题\n"
        "2841234567890123456,张三,差评,漏水,2024-03-05 14:22:00,保温杯\n"
        "2841234567890123457,李四,好评,不错,2024-03-06 09:01:00,保温杯\n")
BAD_ROW = ("订单编号,买家昵称,评价结果,评价内容,评价时间,宝贝标题\n"
           "2841234567890123458,王五,差评,太差,2024-03-05 14:22:00,保温杯\n"
           '2841234567890123459,赵六,差评,"=HYPERLINK(""http://x"",""y"")",03/09/2024,保温杯\n')
RESULT_KEYS = {"file", "member", "platform", "kind", "layout", "file_type", "encoding", "header_row", "rows_read",
               "rows_new", "rows_updated", "rows_unchanged", "rows_rejected", "status", "batch_id", "rejected_file",
               "notes", "error", "problems", "seconds"}
PROBLEM_KEYS = {"file", "row", "column", "value", "reason_zh", "reason_en", "code"}


@pytest.fixture
def files(tmp_path):
    good = tmp_path / "good.csv"
    good.write_bytes(GOOD.encode("gbk"))
    bad = tmp_path / "bad.csv"
    bad.write_bytes(BAD_ROW.encode("utf-8-sig"))
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("单号,留言\n1,x\n", encoding="utf-8")
    return {"good": good, "bad": bad, "junk": junk, "unknown": unknown, "dir": tmp_path}


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return code, out.out, out.err


def test_import_prints_a_bilingual_summary(store, files, capsys):
    code, out, _ = run(capsys, "import", str(files["good"]), "--db", store.url)
    assert code == 0
    lines = out.splitlines()
    first = lines[0]
    assert first.startswith("✓ good.csv")
    for part in ("淘宝", "评价", "taobao_reviews", "csv/gb18030", "读取 2 行", "新增 2", "更新 0", "未变 0", "拒绝 0"):
        assert part in first, (part, first)
    assert any("provisional" in line for line in lines)
    assert lines[-1].startswith("合计 total:")
    for part in ("成功 1", "失败 0", "read 2", "new 2"):
        assert part in lines[-1], (part, lines[-1])
    code, out, _ = run(capsys, "import", str(files["good"]), "--db", store.url)
    assert code == 0 and "新增 0，更新 0，未变 2" in out
    assert store.counts()["reviews"] == 2


def test_import_json_shape(store, files, capsys):
    code, out, _ = run(capsys, "import", str(files["good"]), str(files["bad"]), "--db", store.url, "--json")
    assert code == EXIT_USER_ERROR  # one file was rejected
    data = json.loads(out)
    assert set(data) == {"results"}
    ok, rejected = data["results"]
    assert set(ok) == RESULT_KEYS and set(rejected) == RESULT_KEYS
    assert (ok["status"], ok["rows_new"], ok["kind"], ok["platform"], ok["encoding"]) == \
        ("done", 2, "reviews", "taobao", "gb18030")
    assert isinstance(ok["batch_id"], int) and ok["problems"] == []
    assert rejected["status"] == "rejected" and "03/09/2024" in rejected["error"]
    (p,) = rejected["problems"]
    assert set(p) == PROBLEM_KEYS
    assert (p["file"], p["row"], p["column"], p["value"], p["code"]) == ("bad.csv", 3, "评价时间", "03/09/2024",
                                                                        "bad_datetime")
    assert store.counts()["reviews"] == 2  # the good file went in, the rejected one wrote nothing


@pytest.mark.parametrize("which", ["bad", "junk", "unknown", "missing", "dir"])
def test_bad_inputs_exit_2_with_a_message_and_no_traceback(store, files, capsys, which):
    path = files["dir"] / "missing.csv" if which == "missing" else files[which]
    before = store.counts()
    code, out, err = run(capsys, "import", str(path), "--db", store.url)
    assert code == EXIT_USER_ERROR
    assert out.startswith("✗ ")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in out) and "total" in out
    assert store.counts() == before
    code, out, err = run(capsys, "import", str(path), "--db", store.url, "--json")
    assert code == EXIT_USER_ERROR and json.loads(out)["results"][0]["status"] in ("rejected", "failed")


def test_skip_bad_rows_exits_0_and_names_the_rejected_file(store, files, capsys):
    code, out, _ = run(capsys, "import", str(files["bad"]), "--db", store.url, "--skip-bad-rows")
    assert code == 0
    assert "拒绝 1" in out and "bad.rejected.csv" in out
    text = (files["dir"] / "bad.rejected.csv").read_text(encoding="utf-8-sig")
    assert "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"" in text
    assert store.counts()["reviews"] == 1


@pytest.mark.parametrize("args", [
    ["--save-layout", "x"],                        # needs --map
    ["--map", "单号=order_id"],                     # needs --kind
    ["--kind", "reviews", "--map", "单号"],         # not header=field
    ["--layout", "no_such_layout"],
])
def test_option_errors_exit_2_without_traceback(files, capsys, tmp_path, args):
    code, out, err = run(capsys, "import", str(files["good"]), "--db", str(tmp_path / "x.db"), *args)
    assert code == EXIT_USER_ERROR
    text = out + err
    assert ("错误 error" in err or text.startswith("✗")) and any("\u4e00" <= ch <= "\u9fff" for ch in text)
    assert any(o.lstrip("-").split("-")[0] in text for o in args if o.startswith("--"))


def test_usage_errors_are_click_messages(files, capsys, tmp_path):
    code, _, err = run(capsys, "import", str(files["good"]), "--platform", "nope")
    assert code == 2 and "nope" in err
    code, _, err = run(capsys, "import")
    assert code == 2 and "FILES" in err
    code, _, err = run(capsys, "import", str(files["good"]), "--db", "ftp://example/x")
    assert code == 2 and "ftp://" in err


def test_unexpected_errors_are_logged_not_shown(files, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))

    def boom(*a, **k):
        raise RuntimeError("secret internals 13800138000")

    monkeypatch.setattr(ingest, "import_paths", boom)
    code, out, err = run(capsys, "import", str(files["good"]), "--db", str(tmp_path / "x.db"))
    assert code == EXIT_INTERNAL
    assert "RuntimeError" in err and "secret internals" not in err and "13800138000" not in err
    logs = list((tmp_path / "state").rglob("reviewops-errors.log"))
    assert logs and "Traceback" in logs[0].read_text(encoding="utf-8")


def test_default_db_comes_from_the_environment(files, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("REVIEWOPS_DB", str(tmp_path / "env.db"))
    code, _, _ = run(capsys, "import", str(files["good"]))
    assert code == 0 and (tmp_path / "env.db").exists()
    code, out, _ = run(capsys, "status", "--json")
    data = json.loads(out)
    assert code == 0 and data["counts"]["reviews"] == 2 and str(tmp_path / "env.db") in data["db"]


def test_python_dash_m_imports_a_file(files, tmp_path):
    db = tmp_path / "sub.db"
    base = [sys.executable, "-m", "reviewops"]
    out = subprocess.run([*base, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "import" in out.stdout
    out = subprocess.run([*base, "import", str(files["good"]), "--db", str(db), "--json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["results"][0]["rows_new"] == 2
    out = subprocess.run([*base, "import", str(files["junk"]), "--db", str(db)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stdout + out.stderr
    assert "junk.xlsx" in out.stdout
