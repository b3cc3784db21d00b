#!/usr/bin/env python
"""Throughput of multi-view synthesis (``MultiViewSynthesizer.generate_batch``) on a trained run.

Baseline in the same process: the same images and views generated one view at a time (one
encoder call per image, one generator call per (image, view) pair), which is what a loop over
views would do. Reports generated views per second for both, their ratio, and peak memory.

Usage: python scripts/bench_generate.py RUN [--bank BANK] [--images 16] [--threads 2] [--json OUT]
"""

from __future__ import annotations

import argparse
import time

import torch
from bench import report  # scripts/bench.py, beside this script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run")
    parser.add_argument("--bank")
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    from mvaug.multiview.synthesizer import MultiViewSynthesizer

    synth = MultiViewSynthesizer.from_run(args.run, args.bank)
    size = synth.image_size
    images = torch.rand(args.images, 3, size, size)
    views, codes = synth.bank.select(None)

    def batched():
        synth.generate_batch(images, views)

    @torch.no_grad()
    def per_view():
        for image in images:
            style = synth.model.style_encoder(image[None])
            for code in codes:
                synth.model.generator(style, code[None])

    def best(fn) -> float:
        fn()  # warm-up
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    count = args.images * len(views)
    fast, slow = best(batched), best(per_view)
    result = {
        "run": args.run,
        "image_size": size,
        "threads": args.threads,
        "images": args.images,
        "views": len(views),
        "batched_views_per_s": count / fast,
        "per_view_loop_views_per_s": count / slow,
        "ratio": slow / fast,
    }
    report(result, args.json)


if __name__ == "__main__":
    main()
