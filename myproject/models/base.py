"""Declarative building blocks: CRUD helpers and UTC timestamps for every model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Self

from sqlalchemy import DateTime, Integer
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from myproject.extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


def _same_as_created(context: Any) -> datetime:
    created: datetime | None = context.get_current_parameters().get("created_at")
    return created if created is not None else utcnow()


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; pass a timezone-aware value")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class CRUDMixin:
    """Create, update, save and delete, each committing unless ``commit=False``."""

    @classmethod
    def create(cls, commit: bool = True, **kwargs: Any) -> Self:
        instance = cls(**kwargs)
        return instance.save(commit=commit)

    def update(self, commit: bool = True, **kwargs: Any) -> Self:
        for attr, value in kwargs.items():
            setattr(self, attr, value)
        return self.save(commit=commit)

    def save(self, commit: bool = True) -> Self:
        db.session.add(self)
        if commit:
            db.session.commit()
        else:
            db.session.flush()
        return self

    def delete(self, commit: bool = True) -> None:
        db.session.delete(self)
        if commit:
            db.session.commit()
        else:
            db.session.flush()


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    # A new row's updated_at equals its created_at; every later UPDATE moves it.
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=_same_as_created, onupdate=utcnow, nullable=False
    )


class Model(CRUDMixin, db.Model):  # type: ignore[name-defined]
    __abstract__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class TimestampModel(TimestampMixin, Model):
    __abstract__ = True
