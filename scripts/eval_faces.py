"""The face table of issue 7 in one command, until ``mvaug evaluate --kind face`` is wired.

    python scripts/eval_faces.py --data data/faces64 --recon runs/mvfnet-synth --run runs/faces-quick --out runs/faces-eval

Builds RUN/bank.npz from the run's face data (views az000_el00, az315_el00, az045_el00) when the run
has none and no --bank is given, then runs :func:`mvaug.evaluate.face_eval.evaluate_faces` and prints
the report.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="synth-faces folder whose split is evaluated (and the run's training data)")
    parser.add_argument("--recon", required=True, help="run folder or checkpoint of train-recon --kind face")
    parser.add_argument("--run", required=True, help="face disentangler run folder")
    parser.add_argument("--out", required=True)
    parser.add_argument("--bank", default=None)
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--refine-steps", type=int, default=0, help="test-time optimisation steps of each front view's codes (mvaug evaluate: 100)")
    args = parser.parse_args()

    import torch

    from mvaug.evaluate.face_eval import evaluate_faces, format_face_report
    from mvaug.multiview.pipeline import build_bank
    from mvaug.multiview.synthesizer import DEFAULT_BANK_NAME
    from mvaug.multiview.views import parse_views

    torch.set_num_threads(1)
    if args.bank is None and not (Path(args.run) / DEFAULT_BANK_NAME).is_file():
        build_bank(args.run, data=args.data, views=parse_views("az000_el00,az315_el00,az045_el00"), device=args.device)
    summary = evaluate_faces(args.data, args.recon, args.run, args.out, args.bank, args.split, args.limit, device=args.device,
                             refine_steps=args.refine_steps)
    print(format_face_report(summary))


if __name__ == "__main__":
    main()
