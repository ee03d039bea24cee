"""Errors the repository raises. str(exc) is one line a clinician can act on."""
from __future__ import annotations


class ValidationError(ValueError):
    """Input that cannot be stored. Raised before anything is written."""


class PermissionDenied(PermissionError):
    """The acting clinician may not do this (e.g. only an administrator manages accounts)."""


class NotFound(ValidationError):
    """No row with that id (a stale link or a deleted test row)."""
