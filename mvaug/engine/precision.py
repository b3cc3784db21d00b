"""Numeric precision of a training step: bf16 autocast or fp32."""

from __future__ import annotations

import torch


def autocast(device: torch.device, bf16: bool):
    """The forward pass's autocast context: bf16 on CUDA when ``bf16`` (``train.bf16``), fp32 otherwise."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda" and bf16)
