"""Shared fixtures. The real ShapeNet samples are read in place from ../shared/realdata."""

from __future__ import annotations

import contextlib
import functools
import os
import zlib
from pathlib import Path

# numpy's OpenBLAS starts a thread per core in every process; on 2 shared cores they spin against each other
# (a 640k x 3 by 3 x 3 product took 0.18 s instead of 0.02 s). Set before numpy loads; subprocesses inherit it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Inference precision is 'auto' for users: bf16 on CPUs with AMX or AVX-512 BF16, fp32 elsewhere. The checks
# against fp32 references (a network's own forward pass, the exported weights) must hold on both kinds of CPU,
# so the suite pins fp32; tests/cli/test_precision_cli.py and the parity tests set bf16 where they mean it.
os.environ.setdefault("MVAUG_PRECISION", "fp32")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("MVAUG_REALDATA", REPO.parent / "shared" / "realdata" / "shapenet-sample"))


@contextlib.contextmanager
def single_thread():
    """Two shared cores: one torch thread is faster than two spinning against other processes."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def torch_threads_started(threads: int = 2):
    """Run the body in a process whose torch thread pool already runs (as after any earlier torch work)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        x = torch.randn(512, 512)
        for _ in range(8):
            x = torch.tanh(x @ x)
        yield
    finally:
        torch.set_num_threads(before)


@functools.lru_cache(maxsize=8)
def png_bytes(width: int, height: int, pixels: bytes | None = None) -> bytes:
    """A grey 8-bit PNG of any size built by hand (tiny on disk when ``pixels`` is None: one zlib stream of zeros).
    Cached: the 20000 x 20000 one takes about 3 s to compress and several tests write it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    if pixels is None:
        compressor = zlib.compressobj(9)
        row = bytes(width + 1)
        body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    else:
        body = zlib.compress(pixels)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


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


# A tiny trained disentangler on a tiny dense synthetic chair set, shared by the multi-view and evaluation tests.
TINY_RUN = {
    "model": {"image_size": 32, "style_dim": 16, "content_dim": 8, "channels": [32, 32, 16, 8]},
    "loss": {"recon": "l1", "w_id": 0.0},
    "train": {"steps": 4, "batch_size": 16, "encoder_steps": 3, "checkpoint_every": 4, "sample_every": 4, "log_every": 2},
}


@pytest.fixture(scope="session")
def dense_chairs(tmp_path_factory) -> Path:
    """4 chairs on the dense grid (62 views, 32 px): 2 train, 2 test."""
    from mvaug.data.synth.writer import SynthChairsConfig, synthesize_chairs

    root = tmp_path_factory.mktemp("dense") / "chairs"
    synthesize_chairs(root, SynthChairsConfig(models=4, dense=True, size=32, seed=5, split=(0.5, 0.0, 0.5)), progress=False)
    return root


@pytest.fixture(scope="session")
def tiny_run(dense_chairs, tmp_path_factory) -> Path:
    """A tiny disentangler trained on ``dense_chairs``, with its content bank (RUN/bank.npz)."""
    import torch
    import yaml

    from mvaug.disentangle.run import run_training
    from mvaug.engine.loop import TrainRequest
    from mvaug.multiview.pipeline import build_bank

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("run")
    config = folder / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY_RUN))
    run_training(TrainRequest(dense_chairs, folder / "run", config, device="cpu", progress=False))
    build_bank(folder / "run", data=dense_chairs, device="cpu", progress=False)  # RUN/bank.npz
    return folder / "run"
