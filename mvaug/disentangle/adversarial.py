"""A light adversarial term for stage 1 (:class:`~mvaug.disentangle.config.AdversarialConfig`; not in the paper).

The generator's side, ``softplus(-D(G(s, c)))``, joins Eq. 5 in the task's losses with D frozen and in eval
mode (its spectral norms do not move); D's side is one Adam step of ``softplus(-D(x)) + softplus(D(G(s, c)))``
on the same batch after the generator's step. Under DDP D is wrapped too, so its replicas stay identical.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from mvaug.disentangle.config import AdversarialConfig
from mvaug.engine.distributed import DistributedContext, wrap_ddp
from mvaug.engine.optimizer import adam
from mvaug.engine.precision import autocast


class PatchDiscriminator(nn.Module):
    """Images (B, 3, H, W) in [0, 1] -> one logit per patch (B, 1, H / 2^n, W / 2^n) for n = len(channels)."""

    def __init__(self, channels: tuple[int, ...]):
        super().__init__()
        layers: list[nn.Module] = []
        width = 3
        for out in channels:
            layers += [spectral_norm(nn.Conv2d(width, out, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            width = out
        layers.append(spectral_norm(nn.Conv2d(width, 1, 3, padding=1)))
        self.layers = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images * 2 - 1)


def generator_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: mean softplus(-D(G(s, c)))."""
    return F.softplus(-fake_logits.float()).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """mean softplus(-D(x)) + mean softplus(D(G(s, c))): the logistic loss of telling images from reconstructions."""
    return F.softplus(-real_logits.float()).mean() + F.softplus(fake_logits.float()).mean()


class Adversary:
    """D, its optimiser and its two sides; built with its own seed so that the rest of a run's random draws do not move."""

    def __init__(self, config: AdversarialConfig, betas: tuple[float, float], device: torch.device, precision: str, seed: int, dist: DistributedContext = DistributedContext()):
        self.config, self.device, self.precision = config, device, precision
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.network = PatchDiscriminator(config.channels).to(device)
        self.train_forward = wrap_ddp(self.network, device, dist)
        self.optimizer = adam({"discriminator": self.network.parameters()}, config.lr, betas)

    def active(self, step: int) -> bool:
        """Whether the term counts at stage-1 step ``step`` (0-based: the step being computed)."""
        return step >= self.config.start_step

    def generator_loss(self, fake: torch.Tensor) -> torch.Tensor:
        """The generator's side on reconstructions ``fake`` (B, 3, H, W); gradients reach G only."""
        self.network.eval().requires_grad_(False)
        return generator_adversarial_loss(self.network(fake))

    def step(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """One Adam step of D on images ``real`` and detached reconstructions ``fake``; returns its loss."""
        self.network.train().requires_grad_(True)
        with autocast(self.device, self.precision):  # one forward of both halves: DDP expects one per backward
            real_logits, fake_logits = self.train_forward(torch.cat([real, fake.detach()])).chunk(2)
        loss = discriminator_loss(real_logits, fake_logits)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def state_dict(self) -> dict:
        return {"network": self.network.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
