"""Shared fixtures. The real ShapeNet samples are read in place from ../shared/realdata."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("MVAUG_REALDATA", REPO.parent / "shared" / "realdata" / "shapenet-sample"))
REAL_MODELS = {
    "02691156": "sample-aeroplane",
    "02828884": "sample-bench",
    "02958343": "sample-car",
    "03636649": "sample-lamp",
}


@pytest.fixture(scope="session")
def realdata() -> Path:
    """Root of the real ShapeNet sample (ShapeNetRendering, ShapeNetVox32, ShapeNet.json, predictions)."""
    if not (REALDATA / "ShapeNet.json").is_file():
        pytest.fail(f"real ShapeNet samples not found at {REALDATA}; set MVAUG_REALDATA to their folder")
    return REALDATA
