"""``mvaug eval-disentangle RUN --data DIR``: content transfer and classification leakage of a run.

The codes are the run's learned embeddings of its training images (latent optimisation), so DIR must
be the data the run was trained on; a run trained with amortised encoders is evaluated through them.
Writes ``RUN/eval/metrics.json`` and ``RUN/eval/metrics.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from mvaug.errors import DataError


@torch.no_grad()
def run_codes(run_dir: Path, images, device: torch.device):
    """(generate, style codes (N, d_s), content codes (N, d_c), config) of a run, from model.pt or its latest stage-1 checkpoint."""
    from mvaug.config import load_config
    from mvaug.disentangle.config import ExperimentConfig
    from mvaug.disentangle.model import DisentangleModel
    from mvaug.disentangle.trainer import load_run_checkpoint
    from mvaug.engine.run_folder import RunPaths

    paths = RunPaths(run_dir)
    checkpoint = paths.latest_checkpoint()
    if checkpoint is None:
        raise DataError("no stage-1 checkpoint in the run folder", paths.checkpoints)
    payload = load_run_checkpoint(checkpoint, device, stage=1)
    config = load_config(ExperimentConfig, payload["config"])
    if payload["num_images"] != len(images):
        raise DataError(f"the run was trained on {payload['num_images']} images, the data has {len(images)}; pass the run's training data", run_dir)
    model = DisentangleModel(config, len(images), payload["model"].get("style_rows")).to(device)  # object supervision: the saved rows
    model.load_state_dict(payload["model"])
    model.eval()
    style, content = model.all_codes(images)
    return model.generator, style, content, config


def evaluate_run(run_dir: str | Path, data: str | Path, pairs: int = 1000, seed: int = 0, device: str = "auto", distance: str = "auto", progress: bool = False) -> dict:
    """Metrics of a run as a dict (also written to RUN/eval/)."""
    from mvaug.disentangle.data import load_image_set
    from mvaug.engine.device import resolve_device
    from mvaug.evaluate.disentangle_metrics import format_metrics_table, metrics_report
    from mvaug.evaluate.image_distance import distance_by_name
    from mvaug.io.atomic import atomic_write_text

    run_dir = Path(run_dir)
    torch_device = resolve_device(device)
    config_file = run_dir / "config.yaml"
    if not config_file.is_file():
        raise DataError("not a run folder (no config.yaml)", run_dir)
    from mvaug.config import load_config
    from mvaug.disentangle.config import ExperimentConfig

    config = load_config(ExperimentConfig, config_file)
    images = load_image_set(data, config.model.image_size, config.data.kind, config.data.split, config.data.limit, progress)
    generate, style, content, _ = run_codes(run_dir, images, torch_device)
    chosen = distance_by_name(distance)
    report = metrics_report(generate, style, content, images.images, images.views, images.identities, chosen, pairs, seed)
    report["run"] = str(run_dir)
    atomic_write_text(run_dir / "eval" / "metrics.json", json.dumps(report, indent=2) + "\n")
    atomic_write_text(run_dir / "eval" / "metrics.md", format_metrics_table([(run_dir.name, report)]) + "\n")
    return report
