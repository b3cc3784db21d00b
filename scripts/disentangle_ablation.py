#!/usr/bin/env python
"""Ablations of the disentangler with one budget: train each variant, evaluate it, write one table.

Usage:
    python scripts/disentangle_ablation.py --data DIR --config configs/chairs-quick.yaml --out runs/ablation \
        [--variants concat,multiple-none,single-l2,multiple-instance,multiple-l2] [--jobs 2] [--threads T] [--set key=value ...]

Each variant is a set of config overrides on top of --config; runs go to OUT/<variant>, the table
to OUT/ablation.md and OUT/ablation.json. Variants run as separate processes, --jobs at a time,
each with --threads torch threads (default: cores / jobs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

VARIANTS: dict[str, list[str]] = {
    "concat": ["model.fusion=concat"],  # Fig. 2a
    "multiple-none": ["model.fusion=multiple", "model.norm=none"],  # Fig. 2b
    "single-l2": ["model.fusion=single", "model.norm=l2"],
    "multiple-instance": ["model.fusion=multiple", "model.norm=instance"],
    "multiple-l2": ["model.fusion=multiple", "model.norm=l2"],  # the paper's choice for chairs
    # reconstruction-loss candidates for recon: auto without ImageNet VGG weights
    "recon-l1": ["loss.recon=l1"],
    "recon-l1-msssim": ["loss.recon=l1-msssim"],
    "recon-vgg-random": ["loss.recon=vgg-random"],
    "recon-id-features": ["loss.recon=id-features"],
}


def _train_and_eval(name: str, args, threads: int) -> subprocess.Popen:
    run = args.out / name
    sets = [f"--set={s}" for s in [*VARIANTS[name], *args.set]]
    code = (
        "import sys, torch; torch.set_num_threads(%d)\n"
        "from mvaug.cli.main import cli\n"
        "sys.argv = ['mvaug'] + sys.argv[1:]\n"
        "cli()\n" % threads
    )
    train = [sys.executable, "-c", code, "train", "--config", str(args.config), "--data", str(args.data), "--out", str(run), "--device", args.device, "--quiet", *sets]
    if (run / "model.pt").exists():
        train = [sys.executable, "-c", "pass"]
    elif (run / "checkpoints").exists():
        train.append("--resume")
    evaluate = [sys.executable, "-c", code, "eval-disentangle", str(run), "--data", str(args.data), "--pairs", str(args.pairs), "--device", args.device]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    log = open(args.out / f"{name}.log", "a")
    script = f"{subprocess.list2cmdline(train)} && {subprocess.list2cmdline(evaluate)}"
    return subprocess.Popen(["bash", "-c", f"start=$(date +%s); {script}; echo wall_s=$(( $(date +%s) - start ))"], env=env, stdout=log, stderr=subprocess.STDOUT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--variants", default="concat,multiple-none,single-l2,multiple-instance,multiple-l2")
    parser.add_argument("--set", action="append", default=[], help="extra override for every variant")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch threads per job [cores / jobs]")
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    names = args.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    pending, running = list(names), []
    while pending or running:
        while pending and len(running) < args.jobs:
            name = pending.pop(0)
            running.append((name, _train_and_eval(name, args, threads)))
        time.sleep(5)
        for name, proc in list(running):
            if proc.poll() is not None:
                running.remove((name, proc))
                print(f"{name}: exit {proc.returncode}", flush=True)

    from mvaug.evaluate.disentangle_metrics import format_metrics_table
    from mvaug.io.atomic import atomic_write_text

    rows = []
    for name in names:
        metrics = args.out / name / "eval" / "metrics.json"
        if metrics.is_file():
            report = json.loads(metrics.read_text())
            log = [json.loads(line) for line in (args.out / name / "log.jsonl").read_text().splitlines()]
            stage1 = [r for r in log if "stage" not in r]
            report["images_per_s"] = sum(r["images_per_s"] for r in stage1) / max(len(stage1), 1)
            rows.append((name, report))
    atomic_write_text(args.out / "ablation.json", json.dumps(dict(rows), indent=2) + "\n")
    table = format_metrics_table(rows)
    atomic_write_text(args.out / "ablation.md", table + "\n")
    print(table)


if __name__ == "__main__":
    main()
