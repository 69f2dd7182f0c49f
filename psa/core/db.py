"""Database foundations: the constraint naming convention, a UTC timestamp type, the base model."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

#: Every constraint gets a predictable name, so migrations name things alike on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return datetime.now(UTC)


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
