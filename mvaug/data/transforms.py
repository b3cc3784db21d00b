"""Image file -> tensor conversion shared by the data sets, and the checks of their options.

Every loader goes through :func:`load_image`: read as RGBA, optional centre crop, optional
square resize (PIL bilinear, antialiased when shrinking, on premultiplied alpha), then
alpha-composite onto a background in float.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from mvaug.errors import ConfigError, DataError
from mvaug.io.images import read_image

Background = tuple[float, float, float]
WHITE: Background = (1.0, 1.0, 1.0)


def existing_dir(path: str | os.PathLike, what: str) -> Path:
    """``path`` as a Path; :class:`DataError` naming it unless it is a folder."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{what} not found", path)
    if not path.is_dir():
        raise DataError(f"{what} must be a folder, found a file", path)
    return path


def check_size(value: int | None, name: str, allow_none: bool = True) -> int | None:
    """Accept a positive int (or None if ``allow_none``) for a size or count option; otherwise :class:`ConfigError`."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{name} must be a positive integer{' or None' if allow_none else ''}, got {value!r}")
    return value


def check_background(value: Background | None) -> Background | None:
    """Accept None (keep alpha) or three floats in [0, 1]; otherwise :class:`ConfigError`."""
    if value is None:
        return None
    try:
        rgb = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        rgb = ()
    if len(rgb) != 3 or not all(0.0 <= v <= 1.0 for v in rgb):
        raise ConfigError(f"background must be None or three floats in [0, 1], got {value!r}")
    return rgb  # type: ignore[return-value]


def center_crop(image: np.ndarray, size: int, path: str | os.PathLike) -> np.ndarray:
    """The central ``size`` x ``size`` block of an (H, W, C) array; ``path`` names the image in errors."""
    height, width = image.shape[:2]
    if size > height or size > width:
        raise DataError(f"image is {width}x{height}, smaller than the {size}x{size} crop", path)
    top, left = (height - size) // 2, (width - size) // 2
    return image[top : top + size, left : left + size]


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """Resize uint8 RGBA (H, W, 4) to (size, size, 4) with PIL bilinear (antialiased, premultiplied alpha)."""
    from PIL import Image

    if image.shape[:2] == (size, size):
        return image
    resized = Image.fromarray(np.ascontiguousarray(image), "RGBA").resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(resized)


def to_tensor(rgba: np.ndarray, background: Background | None = WHITE) -> torch.Tensor:
    """uint8 RGBA (H, W, 4) -> float32 (C, H, W) in [0, 1]: RGB on ``background`` (C=3), or RGBA if None (C=4)."""
    tensor = torch.tensor(rgba).permute(2, 0, 1).float().div_(255.0)  # copies: PIL arrays are read-only
    if background is None:
        return tensor
    rgb, alpha = tensor[:3], tensor[3:]
    bg = torch.tensor(background, dtype=torch.float32).view(3, 1, 1)
    return rgb * alpha + bg * (1.0 - alpha)


def load_image(
    path: str | os.PathLike,
    image_size: int | None = None,
    crop: int | None = None,
    background: Background | None = WHITE,
) -> torch.Tensor:
    """Read an image file as float32 (C, H, W) in [0, 1].

    ``crop`` takes the central crop x crop pixels first; ``image_size`` then resizes to a
    square of that many pixels (None keeps the size). C is 3 (composited on ``background``)
    or 4 when ``background`` is None. A missing or corrupt file raises :class:`DataError`.
    """
    rgba = read_image(path, "RGBA")
    if crop is not None:
        rgba = center_crop(rgba, crop, path)
    if image_size is not None:
        rgba = resize_square(rgba, image_size)
    return to_tensor(rgba, background)
