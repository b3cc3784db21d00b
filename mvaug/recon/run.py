"""``mvaug train-recon``: resolve the config, load the splits, train in one run folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mvaug.recon.config import ReconConfig


def resolve_recon_config(config_path: str | Path | None, overrides: list[str], run_dir: Path, resume: bool, extra: dict | None = None) -> ReconConfig:
    """The config of a Pix2Vox run (see :func:`mvaug.config.resolve_run_config`)."""
    from mvaug.config import resolve_run_config

    return resolve_run_config(ReconConfig, config_path, overrides, run_dir, resume, extra)


@dataclass
class ReconTrainResult:
    run_dir: Path
    step: int
    best_iou: float
    last: dict


def run_recon_training(
    data: str | Path,
    out: str | Path,
    config_path: str | Path | None = None,
    overrides: list[str] = (),
    resume: bool = False,
    max_steps: int | None = None,
    device: str = "auto",
    kind: str = "chair",
    vgg_weights: str | None = None,
    progress: bool = True,
) -> ReconTrainResult:
    """Train (or continue training) Pix2Vox on the ShapeNet-layout data in ``data``; under ``torchrun``, data-parallel."""
    from mvaug.engine.distributed import init_distributed
    from mvaug.engine.device import resolve_device
    from mvaug.recon.data import ShapeNetViews
    from mvaug.recon.trainer import ReconTrainer

    run_dir = Path(out)
    extra: dict = {"data": {"kind": kind}}
    if vgg_weights is not None:
        extra["vgg_weights"] = str(vgg_weights)
    config = resolve_recon_config(config_path, list(overrides), run_dir, resume, extra)
    train_data = ShapeNetViews(data, config.data.train_split, config, config.data.limit)
    val_data = ShapeNetViews(data, config.data.val_split, config, config.data.limit)
    dist, torch_device = init_distributed(resolve_device(device))
    trainer = ReconTrainer(config, train_data, val_data, run_dir, torch_device, progress and dist.is_main, dist)
    trainer.start(resume)
    with trainer.paths.removed_on_early_failure():
        last = trainer.train(max_steps)
    return ReconTrainResult(run_dir, trainer.step, trainer.best_iou, last)
