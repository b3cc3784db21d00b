"""Configuration of a Pix2Vox network: the variant (F or A) and the input convention.

Upstream keeps Pix2Vox-F and Pix2Vox-A on two branches; here one :class:`Pix2VoxConfig` chooses
between them, and :data:`VARIANTS` holds the layer widths that differ (Xie et al. 2019, Fig. 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

VOXELS = 32  # the decoder's output grid is VOXELS^3
UPSTREAM_IMAGE_SIZE = 224


@dataclass(frozen=True)
class VariantSpec:
    """Layer widths of one variant. Encoder layer i: Conv2d(in_i, out_i, kernel_i), BatchNorm2d, ELU."""

    encoder_channels: tuple[int, int, int]
    """Output channels of the encoder's layer1..layer3 (their input is VGG's conv4_1, 512 channels)."""
    encoder_kernels: tuple[int, int, int]
    """Kernel sizes of layer1..layer3 (no padding)."""
    pool_kernel: int
    """Max-pooling after layer2 at 224x224 input."""
    feature_size: int
    """Spatial side of the encoder output: (C, s, s) is read by the decoder as (C * s^2 / 8, 2, 2, 2)."""
    decoder_channels: tuple[int, int, int, int]
    """Output channels of the four stride-2 transposed convolutions (2^3 -> 4^3 -> ... -> 32^3)."""
    refiner: bool
    """Whether the variant has the refiner."""

    @property
    def latent_channels(self) -> int:
        """Channels of the 2x2x2 volume that the decoder starts from."""
        return self.encoder_channels[2] * self.feature_size**2 // 8


VARIANTS: dict[str, VariantSpec] = {
    "F": VariantSpec((512, 256, 128), (1, 3, 3), 4, 4, (128, 64, 32, 8), refiner=False),
    "A": VariantSpec((512, 512, 256), (3, 3, 1), 3, 8, (512, 128, 32, 8), refiner=True),
}


@dataclass
class Pix2VoxConfig:
    """A Pix2Vox network. Parameter names and shapes do not depend on ``image_size``."""

    variant: Literal["F", "A"] = "F"
    """'F' (fast, 7.4 M parameters, no refiner) or 'A' (accurate, 114.2 M, with the refiner)."""
    image_size: int = UPSTREAM_IMAGE_SIZE
    """Input side in pixels (upstream 224); a multiple of 8. Other sizes adapt the pooling after the encoder's layer2."""
    use_merger: bool = True
    """Fuse views with the context-aware merger; False averages the coarse volumes (upstream's stage without merger)."""
    use_refiner: bool | None = None
    """Run the refiner; None = the variant's default (A yes, F no)."""
    leaky_value: float = 0.2
    """Negative slope of the merger's and refiner's LeakyReLUs (upstream NETWORK.LEAKY_VALUE)."""
    bgr_input: bool = False
    """Feed channels in BGR order: upstream reads images with OpenCV, so its official checkpoints expect BGR."""
    train_vgg: bool = False
    """Train the VGG16 layers too; upstream freezes them."""

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be 'F' or 'A', got {self.variant!r}")
        minimum = min_image_size(self.variant)
        if self.image_size % 8 or self.image_size < minimum:
            raise ValueError(f"image_size must be a multiple of 8 and at least {minimum} for Pix2Vox-{self.variant}, got {self.image_size}")

    @property
    def spec(self) -> VariantSpec:
        return VARIANTS[self.variant]

    @property
    def has_refiner(self) -> bool:
        return self.spec.refiner if self.use_refiner is None else self.use_refiner


def min_image_size(variant: str) -> int:
    """Smallest input side whose VGG output (side / 8) survives the encoder's unpadded convolutions."""
    spec = VARIANTS[variant]
    shrink = sum(k - 1 for k in spec.encoder_kernels[:2])
    return 8 * (shrink + 1)
