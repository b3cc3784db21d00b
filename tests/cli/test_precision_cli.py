"""mvaug --precision: inference in bf16 autocast or fp32, set for the command and its worker processes only."""

import os
from pathlib import Path

import numpy as np
import torch
from click.testing import CliRunner

from mvaug.cli.main import cli
from mvaug.engine.precision import PRECISION_ENV, resolve_precision
from mvaug.geometry.voxel_iou import voxel_iou
from tests.conftest import single_thread

BENCH = Path(__file__).resolve().parents[3] / "shared/realdata/shapenet-sample/ShapeNetRendering/02828884/sample-bench/rendering/00.png"


def _reconstruct(tmp_path, *precision: str) -> np.ndarray:
    out = tmp_path / f"run{len(list(tmp_path.glob('*.npy')))}"
    with single_thread():
        result = CliRunner().invoke(cli, [*precision, "reconstruct", str(BENCH), "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    return np.load(f"{out}.npy")


def test_bf16_inference_gives_nearly_the_fp32_grid_and_leaves_the_environment_as_it_was(tmp_path, monkeypatch):
    monkeypatch.delenv(PRECISION_ENV, raising=False)
    fp32 = _reconstruct(tmp_path, "--precision", "fp32")
    assert PRECISION_ENV not in os.environ
    bf16 = _reconstruct(tmp_path, "--precision", "bf16")
    assert not np.array_equal(fp32, bf16)  # bf16 really ran
    assert np.abs(fp32 - bf16).max() < 0.2
    assert float(voxel_iou(bf16, fp32 >= 0.3, [0.3])[0]) > 0.9
    auto = fp32 if resolve_precision("auto", torch.device("cpu")) == "fp32" else bf16  # bf16 only where the CPU has it natively
    assert np.array_equal(_reconstruct(tmp_path), auto)
    monkeypatch.setenv(PRECISION_ENV, "bf16")
    _reconstruct(tmp_path, "--precision", "fp32")
    assert os.environ[PRECISION_ENV] == "bf16"


def test_a_wrong_precision_in_the_environment_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv(PRECISION_ENV, "half")
    result = CliRunner().invoke(cli, ["reconstruct", str(BENCH), "--out", str(tmp_path / "x"), "--device", "cpu"])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and "MVAUG_PRECISION='half'" in lines[0], result.output
    assert not list(tmp_path.iterdir())  # nothing written
