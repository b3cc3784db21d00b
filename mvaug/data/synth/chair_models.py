"""Procedural chair meshes: the geometry of the built-in synthetic data set.

A chair is a list of closed, outward-facing part meshes, each with a material colour. Frame: Y up,
the floor at y = 0, the sitter faces +X (their left is -Z), units roughly metres. Parts may
overlap. Only the ``numpy.random.Generator`` handed to :func:`sample_chair` is used, so the same
generator state always gives the same chair, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Sequence, TypeVar

import numpy as np
import trimesh
from numpy.typing import ArrayLike

FAMILIES: tuple[str, ...] = (
    "four_legged",
    "office",
    "armchair",
    "stool",
    "bench",
    "spindle_back",
    "cantilever",
    "pedestal",
)
REALISTIC_FAMILIES: tuple[str, ...] = FAMILIES + (
    "club_armchair",
    "wing_chair",
    "sofa",
    "swivel_lounge",
    "folding",
    "park_bench",
    "upholstered_bench",
)
"""The families of the realistic look: FAMILIES (the flat look's, unchanged) and more."""

_RGB = tuple[float, float, float]
_T = TypeVar("_T")

_X = np.array([1.0, 0.0, 0.0])
_Y = np.array([0.0, 1.0, 0.0])
_Z = np.array([0.0, 0.0, 1.0])
_Segment = tuple[np.ndarray, np.ndarray]
_LEG_CORNERS = ("front_left", "front_right", "back_left", "back_right")

_PALETTES: dict[str, tuple[_RGB, ...]] = {
    "wood": (
        (0.78, 0.62, 0.42), (0.85, 0.70, 0.52), (0.42, 0.28, 0.18), (0.60, 0.33, 0.20),
        (0.45, 0.20, 0.13), (0.20, 0.14, 0.10), (0.88, 0.78, 0.62), (0.62, 0.44, 0.26),
    ),
    "paint": (
        (0.92, 0.92, 0.90), (0.08, 0.08, 0.08), (0.72, 0.12, 0.10), (0.12, 0.18, 0.40),
        (0.16, 0.36, 0.22), (0.85, 0.65, 0.15), (0.50, 0.50, 0.52), (0.10, 0.45, 0.48),
        (0.45, 0.65, 0.82), (0.90, 0.45, 0.12), (0.88, 0.55, 0.60),
    ),
    "fabric": (
        (0.55, 0.55, 0.55), (0.25, 0.25, 0.27), (0.80, 0.72, 0.60), (0.18, 0.22, 0.38),
        (0.16, 0.42, 0.44), (0.78, 0.58, 0.20), (0.45, 0.12, 0.16), (0.42, 0.42, 0.22),
        (0.90, 0.86, 0.76), (0.65, 0.30, 0.18), (0.25, 0.40, 0.65), (0.30, 0.50, 0.32),
    ),
    "leather": (
        (0.07, 0.07, 0.07), (0.30, 0.18, 0.10), (0.60, 0.33, 0.15), (0.72, 0.52, 0.32),
        (0.88, 0.84, 0.74), (0.38, 0.10, 0.10),
    ),
    "metal": (
        (0.80, 0.81, 0.83), (0.10, 0.10, 0.11), (0.30, 0.30, 0.32), (0.66, 0.67, 0.69),
        (0.90, 0.90, 0.90), (0.72, 0.58, 0.30),
    ),
    "plastic": (
        (0.93, 0.93, 0.92), (0.10, 0.10, 0.10), (0.60, 0.60, 0.62), (0.80, 0.15, 0.15),
        (0.95, 0.78, 0.20), (0.20, 0.40, 0.75), (0.40, 0.65, 0.35), (0.95, 0.50, 0.15),
    ),
}


@dataclass
class ChairPart:
    """One closed part mesh and the name of its material."""

    name: str
    mesh: trimesh.Trimesh
    material: str


@dataclass
class ChairModel:
    """A sampled chair: its parts, material colours and kinds, and the proportions and options drawn for it."""

    family: str
    parts: list[ChairPart]
    materials: dict[str, _RGB]
    params: dict[str, float | int | bool | str]
    kinds: dict[str, str] = field(default_factory=dict)
    """Material name -> the palette it was drawn from (wood, paint, fabric, leather, metal, plastic)."""

    def to_mesh(self) -> trimesh.Trimesh:
        """All parts in one mesh (vertices not merged), faces coloured by their part's material."""
        sizes = [len(part.mesh.vertices) for part in self.parts]
        offsets = np.cumsum([0, *sizes[:-1]])
        faces = np.vstack([part.mesh.faces + offset for part, offset in zip(self.parts, offsets)])
        colours = np.vstack([
            np.tile(_rgba(self.materials[part.material]), (len(part.mesh.faces), 1)) for part in self.parts
        ])
        vertices = np.vstack([part.mesh.vertices for part in self.parts])
        return trimesh.Trimesh(vertices, faces, face_colors=colours, process=False)

    def face_kinds(self) -> np.ndarray:
        """The material kind (str) of every face of ``to_mesh()``."""
        return np.repeat([self.kinds[part.material] for part in self.parts], [len(p.mesh.faces) for p in self.parts])

    def face_axes(self) -> np.ndarray:
        """(F, 3) the longest bounding-box axis (X, Y or Z) of every face's part: its grain direction."""
        axes = np.eye(3)[[int(np.argmax(np.ptp(part.mesh.vertices, axis=0))) for part in self.parts]]
        return np.repeat(axes, [len(part.mesh.faces) for part in self.parts], axis=0)


def sample_chair(rng: np.random.Generator, family: str | None = None,
                 families: Sequence[str] = FAMILIES) -> ChairModel:
    """Draw one chair; ``family`` None picks one of ``families`` uniformly with ``rng``."""
    if family is None:
        family = families[int(rng.integers(len(families)))]
    elif family not in _BUILDERS:
        raise ValueError(f"unknown chair family {family!r}; choose one of: {', '.join(REALISTIC_FAMILIES)}")
    builder = _Builder(rng, family)
    _BUILDERS[family](builder)
    return ChairModel(family, builder.parts, builder.materials, builder.params, builder.kinds)


def _rgba(rgb: _RGB) -> np.ndarray:
    return np.array([*(round(255 * c) for c in rgb), 255], dtype=np.uint8)


class _Builder:
    """Draws a chair's options from the generator, records them in params and collects the parts."""

    def __init__(self, rng: np.random.Generator, family: str) -> None:
        self.rng = rng
        self.params: dict[str, float | int | bool | str] = {"family": family}
        self.parts: list[ChairPart] = []
        self.materials: dict[str, _RGB] = {}
        self.kinds: dict[str, str] = {}

    def uniform(self, key: str, low: float, high: float) -> float:
        return self.set(key, round(float(self.rng.uniform(low, high)), 6))

    def integer(self, key: str, low: int, high: int) -> int:
        """Uniform integer in [low, high], both ends included."""
        return self.set(key, int(self.rng.integers(low, high + 1)))

    def flag(self, key: str, probability: float) -> bool:
        return self.set(key, bool(self.rng.random() < probability))

    def choice(self, key: str, options: Sequence[str]) -> str:
        return self.set(key, str(options[int(self.rng.integers(len(options)))]))

    def set(self, key: str, value: _T) -> _T:
        """Record a derived value in params and return it."""
        self.params[key] = value
        return value

    def material(self, name: str, kinds: Sequence[str]) -> str:
        """Draw a colour for material ``name`` from one of the palettes ``kinds``; returns ``name``."""
        self.kinds[name] = self.choice(f"{name}_material", kinds)
        palette = _PALETTES[self.kinds[name]]
        base = np.array(palette[int(self.rng.integers(len(palette)))])
        colour = base * self.rng.uniform(0.85, 1.12) + self.rng.uniform(-0.03, 0.03, 3)
        self.materials[name] = tuple(round(float(c), 6) for c in np.clip(colour, 0.0, 1.0))
        return name

    def add(self, name: str, mesh: trimesh.Trimesh, material: str) -> None:
        self.parts.append(ChairPart(name, mesh, material))


# ---------------------------------------------------------------------------------------------
# Closed mesh primitives


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _rot_z(angle: float) -> np.ndarray:
    """Rotation about +Z; a positive angle leans +Y towards -X (a back tilting backwards)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _oriented(vertices: np.ndarray, faces: np.ndarray) -> trimesh.Trimesh:
    """Mesh of a closed surface, its winding flipped if that makes the signed volume positive."""
    tri = vertices[faces]
    if np.einsum("ij,ij->", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])) < 0:
        faces = faces[:, ::-1]
    return trimesh.Trimesh(vertices, np.ascontiguousarray(faces), process=False)


@lru_cache(maxsize=None)
def _loft_faces(m: int, n: int, closed: bool) -> np.ndarray:
    """Faces joining m rings of n vertices, plus two cap fans (vertices m*n, m*n+1) unless closed."""
    i = np.arange(m if closed else m - 1)[:, None]
    k = np.arange(n)[None, :]
    a, b = i * n + k, i * n + (k + 1) % n
    c, d = (i + 1) % m * n + (k + 1) % n, (i + 1) % m * n + k
    faces = [np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)]
    if not closed:
        k = np.arange(n)
        faces.append(np.stack([np.full(n, m * n), (k + 1) % n, k], -1))
        faces.append(np.stack([np.full(n, m * n + 1), (m - 1) * n + k, (m - 1) * n + (k + 1) % n], -1))
    out = np.vstack(faces)
    out.flags.writeable = False
    return out


def _loft(rings: np.ndarray, closed: bool = False) -> trimesh.Trimesh:
    """Closed mesh through rings (m, n, 3) of convex outlines; the end rings are capped unless closed."""
    m, n, _ = rings.shape
    vertices = rings.reshape(-1, 3)
    if not closed:
        vertices = np.vstack([vertices, rings[0].mean(0), rings[-1].mean(0)])
    return _oriented(vertices, _loft_faces(m, n, closed).copy())


@lru_cache(maxsize=None)
def _circle(sections: int) -> np.ndarray:
    angles = 2 * np.pi * np.arange(sections) / sections
    out = np.stack([np.cos(angles), np.sin(angles)], -1)
    out.flags.writeable = False
    return out


_SQUARE = np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])


def _rect(width: float, height: float) -> np.ndarray:
    """Rectangle section centred across, rising from 0 to height along the normal."""
    return np.array([[-width / 2, 0.0], [width / 2, 0.0], [width / 2, height], [-width / 2, height]])


def _superellipse(a: float, b: float, p: float, count: int = 40) -> np.ndarray:
    """Outline |x/a|^p + |z/b|^p = 1 as (count, 2) points (x, z): p = 2 an ellipse, large p a rounded rectangle."""
    t = 2 * np.pi * np.arange(count) / count
    c, s = np.cos(t), np.sin(t)
    return np.stack([a * np.sign(c) * np.abs(c) ** (2 / p), b * np.sign(s) * np.abs(s) ** (2 / p)], -1)


def _member(p0: ArrayLike, p1: ArrayLike, r0: float, r1: float | None = None, square: bool = False,
            sections: int = 16) -> trimesh.Trimesh:
    """Straight bar from p0 to p1, round or square, of radius (half-width) r0 tapering to r1.

    Steep bars get level end cuts, so a splayed leg stands flat on the floor."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    axis = _unit(p1 - p0)
    if abs(axis[1]) > 0.8:
        e1, e2 = _X, _Z
    else:
        e1 = _unit(np.cross(axis, _Y))
        e2 = np.cross(e1, axis)
    section = _SQUARE if square else _circle(sections)
    ring = section[:, :1] * e1 + section[:, 1:] * e2
    return _loft(np.stack([p0 + r0 * ring, p1 + (r0 if r1 is None else r1) * ring]))


@lru_cache(maxsize=None)
def _unit_box() -> tuple[np.ndarray, np.ndarray]:
    box = trimesh.creation.box()
    return np.array(box.vertices), np.array(box.faces)


def _box(center: ArrayLike, extents: ArrayLike) -> trimesh.Trimesh:
    """Axis-aligned box."""
    vertices, faces = _unit_box()
    return trimesh.Trimesh(vertices * np.asarray(extents, float) + np.asarray(center, float), faces.copy(),
                           process=False)


@lru_cache(maxsize=None)
def _unit_sphere(grid: int) -> tuple[np.ndarray, np.ndarray]:
    """Cube sphere: every cube face a grid x grid patch (equal-angle spacing), projected onto the unit sphere."""
    t = np.tan(np.linspace(-np.pi / 4, np.pi / 4, grid + 1))
    t[[0, -1]] = -1.0, 1.0
    u, v = (a.ravel() for a in np.meshgrid(t, t, indexing="ij"))
    index = np.arange((grid + 1) ** 2).reshape(grid + 1, grid + 1)
    a, b, c, d = (x.ravel() for x in (index[:-1, :-1], index[1:, :-1], index[1:, 1:], index[:-1, 1:]))
    patch = np.concatenate([np.stack([a, b, c], -1), np.stack([a, c, d], -1)])
    points, faces = [], []
    for axis in range(3):
        for sign in (-1.0, 1.0):
            p = np.empty((len(u), 3))
            p[:, axis], p[:, (axis + 1) % 3], p[:, (axis + 2) % 3] = sign, u, v
            faces.append(len(points) * len(u) + (patch if sign > 0 else patch[:, ::-1]))
            points.append(p)
    keys, inverse = np.unique(np.round(np.vstack(points), 9), axis=0, return_inverse=True)
    return _unit(keys), inverse.ravel()[np.vstack(faces)]


def _cushion(center: ArrayLike, extents: ArrayLike, rot: np.ndarray | None = None, curve: float = 0.0,
             softness: float = 0.25, grid: int = 10) -> trimesh.Trimesh:
    """Soft box: a sphere pushed out to a superellipsoid of the given extents (local x depth, y height, z width).

    ``curve`` bends the ends of the width axis forward (+x) by that much, like a wrap-around back."""
    unit, faces = _unit_sphere(grid)
    extents = np.asarray(extents, float)
    vertices = np.sign(unit) * np.abs(unit) ** softness * (extents / 2)
    vertices[:, 0] += curve * (2 * vertices[:, 2] / extents[2]) ** 2
    if rot is not None:
        vertices = vertices @ rot.T
    return _oriented(vertices + np.asarray(center, float), faces.copy())


def _slab(outline: np.ndarray, y0: float, y1: float, bevel: float = 0.0) -> trimesh.Trimesh:
    """Horizontal slab of a convex (x, z) outline between y0 and y1; ``bevel`` rounds it like a pad."""
    heights, scales = [y0, y1], [1.0, 1.0]
    if bevel:
        rise = 0.3 * (y1 - y0)
        heights, scales = [y0, y0 + rise, y1 - rise, y1], [1 - bevel, 1.0, 1.0, 1 - bevel]
    rings = [np.column_stack([s * outline[:, 0], np.full(len(outline), h), s * outline[:, 1]])
             for h, s in zip(heights, scales)]
    return _loft(np.stack(rings))


def _lathe(profile: Sequence[tuple[float, float]], sections: int = 24) -> trimesh.Trimesh:
    """Solid of revolution about the Y axis through (radius, y) profile points, capped at both ends."""
    ring = _circle(sections)
    return _loft(np.stack([np.column_stack([r * ring[:, 0], np.full(sections, y), r * ring[:, 1]])
                           for r, y in profile]))


def _fillet(points: ArrayLike, radius: float, step: float = np.pi / 10) -> np.ndarray:
    """Open polyline with every inner corner rounded by an arc of ``radius`` (less where segments are short)."""
    points = np.asarray(points, float)
    out = [points[0]]
    for prev, corner, nxt in zip(points[:-2], points[1:-1], points[2:]):
        a, b = corner - prev, nxt - corner
        la, lb = np.linalg.norm(a), np.linalg.norm(b)
        a, b = a / la, b / lb
        turn = np.arccos(np.clip(a @ b, -1.0, 1.0))
        if turn < 1e-6:
            out.append(corner)
            continue
        reach = min(radius * np.tan(turn / 2), 0.45 * la, 0.45 * lb)
        r = reach / np.tan(turn / 2)
        inward = _unit(b - (a @ b) * a)
        centre = corner - reach * a + r * inward
        angles = np.linspace(0.0, turn, max(2, int(np.ceil(turn / step)) + 1))
        out.extend(centre - r * np.cos(angles)[:, None] * inward + r * np.sin(angles)[:, None] * a)
    out.append(points[-1])
    return np.array(out)


def _sweep(path: ArrayLike, section: np.ndarray, up: ArrayLike | None = None, closed: bool = False) -> trimesh.Trimesh:
    """Section ((n, 2), or one per path point (m, n, 2)) carried along ``path``.

    Section coordinates are (side, normal). The normal follows ``up`` (a vector or one per point) when
    given, otherwise a rotation-minimising frame, which keeps a planar path's frame in or normal to its plane."""
    path = np.asarray(path, float)
    if closed:
        tangent = _unit(np.roll(path, -1, 0) - np.roll(path, 1, 0))
    else:
        tangent = _unit(np.gradient(path, axis=0))
    if up is None:
        normal = np.empty_like(path)
        normal[0] = _unit(np.cross(tangent[0], _X if abs(tangent[0] @ _Z) > 0.9 else _Z))
        for i in range(1, len(path)):
            normal[i] = _unit(normal[i - 1] - (normal[i - 1] @ tangent[i]) * tangent[i])
        side = np.cross(tangent, normal)
    else:
        side = _unit(np.cross(tangent, np.broadcast_to(up, path.shape)))
        normal = np.cross(side, tangent)
    section = np.broadcast_to(section, (len(path), *np.shape(section)[-2:]))
    rings = path[:, None] + section[..., :1] * side[:, None] + section[..., 1:] * normal[:, None]
    return _loft(rings, closed)


def _tube(points: ArrayLike, radius: float, bend: float, sections: int = 12) -> trimesh.Trimesh:
    """Round tube along a polyline whose corners are bent with radius ``bend``."""
    return _sweep(_fillet(points, bend), radius * _circle(sections))


# ---------------------------------------------------------------------------------------------
# Chair components shared by the families


@dataclass(frozen=True)
class _BackPlane:
    """Frame of a back leaning back by ``tilt`` (radians) from ``origin``: s runs up it, depth towards the front.

    The back bows backwards by ``curve`` at its centre line and not at z = +-half_width (the posts)."""

    origin: np.ndarray
    tilt: float
    half_width: float
    curve: float = 0.0

    @property
    def up(self) -> np.ndarray:
        return np.array([-np.sin(self.tilt), np.cos(self.tilt), 0.0])

    @property
    def front(self) -> np.ndarray:
        return np.array([np.cos(self.tilt), np.sin(self.tilt), 0.0])

    def at(self, s: float, z: float, depth: float = 0.0) -> np.ndarray:
        bow = self.curve * (1 - (z / self.half_width) ** 2)
        return self.origin + s * self.up + (depth - bow) * self.front + z * _Z


def _panel(plane: _BackPlane, s0: float, s1: float, z0: float, z1: float, thickness: float,
           depth: float = 0.0) -> trimesh.Trimesh:
    """Board in a back from s0 to s1 and z0 to z1, following the back's curve."""
    count = 2 if plane.curve == 0 else max(2, round(8 * (z1 - z0) / plane.half_width) + 1)
    path = [plane.at(s0, z, depth) for z in np.linspace(z0, z1, count)]
    return _sweep(path, _rect(thickness, s1 - s0), up=plane.up)


def _back_plane(b: _Builder, origin: ArrayLike, half_width: float, tilt_range: tuple[float, float] = (3.0, 15.0),
                curve_max: float = 0.04) -> _BackPlane:
    """Draw the tilt and bow of a back standing at ``origin``."""
    tilt = np.radians(b.uniform("back_tilt_deg", *tilt_range))
    curve = b.uniform("back_curve", 0.0, curve_max) if curve_max else 0.0
    return _BackPlane(np.asarray(origin, float), tilt, half_width, curve)


def _seat_size(b: _Builder, height: tuple[float, float], width: tuple[float, float],
               depth: tuple[float, float]) -> tuple[float, float, float]:
    """Draw the seat's height, width (across, along Z) and depth (front to back) from these ranges, in that order."""
    return b.uniform("seat_height", *height), b.uniform("seat_width", *width), b.uniform("seat_depth", *depth)


def _seat(b: _Builder, height: float, half_depth: float, half_width: float, roundness: float, thickness: float,
          material: str, pad: float = 0.0, pad_material: str = "") -> float:
    """Seat slab (superellipse outline) topped, or with its pad topped, at ``height``; returns its underside y."""
    outline = _superellipse(half_depth, half_width, roundness)
    top = height - pad
    b.add("seat", _slab(outline, top - thickness, top), material)
    if pad:
        b.add("seat_cushion", _slab(0.97 * outline, top - 0.2 * pad, height, bevel=0.08), pad_material)
    return top - thickness


def _corner_tops(half_depth: float, half_width: float, roundness: float,
                 inset: float) -> dict[str, tuple[float, float]]:
    """(x, z) of four legs set ``inset`` in from the corners of a superellipse seat."""
    q = 2 ** (-1 / roundness)
    x, z = half_depth * q - inset, half_width * q - inset
    return {"front_left": (x, -z), "front_right": (x, z), "back_left": (-x, -z), "back_right": (-x, z)}


def _legs(b: _Builder, tops: dict[str, tuple[float, float]], y_top: float, radius: float, taper: float,
          square: bool, splay: float, material: str, centre: float = 0.0) -> dict[str, _Segment]:
    """Legs from the floor up to (x, y_top, z) for each named (x, z); feet pushed out from (centre, 0) by ``splay``
    per metre of height. Returns every leg's (foot, top)."""
    legs = {}
    for name, (x, z) in tops.items():
        top = np.array([x, y_top, z])
        outward = np.array([x - centre, 0.0, z])
        foot = top - y_top * _Y + splay * y_top * outward / max(np.linalg.norm(outward), 1e-9)
        b.add(f"leg_{name}", _member(foot, top, taper * radius, radius, square=square), material)
        legs[name] = (foot, top)
    return legs


def _on_leg(leg: _Segment, y: float) -> np.ndarray:
    foot, top = leg
    return foot + (top - foot) * (y - foot[1]) / (top[1] - foot[1])


def _stretchers(b: _Builder, legs: dict[str, _Segment], radius: float, square: bool,
                material: str) -> None:
    """Draw and add bars between four legs: 'box' all round, 'side' left and right, 'h' sides plus a cross bar."""
    style = b.choice("stretchers", ("none", "box", "side", "h"))
    if style == "none":
        return
    height = b.uniform("stretcher_height", 0.08, 0.22)
    at = {name: _on_leg(leg, height) for name, leg in legs.items()}
    bars = [("left", "front_left", "back_left"), ("right", "front_right", "back_right")]
    if style == "box":
        bars += [("front", "front_left", "front_right"), ("back", "back_left", "back_right")]
    for name, p, q in bars:
        b.add(f"stretcher_{name}", _member(at[p], at[q], radius, square=square), material)
    if style == "h":
        left, right = (at["front_left"] + at["back_left"]) / 2, (at["front_right"] + at["back_right"]) / 2
        b.add("stretcher_middle", _member(left, right, radius, square=square), material)


def _apron(b: _Builder, tops: dict[str, tuple[float, float]], y_top: float, material: str) -> None:
    """Maybe add rails under the seat between the leg tops."""
    if not b.flag("apron", 0.5):
        return
    height = b.uniform("apron_height", 0.03, 0.08)
    x, z = tops["front_right"]
    y = y_top - height / 2
    for name, center, extents in (
        ("front", (x, y, 0.0), (0.02, height, 2 * z)), ("back", (-x, y, 0.0), (0.02, height, 2 * z)),
        ("left", (0.0, y, -z), (2 * x, height, 0.02)), ("right", (0.0, y, z), (2 * x, height, 0.02)),
    ):
        b.add(f"apron_{name}", _box(center, extents), material)


def _posts(b: _Builder, plane: _BackPlane, s1: float, radius: float, square: bool, material: str) -> None:
    """Back posts at z = -+half_width from the plane's origin level up to s1."""
    for side, sign in (("left", -1), ("right", 1)):
        z = sign * plane.half_width
        b.add(f"back_post_{side}", _member(plane.at(0.0, z), plane.at(s1, z), radius, 0.9 * radius, square), material)


def _rails(b: _Builder, plane: _BackPlane, s0: float, s1: float, count: int, height: float, thickness: float,
           z_extra: float, material: str) -> None:
    """``count`` horizontal rails evenly from s0 up to s1 (top edge), reaching ``z_extra`` past the posts."""
    hw = plane.half_width + z_extra
    for i, s in enumerate(np.linspace(s0, s1 - height, count)):
        b.add(f"back_rail_{i}", _panel(plane, s, s + height, -hw, hw, thickness), material)


def _star_base(b: _Builder, count: int, material: str, metal: str, caster_probability: float) -> float:
    """Hub with ``count`` spokes sloping down to casters or floor glides; returns the hub's centre height."""
    reach = b.uniform("base_radius", 0.24, 0.34)
    spoke = b.uniform("spoke_radius", 0.012, 0.02)
    casters = b.flag("casters", caster_probability)
    if casters:
        wheel = b.uniform("caster_radius", 0.022, 0.035)
        caster = b.material("caster", ("plastic", "metal"))
        y_end = 2 * wheel + 0.012
    else:
        y_end = b.uniform("glide_height", 0.02, 0.04)
    y_hub = y_end + spoke + b.uniform("hub_rise", 0.02, 0.07)
    hub = b.uniform("hub_radius", 0.04, 0.06)
    b.add("base_hub", _lathe([(hub, y_hub - 0.035), (hub, y_hub + 0.025), (0.7 * hub, y_hub + 0.04)]), material)
    phase = b.uniform("base_phase", 0.0, 2 * np.pi / count)
    for i in range(count):
        angle = phase + 2 * np.pi * i / count
        radial = np.array([np.cos(angle), 0.0, np.sin(angle)])
        end = reach * radial + (y_end + spoke) * _Y
        b.add(f"base_spoke_{i}", _member(y_hub * _Y, end, 1.2 * spoke, 0.8 * spoke), material)
        if casters:
            axle = np.cross(radial, _Y)
            centre = reach * radial + wheel * _Y
            b.add(f"caster_stem_{i}", _member(centre, end, 0.006), metal)
            b.add(f"caster_{i}", _member(centre - 0.013 * axle, centre + 0.013 * axle, wheel), caster)
        else:
            b.add(f"glide_{i}", _member(reach * radial, end, 1.1 * spoke), material)
    return y_hub


# ---------------------------------------------------------------------------------------------
# Families


def _four_legged(b: _Builder) -> None:
    """Dining chair: seat on four legs, optional apron and stretchers, posts holding a panel, rails or a pad."""
    height, width, depth = _seat_size(b, (0.42, 0.50), (0.40, 0.52), (0.38, 0.50))
    thickness = b.uniform("seat_thickness", 0.02, 0.05)
    roundness = b.uniform("seat_roundness", 3.5, 12.0)
    frame = b.material("frame", ("wood", "wood", "paint", "metal"))
    seat = b.material("seat", ("wood", "paint", "plastic"))
    pad = b.uniform("seat_pad", 0.03, 0.06) if b.flag("padded_seat", 0.35) else 0.0
    y_seat = _seat(b, height, depth / 2, width / 2, roundness, thickness, seat, pad,
                   b.material("cushion", ("fabric", "leather")) if pad else "")
    radius = b.uniform("leg_radius", 0.012, 0.024)
    square = b.flag("square_legs", 0.5)
    tops = _corner_tops(depth / 2, width / 2, roundness, radius + b.uniform("leg_inset", 0.0, 0.03))
    legs = _legs(b, tops, y_seat + thickness / 2, radius, b.uniform("leg_taper", 0.6, 1.0), square,
                 b.uniform("leg_splay", 0.0, 0.08), frame)
    _apron(b, tops, y_seat, frame)
    _stretchers(b, legs, 0.6 * radius, square, frame)

    x_back, z_back = tops["back_right"]
    plane = _back_plane(b, (x_back, y_seat, 0.0), z_back)
    top = (height + b.uniform("back_height", 0.30, 0.50) - y_seat) / np.cos(plane.tilt)
    _posts(b, plane, top, radius, square, frame)
    style = b.choice("back_style", ("panel", "rails", "upholstered"))
    if style == "panel":
        span = b.uniform("back_panel_fraction", 0.3, 0.85) * (top - height + y_seat)
        b.add("back_panel", _panel(plane, top - span, top - 0.01, -z_back, z_back, 0.7 * radius), frame)
    elif style == "rails":
        rail = b.uniform("back_rail_height", 0.03, 0.07)
        low = b.uniform("back_rails_from", 0.35, 0.6) * top
        _rails(b, plane, low, top, b.integer("back_rails", 2, 4), rail, 0.6 * radius, 0.0, frame)
    else:
        span = b.uniform("back_pad_fraction", 0.45, 0.85) * (top - height + y_seat)
        cushion = b.material("back_cushion", ("fabric", "leather"))
        thick = b.uniform("back_pad_thickness", 0.03, 0.06)
        center = plane.at(top - span / 2, 0.0, radius + thick / 2)
        extents = (thick, span, 2 * (z_back + radius) + 0.02)
        b.add("back_cushion", _cushion(center, extents, _rot_z(plane.tilt), plane.curve), cushion)
    b.set("has_back", True)
    b.set("has_arms", False)


def _office(b: _Builder) -> None:
    """Swivel chair: five-spoke base on casters or glides, gas-lift column, padded seat and back, optional arms."""
    height, width, depth = _seat_size(b, (0.42, 0.52), (0.44, 0.54), (0.42, 0.50))
    thickness = b.uniform("seat_thickness", 0.05, 0.10)
    base = b.material("base", ("metal", "plastic", "metal"))
    metal = b.material("metal", ("metal",))
    cushion = b.material("cushion", ("fabric", "leather", "fabric"))
    y_hub = _star_base(b, 5, base, metal, 0.75)

    mech = b.uniform("mechanism_height", 0.03, 0.06)
    y_mech = height - thickness - mech
    column = b.uniform("column_radius", 0.022, 0.032)
    y_sleeve = y_hub + b.uniform("sleeve_fraction", 0.4, 0.7) * (y_mech - y_hub)
    b.add("gas_lift_sleeve", _member(y_hub * _Y, y_sleeve * _Y, column), base)
    b.add("gas_lift_piston", _member((y_sleeve - 0.02) * _Y, (y_mech + 0.01) * _Y, 0.6 * column), metal)
    b.add("mechanism", _box((0.0, y_mech + mech / 2, 0.0), (0.24, mech, 0.2)), metal)
    outline = _superellipse(depth / 2, width / 2, b.uniform("seat_roundness", 3.0, 8.0))
    b.add("seat", _slab(outline, height - thickness, height, 0.1), cushion)

    back_height = b.uniform("back_height", 0.38, 0.72)
    back_thick = b.uniform("back_thickness", 0.04, 0.08)
    back_width = b.uniform("back_width_fraction", 0.8, 1.0) * width
    gap = b.uniform("back_gap", 0.03, 0.12)
    plane = _back_plane(b, (-depth / 2 + back_thick / 2, height, 0.0), back_width / 2, (5.0, 18.0), 0.05)
    rot = _rot_z(plane.tilt)
    b.add("back_cushion", _cushion(plane.at(gap + back_height / 2, 0.0), (back_thick, back_height, back_width), rot,
                                   plane.curve), cushion)
    behind = -back_thick / 2 - 0.008
    spine = [(-0.06, y_mech + mech / 2, 0.0), (-depth / 2 - 0.02, y_mech + mech / 2, 0.0),
             plane.at(gap + 0.5 * back_height, 0.0, behind)]
    spine_width = b.uniform("spine_width", 0.04, 0.08)
    b.add("back_spine", _sweep(_fillet(spine, 0.05), _rect(spine_width, 0.014) - [0.0, 0.007]), base)
    if back_height > 0.5 and b.flag("headrest", 0.4):
        rest = b.uniform("headrest_height", 0.09, 0.14)
        s = gap + back_height + 0.03 + rest / 2
        b.add("back_headrest", _cushion(plane.at(s, 0.0), (back_thick, rest, 0.6 * back_width), rot), cushion)
        b.add("back_headrest_post", _member(plane.at(s - rest / 2 - 0.13, 0.0, behind), plane.at(s, 0.0, behind),
                                            0.012), base)
    b.set("has_back", True)

    if b.set("has_arms", b.flag("arms", 0.6)):
        y_arm = height + b.uniform("arm_height", 0.17, 0.26) - 0.015
        pad_length = b.uniform("arm_pad_length", 0.2, 0.28)
        x_arm = b.uniform("arm_x", -0.08, 0.0)
        tube = b.uniform("arm_tube_radius", 0.011, 0.017)
        y_bracket = y_mech + mech / 2
        for side, sign in (("left", -1), ("right", 1)):
            z = sign * (width / 2 + 0.035)
            path = [(x_arm, y_bracket, sign * 0.06), (x_arm, y_bracket, z), (x_arm, y_arm, z)]
            b.add(f"arm_support_{side}", _tube(path, tube, 0.05), base)
            b.add(f"arm_pad_{side}", _cushion((x_arm + 0.02, y_arm, z), (pad_length, 0.03, 0.075), grid=6), base)


def _armchair(b: _Builder) -> None:
    """Upholstered armchair: deep frame on short legs or a skirt, panel or post arms, thick back, cushions."""
    height, width, depth = _seat_size(b, (0.38, 0.46), (0.48, 0.64), (0.48, 0.60))
    fabric = b.material("upholstery", ("fabric", "fabric", "leather"))
    panel_arms = b.choice("arm_style", ("panel", "post")) == "panel"
    arm_width = b.uniform("arm_width", 0.10, 0.20) if panel_arms else b.uniform("arm_width", 0.05, 0.09)
    y_arm = height + b.uniform("arm_height", 0.15, 0.26)
    back_thick = b.uniform("back_thickness", 0.10, 0.20)
    legs = b.choice("base", ("legs", "skirt")) == "legs"
    frame = b.material("frame", ("wood", "wood", "metal")) if legs or not panel_arms else fabric
    y_base = b.uniform("leg_height", 0.08, 0.20) if legs else 0.0
    pad = b.uniform("seat_cushion_thickness", 0.04, 0.13)
    cushion = b.material("cushion", ("fabric", "leather")) if b.flag("contrast_cushions", 0.3) else fabric
    y_frame = height - pad
    full = width + 2 * arm_width
    x0, x1 = -depth / 2 - back_thick, depth / 2
    xc = (x0 + x1) / 2
    b.add("base", _cushion((xc, (y_base + y_frame) / 2, 0.0), (x1 - x0, y_frame - y_base, full), softness=0.12),
          fabric)
    b.add("seat", _cushion((0.0, y_frame + pad / 2 - 0.01, 0.0), (depth, pad + 0.02, width)), cushion)

    plane = _back_plane(b, (-depth / 2 - back_thick / 2, y_frame, 0.0), full / 2, (4.0, 16.0), 0.0)
    top = (height + b.uniform("back_height", 0.35, 0.55) - y_frame) / np.cos(plane.tilt)
    rot = _rot_z(plane.tilt)
    b.add("back", _cushion(plane.at(top / 2 - 0.04, 0.0), (back_thick, top + 0.08, full), rot, softness=0.15), fabric)
    if b.flag("back_cushion", 0.6):
        thick = b.uniform("back_cushion_thickness", 0.07, 0.14)
        s0 = pad / np.cos(plane.tilt)
        centre = plane.at((s0 + top - 0.04) / 2, 0.0, (back_thick + thick) / 2 - 0.02)
        b.add("back_cushion", _cushion(centre, (thick, top - 0.04 - s0, width), rot), cushion)

    for side, sign in (("left", -1), ("right", 1)):
        z = sign * (width + arm_width) / 2
        if panel_arms:
            extents = (x1 - x0 + 0.04, y_arm - y_base, arm_width)
            b.add(f"arm_{side}", _cushion((xc + 0.02, (y_base + y_arm) / 2, z), extents, softness=0.15), fabric)
        else:
            b.add(f"arm_{side}", _box((xc + 0.03, y_arm - 0.015, z), (x1 - x0 + 0.06, 0.03, arm_width)), frame)
            b.add(f"arm_support_{side}", _member((x1 - 0.03, y_frame - 0.05, z), (x1 - 0.03, y_arm, z), 0.022, 0.018),
                  frame)
    b.set("has_back", True)
    b.set("has_arms", True)
    if legs:
        radius = b.uniform("leg_radius", 0.015, 0.028)
        x, xb, z = x1 - radius - 0.02, x0 + radius + 0.02, full / 2 - radius - 0.02
        tops = {"front_left": (x, -z), "front_right": (x, z), "back_left": (xb, -z), "back_right": (xb, z)}
        _legs(b, tops, y_base + 0.03, radius, b.uniform("leg_taper", 0.5, 0.9), b.flag("square_legs", 0.5),
              b.uniform("leg_splay", 0.0, 0.15), frame, centre=xc)


def _stool(b: _Builder) -> None:
    """Backless stool: round or square seat on three or four splayed legs, with a foot ring or stretchers."""
    height = b.uniform("seat_height", 0.45, 0.80)
    round_seat = b.flag("round_seat", 0.6)
    size = b.uniform("seat_radius", 0.15, 0.21) if round_seat else b.uniform("seat_half_width", 0.14, 0.20)
    roundness = 2.0 if round_seat else b.uniform("seat_roundness", 4.0, 12.0)
    thickness = b.uniform("seat_thickness", 0.025, 0.06)
    frame = b.material("frame", ("wood", "wood", "metal", "paint"))
    seat = b.material("seat", ("wood", "paint", "plastic"))
    pad = b.uniform("seat_pad", 0.03, 0.06) if b.flag("padded_seat", 0.3) else 0.0
    y_seat = _seat(b, height, size, size, roundness, thickness, seat, pad,
                   b.material("cushion", ("fabric", "leather")) if pad else "")
    b.set("seat_width", 2 * size)
    b.set("seat_depth", 2 * size)
    count = b.integer("leg_count", 3, 4) if round_seat else 4
    radius = b.uniform("leg_radius", 0.012, 0.022)
    square = b.flag("square_legs", 0.3)
    corner = 1.0 if round_seat else np.sqrt(2) * 2 ** (-1 / roundness)
    reach = b.uniform("leg_reach", 0.6, 0.85) * size * corner
    angles = (np.pi / 4 if count == 4 else 0.0) + 2 * np.pi * np.arange(count) / count
    tops = {str(i): (reach * np.cos(a), reach * np.sin(a)) for i, a in enumerate(angles)}
    legs = list(_legs(b, tops, y_seat + thickness / 2, radius, b.uniform("leg_taper", 0.6, 1.0), square,
                      b.uniform("leg_splay", 0.04, 0.14), frame).values())
    support = b.choice("support", ("ring", "stretchers", "none") if height > 0.55 else ("stretchers", "none"))
    if support == "ring":
        y = b.uniform("ring_height", 0.2, 0.4) * height
        ring_radius = np.linalg.norm(_on_leg(legs[0], y)[[0, 2]])
        path = [(ring_radius * c, y, ring_radius * s) for c, s in _circle(32)]
        b.add("foot_ring", _sweep(path, b.uniform("ring_tube_radius", 0.008, 0.014) * _circle(12), _Y, closed=True),
              frame)
    elif support == "stretchers":
        y = b.uniform("stretcher_height", 0.15, 0.4) * height
        for i in range(count):
            b.add(f"stretcher_{i}", _member(_on_leg(legs[i], y), _on_leg(legs[(i + 1) % count], y), 0.6 * radius,
                                            square=square), frame)
    b.set("has_back", False)
    b.set("has_arms", False)


def _bench(b: _Builder) -> None:
    """Bench: a long seat (along Z) of one board or slats, on legs or end panels; optional back and arms."""
    height, length, depth = _seat_size(b, (0.40, 0.48), (0.9, 1.8), (0.32, 0.50))
    thickness = b.uniform("seat_thickness", 0.025, 0.05)
    frame = b.material("frame", ("wood", "wood", "metal", "paint"))
    seat = b.material("seat", ("wood", "wood", "paint"))
    end = b.uniform("support_inset", 0.03, 0.15)
    z_end = length / 2 - end
    legs = b.choice("support", ("legs", "panels")) == "legs"
    supports = (-z_end, 0.0, z_end) if legs and length > 1.3 else (-z_end, z_end)
    y_seat = height - thickness
    if b.flag("slatted_seat", 0.5):
        count = b.integer("seat_slats", 3, 6)
        gap = b.uniform("seat_slat_gap", 0.008, 0.02)
        slat = (depth - gap * (count - 1)) / count
        for i in range(count):
            x = -depth / 2 + slat / 2 + i * (slat + gap)
            b.add(f"seat_slat_{i}", _box((x, height - thickness / 2, 0.0), (slat, thickness, length)), seat)
        y_seat -= 0.03
        for i, z in enumerate(supports):
            b.add(f"seat_rail_{i}", _box((0.0, y_seat + 0.015, z), (depth, 0.03, 0.04)), frame)
    else:
        _seat(b, height, depth / 2, length / 2, b.uniform("seat_roundness", 6.0, 20.0), thickness, seat)

    x_back = -depth / 2 + 0.03
    if legs:
        radius = b.uniform("leg_radius", 0.016, 0.03)
        square = b.flag("square_legs", 0.5)
        x = depth / 2 - radius - b.uniform("leg_inset", 0.0, 0.04)
        x_back = -x
        names = {-z_end: "left", 0.0: "middle", z_end: "right"}
        tops = {f"{row}_{names[z]}": (sign * x, z) for z in supports for row, sign in (("front", 1), ("back", -1))}
        legs_at = _legs(b, tops, y_seat + 0.02, radius, b.uniform("leg_taper", 0.7, 1.0), square,
                        b.uniform("leg_splay", 0.0, 0.06), frame)
        _stretchers(b, {name: legs_at[name] for name in _LEG_CORNERS}, 0.6 * radius, square, frame)
    else:
        board = b.uniform("panel_thickness", 0.03, 0.06)
        span = b.uniform("panel_depth_fraction", 0.7, 0.95) * depth
        for side, z in zip(("left", "right"), supports):
            b.add(f"leg_panel_{side}", _box((0.0, (y_seat + 0.01) / 2, z), (span, y_seat + 0.01, board)), frame)
        if b.flag("stretcher", 0.5):
            y = b.uniform("stretcher_height", 0.08, 0.25)
            b.add("stretcher_middle", _member((0.0, y, -z_end), (0.0, y, z_end), 0.02, square=True), frame)

    has_back = b.set("has_back", b.flag("back", 0.5))
    arms = b.set("has_arms", has_back and b.flag("arms", 0.4))
    if not has_back:
        return
    plane = _back_plane(b, (x_back, y_seat, 0.0), z_end, (5.0, 18.0), 0.0)
    top = (height + b.uniform("back_height", 0.25, 0.45) - y_seat) / np.cos(plane.tilt)
    post = b.uniform("post_radius", 0.016, 0.028)
    _posts(b, plane, top, post, True, frame)
    if b.choice("back_style", ("rails", "panel")) == "rails":
        rail = b.uniform("back_rail_height", 0.04, 0.10)
        _rails(b, plane, top * b.uniform("back_rails_from", 0.3, 0.55), top, b.integer("back_rails", 2, 4), rail,
               0.025, 0.7 * end, seat)
    else:
        span = b.uniform("back_panel_fraction", 0.3, 0.8) * (top - thickness)
        b.add("back_panel", _panel(plane, top - span, top, -z_end - 0.7 * end, z_end + 0.7 * end, 0.025,
                                   post + 0.0125), seat)
    if arms:
        y_arm = height + b.uniform("arm_height", 0.16, 0.25)
        s_arm = (y_arm - y_seat) / np.cos(plane.tilt)
        x_front = depth / 2 - 0.04
        for side, sign in (("left", -1), ("right", 1)):
            z = sign * z_end
            x_rear = plane.at(s_arm, z)[0]
            b.add(f"arm_support_{side}", _member((x_front, y_seat, z), (x_front, y_arm, z), post, square=True), frame)
            b.add(f"arm_{side}", _box(((x_front + x_rear) / 2 + 0.02, y_arm, z), (x_front - x_rear + 0.08, 0.03, 0.06)),
                  frame)


def _spindle_back(b: _Builder) -> None:
    """Windsor or slat-back chair: splayed legs, back posts with a top rail over vertical spindles or slats."""
    height, width, depth = _seat_size(b, (0.43, 0.48), (0.40, 0.50), (0.38, 0.46))
    thickness = b.uniform("seat_thickness", 0.03, 0.05)
    roundness = b.uniform("seat_roundness", 2.6, 6.0)
    frame = b.material("frame", ("wood", "wood", "wood", "paint"))
    y_seat = _seat(b, height, depth / 2, width / 2, roundness, thickness, frame)
    radius = b.uniform("leg_radius", 0.013, 0.02)
    square = b.flag("square_legs", 0.2)
    tops = _corner_tops(depth / 2, width / 2, roundness, radius + b.uniform("leg_inset", 0.01, 0.04))
    legs = _legs(b, tops, y_seat + thickness / 2, radius, b.uniform("leg_taper", 0.55, 0.85), square,
                 b.uniform("leg_splay", 0.04, 0.12), frame)
    _stretchers(b, legs, 0.55 * radius, square, frame)

    x_back, z_back = tops["back_right"]
    plane = _back_plane(b, (x_back, y_seat, 0.0), z_back, (5.0, 16.0), 0.06)
    top = (height + b.uniform("back_height", 0.35, 0.55) - y_seat) / np.cos(plane.tilt)
    _posts(b, plane, top, radius, square, frame)
    rail = b.uniform("top_rail_height", 0.04, 0.10)
    overhang = b.uniform("top_rail_overhang", 0.0, 0.03)
    b.add("back_top_rail", _panel(plane, top - rail, top, -z_back - overhang, z_back + overhang,
                                  b.uniform("top_rail_thickness", 0.02, 0.035)), frame)
    low = thickness / 2
    if b.flag("lower_rail", 0.4):
        s = thickness + b.uniform("lower_rail_height", 0.05, 0.14)
        b.add("back_rail_low", _panel(plane, s, s + 0.03, -z_back, z_back, 0.022), frame)
        low = s + 0.015
    if b.choice("uprights", ("spindles", "slats")) == "spindles":
        count = b.integer("upright_count", 3, 9)
        size = b.uniform("spindle_radius", 0.006, 0.011)
        for i, z in enumerate(np.linspace(-z_back, z_back, count + 2)[1:-1]):
            b.add(f"back_spindle_{i}", _member(plane.at(low, z), plane.at(top - rail / 2, z), size, 0.8 * size), frame)
    else:
        count = b.integer("upright_count", 2, 5)
        size = b.uniform("slat_fill", 0.25, 0.7) * 2 * z_back / (count + 1)
        for i, z in enumerate(np.linspace(-z_back, z_back, count + 2)[1:-1]):
            b.add(f"back_slat_{i}", _panel(plane, low, top - rail / 2, z - size / 2, z + size / 2, 0.014), frame)
    b.set("has_back", True)
    b.set("has_arms", False)


def _cantilever(b: _Builder) -> None:
    """Tubular steel chair: one bent tube as a cantilever Z-frame, or a sled runner per side; seat and back shells."""
    height, width, depth = _seat_size(b, (0.43, 0.48), (0.40, 0.48), (0.40, 0.47))
    metal = b.material("metal", ("metal",))
    tube = b.uniform("tube_radius", 0.009, 0.014)
    bend = b.uniform("bend_radius", 0.04, 0.08)
    shell = b.material("seat", ("wood", "plastic", "leather", "fabric"))
    soft = b.choice("seat_kind", ("board", "cushion")) == "cushion"
    thickness = b.uniform("seat_thickness", 0.04, 0.07) if soft else b.uniform("seat_thickness", 0.012, 0.025)
    z_tube = width / 2 - b.uniform("tube_inset", 0.02, 0.05)
    y_tube = height - thickness - tube
    if soft:
        b.add("seat", _cushion((0.0, height - thickness / 2, 0.0), (depth, thickness, width)), shell)
    else:
        _seat(b, height, depth / 2, width / 2, b.uniform("seat_roundness", 3.0, 8.0), thickness, shell)
    plane = _back_plane(b, (-depth / 2 + 0.03, y_tube, 0.0), z_tube, (5.0, 15.0), 0.03)
    top = (height + b.uniform("back_height", 0.30, 0.45) - y_tube) / np.cos(plane.tilt)

    sled = b.choice("base", ("cantilever", "sled")) == "sled"
    reach = b.uniform("runner_reach", 0.0, 0.08)
    rear = b.uniform("runner_rear", -0.05, 0.1)
    sides = []
    for sign in (-1, 1):
        z = sign * z_tube
        seat_front = (depth / 2 - 0.03, y_tube, z)
        if sled:
            sides.append([plane.at(top, z), plane.at(0.0, z), (-depth / 2 - reach, tube, z),
                          (depth / 2 + reach, tube, z), seat_front, (-depth / 2 + 0.1, y_tube, z)])
        else:
            sides.append([plane.at(top, z), plane.at(0.0, z), seat_front, (depth / 2 + reach, tube, z),
                          (-depth / 2 + rear, tube, z)])
    if sled:
        for side, path in zip(("left", "right"), sides):
            b.add(f"frame_{side}", _tube(path, tube, bend), metal)
        for name, x in (("front", depth / 2 - 0.06), ("rear", -depth / 2 + 0.12)):
            b.add(f"crossbar_{name}", _member((x, y_tube, -z_tube), (x, y_tube, z_tube), 0.8 * tube), metal)
    else:
        b.add("frame", _tube(sides[0] + sides[1][::-1], tube, bend), metal)
    if b.set("has_arms", b.flag("arms", 0.3)):
        y_arm = height + b.uniform("arm_height", 0.18, 0.25)
        s_arm = (y_arm - y_tube) / np.cos(plane.tilt)
        x_front = depth / 2 - 0.05
        for side, sign in (("left", -1), ("right", 1)):
            z, z_out = sign * z_tube, sign * (width / 2 + 0.03)
            post = plane.at(s_arm, z)
            path = [post, (post[0], y_arm, z_out), (x_front, y_arm, z_out), (x_front, y_tube, z_out),
                    (x_front, y_tube, z)]
            b.add(f"arm_{side}", _tube(path, tube, 0.5 * bend), metal)

    span = b.uniform("back_shell_height", 0.15, 0.3)
    half = z_tube + tube + b.uniform("back_overhang", 0.0, 0.03)
    if soft:
        centre = plane.at(top - span / 2, 0.0, tube + thickness / 2)
        b.add("back", _cushion(centre, (thickness, span, 2 * half), _rot_z(plane.tilt), plane.curve), shell)
    else:
        b.add("back", _panel(plane, top - span, top, -half, half, thickness, tube + thickness / 2), shell)
    b.set("has_back", True)


def _pedestal(b: _Builder) -> None:
    """Tulip chair: one stem on a round foot, an oval seat and a moulded shell back that may wrap into arms."""
    height = b.uniform("seat_height", 0.42, 0.48)
    half_depth = b.uniform("seat_depth", 0.40, 0.50) / 2
    half_width = b.uniform("seat_width", 0.42, 0.54) / 2
    roundness = b.uniform("seat_roundness", 2.0, 3.0)
    shell_thick = b.uniform("shell_thickness", 0.012, 0.025)
    base = b.material("base", ("metal", "plastic", "paint"))
    shell = b.material("shell", ("plastic", "plastic", "paint", "wood"))
    pad = b.uniform("seat_pad", 0.03, 0.07) if b.flag("padded_seat", 0.6) else 0.0
    y_seat = _seat(b, height, half_depth, half_width, roundness, shell_thick, shell, pad,
                   b.material("cushion", ("fabric", "leather")) if pad else "")
    stem = b.uniform("stem_radius", 0.02, 0.04)
    if b.choice("foot", ("disc", "spokes")) == "disc":
        foot = b.uniform("foot_radius", 0.2, 0.28)
        profile = [(foot, 0.0), (foot, 0.01), (0.75 * foot, 0.03), (2 * stem, 0.09), (stem, 0.15),
                   (stem, y_seat - 0.06), (3 * stem, y_seat + 0.002)]
    else:
        y_hub = _star_base(b, 4, base, base, 0.0)
        profile = [(stem, y_hub), (stem, y_seat - 0.06), (3 * stem, y_seat + 0.002)]
    b.add("base_stem", _lathe(profile, 32), base)

    span = np.radians(b.uniform("shell_span_deg", 110.0, 230.0))
    back = height - y_seat + b.uniform("back_height", 0.25, 0.42)
    end = height - y_seat + b.uniform("shell_end_height", 0.08, 0.2)
    flare = np.radians(b.uniform("shell_flare_deg", 5.0, 20.0))
    b.add("back_shell", _wrap_shell(half_depth, half_width, roundness, y_seat, span, back, end, flare, shell_thick),
          shell)
    b.set("has_back", True)
    b.set("has_arms", False)


def _wrap_shell(half_depth: float, half_width: float, roundness: float, y: float, span: float, back: float,
                end: float, flare: float, thickness: float) -> trimesh.Trimesh:
    """Shell rising from level ``y`` round the back of a superellipse seat over ``span`` radians, ``back`` high at the
    middle and ``end`` at both ends, flared outwards by ``flare`` radians."""
    phi = np.pi + np.linspace(-span / 2, span / 2, 25)
    c, s = np.cos(phi), np.sin(phi)
    e = 2 / roundness
    path = np.column_stack([0.97 * half_depth * np.sign(c) * np.abs(c) ** e, np.full(len(phi), y),
                            0.97 * half_width * np.sign(s) * np.abs(s) ** e])
    up = np.cos(flare) * _Y + np.sin(flare) * np.column_stack([c, np.zeros_like(c), s])
    rise = end + (back - end) * np.cos((phi - np.pi) / span * np.pi) ** 2
    sections = np.stack([_rect(thickness, h) for h in rise])
    return _sweep(path, sections, up)


# ---------------------------------------------------------------------------------------------
# Families of the realistic look only


def _upholstered_body(b: _Builder, height: float, width: float, depth: float, cover: str,
                      ranges: dict[str, tuple[float, float]]) -> tuple[float, float, float, _BackPlane]:
    """Base box on short legs, loose seat cushion and back of an upholstered seat ``width`` wide; ``ranges`` gives
    leg_height, seat_cushion_thickness, back_thickness and back_tilt_deg. Returns the base's back and front x, the
    frame top y and the back's plane."""
    y_base = b.uniform("leg_height", *ranges["leg_height"])
    pad = b.uniform("seat_cushion_thickness", *ranges["seat_cushion_thickness"])
    back_thick = b.uniform("back_thickness", *ranges["back_thickness"])
    y_frame = height - pad
    x0, x1 = -depth / 2 - back_thick, depth / 2
    full = width + 2 * b.params["arm_width"]
    b.add("base", _cushion(((x0 + x1) / 2, (y_base + y_frame) / 2, 0.0), (x1 - x0, y_frame - y_base, full),
                           softness=0.15), cover)
    plane = _back_plane(b, (-depth / 2 - back_thick / 2, y_frame, 0.0), full / 2, ranges["back_tilt_deg"], 0.0)
    radius = b.uniform("leg_radius", 0.015, 0.028)
    x, xb, z = x1 - radius - 0.03, x0 + radius + 0.03, full / 2 - radius - 0.03
    tops = {"front_left": (x, -z), "front_right": (x, z), "back_left": (xb, -z), "back_right": (xb, z)}
    if width > 1.3:
        tops |= {"front_middle": (x, 0.0), "back_middle": (xb, 0.0)}
    _legs(b, tops, y_base + 0.03, radius, b.uniform("leg_taper", 0.5, 0.9), b.flag("square_legs", 0.4),
          b.uniform("leg_splay", 0.0, 0.08), b.material("frame", ("wood", "wood", "metal")), centre=(x0 + x1) / 2)
    return x0, x1, y_frame, plane


def _side_arms(b: _Builder, x0: float, x1: float, y_low: float, y_arm: float, width: float, softness: float,
               material: str) -> None:
    """Upholstered arms the depth of the base on both sides of a seat ``width`` wide."""
    arm_width = b.params["arm_width"]
    for side, sign in (("left", -1), ("right", 1)):
        centre = ((x0 + x1) / 2 + 0.02, (y_low + y_arm) / 2, sign * (width + arm_width) / 2)
        b.add(f"arm_{side}", _cushion(centre, (x1 - x0 + 0.04, y_arm - y_low, arm_width), softness=softness), material)


def _loose_cushions(b: _Builder, plane: _BackPlane, s0: float, s1: float, back_thick: float, x0: float, x1: float,
                    y_arm: float, width: float, material: str) -> None:
    """Maybe a back cushion from s0 to s1 up the back, and round caps on the arms (from x0 to x1, top at y_arm)."""
    if b.flag("back_cushion", 0.5):
        thick = b.uniform("back_cushion_thickness", 0.06, 0.12)
        centre = plane.at((s0 + s1) / 2 - 0.02, 0.0, (back_thick + thick) / 2 - 0.02)
        b.add("back_cushion", _cushion(centre, (thick, s1 - s0 - 0.04, width), _rot_z(plane.tilt)), material)
    if b.flag("arm_caps", 0.4):
        cap = b.uniform("arm_cap_radius", 0.04, 0.07)
        for side, sign in (("left", -1), ("right", 1)):
            z = sign * (width + b.params["arm_width"]) / 2
            b.add(f"arm_cap_{side}", _member((x0 + 0.02, y_arm - 0.3 * cap, z), (x1 + 0.03, y_arm - 0.3 * cap, z), cap,
                                             sections=20), material)


def _club_armchair(b: _Builder) -> None:
    """Club armchair: low, deep and squat, thick rolled arms nearly as high as a back that wraps round, a loose seat
    cushion, short feet; mostly leather."""
    height, width, depth = _seat_size(b, (0.36, 0.44), (0.46, 0.58), (0.50, 0.62))
    cover = b.material("upholstery", ("leather", "leather", "fabric"))
    b.uniform("arm_width", 0.13, 0.22)
    y_arm = height + b.uniform("arm_height", 0.14, 0.22)
    x0, x1, y_frame, plane = _upholstered_body(b, height, width, depth, cover, {
        "leg_height": (0.04, 0.10), "seat_cushion_thickness": (0.08, 0.14), "back_thickness": (0.12, 0.2),
        "back_tilt_deg": (4.0, 12.0)})
    b.add("seat", _cushion((0.0, height - (height - y_frame) / 2, 0.0), (depth, height - y_frame, width),
                           softness=0.3), cover)
    top = (y_arm + b.uniform("back_rise", 0.08, 0.22) - y_frame) / np.cos(plane.tilt)
    wrap = b.uniform("back_wrap", 0.04, 0.12)
    thick = x1 - x0 - depth
    rot = _rot_z(plane.tilt)
    b.add("back", _cushion(plane.at(top / 2, 0.0), (thick, top, 2 * plane.half_width), rot, wrap, softness=0.35),
          cover)
    _side_arms(b, x0, x1, y_frame - 0.1, y_arm, width, 0.4, cover)
    _loose_cushions(b, plane, (height - y_frame) / np.cos(plane.tilt), top, thick, x0, x1, y_arm, width, cover)
    b.set("has_back", True)
    b.set("has_arms", True)


def _wing_chair(b: _Builder) -> None:
    """Wing armchair: tall back with wings reaching forward at head height, low rolled arms, legs showing."""
    height, width, depth = _seat_size(b, (0.40, 0.46), (0.46, 0.56), (0.46, 0.56))
    cover = b.material("upholstery", ("fabric", "fabric", "leather"))
    b.uniform("arm_width", 0.07, 0.13)
    y_arm = height + b.uniform("arm_height", 0.16, 0.24)
    x0, x1, y_frame, plane = _upholstered_body(b, height, width, depth, cover, {
        "leg_height": (0.12, 0.24), "seat_cushion_thickness": (0.06, 0.12), "back_thickness": (0.08, 0.14),
        "back_tilt_deg": (6.0, 14.0)})
    pad = height - y_frame
    b.add("seat", _cushion((0.0, height - pad / 2, 0.0), (depth, pad, width)), cover)
    top = (height + b.uniform("back_height", 0.55, 0.75) - y_frame) / np.cos(plane.tilt)
    rot = _rot_z(plane.tilt)
    thick = x1 - x0 - depth
    b.add("back", _cushion(plane.at(top / 2, 0.0), (thick, top, 2 * plane.half_width), rot, softness=0.2), cover)
    reach = b.uniform("wing_depth_fraction", 0.45, 0.75) * depth
    s0 = (y_arm - 0.03 - y_frame) / np.cos(plane.tilt)
    s1 = top - b.uniform("wing_drop", 0.04, 0.1)
    for side, sign in (("left", -1), ("right", 1)):
        z = sign * (plane.half_width - 0.03)
        centre = plane.at((s0 + s1) / 2, z, thick / 2 + reach / 2 - 0.02)
        b.add(f"back_wing_{side}", _cushion(centre, (reach, s1 - s0, 0.06), rot, softness=0.2), cover)
    _side_arms(b, x0, x1, y_frame - 0.1, y_arm, width, 0.35, cover)
    _loose_cushions(b, plane, pad / np.cos(plane.tilt), s1, thick, x0, x1, y_arm, width, cover)
    b.set("has_back", True)
    b.set("has_arms", True)


def _sofa(b: _Builder) -> None:
    """Sofa or loveseat: two or three seat cushions side by side, back cushions, rolled or track arms, short legs."""
    seats = b.integer("seats", 2, 3)
    height = b.uniform("seat_height", 0.38, 0.46)
    unit = b.uniform("seat_unit_width", 0.5, 0.65)
    depth = b.uniform("seat_depth", 0.50, 0.62)
    width = b.set("seat_width", round(seats * unit, 6))
    cover = b.material("upholstery", ("fabric", "fabric", "leather"))
    rolled = b.choice("arm_style", ("rolled", "track")) == "rolled"
    b.uniform("arm_width", 0.12, 0.22) if rolled else b.uniform("arm_width", 0.07, 0.15)
    y_arm = height + b.uniform("arm_height", 0.12, 0.24)
    x0, x1, y_frame, plane = _upholstered_body(b, height, width, depth, cover, {
        "leg_height": (0.05, 0.16), "seat_cushion_thickness": (0.08, 0.14), "back_thickness": (0.12, 0.22),
        "back_tilt_deg": (6.0, 16.0)})
    pad = height - y_frame
    for i in range(seats):
        z = -width / 2 + unit * (i + 0.5)
        b.add(f"seat_cushion_{i}", _cushion((0.0, height - pad / 2, z), (depth, pad, unit - 0.006)), cover)
    top = (height + b.uniform("back_height", 0.35, 0.5) - y_frame) / np.cos(plane.tilt)
    rot = _rot_z(plane.tilt)
    thick = x1 - x0 - depth
    b.add("back", _cushion(plane.at(top / 2 - 0.04, 0.0), (thick, top + 0.08, 2 * plane.half_width), rot,
                           softness=0.15), cover)
    if b.flag("back_cushions", 0.8):
        cushion = b.uniform("back_cushion_thickness", 0.08, 0.15)
        s0 = pad / np.cos(plane.tilt)
        for i in range(seats):
            centre = plane.at((s0 + top - 0.04) / 2, -width / 2 + unit * (i + 0.5), (thick + cushion) / 2 - 0.02)
            b.add(f"back_cushion_{i}", _cushion(centre, (cushion, top - 0.04 - s0, unit - 0.01), rot), cover)
    _side_arms(b, x0, x1, y_frame - 0.1, y_arm, width, 0.4 if rolled else 0.12, cover)
    b.set("has_back", True)
    b.set("has_arms", True)


def _swivel_lounge(b: _Builder) -> None:
    """Swivel lounge chair: a deep padded seat in a tall wrap-around shell, on a column over a star or a disc foot."""
    height = b.uniform("seat_height", 0.38, 0.46)
    half_depth = b.uniform("seat_depth", 0.48, 0.60) / 2
    half_width = b.uniform("seat_width", 0.50, 0.62) / 2
    roundness = b.uniform("seat_roundness", 2.2, 4.0)
    cover = b.material("upholstery", ("fabric", "leather", "leather"))
    shell = b.material("shell", ("plastic", "wood", "paint")) if b.flag("bare_shell", 0.5) else cover
    base = b.material("base", ("metal", "metal", "plastic"))
    pad = b.uniform("seat_pad", 0.06, 0.11)
    thickness = b.uniform("shell_thickness", 0.025, 0.05)
    y_seat = _seat(b, height, half_depth, half_width, roundness, thickness, shell, pad, cover)
    column = b.uniform("column_radius", 0.025, 0.04)
    if b.choice("foot", ("star", "disc")) == "star":
        y_foot = _star_base(b, b.integer("spokes", 4, 5), base, base, 0.2)
    else:
        foot = b.uniform("foot_radius", 0.24, 0.32)
        b.add("base_disc", _lathe([(foot, 0.0), (foot, 0.012), (0.8 * foot, 0.03), (1.5 * column, 0.05)], 32), base)
        y_foot = 0.04
    b.add("base_column", _member(y_foot * _Y, (y_seat + 0.005) * _Y, column), base)
    span = np.radians(b.uniform("shell_span_deg", 180.0, 260.0))
    back = height - y_seat + b.uniform("back_height", 0.40, 0.62)
    end = height - y_seat + b.uniform("shell_end_height", 0.12, 0.24)
    flare = np.radians(b.uniform("shell_flare_deg", 10.0, 25.0))
    b.add("back_shell", _wrap_shell(half_depth, half_width, roundness, y_seat, span, back, end, flare,
                                    b.uniform("back_thickness", 0.03, 0.08)), shell)
    b.set("has_back", True)
    b.set("has_arms", False)


def _folding(b: _Builder) -> None:
    """Folding chair: per side a tube from the front foot up into the back post crossing a rear leg (an X seen from
    the side), a thin seat, a back panel or rails; glides on the feet."""
    height, width, depth = _seat_size(b, (0.43, 0.47), (0.38, 0.46), (0.36, 0.42))
    frame = b.material("frame", ("metal", "metal", "paint", "wood"))
    seat = b.material("seat", ("wood", "plastic", "paint", "fabric"))
    tube = b.uniform("tube_radius", 0.009, 0.014)
    thickness = b.uniform("seat_thickness", 0.015, 0.03)
    y_seat = _seat(b, height, depth / 2, width / 2, b.uniform("seat_roundness", 4.0, 12.0), thickness, seat)
    z_side = width / 2 + 0.5 * tube
    plane = _back_plane(b, (-depth / 2 + 0.04, y_seat, 0.0), z_side, (8.0, 16.0), 0.0)
    top = (height + b.uniform("back_height", 0.32, 0.45) - y_seat) / np.cos(plane.tilt)
    glide = 0.025
    front_lean = np.tan(np.radians(b.uniform("front_lean_deg", 34.0, 42.0)))
    rear_lean = np.tan(np.radians(b.uniform("rear_lean_deg", 30.0, 38.0)))
    for side, sign in (("left", -1), ("right", 1)):
        z, z_in = sign * z_side, sign * (z_side - 2.2 * tube)
        post = plane.at(0.0, z)
        front = (post[0] + (y_seat - glide) * front_lean, glide, z)
        b.add(f"back_post_{side}", _tube([front, post, plane.at(top, z)], tube, 0.05), frame)
        rear_top = np.array([depth / 2 - 0.05, y_seat - tube, z_in])
        rear = (rear_top[0] - (rear_top[1] - glide) * rear_lean, glide, z_in)
        b.add(f"leg_rear_{side}", _member(rear, rear_top, tube), frame)
        for name, (x, _, zz) in (("front", front), ("rear", rear)):
            b.add(f"glide_{name}_{side}", _member((x, 0.0, zz), (x, glide + 0.01, zz), 1.4 * tube), frame)
    y_bar = b.uniform("stretcher_height", 0.08, 0.18)
    x_bar = plane.origin[0] + (y_seat - y_bar) * front_lean  # on the front tubes
    b.add("stretcher_front", _member((x_bar, y_bar, -z_side), (x_bar, y_bar, z_side), 0.8 * tube), frame)
    if b.choice("back_style", ("panel", "rails")) == "panel":
        span = b.uniform("back_panel_height", 0.12, 0.25)
        b.add("back_panel", _panel(plane, top - span, top - 0.01, -z_side, z_side, 0.015, tube), seat)
    else:
        _rails(b, plane, 0.55 * top, top - 0.01, b.integer("back_rails", 2, 3), 0.04, 0.015, 0.0, seat)
    b.set("has_back", True)
    b.set("has_arms", False)


def _park_bench(b: _Builder) -> None:
    """Garden bench: seat slats and a reclined slatted back along Z, on two or three side frames, often with arms."""
    height, length, depth = _seat_size(b, (0.40, 0.46), (1.0, 1.8), (0.40, 0.52))
    frame = b.material("frame", ("metal", "paint", "wood"))
    slats = b.material("slats", ("wood", "wood", "paint"))
    count = b.integer("seat_slats", 4, 7)
    gap = b.uniform("seat_slat_gap", 0.008, 0.02)
    thickness = b.uniform("seat_thickness", 0.02, 0.035)
    slat = (depth - gap * (count - 1)) / count
    for i in range(count):
        x = -depth / 2 + slat / 2 + i * (slat + gap)
        b.add(f"seat_slat_{i}", _box((x, height - thickness / 2, 0.0), (slat, thickness, length)), slats)
    z_end = length / 2 - b.uniform("frame_inset", 0.03, 0.1)
    ends = (-z_end, 0.0, z_end) if length > 1.4 else (-z_end, z_end)
    y_rail = height - thickness - 0.04
    post = b.uniform("post_half_width", 0.015, 0.025)
    plane = _back_plane(b, (-depth / 2 + post, y_rail, 0.0), z_end, (12.0, 22.0), 0.0)
    top = (height + b.uniform("back_height", 0.35, 0.5) - y_rail) / np.cos(plane.tilt)
    arms = b.set("has_arms", b.flag("arms", 0.7))
    y_arm = height + b.uniform("arm_height", 0.18, 0.25) if arms else y_rail
    x_front = depth / 2 - post
    for i, z in enumerate(ends):
        b.add(f"seat_rail_{i}", _box((0.0, y_rail + 0.02, z), (depth, 0.04, 2 * post)), frame)
        b.add(f"leg_front_{i}", _member((x_front, 0.0, z), (x_front, y_rail + 0.04, z), post, square=True), frame)
        b.add(f"leg_rear_{i}", _member((plane.origin[0], 0.0, z), (plane.origin[0], y_rail + 0.04, z), post,
                                       square=True), frame)
        b.add(f"back_upright_{i}", _member(plane.at(0.0, z), plane.at(top, z), post, square=True), frame)
    rails = b.integer("back_slats", 3, 6)
    rail = b.uniform("back_slat_height", 0.04, 0.08)
    _rails(b, plane, 0.12, top, rails, rail, 0.02, 0.02, slats)
    if arms:
        for side, z in (("left", -z_end), ("right", z_end)):
            x_rear = plane.at((y_arm - y_rail) / np.cos(plane.tilt), z)[0]
            b.add(f"arm_support_{side}", _member((x_front, y_rail, z), (x_front, y_arm, z), post, square=True), frame)
            b.add(f"arm_{side}", _box(((x_front + x_rear) / 2 + 0.02, y_arm, z), (x_front - x_rear + 0.08, 0.03, 0.07)),
                  frame)
    b.set("has_back", True)


def _upholstered_bench(b: _Builder) -> None:
    """Backless upholstered bench: a long padded top on four or six legs, with or without stretchers."""
    height, length, depth = _seat_size(b, (0.42, 0.50), (0.8, 1.6), (0.35, 0.5))
    cover = b.material("upholstery", ("fabric", "leather"))
    frame = b.material("frame", ("wood", "wood", "metal", "paint"))
    pad = b.uniform("seat_pad", 0.06, 0.14)
    board = b.uniform("seat_thickness", 0.02, 0.05)
    roundness = b.uniform("seat_roundness", 6.0, 20.0)
    y_seat = _seat(b, height, depth / 2, length / 2, roundness, board, frame, pad, cover)
    radius = b.uniform("leg_radius", 0.016, 0.03)
    tops = _corner_tops(depth / 2, length / 2, roundness, radius + b.uniform("leg_inset", 0.0, 0.04))
    if length > 1.2:
        tops |= {"front_middle": (tops["front_left"][0], 0.0), "back_middle": (tops["back_left"][0], 0.0)}
    legs = _legs(b, tops, y_seat + board / 2, radius, b.uniform("leg_taper", 0.6, 1.0), b.flag("square_legs", 0.5),
                 b.uniform("leg_splay", 0.0, 0.06), frame)
    _stretchers(b, {name: legs[name] for name in _LEG_CORNERS}, 0.6 * radius, False, frame)
    b.set("has_back", False)
    b.set("has_arms", False)


_BUILDERS: dict[str, Callable[[_Builder], None]] = {
    "four_legged": _four_legged,
    "office": _office,
    "armchair": _armchair,
    "stool": _stool,
    "bench": _bench,
    "spindle_back": _spindle_back,
    "cantilever": _cantilever,
    "pedestal": _pedestal,
    "club_armchair": _club_armchair,
    "wing_chair": _wing_chair,
    "sofa": _sofa,
    "swivel_lounge": _swivel_lounge,
    "folding": _folding,
    "park_bench": _park_bench,
    "upholstered_bench": _upholstered_bench,
}
