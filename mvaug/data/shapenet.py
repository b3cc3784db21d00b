"""ShapeNet renders and voxels in the layout that 3D-R2N2 and Pix2Vox distribute.

::

    <rendering_root>/<taxonomy_id>/<model_id>/rendering/00.png .. 23.png
                                                       /renderings.txt          the views, one PNG a line
                                                       /rendering_metadata.txt  one camera a line
    <voxel_root>/<taxonomy_id>/<model_id>/model.binvox
    split file (Pix2Vox): [{"taxonomy_id", "taxonomy_name", "baseline", "train": [...], "val": [...], "test": [...]}]

Construction only checks that files exist; images, voxels and cameras are read per item.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from mvaug.data.taxonomy import SHAPENET13_NAMES
from mvaug.data.transforms import WHITE, Background, check_background, check_size, existing_dir, load_image
from mvaug.errors import ConfigError, DataError
from mvaug.geometry.camera import read_rendering_metadata
from mvaug.io.binvox import read_binvox
from mvaug.io.images import read_image

SPLITS = ("train", "val", "test")
VIEW_SELECTIONS = ("first", "random")


@dataclass(frozen=True)
class Category:
    """One entry of the split file: ``models`` maps each split to its model ids."""

    taxonomy_id: str
    name: str
    models: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class ShapeNetModel:
    """One model of the data set and where its files are."""

    taxonomy_id: str
    model_id: str
    split: str
    rendering_dir: Path
    voxel_path: Path


@dataclass(frozen=True)
class CategorySummary:
    """Model counts per split and the fewest/most views per model of one category."""

    taxonomy_id: str
    name: str
    models: dict[str, int]
    views: tuple[int, int]


def _split_entry(entry: object, number: int, path: Path) -> Category:
    if not isinstance(entry, dict) or not isinstance(entry.get("taxonomy_id"), str):
        raise DataError(f"entry {number} is not an object with a string 'taxonomy_id'", path)
    taxonomy_id = entry["taxonomy_id"]
    models = {}
    for split in SPLITS:
        ids = entry.get(split, [])
        if not isinstance(ids, list) or not all(isinstance(m, str) for m in ids):
            raise DataError(f"'{split}' of taxonomy {taxonomy_id} must be a list of model ids", path)
        models[split] = tuple(ids)
    name = entry.get("taxonomy_name") or SHAPENET13_NAMES.get(taxonomy_id, taxonomy_id)
    return Category(taxonomy_id, str(name), models)


def read_split_file(path: str | os.PathLike) -> list[Category]:
    """Parse a Pix2Vox split file; :class:`DataError` naming it if missing, not JSON or misshapen."""
    path = Path(path)
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError("split file not found", path) from None
    except IsADirectoryError:
        raise DataError("expected a split file, found a folder", path) from None
    except UnicodeDecodeError:
        raise DataError("split file is not UTF-8 text", path) from None
    except json.JSONDecodeError as err:
        raise DataError(f"split file is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})", path) from None
    if not isinstance(entries, list):
        raise DataError("split file must hold a list of categories (Pix2Vox format)", path)
    return [_split_entry(entry, number, path) for number, entry in enumerate(entries)]


def select_categories(categories: list[Category], wanted: str | Sequence[str] | None, split_file: Path) -> list[Category]:
    """The categories named in ``wanted`` by taxonomy id or name (all if None), in split-file order."""
    if wanted is None:
        return categories
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    known = {c.taxonomy_id for c in categories} | {c.name for c in categories}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        noun = "category" if len(unknown) == 1 else "categories"
        choices = ", ".join(f"{c.taxonomy_id} ({c.name})" for c in categories)
        raise DataError(f"unknown {noun} {', '.join(unknown)}; available: {choices}", split_file)
    return [c for c in categories if c.taxonomy_id in wanted or c.name in wanted]


def find_split_file(root: Path) -> Path:
    """``root/ShapeNet.json``, else the only ``*.json`` in ``root``."""
    default = root / "ShapeNet.json"
    if default.is_file():
        return default
    candidates = sorted(p for p in root.glob("*.json") if p.is_file())
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise DataError("no split file: expected ShapeNet.json (Pix2Vox format)", root)
    raise DataError(f"several split files ({', '.join(p.name for p in candidates)}) and no ShapeNet.json; pass split_file", root)


def _index_models(
    categories: list[Category],
    splits: Sequence[str],
    rendering_root: Path,
    voxel_root: Path,
    split_file: Path,
    skip_missing: bool,
) -> list[ShapeNetModel]:
    """The models of ``splits`` whose rendering folder and binvox exist; a missing one raises unless skipped."""
    found, missing = [], []
    for category in categories:
        for split in splits:
            for model_id in category.models[split]:
                model = ShapeNetModel(
                    category.taxonomy_id,
                    model_id,
                    split,
                    rendering_root / category.taxonomy_id / model_id / "rendering",
                    voxel_root / category.taxonomy_id / model_id / "model.binvox",
                )
                absent = next((p for p in (model.rendering_dir, model.voxel_path) if not p.exists()), None)
                if absent is None:
                    found.append(model)
                elif skip_missing:
                    missing.append(absent)
                else:
                    raise DataError(f"not found (model {model_id}, {split} split of {split_file})", absent)
    if missing:
        total = len(found) + len(missing)
        warnings.warn(f"skipped {len(missing)} of {total} models whose renderings or voxels are missing (first: {missing[0]})", stacklevel=3)
    return found


def _numbered_views(rendering_dir: Path) -> list[Path]:
    """The NN.png files of a folder without renderings.txt; they must run 00, 01, ... without gaps."""
    views = sorted((p for p in rendering_dir.glob("*.png") if p.stem.isdigit()), key=lambda p: int(p.stem))
    if not views:
        raise DataError("no renderings.txt and no NN.png views", rendering_dir)
    gap = next((i for i, p in enumerate(views) if int(p.stem) != i), None)
    if gap is not None:
        message = "view missing (without renderings.txt the views must be numbered from 00 without gaps)"
        raise DataError(message, rendering_dir / f"{gap:02d}.png")
    return views


def list_views(rendering_dir: Path) -> list[Path]:
    """The rendered views of a model, in metadata-line order: the PNGs in ``renderings.txt``, else 00.png, 01.png, ..."""
    listing = rendering_dir / "renderings.txt"
    try:
        names = [line.strip() for line in listing.read_text(encoding="utf-8").splitlines() if line.strip()]
    except FileNotFoundError:
        return _numbered_views(rendering_dir)
    except UnicodeDecodeError:
        raise DataError("not a text file", listing) from None
    if not names:
        raise DataError("lists no views", listing)
    return [rendering_dir / name for name in names]


def read_cameras(rendering_dir: Path, n_views: int) -> np.ndarray:
    """float32 (n_views, 5): the first ``n_views`` lines of ``rendering_metadata.txt`` (az, el, in-plane, distance, fov)."""
    path = rendering_dir / "rendering_metadata.txt"
    cameras = read_rendering_metadata(path)
    if len(cameras) < n_views:
        raise DataError(f"{len(cameras)} camera lines for {n_views} rendered views", path)
    return np.array([dataclasses.astuple(c) for c in cameras[:n_views]], dtype=np.float32).reshape(n_views, 5)


class ShapeNetDataset(Dataset):
    """Views, voxels and cameras of ShapeNet models (3D-R2N2 / Pix2Vox layout).

    Each item is a dict: ``images`` float32 (V, C, H, W) in [0, 1] with C=3 composited on
    ``background`` or C=4 (RGBA) if it is None; ``voxels`` float32 (X, Y, Z) = (32, 32, 32),
    indexed [x, y, z]; ``cameras`` float32 (V, 5), the metadata lines of the views;
    ``view_indices`` long (V,); ``taxonomy_id`` and ``model_id`` str. V = ``n_views``: the
    first views, or ("random") views drawn without replacement, reproducibly from
    (seed, epoch, index); call :meth:`set_epoch` before each epoch. ``split`` is one of
    train, val, test or all.
    """

    def __init__(
        self,
        rendering_root: str | os.PathLike,
        voxel_root: str | os.PathLike,
        split_file: str | os.PathLike,
        split: str = "train",
        categories: str | Sequence[str] | None = None,
        n_views: int = 1,
        view_selection: str = "first",
        image_size: int | None = None,
        background: Background | None = WHITE,
        seed: int = 0,
        skip_missing: bool = False,
    ):
        if split not in (*SPLITS, "all"):
            raise ConfigError(f"split must be one of {', '.join(SPLITS)} or all, got {split!r}")
        if view_selection not in VIEW_SELECTIONS:
            raise ConfigError(f"view_selection must be 'first' or 'random', got {view_selection!r}")
        self.n_views = check_size(n_views, "n_views", allow_none=False)
        self.view_selection = view_selection
        self.image_size = check_size(image_size, "image_size")
        self.background = check_background(background)
        self.seed, self.epoch = seed, 0
        rendering_root = existing_dir(rendering_root, "rendering folder")
        voxel_root = existing_dir(voxel_root, "voxel folder")
        self.split_file = Path(split_file)
        self.categories = select_categories(read_split_file(self.split_file), categories, self.split_file)
        splits = SPLITS if split == "all" else (split,)
        self.models = _index_models(self.categories, splits, rendering_root, voxel_root, self.split_file, skip_missing)
        if not self.models:
            names = ", ".join(c.name for c in self.categories)
            raise DataError(f"no models in split {split} of categories {names}", self.split_file)

    @classmethod
    def from_root(cls, root: str | os.PathLike, **kwargs) -> ShapeNetDataset:
        """A data set from a folder holding ShapeNetRendering/, ShapeNetVox32/ and the split JSON."""
        root = existing_dir(root, "ShapeNet root")
        return cls(root / "ShapeNetRendering", root / "ShapeNetVox32", find_split_file(root), **kwargs)

    def __len__(self) -> int:
        return len(self.models)

    def set_epoch(self, epoch: int) -> None:
        """Draw other random views from now on (DataLoader workers copy the data set at each epoch's start)."""
        self.epoch = epoch

    def _choose_views(self, index: int, n_available: int, model: ShapeNetModel) -> np.ndarray:
        if self.n_views > n_available:
            raise DataError(f"{n_available} views rendered, n_views={self.n_views} asked", model.rendering_dir)
        if self.view_selection == "first":
            return np.arange(self.n_views)
        rng = np.random.default_rng((self.seed, self.epoch, index))
        return rng.choice(n_available, size=self.n_views, replace=False)

    def __getitem__(self, index: int) -> dict:
        model = self.models[index]
        views = list_views(model.rendering_dir)
        cameras = read_cameras(model.rendering_dir, len(views))
        chosen = self._choose_views(index, len(views), model)
        images = [load_image(views[i], self.image_size, background=self.background) for i in chosen]
        return {
            "images": torch.stack(images),
            "voxels": torch.from_numpy(read_binvox(model.voxel_path).data.astype(np.float32)),
            "cameras": torch.from_numpy(cameras[chosen]),
            "view_indices": torch.from_numpy(chosen.astype(np.int64)),
            "taxonomy_id": model.taxonomy_id,
            "model_id": model.model_id,
        }

    def verify(self, index: int) -> int:
        """Decode every view, the binvox and the metadata of one model; return its number of views."""
        model = self.models[index]
        views = list_views(model.rendering_dir)
        read_cameras(model.rendering_dir, len(views))
        for path in views:
            read_image(path)
        read_binvox(model.voxel_path)
        return len(views)

    def summary(self) -> list[CategorySummary]:
        """Per category with models here: models per split, and fewest/most views per model (reads renderings.txt)."""
        rows = []
        for category in self.categories:
            models = [m for m in self.models if m.taxonomy_id == category.taxonomy_id]
            if not models:
                continue
            counts = {split: sum(m.split == split for m in models) for split in SPLITS}
            views = [len(list_views(m.rendering_dir)) for m in models]
            rows.append(CategorySummary(category.taxonomy_id, category.name, counts, (min(views), max(views))))
        return rows
