"""Placement of ShapeNetVox32 grids in model space.

A ShapeNetVox32 grid is a cube centred on the origin whose side is the model's largest
bounding-box extent (the binvox header's ``scale``). Array index ``[i, j, k]`` (as
:func:`mvaug.io.binvox.read_binvox` returns it) runs along world ``+x, +y, -z``: the arrays are
mirrored in z with respect to the renders' frame. Both facts were measured on the real samples
(``tests/geometry/test_camera.py``).
"""

from __future__ import annotations

import numpy as np

_AXIS_SIGN = np.array([1.0, 1.0, -1.0])  # array axes -> world axes


def grid_to_world(coords: np.ndarray, dim: int, side: float) -> np.ndarray:
    """Continuous grid coordinates (N, 3), in voxel units from the grid corner, to world points (N, 3)."""
    return (np.asarray(coords, dtype=np.float64) / dim - 0.5) * side * _AXIS_SIGN


def world_to_grid(points: np.ndarray, dim: int, side: float) -> np.ndarray:
    """Inverse of :func:`grid_to_world`: world points (N, 3) to continuous grid coordinates (N, 3)."""
    return (np.asarray(points, dtype=np.float64) * _AXIS_SIGN / side + 0.5) * dim


def voxel_centres(indices: np.ndarray, dim: int, side: float) -> np.ndarray:
    """World coordinates (N, 3) of the centres of voxels with integer ``indices`` (N, 3)."""
    return grid_to_world(np.asarray(indices, dtype=np.float64) + 0.5, dim, side)


def points_in_voxels(occupancy: np.ndarray, side: float, per_axis: int = 4) -> np.ndarray:
    """A stratified grid of ``per_axis**3`` world points inside every occupied voxel, (N * per_axis**3, 3)."""
    idx = np.argwhere(occupancy).astype(np.float64)  # (N, 3)
    offsets = (np.stack(np.meshgrid(*[np.arange(per_axis)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5) / per_axis
    return grid_to_world((idx[:, None, :] + offsets[None]).reshape(-1, 3), occupancy.shape[0], side)
