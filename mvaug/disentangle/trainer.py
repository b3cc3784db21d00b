"""Training of the disentangler: stage 1 (generator + latent optimisation), stage 2 (encoders, Eq. 6).

Run folder::

    RUN/config.yaml                      the resolved config
    RUN/log.jsonl                        one line per logged step
    RUN/checkpoints/step-000001000.pt    stage 1 checkpoints (model, optimiser, RNG), resumable
    RUN/checkpoints/encoders-after-000001000-step-*.pt
                                         stage 2 checkpoints, fitted to the embeddings of stage 1's step 1000 (a stage 1
                                         resumed for more steps fits new encoders; older ones stay on disk, unread)
    RUN/samples/step-000001000-*.png     reconstructions, analogy grid, interpolations
    RUN/model.pt                         the finished model: generator, embeddings, encoders, config

The two stages are two :class:`~mvaug.engine.loop.TrainingTask` definitions run in order by the one
training loop: :class:`LatentOptimisation` (Eq. 5: generator, fusion and per-image embeddings) and
:class:`EncoderRegression` (Eq. 6). Batches follow a permutation of the images drawn from (seed, epoch), so a resumed run sees exactly
the batches an uninterrupted one would; the noise RNG state is checkpointed too.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import torch

from mvaug.config import config_to_dict, load_config
from mvaug.disentangle.config import ExperimentConfig
from mvaug.disentangle.data import ImageSet
from mvaug.disentangle.model import DisentangleModel
from mvaug.engine.distributed import DistributedContext, wrap_ddp
from mvaug.engine.loop import RunFolderTrainer, Schedule, TrainingLoop, TrainingTask, every
from mvaug.engine.optimizer import adam
from mvaug.engine.precision import autocast, resolve_precision
from mvaug.engine.seeding import batch_indices
from mvaug.errors import ConfigError, DataError
from mvaug.io.checkpoint import load_checkpoint, save_checkpoint

CHECKPOINT_FORMAT = "mvaug-disentangle-v1"
RUN_CHECKPOINT_KEYS = {  # what each stage's checkpoint holds besides its format tag
    1: ("step", "config", "num_images", "model", "optimizer", "rng"),
    2: ("step", "encoders", "optimizer"),
    "final": ("config", "generator", "style_encoder", "content_encoder"),
}
log = logging.getLogger(__name__)


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


class Trainer(RunFolderTrainer):
    """Stage 1 and stage 2 of the paper's training in one run folder (``train`` runs stage 1, ``fit_encoders`` stage 2)."""

    def __init__(self, config: ExperimentConfig, images: ImageSet, run_dir: str | Path, device: torch.device, progress: bool = True, dist: DistributedContext = DistributedContext()):
        config = replace(config, train=config.train.in_steps(len(images)))  # epochs -> steps for this data
        super().__init__(config, run_dir, device, progress, dist)
        self.images = images
        self.model = DisentangleModel(config, len(images), _objects(config, images)).to(device)
        self.stage1 = LatentOptimisation(self)
        opt, train = config.optim, config.train
        schedule = Schedule(train.steps, log=every(train.log_every), checkpoint=every(train.checkpoint_every), samples=every(train.sample_every))
        optimizer = adam(self.model.param_groups(), {"networks": opt.lr_networks, "embeddings": opt.lr_embeddings}, opt.betas, opt.weight_decay)
        self.loop = TrainingLoop(self.stage1, schedule, optimizer, device, self.paths, dist=dist, progress=self.progress)

    @property
    def recon_name(self) -> str:
        return self.stage1.recon_name

    def fit_encoders(self, max_steps: int | None = None) -> dict:
        """Stage 2 up to ``config.train.encoder_steps`` (or ``max_steps`` more); when done, write RUN/model.pt."""
        if not self.model.embedding_tables():  # amortised: the encoders were trained with the generator
            self.save_model(self.model.style_encoder, self.model.content_encoder)
            return {}
        cfg = self.config
        torch.manual_seed(cfg.train.seed + 1)
        stage2 = EncoderRegression(self)
        schedule = Schedule(cfg.train.encoder_steps, log=every(cfg.train.log_every), checkpoint=every(cfg.train.checkpoint_every))
        optimizer = adam({"encoders": stage2.model.parameters()}, cfg.optim.lr_networks, cfg.optim.betas)
        loop = TrainingLoop(stage2, schedule, optimizer, self.device, self.paths, progress=self.progress)
        loop.restore_latest()
        record = loop.run(max_steps)
        if loop.step >= cfg.train.encoder_steps:
            self.save_model(stage2.model["style"], stage2.model["content"])
        return record

    def save_model(self, style_encoder: torch.nn.Module, content_encoder: torch.nn.Module) -> None:
        """RUN/model.pt: generator, encoders, config (and the learned embeddings), what ``mvaug generate`` reads."""
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
        if self.config.model.latent_optimization:  # one row per training image (an object's views share theirs under object supervision)
            codes = self.model.image_codes()
            payload["style_embeddings"], payload["content_embeddings"] = codes["style"].cpu(), codes["content"].cpu()
        save_checkpoint(self.paths.model, payload)


def _objects(config: ExperimentConfig, images: ImageSet) -> torch.Tensor | None:
    """The object of each image for ``model.supervision: object`` (None otherwise); data that names none is refused."""
    if config.model.supervision != "object":
        return None
    if images.identities is None:
        raise ConfigError(f"model.supervision: object needs the object of every image; {images.kind} data names none (use a ShapeNet-layout, 3D Chairs or synth-faces folder)")
    return images.identities


class LatentOptimisation(TrainingTask):
    """Stage 1 (Eq. 5): w_P L_P + w_IB L_IB + w_ID L_ID over generator, fusion and the per-image embeddings
    (+ the optional adversarial term of :mod:`mvaug.disentangle.adversarial`, whose discriminator steps after each step)."""

    label = "stage 1"
    postfix_keys = ("total", "perceptual", "ib", "id", "adv")

    def __init__(self, trainer: Trainer):
        from mvaug.disentangle.recon import build_id_features, build_recon_loss

        config, dist = trainer.config, trainer.dist
        self.config, self.images, self.device, self.dist, self.paths = config, trainer.images, trainer.device, dist, trainer.paths
        self.model = trainer.model
        self.forward = wrap_ddp(self.model, self.device, dist)
        if dist.enabled:
            torch.manual_seed(config.train.seed + 1000 * dist.rank)  # independent noise per rank
        self.recon_loss, self.recon_name = build_recon_loss(config.loss, self.device)
        self.id_features = build_id_features(config.loss, self.device)
        self.precision = resolve_precision(config.train.precision, self.device)
        self.sample_index = sample_indices(len(self.images))  # images shown in the sample grids
        self.adversary = None
        if config.loss.adversarial.weight > 0:
            from mvaug.disentangle.adversarial import Adversary

            self.adversary = Adversary(config.loss.adversarial, config.optim.betas, self.device, self.precision, config.train.seed + 2, dist)
        self._adversary_batch: tuple[torch.Tensor, torch.Tensor] | None = None

    def batch(self, step: int) -> tuple[int, torch.Tensor]:
        cfg = self.config.train
        return step, self.dist.local_slice(batch_indices(step, len(self.images), cfg.batch_size, cfg.seed))

    def batch_images(self, batch) -> int:
        return self.config.train.batch_size

    def losses(self, batch) -> dict[str, torch.Tensor]:
        step, index = batch
        images = self.images.float_images(index).to(self.device, non_blocking=True)
        with autocast(self.device, self.precision):
            losses, recon = self.forward(index.to(self.device), images, step, self.recon_loss, self.id_features)
            if self.adversary is not None and self.adversary.active(step):
                losses["adv"] = self.adversary.generator_loss(recon)
                losses["total"] = losses["total"] + self.config.loss.adversarial.weight * losses["adv"]
                self._adversary_batch = (images, recon.detach())
        return losses

    def after_step(self, step: int, losses: dict[str, torch.Tensor]) -> None:
        """D's step on the batch the generator just learned from (its loss is logged as ``adv_d``)."""
        if self._adversary_batch is not None:
            losses["adv_d"] = self.adversary.step(*self._adversary_batch)
            self._adversary_batch = None

    def log_fields(self, step: int, batch) -> dict:
        """The noise and capacity schedules, the embeddings' mean squared norms and the reconstruction loss's name."""
        record = {
            "epoch": round(self.config.train.epoch(step, len(self.images)), 4),
            "noise_std": self.model.noise_std(step),
            "style_noise_std": self.model.noise_std(step, style=True),
            "content_capacity": self.config.loss.content_capacity.capacity(step),
        }
        for name, table in self.model.embedding_tables().items():
            record[f"{name}_norm2"] = float(table.weight.detach().pow(2).sum(1).mean())
        record["recon_loss"] = self.recon_name
        return record

    @torch.no_grad()
    def write_samples(self, step: int) -> None:
        """RUN/samples/step-*-{reconstruction,analogy,interpolation}.png of images spread over the data set."""
        from mvaug.io.images import write_png
        from mvaug.viz.analogy import analogy_grid, interpolation_grid, pairs_grid

        was_training = self.model.training
        self.model.eval()
        index = self.sample_index.to(self.device)
        images = self.images.float_images(self.sample_index).to(self.device)
        style, content = self.model.codes(index, images)
        generate = self.model.generator
        prefix = self.paths.samples / f"step-{step:09d}"
        write_png(f"{prefix}-reconstruction.png", pairs_grid(images, generate(style, content)))
        write_png(f"{prefix}-analogy.png", analogy_grid(generate, style, content, images, images))
        if len(index) >= 2:
            write_png(f"{prefix}-interpolation.png", interpolation_grid(generate, style[:2], content[:2]))
        self.model.train(was_training)

    def checkpoint_payload(self, loop: TrainingLoop) -> dict:
        payload = {"format": CHECKPOINT_FORMAT, "stage": 1, "config": config_to_dict(self.config), "num_images": len(self.images), "model": self.model.state_dict()}
        if self.adversary is not None:
            payload["adversary"] = self.adversary.state_dict()
        return payload

    def restore(self, path: Path, device: torch.device) -> dict:
        payload = load_run_checkpoint(path, device, stage=1)
        if payload["num_images"] != len(self.images):
            raise DataError(f"the checkpoint was trained on {payload['num_images']} images, the data has {len(self.images)}", self.paths.root)
        if load_config(ExperimentConfig, payload["config"]).model != self.config.model:
            raise DataError("the model config differs from the checkpoint's; resume with the run's config.yaml", self.paths.root)
        self.model.load_state_dict(payload["model"])
        if self.adversary is not None:
            if "adversary" in payload:
                self.adversary.load_state_dict(payload["adversary"])
            else:  # e.g. a run trained without the term continues with it
                log.warning("%s: the checkpoint holds no discriminator; a new one starts", path)
        return payload


class EncoderRegression(TrainingTask):
    """Stage 2 (Eq. 6): encoders E_s, E_c regress the learned embeddings with L1 (the generator is fixed)."""

    label = "stage 2"

    def __init__(self, trainer: Trainer):
        from mvaug.disentangle.generator import style_and_content_encoders

        self.checkpoint_prefix = f"encoders-after-{trainer.step:09d}-step-"  # the embeddings it regresses are stage 1's at this step
        self.config, self.images, self.device = trainer.config, trainer.images, trainer.device
        style, content = style_and_content_encoders(trainer.config.model)
        self.model = torch.nn.ModuleDict({"style": style, "content": content}).to(self.device)
        self.targets = trainer.model.image_codes()
        self.precision = trainer.stage1.precision

    def batch(self, step: int) -> torch.Tensor:
        cfg = self.config.train
        return batch_indices(step, len(self.images), cfg.batch_size, cfg.seed + 7)

    def batch_images(self, batch) -> int:
        return len(batch)

    def losses(self, batch) -> dict[str, torch.Tensor]:
        images = self.images.float_images(batch).to(self.device)
        index = batch.to(self.device)
        with autocast(self.device, self.precision):
            codes = {name: self.model[name](images) for name in self.targets}
        return {f"encoder_{name}_l1": (codes[name].float() - target[index]).abs().mean() for name, target in self.targets.items()}

    def log_fields(self, step: int, batch) -> dict:
        return {"stage": 2, "epoch": round(self.config.train.epoch(step, len(self.images)), 4)}

    def checkpoint_payload(self, loop: TrainingLoop) -> dict:
        return {"format": CHECKPOINT_FORMAT, "stage": 2, "encoders": self.model.state_dict()}

    def restore(self, path: Path, device: torch.device) -> dict:
        payload = load_run_checkpoint(path, device, stage=2)
        self.model.load_state_dict(payload["encoders"])
        return payload
