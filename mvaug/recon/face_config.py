"""Configuration of MVF-Net training on synthetic face triplets (``mvaug train-recon --kind face``).

The network's size-dependent fields (``image_size``, ``n_id``, ``n_exp`` of :class:`mvfnet.MVFNetConfig`)
are not configured here: they follow ``data.image_size`` and the face set's morphable model, so a
config cannot disagree with its data. Loss weights are :class:`mvfnet.LossWeights`; landmarks and
translations are measured in MVF-Net's normalised image frame (the image spans [-1, 1]), so a
landmark error of one pixel at 64 px is 2 / 64 = 0.031 there, and its square ~1e-3.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mvfnet import LossWeights

from mvaug.config import require_at_least, require_fraction
from mvaug.engine.precision import Precision

FACE_KIND = "face"


@dataclass
class FaceNetConfig:
    width: int = 16
    """Channels of the first encoder stage (upstream MVF-Net: 64); the per-view feature has 8 * width channels."""

    def __post_init__(self) -> None:
        require_at_least(self, 1, "width")


@dataclass
class FaceDataConfig:
    root: str | None = None
    """A ``mvaug data synth-faces`` folder; ``--data`` replaces it, and the run's config.yaml records the one used."""
    image_size: int = 64
    """Side of the network's input views in pixels (a multiple of 32); the renders are resized to it."""
    side_yaw: float = 45.0
    """Left / right views are the pose-grid yaws nearest -side_yaw / +side_yaw (degrees), as in MVF-Net; validation,
    evaluation and reconstruction use this."""
    pitch: float = 0.0
    """All three views at the grid pitch nearest this (degrees)."""
    train_side_yaws: list[float] | None = None
    """Training triplets at each of these side yaws (more triplets per identity); None = only ``side_yaw``."""
    train_pitches: list[float] | None = None
    """Training triplets at each of these pitches; None = only ``pitch``."""
    train_split: str = "train"
    val_split: str = "val"

    def __post_init__(self) -> None:
        if self.image_size < 32 or self.image_size % 32:
            raise ValueError(f"image_size must be a positive multiple of 32 (64, 128, 224), got {self.image_size}")
        if not 0 < self.side_yaw <= 90:
            raise ValueError(f"side_yaw must lie in (0, 90] degrees, got {self.side_yaw}")

    @property
    def poses(self) -> list[tuple[float, float]]:
        """(side_yaw, pitch) of every training triplet family."""
        yaws = self.train_side_yaws or [self.side_yaw]
        pitches = self.train_pitches or [self.pitch]
        return [(yaw, pitch) for pitch in pitches for yaw in yaws]


@dataclass
class FaceAugmentConfig:
    """Training augmentations, drawn per view from a generator seeded by (seed, step): a resumed run repeats them."""

    low_res_prob: float = 0.5
    """Probability that a side view passes through ``low_res_size`` pixels (down, then up again): generated views
    come from a disentangler working at a lower resolution."""
    low_res_size: int = 32
    """Side of the low-resolution round trip (the face disentangler's image_size)."""
    brightness: float = 0.1
    """Each view's colours are multiplied by a factor uniform in [1 - brightness, 1 + brightness]."""

    def __post_init__(self) -> None:
        require_fraction(self, "low_res_prob")
        if self.low_res_size < 4:
            raise ValueError(f"low_res_size must be at least 4 pixels, got {self.low_res_size}")
        if not 0.0 <= self.brightness < 1.0:
            raise ValueError(f"brightness must lie in [0, 1), got {self.brightness}")


@dataclass
class FaceOptimConfig:
    lr: float = 1e-3
    """Adam learning rate."""
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    milestones: list[int] = field(default_factory=list)
    """Steps at which the learning rate is multiplied by ``gamma``."""
    gamma: float = 0.3


@dataclass
class FaceTrainConfig:
    steps: int = 2000
    batch_size: int = 16
    """Triplets per step (each of three views)."""
    seed: int = 0
    checkpoint_every: int = 250
    """Steps between resumable checkpoints (one is also written at the last step)."""
    log_every: int = 25
    val_every: int = 250
    """Steps between validations on ``data.val_split``; a lower validation vertex RMSE replaces ``best.pt``."""
    precision: Precision = "auto"
    """bf16 autocast or fp32 for the network's forward pass (the losses stay fp32); auto = bf16 where native (:mod:`mvaug.engine.precision`)."""

    def __post_init__(self) -> None:
        require_at_least(self, 1, "steps", "batch_size", "checkpoint_every", "log_every", "val_every")


@dataclass
class FaceReconConfig:
    """Everything ``mvaug train-recon --kind face`` reads from YAML (and writes back as RUN/config.yaml)."""

    model: FaceNetConfig = field(default_factory=FaceNetConfig)
    data: FaceDataConfig = field(default_factory=FaceDataConfig)
    loss: LossWeights = field(default_factory=lambda: LossWeights(coefficient=1.0, pose=1.0, landmark=100.0))
    augment: FaceAugmentConfig = field(default_factory=FaceAugmentConfig)
    optim: FaceOptimConfig = field(default_factory=FaceOptimConfig)
    train: FaceTrainConfig = field(default_factory=FaceTrainConfig)
