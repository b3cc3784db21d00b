"""The 2D encoder: VGG16-bn up to conv4_1, then three convolution blocks (Xie et al. 2019, Sec. 3.1).

At 224x224 input VGG gives (512, 28, 28); Pix2Vox-F ends at (128, 4, 4), Pix2Vox-A at (256, 8, 8).
Module names follow the official release: ``vgg.0`` .. ``vgg.26`` (torchvision's ``vgg16_bn().features``
indices), ``layer1`` .. ``layer3`` each ``Sequential(conv, bn, elu[, pool])``.
"""

from __future__ import annotations

import torch
from torch import nn

from pix2vox.config import Pix2VoxConfig

# torchvision's vgg16_bn configuration up to conv4_1: conv widths, "M" = 2x2 max-pooling
VGG16_UP_TO_CONV4_1 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512)


def vgg16_bn_features() -> nn.Sequential:
    """``torchvision.models.vgg16_bn().features[:27]`` with the same indices, built without torchvision."""
    layers: list[nn.Module] = []
    channels = 3
    for width in VGG16_UP_TO_CONV4_1:
        if width == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, width, kernel_size=3, padding=1), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            channels = width
    return nn.Sequential(*layers)


def _pool(size_in: int, size_out: int, kernel: int) -> nn.Module:
    """Upstream's MaxPool2d(kernel) when it yields ``size_out`` (the 224 input), else an adaptive max-pool to it."""
    if size_in // kernel == size_out:
        return nn.MaxPool2d(kernel_size=kernel)
    return nn.AdaptiveMaxPool2d(size_out)


class Encoder(nn.Module):
    """Images (N, 3, H, W), normalised, -> features (N, C, s, s); views are part of N."""

    def __init__(self, config: Pix2VoxConfig):
        super().__init__()
        spec = config.spec
        self.vgg = vgg16_bn_features()
        widths = (512, *spec.encoder_channels)
        k1, k2, k3 = spec.encoder_kernels
        size = config.image_size // 8 - (k1 - 1) - (k2 - 1)  # side after layer2's convolution
        pooled = spec.feature_size + k3 - 1  # layer3 must end at feature_size
        self.layer1 = nn.Sequential(nn.Conv2d(widths[0], widths[1], k1), nn.BatchNorm2d(widths[1]), nn.ELU())
        self.layer2 = nn.Sequential(nn.Conv2d(widths[1], widths[2], k2), nn.BatchNorm2d(widths[2]), nn.ELU(), _pool(size, pooled, spec.pool_kernel))
        self.layer3 = nn.Sequential(nn.Conv2d(widths[2], widths[3], k3), nn.BatchNorm2d(widths[3]), nn.ELU())
        self.vgg.requires_grad_(config.train_vgg)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        images = images.contiguous(memory_format=torch.channels_last)  # 2x faster convolutions on CPUs (oneDNN)
        return self.layer3(self.layer2(self.layer1(self.vgg(images))))
