"""The 3D decoder: four stride-2 transposed convolutions from 2^3 to 32^3, then a 1^3 one and a sigmoid.

Its output is the coarse volume of each view and the 9-channel "raw feature" (the last 8-channel
activation and the volume) that the merger scores (Xie et al. 2019, Sec. 3.1-3.2). Module names follow
the official release: ``layer1`` .. ``layer4`` = ``Sequential(tconv, bn, relu)``, ``layer5`` = ``(tconv, sigmoid)``;
the transposed convolutions have no bias (upstream TCONV_USE_BIAS = False).
"""

from __future__ import annotations

import torch
from torch import nn

from pix2vox.config import Pix2VoxConfig


def _up(channels_in: int, channels_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose3d(channels_in, channels_out, kernel_size=4, stride=2, padding=1, bias=False),
        nn.BatchNorm3d(channels_out),
        nn.ReLU(),
    )


class Decoder(nn.Module):
    """Features (N, C, s, s) -> raw features (N, 9, 32, 32, 32) and coarse volumes (N, 32, 32, 32) in [0, 1]."""

    def __init__(self, config: Pix2VoxConfig):
        super().__init__()
        spec = config.spec
        widths = (spec.latent_channels, *spec.decoder_channels)
        self.latent_channels = spec.latent_channels
        self.layer1 = _up(widths[0], widths[1])
        self.layer2 = _up(widths[1], widths[2])
        self.layer3 = _up(widths[2], widths[3])
        self.layer4 = _up(widths[3], widths[4])
        self.layer5 = nn.Sequential(nn.ConvTranspose3d(widths[4], 1, kernel_size=1, bias=False), nn.Sigmoid())

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        volume = features.reshape(features.shape[0], self.latent_channels, 2, 2, 2)
        last = self.layer4(self.layer3(self.layer2(self.layer1(volume))))  # (N, 8, 32, 32, 32)
        coarse = self.layer5(last)  # (N, 1, 32, 32, 32)
        return torch.cat([last, coarse], dim=1), coarse.squeeze(1)
