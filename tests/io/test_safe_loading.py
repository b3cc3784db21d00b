"""No file mvaug reads runs code: checkpoints are unpickled weights-only, and every way a file can be
bad (hostile, damaged, foreign, not a file) is one error that names it."""

from __future__ import annotations

import io
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from mvaug.errors import DataError
from mvaug.io.checkpoint import read_torch_file


class RunsCode:
    """Unpickling this touches ``marker``: the stand-in for a pickle that runs an attacker's code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _torch_zip(obj, path: Path) -> None:
    torch.save(obj, path)


def _torch_legacy(obj, path: Path) -> None:
    torch.save(obj, path, _use_new_zipfile_serialization=False)


def _pickle_2(obj, path: Path) -> None:
    path.write_bytes(pickle.dumps(obj, protocol=2))


def _pickle_5(obj, path: Path) -> None:
    path.write_bytes(pickle.dumps(obj, protocol=5))


WRITERS = {"torch.save": _torch_zip, "torch.save-legacy": _torch_legacy, "pickle-2": _pickle_2, "pickle-5": _pickle_5}


def write_hostile(path: Path, writer: str = "torch.save", **payload) -> Path:
    """A file at ``path`` whose unpickling touches ``path.marker``; returns the marker (which must stay absent)."""
    marker = path.with_name(path.name + ".marker")
    path.parent.mkdir(parents=True, exist_ok=True)
    WRITERS[writer]({**payload, "hook": RunsCode(marker)}, path)
    return marker


def assert_one_line_naming(err: Exception, path: Path, *words: str) -> None:
    text = str(err)
    assert str(path) in text and "\n" not in text, text
    for word in words:
        assert word in text, text


# ----------------------------------------------------------------------------- disentangler runs


def _run_folder(root: Path, hostile: str, writer: str) -> tuple[Path, Path]:
    """A run folder whose file ``hostile`` (relative to it) runs code when unpickled."""
    run = root / "run"
    (run / "checkpoints").mkdir(parents=True)
    marker = write_hostile(run / hostile, writer, format="mvaug-disentangle-v1", stage="final")
    return run, marker


@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_hostile_model_pt_is_refused_before_it_runs(tmp_path, writer):
    from mvaug.disentangle.trained import TrainedDisentangler

    run, marker = _run_folder(tmp_path, "model.pt", writer)
    with pytest.raises(DataError) as err:
        TrainedDisentangler.from_run(run)
    assert_one_line_naming(err.value, run / "model.pt")
    assert not marker.exists()


@pytest.mark.parametrize("hostile", ["checkpoints/step-000000001.pt", "checkpoints/encoders-after-000000000-step-000000001.pt"])
def test_hostile_training_checkpoints_are_refused_on_resume(tmp_path, hostile):
    from mvaug.disentangle.trainer import Trainer
    from tests.disentangle.conftest import square_images, tiny_config

    run, marker = _run_folder(tmp_path, hostile, "torch.save")
    trainer = Trainer(tiny_config(), square_images(), run, torch.device("cpu"), progress=False)
    resume = trainer.fit_encoders if "encoders" in hostile else lambda: trainer.start(resume=True)
    with pytest.raises(DataError) as err:
        resume()
    assert_one_line_naming(err.value, run / hostile, "refused", "could run code")
    assert not marker.exists()


def test_generate_on_a_hostile_run_is_one_line_and_runs_nothing(tmp_path):
    from click.testing import CliRunner

    from mvaug.cli.main import cli
    from mvaug.io.images import write_png

    run, marker = _run_folder(tmp_path, "model.pt", "torch.save")
    write_png(tmp_path / "in.png", torch.full((32, 32, 3), 128, dtype=torch.uint8).numpy())
    result = CliRunner().invoke(cli, ["generate", str(tmp_path / "in.png"), "--run", str(run), "--out", str(tmp_path / "out"), "--device", "cpu", "--quiet"])
    assert result.exit_code == 2, result.output
    assert str(run / "model.pt") in result.output and "Traceback" not in result.output
    assert not marker.exists()


def test_a_run_checkpoint_of_the_wrong_stage_says_so(tmp_path):
    from mvaug.disentangle.trainer import load_run_checkpoint

    path = tmp_path / "step-000000001.pt"
    torch.save({"format": "mvaug-disentangle-v1", "stage": 2, "step": 1, "encoders": {}, "optimizer": {}}, path)
    with pytest.raises(DataError) as err:
        load_run_checkpoint(path, stage=1)
    assert_one_line_naming(err.value, path, "stage 2", "stage 1")
    torch.save({"format": "mvaug-disentangle-v1", "stage": 1, "step": 1}, path)
    with pytest.raises(DataError) as err:
        load_run_checkpoint(path)
    assert_one_line_naming(err.value, path, "damaged", "config")


# ----------------------------------------------------------------------------- the other readers


def _load_recon_run(path: Path):
    from mvaug.recon.checkpoint import load_reconstructor

    return load_reconstructor(path.parent)


def _load_official(path: Path):
    from mvaug.recon.checkpoint import load_reconstructor

    return load_reconstructor(path)


def _load_face(path: Path):
    from mvaug.recon.face_reconstruct import FaceReconstructor

    return FaceReconstructor.from_checkpoint(path.parent, "cpu")


def _load_vgg16(path: Path):
    from mvaug.disentangle.perceptual import VGGFeatures, load_vgg16_weights

    return load_vgg16_weights(VGGFeatures(), path)


def _load_instance_net(path: Path):
    from mvaug.disentangle.instance_disc import load_instance_net

    return load_instance_net(path)


def _load_mvfnet(path: Path):
    from mvfnet import load_checkpoint

    return load_checkpoint(path)


def _load_pix2vox_official(path: Path):
    from pix2vox import load_official_checkpoint

    return load_official_checkpoint(path)


def _load_pix2vox_vgg(path: Path):
    from pix2vox import build_pix2vox, load_vgg16_bn_weights

    return load_vgg16_bn_weights(build_pix2vox(variant="F", image_size=32).encoder, path)


READERS = {  # name: (file name, loader, payload that passes the format checks of today's readers)
    "recon best.pt": ("best.pt", _load_recon_run, {"format": "mvaug-recon-v1", "kind": "chair"}),
    "official .pth": ("Pix2Vox-F-ShapeNet.pth", _load_official, {"encoder_state_dict": {}, "decoder_state_dict": {}}),
    "face best.pt": ("best.pt", _load_face, {"format": "mvaug-face-recon-v1", "kind": "face"}),
    "vgg16 weights": ("vgg16-397923af.pth", _load_vgg16, {}),
    "instance net": ("phi.pt", _load_instance_net, {"format": "mvaug-instance-disc-v1"}),
    "mvfnet checkpoint": ("net.pt", _load_mvfnet, {"format": "mvfnet-v1"}),
    "pix2vox official": ("Pix2Vox-F-ShapeNet.pth", _load_pix2vox_official, {"encoder_state_dict": {}, "decoder_state_dict": {}}),
    "pix2vox vgg16-bn": ("vgg16_bn.pth", _load_pix2vox_vgg, {}),
}


@pytest.mark.parametrize("writer", ["torch.save", "pickle-2"])
@pytest.mark.parametrize("reader", list(READERS))
def test_every_reader_refuses_a_hostile_pickle(tmp_path, reader, writer):
    from mvfnet import CheckpointError as MVFNetError
    from pix2vox import CheckpointError as Pix2VoxError

    name, load, payload = READERS[reader]
    path = tmp_path / "model" / name
    marker = write_hostile(path, writer, **payload)
    with pytest.raises((DataError, MVFNetError, Pix2VoxError)) as err:
        load(path)
    assert_one_line_naming(err.value, path)
    assert not marker.exists()


# ----------------------------------------------------------------------------- read_torch_file


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(100)}, buffer)
    return buffer.getvalue()


BAD_TORCH_FILES = {  # name: (bytes, words of the message)
    "empty.pt": (b"", ("not a readable",)),
    "truncated.pt": (_zip_bytes()[:300], ("not a readable",)),
    "cut-in-the-data.pt": (_zip_bytes()[:-200], ("not a readable",)),
    "random.pt": (bytes(range(256)) * 4, ("not a readable",)),
    "text.pth": (b"hello world\n" * 10, ("not a readable", "not a torch file")),
    "numpy-array.pt": (pickle.dumps({"w": np.zeros(3)}, protocol=2), ("refused", "numpy")),
}


@pytest.mark.parametrize("name", list(BAD_TORCH_FILES))
def test_damaged_and_foreign_torch_files_are_one_data_error(tmp_path, name):
    data, words = BAD_TORCH_FILES[name]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(DataError) as err:
        read_torch_file(path, "test checkpoint")
    assert_one_line_naming(err.value, path, *words)


def test_paths_that_are_not_files_are_one_data_error(tmp_path):
    (tmp_path / "folder.pt").mkdir()
    os.symlink(tmp_path / "loop-b.pt", tmp_path / "loop-a.pt")
    os.symlink(tmp_path / "loop-a.pt", tmp_path / "loop-b.pt")
    cases = {"missing.pt": "test checkpoint not found", "folder.pt": "found a folder", "loop-a.pt": "cannot read the test checkpoint"}
    for name, words in cases.items():
        with pytest.raises(DataError) as err:
            read_torch_file(tmp_path / name, "test checkpoint")
        assert_one_line_naming(err.value, tmp_path / name, words)


def test_a_code_running_pickle_is_refused_naming_what_it_imports(tmp_path):
    path = tmp_path / "evil.pt"
    marker = tmp_path / "ran"
    torch.save({"hook": RunsCode(marker)}, path)
    with pytest.raises(DataError) as err:
        read_torch_file(path, "test checkpoint")
    assert_one_line_naming(err.value, path, "refused", "asks to import getattr", "could run code")
    assert not marker.exists()


def test_tensors_and_plain_data_round_trip(tmp_path):
    payload = {"format": "t", "config": {"betas": [0.5, 0.9], "name": "x", "none": None}, "w": torch.arange(3), "rng": torch.get_rng_state()}
    torch.save(payload, tmp_path / "ok.pt")
    back = read_torch_file(tmp_path / "ok.pt")
    assert back["config"] == payload["config"] and torch.equal(back["w"], payload["w"]) and torch.equal(back["rng"], payload["rng"])


# ----------------------------------------------------------------------------- safetensors


def _safetensors_header(header: dict, declared: int | None = None) -> bytes:
    import json

    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text) if declared is None else declared) + text


BAD_SAFETENSORS = {
    "empty": b"",
    "random": bytes(range(256)) * 4,
    "huge-header": _safetensors_header({}, declared=2**60),
    "data-missing": _safetensors_header({"w": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 4000]}}) + b"\0" * 16,
    "bogus-payload": _safetensors_header({"__metadata__": {"format": "mvaug-builtin-v1", "payload": "{not json"}}),
}


@pytest.mark.parametrize("name", list(BAD_SAFETENSORS))
def test_damaged_safetensors_are_one_data_error(tmp_path, name):
    from mvaug.io.payload_file import read_payload_file

    path = tmp_path / f"{name}.safetensors"
    path.write_bytes(BAD_SAFETENSORS[name])
    for read in (lambda: read_torch_file(path, "test model"), lambda: read_payload_file(path)):
        with pytest.raises(DataError) as err:
            read()
        assert_one_line_naming(err.value, path, "not a readable")


def test_safetensors_give_an_mvaug_payload_or_the_plain_tensors(tmp_path):
    from safetensors.torch import save_file

    from mvaug.io.payload_file import write_payload_file

    write_payload_file(tmp_path / "ours.safetensors", {"format": "x-v1", "net": {"w": torch.ones(2)}, "step": 3})
    save_file({"w": torch.ones(2)}, tmp_path / "plain.safetensors")
    ours = read_torch_file(tmp_path / "ours.safetensors")
    assert ours["format"] == "x-v1" and ours["step"] == 3 and torch.equal(ours["net"]["w"], torch.ones(2))
    assert torch.equal(read_torch_file(tmp_path / "plain.safetensors")["w"], torch.ones(2))
