"""Training of MVF-Net on synthetic face triplets (``mvaug train-recon --kind face``).

Run folder::

    RUN/config.yaml                     the resolved config
    RUN/log.jsonl                       training records every log_every steps, validation records every val_every
    RUN/checkpoints/step-000000500.pt   network, optimiser, scheduler, RNG: resumable
    RUN/best.pt                         the network with the lowest validation vertex RMSE, and the morphable model
    RUN/synth_views.npz                 with synth.run: side views generated for the training triplets (:mod:`mvaug.recon.face_synth`)

Loss (:func:`mvfnet.mvfnet_losses`): coefficient MSE (standard deviations), pose loss per view, and
the 2D reprojection error of the 68 landmarks of the predicted shape seen with the predicted pose,
over the landmarks visible in each view, in MVF-Net's normalised frame (:mod:`mvaug.recon.face_data`).

Validation (cheap, every ``val_every`` steps, on the (side_yaw, pitch) triplets of ``data.val_split``):
``val_landmark_px``, the mean distance in pixels between the projected predicted landmarks and the
annotated ones (visible landmarks), and ``val_vertex_rmse_mm``, the RMS distance between predicted and
true vertices in the model frame (same topology, no alignment; ``mvaug evaluate --kind face`` uses the
aligned surface metrics of :mod:`mvaug.evaluate.mesh_compare`). With ``synth.mix`` drawing more than real
triplets, each drawn mode is validated (``val_vertex_rmse_mm_real``, ``_generated``, ``_none``) and
``val_vertex_rmse_mm`` is their mean: the network kept is the best across what it was trained for.

Side views (``synth.mix``, issue 18): each training triplet's left and right views are its real renders,
views generated from its front view by ``synth.run``, or its front view again (a single-view sample), so
that MVF-Net learns what a generated view is worth beside a real one and what one view alone gives
(:mod:`mvaug.recon.face_synth`).

Batches follow a per-epoch permutation drawn from (seed, epoch) and the augmentations a generator
seeded by (seed, step), so a resumed run sees exactly what an uninterrupted one would.
"""

from __future__ import annotations

from pathlib import Path

import torch
from mvfnet import MVFNet, MVFNetConfig, checkpoint_payload, model_from_payload, mvfnet_losses, rotation_6d_to_matrix
from mvfnet.checkpoint import CheckpointError

from mvaug.config import config_to_dict, load_config
from mvaug.engine.loop import NEVER, RunFolderTrainer, Schedule, TrainingLoop, TrainingTask, TrainRequest, TrainResult, every
from mvaug.engine.optimizer import adam
from mvaug.engine.precision import autocast, resolve_precision
from mvaug.engine.seeding import batch_indices
from mvaug.errors import ConfigError, DataError
from mvaug.io.checkpoint import load_checkpoint
from mvaug.recon.face_config import FACE_KIND, TRIPLET_MODES, FaceReconConfig
from mvaug.recon.face_data import FaceTriplets, augment_views
from mvaug.recon.face_synth import compose_triplets, front_only_targets, prepare_side_views

FACE_CHECKPOINT_FORMAT = "mvaug-face-recon-v1"
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


def validate(model: MVFNet, morphable, data: FaceTriplets, device: torch.device, batch_size: int = 32,
             modes: tuple[str, ...] = ("real",), generated: torch.Tensor | None = None) -> dict[str, float]:
    """``val_landmark_px`` and ``val_vertex_rmse_mm`` over ``data`` (module docstring); with several ``modes``
    (of ``TRIPLET_MODES``; ``generated`` uint8 (T, 2, 3, S, S) for 'generated') both per mode, suffixed, and
    ``val_vertex_rmse_mm`` the mean over the modes. The model is left as it was."""
    if tuple(modes) == ("real",):
        return validate_mode(model, morphable, data, device, batch_size, 0, None)
    metrics = {}
    for mode in modes:
        k = TRIPLET_MODES.index(mode)
        metrics.update({f"{key}_{mode}": value for key, value in validate_mode(model, morphable, data, device, batch_size, k, generated).items()})
    metrics[BEST_METRIC] = sum(metrics[f"{BEST_METRIC}_{mode}"] for mode in modes) / len(modes)
    return metrics


@torch.no_grad()
def validate_mode(model: MVFNet, morphable, data: FaceTriplets, device: torch.device, batch_size: int, mode: int,
                  generated: torch.Tensor | None) -> dict[str, float]:
    """:func:`validate` of the triplets of ``data`` with their side views as ``TRIPLET_MODES[mode]``."""
    from mvfnet import project_landmarks

    was_training = model.training
    model.eval()
    landmark_sum = visible_sum = squared_sum = 0.0
    for start in range(0, len(data), batch_size):
        index = torch.arange(start, min(start + batch_size, len(data)))
        modes = torch.full((len(index),), mode)
        images = compose_triplets(data.float_images(index), modes, None if generated is None else generated[index].float() / 255.0)
        out = model(images.to(device))
        target = front_only_targets(data.targets(index, device), modes.to(device) == 2)
        marks = project_landmarks(morphable.landmarks, None, out["id"], out["exp"], out["rotation"], out["translation"], out["log_scale"])
        distance = (marks - target["landmarks"]).norm(dim=-1) * (data.image_size / 2.0)  # (B, V, 68) pixels
        landmark_sum += float((distance * target["visible"]).sum())
        visible_sum += float(target["visible"].sum())
        error = morphable.vertices(out["id"], out["exp"]) - morphable.vertices(target["id"], target["exp"])  # (B, N, 3)
        squared_sum += float(error.pow(2).sum(-1).mean(-1).sum())
    model.train(was_training)
    return {"val_landmark_px": landmark_sum / max(visible_sum, 1.0), BEST_METRIC: (squared_sum / len(data)) ** 0.5}


class FaceReconTrainer(RunFolderTrainer, TrainingTask):
    """MVF-Net training on one device (CPU or CUDA): the task of the engine's training loop."""

    label = "train-recon face"
    best_metric = BEST_METRIC
    best_mode = "min"

    def __init__(self, config: FaceReconConfig, train_data: FaceTriplets, val_data: FaceTriplets, morphable, run_dir: str | Path, device: torch.device,
                 progress: bool = True, data_root: str | Path | None = None):
        for name, data in (("training", train_data), ("validation", val_data)):
            if data.image_size != config.data.image_size:
                raise ConfigError(f"the {name} triplets are {data.image_size} px, the config asks for data.image_size {config.data.image_size}")
        super().__init__(config, run_dir, device, progress)
        self.train_data, self.val_data = train_data, val_data
        self.data_root = data_root
        self.train_generated: torch.Tensor | None = None  # uint8 (T, 2, 3, S, S) with synth.run, after start()
        self.val_generated: torch.Tensor | None = None
        self.precision = resolve_precision(config.train.precision, device)
        self.morphable = morphable.to(device)
        self.model = MVFNet(network_config(config, morphable))
        init_pose_bias(self.model, train_data)
        self.model.to(device)
        opt, train = config.optim, config.train
        optimizer = adam(self.model.param_groups(), opt.lr, opt.betas, opt.weight_decay)
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=opt.milestones, gamma=opt.gamma)  # milestones in steps
        schedule = Schedule(train.steps, log=every(train.log_every), checkpoint=every(train.checkpoint_every), validate=every(train.val_every),
                            average=every(train.val_every, at_end=False) if train.average_last else NEVER,
                            average_after=train.steps - train.average_last * train.val_every)
        self.loop = TrainingLoop(self, schedule, optimizer, device, self.paths, scheduler, progress=self.progress)

    @property
    def best(self) -> float:
        """The lowest validation vertex RMSE so far (mm); inf before the first validation."""
        return float("inf") if self.loop.best is None else self.loop.best

    @property
    def best_step(self) -> int:
        return self.loop.best_step

    def start(self, resume: bool) -> None:
        """Open or resume the run folder; with ``synth.run``, then the generated side views (:func:`prepare_side_views`)."""
        super().start(resume)
        if self.config.synth.run is not None:
            if self.data_root is None:
                raise ConfigError("generated side views (synth.run) need the data folder of the triplets")
            with self.paths.removed_on_early_failure():
                self.train_generated, self.val_generated = prepare_side_views(
                    self.paths.root, self.train_data, self.val_data, self.config, Path(self.data_root), self.device, self.progress)

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(augmented views (B, 3, 3, S, S), indices (B,), modes (B,)) of ``step``: each triplet's mode (an index of
        ``TRIPLET_MODES``) and the augmentations drawn from (seed, step); no draw when ``synth.mix`` has one mode."""
        cfg, aug, mix = self.config.train, self.config.augment, self.config.synth.mix
        index = batch_indices(step, len(self.train_data), cfg.batch_size, cfg.seed)
        generator = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        images = self.train_data.float_images(index)
        if len(self.config.synth.modes) == 1:
            modes = torch.full((len(index),), TRIPLET_MODES.index(self.config.synth.modes[0]))
        else:
            modes = torch.multinomial(torch.tensor(mix, dtype=torch.float64), len(index), replacement=True, generator=generator)
        generated = None if self.train_generated is None else self.train_generated[index].float() / 255.0
        images = compose_triplets(images, modes, generated)
        return augment_views(images, generator, aug.low_res_prob, aug.low_res_size, aug.brightness), index, modes

    def batch_images(self, batch) -> int:
        return 3 * len(batch[1])

    def losses(self, batch) -> dict[str, torch.Tensor]:
        images, index, modes = batch
        with autocast(self.device, self.precision):
            out = self.model(images.to(self.device, non_blocking=True))
        if self.precision == "bf16":  # the losses, and the rotation they read, in fp32
            out = {k: v.float() for k, v in out.items()}
            out["rotation"] = rotation_6d_to_matrix(out["rotation_6d"])
        target = front_only_targets(self.train_data.targets(index, self.device), modes.to(self.device) == 2)
        return mvfnet_losses(out, target, self.morphable.landmarks, None, self.config.loss)

    def log_fields(self, step: int, batch) -> dict:
        return {"lr": self.optimizer.param_groups[0]["lr"]}

    def validate(self, step: int) -> dict[str, float]:
        return validate(self.model, self.morphable, self.val_data, self.device, modes=tuple(self.config.synth.modes), generated=self.val_generated)

    # ----------------------------------------------------------------- checkpoints
    def checkpoint_payload(self, loop: TrainingLoop) -> dict:
        return {
            "format": FACE_CHECKPOINT_FORMAT,
            "kind": FACE_KIND,
            "config": config_to_dict(self.config),
            "network": checkpoint_payload(self.model),
            "morphable": morphable_payload(self.morphable),
        }

    def restore(self, path: Path, device: torch.device) -> dict:
        payload = load_checkpoint(path, FACE_CHECKPOINT_FORMAT, device, what="face reconstructor checkpoint")
        saved = load_config(FaceReconConfig, payload["config"])
        if saved.model != self.config.model or saved.data.image_size != self.config.data.image_size:
            raise DataError("the model config differs from the checkpoint's; resume with the run's config.yaml", self.paths.root)
        try:
            restored = model_from_payload(payload["network"], path)
        except CheckpointError as err:
            raise DataError(str(err), path) from None
        if restored.config != self.model.config:
            raise DataError(f"the checkpoint's network {restored.config} does not fit this data's morphable model ({self.model.config})", path)
        self.model.load_state_dict(restored.state_dict())
        return payload


def run_face_recon_training(request: TrainRequest) -> TrainResult:
    """Train (or with ``resume`` continue) MVF-Net on a ``synth-faces`` folder (the request's data, else the config's ``data.root``).

    The result's ``best`` is the lowest validation vertex RMSE in mm.
    """
    from mvaug.engine.device import resolve_device
    from mvaug.faces.dataset import load_face_model

    extra = {"data": {"root": str(Path(request.data).resolve())}} if request.data is not None else None
    config = request.resolve_config(FaceReconConfig, extra)
    if config.data.root is None:
        raise ConfigError("no face data: pass --data DIR (a mvaug data synth-faces folder) or set data.root")
    root = Path(config.data.root)
    cfg = config.data
    train_data = FaceTriplets.load(root, cfg.train_split, cfg.image_size, cfg.poses, request.progress)
    val_data = FaceTriplets.load(root, cfg.val_split, cfg.image_size, [(cfg.side_yaw, cfg.pitch)], request.progress)
    trainer = FaceReconTrainer(config, train_data, val_data, load_face_model(root), request.out, resolve_device(request.device), request.progress, root)
    return trainer.fit(request.resume, request.max_steps)
