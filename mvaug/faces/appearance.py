"""Random face appearance: per-vertex skin albedo with lips, brows, eyes and hair, and random lighting.

Regions are found from the 68 landmarks of the model's mean shape (frontal x, y in units of the
inter-ocular distance), so the same code colours the procedural head and a loaded BFM.
"""

from __future__ import annotations

import math

import numpy as np

from mvaug.faces.render import FaceLighting

SKIN_TONES = np.array([[0.96, 0.80, 0.70], [0.88, 0.68, 0.55], [0.76, 0.55, 0.42], [0.56, 0.38, 0.27], [0.36, 0.24, 0.17]])
HAIR_COLOURS = np.array([[0.07, 0.05, 0.04], [0.20, 0.13, 0.08], [0.38, 0.25, 0.15], [0.72, 0.57, 0.36], [0.52, 0.24, 0.11], [0.60, 0.59, 0.57]])
IRIS_COLOURS = np.array([[0.28, 0.16, 0.08], [0.30, 0.44, 0.58], [0.30, 0.42, 0.28], [0.45, 0.32, 0.16]])
SCLERA, PUPIL = np.array([0.92, 0.90, 0.87]), np.array([0.03, 0.03, 0.03])
LIPS, RIGHT_EYE, LEFT_EYE = slice(48, 60), slice(36, 42), slice(42, 48)
RIGHT_BROW, LEFT_BROW = slice(17, 22), slice(22, 27)


def face_regions(mean: np.ndarray, landmark_indices: np.ndarray) -> dict[str, np.ndarray]:
    """Per-vertex masks and coordinates (N,) of the mean shape (N, 3) that :func:`sample_albedo` needs."""
    from skimage.measure import points_in_poly

    marks = mean[landmark_indices]  # (68, 3)
    eye_r, eye_l = marks[RIGHT_EYE].mean(0), marks[LEFT_EYE].mean(0)
    unit = float(np.linalg.norm(eye_l - eye_r))  # inter-ocular distance
    face_z = float(marks[17:68, 2].min())
    front = mean[:, 2] > face_z - 0.3 * unit
    xy = mean[:, :2]
    lips = points_in_poly(xy, marks[LIPS, :2]) & front
    eye_masks = [points_in_poly(xy, marks[s, :2]) & front for s in (RIGHT_EYE, LEFT_EYE)]
    eye_width = float(np.linalg.norm(marks[36, :2] - marks[39, :2]))
    iris = np.zeros(len(mean))
    pupil = np.zeros(len(mean), dtype=bool)
    for centre in (eye_r, eye_l):
        distance = np.linalg.norm(xy - centre[:2], axis=1)
        iris = np.maximum(iris, (distance < 0.22 * eye_width) & front)
        pupil |= (distance < 0.09 * eye_width) & front
    brows = np.zeros(len(mean), dtype=bool)
    for part in (RIGHT_BROW, LEFT_BROW):
        brows |= (_polyline_distance(xy, marks[part, :2]) < 0.05 * unit) & front
    brow_y = float(marks[17:27, 1].mean())
    cheeks = np.zeros(len(mean))
    for eye_lower, corner in ((41, 48), (46, 54)):
        centre = 0.5 * (marks[eye_lower] + marks[corner])
        cheeks += np.exp(-0.5 * (np.linalg.norm(mean - centre, axis=1) / (0.3 * unit)) ** 2)
    return {
        "lips": lips.astype(float),
        "eyes": (eye_masks[0] | eye_masks[1]).astype(float),
        "iris": iris * (eye_masks[0] | eye_masks[1]),
        "pupil": (pupil & (eye_masks[0] | eye_masks[1])).astype(float),
        "brows": brows.astype(float),
        "cheeks": cheeks,
        # height above the brows and depth relative to the ears, in inter-ocular units, for the hairline
        "height": (mean[:, 1] - brow_y) / unit,
        "depth": (mean[:, 2] - 0.5 * (marks[0, 2] + marks[16, 2])) / unit,
        "ear_height": np.full(len(mean), (0.5 * (marks[0, 1] + marks[16, 1]) - brow_y) / unit),
        "position": mean / unit,
    }


def _polyline_distance(points: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Distance (P,) from 2D points (P, 2) to a polyline (L, 2)."""
    best = np.full(len(points), np.inf)
    for a, b in zip(line[:-1], line[1:]):
        ab = b - a
        t = np.clip(((points - a) @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
        best = np.minimum(best, np.linalg.norm(points - (a + t[:, None] * ab), axis=1))
    return best


def _pick(rng: np.random.Generator, table: np.ndarray, jitter: float) -> np.ndarray:
    return np.clip(table[rng.integers(len(table))] + rng.uniform(-jitter, jitter, 3), 0.0, 1.0)


def sample_albedo(regions: dict[str, np.ndarray], rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Random per-vertex albedo (N, 3) in [0, 1] and the parameters that made it (JSON-able)."""
    tone = float(rng.uniform(0.0, len(SKIN_TONES) - 1))
    low = int(min(math.floor(tone), len(SKIN_TONES) - 2))
    skin = SKIN_TONES[low] + (tone - low) * (SKIN_TONES[low + 1] - SKIN_TONES[low])
    skin = np.clip(skin * (1.0 + rng.uniform(-0.04, 0.04, 3)), 0.0, 1.0)
    hair = _pick(rng, HAIR_COLOURS, 0.03)
    iris = _pick(rng, IRIS_COLOURS, 0.03)
    bald = bool(rng.uniform() < 0.12)
    hairline = float(rng.uniform(0.55, 0.95))  # above the brows, in inter-ocular units
    nape = float(rng.uniform(-0.4, 0.2))  # relative to the ears at the back of the head
    # smooth blotches: three random plane waves, +-4 % brightness
    waves = rng.normal(size=(3, 3)) * 1.2
    phases = rng.uniform(0, 2 * math.pi, 3)
    variation = 1.0 + 0.04 * np.sin(regions["position"] @ waves.T + phases).mean(1)
    albedo = skin[None, :] * variation[:, None]
    albedo = _blend(albedo, albedo * [1.0, 0.88, 0.88], 0.5 * np.clip(regions["cheeks"], 0, 1))
    albedo = _blend(albedo, skin * [0.82, 0.55, 0.56], regions["lips"])
    albedo = _blend(albedo, hair * 0.8, regions["brows"])
    if not bald:
        back = np.clip((0.8 - regions["depth"]) / 1.6, 0.0, 1.0)  # 0 at the face, 1 behind the ears
        threshold = (1.0 - back) * hairline + back * (regions["ear_height"] + nape)
        albedo = _blend(albedo, hair, _smoothstep((regions["height"] - threshold) / 0.06 + 0.5))
    albedo = _blend(albedo, SCLERA, regions["eyes"])
    albedo = _blend(albedo, iris, regions["iris"])
    albedo = _blend(albedo, PUPIL, regions["pupil"])
    params = {
        "skin_tone": round(tone, 6),
        "skin_rgb": [round(float(c), 6) for c in skin],
        "hair_rgb": [round(float(c), 6) for c in hair],
        "iris_rgb": [round(float(c), 6) for c in iris],
        "bald": bald,
        "hairline": round(hairline, 6),
    }
    return np.clip(albedo, 0.0, 1.0), params


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _blend(base: np.ndarray, colour, weight: np.ndarray) -> np.ndarray:
    weight = np.asarray(weight, dtype=float)[:, None]
    return base * (1.0 - weight) + np.asarray(colour) * weight


def sample_lighting(rng: np.random.Generator) -> FaceLighting:
    """A light from the front half, 60 degrees either side, from slightly below to well above."""
    azimuth = math.radians(rng.uniform(-60.0, 60.0))
    elevation = math.radians(rng.uniform(-10.0, 50.0))
    direction = (math.cos(elevation) * math.sin(azimuth), math.sin(elevation), math.cos(elevation) * math.cos(azimuth))
    tint = 1.0 + rng.uniform(-0.05, 0.05, 3)
    return FaceLighting(
        direction=tuple(round(float(c), 6) for c in direction),
        ambient=round(float(rng.uniform(0.35, 0.55)), 6),
        diffuse=round(float(rng.uniform(0.5, 0.8)), 6),
        specular=round(float(rng.uniform(0.0, 0.08)), 6),
        color=tuple(round(float(c), 6) for c in tint / tint.max()),
    )
