#!/usr/bin/env python
"""Picture: real inputs through ``mvaug reconstruct``: the real ShapeNet bench's renders, and real renders pasted on photographs.

One row per input: the image as given, the cut-out that ``mvaug reconstruct`` found (outlined; the whole
image when it found none), the predicted voxels from two azimuths, and the ground-truth voxels, with
the voxel IoU at ``--threshold`` in the caption. Every reconstructor given gets its own voxel cells
(same inputs), so two models compare side by side.

Usage: python scripts/figure_real_inputs.py [--recon builtin:chair-pix2vox ...] [--real ../shared/realdata/shapenet-sample]
       [--bench-views 0,6,12,18] [--scenes coffee-table,cat-room] [-o docs/figures/real_inputs.png]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

REAL = Path(os.environ.get("MVAUG_REALDATA", Path(__file__).resolve().parents[2] / "shared/realdata/shapenet-sample"))
BENCH = ("02828884", "sample-bench")


def _square(image: np.ndarray, side: int) -> np.ndarray:
    """uint8 RGB (H, W, 3) scaled to fit ``side`` x ``side`` and centred on white, so that every cell has one size."""
    from PIL import Image

    scale = side / max(image.shape[:2])
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    scaled = np.asarray(Image.fromarray(np.ascontiguousarray(image[..., :3])).resize(size, Image.Resampling.BILINEAR))
    cell = np.full((side, side, 3), 255, np.uint8)
    top, left = (side - size[1]) // 2, (side - size[0]) // 2
    cell[top : top + size[1], left : left + size[0]] = scaled
    return cell


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recon", action="append", help="Reconstructor (run folder, checkpoint or builtin:NAME); repeat to compare [builtin:chair-pix2vox].")
    parser.add_argument("--real", type=Path, default=REAL)
    parser.add_argument("--bench-views", default="0,6,12,18", help="Bench renders shown as they are.")
    parser.add_argument("--scenes", default="coffee-table,cat-room,rocket-left", help="Photographs (mvaug.data.composite.SCENES) the bench views are pasted on, one view each.")
    parser.add_argument("--threshold", type=float, default=0.3)
    parser.add_argument("-o", "--out", type=Path, default=Path("docs/figures/real_inputs.png"))
    args = parser.parse_args()

    from mvaug.data.composite import paste_object, scene_image
    from mvaug.geometry.voxel_iou import voxel_iou
    from mvaug.io.binvox import read_binvox
    from mvaug.io.images import composite_on_white, read_image, write_png
    from mvaug.recon.reconstruct import Reconstructor
    from mvaug.viz.labelled import captioned_grid
    from mvaug.viz.previews import outline_cutout, turntable_cameras, voxel_views

    names = args.recon or ["builtin:chair-pix2vox"]
    recons = [Reconstructor.from_checkpoint(ref, "cpu") for ref in names]
    rendering = args.real / "ShapeNetRendering" / BENCH[0] / BENCH[1] / "rendering"
    truth = read_binvox(args.real / "ShapeNetVox32" / BENCH[0] / BENCH[1] / "model.binvox").data
    cameras = turntable_cameras(2)
    size = 128
    views = [int(v) for v in args.bench_views.split(",")]
    scenes = [s for s in args.scenes.split(",") if s]
    inputs = [(f"bench view {v:02d}", read_image(rendering / f"{v:02d}.png")) for v in views]
    for scene, view in zip(scenes, views):
        photo, _ = paste_object(read_image(rendering / f"{view:02d}.png"), scene_image(scene))
        inputs.append((f"view {view:02d} on {scene}", photo))
    rows, captions, titles = [], [], []
    truth_cells = voxel_views(truth, 1.0, cameras, size)
    with tempfile.TemporaryDirectory() as tmp:
        for index, (title, image) in enumerate(inputs):
            path = Path(tmp) / f"input{index}.png"
            write_png(path, image)
            shown = image if image.shape[-1] == 3 else composite_on_white(image)
            row, caption = [_square(shown, size)], ["input"]
            for name, recon in zip(names, recons):
                prepared = recon.prepare_views([path])[0]
                if recon is recons[0]:
                    row.append(_square(outline_cutout(prepared.cutout, size) if prepared.cutout is not None else shown, size))
                    caption.append("cut-out" if prepared.cutout is not None else "uniform: not cut")
                probabilities = recon.reconstruct(prepared.tensor[None]).numpy()
                iou = float(voxel_iou(probabilities, truth, (args.threshold,))[0])
                row += voxel_views(probabilities >= args.threshold, 1.0, cameras, size)
                caption += [f"{Path(name).name}: IoU {iou:.2f}", ""]
            rows.append(row + truth_cells)
            captions.append(caption + ["ground truth", ""])
            titles.append(title)
    write_png(args.out, captioned_grid(rows, captions, titles, min_side=size))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
