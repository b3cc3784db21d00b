"""Weak-perspective (scaled orthographic) face rendering by ray casting, smooth-shaded with per-vertex albedo.

``mvaug.render.raycast.MeshRenderer`` draws flat-shaded face colours through a perspective
ShapeNet camera; faces need the weak-perspective camera of 3DMM regressors (MVF-Net, 3DDFA) and
smooth shading, so this module casts parallel rays with the same Open3D ray-casting scene and
interpolates vertex normals and colours with the hit's barycentric coordinates.

Pose convention (shared with the annotations, see :func:`mvaug.faces.pose.project`): a model
point X (mm) lands at pixel ``u = s * (R X)_x + t_x``, ``v = -s * (R X)_y + t_y``, with (0, 0) the
top-left corner of the top-left pixel; the camera looks along -z of the rotated frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FaceLighting:
    """Ambient plus one directional light fixed to the head, with a Blinn-Phong highlight."""

    direction: tuple[float, float, float] = (0.3, 0.4, 1.0)
    """Towards the light, in model coordinates (so it turns with the head)."""
    ambient: float = 0.35
    diffuse: float = 0.7
    specular: float = 0.05
    shininess: float = 20.0
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    """Light colour, multiplies the shaded albedo."""


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (N, 3) of an outward-oriented mesh."""
    tri = vertices[triangles]
    face = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # (F, 3), length = 2 * area
    normals = np.zeros_like(vertices)
    for corner in range(3):
        np.add.at(normals, triangles[:, corner], face)
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


class FaceRenderer:
    """Render one mesh with per-vertex albedo from many weak-perspective poses.

    Args:
        vertices: float (N, 3) model coordinates.
        triangles: int (F, 3), outward oriented.
        albedo: float (N, 3) in [0, 1].
        nthreads: ray-casting threads (1 in worker processes).
    """

    def __init__(self, vertices: np.ndarray, triangles: np.ndarray, albedo: np.ndarray, nthreads: int = 1):
        import open3d as o3d

        self.vertices = np.asarray(vertices, dtype=np.float64)
        self.triangles = np.asarray(triangles, dtype=np.int64)
        self.albedo = np.asarray(albedo, dtype=np.float64)
        self.normals = vertex_normals(self.vertices, self.triangles)
        self.radius = float(np.linalg.norm(self.vertices, axis=1).max())
        self.nthreads = nthreads
        self._o3d = o3d
        self._scene = o3d.t.geometry.RaycastingScene(nthreads=nthreads)
        self._scene.add_triangles(o3d.core.Tensor(self.vertices.astype(np.float32)), o3d.core.Tensor(self.triangles.astype(np.uint32)))

    def _cast(self, origins_cam: np.ndarray, rotation: np.ndarray) -> dict:
        """Cast rays along -z of the rotated frame from camera-frame origins (R, 3); model-frame hits."""
        rays = np.empty((len(origins_cam), 6), dtype=np.float32)
        rays[:, :3] = origins_cam @ rotation  # R^T x for row vectors
        rays[:, 3:] = -rotation[2]
        ans = self._scene.cast_rays(self._o3d.core.Tensor(rays), nthreads=self.nthreads)
        return {key: ans[key].numpy() for key in ("t_hit", "primitive_ids", "primitive_uvs")}

    def render(
        self,
        rotation: np.ndarray,
        scale: float,
        translation: tuple[float, float],
        size: int,
        lighting: FaceLighting = FaceLighting(),
        background: tuple[float, float, float] = (0.5, 0.5, 0.5),
        supersample: int = 2,
    ) -> np.ndarray:
        """uint8 RGB image (size, size, 3) on a plain ``background``; see the module for the pose convention."""
        rotation = np.asarray(rotation, dtype=np.float64)
        n = size * supersample
        centres = (np.arange(n) + 0.5) / supersample  # pixel coordinates of the subpixel centres
        u, v = np.meshgrid(centres, centres)
        origins = np.stack([(u - translation[0]) / scale, -(v - translation[1]) / scale, np.full_like(u, 2.0 * self.radius + 1.0)], -1)
        ans = self._cast(origins.reshape(-1, 3), rotation)
        hit = np.isfinite(ans["t_hit"])
        colour = np.empty((n * n, 3))
        colour[:] = background
        colour[hit] = self._shade(ans["primitive_ids"][hit].astype(np.int64), ans["primitive_uvs"][hit], rotation, lighting)
        block = colour.reshape(size, supersample, size, supersample, 3).mean(axis=(1, 3))  # box filter
        return np.round(np.clip(block, 0.0, 1.0) * 255.0).astype(np.uint8)

    def _shade(self, ids: np.ndarray, uvs: np.ndarray, rotation: np.ndarray, light: FaceLighting) -> np.ndarray:
        corners = self.triangles[ids]  # (H, 3)
        weights = np.stack([1.0 - uvs[:, 0] - uvs[:, 1], uvs[:, 0], uvs[:, 1]], -1)[..., None]  # (H, 3, 1)
        normal = np.sum(self.normals[corners] * weights, axis=1)
        normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
        albedo = np.sum(self.albedo[corners] * weights, axis=1)
        to_light = np.asarray(light.direction, dtype=np.float64)
        to_light /= np.linalg.norm(to_light)
        to_viewer = rotation[2]  # the camera's +z axis in model coordinates
        half = to_light + to_viewer
        half /= np.linalg.norm(half)
        diffuse = np.clip(normal @ to_light, 0.0, None)
        highlight = np.clip(normal @ half, 0.0, None) ** light.shininess * (diffuse > 0)
        shaded = albedo * (light.ambient + light.diffuse * diffuse)[:, None] + light.specular * highlight[:, None]
        return shaded * np.asarray(light.color)

    def visible(self, points: np.ndarray, rotation: np.ndarray, tolerance: float = 1.0) -> np.ndarray:
        """bool (P,): whether each model point (P, 3) is the first surface hit along its viewing ray."""
        rotation = np.asarray(rotation, dtype=np.float64)
        cam = np.asarray(points, dtype=np.float64) @ rotation.T  # (P, 3) in the rotated frame
        start = 2.0 * self.radius + 1.0
        origins = cam.copy()
        origins[:, 2] = start
        t_hit = self._cast(origins, rotation)["t_hit"]
        return np.isfinite(t_hit) & (t_hit >= (start - cam[:, 2]) - tolerance)
