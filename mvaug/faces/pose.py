"""Weak-perspective face pose (as in MVF-Net and 3DDFA): rotation R, scale s, 2D translation t.

Model coordinates: millimetres, x to the subject's left, y up, the face looking towards +z.
Image coordinates: pixels, u to the right, v down, (0, 0) the top-left corner of the top-left pixel.

    u = s * (R X)_x + t_x,    v = -s * (R X)_y + t_y

``R = R_z(roll) @ R_x(-pitch) @ R_y(yaw)``: positive yaw turns the nose to the image right (the
subject's left), positive pitch turns it up, positive roll turns the face anticlockwise in the image.
"""

from __future__ import annotations

import math

import numpy as np


def rotation_from_angles(yaw: float, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    """(3, 3) rotation for angles in degrees (see the module for the convention)."""
    y, p, r = (math.radians(a) for a in (yaw, pitch, roll))
    r_yaw = np.array([[math.cos(y), 0.0, math.sin(y)], [0.0, 1.0, 0.0], [-math.sin(y), 0.0, math.cos(y)]])
    r_pitch = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(p), math.sin(p)], [0.0, -math.sin(p), math.cos(p)]])
    r_roll = np.array([[math.cos(r), -math.sin(r), 0.0], [math.sin(r), math.cos(r), 0.0], [0.0, 0.0, 1.0]])
    return r_roll @ r_pitch @ r_yaw


def project(points, rotation, scale, translation):
    """Weak-perspective projection; numpy arrays or torch tensors (differentiable).

    Args:
        points: (..., P, 3) model coordinates.
        rotation: (..., 3, 3).
        scale: (...) pixels per millimetre.
        translation: (..., 2) pixels.
    Returns:
        (..., P, 2) pixel coordinates (u, v).
    """
    x = (points * rotation[..., None, 0, :]).sum(-1)  # (..., P)
    y = (points * rotation[..., None, 1, :]).sum(-1)
    scale = scale[..., None] if hasattr(scale, "ndim") else scale
    u = scale * x + translation[..., None, 0]
    v = -scale * y + translation[..., None, 1]
    if isinstance(u, np.ndarray):
        return np.stack([u, v], -1)
    import torch

    return torch.stack([u, v], -1)


def view_name(yaw: float, pitch: float) -> str:
    """``yaw-30_pitch+0`` style name of a pose-grid view."""
    return f"yaw{yaw:+g}_pitch{pitch:+g}"
