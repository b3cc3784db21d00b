"""A checkpoint payload as one ``.safetensors`` file: tensors in fp16 storage, everything else as JSON.

A payload is the nested dict a run writes with ``torch.save`` (state dicts, config, format tag ...).
Its tensors go into the safetensors table under their path joined by ``/`` (``generator/fc.weight``);
the rest of the dict, with each tensor replaced by ``{"tensor": KEY, "dtype": ...}``, is the JSON
string ``payload`` of the file's metadata. Floating tensors are stored as float16 (half the bytes)
and read back in their original dtype; integer tensors are kept as they are. Reading never unpickles.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from mvaug.errors import DataError

FILE_FORMAT = "mvaug-builtin-v1"
SEPARATOR = "/"


def encode_payload(payload: dict, drop: tuple[str, ...] = ()) -> tuple[dict[str, torch.Tensor], dict]:
    """Split ``payload`` (minus its top-level keys ``drop``) into the stored tensors and a JSON-able skeleton."""
    tensors: dict[str, torch.Tensor] = {}

    def walk(value, path: tuple[str, ...]):
        if isinstance(value, torch.Tensor):
            key = SEPARATOR.join(path)
            stored = value.detach().cpu()
            if stored.is_floating_point():
                half = stored.to(torch.float16)
                if torch.equal(torch.isfinite(half), torch.isfinite(stored)):  # else out of fp16's range: kept as is
                    stored = half
            tensors[key] = stored.contiguous().clone()  # no shared or strided storage in safetensors
            return {"tensor": key, "dtype": str(value.dtype).removeprefix("torch.")}
        if isinstance(value, dict):
            if any(not isinstance(k, str) or SEPARATOR in k for k in value):
                raise ValueError(f"payload keys must be strings without {SEPARATOR!r}: {list(value)[:5]} at {SEPARATOR.join(path) or 'top level'}")
            return {"dict": {k: walk(v, path + (k,)) for k, v in value.items()}}
        if isinstance(value, (list, tuple)):
            return {"list": [walk(v, path + (str(i),)) for i, v in enumerate(value)]}
        if value is None or isinstance(value, (bool, int, float, str)):
            return {"value": value}
        raise TypeError(f"cannot store a {type(value).__name__} at {SEPARATOR.join(path)}")

    skeleton = walk({k: v for k, v in payload.items() if k not in drop}, ())
    return tensors, skeleton


def decode_payload(tensors: dict[str, torch.Tensor], skeleton: dict, device: torch.device | str = "cpu") -> dict:
    """The inverse of :func:`encode_payload`: tensors back in their recorded dtype, on ``device``."""

    def build(node):
        if "tensor" in node:
            return tensors[node["tensor"]].to(device=device, dtype=getattr(torch, node["dtype"]))
        if "dict" in node:
            return {k: build(v) for k, v in node["dict"].items()}
        if "list" in node:
            return [build(v) for v in node["list"]]
        return node["value"]

    return build(skeleton)


def write_payload_file(path: str | os.PathLike, payload: dict, drop: tuple[str, ...] = ()) -> dict[str, int]:
    """Write ``payload`` to ``path`` atomically; returns the number of stored values per dtype."""
    from safetensors.torch import save

    from mvaug.io.atomic import atomic_write_bytes

    tensors, skeleton = encode_payload(payload, drop)
    atomic_write_bytes(path, save(tensors, metadata={"format": FILE_FORMAT, "payload": json.dumps(skeleton)}))
    counts: dict[str, int] = {}
    for tensor in tensors.values():
        name = str(tensor.dtype).removeprefix("torch.")
        counts[name] = counts.get(name, 0) + tensor.numel()
    return counts


def read_payload_file(path: str | os.PathLike, device: torch.device | str = "cpu") -> dict:
    """The payload stored in ``path``; a missing, damaged or foreign file raises :class:`DataError` naming it."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    if not path.is_file():
        raise DataError("model file not found" if not path.exists() else "expected a model file, found a folder", path)
    try:
        data = path.read_bytes()
        header_size = int.from_bytes(data[:8], "little")
        metadata = json.loads(data[8 : 8 + header_size]).get("__metadata__") or {}
        if metadata.get("format") != FILE_FORMAT:
            raise DataError(f"not an {FILE_FORMAT} safetensors file", path)
        skeleton = json.loads(metadata["payload"])
        return decode_payload(load(data), skeleton, device)
    except (SafetensorError, OSError, ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as err:
        raise DataError(f"not a readable {FILE_FORMAT} safetensors file ({type(err).__name__})", path) from None
