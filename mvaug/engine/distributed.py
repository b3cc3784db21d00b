"""Data-parallel training under ``torchrun`` (DistributedDataParallel: gloo on the CPU, nccl on GPUs).

Every rank holds all images and a replica of the model; each step, the seeded global batch is cut
into one contiguous slice per rank. Gradients, those of the embedding rows included, are
all-reduced, so each image's embedding receives its gradient from whichever rank held it and every
replica applies the same update once per step. Only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DistributedContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def local_slice(self, batch: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous part of a global batch (B,) -> (B / world_size,)."""
        if not self.enabled:
            return batch
        if batch.shape[0] % self.world_size:
            raise ValueError(f"batch size {batch.shape[0]} is not divisible by the {self.world_size} processes")
        return batch.chunk(self.world_size)[self.rank]

    def barrier(self) -> None:
        if self.enabled:
            torch.distributed.barrier()


def init_distributed(device: torch.device) -> tuple[DistributedContext, torch.device]:
    """Join the process group that ``torchrun`` describes in the environment (a no-op without it)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistributedContext(), device
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistributedContext(rank, world_size, local_rank), device


def wrap_ddp(model: torch.nn.Module, device: torch.device, dist: DistributedContext, find_unused_parameters: bool = False) -> torch.nn.Module:
    """``model`` in DistributedDataParallel when ``dist`` spans several processes, else ``model`` itself."""
    if not dist.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=find_unused_parameters)
