"""The MVF-Net regressor (Wu et al., CVPR 2019): a VGG-style encoder shared by the views, a per-view
pose head and a 3DMM head on the concatenated view features (the layout of the released ``model.py``).

Shapes: B samples, V views (front, left, right), S = ``config.image_size``, F = ``config.feature_dim``.
"""

from __future__ import annotations

import torch
from torch import nn

from mvfnet.config import POSE_SIZE, STAGE_CONVS, STAGE_MULTIPLIERS, MVFNetConfig
from mvfnet.rotation import rotation_6d_to_matrix

IDENTITY_6D = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
OUTPUT_INIT_STD = 1e-3
"""Std of the output layers' initial weights: every sample starts near the mean face, frontal, unit scale."""


class VGGEncoder(nn.Module):
    """(N, 3, S, S) images -> (N, F) features: five stages of 3x3 conv + BatchNorm + ReLU, each ending in a 2x2
    max-pool, then global average pooling (upstream's seven-convolution layout, widths scaled by ``width``)."""

    def __init__(self, width: int):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for multiplier, convs in zip(STAGE_MULTIPLIERS, STAGE_CONVS):
            for _ in range(convs):
                layers += [nn.Conv2d(channels, multiplier * width, 3, padding=1), nn.BatchNorm2d(multiplier * width), nn.ReLU(inplace=True)]
                channels = multiplier * width
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
        self.features = nn.Sequential(*layers)
        self.out_channels = channels

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(images).mean(dim=(2, 3))


class MVFNet(nn.Module):
    """Multi-view 3DMM regression: shape coefficients shared by the views, a weak-perspective pose per view."""

    def __init__(self, config: MVFNetConfig = MVFNetConfig()):
        super().__init__()
        self.config = config
        features = config.feature_dim
        self.encoder = VGGEncoder(config.width)
        self.pose_head = nn.Sequential(nn.Linear(features, features // 2), nn.ReLU(inplace=True), nn.Linear(features // 2, POSE_SIZE))
        self.shape_head = nn.Sequential(
            nn.Linear(config.views * features, config.views * features // 2),
            nn.ReLU(inplace=True),
            nn.Linear(config.views * features // 2, config.n_id + config.n_exp),
        )
        for head in (self.pose_head, self.shape_head):
            nn.init.normal_(head[-1].weight, 0.0, OUTPUT_INIT_STD)
            nn.init.zeros_(head[-1].bias)
        with torch.no_grad():
            self.pose_head[-1].bias[:6] = torch.tensor(IDENTITY_6D)

    def forward(self, views: torch.Tensor) -> dict[str, torch.Tensor]:
        """views: (B, V, 3, S, S) images in [0, 1], views in the order of training (front, left, right).

        Returns ``id`` (B, n_id), ``exp`` (B, n_exp), ``rotation_6d`` (B, V, 6), ``rotation`` (B, V, 3, 3),
        ``translation`` (B, V, 2) and ``log_scale`` (B, V). The views are folded into the batch, so the
        encoder and pose head run once on B * V images.
        """
        size, count = self.config.image_size, self.config.views
        if views.ndim != 5 or tuple(views.shape[1:]) != (count, 3, size, size):
            raise ValueError(f"expected views of shape (B, {count}, 3, {size}, {size}), got {tuple(views.shape)}")
        batch = views.shape[0]
        features = self.encoder(views.flatten(0, 1))  # (B * V, F)
        pose = self.pose_head(features).view(batch, count, POSE_SIZE)
        coefficients = self.shape_head(features.view(batch, count * features.shape[1]))
        return {
            "id": coefficients[:, : self.config.n_id],
            "exp": coefficients[:, self.config.n_id :],
            "rotation_6d": pose[..., :6],
            "rotation": rotation_6d_to_matrix(pose[..., :6]),
            "translation": pose[..., 6:8],
            "log_scale": pose[..., 8],
        }

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Named parameter groups: the shared encoder and the two heads."""
        return {
            "encoder": list(self.encoder.parameters()),
            "heads": list(self.pose_head.parameters()) + list(self.shape_head.parameters()),
        }
