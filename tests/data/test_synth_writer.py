"""The built-in data set: ShapeNet layout and conventions, determinism, workers, resume."""

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import trimesh
from click.testing import CliRunner

from mvaug.cli.main import cli
from mvaug.data.shapenet import ShapeNetDataset
from mvaug.data.synth.writer import (
    CHAIR_TAXONOMY,
    DENSE_AZIMUTHS,
    SynthChairsConfig,
    split_models,
    synthesize_chairs,
)
from mvaug.errors import DataError
from mvaug.geometry.camera import read_rendering_metadata
from mvaug.geometry.silhouette import silhouette_agreement
from mvaug.io.binvox import read_binvox
from mvaug.io.images import read_image
from tests.conftest import torch_threads_started

SMALL = SynthChairsConfig(models=5, views=4, seed=11)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small_set(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "chairs"
    synthesize_chairs(root, SMALL, workers=1, progress=False)
    return root


def test_same_seed_is_byte_identical_with_any_number_of_workers(small_set, tmp_path):
    with torch_threads_started():  # workers forked from here could hang; chair workers run no torch today, though
        synthesize_chairs(tmp_path / "two", SMALL, workers=2, progress=False)
    assert _tree(small_set) == _tree(tmp_path / "two")
    other = SynthChairsConfig(models=5, views=4, seed=12)
    synthesize_chairs(tmp_path / "other", other, workers=1, progress=False)
    a, b = _tree(small_set), _tree(tmp_path / "other")
    differing = [k for k in a if k.endswith(".png") and a[k] != b.get(k)]
    assert len(differing) == 5 * 4


def test_layout_matches_the_real_shapenet_sample(small_set, realdata):
    def layout(root):
        pattern = set()
        for p in root.rglob("*"):
            if p.is_file() and p.parts[len(root.parts)] in ("ShapeNetRendering", "ShapeNetVox32"):
                rel = p.relative_to(root).parts
                pattern.add((rel[0], len(rel), rel[-1] if not rel[-1].endswith(".png") else "NN.png"))
        return pattern

    assert layout(small_set) == layout(realdata)
    real_split = json.loads((realdata / "ShapeNet.json").read_text())
    ours = json.loads((small_set / "ShapeNet.json").read_text())
    assert [sorted(e) for e in ours] == [sorted(real_split[0])]
    assert ours[0]["taxonomy_id"] == CHAIR_TAXONOMY
    assert sorted(ours[0]["train"] + ours[0]["val"] + ours[0]["test"]) == [f"synth-{i:05d}" for i in range(5)]

    render_dir = small_set / f"ShapeNetRendering/{CHAIR_TAXONOMY}/synth-00000/rendering"
    assert (render_dir / "renderings.txt").read_text().split() == ["00.png", "01.png", "02.png", "03.png"]
    image = read_image(render_dir / "00.png")
    from PIL import Image

    assert Image.open(render_dir / "00.png").mode == "RGBA" and image.shape == (137, 137, 4)
    assert image[0, 0, 3] == 0 and image[..., 3].max() == 255
    for cam in read_rendering_metadata(render_dir / "rendering_metadata.txt"):
        assert 0 <= cam.azimuth < 360 and 25 <= cam.elevation <= 30
        assert 0.65 <= cam.distance_ratio <= 0.95 and cam.in_plane == 0 and cam.metadata_fov == 25


def test_binvox_header_and_obj_follow_shapenet_normalisation(small_set):
    for model in ("synth-00000", "synth-00003"):
        mesh = trimesh.load(small_set / f"ShapeNetCore.v1/{CHAIR_TAXONOMY}/{model}/model.obj", force="mesh", process=False)
        lo, hi = mesh.bounds
        np.testing.assert_allclose((lo + hi) / 2, 0, atol=1e-6)
        assert np.linalg.norm(hi - lo) == pytest.approx(1.0, abs=1e-6)
        vox = read_binvox(small_set / f"ShapeNetVox32/{CHAIR_TAXONOMY}/{model}/model.binvox")
        assert vox.dims == (32, 32, 32)
        assert vox.scale == pytest.approx((hi - lo).max(), abs=1e-5)
        np.testing.assert_allclose(vox.translate, lo, atol=1e-5)
        assert vox.data[:, 0, :].any() and vox.data[:, -1, :].any()  # floor to top fills the height


def _agreements(root: Path, model: str):
    vox = read_binvox(root / f"ShapeNetVox32/{CHAIR_TAXONOMY}/{model}/model.binvox")
    render_dir = root / f"ShapeNetRendering/{CHAIR_TAXONOMY}/{model}/rendering"
    cameras = read_rendering_metadata(render_dir / "rendering_metadata.txt")
    return [
        silhouette_agreement(vox.data, vox.scale, cam, read_image(render_dir / f"{view:02d}.png")[..., 3] > 0)
        for view, cam in enumerate(cameras)
    ]


def test_synthetic_voxels_project_onto_synthetic_silhouettes(tmp_path):
    """The real-data check with its thresholds, on chairs without thin parts (armchairs, like the real bench and car)."""
    root = tmp_path / "armchairs"
    synthesize_chairs(root, SynthChairsConfig(models=3, views=6, seed=5, families=("armchair",)), progress=False)
    for model in ("synth-00000", "synth-00001", "synth-00002"):
        for view, agreement in enumerate(_agreements(root, model)):
            assert agreement.inside >= 0.90, (model, view, agreement)
            assert agreement.coverage >= 0.95, (model, view, agreement)


def test_thin_chair_parts_fatten_but_stay_aligned(small_set):
    """Tubes and legs thinner than a voxel fatten in 32^3 (as the real lamp does): 'inside' drops, coverage holds."""
    for model in [f"synth-{i:05d}" for i in range(SMALL.models)]:
        results = _agreements(small_set, model)
        assert np.mean([r.inside for r in results]) >= 0.80, model
        assert min(r.coverage for r in results) >= 0.95, model


def test_loads_with_the_shapenet_dataset(small_set):
    data = ShapeNetDataset.from_root(small_set, split="all", n_views=4)
    assert len(data) == 5
    item = data[0]
    assert item["images"].shape == (4, 3, 137, 137)
    assert item["voxels"].shape == (32, 32, 32) and item["taxonomy_id"] == CHAIR_TAXONOMY


def test_resume_rewrites_only_unfinished_models(small_set, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(small_set, root)
    render_dir = root / f"ShapeNetRendering/{CHAIR_TAXONOMY}/synth-00002/rendering"
    (render_dir / "renderings.txt").unlink()  # as if the run had stopped while rendering this model
    (render_dir / "03.png").write_bytes(b"\x89PNG half")
    summary = synthesize_chairs(root, SMALL, workers=1, progress=False)
    assert (summary.written, summary.skipped) == (1, 4)
    assert _tree(root) == _tree(small_set)


def test_killed_run_resumes_to_the_same_bytes(small_set, tmp_path):
    """A real synth-chairs process is killed (SIGKILL) while it renders its first chair; the same command finishes the set."""
    root = tmp_path / "killed"
    command = [sys.executable, "-m", "mvaug.cli.main", "data", "synth-chairs", str(root), "--models", "5", "--views", "4", "--seed", "11", "--quiet"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first_view = root / f"ShapeNetRendering/{CHAIR_TAXONOMY}/synth-00000/rendering/00.png"  # about 0.4 s before the end
    deadline = time.time() + 60
    while time.time() < deadline and not first_view.exists():
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    assert finished.returncode == 0, finished.stderr
    assert _tree(root) == _tree(small_set)  # the write the kill cut short left a temp file; the resume removed it


def test_refuses_a_folder_with_other_settings_or_foreign_files(small_set, tmp_path):
    with pytest.raises(DataError, match=r"other settings \(seed, views\)"):
        synthesize_chairs(small_set, SynthChairsConfig(models=5, views=3, seed=12), progress=False)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="not empty"):
        synthesize_chairs(foreign, SMALL, progress=False)
    assert (foreign / "notes.txt").read_text() == "mine"


def test_dense_grid_records_view_indices(tmp_path):
    config = SynthChairsConfig(models=1, dense=True, size=32, seed=3)
    synthesize_chairs(tmp_path / "dense", config, progress=False)
    render_dir = tmp_path / f"dense/ShapeNetRendering/{CHAIR_TAXONOMY}/synth-00000/rendering"
    cams = read_rendering_metadata(render_dir / "rendering_metadata.txt")
    assert len(cams) == 62 and len(list(render_dir.glob("*.png"))) == 62
    assert [c.elevation for c in cams] == [20.0] * 31 + [30.0] * 31
    np.testing.assert_allclose([c.azimuth for c in cams[31:]], DENSE_AZIMUTHS)
    manifest = json.loads((tmp_path / "dense/synth_manifest.json").read_text())
    assert manifest["dense_views"][40] == {"view": 40, "azimuth": cams[40].azimuth, "elevation": 30.0, "distance_ratio": 0.8}


def test_split_is_seeded_partition():
    names = [f"m{i}" for i in range(50)]
    a = split_models(names, (0.7, 0.1, 0.2), 1)
    assert [len(a[k]) for k in ("train", "val", "test")] == [35, 5, 10]
    assert sorted(a["train"] + a["val"] + a["test"]) == sorted(names)
    assert a == split_models(names, (0.7, 0.1, 0.2), 1) and a != split_models(names, (0.7, 0.1, 0.2), 2)


def test_cli_synth_chairs_and_bad_options(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(cli, ["data", "synth-chairs", str(tmp_path / "c"), "--models", "2", "--views", "1", "--size", "32", "--quiet"])
    assert ok.exit_code == 0, ok.output
    assert "2 chairs" in ok.output and (tmp_path / "c/ShapeNet.json").is_file()
    bad = runner.invoke(cli, ["data", "synth-chairs", str(tmp_path / "d"), "--split", "0.5,0.5,0.5"])
    assert bad.exit_code == 2 and "sum" in bad.output and "Traceback" not in bad.output
    bad = runner.invoke(cli, ["data", "synth-chairs", str(tmp_path / "d"), "--family", "throne"])
    assert bad.exit_code == 2 and "throne" in bad.output
    clash = runner.invoke(cli, ["data", "synth-chairs", str(tmp_path / "c"), "--models", "3", "--quiet"])
    assert clash.exit_code == 2 and "other settings" in clash.output
    config = tmp_path / "chairs.yaml"
    config.write_text("models: 2\nveiws: 3\n")
    typo = runner.invoke(cli, ["data", "synth-chairs", str(tmp_path / "e"), "--config", str(config)])
    assert typo.exit_code == 2 and f"{config}: unknown key 'veiws'; did you mean 'views'?" in typo.output
    assert "Traceback" not in typo.output and not (tmp_path / "e").exists()
