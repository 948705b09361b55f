from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import DDL, ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from myproject.models.base import TimestampModel
from myproject.models.resource import Broadcast, Resource

if TYPE_CHECKING:
    from myproject.models.user import User


class Item(TimestampModel):
    __tablename__ = "items"
    __table_args__ = (
        Index("ix_items_name_category", "name", "category"),
        # The default order: newest first, id as the tiebreaker.
        Index("ix_items_created_at_id", "created_at", "id"),
        # `q` on PostgreSQL: trigram GIN indexes, one per column, so `name ILIKE ... OR
        # description ILIKE ...` is a BitmapOr of two index scans (migration 0008).
        *(
            Index(
                f"ix_items_{column}_trgm",
                column,
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
                info={"only_on": "postgresql"},  # for autogenerate (migrations/env.py)
            ).ddl_if(dialect="postgresql")
            for column in ("name", "description")
        ),
    )

    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    category: Mapped[str | None] = mapped_column(String(50), nullable=True, index=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )

    user: Mapped[User] = relationship(back_populates="items")

    def __repr__(self) -> str:
        return f"<Item {self.id} {self.name!r}>"

    @property
    def owner_id(self) -> int:
        return self.user_id

    @property
    def owner_username(self) -> str:
        return self.user.username

    def to_dict(self) -> dict[str, Any]:
        """The item as clients receive it (see ``item_dict``)."""
        return item_dict(self)

    @staticmethod
    def dict_columns() -> tuple[Any, ...]:
        """The columns ``item_dict`` reads, under the names it reads them by. Reads select
        these (joined to ``users``) instead of loading ORM objects, which cost more than the
        query; a test holds ``item_dict(row) == item.to_dict()``."""
        from myproject.models.user import User

        return (
            Item.id,
            Item.name,
            Item.description,
            Item.category,
            Item.user_id.label("owner_id"),
            User.username.label("owner_username"),
            Item.created_at,
            Item.updated_at,
        )


# `metadata.create_all` (the tests) needs the extension before the trigram indexes.
event.listen(
    Item.__table__,
    "before_create",
    DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"),
)


def item_dict(item: Any) -> dict[str, Any]:
    """The one definition of an item's wire shape, from an ``Item`` or a row of
    ``Item.dict_columns()`` (``ItemSchema`` documents it; a test holds the two equal)."""
    return {
        "id": item.id,
        "name": item.name,
        "description": item.description,
        "category": item.category,
        "owner": {"id": item.owner_id, "username": item.owner_username},
        "created_at": item.created_at.isoformat(),
        "updated_at": item.updated_at.isoformat(),
    }


ITEMS = Resource(
    Item,
    title="Item",
    serialize=item_dict,
    view="items.ItemById",
    id_arg="item_id",
    forbidden="Only the item's owner or an admin may change it.",
    cached=True,
    idempotent_creates=True,
    etag=True,
    broadcast=Broadcast("item", room="items", owner_id=lambda item: item["owner"]["id"]),
)
