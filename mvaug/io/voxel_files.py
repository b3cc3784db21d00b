"""Voxel grid files: .binvox (ShapeNetVox32, Pix2Vox) and .npy arrays (probabilistic predictions)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mvaug.errors import DataError
from mvaug.io.binvox import read_binvox
from mvaug.io.files import data_error_from_os

GRID_SUFFIXES = (".binvox", ".npy")
MAX_GRID_SIDE = 1024
"""Larger grids are refused from their header (a 1024^3 float32 grid is already 4 GiB)."""


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
        stored = np.load(path, allow_pickle=False, mmap_mode="r")  # the header is checked against the file size
    except OSError as err:
        raise data_error_from_os(err, path, "voxel file") from None
    except (ValueError, EOFError) as err:
        raise DataError(f"cannot read .npy array ({err})", path) from None
    if not isinstance(stored, np.ndarray):
        stored.close()
        raise DataError("expected one array, found an .npz archive", path)
    if stored.ndim != 3 or stored.dtype.kind not in "biuf":
        raise DataError(f"expected a 3-D bool or numeric voxel grid, got shape {stored.shape} dtype {stored.dtype}", path)
    if max(stored.shape) > MAX_GRID_SIDE:
        raise DataError(f"a {' x '.join(map(str, stored.shape))} grid is larger than {MAX_GRID_SIDE} voxels a side", path)
    grid = np.array(stored)
    if grid.dtype.kind == "f" and not np.isfinite(grid).all():
        raise DataError("the grid holds NaN or infinite values", path)
    return grid, None


def read_occupancy(path: str | os.PathLike) -> np.ndarray:
    """A ground-truth occupancy grid, bool (X, Y, Z); an .npy one must hold only 0 and 1."""
    grid, _ = read_grid(path)
    if grid.dtype != bool and not np.isin(grid, (0, 1)).all():
        raise DataError("ground truth must hold only 0 and 1", path)
    return grid != 0
