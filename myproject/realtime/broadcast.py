"""Server events: after a commit, one event per changed row of each resource declared with a
``broadcast``, to the resource's room and the owner's ``user:<id>`` room."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_socketio import SocketIO

from myproject.events import Change
from myproject.models.resource import Broadcast, resource_of
from myproject.realtime.rooms import user_room


def emit_changes(changes: list[Change]) -> None:
    """After-commit subscriber: emit ``resource_events(changes)``."""
    socketio: SocketIO = current_app.extensions["socketio"]
    for name, payload, rooms in resource_events(changes):
        socketio.emit(name, payload, to=rooms)


def resource_events(changes: list[Change]) -> list[tuple[str, dict[str, Any], list[str]]]:
    """(event, payload, rooms) per changed row, in order: several flushes of one row in one
    transaction are one event (a row created and deleted in it is none)."""
    first: dict[tuple[str, Any], str] = {}
    last: dict[tuple[str, Any], tuple[Broadcast, Any, Change]] = {}
    for change in changes:
        resource = resource_of(change.table)
        if resource is None or resource.broadcast is None:
            continue
        snapshot = change.snapshot(resource.serialize)
        if snapshot is not None:
            first.setdefault((change.table, change.id), change.action)
            last[(change.table, change.id)] = (resource.broadcast, snapshot, change)
    found = []
    for key, (broadcast, snapshot, change) in last.items():
        action = "created" if first[key] == "created" else change.action
        if action == "created" and change.action == "deleted":
            continue
        payload = {"id": change.id} if action == "deleted" else snapshot
        rooms = [broadcast.room, user_room(broadcast.owner_id(snapshot))]
        found.append((f"{broadcast.name}.{action}", payload, rooms))
    return found
