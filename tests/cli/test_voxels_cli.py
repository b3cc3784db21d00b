import json
from pathlib import Path

import numpy as np
import pytest
import trimesh
from click.testing import CliRunner, Result

from mvaug.cli.main import cli
from mvaug.evaluate.voxel_iou import evaluate_pairs, find_prediction_pairs
from mvaug.io.binvox import Binvox, read_binvox, write_binvox

CATEGORY_ROWS = ["02691156 aeroplane", "02828884 bench", "02958343 car", "03636649 lamp"]


def _run(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def _rows(output: str) -> dict[str, list[str]]:
    """Table rows of the text output: label (the words before the trailing numbers) -> trailing numbers."""
    rows = {}
    for line in output.splitlines():
        words = line.split()
        label = len(words)
        while label > 1 and words[label - 1].replace(".", "").isdigit():
            label -= 1
        if label < len(words):
            rows[" ".join(words[:label])] = words[label:]
    return rows


@pytest.fixture(scope="module")
def folders(realdata) -> tuple[Path, Path]:
    return realdata / "predictions", realdata / "ShapeNetVox32"


def test_iou_folder_table(folders):
    result = _run("voxels", "iou", *folders)
    assert result.exit_code == 0, result.output
    rows = _rows(result.output)
    assert list(rows) == [*CATEGORY_ROWS, "Overall"]
    assert [r[-1] for r in rows.values()] == ["2", "4", "2", "2", "10"]
    expected = evaluate_pairs(find_prediction_pairs(*folders)).mean(0)
    assert [float(v) for v in rows["Overall"][:-1]] == pytest.approx(expected, abs=5e-5)


def test_iou_thresholds_per_file_and_json(folders, tmp_path):
    out = tmp_path / "res" / "iou.json"
    result = _run("voxels", "iou", *folders, "--thresholds", "0.3,0.5", "--per-file", "--json", out)
    assert result.exit_code == 0, result.output
    assert "IoU@0.3" in result.output and "IoU@0.5" in result.output and "IoU@0.2" not in result.output
    assert sum(".binvox" in line for line in result.output.splitlines()) == 10
    report = json.loads(out.read_text())
    assert report["thresholds"] == [0.3, 0.5] and report["overall"]["count"] == 10
    assert [c["name"] for c in report["categories"]] == ["aeroplane", "bench", "car", "lamp"]
    np.testing.assert_allclose([f["iou"] for f in report["files"]], evaluate_pairs(find_prediction_pairs(*folders), (0.3, 0.5)))


def test_iou_pred_axes_repairs_swapped_predictions(folders):
    result = _run("voxels", "iou", *folders, "--pred-axes", "xzy", "--thresholds", "0.5", "--format", "markdown")
    assert result.exit_code == 0, result.output
    overall = next(line for line in result.output.splitlines() if line.startswith("| Overall"))
    assert float(overall.split("|")[2]) > 0.7


def test_iou_single_files(realdata):
    pred = realdata / "predictions/02958343/sample-car/predict01.binvox"
    result = _run("voxels", "iou", pred, realdata / "ShapeNetVox32/02958343/sample-car/model.binvox")
    assert result.exit_code == 0, result.output
    assert list(_rows(result.output)) == ["02958343 car", "Overall"]


def test_iou_npy_probabilities(realdata, tmp_path):
    gt = read_binvox(realdata / "ShapeNetVox32/03636649/sample-lamp/model.binvox").data
    probs = np.where(gt, 0.45, 0.0).astype(np.float32)  # occupied voxels at 0.45: found at t<=0.4, lost at 0.5
    np.save(tmp_path / "lamp.npy", probs)
    result = _run("voxels", "iou", tmp_path / "lamp.npy", realdata / "ShapeNetVox32/03636649/sample-lamp/model.binvox")
    assert result.exit_code == 0, result.output
    assert _rows(result.output)["Overall"] == ["1.0000", "1.0000", "1.0000", "0.0000", "1"]


def test_iou_missing_paths(folders, tmp_path, assert_input_error):
    assert_input_error(_run("voxels", "iou", tmp_path / "nope", folders[1]), tmp_path / "nope", "not found")
    assert_input_error(_run("voxels", "iou", folders[0], tmp_path / "nogt"), tmp_path / "nogt", "not found")


def test_iou_prediction_without_ground_truth(realdata, tmp_path, assert_input_error):
    pred = tmp_path / "preds/04379243/some-table/predict.binvox"
    write_binvox(pred, Binvox(np.ones((32, 32, 32), bool)))
    result = _run("voxels", "iou", tmp_path / "preds", realdata / "ShapeNetVox32")
    assert_input_error(result, pred, realdata / "ShapeNetVox32/04379243/some-table/model.binvox")


def test_iou_grid_size_mismatch(realdata, tmp_path, assert_input_error):
    pred = tmp_path / "preds/02958343/sample-car/small.binvox"
    write_binvox(pred, Binvox(np.ones((16, 16, 16), bool)))
    result = _run("voxels", "iou", tmp_path / "preds", realdata / "ShapeNetVox32")
    assert_input_error(result, pred, "(16, 16, 16)", "(32, 32, 32)")


def test_iou_corrupt_binvox(realdata, tmp_path, assert_input_error):
    raw = (realdata / "predictions/02958343/sample-car/predict01.binvox").read_bytes()
    pred = tmp_path / "preds/02958343/sample-car/cut.binvox"
    pred.parent.mkdir(parents=True)
    pred.write_bytes(raw[: len(raw) // 2])
    result = _run("voxels", "iou", tmp_path / "preds", realdata / "ShapeNetVox32")
    assert_input_error(result, pred, "truncated")


def test_iou_empty_folder(realdata, tmp_path, assert_input_error):
    (tmp_path / "preds/02958343/sample-car").mkdir(parents=True)
    (tmp_path / "preds/02958343/sample-car/notes.txt").write_text("not a grid")
    assert_input_error(_run("voxels", "iou", tmp_path / "preds", realdata / "ShapeNetVox32"), tmp_path / "preds", "no predictions")


@pytest.mark.parametrize("suffix", [".obj", ".ply", ".off"])
def test_mesh_real_binvox(realdata, tmp_path, suffix):
    vox = read_binvox(realdata / "ShapeNetVox32/02828884/sample-bench/model.binvox")
    out = tmp_path / f"bench{suffix}"
    result = _run("voxels", "mesh", realdata / "ShapeNetVox32/02828884/sample-bench/model.binvox", out)
    assert result.exit_code == 0, result.output
    mesh = trimesh.load(out, force="mesh")
    assert mesh.is_watertight
    assert np.abs(mesh.bounds).max() <= vox.scale / 2 + 1e-6  # the cube of side = header scale
    assert np.ptp(mesh.bounds, axis=0).max() > 0.9 * vox.scale  # the model's largest extent fills the cube


def test_mesh_npy_threshold(tmp_path, assert_input_error):
    grid = np.zeros((8, 8, 8), np.float32)
    grid[1:5, 1:5, 1:5] = 0.4
    np.save(tmp_path / "g.npy", grid)
    assert_input_error(_run("voxels", "mesh", tmp_path / "g.npy", tmp_path / "g.obj"), tmp_path / "g.npy", "0.5")
    result = _run("voxels", "mesh", tmp_path / "g.npy", tmp_path / "g.obj", "--threshold", "0.4")
    assert result.exit_code == 0, result.output
    assert np.ptp(trimesh.load(tmp_path / "g.obj", force="mesh").bounds, axis=0) == pytest.approx([0.5] * 3)  # 4 of 8 voxels, side 1


def test_mesh_errors(realdata, tmp_path, assert_input_error):
    src = realdata / "ShapeNetVox32/02828884/sample-bench/model.binvox"
    assert_input_error(_run("voxels", "mesh", src, tmp_path / "b.glb"), tmp_path / "b.glb", ".obj")
    assert_input_error(_run("voxels", "mesh", tmp_path / "none.binvox", tmp_path / "b.obj"), tmp_path / "none.binvox")
    (tmp_path / "cut.binvox").write_bytes(src.read_bytes()[:40])
    assert_input_error(_run("voxels", "mesh", tmp_path / "cut.binvox", tmp_path / "b.obj"), tmp_path / "cut.binvox")
    assert not (tmp_path / "b.obj").exists()


def test_mesh_axes_swaps_y_and_z(tmp_path):
    grid = np.zeros((8, 8, 8), bool)
    grid[0:2, 0:4, 0:6] = True  # extents 2, 4, 6 voxels along the stored axes
    np.save(tmp_path / "g.npy", grid)
    result = _run("voxels", "mesh", tmp_path / "g.npy", tmp_path / "g.off", "--axes", "xzy")
    assert result.exit_code == 0, result.output
    extent = np.ptp(trimesh.load(tmp_path / "g.off", force="mesh").bounds, axis=0) * 8
    np.testing.assert_allclose(extent, [2, 6, 4], atol=1e-9)  # stored axis 1 is z, axis 2 is y
