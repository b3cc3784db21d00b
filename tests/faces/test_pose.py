"""Weak-perspective pose: rotation conventions and projection (numpy and torch agree with a naive loop)."""

import numpy as np
import torch

from mvaug.faces.pose import project, rotation_from_angles, view_name


def test_rotations_are_proper_and_signs_follow_the_convention():
    for angles in [(30, 0, 0), (-70, 20, 5), (0, -15, -10)]:
        r = rotation_from_angles(*angles)
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
        assert np.isclose(np.linalg.det(r), 1.0)
    nose = np.array([[0.0, 0.0, 100.0]])
    centre = np.array([64.0, 64.0])
    u, v = project(nose, rotation_from_angles(30, 0), np.float64(0.5), centre)[0]
    assert u > 64 and np.isclose(v, 64)  # positive yaw: nose to the image right
    u, v = project(nose, rotation_from_angles(0, 20), np.float64(0.5), centre)[0]
    assert v < 64 and np.isclose(u, 64)  # positive pitch: nose up (smaller row)
    top = np.array([[0.0, 100.0, 0.0]])
    u, _ = project(top, rotation_from_angles(0, 0, 10), np.float64(0.5), centre)[0]
    assert u < 64  # positive roll: anticlockwise in the image
    assert view_name(-30, 0) == "yaw-30_pitch+0" and view_name(45, -20) == "yaw+45_pitch-20"


def test_projection_matches_a_naive_loop_in_numpy_and_torch():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(2, 5, 3)) * 50
    rot = np.stack([rotation_from_angles(*rng.uniform(-60, 60, 3)) for _ in range(2)])
    scale, trans = rng.uniform(0.3, 1.0, 2), rng.uniform(20, 100, (2, 2))
    expected = np.zeros((2, 5, 2))
    for b in range(2):
        for p in range(5):
            cam = rot[b] @ points[b, p]
            expected[b, p] = [scale[b] * cam[0] + trans[b, 0], -scale[b] * cam[1] + trans[b, 1]]
    np.testing.assert_allclose(project(points, rot, scale, trans), expected, atol=1e-9)
    t = [torch.tensor(a, requires_grad=True) for a in (points, rot, scale, trans)]
    out = project(*t)
    np.testing.assert_allclose(out.detach().numpy(), expected, atol=1e-9)
    out.sum().backward()
    assert t[2].grad is not None and torch.all(torch.isfinite(t[2].grad))
