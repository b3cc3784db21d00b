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
    random_cameras,
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
    """A real synth-chairs process is killed (SIGKILL) while it renders its first chair; the same command finishes the set.
    The finishing run needs no process of its own (one costs seconds of imports): the same command runs in this one."""
    root = tmp_path / "killed"
    args = ["data", "synth-chairs", str(root), "--models", "5", "--views", "4", "--seed", "11", "--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "mvaug.cli.main", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first_view = root / f"ShapeNetRendering/{CHAIR_TAXONOMY}/synth-00000/rendering/00.png"  # about 0.4 s before the end
    deadline = time.time() + 60
    while time.time() < deadline and not first_view.exists():
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    finished = CliRunner().invoke(cli, args)
    assert finished.exit_code == 0, finished.output
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


def test_flat_look_renders_as_before_looks_existed():
    """Pinned: hashes of these renders and cameras computed with the code from before the realistic look."""
    import hashlib

    from mvaug.data.synth.writer import build_model
    from mvaug.render.raycast import MeshRenderer

    config = SynthChairsConfig(models=2, views=2, size=64, seed=5)
    pinned = ["6e3d97cd41db0304d2babe2623520e21b91fc69facd46fc98bdc2a33490b985d",
              "55e2d5e2ca422a87e3fa0ba6d7f6d77362406d4892f1a560d3209e70ac810956"]
    for index, expected in enumerate(pinned):
        mesh, record, cameras = build_model(config, index)[:3]
        renderer = MeshRenderer.from_trimesh(mesh)
        digest = hashlib.sha256()
        for camera in cameras:
            digest.update(renderer.render(camera, config.size, config.supersample).tobytes())
            digest.update(camera.to_metadata_line().encode())
        assert record["family"] == "office" and digest.hexdigest() == expected


REALISTIC = SynthChairsConfig(models=3, views=2, size=48, seed=11, look="realistic")


def test_realistic_look_is_deterministic_and_differs_from_flat(tmp_path):
    synthesize_chairs(tmp_path / "a", REALISTIC, workers=1, progress=False)
    synthesize_chairs(tmp_path / "b", REALISTIC, workers=2, progress=False)
    a = _tree(tmp_path / "a")
    assert a == _tree(tmp_path / "b")
    flat = SynthChairsConfig(models=3, views=2, size=48, seed=11)
    synthesize_chairs(tmp_path / "flat", flat, workers=1, progress=False)
    b = _tree(tmp_path / "flat")
    pngs = [k for k in a if k.endswith(".png")]
    assert len(pngs) == 6 and all(a[k] != b[k] for k in pngs)
    config = json.loads((tmp_path / "a/synth_manifest.json").read_text())["config"]
    assert config["look"] == "realistic"
    assert "look" not in json.loads((tmp_path / "flat/synth_manifest.json").read_text())["config"]
    with pytest.raises(DataError, match=r"other settings \(look\)"):
        synthesize_chairs(tmp_path / "flat", REALISTIC, progress=False)


def test_flat_sets_written_before_looks_existed_resume(small_set, tmp_path):
    root = tmp_path / "old"
    shutil.copytree(small_set, root)
    manifest = json.loads((root / "synth_manifest.json").read_text())
    assert "look" not in manifest["config"]  # as every manifest was before
    summary = synthesize_chairs(root, SMALL, progress=False)
    assert (summary.written, summary.skipped) == (0, 5) and _tree(root) == _tree(small_set)


def test_realistic_cameras_are_jittered_and_recorded(tmp_path):
    """The metadata holds the jittered cameras the renders used: the voxels project onto the silhouettes.
    The dense grid is not jittered: its views must meet the content bank's cameras."""
    root = tmp_path / "sofas"
    config = SynthChairsConfig(models=2, views=4, seed=5, families=("sofa", "club_armchair"), look="realistic")
    synthesize_chairs(root, config, progress=False)
    for model in ("synth-00000", "synth-00001"):
        for agreement in _agreements(root, model):
            assert agreement.inside >= 0.90 and agreement.coverage >= 0.95, (model, agreement)
    dense = SynthChairsConfig(models=1, views=1, seed=5, dense=True, size=32, look="realistic")
    synthesize_chairs(tmp_path / "dense", dense, progress=False)
    cams = read_rendering_metadata(tmp_path / f"dense/ShapeNetRendering/{CHAIR_TAXONOMY}/synth-00000/rendering/rendering_metadata.txt")
    grid = [(az, el) for el in (20.0, 30.0) for az in DENSE_AZIMUTHS]
    np.testing.assert_allclose([(c.azimuth, c.elevation, c.distance_ratio) for c in cams], [(az, el, 0.8) for az, el in grid], atol=1e-6)
    jittered = read_rendering_metadata(root / f"ShapeNetRendering/{CHAIR_TAXONOMY}/synth-00000/rendering/rendering_metadata.txt")
    plain = random_cameras(np.random.default_rng(np.random.SeedSequence([5, 0]).spawn(2)[1]), 4)  # model 0 before the jitter
    d_az = [(c.azimuth - p.azimuth + 180) % 360 - 180 for c, p in zip(jittered, plain)]
    d_el = [c.elevation - p.elevation for c, p in zip(jittered, plain)]
    assert 0 < np.abs(d_az).max() <= 4 and 0 < np.abs(d_el).max() <= 3
    assert all(0.96 <= c.distance_ratio / p.distance_ratio <= 1.04 for c, p in zip(jittered, plain))


def test_look_and_families_are_checked():
    with pytest.raises(ValueError, match="unknown look 'glossy'; choose from flat, realistic"):
        SynthChairsConfig(look="glossy")
    with pytest.raises(ValueError, match=r"chair families \['sofa'\] need look 'realistic'"):
        SynthChairsConfig(families=("sofa",))
    assert SynthChairsConfig(families=("sofa",), look="realistic").families == ("sofa",)


def test_cli_look_option_and_config_file(tmp_path):
    runner = CliRunner()
    bad = runner.invoke(cli, ["data", "synth-chairs", str(tmp_path / "a"), "--family", "wing_chair"])
    assert bad.exit_code == 2 and "--look realistic" in bad.output and "Traceback" not in bad.output
    bad = runner.invoke(cli, ["data", "synth-chairs", str(tmp_path / "a"), "--look", "shiny"])
    assert bad.exit_code == 2 and "shiny" in bad.output
    config = tmp_path / "real.yaml"
    config.write_text("models: 1\nviews: 1\nsize: 32\nlook: realistic\nfamilies: [folding]\n")
    ok = runner.invoke(cli, ["data", "synth-chairs", str(tmp_path / "b"), "--config", str(config), "--quiet"])
    assert ok.exit_code == 0, ok.output
    manifest = json.loads((tmp_path / "b/synth_manifest.json").read_text())
    assert manifest["config"]["look"] == "realistic" and manifest["models"][0]["family"] == "folding"
    ok = runner.invoke(cli, ["data", "synth-chairs", str(tmp_path / "c"), "--models", "1", "--views", "1", "--size", "32",
                             "--look", "realistic", "--family", "sofa", "--quiet"])
    assert ok.exit_code == 0, ok.output


def test_mixed_look_takes_each_chair_from_the_flat_or_the_realistic_set(tmp_path):
    """Model i of a mixed set is model i of the flat or of the realistic set of the same seed, byte for byte."""
    sizes = {"models": 8, "views": 1, "size": 32, "seed": 7}
    trees = {}
    for look in ("flat", "realistic", "mixed"):
        synthesize_chairs(tmp_path / look, SynthChairsConfig(**sizes, look=look), progress=False)
        trees[look] = _tree(tmp_path / look)
    records = json.loads((tmp_path / "mixed/synth_manifest.json").read_text())["models"]
    looks = [r["look"] for r in records]
    assert set(looks) == {"flat", "realistic"}
    for record in records:
        files = [k for k in trees["mixed"] if f"/{record['model']}/" in k]
        assert len(files) == 5  # one render, metadata, index, binvox, obj
        assert all(trees["mixed"][k] == trees[record["look"]][k] for k in files), record["model"]
        other = "flat" if record["look"] == "realistic" else "realistic"
        assert any(trees["mixed"][k] != trees[other][k] for k in files if k.endswith(".png"))
    assert SynthChairsConfig(families=("sofa",), look="mixed").family_choices == SynthChairsConfig(look="realistic").family_choices
