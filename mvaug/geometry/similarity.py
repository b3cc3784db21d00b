"""Similarity transforms ``x -> s R x + t`` and their closed-form least-squares estimate (Umeyama 1991)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Similarity:
    """``x -> scale * rotation @ x + translation``; rotation (3, 3) proper (det +1), translation (3,)."""

    scale: float
    rotation: np.ndarray
    translation: np.ndarray

    @classmethod
    def identity(cls) -> "Similarity":
        return cls(1.0, np.eye(3), np.zeros(3))

    @classmethod
    def from_matrix(cls, matrix: np.ndarray) -> "Similarity":
        """From a (4, 4) homogeneous matrix whose upper-left block is ``s R`` (s > 0)."""
        matrix = np.asarray(matrix, dtype=np.float64)
        block = matrix[:3, :3]
        scale = float(np.cbrt(np.linalg.det(block)))
        if not scale > 0:
            raise ValueError(f"not a similarity: the linear part has determinant {np.linalg.det(block):.3g}")
        return cls(scale, block / scale, matrix[:3, 3].copy())

    def matrix(self) -> np.ndarray:
        """Homogeneous (4, 4) matrix."""
        out = np.eye(4)
        out[:3, :3] = self.scale * self.rotation
        out[:3, 3] = self.translation
        return out

    def apply(self, points: np.ndarray) -> np.ndarray:
        """points: (P, 3) -> (P, 3)."""
        return self.scale * np.asarray(points, dtype=np.float64) @ self.rotation.T + self.translation

    def inverse(self) -> "Similarity":
        rotation = self.rotation.T
        return Similarity(1.0 / self.scale, rotation, -(rotation @ self.translation) / self.scale)

    def then(self, other: "Similarity") -> "Similarity":
        """The transform that applies ``self`` first, then ``other``."""
        return Similarity(
            self.scale * other.scale, other.rotation @ self.rotation, other.apply(self.translation[None])[0]
        )


def umeyama(source: np.ndarray, target: np.ndarray, with_scale: bool = True) -> Similarity:
    """The similarity (or rigid motion) minimising ``sum ||T(source_i) - target_i||^2`` (Umeyama, PAMI 1991, Eqs. 40-42).

    source, target: (K, 3) corresponding points, K >= 3 and not all on one line.
    """
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 3:
        raise ValueError(f"expected two (K, 3) arrays of corresponding points, got {source.shape} and {target.shape}")
    if len(source) < 3:
        raise ValueError(f"need at least 3 corresponding points, got {len(source)}")
    mu_s, mu_t = source.mean(0), target.mean(0)
    src, tgt = source - mu_s, target - mu_t
    covariance = tgt.T @ src / len(source)  # (3, 3), Sigma_xy of Eq. 38
    u, singular, vt = np.linalg.svd(covariance)
    if singular[1] <= 1e-12 * max(singular[0], 1e-300):
        raise ValueError("the corresponding points are (nearly) collinear; the rotation is not determined")
    signs = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        signs[2] = -1.0  # S of Eq. 39: reflection -> proper rotation
    rotation = u @ np.diag(signs) @ vt
    scale = float((singular * signs).sum() / (src**2).sum() * len(source)) if with_scale else 1.0
    return Similarity(scale, rotation, mu_t - scale * rotation @ mu_s)


def surface_moments(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centroid (3,) and covariance (3, 3) of the surface of triangles (F, 3) over ``vertices`` (V, 3), uniform by area (exact)."""
    corners = np.asarray(vertices, dtype=np.float64)[faces]  # (F, 3, 3)
    areas = 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)
    total = areas.sum()
    if not total > 0:
        raise ValueError("the surface has zero area")
    corner_sum = corners.sum(1)  # (F, 3)
    centroid = (areas[:, None] * corner_sum).sum(0) / (3 * total)
    # integral of x x^T over a triangle: A / 12 * (sum_j v_j v_j^T + (sum_j v_j)(sum_j v_j)^T)
    second = np.einsum("f,fji,fjk->ik", areas, corners, corners) + np.einsum("f,fi,fk->ik", areas, corner_sum, corner_sum)
    return centroid, second / (12 * total) - np.outer(centroid, centroid)


def principal_axes_candidates(
    source_centroid: np.ndarray, source_covariance: np.ndarray, target_centroid: np.ndarray, target_covariance: np.ndarray, with_scale: bool = True
) -> list[Similarity]:
    """Coarse alignments of a shape onto another without correspondences, from their centroids (3,) and covariances (3, 3).

    Centroids are matched and, with ``with_scale``, the RMS radii. Candidates: the identity rotation
    (inputs that are already roughly oriented) and the four proper rotations that map the source's
    principal axes onto the target's (the axes' signs are ambiguous). The caller picks the best.
    """
    scale = float(np.sqrt(np.trace(target_covariance) / np.trace(source_covariance))) if with_scale else 1.0
    axes_s = np.linalg.eigh(source_covariance)[1]  # columns: principal axes, ascending variance
    axes_t = np.linalg.eigh(target_covariance)[1]
    rotations = [np.eye(3)]
    for signs in itertools.product((1.0, -1.0), repeat=3):
        rotation = axes_t @ np.diag(signs) @ axes_s.T
        if np.linalg.det(rotation) > 0:
            rotations.append(rotation)
    return [Similarity(scale, r, target_centroid - scale * r @ source_centroid) for r in rotations]
