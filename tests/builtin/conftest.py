"""The tiny default models of ``scripts/train_defaults.py --tiny``, trained once per session into a temporary assets folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.conftest import single_thread


@pytest.fixture(autouse=True)
def one_thread():
    with single_thread():
        yield


@pytest.fixture(scope="session")
def tiny_defaults(tmp_path_factory) -> tuple[Path, Path]:
    """(work folder with the original runs in work/runs/, assets folder with the four exported models)."""
    from mvaug.builtin.defaults import train_defaults

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("defaults")
    train_defaults(root / "work", root / "assets", tiny=True, workers=1, device="cpu", progress=False)
    return root / "work", root / "assets"


@pytest.fixture
def assets(tiny_defaults, tmp_path, monkeypatch) -> Path:
    """A private copy of the tiny assets (tests may damage it), which ``builtin:NAME`` and the defaults resolve to."""
    import shutil

    from mvaug.io.assets import ASSETS_ENV

    copy = tmp_path / "assets"
    shutil.copytree(tiny_defaults[1], copy)
    monkeypatch.setenv(ASSETS_ENV, str(copy))
    return copy
