"""Run by tests/recon/test_distributed.py under torchrun: train two steps (one per stage of the quick
config's two-stage recipe, the second with encoder and decoder training on), dump this rank's weights."""

import sys
from pathlib import Path

import torch

from mvaug.engine.distributed import init_distributed
from mvaug.recon.data import ShapeNetViews
from mvaug.recon.trainer import ReconTrainer
from tests.recon.conftest import tiny_config


def main(data: Path, out: Path) -> None:
    dist, device = init_distributed(torch.device("cpu"))
    config = tiny_config(batch_size=4, checkpoint_every=100, two_stage=True, stage1_epochs=1, stage2_freeze=False)
    config.data.random_view_count = False  # all 3 views in the second step: a single view gives the merger no gradient
    trainer = ReconTrainer(config, ShapeNetViews(data, "train", config), ShapeNetViews(data, "val", config), out / "run", device, progress=False, dist=dist)
    initial = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.start(resume=False)
    trainer.train(max_steps=2)
    torch.save({"world": dist.world_size, "state": trainer.model.state_dict(), "initial": initial}, out / f"rank{dist.rank}.pt")
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
