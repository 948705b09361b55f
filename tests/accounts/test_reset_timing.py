"""The reset request takes the same time for known and unknown addresses (no broker: the
lookup, the token and the email happen in the job that runs once the answer is sent)."""

from __future__ import annotations

from tests.accounts.timing import measure_with_one_retry


def test_known_and_unknown_addresses_take_the_same_time(client, user, capsys, sent):
    client.post("/auth/password-reset", json={"email": "warm-up@example.com"}).close()

    def ask(email: str):
        response = client.post("/auth/password-reset", json={"email": email})
        assert response.status_code == 202
        return response.close  # the job: runs after the answer, as a server runs it

    runs = measure_with_one_retry(ask, "alice@example.com", "nobody@example.com")

    with capsys.disabled():
        for run in runs:
            print("\n" + run.report())
    assert runs[-1].holds, runs[-1].report()
    assert len(sent) >= 100  # the known address did get its emails
