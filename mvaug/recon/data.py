"""Views and voxels of a ShapeNet-layout data set, in the batches that Pix2Vox trains on.

Every training batch is a pure function of its step: the models come from the per-epoch
permutation of :func:`mvaug.disentangle.trainer.batch_indices`, the number of views, the views and
the augmentations from generators seeded with ``(seed, step)``. A resumed run therefore sees the
batches an uninterrupted one would, with any number of DataLoader workers.

With generated views (``synth.run``, :mod:`mvaug.recon.synth_views`), a step of several views draws
one of :data:`EXTRA_MODES` for its whole batch from ``synth.mix`` (a batch's samples share their
number of views): every sample starts with one of its model's cached input views, followed by other
real renders, by views generated from that input, or by nothing (a batch of single views).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import Dataset

from mvaug.data.shapenet import ShapeNetDataset, list_views
from mvaug.data.transforms import center_crop, resize_square
from mvaug.engine.seeding import batch_indices
from mvaug.errors import DataError
from mvaug.io.binvox import read_binvox
from mvaug.io.images import read_image
from mvaug.recon.augment import augment_views, composite
from mvaug.recon.config import ReconConfig

if TYPE_CHECKING:
    from mvaug.recon.synth_views import SynthViewCache

EXTRA_MODES = ("real", "generated", "none")
"""What follows the first view of the samples of a multi-view batch with generated views on (the order of ``synth.mix``)."""


def load_rgba(path: str | os.PathLike, size: int, crop_fraction: float) -> torch.Tensor:
    """uint8 RGBA (4, size, size): the central ``crop_fraction`` of a render, resized (PIL bilinear, antialiased)."""
    rgba = read_image(path, "RGBA")
    side = min(rgba.shape[:2])
    if crop_fraction < 1.0:
        rgba = center_crop(rgba, max(1, round(crop_fraction * side)), path)
    return torch.tensor(resize_square(rgba, size)).permute(2, 0, 1)  # a copy: PIL arrays are read-only


class ShapeNetViews:
    """The models of one split: their views as RGBA at the network's input size, and their voxels (32, 32, 32)."""

    def __init__(self, root: str | os.PathLike, split: str, config: ReconConfig, limit: int | None = None):
        dataset = ShapeNetDataset.from_root(root, split=split, categories=config.data.categories)
        self.root = Path(root)
        self.split = split
        self.models = dataset.models[:limit] if limit else dataset.models
        self.image_size = config.model.image_size
        self.crop_fraction = config.data.crop_fraction
        self.cache = config.data.cache_images
        self._views: dict[int, list[Path]] = {}
        self._images: dict[tuple[int, int], torch.Tensor] = {}
        self._voxels: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.models)

    def views(self, index: int) -> list[Path]:
        if index not in self._views:
            self._views[index] = list_views(self.models[index].rendering_dir)
        return self._views[index]

    def rgba(self, index: int, view: int) -> torch.Tensor:
        """uint8 (4, S, S) of one view."""
        key = (index, view)
        image = self._images.get(key)
        if image is None:
            image = load_rgba(self.views(index)[view], self.image_size, self.crop_fraction)
            if self.cache:
                self._images[key] = image
        return image

    def voxels(self, index: int) -> torch.Tensor:
        """float32 (32, 32, 32) occupancy, indexed [x, y, z]."""
        grid = self._voxels.get(index)
        if grid is None:
            path = self.models[index].voxel_path
            grid = torch.from_numpy(read_binvox(path).data.astype(np.float32))
            if grid.shape != (32, 32, 32):
                raise DataError(f"expected a 32^3 voxel grid, got {tuple(grid.shape)}", path)
            self._voxels[index] = grid
        return grid

    def sample(self, index: int, views: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """RGBA float (V, 4, S, S) in [0, 1] and voxels (32, 32, 32)."""
        images = torch.stack([self.rgba(index, v) for v in views]).float().div_(255.0)
        return images, self.voxels(index)

    def fixed_views(self, index: int, count: int, seed: int) -> list[int]:
        """``count`` views of a model drawn once from (seed, index): the same for every evaluation."""
        available = len(self.views(index))
        if count > available:
            raise DataError(f"{available} views rendered, {count} asked", self.models[index].rendering_dir)
        generator = torch.Generator().manual_seed(seed * 1_000_003 + index)
        return torch.randperm(available, generator=generator)[:count].tolist()

    def eval_batch(self, indices: list[int], count: int, seed: int, background: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Views (N, V, 3, S, S) on a uniform ``background`` and voxels (N, 32, 32, 32) of ``indices``."""
        samples = [self.sample(i, self.fixed_views(i, count, seed)) for i in indices]
        rgba = torch.stack([s[0] for s in samples])
        return composite(rgba, torch.full((3,), background)), torch.stack([s[1] for s in samples])


def step_generator(seed: int, step: int, stream: int) -> torch.Generator:
    return torch.Generator().manual_seed(((seed * 1_000_003 + step) * 7 + stream) % 2**63)


class TrainBatches(Dataset):
    """Item ``step`` = this rank's part of the global batch of that step: ``images`` (b, V, 3, S, S), ``voxels`` (b, 32, 32, 32),
    and with generated views (``synth`` set) ``extra``, one of :data:`EXTRA_MODES`."""

    def __init__(self, data: ShapeNetViews, config: ReconConfig, rank: int = 0, world_size: int = 1, synth: SynthViewCache | None = None):
        self.data, self.config, self.rank, self.world_size, self.synth = data, config, rank, world_size, synth
        batch_size = config.train.batch_size
        if batch_size % world_size:
            raise DataError(f"batch_size {batch_size} is not divisible by the {world_size} processes")
        self.steps_per_epoch = max(len(data) // batch_size, 1)

    def __len__(self) -> int:
        return self.steps_per_epoch * self.config.train.epochs

    def view_count(self, step: int) -> int:
        """Views per sample at ``step``: 1 in the first stage of two-stage training, else up to ``data.views``."""
        data, train = self.config.data, self.config.train
        if train.two_stage and step // self.steps_per_epoch < train.stage1_epochs:
            return 1
        if not data.random_view_count or data.views == 1:
            return data.views
        return int(torch.randint(1, data.views + 1, (1,), generator=step_generator(train.seed, step, 0)))

    def __getitem__(self, step: int) -> dict:
        train = self.config.train
        models = batch_indices(step, len(self.data), train.batch_size, train.seed).tolist()
        count = min([self.view_count(step)] + [len(self.data.views(m)) for m in models])
        chooser = step_generator(train.seed, step, 1)
        part = slice(self.rank * len(models) // self.world_size, (self.rank + 1) * len(models) // self.world_size)
        extra = "none"
        if self.synth is None or count == 1:
            chosen = [torch.randperm(len(self.data.views(m)), generator=chooser)[:count].tolist() for m in models]
            samples = [self.data.sample(m, v) for m, v in zip(models[part], chosen[part])]
        else:
            extra, samples = self._mixed_samples(models, count, chooser, part)
        rgba = torch.stack([s[0] for s in samples])
        voxels = torch.stack([s[1] for s in samples])
        images, voxels = augment_views(rgba, voxels, self.config.augment, step_generator(train.seed, step, 2 + self.rank))
        return {"images": images, "voxels": voxels} | ({"extra": extra} if self.synth is not None else {})

    def _mixed_samples(self, models: list[int], count: int, chooser: torch.Generator, part: slice) -> tuple[str, list[tuple[torch.Tensor, torch.Tensor]]]:
        """The mode of a multi-view batch with generated views, drawn from ``synth.mix``, and the samples of ``part`` of ``models``
        (RGBA (V, 4, S, S), voxels): a cached input view, then ``count - 1`` other real views, generated views of it, or none.
        Every draw is made for the whole global batch, so that the ranks agree."""
        synth = self.synth
        mode = EXTRA_MODES[int(torch.multinomial(torch.tensor(self.config.synth.mix), 1, generator=chooser))]
        extra = 0 if mode == "none" else count - 1
        slots = torch.randint(synth.inputs_per_model, (len(models),), generator=chooser).tolist()
        firsts = [int(synth.inputs[m, slot]) for m, slot in zip(models, slots)]
        if mode == "generated":
            picks = [torch.randperm(synth.views_per_input, generator=chooser)[:extra].tolist() for _ in models]
        else:  # other real views: indices of the views without the first
            picks = [[v + (v >= first) for v in torch.randperm(len(self.data.views(m)) - 1, generator=chooser)[:extra].tolist()]
                     for m, first in zip(models, firsts)]
        samples = []
        for m, slot, first, pick in list(zip(models, slots, firsts, picks))[part]:
            if mode == "generated":
                images, voxels = self.data.sample(m, [first])
                samples.append((torch.cat([images, synth.rgba(m, slot, pick)]), voxels))
            else:
                samples.append(self.data.sample(m, [first, *pick]))
        return mode, samples
