"""Training augmentations of Pix2Vox on batches of views, vectorised over samples and views.

All draws come from one ``torch.Generator`` so that a batch is a pure function of its seed (exact
resume). Differences from upstream: the jitter is applied in a fixed order (brightness, contrast,
saturation) rather than a random one, results are clamped to [0, 1], and a flip mirrors the voxels
too (upstream flips images only, which teaches the network a wrong shape for asymmetric objects).
"""

from __future__ import annotations

import torch

from mvaug.recon.config import AugmentConfig

# AlexNet's PCA lighting noise (Krizhevsky et al. 2012): eigenvalues and eigenvectors (columns) of ImageNet RGB
LIGHTING_EIGVALS = torch.tensor([0.2175, 0.0188, 0.0045])
LIGHTING_EIGVECS = torch.tensor([[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]])
GRAY_WEIGHTS = torch.tensor([0.299, 0.587, 0.114])  # RGB -> luma


def composite(rgba: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """RGBA (..., 4, H, W) over ``background`` (..., 3) -> RGB (..., 3, H, W)."""
    alpha = rgba[..., 3:, :, :]
    return rgba[..., :3, :, :] * alpha + background[..., :, None, None] * (1.0 - alpha)


def _uniform(shape: tuple[int, ...], low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=generator)


def _gray(images: torch.Tensor) -> torch.Tensor:
    """Luma (..., 1, H, W) of RGB (..., 3, H, W)."""
    return torch.einsum("...chw,c->...hw", images, GRAY_WEIGHTS.to(images)).unsqueeze(-3)


def augment_views(rgba: torch.Tensor, voxels: torch.Tensor, config: AugmentConfig, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment views ``rgba`` (B, V, 4, H, W) in [0, 1] and their voxels (B, X, Y, Z); returns RGB (B, V, 3, H, W) and voxels.

    Per view: a random light background, and with ``low_res_prob`` a reduction to ``low_res_size`` px and back.
    Per sample (all its views alike): colour jitter, lighting noise, a left-right mirror of images and voxels,
    a channel permutation.
    """
    batch, views = rgba.shape[:2]
    low, high = config.background_range
    images = composite(rgba, _uniform((batch, views, 3), low, high, generator))
    if config.low_res_prob:
        pick = torch.rand((batch, views), generator=generator) < config.low_res_prob
        pick[:, 0] &= not config.low_res_sharp_first
        images = _low_res(images, config.low_res_size, pick)
    per_sample = (batch, 1, 1, 1, 1)
    if config.brightness:
        images = images * _uniform(per_sample, 1 - config.brightness, 1 + config.brightness, generator)
    if config.contrast:
        factor = _uniform(per_sample, 1 - config.contrast, 1 + config.contrast, generator)
        mean = _gray(images).mean(dim=(-3, -2, -1), keepdim=True)
        images = images * factor + mean * (1 - factor)
    if config.saturation:
        factor = _uniform(per_sample, 1 - config.saturation, 1 + config.saturation, generator)
        images = images * factor + _gray(images) * (1 - factor)
    if config.lighting_noise:
        alpha = torch.randn((batch, 3), generator=generator) * config.lighting_noise
        offset = (alpha * LIGHTING_EIGVALS) @ LIGHTING_EIGVECS.T  # (B, 3)
        images = images + offset[:, None, :, None, None]
    images = images.clamp(0.0, 1.0)
    if config.flip:
        mirror = torch.rand(batch, generator=generator) < 0.5
        images = torch.where(mirror[:, None, None, None, None], images.flip(-1), images)
        voxels = torch.where(mirror[:, None, None, None], voxels.flip(-1), voxels)
    if config.permute_rgb:
        order = torch.argsort(torch.rand((batch, 3), generator=generator), dim=1)
        images = torch.gather(images, 2, order[:, None, :, None, None].expand_as(images))
    return images, voxels


def _low_res(images: torch.Tensor, size: int, pick: torch.Tensor) -> torch.Tensor:
    """Views (B, V, 3, H, W) where ``pick`` (B, V) holds: reduced to ``size`` px (area) and scaled back up (bilinear)."""
    if size >= images.shape[-1]:
        return images
    flat = images.flatten(0, 1)
    small = torch.nn.functional.interpolate(flat, size=(size, size), mode="area")
    blurred = torch.nn.functional.interpolate(small, size=images.shape[-2:], mode="bilinear", align_corners=False).clamp(0.0, 1.0)
    return torch.where(pick[..., None, None, None], blurred.reshape(images.shape), images)
