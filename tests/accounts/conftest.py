"""The account tests use the jobs tests' fixtures: the recorded emails and apps with other
settings on the test's database."""

from tests.jobs.conftest import make_app, sent

__all__ = ["make_app", "sent"]
