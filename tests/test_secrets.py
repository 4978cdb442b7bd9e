"""Secrets are never printed or saved (issue 15 §2).

A canary password, SMTP password, push secret and robot tokens are pushed through every command and
every file the tool writes; none may turn up in clear. :mod:`reviewops.core.redact` is the one masking helper.

* Everywhere (no server): the helper itself; ``status``/``status --json`` errors for an unreachable,
  unsupported or malformed PostgreSQL URL with a password (a closed port, nothing listening) and the
  ``?password=`` form; the crash log (command line and traceback); ``reviewops run`` with a password URL —
  the kernel still gets the real URL (it reaches the closed port, not a "masked password" refusal) and the
  ``.failed.ipynb`` keeps only the masked one (parameters cell, papermill metadata, outputs, traceback);
  a run that prints secrets from its environment; SMTP errors; the alert ledger; ``watch --status`` and
  ``watch --dead``; ``reviewops lab``'s printout.
* ``postgres``: a role whose password is the canary — ``status``, ``status --json``, ``demo``, ``run``
  (every file it writes, the XLSX unzipped), ``serve``'s banner from start to stop.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import nbformat
import pytest
import sqlalchemy as sa
from alert_fixtures import Recorder, policy_with, review_rows, write_export
from reviewops.alerting import alerts
from reviewops import cli
from reviewops.core import redact
from reviewops.alerting.channels import ChannelError
from reviewops.cli import main
from reviewops.alerting.delivery import DeliveryFailed, SmtpConfig, send_report
from reviewops.core.errors import ConfigError
from reviewops.intake.ingest import import_file
from reviewops.core.policy import current_policy
from reviewops.core.redact import has_masked_secret, mask_login, mask_url, redact_obj, redact_secrets
from reviewops.runner import PlaybookFailed, RunResult, run_playbook
from reviewops.core.store import Store, _safe_url, alert_deliveries, resolve_url
from reviewops.handling.opening import triage_store

CANARY = "Canary-p4ss-9f3b"
SMTP_CANARY = "Smtp-canary-7c1d"
PUSH_CANARY = "Push-canary-secret-2e8a"
TOKEN_CANARY = "tok3n-canary-5a9e"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # released on close: nothing listens there


def _pg_url(password: str = CANARY, port: int | None = None) -> str:
    return f"postgresql+psycopg://ro_user:{password}@127.0.0.1:{port or _closed_port()}/shop"


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return code, out.out, out.err


def assert_clean(text: str, *canaries: str) -> None:
    for c in canaries or (CANARY,):
        assert c not in text, f"secret {c!r} leaked: …{text[max(0, text.find(c) - 120):text.find(c) + 60]}…"


def files_text(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` as text; XLSX (zip) members unpacked."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if not p.is_file():
            continue
        if zipfile.is_zipfile(p):
            with zipfile.ZipFile(p) as z:
                for n in z.namelist():
                    out[f"{p.name}:{n}"] = z.read(n).decode("utf-8", "replace")
        else:
            out[p.name] = p.read_bytes().decode("utf-8", "replace")
    return out


# ------------------------------------------------------------------------------------- the helper
@pytest.mark.parametrize(("url", "shown"), [
    (f"postgresql+psycopg://ro:{CANARY}@db.internal:5432/shop", "postgresql+psycopg://ro:***@db.internal:5432/shop"),
    (f"postgresql://ro@db/shop?password={CANARY}&sslmode=require", "postgresql://ro@db/shop?password=***&sslmode=require"),
    (f"postgresql://ro@db/shop?sslmode=require&PASSWORD={CANARY}", "postgresql://ro@db/shop?sslmode=require&PASSWORD=***"),
    (f"postgresql://ro:p@ss{CANARY}@db/shop", "postgresql://ro:***@db/shop"),  # an unencoded @ in the password
    (f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN_CANARY}&timestamp=1&sign=abc%2Bdef",
     "https://oapi.dingtalk.com/robot/send?access_token=***&timestamp=1&sign=***"),
    (f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={TOKEN_CANARY}",
     "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***"),
    (f"https://open.feishu.cn/open-apis/bot/v2/hook/{TOKEN_CANARY}", "https://open.feishu.cn/open-apis/bot/v2/hook/***"),
    (f"https://x.example/api?token={TOKEN_CANARY}&secret={CANARY}", "https://x.example/api?token=***&secret=***"),
    ("sqlite:////data/reviewops.db", "sqlite:////data/reviewops.db"),
    ("/home/店长/reviewops.db", "/home/店长/reviewops.db"),
    ("postgresql+psycopg://ro@db/shop", "postgresql+psycopg://ro@db/shop"),
])
def test_mask_url_hides_every_secret_part(url: str, shown: str) -> None:
    assert mask_url(url) == shown
    assert mask_url(mask_url(url)) == shown  # idempotent
    assert _safe_url(url) == shown  # the store's old name is the same helper (it missed ?password= before)


def test_redact_secrets_masks_urls_dsn_and_known_values_in_free_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWOPS_PUSH_SECRET", PUSH_CANARY)
    monkeypatch.setenv("REVIEWOPS_SMTP_PASSWORD", SMTP_CANARY)
    monkeypatch.setenv("FEISHU_SIGN_SECRET", "feishu-sign-canary")  # a robot's 加签 secret named by the policy
    monkeypatch.setenv("REVIEWOPS_VAULT_KEY", "ab" * 32)
    monkeypatch.setenv("SOME_TOKEN", "short")  # named like a secret but too short to be matched as free text
    text = (f"Traceback …\nValueError: login {SMTP_CANARY} failed; push {PUSH_CANARY}; sign feishu-sign-canary; "
            f"key {'ab' * 32}; conninfo host=db password={CANARY} dbname=x; url postgresql://u:{CANARY}@h/db; "
            "a short word stays")
    clean = redact_secrets(text)
    assert_clean(clean, CANARY, SMTP_CANARY, PUSH_CANARY, "feishu-sign-canary", "ab" * 32)
    assert "a short word stays" in clean and "host=db password=*** dbname=x" in clean
    assert redact_secrets(clean) == clean and redact_secrets(None) is None
    # the pii key of the test environment is a secret too
    assert os.environ["REVIEWOPS_PII_KEY"] not in redact_secrets(f"key={os.environ['REVIEWOPS_PII_KEY']}!")
    assert os.environ["REVIEWOPS_PII_KEY"] not in redact_secrets(f"the key is {os.environ['REVIEWOPS_PII_KEY']}")


def test_a_password_seen_in_a_url_is_masked_later_in_free_text() -> None:
    bare = "Remembered-" + uuid.uuid4().hex[:8]
    assert redact_secrets(f"driver said {bare}") == f"driver said {bare}"
    resolve_url(f"postgresql://ro:{bare}@db/shop")  # what every Store.open does
    assert redact_secrets(f"driver said {bare}") == "driver said ***"
    enc = "pct%40" + uuid.uuid4().hex[:6]  # percent-encoded in the URL: both spellings are masked
    redact.remember_url(f"postgresql://ro:{enc}@db/shop")
    assert_clean(redact_secrets(f"{enc} / {enc.replace('%40', '@')}"), enc, enc.replace("%40", "@"))


def test_redact_obj_walks_json_and_leaves_images() -> None:
    png = "iVBORw0KGgo" + "A" * 40
    nb = {"cells": [{"source": [f"db = 'postgresql://u:{CANARY}@h/x'\n"],
                     "outputs": [{"data": {"text/plain": [f"postgresql://u:{CANARY}@h/x"], "image/png": png}}]}],
          "metadata": {"papermill": {"parameters": {"db": f"postgresql://u:{CANARY}@h/x"}}}}
    clean = redact_obj(nb)
    assert_clean(json.dumps(clean))
    assert clean["cells"][0]["outputs"][0]["data"]["image/png"] == png


def test_masked_url_and_login_helpers() -> None:
    assert has_masked_secret("postgresql://u:***@h/db") and has_masked_secret("postgresql://u@h/db?password=***")
    assert not has_masked_secret(f"postgresql://u:{CANARY}@h/db") and not has_masked_secret("/data/***.db")
    assert mask_login("reports@shop.example") == "r***@shop.example" and mask_login("admin") == "a***"


# --------------------------------------------------------------------- store errors, status, crash log
@pytest.mark.parametrize("args", [[], ["--json"]])
def test_status_on_an_unreachable_server_never_shows_the_password(capsys, args) -> None:
    url = _pg_url()
    code, out, err = run(capsys, "status", "--db", url, *args)
    assert code == 2 and "127.0.0.1" in err and "ro_user:***@" in err  # says which server, masked
    assert_clean(out + err)


def test_the_query_password_form_and_the_postgres_scheme_are_masked(capsys) -> None:
    port = _closed_port()
    code, out, err = run(capsys, "status", "--db", f"postgres://ro_user@127.0.0.1:{port}/shop?password={CANARY}")
    assert code == 2 and "password=***" in err
    assert_clean(out + err)


@pytest.mark.parametrize("url", [f"mysql://ro:{CANARY}@db/shop", f"postgresql+psycopg://ro:{CANARY}@db:notaport/shop",
                                 f"postgresql+asyncpg://ro@db/shop?password={CANARY}"])
def test_unsupported_or_malformed_urls_are_refused_without_the_password(capsys, url: str) -> None:
    code, out, err = run(capsys, "status", "--db", url)
    assert code == 2 and ("不支持" in err or "无效" in err)
    assert_clean(out + err)


def test_a_masked_url_does_not_connect_unless_it_stands_for_reviewops_db(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _pg_url()
    masked = mask_url(real)
    with pytest.raises(ConfigError, match=r"\*\*\*") as e:
        resolve_url(masked)
    assert_clean(str(e.value))
    monkeypatch.setenv("REVIEWOPS_DB", real.replace("postgresql+psycopg://", "postgresql://"))
    assert resolve_url(masked) == real  # the same database: $REVIEWOPS_DB, normalised
    monkeypatch.setenv("REVIEWOPS_DB", real.replace("/shop", "/other"))  # another database: refused
    with pytest.raises(ConfigError):
        resolve_url(masked)


def test_the_crash_log_masks_the_command_line_and_the_traceback(capsys, monkeypatch, tmp_path: Path) -> None:
    log = tmp_path / "errors.log"
    monkeypatch.setattr(cli, "_log_path", lambda: log)
    monkeypatch.setenv("REVIEWOPS_SMTP_PASSWORD", SMTP_CANARY)
    monkeypatch.setenv("REVIEWOPS_PUSH_SECRET", PUSH_CANARY)
    url = _pg_url()

    def boom(self) -> None:  # an unexpected bug whose message quotes everything
        raise RuntimeError(f"unexpected: {self.url} pw={CANARY!r} bare {CANARY} smtp {SMTP_CANARY} push {PUSH_CANARY}")

    monkeypatch.setattr(Store, "migrate", boom)
    code, out, err = run(capsys, "status", "--db", url)
    assert code == 70 and "internal error" in err
    text = log.read_text(encoding="utf-8")
    assert "RuntimeError" in text and "status --db postgresql+psycopg://ro_user:***@127.0.0.1" in text
    assert_clean(text + out + err, CANARY, SMTP_CANARY, PUSH_CANARY)


def test_log_lines_are_redacted_once_the_cli_runs(capsys, caplog) -> None:
    import logging

    run(capsys, "--version")  # main() installs the redaction
    logging.getLogger("reviewops.test").warning("connect %s failed", f"postgresql://u:{CANARY}@h/db")
    assert "u:***@h" in caplog.text
    assert_clean(caplog.text)


# ------------------------------------------------------------------------------- reviewops run
def _playbook(folder: Path, body: str) -> Path:
    ks = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": ks})
    params = nbformat.v4.new_code_cell('db: str = ""  # 数据库 URL\nweek: str = ""\noutput_dir: str = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "secret_probe.ipynb"
    nbformat.write(nb, path)
    return path


def test_run_hands_the_real_url_to_the_kernel_and_keeps_only_the_masked_one(tmp_path: Path) -> None:
    """The kernel reaches the server (connection refused on a closed port — not "password masked"), while the
    failed notebook, its papermill metadata and its traceback hold only ``***``."""
    pb = _playbook(tmp_path / "pb", "import os, reviewops\n"
                                    "print('PARAM', db)\n"
                                    "print('ENV-HAS-REAL', os.environ['REVIEWOPS_DB'] != db)\n"
                                    "reviewops.Store.open(db)\n")
    out = tmp_path / "out"
    url = _pg_url()
    with pytest.raises(PlaybookFailed) as e:
        run_playbook(pb, {"db": url}, out_dir=out, progress=False)  # as `-p db=URL` (--db would log the run)
    assert "cannot open the database" in e.value.evalue  # it tried the server: the real URL arrived
    assert_clean(str(e.value) + json.dumps(e.value.to_dict()))
    failed = out / "secret_probe.failed.ipynb"
    text = failed.read_text(encoding="utf-8")
    nb = json.loads(text)
    assert nb["metadata"]["papermill"]["parameters"]["db"] == mask_url(url)
    assert "PARAM postgresql+psycopg://ro_user:***@" in text and "ENV-HAS-REAL True" in text
    for name, content in files_text(out).items():
        assert_clean(content)
    assert os.environ.get("REVIEWOPS_DB") != url  # the parent's environment is restored


def test_run_outputs_are_scrubbed_of_environment_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWOPS_SMTP_PASSWORD", SMTP_CANARY)
    monkeypatch.setenv("REVIEWOPS_PUSH_SECRET", PUSH_CANARY)
    pb = _playbook(tmp_path / "pb", "import os\n"
                                    "from reviewops.runner import publish_table\n"
                                    "import pandas as pd\n"
                                    "print('smtp', os.environ['REVIEWOPS_SMTP_PASSWORD'])\n"
                                    "print('push', os.environ['REVIEWOPS_PUSH_SECRET'])\n"
                                    f"print('hook https://open.feishu.cn/open-apis/bot/v2/hook/{TOKEN_CANARY}')\n"
                                    "publish_table('t', pd.DataFrame({'a': [1], 'b': [os.environ['REVIEWOPS_SMTP_PASSWORD']]}),"
                                    " output_dir)\n")
    out = tmp_path / "out"
    res: RunResult = run_playbook(pb, {"week": f"postgresql://u:{CANARY}@h/x"}, out_dir=out, progress=False)
    assert set(res.outputs) >= {"ipynb", "html", "xlsx", "json", "file:t.csv"}
    texts = files_text(out)
    assert "smtp ***" in texts["secret_probe.ipynb"] and "hook/***" in texts["secret_probe.html"]
    assert "\"1\",\"***\"" in texts["t.csv"] and "***" in texts["secret_probe.xlsx:xl/sharedStrings.xml"]  # table cells too
    for content in texts.values():
        assert_clean(content, CANARY, SMTP_CANARY, PUSH_CANARY, TOKEN_CANARY)


# -------------------------------------------------------------------------------------- mail
class _FakeSmtp:
    error: Exception

    def __init__(self, *a, **k) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *a) -> None:
        return None

    def ehlo(self) -> None:
        return None

    def login(self, user: str, password: str) -> None:
        raise type(self).error


@pytest.mark.parametrize("error", [
    smtplib.SMTPAuthenticationError(535, b"bad credentials"),
    smtplib.SMTPException(f"server echoed AUTH for reports@shop.example / {SMTP_CANARY}"),
    OSError(f"socket error after login {SMTP_CANARY}"),
])
def test_mail_errors_never_show_the_smtp_password_or_login(tmp_path: Path, monkeypatch, error) -> None:
    monkeypatch.setattr(smtplib, "SMTP_SSL", _FakeSmtp)
    _FakeSmtp.error = error
    html = tmp_path / "r.html"
    html.write_text("<html></html>", encoding="utf-8")
    now = dt.datetime.now(dt.UTC)
    result = RunResult(playbook="p", params={}, outputs={"html": html}, started=now, finished=now)
    cfg = SmtpConfig(host="smtp.shop.example", port=465, security="ssl", user="reports@shop.example",
                     password=SMTP_CANARY, sender="reports@shop.example")
    with pytest.raises(DeliveryFailed) as e:
        send_report(result, "lead@shop.example", cfg)
    assert_clean(str(e.value), SMTP_CANARY, "reports@shop.example")
    assert "r***@shop.example" in str(e.value) or "OSError" in str(e.value)  # the login named, masked


# ------------------------------------------------------------------------ alerts and the watcher
def test_the_alert_ledger_and_watch_never_keep_a_token_or_signing_secret(
        sqlite_store: Store, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBOT_SIGN_SECRET", PUSH_CANARY)
    monkeypatch.setenv("REVIEWOPS_PUSH_SECRET", PUSH_CANARY)
    hook = f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN_CANARY}"
    policy_with(sqlite_store, [{"name": "kf", "type": "dingtalk", "target": hook, "secret_env": "ROBOT_SIGN_SECRET"}])
    results = import_file(sqlite_store, write_export(tmp_path / "r.csv", review_rows(0, 2)))
    policy = current_policy(sqlite_store)
    triage_store(sqlite_store, policy=policy, batch_ids=[r.batch_id for r in results],
                 on_case=alerts.case_alert_hook(policy, source="folder", arrived_at=None))
    rec = Recorder()
    rec.fail.append(ChannelError(f"钉钉 HTTP 403 at {hook}&timestamp=1&sign=abc secret {PUSH_CANARY}",
                                 channel="kf", retryable=False, code="403"))
    res = alerts.dispatch(sqlite_store, channels={"kf": rec})
    assert res.dead == 1
    assert_clean(" ".join(res.errors), TOKEN_CANARY, PUSH_CANARY)
    with sqlite_store.read() as conn:
        errors = [r.last_error for r in conn.execute(sa.select(alert_deliveries.c.last_error))]
    assert errors and "access_token=***" in errors[0]
    assert_clean(" ".join(errors), TOKEN_CANARY, PUSH_CANARY)
    db = sqlite_store.url
    for args in (["--status"], ["--status", "--json"], ["--dead"], ["--dead", "--json"]):
        code, out, err = run(capsys, "watch", *args, "--db", db)
        assert_clean(out + err, TOKEN_CANARY, PUSH_CANARY)


# ------------------------------------------------------------------------------------------- lab
def test_the_lab_printout_masks_the_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from jupyterlab.labapp import LabApp
    from reviewops import lab

    monkeypatch.setattr(lab, "_is_root", lambda: False)
    monkeypatch.setattr(LabApp, "launch_instance", classmethod(lambda cls, argv=None: None))
    opened = []
    monkeypatch.setattr(Store, "open", classmethod(lambda cls, db=None, **k: opened.append(db) or Store(
        sa.create_engine("sqlite://"), resolve_url(db))))
    lines: list[str] = []
    url = _pg_url()
    lab.run_lab(tmp_path / "lab", db=url, open_browser=False, echo=lines.append)
    text = "\n".join(lines)
    assert opened == [url] and "ro_user:***@127.0.0.1" in text
    assert_clean(text)


# ---------------------------------------------------------------------------------- PostgreSQL
@pytest.fixture
def canary_pg(pg_db_url: str, _pg_admin_engine: sa.Engine) -> tuple[str, str]:
    """(URL, password) of the per-test database, reached by a role whose password is the canary when the
    test server lets us create roles; otherwise the test role's own (random, secret) password is the canary."""
    url = sa.make_url(pg_db_url)
    role = f"ro_canary_{uuid.uuid4().hex[:8]}"
    try:
        with _pg_admin_engine.connect() as conn:
            conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{CANARY}'")
            conn.exec_driver_sql(f'GRANT ALL ON DATABASE "{url.database}" TO {role}')
        with sa.create_engine(url, poolclass=sa.pool.NullPool).connect() as conn:
            conn.exec_driver_sql(f"GRANT ALL ON SCHEMA public TO {role}")
            conn.commit()
    except sa.exc.DBAPIError:  # no CREATEROLE (the CI role): its own password is the canary
        yield pg_db_url, str(url.password)
        return
    try:
        yield url.set(username=role, password=CANARY).render_as_string(hide_password=False), CANARY
    finally:
        with _pg_admin_engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")


@pytest.mark.postgres
def test_pg_status_and_demo_never_print_the_password(canary_pg, capsys) -> None:
    url, password = canary_pg
    for args in (["status"], ["status", "--json"]):
        code, out, err = run(capsys, *args, "--db", url)
        assert code == 0 and ":***@" in out
        assert_clean(out + err, password)
    assert json.loads(run(capsys, "status", "--json", "--db", url)[1])["db"] == mask_url(url)
    code, out, err = run(capsys, "demo", "--scale", "0.02", "--limit", "2", "--db", url, "--demo-password",
                         "demo-pass-123")
    assert code == 0 and ":***@" in out
    assert_clean(out + err, password)
    code, out, err = run(capsys, "demo", "--scale", "0.02", "--limit", "0", "--json", "--db", url)
    assert json.loads(out)["db"] == mask_url(url)
    assert_clean(out + err, password)


@pytest.mark.postgres
def test_pg_run_connects_through_the_environment_and_writes_no_password(canary_pg, tmp_path: Path, capsys) -> None:
    url, password = canary_pg
    with Store.open(url):
        pass
    pb = _playbook(tmp_path / "pb", "import reviewops\nfrom reviewops.runner import save_table\n"
                                    "store = reviewops.Store.open(db)\n"
                                    "counts = store.counts()\n"
                                    "print('DB', db, store.url == db, store.dialect)\n"
                                    "import pandas as pd\n"
                                    "save_table('counts', pd.DataFrame({'table': list(counts), 'rows': list(counts.values())}))\n")
    out = tmp_path / "out"
    code, stdout, err = run(capsys, "run", str(pb), "--db", url, "--out", str(out), "--json", "--no-progress")
    assert code == 0, err
    texts = files_text(out)
    assert {"secret_probe.ipynb", "secret_probe.html", "secret_probe.json"} <= set(texts)
    assert any(k.startswith("secret_probe.xlsx:") for k in texts)
    assert "DB postgresql+psycopg://" in texts["secret_probe.ipynb"] and "False postgresql" in texts["secret_probe.ipynb"]
    for content in [*texts.values(), stdout, err]:
        assert_clean(content, password)
    # the failed-notebook path: the same with a cell that fails after connecting
    bad = _playbook(tmp_path / "bad", "import reviewops\nstore = reviewops.Store.open(db)\n"
                                      "raise RuntimeError('after connecting to ' + store.url)\n")
    code, stdout, err = run(capsys, "run", str(bad), "--db", url, "--out", str(tmp_path / "out2"), "--no-progress")
    assert code == 2 and "after connecting to postgresql+psycopg://" in err
    texts = files_text(tmp_path / "out2")
    assert "secret_probe.failed.ipynb" in texts
    for content in [*texts.values(), stdout, err]:
        assert_clean(content, password)


@pytest.mark.postgres
def test_pg_serve_banner_from_start_to_stop(canary_pg, tmp_path: Path) -> None:
    from reviewops.core.users import add_user

    url, password = canary_pg
    with Store.open(url) as s:
        add_user(s, "alice", role="agent", password="alice-pass-123", actor="test")
    forms = tmp_path / "forms"
    forms.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# hi")],
                                            metadata={"kernelspec": {"name": "python3", "display_name": "P",
                                                                     "language": "python"}}), forms / "hi.ipynb")
    port = _closed_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HTTP_", "VOILA_"))}
    outp, errp = tmp_path / "serve.out", tmp_path / "serve.err"
    proc = subprocess.Popen([sys.executable, "-m", "reviewops", "serve", "--db", url, "--port", str(port),
                             "--forms-dir", str(forms), "--preheat", "0"], env=env, cwd=tmp_path,
                            stdout=outp.open("wb"), stderr=errp.open("wb"),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509
    try:
        deadline = time.time() + 60
        while "工作台" not in outp.read_text(encoding="utf-8", errors="replace") and time.time() < deadline:
            assert proc.poll() is None, errp.read_text()
            time.sleep(0.2)
        while time.time() < deadline:  # listening
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    text = outp.read_text(encoding="utf-8", errors="replace") + errp.read_text(encoding="utf-8", errors="replace")
    assert "数据库 database: postgresql+psycopg://" in text and ":***@" in text and "已停止" in text
    assert_clean(text, password)
