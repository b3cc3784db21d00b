"""Checkpoint files: a dict with a ``format`` tag, written atomically with ``torch.save``.

Every torch file mvaug reads goes through :func:`read_torch_file`, which unpickles weights-only
(tensors and plain data, never code) and turns every way a file can fail into one :class:`DataError`.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import warnings
from pathlib import Path

from mvaug.errors import DataError
from mvaug.io.atomic import atomic_write_bytes
from mvaug.io.files import data_error_from_os

# torch's weights-only unpickler names the global a file asks for: "Unsupported global: GLOBAL posix.system ..."
# (torch < 2.5 and most globals) or "Trying to load unsupported GLOBAL posix.system whose module ..."
_UNSAFE_GLOBAL = re.compile(r"unsupported global:? (?:GLOBAL )?([\w.]+)", re.IGNORECASE)


def save_checkpoint(path: str | os.PathLike, payload: dict) -> None:
    """Serialise ``payload`` (which must carry its ``format``) and replace ``path`` in one rename."""
    import torch

    if "format" not in payload:
        raise ValueError("a checkpoint payload needs a 'format' tag")
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def save_step_checkpoint(folder: str | os.PathLike, prefix: str, step: int, payload: dict, keep: int = 3) -> Path:
    """Write ``folder/<prefix><step:09d>.pt`` and delete all but the ``keep`` newest ``<prefix>*.pt`` files there."""
    folder = Path(folder)
    path = folder / f"{prefix}{step:09d}.pt"
    save_checkpoint(path, payload)
    prune_checkpoints(folder, prefix, keep)
    return path


def prune_checkpoints(folder: str | os.PathLike, prefix: str, keep: int) -> None:
    """Delete all but the ``keep`` newest ``<prefix>*.pt`` files (zero-padded step numbers sort by name)."""
    for old in sorted(Path(folder).glob(f"{prefix}*.pt"))[:-keep]:
        old.unlink()


def read_torch_file(path: str | os.PathLike, what: str = "torch checkpoint", device="cpu"):
    """The object in a ``torch.save`` file, unpickled weights-only: tensors and plain data, never code.

    A ``.safetensors`` file is read without pickle (:func:`mvaug.io.payload_file.read_safetensors`).
    A missing, unreadable, damaged or foreign file, or one whose pickle asks to import anything
    (which could run code), raises one :class:`DataError` naming it; ``what`` says what was expected.
    """
    import torch

    path = Path(path)
    if path.suffix == ".safetensors":
        from mvaug.io.payload_file import read_safetensors

        return read_safetensors(path, device, what)
    try:
        handle = path.open("rb")
    except OSError as err:
        raise data_error_from_os(err, path, what) from None
    with handle, warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the error below says it all
        warnings.simplefilter("ignore", UserWarning)
        try:
            return torch.load(handle, map_location=device, weights_only=True)
        except Exception as err:  # noqa: BLE001 - the unpickler fails in many ways (KeyError, IndexError, OSError ...) on foreign bytes
            raise DataError(_unreadable(err, what), path) from None


def _unreadable(err: Exception, what: str) -> str:
    """Why ``torch.load`` could not read a file, in one line."""
    unsafe = _UNSAFE_GLOBAL.search(str(err))
    if unsafe:
        return f"refused: the {what} asks to import {unsafe.group(1)}, which could run code (mvaug loads weights only)"
    if isinstance(err, pickle.UnpicklingError):
        return f"not a readable {what}: weights-only unpickling refuses it (damaged, or it asks to run code)"
    return f"not a readable {what}: damaged, truncated or not a torch file ({type(err).__name__})"


def load_checkpoint(path: str | os.PathLike, expected_format: str, device="cpu", what: str = "checkpoint") -> dict:
    """Read a checkpoint of ``expected_format`` (weights-only); a missing, damaged or foreign file raises :class:`DataError` naming it."""
    payload = read_torch_file(path, "torch checkpoint", device)
    if not isinstance(payload, dict) or payload.get("format") != expected_format:
        raise DataError(f"not an {expected_format} {what}", path)
    return payload
