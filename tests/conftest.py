"""Fixtures shared by the whole test suite.

Backends
--------
``store`` and ``db_url`` are parametrized over the two supported backends:

* ``sqlite``   – a fresh database file under the test's ``tmp_path``;
* ``postgres`` – a fresh, empty database created for this one test on the
  server named by ``REVIEWOPS_TEST_PG_URL`` and dropped afterwards.  These
  params carry the ``postgres`` marker (``-m "not postgres"`` deselects them).

Without ``REVIEWOPS_TEST_PG_URL`` the postgres params are *skipped*, except when
``CI=true``: there a missing or unreachable server makes them *fail*, so CI can
never silently skip PostgreSQL.  ``.ci/run`` starts a throwaway server; locally
``source .ci/pg-start.sh && reviewops_pg_start`` does the same.

Use ``sqlite_store`` / ``sqlite_db_url`` for SQLite-only behaviour and
``pg_db_url`` for PostgreSQL-only behaviour.

Isolation
---------
Every test runs with ``REVIEWOPS_DB`` pointing into its ``tmp_path`` and
``XDG_DATA_HOME`` redirected there too, so nothing can touch the user's real
data directory; ``REVIEWOPS_PII_KEY`` is a fixed key (:data:`TEST_PII_KEY_HEX`)
so keyed hashes are deterministic; ``REVIEWOPS_MULTI_USER`` is unset.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from reviewops.core.store import Store

#: Fixed PII hash key used by every test (hex, 32 bytes).
TEST_PII_KEY_HEX = "5e" * 8 + "0123456789abcdef" * 3

PG_URL_ENV = "REVIEWOPS_TEST_PG_URL"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on")


# ----------------------------------------------------------------- isolation
@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Autouse: pin the PII key and keep every test away from the real data dir.

    ``REVIEWOPS_DB`` points at ``<tmp_path>/default/reviewops.db`` (what
    ``Store.open()`` without arguments opens), ``XDG_DATA_HOME`` at
    ``<tmp_path>/xdg-data`` (where ``default_db_path()`` would look), and
    ``XDG_CONFIG_HOME`` at ``<tmp_path>/xdg-config`` (where the vault key file is made) and
    ``REVIEWOPS_MULTI_USER`` is removed so each test chooses the mode itself.
    """
    monkeypatch.setenv("REVIEWOPS_PII_KEY", TEST_PII_KEY_HEX)
    monkeypatch.setenv("REVIEWOPS_DB", str(tmp_path / "default" / "reviewops.db"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))  # the vault key file lands here
    monkeypatch.delenv("REVIEWOPS_VAULT_KEY", raising=False)
    monkeypatch.delenv("REVIEWOPS_VAULT_KEY_FILE", raising=False)
    monkeypatch.delenv("REVIEWOPS_MULTI_USER", raising=False)


@pytest.fixture
def pii_key_hex() -> str:
    """The fixed ``REVIEWOPS_PII_KEY`` (hex) that every test runs with."""
    return TEST_PII_KEY_HEX


# ------------------------------------------------------------------- SQLite
@pytest.fixture
def sqlite_db_url(tmp_path: Path) -> str:
    """URL of a fresh (not yet created) SQLite file: ``sqlite:///<tmp_path>/reviewops.db``."""
    return f"sqlite:///{tmp_path / 'reviewops.db'}"


@pytest.fixture
def sqlite_store(sqlite_db_url: str) -> Iterator[Store]:
    """An open, migrated :class:`Store` on a fresh SQLite file (SQLite-only tests)."""
    store = Store.open(sqlite_db_url)
    try:
        yield store
    finally:
        store.close()


# --------------------------------------------------------------- PostgreSQL
@pytest.fixture(scope="session")
def pg_server_url() -> sa.engine.URL:
    """The PostgreSQL server of ``REVIEWOPS_TEST_PG_URL`` (checked reachable once per session).

    Skips when the variable is unset, but *fails* when ``CI=true``; an
    unreachable server always fails (a set URL is a promise that it works).
    The role needs ``CREATEDB``: each test gets its own database.
    """
    raw = os.environ.get(PG_URL_ENV, "").strip()
    if not raw:
        msg = (f"{PG_URL_ENV} is not set: PostgreSQL tests need a server "
               f"(run `source .ci/pg-start.sh && reviewops_pg_start`, or `bash .ci/run`)")
        if _in_ci():
            pytest.fail(f"CI=true but {msg}; refusing to skip the PostgreSQL backend", pytrace=False)
        pytest.skip(msg)
    url = sa.make_url(raw)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.drivername != "postgresql+psycopg":
        pytest.fail(f"{PG_URL_ENV} must be a postgresql+psycopg:// URL, got {url.drivername}://", pytrace=False)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as e:  # noqa: BLE001 - reported as a test failure
        pytest.fail(f"{PG_URL_ENV} ({url.render_as_string(hide_password=True)}) is not reachable: {e}",
                    pytrace=False)
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def _pg_admin_engine(pg_server_url: sa.engine.URL) -> Iterator[sa.Engine]:
    """Autocommit maintenance connection used to create and drop the per-test databases."""
    engine = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def pg_db_url(request: pytest.FixtureRequest, pg_server_url: sa.engine.URL,
              _pg_admin_engine: sa.Engine) -> Iterator[str]:
    """URL of a brand-new, empty PostgreSQL database for this test only.

    The database (``rt_<test name>_<random>``) is created from the server's
    template, so Alembic migrations start from nothing exactly as on a new
    install; it is dropped ``WITH (FORCE)`` after the test, which also ends
    connections a test (or a child process of it) left open.
    """
    stem = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:36]
    name = f"rt_{stem}_{uuid.uuid4().hex[:10]}"
    with _pg_admin_engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield pg_server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        for attempt in range(5):
            try:
                with _pg_admin_engine.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                break
            except sa.exc.DBAPIError:
                # a server-side process of another role (e.g. autovacuum on a server not started by
                # .ci/pg-start.sh) still holds the database for a moment
                if attempt == 4:
                    raise
                time.sleep(0.5 * (attempt + 1))


# ----------------------------------------------------------- both backends
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Name of the backend under test: ``"sqlite"`` or ``"postgres"`` (parametrized)."""
    return request.param


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest) -> str:
    """URL of a fresh, empty database on the backend under test (not yet migrated).

    ``sqlite`` → a new file under ``tmp_path``; ``postgres`` → a new database
    on ``REVIEWOPS_TEST_PG_URL`` (see :func:`pg_db_url`).
    """
    if backend == "sqlite":
        return request.getfixturevalue("sqlite_db_url")
    return request.getfixturevalue("pg_db_url")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """An open, migrated :class:`Store` on a fresh database, once per backend.

    Tests that use it run twice: ``[sqlite]`` and ``[postgres]``.
    """
    s = Store.open(db_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def open_store(db_url: str) -> Iterator[Callable[..., Store]]:
    """Factory: ``open_store(**kw)`` opens another :class:`Store` on ``db_url``.

    For tests that need several handles on one database (e.g. two "users");
    every handle is closed at teardown. Keyword arguments go to ``Store.open``.
    """
    opened: list[Store] = []

    def _open(**kw: object) -> Store:
        s = Store.open(db_url, **kw)  # type: ignore[arg-type]
        opened.append(s)
        return s

    try:
        yield _open
    finally:
        for s in opened:
            s.close()
