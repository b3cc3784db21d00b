"""Training images for the disentangler, held in memory, with the labels a data set happens to have.

Latent optimisation gives every training image its own content and style embedding, so images are
addressed by index. Labels are never used for training; they serve the metrics only: ``view``
(a pose class: the dense synthetic grid, 3D Chairs' (elevation, azimuth)) and ``identity`` (the
object or person).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from mvaug.errors import DataError

DATA_KINDS = ("auto", "shapenet", "chairs3d", "faces", "celeba", "folder")


@dataclass
class ImageSet:
    """``images`` uint8 (N, 3, H, W); ``views``/``identities`` long (N,) or None; ``names`` one per image."""

    images: torch.Tensor
    views: torch.Tensor | None
    identities: torch.Tensor | None
    names: list[str]
    kind: str

    def __len__(self) -> int:
        return self.images.shape[0]

    def float_images(self, index: torch.Tensor | slice) -> torch.Tensor:
        """float32 (B, 3, H, W) in [0, 1]."""
        return self.images[index].float().div_(255.0)


def detect_kind(root: Path) -> str:
    """Which layout a folder holds (see :data:`DATA_KINDS`)."""
    if (root / "ShapeNetRendering").is_dir():
        return "shapenet"
    from mvaug.faces.synth import MANIFEST as FACE_MANIFEST

    if (root / FACE_MANIFEST).is_file():
        return "faces"
    if (root / "rendered_chairs").is_dir() or root.name == "rendered_chairs":
        return "chairs3d"
    if (root / "img_align_celeba").is_dir() or root.name == "img_align_celeba":
        return "celeba"
    return "folder"


def load_image_set(
    root: str | os.PathLike, image_size: int = 64, kind: str = "auto", split: str = "train", limit: int | None = None, progress: bool = True
) -> ImageSet:
    """Load every training image of ``root`` (all views of the chosen split for ShapeNet layouts)."""
    from tqdm import tqdm

    from mvaug.data.transforms import existing_dir, load_image

    root = existing_dir(root, "data folder")
    if kind not in DATA_KINDS:
        raise DataError(f"unknown data kind {kind!r}; choose from {', '.join(DATA_KINDS)}", root)
    kind = detect_kind(root) if kind == "auto" else kind
    paths, views, identities, crop = _index(root, kind, split)
    if limit is not None:
        paths, views, identities = paths[:limit], views[:limit], identities[:limit]
    if not paths:
        raise DataError(f"no images found for a {kind} data set", root)
    images = torch.empty((len(paths), 3, image_size, image_size), dtype=torch.uint8)
    for i, path in enumerate(tqdm(paths, desc=f"loading {kind}", unit="img", disable=not progress, leave=False)):
        images[i] = load_image(path, image_size, crop).mul_(255).round_().to(torch.uint8)
    as_labels = lambda values: None if any(v is None for v in values) else torch.tensor(values, dtype=torch.long)  # noqa: E731
    return ImageSet(images, as_labels(views), as_labels(identities), [str(p) for p in paths], kind)


def _index(root: Path, kind: str, split: str) -> tuple[list[Path], list, list, int | None]:
    if kind == "shapenet":
        return _index_shapenet(root, split)
    if kind == "chairs3d":
        from mvaug.data.chairs3d import Chairs3DDataset

        data = Chairs3DDataset(root, image_size=None)
        index = {view: i for i, view in enumerate(data.views)}
        renders = data.renders
        return [r.path for r in renders], [index[(r.elevation, r.azimuth)] for r in renders], [r.chair_index for r in renders], 400
    if kind == "faces":
        from mvaug.faces.dataset import index_face_set

        return (*index_face_set(root, split), None)
    if kind == "celeba":
        folder = root / "img_align_celeba" if (root / "img_align_celeba").is_dir() else root
        paths = _images_in(folder)
        ids = _celeba_identities(root, paths)
        return paths, [None] * len(paths), ids, 148  # the usual 148 x 148 face crop of the 178 x 218 images
    paths = _images_in(root)
    return paths, [None] * len(paths), [None] * len(paths), None


def _index_shapenet(root: Path, split: str) -> tuple[list[Path], list, list, None]:
    from mvaug.data.shapenet import ShapeNetDataset, list_views

    data = ShapeNetDataset.from_root(root, split=split)
    dense = _is_dense_synthetic(root)
    paths, views, identities = [], [], []
    for identity, model in enumerate(data.models):
        for number, path in enumerate(list_views(model.rendering_dir)):
            paths.append(path)
            views.append(number if dense else None)
            identities.append(identity)
    return paths, views, identities, None


def _is_dense_synthetic(root: Path) -> bool:
    manifest = root / "synth_manifest.json"
    if not manifest.is_file():
        return False
    try:
        return bool(json.loads(manifest.read_text())["config"]["dense"])
    except (ValueError, KeyError, TypeError):
        raise DataError("unreadable synthetic data manifest", manifest) from None


def _images_in(folder: Path) -> list[Path]:
    from mvaug.io.images import IMAGE_SUFFIXES

    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


def _celeba_identities(root: Path, paths: list[Path]) -> list:
    """Identity per image from CelebA's ``identity_CelebA.txt`` (``000001.jpg 2880`` per line) when present."""
    for candidate in (root / "identity_CelebA.txt", root / "Anno" / "identity_CelebA.txt", root.parent / "identity_CelebA.txt"):
        if candidate.is_file():
            table = {}
            for number, line in enumerate(candidate.read_text().splitlines(), start=1):
                parts = line.split()
                if len(parts) != 2 or not parts[1].isdigit():
                    raise DataError(f"line {number} is not '<image> <identity>': {line!r}", candidate)
                table[parts[0]] = int(parts[1])
            return [table.get(p.name) for p in paths]
    return [None] * len(paths)
