"""Data sets: ShapeNet (3D-R2N2 / Pix2Vox layout), 3D Chairs and plain image folders.

The names below are imported on first use, so ``import mvaug.data`` does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mvaug.lazy import lazy_exports

_EXPORTS = {
    "Chairs3DDataset": "mvaug.data.chairs3d",
    "ImageFolderDataset": "mvaug.data.image_folder",
    "ShapeNetDataset": "mvaug.data.shapenet",
    "load_image": "mvaug.data.transforms",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from mvaug.data.chairs3d import Chairs3DDataset
    from mvaug.data.image_folder import ImageFolderDataset
    from mvaug.data.shapenet import ShapeNetDataset
    from mvaug.data.transforms import load_image


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
