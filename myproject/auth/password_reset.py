"""Password reset by email: ask for a reset link, then set a new password with its token."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from myproject import services
from myproject.extensions import limiter
from myproject.openapi import Blueprint
from myproject.ratelimit import RATELIMIT_PASSWORD_RESET, client_address, password_reset_email
from myproject.schemas.password_reset import (
    MessageSchema,
    PasswordResetConfirmSchema,
    PasswordResetRequestSchema,
)

blp = Blueprint(
    "password_reset", __name__, url_prefix="/auth", description="Password reset by email"
)

# The same answer whether or not the address belongs to an account.
REQUESTED = "If an account uses this address, a password reset link is on its way."


@blp.route("/password-reset")
class PasswordResetRequest(MethodView):
    @limiter.limit(RATELIMIT_PASSWORD_RESET, key_func=password_reset_email, scope="reset-email")
    @limiter.limit(RATELIMIT_PASSWORD_RESET, key_func=client_address, scope="reset-address")
    @blp.body(PasswordResetRequestSchema())
    @blp.response(202, MessageSchema)
    @blp.doc(description="The answer is the same whether or not the address has an account.")
    @blp.errors()
    def post(self, data: dict[str, str]) -> Any:
        """Email a password reset link"""
        services.request_password_reset(email=data["email"])
        return {"message": REQUESTED}


@blp.route("/password-reset/confirm")
class PasswordResetConfirm(MethodView):
    @blp.body(PasswordResetConfirmSchema())
    @blp.response(204)
    @blp.doc(description="400 for an unknown, used, superseded or expired token.")
    @blp.errors()
    def post(self, data: dict[str, str]) -> Any:
        """Set a new password with a reset token; every login of the account ends"""
        # The account's address is told (a notice email), and its other tokens stop working.
        services.confirm_password_reset(
            token=data["token"], password=data["password"], ip=client_address()
        )
        return "", 204
