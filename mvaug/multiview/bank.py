"""The canonical content bank (paper Section 5, Appendix D.3): one content code per named view.

A style code s of a single image combined with the bank's codes c_v gives the same object from
every view v: x_v = G(s, c_v). The codes come either

* from view-labelled training data: for each view, a robust mean of the learned content codes of
  the training images seen from (about) that camera, taken on the prior's support and put back
  there (``norm(c)`` of Eq. 3, so the code stays one the generator was trained on); or
* from exemplar images (faces: the paper retrieves the nearest neighbour of suggested inputs,
  footnote 6): c = E_c(x), optionally replaced by the nearest learned content code.

File format (``.npz``, no pickles): ``codes`` float32 (V, d_c) and ``header``, a JSON string with
the view names and cameras, the run folder and the run's fingerprint (a hash of its generator), so
loading a bank with another run is a clear error.
"""

from __future__ import annotations

import difflib
import io
import json
import os
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from mvaug.errors import ConfigError, DataError
from mvaug.multiview.views import View, camera_gap, camera_view, training_cameras

BANK_FORMAT = "mvaug-content-bank-v1"


@dataclass
class BankEntry:
    """How a view's code was made: ``source`` 'mean' (``count`` training images) or 'exemplar' (``image``)."""

    view: View
    source: str
    count: int = 0
    image: str | None = None


@dataclass
class ContentBank:
    """Named views and their content codes (V, d_c), tied to one disentangler run."""

    entries: list[BankEntry]
    codes: torch.Tensor  # (V, d_c)
    run: str
    run_fingerprint: str
    content_norm: str
    notes: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.codes.ndim != 2 or self.codes.shape[0] != len(self.entries):
            raise ValueError(f"codes must be (V={len(self.entries)}, d_c), got {tuple(self.codes.shape)}")
        names = [e.view.name for e in self.entries]
        if len(set(names)) != len(names):
            raise ValueError(f"view names must be unique, got {names}")

    @property
    def views(self) -> list[View]:
        return [e.view for e in self.entries]

    def select(self, views: list[View] | None) -> tuple[list[View], torch.Tensor]:
        """The requested views (all when None) and their codes (V', d_c); an unknown name is a ConfigError."""
        if views is None:
            return self.views, self.codes
        index = {e.view.name: k for k, e in enumerate(self.entries)}
        missing = [v.name for v in views if v.name not in index]
        if missing:
            hints = {m: difflib.get_close_matches(m, index, n=3) for m in missing}
            hint = "; ".join(f"{m}: did you mean {', '.join(h)}?" for m, h in hints.items() if h)
            raise ConfigError(f"the bank has no view {', '.join(missing)}" + (f" ({hint})" if hint else "") + f"; it holds {len(index)} views: {', '.join(list(index)[:12])}{' ...' if len(index) > 12 else ''}")
        rows = [index[v.name] for v in views]
        return [self.entries[k].view for k in rows], self.codes[rows]

    def check_run(self, fingerprint: str, run_dir: str | os.PathLike, path: str | os.PathLike | None = None) -> None:
        """Refuse to pair this bank with a run whose generator differs from the one it was built with."""
        if fingerprint != self.run_fingerprint:
            raise DataError(
                f"this content bank belongs to the run {self.run} (fingerprint {self.run_fingerprint}), not to {run_dir} "
                f"(fingerprint {fingerprint}); build one with 'mvaug bank build {run_dir} ...'",
                path,
            )

    def save(self, path: str | os.PathLike) -> None:
        from mvaug.io.atomic import atomic_write_bytes

        header = {
            "format": BANK_FORMAT,
            "run": self.run,
            "run_fingerprint": self.run_fingerprint,
            "content_norm": self.content_norm,
            "entries": [asdict(e) for e in self.entries],
            "notes": self.notes,
        }
        buffer = io.BytesIO()
        np.savez(buffer, codes=self.codes.detach().cpu().float().numpy(), header=np.array(json.dumps(header)))
        atomic_write_bytes(path, buffer.getvalue())

    @classmethod
    def load(cls, path: str | os.PathLike) -> ContentBank:
        path = Path(path)
        if not path.is_file():
            raise DataError("content bank not found" if not path.exists() else "expected a content bank file, found a folder", path)
        try:
            with np.load(path, allow_pickle=False) as data:
                header, codes = json.loads(str(data["header"])), data["codes"]
        except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile) as err:
            raise DataError(f"not a readable content bank ({type(err).__name__}: {err})", path) from None
        if not isinstance(header, dict) or header.get("format") != BANK_FORMAT:
            raise DataError(f"not an {BANK_FORMAT} file", path)
        if codes.dtype.kind != "f" or not np.isfinite(codes).all():
            raise DataError("the content codes are not all finite numbers (NaN or inf): rebuild the bank with mvaug bank build", path)
        try:
            entries = [BankEntry(View(**e.pop("view")), **e) for e in header["entries"]]
            return cls(entries, torch.from_numpy(codes), header["run"], header["run_fingerprint"], header["content_norm"], header.get("notes", {}))
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(f"damaged content bank header ({err})", path) from None


def robust_mean(codes: torch.Tensor, iterations: int = 100, eps: float = 1e-6) -> torch.Tensor:
    """Geometric median of codes (N, D) by Weiszfeld's iteration: a mean that outlying codes cannot drag."""
    point = codes.mean(dim=0)
    for _ in range(iterations):
        distance = (codes - point).norm(dim=1).clamp_min(eps)  # (N,)
        weights = 1.0 / distance
        updated = (weights[:, None] * codes).sum(dim=0) / weights.sum()
        if (updated - point).norm() <= eps * max(1.0, float(point.norm())):
            return updated
        point = updated
    return point


def build_bank_from_cameras(model, images, views: list[View] | None = None, tolerance: float | None = None) -> ContentBank:
    """One code per view from the learned content codes of training images near that camera.

    ``model`` a :class:`~mvaug.disentangle.trained.TrainedDisentangler`, ``images`` the run's training
    :class:`~mvaug.disentangle.data.ImageSet`. Default views: every camera of the data when they form
    a grid (the dense synthetic set, 3D Chairs), else eight azimuths at the median elevation.
    ``tolerance`` (degrees, azimuth and elevation each): 0.5 on a grid, 15 otherwise.
    """
    cameras = training_cameras(images.kind, images.names)
    if cameras is None:
        raise DataError(f"the {images.kind} images carry no cameras; build the bank from exemplars (--exemplar NAME=IMAGE)", Path(images.names[0]).parent)
    codes = _training_content(model, images)
    _, first = np.unique(np.round(cameras.astype(np.float64), 1), axis=0, return_index=True)
    distinct = cameras[np.sort(first)].astype(np.float64)  # one exact camera per distinct view, in data order
    grid = len(distinct) <= 256
    if tolerance is None:
        tolerance = 0.5 if grid else 15.0
    if views is None:
        elevation = float(np.median(cameras[:, 1]))
        views = [camera_view(a, e) for a, e in distinct] if grid else [camera_view(a, elevation) for a in range(0, 360, 45)]
    projected = model.project_content(codes)  # (N, d_c) on the prior's support
    entries, rows = [], []
    for view in views:
        if not view.has_camera:
            raise ConfigError(f"view {view.name!r} has no camera; name views as 'azAAA_elEE' or use --exemplar {view.name}=IMAGE")
        near = camera_gap(cameras, view) <= tolerance
        if not near.any():
            raise DataError(f"no training image within {tolerance} degrees of {view.name}", Path(images.names[0]).parent)
        members = torch.from_numpy(np.flatnonzero(near)).to(projected.device)
        rows.append(model.project_content(robust_mean(projected[members])[None])[0])
        entries.append(BankEntry(view, "mean", count=int(near.sum())))
    return ContentBank(entries, torch.stack(rows).cpu(), str(model.run_dir), model.fingerprint, model.content_norm, {"tolerance_deg": tolerance})


def build_bank_from_exemplars(model, exemplars: dict[str, tuple[str, torch.Tensor]], nearest: bool = True) -> ContentBank:
    """One code per named exemplar: E_c(x), or with ``nearest`` the closest learned content code (footnote 6).

    ``exemplars`` maps a view name to (image path, image (3, S, S)).
    """
    if not exemplars:
        raise ConfigError("no exemplar images given (--exemplar NAME=IMAGE)")
    images = torch.stack([image for _, image in exemplars.values()])
    _, codes = model.encode(images)
    codes = model.project_content(codes)
    if nearest:
        if model.content_embeddings is None:
            raise ConfigError("--nearest needs learned content codes; this run was trained with amortised encoders")
        learned = model.project_content(model.content_embeddings)
        codes = learned[torch.cdist(codes, learned).argmin(dim=1)]
    entries = [BankEntry(View(name), "exemplar", image=str(path)) for name, (path, _) in exemplars.items()]
    return ContentBank(entries, codes.cpu(), str(model.run_dir), model.fingerprint, model.content_norm, {"nearest": nearest})


def _training_content(model, images) -> torch.Tensor:
    """Content codes (N, d_c) of the run's training images: the learned embeddings, or E_c for amortised runs."""
    if model.content_embeddings is not None:
        if model.content_embeddings.shape[0] != len(images):
            raise DataError(
                f"the run learned codes for {model.content_embeddings.shape[0]} images, --data holds {len(images)}; pass the run's training data",
                Path(images.names[0]).parent,
            )
        return model.content_embeddings
    return torch.cat([model.encode(images.float_images(slice(k, k + 256)))[1] for k in range(0, len(images), 256)])
