"""Generated side views in MVF-Net training (mvaug.recon.face_synth and FaceReconTrainer with synth.mix)."""

import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from mvaug.config import load_config
from mvaug.engine.loop import TrainRequest
from mvaug.errors import ConfigError, DataError
from mvaug.faces.dataset import load_face_model
from mvaug.multiview.bank import BankEntry
from mvaug.multiview.views import parse_view
from mvaug.recon.face_config import FaceReconConfig, FaceSynthConfig
from mvaug.recon.face_data import FaceTriplets
from mvaug.recon.face_synth import compose_triplets, front_only_targets, generate_side_views, side_view_names
from mvaug.recon.face_trainer import BEST_METRIC, FaceReconTrainer, run_face_recon_training

from tests.recon.face_fixtures import TINY_FACE_RECON, one_thread, tiny_face_disentangler, tiny_faces, write_yaml  # noqa: F401


def test_compose_keeps_generates_or_repeats_the_front_view_per_row():
    images = torch.rand(3, 3, 3, 4, 4)
    generated = torch.rand(3, 2, 3, 4, 4)
    out = compose_triplets(images, torch.tensor([0, 1, 2]), generated)
    assert torch.equal(out[0], images[0])
    assert torch.equal(out[1, 0], images[1, 0]) and torch.equal(out[1, 1:], generated[1])
    assert torch.equal(out[2, 1], images[2, 0]) and torch.equal(out[2, 2], images[2, 0]) and torch.equal(out[2, 0], images[2, 0])
    assert torch.equal(images, images.clone())  # the input is not changed
    with pytest.raises(IndexError):
        compose_triplets(images, torch.tensor([1, 1, 1]), generated[:1])


def test_front_only_targets_copy_the_front_views_pose_and_landmarks_to_the_sides():
    target = {"landmarks": torch.rand(2, 3, 68, 2), "visible": torch.rand(2, 3, 68) > 0.5, "rotation": torch.rand(2, 3, 3, 3),
              "translation": torch.rand(2, 3, 2), "log_scale": torch.rand(2, 3), "id": torch.rand(2, 5), "exp": torch.rand(2, 4)}
    out = front_only_targets(target, torch.tensor([False, True]))
    for key in ("landmarks", "visible", "rotation", "translation", "log_scale"):
        assert torch.equal(out[key][0], target[key][0])
        assert torch.equal(out[key][1, 1], target[key][1, 0]) and torch.equal(out[key][1, 2], target[key][1, 0])
        assert not torch.equal(out[key][1], target[key][1]) or key == "visible"
    assert out["id"] is target["id"] and out["exp"] is target["exp"]


@dataclass
class _Model:
    device: torch.device = torch.device("cpu")


@dataclass
class _Bank:
    entries: list


class RecordingSynth:
    """A synthesiser whose view v of image b is the image's mean colour plus v (so the test can read who made what)."""

    image_size = 8

    def __init__(self, names):
        self.bank = _Bank([BankEntry(parse_view(n), "mean") for n in names])
        self.model = _Model()
        self.calls = []

    def generate_batch(self, images, views):
        self.calls.append(([v.name for v in views], images.shape))
        level = images.mean(dim=(1, 2, 3))  # (B,)
        out = torch.stack([(level + 0.1 * k).clamp(0, 1) for k in range(len(views))], dim=1)  # (B, V)
        return views, out[:, :, None, None, None].expand(-1, -1, 3, self.image_size, self.image_size)


def _triplets(poses):
    count = len(poses)
    images = torch.stack([torch.full((3, 3, 16, 16), 10 * (k + 1), dtype=torch.uint8) for k in range(count)])
    zeros = torch.zeros(count)
    return FaceTriplets(images, torch.zeros(count, 3, 68, 2), torch.ones(count, 3, 68, dtype=torch.bool), torch.eye(3).expand(count, 3, 3, 3),
                        torch.zeros(count, 3, 2), torch.zeros(count, 3), torch.zeros(count, 4), torch.zeros(count, 2), zeros.long(),
                        [f"id{k}" for k in range(count)], ["x.obj"] * count, poses)


def test_side_views_come_from_the_front_view_at_each_triplets_pose_bank_views():
    assert side_view_names([(45.0, 0.0), (30.0, 0.0)]) == {(45.0, 0.0): ("az315_el00", "az045_el00"), (30.0, 0.0): ("az330_el00", "az030_el00")}
    names = ["az000_el00", "az315_el00", "az045_el00", "az330_el00", "az030_el00"]
    synth = RecordingSynth(names)
    triplets = _triplets([(45.0, 0.0), (30.0, 0.0), (45.0, 0.0)])
    views = generate_side_views(synth, triplets)
    assert views.shape == (3, 2, 3, 16, 16) and views.dtype == torch.uint8
    assert sorted(tuple(c[0]) for c in synth.calls) == [("az315_el00", "az045_el00"), ("az330_el00", "az030_el00")]
    for k in range(3):  # right = left + 0.1; each from its own front view
        level = 10 * (k + 1) / 255.0
        assert views[k, 0].float().mean() / 255.0 == pytest.approx(level, abs=2 / 255)
        assert views[k, 1].float().mean() / 255.0 == pytest.approx(level + 0.1, abs=2 / 255)
    synth = RecordingSynth(names[:3])
    with pytest.raises(ConfigError, match="no view az030_el00, az330_el00.*train_side_yaws"):
        generate_side_views(synth, triplets)


def test_synth_config_names_what_is_missing():
    with pytest.raises(ValueError, match="run is null"):
        FaceSynthConfig(mix=(0.5, 0.5, 0.0))
    with pytest.raises(ValueError, match="summing to 1"):
        FaceSynthConfig(mix=(0.5, 0.2, 0.2))
    assert FaceSynthConfig(mix=(0.5, 0.0, 0.5)).modes == ["real", "none"]
    assert FaceSynthConfig().modes == ["real"]


def _trainer(root, run, synth: dict, **train):
    config = load_config(FaceReconConfig, {**TINY_FACE_RECON, "train": {**TINY_FACE_RECON["train"], **train}, "synth": synth})
    poses = [(45.0, 0.0)]
    return FaceReconTrainer(config, FaceTriplets.load(root, "train", 32, poses), FaceTriplets.load(root, "val", 32, poses), load_face_model(root),
                            run, torch.device("cpu"), progress=False, data_root=root)


def test_real_only_batches_draw_no_modes_and_single_view_batches_repeat_the_front(tiny_faces, tmp_path):
    real = _trainer(tiny_faces, tmp_path / "a", {})
    images, index, modes = real.batch(3)
    assert modes.tolist() == [0, 0]
    # the augmentations of a real-only run are those drawn from (seed, step) alone, as before the synth section
    from mvaug.recon.face_data import augment_views

    generator = torch.Generator().manual_seed(real.config.train.seed * 1_000_003 + 3)
    aug = real.config.augment
    assert torch.equal(images, augment_views(real.train_data.float_images(index), generator, aug.low_res_prob, aug.low_res_size, aug.brightness))
    single = _trainer(tiny_faces, tmp_path / "b", {"mix": [0.0, 0.0, 1.0]})
    single.config.augment.brightness = single.config.augment.low_res_prob = 0.0
    images, _, modes = single.batch(3)
    assert modes.tolist() == [2, 2] and torch.equal(images[:, 1], images[:, 0]) and torch.equal(images[:, 2], images[:, 0])


def test_training_with_generated_side_views_caches_them_validates_each_mode_and_resumes(tiny_faces, tiny_face_disentangler, tmp_path):
    config = {**TINY_FACE_RECON, "synth": {"run": str(tiny_face_disentangler), "mix": [0.4, 0.4, 0.2]}}
    run = tmp_path / "run"
    result = run_face_recon_training(TrainRequest(tiny_faces, run, write_yaml(tmp_path / "aug.yaml", config), device="cpu", progress=False))
    assert result.step == 2
    cache = run / "synth_views.npz"
    with np.load(cache, allow_pickle=False) as data:
        header, views = json.loads(str(data["header"])), data["views"]
    names = FaceTriplets.load(tiny_faces, "train", 32, [(45.0, 0.0)]).names
    assert views.shape == (len(names), 2, 3, 32, 32) and views.dtype == np.uint8  # the training identities at yaw 45
    assert header["settings"]["triplets"] == [f"{name}@45,0" for name in names]
    validation = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if BEST_METRIC in line]
    for record in validation:
        modes = [record[f"{BEST_METRIC}_{m}"] for m in ("real", "generated", "none")]
        assert record[BEST_METRIC] == pytest.approx(sum(modes) / 3)
        assert record["val_landmark_px_none"] != record["val_landmark_px_real"]  # single views are measured against the front view's landmarks
    stamp = cache.stat().st_mtime_ns
    resumed = run_face_recon_training(TrainRequest(tiny_faces, run, None, ("train.steps=3",), resume=True, device="cpu", progress=False))
    assert resumed.step == 3 and cache.stat().st_mtime_ns == stamp  # reused, not generated anew
    with pytest.raises(DataError, match="other settings.*run"):
        run_face_recon_training(TrainRequest(tiny_faces, run, None, ("train.steps=4", "synth.run=builtin:face-disentangler"), resume=True, device="cpu", progress=False))


def test_the_cli_option_sets_the_face_runs_disentangler(tiny_faces, tiny_face_disentangler, tmp_path):
    import yaml
    from click.testing import CliRunner

    from mvaug.cli.main import cli

    config = write_yaml(tmp_path / "tiny.yaml", {**TINY_FACE_RECON, "synth": {"mix": [0.5, 0.0, 0.5]}})
    args = ["train-recon", "--kind", "face", "--config", str(config), "--data", str(tiny_faces), "--out", str(tmp_path / "run"),
            "--set", "synth.mix=[0.0,1.0,0.0]", "--max-steps", "1", "--device", "cpu", "--quiet", "--augment-from", str(tiny_face_disentangler)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["synth"]
    assert saved == {"run": str(tiny_face_disentangler), "bank": None, "mix": [0.0, 1.0, 0.0], "refine_steps": 0}
    assert (tmp_path / "run" / "synth_views.npz").is_file()
    missing = CliRunner().invoke(cli, [*args[:9], "--set", "synth.mix=[0.0,1.0,0.0]", "--device", "cpu", "--quiet"])  # generated views, no disentangler
    assert missing.exit_code != 0 and "run is null" in missing.output and "Traceback" not in missing.output


def test_the_repo_config_trains_on_generated_side_views_once_a_disentangler_is_named(tmp_path):
    from pathlib import Path

    from mvaug.config import resolve_run_config

    path = Path(__file__).resolve().parents[2] / "configs" / "mvfnet-augment.yaml"
    config = resolve_run_config(FaceReconConfig, path, ['synth.run="builtin:face-disentangler"'], tmp_path / "a", resume=False)
    assert config.synth.modes == ["real", "generated", "none"] and config.data.poses == [(30.0, 0.0), (45.0, 0.0), (60.0, 0.0)]
    baseline = resolve_run_config(FaceReconConfig, path, ["synth.mix=[0.5,0.0,0.5]"], tmp_path / "b", resume=False)
    assert baseline.synth.run is None and baseline.synth.modes == ["real", "none"] and baseline.train == config.train
    with pytest.raises(ConfigError, match="synth.*run is null"):
        resolve_run_config(FaceReconConfig, path, [], tmp_path / "c", resume=False)


def test_refined_side_views_are_cached_as_the_face_commands_draw_them(tiny_faces, tiny_face_disentangler, tmp_path):
    """synth.refine_steps: the training triplets' side views come from the front views' refined codes, the setting is
    recorded in the cache, and a resume without it is refused."""
    from mvaug.multiview.synthesizer import MultiViewSynthesizer
    from mvaug.recon.face_synth import prepare_side_views

    poses = [(45.0, 0.0)]
    train, val = (FaceTriplets.load(tiny_faces, split, 32, poses) for split in ("train", "val"))

    def config(refine_steps: int) -> FaceReconConfig:
        return load_config(FaceReconConfig, {**TINY_FACE_RECON, "synth": {"run": str(tiny_face_disentangler), "mix": [0.5, 0.5, 0.0],
                                                                            "refine_steps": refine_steps}})

    run = tmp_path / "run"
    run.mkdir()
    cached, _ = prepare_side_views(run, train, val, config(2), tiny_faces, torch.device("cpu"), progress=False)
    expected = generate_side_views(MultiViewSynthesizer.from_run(tiny_face_disentangler, refine_steps=2), train)
    plain = generate_side_views(MultiViewSynthesizer.from_run(tiny_face_disentangler), train)
    assert torch.equal(cached, expected) and not torch.equal(cached, plain)
    with np.load(run / "synth_views.npz", allow_pickle=False) as data:
        assert json.loads(str(data["header"]))["settings"]["refine_steps"] == 2
    with pytest.raises(DataError, match="refine_steps: 2 in the file, null now"):
        prepare_side_views(run, train, val, config(0), tiny_faces, torch.device("cpu"), progress=False)
    with pytest.raises(ConfigError, match="synth: refine_steps must be at least 0"):
        config(-1)
