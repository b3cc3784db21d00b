import json
from pathlib import Path

import numpy as np
import pytest
import trimesh
from click.testing import CliRunner, Result
from scipy.spatial.transform import Rotation

from mvaug.cli.main import cli
from mvaug.evaluate.mesh_compare import MeshCompareConfig, compare_mesh_files

# the group as main.py registers it, with its error handling
CLI = cli


def _run(*args: object) -> Result:
    return CliRunner().invoke(CLI, [str(a) for a in args])


@pytest.fixture(scope="module")
def meshes(tmp_path_factory) -> tuple[Path, Path]:
    """GT: an ellipsoid with a bump (.ply); prediction: the same shape scaled, turned and shifted (.obj)."""
    folder = tmp_path_factory.mktemp("meshes")
    sphere = trimesh.creation.icosphere(3)
    v = sphere.vertices * [1.0, 0.6, 0.35]
    v = v + 0.3 * np.exp(-((v - [0.1, 0.2, 0.3]) ** 2).sum(1) / 0.05)[:, None] * [0, 0, 1]
    rotation = Rotation.from_euler("xyz", (20, -35, 60), degrees=True).as_matrix()
    trimesh.Trimesh(v, sphere.faces, process=False).export(folder / "gt.ply")
    trimesh.Trimesh(3.0 * v @ rotation.T + [2, 0, -1], sphere.faces, process=False).export(folder / "pred.obj")
    return folder / "pred.obj", folder / "gt.ply"


def test_compare_prints_the_metrics(meshes):
    result = _run("mesh", "compare", *meshes, "--samples", 5000)
    assert result.exit_code == 0, result.output
    rows = {line.split("  ")[0]: line.split()[-1] for line in result.output.splitlines()}
    assert float(rows["point-to-plane RMSE"]) < 1e-4
    assert float(rows["alignment scale"]) == pytest.approx(1 / 3, rel=1e-3)


def test_compare_json_matches_the_python_api(meshes):
    result = _run("mesh", "compare", *meshes, "--json", "--samples", 5000, "--crop-radius", 0.5, "--fscore-threshold", 0.02)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    expected = compare_mesh_files(*meshes, MeshCompareConfig(samples=5000, crop_radius=0.5, fscore_threshold=0.02))
    assert data["chamfer"] == pytest.approx(expected.chamfer, abs=1e-9)
    assert data["fscore_threshold"] == 0.02 and data["crop_radius"] == 0.5
    assert np.allclose(data["crop_center"], expected.crop_center)


def test_compare_with_landmarks_and_without_icp(meshes, tmp_path):
    indices = "\n".join(str(i) for i in (0, 11, 57, 130, 400)) + "\n"
    (tmp_path / "a.txt").write_text(indices)
    (tmp_path / "b.txt").write_text(indices)
    result = _run("mesh", "compare", *meshes, "--json", "--samples", 5000, "--no-icp", "--landmarks-a", tmp_path / "a.txt", "--landmarks-b", tmp_path / "b.txt")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["point_to_plane_rmse"] < 1e-6


def test_alignment_none_compares_the_meshes_as_given(meshes):
    result = _run("mesh", "compare", *meshes, "--json", "--samples", 5000, "--alignment", "none")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["scale"] == 1.0 and data["transform"] == np.eye(4).tolist()
    assert data["mean_point_to_surface"] > 0.5


def test_missing_and_corrupt_files_are_one_line_errors(meshes, tmp_path, assert_input_error):
    assert_input_error(_run("mesh", "compare", tmp_path / "nope.obj", meshes[1]), "nope.obj", "not found")
    (tmp_path / "bad.off").write_text("OFF\n3 1 0\n0 0 0\n1 0\n")
    assert_input_error(_run("mesh", "compare", meshes[0], tmp_path / "bad.off"), "bad.off")
    (tmp_path / "a.txt").write_text("0\n1\n2\n")
    assert_input_error(_run("mesh", "compare", *meshes, "--landmarks-a", tmp_path / "a.txt"), "both")


def test_bad_option_values_are_one_line_errors(meshes, assert_input_error):
    assert_input_error(_run("mesh", "compare", *meshes, "--crop-radius", -1), "crop_radius")
    assert_input_error(_run("mesh", "compare", *meshes, "--fscore-threshold", 0), "fscore_threshold")
