"""Distances between triangle surfaces: seeded surface samples and exact closest points (open3d raycasting).

Every metric in :mod:`mvaug.evaluate.mesh_compare` is built from :func:`directed_distances`: for
each sample ``q`` on one surface (with the normal ``n_q`` of its triangle), the closest point ``c``
on the other surface (with the normal ``n_c`` of the triangle it lies on) gives

- the point-to-surface distance ``||q - c||`` (exact, to the triangles, not to their vertices),
- the point-to-plane distance ``|(q - c) . n_c|`` (to the tangent plane at ``c``),
- the normal agreement ``|n_q . n_c|`` (absolute: meshes may be wound either way).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SurfaceSamples:
    """Points on a surface, with the unit normals of the triangles they lie on."""

    points: np.ndarray
    """(P, 3) float64."""
    normals: np.ndarray
    """(P, 3) float64 unit vectors (zero on degenerate triangles)."""

    def __len__(self) -> int:
        return len(self.points)

    def subset(self, mask: np.ndarray) -> "SurfaceSamples":
        return SurfaceSamples(self.points[mask], self.normals[mask])


@dataclass(frozen=True)
class DirectedDistances:
    """From each sample of one surface to the other surface."""

    surface: np.ndarray
    """(P,) point-to-surface distances."""
    plane: np.ndarray
    """(P,) point-to-plane distances (to the tangent plane at the closest point)."""
    normal_agreement: np.ndarray
    """(P,) ``|n_q . n_c|`` in [0, 1]."""


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit normals (F, 3) of the triangles (right-hand rule); zero for degenerate triangles."""
    vertices = np.asarray(vertices, dtype=np.float64)
    corners = vertices[faces]  # (F, 3, 3)
    cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    length = np.linalg.norm(cross, axis=1, keepdims=True)
    return np.divide(cross, length, out=np.zeros_like(cross), where=length > 0)


def sample_surface(vertices: np.ndarray, faces: np.ndarray, count: int, seed: int, face_mask: np.ndarray | None = None) -> SurfaceSamples:
    """``count`` points uniform by area on the triangles (F, 3) of ``vertices`` (V, 3), or on those in ``face_mask`` (F,)."""
    rng = np.random.default_rng(seed)
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces)
    if face_mask is not None:
        faces = faces[face_mask]
    corners = vertices[faces]  # (F, 3, 3)
    areas = 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)
    if len(faces) == 0 or areas.sum() <= 0:
        raise ValueError("the surface has zero area; nothing to sample")
    chosen = rng.choice(len(faces), size=count, p=areas / areas.sum())
    u, v = rng.random(count), rng.random(count)
    flip = u + v > 1  # reflect into the triangle: uniform barycentric coordinates
    u, v = np.where(flip, 1 - u, u), np.where(flip, 1 - v, v)
    a, b, c = corners[chosen, 0], corners[chosen, 1], corners[chosen, 2]
    points = a + u[:, None] * (b - a) + v[:, None] * (c - a)
    return SurfaceSamples(points, face_normals(vertices, faces)[chosen])


def faces_near_point(vertices: np.ndarray, faces: np.ndarray, center: np.ndarray, radius: float) -> np.ndarray:
    """(F,) bool: triangles with some point within ``radius`` of ``center`` (3,)."""
    import trimesh

    corners = np.asarray(vertices, dtype=np.float64)[faces]
    closest = trimesh.triangles.closest_point(corners, np.broadcast_to(np.asarray(center, dtype=np.float64), (len(faces), 3)))
    return np.linalg.norm(closest - center, axis=1) <= radius


def within_ball(points: np.ndarray, center: np.ndarray, radius: float) -> np.ndarray:
    """(P,) bool: ``||points - center|| <= radius``."""
    return np.linalg.norm(np.asarray(points) - np.asarray(center), axis=1) <= radius


def sample_in_ball(vertices: np.ndarray, faces: np.ndarray, count: int, seed: int, center: np.ndarray, radius: float) -> SurfaceSamples:
    """About ``count`` samples on the part of the surface within ``radius`` of ``center`` (exactly those in the ball).

    Samples are drawn on the triangles that reach into the ball, then the ones outside it dropped,
    so the density is uniform by area inside the ball.
    """
    near = faces_near_point(vertices, faces, center, radius)
    if not near.any():
        raise ValueError(f"no part of the surface lies within {radius:g} of {np.round(center, 6).tolist()}")
    samples = sample_surface(vertices, faces, count, seed, face_mask=near)
    return samples.subset(within_ball(samples.points, center, radius))


class SurfaceQuery:
    """Exact closest points on a triangle mesh (open3d's raycasting scene; float32 inside)."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray):
        import open3d as o3d

        self._scene = o3d.t.geometry.RaycastingScene()
        self._scene.add_triangles(
            o3d.core.Tensor(np.ascontiguousarray(vertices, dtype=np.float32)),
            o3d.core.Tensor(np.ascontiguousarray(faces, dtype=np.uint32)),
        )
        self._normals = face_normals(vertices, faces)

    def closest(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For points (P, 3): the closest surface points (P, 3) and the normals (P, 3) of their triangles."""
        import open3d as o3d

        if len(points) == 0:
            return np.zeros((0, 3)), np.zeros((0, 3))
        result = self._scene.compute_closest_points(o3d.core.Tensor(np.ascontiguousarray(points, dtype=np.float32)))
        ids = result["primitive_ids"].numpy().astype(np.int64)
        return result["points"].numpy().astype(np.float64), self._normals[ids]


def directed_distances(samples: SurfaceSamples, other: SurfaceQuery) -> DirectedDistances:
    """Distances from ``samples`` to the surface behind ``other`` (see the module docstring)."""
    closest, normals = other.closest(samples.points)
    offset = samples.points - closest
    return DirectedDistances(
        surface=np.linalg.norm(offset, axis=1),
        plane=np.abs((offset * normals).sum(1)),
        normal_agreement=np.abs((samples.normals * normals).sum(1)),
    )
