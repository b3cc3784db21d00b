"""Pix2Vox: encoder and decoder per view, context-aware merger across views, optional refiner.

The views of all samples are folded into one batch (B * V images) for the encoder, the decoder and
the merger's scoring network: there is no Python loop over views.
"""

from __future__ import annotations

import torch
from torch import nn

from pix2vox.config import Pix2VoxConfig
from pix2vox.decoder import Decoder
from pix2vox.encoder import Encoder
from pix2vox.merger import Merger
from pix2vox.refiner import Refiner

MEAN = STD = 0.5  # upstream DATASET.MEAN / STD, on images scaled to [0, 1]
COMPONENTS = ("encoder", "decoder", "merger", "refiner")


class Pix2Vox(nn.Module):
    """Views (B, V, 3, H, W) in [0, 1], RGB -> volumes (B, 32, 32, 32) of occupancy probabilities."""

    def __init__(self, config: Pix2VoxConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.merger = Merger(config)
        self.refiner = Refiner(config) if config.has_refiner else None

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """[0, 1] RGB (..., 3, H, W) -> the network's input: (x - 0.5) / 0.5, channels reversed if ``bgr_input``."""
        if self.config.bgr_input:
            images = images.flip(-3)
        return (images - MEAN) / STD

    def forward(self, images: torch.Tensor, use_merger: bool | None = None, frozen_views: bool = False) -> dict[str, torch.Tensor]:
        """Returns ``coarse`` (B, V, 32, 32, 32) per view, ``merged`` (B, 32, 32, 32) and, with a refiner, ``refined``.

        ``use_merger`` (default: the config's) False averages the coarse volumes instead of fusing them.
        ``frozen_views``: encoder and decoder run as at test time (eval mode, no gradient), so that only the merger
        and refiner learn from this batch.
        """
        if not frozen_views:
            return self.fuse(*self.per_view(images), use_merger=use_merger)
        modes = self.encoder.training, self.decoder.training
        self.encoder.eval()
        self.decoder.eval()
        with torch.no_grad():
            raw, coarse = self.per_view(images)
        self.encoder.train(modes[0])
        self.decoder.train(modes[1])
        return self.fuse(raw, coarse, use_merger=use_merger)

    def per_view(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder and decoder on every view of ``images`` (B, V, 3, H, W): raw features (B, V, 9, 32, 32, 32) and coarse volumes (B, V, 32, 32, 32)."""
        if images.ndim != 5 or images.shape[2] != 3:
            raise ValueError(f"expected views of shape (B, V, 3, H, W), got {tuple(images.shape)}")
        batch, views = images.shape[:2]
        raw, coarse = self.decoder(self.encoder(self.normalize(images.flatten(0, 1))))
        return raw.reshape(batch, views, *raw.shape[1:]), coarse.reshape(batch, views, *coarse.shape[1:])

    def fuse(self, raw: torch.Tensor, coarse: torch.Tensor, use_merger: bool | None = None) -> dict[str, torch.Tensor]:
        """Merger (or mean) and refiner on the per-view outputs of :meth:`per_view`; the dict of :meth:`forward`."""
        merge = self.config.use_merger if use_merger is None else use_merger
        merged = self.merger(raw, coarse) if merge else coarse.mean(dim=1)
        out = {"coarse": coarse, "merged": merged}
        if self.refiner is not None:
            out["refined"] = self.refiner(merged)
        return out

    @staticmethod
    def final(outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The network's answer (B, 32, 32, 32): the refined volume when there is one, else the merged one."""
        return outputs.get("refined", outputs["merged"])

    def components(self) -> dict[str, nn.Module]:
        """The sub-networks that have a state dict in an official checkpoint, by name."""
        return {name: getattr(self, name) for name in COMPONENTS if getattr(self, name) is not None}


def init_weights(module: nn.Module) -> None:
    """Upstream's initialisation (Kaiming-normal convolutions, zero biases, unit BatchNorm, N(0, 0.01) linear
    layers) with one fix: transposed convolutions use their true fan-in (in_channels * k^3, ``mode="fan_out"`` of
    the stored weight). Upstream's default mode reads it as out_channels * k^3, which for the decoder's last
    1^3 layer (8 -> 1) means std 1.41: saturated sigmoids at the start, and on short runs a decoder stuck at 0.5.
    """
    if isinstance(module, (nn.Conv2d, nn.Conv3d, nn.ConvTranspose3d)):
        nn.init.kaiming_normal_(module.weight, mode="fan_out" if isinstance(module, nn.ConvTranspose3d) else "fan_in")
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.BatchNorm3d)):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.01)
        nn.init.zeros_(module.bias)


def build_pix2vox(config: Pix2VoxConfig | None = None, **overrides) -> Pix2Vox:
    """A freshly initialised network (upstream's initialisation) for ``config`` or ``Pix2VoxConfig(**overrides)``."""
    model = Pix2Vox(config or Pix2VoxConfig(**overrides))
    model.apply(init_weights)
    return model


def count_parameters(module: nn.Module) -> int:
    """All parameters, frozen VGG layers included (the count the paper reports)."""
    return sum(p.numel() for p in module.parameters())
