"""Checkpoints in the official release's layout.

An official checkpoint is a dict with ``encoder_state_dict``, ``decoder_state_dict``,
``merger_state_dict`` and (Pix2Vox-A) ``refiner_state_dict``, often saved through ``DataParallel`` so
every key starts with ``module.``. :func:`load_official_state` strips that prefix, then loads every
component with ``strict=True``.
"""

from __future__ import annotations

import os
import pickle
import warnings

import torch

from pix2vox.config import VARIANTS, Pix2VoxConfig
from pix2vox.model import Pix2Vox

PREFIX = "module."
VARIANT_KEY = "layer1.0.weight"  # the decoder's first transposed convolution tells the variants apart


class CheckpointError(ValueError):
    """A checkpoint that does not hold the expected Pix2Vox state dicts."""


def read_weights_file(path: str | os.PathLike, what: str, map_location="cpu"):
    """The object in a ``torch.save`` file, unpickled weights-only (tensors and plain data, never code).

    Every way the file can fail (missing, a folder, unreadable, damaged, not a torch file, a pickle
    that asks to import anything) raises one :class:`CheckpointError` naming it.
    """
    name = os.fspath(path)
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise CheckpointError(f"{what} not found: {name}") from None
    except IsADirectoryError:
        raise CheckpointError(f"expected a {what} file, found a folder: {name}") from None
    except OSError as err:
        raise CheckpointError(f"cannot read the {what} file ({err.strerror or type(err).__name__}): {name}") from None
    with handle, warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the error below says it all
        warnings.simplefilter("ignore", UserWarning)
        try:
            return torch.load(handle, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError:
            raise CheckpointError(f"not a readable {what} file: weights-only unpickling refuses it (damaged, or it asks to run code): {name}") from None
        except Exception as err:  # noqa: BLE001 - the unpickler fails in many ways (KeyError, IndexError, OSError ...) on foreign bytes
            raise CheckpointError(f"not a readable {what} file ({type(err).__name__}): {name}") from None


def first_problem(err: RuntimeError) -> str:
    """The first specific line of a ``load_state_dict`` error (a missing key or a shape mismatch)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[1] if len(lines) > 1 else lines[0]


def state_key(component: str) -> str:
    return f"{component}_state_dict"


def strip_module_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keys without DataParallel's ``module.`` prefix (a state dict without it is returned unchanged)."""
    return {key[len(PREFIX):] if key.startswith(PREFIX) else key: value for key, value in state.items()}


def is_official_layout(payload: object) -> bool:
    return isinstance(payload, dict) and all(isinstance(payload.get(state_key(c)), dict) for c in ("encoder", "decoder"))


def infer_variant(payload: dict) -> str:
    """'F' or 'A' from the shape of the decoder's first weight: (latent channels, first decoder width, 4, 4, 4)."""
    decoder = strip_module_prefix(payload[state_key("decoder")])
    weight = decoder.get(VARIANT_KEY)
    if weight is None:
        raise CheckpointError(f"decoder_state_dict has no '{VARIANT_KEY}'")
    for name, spec in VARIANTS.items():
        if tuple(weight.shape[:2]) == (spec.latent_channels, spec.decoder_channels[0]):
            return name
    raise CheckpointError(f"decoder '{VARIANT_KEY}' has shape {tuple(weight.shape)}, which is neither Pix2Vox-F nor Pix2Vox-A")


def official_state_dicts(model: Pix2Vox) -> dict[str, dict[str, torch.Tensor]]:
    """``{"encoder_state_dict": ..., "decoder_state_dict": ..., "merger_state_dict": ...[, "refiner_state_dict": ...]}``."""
    return {state_key(name): module.state_dict() for name, module in model.components().items()}


def load_official_state(model: Pix2Vox, payload: dict, assign: bool = False) -> None:
    """Load every component of ``model`` from an official-layout dict (``module.`` prefixes allowed), strictly.

    A missing component, a missing or unexpected key, or a shape mismatch raises :class:`CheckpointError`.
    ``assign`` takes the checkpoint's tensors as the parameters (for a model built on the meta device).
    """
    for name, module in model.components().items():
        state = payload.get(state_key(name))
        if not isinstance(state, dict):
            raise CheckpointError(f"no '{state_key(name)}' in the checkpoint (Pix2Vox-{model.config.variant} needs it)")
        try:
            module.load_state_dict(strip_module_prefix(state), strict=True, assign=assign)
        except RuntimeError as err:
            raise CheckpointError(f"{state_key(name)} does not fit Pix2Vox-{model.config.variant}: {first_problem(err)}") from None


def load_official_checkpoint(path: str | os.PathLike, config: Pix2VoxConfig | None = None, map_location="cpu") -> Pix2Vox:
    """A network from an official checkpoint file (e.g. Pix2Vox-A-ShapeNet.pth), in eval mode.

    Without ``config`` the variant is read from the weights and the input convention is upstream's
    (224x224, BGR).
    """
    payload = read_weights_file(path, "Pix2Vox checkpoint", map_location)
    if not is_official_layout(payload):
        raise CheckpointError(f"{os.fspath(path)} holds no encoder_state_dict / decoder_state_dict")
    config = config or Pix2VoxConfig(variant=infer_variant(payload), bgr_input=True)  # type: ignore[arg-type]
    with torch.device("meta"):  # no time spent initialising weights that are replaced at once
        model = Pix2Vox(config)
    load_official_state(model, payload, assign=True)
    return model.eval()
