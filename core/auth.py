"""Password hashing with bcrypt.

bcrypt only looks at the first 72 bytes of a password. Rather than silently ignoring the rest,
the password is first hashed with SHA-256 and base64-encoded (44 ASCII bytes, no NUL bytes), so
every character of a long passphrase counts. Verification is bcrypt's own constant-time check.
"""
from __future__ import annotations

import base64
import hashlib
import os

import bcrypt

DEFAULT_ROUNDS = 12
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # a sanity bound against absurd input, not a security limit


def bcrypt_rounds() -> int:
    """Work factor: 12 by default. PDLENS_BCRYPT_ROUNDS (4..16) lowers it for test suites only."""
    value = os.environ.get("PDLENS_BCRYPT_ROUNDS")
    if not value:
        return DEFAULT_ROUNDS
    return min(16, max(4, int(value)))


def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())


def password_problem(password: str) -> str | None:
    """One-line reason why a new password is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"The password must be at least {MIN_PASSWORD_LENGTH} characters long."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"The password must be at most {MAX_PASSWORD_LENGTH} characters long."
    return None


def hash_password(password: str, rounds: int | None = None) -> str:
    salt = bcrypt.gensalt(rounds=rounds or bcrypt_rounds())
    return bcrypt.hashpw(_prehash(password), salt).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(_prehash(password), password_hash.encode("ascii"))
    except ValueError:  # malformed stored hash
        return False


# A valid hash to check against when the username does not exist, so that a failed login takes
# the same time whether or not the account exists.
_DUMMY_HASH: str | None = None


def dummy_verify(password: str) -> bool:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password("not-a-real-password")
    verify_password(password, _DUMMY_HASH)
    return False
