#!/usr/bin/env python
"""Picture: real ShapeNet renders (top rows) above our synthetic chairs (bottom rows), each with its voxels.

Usage: python scripts/figure_real_vs_synthetic.py SYNTH_ROOT [--real ../shared/realdata/shapenet-sample] [-o docs/figures/real_vs_synthetic.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from mvaug.data.synth.writer import CHAIR_TAXONOMY
from mvaug.io.images import write_png
from mvaug.viz.dataset_sheet import dataset_sheet

REAL = {"02828884": "sample-bench", "02958343": "sample-car"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("synth_root", type=Path)
    parser.add_argument("--real", type=Path, default=Path(__file__).resolve().parents[2] / "shared/realdata/shapenet-sample")
    parser.add_argument("--models", type=int, default=6, help="synthetic chairs to show")
    parser.add_argument("-o", "--out", type=Path, default=Path("docs/figures/real_vs_synthetic.png"))
    args = parser.parse_args()

    sheets = [
        dataset_sheet(args.real / "ShapeNetRendering" / tax, args.real / "ShapeNetVox32" / tax, [model], views=5)
        for tax, model in REAL.items()
    ]
    synth = sorted(p.name for p in (args.synth_root / "ShapeNetVox32" / CHAIR_TAXONOMY).iterdir())[: args.models]
    sheets.append(dataset_sheet(args.synth_root / "ShapeNetRendering" / CHAIR_TAXONOMY, args.synth_root / "ShapeNetVox32" / CHAIR_TAXONOMY, synth, views=5))
    rule = np.full((3, sheets[0].shape[1], 3), 120, dtype=np.uint8)  # separates real from synthetic
    write_png(args.out, np.concatenate([*sheets[:-1], rule, sheets[-1]], axis=0))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
