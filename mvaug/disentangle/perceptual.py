"""Reconstruction losses for the disentangler's generator.

The main one follows LORD (Gabbay & Hoshen, ICLR 2020), whose reconstruction loss, taken from
Hoshen et al.'s GLANN (2019), is the pixel L1 plus the L1 distances of VGG16 activations at
conv1_2, conv2_2, conv3_2, conv4_3 (after their ReLUs) and pool5:

    L_rec(x, y) = mean|x - y| + sum_k w_k mean|phi_k(x) - phi_k(y)|,    w_k = 1 by default.

ImageNet VGG16 weights are read from disk only (nothing is downloaded). Where they are absent,
two stand-ins exist: :func:`ms_ssim_l1_loss` (L1 + (1 - MS-SSIM), Wang et al. 2003) and
:class:`FeatureL1Loss` over any feature extractor, e.g. the instance discrimination network's
``feature_maps`` (:mod:`mvaug.disentangle.instance_disc`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mvaug.errors import ConfigError, DataError
from mvaug.io.checkpoint import read_torch_file

VGG16_FILE = "vgg16-397923af.pth"  # the file name torchvision gives the ImageNet VGG16 weights
VGG_LAYERS = {"relu1_2": 3, "relu2_2": 8, "relu3_2": 13, "relu4_3": 22, "pool5": 30}  # indices in vgg16().features
VGG_CHANNELS = (64, 128, 256, 512, 512)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MS_SSIM_EXPONENTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. 2003's calibrated exponents, finest scale first
PerceptualSource = Literal["imagenet", "random", "none"]
FeatureFn = Callable[[torch.Tensor], Sequence[torch.Tensor]]


class VGGFeatures(nn.Module):
    """Frozen VGG16 convolutional trunk: images (B, 3, H, W) in [0, 1] -> the 5 activations of
    :data:`VGG_LAYERS`, shapes (B, 64, H, W), (B, 128, H/2, W/2), (B, 256, H/4, W/4), (B, 512, H/8, W/8),
    (B, 512, H/32, W/32).

    ``features`` is torchvision's ``vgg16(weights=None).features`` (31 layers: the trunk ends with
    pool5), initialised as torchvision does (Kaiming-normal convolutions, zero biases) from the global
    RNG. The classifier is never built: the trunk is made on the meta device and only its layers get
    real storage. Inputs are normalised with ImageNet statistics here.
    """

    def __init__(self):
        super().__init__()
        from torchvision.models import vgg16

        with torch.device("meta"):
            features = vgg16(weights=None).features
        self.features = features.to_empty(device="cpu")
        for layer in self.features:
            if isinstance(layer, nn.Conv2d):
                nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(layer.bias)
        self.requires_grad_(False)
        self.eval()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self._taps = frozenset(VGG_LAYERS.values())

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = (x - self.mean) / self.std
        maps = []
        for index, layer in enumerate(self.features):
            h = layer(h)
            if index in self._taps:
                maps.append(h)
        return maps


def find_vgg16_weights(explicit_path: str | os.PathLike | None = None) -> Path | None:
    """The ImageNet VGG16 weights on disk: ``explicit_path``, else ``<torch hub dir>/checkpoints/vgg16-397923af.pth``.

    An explicit path that does not exist raises :class:`DataError` naming it; without one, None
    when the hub cache lacks the file.
    """
    if explicit_path is not None:
        path = Path(explicit_path)
        if not path.is_file():
            raise DataError("VGG16 weights file not found", path)
        return path
    cached = Path(torch.hub.get_dir()) / "checkpoints" / VGG16_FILE
    return cached if cached.is_file() else None


def load_vgg16_weights(module: VGGFeatures, path: str | os.PathLike) -> None:
    """Load a torchvision-format VGG16 state dict (``features.N.weight`` ...; classifier keys ignored).

    A corrupt file, or one whose trunk does not match VGG16's, raises :class:`DataError` naming it.
    """
    state = read_torch_file(path, "VGG16 weights file")
    if not isinstance(state, dict):
        raise DataError(f"expected a VGG16 state dict, found {type(state).__name__}", path)
    trunk = {k: v for k, v in state.items() if isinstance(k, str) and k.startswith("features.")}
    try:
        module.load_state_dict(trunk)
    except RuntimeError as err:
        raise DataError(f"not torchvision VGG16 weights: {_first_problem(err)}", path) from None


class PerceptualLoss(nn.Module):
    """LORD's reconstruction loss: pixel L1 plus weighted L1 of the VGG16 activations (module docstring).

    ``source``: "imagenet" (ImageNet weights from ``weights_path`` or the torch hub cache),
    "random" (VGG16 with random weights drawn from ``seed``), "none" (pixel L1 only).
    """

    def __init__(
        self,
        source: PerceptualSource = "imagenet",
        weights_path: str | os.PathLike | None = None,
        layer_weights: Sequence[float] = (1.0,) * len(VGG_LAYERS),
        seed: int = 0,
    ):
        super().__init__()
        if source not in ("imagenet", "random", "none"):
            raise ConfigError(f"perceptual loss source must be 'imagenet', 'random' or 'none', got {source!r}")
        if len(layer_weights) != len(VGG_LAYERS):
            raise ConfigError(f"layer_weights needs {len(VGG_LAYERS)} values ({', '.join(VGG_LAYERS)}), got {len(layer_weights)}")
        self.source = source
        self.layer_weights = tuple(float(w) for w in layer_weights)
        self.vgg = None if source == "none" else _build_vgg(source, weights_path, seed)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Scalar loss of images x, y (B, 3, H, W) in [0, 1]; gradients flow to both."""
        loss = (x - y).abs().mean()
        if self.vgg is not None:
            loss = loss + weighted_feature_l1(self.vgg(x), self.vgg(y), self.layer_weights)
        return loss


def _build_vgg(source: PerceptualSource, weights_path: str | os.PathLike | None, seed: int) -> VGGFeatures:
    if source == "random":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return VGGFeatures()
    path = find_vgg16_weights(weights_path)
    if path is None:
        cache = Path(torch.hub.get_dir()) / "checkpoints" / VGG16_FILE
        raise ConfigError(
            f"ImageNet VGG16 weights not found (nothing is downloaded): pass --vgg-weights PATH or put {VGG16_FILE} at {cache}"
        )
    vgg = VGGFeatures()
    load_vgg16_weights(vgg, path)
    return vgg


class FeatureL1Loss(nn.Module):
    """[mean|x - y| +] sum_k w_k mean|phi_k(x) - phi_k(y)| for any ``feature_fn`` returning a list of maps.

    E.g. ``FeatureL1Loss(instance_net.feature_maps, pixel_l1=True)``, LORD's loss with Phi in place
    of VGG16. ``weights`` default to 1 per map. The feature network is not registered here: the
    caller puts it on the right device and freezes it.
    """

    def __init__(self, feature_fn: FeatureFn, weights: Sequence[float] | None = None, pixel_l1: bool = False):
        super().__init__()
        self.feature_fn = feature_fn
        self.weights = None if weights is None else tuple(float(w) for w in weights)
        self.pixel_l1 = pixel_l1

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        features_x, features_y = self.feature_fn(x), self.feature_fn(y)
        loss = weighted_feature_l1(features_x, features_y, self.weights or (1.0,) * len(features_x))
        return loss + (x - y).abs().mean() if self.pixel_l1 else loss


def weighted_feature_l1(features_x: Sequence[torch.Tensor], features_y: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
    """sum_k w_k mean|a_k - b_k| over paired feature maps."""
    if not len(features_x) == len(features_y) == len(weights):
        raise ValueError(f"{len(features_x)} and {len(features_y)} feature maps for {len(weights)} weights")
    terms = [w * (a - b).abs().mean() for w, a, b in zip(weights, features_x, features_y)]
    return torch.stack(terms).sum()


def ms_ssim(x: torch.Tensor, y: torch.Tensor, window_size: int = 11, sigma: float = 1.5, scales: int | None = None) -> torch.Tensor:
    """Multi-scale SSIM (Wang, Simoncelli & Bovik 2003) per image: (B, C, H, W) in [0, 1] -> (B,).

    MS-SSIM = [l_M]^a_M * prod_{j=1..M} [c_j s_j]^b_j, with the SSIM terms of Wang et al. 2004
    (Gaussian window ``window_size``/``sigma``, K1 = 0.01, K2 = 0.03, data range 1) averaged
    over valid window positions per channel, 2x2 average pooling between scales, and the result
    averaged over channels. Wang et al. use 5 scales, which needs images of 16 x 11 = 176 px;
    by default ``scales`` is the most (up to 5) at which the coarsest image still holds one window,
    3 for 64x64 (64, 32, 16 px), with the exponents of the finest scales of :data:`MS_SSIM_EXPONENTS`
    renormalised to sum to 1. Negative contrast-structure terms are clamped to a small positive
    value before the fractional powers. It is computed in fp32 (or the inputs' wider type) with autocast
    off: in bfloat16 the variances E[x^2] - E[x]^2 cancel to 0 or below and the quotients become infinite.
    """
    with torch.autocast(device_type=x.device.type, enabled=False):
        wide = torch.promote_types(torch.promote_types(x.dtype, y.dtype), torch.float32)
        return _ms_ssim_wide(x.to(wide), y.to(wide), window_size, sigma, scales)


def _ms_ssim_wide(x: torch.Tensor, y: torch.Tensor, window_size: int, sigma: float, scales: int | None) -> torch.Tensor:
    """:func:`ms_ssim` on inputs already in fp32 or wider."""
    side = min(x.shape[-2:])
    if scales is None:
        scales = 0
        while scales < len(MS_SSIM_EXPONENTS) and side // 2**scales >= window_size:
            scales += 1
    if not 1 <= scales <= len(MS_SSIM_EXPONENTS) or side // 2 ** (scales - 1) < window_size:
        raise ValueError(f"images of {tuple(x.shape[-2:])} px are too small for {max(scales, 1)} MS-SSIM scale(s) with a {window_size} px window")
    exponents = torch.tensor(MS_SSIM_EXPONENTS[:scales], dtype=x.dtype, device=x.device)
    exponents = exponents / exponents.sum()
    window = _gaussian_window(window_size, sigma, x.shape[1], x.dtype, x.device)
    factors = []
    for scale in range(scales):
        if scale:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
        ssim, contrast_structure = _ssim_terms(x, y, window)
        factors.append(ssim if scale == scales - 1 else contrast_structure)
    stacked = torch.stack(factors).clamp(min=1e-6)  # (scales, B, C)
    return torch.prod(stacked ** exponents.view(-1, 1, 1), dim=0).mean(dim=1)


def ms_ssim_l1_loss(x: torch.Tensor, y: torch.Tensor, ssim_weight: float = 1.0) -> torch.Tensor:
    """mean|x - y| + ssim_weight * mean(1 - MS-SSIM(x, y)) for images (B, C, H, W) in [0, 1]; see :func:`ms_ssim`."""
    return (x - y).abs().mean() + ssim_weight * (1.0 - ms_ssim(x, y)).mean()


def _gaussian_window(size: int, sigma: float, channels: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Normalised 2D Gaussian (channels, 1, size, size) for a depthwise convolution."""
    offsets = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    line = torch.exp(-(offsets**2) / (2 * sigma**2))
    line = line / line.sum()
    return torch.outer(line, line).expand(channels, 1, size, size).contiguous()


def _ssim_terms(x: torch.Tensor, y: torch.Tensor, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean SSIM l*c*s and mean contrast-structure c*s over valid window positions (Wang et al. 2004), each (B, C)."""
    c1, c2 = 0.01**2, 0.03**2
    blur = lambda t: F.conv2d(t, window, groups=t.shape[1])  # noqa: E731  valid positions only
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    contrast_structure = (2 * cov + c2) / (var_x + var_y + c2)
    luminance = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
    return (luminance * contrast_structure).mean(dim=(-2, -1)), contrast_structure.mean(dim=(-2, -1))


def _first_problem(err: RuntimeError) -> str:
    """The first specific line of a load_state_dict error (a missing key or a shape mismatch)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[1] if len(lines) > 1 else lines[0]
