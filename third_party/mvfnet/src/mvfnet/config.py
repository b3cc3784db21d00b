"""Configuration of the MVF-Net regressor."""

from __future__ import annotations

from dataclasses import dataclass

STAGE_MULTIPLIERS = (1, 2, 4, 8, 8)
"""Encoder stage widths in units of ``width`` (upstream: 64, 128, 256, 512, 512 with width 64)."""
STAGE_CONVS = (1, 1, 2, 1, 2)
"""3x3 convolutions per encoder stage, each stage ending in a 2x2 max-pool (upstream's seven convolutions)."""
POSE_SIZE = 6 + 2 + 1
"""Per-view pose outputs: 6D rotation, 2D translation, log scale."""


@dataclass
class MVFNetConfig:
    image_size: int = 128
    """Side of each (square) input view in pixels: 64, 128 or 224 (upstream: 224); any multiple of 32 works."""
    width: int = 16
    """Channels of the first encoder stage; the feature per view has 8 * width channels (upstream: 64 -> 512)."""
    n_id: int = 199
    """Identity coefficients of the morphable model (3DDFA / BFM: 199)."""
    n_exp: int = 29
    """Expression coefficients (3DDFA: 29)."""
    views: int = 3
    """Input views per sample, in a fixed order (front, left, right)."""

    def __post_init__(self) -> None:
        if self.image_size < 32 or self.image_size % 32:
            raise ValueError(f"image_size must be a positive multiple of 32 (64, 128, 224), got {self.image_size}")
        if self.width < 1:
            raise ValueError(f"width must be at least 1, got {self.width}")
        if self.n_id < 1 or self.n_exp < 0:
            raise ValueError(f"need n_id >= 1 and n_exp >= 0, got n_id={self.n_id}, n_exp={self.n_exp}")
        if self.views < 1:
            raise ValueError(f"views must be at least 1, got {self.views}")

    @property
    def feature_dim(self) -> int:
        """Channels of one view's pooled feature."""
        return STAGE_MULTIPLIERS[-1] * self.width
