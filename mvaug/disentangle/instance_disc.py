"""Instance discrimination network Phi (Wu et al. 2018) for the disentangler's L_ID loss.

Wu et al., "Unsupervised feature learning via non-parametric instance discrimination" (CVPR 2018),
treat every training image as its own class. A CNN maps an image x to a unit vector
v = f(x) / ||f(x)||, and a memory bank holds one running unit vector v_i per training image. The
probability that a view with feature v shows image i is the non-parametric softmax

    P(i | v) = exp(v_i^T v / tau) / sum_j exp(v_j^T v / tau)                     (Wu et al., Eq. 2)

and training minimises -log P(i | f(x_i)) over random augmented views x_i of image i. After each
step the bank rows of the batch move towards the new features,
v_i <- normalise(m v_i + (1 - m) f_i), with m = 0.5 as in the authors' released training setup
(the paper's Sec. 3.1 describes plain replacement, m = 0). The full softmax over the bank is
used throughout; Wu et al.'s NCE approximation (Sec. 3.2) is not implemented: even a million
images (3D-R2N2's ShapeNet renders are about 44k models x 24 views) make a 0.5 GB bank and a
0.5 GB (128 x N) logit matrix per batch, which a GPU holds.

The trained network serves the disentangler as a fixed feature extractor: ``feature_maps`` gives
the activations for the perceptual distance of L_ID.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from mvaug.config import require_at_least, require_fraction
from mvaug.engine.loop import Schedule, TrainingLoop, TrainingTask, every
from mvaug.engine.optimizer import adam
from mvaug.engine.precision import Precision, autocast, resolve_precision
from mvaug.errors import ConfigError, DataError

CHECKPOINT_FORMAT = "mvaug-instance-disc-v1"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class AugmentConfig:
    """Random views of a training image (the augmentations of Wu et al.'s ImageNet runs)."""

    crop_scale: tuple[float, float] = (0.2, 1.0)
    """Range of the area fraction kept by the random resized crop (aspect ratio in [3/4, 4/3])."""
    flip_p: float = 0.5
    """Probability of a horizontal flip."""
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.4)
    """Colour jitter strengths: brightness, contrast, saturation, hue (as torchvision's ColorJitter)."""
    grayscale_p: float = 0.2
    """Probability of turning a view grey (still 3 channels)."""

    def __post_init__(self) -> None:
        low, high = self.crop_scale
        if not 0.0 < low <= high <= 1.0:
            raise ValueError(f"crop_scale must satisfy 0 < low <= high <= 1, got {self.crop_scale}")
        require_fraction(self, "flip_p", "grayscale_p")
        if min(self.jitter) < 0 or self.jitter[3] > 0.5:
            raise ValueError(f"jitter strengths must be >= 0 and the hue strength <= 0.5, got {self.jitter}")


@dataclass(frozen=True)
class InstanceDiscConfig:
    """Training of the instance discrimination network (defaults of Wu et al. 2018, Sec. 4, but for the optimiser)."""

    feature_dim: int = 128
    """Length of the L2-normalised embedding."""
    temperature: float = 0.07
    """Softmax temperature tau of Eq. 2."""
    memory_momentum: float = 0.5
    """m in v_i <- normalise(m v_i + (1 - m) f_i); 0 replaces a bank row by the new feature."""
    epochs: int = 100
    """Passes over the training images."""
    batch_size: int = 128
    """Images per step."""
    lr: float = 1e-3
    """Adam learning rate (see :func:`pretrain_instance_discrimination` for why Adam, not Wu et al.'s SGD)."""
    lr_milestones: tuple[float, ...] = (0.6, 0.8)
    """Fractions of the epochs after which the learning rate drops tenfold (Wu et al.: epochs 120, 160 of 200)."""
    image_size: int = 64
    """Side of the square training views in pixels; the images must have this size."""
    seed: int = 0
    """Seeds the network, the bank, the batch order and the augmentations."""
    precision: Precision = "auto"
    """bf16 autocast or fp32 for the network's forward pass (the instance loss stays fp32; :mod:`mvaug.engine.precision`)."""
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    """Random views of each image."""

    def __post_init__(self) -> None:
        require_at_least(self, 1, "feature_dim", "epochs", "batch_size", "image_size")
        for name in ("temperature", "lr"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.memory_momentum < 1.0:
            raise ValueError(f"memory_momentum must lie in [0, 1), got {self.memory_momentum}")
        if any(not 0.0 < f <= 1.0 for f in self.lr_milestones):
            raise ValueError(f"lr_milestones must be fractions in (0, 1], got {self.lr_milestones}")


class InstanceDiscNet(nn.Module):
    """ResNet-18 embedding network Phi: float images (B, 3, H, W) in [0, 1] -> unit vectors (B, D).

    torchvision's resnet18 (random initialisation) adapted to small images as is usual for
    CIFAR-size inputs: the 7x7 stride-2 stem convolution becomes 3x3 stride 1 and the max-pool is
    dropped, so a 64x64 image reaches layer4 at 8x8 rather than 2x2. The final fully connected
    layer is the linear head to ``feature_dim``; inputs are normalised with ImageNet statistics here.
    """

    def __init__(self, feature_dim: int = 128):
        super().__init__()
        from torchvision.models import resnet18

        net = resnet18(weights=None, num_classes=feature_dim)
        net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
        net.maxpool = nn.Identity()
        self.backbone = net
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Activations for a perceptual distance: after the stem conv-bn-relu and after layer1..layer4.

        For (B, 3, S, S) input: (B, 64, S, S), (B, 64, S, S), (B, 128, S/2, S/2), (B, 256, S/4, S/4),
        (B, 512, S/8, S/8).
        """
        net = self.backbone
        h = net.relu(net.bn1(net.conv1((x - self.mean) / self.std)))
        maps = [h]
        for layer in (net.layer1, net.layer2, net.layer3, net.layer4):
            h = layer(h)
            maps.append(h)
        return maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """v = f(x) / ||f(x)||: (B, 3, H, W) in [0, 1] -> (B, feature_dim)."""
        pooled = torch.flatten(self.backbone.avgpool(self.feature_maps(x)[-1]), 1)
        return F.normalize(self.backbone.fc(pooled), dim=1)


class MemoryBank(nn.Module):
    """One running unit vector per training image, ``vectors`` (N, D), and the instance loss against it."""

    def __init__(self, initial: torch.Tensor, temperature: float, momentum: float):
        """``initial`` (N, D): starting rows, normalised here."""
        super().__init__()
        self.temperature = temperature
        self.momentum = momentum
        self.register_buffer("vectors", F.normalize(initial.detach().float(), dim=1).clone())

    def loss(self, features: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Mean -log P(i | v) (Eq. 2) of unit features v (B, D) whose images are rows ``index`` (B,) of the bank."""
        logits = features @ self.vectors.T / self.temperature  # (B, N): log of Eq. 2's numerators
        return F.cross_entropy(logits, index)

    @torch.no_grad()
    def update(self, features: torch.Tensor, index: torch.Tensor) -> None:
        """v_i <- normalise(m v_i + (1 - m) f_i) for the rows ``index`` (B,) of distinct images."""
        mixed = self.momentum * self.vectors[index] + (1.0 - self.momentum) * features.detach()
        self.vectors[index] = F.normalize(mixed, dim=1)


class AugmentedViews(torch.utils.data.Dataset):
    """(random view uint8 (3, S, S), index) of each image of a uint8 (N, 3, H, W) tensor."""

    def __init__(self, images: torch.Tensor, size: int, augment: AugmentConfig):
        from torchvision.transforms import v2

        self.images = images
        self.transform = v2.Compose(
            [
                v2.RandomResizedCrop(size, scale=augment.crop_scale, antialias=True),
                v2.RandomHorizontalFlip(augment.flip_p),
                v2.ColorJitter(*augment.jitter),
                v2.RandomGrayscale(augment.grayscale_p),
            ]
        )

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(self.images[index]), index


def view_loader(
    images: torch.Tensor, config: InstanceDiscConfig, seed: int, shuffle: bool, workers: int = 0, batch_size: int | None = None
) -> torch.utils.data.DataLoader:
    """Batches of (views uint8 (B, 3, S, S), indices (B,)).

    The transforms draw from torch's RNG: the process's global one with ``workers=0`` (seed it),
    otherwise each worker's, seeded from ``seed``. Output is reproducible for a fixed seed and
    worker count. A last partial batch is dropped when there is a full one before it, so batch
    norm never sees a batch of one.
    """
    batch_size = batch_size or config.batch_size
    return torch.utils.data.DataLoader(
        AugmentedViews(images, config.image_size, config.augment),
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=shuffle and len(images) > batch_size,
        num_workers=workers,
        multiprocessing_context="spawn" if workers else None,  # never fork a process whose torch threads run
        generator=torch.Generator().manual_seed(seed),
    )


@torch.no_grad()
def embed(net: InstanceDiscNet, images: torch.Tensor, device: str | torch.device = "cpu", batch_size: int = 256) -> torch.Tensor:
    """Features (N, D) of un-augmented uint8 images (N, 3, H, W), with the network in eval mode."""
    with _eval_mode(net):
        chunks = [net(images[i : i + batch_size].to(device).float().div_(255.0)) for i in range(0, len(images), batch_size)]
    return torch.cat(chunks)


@torch.no_grad()
def score_views(
    net: InstanceDiscNet, images: torch.Tensor, bank: torch.Tensor, config: InstanceDiscConfig, device: str | torch.device = "cpu", workers: int = 0
) -> dict[str, float]:
    """Instance loss and top-1 retrieval of one seeded augmented view of every image against ``bank`` (N, D).

    ``loss``: mean -log P(i | v) of Eq. 2 with the full softmax over the bank. ``retrieval_top1``:
    the fraction of images whose view's nearest bank row (largest cosine) is their own.
    """
    total, hits = 0.0, 0
    with _eval_mode(net), _seeded(config.seed, torch.device(device)):
        for views, index in view_loader(images, config, config.seed, shuffle=False, workers=workers, batch_size=256):
            index = index.to(device)
            logits = net(views.to(device).float().div_(255.0)) @ bank.T / config.temperature
            total += F.cross_entropy(logits, index, reduction="sum").item()
            hits += int((logits.argmax(1) == index).sum())
    return {"loss": total / len(images), "retrieval_top1": hits / len(images)}


def pretrain_instance_discrimination(
    images: torch.Tensor,
    config: InstanceDiscConfig,
    out_path: str | os.PathLike,
    device: str | torch.device = "cpu",
    progress: bool = True,
    workers: int = 0,
) -> dict[str, float]:
    """Train Phi on uint8 images (N, 3, S, S), S = ``config.image_size``, and write its checkpoint.

    Choices that differ from Wu et al.: the bank starts from the untrained network's features of
    the clean images, not random vectors, so the first epoch's loss already measures
    discrimination; and the optimiser is Adam, not SGD (lr 0.03, momentum 0.9). With a few
    thousand images per epoch instead of ImageNet's 1.28 million, SGD left the embeddings of a
    small test set collapsed (all pairwise cosines ~0.99, loss ~log N) for more than ten epochs,
    and at a higher rate collapsed them completely, while Adam separated them within three
    epochs. The learning rate drops tenfold at ``config.lr_milestones``.

    Returns ``first_epoch_loss`` and ``loss`` (mean training loss of the first and last epochs),
    ``retrieval_top1`` (:func:`score_views` of the final network against the memory bank),
    ``images_per_second`` (training only) and ``seconds``.
    """
    _check_images(images, config.image_size)
    device = torch.device(device)
    with _seeded(config.seed, device):
        net = InstanceDiscNet(config.feature_dim).to(device)
        bank = MemoryBank(embed(net, images, device), config.temperature, config.memory_momentum)
        task = InstanceDiscrimination(net, bank, view_loader(images, config, config.seed, shuffle=True, workers=workers), device,
                                     resolve_precision(config.precision, device))
        optimizer = adam({"network": net.parameters()}, config.lr)
        epoch = task.steps_per_epoch
        milestones = sorted({round(f * config.epochs) for f in config.lr_milestones})
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.1)  # milestones in epochs
        schedule = Schedule(config.epochs * epoch, log=every(1), scheduler=every(epoch, at_end=False))
        loop = TrainingLoop(task, schedule, optimizer, device, scheduler=scheduler, progress=progress, errors_name=out_path)
        loop.run()
        scores = score_views(net, images, bank.vectors, config, device, workers)
    save_instance_net(net, config, len(images), out_path)
    return {
        "first_epoch_loss": task.epoch_losses[0],
        "loss": task.epoch_losses[-1],
        "retrieval_top1": scores["retrieval_top1"],
        "images_per_second": loop.images_seen / loop.seconds,
        "seconds": loop.seconds,
    }


class InstanceDiscrimination(TrainingTask):
    """Training of Phi against the memory bank: the loss of Eq. 2 per batch, then the bank rows move (after the step)."""

    label = "instance discrimination"

    def __init__(self, net: InstanceDiscNet, bank: MemoryBank, loader: torch.utils.data.DataLoader, device: torch.device, precision: str = "fp32"):
        self.model, self.bank, self.loader, self.device, self.precision = net, bank, loader, device, precision
        self.steps_per_epoch = len(loader)
        self.epoch_losses: list[float] = []
        self._epoch_sum, self._epoch_count = 0.0, 0
        self._features = self._index = None

    def batches(self, start: int, end: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Epoch after epoch of the shuffling loader (a run starts at step 0: the loader's order is not resumable)."""
        if start != 0:
            raise ValueError("instance discrimination trains in one go, from step 0")
        epochs = itertools.chain.from_iterable(self.loader for _ in range(-(-end // self.steps_per_epoch)))
        return itertools.islice(epochs, end)

    def batch_images(self, batch) -> int:
        return len(batch[1])

    def losses(self, batch) -> dict[str, torch.Tensor]:
        views, index = batch
        with autocast(self.device, self.precision):
            features = self.model(views.to(self.device).float().div_(255.0))
        self._features, self._index = features.float(), index.to(self.device)
        return {"instance": self.bank.loss(self._features, self._index)}

    def after_step(self, step: int, losses: dict[str, torch.Tensor]) -> None:
        self.bank.update(self._features, self._index)
        self._epoch_sum += float(losses["instance"]) * len(self._index)
        self._epoch_count += len(self._index)
        if step % self.steps_per_epoch == 0:
            self.epoch_losses.append(self._epoch_sum / self._epoch_count)
            self._epoch_sum, self._epoch_count = 0.0, 0


def save_instance_net(net: InstanceDiscNet, config: InstanceDiscConfig, num_images: int, path: str | os.PathLike) -> None:
    """Write {format, state_dict, config (plain dict), num_images}, atomically."""
    from mvaug.config import config_to_dict
    from mvaug.io.checkpoint import save_checkpoint

    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    save_checkpoint(path, {"format": CHECKPOINT_FORMAT, "state_dict": state, "config": config_to_dict(config), "num_images": num_images})


def load_instance_net(path: str | os.PathLike, device: str | torch.device = "cpu") -> InstanceDiscNet:
    """The network of a :func:`save_instance_net` checkpoint, in eval mode with frozen parameters.

    A missing, corrupt or foreign file raises :class:`DataError` naming it.
    """
    from mvaug.config import load_config

    path = Path(path)
    checkpoint = _read_checkpoint(path)
    try:
        config = load_config(InstanceDiscConfig, checkpoint["config"])
    except (ConfigError, TypeError) as err:
        raise DataError(f"invalid training config in the checkpoint: {err}", path) from None
    net = InstanceDiscNet(config.feature_dim)
    try:
        net.load_state_dict(checkpoint["state_dict"])
    except (RuntimeError, TypeError, AttributeError) as err:
        raise DataError(f"weights do not fit InstanceDiscNet: {str(err).splitlines()[0]}", path) from None
    net.requires_grad_(False)
    return net.eval().to(device)


def _read_checkpoint(path: Path) -> dict:
    from mvaug.io.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(path, CHECKPOINT_FORMAT, what="instance discrimination checkpoint (written by mvaug pretrain-id)")
    missing = [k for k in ("state_dict", "config") if k not in checkpoint]
    if missing:
        raise DataError(f"checkpoint lacks {', '.join(missing)}", path)
    return checkpoint


def _check_images(images: torch.Tensor, size: int) -> None:
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3 or images.shape[0] < 2:
        raise ValueError(f"expected uint8 images (N >= 2, 3, H, W), got {images.dtype} {tuple(images.shape)}")
    if images.shape[2:] != (size, size):
        raise ValueError(f"images are {tuple(images.shape[2:])} but config.image_size is {size}")


@contextlib.contextmanager
def _eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """The module in eval mode inside the block, its previous mode restored after."""
    was_training = module.training
    try:
        yield module.eval()
    finally:
        module.train(was_training)


@contextlib.contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Fork torch's RNG (CPU, and ``device`` when it is a GPU) and seed it; the caller's state returns after."""
    cuda = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield
