"""Weak-perspective (scaled orthographic) projection, the camera model of MVF-Net and 3DDFA."""

from __future__ import annotations

import torch


def weak_perspective(vertices: torch.Tensor, rotation: torch.Tensor, translation: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Image points ``p = s * (R v)[:2] + t`` of 3D points.

    vertices: (..., N, 3); rotation: (..., 3, 3); translation: (..., 2); scale: (...,) positive.
    Leading dimensions broadcast, e.g. vertices (B, 1, N, 3) with a pose per view (B, V, ...) gives
    (B, V, N, 2). Returns (..., N, 2) in the units of ``translation`` (the data set's image frame).
    """
    if vertices.shape[-1] != 3 or rotation.shape[-2:] != (3, 3) or translation.shape[-1] != 2:
        raise ValueError(
            f"expected vertices (..., N, 3), rotation (..., 3, 3), translation (..., 2); "
            f"got {tuple(vertices.shape)}, {tuple(rotation.shape)}, {tuple(translation.shape)}"
        )
    in_plane = vertices @ rotation[..., :2, :].transpose(-1, -2)  # (..., N, 2): rows 1-2 of R
    return scale[..., None, None] * in_plane + translation[..., None, :]
