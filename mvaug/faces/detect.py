"""Face detection and cropping for real photos, with the LBP frontal-face cascade that scikit-image
ships (``skimage.data.lbp_frontal_face_cascade_filename``; nothing is downloaded).

The face reconstructor was trained on renders where the head fills the frame, so a photo is cut down
to a square around its largest detected face before it is resized.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mvaug.errors import DataError

FACE_CROP_MODES = ("auto", "detect", "none")
PHOTO_FACTOR = 3
"""In ``auto`` mode an image whose shorter side is at least this many times the model's input size is a
photo to detect the face in; smaller images are taken as face crops already (like the training renders)."""


@dataclass(frozen=True)
class FaceBox:
    """A detection in pixels: top row, left column, height and width."""

    row: int
    col: int
    height: int
    width: int

    @property
    def area(self) -> int:
        return self.height * self.width


def detect_faces(rgb: np.ndarray, min_size: int = 24) -> list[FaceBox]:
    """Frontal faces in an RGB image (H, W, 3) uint8, largest first."""
    from skimage.color import rgb2gray
    from skimage.data import lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade

    height, width = rgb.shape[:2]
    cascade = Cascade(lbp_frontal_face_cascade_filename())
    found = cascade.detect_multi_scale(img=rgb2gray(rgb), scale_factor=1.2, step_ratio=1, min_size=(min_size, min_size), max_size=(height, width))
    boxes = [FaceBox(int(d["r"]), int(d["c"]), int(d["height"]), int(d["width"])) for d in found]
    return sorted(boxes, key=lambda box: box.area, reverse=True)


def crop_around(rgb: np.ndarray, box: FaceBox, margin: float = 0.5) -> np.ndarray:
    """A square crop centred on ``box``, ``margin`` times its size larger on every side (the whole head,
    as in the renders), padded with the image's edge colours where it leaves the picture."""
    side = round(max(box.height, box.width) * (1.0 + 2.0 * margin))
    centre_row, centre_col = box.row + box.height / 2.0, box.col + box.width / 2.0
    top, left = round(centre_row - side / 2.0), round(centre_col - side / 2.0)
    pad = max(0, -top, -left, top + side - rgb.shape[0], left + side - rgb.shape[1])
    padded = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="edge") if pad else rgb
    return padded[top + pad : top + pad + side, left + pad : left + pad + side]


def load_face_image(path: str | os.PathLike, size: int, mode: str = "auto"):
    """A face image as float (3, size, size) in [0, 1]: a photo is cropped to its largest face first.

    ``mode``: 'detect' always detects, 'none' never does, 'auto' detects in images whose shorter side is
    at least :data:`PHOTO_FACTOR` x ``size``. A photo without a detectable face is a :class:`DataError`.
    """
    import torch
    from PIL import Image

    from mvaug.data.transforms import load_image
    from mvaug.io.images import MIN_INPUT_SIDE, read_image

    if mode not in FACE_CROP_MODES:
        raise ValueError(f"face crop mode must be one of {FACE_CROP_MODES}, got {mode!r}")
    rgb = read_image(path, "RGB", MIN_INPUT_SIDE)  # (H, W, 3), EXIF orientation applied
    if mode == "none" or (mode == "auto" and min(rgb.shape[:2]) < PHOTO_FACTOR * size):
        return load_image(path, size)
    boxes = detect_faces(rgb)
    if not boxes:
        hint = "; if it is already a crop of one face, pass --face-crop none" if mode == "auto" else ""
        raise DataError(f"no face found in the image (scikit-image's frontal-face cascade){hint}", Path(path))
    crop = Image.fromarray(crop_around(rgb, boxes[0])).resize((size, size), Image.Resampling.BICUBIC)
    return torch.from_numpy(np.asarray(crop, dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()
