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
    what = f"{FILE_FORMAT} safetensors file"
    tensors, metadata = _read_tensors(path, what)
    if metadata.get("format") != FILE_FORMAT:
        raise DataError(f"not an {what}", path)
    return _decode_file(tensors, metadata, path, what, device)


def read_safetensors(path: str | os.PathLike, device: torch.device | str = "cpu", what: str = "safetensors file") -> dict:
    """A ``.safetensors`` file as a dict, never unpickled: the payload of an mvaug-builtin-v1 file, else its tensors by name.

    A missing, damaged or truncated file raises :class:`DataError` naming it; ``what`` says what was expected.
    """
    tensors, metadata = _read_tensors(path, what)
    if metadata.get("format") != FILE_FORMAT:
        return {name: tensor.to(device) for name, tensor in tensors.items()}
    return _decode_file(tensors, metadata, path, what, device)


def _read_tensors(path: str | os.PathLike, what: str) -> tuple[dict[str, torch.Tensor], dict]:
    """The tensors and the ``__metadata__`` strings of a safetensors file."""
    from safetensors.torch import load

    from mvaug.io.files import read_bytes

    data = read_bytes(path, what)
    try:
        tensors = load(data)  # checks the header and that the data covers every tensor
        header_size = int.from_bytes(data[:8], "little")
        metadata = json.loads(data[8 : 8 + header_size]).get("__metadata__") or {}
    except Exception as err:  # noqa: BLE001 - SafetensorError, and anything a damaged header makes json raise
        raise DataError(f"not a readable {what} ({type(err).__name__}: {err})", path) from None
    return tensors, metadata


def _decode_file(tensors: dict[str, torch.Tensor], metadata: dict, path: str | os.PathLike, what: str, device: torch.device | str) -> dict:
    """:func:`decode_payload` on a file's tensors and its ``payload`` metadata; a damaged skeleton raises :class:`DataError`."""
    try:
        return decode_payload(tensors, json.loads(metadata["payload"]), device)
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as err:
        raise DataError(f"not a readable {what} ({type(err).__name__})", path) from None
