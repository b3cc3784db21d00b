"""The canonical content bank (paper Section 5, Appendix D.3): one content code per named view.

A style code s of a single image combined with the bank's codes c_v gives the same object from
every view v: x_v = G(s, c_v). The codes come either

* from view-labelled training data: for each view, a robust mean of the learned content codes of
  the training images seen from (about) that camera, taken on the prior's support and put back
  there (``norm(c)`` of Eq. 3, so the code stays one the generator was trained on); or
* from exemplar images (faces: the paper retrieves the nearest neighbour of suggested inputs,
  footnote 6): c = E_c(x), optionally replaced by the nearest learned content code.

A bank built from view-labelled data may also keep **style neighbours** (:class:`StyleNeighbours`): every
training object's style and its content codes at the bank's views. A view of an unseen object then takes
the robust mean of the content codes of the k training objects nearest to its style, not of all objects:
the content code of a view keeps part of the object's extent at that camera (a bench is longer than a chair
seen from the same side), which the mean over all objects replaces by an average chair's.

File format (``.npz``, no pickles): ``codes`` float32 (V, d_c) and ``header``, a JSON string with
the view names and cameras, the run folder and the run's fingerprint (a hash of its generator), so
loading a bank with another run is a clear error. With style neighbours also ``neighbour_styles``
float16 (M, d_s), ``neighbour_codes`` int8 (M, V, d_c) and ``neighbour_scales`` float32 (M, V): code =
int8 * scale / 127, within 0.4 % of the code's largest entry (2 MB for 256 objects at 62 views).
"""

from __future__ import annotations

import difflib
import io
import json
import logging
import os
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from mvaug.errors import ConfigError, DataError
from mvaug.multiview.views import View, camera_gap, camera_view, training_cameras

log = logging.getLogger(__name__)

BANK_FORMAT = "mvaug-content-bank-v1"


@dataclass
class BankEntry:
    """How a view's code was made: ``source`` 'mean' (``count`` training images) or 'exemplar' (``image``)."""

    view: View
    source: str
    count: int = 0
    image: str | None = None


@dataclass
class StyleNeighbours:
    """The training objects' styles (M, d_s) and their content codes at every bank view (M, V, d_c), on the prior's
    support: a view of an unseen object of style s is drawn with the robust mean of the codes of the ``k`` objects
    whose styles are nearest (Euclidean) to s."""

    styles: torch.Tensor  # (M, d_s)
    codes: torch.Tensor  # (M, V, d_c)
    k: int

    def __post_init__(self) -> None:
        if self.styles.ndim != 2 or self.codes.ndim != 3 or self.codes.shape[0] != self.styles.shape[0]:
            raise ValueError(f"expected styles (M, d_s) and codes (M, V, d_c), got {tuple(self.styles.shape)} and {tuple(self.codes.shape)}")
        if not 1 <= self.k <= self.styles.shape[0]:
            raise ValueError(f"k must be between 1 and the {self.styles.shape[0]} objects, got {self.k}")

    def content(self, style: torch.Tensor, rows: list[int], content_norm: str) -> torch.Tensor:
        """Styles (B, d_s) -> content codes (B, len(rows), d_c) of the bank views ``rows``."""
        from mvaug.disentangle.fusion import normalize_content

        styles = self.styles.to(style)
        nearest = torch.cdist(style, styles).topk(self.k, dim=1, largest=False).indices  # (B, k)
        codes = self.codes[nearest.cpu()][:, :, rows].to(style).transpose(1, 2)  # (B, V', k, d_c): only the neighbours' rows are copied
        out = robust_mean(codes)  # (B, V', d_c)
        return normalize_content(out.flatten(0, 1), content_norm).view_as(out)


@dataclass
class ContentBank:
    """Named views and their content codes (V, d_c), tied to one disentangler run; optionally style neighbours."""

    entries: list[BankEntry]
    codes: torch.Tensor  # (V, d_c)
    run: str
    run_fingerprint: str
    content_norm: str
    notes: dict = field(default_factory=dict)
    neighbours: StyleNeighbours | None = None

    def __post_init__(self) -> None:
        if self.codes.ndim != 2 or self.codes.shape[0] != len(self.entries):
            raise ValueError(f"codes must be (V={len(self.entries)}, d_c), got {tuple(self.codes.shape)}")
        names = [e.view.name for e in self.entries]
        if len(set(names)) != len(names):
            raise ValueError(f"view names must be unique, got {names}")
        if self.neighbours is not None and self.neighbours.codes.shape[1:] != self.codes.shape:
            raise ValueError(f"neighbour codes must be (M, {len(self.entries)}, {self.codes.shape[1]}), got {tuple(self.neighbours.codes.shape)}")

    @property
    def views(self) -> list[View]:
        return [e.view for e in self.entries]

    def select(self, views: list[View] | None) -> tuple[list[View], torch.Tensor]:
        """The requested views (all when None) and their codes (V', d_c); an unknown name is a ConfigError."""
        rows = self._rows(views)
        return [self.entries[k].view for k in rows], self.codes[rows]

    def content_for(self, style: torch.Tensor, views: list[View] | None) -> tuple[list[View], torch.Tensor]:
        """The requested views and the content codes (B, V', d_c) that draw them for styles (B, d_s): the style
        neighbours' when the bank has them, else the bank's codes for every style."""
        rows = self._rows(views)
        if self.neighbours is None:
            content = self.codes[rows].to(style)[None].expand(style.shape[0], -1, -1)
        else:
            content = self.neighbours.content(style, rows, self.content_norm)
        return [self.entries[k].view for k in rows], content

    def _rows(self, views: list[View] | None) -> list[int]:
        if views is None:
            return list(range(len(self.entries)))
        index = {e.view.name: k for k, e in enumerate(self.entries)}
        missing = [v.name for v in views if v.name not in index]
        if missing:
            hints = {m: difflib.get_close_matches(m, index, n=3) for m in missing}
            hint = "; ".join(f"{m}: did you mean {', '.join(h)}?" for m, h in hints.items() if h)
            raise ConfigError(f"the bank has no view {', '.join(missing)}" + (f" ({hint})" if hint else "") + f"; it holds {len(index)} views: {', '.join(list(index)[:12])}{' ...' if len(index) > 12 else ''}")
        return [index[v.name] for v in views]

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
        arrays = {"codes": self.codes.detach().cpu().float().numpy()}
        if self.neighbours is not None:
            header["neighbours_k"] = self.neighbours.k
            codes = self.neighbours.codes.detach().cpu().float()
            scales = codes.abs().amax(dim=2).clamp_min(1e-12)  # (M, V)
            arrays |= {"neighbour_styles": self.neighbours.styles.detach().cpu().half().numpy(),
                       "neighbour_codes": (codes * 127 / scales[..., None]).round().clamp(-127, 127).to(torch.int8).numpy(),
                       "neighbour_scales": scales.numpy()}
        buffer = io.BytesIO()
        np.savez(buffer, **arrays, header=np.array(json.dumps(header)))
        atomic_write_bytes(path, buffer.getvalue())

    @classmethod
    def load(cls, path: str | os.PathLike) -> ContentBank:
        path = Path(path)
        if not path.is_file():
            raise DataError("content bank not found" if not path.exists() else "expected a content bank file, found a folder", path)
        try:
            with np.load(path, allow_pickle=False) as data:
                header, codes = json.loads(str(data["header"])), data["codes"]
                stored = {name: data[name] for name in ("neighbour_styles", "neighbour_codes", "neighbour_scales") if name in data}
        except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile) as err:
            raise DataError(f"not a readable content bank ({type(err).__name__}: {err})", path) from None
        if not isinstance(header, dict) or header.get("format") != BANK_FORMAT:
            raise DataError(f"not an {BANK_FORMAT} file", path)
        if codes.dtype.kind != "f" or not np.isfinite(codes).all():
            raise DataError("the content codes are not all finite numbers (NaN or inf): rebuild the bank with mvaug bank build", path)
        try:
            entries = [BankEntry(View(**e.pop("view")), **e) for e in header["entries"]]
            neighbours = _read_neighbours(stored, header.get("neighbours_k"))
            return cls(entries, torch.from_numpy(codes), header["run"], header["run_fingerprint"], header["content_norm"], header.get("notes", {}),
                       neighbours)
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(f"damaged content bank ({err})", path) from None


def _read_neighbours(stored: dict[str, np.ndarray], k: int | None) -> StyleNeighbours | None:
    """The style neighbours of a loaded bank, dequantised (see the module's file format); None when it has none."""
    if not stored and k is None:
        return None
    if len(stored) != 3 or not isinstance(k, int):
        raise ValueError("its style neighbours are incomplete")
    styles, codes, scales = stored["neighbour_styles"], stored["neighbour_codes"], stored["neighbour_scales"]
    if codes.dtype != np.int8 or styles.dtype.kind != "f" or scales.dtype.kind != "f" or not (np.isfinite(styles).all() and np.isfinite(scales).all()):
        raise ValueError("its style neighbours are not int8 codes with finite styles and scales")
    if scales.shape != codes.shape[:2]:
        raise ValueError(f"neighbour scales {scales.shape} do not fit the codes {codes.shape}")
    codes = torch.from_numpy(codes).float() * torch.from_numpy(scales).float()[..., None] / 127
    return StyleNeighbours(torch.from_numpy(styles).float(), codes, k)


def robust_mean(codes: torch.Tensor, iterations: int = 100, eps: float = 1e-6) -> torch.Tensor:
    """Geometric median of codes (..., N, D) over N by Weiszfeld's iteration, for every leading index at once: a mean
    that outlying codes cannot drag. Returns (..., D)."""
    point = codes.mean(dim=-2)
    for _ in range(iterations):
        distance = (codes - point[..., None, :]).norm(dim=-1).clamp_min(eps)  # (..., N)
        weights = 1.0 / distance
        updated = (weights[..., None] * codes).sum(dim=-2) / weights.sum(dim=-1, keepdim=True)
        converged = bool(((updated - point).norm(dim=-1) <= eps * point.norm(dim=-1).clamp_min(1.0)).all())
        point = updated
        if converged:
            break
    return point


def build_bank_from_cameras(model, images, views: list[View] | None = None, tolerance: float | None = None,
                            neighbours: int = 0) -> ContentBank:
    """One code per view from the learned content codes of training images near that camera.

    ``model`` a :class:`~mvaug.disentangle.trained.TrainedDisentangler`, ``images`` the run's training
    :class:`~mvaug.disentangle.data.ImageSet`. Default views: every camera of the data when they form
    a grid (the dense synthetic set, 3D Chairs), else eight azimuths at the median elevation.
    ``tolerance`` (degrees, azimuth and elevation each): 0.5 on a grid, 15 otherwise.
    ``neighbours`` k > 0 also keeps :class:`StyleNeighbours` (the data must name each image's object). On the built-in
    chair disentangler k = 8 brings its views of 192 fresh chairs closer to the real ones (silhouette IoU +0.039 over the
    median over all objects, with 4 / 16 neighbours as good); on the built-in face disentangler it made the generated side
    views less useful to MVF-Net (docs/results.md, eighteenth session), so the default stays the paper's 0.
    """
    cameras = training_cameras(images.kind, images.names)
    if cameras is None:
        raise DataError(f"the {images.kind} images carry no cameras; build the bank from exemplars (--exemplar NAME=IMAGE)", Path(images.names[0]).parent)
    styles, codes = training_codes(model, images)
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
    found = _style_neighbours(model, images, styles, projected, cameras, [e.view for e in entries], tolerance, neighbours) if neighbours else None
    return ContentBank(entries, torch.stack(rows).cpu(), str(model.run_dir), model.fingerprint, model.content_norm, {"tolerance_deg": tolerance}, found)


def _style_neighbours(model, images, styles, projected, cameras: np.ndarray, views: list[View], tolerance: float, k: int) -> StyleNeighbours:
    """Each training object's mean style (M, d_s) and, per bank view, the robust mean of its content codes within
    ``tolerance`` of the camera (M, V, d_c); objects without an image at some bank view are left out."""
    if images.identities is None:
        raise DataError("style neighbours need the object of every training image, which this data does not name; build with --neighbours 0",
                        Path(images.names[0]).parent)
    near = [camera_gap(cameras, view) <= tolerance for view in views]  # V masks (N,)
    object_styles, object_codes = [], []
    for obj in images.identities.unique().tolist():
        mine = (images.identities == obj).numpy()
        seen = [np.flatnonzero(mine & mask) for mask in near]
        if any(len(index) == 0 for index in seen):
            continue
        object_styles.append(styles[torch.from_numpy(np.flatnonzero(mine)).to(styles.device)].mean(dim=0))
        object_codes.append(torch.stack([robust_mean(projected[torch.from_numpy(index).to(projected.device)]) for index in seen]))
    if not object_styles:
        raise DataError("no training object has an image at every bank view, so there are no style neighbours; build with --neighbours 0",
                        Path(images.names[0]).parent)
    if len(object_styles) < k:
        log.warning("only %d training objects have an image at every bank view: %d style neighbours instead of %d", len(object_styles), len(object_styles), k)
    codes = model.project_content(torch.stack(object_codes).flatten(0, 1)).view(len(object_codes), len(views), -1)
    return StyleNeighbours(torch.stack(object_styles).cpu(), codes.cpu(), min(k, len(object_styles)))


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


def training_codes(model, images) -> tuple[torch.Tensor, torch.Tensor]:
    """Style (N, d_s) and content (N, d_c) codes of the run's training images: the learned embeddings, or E_s and E_c
    for runs without them (amortised runs, the built-in models)."""
    if model.content_embeddings is not None and model.style_embeddings is not None:
        if model.content_embeddings.shape[0] != len(images):
            raise DataError(
                f"the run learned codes for {model.content_embeddings.shape[0]} images, --data holds {len(images)}; pass the run's training data",
                Path(images.names[0]).parent,
            )
        return model.style_embeddings, model.content_embeddings
    parts = [model.encode(images.float_images(slice(k, k + 256))) for k in range(0, len(images), 256)]
    return torch.cat([style for style, _ in parts]), torch.cat([content for _, content in parts])
