"""Training of the disentangler: stage 1 (generator + latent optimisation), stage 2 (encoders, Eq. 6).

Run folder::

    RUN/config.yaml                      the resolved config
    RUN/log.jsonl                        one line per logged step
    RUN/checkpoints/step-000001000.pt    stage 1 checkpoints (model, optimiser, RNG), resumable
    RUN/checkpoints/encoders-step-*.pt   stage 2 checkpoints
    RUN/samples/step-000001000-*.png     reconstructions, analogy grid, interpolations
    RUN/model.pt                         the finished model: generator, embeddings, encoders, config

Batches follow a permutation of the images drawn from (seed, epoch), so a resumed run sees exactly
the batches an uninterrupted one would; the noise RNG state is checkpointed too.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from mvaug.config import config_to_dict, load_config
from mvaug.disentangle.config import ExperimentConfig
from mvaug.disentangle.data import ImageSet
from mvaug.disentangle.model import DisentangleModel
from mvaug.engine.distributed import DistributedContext
from mvaug.engine.run_folder import KEEP_CHECKPOINTS, RunPaths
from mvaug.engine.run_log import append_log_record, require_finite_losses
from mvaug.engine.seeding import batch_indices, seed_everything
from mvaug.errors import DataError
from mvaug.io.checkpoint import load_checkpoint, save_checkpoint, save_step_checkpoint

CHECKPOINT_FORMAT = "mvaug-disentangle-v1"
RUN_CHECKPOINT_KEYS = {  # what each stage's checkpoint holds besides its format tag
    1: ("step", "config", "num_images", "model", "optimizer", "rng"),
    2: ("step", "encoders", "optimizer"),
    "final": ("config", "generator", "style_encoder", "content_encoder"),
}


def sample_indices(num_images: int, count: int = 8) -> torch.Tensor:
    """Images spread evenly over the data set, so the grids show different objects and poses."""
    return torch.linspace(0, num_images - 1, min(count, num_images)).round().long().unique()


def load_run_checkpoint(path: Path, device: torch.device | str = "cpu", stage: int | str | None = None) -> dict:
    """A stage-1, stage-2 or final checkpoint of a run, read weights-only (it holds tensors and plain data only).

    ``stage`` (1, 2 or "final"), when given, is the kind the caller needs; another kind, or one that
    lacks what its kind holds, raises :class:`DataError` naming the file.
    """
    payload = load_checkpoint(path, CHECKPOINT_FORMAT, device, what="disentangler run checkpoint")
    found = payload.get("stage")
    if found not in RUN_CHECKPOINT_KEYS:
        raise DataError(f"damaged disentangler checkpoint: unknown stage {found!r}", path)
    if stage is not None and found != stage:
        raise DataError(f"a disentangler checkpoint of stage {found}, expected one of stage {stage}", path)
    missing = [key for key in RUN_CHECKPOINT_KEYS[found] if key not in payload]
    if missing:
        raise DataError(f"damaged disentangler checkpoint: no {', '.join(missing)}", path)
    return payload


class Trainer:
    """Stage 1 and stage 2 of the paper's training on one device."""

    def __init__(
        self,
        config: ExperimentConfig,
        images: ImageSet,
        run_dir: str | Path,
        device: torch.device,
        progress: bool = True,
        dist: DistributedContext = DistributedContext(),
    ):
        self.config, self.images, self.device, self.dist = config, images, device, dist
        self.progress = progress and dist.is_main
        self.paths = RunPaths(Path(run_dir))
        seed_everything(config.train.seed)
        self.model = DisentangleModel(config, len(images)).to(device)
        self.forward = self.model
        if dist.enabled:
            from torch.nn.parallel import DistributedDataParallel

            self.forward = DistributedDataParallel(self.model, device_ids=[device.index] if device.type == "cuda" else None)
            torch.manual_seed(config.train.seed + 1000 * dist.rank)  # independent noise per rank
        groups = self.model.param_groups()
        opt = config.optim
        self.optimizer = torch.optim.Adam(
            [
                {"params": groups["networks"], "lr": opt.lr_networks, "name": "networks"},
                {"params": groups["embeddings"], "lr": opt.lr_embeddings, "name": "embeddings"},
            ],
            betas=opt.betas,
            weight_decay=opt.weight_decay,
        )
        from mvaug.disentangle.recon import build_id_features, build_recon_loss

        self.recon_loss, self.recon_name = build_recon_loss(config.loss, device)
        self.id_features = build_id_features(config.loss, device)
        self.step = 0
        self._fixed = sample_indices(len(images))  # images shown in the sample grids

    # ----------------------------------------------------------------- stage 1
    def start(self, resume: bool) -> None:
        """Create the run folder, or restore the latest checkpoint with ``resume``."""
        self.paths.start(self.config, resume, self.restore_latest, self.dist.is_main, occupied=self.paths.model.exists())

    def train(self, max_steps: int | None = None) -> dict:
        """Stage 1 up to ``config.train.steps`` (or ``max_steps``); returns the last logged record."""
        from tqdm import tqdm

        cfg = self.config.train
        end = cfg.steps if max_steps is None else min(cfg.steps, self.step + max_steps)
        self.model.train()
        record: dict = {}
        bar = tqdm(total=end, initial=self.step, desc="stage 1", unit="step", disable=not self.progress, dynamic_ncols=True)
        window_start, window_images = time.perf_counter(), 0
        while self.step < end:
            losses = self._train_step()
            self.step += 1
            window_images += cfg.batch_size
            bar.update()
            if not self.dist.is_main:
                continue
            if self.step % cfg.log_every == 0 or self.step == end:
                elapsed = time.perf_counter() - window_start
                record = self._log(losses, window_images / max(elapsed, 1e-9))
                bar.set_postfix({k: f"{v:.4f}" for k, v in record.items() if k in ("total", "perceptual", "ib", "id")} | {"img/s": f"{record['images_per_s']:.0f}"})
                window_start, window_images = time.perf_counter(), 0
            if self.step % cfg.checkpoint_every == 0 or self.step == end:
                self._checkpoint()
            if self.step % cfg.sample_every == 0 or self.step == end:
                self.write_samples()
        bar.close()
        self.dist.barrier()
        return record

    def _train_step(self) -> dict[str, torch.Tensor]:
        cfg = self.config.train
        index = self.dist.local_slice(batch_indices(self.step, len(self.images), cfg.batch_size, cfg.seed))
        images = self.images.float_images(index).to(self.device, non_blocking=True)
        index = index.to(self.device)
        with self._autocast():
            losses, _ = self.forward(index, images, self.step, self.recon_loss, self.id_features)
        require_finite_losses({"total": losses["total"]}, self.step + 1, self.paths.root)
        self.optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        self.optimizer.step()
        return losses

    def _autocast(self):
        enabled = self.device.type == "cuda" and self.config.train.bf16
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=enabled)

    def _log(self, losses: dict[str, torch.Tensor], images_per_s: float) -> dict:
        record = {"step": self.step, **{k: float(v.detach()) for k, v in losses.items()}, "images_per_s": images_per_s}
        record["noise_std"] = self.model.noise_std(self.step)
        record["style_noise_std"] = self.model.noise_std(self.step, style=True)
        record["content_capacity"] = self.config.loss.content_capacity.capacity(self.step)
        for name, table in self.model.embedding_tables().items():
            record[f"{name}_norm2"] = float(table.weight.detach().pow(2).sum(1).mean())
        record["recon_loss"] = self.recon_name
        append_log_record(self.paths.log, record)
        if self._tensorboard() is not None:
            for key, value in record.items():
                if isinstance(value, float):
                    self._tb.add_scalar(f"train/{key}", value, self.step)
        return record

    def _tensorboard(self):
        """A SummaryWriter on RUN/tensorboard when the tensorboard package is installed, else None."""
        if not hasattr(self, "_tb"):
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is optional; log.jsonl is always written
                self._tb = None
            else:
                self._tb = SummaryWriter(str(self.paths.root / "tensorboard"))
        return self._tb

    def _checkpoint(self) -> None:
        payload = {
            "format": CHECKPOINT_FORMAT,
            "stage": 1,
            "step": self.step,
            "config": config_to_dict(self.config),
            "num_images": len(self.images),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
        }
        save_step_checkpoint(self.paths.checkpoints, "step-", self.step, payload, KEEP_CHECKPOINTS)

    def restore_latest(self) -> bool:
        """Load the latest stage-1 checkpoint of the run folder; False when there is none."""
        latest = self.paths.latest_checkpoint()
        if latest is None:
            return False
        self._restore(load_run_checkpoint(latest, self.device, stage=1))
        return True

    def _restore(self, payload: dict) -> None:
        if payload["num_images"] != len(self.images):
            raise DataError(f"the checkpoint was trained on {payload['num_images']} images, the data has {len(self.images)}", self.paths.root)
        saved = load_config(ExperimentConfig, payload["config"])
        if saved.model != self.config.model:
            raise DataError("the model config differs from the checkpoint's; resume with the run's config.yaml", self.paths.root)
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        torch.set_rng_state(payload["rng"]["torch"].cpu())  # RNG states are CPU byte tensors; map_location moved them to the device
        if payload["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([state.cpu() for state in payload["rng"]["cuda"]])
        self.step = payload["step"]

    # ----------------------------------------------------------------- samples
    @torch.no_grad()
    def write_samples(self) -> None:
        from mvaug.io.images import write_png
        from mvaug.viz.analogy import analogy_grid, interpolation_grid, pairs_grid

        was_training = self.model.training
        self.model.eval()
        index = self._fixed.to(self.device)
        images = self.images.float_images(self._fixed).to(self.device)
        style, content = self.model.codes(index, images)
        generate = self.model.generator
        prefix = self.paths.samples / f"step-{self.step:09d}"
        write_png(f"{prefix}-reconstruction.png", pairs_grid(images, generate(style, content)))
        write_png(f"{prefix}-analogy.png", analogy_grid(generate, style, content, images, images))
        if len(index) >= 2:
            write_png(f"{prefix}-interpolation.png", interpolation_grid(generate, style[:2], content[:2]))
        self.model.train(was_training)

    # ----------------------------------------------------------------- stage 2
    def fit_encoders(self, max_steps: int | None = None) -> dict:
        """Eq. 6: E_s, E_c regress the learned embeddings with L1; then write RUN/model.pt."""
        from tqdm import tqdm

        from mvaug.disentangle.generator import Encoder

        cfg, m = self.config.train, self.config.model
        tables = self.model.embedding_tables()
        if not tables:  # amortised: the encoders were trained with the generator
            self.save_model(self.model.style_encoder, self.model.content_encoder)
            return {}
        torch.manual_seed(cfg.seed + 1)
        encoders = torch.nn.ModuleDict({"style": Encoder(m.style_dim, m.image_size), "content": Encoder(m.content_dim, m.image_size)}).to(self.device)
        optimizer = torch.optim.Adam(encoders.parameters(), lr=self.config.optim.lr_networks, betas=self.config.optim.betas)
        start = 0
        latest = self.paths.latest_checkpoint("encoders-step-")
        if latest is not None:
            payload = load_run_checkpoint(latest, self.device, stage=2)
            encoders.load_state_dict(payload["encoders"])
            optimizer.load_state_dict(payload["optimizer"])
            start = payload["step"]
        end = cfg.encoder_steps if max_steps is None else min(cfg.encoder_steps, start + max_steps)
        targets = {name: table.weight.detach() for name, table in tables.items()}
        record: dict = {}
        for step in tqdm(range(start, end), desc="stage 2", unit="step", disable=not self.progress, dynamic_ncols=True):
            index = batch_indices(step, len(self.images), cfg.batch_size, cfg.seed + 7)
            images = self.images.float_images(index).to(self.device)
            index = index.to(self.device)
            losses = {name: (encoders[name](images) - targets[name][index]).abs().mean() for name in tables}
            require_finite_losses(losses, step + 1, self.paths.root)
            optimizer.zero_grad(set_to_none=True)
            sum(losses.values()).backward()
            optimizer.step()
            if (step + 1) % cfg.log_every == 0 or step + 1 == end:
                record = {"stage": 2, "step": step + 1, **{f"encoder_{name}_l1": float(loss.detach()) for name, loss in losses.items()}}
                append_log_record(self.paths.log, record)
            if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == end:
                payload = {"format": CHECKPOINT_FORMAT, "stage": 2, "step": step + 1, "encoders": encoders.state_dict(), "optimizer": optimizer.state_dict()}
                save_step_checkpoint(self.paths.checkpoints, "encoders-step-", step + 1, payload, KEEP_CHECKPOINTS)
        if end >= cfg.encoder_steps:
            self.save_model(encoders["style"], encoders["content"])
        return record

    def save_model(self, style_encoder: torch.nn.Module, content_encoder: torch.nn.Module) -> None:
        payload = {
            "format": CHECKPOINT_FORMAT,
            "stage": "final",
            "step": self.step,
            "config": config_to_dict(self.config),
            "num_images": len(self.images),
            "generator": self.model.generator.state_dict(),
            "style_encoder": style_encoder.state_dict(),
            "content_encoder": content_encoder.state_dict(),
            "recon_loss": self.recon_name,
        }
        if self.config.model.latent_optimization:
            payload["style_embeddings"] = self.model.style.weight.detach().cpu()
            payload["content_embeddings"] = self.model.content.weight.detach().cpu()
        save_checkpoint(self.paths.model, payload)
