#!/usr/bin/env python
"""Pix2Vox on this machine: reconstruction latency (warm and cold) and training throughput.

* warm: ``Reconstructor.reconstruct`` on one view (or ``--views`` views) in a process that has
  already loaded the network, median of ``--repeat`` calls after one warm-up call;
* cold: a fresh Python process that imports mvaug, loads the checkpoint, reads and frames the
  image and reconstructs it (process start included); ``cold_cli`` also writes the four outputs of
  ``mvaug reconstruct`` (binvox, npy, obj and the preview picture);
* training: images (views) per second of ReconTrainer steps on ShapeNet-layout data.

The networks are freshly initialised (the weights do not change the time). Every figure runs
with ``--threads`` torch threads (one by default), one measurement at a time.

Usage: python scripts/bench_recon.py --data data/recon-chairs [--sizes 224,64] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

COLD_SNIPPET = """
import sys, torch
torch.set_num_threads({threads})
from mvaug.recon.reconstruct import Reconstructor
recon = Reconstructor.from_checkpoint(sys.argv[1], "cpu")
recon.reconstruct(recon.load_views(sys.argv[2:]))
"""

COLD_CLI_SNIPPET = """
import sys, torch
torch.set_num_threads({threads})
from mvaug.recon.reconstruct import run_reconstruct
run_reconstruct(sys.argv[3:], sys.argv[1], sys.argv[2], device="cpu")
"""


def write_checkpoint(variant: str, size: int, folder: Path) -> Path:
    """A ``mvaug-recon-v1`` checkpoint of a freshly initialised network."""
    import torch
    from pix2vox import Pix2VoxConfig, build_pix2vox, official_state_dicts

    from mvaug.config import config_to_dict
    from mvaug.io.checkpoint import save_checkpoint
    from mvaug.recon.checkpoint import CHECKPOINT_FORMAT
    from mvaug.recon.config import ReconConfig

    torch.manual_seed(0)
    config = ReconConfig(model=Pix2VoxConfig(variant=variant, image_size=size))  # type: ignore[arg-type]
    path = folder / f"pix2vox-{variant}-{size}.pt"
    model = build_pix2vox(config.model).eval()
    save_checkpoint(path, {"format": CHECKPOINT_FORMAT, "kind": "chair", "config": config_to_dict(config), **official_state_dicts(model)})
    return path


def bench_warm(checkpoint: Path, images: list[Path], repeat: int) -> dict:
    from mvaug.recon.reconstruct import Reconstructor

    recon = Reconstructor.from_checkpoint(checkpoint, "cpu")
    views = recon.load_views(images)
    recon.reconstruct(views)  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        recon.reconstruct(views)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    recon.reconstruct(recon.load_views(images))
    with_loading = time.perf_counter() - start
    return {"warm_s": statistics.median(times), "warm_min_s": min(times), "warm_with_image_loading_s": with_loading}


def bench_cold(snippet: str, args: list[str], threads: int, repeat: int) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(REPO)}
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", snippet.format(threads=threads), *args], env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_training(data: str, config_path: Path, overrides: list[str], steps: int) -> dict:
    """Images per second over ``steps`` steps after one warm-up step (the image cache filled first)."""
    import torch

    from mvaug.recon.data import ShapeNetViews
    from mvaug.config import resolve_run_config
    from mvaug.recon.config import ReconConfig
    from mvaug.recon.trainer import ReconTrainer

    with tempfile.TemporaryDirectory() as tmp:
        config = resolve_run_config(ReconConfig, config_path, overrides, Path(tmp), resume=False)
        trainer = ReconTrainer(config, ShapeNetViews(data, config.data.train_split, config), ShapeNetViews(data, config.data.val_split, config), Path(tmp) / "run", torch.device("cpu"), progress=False)
        batches = [trainer.train_batches[step] for step in range(steps + 1)]  # loading excluded: timed separately by the cache
        trainer.loop.train_step(batches[0])
        start = time.perf_counter()
        for batch in batches[1:]:
            trainer.loop.train_step(batch)
        elapsed = time.perf_counter() - start
    images = sum(b["images"].shape[0] * b["images"].shape[1] for b in batches[1:])
    return {"config": str(config_path), "overrides": overrides, "steps": steps, "images": images, "images_per_s": images / elapsed,
            "views_per_sample": sorted({b["images"].shape[1] for b in batches[1:]})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="ShapeNet-layout root (images and training data).")
    parser.add_argument("--sizes", default="224,64", help="Input sizes of Pix2Vox-F to time.")
    parser.add_argument("--variant", default="F", choices=["F", "A"])
    parser.add_argument("--views", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--cold-repeat", type=int, default=3)
    parser.add_argument("--train-steps", type=int, default=5)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    images = sorted(Path(args.data).glob("ShapeNetRendering/*/*/rendering/*.png"))[: args.views]
    results: dict = {"threads": args.threads, "torch": torch.__version__, "cpu_count": os.cpu_count(), "latency": [], "training": []}
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            checkpoint = write_checkpoint(args.variant, size, Path(tmp))
            row = {"variant": args.variant, "image_size": size, "views": len(images), **bench_warm(checkpoint, images, args.repeat)}
            row["cold_s"] = bench_cold(COLD_SNIPPET, [str(checkpoint), *map(str, images)], args.threads, args.cold_repeat)
            row["cold_cli_s"] = bench_cold(COLD_CLI_SNIPPET, [str(checkpoint), str(Path(tmp) / "out"), *map(str, images)], args.threads, args.cold_repeat)
            results["latency"].append(row)
            print(json.dumps(row), flush=True)
    if not args.skip_training:
        for config, overrides in [(REPO / "configs/pix2vox-quick.yaml", ["train.two_stage=false"]),
                                  (REPO / "configs/pix2vox-quick.yaml", ["train.two_stage=false", "data.views=1"]),
                                  (REPO / "configs/pix2vox-f-chairs.yaml", ["data.categories=null", "train.batch_size=8"])]:
            row = bench_training(args.data, config, overrides, args.train_steps)
            results["training"].append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
