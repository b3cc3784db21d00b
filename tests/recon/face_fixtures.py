"""Tiny synthetic faces, a tiny MVF-Net run and a tiny face disentangler, shared by the face reconstruction and
face evaluation tests (imported by their test modules: ``from tests.recon.face_fixtures import *``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from tests.conftest import single_thread

TINY_FACE_RECON = {
    "model": {"width": 2},
    "data": {"image_size": 32},
    "augment": {"low_res_prob": 0.5, "low_res_size": 16, "brightness": 0.1},
    "train": {"steps": 2, "batch_size": 2, "checkpoint_every": 1, "log_every": 1, "val_every": 1},
}

TINY_FACE_DISENTANGLER = {
    "model": {"image_size": 32, "style_dim": 16, "content_dim": 8, "channels": [32, 32, 16, 8]},
    "loss": {"recon": "l1", "w_id": 0.0},
    "train": {"steps": 3, "batch_size": 8, "encoder_steps": 2, "checkpoint_every": 3, "sample_every": 3, "log_every": 3},
}


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(autouse=True)
def one_thread():
    with single_thread():
        yield


@pytest.fixture(scope="session")
def tiny_faces(tmp_path_factory) -> Path:
    """4 identities (2 train, 1 val, 1 test) at yaw -45 / 0 / 45, pitch 0, 32 px."""
    from mvaug.faces.synth import SynthFacesConfig, synthesize_faces

    root = tmp_path_factory.mktemp("tiny-faces") / "faces"
    config = SynthFacesConfig(identities=4, size=32, seed=3, yaws=(-45.0, 0.0, 45.0), pitches=(0.0,), split=(0.5, 0.25, 0.25), supersample=1)
    synthesize_faces(root, config, workers=1, progress=False)
    return root


@pytest.fixture(scope="session")
def tiny_face_run(tiny_faces, tmp_path_factory) -> Path:
    """A run folder of train-recon --kind face after two steps of the tiny configuration (it holds best.pt)."""
    from mvaug.engine.loop import TrainRequest
    from mvaug.recon.face_trainer import run_face_recon_training

    folder = tmp_path_factory.mktemp("face-recon")
    torch.set_num_threads(1)
    run_face_recon_training(TrainRequest(tiny_faces, folder / "run", write_yaml(folder / "tiny.yaml", TINY_FACE_RECON), device="cpu", progress=False))
    return folder / "run"


@pytest.fixture(scope="session")
def tiny_face_disentangler(tiny_faces, tmp_path_factory) -> Path:
    """A finished face disentangler (32 px) with its bank RUN/bank.npz of views az000_el00, az315_el00, az045_el00."""
    from mvaug.disentangle.run import run_training
    from mvaug.engine.loop import TrainRequest
    from mvaug.multiview.pipeline import build_bank
    from mvaug.multiview.views import parse_views

    folder = tmp_path_factory.mktemp("face-disentangler")
    torch.set_num_threads(1)
    run_training(TrainRequest(tiny_faces, folder / "run", write_yaml(folder / "tiny.yaml", TINY_FACE_DISENTANGLER), device="cpu", progress=False))
    build_bank(folder / "run", data=tiny_faces, views=parse_views("az000_el00,az315_el00,az045_el00"), device="cpu", progress=False)
    return folder / "run"
