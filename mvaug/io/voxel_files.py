"""Voxel grid files: .binvox (ShapeNetVox32, Pix2Vox) and .npy arrays (probabilistic predictions)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mvaug.errors import DataError
from mvaug.io.binvox import read_binvox

GRID_SUFFIXES = (".binvox", ".npy")


def read_grid(path: str | os.PathLike, axes: str = "xyz") -> tuple[np.ndarray, float | None]:
    """A voxel grid (X, Y, Z) from .binvox (bool; side = header scale) or .npy (bool or numbers; side None).

    ``axes`` names the axes of the array as stored; e.g. 'xzy' repairs a file whose writer swapped
    y and z (it wrote an [x, y, z] array without binvox's x-z-y file order).
    """
    if sorted(axes) != ["x", "y", "z"]:
        raise ValueError(f"axes must be a permutation of 'xyz', got {axes!r}")
    grid, side = _read_stored_grid(Path(path))
    return grid.transpose([axes.index(c) for c in "xyz"]), side


def _read_stored_grid(path: Path) -> tuple[np.ndarray, float | None]:
    if path.suffix == ".binvox":
        vox = read_binvox(path)
        return vox.data, vox.scale
    if path.suffix != ".npy":
        raise DataError(f"unsupported voxel file; expected one of {', '.join(GRID_SUFFIXES)}", path)
    try:
        grid = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError("voxel file not found", path) from None
    except (OSError, ValueError, EOFError) as err:
        raise DataError(f"cannot read .npy array ({err})", path) from None
    if not isinstance(grid, np.ndarray):
        grid.close()
        raise DataError("expected one array, found an .npz archive", path)
    if grid.ndim != 3 or grid.dtype.kind not in "biuf":
        raise DataError(f"expected a 3-D bool or numeric voxel grid, got shape {grid.shape} dtype {grid.dtype}", path)
    return grid, None


def read_occupancy(path: str | os.PathLike) -> np.ndarray:
    """A ground-truth occupancy grid, bool (X, Y, Z); an .npy one must hold only 0 and 1."""
    grid, _ = read_grid(path)
    if grid.dtype != bool and not np.isin(grid, (0, 1)).all():
        raise DataError("ground truth must hold only 0 and 1", path)
    return grid != 0
