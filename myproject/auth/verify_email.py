"""Email verification: confirm an address with the token mailed to it, or ask for a new one."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_jwt_extended import current_user

from myproject import verification
from myproject.extensions import limiter
from myproject.openapi import Blueprint
from myproject.ratelimit import RATELIMIT_PASSWORD_RESET, client_address, rate_limit_key
from myproject.schemas.password_reset import MessageSchema, VerifyEmailSchema

blp = Blueprint(
    "email_verification", __name__, url_prefix="/auth", description="Email verification"
)

RESENT = "A new verification link is on its way to the account's address."


@blp.route("/verify-email")
class VerifyEmail(MethodView):
    @limiter.limit(RATELIMIT_PASSWORD_RESET, key_func=client_address, scope="verify-address")
    @blp.body(VerifyEmailSchema())
    @blp.response(204)
    @blp.doc(
        description="400 for an unknown, used, superseded or expired token, or one sent to "
        "another address than the account's current one."
    )
    @blp.errors()
    def post(self, data: dict[str, str]) -> Any:
        """Verify the account's email address with the token from a verification email"""
        verification.verify(token=data["token"])
        return "", 204


@blp.route("/verify-email/resend")
class ResendVerification(MethodView):
    @limiter.limit(RATELIMIT_PASSWORD_RESET, key_func=rate_limit_key, scope="verify-resend")
    @limiter.limit(RATELIMIT_PASSWORD_RESET, key_func=client_address, scope="verify-address")
    @blp.authenticated()
    @blp.response(202, MessageSchema)
    @blp.errors(409)
    def post(self) -> Any:
        """Email a new verification link to the caller's address (older links stop working)"""
        verification.resend(user=current_user)
        return {"message": RESENT}
