"""The C-S fusion block (paper Eq. 3): z = f_sigma(s) * norm(c) + f_mu(s).

``norm`` fixes the prior of the content: ``instance`` normalises each channel (or the whole
vector) to zero mean and unit variance (a Gaussian prior), ``l2`` projects onto the sphere (a
uniform prior), ``none`` leaves the content as it is (Fig. 2b). The L2 projection is scaled by
sqrt(size) so that both priors give entries of unit mean square.
"""

from __future__ import annotations

import math

import torch
from torch import nn

EPS = 1e-5


def normalize_content(x: torch.Tensor, norm: str) -> torch.Tensor:
    """Apply ``norm`` to codes (B, D) or feature maps (B, C, H, W) (per channel, over H x W)."""
    if norm == "none":
        return x
    dims = (-1,) if x.ndim == 2 else (-2, -1)
    if norm == "instance":
        mean = x.mean(dim=dims, keepdim=True)
        var = x.var(dim=dims, keepdim=True, unbiased=False)
        return (x - mean) * torch.rsqrt(var + EPS)
    if norm == "l2":
        size = math.prod(x.shape[d] for d in dims)
        return x * torch.rsqrt(x.pow(2).sum(dim=dims, keepdim=True) + EPS) * math.sqrt(size)
    raise ValueError(f"unknown norm {norm!r}; use 'instance', 'l2' or 'none'")


class CSFusion(nn.Module):
    """Eq. 3 for ``channels`` content channels (a code when the input is (B, D), a map when (B, C, H, W))."""

    def __init__(self, style_dim: int, channels: int, norm: str):
        super().__init__()
        self.norm = norm
        self.f_sigma = nn.Linear(style_dim, channels)
        self.f_mu = nn.Linear(style_dim, channels)
        nn.init.zeros_(self.f_sigma.weight)
        nn.init.ones_(self.f_sigma.bias)  # sigma starts at 1: the content passes through unscaled
        nn.init.zeros_(self.f_mu.bias)

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        sigma, mu = self.f_sigma(style), self.f_mu(style)  # (B, C) each
        if content.ndim == 4:
            sigma, mu = sigma[:, :, None, None], mu[:, :, None, None]
        return sigma * normalize_content(content, self.norm) + mu
