"""Database foundations: the constraint naming convention, a UTC timestamp type, the base model, and the
primitives that serialize concurrent writes (row locks, unique violations as field messages)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase

from psa.core import clock

#: Every constraint gets a predictable name, so migrations name things alike on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current instant, timezone-aware, in UTC (psa.core.clock.now, which tests can freeze)."""
    return clock.now()


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp stored in UTC; refuses naive datetimes so local times never sneak in."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"{value!r} must be a timezone-aware datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Model(DeclarativeBase):
    """Base of every PSA model."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    #: Fields shown by repr(); each model names one or two key fields.
    __repr_fields__: tuple[str, ...] = ()

    def __repr__(self) -> str:
        fields = " ".join(f"{name}={getattr(self, name, None)!r}" for name in self.__repr_fields__)
        return f"<{type(self).__name__} {getattr(self, 'id', None)}{' ' + fields if fields else ''}>"


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, lower-cased, with %, _ and \\ taken literally (escape='\\')."""
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# --- serializing concurrent writes ---------------------------------------------------------------
# Two requests changing the same thing at once must apply one after the other. On PostgreSQL a row is
# locked with SELECT … FOR UPDATE. SQLite has one lock for the whole database: pysqlite begins its
# transaction lazily, at the first INSERT/UPDATE/DELETE, and runs the reads before it in autocommit, so
# a transaction that must read and then write takes the write lock first (BEGIN IMMEDIATE), waiting up
# to the busy timeout set in psa/__init__.py for the writer ahead of it to commit.


def _session():
    from psa.extensions import db

    return db.session


def begin_write() -> None:
    """Make the current transaction a writer now. On SQLite that takes the database's write lock (until
    commit or rollback), so what it reads next is what it writes on; on PostgreSQL it does nothing."""
    connection = _session().connection()
    if connection.dialect.name != "sqlite":
        return
    if not connection.connection.dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def lock(stmt):
    """The first object `stmt` (a select of one model) finds, or None, locked until the transaction ends
    and loaded with the values committed now (populate_existing), not with what the session held before."""
    begin_write()
    entity = stmt.column_descriptions[0]["entity"]
    return _session().scalars(
        stmt.with_for_update(of=entity).execution_options(populate_existing=True)).first()


def lock_row(model, row_id):
    """The row of `model` with this id, locked for the rest of the transaction and freshly loaded (or None)."""
    return lock(sa.select(model).where(model.id == row_id))


def _violated(exc: IntegrityError) -> str | None:
    """The name of the unique constraint (or index) an IntegrityError violated; for SQLite, which names
    the columns instead ("UNIQUE constraint failed: accounts.name"), "accounts.name"."""
    diag = getattr(exc.orig, "diag", None)
    if diag is not None:  # psycopg
        return diag.constraint_name if getattr(exc.orig, "sqlstate", None) == "23505" else None
    message = str(exc.orig.args[0] if exc.orig.args else "")
    prefix = "UNIQUE constraint failed: "
    if not message.startswith(prefix):
        return None
    found = message[len(prefix):].strip()
    return found[len("index "):].strip("'") if found.startswith("index ") else found


def _reported_as(name: str) -> set[str]:
    """The names a violation of this unique constraint (or index) is reported under: its own (PostgreSQL) and
    its columns (SQLite)."""
    names = {name}
    for table in Model.metadata.tables.values():
        for item in (*table.constraints, *table.indexes):
            if item.name == name and isinstance(item, sa.UniqueConstraint | sa.Index):
                names.add(", ".join(f"{table.name}.{column.name}" for column in item.columns))
    return names


@contextmanager
def unique_or_field_error(fields: dict[str, str | tuple[str, str]]):
    """Run the block in a SAVEPOINT and flush it; if that breaks one of the named unique constraints, undo
    the block and raise ValidationError at the field the constraint guards, never a 500. `fields` maps a
    constraint name to a field, or to (field, message). Other integrity errors propagate unchanged.

        with unique_or_field_error({"uq_accounts_name": ("name", "An account with this name already exists.")}):
            db.session.add(account)
    """
    from psa.core.errors import ValidationError

    session = _session()
    begin_write()  # on SQLite a SAVEPOINT must not open the transaction: releasing it would commit
    try:
        with session.begin_nested():
            yield
    except IntegrityError as exc:
        violated = _violated(exc)
        for name, target in fields.items():
            if violated is not None and violated in _reported_as(name):
                field, message = target if isinstance(target, tuple) else (target, "This already exists.")
                raise ValidationError({field: message}) from None
        raise
