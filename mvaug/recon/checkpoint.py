"""Reconstructor checkpoints: ours (``mvaug-recon-v1``) and the official Pix2Vox release.

Ours hold the network in the official layout (``encoder_state_dict`` ...), plus the resolved config
and the ``kind`` of object it reconstructs, so one reader serves both. Anything else (a
disentangler, another tool's file) is refused with a message that says what the file is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from pix2vox import CheckpointError, Pix2Vox, Pix2VoxConfig, infer_variant, is_official_layout, load_official_state

from mvaug.config import load_config
from mvaug.errors import ConfigError, DataError
from mvaug.io.checkpoint import read_torch_file
from mvaug.recon.config import ReconConfig

CHECKPOINT_FORMAT = "mvaug-recon-v1"
BEST = "best.pt"


@dataclass
class LoadedReconstructor:
    """A network in eval mode with the config it was trained with, read from ``path``."""

    model: Pix2Vox
    config: ReconConfig
    kind: str
    path: Path
    official: bool


def find_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint file, or in a run folder of ``mvaug train-recon`` its ``best.pt`` (else its latest step checkpoint)."""
    return find_run_checkpoint(path, "reconstructor", "mvaug train-recon")


def find_run_checkpoint(path: str | os.PathLike, what: str, trainer: str, disentangler_run: str | None = None) -> Path:
    """A checkpoint file, or in a run folder of ``trainer`` its ``best.pt``, else its latest ``checkpoints/step-*.pt``.

    A disentangler's run folder (``model.pt``) raises ``disentangler_run`` when given; else its ``model.pt`` is
    returned, for the reader to say what it is. ``what`` names the checkpoint in the not-found error.
    """
    path = Path(path)
    if not os.path.lexists(path):
        raise DataError(f"{what} checkpoint or run folder not found", path)
    if not path.is_dir():  # a file, or a link loop the reader names
        return path
    if (path / BEST).is_file():
        return path / BEST
    model = path / "model.pt"
    if disentangler_run is not None and model.is_file():
        raise DataError(disentangler_run, path)
    steps = sorted((path / "checkpoints").glob("step-*.pt"))
    if steps:
        return steps[-1]
    if model.is_file():
        return model
    raise DataError(f"no {BEST} or checkpoints/step-*.pt: not a run folder of {trainer}", path)


def read_payload(path: Path, device) -> dict:
    payload = read_torch_file(path, "reconstructor checkpoint", device)
    if not isinstance(payload, dict):
        raise DataError("not a reconstructor checkpoint (holds no dict)", path)
    return payload


def load_reconstructor(path: str | os.PathLike | None, device="cpu", kind: str = "chair") -> LoadedReconstructor:
    """Read a run folder or checkpoint of ``mvaug train-recon``, or an official Pix2Vox .pth, onto ``device``.

    ``builtin:NAME`` is a built-in model (:mod:`mvaug.builtin`), None the built-in one of ``kind``. A
    checkpoint of another format, or of a reconstructor for another ``kind``, raises :class:`DataError`.
    """
    from mvaug.io.assets import BuiltinModel, resolve_model

    source = resolve_model(path, kind, "reconstructor")
    if isinstance(source, BuiltinModel):
        return reconstructor_from_payload(*source.read(device), device, kind)
    file = find_checkpoint(source)
    return reconstructor_from_payload(read_payload(file, device), file, device, kind)


def reconstructor_from_payload(payload: dict, file: Path, device="cpu", kind: str = "chair") -> LoadedReconstructor:
    """:func:`load_reconstructor` on a payload already read from ``file`` (a checkpoint or a built-in model, :mod:`mvaug.builtin`)."""
    fmt = payload.get("format")
    if fmt is None and is_official_layout(payload):
        try:
            variant = infer_variant(payload)
        except CheckpointError as err:
            raise DataError(str(err), file) from None
        config = ReconConfig(model=Pix2VoxConfig(variant=variant, bgr_input=True))  # type: ignore[arg-type]
        saved_kind, official = kind, True  # upstream trained on the 13 ShapeNet categories
    elif fmt == CHECKPOINT_FORMAT:
        try:
            config = load_config(ReconConfig, payload["config"])
            saved_kind, official = payload["kind"], False
        except (ConfigError, KeyError, TypeError) as err:
            raise DataError(f"damaged {CHECKPOINT_FORMAT} checkpoint ({type(err).__name__}: {err})", file) from None
    else:
        what = f"a '{fmt}' checkpoint" if isinstance(fmt, str) else "not a Pix2Vox checkpoint"
        raise DataError(f"{what}, not a Pix2Vox reconstructor: pass a run folder or checkpoint of mvaug train-recon, or an official Pix2Vox .pth", file)
    if saved_kind != kind:
        raise DataError(f"this reconstructor was trained on '{saved_kind}' objects, '{kind}' was asked", file)
    with torch.device("meta"):  # the checkpoint's tensors become the weights: no initialisation to pay for
        model = Pix2Vox(config.model)
    try:
        load_official_state(model, payload, assign=True)
    except CheckpointError as err:
        raise DataError(str(err), file) from None
    return LoadedReconstructor(model.to(device).eval(), config, saved_kind, file, official)
