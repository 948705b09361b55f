"""Socket.IO rooms: the room of each resource declared with a ``broadcast`` (``items``) and
``user:<id>`` (what one user's rows do); ``join``/``leave`` answer through the
acknowledgement."""

from __future__ import annotations

import re
from typing import Any

from flask_socketio import join_room, leave_room

from myproject.extensions import db
from myproject.models import User
from myproject.models.resource import resources
from myproject.models.user import USERS

USER_ROOM_PREFIX = "user:"
MAX_ROOM_LENGTH = 64
MAX_ID = 2**31 - 1  # the id column (PostgreSQL integer)
_USER_ROOM = re.compile(r"user:([1-9][0-9]{0,9})", re.ASCII)


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
    """The room named by ``{"room": ...}``, or the error acknowledgement. A malformed name
    is refused before anything touches the database."""
    room = data.get("room") if isinstance(data, dict) else None
    shared = [r.broadcast.room for r in resources() if r.broadcast is not None]
    if room in shared:
        return str(room)
    if not isinstance(room, str) or len(room) > MAX_ROOM_LENGTH:
        return {
            "ok": False,
            "error": f"A room name is a string of at most {MAX_ROOM_LENGTH} characters.",
        }
    match = _USER_ROOM.fullmatch(room)
    if match is not None and int(match.group(1)) <= MAX_ID:
        user_id = int(match.group(1))
        if db.session.get(User, user_id) is None:
            return {"ok": False, "error": USERS.not_found(user_id)}
        return user_room(user_id)
    names = ", ".join(repr(name) for name in shared)
    return {"ok": False, "error": f"Unknown room {room!r}; use {names} or 'user:<id>'."}
