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


def link_sample(realdata: Path, dest: Path) -> Path:
    """A ShapeNet root in ``dest`` whose files are symlinks to the real sample, so single files can be damaged."""
    for src in realdata.glob("ShapeNet*/**/*"):
        if src.is_file():
            target = dest / src.relative_to(realdata)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(src)
    (dest / "ShapeNet.json").write_text((realdata / "ShapeNet.json").read_text())
    return dest


def replace(path: Path, data: bytes) -> None:
    """Replace a linked file by a real file holding ``data``."""
    path.unlink()
    path.write_bytes(data)


def rendering_dir(root: Path, taxonomy_id: str) -> Path:
    return root / "ShapeNetRendering" / taxonomy_id / REAL_MODELS[taxonomy_id] / "rendering"
