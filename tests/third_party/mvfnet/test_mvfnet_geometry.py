import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from mvfnet import matrix_to_rotation_6d, rotation_6d_to_matrix, weak_perspective


def _random_rotations(count: int, seed: int) -> torch.Tensor:
    return torch.from_numpy(Rotation.random(count, random_state=seed).as_matrix())


def test_rotation_to_6d_and_back_is_exact():
    rotations = _random_rotations(50, 0)
    torch.testing.assert_close(rotation_6d_to_matrix(matrix_to_rotation_6d(rotations)), rotations)


def test_any_6d_vector_gives_a_proper_rotation_and_round_trips():
    raw = torch.randn(4, 5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    rotations = rotation_6d_to_matrix(raw)
    assert rotations.shape == (4, 5, 3, 3)
    torch.testing.assert_close(rotations @ rotations.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(4, 5, 3, 3))
    torch.testing.assert_close(torch.linalg.det(rotations), torch.ones(4, 5, dtype=torch.float64))
    # Gram-Schmidt keeps the first vector's direction and the plane of the two vectors
    torch.testing.assert_close(rotations[..., 0, :], raw[..., :3] / raw[..., :3].norm(dim=-1, keepdim=True))
    assert (rotations[..., 2, :] * raw[..., 3:]).sum(-1).abs().max() < 1e-12
    torch.testing.assert_close(rotation_6d_to_matrix(matrix_to_rotation_6d(rotations)), rotations)


def _naive_projection(vertices, rotation, translation, scale):
    out = np.zeros(vertices.shape[:-1] + (2,))
    for b in range(vertices.shape[0]):
        for n in range(vertices.shape[1]):
            rotated = rotation[b] @ vertices[b, n]
            out[b, n] = scale[b] * rotated[:2] + translation[b]
    return out


def test_projection_matches_a_naive_loop():
    rng = np.random.default_rng(3)
    vertices = rng.normal(size=(3, 20, 3))
    rotation = Rotation.random(3, random_state=4).as_matrix()
    translation, scale = rng.normal(size=(3, 2)), rng.uniform(0.5, 2.0, 3)
    projected = weak_perspective(*(torch.from_numpy(a) for a in (vertices, rotation, translation, scale)))
    np.testing.assert_allclose(projected.numpy(), _naive_projection(vertices, rotation, translation, scale), atol=1e-12)


def test_projection_broadcasts_one_shape_over_views():
    rng = np.random.default_rng(5)
    vertices = torch.from_numpy(rng.normal(size=(2, 15, 3)))
    rotation = torch.from_numpy(Rotation.random(6, random_state=6).as_matrix()).view(2, 3, 3, 3)
    translation, scale = torch.from_numpy(rng.normal(size=(2, 3, 2))), torch.from_numpy(rng.uniform(0.5, 2, (2, 3)))
    projected = weak_perspective(vertices[:, None], rotation, translation, scale)
    assert projected.shape == (2, 3, 15, 2)
    for view in range(3):
        torch.testing.assert_close(projected[:, view], weak_perspective(vertices, rotation[:, view], translation[:, view], scale[:, view]))


def test_projection_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"vertices \(\.\.\., N, 3\)"):
        weak_perspective(torch.zeros(1, 4, 2), torch.eye(3)[None], torch.zeros(1, 2), torch.ones(1))
