"""IoU by number of input views, averaged over disjoint view sets (issue 5's "more views must not be worse").

Each object's ``max(counts)`` fixed views (``ShapeNetViews.fixed_views``) are split into disjoint sets of
``count`` views; the object's IoU for ``count`` is the mean over its sets. One view is then the mean of
every single-view reconstruction, not the luck of one view, and every count sees the same images, so
differences between counts are paired per object.
"""

from __future__ import annotations

import numpy as np
import torch
from pix2vox import Pix2Vox

from mvaug.geometry.voxel_iou import DEFAULT_THRESHOLDS, voxel_iou
from mvaug.recon.data import ShapeNetViews


def iou_by_view_count(
    model: Pix2Vox, data: ShapeNetViews, counts: list[int], seed: int, background: float, device: torch.device,
    limit: int | None = None, batch_size: int = 8, thresholds=DEFAULT_THRESHOLDS, drawn: int | None = None,
) -> dict[int, np.ndarray]:
    """Per-object IoU (N, T) for every count, each the mean over the disjoint ``count``-view sets of the ``drawn``
    views (default ``max(counts)``), for the models of ``data`` (the first ``limit``)."""
    total = drawn or max(counts)
    uneven = [c for c in counts if c < 1 or total % c]
    if uneven:
        raise ValueError(f"view counts {uneven} do not split the {total} views into whole sets")
    was_training = model.training
    model.eval()
    scores: dict[int, list[np.ndarray]] = {c: [] for c in counts}
    with torch.no_grad():
        objects = len(data) if limit is None else min(limit, len(data))
        for start in range(0, objects, batch_size):
            images, voxels = data.eval_batch(list(range(start, min(start + batch_size, objects))), total, seed, background)
            raw, coarse = model.per_view(images.to(device))  # every view encoded once: (n, total, 9, D, D, D), (n, total, D, D, D)
            for count in counts:
                sets = model.fuse(raw.reshape(-1, count, *raw.shape[2:]), coarse.reshape(-1, count, *coarse.shape[2:]))  # n * sets
                gt = voxels.repeat_interleave(total // count, dim=0).to(device)
                iou = np.asarray(voxel_iou(Pix2Vox.final(sets).float(), gt, thresholds).cpu())  # (n * sets, T)
                scores[count].append(iou.reshape(images.shape[0], total // count, -1).mean(axis=1))
    model.train(was_training)
    return {c: np.concatenate(s) for c, s in scores.items()}
