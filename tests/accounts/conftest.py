from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from myproject.extensions import mail
from tests.jobs.support import app_factory


@pytest.fixture()
def sent(app: Any) -> Iterator[list[Any]]:
    """The messages Flask-Mail sends during the test (TESTING records instead of sending)."""
    with mail.record_messages() as messages:
        yield messages


@pytest.fixture()
def make_app(db: Any, database_url: str) -> Iterator[Any]:
    """Apps with other settings on the test's (rolled-back) database."""
    with app_factory(database_url) as factory:
        yield factory
