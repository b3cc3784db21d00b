"""Numeric precision of training and inference: ``auto``, ``fp32`` or ``bf16`` (bfloat16 autocast).

Under bf16 autocast the convolutions and matrix products of a forward pass run in bfloat16, while the
parameters (embeddings included), their gradients and the optimiser state stay fp32. ``auto`` picks
bf16 where the hardware computes it natively: CUDA devices that support it, and CPUs with AMX tiles or
AVX-512 BF16 (as torch detects them). Elsewhere bf16 is emulated and much slower than fp32 (0.03x for
a 64-px disentangler training step on an AVX2-only CPU, ``scripts/bench.py --only precision``), so
``auto`` keeps fp32 there.
"""

from __future__ import annotations

import os
from typing import Literal

import torch

from mvaug.errors import ConfigError

Precision = Literal["auto", "fp32", "bf16"]
PRECISIONS = ("auto", "fp32", "bf16")
PRECISION_ENV = "MVAUG_PRECISION"
"""The precision of inference (``generate``, ``reconstruct``, ``evaluate``; ``mvaug --precision`` sets it, worker processes inherit it)."""


RETIRED_BF16_SWITCH = {"bf16": lambda on: {"precision": "auto" if on else "fp32"}}
"""How a config written before ``train.precision`` reads: ``bf16: true`` (bf16 on CUDA) is ``auto``, ``false`` is ``fp32``."""


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AMX tiles or AVX-512 BF16), as torch's CPU build detects it."""
    probes = [getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    return any(probe() for probe in probes if probe is not None)


def resolve_precision(precision: str, device: torch.device) -> str:
    """``fp32`` or ``bf16`` for ``precision`` on ``device`` (``auto``: bf16 where it is native, see the module docstring)."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device.type == "cpu" and cpu_has_native_bf16() else "fp32"


def autocast(device: torch.device, precision: str):
    """The forward pass's autocast context for a resolved ``precision`` ('fp32': a no-op context)."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def inference_autocast(device: torch.device):
    """The autocast context of an inference forward pass: ``$MVAUG_PRECISION`` [auto] resolved on ``device``."""
    name = os.environ.get(PRECISION_ENV) or "auto"
    if name not in PRECISIONS:
        raise ConfigError(f"{PRECISION_ENV}={name!r}: expected one of {', '.join(PRECISIONS)}")
    return autocast(device, resolve_precision(name, device))
