"""Agreement between a voxel grid and rendered silhouettes, through the ShapeNet camera.

Used to check that renders, voxels and ``rendering_metadata.txt`` follow one convention: points
sampled inside the occupied voxels must project inside each view's alpha silhouette
(``inside``), and together cover it (``coverage``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mvaug.geometry.camera import ShapeNetCamera
from mvaug.geometry.voxel_grid import points_in_voxels


@dataclass(frozen=True)
class SilhouetteAgreement:
    inside: float  # fraction of projected voxel points that land on the silhouette
    coverage: float  # fraction of silhouette pixels hit by at least one projected point


def silhouette_agreement(
    occupancy: np.ndarray, side: float, camera: ShapeNetCamera, alpha: np.ndarray, per_axis: int = 4
) -> SilhouetteAgreement:
    """Compare occupancy (D, D, D) bool, placed in a cube of ``side``, with an alpha mask (H, W) bool."""
    size = alpha.shape[0]
    points = points_in_voxels(occupancy, side, per_axis)
    uv, depth = camera.project(points, size)
    pix = np.floor(uv).astype(np.int64)
    valid = (depth > 0) & np.all((pix >= 0) & (pix < size), axis=1)
    hit = np.zeros_like(alpha, dtype=bool)
    hit[pix[valid, 1], pix[valid, 0]] = True
    inside = float(alpha[pix[valid, 1], pix[valid, 0]].sum() / max(len(points), 1))
    coverage = float((hit & alpha).sum() / max(alpha.sum(), 1))
    return SilhouetteAgreement(inside, coverage)
