"""Context-aware fusion (Xie et al. 2019, Sec. 3.3, Eq. 1-2).

A context-scoring network of five 3D convolutions (9 -> 16 -> 8 -> 4 -> 2 -> 1 channels, 3^3 kernels,
BatchNorm3d, LeakyReLU) gives every view a score map; a softmax across the views turns the scores into
weights, and the fused volume is the weighted sum of the coarse volumes, clamped to [0, 1].
"""

from __future__ import annotations

import torch
from torch import nn

from pix2vox.config import Pix2VoxConfig

SCORE_WIDTHS = (9, 16, 8, 4, 2, 1)


class Merger(nn.Module):
    """Raw features (B, V, 9, D, D, D) and coarse volumes (B, V, D, D, D) -> fused volume (B, D, D, D)."""

    def __init__(self, config: Pix2VoxConfig):
        super().__init__()
        for index, (c_in, c_out) in enumerate(zip(SCORE_WIDTHS[:-1], SCORE_WIDTHS[1:]), start=1):
            block = nn.Sequential(nn.Conv3d(c_in, c_out, kernel_size=3, padding=1), nn.BatchNorm3d(c_out), nn.LeakyReLU(config.leaky_value))
            self.add_module(f"layer{index}", block)

    def scores(self, raw_features: torch.Tensor) -> torch.Tensor:
        """Score maps (B, V, D, D, D) of raw features (B, V, 9, D, D, D); the views go through as one batch."""
        batch, views = raw_features.shape[:2]
        x = raw_features.flatten(0, 1).contiguous(memory_format=torch.channels_last_3d)  # 2x faster on CPUs (oneDNN)
        for index in range(1, len(SCORE_WIDTHS)):
            x = getattr(self, f"layer{index}")(x)
        return x.reshape(batch, views, *x.shape[2:])

    def forward(self, raw_features: torch.Tensor, coarse_volumes: torch.Tensor) -> torch.Tensor:
        if coarse_volumes.shape[1] == 1 and not self.training:  # a softmax over one view is 1: skip the scoring network
            return coarse_volumes[:, 0].clamp(0.0, 1.0)
        weights = torch.softmax(self.scores(raw_features), dim=1)  # Eq. 1: sums to 1 over the views
        return (coarse_volumes * weights).sum(dim=1).clamp(0.0, 1.0)  # Eq. 2
