"""Outputs that never replace an input or an unrelated file, and sets of files written as one.

:func:`check_outputs` and :func:`check_output_folder` are cheap path checks, made before any work;
:func:`output_set` writes several files so that either all of them replace their targets or none does.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

from mvaug.errors import DataError

Key = TypeVar("Key")
PathLike = str | os.PathLike


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether ``a`` and ``b`` name one file: equal resolved paths, or (both existing) one inode."""
    a, b = Path(a), Path(b)
    if a.resolve() == b.resolve():
        return True
    return a.exists() and b.exists() and os.path.samefile(a, b)


def check_writable_location(path: PathLike) -> None:
    """Refuse a path below a file: its nearest existing ancestor must be a folder."""
    for ancestor in Path(path).absolute().parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise DataError(f"{ancestor} is a file, so nothing can be written below it; choose another output path", path)
            return


def check_outputs(outputs: Iterable[PathLike], inputs: Iterable[PathLike] = (), overwrite: bool = False) -> None:
    """Refuse outputs that would replace an input, are folders, lie below a file, or (unless ``overwrite``) exist."""
    inputs = [Path(p) for p in inputs]
    for output in map(Path, outputs):
        clash = next((source for source in inputs if same_file(output, source)), None)
        if clash is not None:
            named = "" if clash == output else f" {clash}"
            raise DataError(f"the output would overwrite the input{named}; choose another output name", output)
        if output.is_dir():
            raise DataError("the output is an existing folder; choose another output name", output)
        check_writable_location(output)
        if output.exists() and not overwrite:
            raise DataError("the output exists; pass --overwrite to replace it, or choose another output name", output)


def check_output_folder(folder: PathLike, is_ours: Callable[[Path], bool], what: str) -> None:
    """Allow a new or empty folder, or one that ``is_ours`` recognises as ``what`` (written by an earlier run);
    refuse a file, or a folder holding anything else (hidden entries aside)."""
    folder = Path(folder)
    check_writable_location(folder)
    if folder.exists() and not folder.is_dir():
        raise DataError("the output folder is a file; choose another --out", folder)
    if not folder.exists():
        return
    found = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    if found and not is_ours(folder):
        shown = ", ".join(found[:3]) + (", ..." if len(found) > 3 else "")
        raise DataError(f"the folder is not empty ({shown}) and is not {what}; choose a new or empty --out", folder)


@contextlib.contextmanager
def output_set(targets: Mapping[Key, PathLike]) -> Iterator[dict[Key, Path]]:
    """Temporary files beside ``targets`` (same suffixes) for the caller to write; when the block ends
    without error they are synced and renamed onto their targets, otherwise they are removed and every
    target is left as it was. Only a failing rename (after every file was written) can leave a partial set."""
    targets = {key: Path(path) for key, path in targets.items()}
    temps: dict[Key, Path] = {}
    try:
        for key, target in targets.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent)
            os.close(fd)
            temps[key] = Path(name)
        yield temps
        for temp in temps.values():
            _sync(temp)
        for key, temp in list(temps.items()):
            os.replace(temp, targets[key])
            del temps[key]
    finally:
        for temp in temps.values():
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()


def _sync(path: Path) -> None:
    """Flush a written file to disk, readable by all like the files of :mod:`mvaug.io.atomic`."""
    os.chmod(path, 0o644)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
