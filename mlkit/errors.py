"""Exceptions with one-line, user-facing messages."""

from __future__ import annotations


class MlkitError(ValueError):
    """Base class for mlkit's user-facing errors (message is one line)."""


class StructureError(MlkitError):
    """A structure cannot be read or fails validation.

    The message always starts with the source (file path or id), e.g.
    ``"data/x.cif: overlapping atoms (Na0-Cl3 at 0.21 A < 0.5 A)"``.
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source = str(source)
        self.reason = reason
        super().__init__(f"{self.source}: {reason}")
