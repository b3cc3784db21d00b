"""The disentangler: generator, per-image embeddings (latent optimisation) and the losses of Eq. 5.

``DisentangleModel.loss_dict`` returns the named terms; parameters come in the named groups
"networks" and "embeddings", each with its own Adam learning rate (Appendix A).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from mvaug.disentangle.config import ExperimentConfig
from mvaug.disentangle.generator import Generator, style_and_content_encoders

ReconLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class DisentangleModel(nn.Module):
    """G plus the codes of N training images.

    With latent optimisation the codes are embedding tables s (N, d_s) and c (N, d_c); in the
    amortised ablation they come from encoders applied to the images. With ``supervision: object``
    the style table has one row per object (O, d_s), and ``style_rows`` (N,) says which row each image uses.
    """

    def __init__(self, config: ExperimentConfig, num_images: int, objects: torch.Tensor | None = None):
        """``objects`` (N,): the object of each image, needed by ``supervision: object`` (any integer labels)."""
        super().__init__()
        self.config = config
        m = config.model
        self.generator = Generator(m)
        rows = None
        if m.supervision == "object":
            if objects is None or objects.shape != (num_images,):
                raise ValueError(f"supervision 'object' needs the object of each of the {num_images} images")
            rows = torch.unique(objects, return_inverse=True)[1]  # (N,) row of each image's object
        self.register_buffer("style_rows", rows)  # None (no state-dict entry) without object supervision
        if m.latent_optimization:
            self.style = nn.Embedding(num_images if self.style_rows is None else int(self.style_rows.max()) + 1, m.style_dim)
            self.content = nn.Embedding(num_images, m.content_dim)
            for table in (self.style, self.content):
                nn.init.uniform_(table.weight, -m.embedding_init_std, m.embedding_init_std)
        else:
            self.style_encoder, self.content_encoder = style_and_content_encoders(m)

    def embedding_tables(self) -> dict[str, nn.Embedding]:
        """The latent-optimised code tables {'style', 'content'}; empty for amortised encoders."""
        return {name: getattr(self, name) for name in ("style", "content") if hasattr(self, name)}

    @torch.no_grad()
    def image_codes(self) -> dict[str, torch.Tensor]:
        """The learned codes of every training image, {'style': (N, d_s), 'content': (N, d_c)}; empty when amortised."""
        tables = {name: table.weight.detach() for name, table in self.embedding_tables().items()}
        if tables and self.style_rows is not None:
            tables["style"] = tables["style"][self.style_rows]
        return tables

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        if self.config.model.latent_optimization:
            return {"networks": list(self.generator.parameters()), "embeddings": [self.style.weight, self.content.weight]}
        return {"networks": list(self.parameters()), "embeddings": []}

    def codes(self, index: torch.Tensor | None, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Style (B, d_s) and content (B, d_c) codes of the batch, before the reparametric noise."""
        if self.config.model.latent_optimization:
            return self.style(index if self.style_rows is None else self.style_rows[index]), self.content(index)
        return self.style_encoder(images), self.content_encoder(images)

    @torch.no_grad()
    def all_codes(self, images, chunk: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
        """Codes of every training image (an ImageSet): style (N, d_s), content (N, d_c)."""
        device = next(self.parameters()).device
        parts = []
        for start in range(0, len(images), chunk):
            index = torch.arange(start, min(start + chunk, len(images)), device=device)
            parts.append(self.codes(index, images.float_images(slice(start, start + chunk)).to(device)))
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    def noise_std(self, step: int, style: bool = False) -> float:
        """R's noise std at ``step`` for the content (or the style) code, after the linear warm-up."""
        m = self.config.model
        sigma = m.noise_std if not style or m.style_noise_std is None else m.style_noise_std
        if m.noise_warmup_steps <= 0:
            return sigma
        return sigma * min(step / m.noise_warmup_steps, 1.0)

    def reparametrize(self, code: torch.Tensor, step: int, style: bool = False) -> torch.Tensor:
        """R: code + sigma * N(0, I) while training (Sec. 3.2); identity in eval mode."""
        sigma = self.noise_std(step, style)
        return code + sigma * torch.randn_like(code) if self.training and sigma > 0 else code

    def forward(self, *args, **kwargs):
        """The training forward pass (what DistributedDataParallel calls): :meth:`loss_dict`."""
        return self.loss_dict(*args, **kwargs)

    def loss_dict(
        self,
        index: torch.Tensor,
        images: torch.Tensor,
        step: int,
        recon_loss: ReconLoss,
        id_features: Callable[[torch.Tensor], list[torch.Tensor]] | None = None,
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Named loss terms of Eq. 5 (weighted ones and their sum under 'total') and the reconstructions."""
        cfg = self.config.loss
        style, content = self.codes(index, images)
        s_noisy, c_noisy = self.reparametrize(style, step, style=True), self.reparametrize(content, step)
        if step < self.config.model.style_delay_steps:
            s_noisy = torch.zeros_like(s_noisy)  # content learns first
        recon = self.generator(s_noisy, c_noisy)  # x = G(R(s_i), R(c_i))
        losses = {"perceptual": recon_loss(recon, images)}
        if cfg.w_ib > 0:
            losses["ib"] = information_bottleneck(style, content, cfg, step)
        if cfg.w_id > 0 and id_features is not None:
            losses["id"] = self._instance_discrimination_loss(s_noisy, c_noisy, recon, step, id_features)
        total = cfg.w_perceptual * losses["perceptual"]
        total = total + cfg.w_ib * losses.get("ib", 0.0) + cfg.w_id * losses.get("id", 0.0)
        losses["total"] = total
        return losses, recon

    def _instance_discrimination_loss(self, s: torch.Tensor, c: torch.Tensor, x: torch.Tensor, step: int, phi) -> torch.Tensor:
        """Eq. 7: swap codes within the batch (j = a derangement of i) and compare Phi features:
        u = G(s_i, c_j) against x = G(s_i, c_i), v = G(s_j, c_i) against y = G(s_j, c_j) = x[j]."""
        j = torch.roll(torch.arange(s.shape[0], device=s.device), 1)
        u = self.generator(s, c[j])
        v = self.generator(s[j], c)
        weights = self.config.loss.id_layer_weights
        loss = 0.0
        for w, fu, fx, fv, fy in zip(weights, phi(u), phi(x), phi(v), phi(x[j])):
            loss = loss + w * ((fu - fx).abs().mean() + (fv - fy).abs().mean())
        return loss


def information_bottleneck(style: torch.Tensor, content: torch.Tensor, cfg, step: int) -> torch.Tensor:
    """Eq. 8: gamma_s |E||s||^2 - C_s| + gamma_c |E||c||^2 - C_c| with linearly rising capacities."""
    terms = []
    for code, cap in ((style, cfg.style_capacity), (content, cfg.content_capacity)):
        if cap.gamma > 0:
            terms.append(cap.gamma * (code.pow(2).sum(1).mean() - cap.capacity(step)).abs())
    return sum(terms) if terms else style.new_zeros(())
