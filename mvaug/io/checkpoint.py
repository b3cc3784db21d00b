"""Checkpoint files: a dict with a ``format`` tag, written atomically with ``torch.save``."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

from mvaug.errors import DataError
from mvaug.io.atomic import atomic_write_bytes


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


def load_checkpoint(path: str | os.PathLike, expected_format: str, device="cpu", weights_only: bool = True, what: str = "checkpoint") -> dict:
    """Read a checkpoint of ``expected_format``; a missing, damaged or foreign file raises :class:`DataError` naming it."""
    import torch

    path = Path(path)
    try:
        payload = torch.load(path, map_location=device, weights_only=weights_only)
    except FileNotFoundError:
        raise DataError(f"{what} not found", path) from None
    except IsADirectoryError:
        raise DataError(f"expected a {what} file, found a folder", path) from None
    except (RuntimeError, EOFError, ValueError, OSError, pickle.UnpicklingError, zipfile.BadZipFile) as err:
        raise DataError(f"not a readable torch checkpoint ({type(err).__name__})", path) from None
    if not isinstance(payload, dict) or payload.get("format") != expected_format:
        raise DataError(f"not an {expected_format} {what}", path)
    return payload
