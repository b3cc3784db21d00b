#!/usr/bin/env python
"""How well the GrabCut cut-out finds an object in a cluttered photo: real ShapeNet renders pasted on photographs.

Usage: python scripts/eval_cutout.py [--real ../shared/realdata/shapenet-sample] [--views 0,12]

Each render (views of the four real ShapeNet samples) is pasted in the middle of each scene of
:data:`mvaug.data.composite.SCENES` (parts of scikit-image's photographs) at 75 % of the frame, and the
photo goes through the loader of ``mvaug reconstruct`` (:func:`mvaug.data.user_image.frame_image`).
Printed as Markdown: per composite, the IoU with the render's alpha (above one half) of the cut-out and
of the whole image (what was used before), and the share of the object's pixels whose colour is absent
from the border (what the cut-out relies on); then the mean per scene and over all.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from mvaug.data.composite import SCENES, mask_iou, paste_object, scene_image
from mvaug.data.cutout import distinct_from_border
from mvaug.data.user_image import frame_image
from mvaug.io.images import read_image

REAL = Path(os.environ.get("MVAUG_REALDATA", Path(__file__).resolve().parents[2] / "shared/realdata/shapenet-sample"))


def measure(render: np.ndarray, scene: str) -> dict[str, float | str]:
    """IoU of the cut-out and of the whole image with the object's true mask, and the object's distinct share, for one composite."""
    photo, truth = paste_object(render, scene_image(scene))
    rgba = np.concatenate([photo, np.full(truth.shape + (1,), 255, np.uint8)], axis=-1)
    prepared = frame_image(rgba, 64)
    found = prepared.cutout[..., 3] > 127 if prepared.cutout is not None else np.ones_like(truth)
    return {
        "cutout": mask_iou(found, truth),
        "whole": mask_iou(np.ones_like(truth), truth),
        "distinct": float(distinct_from_border(photo)[truth].mean()),
        "path": "cut out" if prepared.cutout is not None else prepared.notes[0],
    }


def renders(root: Path, views: list[int]) -> dict[str, np.ndarray]:
    """'<model> vNN' -> uint8 RGBA render, for each real sample model and view."""
    files = sorted(root.glob("ShapeNetRendering/*/*/rendering/00.png"))
    if not files:
        raise SystemExit(f"no ShapeNet renders under {root}; pass --real")
    return {f"{file.parents[1].name.removeprefix('sample-')} v{view:02d}": read_image(file.with_name(f"{view:02d}.png"), "RGBA") for file in files for view in views}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--real", type=Path, default=REAL, help="root of the real ShapeNet sample")
    parser.add_argument("--views", default="0,12", help="render views per model, comma-separated")
    args = parser.parse_args()

    start = time.perf_counter()
    objects = renders(args.real, [int(v) for v in args.views.split(",")])
    rows = [(scene, name, measure(render, scene)) for scene in SCENES for name, render in objects.items()]
    print("| scene | object | IoU cut-out | IoU whole image | object colours absent from the border | path |")
    print("|---|---|---|---|---|---|")
    for scene, name, result in rows:
        print(f"| {scene} | {name} | {result['cutout']:.3f} | {result['whole']:.3f} | {result['distinct']:.0%} | {result['path']} |")
    print("\n| scene | composites | mean IoU cut-out | mean IoU whole image | min IoU cut-out |")
    print("|---|---|---|---|---|")
    for scene in [*SCENES, "all"]:
        chosen = [r for s, _, r in rows if scene in (s, "all")]
        cut = [r["cutout"] for r in chosen]
        print(f"| {scene} | {len(chosen)} | {np.mean(cut):.3f} | {np.mean([r['whole'] for r in chosen]):.3f} | {min(cut):.3f} |")
    print(f"\n{len(rows)} composites in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
