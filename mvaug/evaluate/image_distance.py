"""Per-image distances between generated and real images, for the content-transfer metric.

The paper (Section 4.1, Appendix A.1) scores content transfer with LPIPS. LPIPS needs an
ImageNet backbone; torchvision would download it, which mvaug never does. So the backbone comes
from disk (torch's hub cache, or a path given explicitly) and the linear layers from the file
that ships inside the ``lpips`` package. Without backbone weights, :func:`default_distance` falls
back to 1 - SSIM, and the distance's ``name`` says which one was used, so tables never mix them
up silently.

Every distance takes two float batches (B, 3, H, W) in [0, 1] and returns (B,) float64 on the
CPU; lower means more similar.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
import torch

from mvaug.errors import DataError
from mvaug.io.checkpoint import read_torch_file

# The files torchvision's ImageNet weights are cached as (``torch.hub.get_dir()/checkpoints``).
BACKBONE_FILES: dict[str, str] = {"alex": "alexnet-owt-7be5be79.pth", "vgg": "vgg16-397923af.pth"}
SSIM_NAME = "1-SSIM (scikit-image)"
L1_NAME = "L1"


class ImageDistance(Protocol):
    """``distance(x, y)``: x, y float (B, 3, H, W) in [0, 1] -> (B,) float64 CPU; ``name`` for reports."""

    name: str

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class NamedDistance:
    """An :class:`ImageDistance` made of a name and a function of two checked batches."""

    name: str
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        _check_batches(x, y)
        return self.fn(x, y).detach().to("cpu", torch.float64).reshape(x.shape[0])


def _check_batches(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.ndim != 4 or x.shape[1] != 3 or tuple(x.shape) != tuple(y.shape):
        raise ValueError(f"expected two image batches of the same shape (B, 3, H, W), got {tuple(x.shape)} and {tuple(y.shape)}")
    if not (x.is_floating_point() and y.is_floating_point()):
        raise ValueError(f"expected float images in [0, 1], got {x.dtype} and {y.dtype}")


def l1_distance() -> NamedDistance:
    """Mean absolute difference over channels and pixels of each image pair."""
    return NamedDistance(L1_NAME, lambda x, y: (x - y.to(x.device)).abs().flatten(1).mean(1))


def ssim_distance() -> NamedDistance:
    """1 - SSIM per image pair (scikit-image ``structural_similarity``, data_range 1, channels on axis 0).

    scikit-image's default 7 x 7 window needs images of at least 7 x 7 pixels.
    """
    from skimage.metrics import structural_similarity

    def one_minus_ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        a = x.detach().cpu().double().numpy()
        b = y.detach().cpu().double().numpy()
        scores = [structural_similarity(p, q, channel_axis=0, data_range=1.0) for p, q in zip(a, b)]
        return torch.from_numpy(1.0 - np.asarray(scores, dtype=np.float64))

    return NamedDistance(SSIM_NAME, one_minus_ssim)


def find_backbone_weights(weights: str | os.PathLike | None = None, net: str = "alex") -> Path | None:
    """The torchvision ImageNet checkpoint for LPIPS's ``net``, or None when it is not on disk.

    ``weights``: the checkpoint file itself, or a folder holding it under torchvision's file name
    (:data:`BACKBONE_FILES`); None looks in torch's hub cache, ``torch.hub.get_dir()/checkpoints``.
    """
    if net not in BACKBONE_FILES:
        raise ValueError(f"unknown LPIPS network {net!r}; choose from {', '.join(BACKBONE_FILES)}")
    path = Path(torch.hub.get_dir()) / "checkpoints" if weights is None else Path(weights)
    if path.is_dir():
        path = path / BACKBONE_FILES[net]
    return path if path.is_file() else None


def lpips_distance(weights: str | os.PathLike | None = None, net: str = "alex") -> NamedDistance:
    """LPIPS v0.1 (Zhang et al. 2018) with every weight read from disk; nothing is downloaded.

    ``weights`` as in :func:`find_backbone_weights`. Raises :class:`DataError` when the backbone
    checkpoint is absent or is not a torchvision ``alexnet``/``vgg16`` state dict. The model runs on
    the device of its first argument.
    """
    path = find_backbone_weights(weights, net)
    if path is None:
        where = Path(torch.hub.get_dir()) / "checkpoints" if weights is None else Path(weights)
        raise DataError(
            f"LPIPS needs torchvision's ImageNet {net} weights ({BACKBONE_FILES[net]}) on disk; mvaug never downloads them."
            " Copy that file here, pass its path, or use the 1-SSIM distance",
            where,
        )
    state = _read_state_dict(path)  # before building LPIPS, so a bad file fails fast
    model = _build_lpips(net)
    _load_backbone(model.net, state, path)
    model.eval()

    def lpips(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        model.to(x.device)
        with torch.no_grad():
            return model(x, y.to(x.device), normalize=True)

    return NamedDistance(f"LPIPS ({net})", lpips)


def _build_lpips(net: str) -> torch.nn.Module:
    """lpips.LPIPS with a random backbone (so torchvision downloads nothing) and the packaged linear layers."""
    import lpips

    with warnings.catch_warnings():  # lpips passes torchvision's deprecated ``pretrained=False``
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(pretrained=False, net=net, pnet_rand=True, verbose=False)
    linear_file = Path(lpips.__file__).parent / "weights" / "v0.1" / f"{net}.pth"
    state = read_torch_file(linear_file, "lpips linear-layer file")
    expected = {f"lin{k}.model.1.weight" for k in range(len(model.chns))}
    if not expected <= set(state):
        raise DataError(f"the lpips package's linear layers lack {sorted(expected - set(state))}", linear_file)
    model.load_state_dict({k: state[k] for k in expected}, strict=False)
    return model


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    state = read_torch_file(path, "backbone checkpoint")
    if not isinstance(state, dict) or not any(str(k).startswith("features.") for k in state):
        raise DataError("not a torchvision backbone state dict (no 'features.*' keys)", path)
    return state


def _load_backbone(trunk: torch.nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    """Copy a torchvision state dict's ``features.<i>.*`` into lpips's ``slice<k>.<i>.*`` (strict)."""
    mapped = {}
    for key in trunk.state_dict():
        source = "features." + key.split(".", 1)[1]  # 'slice2.3.weight' -> 'features.3.weight'
        if source not in state:
            raise DataError(f"not a torchvision backbone state dict: {source!r} is missing", path)
        mapped[key] = state[source]
    try:
        trunk.load_state_dict(mapped, strict=True)
    except RuntimeError as error:
        raise DataError(f"backbone weights do not fit LPIPS's network: {error}", path) from None


def default_distance(weights: str | os.PathLike | None = None) -> NamedDistance:
    """LPIPS (alex) when the lpips package and the alexnet weights are available, else 1 - SSIM.

    The result's ``name`` says which of the two it is.
    """
    if importlib.util.find_spec("lpips") is not None and find_backbone_weights(weights, "alex") is not None:
        return lpips_distance(weights, "alex")
    return ssim_distance()


DISTANCE_CHOICES = ("auto", "ssim", "l1")


def distance_by_name(name: str) -> NamedDistance:
    """'auto' (:func:`default_distance`), 'ssim' or 'l1': the ``--distance`` option of the evaluation commands."""
    choices = {"auto": default_distance, "ssim": ssim_distance, "l1": l1_distance}
    if name not in choices:
        raise ValueError(f"unknown distance {name!r}; choose from {', '.join(DISTANCE_CHOICES)}")
    return choices[name]()
