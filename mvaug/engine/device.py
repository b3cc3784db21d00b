"""The torch device of a command: ``--device auto|cpu|cuda``."""

from __future__ import annotations

import torch

from mvaug.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``auto`` = CUDA when available, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: CUDA is not available on this machine")
    return torch.device(name)
