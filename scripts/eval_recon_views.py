#!/usr/bin/env python
"""IoU of a reconstructor on a held-out split for 1, 2, 4 and 8 ground-truth views per object.

Each object's views are drawn once from (seed, object) and the V-view set holds the first V of them,
so the 8-view set contains the 4-view set, and so on. Views are composited on upstream's test
background (240 grey). Prints a markdown table (rows: views; columns: IoU at each threshold).

Usage: python scripts/eval_recon_views.py RUN_OR_CKPT --data data/recon-chairs [--split test] [--views 1,2,4,8] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recon", help="Run folder or checkpoint of mvaug train-recon, or an official Pix2Vox .pth.")
    parser.add_argument("--data", required=True, help="ShapeNet-layout root.")
    parser.add_argument("--split", default="test")
    parser.add_argument("--views", default="1,2,4,8")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import torch

    from mvaug.evaluate.voxel_iou import DEFAULT_THRESHOLDS
    from mvaug.recon.checkpoint import load_reconstructor
    from mvaug.recon.data import ShapeNetViews
    from mvaug.recon.trainer import evaluate_iou, iou_key

    torch.set_num_threads(args.threads)
    loaded = load_reconstructor(args.recon, "cpu")
    data = ShapeNetViews(args.data, args.split, loaded.config)
    rows = []
    for views in (int(v) for v in args.views.split(",")):
        ious = evaluate_iou(loaded.model, data, views, args.seed, loaded.config.augment.val_background, torch.device("cpu"))
        rows.append({"views": views, **ious})
    header = "| views | " + " | ".join(f"IoU@{t:g}" for t in DEFAULT_THRESHOLDS) + " |"
    print(f"{loaded.path} on {args.data} ({args.split}, {len(data)} objects)\n")
    print(header)
    print("|" + "---|" * (len(DEFAULT_THRESHOLDS) + 1))
    for row in rows:
        print(f"| {row['views']} | " + " | ".join(f"{row[iou_key(t)]:.4f}" for t in DEFAULT_THRESHOLDS) + " |")
    if args.json:
        args.json.write_text(json.dumps({"recon": str(loaded.path), "data": args.data, "split": args.split, "objects": len(data), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
