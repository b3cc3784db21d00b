#!/usr/bin/env python
"""IoU of a reconstructor on a held-out split for 1, 2, 4 and 8 ground-truth views per object.

Each object's 8 views are drawn once from (seed, object) and split into disjoint sets: 1 view is the
mean over the 8 single views, 2 views over 4 pairs, 4 over 2 halves, 8 is the whole set
(``mvaug.recon.view_sets``). Views are composited on upstream's test background (240 grey). Prints two
markdown tables: mean IoU per count and threshold, and each count minus one view and minus the count
before it, with 95% bootstrap intervals over objects (paired: every count sees the same images).

Usage: python scripts/eval_recon_views.py RUN_OR_CKPT --data data/recon-chairs [--split test] [--views 1,2,4,8] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recon", help="Run folder or checkpoint of mvaug train-recon, builtin:NAME, or an official Pix2Vox .pth.")
    parser.add_argument("--data", required=True, help="ShapeNet-layout root.")
    parser.add_argument("--split", default="test")
    parser.add_argument("--views", default="1,2,4,8", help="View counts; each must divide the largest.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import torch

    from mvaug.evaluate.reconstruction import bootstrap_interval
    from mvaug.geometry.voxel_iou import DEFAULT_THRESHOLDS
    from mvaug.recon.checkpoint import load_reconstructor
    from mvaug.recon.data import ShapeNetViews
    from mvaug.recon.view_sets import iou_by_view_count

    torch.set_num_threads(args.threads)
    loaded = load_reconstructor(args.recon, "cpu")
    data = ShapeNetViews(args.data, args.split, loaded.config)
    counts = [int(v) for v in args.views.split(",")]
    ious = iou_by_view_count(loaded.model, data, counts, args.seed, loaded.config.augment.val_background, torch.device("cpu"))
    columns = " | ".join(f"IoU@{t:g}" for t in DEFAULT_THRESHOLDS)
    rule = "|" + "---|" + "--:|" * len(DEFAULT_THRESHOLDS)
    print(f"{loaded.path} on {args.data} ({args.split}, {len(data)} objects)\n\n| views | {columns} |\n{rule}")
    for count in counts:
        print(f"| {count} | " + " | ".join(f"{v:.4f}" for v in ious[count].mean(axis=0)) + " |")
    print(f"\n| more views - fewer | {columns} |\n{rule}")
    pairs = [(c, counts[0]) for c in counts[1:]] + [(c, p) for p, c in zip(counts[1:], counts[2:])]
    gains = {}
    for more, fewer in pairs:
        diff = ious[more] - ious[fewer]  # (N, T), paired per object
        gains[f"{more}-{fewer}"] = [(float(diff[:, t].mean()), *bootstrap_interval(diff[:, t], 10_000, args.seed)) for t in range(len(DEFAULT_THRESHOLDS))]
        print(f"| {more} - {fewer} | " + " | ".join(f"{m:+.4f} [{lo:+.4f}, {hi:+.4f}]" for m, lo, hi in gains[f"{more}-{fewer}"]) + " |")
    if args.json:
        rows = [{"views": c, **{f"iou@{t:g}": float(v) for t, v in zip(DEFAULT_THRESHOLDS, ious[c].mean(axis=0))}} for c in counts]
        args.json.write_text(json.dumps({"recon": str(loaded.path), "data": args.data, "split": args.split, "objects": len(data),
                                         "rows": rows, "differences": gains}, indent=2))


if __name__ == "__main__":
    main()
