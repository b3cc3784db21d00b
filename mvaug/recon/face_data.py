"""Face triplets for MVF-Net: the synthetic face annotations in MVF-Net's frame, held in memory.

Frames. The face data (:mod:`mvaug.faces.pose`) uses pixels with v down::

    u = s (R X)_x + t_x,    v = -s (R X)_y + t_y

MVF-Net (:func:`mvfnet.weak_perspective`) uses ``p = s' (R X)[:2] + t'`` in a normalised frame with y
up, the image spanning [-1, 1] on both axes. With S the image side, x = (u - S/2) / (S/2) and
y = (S/2 - v) / (S/2), so the same rotation R serves both and::

    s' = 2 s / S,    t' = ((t_x - S/2) 2 / S, (S/2 - t_y) 2 / S)

The network regresses log s'.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from mvaug.errors import DataError


def pixels_to_normalized(points: torch.Tensor, size: int) -> torch.Tensor:
    """(..., 2) pixel (u, v), v down -> MVF-Net's (x, y), y up, the image spanning [-1, 1]."""
    half = size / 2.0
    return torch.stack([(points[..., 0] - half) / half, (half - points[..., 1]) / half], dim=-1)


def normalized_to_pixels(points: torch.Tensor, size: int) -> torch.Tensor:
    """Inverse of :func:`pixels_to_normalized`: (..., 2) (x, y) -> pixel (u, v)."""
    half = size / 2.0
    return torch.stack([points[..., 0] * half + half, half - points[..., 1] * half], dim=-1)


def pose_to_normalized(scale: torch.Tensor, translation: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-frame scale (...) and translation (..., 2) -> MVF-Net's log-scale (...) and translation (..., 2)."""
    return torch.log(2.0 * scale / size), pixels_to_normalized(translation, size)


def pose_to_pixels(log_scale: torch.Tensor, translation: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of :func:`pose_to_normalized`: scale in pixels per model unit (...) and pixel translation (..., 2)."""
    return log_scale.exp() * size / 2.0, normalized_to_pixels(translation, size)


@dataclass
class FaceTriplets:
    """Every (front, left, right) triplet of a split, possibly at several (side yaw, pitch) choices.

    T triplets, V = 3 views, S = image side, K_id / K_exp coefficients::

        images     uint8 (T, 3, 3, S, S)       front, left, right
        landmarks  float32 (T, 3, 68, 2)       normalised frame (module docstring)
        visible    bool (T, 3, 68)
        rotation   float32 (T, 3, 3, 3)
        translation float32 (T, 3, 2), log_scale float32 (T, 3)   normalised frame
        id_coef    float32 (T, K_id), exp_coef float32 (T, K_exp)
        identity   long (T,) identity index of the face set
    ``names`` and ``meshes`` (ground-truth .obj paths) per triplet; ``poses`` the (side yaw, pitch) of each.
    """

    images: torch.Tensor
    landmarks: torch.Tensor
    visible: torch.Tensor
    rotation: torch.Tensor
    translation: torch.Tensor
    log_scale: torch.Tensor
    id_coef: torch.Tensor
    exp_coef: torch.Tensor
    identity: torch.Tensor
    names: list[str]
    meshes: list[str]
    poses: list[tuple[float, float]]

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]

    def targets(self, index: torch.Tensor, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
        """The loss targets of ``mvfnet.mvfnet_losses`` for the triplets ``index`` (B,)."""
        keys = ("landmarks", "visible", "rotation", "translation", "log_scale")
        target = {key: getattr(self, key)[index].to(device) for key in keys}
        target["id"], target["exp"] = self.id_coef[index].to(device), self.exp_coef[index].to(device)
        return target

    def float_images(self, index: torch.Tensor) -> torch.Tensor:
        """(B, 3, 3, S, S) float in [0, 1]."""
        return self.images[index].float() / 255.0

    @classmethod
    def load(
        cls, root: str | os.PathLike, split: str, image_size: int, poses: list[tuple[float, float]], progress: bool = False
    ) -> FaceTriplets:
        """Read every identity of ``split`` of a ``synth-faces`` folder once per (side yaw, pitch) in ``poses``."""
        from tqdm import tqdm

        from mvaug.faces.dataset import FaceTripletDataset

        items = []
        for side_yaw, pitch in poses:
            dataset = FaceTripletDataset(root, split, image_size=image_size, side_yaw=side_yaw, pitch=pitch)
            for k in tqdm(range(len(dataset)), desc=f"{split} triplets yaw+-{side_yaw:g} pitch {pitch:g}", disable=not progress, leave=False):
                items.append((dataset[k], (side_yaw, pitch)))
        if not items:
            raise DataError(f"the {split} split holds no identities", Path(root))
        return cls.from_items([item for item, _ in items], image_size, [pose for _, pose in items])

    @classmethod
    def from_items(cls, items: list[dict], image_size: int, poses: list[tuple[float, float]]) -> FaceTriplets:
        """Stack :class:`mvaug.faces.dataset.FaceTripletDataset` items (pixel frame, side ``image_size``)."""
        log_scale, translation = pose_to_normalized(torch.stack([i["scale"] for i in items]), torch.stack([i["translation"] for i in items]), image_size)
        return cls(
            images=(torch.stack([i["images"] for i in items]) * 255.0).round().to(torch.uint8),
            landmarks=pixels_to_normalized(torch.stack([i["landmarks"] for i in items]), image_size),
            visible=torch.stack([i["visible"] for i in items]),
            rotation=torch.stack([i["rotation"] for i in items]),
            translation=translation,
            log_scale=log_scale,
            id_coef=torch.stack([i["id_coef"] for i in items]),
            exp_coef=torch.stack([i["exp_coef"] for i in items]),
            identity=torch.stack([i["identity"] for i in items]),
            names=[i["name"] for i in items],
            meshes=[i["mesh"] for i in items],
            poses=list(poses),
        )


def resize_views(images: torch.Tensor, size: int) -> torch.Tensor:
    """(..., 3, H, W) float images -> (..., 3, size, size), bilinear with antialiasing (identity when already that size)."""
    if images.shape[-2:] == (size, size):
        return images
    lead = images.shape[:-3]
    flat = images.reshape(-1, *images.shape[-3:])
    out = F.interpolate(flat, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return out.reshape(*lead, 3, size, size).clamp(0.0, 1.0)


def augment_views(images: torch.Tensor, generator: torch.Generator, low_res_prob: float, low_res_size: int, brightness: float) -> torch.Tensor:
    """Training augmentation of (B, 3, 3, S, S) float views: side views (1, 2) through ``low_res_size`` pixels with
    probability ``low_res_prob`` each, every view's colours times U[1 - brightness, 1 + brightness]."""
    batch, views, size = images.shape[0], images.shape[1], images.shape[-1]
    out = images.clone()
    if low_res_prob > 0 and low_res_size < size:
        chosen = torch.rand(batch, views, generator=generator) < low_res_prob
        chosen[:, 0] = False  # the front view is always a real image
        if chosen.any():
            out[chosen] = resize_views(resize_views(out[chosen], low_res_size), size)
    if brightness > 0:
        factor = 1.0 + (torch.rand(batch, views, 1, 1, 1, generator=generator) * 2.0 - 1.0) * brightness
        out = (out * factor).clamp(0.0, 1.0)
    return out


def rotation_angles(rotation: torch.Tensor) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a (3, 3) rotation ``R_z(roll) R_x(-pitch) R_y(yaw)`` (:mod:`mvaug.faces.pose`)."""
    r = rotation.double()
    yaw = math.degrees(math.atan2(-float(r[2, 0]), float(r[2, 2])))
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, -float(r[2, 1])))))
    roll = math.degrees(math.atan2(-float(r[0, 1]), float(r[1, 1])))
    return yaw, pitch, roll
