"""Choice of the reconstruction loss L_P and of the instance-discrimination features Phi for L_ID.

The paper's L_P is a VGG16 perceptual loss with ImageNet weights, which cannot be downloaded here:
they are used when found on disk. ``recon: auto`` otherwise falls back to ``AUTO_FALLBACK``, the
candidate that gave the best content transfer in our comparison (``docs/results.md``). Every run
logs which loss it used.
"""

from __future__ import annotations

from typing import Callable

import torch

from mvaug.errors import ConfigError

AUTO_FALLBACK = "l1"


def l1_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x - y).abs().mean()


def build_recon_loss(cfg, device: torch.device) -> tuple[Callable[[torch.Tensor, torch.Tensor], torch.Tensor], str]:
    """The loss callable and its name (e.g. 'vgg-imagenet', or 'l1 (auto: no ImageNet VGG16 weights on disk)')."""
    name = cfg.recon
    note = ""
    if name == "auto":
        from mvaug.disentangle.perceptual import find_vgg16_weights

        if find_vgg16_weights(cfg.vgg_weights) is not None:
            name = "vgg-imagenet"
        else:
            name, note = AUTO_FALLBACK, " (auto: no ImageNet VGG16 weights on disk)"
    if name == "l1":
        return l1_loss, name + note
    if name == "l1-msssim":
        from mvaug.disentangle.perceptual import ms_ssim_l1_loss

        return ms_ssim_l1_loss, name + note
    if name in ("vgg-imagenet", "vgg-random"):
        from mvaug.disentangle.perceptual import PerceptualLoss

        loss = PerceptualLoss(source=name.split("-")[1], weights_path=cfg.vgg_weights).to(device)
        return loss, name + note
    if name == "id-features":
        from mvaug.disentangle.perceptual import FeatureL1Loss

        phi = _id_network(cfg, device, "loss.recon: id-features")
        return FeatureL1Loss(phi.feature_maps, cfg.id_layer_weights, pixel_l1=True), name + note
    raise ConfigError(f"unknown reconstruction loss {name!r}")


def build_id_features(cfg, device: torch.device) -> Callable[[torch.Tensor], list[torch.Tensor]] | None:
    """Phi's feature maps for L_ID (Eq. 7), or None when w_id is 0."""
    if cfg.w_id <= 0:
        return None
    return _id_network(cfg, device, "loss.w_id > 0").feature_maps


def _id_network(cfg, device: torch.device, why: str):
    if not cfg.id_network:
        raise ConfigError(f"{why} needs loss.id_network, a checkpoint made by 'mvaug pretrain-id' (or set loss.w_id: 0)")
    from mvaug.disentangle.instance_disc import load_instance_net

    return load_instance_net(cfg.id_network, device)
