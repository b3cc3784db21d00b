from pathlib import Path

import pytest

from mvaug.config import load_config, resolve_run_config
from mvaug.errors import ConfigError
from mvaug.recon.config import ReconConfig

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_the_shipped_configs_load_with_their_variants():
    f = load_config(ReconConfig, CONFIGS / "pix2vox-f-chairs.yaml")
    a = load_config(ReconConfig, CONFIGS / "pix2vox-a-chairs.yaml")
    quick = load_config(ReconConfig, CONFIGS / "pix2vox-quick.yaml")
    assert (f.model.variant, f.model.image_size, f.model.has_refiner) == ("F", 224, False)
    assert (a.model.variant, a.model.has_refiner) == ("A", True)
    assert (f.optim.lr, f.optim.merger_lr, f.train.batch_size, f.train.epochs) == (1e-3, 1e-4, 64, 250)
    assert f.augment.background_range[0] == pytest.approx(225 / 255, abs=1e-4)
    assert quick.model.image_size < 224 and quick.data.cache_images and quick.train.two_stage
    assert f.data.crop_fraction == pytest.approx(128 / 137)


def test_unknown_keys_and_bad_values_are_config_errors():
    with pytest.raises(ConfigError, match="did you mean 'merger_lr'"):
        load_config(ReconConfig, {"optim": {"merge_lr": 1e-4}})
    with pytest.raises(ConfigError, match="multiple of 8"):
        load_config(ReconConfig, {"model": {"image_size": 30}})
    with pytest.raises(ConfigError, match="stage1_epochs"):
        load_config(ReconConfig, {"train": {"two_stage": True, "stage1_epochs": 0}})
    with pytest.raises(ConfigError, match="crop"):
        load_config(ReconConfig, {"data": {"crop": 200}})
    with pytest.raises(ConfigError, match="'chair'"):
        load_config(ReconConfig, {"data": {"kind": "face"}})
    with pytest.raises(ConfigError, match="input_view_loss must be at least 0"):
        load_config(ReconConfig, {"optim": {"input_view_loss": -0.5}})
    with pytest.raises(ConfigError, match="average_epochs .3. must be at most the 2 epochs of the second stage"):
        load_config(ReconConfig, {"train": {"epochs": 4, "two_stage": True, "stage1_epochs": 2, "average_epochs": 3}})


def test_set_overrides_apply_after_the_file_and_resume_reads_the_run_config(tmp_path):
    config = resolve_run_config(ReconConfig, CONFIGS / "pix2vox-quick.yaml", ["train.epochs=3", "train.two_stage=false", "model.variant=A"], tmp_path, resume=False)
    assert (config.train.epochs, config.model.variant, config.model.image_size) == (3, "A", 64)
    (tmp_path / "config.yaml").write_text("train:\n  epochs: 7\n")
    assert resolve_run_config(ReconConfig, CONFIGS / "pix2vox-quick.yaml", [], tmp_path, resume=True).train.epochs == 7
