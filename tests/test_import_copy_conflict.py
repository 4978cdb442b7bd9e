"""PostgreSQL COPY errors read like every other statement's (issue 21, two watchers on one store).

The importer writes new rows with ``COPY … FROM STDIN`` on the raw psycopg connection, whose errors are the
driver's own classes. A watcher retries an import that met another watcher's rows on SQLAlchemy's
``IntegrityError``; a raw ``psycopg.errors.UniqueViolation`` escaped that retry and answered a push with 500
in a clean-clone CI run of tests/test_watch_multi.py. These tests pin the translation."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from reviewops.intake import ingest

pytestmark = pytest.mark.postgres


def _table(engine: sa.Engine) -> sa.Table:
    md = sa.MetaData()
    t = sa.Table("copy_probe", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("k", sa.Text, unique=True))
    md.create_all(engine)
    return t


def test_a_copy_meeting_a_committed_unique_key_raises_sqlalchemys_integrity_error(pg_db_url: str) -> None:
    engine = sa.create_engine(pg_db_url)
    try:
        t = _table(engine)
        with engine.begin() as conn:
            conn.execute(t.insert().values(id=1, k="R1"))
        with pytest.raises(sa.exc.IntegrityError) as info, engine.begin() as conn:
            ingest._insert_columns(conn, t, {"id": [2, 3], "k": ["R2", "R1"]}, 2)
        assert type(info.value.orig).__name__ == "UniqueViolation"
        with engine.connect() as conn:  # all or nothing: R2 was not kept either
            assert conn.execute(sa.select(t.c.k).order_by(t.c.k)).scalars().all() == ["R1"]
    finally:
        engine.dispose()


def test_a_copy_without_conflict_still_writes_every_row(pg_db_url: str) -> None:
    engine = sa.create_engine(pg_db_url)
    try:
        t = _table(engine)
        with engine.begin() as conn:
            ingest._insert_columns(conn, t, {"id": [1, 2, 3], "k": ["a\tb", "c\\d", None]}, 3)
        with engine.connect() as conn:
            assert conn.execute(sa.select(t.c.k).order_by(t.c.id)).scalars().all() == ["a\tb", "c\\d", None]
    finally:
        engine.dispose()
