"""Optional ImageNet weights for the encoder's VGG16-bn layers, read from a file the user has.

Nothing is downloaded. The file is torchvision's ``vgg16_bn`` state dict (e.g. ``vgg16_bn-6c64b313.pth``);
its ``features.0`` .. ``features.26`` entries are the encoder's ``vgg.0`` .. ``vgg.26``.
"""

from __future__ import annotations

import os

from pix2vox.checkpoint import CheckpointError, first_problem, read_weights_file
from pix2vox.encoder import Encoder

FEATURES = "features."


def load_vgg16_bn_weights(encoder: Encoder, path: str | os.PathLike) -> None:
    """Copy the first 27 feature layers of a torchvision ``vgg16_bn`` state dict file into ``encoder.vgg``."""
    state = read_weights_file(path, "VGG16-bn weights")
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
        raise CheckpointError(f"{os.fspath(path)} does not fit VGG16-bn: {first_problem(err)}") from None
