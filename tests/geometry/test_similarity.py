import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import trimesh

from mvaug.evaluate.surface_distance import sample_surface
from mvaug.geometry.similarity import Similarity, principal_axes_candidates, surface_moments, umeyama


def _random_similarity(seed: int) -> Similarity:
    rng = np.random.default_rng(seed)
    return Similarity(float(rng.uniform(0.2, 5.0)), Rotation.random(random_state=seed).as_matrix(), rng.normal(size=3) * 3)


def test_matrix_apply_inverse_and_composition_match_naive_matrices():
    a, b = _random_similarity(1), _random_similarity(2)
    points = np.random.default_rng(0).normal(size=(20, 3))
    homogeneous = np.c_[points, np.ones(len(points))]
    np.testing.assert_allclose(a.apply(points), (homogeneous @ a.matrix().T)[:, :3], atol=1e-12)
    np.testing.assert_allclose(a.inverse().matrix(), np.linalg.inv(a.matrix()), atol=1e-12)
    np.testing.assert_allclose(a.then(b).matrix(), b.matrix() @ a.matrix(), atol=1e-12)
    back = Similarity.from_matrix(a.matrix())
    assert back.scale == pytest.approx(a.scale)
    np.testing.assert_allclose(back.rotation, a.rotation, atol=1e-12)


def test_from_matrix_rejects_a_reflection():
    with pytest.raises(ValueError, match="determinant"):
        Similarity.from_matrix(np.diag([1.0, 1.0, -1.0, 1.0]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_umeyama_recovers_a_known_similarity(seed):
    truth = _random_similarity(seed)
    source = np.random.default_rng(seed + 10).normal(size=(12, 3))
    estimate = umeyama(source, truth.apply(source))
    assert estimate.scale == pytest.approx(truth.scale, rel=1e-10)
    np.testing.assert_allclose(estimate.rotation, truth.rotation, atol=1e-10)
    np.testing.assert_allclose(estimate.translation, truth.translation, atol=1e-9)


def test_umeyama_rigid_keeps_unit_scale_and_finds_the_rotation():
    truth = _random_similarity(3)
    source = np.random.default_rng(4).normal(size=(30, 3))
    estimate = umeyama(source, truth.apply(source), with_scale=False)
    assert estimate.scale == 1.0
    np.testing.assert_allclose(estimate.rotation, truth.rotation, atol=1e-10)
    # the best rigid fit of a scaled copy puts the centroids together
    np.testing.assert_allclose(estimate.apply(source).mean(0), truth.apply(source).mean(0), atol=1e-10)


def test_umeyama_returns_a_proper_rotation_for_mirrored_points():
    source = np.random.default_rng(5).normal(size=(10, 3))
    estimate = umeyama(source, source * [1, 1, -1])
    assert np.linalg.det(estimate.rotation) == pytest.approx(1.0)
    np.testing.assert_allclose(estimate.rotation @ estimate.rotation.T, np.eye(3), atol=1e-12)


def test_umeyama_input_errors():
    with pytest.raises(ValueError, match="at least 3"):
        umeyama(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\(K, 3\)"):
        umeyama(np.zeros((4, 3)), np.zeros((5, 3)))
    line = np.outer(np.arange(5.0), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="collinear"):
        umeyama(line, line + 1)


def test_surface_moments_of_a_box_are_exact():
    box = trimesh.creation.box((2.0, 4.0, 6.0))
    box.apply_translation([1.0, -2.0, 0.5])
    centroid, covariance = surface_moments(box.vertices, box.faces)
    np.testing.assert_allclose(centroid, [1.0, -2.0, 0.5], atol=1e-12)
    # var of x over the surface: faces normal to x (area 24 each) sit at x = +-1; the other four faces spread x uniformly
    a, b, c = 1.0, 2.0, 3.0  # half sides
    area = 8 * (a * b + b * c + a * c)
    var_x = (2 * 4 * b * c * a**2 + 2 * 4 * (a * b + a * c) * a**2 / 3) / area
    assert covariance[0, 0] == pytest.approx(var_x, rel=1e-12)
    np.testing.assert_allclose(covariance, np.diag(np.diag(covariance)), atol=1e-12)
    samples = sample_surface(box.vertices, box.faces, 200000, seed=0).points
    np.testing.assert_allclose(covariance, np.cov(samples.T), atol=0.02)
    with pytest.raises(ValueError, match="zero area"):
        surface_moments(np.zeros((3, 3)), np.array([[0, 1, 2]]))


def test_principal_axes_candidates_include_the_true_alignment_of_an_anisotropic_shape():
    box = trimesh.creation.box((3.0, 2.0, 0.5))
    truth = _random_similarity(7)
    moved = truth.apply(box.vertices)
    moments = (*surface_moments(box.vertices, box.faces), *surface_moments(moved, box.faces))
    candidates = principal_axes_candidates(*moments)
    assert len(candidates) == 5
    np.testing.assert_allclose(candidates[0].rotation, np.eye(3))
    # a box is symmetric under the axis sign flips, so every principal-axes candidate maps it onto itself
    errors = [np.abs(c.apply(box.vertices) - moved).max() for c in candidates]
    assert min(errors) < 1e-9
    assert all(np.linalg.det(c.rotation) == pytest.approx(1.0) for c in candidates)
    assert all(c.scale == pytest.approx(truth.scale) for c in candidates)
    rigid = principal_axes_candidates(*moments, with_scale=False)
    assert {c.scale for c in rigid} == {1.0}
