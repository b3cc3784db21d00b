"""The built-in models as the objects the rest of mvaug uses (checksums verified on every load).

:func:`load_disentangler` gives a :class:`~mvaug.disentangle.trained.TrainedDisentangler`,
:func:`load_bank` a :class:`~mvaug.multiview.bank.ContentBank`, :func:`load_reconstructor` the
:class:`~mvaug.recon.checkpoint.LoadedReconstructor` behind :class:`~mvaug.recon.reconstruct.Reconstructor`,
and :func:`load_face_reconstructor` a :class:`~mvaug.recon.face_reconstruct.FaceReconstructor`:
the same objects a run folder gives, with weights read from fp16 storage as float32.
"""

from __future__ import annotations

from pathlib import Path

import torch

from mvaug.io.assets import model_file, read_builtin


def load_disentangler(name: str, device: torch.device | str = "cpu", assets: Path | None = None):
    from mvaug.disentangle.trained import TrainedDisentangler

    payload, path = read_builtin(name, None, "disentangler", device, assets)
    return TrainedDisentangler.from_payload(payload, path, device)


def load_bank(name: str, assets: Path | None = None):
    from mvaug.multiview.bank import ContentBank

    return ContentBank.load(model_file(name, "bank", assets))


def load_reconstructor(name: str, device: torch.device | str = "cpu", kind: str = "chair", assets: Path | None = None):
    from mvaug.recon.checkpoint import reconstructor_from_payload

    payload, path = read_builtin(name, kind, "reconstructor", device, assets)
    return reconstructor_from_payload(payload, path, device, kind)


def load_face_reconstructor(name: str, device: torch.device | str = "cpu", assets: Path | None = None):
    from mvaug.recon.face_reconstruct import FaceReconstructor

    payload, path = read_builtin(name, "face", "reconstructor", device, assets)
    return FaceReconstructor.from_payload(payload, path, torch.device(device))
