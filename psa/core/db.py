"""Database foundations: the constraint naming convention, a UTC timestamp type, the base model, and the
primitives that serialize concurrent writes (row locks, unique violations as field messages)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql import operators

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


class ExactNumeric(sa.types.TypeDecorator):
    """An exact decimal with `scale` places (money, percentages, hours): NUMERIC(precision, scale) on
    PostgreSQL; on SQLite, whose NUMERIC keeps a float, an INTEGER holding value × 10^scale (cents for
    money), so values and SQL sums stay exact. Reads give a Decimal with exactly `scale` places.

    Binding refuses floats, NaN/infinity, more places than `scale` (never rounds) and values beyond the
    precision. In SQL the column may be compared, added to or subtracted from its like, summed
    (sa.func.sum keeps this type) and multiplied by a whole number; anything else (division, products of
    two decimals) would be off by a power of ten on SQLite, so it is refused when the query is built."""

    impl = sa.Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int):
        super().__init__(precision=precision, scale=scale, asdecimal=True)
        self.precision, self.scale = precision, scale
        self._unit = Decimal(1).scaleb(-scale)

    @property
    def largest(self) -> Decimal:
        """The largest value the column holds (9999999999.99 for ExactNumeric(12, 2))."""
        return Decimal(10 ** self.precision - 1).scaleb(-self.scale)

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Integer())
        return dialect.type_descriptor(sa.Numeric(self.precision, self.scale, asdecimal=True))

    def exact(self, value) -> Decimal:
        """The value as a Decimal with exactly `scale` places; ValueError if that would change it."""
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise ValueError(f"{value!r} is not an exact number (int or Decimal)")
        number = Decimal(value)
        if not number.is_finite():
            raise ValueError(f"{value!r} is not a finite number")
        if not number.is_zero() and number.adjusted() >= self.precision - self.scale:
            raise ValueError(f"{value!r} is beyond NUMERIC({self.precision}, {self.scale})")
        quantized = number.quantize(Decimal(1).scaleb(-self.scale))
        if quantized != number:
            raise ValueError(f"{value!r} has more than {self.scale} decimal places")
        return quantized.copy_abs() if quantized.is_zero() else quantized  # -0.00 is 0.00

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        number = self.exact(value)
        if dialect.name == "sqlite":
            return int(number.scaleb(self.scale))
        return number

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            if not isinstance(value, int):  # a float would mean inexact arithmetic somewhere
                raise ValueError(f"{value!r} read from an exact column is not a whole number of units")
            return Decimal(value).scaleb(-self.scale)
        number = value if type(value) is Decimal else Decimal(value)
        # exactly `scale` places: fewer are padded (5 → 5.00); more are kept as read unless they are zeros (a
        # quantize and a comparison: a report reads tens of thousands of these, as_tuple() cost twice as much)
        quantized = number.quantize(self._unit)
        return quantized if quantized == number else number

    def coerce_compared_value(self, op, value):
        if isinstance(value, float):
            raise TypeError(f"{value!r} is a float; exact columns take int or Decimal")
        if op in (operators.mul, operators.truediv, operators.floordiv, operators.mod):
            if isinstance(value, int) and not isinstance(value, bool):
                return sa.Integer()
            raise TypeError(f"{type(self).__name__} may be multiplied only by a whole number, not {value!r}")
        return self

    class comparator_factory(sa.types.TypeDecorator.Comparator, sa.Numeric.Comparator):
        def _adapt_expression(self, op, other_comparator):
            if op in (operators.truediv, operators.floordiv, operators.mod):
                raise TypeError("Dividing an ExactNumeric column in SQL is not exact on SQLite; "
                                "sum in SQL and divide the Decimal in Python")
            if op is operators.mul and not isinstance(other_comparator.type, sa.Integer):
                raise TypeError("An ExactNumeric column may be multiplied in SQL only by a whole number")
            if op in (operators.add, operators.sub) and not (
                    isinstance(other_comparator.type, ExactNumeric) and other_comparator.type.scale == self.type.scale):
                raise TypeError("An ExactNumeric column adds only to an ExactNumeric of the same scale")
            return op, self.type


def exact_between(column: str, type_: ExactNumeric, low, high) -> sa.ColumnElement[bool]:
    """A CHECK condition `low <= column <= high` on an ExactNumeric column, its bounds written in the units
    the column stores on each database (168 on PostgreSQL, 16800 on SQLite for ExactNumeric(5, 2))."""
    value = sa.column(column, type_)
    return sa.and_(value >= Decimal(low), value <= Decimal(high))


class Model(DeclarativeBase):
    """Base of every PSA model."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    #: Fields shown by repr(); each model names one or two key fields.
    __repr_fields__: tuple[str, ...] = ()

    def __repr__(self) -> str:
        fields = " ".join(f"{name}={getattr(self, name, None)!r}" for name in self.__repr_fields__)
        return f"<{type(self).__name__} {getattr(self, 'id', None)}{' ' + fields if fields else ''}>"


def among(column, ids, dialect: str) -> sa.ColumnElement[bool]:
    """`column` IN the ids: on PostgreSQL one array parameter (= ANY), not a parameter per id (a thousand ids
    would be rendered, sent and parsed one by one)."""
    ids = list(ids)
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return column == sa.any_(sa.bindparam(None, ids, type_=postgresql.ARRAY(sa.Integer)))
    return column.in_(ids)


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
