"""3D reconstruction with Pix2Vox (third_party/pix2vox): training, checkpoints, ``mvaug reconstruct``."""

from mvaug.recon.config import AugmentConfig, ReconConfig, ReconDataConfig, ReconOptimConfig, ReconTrainConfig
from mvaug.recon.reconstruct import Reconstructor, ReconstructResult, run_reconstruct

__all__ = [
    "AugmentConfig",
    "ReconConfig",
    "ReconDataConfig",
    "ReconOptimConfig",
    "ReconTrainConfig",
    "ReconstructResult",
    "Reconstructor",
    "run_reconstruct",
]
