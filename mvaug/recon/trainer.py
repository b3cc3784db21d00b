"""Training of Pix2Vox on ShapeNet-layout data (``mvaug train-recon``).

Run folder::

    RUN/config.yaml                     the resolved config
    RUN/log.jsonl                       training records every log_every steps, one validation record per epoch
    RUN/checkpoints/step-000000500.pt   network, optimiser, scheduler, RNG: resumable
    RUN/best.pt                         the network with the best validation IoU at 0.3 (what reconstruct reads),
                                        or with train.average_epochs the mean of the last epochs' networks
    RUN/synth_views.npz                 with synth.run: the generated views of the training inputs (:mod:`mvaug.recon.synth_views`)

Loss (upstream ``core/train.py``): 10 x BCE of the fused volume, plus 10 x BCE of the refined one
with a refiner; with ``optim.input_view_loss`` w, batches of several views add w x 10 x BCE of the first
view's own coarse volume. Adam with the merger at a tenth of the learning rate, MultiStepLR stepped per epoch.
With ``two_stage`` the first ``stage1_epochs`` use single views and average instead of merging; then
the merger and refiner train on several views, with encoder and decoder frozen (BatchNorm statistics too)
or, with ``stage2_freeze: false``, training on with them. With ``synth.run`` the batches of several views
mix real extra views, views generated from the first one and none (:class:`mvaug.recon.data.TrainBatches`);
the log records which (``extra``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from pix2vox import CheckpointError, build_pix2vox, load_official_state, load_vgg16_bn_weights, official_state_dicts

from mvaug.config import config_to_dict, load_config
from mvaug.engine.distributed import DistributedContext, wrap_ddp
from mvaug.engine.loop import NEVER, RunFolderTrainer, Schedule, TrainingLoop, TrainingTask, every
from mvaug.engine.optimizer import adam
from mvaug.engine.precision import autocast, resolve_precision
from mvaug.errors import DataError
from mvaug.geometry.voxel_iou import DEFAULT_THRESHOLDS
from mvaug.io.checkpoint import load_checkpoint
from mvaug.recon.checkpoint import CHECKPOINT_FORMAT
from mvaug.recon.config import ReconConfig
from mvaug.recon.data import ShapeNetViews, TrainBatches
from mvaug.recon.synth_views import prepare_cache
from mvaug.recon.view_sets import iou_by_view_count

BEST_THRESHOLD = 0.3


def iou_key(threshold: float) -> str:
    return f"iou@{threshold:g}"


class ReconTrainer(RunFolderTrainer, TrainingTask):
    """Pix2Vox training on one device, or one rank of DistributedDataParallel: the task of the engine's training loop."""

    label = "train-recon"
    best_metric = f"val_{iou_key(BEST_THRESHOLD)}"
    best_mode = "max"

    def __init__(
        self,
        config: ReconConfig,
        train_data: ShapeNetViews,
        val_data: ShapeNetViews,
        run_dir: str | Path,
        device: torch.device,
        progress: bool = True,
        dist: DistributedContext = DistributedContext(),
    ):
        super().__init__(config, run_dir, device, progress, dist)
        self.train_data, self.val_data = train_data, val_data
        self.precision = resolve_precision(config.train.precision, device)
        self.model = build_pix2vox(config.model).to(device)
        if config.vgg_weights:
            try:
                load_vgg16_bn_weights(self.model.encoder, config.vgg_weights)
            except CheckpointError as err:
                raise DataError(str(err), config.vgg_weights) from None
        self.train_batches = TrainBatches(train_data, config, dist.rank, dist.world_size)
        self.steps_per_epoch = self.train_batches.steps_per_epoch
        self.total_steps = self.steps_per_epoch * config.train.epochs
        opt, train, epoch = config.optim, config.train, self.steps_per_epoch
        components = self.model.components()
        optimizer = adam({name: m.parameters() for name, m in components.items()}, {name: opt.merger_lr if name == "merger" else opt.lr for name in components}, opt.betas)
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=opt.milestones, gamma=opt.gamma)  # milestones in epochs
        schedule = Schedule(
            self.total_steps,
            log=every(train.log_every),
            checkpoint=every(train.checkpoint_every, epoch),
            validate=every(epoch, at_end=False),
            scheduler=every(epoch, at_end=False),
            average=every(epoch, at_end=False) if train.average_epochs else NEVER,
            average_after=(train.epochs - train.average_epochs) * epoch,
        )
        self.loop = TrainingLoop(self, schedule, optimizer, device, self.paths, scheduler, dist, self.progress)
        self._stage: int | None = None
        self.forward = self.model

    @property
    def best_iou(self) -> float:
        """The best validation IoU at 0.3 so far; -1 before the first validation."""
        return -1.0 if self.loop.best is None else self.loop.best

    def start(self, resume: bool) -> None:
        """Open or resume the run folder; with ``synth.run``, then generate the views of the training inputs once
        (RUN/synth_views.npz, reused on resume), on the training device."""
        super().start(resume)
        if self.config.synth.run is not None:
            with self.paths.removed_on_early_failure():
                self.train_batches.synth = prepare_cache(self.paths.root, self.train_data, self.config, self.device, self.progress, self.dist)

    # ----------------------------------------------------------------- two-stage training
    def stage(self, step: int) -> int:
        """1 = single views averaged (first stage of two-stage training), 2 = several views through the merger, 0 = all together."""
        train = self.config.train
        if not train.two_stage:
            return 0
        return 1 if step // self.steps_per_epoch < train.stage1_epochs else 2

    def _enter_stage(self, stage: int) -> None:
        """Freeze or unfreeze encoder and decoder, and wrap the network for DDP with what trains in this stage."""
        if stage == self._stage:
            return
        frozen = self._frozen(stage)
        self.model.decoder.requires_grad_(not frozen)
        for name, module in self.model.encoder.named_children():
            module.requires_grad_(not frozen and (name != "vgg" or self.config.model.train_vgg))
        self.forward = wrap_ddp(self.model, self.device, self.dist, find_unused_parameters=True)
        self._stage = stage

    def _frozen(self, stage: int | None) -> bool:
        """Whether encoder and decoder are frozen in ``stage``."""
        return stage == 2 and self.config.train.stage2_freeze

    # ----------------------------------------------------------------- the steps
    def batches(self, start: int, end: int):
        """Batches of steps ``start .. end - 1``, loaded by ``data.workers`` spawned processes."""
        from torch.utils.data import DataLoader

        workers = self.config.data.workers
        return DataLoader(
            self.train_batches, batch_size=None, sampler=range(start, end), num_workers=workers, persistent_workers=False,
            multiprocessing_context="spawn" if workers else None,  # never fork a process whose torch threads run
        )

    def batch_images(self, batch: dict[str, torch.Tensor]) -> int:
        return batch["images"].shape[0] * batch["images"].shape[1] * self.dist.world_size

    def before_step(self, step: int) -> None:
        self._enter_stage(self.stage(step))
        self.model.train()
        if self._frozen(self._stage):  # frozen parts keep their BatchNorm statistics
            self.model.encoder.eval()
            self.model.decoder.eval()

    def losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        images = batch["images"].to(self.device, non_blocking=True)
        voxels = batch["voxels"].to(self.device, non_blocking=True)
        frozen_views = batch.get("extra") == "generated" and self.config.synth.generated_trains == "merger"
        with autocast(self.device, self.precision):
            out = self.forward(images, use_merger=self.config.model.use_merger and self._stage != 1, frozen_views=frozen_views)
        scale = self.config.optim.loss_scale
        losses = {"merged": F.binary_cross_entropy(out["merged"].float(), voxels) * scale}
        if "refined" in out:
            losses["refined"] = F.binary_cross_entropy(out["refined"].float(), voxels) * scale
        weight = self.config.optim.input_view_loss
        if weight > 0 and images.shape[1] > 1 and out["coarse"].requires_grad:
            losses["input_view"] = F.binary_cross_entropy(out["coarse"][:, 0].float(), voxels) * scale * weight
        return losses

    def log_fields(self, step: int, batch: dict) -> dict:
        extra = {"extra": batch["extra"]} if "extra" in batch else {}
        return {"epoch": step / self.steps_per_epoch, "views": int(batch["images"].shape[1]), **extra}

    # ----------------------------------------------------------------- validation
    def validate(self, step: int) -> dict:
        """Validation IoU per threshold at an epoch's end, averaged over the view sets (first-stage epochs: single views)."""
        data = self.config.data
        views = 1 if self.stage(step - 1) == 1 else data.val_views
        counts = [c for c in range(1, views + 1) if views % c == 0] if data.val_view_sets else [views]
        ious = self._validation_iou(counts)
        return {"epoch": step // self.steps_per_epoch, "val_views": counts if len(counts) > 1 else views, **{f"val_{k}": v for k, v in ious.items()}}

    def best_counts(self, best_step: int, step: int) -> bool:
        """In two-stage training the best network must have a trained merger: first-stage bests go once the second validates."""
        return self.stage(step - 1) != 2 or best_step > self.config.train.stage1_epochs * self.steps_per_epoch

    def _validation_iou(self, counts: list[int]) -> dict[str, float]:
        """Mean validation IoU per threshold over the fixed ``max(counts)`` views of each model, averaged over the counts (view sets)."""
        background, seed, limit = self.config.augment.val_background, self.config.train.seed, self.config.train.val_limit
        per_count = iou_by_view_count(self.model, self.val_data, counts, seed, background, self.device, limit)
        mean = np.mean([ious.mean(axis=0) for ious in per_count.values()], axis=0)  # (T,)
        return {iou_key(t): float(v) for t, v in zip(DEFAULT_THRESHOLDS, mean)}

    # ----------------------------------------------------------------- checkpoints
    def checkpoint_payload(self, loop: TrainingLoop) -> dict:
        """Pix2Vox's own state-dict keys, plus mvaug's format, kind and config (``best_iou`` / ``best_epoch`` as upstream names them)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "kind": self.config.data.kind,
            "epoch": loop.step // self.steps_per_epoch,
            "best_iou": self.best_iou,
            "best_epoch": loop.best_step // self.steps_per_epoch,
            "config": config_to_dict(self.config),
            **official_state_dicts(self.model),
        }

    def restore(self, path: Path, device: torch.device) -> dict:
        payload = load_checkpoint(path, CHECKPOINT_FORMAT, device, what="reconstructor checkpoint")
        saved = load_config(ReconConfig, payload["config"])
        if saved.model != self.config.model:
            raise DataError("the model config differs from the checkpoint's; resume with the run's config.yaml", self.paths.root)
        load_official_state(self.model, payload)
        if "best_step" not in payload:  # written before the training engine: the best is kept by epoch
            payload["best"] = payload["best_iou"] if payload["best_iou"] >= 0 else None
            payload["best_step"] = payload["best_epoch"] * self.steps_per_epoch
        return payload
