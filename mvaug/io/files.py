"""Reading a file the user named: every way the operating system can refuse becomes one :class:`DataError`."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from mvaug.errors import DataError

_REASONS = {
    errno.ENOENT: "not found",
    errno.EISDIR: "is a folder",
    errno.ELOOP: "a symbolic link that loops back on itself",
    errno.EACCES: "permission denied",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.ENAMETOOLONG: "the path is too long",
    errno.ENOSPC: "no space left on the device",
}


def describe_os_error(err: OSError) -> str:
    """What ``err`` says about its path, in a few words: 'not found', 'permission denied', ..."""
    return _REASONS.get(err.errno, (err.strerror or type(err).__name__).lower())


def os_error_message(err: OSError, what: str = "file") -> str:
    """The user's words for why ``err`` stopped the reading of a ``what``: 'expected a file, found a folder', ..."""
    if err.errno == errno.EISDIR:
        return f"expected a {what}, found a folder"
    if err.errno == errno.ENOENT:
        return f"{what} not found"
    return f"cannot read the {what}: {describe_os_error(err)}"


def data_error_from_os(err: OSError, path: str | os.PathLike, what: str = "file") -> DataError:
    """A :class:`DataError` naming ``path`` for an ``OSError`` met while opening or reading it."""
    return DataError(os_error_message(err, what), path)


def require_file(path: str | os.PathLike, what: str = "file") -> None:
    """Raise :class:`DataError` unless ``path`` is a readable regular file (for readers that open it themselves)."""
    try:
        with open(path, "rb"):
            pass
    except OSError as err:
        raise data_error_from_os(err, path, what) from None


def read_bytes(path: str | os.PathLike, what: str = "file") -> bytes:
    """The bytes of ``path``; a missing file, a folder, a link loop or an unreadable file raise :class:`DataError`."""
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise data_error_from_os(err, path, what) from None


def read_text(path: str | os.PathLike, what: str = "text file", encoding: str = "utf-8") -> str:
    """The text of ``path`` (``encoding``); as :func:`read_bytes`, and bytes that are not ``encoding`` raise too."""
    data = read_bytes(path, what)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise DataError(f"not a {what}: it is not {encoding} text", path) from None
