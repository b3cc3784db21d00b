"""Reading triangle meshes (.obj, .ply, .off, .stl) and landmark files for mesh comparison.

A mesh is read with trimesh (a .glb scene is merged into one mesh). A landmark file holds either K points, one ``x y z`` row each, or K integer vertex indices into
its mesh (one per row); as text (whitespace or comma separated, ``#`` comments) or ``.npy``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mvaug.errors import DataError
from mvaug.io.files import require_file

READABLE_MESH_SUFFIXES = (".obj", ".ply", ".off", ".stl", ".glb")


def read_mesh(path: str | os.PathLike):
    """The triangle mesh in ``path`` as a ``trimesh.Trimesh`` (vertices as stored, not merged or reordered).

    A missing file, an unsupported suffix, a damaged file or one without triangles raises
    :class:`DataError` naming the file.
    """
    import trimesh

    path = Path(path)
    if path.suffix.lower() not in READABLE_MESH_SUFFIXES:
        raise DataError(f"unsupported mesh format {path.suffix or '(none)'!r}; use one of {', '.join(READABLE_MESH_SUFFIXES)}", path)
    require_file(path, "mesh file")
    try:
        mesh = trimesh.load(path, force="mesh", process=False)
    except Exception as err:  # trimesh raises many kinds of errors on damaged files
        raise DataError(f"not a readable mesh ({type(err).__name__}: {err})", path) from None
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise DataError("mesh has no triangles", path)
    if not np.isfinite(mesh.vertices).all():
        raise DataError("mesh has non-finite vertex coordinates", path)
    return mesh


def read_landmarks(path: str | os.PathLike, vertices: np.ndarray) -> np.ndarray:
    """Landmark positions (K, 3) float64 from ``path``: stored points, or vertex indices into ``vertices`` (V, 3)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("landmark file not found" if not path.exists() else "expected a landmark file, found a folder", path)
    try:
        if path.suffix.lower() == ".npy":
            table = np.load(path, allow_pickle=False)
        else:
            table = np.loadtxt(path, delimiter="," if path.suffix.lower() == ".csv" else None, ndmin=2)
    except (OSError, ValueError, EOFError) as err:
        raise DataError(f"not a readable landmark table ({err})", path) from None
    if not isinstance(table, np.ndarray) or table.dtype.kind not in "iuf" or table.size == 0:
        raise DataError("expected a numeric table of landmarks", path)
    if table.ndim == 2 and table.shape[1] == 3:
        points = table.astype(np.float64)
        if not np.isfinite(points).all():
            raise DataError("landmark coordinates must be finite", path)
        return points
    indices = table.reshape(-1) if table.ndim == 2 and table.shape[1] == 1 else table
    if indices.ndim != 1:
        raise DataError(f"expected K rows of 'x y z' or K vertex indices, got a table of shape {table.shape}", path)
    if not np.all(indices == np.round(indices)):
        raise DataError("a one-column landmark table must hold integer vertex indices", path)
    indices = indices.astype(np.int64)
    if indices.min() < 0 or indices.max() >= len(vertices):
        raise DataError(f"landmark vertex indices must lie in [0, {len(vertices) - 1}], got {indices.min()}..{indices.max()}", path)
    return np.asarray(vertices, dtype=np.float64)[indices]
