"""The refiner of Pix2Vox-A: a 3D U-Net with a fully connected bottleneck (Xie et al. 2019, Sec. 3.4).

Encoder: three Conv3d(4^3, padding 2) + BatchNorm3d + LeakyReLU + MaxPool3d(2) blocks, 32^3 -> 4^3
(32, 64, 128 channels); bottleneck: Linear(8192, 2048) + ReLU, Linear(2048, 8192) + ReLU; decoder: three
stride-2 transposed convolutions with U-Net skip additions; the output is the mean of the input
volume and the decoded one.
"""

from __future__ import annotations

import torch
from torch import nn

from pix2vox.config import Pix2VoxConfig


class Refiner(nn.Module):
    """Fused volume (B, 32, 32, 32) -> refined volume (B, 32, 32, 32) in [0, 1]."""

    def __init__(self, config: Pix2VoxConfig):
        super().__init__()
        leaky = config.leaky_value

        def down(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv3d(c_in, c_out, kernel_size=4, padding=2), nn.BatchNorm3d(c_out), nn.LeakyReLU(leaky), nn.MaxPool3d(kernel_size=2))

        def up(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(nn.ConvTranspose3d(c_in, c_out, kernel_size=4, stride=2, padding=1, bias=False), nn.BatchNorm3d(c_out), nn.ReLU())

        self.layer1 = down(1, 32)
        self.layer2 = down(32, 64)
        self.layer3 = down(64, 128)
        self.layer4 = nn.Sequential(nn.Linear(8192, 2048), nn.ReLU())
        self.layer5 = nn.Sequential(nn.Linear(2048, 8192), nn.ReLU())
        self.layer6 = up(128, 64)
        self.layer7 = up(64, 32)
        self.layer8 = nn.Sequential(nn.ConvTranspose3d(32, 1, kernel_size=4, stride=2, padding=1, bias=False), nn.Sigmoid())

    def forward(self, volumes: torch.Tensor) -> torch.Tensor:
        v32 = volumes.unsqueeze(1)  # (B, 1, 32, 32, 32)
        v16 = self.layer1(v32)  # (B, 32, 16, 16, 16)
        v8 = self.layer2(v16)  # (B, 64, 8, 8, 8)
        v4 = self.layer3(v8)  # (B, 128, 4, 4, 4)
        bottleneck = self.layer5(self.layer4(v4.flatten(1))).view_as(v4)
        r8 = v8 + self.layer6(v4 + bottleneck)
        r16 = v16 + self.layer7(r8)
        return ((v32 + self.layer8(r16)) * 0.5).squeeze(1)
