"""MVF-Net (Wu et al., CVPR 2019): multi-view 3D morphable model regression, re-implemented for training."""

from mvfnet.checkpoint import CHECKPOINT_FORMAT, CheckpointError, checkpoint_payload, load_checkpoint, model_from_payload, save_checkpoint
from mvfnet.config import MVFNetConfig
from mvfnet.losses import LossWeights, coefficient_loss, landmark_loss, mvfnet_losses, pose_loss, project_landmarks
from mvfnet.model import MVFNet, VGGEncoder
from mvfnet.projection import weak_perspective
from mvfnet.rotation import matrix_to_rotation_6d, rotation_6d_to_matrix

__version__ = "0.1.0"

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointError",
    "LossWeights",
    "MVFNet",
    "MVFNetConfig",
    "VGGEncoder",
    "checkpoint_payload",
    "coefficient_loss",
    "landmark_loss",
    "load_checkpoint",
    "matrix_to_rotation_6d",
    "model_from_payload",
    "mvfnet_losses",
    "pose_loss",
    "project_landmarks",
    "rotation_6d_to_matrix",
    "save_checkpoint",
    "weak_perspective",
]
