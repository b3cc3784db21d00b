"""The codes eval-disentangle reads back from a run folder are the ones the run learned."""

import pytest
import torch

from mvaug.disentangle.trainer import Trainer
from mvaug.evaluate.disentanglement import run_codes
from tests.conftest import single_thread
from tests.disentangle.conftest import square_images, tiny_config


@pytest.mark.parametrize("supervision", ["none", "object"])
def test_run_codes_are_the_learned_codes(supervision, tmp_path):
    images = square_images(identities=3, views=4)
    config = tiny_config(supervision=supervision)
    config.train.steps = 3
    with single_thread():
        trainer = Trainer(config, images, tmp_path / "run", torch.device("cpu"), progress=False)
        trainer.start(resume=False)
        trainer.train()
        _, style, content, read = run_codes(tmp_path / "run", images, torch.device("cpu"))
    assert read.model.supervision == supervision
    codes = trainer.model.image_codes()
    assert torch.equal(style, codes["style"]) and torch.equal(content, codes["content"])
    shared = [torch.equal(style[0], style[v]) for v in range(1, 4)]  # views of object 0
    assert all(shared) == (supervision == "object")
