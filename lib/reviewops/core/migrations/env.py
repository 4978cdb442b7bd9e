"""Alembic environment: migrations run on the connection the Store hands over."""

from alembic import context
from reviewops.core.store import metadata

target_metadata = metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:  # pragma: no cover - the Store always passes one
        raise RuntimeError("reviewops migrations run through reviewops.Store.open(), not the alembic CLI")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()


run_migrations_online()
