"""Export finished runs into the assets folder as built-in models (weights, card, bank), atomically.

Each export writes ``NAME.safetensors`` (fp16 storage, :mod:`mvaug.io.payload_file`), loads it
back through :mod:`mvaug.builtin.load` (so a file that would not load is never shipped) and then
writes ``NAME.json``. ``card_extra`` adds or replaces card fields: ``data`` (generator command, seed,
sizes, ``summary``), ``training`` (``config`` file, ``command``, ``wall_time_s``), ``metrics``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import torch

from mvaug.io.assets import BANK_SUFFIX, WEIGHTS_SUFFIX, assets_dir, file_record, write_card
from mvaug.io.payload_file import FILE_FORMAT, write_payload_file
from mvaug.errors import DataError

TRAINING_STATE = ("optimizer", "scheduler", "rng")
"""Payload keys of step checkpoints that inference never reads."""
EMBEDDINGS = ("style_embeddings", "content_embeddings")


def export_disentangler(run_dir: str | os.PathLike, name: str, kind: str, card_extra: dict | None = None, assets: Path | None = None,
                        bank: str | os.PathLike | None = None, keep_embeddings: bool = False) -> dict:
    """Ship the disentangler ``RUN/model.pt`` of ``kind`` objects ('chair', 'face') and its content bank
    (``bank``, default ``RUN/bank.npz``); returns the card.

    The learned per-image codes (``keep_embeddings``) are left out by default: inference uses the
    encoders and the bank, and the codes of 1000-2500 training images would add 1-2 MB per model.
    The bank is re-tied to the shipped (fp16-rounded) generator's fingerprint.
    """
    from mvaug.builtin.load import load_disentangler
    from mvaug.disentangle.trained import TrainedDisentangler
    from mvaug.disentangle.trainer import load_run_checkpoint
    from mvaug.engine.run_folder import RunPaths
    from mvaug.multiview.bank import ContentBank
    from mvaug.multiview.synthesizer import DEFAULT_BANK_NAME

    run_dir = Path(run_dir)
    original = TrainedDisentangler.from_run(run_dir)  # checks the run is finished
    bank_path = Path(bank) if bank is not None else run_dir / DEFAULT_BANK_NAME
    content_bank = ContentBank.load(bank_path)
    content_bank.check_run(original.fingerprint, run_dir, bank_path)
    payload = load_run_checkpoint(RunPaths(run_dir).model, "cpu")
    folder = assets or assets_dir()
    weights = folder / f"{name}{WEIGHTS_SUFFIX}"
    counts = write_payload_file(weights, payload, TRAINING_STATE + (() if keep_embeddings else EMBEDDINGS))
    content_bank.run, content_bank.run_fingerprint = f"builtin:{name}", _shipped_fingerprint(weights)
    content_bank.notes = {**content_bank.notes, "built_from": run_dir.resolve().name}  # no folder of the training machine
    bank_file = folder / f"{name}{BANK_SUFFIX}"
    content_bank.save(bank_file)
    card = _card(name, kind, "disentangler", "content/style disentangler (generator, style and content encoders)",
                 f"synthesises missing views of a {kind} from one image (mvaug reconstruct --generate, --kind face)",
                 payload, weights, counts, run_dir, card_extra)
    card["files"]["bank"] = {**file_record(bank_file), "views": len(content_bank.entries)}
    card["bank"] = {"views": [e.view.name for e in content_bank.entries], "content_norm": content_bank.content_norm}
    write_card(card, folder)
    load_disentangler(name, "cpu", folder)
    return card


def export_pix2vox(checkpoint: str | os.PathLike, name: str, card_extra: dict | None = None, assets: Path | None = None) -> dict:
    """Ship a Pix2Vox checkpoint (or run folder) of ``mvaug train-recon``; returns the card."""
    from mvaug.builtin.load import load_reconstructor
    from mvaug.recon.checkpoint import CHECKPOINT_FORMAT, find_checkpoint, read_payload

    file = find_checkpoint(checkpoint)
    payload = read_payload(file, "cpu")
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise DataError(f"not an {CHECKPOINT_FORMAT} checkpoint of mvaug train-recon", file)
    folder = assets or assets_dir()
    weights = folder / f"{name}{WEIGHTS_SUFFIX}"
    shipped = {**payload, "config": _training_paths_as_names(payload["config"], ("synth", "run"), ("synth", "bank"))}
    counts = write_payload_file(weights, shipped, TRAINING_STATE)
    variant = payload["config"]["model"]["variant"]
    card = _card(name, payload["kind"], "reconstructor", f"Pix2Vox-{variant}", f"voxel grid (32^3) of a {payload['kind']} from one or more images (mvaug reconstruct)",
                 payload, weights, counts, file, card_extra)
    write_card(card, folder)
    load_reconstructor(name, "cpu", payload["kind"], folder)
    return card


def export_mvfnet(checkpoint: str | os.PathLike, name: str, card_extra: dict | None = None, assets: Path | None = None) -> dict:
    """Ship an MVF-Net checkpoint (or run folder) of ``mvaug train-recon --kind face`` with its morphable model; returns the card."""
    from mvaug.builtin.load import load_face_reconstructor
    from mvaug.recon.face_reconstruct import find_face_checkpoint, read_face_payload

    file = find_face_checkpoint(checkpoint)
    payload = read_face_payload(file, "cpu")
    if payload.get("config"):
        payload["config"] = _training_paths_as_names(payload["config"], ("data", "root"))
    folder = assets or assets_dir()
    weights = folder / f"{name}{WEIGHTS_SUFFIX}"
    counts = write_payload_file(weights, payload, TRAINING_STATE)
    card = _card(name, "face", "reconstructor", "MVF-Net with its morphable model", "3D face mesh from front, left and right views (mvaug reconstruct --kind face)",
                 payload, weights, counts, file, card_extra)
    write_card(card, folder)
    load_face_reconstructor(name, "cpu", folder)
    return card


def git_commit(repo: Path | None = None) -> str | None:
    """HEAD of the source checkout (with ``+dirty`` when tracked files other than the shipped models are
    modified: an export rewrites those), None outside one."""
    repo = repo or Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)mvaug/assets"],
                               cwd=repo, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def _training_paths_as_names(config: dict, *keys: tuple[str, str]) -> dict:
    """``config`` with the training-only paths at ``(section, key)`` (folders of the training machine: the data, the
    disentangler run that generated views) reduced to the folder's name; ``builtin:`` references stay."""
    out = {section: dict(values) if isinstance(values, dict) else values for section, values in config.items()}
    for section, key in keys:
        value = (out.get(section) or {}).get(key)
        if isinstance(value, str) and value and not value.startswith("builtin:"):
            out[section][key] = Path(value).name
    return out


def _shipped_fingerprint(weights: Path) -> str:
    """The fingerprint of the generator as it is read back from fp16 storage."""
    from mvaug.io.payload_file import read_payload_file
    from mvaug.disentangle.trained import _fingerprint

    return _fingerprint(read_payload_file(weights)["generator"])


def _card(name: str, kind: str, role: str, model: str, purpose: str, payload: dict, weights: Path, counts: dict[str, int],
          source: Path, card_extra: dict | None) -> dict:
    stored = ", ".join(f"{n} {dtype}" for dtype, n in sorted(counts.items()))
    card = {
        "name": name,
        "kind": kind,
        "role": role,
        "model": model,
        "purpose": purpose,
        "format": FILE_FORMAT,
        "source_format": payload.get("format"),
        "files": {"weights": file_record(weights)},
        "dtype": f"floating tensors stored as float16 and read back as float32; integer tensors kept ({stored} values)",
        "parameters": sum(counts.values()),
        "config": payload.get("config"),
        "exported_from": str(source.resolve()),
        "git_commit": git_commit(),
        "torch": torch.__version__,
        "data": {},
        "training": {},
        "metrics": {},
    }
    card.update(card_extra or {})
    return card
