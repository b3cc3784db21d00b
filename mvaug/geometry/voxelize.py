"""Solid voxelisation of triangle meshes in the ShapeNetVox32 convention.

Surface voxels are those a triangle intersects (Open3D's exact triangle/box test, as binvox
does); the interior is then filled (every empty region not connected to the outside), so the
grid is solid like ShapeNetVox32's. The grid is the cube of side ``max(extents)`` centred on the
origin, mirrored in z (see :mod:`mvaug.geometry.voxel_grid`).
"""

from __future__ import annotations

import numpy as np

from mvaug.io.binvox import Binvox


def normalize_mesh(vertices: np.ndarray) -> np.ndarray:
    """ShapeNet's normalisation: centre the bounding box on the origin and scale its diagonal to 1. (V, 3) -> (V, 3)."""
    vertices = np.asarray(vertices, dtype=np.float64)
    lo, hi = vertices.min(0), vertices.max(0)
    return (vertices - (lo + hi) / 2) / np.linalg.norm(hi - lo)


def voxelize_mesh(vertices: np.ndarray, faces: np.ndarray, dim: int = 32) -> Binvox:
    """Solid (dim, dim, dim) occupancy of a mesh whose bounding box is centred on the origin.

    Args:
        vertices: float (V, 3), bounding box centred on the origin (see :func:`normalize_mesh`).
        faces: int (F, 3).
    Returns:
        A :class:`Binvox` whose header holds, as the real ShapeNetVox32 files do, the bounding-box
        minimum as ``translate`` and the largest extent as ``scale``.
    """
    import open3d as o3d
    from scipy import ndimage

    vertices = np.asarray(vertices, dtype=np.float64)
    lo, hi = vertices.min(0), vertices.max(0)
    extent = hi - lo
    if not np.allclose((lo + hi) / 2, 0.0, atol=1e-6 * max(extent.max(), 1e-12)):
        raise ValueError(f"the mesh's bounding box must be centred on the origin, its centre is {(lo + hi) / 2}")
    side = float(extent.max())
    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(vertices), o3d.utility.Vector3iVector(np.asarray(faces)))
    pad = 1e-6 * side
    grid = o3d.geometry.VoxelGrid.create_from_triangle_mesh_within_bounds(
        mesh, side / dim, np.full(3, -side / 2 - pad), np.full(3, side / 2 + pad)
    )
    index = np.array([v.grid_index for v in grid.get_voxels()], dtype=np.int64).reshape(-1, 3)
    surface = np.zeros((dim, dim, dim), dtype=bool)
    surface[tuple(np.clip(index, 0, dim - 1).T)] = True  # a face on the cube's far side lands in the last voxel
    solid = ndimage.binary_fill_holes(surface)[:, :, ::-1]  # world z -> array k runs along -z
    return Binvox(np.ascontiguousarray(solid), translate=tuple(float(v) for v in lo), scale=side)
