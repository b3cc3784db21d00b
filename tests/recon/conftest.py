"""Tiny synthetic chairs in the ShapeNet layout and a tiny Pix2Vox-F configuration for the reconstructor tests."""

from pathlib import Path

import pytest
import torch
from pix2vox import Pix2VoxConfig

from mvaug.recon.config import AugmentConfig, ReconConfig, ReconDataConfig, ReconOptimConfig, ReconTrainConfig
from tests.conftest import single_thread


def tiny_config(**train) -> ReconConfig:
    return ReconConfig(
        model=Pix2VoxConfig(variant="F", image_size=32),
        data=ReconDataConfig(views=3, val_views=2, crop=128, render_size=137),
        augment=AugmentConfig(),
        optim=ReconOptimConfig(milestones=[1]),
        train=ReconTrainConfig(**{"epochs": 2, "batch_size": 2, "checkpoint_every": 1, "log_every": 1, **train}),
    )


@pytest.fixture(scope="session")
def chairs(tmp_path_factory) -> Path:
    """Six procedural chairs, four 48-px views each: 4 train, 1 val, 1 test."""
    from mvaug.data.synth.writer import SynthChairsConfig, synthesize_chairs

    root = tmp_path_factory.mktemp("chairs")
    synthesize_chairs(root, SynthChairsConfig(models=6, views=4, size=48, seed=3, supersample=1, split=(0.67, 0.165, 0.165)), progress=False)
    return root


@pytest.fixture(scope="session")
def trained_run(chairs, tmp_path_factory) -> Path:
    """A run folder of train-recon after one epoch of the tiny configuration (it holds best.pt)."""
    from mvaug.recon.data import ShapeNetViews
    from mvaug.recon.trainer import ReconTrainer

    config = tiny_config(batch_size=4)
    run = tmp_path_factory.mktemp("runs") / "tiny"
    with single_thread():  # session fixtures are set up before the module's one_thread
        trainer = ReconTrainer(config, ShapeNetViews(chairs, "train", config), ShapeNetViews(chairs, "val", config), run, torch.device("cpu"), progress=False)
        trainer.start(resume=False)
        trainer.train(max_steps=1)
    return run


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    with single_thread():
        yield
