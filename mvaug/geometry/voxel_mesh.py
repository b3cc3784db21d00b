"""Voxel grids to triangle meshes (marching cubes) and mesh export.

Placement is :func:`mvaug.geometry.voxel_grid.grid_to_world` (the ShapeNetVox32 convention: a cube
of side ``side`` centred on the origin), optionally shifted by ``translate``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import trimesh
from skimage.measure import marching_cubes

from mvaug.errors import DataError
from mvaug.geometry.voxel_grid import grid_to_world
from mvaug.io.atomic import atomic_write_bytes

MESH_SUFFIXES = (".obj", ".ply", ".off", ".stl")


def voxels_to_mesh(
    grid: np.ndarray,
    threshold: float = 0.5,
    side: float | None = None,
    translate: Sequence[float] | None = None,
) -> trimesh.Trimesh:
    """Closed surface of the voxels with ``grid >= threshold``.

    grid: (D, D, D) bool or probabilities. It is binarised first (the voxels Pix2Vox's IoU counts),
    padded with one empty voxel on every side so the surface closes at the border, and meshed at
    level 0.5, which puts the surface on the voxel faces (edges and corners are bevelled). Voxels
    that touch only along an edge or at a corner stay separate parts.
    side: world length of the grid's cube (default 1.0); translate: world position (3,) of the
    cube's centre (default the origin).
    Returns a mesh with vertices (V, 3) in world units and faces (F, 3) wound so normals point
    outwards; watertight for any non-empty grid; empty if no voxel reaches the threshold.
    """
    occupied = np.asarray(grid) >= threshold
    if occupied.ndim != 3 or len(set(occupied.shape)) != 1:
        raise ValueError(f"expected a cubic voxel grid (D, D, D), got shape {occupied.shape}")
    if not occupied.any():
        return trimesh.Trimesh()
    padded = np.pad(occupied.astype(np.float32), 1)
    # Lorensen's tables, not skimage's default Lewiner: on 0/1 grids Lewiner leaves some edges shared
    # by four faces (not watertight) where voxels touch diagonally; Lorensen resolves those cases consistently
    verts, faces, _, _ = marching_cubes(padded, level=0.5, method="lorensen", allow_degenerate=False)
    # voxel [i, j, k] spans grid coordinates [i, i + 1] and its centre is padded index i + 1
    world = grid_to_world(verts - 0.5, occupied.shape[0], 1.0 if side is None else float(side))
    if translate is not None:
        world = world + np.asarray(translate, dtype=np.float64)
    mesh = trimesh.Trimesh(world, faces, process=True)
    if mesh.volume < 0:  # the winding depends on skimage's convention and on whether the placement mirrors an axis
        mesh.invert()
    return mesh


def mesh_file_type(path: str | os.PathLike) -> str:
    """trimesh's file type for ``path``'s suffix; a :class:`DataError` if the suffix is not supported."""
    suffix = Path(path).suffix.lower()
    if suffix not in MESH_SUFFIXES:
        raise DataError(f"unsupported mesh format {suffix or '(none)'!r}; use one of {', '.join(MESH_SUFFIXES)}", path)
    return suffix[1:]


def export_mesh(mesh: trimesh.Trimesh, path: str | os.PathLike) -> None:
    """Write ``mesh`` as .obj, .ply, .off or .stl (chosen by suffix), atomically."""
    data = mesh.export(file_type=mesh_file_type(path))
    atomic_write_bytes(path, data.encode("utf-8") if isinstance(data, str) else data)
