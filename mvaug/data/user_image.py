"""Images from users (photos, renders from other tools) turned into what the networks were trained on.

Training renders are square, show the object on a uniform background with a margin around it, and
are composited on white (``mvaug.data.transforms.load_image``). A user's image can be any size,
RGBA or RGB, grayscale, or rotated by its EXIF tag (applied by :func:`mvaug.io.images.read_image`).
:func:`load_user_image` brings it to the training framing:

* RGBA with transparent pixels: the alpha channel is the object mask.
* RGB (or fully opaque RGBA): the background colour is estimated as the median of the border
  pixels; when the border is uniform, pixels within ``background_tolerance`` of it become
  background (soft edge). Otherwise the object is cut out of the clutter with GrabCut
  (:func:`mvaug.data.cutout.cut_out`), or, with ``cutout=False`` or when nothing is found, the
  image is used as it is; a warning says which.
* ``framing="crop"`` crops to the mask's bounding box and pads it to a square in which the object's
  longer side spans ``fill`` of the image; ``"keep"`` keeps the image's own framing (pads to square);
  ``"auto"`` keeps the framing of an image that is already square with a margin around the object
  (a render) and crops otherwise. An image without a background is never cropped.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from mvaug.data.transforms import WHITE, Background, check_background, resize_square, to_tensor
from mvaug.errors import DataError
from mvaug.io.images import MIN_INPUT_SIDE, read_image

log = logging.getLogger(__name__)

Framing = Literal["auto", "crop", "keep"]


@dataclass(frozen=True)
class UserImageOptions:
    """How :func:`load_user_image` frames an image."""

    framing: Framing = "auto"
    """'crop' to the object, 'keep' the image's framing, or 'auto' (keep a square render with a margin)."""
    fill: float = 0.8
    """With cropping: the object's longer side as a fraction of the output side."""
    background_tolerance: float = 0.12
    """RGB images: colour distance (0-1 per channel, Euclidean) under which a pixel counts as background."""
    border_uniformity: float = 0.06
    """RGB images: the border is uniform when the 90th percentile of its distance to the median is below this."""
    cutout: bool = True
    """RGB images whose border is not uniform: cut the object out (GrabCut) rather than use the whole image."""
    drawn_on: tuple[float, float, float] | None = None
    """RGB images drawn on a known background colour (0-1), such as generated views on white: where the border is not
    uniform (the object reaches it, or the generator smudged it), the mask comes from this colour instead."""

    def __post_init__(self) -> None:
        if self.framing not in ("auto", "crop", "keep"):
            raise ValueError(f"framing must be 'auto', 'crop' or 'keep', got {self.framing!r}")
        if not 0.1 <= self.fill <= 1.0:
            raise ValueError(f"fill must lie in [0.1, 1], got {self.fill}")


@dataclass
class UserImage:
    """A prepared image: ``tensor`` float32 (3, S, S) in [0, 1], and what was done to it."""

    path: Path | None
    tensor: torch.Tensor
    notes: list[str] = field(default_factory=list)
    cutout: np.ndarray | None = None
    """uint8 RGBA (H, W, 4) when the object was cut out of a cluttered photo: the upright photo, the cut as alpha."""


def load_user_image(
    path: str | os.PathLike, size: int, background: Background = WHITE, options: UserImageOptions | None = None
) -> torch.Tensor:
    """float32 (3, size, size) in [0, 1]: the image at ``path`` framed and composited like a training render."""
    return prepare_user_image(path, size, background, options).tensor


def prepare_user_image(
    path: str | os.PathLike, size: int, background: Background = WHITE, options: UserImageOptions | None = None
) -> UserImage:
    """As :func:`load_user_image`, keeping the notes (background estimate, framing) for the log."""
    path = Path(path)
    rgba = read_image(path, "RGBA", MIN_INPUT_SIDE)  # (H, W, 4); EXIF applied; grayscale and palette images converted
    prepared = frame_image(rgba, size, background, options, path)
    for note in prepared.notes:
        log.info("%s: %s", path, note)
    return prepared


def frame_image(
    rgba: np.ndarray, size: int, background: Background = WHITE, options: UserImageOptions | None = None, path: Path | None = None
) -> UserImage:
    """uint8 RGBA (H, W, 4) -> float32 (3, size, size) framed as described in the module docstring, with notes.

    Also serves images made in memory (generated views on one background, to be put on another).
    """
    options = options or UserImageOptions()
    background = check_background(background)
    notes: list[str] = []
    cutout = None
    alpha = rgba[..., 3]
    if alpha.min() < 255:
        mask = alpha
        notes.append("alpha channel used as the object mask")
    else:
        mask, cut = _mask_of_opaque(rgba[..., :3], options, notes, path)
        rgba = np.concatenate([rgba[..., :3], mask[..., None]], axis=-1)
        cutout = rgba if cut else None
    occupied = np.argwhere(mask > 127)
    if occupied.size == 0:
        raise DataError("the image shows no object (the whole image is background)", path)
    top, left = occupied.min(axis=0)
    bottom, right = occupied.max(axis=0) + 1
    framing = options.framing
    if mask.min() == 255:  # no background found: the whole image is the object, there is nothing to crop
        framing = "keep"
    elif framing == "auto":
        framing = "keep" if _is_framed_render(rgba.shape[:2], (top, left, bottom, right)) else "crop"
    if framing == "crop":
        rgba = _crop_and_pad(rgba, (top, left, bottom, right), options.fill)
        notes.append(f"cropped to the object and padded to a square ({options.fill:.0%} fill)")
    else:
        rgba = _pad_to_square(rgba)
    return UserImage(path, to_tensor(resize_square(rgba, size), background), notes, cutout)


def _mask_of_opaque(rgb: np.ndarray, options: UserImageOptions, notes: list[str], path: Path | None) -> tuple[np.ndarray, bool]:
    """uint8 (H, W) object mask of an opaque image, and whether it was cut out of clutter.

    From the border colour when the border is uniform; else cut out (``options.cutout``); else all 255.
    """
    pixels = rgb.astype(np.float32) / 255.0
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])  # (2H + 2W, 3)
    colour = np.median(border, axis=0)
    spread = np.percentile(np.linalg.norm(border - colour, axis=1), 90)
    if spread <= options.border_uniformity:
        notes.append("background colour estimated from the border: #%02x%02x%02x" % tuple(int(round(c * 255)) for c in colour))
        return _mask_from_colour(pixels, colour, options), False
    if options.drawn_on is not None:
        notes.append(f"background not uniform (border spread {spread:.3f}): the known background colour used")
        return _mask_from_colour(pixels, np.asarray(options.drawn_on, dtype=np.float32), options), False
    if options.cutout:
        from mvaug.data.cutout import cut_out

        mask = cut_out(rgb)
        if mask.any():
            kept = f"{np.mean(mask > 0):.0%} of the image"
            log.warning("%sbackground is not uniform (border spread %.3f); object cut out with GrabCut (%s)", _prefix(path), spread, kept)
            notes.append(f"background not uniform: object cut out with GrabCut ({kept})")
            return mask, True
    log.warning("%sbackground is not uniform (border spread %.3f); using the whole image", _prefix(path), spread)
    notes.append("background not uniform: the whole image is used, no background removed")
    return np.full(rgb.shape[:2], 255, dtype=np.uint8), False


def _prefix(path: Path | None) -> str:
    return f"{path}: " if path is not None else ""


def _mask_from_colour(pixels: np.ndarray, colour: np.ndarray, options: UserImageOptions) -> np.ndarray:
    """uint8 (H, W) soft object mask of float RGB ``pixels``: 0 within half the tolerance of the background ``colour``, 255 beyond it."""
    distance = np.linalg.norm(pixels - colour, axis=-1)
    tolerance = options.background_tolerance
    soft = np.clip((distance - 0.5 * tolerance) / (0.5 * tolerance), 0.0, 1.0)  # 0 at bg, 1 beyond the tolerance
    return np.round(soft * 255).astype(np.uint8)


def _is_framed_render(shape: tuple[int, int], box: tuple[int, int, int, int]) -> bool:
    """Square image whose object keeps at least 2% of the side clear of every edge."""
    height, width = shape
    top, left, bottom, right = box
    margin = 0.02 * max(height, width)
    return height == width and min(top, left, height - bottom, width - right) >= margin


def _crop_and_pad(rgba: np.ndarray, box: tuple[int, int, int, int], fill: float) -> np.ndarray:
    """Transparent square canvas with the box centred, its longer side ``fill`` of the canvas side."""
    top, left, bottom, right = box
    crop = rgba[top:bottom, left:right]
    side = int(np.ceil(max(crop.shape[:2]) / fill))
    canvas = np.zeros((side, side, 4), dtype=np.uint8)
    y, x = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    canvas[y : y + crop.shape[0], x : x + crop.shape[1]] = crop
    return canvas


def _pad_to_square(rgba: np.ndarray) -> np.ndarray:
    height, width = rgba.shape[:2]
    if height == width:
        return rgba
    side = max(height, width)
    canvas = np.zeros((side, side, 4), dtype=np.uint8)
    y, x = (side - height) // 2, (side - width) // 2
    canvas[y : y + height, x : x + width] = rgba
    return canvas
