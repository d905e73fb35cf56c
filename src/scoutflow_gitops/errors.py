"""Errors that reach a person.

A ``UserError`` is bad input or a refused request: it is shown as one clear line (plus a hint)
and never with a traceback. Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """Input the bot cannot act on, explained in one line with what to do next."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class LocatedError(UserError):
    """A ``UserError`` that points at a place in a file."""

    def __init__(self, path: str, line: int, message: str, hint: str = "") -> None:
        super().__init__(f"{path}:{line}: {message}", hint)
        self.path = path
        self.line = line
        self.reason = message
