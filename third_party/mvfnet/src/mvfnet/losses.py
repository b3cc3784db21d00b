"""Supervised MVF-Net losses on synthetic data: 3DMM coefficients, per-view pose, 2D landmark reprojection.

The morphable model enters as a callable ``vertices_fn(id, exp) -> (B, N, 3)``, so this package does
not depend on any particular model file or library. ``prediction`` is :meth:`MVFNet.forward`'s dict;
``target`` holds the same keys for the ground truth (``rotation`` as matrices) plus ``landmarks``
(B, V, K, 2) in the image frame of the translations, and optionally ``visible`` (B, V, K) bool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from mvfnet.projection import weak_perspective

VerticesFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class LossWeights:
    coefficient: float = 1.0
    """Weight of the coefficient L2 loss."""
    pose: float = 1.0
    """Weight of the pose loss."""
    landmark: float = 1.0
    """Weight of the 2D landmark reprojection loss."""


def coefficient_loss(pred_id: torch.Tensor, pred_exp: torch.Tensor, true_id: torch.Tensor, true_exp: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all identity (B, n_id) and expression (B, n_exp) coefficients."""
    return torch.cat([pred_id - true_id, pred_exp - true_exp], dim=1).pow(2).mean()


def pose_loss(
    pred_rotation: torch.Tensor,
    pred_translation: torch.Tensor,
    pred_log_scale: torch.Tensor,
    true_rotation: torch.Tensor,
    true_translation: torch.Tensor,
    true_log_scale: torch.Tensor,
) -> torch.Tensor:
    """Mean over samples and views of ``||R - R*||_F^2 + ||t - t*||^2 + (log s - log s*)^2``.

    rotation: (B, V, 3, 3); translation: (B, V, 2); log_scale: (B, V). Comparing matrices makes the
    loss independent of the parametrisation (||R - R*||_F^2 = 4 - 4 cos(angle between them)).
    """
    rotation = (pred_rotation - true_rotation).pow(2).sum((-1, -2))
    translation = (pred_translation - true_translation).pow(2).sum(-1)
    return (rotation + translation + (pred_log_scale - true_log_scale).pow(2)).mean()


def landmark_loss(pred_landmarks: torch.Tensor, true_landmarks: torch.Tensor, visible: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared 2D distance (B, V, K, 2) over the visible landmarks (B, V, K); all count without a mask."""
    squared = (pred_landmarks - true_landmarks).pow(2).sum(-1)
    if visible is None:
        return squared.mean()
    weights = visible.to(squared.dtype)
    return (squared * weights).sum() / weights.sum().clamp_min(1.0)


def project_landmarks(
    vertices_fn: VerticesFn,
    landmark_indices: torch.Tensor | None,
    id_coef: torch.Tensor,
    exp_coef: torch.Tensor,
    rotation: torch.Tensor,
    translation: torch.Tensor,
    log_scale: torch.Tensor,
) -> torch.Tensor:
    """2D landmarks (B, V, K, 2) of the shape ``vertices_fn(id, exp)`` seen with each view's pose (B, V, ...).

    landmark_indices: (K,) vertex indices; None when ``vertices_fn`` already returns only the K landmarks.
    """
    vertices = vertices_fn(id_coef, exp_coef)  # (B, N, 3)
    points = vertices if landmark_indices is None else vertices[:, landmark_indices]
    return weak_perspective(points[:, None], rotation, translation, log_scale.exp())


def mvfnet_losses(
    prediction: dict[str, torch.Tensor],
    target: dict[str, torch.Tensor],
    vertices_fn: VerticesFn,
    landmark_indices: torch.Tensor | None,
    weights: LossWeights = LossWeights(),
) -> dict[str, torch.Tensor]:
    """The named losses ``coefficient``, ``pose``, ``landmark`` and their weighted sum ``total`` (scalars)."""
    losses = {
        "coefficient": coefficient_loss(prediction["id"], prediction["exp"], target["id"], target["exp"]),
        "pose": pose_loss(
            prediction["rotation"], prediction["translation"], prediction["log_scale"],
            target["rotation"], target["translation"], target["log_scale"],
        ),
        "landmark": landmark_loss(
            project_landmarks(
                vertices_fn, landmark_indices, prediction["id"], prediction["exp"],
                prediction["rotation"], prediction["translation"], prediction["log_scale"],
            ),
            target["landmarks"],
            target.get("visible"),
        ),
    }
    losses["total"] = weights.coefficient * losses["coefficient"] + weights.pose * losses["pose"] + weights.landmark * losses["landmark"]
    return losses
