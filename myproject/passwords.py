"""Password hashing, one hash at a time per process.

scrypt (werkzeug's default, N=32768, r=8) needs 32 MiB of memory per hash and is CPU-bound:
with several threads hashing at once a worker only grows (glibc keeps the freed buffers)
without logging anyone in faster, since a worker per core already uses every core.
"""

from __future__ import annotations

import threading

from werkzeug.security import check_password_hash, generate_password_hash

_one_at_a_time = threading.Lock()


def hash_password(password: str, method: str) -> str:
    with _one_at_a_time:
        return generate_password_hash(password, method=method)


def verify_password(password_hash: str, password: str) -> bool:
    with _one_at_a_time:
        return check_password_hash(password_hash, password)
