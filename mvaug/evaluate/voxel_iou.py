"""Voxel IoU as Pix2Vox reports it (:func:`mvaug.geometry.voxel_iou.voxel_iou`): per category, and over
a folder of predictions.

Folder layout (Pix2Vox / 3D-R2N2): predictions at ``PRED/<taxonomy>/<model>/<name>.binvox|.npy``
are scored against ``GT/<taxonomy>/<model>/model.binvox``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence, TypedDict

import numpy as np

from mvaug.data.taxonomy import SHAPENET13_NAMES, taxonomy_label
from mvaug.errors import DataError
from mvaug.geometry.voxel_iou import DEFAULT_THRESHOLDS, Array, is_tensor, voxel_iou
from mvaug.io.voxel_files import GRID_SUFFIXES, read_grid, read_occupancy

class CategoryIoU(TypedDict):
    """Result of :func:`mean_iou_by_category`; categories sorted by taxonomy id."""

    per_category: dict[str, np.ndarray]  # taxonomy id -> mean IoU (T,)
    counts: dict[str, int]  # taxonomy id -> number of samples
    overall: np.ndarray  # (T,), mean of the category means weighted by their counts
    total: int


def mean_iou_by_category(ious: Array, taxonomy_ids: Sequence[str]) -> CategoryIoU:
    """Per-category mean IoU (T,) of ``ious`` (N, T) and the count-weighted overall mean, as Pix2Vox reports."""
    ious = ious.detach().cpu().numpy() if is_tensor(ious) else np.asarray(ious, dtype=np.float64)
    ids = np.asarray(taxonomy_ids, dtype=str)
    if ious.ndim != 2 or ids.ndim != 1 or ious.shape[0] != ids.shape[0]:
        raise ValueError(f"expected ious (N, T) and N taxonomy ids, got {ious.shape} and {ids.shape}")
    if ids.size == 0:
        raise ValueError("no samples to average")
    cats = sorted(set(ids.tolist()))
    per = {c: ious[ids == c].mean(0) for c in cats}
    counts = {c: int((ids == c).sum()) for c in cats}
    overall = sum(per[c] * counts[c] for c in cats) / ids.size
    return CategoryIoU(per_category=per, counts=counts, overall=overall, total=int(ids.size))


def render_table(header: Sequence[str], rows: Iterable[Sequence[str]], style: str = "text", left: int = 1) -> str:
    """Aligned table: the first ``left`` columns left-aligned, the others right. style 'text' or 'markdown'."""
    rows = [list(r) for r in rows]
    narrowest = 3 if style == "markdown" else 1  # a markdown rule cell needs a dash beside its colon
    widths = [max(narrowest, *(len(c) for c in col)) for col in zip(header, *rows)]

    def line(cells: Sequence[str]) -> str:
        padded = [c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return f"| {' | '.join(padded)} |" if style == "markdown" else "  ".join(padded)

    if style == "markdown":
        marks = [":" + "-" * (w - 1) if i < left else "-" * (w - 1) + ":" for i, w in enumerate(widths)]
        rule = f"| {' | '.join(marks)} |"
    elif style == "text":
        rule = "  ".join("-" * w for w in widths)
    else:
        raise ValueError(f"unknown table style {style!r}; use 'text' or 'markdown'")
    return "\n".join([line(header), rule, *map(line, rows)])


def _iou_cells(values: np.ndarray) -> list[str]:
    return [f"{v:.4f}" for v in values]


def _threshold_header(thresholds: Sequence[float]) -> list[str]:
    return [f"IoU@{t:g}" for t in thresholds]


def format_category_table(summary: CategoryIoU, thresholds: Sequence[float], style: str = "text") -> str:
    """One row per category ("<id> <name>" for the 13 ShapeNet categories), a column per threshold, count, Overall."""
    if len(thresholds) != summary["overall"].shape[0]:
        raise ValueError(f"{len(thresholds)} thresholds for {summary['overall'].shape[0]} IoU columns")
    rows = [[taxonomy_label(c), *_iou_cells(m), str(summary["counts"][c])] for c, m in summary["per_category"].items()]
    rows.append(["Overall", *_iou_cells(summary["overall"]), str(summary["total"])])
    return render_table(["Category", *_threshold_header(thresholds), "n"], rows, style)


@dataclass(frozen=True)
class PredictionPair:
    """A prediction file and the ground-truth grid it is scored against; ``label`` names it in tables."""

    prediction: Path
    ground_truth: Path
    taxonomy_id: str
    model_id: str
    label: str


def format_file_table(
    pairs: Sequence[PredictionPair], ious: np.ndarray, thresholds: Sequence[float], style: str = "text"
) -> str:
    """One row per prediction (N rows for ``ious`` (N, T))."""
    rows = [[p.label, taxonomy_label(p.taxonomy_id), *_iou_cells(v)] for p, v in zip(pairs, ious)]
    return render_table(["Prediction", "Category", *_threshold_header(thresholds)], rows, style, left=2)


def find_prediction_pairs(pred: str | os.PathLike, gt: str | os.PathLike) -> list[PredictionPair]:
    """Pair a prediction file with a GT file, or every ``PRED/<tax>/<model>/*`` with ``GT/<tax>/<model>/model.binvox``.

    A single pair takes its taxonomy and model ids from the GT path's last two folders.
    """
    pred, gt = Path(pred), Path(gt)
    for path, what in ((pred, "prediction"), (gt, "ground-truth")):
        if not path.exists():
            raise DataError(f"{what} path not found", path)
    if pred.is_file():
        if not gt.is_file():
            raise DataError("the prediction is a file, so the ground truth must be a file too", gt)
        return [PredictionPair(pred, gt, gt.parent.parent.name, gt.parent.name, str(pred))]
    if not gt.is_dir():
        raise DataError("the predictions are a folder, so the ground truth must be a folder too", gt)
    files = sorted(p for p in pred.glob("*/*/*") if p.suffix in GRID_SUFFIXES and p.is_file())
    if not files:
        raise DataError("no predictions found (expected <taxonomy>/<model>/<name>.binvox or .npy)", pred)
    pairs = []
    for path in files:
        tax, model, _ = path.relative_to(pred).parts
        expected = gt / tax / model / "model.binvox"
        if not expected.is_file():
            raise DataError(f"no ground truth for this prediction (expected {expected})", path)
        pairs.append(PredictionPair(path, expected, tax, model, path.relative_to(pred).as_posix()))
    return pairs


def pair_iou(pair: PredictionPair, thresholds: Sequence[float] = DEFAULT_THRESHOLDS, pred_axes: str = "xyz") -> np.ndarray:
    """IoU (T,) of one prediction file (its array axes named by ``pred_axes``) against its ground truth."""
    pred, _ = read_grid(pair.prediction, pred_axes)
    gt = read_occupancy(pair.ground_truth)
    if pred.shape != gt.shape:
        raise DataError(f"grid size {pred.shape} differs from {gt.shape} of ground truth {pair.ground_truth}", pair.prediction)
    return voxel_iou(pred, gt, thresholds)


def evaluate_pairs(
    pairs: Sequence[PredictionPair], thresholds: Sequence[float] = DEFAULT_THRESHOLDS, pred_axes: str = "xyz"
) -> np.ndarray:
    """IoU (N, T) of every pair. Files are read and scored one pair at a time, so memory holds one grid pair."""
    return np.stack([pair_iou(p, thresholds, pred_axes) for p in pairs])


def iou_report(
    pairs: Sequence[PredictionPair], ious: np.ndarray, thresholds: Sequence[float], pred_axes: str = "xyz"
) -> dict:
    """A JSON-ready record of thresholds, per-category and overall means, and every file's IoU."""
    summary = mean_iou_by_category(ious, [p.taxonomy_id for p in pairs])
    return {
        "thresholds": [float(t) for t in thresholds],
        "pred_axes": pred_axes,
        "categories": [
            {"taxonomy_id": c, "name": SHAPENET13_NAMES.get(c), "count": summary["counts"][c], "iou": m.tolist()}
            for c, m in summary["per_category"].items()
        ],
        "overall": {"count": summary["total"], "iou": summary["overall"].tolist()},
        "files": [
            {
                "prediction": str(p.prediction),
                "ground_truth": str(p.ground_truth),
                "taxonomy_id": p.taxonomy_id,
                "model_id": p.model_id,
                "iou": v.tolist(),
            }
            for p, v in zip(pairs, ious)
        ],
    }
