"""Run by tests/disentangle/test_distributed.py under torchrun: train a few steps (argv: OUT ADVERSARIAL_WEIGHT), dump this rank's state."""

import sys
from pathlib import Path

import torch

from mvaug.disentangle.config import AdversarialConfig
from mvaug.engine.distributed import init_distributed
from mvaug.disentangle.trainer import Trainer
from mvaug.engine.seeding import batch_indices
from tests.disentangle.conftest import square_images, tiny_config


def main(out: Path, adversarial_weight: float) -> None:
    dist, device = init_distributed(torch.device("cpu"))
    config = tiny_config()
    config.train.steps = 4
    config.loss.adversarial = AdversarialConfig(weight=adversarial_weight, channels=(8, 16))
    images = square_images()
    trainer = Trainer(config, images, out / "run", device, progress=False, dist=dist)
    initial = {"style": trainer.model.style.weight.detach().clone(), "content": trainer.model.content.weight.detach().clone()}
    trainer.start(resume=False)
    trainer.train()
    seen = torch.cat([batch_indices(s, len(images), config.train.batch_size, config.train.seed) for s in range(4)]).unique()
    adversary = trainer.stage1.adversary
    discriminator = adversary.network.state_dict() if adversary is not None else {}
    torch.save({"rank": dist.rank, "world": dist.world_size, "state": trainer.model.state_dict(), "discriminator": discriminator, "initial": initial, "seen": seen}, out / f"rank{dist.rank}.pt")
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]), float(sys.argv[2]))
