"""``mvaug eval-generate``: generated views of held-out objects against their real renders.

For every object of the chosen split, view ``input_view`` is the single input. For every bank view
v with a real render of that object at v's camera, three images are compared with that render:

* ``generated``: G(E_s(input), c_v);
* ``input``: the input itself, unchanged (baseline a: what a reconstructor gets without synthesis);
* ``nearest-train``: the training image at v whose style code (learned, or E_s(x) for runs without learned codes,
  such as the built-in models) is nearest to E_s(input) (refined, as the generated views' style, with ``refine_steps``)
  (baseline b: retrieval instead of synthesis).

The distance is LPIPS when its backbone weights are on disk, else 1 - SSIM (named in the report).
The held-out objects come from ``data``'s ``split`` or from another root (``held_out``: fresh objects
of a seed the training used not). Paired differences of generated minus each baseline, averaged per
object, get 95 % percentile bootstrap intervals over the objects.
Writes OUT/per_view.csv, OUT/summary.json, OUT/report.md and one contact sheet per chair family.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mvaug.errors import DataError
from mvaug.multiview.views import angular_gap, camera_gap, nearest_camera, training_cameras

METHODS = ("generated", "input", "nearest-train")


@dataclass
class ObjectViews:
    """One held-out object: its name, family (or category), renders (V, 3, S, S) with cameras (V, 2) and their folder."""

    name: str
    family: str
    images: torch.Tensor
    cameras: np.ndarray
    folder: Path


def evaluate_generation(
    run: str | os.PathLike,
    data: str | os.PathLike,
    out: str | os.PathLike,
    bank: str | os.PathLike | None = None,
    split: str = "test",
    input_view: int = 0,
    distance: str = "auto",
    sheet_views: int = 8,
    device: str = "auto",
    progress: bool = True,
    held_out: str | os.PathLike | None = None,
    bootstrap: int = 10_000,
    seed: int = 0,
    refine_steps: int = 0,
) -> dict:
    """Run the comparison described in the module docstring; returns the summary dict.

    OUT must be new, empty or hold an earlier report of eval-generate (replaced as one set at the end)."""
    from tqdm import tqdm

    from mvaug.disentangle.data import load_image_set
    from mvaug.engine.device import resolve_device
    from mvaug.evaluate.disentangle_metrics import silhouette_iou
    from mvaug.evaluate.image_distance import distance_by_name
    from mvaug.io.outputs import check_output_folder
    from mvaug.multiview.bank import training_codes
    from mvaug.multiview.synthesizer import MultiViewSynthesizer

    check_output_folder(out, _is_generation_report, "a report folder of 'mvaug eval-generate'")
    synth = MultiViewSynthesizer.from_run(run, bank, resolve_device(device), refine_steps)
    model = synth.model
    held_out_root = data if held_out is None else held_out
    objects = _held_out_objects(held_out_root, split, model.image_size)
    if not objects:
        raise DataError(f"the {split} split holds no models", held_out_root)
    cfg = model.config.data
    train = load_image_set(data, model.image_size, cfg.kind, cfg.split, cfg.limit, progress)
    if train.kind != "shapenet":
        raise DataError("eval-generate needs the ShapeNet layout with cameras (real or synthetic)", data)
    train_styles, _ = training_codes(model, train)  # (N, d_s): learned, or E_s(x) for runs without learned codes (built-in models)
    trained_on = {Path(name).parent.resolve() for name in train.names}
    seen = [obj.name for obj in objects if obj.folder.resolve() in trained_on]
    if seen:
        raise DataError(f"{len(seen)} of the held-out objects were trained on (e.g. {seen[0]}); choose another split or --held-out data", held_out_root)
    train_cameras = training_cameras(train.kind, train.names)
    tolerance = float(synth.bank.notes.get("tolerance_deg", 0.5))
    metric = distance_by_name(distance)
    views, _ = synth.bank.select(None)
    rows, sheets, generate_seconds, generated_count = [], {}, 0.0, 0
    for obj in tqdm(objects, desc="eval-generate", unit="object", disable=not progress, dynamic_ncols=True):
        if input_view >= len(obj.images):
            raise DataError(f"{obj.name} has {len(obj.images)} views, no view {input_view}", held_out_root)
        source = obj.images[input_view : input_view + 1]  # (1, 3, S, S)
        started = time.perf_counter()
        style = synth.style(source)  # (1, d_s): E_s(x), refined with refine_steps; also the retrieval's query
        _, generated = synth.generate_from_style(style, views)  # (1, V, 3, S, S)
        generate_seconds += time.perf_counter() - started
        generated_count += len(views)
        matched = []
        for k, view in enumerate(views):
            real = nearest_camera(obj.cameras, view, tolerance)
            retrieved = _nearest_training_image(train_styles, style[0], train_cameras, view, tolerance)
            if real is None or retrieved is None:
                continue
            matched.append((k, view, real, retrieved))
        if not matched:
            continue
        targets = torch.stack([obj.images[real] for _, _, real, _ in matched])
        candidates = {
            "generated": generated[0, [k for k, _, _, _ in matched]].cpu(),
            "input": source.expand(len(matched), -1, -1, -1),
            "nearest-train": train.float_images(torch.tensor([r for _, _, _, r in matched])),
        }
        scores = {name: metric(images, targets).cpu() for name, images in candidates.items()}
        masks = {f"{name}_mask_iou": silhouette_iou(images, targets).cpu() for name, images in candidates.items()}
        for j, (_, view, _, _) in enumerate(matched):
            gap = float(angular_gap(view.azimuth, float(obj.cameras[input_view, 0])))
            rows.append({"object": obj.name, "family": obj.family, "view": view.name, "azimuth_gap": round(gap, 2),
                         **{m: float(scores[m][j]) for m in METHODS}, **{m: float(v[j]) for m, v in masks.items()}})
        if obj.family not in sheets:
            sheets[obj.family] = _family_sheet(obj, source, candidates, targets, [v for _, v, _, _ in matched], sheet_views)
    if not rows:
        raise DataError("no bank view matched a render of the held-out objects (different cameras?)", held_out_root)
    summary = _summarise(rows, metric.name, generated_count / max(generate_seconds, 1e-9), run, data, split, input_view)
    summary["held_out"] = str(held_out_root)
    summary["refine_steps"] = refine_steps
    summary["paired"] = paired_gains(rows, bootstrap, seed)
    _write_report(Path(out), rows, summary, sheets)
    return summary


def _held_out_objects(data: str | os.PathLike, split: str, size: int) -> list[ObjectViews]:
    """Every model of ``split`` with all its renders loaded as the training loader does."""
    from mvaug.data.shapenet import ShapeNetDataset, list_views, read_cameras
    from mvaug.data.transforms import load_image

    from mvaug.data.synth.writer import read_model_families

    families = read_model_families(data)
    objects = []
    for model in ShapeNetDataset.from_root(data, split=split).models:
        paths = list_views(model.rendering_dir)
        images = torch.stack([load_image(p, size) for p in paths])
        cameras = read_cameras(model.rendering_dir, len(paths))[:, :2]
        objects.append(ObjectViews(model.model_id, families.get(model.model_id, model.taxonomy_id), images, cameras, Path(model.rendering_dir)))
    return objects


def _nearest_training_image(styles: torch.Tensor, style: torch.Tensor, cameras: np.ndarray, view, tolerance: float) -> int | None:
    """Among training images at the view's camera, the one whose learned style (N, d_s) is nearest to ``style``."""
    near = np.flatnonzero(camera_gap(cameras, view) <= tolerance)
    if near.size == 0:
        return None
    candidates = torch.from_numpy(near).to(styles.device)
    return int(candidates[(styles[candidates] - style).norm(dim=1).argmin()])


def _family_sheet(obj: ObjectViews, source, candidates: dict, targets: torch.Tensor, views, count: int) -> np.ndarray:
    """Rows: generated, real, nearest training image, for ``count`` views spread over the matched ones."""
    from mvaug.viz.analogy import to_uint8
    from mvaug.viz.labelled import captioned_grid

    pick = torch.linspace(0, len(views) - 1, min(count, len(views))).round().long().unique()
    names = [views[k].name for k in pick.tolist()]
    blank = np.full_like(to_uint8(source)[0], 255)
    rows = [
        [to_uint8(source)[0], *to_uint8(candidates["generated"][pick])],
        [blank, *to_uint8(targets[pick])],
        [blank, *to_uint8(candidates["nearest-train"][pick])],
    ]
    captions = [["input", *names], ["", *names], ["", *names]]
    titles = [f"{obj.family} {obj.name}: generated from the input", "real renders (ground truth)", "nearest training image by style (baseline b)"]
    return captioned_grid(rows, captions, titles)


def _summarise(rows: list[dict], distance: str, views_per_second: float, run, data, split: str, input_view: int) -> dict:
    def stats(values: list[float]) -> dict:
        arr = np.asarray(values)
        return {"mean": float(arr.mean()), "sem": float(arr.std(ddof=1) / np.sqrt(len(arr))) if len(arr) > 1 else 0.0, "n": len(arr)}

    families = sorted({r["family"] for r in rows})
    summary = {
        "distance": distance,
        "run": str(run),
        "data": str(data),
        "split": split,
        "input_view": input_view,
        "objects": len({r["object"] for r in rows}),
        "overall": {m: stats([r[m] for r in rows]) for m in METHODS},
        "by_family": {f: {m: stats([r[m] for r in rows if r["family"] == f]) for m in METHODS} for f in families},
        "generated_beats": {m: float(np.mean([r["generated"] < r[m] for r in rows])) for m in METHODS[1:]},
        "mask_iou": {m: stats([r[f"{m}_mask_iou"] for r in rows]) for m in METHODS},
        "generated_beats_mask_iou": {m: float(np.mean([r["generated_mask_iou"] > r[f"{m}_mask_iou"] for r in rows])) for m in METHODS[1:]},
        "generated_views_per_second": views_per_second,
    }
    return summary


def paired_gains(rows: list[dict], resamples: int, seed: int) -> dict:
    """Generated minus each baseline, per object (mean over its views), with a 95 % bootstrap interval over objects.

    Keys ``distance`` (negative: generated is closer) and ``mask_iou`` (positive: generated overlaps more),
    each baseline -> {"mean", "low", "high", "objects"}."""
    from mvaug.evaluate.reconstruction import bootstrap_interval

    objects = sorted({r["object"] for r in rows})
    gains: dict = {"distance": {}, "mask_iou": {}}
    for measure, suffix in (("distance", ""), ("mask_iou", "_mask_iou")):
        for baseline in METHODS[1:]:
            diff = np.array([np.mean([r[f"generated{suffix}"] - r[f"{baseline}{suffix}"] for r in rows if r["object"] == obj]) for obj in objects])
            low, high = bootstrap_interval(diff, resamples, seed)
            gains[measure][baseline] = {"mean": float(diff.mean()), "low": low, "high": high, "objects": len(objects)}
    return gains


def _is_generation_report(folder: Path) -> bool:
    """Whether ``folder`` holds a report of :func:`evaluate_generation` (its summary.json compares the methods)."""
    try:
        summary = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(summary, dict) and "generated_beats" in summary and "overall" in summary


def _write_report(out: Path, rows: list[dict], summary: dict, sheets: dict[str, np.ndarray]) -> None:
    """OUT/per_view.csv, OUT/summary.json, OUT/report.md and OUT/sheet_<family>.png, written as one set."""
    from mvaug.io.atomic import atomic_write_text
    from mvaug.io.images import write_png
    from mvaug.io.outputs import output_set

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    files = ["per_view.csv", "summary.json", "report.md", *(f"sheet_{family}.png" for family in sheets)]
    with output_set({name: out / name for name in files}) as temp:
        atomic_write_text(temp["per_view.csv"], buffer.getvalue())
        atomic_write_text(temp["summary.json"], json.dumps(summary, indent=2) + "\n")
        atomic_write_text(temp["report.md"], format_generation_table(summary) + "\n")
        for family, sheet in sheets.items():
            write_png(temp[f"sheet_{family}.png"], sheet)


def format_generation_table(summary: dict) -> str:
    """Markdown: mean distance (± standard error) per method, overall and per family."""
    header = "| Objects | n views | Generated ↓ | Input unchanged (a) | Nearest training image (b) |\n|---|--:|--:|--:|--:|"
    lines = [f"Distance: {summary['distance']} (lower is better); input view {summary['input_view']}, split {summary['split']}.", "", header]

    def cell(s: dict) -> str:
        return f"{s['mean']:.4f} ± {s['sem']:.4f}"

    groups = [("all", summary["overall"])] + list(summary["by_family"].items())
    for name, group in groups:
        lines.append(f"| {name} | {group['generated']['n']} | {cell(group['generated'])} | {cell(group['input'])} | {cell(group['nearest-train'])} |")
    beats = summary["generated_beats"]
    lines += ["", f"Generated is closer than (a) for {beats['input']:.1%} and than (b) for {beats['nearest-train']:.1%} of the views; "
              f"{summary['generated_views_per_second']:.0f} generated views/s."]
    masks, mask_beats = summary["mask_iou"], summary["generated_beats_mask_iou"]
    lines += ["", f"Silhouette IoU with the real view (higher is better; the pose without 1-SSIM's preference for blur): generated "
              f"{cell(masks['generated'])}, (a) {cell(masks['input'])}, (b) {cell(masks['nearest-train'])}; generated is better than (a) "
              f"for {mask_beats['input']:.1%} and than (b) for {mask_beats['nearest-train']:.1%} of the views."]
    paired = summary.get("paired")
    if paired:
        n = paired["mask_iou"]["input"]["objects"]
        lines += ["", f"Generated minus baseline, per object, mean and 95 % bootstrap interval over {n} objects:", "",
                  "| Measure | − input (a) | − nearest training image (b) |", "|---|--:|--:|"]
        for measure, label in (("distance", f"{summary['distance']} (negative: generated closer)"), ("mask_iou", "silhouette IoU (positive: generated better)")):
            gap = {b: f"{g['mean']:+.4f} [{g['low']:+.4f}, {g['high']:+.4f}]" for b, g in paired[measure].items()}
            lines.append(f"| {label} | {gap['input']} | {gap['nearest-train']} |")
    return "\n".join(lines)
