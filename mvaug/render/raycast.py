"""Headless CPU rendering of triangle meshes by ray casting (Open3D's Embree-backed RaycastingScene).

ShapeNet-like look: flat Lambertian shading of per-face colours under a fixed set of lights,
transparent background, anti-aliased edges by supersampling. :class:`StudioLighting` selects the
realistic look instead: normals interpolated across triangles (edges sharper than a crease angle
stay hard), procedural textures of each face's material kind computed from the 3D hit point (wood
grain, fabric weave, mottling), coloured lights and Blinn-Phong highlights. Chosen over pyrender/OSMesa and
trimesh+embreex after measuring (see ``scripts/bench.py``): it needs no GL context and casts the
rays of a 137x137 view in about a millisecond.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

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


_Vec3 = tuple[float, float, float]

MATERIAL_KINDS: tuple[str, ...] = ("plain", "wood", "paint", "fabric", "leather", "metal", "plastic")
"""Material kinds the realistic look tells apart; faces without a kind are 'plain'."""
_HIGHLIGHTS = np.array([  # Blinn-Phong (strength, shininess) per kind, in MATERIAL_KINDS order
    (0.0, 1.0), (0.05, 10.0), (0.15, 24.0), (0.0, 1.0), (0.12, 14.0), (0.5, 40.0), (0.28, 32.0),
])
CREASE_DEG = 40.0
"""Edges between faces turned further apart than this stay sharp under smooth shading."""


@dataclass(frozen=True)
class Light:
    """A directional light: ``direction`` points from the surface towards it, ``color`` is its RGB intensity."""

    direction: _Vec3
    color: _Vec3


@dataclass(frozen=True)
class StudioLighting:
    """Lights of the realistic look: coloured ambient, lights turning with the camera and lights fixed in the world."""

    ambient: _Vec3 = (0.45, 0.45, 0.45)
    camera_lights: tuple[Light, ...] = (Light((-0.4, 0.55, 0.75), (0.42, 0.42, 0.42)),)
    """Directions in the camera frame (x right, y up, z towards the viewer)."""
    world_lights: tuple[Light, ...] = (Light((0.2, 1.0, 0.3), (0.16, 0.16, 0.16)),)
    specular: float = 1.0
    """Scales every material's highlight."""


def sample_studio_lighting(rng: np.random.Generator) -> StudioLighting:
    """Random lights: a warm or cool key light from the front upper half of the view, a dim fill light from the
    other side, a sky light from above, an ambient level and a highlight strength."""
    side = rng.choice([-1.0, 1.0])
    key = _direction(side * rng.uniform(15.0, 70.0), rng.uniform(10.0, 60.0))
    fill = _direction(-side * rng.uniform(30.0, 80.0), rng.uniform(-10.0, 30.0))
    sky = (rng.uniform(-0.4, 0.4), 1.0, rng.uniform(-0.4, 0.4))
    warmth = rng.uniform(-1.0, 1.0)
    return StudioLighting(
        ambient=_tinted(rng.uniform(0.32, 0.5), 0.3 * rng.uniform(-1.0, 1.0)),
        camera_lights=(Light(key, _tinted(rng.uniform(0.35, 0.6), warmth)),
                       Light(fill, _tinted(rng.uniform(0.04, 0.18), -warmth))),
        world_lights=(Light(sky, _tinted(rng.uniform(0.08, 0.22), -0.5)),),
        specular=float(rng.uniform(0.6, 1.4)),
    )


def _direction(azimuth: float, elevation: float) -> _Vec3:
    """Camera-frame unit vector ``azimuth`` degrees right of the viewing axis and ``elevation`` above it."""
    az, el = math.radians(azimuth), math.radians(elevation)
    return (math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az))


def _tinted(intensity: float, warmth: float) -> _Vec3:
    """Grey ``intensity`` tinted warm (``warmth`` 1, orange) or cool (-1, blue)."""
    tint = np.array([1.0 + 0.12 * warmth, 1.0, 1.0 - 0.18 * warmth])
    return tuple(float(c) for c in intensity * tint / tint.mean())


def corner_normals(vertices: np.ndarray, faces: np.ndarray, crease_deg: float = CREASE_DEG) -> np.ndarray:
    """(F, 3, 3) normal at every face corner: the area-weighted mean normal of the faces at that vertex turned at most
    ``crease_deg`` from the face's own, so curved surfaces shade round and sharper edges stay hard."""
    tri = vertices[faces].astype(np.float64)
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # length: twice the area
    unit = cross / np.maximum(np.linalg.norm(cross, axis=1, keepdims=True), 1e-20)
    order = np.argsort(faces.ravel(), kind="stable")  # corners (3 * face + k) grouped by vertex
    grouped = faces.ravel()[order]
    start = np.searchsorted(grouped, grouped, side="left")
    count = np.searchsorted(grouped, grouped, side="right") - start
    pair = np.repeat(np.arange(len(order)), count)  # every corner with every corner at its vertex
    partner = start[pair] + np.arange(len(pair)) - np.repeat(np.cumsum(count) - count, count)
    corner, other = order[pair], order[partner] // 3
    keep = np.einsum("ij,ij->i", unit[corner // 3], unit[other]) >= math.cos(math.radians(crease_deg))
    summed = np.stack([np.bincount(corner[keep], cross[other[keep], d], len(order)) for d in range(3)], -1)
    length = np.linalg.norm(summed, axis=1, keepdims=True)
    normals = np.where(length > 1e-20, summed / np.maximum(length, 1e-20), np.repeat(unit, 3, axis=0))
    return normals.reshape(-1, 3, 3).astype(np.float32)


class MeshRenderer:
    """Render one mesh (with per-face colours) from many ShapeNet cameras.

    Args:
        vertices: float (V, 3) world coordinates.
        faces: int (F, 3).
        face_colors: uint8 or float (F, 3) RGB (float in [0, 1]); grey when omitted.
        nthreads: ray-casting threads (1 in worker processes, 0 = all cores).
        face_kinds: (F,) names from MATERIAL_KINDS, the realistic look's textures and highlights ('plain' when omitted).
        face_axes: float (F, 3) unit directions of the wood grain and brushing (Y when omitted).
    """

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, face_colors: np.ndarray | None = None, nthreads: int = 1,
                 face_kinds: np.ndarray | None = None, face_axes: np.ndarray | None = None):
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
        self.face_kinds = _kind_indices(face_kinds, len(self.faces))
        self.face_axes = np.tile(np.float32([0.0, 1.0, 0.0]), (len(self.faces), 1)) if face_axes is None else \
            np.asarray(face_axes, dtype=np.float32)
        lo, hi = self.vertices.min(0), self.vertices.max(0)
        self._box_corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        self.nthreads = nthreads
        self._scene = o3d.t.geometry.RaycastingScene(nthreads=nthreads)
        self._scene.add_triangles(o3d.core.Tensor(self.vertices), o3d.core.Tensor(self.faces.astype(np.uint32)))
        self._o3d = o3d

    @classmethod
    def from_trimesh(cls, mesh, nthreads: int = 1, face_kinds: np.ndarray | None = None,
                     face_axes: np.ndarray | None = None) -> "MeshRenderer":
        colors = None
        if mesh.visual.kind == "face":
            colors = np.asarray(mesh.visual.face_colors)
        return cls(mesh.vertices, mesh.faces, colors, nthreads=nthreads, face_kinds=face_kinds, face_axes=face_axes)

    @cached_property
    def corner_normals(self) -> np.ndarray:
        """(F, 3, 3) smooth normals with hard creases, computed on the first realistic render."""
        return corner_normals(self.vertices, self.faces)

    def render(self, camera: ShapeNetCamera, size: int = 137, supersample: int = 2,
               lighting: Lighting | StudioLighting = Lighting()) -> np.ndarray:
        """RGBA uint8 image (size, size, 4); background transparent (alpha 0). ``StudioLighting`` selects the
        realistic look; the silhouette (alpha) is the same under any lighting."""
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
        if isinstance(lighting, StudioLighting):
            t_hit = ans["t_hit"].numpy()[hit, None]
            uvs = ans["primitive_uvs"].numpy()[hit]
            sub[hit, :3] = self._shade_studio(ids, uvs, eye + t_hit * flat_dirs[hit], flat_dirs[hit], camera, lighting)
        else:
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

    def _shade_studio(self, ids: np.ndarray, uvs: np.ndarray, points: np.ndarray, dirs: np.ndarray,
                      camera: ShapeNetCamera, lighting: StudioLighting) -> np.ndarray:
        """Interpolated normals, textured albedo, diffuse and Blinn-Phong light of every hit."""
        corners = self.corner_normals[ids]  # (H, 3, 3)
        u, v = uvs[:, :1], uvs[:, 1:]
        normals = corners[:, 0] * (1.0 - u - v) + corners[:, 1] * u + corners[:, 2] * v
        dirs = dirs.astype(np.float32)
        flip = np.where(_dot(self.face_normals[ids], dirs) > 0, -1.0, 1.0).astype(np.float32)  # two-sided
        normals *= (flip / np.sqrt(np.maximum(_dot(normals, normals), 1e-20)))[:, None]
        to_viewer = -dirs / np.sqrt(_dot(dirs, dirs))[:, None]
        lights = [np.asarray(light.direction) @ camera.rotation for light in lighting.camera_lights]
        lights += [np.asarray(light.direction) for light in lighting.world_lights]
        towards = np.array([d / np.linalg.norm(d) for d in lights], dtype=np.float32)  # (L, 3)
        colors = np.array([l.color for l in (*lighting.camera_lights, *lighting.world_lights)], dtype=np.float32)
        n_l = normals @ towards.T  # (H, L)
        # n.h with h the unit half vector of the viewer and a light: (n.v + n.l) / |v + l|
        n_h = (_dot(normals, to_viewer)[:, None] + n_l) / np.sqrt(np.maximum(2.0 + 2.0 * to_viewer @ towards.T, 1e-12))
        kinds = self.face_kinds[ids]
        strength, shininess = _HIGHLIGHTS[kinds].T.astype(np.float32)
        shine = np.where(n_l > 0, np.clip(n_h, 1e-6, 1.0) ** shininess[:, None], 0.0)
        diffuse = np.asarray(lighting.ambient, dtype=np.float32) + np.clip(n_l, 0.0, None) @ colors
        specular = (lighting.specular * strength)[:, None] * (shine @ colors)
        albedo = self.face_colors[ids] * material_texture(kinds, points.astype(np.float32), self.face_axes[ids])[:, None]
        return np.clip(albedo * diffuse + specular, 0.0, 1.0)

    def _footprint(self, camera: ShapeNetCamera, size: int) -> tuple[int, int, int, int]:
        """The pixel window (x0, x1, y0, y1) that can see the mesh: its projected bounding box, one pixel wider."""
        uv, depth = camera.project(self._box_corners, size)
        if np.any(depth <= 1e-6):  # the camera is inside the box: cast every ray
            return 0, size, 0, size
        x0, y0 = np.floor(uv.min(0)).astype(int) - 1
        x1, y1 = np.ceil(uv.max(0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, size), min(y1, size)
        return (x0, x1, y0, y1) if x1 > x0 and y1 > y0 else (0, 0, 0, 0)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot products of two (N, 3) arrays."""
    return a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1] + a[:, 2] * b[:, 2]


def _kind_indices(names: np.ndarray | None, count: int) -> np.ndarray:
    """Indices into MATERIAL_KINDS of ``count`` face kind names (all 'plain' when None)."""
    if names is None:
        return np.zeros(count, dtype=np.int64)
    names = np.asarray(names)
    unknown = sorted(set(names.tolist()) - set(MATERIAL_KINDS))
    if unknown:
        raise ValueError(f"unknown material kinds {unknown}; choose from {', '.join(MATERIAL_KINDS)}")
    present, inverse = np.unique(names, return_inverse=True)
    return np.array([MATERIAL_KINDS.index(name) for name in present], dtype=np.int64)[inverse.ravel()]


# ---------------------------------------------------------------------------------------------
# Procedural textures: brightness factors from the 3D hit point (mesh units, about a unit cube)

_LATTICE = np.random.default_rng(0x5EED17).random(4096).astype(np.float32)
_RING_CENTRE = np.array([0.9, -0.7, 0.6], dtype=np.float32)  # the wood's growth rings circle a line through here


_PRIMES = (73856093, 19349663, 83492791)


def _lattice(cells: np.ndarray) -> np.ndarray:
    """Hashed random value in [0, 1) of every integer lattice point (N, 3)."""
    return _LATTICE[(cells[:, 0] * _PRIMES[0] ^ cells[:, 1] * _PRIMES[1] ^ cells[:, 2] * _PRIMES[2]) & 4095]


def value_noise(points: np.ndarray) -> np.ndarray:
    """Smooth noise in [0, 1] at (N, 3) points, varying over about one unit."""
    floor = np.floor(points)
    f = points - floor
    fx, fy, fz = (f * f * (3.0 - 2.0 * f)).T
    x, y, z = ((c * p, c * p + p) for c, p in zip(floor.astype(np.int64).T, _PRIMES))  # hashes of both neighbours

    def edge(j: int, k: int) -> np.ndarray:
        a, b = _LATTICE[(x[0] ^ y[j] ^ z[k]) & 4095], _LATTICE[(x[1] ^ y[j] ^ z[k]) & 4095]
        return a + (b - a) * fx

    (e00, e01), (e10, e11) = ((edge(j, k) for k in (0, 1)) for j in (0, 1))
    near, far = e00 + (e10 - e00) * fy, e01 + (e11 - e01) * fy
    return near + (far - near) * fz


def _stretched(points: np.ndarray, axes: np.ndarray, along: float, across: float) -> np.ndarray:
    """Points scaled by ``along`` in the direction of ``axes`` and by ``across`` normal to it."""
    length = np.sum(points * axes, axis=1, keepdims=True)
    return across * points + (along - across) * length * axes


def _wood(points: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Growth rings round a line along the grain, warped by noise, with fine streaks along the grain."""
    offset = points - _RING_CENTRE
    radius = np.linalg.norm(offset - np.sum(offset * axes, axis=1, keepdims=True) * axes, axis=1)
    warp = value_noise(_stretched(points, axes, 3.0, 12.0))
    rings = 0.5 + 0.5 * np.sin(2 * np.pi * (28.0 * radius + 1.6 * warp))
    streaks = value_noise(_stretched(points, axes, 4.0, 90.0))
    return 0.8 + 0.14 * rings ** 3 + 0.12 * streaks


def _fabric(points: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Fine weave noise over a soft mottling."""
    return 0.86 + 0.1 * _lattice(np.floor(points * 260.0).astype(np.int64)) + 0.08 * value_noise(points * 9.0)


def _leather(points: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Pebbled grain over a soft mottling."""
    return 0.88 + 0.08 * value_noise(points * 70.0) + 0.06 * value_noise(points * 6.0)


def _brushed(points: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Faint streaks along the part."""
    return 0.94 + 0.08 * value_noise(_stretched(points, axes, 2.0, 120.0))


def _mottled(points: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """A mild low-frequency variation."""
    return 0.96 + 0.05 * value_noise(points * 5.0)


_TEXTURES = {"wood": _wood, "fabric": _fabric, "leather": _leather, "metal": _brushed, "paint": _mottled,
             "plastic": _mottled}


def material_texture(kinds: np.ndarray, points: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Albedo brightness factor (N,) at hit ``points`` (N, 3) on faces of MATERIAL_KINDS indices ``kinds`` whose grain
    runs along ``axes`` (N, 3); 1 for 'plain'."""
    factor = np.ones(len(kinds), dtype=np.float32)
    for kind, texture in _TEXTURES.items():
        chosen = kinds == MATERIAL_KINDS.index(kind)
        if chosen.any():
            factor[chosen] = texture(points[chosen], axes[chosen])
    return factor
