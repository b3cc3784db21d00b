"""Errors that come from the user's input rather than from a bug in mvaug.

Each one names the file (or config key) at fault and what is wrong with it. The CLI prints
them on one line, without a traceback, and exits with status 2.
"""

from __future__ import annotations

import os


class MvaugError(Exception):
    """Base class for input errors; ``path`` (optional) is the file or folder at fault."""

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        self.message = message
        self.path = None if path is None else os.fspath(path)
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class DataError(MvaugError):
    """A data file or folder is missing, corrupt, truncated or inconsistent."""


class ConfigError(MvaugError):
    """A configuration key or value is invalid."""
