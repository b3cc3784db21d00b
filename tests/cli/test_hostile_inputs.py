"""Every command that reads a file, given every kind of bad file in that file's place.

Each case must exit with status 2 and print one line that names the bad file, without a traceback,
without running code hidden in a pickle, and without leaving anything new behind (no half-written
output). A case is one (entry point, kind of bad file); the entry points are the ``ENTRIES`` table,
the kinds the ``KINDS`` table, and each entry lists the kinds that make sense for the file it reads.
"""

from __future__ import annotations

import io
import os
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from mvaug.cli.main import cli
from tests.conftest import (
    REAL_MODELS,
    REPO,
    link_sample,
    png_bytes,
    rendering_dir,
    single_thread,
)

BENCH = "02828884"


# ----------------------------------------------------------------------------- the bad files


class RunsCode:
    """Unpickling this touches ``marker``: the stand-in for a pickle that runs an attacker's code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _npy_header(shape: tuple[int, ...]) -> bytes:
    """The header of a float32 .npy file of ``shape`` (the data that should follow is left out)."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f4", "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def _torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


@dataclass(frozen=True)
class Family:
    """What a slot holds: a good file of that kind (bytes) and family-specific bad files."""

    suffix: str
    good: Callable[["Goods"], bytes]
    other_kind: Callable[["Goods"], bytes] | None = None  # a valid file of another kind
    huge: Callable[["Goods"], bytes] | None = None  # huge or tiny dimensions
    nonfinite: Callable[["Goods"], bytes] | None = None  # NaN or inf values


@dataclass
class Goods:
    """Valid files that cases start from."""

    image: Path
    binvox: Path
    mesh: Path
    run: Path
    bank: Path
    config: Path
    metadata: Path
    recon_config: Path
    dense: Path  # the tiny run's dense chairs
    shapenet: Path  # the real ShapeNet sample
    recon_data: Path  # chairs with train, val and test splits


def _bank_with(goods: Goods, codes: np.ndarray) -> bytes:
    with np.load(goods.bank, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["codes"] = codes.astype(np.float32)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _bank_codes(goods: Goods) -> np.ndarray:
    with np.load(goods.bank, allow_pickle=False) as data:
        return data["codes"]


def _obj(vertices: str) -> bytes:
    return (vertices + "f 1 2 3\nf 1 3 4\nf 1 4 2\nf 2 4 3\n").encode()


def _with_nan_weights(goods: Goods) -> bytes:
    payload = torch.load(goods.run / "model.pt", weights_only=True)
    payload["generator"] = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in payload["generator"].items()}
    return _torch_bytes(payload)


def _safetensors(tensors: dict[str, torch.Tensor]) -> bytes:
    from safetensors.torch import save

    return save(tensors)


IMAGE = Family(
    ".png",
    good=lambda g: g.image.read_bytes(),
    other_kind=lambda g: g.binvox.read_bytes(),
    huge=lambda g: png_bytes(20000, 20000),
)
IMAGE_BELOW_BOMB_LIMIT = Family(".png", good=lambda g: g.image.read_bytes(), huge=lambda g: png_bytes(12000, 12000))
TINY_IMAGE = Family(".png", good=lambda g: g.image.read_bytes(), huge=lambda g: png_bytes(1, 1, bytes([0, 128])))
CHECKPOINT = Family(
    ".pth",
    good=lambda g: (g.run / "model.pt").read_bytes(),
    other_kind=lambda g: (g.run / "model.pt").read_bytes(),  # a disentangler where a reconstructor goes
    nonfinite=lambda g: _torch_bytes({"encoder_state_dict": {"x": torch.full((2,), float("nan"))}}),
)
SAFETENSORS = Family(
    ".safetensors",
    good=lambda g: _safetensors({"w": torch.zeros(2)}),
    other_kind=lambda g: _safetensors({"conv.weight": torch.zeros(4, 3, 3, 3)}),
    huge=lambda g: (2**40).to_bytes(8, "little") + b"{}",
)
RUN_MODEL = Family(
    ".pt",
    good=lambda g: (g.run / "model.pt").read_bytes(),
    other_kind=lambda g: _torch_bytes({"format": "mvaug-recon-v1", "kind": "chair", "encoder_state_dict": {}}),
    nonfinite=_with_nan_weights,
)
BANK = Family(
    ".npz",
    good=lambda g: g.bank.read_bytes(),
    other_kind=lambda g: _bank_with(g, np.zeros((3, _bank_codes(g).shape[1] + 5))),
    nonfinite=lambda g: _bank_with(g, np.full(_bank_codes(g).shape, np.nan)),
)
BINVOX = Family(
    ".binvox",
    good=lambda g: g.binvox.read_bytes(),
    other_kind=lambda g: g.image.read_bytes(),
    huge=lambda g: b"#binvox 1\ndim 100000 100000 100000\ntranslate 0 0 0\nscale 1\ndata\n\x00\xff",
)
NPY = Family(
    ".npy",
    good=lambda g: _npy(np.zeros((32, 32, 32), np.float32)),
    other_kind=lambda g: _npy(np.zeros((5, 7), np.float32)),
    huge=lambda g: _npy_header((100000, 100000, 100000)) + bytes(64),
    nonfinite=lambda g: _npy(np.full((32, 32, 32), np.nan, np.float32)),
)
MESH = Family(
    ".obj",
    good=lambda g: g.mesh.read_bytes(),
    other_kind=lambda g: g.image.read_bytes(),
    nonfinite=lambda g: _obj("v nan 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 inf\n"),
)
CONFIG = Family(
    ".yaml",
    good=lambda g: g.config.read_bytes(),
    other_kind=lambda g: g.recon_config.read_bytes(),
    nonfinite=lambda g: b"optim:\n  lr_networks: .nan\n",
)
RECON_CONFIG = Family(
    ".yaml",
    good=lambda g: g.recon_config.read_bytes(),
    other_kind=lambda g: g.config.read_bytes(),
    nonfinite=lambda g: b"optim:\n  lr: .inf\n",
)
METADATA = Family(
    ".txt",
    good=lambda g: g.metadata.read_bytes(),
    other_kind=lambda g: b"1 2\n",
    nonfinite=lambda g: b"nan" + g.metadata.read_bytes().split(b" ", 1)[1],  # the first view's azimuth
)
CARD = Family(".json", good=lambda g: b"{}", other_kind=lambda g: b'{"name": "face-mvfnet", "files": []}', nonfinite=lambda g: b'{"name": NaN}')


def _make(kind: str, family: Family, goods: Goods, slot: Path, marker: Path) -> bool:
    """Put the bad file of ``kind`` at ``slot``; False when the kind does not apply to the family."""
    good = family.good(goods)
    makers: dict[str, Callable[[], bytes | None]] = {
        "empty": lambda: b"",
        "truncated": lambda: good[: max(len(good) // 2, 1)],
        "random": lambda: np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "wrong-format": lambda: b"just some text, not the file you are looking for\n" * 20,
        "other-kind": lambda: family.other_kind(goods) if family.other_kind else None,
        "extreme-size": lambda: family.huge(goods) if family.huge else None,
        "nonfinite": lambda: family.nonfinite(goods) if family.nonfinite else None,
        "code-pickle": lambda: _torch_bytes({"format": "x", "payload": RunsCode(marker)}),
        "code-pickle-raw": lambda: pickle.dumps(RunsCode(marker)),
    }
    if slot.exists() or slot.is_symlink():
        slot.unlink() if not slot.is_dir() or slot.is_symlink() else shutil.rmtree(slot)
    slot.parent.mkdir(parents=True, exist_ok=True)
    if kind == "directory":
        slot.mkdir()
        (slot / "inside.txt").write_text("a folder where a file goes")
        return True
    if kind == "symlink-loop":
        os.symlink(slot.name, slot)  # points at itself
        return True
    data = makers[kind]()
    if data is None:
        return False
    slot.write_bytes(data)
    return True


GENERIC = ("empty", "truncated", "random", "wrong-format", "directory", "symlink-loop", "code-pickle", "code-pickle-raw")
SPECIFIC = {"other-kind": "other_kind", "extreme-size": "huge", "nonfinite": "nonfinite"}


# ----------------------------------------------------------------------------- the entry points


@dataclass(frozen=True)
class Entry:
    """A command with one file slot: ``args(slot, goods, out)`` gives its arguments."""

    name: str
    family: Family
    args: Callable[[Path, Goods, Path], list]
    slot: Callable[[Path, Goods], Path] | None = None  # where the file goes [work/input<suffix>]
    prepare: Callable[[Path, Goods], None] = lambda work, goods: None
    kinds: tuple[str, ...] | None = None  # only these kinds (default: every kind that applies to the family)
    valid: tuple[str, ...] = ()  # kinds that are valid input here (a folder of predictions, an empty YAML = defaults)


def _run_copy(work: Path, goods: Goods) -> None:
    shutil.copytree(goods.run, work / "run", ignore=shutil.ignore_patterns("samples", "tensorboard"))


def _image_folder(work: Path, goods: Goods) -> None:
    for i in range(3):
        (work / "images").mkdir(exist_ok=True)
        shutil.copy(goods.image, work / "images" / f"good{i}.png")


def _shapenet(work: Path, goods: Goods) -> None:
    link_sample(goods.shapenet, work / "data")


def _recon_data(work: Path, goods: Goods) -> None:
    """A copy of the reconstructor's chairs whose files are symlinks, so one of them can be replaced."""
    for src in goods.recon_data.rglob("*"):
        if src.is_file():
            target = work / "data" / src.relative_to(goods.recon_data)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(src)


def _check_args(slot, goods, out):
    return ["data", "check", out.parent / "data", "--deep"]


FOLDER_OK = ("directory",)  # PRED may be a folder of predictions
YAML_OK = ("empty", "truncated")  # an empty YAML means the defaults; a YAML cut at a line end is a shorter config

ENTRIES = [
    Entry("reconstruct", IMAGE, lambda s, g, o: ["reconstruct", s, "--out", o / "chair", "--device", "cpu"]),
    Entry("reconstruct 12000px", IMAGE_BELOW_BOMB_LIMIT, lambda s, g, o: ["reconstruct", s, "--out", o / "chair", "--device", "cpu"], kinds=("extreme-size",)),
    Entry("reconstruct --recon .pth", CHECKPOINT, lambda s, g, o: ["reconstruct", g.image, "--recon", s, "--out", o / "chair", "--device", "cpu"]),
    Entry("reconstruct --recon .safetensors", SAFETENSORS, lambda s, g, o: ["reconstruct", g.image, "--recon", s, "--out", o / "chair", "--device", "cpu"]),
    Entry("reconstruct --kind face", IMAGE, lambda s, g, o: ["reconstruct", s, "--kind", "face", "--out", o / "face", "--device", "cpu"]),
    Entry("reconstruct --kind face 1px", TINY_IMAGE, lambda s, g, o: ["reconstruct", s, "--kind", "face", "--out", o / "face", "--device", "cpu"], kinds=("extreme-size",)),
    Entry("reconstruct --kind face --recon", CHECKPOINT, lambda s, g, o: ["reconstruct", g.image, "--kind", "face", "--recon", s, "--out", o / "face", "--device", "cpu"]),
    Entry(
        "reconstruct --generate --run",
        RUN_MODEL,
        lambda s, g, o: ["reconstruct", g.image, "--generate", "2", "--run", s.parent, "--out", o / "chair", "--device", "cpu"],
        slot=lambda w, g: w / "run" / "model.pt",
        prepare=_run_copy,
    ),
    Entry("generate", IMAGE, lambda s, g, o: ["generate", s, "--run", g.run, "--out", o / "views", "--device", "cpu", "--quiet"]),
    Entry(
        "generate --run",
        RUN_MODEL,
        lambda s, g, o: ["generate", g.image, "--run", s.parent, "--out", o / "views", "--device", "cpu", "--quiet"],
        slot=lambda w, g: w / "run" / "model.pt",
        prepare=_run_copy,
    ),
    Entry(
        "bank build",
        RUN_MODEL,
        lambda s, g, o: ["bank", "build", s.parent, "--exemplar", f"az000_el00={g.image}", "--out", o / "bank.npz", "--device", "cpu"],
        slot=lambda w, g: w / "run" / "model.pt",
        prepare=_run_copy,
    ),
    Entry("bank build --exemplar", IMAGE, lambda s, g, o: ["bank", "build", g.run, "--exemplar", f"az000_el00={s}", "--out", o / "bank.npz", "--device", "cpu"]),
    Entry("bank show", BANK, lambda s, g, o: ["bank", "show", s, "--run", g.run, "-o", o / "sheet.png", "--device", "cpu"]),
    Entry("voxels iou PRED", BINVOX, lambda s, g, o: ["voxels", "iou", s, g.binvox], valid=FOLDER_OK),
    Entry("voxels iou GT", BINVOX, lambda s, g, o: ["voxels", "iou", g.binvox, s]),
    Entry("voxels iou .npy", NPY, lambda s, g, o: ["voxels", "iou", s, g.binvox], valid=FOLDER_OK),
    Entry("voxels mesh", BINVOX, lambda s, g, o: ["voxels", "mesh", s, o / "mesh.obj"]),
    Entry("voxels mesh .npy", NPY, lambda s, g, o: ["voxels", "mesh", s, o / "mesh.obj"]),
    Entry("voxels show", BINVOX, lambda s, g, o: ["voxels", "show", s, "-o", o / "show.png"]),
    Entry("voxels show mesh", MESH, lambda s, g, o: ["voxels", "show", s, "-o", o / "show.png"]),
    Entry("mesh compare", MESH, lambda s, g, o: ["mesh", "compare", s, g.mesh]),
    Entry("evaluate voxels", BINVOX, lambda s, g, o: ["evaluate", "voxels", s, g.binvox], valid=FOLDER_OK),
    Entry(
        "evaluate --recon",
        CHECKPOINT,
        lambda s, g, o: ["evaluate", "--data", g.dense, "--recon", s, "--run", g.run, "--out", o / "report", "--views", "1", "--device", "cpu"],
    ),
    Entry(
        "evaluate --recon .safetensors",
        SAFETENSORS,
        lambda s, g, o: ["evaluate", "--data", g.dense, "--recon", s, "--run", g.run, "--out", o / "report", "--views", "1", "--device", "cpu"],
    ),
    Entry(
        "evaluate --run",
        RUN_MODEL,
        lambda s, g, o: ["evaluate", "--data", g.dense, "--recon", "builtin:chair-pix2vox", "--run", s.parent, "--out", o / "report", "--views", "1", "--device", "cpu"],
        slot=lambda w, g: w / "run" / "model.pt",
        prepare=_run_copy,
    ),
    Entry("data check --deep image", IMAGE, _check_args, slot=lambda w, g: rendering_dir(w / "data", BENCH) / "00.png", prepare=_shapenet),
    Entry(
        "data check --deep binvox",
        BINVOX,
        _check_args,
        slot=lambda w, g: w / "data" / "ShapeNetVox32" / BENCH / REAL_MODELS[BENCH] / "model.binvox",
        prepare=_shapenet,
    ),
    Entry(
        "data check --deep metadata",
        METADATA,
        _check_args,
        slot=lambda w, g: rendering_dir(w / "data", BENCH) / "rendering_metadata.txt",
        prepare=_shapenet,
    ),
    Entry(
        "train --config",
        CONFIG,
        lambda s, g, o: ["train", "--config", s, "--data", g.dense, "--out", o / "run", "--max-steps", "1", "--device", "cpu", "--quiet"],
        valid=YAML_OK,
    ),
    Entry(
        "train --data",
        IMAGE,
        lambda s, g, o: ["train", "--config", g.config, "--data", s.parent, "--out", o / "run", "--max-steps", "1", "--device", "cpu", "--quiet"],
        slot=lambda w, g: w / "images" / "bad.png",
        prepare=_image_folder,
    ),
    Entry(
        "train --resume",
        RUN_MODEL,
        lambda s, g, o: ["train", "--data", g.dense, "--out", s.parents[1], "--resume", "--max-steps", "1", "--device", "cpu", "--quiet"],
        slot=lambda w, g: w / "run" / "checkpoints" / "step-000000009.pt",
        prepare=_run_copy,
    ),
    Entry(
        "train-recon --config",
        RECON_CONFIG,
        lambda s, g, o: ["train-recon", "--config", s, "--data", g.recon_data, "--out", o / "recon", "--max-steps", "1", "--device", "cpu", "--quiet"],
        valid=YAML_OK,
    ),
    Entry(
        "train-recon --data",
        BINVOX,
        lambda s, g, o: ["train-recon", "--config", g.recon_config, "--data", o.parent / "data", "--out", o / "recon", "--max-steps", "1", "--device", "cpu", "--quiet"],
        slot=lambda w, g: next((w / "data" / "ShapeNetVox32").rglob("model.binvox")),
        prepare=_recon_data,
    ),
    Entry("models verify", CARD, lambda s, g, o: ["models", "verify", "chair-pix2vox"], slot=lambda w, g: w / "assets" / "chair-pix2vox.json"),
    Entry("models verify weights", SAFETENSORS, lambda s, g, o: ["models", "verify", "chair-pix2vox"], slot=lambda w, g: w / "assets" / "chair-pix2vox.safetensors"),
]

CASES = [
    pytest.param(entry, kind, id=f"{entry.name}|{kind}")
    for entry in ENTRIES
    for kind in (*GENERIC, *SPECIFIC)
    if (kind in GENERIC or getattr(entry.family, SPECIFIC[kind]) is not None)
    and (entry.kinds is None or kind in entry.kinds)
    and kind not in entry.valid
]


@pytest.fixture(scope="module")
def goods(tiny_run, dense_chairs, realdata, tmp_path_factory) -> Goods:
    import trimesh
    import yaml

    from mvaug.data.synth.writer import SynthChairsConfig, synthesize_chairs
    from tests.conftest import TINY_RUN

    root = tmp_path_factory.mktemp("goods")
    synthesize_chairs(root / "recon", SynthChairsConfig(models=4, views=2, size=32, seed=3, split=(0.5, 0.25, 0.25)), progress=False)
    trimesh.creation.box().export(root / "box.obj")
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump({**TINY_RUN, "model": {**TINY_RUN["model"], "image_size": 32}}))
    return Goods(
        image=rendering_dir(realdata, BENCH) / "00.png",
        binvox=realdata / "ShapeNetVox32" / BENCH / REAL_MODELS[BENCH] / "model.binvox",
        mesh=root / "box.obj",
        run=tiny_run,
        bank=tiny_run / "bank.npz",
        config=config,
        metadata=rendering_dir(realdata, BENCH) / "rendering_metadata.txt",
        recon_config=REPO / "configs" / "pix2vox-quick.yaml",
        dense=dense_chairs,
        shapenet=realdata,
        recon_data=root / "recon",
    )


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")} if root.exists() else set()


@pytest.mark.parametrize("entry,kind", CASES)
def test_a_bad_file_gives_one_line_naming_it(entry: Entry, kind: str, goods: Goods, tmp_path: Path, monkeypatch) -> None:
    work, out, marker = tmp_path / "work", tmp_path / "work" / "out", tmp_path / "ran-code"
    work.mkdir()
    entry.prepare(work, goods)
    slot = entry.slot(work, goods) if entry.slot else work / f"input{entry.family.suffix}"
    if entry.name.startswith("models verify"):
        from mvaug.io.assets import ASSETS_ENV, assets_dir

        shutil.copytree(assets_dir(), work / "assets", ignore=lambda d, names: [n for n in names if not n.startswith("chair-pix2vox")])
        monkeypatch.setenv(ASSETS_ENV, str(work / "assets"))
    assert _make(kind, entry.family, goods, slot, marker)
    before = _tree(work)
    with single_thread():
        result = CliRunner().invoke(cli, [str(a) for a in entry.args(slot, goods, out)])
    assert not marker.exists(), "unpickling ran code"
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("Error: "), (result.exit_code, result.output, result.exc_info)
    assert f"{slot.parent.name}/{slot.name}" in lines[0], lines[0]
    assert _tree(work) == before, "output left behind"
