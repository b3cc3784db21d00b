"""The one training loop: checked against a hand-written loop, for its cadence, best.pt, exact resume and divergence."""

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from mvaug.engine.loop import NEVER, RunFolderTrainer, Schedule, TrainingLoop, TrainingTask, every
from mvaug.engine.optimizer import adam
from mvaug.engine.run_folder import RunPaths
from mvaug.engine.run_log import TrainingDiverged
from mvaug.errors import DataError
from mvaug.io.checkpoint import load_checkpoint

FORMAT = "test-regression-v1"


class NoisyRegression(TrainingTask):
    """Fit y = x w* with a linear layer; the inputs are drawn from torch's global RNG, so resume must restore it."""

    label = "regression"
    best_metric = "val_error"

    def __init__(self, val_errors: list[float] | None = None, nan_at: int | None = None):
        torch.manual_seed(0)
        self.model = torch.nn.Linear(4, 1)
        self.target = torch.tensor([[1.0, -2.0, 0.5, 3.0]])
        self.val_errors, self.nan_at = val_errors, nan_at
        self.after = []

    def batch(self, step: int) -> tuple[int, torch.Tensor]:
        return step, torch.randn(8, 4)

    def batch_images(self, batch) -> int:
        return 8

    def losses(self, batch) -> dict[str, torch.Tensor]:
        step, x = batch
        error = (self.model(x) - x @ self.target.T).pow(2).mean()
        if step == self.nan_at:
            error = error * float("nan")
        return {"total": error, "scaled": 0.5 * error}

    def after_step(self, step, losses):
        self.after.append(step)

    def validate(self, step: int) -> dict[str, float]:
        return {"val_error": self.val_errors[step - 1]}

    def checkpoint_payload(self, loop) -> dict:
        return {"format": FORMAT, "model": self.model.state_dict()}

    def restore(self, path: Path, device) -> dict:
        payload = load_checkpoint(path, FORMAT, device)
        self.model.load_state_dict(payload["model"])
        return payload


def make_loop(task, run: Path | None, total=6, **events) -> TrainingLoop:
    optimizer = adam({"linear": task.model.parameters()}, 0.05)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[3], gamma=0.1)
    schedule = Schedule(total, log=events.pop("log", every(2)), **events)
    return TrainingLoop(task, schedule, optimizer, torch.device("cpu"), RunPaths(run) if run else None, scheduler, progress=False)


def test_every_is_due_at_multiples_of_any_period_and_at_the_end():
    assert [s for s in range(1, 11) if every(3, 4).due(s, 10)] == [3, 4, 6, 8, 9, 10]
    assert [s for s in range(1, 11) if every(3, at_end=False).due(s, 10)] == [3, 6, 9]
    assert [s for s in range(1, 11) if every(None).due(s, 10)] == [10]
    assert not any(NEVER.due(s, 10) for s in range(1, 11))


def test_the_loop_takes_the_steps_of_a_hand_written_loop():
    task = NoisyRegression()
    make_loop(task, None).run()
    torch.manual_seed(0)
    naive = torch.nn.Linear(4, 1)
    optimizer = torch.optim.Adam(naive.parameters(), lr=0.05)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[3], gamma=0.1)
    for _ in range(6):
        x = torch.randn(8, 4)
        loss = (naive(x) - x @ task.target.T).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
    for ours, theirs in zip(task.model.parameters(), naive.parameters()):
        assert torch.equal(ours, theirs)
    assert task.after == [1, 2, 3, 4, 5, 6]


def test_log_checkpoints_and_best_follow_the_schedule(tmp_path):
    errors = [5.0, 3.0, 4.0, 3.0, 1.0, 2.0]
    task = NoisyRegression(val_errors=errors)
    loop = make_loop(task, tmp_path / "run", checkpoint=every(4), validate=every(1))
    loop.paths.root.mkdir()
    last = loop.run()
    records = [json.loads(line) for line in (tmp_path / "run/log.jsonl").read_text().splitlines()]
    training = [r for r in records if "total" in r]
    assert [r["step"] for r in training] == [2, 4, 6] and last == training[-1]
    assert all(r["scaled"] == pytest.approx(0.5 * r["total"]) and r["images_per_s"] > 0 for r in training)
    assert [r["val_error"] for r in records if "val_error" in r] == errors
    assert sorted(p.name for p in (tmp_path / "run/checkpoints").iterdir()) == ["step-000000004.pt", "step-000000006.pt"]
    best = load_checkpoint(tmp_path / "run/best.pt", FORMAT)
    assert (best["best"], best["best_step"], best["step"]) == (1.0, 5, 5) and "optimizer" not in best  # 3.0 at step 4 did not beat step 2's
    checkpoint = load_checkpoint(tmp_path / "run/checkpoints/step-000000006.pt", FORMAT)
    assert {"optimizer", "scheduler", "rng"} <= set(checkpoint) and checkpoint["scheduler"]["last_epoch"] == 6


def test_max_mode_and_a_best_that_no_longer_counts(tmp_path):
    task = NoisyRegression(val_errors=[0.9, 0.5, 0.7, 0.6])
    task.best_mode = "max"
    task.best_counts = lambda best_step, step: step < 3 or best_step >= 3  # bests of steps 1-2 go at step 3
    loop = make_loop(task, tmp_path / "run", total=4, validate=every(1))
    loop.paths.root.mkdir()
    loop.run()
    assert (loop.best, loop.best_step) == (0.7, 3)


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    straight = NoisyRegression()
    make_loop(straight, None).run()
    first = make_loop(NoisyRegression(), tmp_path / "b", checkpoint=every(3))
    first.paths.root.mkdir()
    first.run(max_steps=4)  # checkpoint at step 3; step 4 is lost with the process
    torch.manual_seed(123)  # a new process: another RNG state
    task = NoisyRegression()
    resumed = make_loop(task, tmp_path / "b", checkpoint=every(3))
    assert resumed.restore_latest() and resumed.step == 4  # the end of a run is checkpointed too
    resumed.run()
    assert resumed.step == 6 and resumed.scheduler.last_epoch == 6
    for ours, theirs in zip(task.model.parameters(), straight.model.parameters()):
        assert torch.equal(ours, theirs)


def test_a_non_finite_loss_stops_before_the_weights_change(tmp_path):
    task = NoisyRegression(nan_at=2)
    loop = make_loop(task, tmp_path / "run", log=every(1))
    loop.paths.root.mkdir()
    with pytest.raises(TrainingDiverged, match="loss 'total' is nan at step 3") as err:
        loop.run()
    assert str(tmp_path / "run") in str(err.value)
    before = {k: v.clone() for k, v in task.model.state_dict().items()}
    assert loop.step == 2 and task.after == [1, 2]
    assert [json.loads(line)["step"] for line in (tmp_path / "run/log.jsonl").read_text().splitlines()] == [1, 2]
    assert all(torch.equal(v, before[k]) for k, v in task.model.state_dict().items())


def test_without_a_run_folder_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    task = NoisyRegression()
    loop = make_loop(task, None, checkpoint=every(1))
    loop.run()
    assert loop.step == 6 and loop.images_seen == 48 and loop.seconds > 0
    assert list(tmp_path.iterdir()) == []


def test_adam_keeps_the_named_groups_and_needs_a_rate_for_each():
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    optimizer = adam({"a": a.parameters(), "b": b.parameters()}, {"a": 1e-3, "b": 1e-2}, betas=(0.5, 0.9))
    assert [(g["name"], g["lr"], g["betas"]) for g in optimizer.param_groups] == [("a", 1e-3, (0.5, 0.9)), ("b", 1e-2, (0.5, 0.9))]
    with pytest.raises(ValueError, match="no learning rate for parameter group"):
        adam({"a": a.parameters(), "b": b.parameters()}, {"a": 1e-3})


def test_a_run_folder_trainer_refuses_a_used_folder_without_resume(tmp_path):
    @dataclass
    class Config:
        lr: float = 0.05

    class Front(RunFolderTrainer):
        def __init__(self, run):
            self.config, self.paths = Config(), RunPaths(run)
            self.loop = make_loop(NoisyRegression(), run, checkpoint=every(3))

    first = Front(tmp_path / "run")
    first.start(resume=False)
    first.train(max_steps=3)
    assert (tmp_path / "run/config.yaml").is_file() and first.step == 3
    with pytest.raises(DataError, match="already holds a run"):
        Front(tmp_path / "run").start(resume=False)
    again = Front(tmp_path / "run")
    again.start(resume=True)
    assert again.step == 3 and math.isclose(again.optimizer.param_groups[0]["lr"], 0.005)  # the milestone at 3 passed


class ValidatedRegression(NoisyRegression):
    """Validation error = squared distance of the weights to w*, so an averaged network scores as itself."""

    def __init__(self):
        super().__init__()
        self.weights = {}

    def after_step(self, step, losses):
        self.weights[step] = self.model.weight.detach().clone()

    def validate(self, step: int) -> dict[str, float]:
        return {"val_error": float((self.model.weight.detach() - self.target).pow(2).sum())}


def test_the_average_of_the_last_steps_networks_is_validated_and_becomes_best_pt(tmp_path):
    task = ValidatedRegression()
    loop = make_loop(task, tmp_path / "run", total=8, validate=every(2), checkpoint=every(2), average=every(2), average_after=3)
    loop.paths.root.mkdir()
    loop.run()
    mean = torch.stack([task.weights[s] for s in (4, 6, 8)]).mean(0)  # the due steps after step 3, by hand
    best = load_checkpoint(tmp_path / "run/best.pt", FORMAT)
    assert torch.allclose(best["model"]["weight"], mean, atol=1e-6)
    assert not torch.allclose(mean, task.weights[8], atol=1e-4)  # the mean is not the last network ...
    assert torch.equal(task.model.weight, task.weights[8])  # ... which the task's model keeps, to resume from
    records = [json.loads(line) for line in (tmp_path / "run/log.jsonl").read_text().splitlines()]
    averaged = [r for r in records if "averaged" in r]
    assert len(averaged) == 1 and averaged[0]["averaged"] == 3
    assert averaged[0]["val_error"] == pytest.approx(float((mean - task.target).pow(2).sum()), rel=1e-5)
    assert (loop.best, loop.best_step) == (averaged[0]["val_error"], 8) == (best["best"], best["best_step"])


def test_a_resumed_average_equals_an_uninterrupted_one_and_another_window_starts_anew(tmp_path):
    events = {"total": 8, "validate": every(2), "checkpoint": every(2), "average": every(2), "average_after": 3}
    straight = make_loop(ValidatedRegression(), tmp_path / "a", **events)
    straight.paths.root.mkdir()
    straight.run()
    first = make_loop(ValidatedRegression(), tmp_path / "b", **events)
    first.paths.root.mkdir()
    first.run(max_steps=5)  # step 4 averaged; the pause at step 5 is checkpointed but not averaged
    resumed = make_loop(ValidatedRegression(), tmp_path / "b", **events)
    assert resumed.restore_latest() and int(resumed.averaged.n_averaged) == 1
    resumed.run()
    expected = load_checkpoint(tmp_path / "a/best.pt", FORMAT)["model"]["weight"]
    assert torch.allclose(load_checkpoint(tmp_path / "b/best.pt", FORMAT)["model"]["weight"], expected, atol=1e-6)
    longer = make_loop(ValidatedRegression(), tmp_path / "b", **(events | {"total": 10, "average_after": 5}))
    assert longer.restore_latest() and longer.averaged is None  # a mean over steps 4-8 is not one over steps 6-10


def test_averaging_needs_a_validation_that_picks_best_pt():
    task = NoisyRegression()
    task.best_metric = None
    with pytest.raises(ValueError, match="averaging the weights needs a task with a validation"):
        make_loop(task, None, average=every(1))
