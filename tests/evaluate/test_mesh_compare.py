import json

import numpy as np
import pytest
import trimesh
from scipy.spatial.transform import Rotation

from mvaug.errors import DataError
from mvaug.evaluate.mesh_compare import MeshCompareConfig, compare_mesh_files, compare_meshes, format_comparison, nose_tip

FAST = dict(samples=6000)  # enough for 1e-2 relative accuracy of sampled means


def _sphere(radius: float = 1.0, subdivisions: int = 4) -> trimesh.Trimesh:
    sphere = trimesh.creation.icosphere(subdivisions)
    return trimesh.Trimesh(sphere.vertices * radius, sphere.faces, process=False)


def _blob() -> trimesh.Trimesh:
    """An asymmetric closed surface: an ellipsoid with a bump, so every alignment is determined."""
    sphere = trimesh.creation.icosphere(3)
    v = sphere.vertices * [1.0, 0.6, 0.35]
    v = v + 0.3 * np.exp(-((v - [0.8, 0.2, 0.1]) ** 2).sum(1) / 0.05)[:, None] * [0, 0, 1]
    return trimesh.Trimesh(v, sphere.faces, process=False)


def _moved(mesh: trimesh.Trimesh, scale: float, euler_deg, shift) -> trimesh.Trimesh:
    rotation = Rotation.from_euler("xyz", euler_deg, degrees=True).as_matrix()
    return trimesh.Trimesh(scale * mesh.vertices @ rotation.T + shift, mesh.faces, process=False)


def _square(size: float, z: float, divisions: int = 8, x_range=None) -> trimesh.Trimesh:
    x0, x1 = x_range if x_range is not None else (-size / 2, size / 2)
    xs, ys = np.meshgrid(np.linspace(x0, x1, divisions + 1), np.linspace(-size / 2, size / 2, divisions + 1), indexing="ij")
    index = np.arange(xs.size).reshape(xs.shape)
    a, b, c, d = index[:-1, :-1].ravel(), index[1:, :-1].ravel(), index[1:, 1:].ravel(), index[:-1, 1:].ravel()
    return trimesh.Trimesh(np.c_[xs.ravel(), ys.ravel(), np.full(xs.size, z)], np.r_[np.c_[a, b, c], np.c_[a, c, d]], process=False)


def test_sphere_against_a_scaled_rotated_shifted_copy_aligns_to_zero_error():
    gt = _sphere()
    result = compare_meshes(_moved(gt, 2.5, (30, 50, -20), (1, 2, 3)), gt)
    # what is left is the facet mismatch of a sphere turned about an arbitrary axis (sagitta ~3e-4)
    assert result.point_to_plane_rmse < 1e-3
    assert result.mean_point_to_surface < 1e-3
    assert result.chamfer < 1e-3
    assert result.scale == pytest.approx(1 / 2.5, rel=1e-3)
    assert result.fscore == 1.0 and result.normal_consistency > 0.999


def test_asymmetric_shape_is_aligned_vertex_by_vertex_without_landmarks():
    gt = _blob()
    pred = _moved(gt, 1.7, (110, -40, 75), (-1, 0.5, 2))
    result = compare_meshes(pred, gt, MeshCompareConfig(**FAST))
    moved = result.transform[:3, :3] @ pred.vertices.T + result.transform[:3, 3:]
    assert np.abs(moved.T - gt.vertices).max() < 2e-3
    assert result.point_to_plane_rmse < 1e-4 and result.chamfer < 1e-4
    assert result.scale == pytest.approx(1 / 1.7, rel=1e-3)


def test_icp_aligns_a_partial_ground_truth_that_the_coarse_step_cannot():
    """GT: the blob with its x < -0.4 part cut away (as scans are partial); the centroid and the
    radius of the part differ from the whole shape's, so only ICP recovers the exact placement."""
    whole = _blob()
    centres = whole.vertices[whole.faces].mean(1)
    gt = trimesh.Trimesh(whole.vertices, whole.faces[centres[:, 0] > -0.4], process=False)
    pred = _moved(whole, 2.0, (15, -20, 10), (0.5, 0, 0))
    coarse = compare_meshes(pred, gt, MeshCompareConfig(icp=False, **FAST))
    refined = compare_meshes(pred, gt, MeshCompareConfig(**FAST))
    assert coarse.mean_point_to_surface > 0.02
    assert refined.mean_point_to_surface < 1e-4 and refined.point_to_plane_rmse < 1e-4
    assert refined.scale == pytest.approx(0.5, rel=1e-3)


def test_landmarks_give_the_exact_similarity_without_icp():
    gt = _blob()
    pred = _moved(gt, 0.3, (10, 170, -60), (5, -2, 1))
    index = [0, 17, 40, 99, 300]
    result = compare_meshes(pred, gt, MeshCompareConfig(icp=False, **FAST), pred.vertices[index], gt.vertices[index])
    np.testing.assert_allclose(result.transform[:3, :3] @ pred.vertices.T + result.transform[:3, 3:], gt.vertices.T, atol=1e-9)
    assert result.point_to_plane_rmse < 1e-5


@pytest.mark.parametrize("alignment", ["none", "rigid"])
def test_concentric_spheres_give_the_radius_difference(alignment):
    d = 0.05
    result = compare_meshes(_sphere(1.0 + d), _sphere(1.0), MeshCompareConfig(alignment=alignment, **FAST))
    # faceted spheres: the facet planes of the bigger one lie at (1 + d) * 0.9997, so within 1% of d
    assert result.mean_point_to_surface == pytest.approx(d, rel=0.01)
    assert result.point_to_plane_rmse == pytest.approx(d, rel=0.01)
    assert result.chamfer == pytest.approx(d, rel=0.01)
    assert result.scale == 1.0


def test_similarity_alignment_absorbs_a_radius_difference():
    result = compare_meshes(_sphere(1.05), _sphere(1.0), MeshCompareConfig(**FAST))
    assert result.scale == pytest.approx(1 / 1.05, rel=1e-3)
    assert result.mean_point_to_surface < 1e-3


def test_plane_offset_gives_point_to_plane_distance():
    d = 0.1
    result = compare_meshes(_square(2.0, d), _square(2.0, 0.0), MeshCompareConfig(alignment="none", **FAST))
    assert result.point_to_plane_rmse == pytest.approx(d, abs=1e-6)
    assert result.mean_point_to_surface == pytest.approx(d, abs=1e-6)
    assert result.chamfer == pytest.approx(d, abs=1e-6)
    assert result.normal_consistency == pytest.approx(1.0, abs=1e-6)


def test_fscore_for_identical_and_offset_meshes():
    gt = _sphere()
    same = compare_meshes(gt, gt, MeshCompareConfig(**FAST))
    assert (same.fscore, same.precision, same.recall) == (1.0, 1.0, 1.0)
    assert same.chamfer < 1e-5 and same.normal_consistency == pytest.approx(1.0, abs=1e-6)
    bigger = _sphere(1.05)
    assert compare_meshes(bigger, gt, MeshCompareConfig(alignment="none", fscore_threshold=0.04, **FAST)).fscore == 0.0
    assert compare_meshes(bigger, gt, MeshCompareConfig(alignment="none", fscore_threshold=0.06, **FAST)).fscore == 1.0


def test_fscore_of_a_half_offset_square_has_its_analytic_value():
    """GT: unit square at z=0. Prediction: left half at z=0, right half lifted by d > tau.

    Precision = 1/2 (the lifted half is d away). Recall = 1/2 + tau: GT points of the right half
    within tau of the left half's edge still match. F = 2 P R / (P + R).
    """
    d, tau = 0.2, 0.1
    gt = _square(1.0, 0.0, divisions=20, x_range=(-0.5, 0.5))
    left = _square(1.0, 0.0, divisions=10, x_range=(-0.5, 0.0))
    right = _square(1.0, d, divisions=10, x_range=(0.0, 0.5))
    pred = trimesh.util.concatenate([left, right])
    config = MeshCompareConfig(alignment="none", fscore_threshold=tau, samples=40000)
    result = compare_meshes(pred, gt, config)
    precision, recall = 0.5, 0.5 + tau
    assert result.precision == pytest.approx(precision, abs=0.01)
    assert result.recall == pytest.approx(recall, abs=0.01)
    assert result.fscore == pytest.approx(2 * precision * recall / (precision + recall), abs=0.01)


def test_normal_consistency_of_a_tilted_plane_is_the_cosine():
    angle = np.deg2rad(30)
    pred = _moved(_square(4.0, 0.0), 1.0, (np.rad2deg(angle), 0, 0), (0, 0, 0))
    result = compare_meshes(pred, _square(1.0, 0.0), MeshCompareConfig(alignment="none", crop_radius=0.4, view_axis="+x", **FAST))
    assert result.normal_consistency == pytest.approx(np.cos(angle), abs=1e-6)


def test_crop_keeps_only_the_gt_near_the_nose_tip():
    """A sphere whose back half (z < 0) is squashed: errors vanish once only the front cap counts."""
    gt = _sphere()
    v = gt.vertices.copy()
    v[v[:, 2] < 0] *= [1.2, 1.2, 1.0]
    pred = trimesh.Trimesh(v, gt.faces, process=False)
    config = dict(alignment="none", **FAST)
    whole = compare_meshes(pred, gt, MeshCompareConfig(**config))
    cropped = compare_meshes(pred, gt, MeshCompareConfig(crop_radius=1.0, **config))
    assert whole.mean_point_to_surface > 0.02
    assert cropped.mean_point_to_surface < 1e-5 and cropped.chamfer < 1e-5 and cropped.fscore == 1.0
    np.testing.assert_allclose(cropped.crop_center, gt.vertices[np.argmax(gt.vertices[:, 2])])
    # the cap within chord distance R of the pole has area pi R^2: a quarter of the sphere for R = 1
    share = cropped.gt_samples / whole.gt_samples
    assert 0.25 <= share <= 1.0


def test_nose_tip_from_landmark_or_view_axis():
    vertices = np.array([[0, 0, 1.0], [2, 0, 0], [0, -3, 0]])
    np.testing.assert_array_equal(nose_tip(vertices, "+z"), [0, 0, 1])
    np.testing.assert_array_equal(nose_tip(vertices, "+x"), [2, 0, 0])
    np.testing.assert_array_equal(nose_tip(vertices, "-y"), [0, -3, 0])
    landmarks = np.arange(12.0).reshape(4, 3)
    np.testing.assert_array_equal(nose_tip(vertices, "+z", landmarks, nose_landmark=2), [6, 7, 8])
    with pytest.raises(ValueError, match="out of range"):
        nose_tip(vertices, "+z", landmarks, nose_landmark=4)


def test_results_are_reproducible_and_serialisable():
    gt, pred = _blob(), _moved(_blob(), 1.1, (5, 10, 0), (0.1, 0, 0))
    a = compare_meshes(pred, gt, MeshCompareConfig(**FAST))
    b = compare_meshes(pred, gt, MeshCompareConfig(**FAST))
    assert a.to_dict() == b.to_dict()  # bit for bit
    data = json.loads(json.dumps(a.to_dict()))
    assert np.array(data["transform"]).shape == (4, 4) and data["crop_center"] is None
    assert "point-to-plane RMSE" in format_comparison(a)


@pytest.mark.parametrize(
    "field, value", [("samples", 10), ("crop_radius", 0.0), ("fscore_threshold", -1.0), ("icp_max_distance", 0.0), ("nose_landmark", -1)]
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        MeshCompareConfig(**{field: value})


def test_landmarks_must_come_in_pairs():
    gt = _blob()
    with pytest.raises(ValueError, match="both"):
        compare_meshes(gt, gt, MeshCompareConfig(**FAST), gt.vertices[:4], None)
    with pytest.raises(ValueError, match="different landmark sets"):
        compare_meshes(gt, gt, MeshCompareConfig(**FAST), gt.vertices[:4], gt.vertices[:5])


@pytest.mark.parametrize("suffix", [".obj", ".ply", ".off"])
def test_files_give_the_same_numbers_as_meshes(tmp_path, suffix):
    gt, pred = _blob(), _moved(_blob(), 2.0, (0, 90, 0), (1, 1, 1))
    gt.export(tmp_path / f"gt{suffix}")
    pred.export(tmp_path / f"pred{suffix}")
    from_files = compare_mesh_files(tmp_path / f"pred{suffix}", tmp_path / f"gt{suffix}", MeshCompareConfig(**FAST))
    in_memory = compare_meshes(pred, gt, MeshCompareConfig(**FAST))
    assert from_files.chamfer == pytest.approx(in_memory.chamfer, abs=1e-6)
    assert from_files.scale == pytest.approx(0.5, rel=1e-3)


def test_file_errors_name_the_file(tmp_path):
    gt = _blob()
    gt.export(tmp_path / "gt.obj")
    (tmp_path / "bad.ply").write_bytes(b"ply\nformat ascii 1.0\nelement vertex 3\nend_header\n0 0\n")
    with pytest.raises(DataError, match="not found") as info:
        compare_mesh_files(tmp_path / "missing.obj", tmp_path / "gt.obj")
    assert info.value.path == str(tmp_path / "missing.obj")
    with pytest.raises(DataError) as info:
        compare_mesh_files(tmp_path / "gt.obj", tmp_path / "bad.ply")
    assert info.value.path == str(tmp_path / "bad.ply")
    (tmp_path / "flat.obj").write_text("v 0 0 0\nv 1 0 0\nv 2 0 0\nf 1 2 3\n")
    with pytest.raises(DataError, match="zero surface area") as info:
        compare_mesh_files(tmp_path / "flat.obj", tmp_path / "gt.obj")
    assert info.value.path == str(tmp_path / "flat.obj")


def test_landmark_file_errors(tmp_path):
    gt = _blob()
    gt.export(tmp_path / "gt.obj")
    (tmp_path / "a.txt").write_text("0\n1\n2\n3\n")
    (tmp_path / "b.txt").write_text("0\n1\n2\n")
    (tmp_path / "line.txt").write_text("0 0 0\n1 1 1\n2 2 2\n")
    mesh = tmp_path / "gt.obj"
    with pytest.raises(DataError, match="both"):
        compare_mesh_files(mesh, mesh, MeshCompareConfig(**FAST), tmp_path / "a.txt", None)
    with pytest.raises(DataError, match="has 3 landmarks") as info:
        compare_mesh_files(mesh, mesh, MeshCompareConfig(**FAST), tmp_path / "a.txt", tmp_path / "b.txt")
    assert info.value.path == str(tmp_path / "b.txt")
    with pytest.raises(DataError, match="nose landmark index 30") as info:
        compare_mesh_files(mesh, mesh, MeshCompareConfig(crop_radius=0.5, **FAST), tmp_path / "b.txt", tmp_path / "b.txt")
    with pytest.raises(DataError, match="collinear") as info:
        compare_mesh_files(mesh, mesh, MeshCompareConfig(**FAST), tmp_path / "line.txt", tmp_path / "line.txt")
    assert info.value.path == str(mesh)
