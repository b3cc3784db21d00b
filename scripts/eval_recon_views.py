#!/usr/bin/env python
"""IoU of one or more reconstructors on a held-out split for 1, 2, 4 and 8 ground-truth views per object.

Each object's views are drawn once from (seed, object) (``--draw``, default the largest count) and split
into disjoint sets: with 8 drawn, 1 view is the mean over the 8 single views, 2 views over 4 pairs, 4 over
2 halves, 8 is the whole set (``mvaug.recon.view_sets``). Views are composited on upstream's test
background (240 grey). Prints, per reconstructor, mean IoU per count and threshold, and each count minus
one view and minus the count before it, with 95% bootstrap intervals over objects (paired: every count
sees the same images). With several reconstructors, every one sees the same images too, and each is
compared with the first, per count.

Usage: python scripts/eval_recon_views.py RUN_OR_CKPT [RUN_OR_CKPT ...] --data data/recon-chairs [--split test]
       [--views 1,2,4,8] [--draw N] [--category TAXONOMY] [--json out.json]
Real bench, mean over its 24 single views:
       python scripts/eval_recon_views.py builtin:chair-pix2vox --data ../shared/realdata/shapenet-sample
       --category 02828884 --views 1 --draw 24
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np


def _differences(label: str, pairs: list[tuple[str, np.ndarray]], seed: int, thresholds) -> dict:
    """Print one markdown table of paired differences (N, T) and return {name: [(mean, lo, hi) per threshold]}."""
    from mvaug.evaluate.reconstruction import bootstrap_interval

    columns = " | ".join(f"IoU@{t:g}" for t in thresholds)
    print(f"\n| {label} | {columns} |\n|---|" + "--:|" * len(thresholds))
    out = {}
    for name, diff in pairs:
        out[name] = [(float(diff[:, t].mean()), *bootstrap_interval(diff[:, t], 10_000, seed)) for t in range(len(thresholds))]
        print(f"| {name} | " + " | ".join(f"{m:+.4f} [{lo:+.4f}, {hi:+.4f}]" for m, lo, hi in out[name]) + " |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recon", nargs="+", help="Run folders or checkpoints of mvaug train-recon, builtin:NAME, or official Pix2Vox .pth files.")
    parser.add_argument("--data", required=True, help="ShapeNet-layout root.")
    parser.add_argument("--split", default="test")
    parser.add_argument("--views", default="1,2,4,8", help="View counts; each must divide the number drawn.")
    parser.add_argument("--draw", type=int, help="Views drawn per object [the largest count].")
    parser.add_argument("--category", action="append", help="Only this taxonomy id (repeat for more) [the reconstructor's].")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import torch

    from mvaug.geometry.voxel_iou import DEFAULT_THRESHOLDS
    from mvaug.recon.checkpoint import load_reconstructor
    from mvaug.recon.data import ShapeNetViews
    from mvaug.recon.view_sets import iou_by_view_count

    torch.set_num_threads(args.threads)
    counts = [int(v) for v in args.views.split(",")]
    columns = " | ".join(f"IoU@{t:g}" for t in DEFAULT_THRESHOLDS)
    rule = "|" + "---|" + "--:|" * len(DEFAULT_THRESHOLDS)
    results = []
    for recon in args.recon:
        loaded = load_reconstructor(recon, "cpu")
        config = loaded.config
        if args.category:
            config = dataclasses.replace(config, data=dataclasses.replace(config.data, categories=list(args.category)))
        data = ShapeNetViews(args.data, args.split, config)
        ious = iou_by_view_count(loaded.model, data, counts, args.seed, config.augment.val_background, torch.device("cpu"), drawn=args.draw)
        print(f"\n{loaded.path} on {args.data} ({args.split}, {len(data)} objects, {args.draw or max(counts)} views drawn)\n\n| views | {columns} |\n{rule}")
        for count in counts:
            print(f"| {count} | " + " | ".join(f"{v:.4f}" for v in ious[count].mean(axis=0)) + " |")
        pairs = [(c, counts[0]) for c in counts[1:]] + [(c, p) for p, c in zip(counts[1:], counts[2:])]
        gains = _differences("more views - fewer", [(f"{m}-{f}", ious[m] - ious[f]) for m, f in pairs], args.seed, DEFAULT_THRESHOLDS) if pairs else {}
        rows = [{"views": c, **{f"iou@{t:g}": float(v) for t, v in zip(DEFAULT_THRESHOLDS, ious[c].mean(axis=0))}} for c in counts]
        results.append({"recon": str(recon), "path": str(loaded.path), "objects": len(data), "rows": rows, "differences": gains, "ious": ious})
    versus = {}
    for other in results[1:]:
        label = f"{other['recon']} - {results[0]['recon']}"
        versus[label] = _differences(label, [(f"{c} view(s)", other["ious"][c] - results[0]["ious"][c]) for c in counts], args.seed, DEFAULT_THRESHOLDS)
    if args.json:
        for result in results:
            result["per_object"] = {str(c): a.tolist() for c, a in result.pop("ious").items()}
        args.json.write_text(json.dumps({"data": args.data, "split": args.split, "draw": args.draw or max(counts), "seed": args.seed,
                                         "thresholds": list(DEFAULT_THRESHOLDS), "results": results, "versus_first": versus}, indent=2))


if __name__ == "__main__":
    main()
