"""Socket.IO rooms: the room of each resource declared with a ``broadcast`` (``items``) and
``user:<id>`` (what one user's rows do); ``join``/``leave`` answer through the
acknowledgement."""

from __future__ import annotations

from typing import Any

from flask_socketio import join_room, leave_room

from myproject.extensions import db
from myproject.models import User
from myproject.models.resource import resources
from myproject.models.user import USERS

USER_ROOM_PREFIX = "user:"


def user_room(user_id: int) -> str:
    return f"{USER_ROOM_PREFIX}{user_id}"


def on_join(data: Any = None) -> dict[str, Any]:
    room = _room_of(data)
    if isinstance(room, dict):
        return room
    join_room(room)
    return {"ok": True, "room": room}


def on_leave(data: Any = None) -> dict[str, Any]:
    room = _room_of(data)
    if isinstance(room, dict):
        return room
    leave_room(room)
    return {"ok": True, "room": room}


def _room_of(data: Any) -> str | dict[str, Any]:
    """The room named by ``{"room": ...}``, or the error acknowledgement."""
    room = data.get("room") if isinstance(data, dict) else None
    shared = [r.broadcast.room for r in resources() if r.broadcast is not None]
    if room in shared:
        return str(room)
    if isinstance(room, str) and room.startswith(USER_ROOM_PREFIX):
        user_id = room.removeprefix(USER_ROOM_PREFIX)
        if not (user_id.isascii() and user_id.isdigit()) or int(user_id) >= 2**31:
            return {"ok": False, "error": f"Unknown room {room!r}."}
        if db.session.get(User, int(user_id)) is None:
            return {"ok": False, "error": USERS.not_found(int(user_id))}
        return user_room(int(user_id))
    names = ", ".join(repr(name) for name in shared)
    return {"ok": False, "error": f"Unknown room {room!r}; use {names} or 'user:<id>'."}
