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


def rng_state() -> dict:
    """torch's CPU and CUDA generator states, for a checkpoint (plain tensors: weights-only loading reads them)."""
    return {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def restore_rng(state: dict) -> None:
    """Undo :func:`rng_state`; the states are CPU byte tensors, moved back if a map_location put them on a GPU."""
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
