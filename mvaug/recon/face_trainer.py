"""Training of MVF-Net on synthetic face triplets (``mvaug train-recon --kind face``).

Run folder::

    RUN/config.yaml                     the resolved config
    RUN/log.jsonl                       training records every log_every steps, validation records every val_every
    RUN/checkpoints/step-000000500.pt   network, optimiser, scheduler, RNG: resumable
    RUN/best.pt                         the network with the lowest validation vertex RMSE, and the morphable model

Loss (:func:`mvfnet.mvfnet_losses`): coefficient MSE (standard deviations), pose loss per view, and
the 2D reprojection error of the 68 landmarks of the predicted shape seen with the predicted pose,
over the landmarks visible in each view, in MVF-Net's normalised frame (:mod:`mvaug.recon.face_data`).

Validation (cheap, every ``val_every`` steps, on the (side_yaw, pitch) triplets of ``data.val_split``):
``val_landmark_px``, the mean distance in pixels between the projected predicted landmarks and the
annotated ones (visible landmarks), and ``val_vertex_rmse_mm``, the RMS distance between predicted and
true vertices in the model frame (same topology, no alignment; ``mvaug evaluate --kind face`` uses the
aligned surface metrics of :mod:`mvaug.evaluate.mesh_compare`).

Batches follow a per-epoch permutation drawn from (seed, epoch) and the augmentations a generator
seeded by (seed, step), so a resumed run sees exactly what an uninterrupted one would.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch
from mvfnet import MVFNet, MVFNetConfig, checkpoint_payload, model_from_payload, mvfnet_losses
from mvfnet.checkpoint import CheckpointError

from mvaug.config import config_to_dict, load_config
from mvaug.engine.run_folder import KEEP_CHECKPOINTS, RunPaths
from mvaug.engine.seeding import batch_indices, seed_everything
from mvaug.errors import ConfigError, DataError
from mvaug.io.checkpoint import load_checkpoint, save_checkpoint
from mvaug.engine.run_log import append_log_record, require_finite_losses
from mvaug.recon.face_config import FACE_KIND, FaceReconConfig
from mvaug.recon.face_data import FaceTriplets, augment_views

FACE_CHECKPOINT_FORMAT = "mvaug-face-recon-v1"
BEST = "best.pt"
BEST_METRIC = "val_vertex_rmse_mm"
_MORPHABLE_TENSORS = ("mean", "id_basis", "id_std", "exp_basis", "exp_std", "triangles", "landmark_indices")


def network_config(config: FaceReconConfig, morphable) -> MVFNetConfig:
    """The MVF-Net of ``config`` for a morphable model's coefficient counts."""
    return MVFNetConfig(image_size=config.data.image_size, width=config.model.width, n_id=morphable.id_count, n_exp=morphable.exp_count)


def morphable_payload(morphable) -> dict:
    """The morphable model as plain tensors and strings (``torch.load(weights_only=True)`` reads it back)."""
    if morphable.landmark_indices is None:
        raise DataError(f"the morphable model {morphable.name!r} has no 68 landmarks; MVF-Net training needs them")
    return {"name": morphable.name, **{key: getattr(morphable, key).detach().cpu() for key in _MORPHABLE_TENSORS}}


def morphable_from_payload(payload: dict, device: torch.device | str = "cpu"):
    from mvaug.faces.morphable_model import MorphableModel

    return MorphableModel(**{key: payload[key] for key in _MORPHABLE_TENSORS}, name=payload["name"], device=device)


@torch.no_grad()
def init_pose_bias(model: MVFNet, data: FaceTriplets) -> None:
    """Start the pose head at the training data's mean translation and log-scale (its rotation starts frontal).

    The morphable model is in millimetres and the image spans [-1, 1], so the true scale is ~1e-2;
    from MVF-Net's default start (scale 1) the first landmark errors would be ~100 image widths.
    """
    bias = model.pose_head[-1].bias
    bias[6:8] = data.translation.mean(dim=(0, 1))
    bias[8] = data.log_scale.mean()


@torch.no_grad()
def validate(model: MVFNet, morphable, data: FaceTriplets, device: torch.device, batch_size: int = 32) -> dict[str, float]:
    """``val_landmark_px`` and ``val_vertex_rmse_mm`` over ``data`` (module docstring); the model is left as it was."""
    from mvfnet import project_landmarks

    was_training = model.training
    model.eval()
    landmark_sum = visible_sum = squared_sum = 0.0
    for start in range(0, len(data), batch_size):
        index = torch.arange(start, min(start + batch_size, len(data)))
        out = model(data.float_images(index).to(device))
        target = data.targets(index, device)
        marks = project_landmarks(morphable.landmarks, None, out["id"], out["exp"], out["rotation"], out["translation"], out["log_scale"])
        distance = (marks - target["landmarks"]).norm(dim=-1) * (data.image_size / 2.0)  # (B, V, 68) pixels
        landmark_sum += float((distance * target["visible"]).sum())
        visible_sum += float(target["visible"].sum())
        error = morphable.vertices(out["id"], out["exp"]) - morphable.vertices(target["id"], target["exp"])  # (B, N, 3)
        squared_sum += float(error.pow(2).sum(-1).mean(-1).sum())
    model.train(was_training)
    return {"val_landmark_px": landmark_sum / max(visible_sum, 1.0), BEST_METRIC: (squared_sum / len(data)) ** 0.5}


class FaceReconTrainer:
    """MVF-Net training on one device (CPU or CUDA)."""

    def __init__(self, config: FaceReconConfig, train_data: FaceTriplets, val_data: FaceTriplets, morphable, run_dir: str | Path, device: torch.device, progress: bool = True):
        for name, data in (("training", train_data), ("validation", val_data)):
            if data.image_size != config.data.image_size:
                raise ConfigError(f"the {name} triplets are {data.image_size} px, the config asks for data.image_size {config.data.image_size}")
        self.config, self.train_data, self.val_data, self.device, self.progress = config, train_data, val_data, device, progress
        self.morphable = morphable.to(device)
        self.paths = RunPaths(Path(run_dir))
        seed_everything(config.train.seed)
        self.model = MVFNet(network_config(config, morphable))
        init_pose_bias(self.model, train_data)
        self.model.to(device)
        opt = config.optim
        self.optimizer = torch.optim.Adam(
            [{"params": params, "name": name} for name, params in self.model.param_groups().items()], lr=opt.lr, betas=opt.betas, weight_decay=opt.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, milestones=opt.milestones, gamma=opt.gamma)
        self.step = 0
        self.best = float("inf")
        self.best_step = 0

    def start(self, resume: bool) -> None:
        """Create the run folder, or restore the latest checkpoint with ``resume``."""
        self.paths.start(self.config, resume, self.restore_latest)

    def train(self, max_steps: int | None = None) -> dict:
        """Train up to ``train.steps`` (or ``max_steps`` more); returns the last logged training record."""
        from tqdm import tqdm

        cfg = self.config.train
        end = cfg.steps if max_steps is None else min(cfg.steps, self.step + max_steps)
        self.model.train()
        record: dict = {}
        bar = tqdm(total=end, initial=self.step, desc="train-recon face", unit="step", disable=not self.progress, dynamic_ncols=True)
        window_start, window_triplets = time.perf_counter(), 0
        while self.step < end:
            losses, count = self._train_step()
            self.step += 1
            self.scheduler.step()
            window_triplets += count
            bar.update()
            if self.step % cfg.log_every == 0 or self.step == end:
                elapsed = max(time.perf_counter() - window_start, 1e-9)
                record = self._log({"step": self.step, **{k: float(v) for k, v in losses.items()}, "lr": self.optimizer.param_groups[0]["lr"],
                                    "triplets_per_s": window_triplets / elapsed, "images_per_s": 3 * window_triplets / elapsed})
                bar.set_postfix({k: f"{record[k]:.4f}" for k in losses} | {"img/s": f"{record['images_per_s']:.0f}"})
                window_start, window_triplets = time.perf_counter(), 0
            if self.step % cfg.val_every == 0 or self.step == end:
                self._validate()
            if self.step % cfg.checkpoint_every == 0 or self.step == end:
                self._checkpoint()
        bar.close()
        return record

    def _train_step(self) -> tuple[dict[str, torch.Tensor], int]:
        cfg, aug = self.config.train, self.config.augment
        index = batch_indices(self.step, len(self.train_data), cfg.batch_size, cfg.seed)
        generator = torch.Generator().manual_seed(cfg.seed * 1_000_003 + self.step)
        images = augment_views(self.train_data.float_images(index), generator, aug.low_res_prob, aug.low_res_size, aug.brightness)
        out = self.model(images.to(self.device, non_blocking=True))
        losses = mvfnet_losses(out, self.train_data.targets(index, self.device), self.morphable.landmarks, None, self.config.loss)
        require_finite_losses({"total": losses["total"]}, self.step + 1, self.paths.root)
        self.optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        self.optimizer.step()
        return {k: v.detach() for k, v in losses.items()}, len(index)

    def _log(self, record: dict) -> dict:
        append_log_record(self.paths.log, record)
        return record

    def _validate(self) -> dict:
        metrics = validate(self.model, self.morphable, self.val_data, self.device)
        self._log({"step": self.step, **metrics})
        if metrics[BEST_METRIC] < self.best:
            self.best, self.best_step = metrics[BEST_METRIC], self.step
            self._save(self.paths.root / BEST, with_state=False, extra={"val": metrics})
        return metrics

    # ----------------------------------------------------------------- checkpoints
    def _save(self, path: Path, with_state: bool, extra: dict | None = None) -> None:
        payload = {
            "format": FACE_CHECKPOINT_FORMAT,
            "kind": FACE_KIND,
            "step": self.step,
            "best": self.best,
            "best_step": self.best_step,
            "config": config_to_dict(self.config),
            "network": checkpoint_payload(self.model),
            "morphable": morphable_payload(self.morphable),
            **(extra or {}),
        }
        if with_state:
            payload["optimizer"] = self.optimizer.state_dict()
            payload["scheduler"] = self.scheduler.state_dict()
            payload["rng"] = {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}
        save_checkpoint(path, payload)

    def _checkpoint(self) -> None:
        self._save(self.paths.checkpoints / f"step-{self.step:09d}.pt", with_state=True)
        for old in sorted(self.paths.checkpoints.glob("step-*.pt"))[:-KEEP_CHECKPOINTS]:
            old.unlink()

    def restore_latest(self) -> bool:
        """Load the latest step checkpoint of the run folder; False when there is none."""
        latest = self.paths.latest_checkpoint()
        if latest is None:
            return False
        payload = load_checkpoint(latest, FACE_CHECKPOINT_FORMAT, self.device, what="face reconstructor checkpoint")
        saved = load_config(FaceReconConfig, payload["config"])
        if saved.model != self.config.model or saved.data.image_size != self.config.data.image_size:
            raise DataError("the model config differs from the checkpoint's; resume with the run's config.yaml", self.paths.root)
        try:
            restored = model_from_payload(payload["network"], latest)
        except CheckpointError as err:
            raise DataError(str(err), latest) from None
        if restored.config != self.model.config:
            raise DataError(f"the checkpoint's network {restored.config} does not fit this data's morphable model ({self.model.config})", latest)
        self.model.load_state_dict(restored.state_dict())
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        torch.set_rng_state(payload["rng"]["torch"].cpu())
        if payload["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([state.cpu() for state in payload["rng"]["cuda"]])
        self.step, self.best, self.best_step = payload["step"], payload["best"], payload["best_step"]
        return True


def resolve_face_config(config_path: str | Path | None, overrides: list[str], run_dir: Path, resume: bool, extra: dict | None = None) -> FaceReconConfig:
    """The config of an MVF-Net run (see :func:`mvaug.config.resolve_run_config`)."""
    from mvaug.config import resolve_run_config

    return resolve_run_config(FaceReconConfig, config_path, overrides, run_dir, resume, extra)


@dataclass
class FaceReconTrainResult:
    run_dir: Path
    step: int
    best_vertex_rmse_mm: float
    best_step: int
    last: dict


def run_face_recon_training(
    data: str | Path | None,
    out: str | Path,
    config_path: str | Path | None = None,
    overrides: list[str] = (),
    resume: bool = False,
    max_steps: int | None = None,
    device: str = "auto",
    progress: bool = True,
) -> FaceReconTrainResult:
    """Train (or with ``resume`` continue) MVF-Net on a ``synth-faces`` folder (``data``, else the config's ``data.root``)."""
    from mvaug.engine.device import resolve_device
    from mvaug.faces.dataset import load_face_model

    run_dir = Path(out)
    extra = {"data": {"root": str(Path(data).resolve())}} if data is not None else None
    config = resolve_face_config(config_path, list(overrides), run_dir, resume, extra)
    if config.data.root is None:
        raise ConfigError("no face data: pass --data DIR (a mvaug data synth-faces folder) or set data.root")
    root = Path(config.data.root)
    cfg = config.data
    train_data = FaceTriplets.load(root, cfg.train_split, cfg.image_size, cfg.poses, progress)
    val_data = FaceTriplets.load(root, cfg.val_split, cfg.image_size, [(cfg.side_yaw, cfg.pitch)], progress)
    trainer = FaceReconTrainer(config, train_data, val_data, load_face_model(root), run_dir, resolve_device(device), progress)
    trainer.start(resume)
    with trainer.paths.removed_on_early_failure():
        last = trainer.train(max_steps)
    return FaceReconTrainResult(run_dir, trainer.step, trainer.best, trainer.best_step, last)
