"""Reconstruction of a voxel grid from one or more views: the Python API and ``mvaug reconstruct``.

``Reconstructor.from_checkpoint(path).reconstruct(views)`` maps views (V, 3, H, W) in [0, 1] to
occupancy probabilities (32, 32, 32), indexed [x, y, z] like ShapeNetVox32. :func:`run_reconstruct`
adds file handling: user images in, ``OUT.binvox``, ``OUT.npy``, ``OUT.obj`` and ``OUT.png`` out.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mvaug.engine.precision import inference_autocast
from mvaug.errors import ConfigError
from mvaug.recon.checkpoint import load_reconstructor
from mvaug.recon.config import ReconConfig

GRID_TRANSLATE = (-0.5, -0.5, -0.5)  # the written grid fills a unit cube centred on the origin
PREVIEW_SIZE = 160
PREVIEW_ANGLES = 4
OUT_SUFFIXES = (".binvox", ".npy", ".obj", ".png")


class Reconstructor:
    """A trained Pix2Vox network with its input convention."""

    def __init__(self, model, config: ReconConfig, device: torch.device, source: Path | None = None):
        self.model, self.config, self.device, self.source = model, config, device, source

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike | None, device: str | torch.device = "cpu", kind: str = "chair") -> Reconstructor:
        """A run folder or checkpoint of ``mvaug train-recon``, an official Pix2Vox .pth (read with ``map_location``),
        or ``builtin:NAME`` (None: the built-in one of ``kind``)."""
        from mvaug.engine.device import resolve_device

        device = resolve_device(device) if isinstance(device, str) else device
        loaded = load_reconstructor(path, device, kind)
        return cls(loaded.model, loaded.config, device, loaded.path)

    @property
    def image_size(self) -> int:
        return self.config.model.image_size

    @property
    def background(self) -> tuple[float, float, float]:
        return (self.config.augment.val_background,) * 3

    def load_views(self, paths: Sequence[str | os.PathLike]) -> torch.Tensor:
        """User images -> views (V, 3, S, S) in [0, 1], framed like the training renders and on the validation background."""
        from mvaug.data.user_image import load_user_image

        size, fraction = self.image_size, self.config.data.crop_fraction
        views = []
        for path in paths:
            if fraction < 1.0:  # the renders were centre-cropped before resizing: do the same
                full = round(size / fraction)
                margin = (full - size) // 2
                views.append(load_user_image(path, full, self.background)[:, margin : margin + size, margin : margin + size])
            else:
                views.append(load_user_image(path, size, self.background))
        return torch.stack(views)

    def frame_generated(self, images: torch.Tensor) -> torch.Tensor:
        """Generated views (G, 3, s, s) in [0, 1], full render frames on white -> (G, 3, S, S) framed like the training renders.

        The disentangler draws the whole 137-px render frame on white; the reconstructor was trained on
        the central ``crop_fraction`` on its own background, so the background is re-estimated and
        replaced (:func:`mvaug.data.user_image.frame_image`) and the same centre crop is taken.
        """
        from mvaug.data.user_image import UserImageOptions, frame_image

        size, fraction = self.image_size, self.config.data.crop_fraction
        full = round(size / fraction)
        margin = (full - size) // 2
        framed = []
        for image in images:
            rgb = (image.detach().cpu().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
            rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=-1)
            tensor, _ = frame_image(rgba, full, self.background, UserImageOptions(framing="keep"))
            framed.append(tensor[:, margin : margin + size, margin : margin + size])
        return torch.stack(framed)

    @torch.no_grad()
    def reconstruct(self, views: torch.Tensor) -> torch.Tensor:
        """Occupancy probabilities (32, 32, 32), on the CPU, of the object seen in ``views`` (V, 3, H, W) in [0, 1]."""
        if views.ndim != 4 or views.shape[1] != 3 or views.shape[0] < 1:
            raise ValueError(f"expected views of shape (V, 3, H, W) with V >= 1, got {tuple(views.shape)}")
        views = views.to(self.device, torch.float32)
        if views.shape[-2:] != (self.image_size, self.image_size):
            views = torch.nn.functional.interpolate(views, size=(self.image_size, self.image_size), mode="bilinear", antialias=True, align_corners=False)
        with inference_autocast(self.device):
            out = self.model(views.unsqueeze(0))
        return self.model.final(out)[0].float().cpu()


@dataclass
class ReconstructResult:
    probabilities: np.ndarray
    """float32 (32, 32, 32)."""
    paths: dict[str, Path]
    """Written files by suffix: .binvox, .npy, .obj, .png."""
    occupied: int
    """Voxels at or above the threshold."""


def output_paths(out: str | os.PathLike) -> dict[str, Path]:
    """OUT.binvox, OUT.npy, OUT.obj and OUT.png by suffix (``chair.obj`` and ``chair`` name the same outputs)."""
    out = Path(out)
    prefix = out.with_suffix("") if out.suffix.lower() in OUT_SUFFIXES else out
    return {suffix: prefix.with_name(prefix.name + suffix) for suffix in OUT_SUFFIXES}


def check_reconstruct_outputs(images: Sequence[str | os.PathLike], out: str | os.PathLike, overwrite: bool) -> dict[str, Path]:
    """The outputs of ``out``; a :class:`~mvaug.errors.DataError` when one would replace an image, cannot be written, or exists (unless ``overwrite``)."""
    from mvaug.io.outputs import check_outputs

    paths = output_paths(out)
    check_outputs(paths.values(), images, overwrite)
    return paths


def preview_picture(views: torch.Tensor, generated: torch.Tensor | None, occupancy: np.ndarray) -> np.ndarray:
    """uint8 RGB: a row of input views, a row of generated views (if any), a row of voxel renders from a few azimuths."""
    from mvaug.viz.previews import image_grid, turntable_cameras, voxel_views

    def row(images: torch.Tensor) -> list[np.ndarray]:
        small = torch.nn.functional.interpolate(images, size=(PREVIEW_SIZE, PREVIEW_SIZE), mode="bilinear", antialias=True, align_corners=False)
        return list((small.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy())

    rows = [row(views)]
    if generated is not None and len(generated):
        rows.append(row(generated))
    rows.append(voxel_views(occupancy, 1.0, turntable_cameras(PREVIEW_ANGLES), PREVIEW_SIZE))
    return image_grid(rows)


def run_reconstruct(
    images: Sequence[str | os.PathLike],
    recon: str | os.PathLike | None,
    out: str | os.PathLike,
    threshold: float = 0.3,
    device: str = "auto",
    kind: str = "chair",
    generated: torch.Tensor | None = None,
    overwrite: bool = True,
) -> ReconstructResult:
    """Reconstruct the object in ``images`` with the reconstructor ``recon`` (None: the built-in one of
    ``kind``) and write OUT.binvox/.npy/.obj/.png as one set (all or none).

    ``generated`` (G, 3, H, W) in [0, 1]: views synthesised elsewhere (``mvaug reconstruct --run DISENT
    --generate K``); they are appended to the input views and go through the merger with them.
    An output that is one of the images is refused; an existing one too unless ``overwrite``.
    """
    from mvaug.geometry.voxel_mesh import export_mesh, voxels_to_mesh
    from mvaug.io.binvox import Binvox, write_binvox
    from mvaug.io.images import write_png
    from mvaug.io.outputs import output_set

    if not images:
        raise ConfigError("at least one image is needed")
    if not 0.0 < threshold <= 1.0:
        raise ConfigError(f"threshold must lie in (0, 1], got {threshold}")
    paths = check_reconstruct_outputs(images, out, overwrite)
    reconstructor = Reconstructor.from_checkpoint(recon, device, kind)
    views = reconstructor.load_views(images)
    if generated is not None and len(generated):
        generated = reconstructor.frame_generated(generated)
    all_views = views if generated is None else torch.cat([views, generated])
    probabilities = reconstructor.reconstruct(all_views).numpy()
    occupancy = probabilities >= threshold
    with output_set(paths) as temp:
        write_binvox(temp[".binvox"], Binvox(occupancy, GRID_TRANSLATE, 1.0))
        np.save(temp[".npy"], probabilities.astype(np.float32))
        export_mesh(voxels_to_mesh(probabilities, threshold, side=1.0), temp[".obj"])
        write_png(temp[".png"], preview_picture(views, generated, occupancy))
    return ReconstructResult(probabilities, paths, int(occupancy.sum()))
