"""A finished disentangler run (``RUN/model.pt``) ready for inference: encoders, generator, learned codes.

Stage 2 (Eq. 6) fitted the encoders E_s and E_c to the learned embeddings, so an unseen image x
gets s = E_s(x) and c = E_c(x), and any style can be rendered with any content as G(s, c).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from mvaug.engine.precision import inference_autocast
from mvaug.errors import ConfigError, DataError


@dataclass
class TrainedDisentangler:
    """Inference side of a run. Images are float (B, 3, S, S) in [0, 1] with S = ``image_size``."""

    run_dir: Path
    config: object  # ExperimentConfig
    generator: torch.nn.Module
    style_encoder: torch.nn.Module
    content_encoder: torch.nn.Module
    style_embeddings: torch.Tensor | None  # (N, d_s), learned codes of the training images
    content_embeddings: torch.Tensor | None  # (N, d_c)
    fingerprint: str
    device: torch.device

    @classmethod
    def from_run(cls, run_dir: str | Path, device: torch.device | str = "cpu") -> TrainedDisentangler:
        """Load ``RUN/model.pt`` (written at the end of ``mvaug train``), or ``builtin:NAME``; errors name the missing file."""
        from mvaug.disentangle.trainer import load_run_checkpoint
        from mvaug.engine.run_folder import RunPaths
        from mvaug.io.assets import BuiltinModel, resolve_model

        source = resolve_model(run_dir, None, "disentangler")
        if isinstance(source, BuiltinModel):
            payload, path = source.read(device)
            return cls.from_payload(payload, path, device)
        run_dir = source
        if not run_dir.is_dir():
            raise DataError("disentangler run folder not found", run_dir)
        paths = RunPaths(run_dir)
        if not os.path.lexists(paths.model):  # a folder or a broken link in its place is read, to say what is wrong with it
            raise DataError("the run has no model.pt: train it to the end first (mvaug train ... --resume)", run_dir)
        device = torch.device(device)
        payload = load_run_checkpoint(paths.model, device, stage="final")
        _require_finite_weights(payload, paths.model)
        return cls.from_payload(payload, run_dir, device)

    @classmethod
    def from_payload(cls, payload: dict, source: str | Path, device: torch.device | str = "cpu") -> TrainedDisentangler:
        """The networks of a final ``model.pt`` payload (or the same dict read from a built-in model file, :mod:`mvaug.builtin`).

        ``source`` names where it came from (``run_dir``); the learned embeddings are optional.
        """
        from mvaug.config import load_config
        from mvaug.disentangle.config import ExperimentConfig
        from mvaug.disentangle.generator import Generator, style_and_content_encoders

        device = torch.device(device)
        try:
            config = load_config(ExperimentConfig, payload["config"])
            m = config.model
            generator = Generator(m)
            style_encoder, content_encoder = style_and_content_encoders(m)
            generator.load_state_dict(payload["generator"])
            style_encoder.load_state_dict(payload["style_encoder"])
            content_encoder.load_state_dict(payload["content_encoder"])
        except (ConfigError, KeyError, TypeError, AttributeError, RuntimeError) as err:
            raise DataError(f"the disentangler's config and weights do not fit together ({str(err).splitlines()[0]})", source) from None
        for net in (generator, style_encoder, content_encoder):
            net.to(device).eval().requires_grad_(False)
        embeddings = [payload.get(k) for k in ("style_embeddings", "content_embeddings")]
        embeddings = [None if e is None else e.to(device) for e in embeddings]
        return cls(Path(source), config, generator, style_encoder, content_encoder, *embeddings, _fingerprint(payload["generator"]), device)

    @property
    def image_size(self) -> int:
        return self.config.model.image_size

    @property
    def content_norm(self) -> str:
        """The content prior's normalisation: 'l2' (uniform on the sphere), 'instance' (Gaussian) or 'none'."""
        return self.config.model.norm

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images (B, 3, S, S) -> style (B, d_s), content (B, d_c)."""
        self._check_images(images)
        images = images.to(self.device)
        with inference_autocast(self.device):
            return self.style_encoder(images).float(), self.content_encoder(images).float()

    @torch.no_grad()
    def encode_style(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, 3, S, S) -> style (B, d_s): E_s alone, for retrieval by style."""
        self._check_images(images)
        with inference_autocast(self.device):
            return self.style_encoder(images.to(self.device)).float()

    @torch.no_grad()
    def generate(self, style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
        """G(s, c): style (B, d_s), content (B, d_c) -> images (B, 3, S, S) in [0, 1]."""
        with inference_autocast(self.device):
            return self.generator(style.to(self.device), content.to(self.device)).float()

    def refine_codes(self, images: torch.Tensor, style: torch.Tensor, content: torch.Tensor, steps: int, lr: float = 0.01) -> tuple[torch.Tensor, torch.Tensor]:
        """Test-time latent optimisation: Adam on (s, c), started at the encoders' codes, so that G(s, c) reproduces
        ``images`` (B, 3, S, S) in L1, the reconstruction term of the first stage (Eq. 5) on the unseen images alone.
        The networks stay fixed and each image's codes follow their own gradient. Returns the refined style (B, d_s)
        and content (B, d_c)."""
        self._check_images(images)
        images = images.to(self.device)
        style, content = (code.detach().to(self.device).clone().requires_grad_(True) for code in (style, content))
        optimizer = torch.optim.Adam([style, content], lr=lr)
        with torch.enable_grad():
            for _ in range(steps):
                optimizer.zero_grad(set_to_none=True)
                with inference_autocast(self.device):
                    drawn = self.generator(style, content).float()
                (drawn - images).abs().mean().backward()
                optimizer.step()
        return style.detach(), content.detach()

    def project_content(self, codes: torch.Tensor) -> torch.Tensor:
        """Put content codes (B, d_c) on the prior's support, as the fusion block sees them (Eq. 3's norm(c))."""
        from mvaug.disentangle.fusion import normalize_content

        return normalize_content(codes, self.content_norm)

    def _check_images(self, images: torch.Tensor) -> None:
        size = self.image_size
        if images.ndim != 4 or images.shape[1:] != (3, size, size):
            raise ValueError(f"expected images of shape (B, 3, {size}, {size}), got {tuple(images.shape)}")


def _require_finite_weights(payload: dict, path: Path) -> None:
    """Refuse networks with NaN or infinite weights (a run that diverged), which would only draw blank images."""
    for network in ("generator", "style_encoder", "content_encoder"):
        state = payload[network] if isinstance(payload[network], dict) else {}
        bad = [name for name, value in state.items() if isinstance(value, torch.Tensor) and value.is_floating_point() and not value.isfinite().all()]
        if bad:
            raise DataError(f"the {network} weights hold NaN or infinite values ({bad[0]}): the run diverged", path)


def _fingerprint(state: dict[str, torch.Tensor]) -> str:
    """A short hash of the generator weights: ties files made from a run (content banks) to that run."""
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].detach().cpu().float().numpy().tobytes())
    return digest.hexdigest()[:16]
