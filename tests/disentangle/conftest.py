"""Tiny procedural data for the disentangler tests: a coloured square (identity) at a position (view)."""

import pytest
import torch

from mvaug.disentangle.config import ExperimentConfig, ModelConfig, TrainConfig
from mvaug.disentangle.data import ImageSet
from tests.conftest import single_thread


def square_images(identities: int = 4, views: int = 6, size: int = 32) -> ImageSet:
    images, view_labels, id_labels = [], [], []
    colours = torch.tensor([[230, 40, 40], [40, 200, 60], [50, 80, 230], [220, 200, 40], [160, 60, 200], [40, 200, 200]], dtype=torch.uint8)
    for identity in range(identities):
        for view in range(views):
            image = torch.full((3, size, size), 255, dtype=torch.uint8)
            x = 2 + view * (size - 12) // max(views - 1, 1)
            image[:, 10:20, x : x + 8] = colours[identity % len(colours)][:, None, None]
            images.append(image)
            view_labels.append(view)
            id_labels.append(identity)
    names = [f"id{i}-view{v}" for i, v in zip(id_labels, view_labels)]
    return ImageSet(torch.stack(images), torch.tensor(view_labels), torch.tensor(id_labels), names, "folder")


def tiny_config(**model) -> ExperimentConfig:
    config = ExperimentConfig(
        model=ModelConfig(image_size=32, style_dim=16, content_dim=8, channels=(32, 32, 16, 8), **model),
        train=TrainConfig(steps=6, batch_size=8, encoder_steps=4, checkpoint_every=3, sample_every=6, log_every=2),
    )
    config.loss.recon = "l1"
    config.loss.w_id = 0.0
    config.loss.content_capacity.steps = 10
    return config


@pytest.fixture
def squares() -> ImageSet:
    return square_images()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    with single_thread():
        yield
