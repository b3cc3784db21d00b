#!/usr/bin/env python
"""Contact sheet of a synth-faces set: a few identities (rows) across the yaw grid at each pitch,
optionally with the 68 landmarks drawn (green visible, red hidden).

Usage: python scripts/figure_synth_faces.py ROOT [--identities 4] [--pitch 0] [--landmarks] [-o docs/figures/synth_faces.png]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from mvaug.faces.dataset import read_face_manifest
from mvaug.io.images import read_image, write_png
from mvaug.viz.previews import image_grid


def _with_landmarks(image: np.ndarray, view: dict) -> np.ndarray:
    image = image.copy()
    for (u, v), visible in zip(view["landmarks"], view["landmarks_visible"]):
        x, y = int(u), int(v)
        if 0 <= x < image.shape[1] and 0 <= y < image.shape[0]:
            image[y, x] = (40, 230, 40) if visible else (230, 40, 40)
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--identities", type=int, default=4, help="rows: the first N identities")
    parser.add_argument("--pitch", type=float, action="append", help="pitches to show (repeat); default: all")
    parser.add_argument("--landmarks", action="store_true", help="draw the 68 landmarks")
    parser.add_argument("-o", "--out", type=Path, default=Path("docs/figures/synth_faces.png"))
    args = parser.parse_args()

    manifest = read_face_manifest(args.root)
    pitches = args.pitch or sorted({v["pitch"] for v in manifest["views"]})
    rows = []
    for name in manifest["identities"][: args.identities]:
        record = json.loads((args.root / "annotations" / f"{name}.json").read_text())
        for pitch in pitches:
            views = sorted((v for v in record["views"] if v["pitch"] == pitch), key=lambda v: v["yaw"])
            images = [read_image(args.root / v["image"], "RGB") for v in views]
            rows.append([_with_landmarks(im, v) if args.landmarks else im for im, v in zip(images, views)])
    write_png(args.out, image_grid(rows, pad=2))
    print(f"wrote {args.out} ({len(rows)} rows: {args.identities} identities x pitches {pitches})")


if __name__ == "__main__":
    main()
