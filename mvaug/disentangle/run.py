"""``mvaug train``: load data and config, then run stage 1 and stage 2 in one run folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mvaug.errors import ConfigError


def resolve_config(config_path: str | Path | None, overrides: list[str], run_dir: Path, resume: bool):
    """The experiment config of a disentangler run (see :func:`mvaug.config.resolve_run_config`)."""
    from mvaug.config import resolve_run_config
    from mvaug.disentangle.config import ExperimentConfig

    return resolve_run_config(ExperimentConfig, config_path, overrides, run_dir, resume)


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    last: dict


def run_training(
    data: str | Path,
    out: str | Path,
    config_path: str | Path | None = None,
    overrides: list[str] = (),
    resume: bool = False,
    max_steps: int | None = None,
    device: str = "auto",
    stage: str = "all",
    progress: bool = True,
) -> TrainResult:
    """Train stage 1 (unless ``stage == 'encoders'``) then stage 2 (unless ``stage == 'generator'``).

    Under ``torchrun`` stage 1 runs data-parallel on every process and stage 2 on rank 0.
    """
    from mvaug.disentangle.data import load_image_set
    from mvaug.engine.distributed import init_distributed
    from mvaug.disentangle.trainer import Trainer
    from mvaug.engine.device import resolve_device

    run_dir = Path(out)
    config = resolve_config(config_path, list(overrides), run_dir, resume or stage == "encoders")
    images = load_image_set(data, config.model.image_size, config.data.kind, config.data.split, config.data.limit, progress)
    dist, torch_device = init_distributed(resolve_device(device))
    trainer = Trainer(config, images, run_dir, torch_device, progress and dist.is_main, dist)
    last: dict = {}
    if stage in ("all", "generator"):
        trainer.start(resume)
        with trainer.paths.removed_on_early_failure():
            last = trainer.train(max_steps)
    else:
        if not trainer.restore_latest():
            raise ConfigError("--stage encoders needs a finished stage 1 in the run folder", run_dir)
    if stage in ("all", "encoders") and trainer.step >= config.train.steps and dist.is_main:
        last = trainer.fit_encoders(None if stage == "encoders" else max_steps) or last
    return TrainResult(run_dir, trainer.step, last)
