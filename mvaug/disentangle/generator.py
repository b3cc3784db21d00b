"""The generator G(s, c) (paper Fig. 10): a fully connected layer to a 4x4 map, then per stage a x2
upsampling and a 3x3 convolution, then a 5x5 and a 7x7 convolution and a sigmoid.

Frameworks: ``multiple`` puts a C-S fusion block before every layer (Fig. 10b), ``single`` fuses
once, before the generator (Fig. 10a), ``concat`` feeds [s, c] with no fusion (Fig. 2a).
"""

from __future__ import annotations

import torch
from torch import nn

from mvaug.disentangle.config import ModelConfig
from mvaug.disentangle.fusion import CSFusion


class Generator(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        widths = config.channels
        self.fusion = config.fusion
        first_in = config.style_dim + config.content_dim if config.fusion == "concat" else config.content_dim
        if config.fusion != "concat":
            self.code_fusion = CSFusion(config.style_dim, config.content_dim, config.norm)
        self.fc = nn.Linear(first_in, widths[0] * 16)
        self.stages = nn.ModuleList(nn.Conv2d(cin, cout, 3, padding=1) for cin, cout in zip(widths[:-1], widths[1:]))
        self.conv5 = nn.Conv2d(widths[-1], widths[-1], 5, padding=2)
        self.conv7 = nn.Conv2d(widths[-1], 3, 7, padding=3)
        if config.fusion == "multiple":
            # a fusion block before every layer that follows the fully connected one
            self.layer_fusions = nn.ModuleList(CSFusion(config.style_dim, w, config.norm) for w in [*widths, widths[-1]])
        self.act = nn.LeakyReLU(0.2)

    def forward(self, style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
        """style (B, d_s), content (B, d_c) -> images (B, 3, S, S) in [0, 1]."""
        if self.fusion == "concat":
            z = torch.cat([style, content], dim=1)
        else:
            z = self.code_fusion(content, style)  # (B, d_c), Eq. 3
        h = self.act(self.fc(z)).view(z.shape[0], -1, 4, 4)
        for k, conv in enumerate(self.stages):
            h = self._fuse(k, h, style)
            h = self.act(conv(nn.functional.interpolate(h, scale_factor=2.0, mode="nearest")))
        h = self.act(self.conv5(self._fuse(len(self.stages), h, style)))
        return torch.sigmoid(self.conv7(self._fuse(len(self.stages) + 1, h, style)))

    def _fuse(self, k: int, h: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.layer_fusions[k](h, style) if self.fusion == "multiple" else h


class Encoder(nn.Module):
    """Image (B, 3, S, S) -> code (B, out_dim): strided 4x4 convolutions, then two linear layers.

    Used for stage 2 (E_s and E_c fitted to the learned embeddings, Eq. 6) and for the amortised
    ablation (Fig. 12a).
    """

    def __init__(self, out_dim: int, image_size: int = 64, width: int = 64):
        super().__init__()
        layers, cin, size = [], 3, image_size
        for cout in (width, 2 * width, 4 * width, 4 * width)[: 3 if image_size == 32 else 4]:
            layers += [nn.Conv2d(cin, cout, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            cin, size = cout, size // 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(cin * size * size, 256), nn.LeakyReLU(0.2), nn.Linear(256, out_dim))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


def style_and_content_encoders(config: ModelConfig) -> tuple[Encoder, Encoder]:
    """E_s (-> style_dim) and E_c (-> content_dim) of ``config``."""
    return (Encoder(config.style_dim, config.image_size, config.encoder_width),
            Encoder(config.content_dim, config.image_size, config.encoder_width))
