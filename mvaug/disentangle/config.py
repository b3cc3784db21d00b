"""Configuration of the C-S disentangler (paper Sections 3.1-3.4, Appendix A).

One dataclass per component; ``ExperimentConfig`` composes them and is what ``mvaug train
--config`` reads (YAML) and writes beside the checkpoints (``config.yaml``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal

from mvaug.config import require_at_least
from mvaug.engine.precision import RETIRED_BF16_SWITCH, Precision


@dataclass
class ModelConfig:
    image_size: int = 64
    """Output size: 64 (default) or 128; 32 for quick CPU runs."""
    style_dim: int = 256
    """d_s, the style code size."""
    content_dim: int = 128
    """d_c, the content code size."""
    fusion: Literal["multiple", "single", "concat"] = "multiple"
    """C-S fusion before every generator layer (Fig. 10b), once before the generator, or plain concatenation (Fig. 2a)."""
    norm: Literal["l2", "instance", "none"] = "l2"
    """norm() of Eq. 3: L2 (uniform prior on the sphere), instance norm (Gaussian prior), or none (Fig. 2b)."""
    channels: tuple[int, ...] = (256, 256, 128, 64, 32)
    """Generator widths: the first at 4x4, then one per x2 upsampling stage (4 stages for 64x64, 5 for 128x128)."""
    encoder_width: int = 64
    """Channels of the first convolution of E_s and E_c (doubling twice); their size grows with its square."""
    latent_optimization: bool = True
    """Per-image embeddings optimised directly; False trains amortised encoders instead (Fig. 12a)."""
    noise_std: float = 1.0
    """Reparametric module R: std of the N(0, sigma^2 I) noise added to the content code while training; 0 = off (Fig. 12b)."""
    style_noise_std: float | None = None
    """Std of R's noise on the style code; None = the same as noise_std (the paper: sigma = 1 on both)."""
    style_delay_steps: int = 0
    """Content learns first: for this many steps the generator gets a zero style code (0 = off; not in the paper)."""
    noise_warmup_steps: int = 0
    """Ramp the noise std linearly from 0 to noise_std over this many steps (0 = full noise from the start)."""
    embedding_init_std: float = 0.05
    """Initial embeddings ~ U(-a, a) with this a (LORD's initialisation)."""
    supervision: Literal["none", "object"] = "none"
    """none: one style code per image (the paper's unsupervised model); object: one per object, shared by all
    of its views, as LORD shares its class code (needs data that names the object of every image)."""

    def __post_init__(self) -> None:
        stages = {32: 3, 64: 4, 128: 5}.get(self.image_size)
        if stages is None:
            raise ValueError(f"image_size must be 32, 64 or 128, got {self.image_size}")
        if len(self.channels) != stages + 1:
            raise ValueError(f"channels needs {stages + 1} widths for {self.image_size}x{self.image_size} (4x4 plus {stages} stages), got {len(self.channels)}")
        if self.encoder_width < 1:
            raise ValueError(f"encoder_width must be positive, got {self.encoder_width}")
        if self.noise_std < 0 or self.noise_warmup_steps < 0 or (self.style_noise_std or 0) < 0:
            raise ValueError("noise_std and noise_warmup_steps must be non-negative")
        if self.supervision == "object" and not self.latent_optimization:
            raise ValueError("supervision 'object' shares a learned style code among an object's views; it needs latent_optimization")


@dataclass
class CapacityConfig:
    """One side of L_IB (Eq. 8): gamma * | ||code||^2 - C(step) |, C rising linearly from start to end."""

    gamma: float = 0.0
    start: float = 0.0
    end: float = 0.0
    steps: int = 1

    def capacity(self, step: int) -> float:
        return self.start + (self.end - self.start) * min(step / max(self.steps, 1), 1.0)


@dataclass
class AdversarialConfig:
    """A light adversarial term on the reconstructions (not in the paper; the issue "Views worth adding" asks for a
    sharper loss than L1): ``weight`` x softplus(-D(G(s, c))) joins Eq. 5, and a patch discriminator D learns
    softplus(-D(x)) + softplus(D(G(s, c))) with its own Adam after every step (non-saturating GAN, Goodfellow et al.
    2014; spectrally normalised layers, Miyato et al. 2018). ``weight: 0`` builds no discriminator."""

    weight: float = 0.0
    start_step: int = 0
    """Stage-1 step from which D learns and the term counts."""
    channels: tuple[int, ...] = (32, 64, 128)
    """D's widths: one stride-2 4x4 convolution each, then a 3x3 convolution to one logit per patch."""
    lr: float = 2e-4
    """D's Adam learning rate (with ``optim.betas``)."""

    def __post_init__(self) -> None:
        if self.weight < 0 or self.start_step < 0:
            raise ValueError(f"weight and start_step must be non-negative, got {self.weight} and {self.start_step}")
        if not self.channels or min(self.channels) < 1:
            raise ValueError(f"channels must be one or more positive widths, got {self.channels}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")


@dataclass
class LossConfig:
    recon: Literal["auto", "vgg-imagenet", "vgg-random", "l1", "l1-msssim", "id-features"] = "auto"
    """L_P: VGG16 perceptual loss with ImageNet weights when on disk; 'auto' falls back to the measured best candidate."""
    vgg_weights: str | None = None
    """Path of torchvision's vgg16-397923af.pth (else the torch hub cache is searched)."""
    w_perceptual: float = 5.0
    """w_P of Eq. 5."""
    w_ib: float = 1.0
    """w_IB of Eq. 5 (0 switches the information bottleneck off)."""
    w_id: float = 1.0
    """w_ID of Eq. 5 (0 switches the instance-discrimination loss off)."""
    id_network: str | None = None
    """Checkpoint of the instance-discrimination ResNet-18 (``mvaug pretrain-id``); required when w_id > 0."""
    id_layer_weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0)
    style_capacity: CapacityConfig = field(default_factory=CapacityConfig)
    content_capacity: CapacityConfig = field(default_factory=lambda: CapacityConfig(gamma=1.0, start=2.0, end=5.0, steps=140_000))
    adversarial: AdversarialConfig = field(default_factory=AdversarialConfig)


@dataclass
class OptimConfig:
    lr_networks: float = 3e-4
    lr_embeddings: float = 3e-3
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0


@dataclass
class TrainConfig:
    steps: int = 10_000
    """Stage 1 optimisation steps."""
    batch_size: int = 64
    encoder_steps: int = 2_000
    """Stage 2: steps fitting E_s, E_c to the learned embeddings with L1 (Eq. 6)."""
    checkpoint_every: int = 1_000
    sample_every: int = 1_000
    log_every: int = 50
    seed: int = 0
    precision: Precision = "auto"
    """bf16 autocast or fp32 for the forward passes of both stages; auto = bf16 where native (:mod:`mvaug.engine.precision`)."""
    epochs: float | None = None
    """When set, stage 1 lasts this many passes over the training images and takes the place of ``steps``
    (ceil(epochs x images / batch_size)), so that a larger data set is not silently under-trained. A config
    gives one of the two. The run's config.yaml records the steps it became. Warm-ups and capacity ramps
    stay counted in steps."""
    encoder_epochs: float | None = None
    """The same for stage 2: when set, it takes the place of ``encoder_steps``."""
    retired_keys: ClassVar[dict] = RETIRED_BF16_SWITCH
    exclusive_keys: ClassVar[tuple] = (("steps", "epochs"), ("encoder_steps", "encoder_epochs"))

    def __post_init__(self) -> None:
        require_at_least(self, 1, "steps", "batch_size", "encoder_steps", "checkpoint_every", "sample_every", "log_every")
        for name in ("epochs", "encoder_epochs"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    def in_steps(self, num_images: int) -> TrainConfig:
        """This schedule for ``num_images`` training images with ``epochs``/``encoder_epochs`` turned into steps."""
        def steps(epochs: float | None, fallback: int) -> int:
            return fallback if epochs is None else max(1, math.ceil(epochs * num_images / self.batch_size))

        return replace(self, steps=steps(self.epochs, self.steps), encoder_steps=steps(self.encoder_epochs, self.encoder_steps), epochs=None, encoder_epochs=None)

    def epoch(self, step: int, num_images: int) -> float:
        """Passes over ``num_images`` training images made after ``step`` steps of stage 1 or 2."""
        return step * self.batch_size / num_images


@dataclass
class DataConfig:
    kind: Literal["auto", "shapenet", "chairs3d", "faces", "celeba", "folder"] = "auto"
    split: str = "train"
    limit: int | None = None
    """Use only the first N images (smoke runs)."""


@dataclass
class ExperimentConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)
