"""``mvaug train-recon``: resolve the config, load the splits, train in one run folder."""

from __future__ import annotations

from mvaug.engine.loop import TrainRequest, TrainResult


def run_recon_training(request: TrainRequest, kind: str = "chair", vgg_weights: str | None = None) -> TrainResult:
    """Train (or continue training) Pix2Vox on the ShapeNet-layout data of the request; under ``torchrun``, data-parallel.

    The result's ``best`` is the best validation IoU at 0.3 (None before the first epoch ends).
    """
    from mvaug.engine.distributed import init_distributed
    from mvaug.engine.device import resolve_device
    from mvaug.recon.config import ReconConfig
    from mvaug.recon.data import ShapeNetViews
    from mvaug.recon.trainer import ReconTrainer

    extra: dict = {"data": {"kind": kind}}
    if vgg_weights is not None:
        extra["vgg_weights"] = str(vgg_weights)
    config = request.resolve_config(ReconConfig, extra)
    train_data = ShapeNetViews(request.data, config.data.train_split, config, config.data.limit)
    val_data = ShapeNetViews(request.data, config.data.val_split, config, config.data.limit)
    dist, torch_device = init_distributed(resolve_device(request.device))
    trainer = ReconTrainer(config, train_data, val_data, request.out, torch_device, request.progress and dist.is_main, dist)
    return trainer.fit(request.resume, request.max_steps)
