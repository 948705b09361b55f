"""What makes a table an API resource, declared once beside its model (docs/resources.md).

Generic code reads the declarations instead of keeping its own list of tables: the response
cache (``cached``), idempotent POSTs (``idempotent_creates``), the 201 answer and ETag
(``serialize``, ``view``, ``etag``, ``private``), problem details (``not_found``,
``forbidden``, ``unique``), Socket.IO (``broadcast``) and the append-only guard
(``append_only``: the ORM refuses to update or delete such rows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

_DECLARED: dict[str, Resource] = {}


@dataclass(frozen=True)
class Broadcast:
    """Real-time events: ``<name>.created`` and ``<name>.updated`` carry the representation,
    ``<name>.deleted`` carries ``{"id"}``; each goes to ``room`` and to the owner's
    ``user:<id>`` room."""

    name: str
    room: str
    owner_id: Callable[[dict[str, Any]], int]  # read from the representation


@dataclass(frozen=True)
class Resource:
    model: type[Any]
    title: str  # "Item": "Item 9 does not exist."
    serialize: Callable[[Any], dict[str, Any]]  # the full representation: the wire shape
    view: str | None  # the endpoint of one row ("items.ItemById"): the Location of a created row
    id_arg: str | None  # that endpoint's id argument ("item_id"); None: rows are only listed
    forbidden: str  # the 403 detail for a caller who may not change a row
    cached: bool = False  # public reads show it: a committed change invalidates the cache
    idempotent_creates: bool = False  # a POST with Idempotency-Key stores its 201 for replay
    etag: bool = False  # answers carry a strong ETag of their body
    private: bool = False  # the representation is the owner's own: Cache-Control: no-store
    unique: Mapping[str, str] = field(default_factory=dict)  # constraint -> field (409)
    broadcast: Broadcast | None = None
    append_only: bool = False  # rows are inserted, never updated or deleted through the ORM

    def __post_init__(self) -> None:
        if self.table in _DECLARED:
            raise ValueError(f"resource {self.table!r} is declared twice")
        _DECLARED[self.table] = self

    @property
    def table(self) -> str:
        name: str = self.model.__tablename__
        return name

    def not_found(self, row_id: Any) -> str:
        return f"{self.title} {row_id} does not exist."


def resources() -> Iterator[Resource]:
    """Every declared resource (all are declared once ``myproject.models`` is imported)."""
    return iter(tuple(_DECLARED.values()))


def resource_of(table: str) -> Resource | None:
    """The resource stored in ``table``; None for tables that are no resource."""
    return _DECLARED.get(table)


class AppendOnlyError(RuntimeError):
    """A flush would update or delete a row of an ``append_only`` resource."""


@event.listens_for(Session, "before_flush")
def _refuse_changes_to_append_only_rows(session: Session, _context: Any, _instances: Any) -> None:
    # Retention purges with a bulk DELETE statement, which is not an ORM change of a row.
    for row in (*session.dirty, *session.deleted):
        resource = resource_of(getattr(row, "__tablename__", ""))
        if resource is None or not resource.append_only:
            continue
        if row in session.deleted or session.is_modified(row):
            raise AppendOnlyError(f"{resource.table} rows are append-only: {row!r}")
