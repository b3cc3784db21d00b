"""Reader and writer for the binvox voxel format (used by ShapeNetVox32 and Pix2Vox).

Format: an ASCII header (``#binvox 1``, ``dim D H W``, ``translate tx ty tz``, ``scale s``,
``data``) followed by run-length pairs of bytes ``(value, count)``. In the file the y index runs
fastest, then z, then x. Arrays returned here are indexed ``[x, y, z]``, the order that Pix2Vox and
3D-R2N2 feed their networks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mvaug.errors import DataError
from mvaug.io.atomic import atomic_write_bytes


@dataclass
class Binvox:
    """A voxel grid with binvox's placement: voxel (i, j, k) spans translate + scale * ([i, j, k] + [0, 1]) / dim."""

    data: np.ndarray  # bool (X, Y, Z)
    translate: tuple[float, float, float] = (0.0, 0.0, 0.0)
    scale: float = 1.0
    extra_header: list[str] = field(default_factory=list)

    @property
    def dims(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.data.shape)  # type: ignore[return-value]


def _parse_header(raw: bytes, path: str) -> tuple[tuple[int, int, int], tuple[float, float, float], float, list[str], int]:
    if not raw.startswith(b"#binvox"):
        raise DataError("not a binvox file (it does not start with '#binvox')", path)
    dims = translate = scale = None
    extra: list[str] = []
    pos = 0
    while True:
        end = raw.find(b"\n", pos)
        if end < 0:
            raise DataError("truncated binvox header (no 'data' line)", path)
        line = raw[pos:end].decode("ascii", errors="replace").strip()
        pos = end + 1
        if line == "data":
            break
        key, _, value = line.partition(" ")
        try:
            if key == "#binvox":
                continue
            if key == "dim":
                dims = tuple(int(v) for v in value.split())
                if len(dims) != 3 or min(dims) <= 0:
                    raise ValueError
            elif key == "translate":
                translate = tuple(float(v) for v in value.split())
                if len(translate) != 3:
                    raise ValueError
            elif key == "scale":
                scale = float(value)
            else:
                extra.append(line)
        except ValueError:
            raise DataError(f"malformed binvox header line {line!r}", path) from None
    if dims is None:
        raise DataError("binvox header has no 'dim' line", path)
    return dims, translate or (0.0, 0.0, 0.0), 1.0 if scale is None else scale, extra, pos


def decode_binvox(raw: bytes, path: str = "<bytes>") -> Binvox:
    """Decode the bytes of a binvox file; ``path`` only names the source in errors."""
    dims, translate, scale, extra, start = _parse_header(raw, path)
    body = np.frombuffer(raw, dtype=np.uint8, offset=start)
    if body.size % 2:
        raise DataError("truncated binvox data (odd number of run-length bytes)", path)
    values, counts = body[0::2], body[1::2].astype(np.int64)
    total = int(np.prod(dims))
    if counts.sum() != total:
        what = "truncated" if counts.sum() < total else "overlong"
        raise DataError(f"{what} binvox data: runs cover {counts.sum()} voxels, dim {dims} needs {total}", path)
    flat = np.repeat(values > 0, counts)
    data = flat.reshape(dims[0], dims[2], dims[1]).transpose(0, 2, 1)  # file order (x, z, y) -> (x, y, z)
    return Binvox(np.ascontiguousarray(data), translate, scale, extra)


def encode_binvox(vox: Binvox) -> bytes:
    """Encode to binvox bytes; runs are split at 255 as the reference binvox tool does."""
    data = np.asarray(vox.data, dtype=bool)
    if data.ndim != 3:
        raise ValueError(f"binvox data must be 3-D (X, Y, Z), got shape {data.shape}")
    x, y, z = data.shape
    flat = data.transpose(0, 2, 1).reshape(-1).astype(np.uint8)  # (x, y, z) -> file order (x, z, y)
    change = np.flatnonzero(np.diff(flat)) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [flat.size]]))
    run_values = flat[starts]
    full, rest = np.divmod(lengths, 255)
    pieces = full + (rest > 0)
    out_values = np.repeat(run_values, pieces)
    out_counts = np.full(out_values.size, 255, dtype=np.uint8)
    last = np.cumsum(pieces) - 1
    out_counts[last[rest > 0]] = rest[rest > 0]
    body = np.empty(out_values.size * 2, dtype=np.uint8)
    body[0::2], body[1::2] = out_values, out_counts
    header = ["#binvox 1", f"dim {x} {y} {z}"]
    header.append("translate " + " ".join(f"{t:.6g}" for t in vox.translate))
    header.append(f"scale {vox.scale:.6g}")
    header.extend(vox.extra_header)
    header.append("data")
    return ("\n".join(header) + "\n").encode("ascii") + body.tobytes()


def read_binvox(path: str | os.PathLike) -> Binvox:
    """Read a binvox file; raise :class:`DataError` naming the file if it is missing or damaged."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError("binvox file not found", path) from None
    except IsADirectoryError:
        raise DataError("expected a binvox file, found a folder", path) from None
    return decode_binvox(raw, str(path))


def write_binvox(path: str | os.PathLike, vox: Binvox) -> None:
    """Write atomically (a crash never leaves a half-written file)."""
    atomic_write_bytes(path, encode_binvox(vox))
