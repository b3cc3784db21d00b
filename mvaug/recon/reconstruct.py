"""Reconstruction of a voxel grid from one or more views: the Python API and ``mvaug reconstruct``.

``Reconstructor.from_checkpoint(path).reconstruct(views)`` maps views (V, 3, H, W) in [0, 1] to
occupancy probabilities (32, 32, 32), indexed [x, y, z] like ShapeNetVox32. :func:`run_reconstruct`
adds file handling: user images in, ``OUT.binvox``, ``OUT.npy``, ``OUT.obj`` and ``OUT.png`` out, and
says when the grid cannot be an object (:func:`implausibility`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from mvaug.engine.precision import inference_autocast
from mvaug.errors import ConfigError
from mvaug.recon.checkpoint import load_reconstructor
from mvaug.recon.config import ReconConfig

if TYPE_CHECKING:
    from mvaug.data.user_image import UserImage

log = logging.getLogger(__name__)

GRID_TRANSLATE = (-0.5, -0.5, -0.5)  # the written grid fills a unit cube centred on the origin
PREVIEW_SIZE = 160
PREVIEW_ANGLES = 4
OUT_SUFFIXES = (".binvox", ".npy", ".obj", ".png")
IMPLAUSIBLE_OCCUPANCY = 0.5
"""Occupied fraction of the grid above which a reconstruction cannot be one object (a chair fills a few percent to a quarter)."""
SHARPEN_RADIUS = 2.0
"""Standard deviation, in pixels of the generated image, of the Gaussian that the unsharp mask subtracts."""
SHARPEN_AMOUNT = 3.0
"""Unsharp-mask amount for the generated views of a reconstructor trained on real renders only (see
:meth:`Reconstructor.sharpening`; chosen with the radius on 30 fresh chairs: docs/results.md, twenty-first session)."""


def frame_generated(
    images: torch.Tensor, size: int, crop_fraction: float, background: tuple[float, float, float], sharpen: float = 0.0
) -> torch.Tensor:
    """Generated views (G, 3, s, s) in [0, 1], full render frames on white -> (G, 3, size, size) framed like the training renders.

    The disentangler draws the whole 137-px render frame on white; the reconstructor was trained on
    the central ``crop_fraction`` on its own ``background``, so the background is re-estimated and
    replaced (:func:`mvaug.data.user_image.frame_image`) and the same centre crop is taken. Where a view's border is
    not uniform, its background is taken to be the white it was drawn on. ``sharpen`` > 0: each view first gets an
    unsharp mask of that amount (``skimage.filters.unsharp_mask``, radius :data:`SHARPEN_RADIUS`), which brings the
    generator's soft edges nearer to the crisp renders a reconstructor learned from.
    """
    from mvaug.data.transforms import WHITE
    from mvaug.data.user_image import UserImageOptions, frame_image

    if sharpen < 0:
        raise ValueError(f"sharpen must be at least 0, got {sharpen}")
    full = round(size / crop_fraction)
    margin = (full - size) // 2
    framed = []
    for image in images:
        rgb = image.detach().cpu().float().clamp(0, 1).permute(1, 2, 0).numpy()  # (s, s, 3)
        if sharpen:
            from skimage.filters import unsharp_mask

            rgb = unsharp_mask(rgb, radius=SHARPEN_RADIUS, amount=sharpen, channel_axis=2)  # clipped to [0, 1]; scikit-image 0.26 mis-slices channel_axis=-1
        rgb = np.round(rgb * 255).astype(np.uint8)
        rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=-1)
        tensor = frame_image(rgba, full, background, UserImageOptions(framing="keep", cutout=False, drawn_on=WHITE)).tensor
        framed.append(tensor[:, margin : margin + size, margin : margin + size])
    return torch.stack(framed)


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

    def load_views(self, paths: Sequence[str | os.PathLike], cutout: bool = True) -> torch.Tensor:
        """User images -> views (V, 3, S, S) in [0, 1], framed like the training renders and on the validation background."""
        return torch.stack([image.tensor for image in self.prepare_views(paths, cutout)])

    def prepare_views(self, paths: Sequence[str | os.PathLike], cutout: bool = True) -> list[UserImage]:
        """User images framed like the training renders (``tensor`` (3, S, S)), with what was done to each.

        ``cutout``: cut the object out of a photo whose border is not uniform (else the whole photo is used).
        """
        from mvaug.data.user_image import UserImageOptions, prepare_user_image

        size, fraction = self.image_size, self.config.data.crop_fraction
        options = UserImageOptions(cutout=cutout)
        if fraction >= 1.0:
            return [prepare_user_image(path, size, self.background, options) for path in paths]
        full = round(size / fraction)  # the renders were centre-cropped before resizing: do the same
        margin = (full - size) // 2
        images = [prepare_user_image(path, full, self.background, options) for path in paths]
        return [dataclasses.replace(image, tensor=image.tensor[:, margin : margin + size, margin : margin + size]) for image in images]

    def sharpening(self, requested: float | None = None) -> float:
        """The unsharp-mask amount for generated views shown to this network: ``requested``, else 0 when it was trained
        beside generated views (``synth.run``: it learned them as they are drawn) and :data:`SHARPEN_AMOUNT` when it
        learned from real renders only."""
        if requested is not None:
            if requested < 0:
                raise ConfigError(f"sharpen must be at least 0, got {requested}")
            return float(requested)
        return 0.0 if self.config.synth.run is not None else SHARPEN_AMOUNT

    def frame_generated(self, images: torch.Tensor, sharpen: float | None = None) -> torch.Tensor:
        """Generated views (G, 3, s, s) in [0, 1], full render frames on white -> (G, 3, S, S) framed like the training renders
        (:func:`frame_generated`), sharpened by :meth:`sharpening` of ``sharpen``."""
        return frame_generated(images, self.image_size, self.config.data.crop_fraction, self.background, self.sharpening(sharpen))

    @torch.no_grad()
    def reconstruct(self, views: torch.Tensor) -> torch.Tensor:
        """Occupancy probabilities (32, 32, 32), on the CPU, of the object seen in ``views`` (V, 3, H, W) in [0, 1]."""
        return self.fuse(*self.per_view(views))

    @torch.no_grad()
    def per_view(self, views: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder and decoder on each of ``views`` (V, 3, H, W) in [0, 1], one view at a time, so that a view's output
        is bitwise the same whatever views it comes with: raw features (V, 9, 32, 32, 32) and coarse volumes
        (V, 32, 32, 32), for :meth:`fuse` of any subset."""
        if views.ndim != 4 or views.shape[1] != 3 or views.shape[0] < 1:
            raise ValueError(f"expected views of shape (V, 3, H, W) with V >= 1, got {tuple(views.shape)}")
        views = views.to(self.device, torch.float32)
        if views.shape[-2:] != (self.image_size, self.image_size):
            views = torch.nn.functional.interpolate(views, size=(self.image_size, self.image_size), mode="bilinear", antialias=True, align_corners=False)
        with inference_autocast(self.device):
            outputs = [self.model.per_view(view[None, None]) for view in views]  # each ((1, 1, 9, 32^3), (1, 1, 32^3))
        return torch.cat([raw[0] for raw, _ in outputs]), torch.cat([coarse[0] for _, coarse in outputs])

    @torch.no_grad()
    def fuse(self, raw: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        """Occupancy probabilities (32, 32, 32), on the CPU, from :meth:`per_view` outputs of the views seen together."""
        with inference_autocast(self.device):
            out = self.model.fuse(raw.unsqueeze(0), coarse.unsqueeze(0))
        return self.model.final(out)[0].float().cpu()


@dataclass
class ReconstructResult:
    probabilities: np.ndarray
    """float32 (32, 32, 32)."""
    paths: dict[str, Path]
    """Written files by suffix: .binvox, .npy, .obj, .png."""
    occupied: int
    """Voxels at or above the threshold."""
    implausible: str | None = None
    """Why the grid cannot be one object (:func:`implausibility`; also logged and written on OUT.png), None when it can."""


def implausibility(occupancy: np.ndarray) -> str | None:
    """Why a boolean occupancy grid cannot be one object: it is empty, or more than :data:`IMPLAUSIBLE_OCCUPANCY`
    of it is occupied (a network that has not learnt the object, or an input unlike its training images); None otherwise."""
    fraction = float(occupancy.mean())
    if fraction == 0.0:
        return "implausible: the grid is empty"
    if fraction > IMPLAUSIBLE_OCCUPANCY:
        return f"implausible: {fraction:.0%} of the grid occupied"
    return None


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


def preview_picture(
    views: torch.Tensor, generated: torch.Tensor | None, occupancy: np.ndarray, cutouts: Sequence[np.ndarray | None] = (), note: str | None = None
) -> np.ndarray:
    """uint8 RGB: a row of input views, a row of generated views (if any), a row of voxel renders from a few azimuths.

    ``cutouts[i]`` (uint8 RGBA photo with the cut as alpha, or None): shown outlined right after input view i.
    ``note``: written in red above the picture.
    """
    from mvaug.viz.labelled import with_banner
    from mvaug.viz.previews import image_grid, outline_cutout, turntable_cameras, voxel_views

    def row(images: torch.Tensor) -> list[np.ndarray]:
        small = torch.nn.functional.interpolate(images, size=(PREVIEW_SIZE, PREVIEW_SIZE), mode="bilinear", antialias=True, align_corners=False)
        return list((small.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy())

    inputs = []
    for index, view in enumerate(row(views)):
        inputs.append(view)
        if index < len(cutouts) and cutouts[index] is not None:
            inputs.append(outline_cutout(cutouts[index], PREVIEW_SIZE))
    rows = [inputs]
    if generated is not None and len(generated):
        rows.append(row(generated))
    rows.append(voxel_views(occupancy, 1.0, turntable_cameras(PREVIEW_ANGLES), PREVIEW_SIZE))
    picture = image_grid(rows)
    return picture if note is None else with_banner(picture, note)


def run_reconstruct(
    images: Sequence[str | os.PathLike],
    recon: str | os.PathLike | None,
    out: str | os.PathLike,
    threshold: float = 0.3,
    device: str = "auto",
    kind: str = "chair",
    generated: torch.Tensor | None = None,
    overwrite: bool = True,
    cutout: bool = True,
    sharpen: float | None = None,
) -> ReconstructResult:
    """Reconstruct the object in ``images`` with the reconstructor ``recon`` (None: the built-in one of
    ``kind``) and write OUT.binvox/.npy/.obj/.png as one set (all or none).

    ``generated`` (G, 3, H, W) in [0, 1]: views synthesised elsewhere (``mvaug reconstruct --run DISENT
    --generate K``); they are appended to the input views and go through the merger with them, sharpened by
    :meth:`Reconstructor.sharpening` of ``sharpen`` (None: as the network's training asks).
    ``cutout``: cut the object out of photos whose border is not uniform (shown on OUT.png); else the whole photo is used.
    An output that is one of the images is refused; an existing one too unless ``overwrite``.
    An implausible grid (:func:`implausibility`) is written all the same, with a warning in the log and on OUT.png.
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
    prepared = reconstructor.prepare_views(images, cutout)
    views = torch.stack([image.tensor for image in prepared])
    if generated is not None and len(generated):
        generated = reconstructor.frame_generated(generated, sharpen)
    all_views = views if generated is None else torch.cat([views, generated])
    probabilities = reconstructor.reconstruct(all_views).numpy()
    occupancy = probabilities >= threshold
    note = implausibility(occupancy)
    if note is not None:
        log.warning("%s: %s at threshold %g", out, note, threshold)
    with output_set(paths) as temp:
        write_binvox(temp[".binvox"], Binvox(occupancy, GRID_TRANSLATE, 1.0))
        np.save(temp[".npy"], probabilities.astype(np.float32))
        export_mesh(voxels_to_mesh(probabilities, threshold, side=1.0), temp[".obj"])
        write_png(temp[".png"], preview_picture(views, generated, occupancy, [image.cutout for image in prepared], note))
    return ReconstructResult(probabilities, paths, int(occupancy.sum()), note)
