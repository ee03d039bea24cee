"""Password hashing with bcrypt.

bcrypt only looks at the first 72 bytes of a password. Rather than silently ignoring the rest,
the password is first hashed with SHA-256 and base64-encoded (44 ASCII bytes, no NUL bytes), so
every character of a long passphrase counts. Verification is bcrypt's own constant-time check.
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
from functools import lru_cache
from pathlib import Path

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


COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")  # source and licence in its header
_TRAILING_DIGITS_AND_SYMBOLS = re.compile(r"[\W\d_]+$")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (lower-cased), read once from the project."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def is_common_password(password: str) -> bool:
    """On the list, ignoring case, also once trailing digits and symbols are taken off
    ("Sunshine2024!" is "sunshine")."""
    lowered = password.strip().lower()
    words = common_passwords()
    return lowered in words or _TRAILING_DIGITS_AND_SYMBOLS.sub("", lowered) in words


def password_problem(password: str) -> str | None:
    """One-line reason why a new password is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"The password must be at least {MIN_PASSWORD_LENGTH} characters long."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"The password must be at most {MAX_PASSWORD_LENGTH} characters long."
    if is_common_password(password):
        return "This password is among the most common ones and easily guessed: choose another."
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
