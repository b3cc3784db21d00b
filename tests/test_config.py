from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest
import yaml

from mvaug.config import dump_config, load_config, save_config
from mvaug.errors import ConfigError


@dataclass
class Optim:
    lr: float = 3e-4
    betas: tuple[float, float] = (0.5, 0.999)


@dataclass
class Experiment:
    name: str = "run"
    steps: int = 10
    norm: Literal["instance", "l2", "none"] = "instance"
    optim: Optim = field(default_factory=Optim)
    weights: Path | None = None
    layers: list[int] = field(default_factory=lambda: [1, 1])

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}")


def _write(tmp_path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_nested_yaml_with_overrides_and_round_trip(tmp_path):
    path = _write(tmp_path, "name: a\nsteps: 5\nnorm: l2\noptim: {lr: 1, betas: [0.9, 0.99]}\nweights: w.pt\n")
    cfg = load_config(Experiment, path, overrides={"steps": 7})
    assert cfg == Experiment("a", 7, "l2", Optim(1.0, (0.9, 0.99)), Path("w.pt"))
    assert isinstance(cfg.optim.lr, float)
    save_config(cfg, tmp_path / "resolved.yaml")
    assert yaml.safe_load((tmp_path / "resolved.yaml").read_text())["weights"] == "w.pt"
    assert load_config(Experiment, tmp_path / "resolved.yaml") == cfg
    assert "!!python" not in dump_config(cfg)  # plain YAML only


@pytest.mark.parametrize(
    "text, message",
    [
        ("stpes: 3\n", r"unknown key 'stpes'; did you mean 'steps'"),
        ("optim: {lrate: 1}\n", r"unknown key 'optim.lrate'; valid keys: lr, betas"),
        ("zzz: 1\n", r"valid keys: name, steps"),
        ("steps: 2.5\n", r"key 'steps' expects an integer, got 2.5"),
        ("norm: batch\n", r"key 'norm' must be one of 'instance', 'l2', 'none'"),
        ("optim: {betas: [1, 2, 3]}\n", r"key 'optim.betas' expects 2 values, got 3"),
        ("layers: [1, x]\n", r"key 'layers\[1\]' expects an integer"),
        ("steps: 0\n", r"steps must be at least 1"),
        ("- a\n- b\n", r"expected a mapping"),
        ("steps: [\n", r"invalid YAML at line 2"),
    ],
)
def test_errors_name_the_file_and_the_key(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(Experiment, path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(Experiment, tmp_path / "nope.yaml")


def test_shipped_configs_load():
    from mvaug.data.synth.writer import SynthChairsConfig

    root = Path(__file__).resolve().parents[1] / "configs"
    dense = load_config(SynthChairsConfig, root / "synth_chairs_dense.yaml")
    assert dense.dense and dense.view_count == 62 and dense.split == (0.8, 0.1, 0.1)
    assert load_config(SynthChairsConfig, root / "synth_chairs.yaml").models == 1000



def test_every_config_is_shipped_inside_the_package():
    import tomllib

    from mvaug.demo import CONFIGS

    repo = Path(__file__).resolve().parents[1]
    assert CONFIGS.resolve() == (repo / "configs").resolve()  # mvaug/configs is the repository's configs/
    package_data = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["mvaug"]
    shipped = {p.name for pattern in package_data for p in (repo / "mvaug").glob(pattern) if p.parent.name == "configs"}
    assert shipped == {p.name for p in (repo / "configs").iterdir() if p.is_file()} and "pix2vox-quick.yaml" in shipped


@dataclass
class Capacity:
    gamma: float = 0.0
    end: float = 0.0


@dataclass
class WithDefaults:
    content: Capacity = field(default_factory=lambda: Capacity(gamma=1.0, end=5.0))


def test_partial_section_keeps_the_fields_own_defaults():
    """Overriding one key of a nested section must not reset its siblings to the class defaults."""
    cfg = load_config(WithDefaults, {"content": {"end": 9.0}})
    assert cfg.content == Capacity(gamma=1.0, end=9.0)


def test_a_bad_set_value_is_blamed_on_set_and_a_bad_file_on_the_file(tmp_path):
    from mvaug.config import resolve_run_config

    good = _write(tmp_path, "steps: 5\n")
    with pytest.raises(ConfigError) as info:
        resolve_run_config(Experiment, good, ["steps=0"], tmp_path / "run", resume=False)
    assert str(info.value) == "--set: steps must be at least 1, got 0" and str(good) not in str(info.value)
    bad = _write(tmp_path, "steps: 0\n")
    with pytest.raises(ConfigError, match="steps must be at least 1") as info:
        resolve_run_config(Experiment, bad, ["name=x"], tmp_path / "run", resume=False)
    assert str(info.value).startswith(str(bad))
    assert resolve_run_config(Experiment, bad, ["steps=3"], tmp_path / "run", resume=False).steps == 3  # a --set mends the file
