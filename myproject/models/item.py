from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from myproject.models.base import TimestampModel

if TYPE_CHECKING:
    from myproject.models.user import User


class Item(TimestampModel):
    __tablename__ = "items"
    __table_args__ = (
        Index("ix_items_name_category", "name", "category"),
        # The default order: newest first, id as the tiebreaker.
        Index("ix_items_created_at_id", "created_at", "id"),
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "category": self.category,
            "owner": {"id": self.user.id, "username": self.user.username},
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }
