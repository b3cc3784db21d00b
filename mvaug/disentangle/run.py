"""``mvaug train``: load data and config, then run stage 1 and stage 2 in one run folder."""

from __future__ import annotations

from pathlib import Path

from mvaug.engine.loop import TrainRequest, TrainResult
from mvaug.errors import ConfigError


def run_training(request: TrainRequest, stage: str = "all") -> TrainResult:
    """Train stage 1 (unless ``stage == 'encoders'``) then stage 2 (unless ``stage == 'generator'``).

    Under ``torchrun`` stage 1 runs data-parallel on every process and stage 2 on rank 0.
    """
    from mvaug.disentangle.config import ExperimentConfig
    from mvaug.disentangle.data import load_image_set
    from mvaug.disentangle.trainer import Trainer
    from mvaug.engine.device import resolve_device
    from mvaug.engine.distributed import init_distributed

    run_dir, max_steps = Path(request.out), request.max_steps
    config = request.resolve_config(ExperimentConfig, resume=request.resume or stage == "encoders")
    images = load_image_set(request.data, config.model.image_size, config.data.kind, config.data.split, config.data.limit, request.progress)
    dist, torch_device = init_distributed(resolve_device(request.device))
    trainer = Trainer(config, images, run_dir, torch_device, request.progress and dist.is_main, dist)
    last: dict = {}
    if stage in ("all", "generator"):
        last = trainer.fit(request.resume, max_steps).last
    elif not trainer.restore_latest():
        raise ConfigError("--stage encoders needs a finished stage 1 in the run folder", run_dir)
    if stage in ("all", "encoders") and trainer.step >= trainer.config.train.steps and dist.is_main:
        last = trainer.fit_encoders(None if stage == "encoders" else max_steps) or last
    return TrainResult(run_dir, trainer.step, last)
