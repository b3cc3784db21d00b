"""Placement of ShapeNetVox32 grids in model space.

A ShapeNetVox32 grid is a cube centred on the origin whose side is the model's largest
bounding-box extent (the binvox header's ``scale``); array index ``[i, j, k]`` runs along world
``x, y, z``. Verified on the real samples by ``tests/geometry/test_camera.py``.
"""

from __future__ import annotations

import numpy as np


def voxel_centres(indices: np.ndarray, dim: int, side: float) -> np.ndarray:
    """World coordinates (N, 3) of the centres of voxels with integer ``indices`` (N, 3)."""
    return ((np.asarray(indices, dtype=np.float64) + 0.5) / dim - 0.5) * side


def points_in_voxels(occupancy: np.ndarray, side: float, per_axis: int = 4) -> np.ndarray:
    """A stratified grid of ``per_axis**3`` points inside every occupied voxel, shape (N * per_axis**3, 3)."""
    dim = occupancy.shape[0]
    idx = np.argwhere(occupancy).astype(np.float64)  # (N, 3)
    offsets = (np.stack(np.meshgrid(*[np.arange(per_axis)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5) / per_axis
    pts = (idx[:, None, :] + offsets[None]).reshape(-1, 3)
    return (pts / dim - 0.5) * side
