"""Optimisers built from a trainer's named parameter groups (one learning rate per group name)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch


def adam(
    groups: Mapping[str, Sequence[torch.nn.Parameter]],
    lr: float | Mapping[str, float],
    betas: tuple[float, float] = (0.9, 0.999),
    weight_decay: float = 0.0,
) -> torch.optim.Adam:
    """Adam over ``groups`` (name -> parameters, in order); ``lr`` is one rate, or one per group name.

    Each group keeps its ``name``, so a log or a scheduler can tell them apart, and a checkpoint's
    optimiser state loads only into the same groups in the same order.
    """
    rates = lr if isinstance(lr, Mapping) else dict.fromkeys(groups, lr)
    missing = [name for name in groups if name not in rates]
    if missing:
        raise ValueError(f"no learning rate for parameter group(s) {', '.join(missing)}")
    return torch.optim.Adam(
        [{"params": list(params), "lr": rates[name], "name": name} for name, params in groups.items()], betas=betas, weight_decay=weight_decay
    )
