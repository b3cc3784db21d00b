"""Configuration of Pix2Vox training (``mvaug train-recon``) and of the reconstructor it produces.

Upstream's settings (hzxie/Pix2Vox ``config.py``) are the defaults: 224x224 inputs centre-cropped
128 px from the 137 px ShapeNet renders, batch 64, 250 epochs, Adam (1e-3; merger 1e-4; betas
0.9/0.999), learning rates halved at epoch 150, BCE x 10, random light backgrounds in [225, 255],
colour jitter 0.4, lighting noise 0.1, RGB permutation; validation on a 240-grey background.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from pix2vox import Pix2VoxConfig

from mvaug.config import require_at_least, require_fraction
from mvaug.engine.precision import RETIRED_BF16_SWITCH, Precision

KINDS = ("chair",)  # what a reconstructor was trained on; faces (MVF-Net) come with their own issue


@dataclass
class ReconDataConfig:
    kind: Literal["chair"] = "chair"
    """What the reconstructor reconstructs; written into its checkpoints so that ``mvaug reconstruct`` can refuse another kind."""
    categories: list[str] | None = None
    """ShapeNet taxonomy ids or names to train on (None: every category of the split file)."""
    train_split: str = "train"
    val_split: str = "val"
    views: int = 1
    """Most views per sample in a training batch (upstream CONST.N_VIEWS_RENDERING)."""
    random_view_count: bool = True
    """Draw each batch's number of views uniformly from 1..views (with views > 1)."""
    val_views: int = 1
    """Views per sample in the validation IoU."""
    val_view_sets: bool = False
    """With val_views > 1: the validation IoU is the mean over every count of views that divides val_views
    (1, 2, 4 and 8 for 8), each over disjoint sets of the val_views fixed views, so the best checkpoint is
    the one best across view counts rather than at one count (``mvaug.recon.view_sets``)."""
    crop: int | None = 128
    """Centre crop in pixels of the renders before resizing (upstream CROP_IMG 128 of 137); None keeps the whole render."""
    render_size: int = 137
    """Side of the renders the crop refers to; user images get the same fraction cropped (crop / render_size)."""
    cache_images: bool = False
    """Keep every resized view in memory (small synthetic sets; ShapeNet chairs at 224 would need ~30 GB)."""
    workers: int = 0
    """DataLoader worker processes for the training batches (0: load in the training process)."""
    limit: int | None = None
    """Use only the first N models of each split (smoke runs)."""

    def __post_init__(self) -> None:
        if self.views < 1 or self.val_views < 1:
            raise ValueError(f"views and val_views must be at least 1, got {self.views} and {self.val_views}")
        if self.crop is not None and not 0 < self.crop <= self.render_size:
            raise ValueError(f"crop must lie in 1..render_size ({self.render_size}), got {self.crop}")
        if self.workers < 0:
            raise ValueError(f"workers must be non-negative, got {self.workers}")

    @property
    def crop_fraction(self) -> float:
        return 1.0 if self.crop is None else self.crop / self.render_size


@dataclass
class AugmentConfig:
    """Training augmentations (upstream ``utils/data_transforms.py``); validation uses ``val_background`` only."""

    background_range: tuple[float, float] = (225 / 255, 1.0)
    """Each view is composited on a random colour, every channel uniform in this range (upstream RANDOM_BG_COLOR_RANGE)."""
    val_background: float = 240 / 255
    """Grey level of the background for validation and reconstruction (upstream TEST.RANDOM_BG_COLOR_RANGE)."""
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    """Colour jitter: factors uniform in [1 - x, 1 + x], one draw per sample (all its views)."""
    lighting_noise: float = 0.1
    """Std of AlexNet's PCA lighting noise (upstream NOISE_STD); 0 = off."""
    permute_rgb: bool = True
    """Random channel order per sample."""
    flip: bool = True
    """Mirror a sample left-right with probability 1/2: its images horizontally and its voxels along z together."""
    low_res_prob: float = 0.0
    """Probability that a view is reduced to ``low_res_size`` px and scaled back up (area down, bilinear up), drawn
    per view: the look of the disentangler's generated views, which reach the reconstructor up-scaled from 32 px
    beside a sharp input (not upstream's; 0 = off)."""
    low_res_size: int = 32
    low_res_sharp_first: bool = False
    """Never reduce the first view of a sample: every sample keeps one sharp view, as an input photo beside generated views."""

    def __post_init__(self) -> None:
        require_fraction(self, "low_res_prob")
        require_at_least(self, 1, "low_res_size")
        low, high = self.background_range
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"background_range must satisfy 0 <= low <= high <= 1, got {self.background_range}")
        if min(self.brightness, self.contrast, self.saturation, self.lighting_noise) < 0:
            raise ValueError("colour jitter amounts and lighting_noise must be non-negative")


@dataclass
class SynthViewsConfig:
    """Views generated by a trained disentangler beside the real ones (issue 18): in multi-view training steps a
    batch's extra views are real renders, views generated from its first view, or none (:mod:`mvaug.recon.synth_views`)."""

    run: str | None = None
    """Disentangler run folder or ``builtin:NAME`` that generates the views (None: off, training as without this section)."""
    bank: str | None = None
    """Content bank of ``run`` (None: RUN/bank.npz, or the built-in one's)."""
    inputs_per_model: int = 4
    """Views of each training model, drawn once from (seed, model), whose generated views are cached; they are the
    first views of the samples of multi-view steps."""
    views: int = 8
    """Generated views cached per input view: bank views spread in azimuth around the input's camera."""
    mix: tuple[float, float, float] = (0.3, 0.6, 0.1)
    """Probabilities that a multi-view batch's extra views are real renders / generated from its first views / none
    (single views), drawn per batch; the default is the built-in model's (0.4 / 0.4 / 0.2 gave generated-4 − single
    +0.015 where this gave +0.024 on 64 fresh chairs, ``docs/results.md``, fourteenth session)."""
    generated_trains: str = "all"
    """What batches with generated views train: ``all`` (the whole network) or ``merger`` (merger and refiner; encoder
    and decoder see them as at test time, so that what the network reads from one view is learned from real views only)."""
    refine_steps: int = 0
    """Test-time refinement of each input's codes before its views are generated
    (:class:`~mvaug.multiview.synthesizer.MultiViewSynthesizer`): the chair commands refine 100 steps by default, so
    a reconstructor meant for them learns from views made the same way."""

    def __post_init__(self) -> None:
        require_at_least(self, 1, "inputs_per_model", "views")
        require_at_least(self, 0, "refine_steps")
        check_view_mix(self.mix, self.run, self.bank)
        if self.generated_trains not in ("all", "merger"):
            raise ValueError(f"generated_trains must be 'all' or 'merger', got {self.generated_trains!r}")


def check_view_mix(mix, run: str | None, bank: str | None) -> None:
    """The checks shared by the ``synth`` sections of Pix2Vox and MVF-Net: ``mix`` three probabilities (real,
    generated, none) summing to 1, and no ``bank`` without the ``run`` it belongs to."""
    if len(mix) != 3 or min(mix) < 0 or abs(sum(mix) - 1.0) > 1e-6:
        raise ValueError(f"mix must be three non-negative probabilities (real, generated, none) summing to 1, got {list(mix)}")
    if bank is not None and run is None:
        raise ValueError("bank is set but run is null: name the disentangler run whose bank it is")


@dataclass
class ReconOptimConfig:
    lr: float = 1e-3
    """Adam learning rate of the encoder, decoder and refiner."""
    merger_lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    milestones: list[int] = field(default_factory=lambda: [150])
    """Epochs at which MultiStepLR multiplies every learning rate by gamma."""
    gamma: float = 0.5
    loss_scale: float = 10.0
    """Upstream multiplies each BCE by 10."""
    input_view_loss: float = 0.0
    """In batches of several views, the weight of one more BCE, on the first (input) view's own coarse volume: the
    single-view path stays a whole prediction while the merger learns to fuse (0: upstream's loss on the fused volume only)."""

    def __post_init__(self) -> None:
        require_at_least(self, 0, "input_view_loss")


@dataclass
class ReconTrainConfig:
    epochs: int = 250
    batch_size: int = 64
    seed: int = 0
    two_stage: bool = False
    """The paper's procedure: single views without the merger first, then the merger (and refiner) with encoder and decoder frozen."""
    stage1_epochs: int = 0
    """With two_stage: epochs of the first stage."""
    stage2_freeze: bool = True
    """With two_stage: keep encoder and decoder frozen in the second stage (False: they train on with the merger, as
    upstream's code does once the merger is switched on, so the coarse volumes learn to fuse)."""
    checkpoint_every: int = 500
    """Steps between resumable checkpoints (one is also written at every epoch end)."""
    average_epochs: int = 0
    """Stochastic weight averaging: the mean of the networks at the last N epoch ends (BatchNorm statistics too) is
    validated after the last epoch and becomes best.pt (0: best.pt is the best epoch's network)."""
    log_every: int = 20
    val_limit: int | None = None
    """Validate on at most this many models (None: the whole split)."""
    precision: Precision = "auto"
    """bf16 autocast or fp32 for the network's forward pass (the BCE stays fp32); auto = bf16 where native (:mod:`mvaug.engine.precision`)."""
    retired_keys: ClassVar[dict] = RETIRED_BF16_SWITCH

    def __post_init__(self) -> None:
        require_at_least(self, 1, "epochs", "batch_size", "checkpoint_every", "log_every")
        if self.two_stage and not 0 < self.stage1_epochs < self.epochs:
            raise ValueError(f"two_stage needs 0 < stage1_epochs < epochs, got stage1_epochs={self.stage1_epochs}, epochs={self.epochs}")
        require_at_least(self, 0, "average_epochs")
        last = self.epochs - self.stage1_epochs if self.two_stage else self.epochs
        if self.average_epochs > last:
            raise ValueError(f"average_epochs ({self.average_epochs}) must be at most the {last} epochs"
                             + (" of the second stage, whose networks have a trained merger" if self.two_stage else ""))


@dataclass
class ReconConfig:
    model: Pix2VoxConfig = field(default_factory=Pix2VoxConfig)
    data: ReconDataConfig = field(default_factory=ReconDataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    optim: ReconOptimConfig = field(default_factory=ReconOptimConfig)
    train: ReconTrainConfig = field(default_factory=ReconTrainConfig)
    synth: SynthViewsConfig = field(default_factory=SynthViewsConfig)
    vgg_weights: str | None = None
    """torchvision vgg16_bn ImageNet weights on disk, loaded into the frozen VGG layers (nothing is downloaded)."""

    def __post_init__(self) -> None:
        if self.synth.run is not None and self.synth.views < self.data.views - 1:
            raise ValueError(f"synth.views ({self.synth.views}) must be at least data.views - 1 ({self.data.views - 1}): "
                             "a generated batch takes all its extra views from the cache")
