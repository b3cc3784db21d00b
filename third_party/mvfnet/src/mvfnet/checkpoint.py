"""MVF-Net checkpoints: a dict with a ``format`` tag, the config and the weights (``torch.save``).

:func:`checkpoint_payload` / :func:`model_from_payload` let a caller store the payload with its own
checkpoint code; :func:`save_checkpoint` / :func:`load_checkpoint` write and read files themselves
(atomically: a crash never leaves a half-written file).
"""

from __future__ import annotations

import dataclasses
import io
import os
import pickle
import tempfile
import zipfile
from pathlib import Path

import torch

from mvfnet.config import MVFNetConfig
from mvfnet.model import MVFNet

CHECKPOINT_FORMAT = "mvfnet-v1"


class CheckpointError(ValueError):
    """A checkpoint file is missing, damaged, or not an MVF-Net checkpoint; ``path`` names it."""

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        self.path = None if path is None else os.fspath(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)


def checkpoint_payload(model: MVFNet, **extra) -> dict:
    """``{"format", "config", "model", **extra}`` with plain-data config and the state dict."""
    return {"format": CHECKPOINT_FORMAT, "config": dataclasses.asdict(model.config), "model": model.state_dict(), **extra}


def model_from_payload(payload: dict, path: str | os.PathLike | None = None) -> MVFNet:
    """Rebuild the network from :func:`checkpoint_payload`'s dict."""
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"not an {CHECKPOINT_FORMAT} checkpoint", path)
    try:
        model = MVFNet(MVFNetConfig(**payload["config"]))
        model.load_state_dict(payload["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"inconsistent {CHECKPOINT_FORMAT} checkpoint ({type(err).__name__}: {err})", path) from None
    return model


def save_checkpoint(path: str | os.PathLike, model: MVFNet, **extra) -> None:
    """Write :func:`checkpoint_payload` to ``path``, replacing it in one rename."""
    path = Path(path)
    buffer = io.BytesIO()
    torch.save(checkpoint_payload(model, **extra), buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(buffer.getvalue())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> tuple[MVFNet, dict]:
    """The network (on ``map_location``, in eval mode) and the whole payload; :class:`CheckpointError` if unusable."""
    path = Path(path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError("checkpoint not found", path) from None
    except IsADirectoryError:
        raise CheckpointError("expected a checkpoint file, found a folder", path) from None
    except (RuntimeError, EOFError, ValueError, OSError, pickle.UnpicklingError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"not a readable torch checkpoint ({type(err).__name__})", path) from None
    model = model_from_payload(payload, path).to(map_location)
    return model.eval(), payload
