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
import warnings
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
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as err:
        raise CheckpointError(f"inconsistent {CHECKPOINT_FORMAT} checkpoint ({type(err).__name__}: {_first_problem(err)})", path) from None
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
    payload = _read_weights_only(path, map_location)
    model = model_from_payload(payload, path).to(map_location)
    return model.eval(), payload


def _read_weights_only(path: Path, map_location: str | torch.device):
    """``torch.load`` weights-only (tensors and plain data, never code); every failure is one :class:`CheckpointError`."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise CheckpointError("checkpoint not found", path) from None
    except IsADirectoryError:
        raise CheckpointError("expected a checkpoint file, found a folder", path) from None
    except OSError as err:
        raise CheckpointError(f"cannot read the checkpoint ({err.strerror or type(err).__name__})", path) from None
    with handle, warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the error below says it all
        warnings.simplefilter("ignore", UserWarning)
        try:
            return torch.load(handle, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError:
            raise CheckpointError("not a readable torch checkpoint: weights-only unpickling refuses it (damaged, or it asks to run code)", path) from None
        except Exception as err:  # noqa: BLE001 - the unpickler fails in many ways (KeyError, IndexError, OSError ...) on foreign bytes
            raise CheckpointError(f"not a readable torch checkpoint ({type(err).__name__})", path) from None


def _first_problem(err: Exception) -> str:
    """One line of an error: for ``load_state_dict``'s, the first missing key or shape mismatch."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[1] if len(lines) > 1 else (lines[0] if lines else "")
