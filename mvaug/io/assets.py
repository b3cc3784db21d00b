"""Where the built-in models live and what their cards say.

Layout of the assets folder (``mvaug/assets/`` in the package; ``$MVAUG_ASSETS`` overrides it), per
model NAME: ``NAME.safetensors`` (the weights, :mod:`mvaug.io.payload_file`), ``NAME.json`` (the
card) and, for a disentangler, ``NAME.bank.npz`` (its content bank). The card records what the model
is, the resolved config, the data and training command, wall time, git commit, metrics, and the
sha256 and size of each file, which :func:`verify` checks.

A built-in model is named wherever a run folder or checkpoint is accepted as ``builtin:NAME``;
:func:`resolve_model` is where a model reference is told apart (and None becomes the default built-in).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from mvaug.errors import DataError

ASSETS_ENV = "MVAUG_ASSETS"
PREFIX = "builtin:"
CARD_SUFFIX = ".json"
WEIGHTS_SUFFIX = ".safetensors"
BANK_SUFFIX = ".bank.npz"
TRAIN_HINT = "create the built-in models with 'python scripts/train_defaults.py' in a source checkout"
DEFAULT_NAMES = {
    ("chair", "disentangler"): "chair-disentangler",
    ("chair", "reconstructor"): "chair-pix2vox",
    ("face", "disentangler"): "face-disentangler",
    ("face", "reconstructor"): "face-mvfnet",
}
"""The model used for (kind, role) when no --run / --recon is given."""


def assets_dir() -> Path:
    """``$MVAUG_ASSETS`` when set, else the ``assets`` folder of the installed package."""
    return Path(os.environ.get(ASSETS_ENV) or Path(__file__).resolve().parents[1] / "assets")


def builtin_name(ref) -> str | None:
    """NAME for a reference ``builtin:NAME``, None for anything else (a path)."""
    return ref[len(PREFIX) :] if isinstance(ref, str) and ref.startswith(PREFIX) else None


RUN_WEIGHTS = ("best.pt", "model.pt")
"""The file a run folder's reference stands for: a reconstructor's best network, a disentangler's final one."""


def describe_ref(ref) -> str | None:
    """How a report records a model reference: ``builtin:NAME sha256:<12 hex>`` of the weights (so that a
    re-exported model is a different model), or the resolved path, with the sha256 of the file read there (the
    file itself, or a run folder's best.pt or model.pt) so that a run trained again in place is a different model
    too; None stays None."""
    if ref is None:
        return None
    name = builtin_name(ref)
    if name is not None:
        return f"{ref} sha256:{read_card(name)['files']['weights']['sha256'][:12]}"
    path = Path(ref).resolve()
    weights = path if path.is_file() else next((path / n for n in RUN_WEIGHTS if (path / n).is_file()), None)
    return str(path) if weights is None else f"{path} sha256:{sha256(weights)[:12]}"


def default_ref(kind: str, role: str) -> str:
    """``builtin:NAME`` of the default model for ``kind`` ('chair', 'face') and ``role`` ('disentangler', 'reconstructor')."""
    return PREFIX + DEFAULT_NAMES[(kind, role)]


def card_path(name: str, assets: Path | None = None) -> Path:
    return (assets or assets_dir()) / f"{name}{CARD_SUFFIX}"


def list_builtin(assets: Path | None = None) -> list[dict]:
    """The cards of every model in the assets folder, sorted by name (empty when there is none)."""
    folder = assets or assets_dir()
    return [read_card(p.name[: -len(CARD_SUFFIX)], folder) for p in sorted(folder.glob(f"*{CARD_SUFFIX}"))]


def read_card(name: str, assets: Path | None = None) -> dict:
    """The card of model ``name``; a missing or unreadable card raises :class:`DataError` that says how to make it."""
    path = card_path(name, assets)
    if not path.is_file():
        available = [p.name[: -len(CARD_SUFFIX)] for p in sorted(path.parent.glob(f"*{CARD_SUFFIX}"))]
        have = f"installed: {', '.join(available)}" if available else "none is installed"
        raise DataError(f"no built-in model '{name}' ({have}); {TRAIN_HINT}", path)
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"unreadable model card ({type(err).__name__})", path) from None
    if not isinstance(card, dict) or card.get("name") != name or not isinstance(card.get("files"), dict):
        raise DataError(f"not a model card of '{name}'", path)
    return card


def write_card(card: dict, assets: Path | None = None) -> Path:
    from mvaug.io.atomic import atomic_write_text

    path = card_path(card["name"], assets)
    atomic_write_text(path, json.dumps(card, indent=1) + "\n")
    return path


def file_record(path: Path) -> dict:
    """What a card says of one file: its name beside the card, sha256 and size."""
    return {"file": path.name, "sha256": sha256(path), "bytes": path.stat().st_size}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_file(name: str, role: str = "weights", assets: Path | None = None) -> Path:
    """The verified file ``role`` ('weights' or 'bank') of model ``name``."""
    card = verify(name, assets)
    if role not in card["files"]:
        raise DataError(f"the built-in model '{name}' has no {role} file", card_path(name, assets))
    return card_path(name, assets).parent / card["files"][role]["file"]


def verify(name: str, assets: Path | None = None) -> dict:
    """Check every file of model ``name`` against its card (size and sha256); returns the card.

    A missing file or a mismatch raises :class:`DataError` naming the file.
    """
    card = read_card(name, assets)
    folder = card_path(name, assets).parent
    for role, record in card["files"].items():
        path = folder / record["file"]
        if not path.is_file():
            raise DataError(f"the {role} file of the built-in model '{name}' is missing; {TRAIN_HINT}", path)
        if path.stat().st_size != record["bytes"] or sha256(path) != record["sha256"]:
            raise DataError(f"the {role} file of the built-in model '{name}' does not match its card (sha256 {record['sha256'][:12]}...): "
                            f"damaged or replaced; reinstall mvaug or {TRAIN_HINT}", path)
    return card


def format_table(cards: list[dict]) -> str:
    """One line per card: name, kind, size, data, config, commit and its top-level numeric metrics."""
    header = ("name", "kind", "size", "trained on", "config", "commit", "metrics")
    rows = [header]
    for card in cards:
        size = sum(r["bytes"] for r in card["files"].values()) / 1e6
        metrics = "; ".join(f"{k} {v:.4g}" for k, v in card.get("metrics", {}).items() if isinstance(v, (int, float)) and not isinstance(v, bool))
        commit = (card.get("git_commit") or "-")[:12] + ("+dirty" if str(card.get("git_commit", "")).endswith("+dirty") else "")
        rows.append((card["name"], f"{card.get('kind')} {card.get('role')}", f"{size:.1f} MB", card.get("data", {}).get("summary", "-"),
                     card.get("training", {}).get("config", "-"), commit, metrics or "-"))
    widths = [max(len(str(row[k])) for row in rows) for k in range(len(header) - 1)]
    return "\n".join("  ".join(str(v).ljust(w) for v, w in zip(row, widths)) + "  " + str(row[-1]) for row in rows)


def read_builtin(name: str, kind: str | None, role: str, device="cpu", assets: Path | None = None) -> tuple[dict, Path]:
    """The verified payload of model ``name`` and its file; a model of another kind or role is a :class:`DataError`."""
    from mvaug.io.payload_file import read_payload_file

    card = read_card(name, assets)
    if card.get("role") != role or (kind is not None and card.get("kind") != kind):
        wanted = f"{kind} {role}" if kind else role
        raise DataError(f"the built-in model '{name}' is a {card.get('kind')} {card.get('role')}, not a {wanted}", card_path(name, assets))
    path = model_file(name, "weights", assets)
    return read_payload_file(path, device), path


@dataclass(frozen=True)
class BuiltinModel:
    """A built-in model wanted as a ``kind`` ``role`` (``kind`` None: any kind); its files are verified when read."""

    name: str
    kind: str | None
    role: str

    def read(self, device="cpu") -> tuple[dict, Path]:
        """The verified payload and its weights file (:func:`read_builtin`)."""
        return read_builtin(self.name, self.kind, self.role, device)

    def file(self, part: str) -> Path:
        """The verified file ``part`` ('weights' or 'bank')."""
        return model_file(self.name, part)


def resolve_model(ref, kind: str | None, role: str) -> BuiltinModel | Path:
    """What a model reference names: ``builtin:NAME`` that built-in model, None the default built-in of ``kind`` and
    ``role`` (:data:`DEFAULT_NAMES`), anything else a path (a run folder or checkpoint) for the caller to read."""
    if ref is None:
        return BuiltinModel(DEFAULT_NAMES[(kind, role)], kind, role)
    name = builtin_name(ref)
    return Path(ref) if name is None else BuiltinModel(name, kind, role)
