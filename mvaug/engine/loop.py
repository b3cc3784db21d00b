"""The one training loop of mvaug: every trainer supplies a :class:`TrainingTask`, and
:class:`TrainingLoop` does the rest.

The task says what a step is: its batches, its named losses, and optionally a validation, sample
pictures, and what to do before and after a step. The loop owns everything around it, the same way
for every trainer: the progress bar and throughput, the "every N steps" cadence (:class:`Schedule`),
the optimiser step and learning-rate scheduler, the divergence check, ``log.jsonl`` (and TensorBoard
when it is installed), resumable checkpoints with the RNG state, exact resume, and ``best.pt``.

One step, in order: the task's losses (the optimiser minimises ``losses["total"]``, or their sum
when there is no ``total``), the check that they are finite, backward and the optimiser step, the
task's ``after_step``; then, where due, the scheduler, the log record, the weight average, the validation
(with ``best.pt``; after the last step also of the averaged network), the checkpoint and the sample pictures.
Under DDP every rank steps; only rank 0 averages and writes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.optim.swa_utils import AveragedModel

from mvaug.engine.distributed import DistributedContext
from mvaug.engine.run_folder import KEEP_CHECKPOINTS, RunPaths
from mvaug.engine.run_log import append_log_record, require_finite_losses
from mvaug.engine.seeding import restore_rng, rng_state, seed_everything
from mvaug.io.checkpoint import save_checkpoint, save_step_checkpoint


@dataclass(frozen=True)
class Every:
    """Due after steps that are a multiple of any of ``periods`` (None: never), and after a run's last step with ``at_end``."""

    periods: tuple[int | None, ...] = ()
    at_end: bool = True

    def due(self, step: int, end: int) -> bool:
        return any(p and step % p == 0 for p in self.periods) or (self.at_end and step == end)


def every(*periods: int | None, at_end: bool = True) -> Every:
    return Every(tuple(periods), at_end)


NEVER = Every((), at_end=False)


@dataclass(frozen=True)
class Schedule:
    """How long a task trains and when the loop's events fall (each after the step that makes it due)."""

    total_steps: int
    log: Every
    checkpoint: Every = NEVER
    validate: Every = NEVER
    samples: Every = NEVER
    scheduler: Every = field(default_factory=lambda: every(1, at_end=False))
    """When the learning-rate scheduler steps (every step, or at epoch ends)."""
    average: Every = NEVER
    """Steps after ``average_after`` whose network joins a running mean of its weights and buffers (stochastic weight
    averaging, Izmailov et al. 2018); after the last step the mean is validated and becomes ``best.pt``."""
    average_after: int = 0


class TrainingTask:
    """What a trainable thing supplies to :class:`TrainingLoop`; override what applies.

    Required: ``model`` (set to train mode when the loop starts), :meth:`batches` (or :meth:`batch`),
    :meth:`losses` and :meth:`batch_images`; with a run folder also :meth:`checkpoint_payload` and
    :meth:`restore`; with a validation :meth:`validate` and ``best_metric``.
    """

    label = "train"
    """Progress-bar label."""
    checkpoint_prefix = "step-"
    """Checkpoints are ``RUN/checkpoints/<prefix><step:09d>.pt``."""
    best_metric: str | None = None
    """The validation metric that picks ``best.pt``; None writes no ``best.pt``."""
    best_mode = "min"
    """'min' or 'max': which way ``best_metric`` improves."""
    postfix_keys: tuple[str, ...] | None = None
    """Losses shown on the progress bar (None: all)."""
    precision = "fp32"
    """The resolved precision of the task's forward passes ('fp32' or 'bf16', :mod:`mvaug.engine.precision`); logged."""
    model: torch.nn.Module

    def batches(self, start: int, end: int) -> Iterable:
        """One batch per step ``start .. end - 1``."""
        return (self.batch(step) for step in range(start, end))

    def batch(self, step: int):
        raise NotImplementedError

    def batch_images(self, batch) -> int:
        """Images in ``batch`` over all ranks (for images/s)."""
        raise NotImplementedError

    def losses(self, batch) -> dict[str, torch.Tensor]:
        """Named scalar losses of one forward pass (``total`` is minimised, else their sum)."""
        raise NotImplementedError

    def before_step(self, step: int) -> None:
        """Called before the step that finishes step ``step + 1``."""

    def after_step(self, step: int, losses: dict[str, torch.Tensor]) -> None:
        """Called after the optimiser step; ``step`` counts the finished steps. Entries it adds to ``losses`` (e.g. a
        second network's loss) are logged with them."""

    def log_fields(self, step: int, batch) -> dict:
        """More fields of the training log record after ``step``."""
        return {}

    def validate(self, step: int) -> dict[str, float]:
        """Validation metrics after ``step`` (logged; ``best_metric`` among them picks ``best.pt``)."""
        raise NotImplementedError

    def best_counts(self, best_step: int, step: int) -> bool:
        """Whether the best network so far (of ``best_step``) may still stand when validating at ``step``."""
        return True

    def write_samples(self, step: int) -> None:
        """Pictures of the model after ``step``."""

    def checkpoint_payload(self, loop: TrainingLoop) -> dict:
        """The model and what identifies it (format, config); the loop adds step, best, optimiser, scheduler, RNG."""
        raise NotImplementedError

    def restore(self, path: Path, device: torch.device) -> dict:
        """Read the checkpoint ``path``, check that it fits, load the model's weights and return the payload."""
        raise NotImplementedError


class TrainingLoop:
    """Runs a :class:`TrainingTask` for its :class:`Schedule`, resumable from its run folder."""

    def __init__(
        self,
        task: TrainingTask,
        schedule: Schedule,
        optimizer: torch.optim.Optimizer,
        device: torch.device,
        paths: RunPaths | None = None,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
        dist: DistributedContext = DistributedContext(),
        progress: bool = True,
        errors_name: str | Path | None = None,
    ):
        """``paths`` None trains without log or checkpoints; ``errors_name`` is the path a divergence error names [the run folder]."""
        self.task, self.schedule, self.optimizer, self.scheduler = task, schedule, optimizer, scheduler
        self.device, self.paths, self.dist = device, paths, dist
        self.progress = progress and dist.is_main
        self.errors_name = errors_name if errors_name is not None else (paths.root if paths else None)
        self.step = 0
        self.best: float | None = None
        self.best_step = 0
        self.images_seen = 0
        self.seconds = 0.0
        self._tensorboard_writer = None
        self.averaged: AveragedModel | None = None
        if schedule.average != NEVER and task.best_metric is None:
            raise ValueError("averaging the weights needs a task with a validation that picks best.pt")

    # ----------------------------------------------------------------- the loop
    def run(self, max_steps: int | None = None) -> dict:
        """Train up to the schedule's total (or ``max_steps`` more steps); returns the last logged training record."""
        from tqdm import tqdm

        end = self.schedule.total_steps if max_steps is None else min(self.schedule.total_steps, self.step + max_steps)
        if self.step >= end:
            return {}
        task, schedule, main = self.task, self.schedule, self.dist.is_main
        task.model.train()
        record: dict = {}
        bar = tqdm(total=end, initial=self.step, desc=task.label, unit="step", disable=not self.progress, dynamic_ncols=True)
        started = window_start = time.perf_counter()
        window_images = 0
        for batch in task.batches(self.step, end):
            losses = self.train_step(batch)
            window_images += task.batch_images(batch)
            bar.update()
            step = self.step
            if self.scheduler is not None and schedule.scheduler.due(step, end):
                self.scheduler.step()
            if main and schedule.log.due(step, end):
                images_per_s = window_images / max(time.perf_counter() - window_start, 1e-9)
                record = self._log_training(losses, images_per_s, batch)
                shown = task.postfix_keys or tuple(losses)
                bar.set_postfix({k: f"{record[k]:.4f}" for k in shown if k in record} | {"img/s": f"{images_per_s:.1f}"})
                self.images_seen += window_images
                window_start, window_images = time.perf_counter(), 0
            if main and step > schedule.average_after and schedule.average.due(step, schedule.total_steps):  # not at a --max-steps pause
                self._average_model().update_parameters(task.model)
            if schedule.validate.due(step, end):
                if main:
                    self._validate()
                self.dist.barrier()
            if main and self.averaged is not None and step == schedule.total_steps:
                self._validate_average()
            if main and self.paths is not None and schedule.checkpoint.due(step, end):
                self.save_checkpoint()
            if main and schedule.samples.due(step, end):
                task.write_samples(step)
        bar.close()
        self.images_seen += window_images
        self.seconds += time.perf_counter() - started
        self.dist.barrier()
        return record

    def train_step(self, batch) -> dict[str, torch.Tensor]:
        """One optimiser step on ``batch``; returns the detached losses."""
        self.task.before_step(self.step)
        losses = self.task.losses(batch)
        total = losses["total"] if "total" in losses else sum(losses.values())
        if not torch.isfinite(total.detach()):  # one device sync per step; the error names the first bad term
            named = dict(sorted(losses.items(), key=lambda kv: kv[0] != "total")) | {"total": total}
            require_finite_losses(named, self.step + 1, self.errors_name)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        self.step += 1
        losses = {k: v.detach() for k, v in losses.items()}
        self.task.after_step(self.step, losses)
        return losses

    # ----------------------------------------------------------------- logging
    def log(self, record: Mapping) -> None:
        """Append ``record`` to ``log.jsonl`` (and its numbers to TensorBoard when installed); nothing without a run folder."""
        if self.paths is None:
            return
        append_log_record(self.paths.log, record)
        writer = self._tensorboard()
        if writer is not None:
            for key, value in record.items():
                if isinstance(value, float):
                    writer.add_scalar(f"train/{key}", value, self.step)

    def _log_training(self, losses: dict[str, torch.Tensor], images_per_s: float, batch) -> dict:
        record = {"step": self.step, **{k: float(v) for k, v in losses.items()}, "images_per_s": images_per_s, "precision": self.task.precision}
        record.update(self.task.log_fields(self.step, batch))
        self.log(record)
        return record

    def _tensorboard(self):
        """A SummaryWriter on RUN/tensorboard when the tensorboard package is installed, else None."""
        if self._tensorboard_writer is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is optional; log.jsonl is always written
                self._tensorboard_writer = False
            else:
                self._tensorboard_writer = SummaryWriter(str(self.paths.root / "tensorboard"))
        return self._tensorboard_writer or None

    # ----------------------------------------------------------------- validation and best.pt
    def _validate(self) -> dict[str, float]:
        task = self.task
        metrics = task.validate(self.step)
        self.log({"step": self.step, **metrics})
        if task.best_metric is None:
            return metrics
        if self.best is not None and not task.best_counts(self.best_step, self.step):
            self.best = None
        value = metrics[task.best_metric]
        if self.best is None:
            better = not math.isnan(value)
        else:
            better = value < self.best if task.best_mode == "min" else value > self.best
        if better:
            self._keep_best(metrics)
        return metrics

    def _keep_best(self, metrics: dict[str, float]) -> None:
        """The network as it is now is the best: remember its ``best_metric`` and write it as ``best.pt``."""
        self.best, self.best_step = metrics[self.task.best_metric], self.step
        if self.paths is not None:
            save_checkpoint(self.paths.best, self._payload(training_state=False) | {"val": metrics})

    def _validate_average(self) -> None:
        """Validate the mean of the averaged networks and write it as ``best.pt``, the run's answer; the task's
        model keeps the last step's weights, from which a longer schedule resumes."""
        model = self.task.model
        trained = {k: v.clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.averaged.module.state_dict())
        try:
            metrics = self.task.validate(self.step) | {"averaged": int(self.averaged.n_averaged)}
            self.log({"step": self.step, **metrics})
            self._keep_best(metrics)
        finally:
            model.load_state_dict(trained)

    def _average_model(self) -> AveragedModel:
        if self.averaged is None:
            self.averaged = AveragedModel(self.task.model, use_buffers=True)
        return self.averaged

    # ----------------------------------------------------------------- checkpoints
    def _payload(self, training_state: bool) -> dict:
        payload = {**self.task.checkpoint_payload(self), "step": self.step, "best": self.best, "best_step": self.best_step}
        if training_state:
            payload["optimizer"] = self.optimizer.state_dict()
            if self.scheduler is not None:
                payload["scheduler"] = self.scheduler.state_dict()
            payload["rng"] = rng_state()
            if self.averaged is not None:
                payload["averaged"] = {"after": self.schedule.average_after, "state": self.averaged.state_dict()}
        return payload

    def save_checkpoint(self) -> Path:
        """``RUN/checkpoints/<prefix><step>.pt`` with everything a resume needs; keeps the newest few."""
        return save_step_checkpoint(self.paths.checkpoints, self.task.checkpoint_prefix, self.step, self._payload(training_state=True), KEEP_CHECKPOINTS)

    def restore_latest(self) -> bool:
        """Continue from the run folder's latest checkpoint of this task; False when there is none."""
        latest = self.paths.latest_checkpoint(self.task.checkpoint_prefix)
        if latest is None:
            return False
        payload = self.task.restore(latest, self.device)
        self.optimizer.load_state_dict(payload["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(payload["scheduler"])
        if "rng" in payload:
            restore_rng(payload["rng"])
        self.step = payload["step"]
        self.best, self.best_step = payload.get("best"), payload.get("best_step", 0)
        averaged = payload.get("averaged")
        if averaged is not None and averaged["after"] == self.schedule.average_after:  # another schedule starts a new mean
            self._average_model().load_state_dict(averaged["state"])
        return True


@dataclass(frozen=True)
class TrainRequest:
    """What a training command is asked to do (``mvaug train``, ``mvaug train-recon``)."""

    data: str | Path | None
    """The training data (for faces None takes the config's ``data.root``)."""
    out: str | Path
    """The run folder."""
    config_path: str | Path | None = None
    """The YAML config (None: the defaults); on resume the run's own ``config.yaml``."""
    overrides: tuple[str, ...] = ()
    """``--set KEY=VALUE`` changes to the config."""
    resume: bool = False
    max_steps: int | None = None
    """Stop after this many more steps (resume later)."""
    device: str = "auto"
    progress: bool = True

    def resolve_config(self, config_type: type, extra: dict | None = None, resume: bool | None = None):
        """The run's config of ``config_type`` (:func:`mvaug.config.resolve_run_config`); ``resume`` overrides the request's."""
        from mvaug.config import resolve_run_config

        resume = self.resume if resume is None else resume
        return resolve_run_config(config_type, self.config_path, list(self.overrides), Path(self.out), resume, extra)


@dataclass
class TrainResult:
    """What a training command reports: its run folder, the steps done, the last training log record and the best validation."""

    run_dir: Path
    step: int
    last: dict
    best: float | None = None
    best_step: int = 0


class RunFolderTrainer:
    """The front of a trainer whose :class:`TrainingLoop` (``self.loop``) fills a run folder (``self.paths``)
    for a config (``self.config``): open or resume the folder, train, and the loop's step and optimiser."""

    loop: TrainingLoop

    def __init__(self, config, run_dir: str | Path, device: torch.device, progress: bool = True, dist: DistributedContext = DistributedContext()):
        """Name the run's config (with a ``train.seed``), folder, device and processes, and seed everything."""
        self.config, self.device, self.dist = config, device, dist
        self.progress = progress and dist.is_main
        self.paths = RunPaths(Path(run_dir))
        seed_everything(config.train.seed)

    @property
    def step(self) -> int:
        return self.loop.step

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        return self.loop.optimizer

    @property
    def scheduler(self) -> torch.optim.lr_scheduler.LRScheduler | None:
        return self.loop.scheduler

    def start(self, resume: bool) -> None:
        """Create the run folder, or restore its latest checkpoint with ``resume`` (a folder holding a run needs it)."""
        self.paths.start(self.config, resume, self.loop.restore_latest, self.loop.dist.is_main, occupied=self.paths.model.exists())

    def restore_latest(self) -> bool:
        """Load the latest checkpoint of the run folder; False when there is none."""
        return self.loop.restore_latest()

    def train(self, max_steps: int | None = None) -> dict:
        """Train up to the schedule's end (or ``max_steps`` more steps); returns the last logged training record."""
        return self.loop.run(max_steps)

    def fit(self, resume: bool, max_steps: int | None = None) -> TrainResult:
        """:meth:`start`, then :meth:`train`; a folder this call created goes again if training fails before a checkpoint."""
        self.start(resume)
        with self.paths.removed_on_early_failure():
            last = self.train(max_steps)
        return TrainResult(self.paths.root, self.step, last, self.loop.best, self.loop.best_step)
