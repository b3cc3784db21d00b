"""Pix2Vox-F and Pix2Vox-A (Xie et al., ICCV 2019), one code base, official-checkpoint compatible."""

from pix2vox.checkpoint import (
    CheckpointError,
    infer_variant,
    is_official_layout,
    load_official_checkpoint,
    load_official_state,
    official_state_dicts,
    strip_module_prefix,
)
from pix2vox.config import VARIANTS, Pix2VoxConfig, VariantSpec, min_image_size
from pix2vox.model import COMPONENTS, Pix2Vox, build_pix2vox, count_parameters, init_weights
from pix2vox.vgg import load_vgg16_bn_weights

__version__ = "0.1.0"

__all__ = [
    "COMPONENTS",
    "CheckpointError",
    "Pix2Vox",
    "Pix2VoxConfig",
    "VARIANTS",
    "VariantSpec",
    "build_pix2vox",
    "count_parameters",
    "infer_variant",
    "init_weights",
    "is_official_layout",
    "load_official_checkpoint",
    "load_official_state",
    "load_vgg16_bn_weights",
    "min_image_size",
    "official_state_dicts",
    "strip_module_prefix",
]
