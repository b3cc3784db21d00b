"""The report of ``mvaug evaluate``: per-object CSV, Markdown tables, plots and best/worst montages."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

REPORT_FILES = ("per_object.csv", "iou_vs_views.png", "single_vs_generated.png", "montage_best.png", "montage_worst.png", "report.md", "summary.json")


def write_report(out: Path, records: list[dict], summary: dict, config, cache: Path) -> None:
    """OUT/per_object.csv, OUT/report.md, OUT/summary.json, OUT/iou_vs_views.png, OUT/single_vs_generated.png and
    OUT/montage_{best,worst}.png, written as one set (a failure leaves the previous report as it was)."""
    from mvaug.io.atomic import atomic_write_text
    from mvaug.io.outputs import output_set

    kmax = max(config.views)
    t = config.thresholds.index(config.headline_threshold)
    gain = np.array([r["ious"][f"generated-{kmax}"][t] - r["ious"]["single"][t] for r in records])
    order = np.argsort(-gain, kind="stable")
    count = min(config.montage, len(records))
    with output_set({name: out / name for name in REPORT_FILES}) as temp:
        atomic_write_text(temp["per_object.csv"], per_object_csv(records, config))
        plot_iou_vs_views(summary, config, temp["iou_vs_views.png"])
        plot_single_vs_generated(records, config, temp["single_vs_generated.png"])
        montage(records, order[:count], cache, temp["montage_best.png"], f"largest gains of generated-{kmax} over single", config)
        montage(records, order[::-1][:count], cache, temp["montage_worst.png"], f"largest losses of generated-{kmax} against single", config)
        atomic_write_text(temp["report.md"], format_report(summary, config) + "\n")
        atomic_write_text(temp["summary.json"], json.dumps(summary, indent=2) + "\n")


def per_object_csv(records: list[dict], config) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["object", "family", "condition", "added_views", *[f"iou@{t}" for t in config.thresholds]])
    for record in records:
        for condition in config.conditions():
            added = 0 if condition == "single" else int(condition.rsplit("-", 1)[1])
            writer.writerow([record["object"], record["family"], condition, added, *[f"{v:.6f}" for v in record["ious"][condition]]])
    return buffer.getvalue()


def format_report(summary: dict, config) -> str:
    """Markdown: what was evaluated, :func:`format_tables`, the plots and montages."""
    lines = [
        "# Reconstruction from a single view, generated views and ground-truth views",
        "",
        f"{summary['objects']} held-out objects, input view {config.input_view}; mean voxel IoU "
        f"(the first table at threshold {config.headline_threshold}).",
        _generated_note(config),
        *(["retrieved-K: at each added camera, the disentangler's training image whose style E_s is nearest (Euclidean) to the input's."]
          if config.retrieve_from is not None else []),
        "",
        format_tables(summary, config),
        "",
        "![IoU against views](iou_vs_views.png) ![single vs generated](single_vs_generated.png)", "", "![best](montage_best.png)", "", "![worst](montage_worst.png)",
    ]
    return "\n".join(lines)


def _generated_note(config) -> str:
    """How the generated views were made: the input's codes refined or not, the views sharpened or not."""
    refined = f"the input's codes refined by {config.refine_steps} steps" if config.refine_steps else "the encoders' codes of the input"
    sharpened = f"unsharp mask of amount {config.sharpen:g} before framing" if config.sharpen else "not sharpened"
    return f"generated-K: drawn from {refined}; {sharpened}."


def format_tables(summary: dict, config) -> str:
    """Markdown tables of a summary (:func:`~mvaug.evaluate.reconstruction.summarise`): mean IoU per condition and K at the
    headline threshold, paired differences, every threshold, families."""
    t = config.thresholds.index(config.headline_threshold)
    ks = list(config.views)
    lines = ["| Condition | " + " | ".join(f"K = {k}" for k in ks) + " |", "|---|" + "--:|" * len(ks)]
    single = summary["mean_iou"]["single"][t]
    lines.append("| single | " + " | ".join(f"{single:.4f}" for _ in ks) + " |")
    for kind in config.added_kinds():
        lines.append(f"| {kind}-K | " + " | ".join(f"{summary['mean_iou'][f'{kind}-{k}'][t]:.4f}" for k in ks) + " |")
    lines += ["", "Paired differences per object (IoU at the headline threshold), 95% bootstrap interval over objects:", "", format_differences(summary["paired"])]
    lines += ["", "All thresholds:", "", "| Condition | " + " | ".join(f"IoU@{x}" for x in config.thresholds) + " |", "|---|" + "--:|" * len(config.thresholds)]
    for condition in config.conditions():
        lines.append(f"| {condition} | " + " | ".join(f"{v:.4f}" for v in summary["mean_iou"][condition]) + " |")
    columns = ["single", *(f"{kind}-{max(ks)}" for kind in config.added_kinds())]
    lines += ["", f"By family (IoU@{config.headline_threshold}):", "", "| Family | n | " + " | ".join(columns) + " |", "|---|--:|" + "--:|" * len(columns)]
    for family, row in summary["by_family"].items():
        lines.append(f"| {family} | {row['n']} | " + " | ".join(f"{row[c]:.4f}" for c in columns) + " |")
    return "\n".join(lines)


def format_differences(paired: dict) -> str:
    """Markdown table of paired differences: name -> {mean, ci95, win_rate, tie_rate}."""
    lines = ["| Difference | Mean | 95% CI | Win rate | Ties |", "|---|--:|--:|--:|--:|"]
    for name, d in paired.items():
        lines.append(f"| {name} | {d['mean']:+.4f} | [{d['ci95'][0]:+.4f}, {d['ci95'][1]:+.4f}] | {d['win_rate']:.1%} | {d['tie_rate']:.1%} |")
    return "\n".join(lines)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    from mvaug.io.atomic import atomic_write_bytes

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    atomic_write_bytes(path, buffer.getvalue())


_LINES = {"generated": ("o-", "generated"), "retrieved": ("^-.", "retrieved (nearest training style)"), "gt": ("s--", "real")}
"""Line style and legend of each kind of added views."""


def plot_iou_vs_views(summary: dict, config, path: Path) -> None:
    """Mean IoU at the headline threshold against the number of views given to the reconstructor."""
    plt = _pyplot()
    t = config.thresholds.index(config.headline_threshold)
    ks = list(config.views)
    single = summary["mean_iou"]["single"][t]
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for kind in config.added_kinds():
        style, label = _LINES[kind]
        ax.plot([1] + [1 + k for k in ks], [single] + [summary["mean_iou"][f"{kind}-{k}"][t] for k in ks], style, label=f"1 real + K {label}")
    ax.axhline(single, color="gray", lw=1, ls=":", label="single view")
    ax.set_xlabel("views given to the reconstructor (1 + K)")
    ax.set_ylabel(f"mean IoU@{config.headline_threshold}")
    ax.set_xticks([1] + [1 + k for k in ks])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)
    plt.close(fig)


def plot_single_vs_generated(records: list[dict], config, path: Path) -> None:
    """Per-object IoU of single (x) against generated-Kmax (y); points above the diagonal gained."""
    plt = _pyplot()
    t = config.thresholds.index(config.headline_threshold)
    kmax = max(config.views)
    x = np.array([r["ious"]["single"][t] for r in records])
    y = np.array([r["ious"][f"generated-{kmax}"][t] for r in records])
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.scatter(x, y, s=14, alpha=0.8)
    ax.plot([0, 1], [0, 1], color="gray", lw=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"single view IoU@{config.headline_threshold}")
    ax.set_ylabel(f"1 + {kmax} generated views")
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    _save(fig, path)
    plt.close(fig)


_CELLS = {"generated": "+gen", "retrieved": "+ret", "gt": "+gt"}
"""Montage caption of the voxels reconstructed with each kind of added views."""


def montage(records: list[dict], order, cache: Path, path: Path, title: str, config, size: int = 96, generated: int = 4) -> None:
    """One row per object: input, a few generated views, voxels of single / generated / (retrieved) / gt-view
    reconstructions, ground truth."""
    from mvaug.io.images import write_png
    from mvaug.viz.labelled import captioned_grid
    from mvaug.viz.previews import resize_image, turntable_cameras, voxel_views

    threshold = config.headline_threshold
    t = config.thresholds.index(threshold)
    kmax = max(config.views)
    camera = turntable_cameras(1, start=210.0, distance_ratio=0.9)  # the whole 32^3 cube in frame
    rows, captions, titles = [], [], []
    for k in order:
        record = records[int(k)]
        with np.load(cache / f"{record['object']}.npz") as arrays:
            data = {name: arrays[name] for name in arrays.files}
        shown = data["generated"][:generated]
        grids = [data["single"] >= threshold, *(data[f"{kind}_probs"] >= threshold for kind in config.added_kinds()), data["truth"] > 0]
        rows.append([resize_image(data["input"][0], size), *[resize_image(im, size) for im in shown], *[voxel_views(g, 1.0, camera, size)[0] for g in grids]])
        ious = record["ious"]
        captions.append(
            ["input", *[f"generated {j + 1}" for j in range(len(shown))], f"single {ious['single'][t]:.2f}",
             *[f"{_CELLS[kind]} {ious[f'{kind}-{kmax}'][t]:.2f}" for kind in config.added_kinds()], "ground truth"]
        )
        titles.append(f"{record['family']} {record['object']}")
    titles[0] = f"{title} -- {titles[0]}" if titles else title
    write_png(path, captioned_grid(rows, captions, titles, min_side=size))
