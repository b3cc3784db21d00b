"""Voxel grids as box meshes (only the faces between an occupied and an empty voxel), for previews."""

from __future__ import annotations

import numpy as np

from mvaug.geometry.voxel_grid import grid_to_world

# For each axis and side: the 4 corner offsets of the face of a unit voxel, counter-clockwise
# seen from outside.
_FACE_CORNERS = {
    (0, +1): [(1, 0, 0), (1, 1, 0), (1, 1, 1), (1, 0, 1)],
    (0, -1): [(0, 0, 0), (0, 0, 1), (0, 1, 1), (0, 1, 0)],
    (1, +1): [(0, 1, 0), (0, 1, 1), (1, 1, 1), (1, 1, 0)],
    (1, -1): [(0, 0, 0), (1, 0, 0), (1, 0, 1), (0, 0, 1)],
    (2, +1): [(0, 0, 1), (1, 0, 1), (1, 1, 1), (0, 1, 1)],
    (2, -1): [(0, 0, 0), (0, 1, 0), (1, 1, 0), (1, 0, 0)],
}


def voxel_box_mesh(occupancy: np.ndarray, side: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Exposed voxel faces of a (D, D, D) bool grid as a triangle mesh in world coordinates.

    Returns ``vertices`` float (4 * Q, 3) and ``faces`` int (2 * Q, 3) for Q exposed quads,
    placed with the ShapeNetVox32 convention (cube of ``side`` centred on the origin).
    """
    occ = np.asarray(occupancy, dtype=bool)
    dim = occ.shape[0]
    padded = np.pad(occ, 1)
    quads = []
    for (axis, sign), corners in _FACE_CORNERS.items():
        neighbour = np.roll(padded, -sign, axis=axis)[1:-1, 1:-1, 1:-1]
        cells = np.argwhere(occ & ~neighbour)  # (Q_a, 3)
        quads.append(cells[:, None, :] + np.asarray(corners)[None])  # (Q_a, 4, 3)
    quads = np.concatenate(quads) if quads else np.zeros((0, 4, 3))
    vertices = grid_to_world(quads.reshape(-1, 3), dim, side)
    base = np.arange(len(quads))[:, None] * 4
    # grid_to_world mirrors z, which turns the grid-frame winding inside out: reverse it
    faces = np.concatenate([base + [0, 2, 1], base + [0, 3, 2]], axis=1).reshape(-1, 3)
    return vertices, faces
