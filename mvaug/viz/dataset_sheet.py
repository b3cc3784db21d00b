"""A contact sheet of a ShapeNet-layout data set: renders of each model beside its voxel grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mvaug.io.images import composite_on_white, read_image
from mvaug.viz.previews import image_grid, resize_image, turntable_cameras, voxel_views


def dataset_sheet(
    rendering_dir: Path, voxel_dir: Path, models: list[str], views: int = 4, voxel_views_per_model: int = 1, size: int = 137
) -> np.ndarray:
    """RGB uint8 picture; one row per model: its first ``views`` renders, then its voxels as boxes.

    ``rendering_dir``/``voxel_dir`` are the category folders (``ShapeNetRendering/<tax>``,
    ``ShapeNetVox32/<tax>``).
    """
    from mvaug.io.binvox import read_binvox

    rows = []
    for model in models:
        renders = [composite_on_white(read_image(rendering_dir / model / "rendering" / f"{v:02d}.png")) for v in range(views)]
        renders = [resize_image(im, size) for im in renders]
        vox = read_binvox(voxel_dir / model / "model.binvox")
        rows.append(renders + voxel_views(vox.data, vox.scale, turntable_cameras(voxel_views_per_model, start=210.0), size))
    return image_grid(rows)
