import json
from pathlib import Path

import pytest
import torch

from mvaug.engine.loop import TrainRequest
from mvaug.config import load_config, resolve_run_config
from mvaug.errors import ConfigError, DataError
from mvaug.faces.dataset import load_face_model
from mvaug.recon.face_config import FaceReconConfig
from mvaug.recon.face_data import FaceTriplets
from mvaug.recon.face_trainer import (
    BEST_METRIC,
    FACE_CHECKPOINT_FORMAT,
    FaceReconTrainer,
    run_face_recon_training,
    validate,
)

from tests.recon.face_fixtures import TINY_FACE_RECON, one_thread, tiny_faces, write_yaml  # noqa: F401

REPO = Path(__file__).resolve().parents[2]


def make_trainer(root: Path, run: Path, **train) -> FaceReconTrainer:
    config = load_config(FaceReconConfig, {**TINY_FACE_RECON, "train": {**TINY_FACE_RECON["train"], **train}})
    poses = [(45.0, 0.0)]
    train_data = FaceTriplets.load(root, "train", 32, poses)
    val_data = FaceTriplets.load(root, "val", 32, poses)
    return FaceReconTrainer(config, train_data, val_data, load_face_model(root), run, torch.device("cpu"), progress=False)


def test_two_steps_train_log_validate_and_write_the_run_folder(tiny_faces, tmp_path):
    run = tmp_path / "run"
    result = run_face_recon_training(TrainRequest(tiny_faces, run, write_yaml(tmp_path / "tiny.yaml", TINY_FACE_RECON), device="cpu", progress=False))
    assert result.step == 2 and 1 <= result.best_step <= 2
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    training = [r for r in records if "total" in r]
    assert [r["step"] for r in training] == [1, 2]
    weights = FaceReconConfig().loss
    for r in training:
        assert r["total"] == pytest.approx(sum(getattr(weights, k) * r[k] for k in ("coefficient", "pose", "landmark")), rel=1e-5)
        assert r["images_per_s"] > 0 and r["lr"] == FaceReconConfig().optim.lr
    validation = [r for r in records if BEST_METRIC in r]
    assert [r["step"] for r in validation] == [1, 2] and all(r["val_landmark_px"] > 0 for r in validation)
    assert result.best == min(r[BEST_METRIC] for r in validation)
    saved = load_config(FaceReconConfig, str(run / "config.yaml"))
    assert saved.data.root == str(tiny_faces.resolve()) and saved.model.width == 2
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-000000001.pt", "step-000000002.pt"]
    best = torch.load(run / "best.pt", weights_only=True)
    assert best["format"] == FACE_CHECKPOINT_FORMAT and best["kind"] == "face" and "optimizer" not in best
    assert best["step"] == result.best_step and best["val"][BEST_METRIC] == result.best
    assert best["network"]["config"]["n_id"] == load_face_model(tiny_faces).id_count


def test_training_changes_the_network_and_lowers_the_loss_on_one_batch(tiny_faces, tmp_path):
    trainer = make_trainer(tiny_faces, tmp_path / "run", steps=30, batch_size=2, val_every=100, checkpoint_every=100, log_every=1)
    trainer.config.augment.low_res_prob, trainer.config.augment.brightness = 0.0, 0.0
    trainer.start(resume=False)
    trainer.train()
    totals = [json.loads(line)["total"] for line in (tmp_path / "run/log.jsonl").read_text().splitlines() if "total" in line]
    assert min(totals[-5:]) < 0.5 * totals[0]  # the two training faces are one batch


def test_a_resumed_run_equals_an_uninterrupted_one(tiny_faces, tmp_path):
    straight = make_trainer(tiny_faces, tmp_path / "straight", steps=3, checkpoint_every=100)
    straight.start(resume=False)
    straight.train()
    first = make_trainer(tiny_faces, tmp_path / "resumed", steps=3, checkpoint_every=100)
    first.start(resume=False)
    first.train(max_steps=2)
    second = make_trainer(tiny_faces, tmp_path / "resumed", steps=3, checkpoint_every=100)
    second.start(resume=True)
    assert second.step == 2
    second.train()
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(second.model.state_dict()[key], value, rtol=0, atol=0, msg=key)
    for a, b in zip(straight.optimizer.state_dict()["state"].values(), second.optimizer.state_dict()["state"].values()):
        torch.testing.assert_close(a["exp_avg"], b["exp_avg"], rtol=0, atol=0)
    assert second.best == straight.best and second.best_step == straight.best_step


def test_a_used_run_folder_needs_resume_and_a_changed_model_is_refused(tiny_faces, tmp_path):
    trainer = make_trainer(tiny_faces, tmp_path / "run")
    trainer.start(resume=False)
    trainer.train(max_steps=1)
    with pytest.raises(DataError, match="--resume"):
        make_trainer(tiny_faces, tmp_path / "run").start(resume=False)
    config = load_config(FaceReconConfig, {**TINY_FACE_RECON, "model": {"width": 4}})
    poses = [(45.0, 0.0)]
    wider = FaceReconTrainer(config, FaceTriplets.load(tiny_faces, "train", 32, poses), FaceTriplets.load(tiny_faces, "val", 32, poses),
                             load_face_model(tiny_faces), tmp_path / "run", torch.device("cpu"), progress=False)
    with pytest.raises(DataError, match="model config differs"):
        wider.start(resume=True)


def test_with_average_last_best_pt_is_the_mean_of_the_last_validations_networks(tiny_faces, tmp_path):
    trainer = make_trainer(tiny_faces, tmp_path / "run", steps=3, average_last=2)
    trainer.start(resume=False)
    trainer.train()
    steps = [torch.load(tmp_path / f"run/checkpoints/step-00000000{s}.pt", weights_only=True)["network"]["model"] for s in (2, 3)]
    best = torch.load(tmp_path / "run/best.pt", weights_only=True)
    for key, value in best["network"]["model"].items():
        if value.is_floating_point():  # weights and BatchNorm statistics, by hand
            torch.testing.assert_close(value, (steps[0][key] + steps[1][key]) / 2, rtol=0, atol=1e-6, msg=key)
    assert any(not torch.equal(steps[0][k], steps[1][k]) for k in steps[0])  # the two networks differ, so the mean is neither
    assert best["val"]["averaged"] == 2 and best["step"] == 3
    with pytest.raises(ConfigError, match="average_last .3. needs steps .4. to be a multiple of val_every .2. and at least 3"):
        load_config(FaceReconConfig, {"train": {"steps": 4, "val_every": 2, "average_last": 3}})


class Oracle(torch.nn.Module):
    """Returns the true coefficients and poses of the validation triplets, optionally disturbed."""

    def __init__(self, data: FaceTriplets, shift: float = 0.0, id_offset: float = 0.0):
        super().__init__()
        self.data, self.shift, self.id_offset = data, shift, id_offset

    def forward(self, views):
        index = torch.arange(views.shape[0])
        target = self.data.targets(index)
        id_coef = target["id"].clone()
        id_coef[:, 0] += self.id_offset
        return {"id": id_coef, "exp": target["exp"], "rotation": target["rotation"], "translation": target["translation"] + torch.tensor([self.shift, 0.0]),
                "log_scale": target["log_scale"]}


def test_validation_metrics_against_hand_worked_errors(tiny_faces):
    model = load_face_model(tiny_faces)
    data = FaceTriplets.load(tiny_faces, "all", 32, [(45.0, 0.0)])
    exact = validate(Oracle(data), model, data, torch.device("cpu"), batch_size=8)
    assert exact["val_landmark_px"] < 1e-3 and exact[BEST_METRIC] < 1e-5
    shifted = validate(Oracle(data, shift=0.25), model, data, torch.device("cpu"), batch_size=8)
    assert shifted["val_landmark_px"] == pytest.approx(0.25 * 32 / 2, abs=1e-3)  # a quarter of the half-width
    offset = validate(Oracle(data, id_offset=1.0), model, data, torch.device("cpu"), batch_size=8)
    mode = model.id_std[0] * model.id_basis[0]  # (N, 3): one standard deviation of the first identity mode
    assert offset[BEST_METRIC] == pytest.approx(float(mode.pow(2).sum(1).mean().sqrt()), rel=1e-4)


def test_config_errors_name_the_key_and_the_missing_data(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'batch_size'"):
        resolve_run_config(FaceReconConfig, None, ["train.batchsize=4"], tmp_path, resume=False)
    with pytest.raises(ConfigError, match="image_size"):
        resolve_run_config(FaceReconConfig, None, ["data.image_size=48"], tmp_path, resume=False)
    with pytest.raises(ConfigError, match="--data"):
        run_face_recon_training(TrainRequest(None, tmp_path / "run", None, device="cpu", progress=False))
    config = resolve_run_config(FaceReconConfig, REPO / "configs/mvfnet-synth.yaml", ["optim.lr=0.5"], tmp_path, resume=False)
    assert config.optim.lr == 0.5 and config.data.poses == [(30.0, 0.0), (45.0, 0.0), (60.0, 0.0)]


def test_the_repository_config_trains_two_steps(tiny_faces, tmp_path):
    result = run_face_recon_training(TrainRequest(tiny_faces, tmp_path / "run", REPO / "configs/mvfnet-synth.yaml", ("train.steps=2", "train.batch_size=2"), device="cpu", progress=False))
    assert result.step == 2 and (tmp_path / "run/best.pt").is_file()
