"""Retrieval by style: the disentangler's training image at a camera whose style is nearest to a given one.

The ``retrieved-K`` baseline of ``mvaug evaluate``: instead of synthesising a view of the input's object,
look up, at the same camera, the training image whose style code E_s(x) is nearest to the input's.
Both sides are encoded by the style encoder, so it also serves runs without learned style codes
(amortised runs, the built-in models). The distance is Euclidean between style vectors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from mvaug.errors import DataError
from mvaug.multiview.views import View


@dataclass(frozen=True)
class StyleIndex:
    """Per view name: the training images at that view's camera, and their styles E_s(x), encoded when the view is
    first asked for (an evaluation whose inputs share one camera needs only the few views spread around it)."""

    paths: dict[str, list[Path]]
    folders: frozenset[Path]
    """Resolved rendering folders of the training models (to refuse held-out objects that were trained on)."""
    model: object
    """The TrainedDisentangler whose style encoder indexes the images."""
    batch: int = 256
    encoded: dict[str, torch.Tensor] = field(default_factory=dict)
    """View name -> (n_view, d_s) on the CPU, row j the style of paths[name][j]."""

    @classmethod
    def build(cls, root: str | os.PathLike, split: str, views: list[View], tolerance: float, model, batch: int = 256) -> StyleIndex:
        """Index ``split`` of the ShapeNet-layout ``root`` for ``views`` (with cameras): for every training model and
        view, the render nearest the view's camera within ``tolerance`` degrees, to be encoded by ``model``
        (a TrainedDisentangler) as it was trained to see it."""
        from mvaug.data.shapenet import ShapeNetDataset

        models = ShapeNetDataset.from_root(root, split=split).models
        paths = _renders_at(models, views, tolerance)
        empty = next((name for name, found in paths.items() if not found), None)
        if empty is not None:
            raise DataError(f"no render of the {split} split within {tolerance} degrees of the bank view {empty}: that view cannot be retrieved", root)
        return cls(paths, frozenset(Path(m.rendering_dir).resolve() for m in models), model, batch)

    def styles(self, view_name: str) -> torch.Tensor:
        """(n_view, d_s): the styles of ``paths[view_name]``, encoded on first use."""
        if view_name not in self.encoded:
            self.encoded[view_name] = _encode(self.model, self.paths[view_name], self.batch)
        return self.encoded[view_name]

    def nearest(self, style: torch.Tensor, view_name: str) -> Path:
        """The training image at ``view_name`` whose style is nearest (Euclidean) to ``style`` (d_s,)."""
        styles = self.styles(view_name)
        return self.paths[view_name][int((styles - style.to(styles)).norm(dim=1).argmin())]


def _renders_at(models: list, views: list[View], tolerance: float) -> dict[str, list[Path]]:
    """Per view name, the render of each model nearest the view's camera (models without one within tolerance left out)."""
    from mvaug.data.shapenet import list_views, read_cameras
    from mvaug.multiview.views import nearest_camera

    found: dict[str, list[Path]] = {v.name: [] for v in views}
    for model in models:
        renders = list_views(model.rendering_dir)
        cameras = read_cameras(model.rendering_dir, len(renders))[:, :2]  # (V, 2) azimuth, elevation
        for view in views:
            index = nearest_camera(cameras, view, tolerance)
            if index is not None:
                found[view.name].append(renders[index])
    return found


@torch.no_grad()
def _encode(model, paths: list[Path], batch: int) -> torch.Tensor:
    """Styles (N, d_s) on the CPU of the images at ``paths``, loaded as the disentangler's training loader does."""
    from mvaug.data.transforms import load_image

    styles = []
    for start in range(0, len(paths), batch):
        images = torch.stack([load_image(p, model.image_size) for p in paths[start : start + batch]])  # (b, 3, S, S)
        styles.append(model.encode_style(images).cpu())  # (b, d_s)
    return torch.cat(styles)
