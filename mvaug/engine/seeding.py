"""Seeds and the order of batches: a run that resumes sees exactly the batches an uninterrupted one would."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def batch_indices(step: int, num_images: int, batch_size: int, seed: int) -> torch.Tensor:
    """Indices of the images of ``step``: consecutive slices of a per-epoch permutation (drop last)."""
    per_epoch = max(num_images // batch_size, 1)
    epoch, position = divmod(step, per_epoch)
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(num_images, generator=generator)
    return order[position * batch_size : (position + 1) * batch_size]
