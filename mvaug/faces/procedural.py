"""The built-in morphable head model: synthetic, made by this code, deterministic (no data, no randomness).

No licensed face model may be shipped, so mvaug builds a stand-in:

* **Mesh.** A closed latitude/longitude grid over the unit sphere (poles at the top and bottom of
  the head), denser towards the face, mapped onto a superellipsoid head (half-axes 72 x 110 x 95 mm,
  x to the subject's left, y up, z out of the face) with a narrowing jaw; 6,914 vertices.
* **Mean shape.** Smooth features added along the ellipsoid normal: Gaussian bumps for the nose
  (bridge, tip, wings), brow ridges, eye sockets and eyeballs, cheekbones, lips and mouth line,
  chin, forehead and ears.
* **Bases.** Named smooth deformations: global (head width, height, depth, face length, jaw...)
  and regional ones (Gaussian-weighted shifts, scales and bulges of the nose, eyes, brows, cheeks,
  mouth, chin and ears, a few asymmetric ones) for identity; jaw opening, smile, pucker, brow
  raise, frown... for expression. Each set, after the seven similarity modes of the mean shape
  (translation, rotation, uniform scale), is orthonormalised by Gram-Schmidt (QR) in the
  Euclidean inner product of flattened (3N,) vectors, in the order listed, and the similarity
  modes are dropped: each basis is orthonormal and orthogonal to rigid motion and scale (which
  weak-perspective pose explains); identity and expression are not orthogonal to each other (as
  in BFM 2017, whose expression basis comes from a separate PCA). A mode's standard deviation is the norm of the part of its
  deformation that was new (|R_kk| of the QR), so one standard deviation moves the vertices by
  about the deformation's designed amplitude (a few millimetres).
* **Landmarks.** The 68 iBUG points (jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67;
  point 0 on the subject's right, i.e. the image left of a frontal view) as vertex indices: the
  front vertices nearest to designed frontal positions, the jaw line on the frontal silhouette.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from mvaug.faces.morphable_model import MorphableModel
from mvaug.faces.render import vertex_normals

HALF_AXES = (72.0, 110.0, 95.0)  # mm: x (width), y (height), z (depth)
GRID_RINGS = 72  # latitude rings between the poles
GRID_SEGMENTS = 96  # longitude segments
SUPERELLIPSOID_EXPONENT = 2.5
FRONT_DENSITY = 2.0  # warp strength: the face gets (1 + k) x the average density along each angle

# Feature layout in frontal (x, y) millimetres; eyes at y = 8, nose tip at y = -28, mouth line at y = -58.5.
EYE_X, EYE_Y, BROW_Y, NOSE_TIP_Y, MOUTH_Y, CHIN_Y = 32.0, 8.0, 24.0, -28.0, -58.5, -92.0

# (name, centre (x, y), sigma (x, y), amplitude mm) of front bumps along the normal; x < 0 is mirrored.
_FRONT_BUMPS = (
    ("nose_bridge", (0.0, -6.0), (6.0, 17.0), 9.0),
    ("nose_tip", (0.0, NOSE_TIP_Y), (8.0, 8.0), 15.0),
    ("nose_wing", (14.0, -32.0), (5.5, 5.0), 5.0),
    ("philtrum_drop", (0.0, -40.0), (9.0, 3.5), -3.0),
    ("eye_socket", (EYE_X, EYE_Y), (13.0, 9.0), -9.0),
    ("eyeball", (EYE_X, EYE_Y - 1.0), (7.0, 4.5), 5.0),
    ("brow_ridge", (30.0, BROW_Y), (16.0, 5.0), 5.0),
    ("glabella", (0.0, 18.0), (9.0, 7.0), 3.0),
    ("cheekbone", (42.0, -15.0), (14.0, 14.0), 5.0),
    ("cheek_hollow", (40.0, -50.0), (12.0, 12.0), -3.0),
    ("muzzle", (0.0, -50.0), (30.0, 25.0), 8.0),
    ("upper_lip", (0.0, -52.5), (18.0, 4.0), 5.0),
    ("lower_lip", (0.0, -65.0), (15.0, 4.5), 5.5),
    ("mouth_line", (0.0, MOUTH_Y), (22.0, 1.6), -3.5),
    ("mouth_corner", (24.0, MOUTH_Y), (4.0, 4.0), -2.5),
    ("labiomental_fold", (0.0, -76.0), (14.0, 4.0), -3.0),
    ("chin", (0.0, CHIN_Y), (15.0, 10.0), 8.0),
    ("forehead", (0.0, 55.0), (40.0, 25.0), 3.0),
)
EAR_CENTRE_YZ, EAR_SIGMA_YZ, EAR_HEIGHT = (0.0, -6.0), (22.0, 9.0), 17.0

# The 68 iBUG landmarks 17-67 at frontal (x, y) positions (x < 0: the subject's right, image left).
_BROWS = [(-50, 21), (-42, 25.5), (-33, 27.5), (-24, 27), (-15, 24.5)]
_NOSE = [(0, 10), (0, -3), (0, -15), (0, NOSE_TIP_Y), (-13, -36), (-7, -38.5), (0, -39.5), (7, -38.5), (13, -36)]
_RIGHT_EYE = [(-44, 8), (-37, 12), (-27, 12), (-20, 8), (-27, 4.5), (-37, 4.5)]
_OUTER_LIP = [(-25, MOUTH_Y), (-16, -53), (-7, -50.5), (0, -51.5), (7, -50.5), (16, -53), (25, MOUTH_Y), (16, -65), (7, -68), (0, -68.5), (-7, -68), (-16, -65)]
_INNER_LIP = [(-20, MOUTH_Y), (-7, -57), (0, -57.2), (7, -57), (20, MOUTH_Y), (7, -60), (0, -60.2), (-7, -60)]
LANDMARK_TARGETS = (
    _BROWS
    + [(-x, y) for x, y in reversed(_BROWS)]
    + _NOSE
    + _RIGHT_EYE
    + [(-x, y) for x, y in _RIGHT_EYE[3::-1] + _RIGHT_EYE[:3:-1]]
    + _OUTER_LIP
    + _INNER_LIP
)  # landmarks 17..67 in order
JAW_CENTRE, JAW_ANGLES = (0.0, 8.0), tuple(float(a) for a in np.linspace(180.0, 360.0, 17))


@functools.lru_cache(maxsize=1)
def _cached_model() -> MorphableModel:
    return _build()


def procedural_head_model(device: str = "cpu") -> MorphableModel:
    """The built-in synthetic morphable head model (built once per process, ~0.3 s)."""
    model = _cached_model()
    return model if str(device) == "cpu" else model.to(device)


def sphere_grid(rings: int = GRID_RINGS, segments: int = GRID_SEGMENTS, warp: float = FRONT_DENSITY) -> tuple[np.ndarray, np.ndarray]:
    """A closed, outward-oriented lat/long grid on the unit sphere, denser around +z.

    Returns unit directions (rings * segments + 2, 3) (the poles last) and triangles (F, 3).
    """
    squash = lambda s: (s + warp * s**3) / (1.0 + warp)  # noqa: E731  monotone on [-1, 1], flat at 0
    t = -1.0 + 2.0 * np.arange(1, rings + 1) / (rings + 1)
    phi = 0.5 * math.pi * squash(t)  # latitude
    s = -1.0 + 2.0 * np.arange(segments) / segments
    theta = math.pi * squash(s)  # longitude, 0 = front (+z), +-pi = back
    phi_g, theta_g = np.meshgrid(phi, theta, indexing="ij")  # (rings, segments)
    dirs = np.stack([np.cos(phi_g) * np.sin(theta_g), np.sin(phi_g), np.cos(phi_g) * np.cos(theta_g)], -1).reshape(-1, 3)
    dirs = np.concatenate([dirs, [[0.0, -1.0, 0.0], [0.0, 1.0, 0.0]]])
    south, north = rings * segments, rings * segments + 1
    index = np.arange(rings * segments).reshape(rings, segments)
    a, b = index[:-1], np.roll(index[:-1], -1, axis=1)
    c, d = index[1:], np.roll(index[1:], -1, axis=1)
    quads = np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3), np.stack([b, c, d], -1).reshape(-1, 3)])
    first, last = index[0], index[-1]
    caps = np.concatenate(
        [
            np.stack([np.full(segments, south), first, np.roll(first, -1)], -1),
            np.stack([np.full(segments, north), np.roll(last, -1), last], -1),
        ]
    )
    triangles = np.concatenate([quads, caps]).astype(np.int64)
    tri = dirs[triangles]
    if np.sum(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]) * tri.mean(1)) < 0:  # make normals point outwards
        triangles = triangles[:, ::-1].copy()
    return dirs, triangles


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _front_weight(p: np.ndarray, centre, sigma) -> np.ndarray:
    """Gaussian in frontal (x, y) around ``centre``, limited to the front of the head. (N,)"""
    gauss = np.exp(-0.5 * (((p[:, 0] - centre[0]) / sigma[0]) ** 2 + ((p[:, 1] - centre[1]) / sigma[1]) ** 2))
    return gauss * _smoothstep(p[:, 2] / (0.35 * HALF_AXES[2]))


def _pair_weight(p: np.ndarray, centre, sigma, side: int = 0) -> np.ndarray:
    """A front weight mirrored to both sides (``side`` 0), or only the subject's left (+1) / right (-1)."""
    if centre[0] == 0.0:
        return _front_weight(p, centre, sigma)
    left = _front_weight(p, centre, sigma)
    right = _front_weight(p, (-centre[0], centre[1]), sigma)
    return {0: left + right, 1: left, -1: right}[side]


def _ear_weight(p: np.ndarray, side: int = 0) -> np.ndarray:
    (cy, cz), (sy, sz) = EAR_CENTRE_YZ, EAR_SIGMA_YZ
    gauss = np.exp(-0.5 * (((p[:, 1] - cy) / sy) ** 2 + ((p[:, 2] - cz) / sz) ** 2))
    sides = {0: np.abs(p[:, 0]), 1: np.clip(p[:, 0], 0, None), -1: np.clip(-p[:, 0], 0, None)}[side]
    return gauss * _smoothstep(sides / (0.6 * HALF_AXES[0]))


def _base_head(dirs: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Superellipsoid head (exponent 2.5: fuller than an ellipsoid) with a narrowing, slightly forward jaw.

    Returns points and unit vertex normals (N, 3).
    """
    axes = np.asarray(HALF_AXES)
    p = axes * np.sign(dirs) * np.abs(dirs) ** (2.0 / SUPERELLIPSOID_EXPONENT)
    lower = _smoothstep((-p[:, 1] - 25.0) / (axes[1] - 25.0))  # 0 above the mouth, 1 at the bottom
    p[:, 0] *= 1.0 - 0.3 * lower
    p[:, 2] += 10.0 * lower * _smoothstep(p[:, 2] / axes[2])
    return p, vertex_normals(p, triangles)


def _mean_shape(base: np.ndarray, normals: np.ndarray) -> np.ndarray:
    offset = np.zeros(len(base))
    for _, centre, sigma, amplitude in _FRONT_BUMPS:
        offset += amplitude * _pair_weight(base, centre, sigma)
    offset += EAR_HEIGHT * _ear_weight(base)
    return base + offset[:, None] * normals


def _scale_about(p: np.ndarray, weight: np.ndarray, centre, factors) -> np.ndarray:
    """Displacement scaling ``p`` about ``centre`` by ``factors`` (per axis) where ``weight`` is 1."""
    return weight[:, None] * (p - np.asarray(centre)) * np.asarray(factors)


def _shift(weight: np.ndarray, vector) -> np.ndarray:
    return weight[:, None] * np.asarray(vector, dtype=np.float64)


def _signed_x(p: np.ndarray) -> np.ndarray:
    return np.tanh(p[:, 0] / 5.0)  # smooth sign of x: +1 on the subject's left


def _identity_deformations(b: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
    """Named (N, 3) displacements in mm; ``b`` the base points, ``n`` their normals."""
    front = _smoothstep(b[:, 2] / (0.35 * HALF_AXES[2]))
    lower = _smoothstep((EYE_Y - b[:, 1]) / 100.0) * front
    nose = _front_weight(b, (0, -18), (10, 20))
    eyes = _pair_weight(b, (EYE_X, EYE_Y), (12, 9))
    brows = _pair_weight(b, (30, BROW_Y), (16, 7))
    cheeks = _pair_weight(b, (42, -20), (15, 16))
    mouth = _front_weight(b, (0, MOUTH_Y), (24, 12))
    chin = _front_weight(b, (0, CHIN_Y), (18, 13))
    jaw = np.exp(-0.5 * ((b[:, 1] + 75.0) / 22.0) ** 2) * _smoothstep(b[:, 2] / HALF_AXES[2] + 0.5)
    ears = _ear_weight(b)
    sx = _signed_x(b)
    return {
        "head_width": 0.06 * b * [1, 0, 0],
        "head_height": 0.06 * b * [0, 1, 0],
        "head_depth": 0.06 * b * [0, 0, 1],
        "face_length": _shift(lower * np.clip((EYE_Y - b[:, 1]) / 100.0, 0, None), (0, -8, 0)),
        "jaw_width": _scale_about(b, jaw, (0, 0, 0), (0.12, 0, 0)),
        "face_protrusion": _shift(_front_weight(b, (0, -20), (40, 45)), (0, 0, 6)),
        "forehead_slope": _shift(_front_weight(b, (0, 50), (40, 20)), (0, 0, -5)),
        "crown_height": _shift(_smoothstep(b[:, 1] / HALF_AXES[1]), (0, 8, 0)),
        "back_of_head": _shift(_smoothstep(-b[:, 2] / HALF_AXES[2]), (0, 0, -7)),
        "nose_length": _shift(nose, (0, -4, 0)) + _shift(_front_weight(b, (0, NOSE_TIP_Y), (8, 8)), (0, -2, 0)),
        "nose_protrusion": (4.0 * _front_weight(b, (0, NOSE_TIP_Y), (9, 12)))[:, None] * n,
        "nose_width": _scale_about(b, _front_weight(b, (0, -32), (16, 8)), (0, -32, 0), (0.2, 0, 0)),
        "nose_bridge": (3.0 * _front_weight(b, (0, -2), (6, 12)))[:, None] * n,
        "nose_tip_lift": _shift(_front_weight(b, (0, NOSE_TIP_Y - 4), (9, 6)), (0, 3, 0)),
        "eye_spacing": _shift(eyes * sx, (4, 0, 0)),
        "eye_height": _shift(eyes, (0, 4, 0)),
        "eye_depth": (3.0 * eyes)[:, None] * n,
        "eye_size": sum(_scale_about(b, _front_weight(b, (x, EYE_Y), (12, 9)), (x, EYE_Y, 0), (0.2, 0.25, 0)) for x in (-EYE_X, EYE_X)),
        "brow_height": _shift(brows, (0, 4, 0)),
        "brow_protrusion": (3.0 * brows)[:, None] * n,
        "cheek_fullness": (4.0 * cheeks)[:, None] * n,
        "cheekbone_height": _shift(cheeks, (0, 4, 0)),
        "mouth_width": _scale_about(b, mouth, (0, MOUTH_Y, 0), (0.15, 0, 0)),
        "mouth_height": _shift(mouth, (0, 4, 0)),
        "lip_fullness": (3.0 * _front_weight(b, (0, MOUTH_Y), (16, 8)))[:, None] * n,
        "upper_lip_protrusion": (2.5 * _front_weight(b, (0, -52), (16, 5)))[:, None] * n,
        "chin_protrusion": _shift(chin, (0, 0, 6)),
        "chin_height": _shift(chin, (0, -5, 0)),
        "chin_width": _scale_about(b, chin, (0, CHIN_Y, 0), (0.2, 0, 0)),
        "ear_size": _scale_about(b, ears, (0, EAR_CENTRE_YZ[0], EAR_CENTRE_YZ[1]), (0, 0.2, 0.2)),
        "ear_protrusion": _shift(ears * sx, (5, 0, 0)),
        "ear_height": _shift(ears, (0, 5, 0)),
        "asym_face_shift": _shift(_front_weight(b, (0, -20), (35, 50)), (2.5, 0, 0)),
        "asym_eye_height": _shift(eyes * sx, (0, 2, 0)),
        "asym_jaw": _shift(jaw * front, (3, 0, 0)),
        "asym_nose_tilt": _shift(_front_weight(b, (0, NOSE_TIP_Y), (9, 10)), (2.5, 0, 0)),
    }


def _rotation_about_x(p: np.ndarray, pivot, degrees: float) -> np.ndarray:
    """Displacement of points rotated about the x axis through ``pivot`` (positive: the chin drops and moves back)."""
    a = math.radians(degrees)
    q = p - np.asarray(pivot)
    rotated = np.stack([q[:, 0], q[:, 1] * math.cos(a) - q[:, 2] * math.sin(a), q[:, 1] * math.sin(a) + q[:, 2] * math.cos(a)], -1)
    return rotated - q


def _expression_deformations(b: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
    front = _smoothstep(b[:, 2] / (0.35 * HALF_AXES[2]))
    below_mouth = _smoothstep((MOUTH_Y - b[:, 1]) / 14.0) * _smoothstep((b[:, 1] + 135.0) / 20.0)
    jaw_region = below_mouth * _smoothstep(b[:, 2] / HALF_AXES[2] + 0.3)
    corners = _pair_weight(b, (24, MOUTH_Y), (9, 7))
    corner_left = _pair_weight(b, (24, MOUTH_Y), (9, 7), side=1)
    cheeks_up = _pair_weight(b, (36, -35), (14, 12))
    lips = _front_weight(b, (0, MOUTH_Y), (20, 10))
    brows = _pair_weight(b, (30, BROW_Y + 2), (18, 9)) + 0.5 * _front_weight(b, (0, 45), (40, 15))
    inner_brows = _pair_weight(b, (14, 22), (9, 6))
    eyes = _pair_weight(b, (EYE_X, EYE_Y), (10, 6))
    sx = _signed_x(b)
    return {
        "jaw_open": jaw_region[:, None] * _rotation_about_x(b, (0, -5, -25), 8.0),
        "smile": _shift(corners * sx, (4, 0, 0)) + _shift(corners, (0, 4, -2)) + _shift(cheeks_up, (0, 3, 0)) + (2.0 * cheeks_up)[:, None] * n,
        "frown": _shift(corners, (0, -4, 0)) + _shift(_front_weight(b, (0, -72), (14, 8)), (0, 2, 2)),
        "pucker": _shift(lips, (0, 0, 6)) + _scale_about(b, lips, (0, MOUTH_Y, 0), (-0.25, 0, 0)),
        "mouth_stretch": _scale_about(b, lips, (0, MOUTH_Y, 0), (0.2, 0, 0)),
        "lip_press": (-3.0 * _front_weight(b, (0, MOUTH_Y), (16, 6)))[:, None] * n,
        "brow_raise": _shift(brows, (0, 5, 0)),
        "brow_furrow": _shift(inner_brows, (0, -4, 0)) + _shift(inner_brows * sx, (-2, 0, 0)),
        "eye_squint": _scale_about(b, eyes, (0, EYE_Y, 0), (0, -0.3, 0)),
        "cheek_puff": (6.0 * _pair_weight(b, (38, -50), (14, 14)))[:, None] * n,
        "sneer": _shift(_pair_weight(b, (14, -32), (7, 7)), (0, 3, 0)),
        "smile_left": _shift(corner_left, (3, 4, -2)),
        "brow_raise_left": _shift(_pair_weight(b, (30, BROW_Y + 2), (18, 9), side=1), (0, 5, 0)),
        "jaw_sideways": _shift(jaw_region * front, (5, 0, 0)),
    }


def _similarity_modes(mean: np.ndarray) -> np.ndarray:
    """(7, N*3): translations, infinitesimal rotations about the centroid, uniform scale."""
    centred = mean - mean.mean(0)
    modes = [np.broadcast_to(axis, mean.shape) for axis in np.eye(3)]
    modes += [np.cross(axis, centred) for axis in np.eye(3)]
    modes.append(centred)
    return np.stack([m.reshape(-1) for m in modes])


def _orthonormalise(mean: np.ndarray, fields: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Gram-Schmidt (QR) after the similarity modes; returns unit directions (K, N, 3) and stds (K,)."""
    sim = _similarity_modes(mean)
    matrix = np.concatenate([sim, np.stack([f.reshape(-1) for f in fields])]).T  # (3N, 7 + K)
    q, r = np.linalg.qr(matrix)
    diag = np.diag(r)[len(sim) :]
    if np.min(np.abs(diag)) < 1e-6 * np.max(np.abs(diag)):
        raise RuntimeError("procedural head deformations are linearly dependent")
    directions = (q[:, len(sim) :] * np.sign(diag)).T  # (K, 3N)
    return directions.reshape(len(fields), -1, 3), np.abs(diag)


def _landmark_indices(mean: np.ndarray) -> np.ndarray:
    """68 distinct vertex indices: the jaw on the frontal silhouette, the rest nearest their targets."""
    front = np.flatnonzero(mean[:, 2] > 0.2 * HALF_AXES[2])
    xy = mean[front, :2]
    chosen = []
    jaw = np.flatnonzero(mean[:, 2] > 0.4 * HALF_AXES[2])
    rel = mean[jaw, :2] - np.asarray(JAW_CENTRE)
    angle = np.degrees(np.arctan2(rel[:, 1], rel[:, 0])) % 360.0
    for target in JAW_ANGLES:
        gap = np.abs((angle - target + 180.0) % 360.0 - 180.0)
        candidates = np.flatnonzero(gap < 2.0)
        chosen.append(jaw[candidates[np.argmax(np.linalg.norm(rel[candidates], axis=1))]])
    for target in LANDMARK_TARGETS:
        chosen.append(front[np.argmin(np.linalg.norm(xy - np.asarray(target), axis=1))])
    return np.asarray(chosen, dtype=np.int64)


def _build() -> MorphableModel:
    dirs, triangles = sphere_grid()
    base, normals = _base_head(dirs, triangles)
    mean = _mean_shape(base, normals)
    identity = _identity_deformations(base, normals)
    expression = _expression_deformations(base, normals)
    id_basis, id_std = _orthonormalise(mean, list(identity.values()))
    exp_basis, exp_std = _orthonormalise(mean, list(expression.values()))
    return MorphableModel(
        mean=mean,
        id_basis=id_basis,
        id_std=id_std,
        exp_basis=exp_basis,
        exp_std=exp_std,
        triangles=triangles,
        landmark_indices=_landmark_indices(mean),
        name="procedural-head",
        metadata={
            "synthetic": True,
            "description": "mvaug's procedural morphable head model (not a scanned face model); millimetres, y up, face towards +z",
            "id_names": list(identity),
            "exp_names": list(expression),
            "basis": "identity and expression each orthonormal in the Euclidean inner product of (3N,) vectors and orthogonal to similarity transforms",
        },
    )
