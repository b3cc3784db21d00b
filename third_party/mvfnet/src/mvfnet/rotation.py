"""The 6D rotation representation of Zhou et al. (CVPR 2019), which the network regresses.

Why 6D: it is continuous (a small change of rotation is a small change of the representation),
unlike Euler angles (wrap-around, gimbal lock) and quaternions (q and -q are the same rotation).
For weak-perspective projection it is also exactly what is used: the 6 numbers are the first
two rows of R, the rows that project a point onto the image plane.

Matrices act on column vectors (``x' = R x``); ``(..., 3, 3)`` tensors. Pose labels are given as
matrices, so the data set keeps its own angle convention.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def rotation_6d_to_matrix(rotation_6d: torch.Tensor) -> torch.Tensor:
    """(..., 6) -> (..., 3, 3): Gram-Schmidt on the two 3-vectors (rows 1 and 2), row 3 = row 1 x row 2."""
    first, second = rotation_6d[..., :3], rotation_6d[..., 3:]
    row1 = F.normalize(first, dim=-1)
    row2 = F.normalize(second - (row1 * second).sum(-1, keepdim=True) * row1, dim=-1)
    return torch.stack([row1, row2, torch.linalg.cross(row1, row2, dim=-1)], dim=-2)


def matrix_to_rotation_6d(rotation: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 6): the first two rows."""
    return rotation[..., :2, :].reshape(*rotation.shape[:-2], 6)
