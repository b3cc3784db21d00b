"""A linear 3D morphable model of face shape (Blanz & Vetter 1999) with identity and expression parts.

    vertices = mean + sum_k id_coef[k] * id_std[k] * id_basis[k] + sum_j exp_coef[j] * exp_std[j] * exp_basis[j]

Coefficients are in units of standard deviations: a coefficient vector drawn from N(0, I) gives a
face drawn from the model's prior (MVF-Net and 3DDFA regress coefficients scaled the same way).
Coordinates are in millimetres, y up, the face looking towards +z; triangles are 0-based.

Saved as an ``.npz`` (readable by ``numpy.load``) with a JSON header; the archive is written with
fixed timestamps, so equal models give byte-identical files.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import torch

from mvaug.errors import DataError
from mvaug.io.atomic import atomic_write_bytes

FORMAT = "mvaug-morphable-model"
FORMAT_VERSION = 1
LANDMARK_COUNT = 68
_ARRAYS = ("mean", "id_basis", "id_std", "exp_basis", "exp_std", "triangles", "landmark_indices")


class MorphableModel:
    """Mean shape, identity and expression bases with their standard deviations, triangles, landmarks.

    Args:
        mean: (N, 3) mean shape in millimetres.
        id_basis: (K_id, N, 3) identity directions (any scale; ``id_std`` scales them).
        id_std: (K_id,) standard deviation of each identity coefficient, in the basis' units.
        exp_basis: (K_exp, N, 3) expression directions; K_exp may be 0.
        exp_std: (K_exp,).
        triangles: (F, 3) 0-based vertex indices.
        landmark_indices: (68,) vertex indices of the iBUG-68 landmarks, or None when the model has none.
        name: what the model is (e.g. ``"procedural-head"``, ``"bfm2009"``).
        metadata: JSON-able extra information (mode names, source file, units of the source).

    All arrays become torch tensors (float32 / int64) on ``device``.
    """

    def __init__(
        self,
        mean,
        id_basis,
        id_std,
        exp_basis,
        exp_std,
        triangles,
        landmark_indices=None,
        name: str = "morphable-model",
        metadata: dict | None = None,
        device: str | torch.device = "cpu",
    ):
        as_float = lambda a: torch.as_tensor(np.asarray(a) if not torch.is_tensor(a) else a, dtype=torch.float32, device=device)  # noqa: E731
        as_long = lambda a: torch.as_tensor(np.asarray(a) if not torch.is_tensor(a) else a, dtype=torch.int64, device=device)  # noqa: E731
        self.mean = as_float(mean)
        self.id_basis = as_float(id_basis)
        self.id_std = as_float(id_std)
        self.exp_basis = as_float(exp_basis)
        self.exp_std = as_float(exp_std)
        self.triangles = as_long(triangles)
        self.landmark_indices = None if landmark_indices is None else as_long(landmark_indices)
        self.name = name
        self.metadata = dict(metadata or {})
        self._check()

    def _check(self) -> None:
        n = self.mean.shape[0] if self.mean.ndim == 2 else -1
        expect = {
            "mean": (self.mean, ("N", 3)),
            "id_basis": (self.id_basis, ("K_id", n, 3)),
            "id_std": (self.id_std, (self.id_basis.shape[0] if self.id_basis.ndim else -1,)),
            "exp_basis": (self.exp_basis, ("K_exp", n, 3)),
            "exp_std": (self.exp_std, (self.exp_basis.shape[0] if self.exp_basis.ndim else -1,)),
            "triangles": (self.triangles, ("F", 3)),
        }
        if self.landmark_indices is not None:
            expect["landmark_indices"] = (self.landmark_indices, (LANDMARK_COUNT,))
        for key, (tensor, shape) in expect.items():
            ok = tensor.ndim == len(shape) and all(isinstance(s, str) or s == t for s, t in zip(shape, tensor.shape))
            if not ok:
                raise ValueError(f"{key} must have shape {_shape_text(shape)}, got {tuple(tensor.shape)}")
        for key, index in (("triangles", self.triangles), ("landmark_indices", self.landmark_indices)):
            if index is not None and index.numel() and (int(index.min()) < 0 or int(index.max()) >= n):
                raise ValueError(f"{key} must index the {n} vertices (0-based), got values in [{int(index.min())}, {int(index.max())}]")

    @property
    def vertex_count(self) -> int:
        return self.mean.shape[0]

    @property
    def id_count(self) -> int:
        return self.id_basis.shape[0]

    @property
    def exp_count(self) -> int:
        return self.exp_basis.shape[0]

    @property
    def device(self) -> torch.device:
        return self.mean.device

    def to(self, device: str | torch.device) -> "MorphableModel":
        """A copy with every tensor on ``device``."""
        return MorphableModel(**self._fields(), device=device)

    def vertices(self, id_coef: torch.Tensor, exp_coef: torch.Tensor | None = None) -> torch.Tensor:
        """Shapes of a batch of coefficient vectors.

        Args:
            id_coef: (B, K_id), in standard deviations.
            exp_coef: (B, K_exp), in standard deviations; None means neutral (zeros).
        Returns:
            (B, N, 3) vertices in millimetres.
        """
        return self._combine(self.mean, self.id_basis, self.exp_basis, id_coef, exp_coef)

    def landmarks(self, id_coef: torch.Tensor, exp_coef: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 68, 3): the landmark vertices of :meth:`vertices`, computed from the landmark rows only."""
        if self.landmark_indices is None:
            raise ValueError(f"morphable model {self.name!r} has no landmark indices; pass landmark_indices when loading it")
        idx = self.landmark_indices
        return self._combine(self.mean[idx], self.id_basis[:, idx], self.exp_basis[:, idx], id_coef, exp_coef)

    def _combine(self, mean, id_basis, exp_basis, id_coef, exp_coef) -> torch.Tensor:
        id_coef = self._coefficients(id_coef, self.id_count, "id_coef")
        batch = id_coef.shape[0]
        exp_coef = torch.zeros(batch, self.exp_count, device=self.device) if exp_coef is None else self._coefficients(exp_coef, self.exp_count, "exp_coef")
        if exp_coef.shape[0] != batch:
            raise ValueError(f"id_coef and exp_coef must have the same batch size, got {batch} and {exp_coef.shape[0]}")
        points = mean.shape[0]
        offsets = (id_coef * self.id_std) @ id_basis.reshape(self.id_count, points * 3)  # (B, P*3)
        if self.exp_count:
            offsets = offsets + (exp_coef * self.exp_std) @ exp_basis.reshape(self.exp_count, points * 3)
        return mean.unsqueeze(0) + offsets.view(batch, points, 3)

    def _coefficients(self, coef, count: int, name: str) -> torch.Tensor:
        coef = torch.as_tensor(coef, dtype=torch.float32, device=self.device)
        if coef.ndim != 2 or coef.shape[1] != count:
            raise ValueError(f"{name} must have shape (B, {count}), got {tuple(coef.shape)}")
        return coef

    def _fields(self) -> dict:
        return {
            "mean": self.mean,
            "id_basis": self.id_basis,
            "id_std": self.id_std,
            "exp_basis": self.exp_basis,
            "exp_std": self.exp_std,
            "triangles": self.triangles,
            "landmark_indices": self.landmark_indices,
            "name": self.name,
            "metadata": self.metadata,
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write the model as ``.npz`` with a JSON header (``header`` entry), atomically and reproducibly."""
        header = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "name": self.name,
            "metadata": self.metadata,
            "has_landmarks": self.landmark_indices is not None,
        }
        arrays = {"header": np.array([json.dumps(header, sort_keys=True)])}
        for key in _ARRAYS:
            value = getattr(self, key)
            arrays[key] = np.zeros(0, np.int64) if value is None else value.detach().cpu().numpy()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for key, array in arrays.items():
                member = io.BytesIO()
                np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
                archive.writestr(zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0)), member.getvalue(), zipfile.ZIP_DEFLATED)
        atomic_write_bytes(path, buffer.getvalue())

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "cpu") -> "MorphableModel":
        """Read a model written by :meth:`save`; a missing, corrupt or foreign file raises :class:`DataError`."""
        path = Path(path)
        if not path.is_file():
            raise DataError("morphable model file not found", path)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
            raise DataError(f"not a readable .npz morphable model ({err})", path) from None
        if "header" not in arrays:
            raise DataError("not an mvaug morphable model (no 'header' entry)", path)
        try:
            header = json.loads(str(arrays["header"].reshape(-1)[0]))
        except (ValueError, IndexError):
            raise DataError("the morphable model header is not valid JSON", path) from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise DataError(f"not an mvaug morphable model (format {header.get('format') if isinstance(header, dict) else None!r})", path)
        if header.get("version") != FORMAT_VERSION:
            raise DataError(f"morphable model format version {header.get('version')} is not supported (expected {FORMAT_VERSION})", path)
        missing = [key for key in _ARRAYS if key not in arrays]
        if missing:
            raise DataError(f"morphable model lacks the entries {missing}", path)
        fields = {key: arrays[key] for key in _ARRAYS}
        if not header.get("has_landmarks"):
            fields["landmark_indices"] = None
        try:
            return cls(**fields, name=header.get("name", "morphable-model"), metadata=header.get("metadata"), device=device)
        except ValueError as err:
            raise DataError(f"inconsistent morphable model: {err}", path) from None


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
