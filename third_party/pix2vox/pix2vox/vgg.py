"""Optional ImageNet weights for the encoder's VGG16-bn layers, read from a file the user has.

Nothing is downloaded. The file is torchvision's ``vgg16_bn`` state dict (e.g. ``vgg16_bn-6c64b313.pth``);
its ``features.0`` .. ``features.26`` entries are the encoder's ``vgg.0`` .. ``vgg.26``.
"""

from __future__ import annotations

import os

import torch

from pix2vox.checkpoint import CheckpointError
from pix2vox.encoder import Encoder

FEATURES = "features."


def load_vgg16_bn_weights(encoder: Encoder, path: str | os.PathLike) -> None:
    """Copy the first 27 feature layers of a torchvision ``vgg16_bn`` state dict file into ``encoder.vgg``."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"VGG16-bn weights not found: {os.fspath(path)}") from None
    except Exception as err:  # torch.load raises many kinds of errors on foreign files
        raise CheckpointError(f"not a readable torch weights file ({type(err).__name__}): {os.fspath(path)}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"expected a state dict in {os.fspath(path)}")
    wanted = encoder.vgg.state_dict()
    picked = {key: state.get(FEATURES + key) for key in wanted}
    missing = [key for key, value in picked.items() if value is None]
    if missing:
        raise CheckpointError(f"{os.fspath(path)} is not a torchvision vgg16_bn state dict (no '{FEATURES}{missing[0]}')")
    try:
        encoder.vgg.load_state_dict(picked, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{os.fspath(path)} does not fit VGG16-bn: {err}") from None
