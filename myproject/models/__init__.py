from myproject.models.api_key import ApiKey
from myproject.models.base import CRUDMixin, Model, TimestampMixin, TimestampModel
from myproject.models.email_verification import EmailVerification
from myproject.models.idempotency import IdempotencyKey
from myproject.models.item import Item
from myproject.models.outbox import OutboxEmail
from myproject.models.password_reset import PasswordReset
from myproject.models.security_event import SecurityEvent
from myproject.models.session import LoginSession
from myproject.models.user import User

__all__ = [
    "ApiKey",
    "CRUDMixin",
    "EmailVerification",
    "IdempotencyKey",
    "Item",
    "LoginSession",
    "Model",
    "OutboxEmail",
    "PasswordReset",
    "SecurityEvent",
    "TimestampMixin",
    "TimestampModel",
    "User",
]
