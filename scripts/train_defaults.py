"""Train the built-in models from nothing and export them into mvaug/assets/ (issue 8).

    OMP_NUM_THREADS=1 python scripts/train_defaults.py --work work/defaults

Chairs: disentangler + bank (configs/chairs-cpu64.yaml) and Pix2Vox-F (configs/pix2vox-quick.yaml);
faces: face disentangler + bank (configs/faces-quick.yaml) and MVF-Net (configs/mvfnet-synth.yaml);
all on synthetic data with fixed seeds, then evaluated on fresh held-out sets for the cards.
Stages that finished are skipped on a second call (WORK/stages.json), interrupted trainings resume.
--tiny runs the same path on tiny data and models (for the tests; the models are useless).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="work/defaults", help="folder of the data and runs (kept, so a second call resumes)")
    parser.add_argument("--assets", default=None, help="where the models go [mvaug/assets, or $MVAUG_ASSETS]")
    parser.add_argument("--only", choices=("chairs", "faces", "chair-disentangler", "chair-pix2vox", "face-disentangler", "face-mvfnet"), default=None,
                        help="train only the chair or the face models, or one model (evaluated with the shipped model of the other role)")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: the whole path in about a minute, useless models")
    parser.add_argument("--seed", type=int, default=0, help="seed of the training data (held-out sets use 2000 + seed)")
    parser.add_argument("--workers", type=int, default=2, help="processes for the data synthesis")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()

    import torch

    from mvaug.builtin.defaults import train_defaults
    from mvaug.errors import MvaugError
    from mvaug.io.assets import format_table

    torch.manual_seed(args.seed)
    start = time.perf_counter()
    try:
        result = train_defaults(args.work, Path(args.assets) if args.assets else None, args.only, args.tiny, args.seed, args.workers, args.device, not args.quiet)
    except MvaugError as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    print(format_table(list(result.cards.values())))
    print("wall time per stage (s, including earlier calls):", json.dumps(result.stages))
    device = torch.cuda.get_device_name(0) if args.device != "cpu" and torch.cuda.is_available() else f"CPU, {torch.get_num_threads()} torch threads"
    print(f"cost: {sum(result.stages.values()) / 60:.1f} min of stages in total on {device}; this call {(time.perf_counter() - start) / 60:.1f} min")


if __name__ == "__main__":
    main()
