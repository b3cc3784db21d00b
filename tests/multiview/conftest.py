"""A tiny trained disentangler on a tiny dense synthetic chair set, shared by the multi-view tests."""

from pathlib import Path

import pytest
import torch
import yaml


TINY_RUN = {
    "model": {"image_size": 32, "style_dim": 16, "content_dim": 8, "channels": [32, 32, 16, 8]},
    "loss": {"recon": "l1", "w_id": 0.0},
    "train": {"steps": 4, "batch_size": 16, "encoder_steps": 3, "checkpoint_every": 4, "sample_every": 4, "log_every": 2},
}


@pytest.fixture(scope="package")
def dense_chairs(tmp_path_factory) -> Path:
    """4 chairs on the dense grid (62 views, 32 px): 2 train, 2 test."""
    from mvaug.data.synth.writer import SynthChairsConfig, synthesize_chairs

    root = tmp_path_factory.mktemp("dense") / "chairs"
    synthesize_chairs(root, SynthChairsConfig(models=4, dense=True, size=32, seed=5, split=(0.5, 0.0, 0.5)), progress=False)
    return root


@pytest.fixture(scope="package")
def tiny_run(dense_chairs, tmp_path_factory) -> Path:
    from mvaug.disentangle.run import run_training

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("run")
    config = folder / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY_RUN))
    run_training(dense_chairs, folder / "run", config, device="cpu", progress=False)
    return folder / "run"
