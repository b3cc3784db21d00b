"""The 3D Chairs renders of Aubry et al. (CVPR 2014).

::

    rendered_chairs/<chair_hash>/renders/image_XXX_pYYY_tZZZ_rDDD.png

p is the elevation and t the azimuth in degrees, r the distance. The renders are 600x600 on
white with the chair in the middle; cropping the central 400x400 before resizing is common.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from mvaug.data.transforms import check_size, existing_dir, load_image
from mvaug.errors import DataError
from mvaug.io.images import IMAGE_SUFFIXES

RENDER_NAME = re.compile(r"image_(\d+)_p(\d+)_t(\d+)_r(\d+)\.png")


@dataclass(frozen=True)
class ChairRender:
    """One render: its chair (index into the sorted chair folders) and viewpoint in degrees."""

    path: Path
    chair_index: int
    elevation: float
    azimuth: float


def _chair_renders(chair_dir: Path, chair_index: int) -> list[ChairRender]:
    """The renders of one chair; an image whose name does not follow the pattern raises :class:`DataError`."""
    renders_dir = existing_dir(chair_dir / "renders", "renders folder")
    renders = []
    for path in sorted(renders_dir.iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        match = RENDER_NAME.fullmatch(path.name)
        if match is None:
            raise DataError("render name does not match image_NNN_pEEE_tAAA_rDDD.png", path)
        renders.append(ChairRender(path, chair_index, float(match[2]), float(match[3])))
    if not renders:
        raise DataError("no renders", renders_dir)
    return renders


class Chairs3DDataset(Dataset):
    """3D Chairs renders; ``root`` is the ``rendered_chairs`` folder or its parent.

    Each item is a dict: ``image`` float32 (3, H, W) in [0, 1] (the central ``crop`` x ``crop``
    pixels if given, resized to ``image_size`` if given); ``chair_index`` and ``view_index``
    long scalars, the view being an index into :attr:`views`, the sorted (elevation, azimuth)
    pairs found across the data set; ``elevation`` and ``azimuth`` float32 scalars in degrees;
    ``path`` str.
    """

    def __init__(self, root: str | os.PathLike, image_size: int | None = 64, crop: int | None = None):
        self.image_size = check_size(image_size, "image_size")
        self.crop = check_size(crop, "crop")
        root = existing_dir(root, "3D Chairs folder")
        self.root = root / "rendered_chairs" if (root / "rendered_chairs").is_dir() else root
        chair_dirs = sorted(p for p in self.root.iterdir() if p.is_dir())
        if not chair_dirs:
            raise DataError("no chair folders (<chair>/renders/*.png)", self.root)
        self.chairs = [p.name for p in chair_dirs]
        self.renders = [r for i, d in enumerate(chair_dirs) for r in _chair_renders(d, i)]
        self.views = sorted({(r.elevation, r.azimuth) for r in self.renders})
        self._view_index = {view: i for i, view in enumerate(self.views)}

    def __len__(self) -> int:
        return len(self.renders)

    def __getitem__(self, index: int) -> dict:
        render = self.renders[index]
        return {
            "image": load_image(render.path, self.image_size, self.crop),
            "chair_index": torch.tensor(render.chair_index, dtype=torch.long),
            "view_index": torch.tensor(self._view_index[(render.elevation, render.azimuth)], dtype=torch.long),
            "elevation": torch.tensor(render.elevation, dtype=torch.float32),
            "azimuth": torch.tensor(render.azimuth, dtype=torch.float32),
            "path": str(render.path),
        }
