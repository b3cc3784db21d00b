"""A diverging run stops with one line instead of training on NaN and writing it into its log and checkpoints."""

import json

import yaml
from click.testing import CliRunner

from mvaug.cli.main import cli
from tests.conftest import TINY_RUN, single_thread


def test_a_diverging_run_stops_at_the_first_non_finite_loss(dense_chairs, tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({**TINY_RUN, "optim": {"lr_networks": 1e30}, "train": {**TINY_RUN["train"], "steps": 40, "log_every": 1, "checkpoint_every": 1}}))
    run = tmp_path / "run"
    with single_thread():
        result = CliRunner().invoke(cli, ["train", "--config", str(config), "--data", str(dense_chairs), "--out", str(run), "--device", "cpu", "--quiet"])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and "training diverged" in lines[0] and str(run) in lines[0], result.output
    step = int(lines[0].split(" at step ")[1].split(";")[0])
    assert 1 < step < 40
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]  # strict JSON: no bare NaN
    assert [r["step"] for r in records] == list(range(1, step))
    assert len(list((run / "checkpoints").glob("step-*.pt"))) > 0  # the run is kept: it reached checkpoints before diverging


def test_a_nan_learning_rate_is_refused_by_name(dense_chairs, tmp_path):
    config = tmp_path / "nan.yaml"
    config.write_text("optim:\n  lr_networks: .nan\n")
    result = CliRunner().invoke(cli, ["train", "--config", str(config), "--data", str(dense_chairs), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "optim.lr_networks" in result.output and "finite" in result.output and str(config) in result.output
    assert not (tmp_path / "run").exists()
