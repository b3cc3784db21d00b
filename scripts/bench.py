#!/usr/bin/env python
"""Throughput of the foundation: rendering, synthesis, voxelisation, voxel IoU.

Each figure comes with a baseline measured in the same process (these machines are noisy, so the
ratios are what to compare between runs):

* rendering: our Open3D ray caster vs trimesh's ray caster (Embree through embreex, when
  installed) on the same chairs and cameras;
* synthesis (render + voxelise + write PNG/binvox/obj): 2 workers vs 1 worker;
* voxelisation: ours (Open3D triangle/box test + fill) vs trimesh's ``voxelized(pitch).fill()``;
* voxel IoU: batched numpy and torch vs a per-grid Python loop;
* precision: one training step (forward, losses, backward, Adam) of the 64-px disentangler at the
  paper's widths, Pix2Vox-F and MVF-Net in bf16 autocast vs fp32 (:mod:`mvaug.engine.precision`),
  with what ``precision: auto`` picks on this machine.

Usage: python scripts/bench.py [--models 12] [--only precision] [--json docs/bench.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np


def _timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bench_render(meshes, cameras, size: int) -> dict:
    from mvaug.render.raycast import MeshRenderer

    renderers = [MeshRenderer.from_trimesh(m, nthreads=1) for m in meshes]
    n = len(renderers) * len(cameras)
    ours = _timed(lambda: [r.render(c, size) for r in renderers for c in cameras], repeat=2)
    out = {"views": n, "ours_views_per_s": n / ours}
    try:
        from trimesh.ray.ray_pyembree import RayMeshIntersector
    except ImportError:
        out["baseline"] = "trimesh/embreex not installed"
        return out

    def trimesh_views():
        for mesh in meshes:
            caster = RayMeshIntersector(mesh)
            for cam in cameras:  # the same 2x2 supersampled rays, first hit only
                eye, dirs = cam.rays(size, 2)
                d = dirs.reshape(-1, 3)
                caster.intersects_first(np.broadcast_to(eye, d.shape), d)

    base = _timed(trimesh_views)
    out.update(baseline="trimesh + embreex (rays only, no shading)", baseline_views_per_s=n / base, ratio=base / ours)
    return out


def bench_synthesis(models: int, views: int, size: int) -> dict:
    from mvaug.data.synth.writer import SynthChairsConfig, synthesize_chairs

    config = SynthChairsConfig(models=models, views=views, size=size, seed=123)
    result = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            seconds = _timed(lambda: synthesize_chairs(Path(tmp) / "d", config, workers=workers, progress=False))
        result[f"workers_{workers}_views_per_s"] = models * views / seconds
        result[f"workers_{workers}_models_per_s"] = models / seconds
    result["ratio_2_vs_1"] = result["workers_2_views_per_s"] / result["workers_1_views_per_s"]
    return result


def bench_voxelize(meshes) -> dict:
    from scipy import ndimage

    from mvaug.geometry.voxelize import voxelize_mesh

    ours = _timed(lambda: [voxelize_mesh(m.vertices, m.faces, 32) for m in meshes], repeat=2)

    def trimesh_voxels():
        for m in meshes:
            ndimage.binary_fill_holes(m.voxelized(m.extents.max() / 32).matrix)

    base = _timed(trimesh_voxels)
    return {"ours_per_s": len(meshes) / ours, "baseline": "trimesh voxelized + fill", "baseline_per_s": len(meshes) / base, "ratio": base / ours}


def bench_iou(n: int = 2048) -> dict:
    import torch

    from mvaug.geometry.voxel_iou import voxel_iou

    rng = np.random.default_rng(0)
    pred = rng.random((n, 32, 32, 32), dtype=np.float32)
    gt = rng.random((n, 32, 32, 32)) < 0.1

    def naive():
        for p, g in zip(pred, gt):
            for t in (0.2, 0.3, 0.4, 0.5):
                b = p >= t
                _ = (b & g).sum() / (b | g).sum()

    base = _timed(naive)
    ours_np = _timed(lambda: voxel_iou(pred, gt), repeat=2)
    pt, gt_t = torch.from_numpy(pred), torch.from_numpy(gt)
    ours_torch = _timed(lambda: voxel_iou(pt, gt_t), repeat=2)
    return {
        "grids": n,
        "numpy_grids_per_s": n / ours_np,
        "torch_grids_per_s": n / ours_torch,
        "baseline": "per-grid numpy loop",
        "baseline_grids_per_s": n / base,
        "ratio_numpy": base / ours_np,
        "ratio_torch": base / ours_torch,
    }


def _step_seconds(model, loss_of, precision: str, steps: int) -> float:
    """Median seconds of one optimiser step of ``model`` on ``loss_of(model)`` (the first, warm-up step not counted)."""
    import torch

    from mvaug.engine.precision import autocast

    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        with autocast(torch.device("cpu"), precision):
            loss = loss_of(model)
        optimizer.zero_grad(set_to_none=True)
        loss.float().backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def bench_precision(steps: int = 3) -> dict:
    """Training images/s in bf16 autocast and fp32, same process, same inputs; ratio = bf16 / fp32 images/s."""
    import torch
    from mvfnet import MVFNet, MVFNetConfig
    from pix2vox import Pix2Vox, Pix2VoxConfig

    from mvaug.disentangle.config import ExperimentConfig
    from mvaug.disentangle.model import DisentangleModel
    from mvaug.engine.precision import cpu_has_native_bf16, resolve_precision

    torch.manual_seed(0)
    config = ExperimentConfig()  # the paper's chair generator: 64 px, channels (256, 256, 128, 64, 32)
    disentangler = DisentangleModel(config, 1000)
    images, index = torch.rand(32, 3, 64, 64), torch.randint(0, 1000, (32,))
    voxels = torch.rand(8, 1, 3, 64, 64), (torch.rand(8, 32, 32, 32) > 0.8).float()
    faces = torch.rand(8, 3, 3, 128, 128)
    cases = {
        "disentangler 64 px, batch 32": (disentangler, lambda m: (m.generator(*m.codes(index, images)).float() - images).abs().mean(), 32),
        "Pix2Vox-F 64 px, frozen VGG, batch 8": (Pix2Vox(Pix2VoxConfig(variant="F", image_size=64)),
                                                  lambda m: torch.nn.functional.binary_cross_entropy(m(voxels[0])["merged"].float(), voxels[1]), 8),
        "MVF-Net 128 px, batch 8 triplets": (MVFNet(MVFNetConfig(image_size=128)), lambda m: sum(v.float().pow(2).mean() for v in m(faces).values()), 24),
    }
    out = {"cpu_native_bf16": cpu_has_native_bf16(), "auto_picks": resolve_precision("auto", torch.device("cpu")),
           "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    for name, (model, loss_of, images_per_step) in cases.items():
        fp32, bf16 = (_step_seconds(model, loss_of, p, steps) for p in ("fp32", "bf16"))
        out[name] = {"fp32_images_per_s": images_per_step / fp32, "bf16_images_per_s": images_per_step / bf16, "bf16_speedup": fp32 / bf16}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=12, help="chairs per measurement")
    parser.add_argument("--views", type=int, default=24)
    parser.add_argument("--size", type=int, default=137)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--only", choices=["precision"], help="measure only this part")
    args = parser.parse_args()
    if args.only == "precision":
        report({"machine": f"{platform.machine()}, {platform.python_version()}", "precision": bench_precision()}, args.json)
        return

    from mvaug.data.synth.writer import SynthChairsConfig, build_model, random_cameras

    config = SynthChairsConfig(models=args.models, seed=7)
    meshes = [build_model(config, i).mesh for i in range(args.models)]
    cameras = random_cameras(np.random.default_rng(0), args.views)
    results = {
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "render": bench_render(meshes, cameras, args.size),
        "synthesis": bench_synthesis(args.models, args.views, args.size),
        "voxelize": bench_voxelize(meshes),
        "iou": bench_iou(),
        "precision": bench_precision(),
    }
    report(results, args.json)


def report(results: dict, path: str | None) -> None:
    """Print ``results`` and this process's peak resident memory as JSON; also write them to ``path`` when given."""
    results = {**results, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    print(json.dumps(results, indent=2))
    if path:
        from mvaug.io.atomic import atomic_write_text

        atomic_write_text(path, json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
