"""Headless CPU rendering of triangle meshes by ray casting (Open3D's Embree-backed RaycastingScene).

ShapeNet-like look: flat Lambertian shading of per-face colours under a fixed set of lights,
transparent background, anti-aliased edges by supersampling. Chosen over pyrender/OSMesa and
trimesh+embreex after measuring (see ``scripts/bench.py``): it needs no GL context and casts the
rays of a 137x137 view in about a millisecond.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mvaug.geometry.camera import ShapeNetCamera


@dataclass(frozen=True)
class Lighting:
    """Lambertian lights. Directions point from the surface towards the light."""

    ambient: float = 0.52
    key: tuple[float, float, float] = (-0.4, 0.55, 0.75)  # camera frame: upper left, in front
    key_intensity: float = 0.4
    sky: tuple[float, float, float] = (0.2, 1.0, 0.3)  # world frame: from above
    sky_intensity: float = 0.16


class MeshRenderer:
    """Render one mesh (with per-face colours) from many ShapeNet cameras.

    Args:
        vertices: float (V, 3) world coordinates.
        faces: int (F, 3).
        face_colors: uint8 or float (F, 3) RGB (float in [0, 1]); grey when omitted.
        nthreads: ray-casting threads (1 in worker processes, 0 = all cores).
    """

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, face_colors: np.ndarray | None = None, nthreads: int = 1):
        import open3d as o3d

        self.vertices = np.asarray(vertices, dtype=np.float32)
        self.faces = np.asarray(faces, dtype=np.int32)
        if face_colors is None:
            colors = np.full((len(self.faces), 3), 0.8, dtype=np.float32)
        else:
            colors = np.asarray(face_colors)[:, :3]
            colors = colors.astype(np.float32) / 255.0 if colors.dtype == np.uint8 else colors.astype(np.float32)
        self.face_colors = colors  # (F, 3) in [0, 1]
        tri = self.vertices[self.faces]  # (F, 3, 3)
        normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        self.face_normals = normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
        lo, hi = self.vertices.min(0), self.vertices.max(0)
        self._box_corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        self.nthreads = nthreads
        self._scene = o3d.t.geometry.RaycastingScene(nthreads=nthreads)
        self._scene.add_triangles(o3d.core.Tensor(self.vertices), o3d.core.Tensor(self.faces.astype(np.uint32)))
        self._o3d = o3d

    @classmethod
    def from_trimesh(cls, mesh, nthreads: int = 1) -> "MeshRenderer":
        colors = None
        if mesh.visual.kind == "face":
            colors = np.asarray(mesh.visual.face_colors)
        return cls(mesh.vertices, mesh.faces, colors, nthreads=nthreads)

    def render(self, camera: ShapeNetCamera, size: int = 137, supersample: int = 2, lighting: Lighting = Lighting()) -> np.ndarray:
        """RGBA uint8 image (size, size, 4); background transparent (alpha 0)."""
        x0, x1, y0, y1 = self._footprint(camera, size)  # in output pixels
        ss = supersample
        eye, dirs = camera.rays(size, ss, (x0 * ss, x1 * ss, y0 * ss, y1 * ss))  # dirs (h*ss, w*ss, 3)
        flat_dirs = dirs.reshape(-1, 3)
        rays = np.empty((len(flat_dirs), 6), dtype=np.float32)
        rays[:, :3], rays[:, 3:] = eye, flat_dirs
        ans = self._scene.cast_rays(self._o3d.core.Tensor(rays), nthreads=self.nthreads)
        hit = np.isfinite(ans["t_hit"].numpy())  # (R,)
        ids = ans["primitive_ids"].numpy()[hit].astype(np.int64)
        sub = np.zeros((len(flat_dirs), 4), dtype=np.float32)  # premultiplied RGBA per subpixel
        sub[hit, :3] = self._shade(ids, flat_dirs[hit], camera, lighting)
        sub[hit, 3] = 1.0
        sub = sub.reshape(y1 - y0, ss, x1 - x0, ss, 4)
        block = sum(sub[:, i, :, j] for i in range(ss) for j in range(ss)) / (ss * ss)  # (h, w, 4), box filter
        alpha = block[..., 3:4]
        rgb = np.divide(block[..., :3], alpha, out=np.zeros_like(block[..., :3]), where=alpha > 0)
        image = np.zeros((size, size, 4), dtype=np.uint8)
        image[y0:y1, x0:x1] = np.round(np.clip(np.concatenate([rgb, alpha], -1), 0, 1) * 255)
        return image

    def _shade(self, ids: np.ndarray, dirs: np.ndarray, camera: ShapeNetCamera, lighting: Lighting) -> np.ndarray:
        normals = self.face_normals[ids]  # (H, 3)
        facing = np.sum(normals * dirs, axis=1, keepdims=True) > 0
        normals = np.where(facing, -normals, normals)  # two-sided: turn the normal to the viewer
        key = np.asarray(lighting.key) @ camera.rotation  # camera frame -> world
        key /= np.linalg.norm(key)
        sky = np.asarray(lighting.sky) / np.linalg.norm(lighting.sky)
        light = (
            lighting.ambient
            + lighting.key_intensity * np.clip(normals @ key, 0, None)
            + lighting.sky_intensity * np.clip(normals @ sky, 0, None)
        )
        return np.clip(self.face_colors[ids] * light[:, None], 0.0, 1.0)

    def _footprint(self, camera: ShapeNetCamera, size: int) -> tuple[int, int, int, int]:
        """The pixel window (x0, x1, y0, y1) that can see the mesh: its projected bounding box, one pixel wider."""
        uv, depth = camera.project(self._box_corners, size)
        if np.any(depth <= 1e-6):  # the camera is inside the box: cast every ray
            return 0, size, 0, size
        x0, y0 = np.floor(uv.min(0)).astype(int) - 1
        x1, y1 = np.ceil(uv.max(0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, size), min(y1, size)
        return (x0, x1, y0, y1) if x1 > x0 and y1 > y0 else (0, 0, 0, 0)
