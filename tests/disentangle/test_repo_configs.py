"""Every disentangler config in configs/ loads and trains for two steps (smoke test, tiny data)."""

from pathlib import Path

import pytest
import torch

from mvaug.config import resolve_run_config
from mvaug.disentangle.config import ExperimentConfig
from mvaug.disentangle.trainer import Trainer

from tests.disentangle.conftest import square_images

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
DISENTANGLER_CONFIGS = ["chairs-quick.yaml", "chairs-paper.yaml", "celeba-paper.yaml", "faces-quick.yaml", "chairs-cpu64.yaml", "faces-cpu64.yaml"]


def test_every_disentangler_config_is_listed():
    """A new disentangler config (one with model.fusion) must be added here."""
    import yaml

    found = sorted(p.name for p in CONFIGS.glob("*.yaml") if "fusion" in ((yaml.safe_load(p.read_text()) or {}).get("model") or {}))
    assert found == sorted(DISENTANGLER_CONFIGS)


@pytest.mark.parametrize("name", DISENTANGLER_CONFIGS)
def test_config_trains_two_steps(name, tmp_path, monkeypatch):
    # small batch and no L_ID (it needs a network from mvaug pretrain-id, tested on its own)
    overrides = ["train.batch_size=4", "train.steps=2", "train.encoder_steps=1", "loss.w_id=0"]
    if "epochs" in (CONFIGS / name).read_text():
        overrides += ["train.epochs=null", "train.encoder_epochs=null"]
    config = resolve_run_config(ExperimentConfig, CONFIGS / name, overrides, tmp_path, resume=False)
    images = square_images(identities=2, views=3, size=config.model.image_size)
    trainer = Trainer(config, images, tmp_path / "run", torch.device("cpu"), progress=False)
    sampled = []  # when the sample grids are due; drawing them (most of the time at 128 px) is tested in test_trainer
    monkeypatch.setattr(trainer.stage1, "write_samples", sampled.append)
    trainer.start(resume=False)
    before = trainer.model.generator.fc.weight.detach().clone()
    record = trainer.train()
    assert trainer.step == 2 and torch.isfinite(torch.tensor(record["total"])) and sampled == [2]
    assert not torch.equal(before, trainer.model.generator.fc.weight)
    trainer.fit_encoders()
    assert (tmp_path / "run" / "model.pt").is_file()
