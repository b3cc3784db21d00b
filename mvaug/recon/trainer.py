"""Training of Pix2Vox on ShapeNet-layout data (``mvaug train-recon``).

Run folder::

    RUN/config.yaml                     the resolved config
    RUN/log.jsonl                       training records every log_every steps, one validation record per epoch
    RUN/checkpoints/step-000000500.pt   network, optimiser, scheduler: resumable
    RUN/best.pt                         the network with the best validation IoU at 0.3 (what reconstruct reads)

Loss (upstream ``core/train.py``): 10 x BCE of the fused volume, plus 10 x BCE of the refined one
with a refiner. Adam with the merger at a tenth of the learning rate, MultiStepLR stepped per epoch.
With ``two_stage`` the first ``stage1_epochs`` use single views and average instead of merging; then
the merger and refiner train on several views, with encoder and decoder frozen (BatchNorm statistics too)
or, with ``stage2_freeze: false``, training on with them.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from pix2vox import CheckpointError, build_pix2vox, load_official_state, load_vgg16_bn_weights, official_state_dicts

from mvaug.config import config_to_dict, load_config
from mvaug.engine.distributed import DistributedContext
from mvaug.engine.run_folder import KEEP_CHECKPOINTS, RunPaths
from mvaug.engine.seeding import seed_everything
from mvaug.errors import DataError
from mvaug.geometry.voxel_iou import DEFAULT_THRESHOLDS
from mvaug.io.checkpoint import load_checkpoint, prune_checkpoints, save_checkpoint
from mvaug.engine.run_log import append_log_record, require_finite_losses
from mvaug.recon.checkpoint import BEST, CHECKPOINT_FORMAT
from mvaug.recon.config import ReconConfig
from mvaug.recon.data import ShapeNetViews, TrainBatches
from mvaug.recon.view_sets import iou_by_view_count

BEST_THRESHOLD = 0.3


def iou_key(threshold: float) -> str:
    return f"iou@{threshold:g}"


class ReconTrainer:
    """Pix2Vox training on one device, or one rank of DistributedDataParallel."""

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
        self.config, self.train_data, self.val_data, self.device, self.dist = config, train_data, val_data, device, dist
        self.progress = progress and dist.is_main
        self.paths = RunPaths(Path(run_dir))
        seed_everything(config.train.seed)
        self.model = build_pix2vox(config.model).to(device)
        if config.vgg_weights:
            try:
                load_vgg16_bn_weights(self.model.encoder, config.vgg_weights)
            except CheckpointError as err:
                raise DataError(str(err), config.vgg_weights) from None
        self.batches = TrainBatches(train_data, config, dist.rank, dist.world_size)
        self.steps_per_epoch = self.batches.steps_per_epoch
        self.total_steps = self.steps_per_epoch * config.train.epochs
        opt = config.optim
        groups = [
            {"params": list(module.parameters()), "lr": opt.merger_lr if name == "merger" else opt.lr, "name": name}
            for name, module in self.model.components().items()
        ]
        self.optimizer = torch.optim.Adam(groups, betas=opt.betas)
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, milestones=opt.milestones, gamma=opt.gamma)
        self.step = 0
        self.best_iou, self.best_epoch = -1.0, 0
        self._stage: int | None = None
        self.forward = self.model

    # ----------------------------------------------------------------- set-up
    def start(self, resume: bool) -> None:
        """Create the run folder, or restore the latest checkpoint with ``resume``."""
        self.paths.start(self.config, resume, self.restore_latest, self.dist.is_main)

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
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.forward = DistributedDataParallel(self.model, device_ids=ids, find_unused_parameters=True)
        self._stage = stage

    def _frozen(self, stage: int | None) -> bool:
        """Whether encoder and decoder are frozen in ``stage``."""
        return stage == 2 and self.config.train.stage2_freeze

    def _set_modes(self) -> None:
        self.model.train()
        if self._frozen(self._stage):  # frozen parts keep their BatchNorm statistics
            self.model.encoder.eval()
            self.model.decoder.eval()

    # ----------------------------------------------------------------- training
    def train(self, max_steps: int | None = None) -> dict:
        """Train up to the configured epochs (or ``max_steps`` more steps); returns the last logged record."""
        from torch.utils.data import DataLoader
        from tqdm import tqdm

        cfg = self.config.train
        end = self.total_steps if max_steps is None else min(self.total_steps, self.step + max_steps)
        if self.step >= end:
            return {}
        workers = self.config.data.workers
        loader = DataLoader(
            self.batches, batch_size=None, sampler=range(self.step, end), num_workers=workers, persistent_workers=False,
            multiprocessing_context="spawn" if workers else None,  # never fork a process whose torch threads run
        )
        bar = tqdm(total=end, initial=self.step, desc="train-recon", unit="step", disable=not self.progress, dynamic_ncols=True)
        record: dict = {}
        window_start, window_images = time.perf_counter(), 0
        for batch in loader:
            self._enter_stage(self.stage(self.step))
            self._set_modes()
            losses = self._train_step(batch)
            self.step += 1
            window_images += batch["images"].shape[0] * batch["images"].shape[1] * self.dist.world_size
            bar.update()
            epoch_done = self.step % self.steps_per_epoch == 0
            if epoch_done:
                self.scheduler.step()
            if self.dist.is_main and (self.step % cfg.log_every == 0 or self.step == end):
                elapsed = time.perf_counter() - window_start
                record = self._log({"step": self.step, "epoch": self.step / self.steps_per_epoch, **{k: float(v) for k, v in losses.items()},
                                    "views": int(batch["images"].shape[1]), "images_per_s": window_images / max(elapsed, 1e-9)})
                bar.set_postfix({k: f"{record[k]:.4f}" for k in losses} | {"img/s": f"{record['images_per_s']:.1f}"})
                window_start, window_images = time.perf_counter(), 0
            if epoch_done:
                self._end_epoch()
            if self.dist.is_main and (self.step % cfg.checkpoint_every == 0 or self.step == end or epoch_done):
                self._checkpoint()
        bar.close()
        self.dist.barrier()
        return record

    def _train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        images = batch["images"].to(self.device, non_blocking=True)
        voxels = batch["voxels"].to(self.device, non_blocking=True)
        enabled = self.device.type == "cuda" and self.config.train.bf16
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=enabled):
            out = self.forward(images, use_merger=self.config.model.use_merger and self._stage != 1)
        scale = self.config.optim.loss_scale
        losses = {"merged": F.binary_cross_entropy(out["merged"].float(), voxels) * scale}
        if "refined" in out:
            losses["refined"] = F.binary_cross_entropy(out["refined"].float(), voxels) * scale
        total = sum(losses.values())
        require_finite_losses(losses, self.step + 1, self.paths.root)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        return {k: v.detach() for k, v in losses.items()}

    def _log(self, record: dict) -> dict:
        append_log_record(self.paths.log, record)
        return record

    def _end_epoch(self) -> None:
        """Validation IoU on rank 0; a better IoU at 0.3 replaces ``best.pt`` (in two-stage training, only second-stage networks count once there is one)."""
        if self.dist.is_main:
            data, train = self.config.data, self.config.train
            epoch = self.step // self.steps_per_epoch
            stage = self.stage(self.step - 1)
            views = 1 if stage == 1 else data.val_views
            counts = [c for c in range(1, views + 1) if views % c == 0] if data.val_view_sets else [views]
            ious = self._validation_iou(counts)
            self._log({"step": self.step, "epoch": epoch, "val_views": counts if len(counts) > 1 else views, **{f"val_{k}": v for k, v in ious.items()}})
            if stage == 2 and self.best_epoch <= train.stage1_epochs:  # the best network must have a trained merger
                self.best_iou = -1.0
            if ious[iou_key(BEST_THRESHOLD)] > self.best_iou:
                self.best_iou, self.best_epoch = ious[iou_key(BEST_THRESHOLD)], epoch
                self._save(self.paths.root / BEST, with_optimizer=False, extra={"val": ious})
        self.dist.barrier()

    def _validation_iou(self, counts: list[int]) -> dict[str, float]:
        """Mean validation IoU per threshold over the fixed ``max(counts)`` views of each model, averaged over the counts (view sets)."""
        background, seed, limit = self.config.augment.val_background, self.config.train.seed, self.config.train.val_limit
        per_count = iou_by_view_count(self.model, self.val_data, counts, seed, background, self.device, limit)
        mean = np.mean([ious.mean(axis=0) for ious in per_count.values()], axis=0)  # (T,)
        return {iou_key(t): float(v) for t, v in zip(DEFAULT_THRESHOLDS, mean)}

    # ----------------------------------------------------------------- checkpoints
    def _save(self, path: Path, with_optimizer: bool, extra: dict | None = None) -> None:
        payload = {
            "format": CHECKPOINT_FORMAT,
            "kind": self.config.data.kind,
            "step": self.step,
            "epoch": self.step // self.steps_per_epoch,
            "best_iou": self.best_iou,
            "best_epoch": self.best_epoch,
            "config": config_to_dict(self.config),
            **official_state_dicts(self.model),
            **(extra or {}),
        }
        if with_optimizer:
            payload["optimizer"] = self.optimizer.state_dict()
            payload["scheduler"] = self.scheduler.state_dict()
        save_checkpoint(path, payload)

    def _checkpoint(self) -> None:
        self._save(self.paths.checkpoints / f"step-{self.step:09d}.pt", with_optimizer=True)
        prune_checkpoints(self.paths.checkpoints, "step-", KEEP_CHECKPOINTS)

    def restore_latest(self) -> bool:
        """Load the latest step checkpoint of the run folder; False when there is none."""
        latest = self.paths.latest_checkpoint()
        if latest is None:
            return False
        payload = load_checkpoint(latest, CHECKPOINT_FORMAT, self.device, what="reconstructor checkpoint")
        saved = load_config(ReconConfig, payload["config"])
        if saved.model != self.config.model:
            raise DataError("the model config differs from the checkpoint's; resume with the run's config.yaml", self.paths.root)
        load_official_state(self.model, payload)
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        self.step, self.best_iou, self.best_epoch = payload["step"], payload["best_iou"], payload["best_epoch"]
        return True
