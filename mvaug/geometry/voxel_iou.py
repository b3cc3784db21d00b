"""Voxel IoU with Pix2Vox's definition, for numpy arrays and tensors; the metric that training, validation
and evaluation share.

At threshold ``t`` the prediction is binarised with ``pred >= t``; then
``IoU = sum(bin * gt) / sum((bin + gt) >= 1)``. When both grids are empty (union 0) the IoU is
defined as 1.0: predicting nothing where there is nothing is exactly right.
"""

from __future__ import annotations

import sys
from typing import Any, Sequence

import numpy as np

DEFAULT_THRESHOLDS: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5)

Array = Any  # np.ndarray or torch.Tensor


def is_tensor(x: Any) -> bool:
    """Whether ``x`` is a torch tensor, without importing torch."""
    torch = sys.modules.get("torch")  # a tensor can only exist once torch is imported
    return torch is not None and isinstance(x, torch.Tensor)


def _check_grids(pred: Array, gt: Array) -> None:
    if tuple(pred.shape) != tuple(gt.shape):
        raise ValueError(f"prediction shape {tuple(pred.shape)} does not match ground-truth shape {tuple(gt.shape)}")
    if pred.ndim not in (3, 4):
        raise ValueError(f"expected grids of shape (N, D, D, D) or (D, D, D), got {tuple(pred.shape)}")
    if str(gt.dtype) not in ("bool", "torch.bool") and not bool(((gt == 0) | (gt == 1)).all()):
        raise ValueError("ground truth must be an occupancy grid (bool, or only the values 0 and 1)")


def voxel_iou(pred: Array, gt: Array, thresholds: Sequence[float] = DEFAULT_THRESHOLDS) -> Array:
    """IoU of each sample at each threshold.

    pred: (N, D, D, D) or (D, D, D), probabilities or bool; gt: occupancy (bool or 0/1) of the same
    shape. numpy or torch (gt is moved to pred's kind and device). Returns (N, T), or (T,) for one
    grid: float64 numpy for numpy, a tensor of torch's default float dtype on pred's device for torch.
    CPU tensors are scored through numpy (zero-copy), which is several times faster than torch's
    boolean reductions on the CPU; CUDA tensors stay on the GPU.
    """
    if len(thresholds) == 0:
        raise ValueError("at least one threshold is needed")
    if is_tensor(pred):
        torch = sys.modules["torch"]
        gt = torch.as_tensor(gt, device=pred.device)
        _check_grids(pred, gt)
        if pred.device.type == "cpu":
            iou = _iou_numpy(pred.detach().numpy(), gt.numpy(), thresholds)
            return torch.from_numpy(iou).to(torch.get_default_dtype())
        return _iou_torch(pred.detach(), gt, thresholds)
    pred, gt = np.asarray(pred), (gt.detach().cpu().numpy() if is_tensor(gt) else np.asarray(gt))
    _check_grids(pred, gt)
    return _iou_numpy(pred, gt, thresholds)


def _iou_numpy(pred: np.ndarray, gt: np.ndarray, thresholds: Sequence[float], chunk: int = 16) -> np.ndarray:
    """Chunks of ``chunk`` grids keep the temporaries in cache; union = |pred| + |gt| - intersection."""
    single = pred.ndim == 3
    p = pred.reshape(1 if single else pred.shape[0], -1)
    g = gt.reshape(p.shape) != 0
    inter = np.empty((p.shape[0], len(thresholds)), dtype=np.int64)
    union = np.empty_like(inter)
    for start in range(0, p.shape[0], chunk):
        pc, gc = p[start : start + chunk], g[start : start + chunk]
        n_gt = np.count_nonzero(gc, axis=1)
        for k, t in enumerate(thresholds):
            occupied = pc >= t
            inter[start : start + chunk, k] = np.count_nonzero(occupied & gc, axis=1)
            union[start : start + chunk, k] = np.count_nonzero(occupied, axis=1) + n_gt - inter[start : start + chunk, k]
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    return iou[0] if single else iou


def _iou_torch(pred, gt, thresholds: Sequence[float]):
    """The same on the tensor's device, with float reductions (fast on GPUs)."""
    torch = sys.modules["torch"]
    single = pred.ndim == 3
    p = pred.reshape(1 if single else pred.shape[0], -1)
    g = (gt.reshape(p.shape) != 0).to(torch.float32)
    n_gt = g.sum(1)
    occupied = torch.stack([(p >= t).to(torch.float32) for t in thresholds], 1)  # (N, T, V)
    inter = torch.einsum("ntv,nv->nt", occupied, g)
    union = occupied.sum(2) + n_gt[:, None] - inter
    iou = torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union)).to(torch.get_default_dtype())
    return iou[0] if single else iou
