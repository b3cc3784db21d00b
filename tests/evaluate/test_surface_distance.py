import numpy as np
import pytest
import trimesh

from mvaug.evaluate.surface_distance import (
    SurfaceQuery,
    SurfaceSamples,
    directed_distances,
    face_normals,
    faces_near_point,
    sample_in_ball,
    sample_surface,
    within_ball,
)


def _square(size: float = 2.0, z: float = 0.0, divisions: int = 4) -> trimesh.Trimesh:
    """A flat square [-size/2, size/2]^2 at height z, split into 2 * divisions^2 triangles, normal +z."""
    ticks = np.linspace(-size / 2, size / 2, divisions + 1)
    xs, ys = np.meshgrid(ticks, ticks, indexing="ij")
    vertices = np.c_[xs.ravel(), ys.ravel(), np.full(xs.size, z)]
    index = np.arange(xs.size).reshape(xs.shape)
    a, b, c, d = index[:-1, :-1].ravel(), index[1:, :-1].ravel(), index[1:, 1:].ravel(), index[:-1, 1:].ravel()
    return trimesh.Trimesh(vertices, np.r_[np.c_[a, b, c], np.c_[a, c, d]], process=False)


def _naive_closest(points: np.ndarray, mesh: trimesh.Trimesh) -> tuple[np.ndarray, np.ndarray]:
    """Closest points and their triangle normals by checking every triangle."""
    triangles = mesh.vertices[mesh.faces]
    normals = face_normals(mesh.vertices, mesh.faces)
    best, best_normal = [], []
    for p in points:
        candidates = trimesh.triangles.closest_point(triangles, np.tile(p, (len(triangles), 1)))
        i = np.argmin(np.linalg.norm(candidates - p, axis=1))
        best.append(candidates[i])
        best_normal.append(normals[i])
    return np.array(best), np.array(best_normal)


def test_face_normals_are_unit_and_zero_for_degenerate_triangles():
    vertices = np.array([[0, 0, 0], [2, 0, 0], [0, 3, 0], [4, 0, 0]], dtype=float)
    normals = face_normals(vertices, np.array([[0, 1, 2], [0, 1, 3]]))
    np.testing.assert_allclose(normals, [[0, 0, 1], [0, 0, 0]])


def test_samples_are_seeded_lie_on_the_surface_and_follow_area():
    mesh = trimesh.creation.box((1.0, 2.0, 4.0))
    a = sample_surface(mesh.vertices, mesh.faces, 4000, seed=3)
    b = sample_surface(mesh.vertices, mesh.faces, 4000, seed=3)
    np.testing.assert_array_equal(a.points, b.points)
    assert not np.array_equal(a.points, sample_surface(mesh.vertices, mesh.faces, 4000, seed=4).points)
    # on the box surface: some coordinate sits on its face plane
    on_face = np.isclose(np.abs(a.points), [0.5, 1.0, 2.0], atol=1e-12).any(1)
    assert on_face.all()
    # the two 2 x 4 faces (normal +-x) hold 16 of the 28 area units
    share = np.isclose(np.abs(a.normals[:, 0]), 1.0).mean()
    assert share == pytest.approx(16 / 28, abs=0.03)
    # each normal is the outward normal of the face the point is on
    np.testing.assert_allclose(np.abs((a.normals * a.points).sum(1)), np.abs(a.points[np.arange(len(a)), np.abs(a.normals).argmax(1)]))


def test_sampling_a_surface_without_area_fails():
    with pytest.raises(ValueError, match="zero area"):
        sample_surface(np.zeros((3, 3)), np.array([[0, 1, 2]]), 10, seed=0)


def test_within_ball_matches_a_loop():
    rng = np.random.default_rng(0)
    points, center = rng.normal(size=(500, 3)), np.array([0.2, -0.1, 0.3])
    expected = [float(np.sqrt(((p - center) ** 2).sum())) <= 0.8 for p in points]
    np.testing.assert_array_equal(within_ball(points, center, 0.8), expected)


def test_faces_near_point_uses_the_triangles_not_only_their_vertices():
    # one big triangle whose vertices are all far from the origin but whose interior covers it
    vertices = np.array([[-10, -10, 0], [10, -10, 0], [0, 10, 0]], dtype=float)
    assert faces_near_point(vertices, np.array([[0, 1, 2]]), np.zeros(3), 0.1).all()
    assert not faces_near_point(vertices, np.array([[0, 1, 2]]), np.array([0, 0, 1.0]), 0.5).any()


def test_sample_in_ball_keeps_exactly_the_samples_inside_and_is_uniform_there():
    square = _square(size=4.0, divisions=8)
    center, radius = np.array([0.3, -0.2, 0.0]), 0.9
    samples = sample_in_ball(square.vertices, square.faces, 20000, 1, center, radius)
    distances = np.linalg.norm(samples.points - center, axis=1)
    assert distances.max() <= radius
    # uniform on a disc of radius R: E[r^2] = R^2 / 2, and the kept share of the triangles drawn on is large
    assert (distances**2).mean() == pytest.approx(radius**2 / 2, rel=0.03)
    assert len(samples) > 5000
    with pytest.raises(ValueError, match="no part of the surface"):
        sample_in_ball(square.vertices, square.faces, 100, 1, np.array([0, 0, 5.0]), 1.0)


def test_directed_distances_match_a_brute_force_search():
    rng = np.random.default_rng(2)
    other = trimesh.creation.icosphere(1)
    other.vertices *= [1.0, 0.7, 1.3]
    query = SurfaceQuery(other.vertices, other.faces)
    # anywhere in space: the distance to the surface (ties between triangles do not change it)
    points = rng.normal(size=(60, 3)) * 1.2
    result = directed_distances(SurfaceSamples(points, np.zeros_like(points)), query)
    closest, _ = _naive_closest(points, other)
    np.testing.assert_allclose(result.surface, np.linalg.norm(points - closest, axis=1), atol=1e-5)
    # just outside a triangle's interior of this convex mesh: a unique closest triangle, so the plane and normal too
    faces = rng.integers(0, len(other.faces), 60)
    weights = rng.dirichlet([5.0, 5.0, 5.0], 60)
    weights = 0.2 + 0.4 * weights  # every barycentric coordinate at least 0.2: away from the edges
    on_surface = np.einsum("pk,pkd->pd", weights, other.vertices[other.faces[faces]])
    normals = face_normals(other.vertices, other.faces)[faces]
    lift = rng.uniform(0.0, 0.02, 60)
    query_normals = rng.normal(size=(60, 3))
    query_normals /= np.linalg.norm(query_normals, axis=1, keepdims=True)
    result = directed_distances(SurfaceSamples(on_surface + lift[:, None] * normals, query_normals), query)
    closest, naive_normals = _naive_closest(on_surface + lift[:, None] * normals, other)
    np.testing.assert_allclose(naive_normals, normals, atol=1e-12)
    np.testing.assert_allclose(result.surface, lift, atol=1e-5)
    np.testing.assert_allclose(result.plane, lift, atol=1e-5)
    np.testing.assert_allclose(result.normal_agreement, np.abs((query_normals * normals).sum(1)), atol=1e-5)


def test_offset_and_tilted_planes_give_the_analytic_values():
    base = _square()
    samples = sample_surface(base.vertices, base.faces, 2000, seed=0)
    lifted = _square(z=0.3)
    result = directed_distances(samples, SurfaceQuery(lifted.vertices, lifted.faces))
    np.testing.assert_allclose(result.surface, 0.3, atol=1e-6)
    np.testing.assert_allclose(result.plane, 0.3, atol=1e-6)
    np.testing.assert_allclose(result.normal_agreement, 1.0, atol=1e-6)
    angle = np.deg2rad(25)
    tilt = np.array([[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]])
    big = _square(size=10.0)
    tilted = directed_distances(samples, SurfaceQuery(big.vertices @ tilt.T, big.faces))
    np.testing.assert_allclose(tilted.normal_agreement, np.cos(angle), atol=1e-6)
    # distance to a plane through the origin with normal n: |p . n|
    np.testing.assert_allclose(tilted.plane, np.abs(samples.points @ (tilt @ [0, 0, 1.0])), atol=1e-5)
