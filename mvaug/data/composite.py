"""Renders pasted on photographs: cluttered images whose true object mask is known, to measure the cut-out.

The photographs are scikit-image's bundled ones (nothing is downloaded). A :class:`Scene` is a part of
one of them, used as the backdrop; :func:`paste_object` puts an RGBA render in its middle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OBJECT_FILL = 0.75
"""The pasted object's box fills this fraction of the image's height or width (whichever it reaches first)."""


@dataclass(frozen=True)
class Scene:
    """Part of a scikit-image photograph: ``box`` is (top, bottom, left, right) as fractions of its height and width."""

    photo: str
    box: tuple[float, float, float, float]


SCENES = {
    "coffee-table": Scene("coffee", (0.0, 1.0, 0.62, 1.0)),  # wooden table, the saucer's rim
    "coffee-saucer": Scene("coffee", (0.25, 1.0, 0.0, 0.4)),  # table, saucer and cup handle
    "cat-room": Scene("chelsea", (0.0, 1.0, 0.6, 1.0)),  # the cat's face, a blurred room behind
    "rocket-left": Scene("rocket", (0.0, 1.0, 0.0, 0.45)),  # night sky, a launch tower, lights
    "rocket-right": Scene("rocket", (0.0, 1.0, 0.55, 1.0)),  # night sky, two towers
    "astronaut-flag": Scene("astronaut", (0.0, 0.6, 0.0, 0.4)),  # flag, grey studio backdrop, a face
    "astronaut-shuttle": Scene("astronaut", (0.0, 0.6, 0.62, 1.0)),  # grey backdrop, a white shuttle model
    "garage-wall": Scene("motorcycle", (0.0, 0.6, 0.0, 0.4)),  # a garage: tools on a wall, a bench, grey light
    "garage-shelves": Scene("motorcycle", (0.0, 0.6, 0.55, 1.0)),  # grey steel shelves, boxes
}


def scene_image(name: str, side: int = 240) -> np.ndarray:
    """uint8 (H, W, 3): the scene ``name`` of :data:`SCENES`, its longer side ``side`` pixels."""
    from PIL import Image

    scene = SCENES[name]
    photo = _photo(scene.photo)
    height, width = photo.shape[:2]
    top, bottom, left, right = scene.box
    patch = photo[round(top * height) : round(bottom * height), round(left * width) : round(right * width)]
    scale = side / max(patch.shape[:2])
    size = (round(patch.shape[1] * scale), round(patch.shape[0] * scale))
    return np.asarray(Image.fromarray(patch).resize(size, Image.Resampling.BILINEAR))


def paste_object(render: np.ndarray, backdrop: np.ndarray, fill: float = OBJECT_FILL) -> tuple[np.ndarray, np.ndarray]:
    """uint8 RGBA render (h, w, 4) over uint8 RGB ``backdrop`` (H, W, 3), its object's box scaled to ``fill`` and centred.

    Returns the photo, uint8 (H, W, 3), and the object's true mask, bool (H, W): the scaled alpha above one half.
    """
    from PIL import Image

    height, width = backdrop.shape[:2]
    rows, cols = np.nonzero(render[..., 3])
    if rows.size == 0:
        raise ValueError("the render shows no object (its alpha is 0 everywhere)")
    crop = render[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    scale = fill * min(height / crop.shape[0], width / crop.shape[1])
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    scaled = np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.BILINEAR), dtype=np.float32) / 255.0
    top, left = (height - size[1]) // 2, (width - size[0]) // 2
    alpha = np.zeros((height, width, 1), np.float32)
    colour = np.zeros((height, width, 3), np.float32)
    alpha[top : top + size[1], left : left + size[0], 0] = scaled[..., 3]
    colour[top : top + size[1], left : left + size[0]] = scaled[..., :3]
    photo = colour * alpha + backdrop.astype(np.float32) / 255.0 * (1.0 - alpha)
    return np.round(photo * 255.0).astype(np.uint8), alpha[..., 0] > 0.5


def mask_iou(found: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1.0 when both are empty)."""
    union = np.logical_or(found, truth).sum()
    return float(np.logical_and(found, truth).sum() / union) if union else 1.0


def _photo(name: str) -> np.ndarray:
    """uint8 (H, W, 3): scikit-image's bundled photograph ``name`` ('motorcycle': the left view of its stereo pair)."""
    import skimage.data

    if name == "motorcycle":
        return skimage.data.stereo_motorcycle()[0]
    return getattr(skimage.data, name)()
