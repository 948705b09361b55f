"""Login sessions: issuing and rotating the token pairs of one login (ending them: accounts)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from email_validator import EmailNotValidError
from flask import current_app, g, request
from flask_jwt_extended import create_access_token, create_refresh_token, get_jti
from sqlalchemy import or_, select, update

from myproject import security_events
from myproject.accounts import revoke_session
from myproject.extensions import db
from myproject.models import LoginSession, User
from myproject.models.base import utcnow
from myproject.models.user import password_hash_method
from myproject.passwords import hash_password, verify_password
from myproject.ratelimit import client_address
from myproject.schemas.fields import stored_address

TOUCH_EVERY = timedelta(seconds=60)  # a login's last_used_at moves at most this often


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }


def _dummy_hash() -> str:
    hashes: dict[str, str] = current_app.extensions.setdefault("myproject_dummy_hash", {})
    method = password_hash_method()
    if method not in hashes:
        hashes[method] = hash_password("not-a-real-password", method)
    return hashes[method]


def authenticate(*, login: str, password: str) -> User | None:
    """The active user whose username or email is ``login`` and whose password matches.

    Unknown users cost one password hash too, so response time does not reveal who exists.
    """
    normalized = login.strip().lower()
    email = normalized
    if "@" in normalized:  # an address in any spelling the users table's one stands for
        with contextlib.suppress(EmailNotValidError):
            email = stored_address(normalized)
    user = db.session.scalar(
        select(User).where((db.func.lower(User.username) == normalized) | (User.email == email))
    )
    if user is None:
        verify_password(_dummy_hash(), password)
        return None
    password_ok = user.check_password(password)
    if not password_ok or not user.is_active:
        # An existing account only: an unknown name has nobody to record it for.
        reason = "inactive" if password_ok else "wrong_password"
        security_events.record(
            security_events.LOGIN_FAILED, user_id=user.id, detail={"reason": reason}
        )
        db.session.commit()
        return None
    if user.password_needs_rehash():
        user.set_password(password)
        db.session.commit()
    return user


def _issue(user: User, session_id: int) -> tuple[TokenPair, str]:
    """A new token pair for the session, and the jti of its refresh token.

    The access token carries the user's rate-limit tier (``adm``, ``prm``) so that choosing a
    limit needs no query; a change of tier reaches the limiter with the next login or refresh.
    """
    identity = str(user.id)
    claims = {"sid": session_id, "adm": user.is_admin, "prm": user.is_premium}
    access = create_access_token(identity=identity, additional_claims=claims)
    refresh = create_refresh_token(identity=identity, additional_claims={"sid": session_id})
    expires = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    seconds = int(expires.total_seconds()) if isinstance(expires, timedelta) else int(expires)
    pair = TokenPair(access_token=access, refresh_token=refresh, expires_in=seconds)
    jti = get_jti(refresh)
    if jti is None:  # pragma: no cover - Flask-JWT-Extended always sets one
        raise RuntimeError("refresh token without jti")
    return pair, jti


def start_session(*, user: User) -> TokenPair:
    """Open a login session for ``user`` and issue its first token pair."""
    lifetime = current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
    if not isinstance(lifetime, timedelta):
        lifetime = timedelta(seconds=int(lifetime))
    session = LoginSession(
        user_id=user.id, refresh_jti="pending", expires_at=utcnow() + lifetime, **_whereabouts()
    )
    db.session.add(session)
    db.session.flush()
    pair, session.refresh_jti = _issue(user, session.id)
    security_events.record(
        security_events.LOGIN, user_id=user.id, actor_id=user.id, detail={"session_id": session.id}
    )
    db.session.commit()
    return pair


def rotate_refresh(*, user: User, session: LoginSession, presented_jti: str) -> TokenPair | None:
    """Spend ``presented_jti`` and issue a new pair; None when it was already spent.

    The conditional UPDATE makes two concurrent refreshes with one token a detected reuse.
    """
    pair, new_jti = _issue(user, session.id)
    result = db.session.execute(
        update(LoginSession)
        .where(LoginSession.id == session.id, LoginSession.refresh_jti == presented_jti)
        .where(LoginSession.revoked_at.is_(None))
        .values(refresh_jti=new_jti, updated_at=utcnow(), **_whereabouts())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        _reuse_detected(user_id=user.id, session_id=session.id)
        return None
    db.session.commit()
    return pair


def _reuse_detected(*, user_id: int, session_id: int) -> None:
    """A spent refresh token came back: record it, and end the login (one transaction)."""
    security_events.record(
        security_events.TOKEN_REUSE_DETECTED, user_id=user_id, detail={"session_id": session_id}
    )
    revoke_session(session_id=session_id)


def load_caller(jwt_payload: dict[str, Any]) -> bool:
    """Check a decoded token against its login session; True means *revoked*.

    One indexed query loads the user and the session together; the user is kept for
    ``current_user``. A refresh token that is not the session's current one is a reuse of a
    spent token: the whole session is revoked (theft detection).
    """
    g.pop("caller", None)
    g.pop("caller_session", None)
    try:
        user_id = int(jwt_payload["sub"])
        session_id = int(jwt_payload["sid"])
    except (KeyError, TypeError, ValueError):
        return True
    row = db.session.execute(
        select(User, LoginSession)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(User.id == user_id, LoginSession.id == session_id)
    ).first()
    if row is None:
        return True
    user, session = row
    if not user.is_active or session.revoked_at is not None:
        return True
    if jwt_payload.get("type") == "refresh" and jwt_payload.get("jti") != session.refresh_jti:
        _reuse_detected(user_id=user.id, session_id=session.id)
        return True
    if jwt_payload.get("type") == "access":
        _touch(session)
    g.caller = user
    g.caller_session = session
    return False


def _whereabouts() -> dict[str, Any]:
    """Where a login or refresh comes from: the address as the rate limiter sees it."""
    agent = "".join(c for c in request.headers.get("User-Agent", "") if c.isprintable())
    return {
        "last_used_at": utcnow(),
        "ip": client_address()[:64],
        "user_agent": agent[:255] or None,
    }


def _touch(session: LoginSession) -> None:
    """Move ``last_used_at`` when it is over a minute old: the row is loaded on every request
    anyway, so the comparison is free, and the conditional UPDATE makes concurrent requests
    of one login write it once."""
    moment = utcnow()
    if session.last_used_at is not None and session.last_used_at > moment - TOUCH_EVERY:
        return
    db.session.execute(
        update(LoginSession)
        .where(LoginSession.id == session.id)
        .where(
            or_(
                LoginSession.last_used_at.is_(None),
                LoginSession.last_used_at <= moment - TOUCH_EVERY,
            )
        )
        .values(last_used_at=moment)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
