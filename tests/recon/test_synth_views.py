"""Augmentation-aware Pix2Vox training (issue 18): the cache of generated views, the mixed batches, the config and the CLI."""

import json
from collections import Counter

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner

from mvaug.config import load_config
from mvaug.data.shapenet import read_cameras
from mvaug.data.transforms import load_image
from mvaug.engine.seeding import batch_indices
from mvaug.errors import ConfigError, DataError
from mvaug.multiview.synthesizer import MultiViewSynthesizer
from mvaug.multiview.views import spread_views
from mvaug.recon.augment import composite
from mvaug.recon.config import ReconConfig, SynthViewsConfig
from mvaug.recon.data import EXTRA_MODES, ShapeNetViews, TrainBatches
from mvaug.recon.reconstruct import frame_generated
from mvaug.recon.synth_views import CACHE_NAME, ODD_SPREAD, build_cache, cache_settings, prepare_cache

from tests.recon.conftest import tiny_config


def synth_config(run, **train) -> ReconConfig:
    """The tiny configuration with 2 inputs x 3 generated views per training chair, three views in every batch, augmentations off."""
    config = tiny_config(**train)
    config.synth = SynthViewsConfig(run=str(run), inputs_per_model=2, views=3, mix=(0.3, 0.5, 0.2))
    config.data.random_view_count = False
    augment = config.augment
    augment.background_range, augment.flip, augment.permute_rgb = (1.0, 1.0), False, False
    augment.brightness = augment.contrast = augment.saturation = augment.lighting_noise = 0.0
    return config


@pytest.fixture(scope="module")
def cache(chairs, tiny_run, tmp_path_factory):
    """The cache of the 4 training chairs, built into a run folder; returns (folder, config, data, cache)."""
    config = synth_config(tiny_run)
    data = ShapeNetViews(chairs, "train", config)
    folder = tmp_path_factory.mktemp("synth-run")
    return folder, config, data, prepare_cache(folder, data, config, torch.device("cpu"), progress=False)


def test_the_cache_holds_the_framed_generated_views_of_each_input(cache, tiny_run):
    _, config, data, built = cache
    assert built.views.shape == (4, 2, 3, 3, 32, 32) and built.views.dtype == torch.uint8
    assert built.inputs.tolist() == [data.fixed_views(m, 2, config.train.seed) for m in range(4)]
    m, slot = 2, 1
    view = int(built.inputs[m, slot])
    synth = MultiViewSynthesizer.from_run(tiny_run)
    azimuth, elevation = read_cameras(data.models[m].rendering_dir, 4)[view, :2]
    chosen = spread_views([v for v in synth.bank.views if v.has_camera], float(azimuth), float(elevation), 3)
    _, generated = synth.generate_batch(load_image(data.views(m)[view], synth.image_size)[None], chosen)
    framed = frame_generated(generated[0], 32, config.data.crop_fraction, (config.augment.val_background,) * 3)
    assert torch.equal(built.views[m, slot], (framed * 255).round().byte())
    assert built.header["view_names"][m][slot] == [v.name for v in chosen]
    assert built.header["run_fingerprint"] == synth.model.fingerprint


def test_building_again_gives_the_same_cache_and_a_resume_reuses_the_file(cache, monkeypatch):
    folder, config, data, built = cache
    again = build_cache(data, config, torch.device("cpu"), progress=False)
    assert torch.equal(again.views, built.views) and torch.equal(again.inputs, built.inputs) and again.header == built.header
    with np.load(folder / CACHE_NAME, allow_pickle=False) as stored:
        assert np.array_equal(stored["views"], built.views.numpy()) and json.loads(str(stored["header"])) == built.header
    monkeypatch.setattr("mvaug.recon.synth_views.build_cache", lambda *a, **k: pytest.fail("the cache was built again"))
    reused = prepare_cache(folder, data, config, torch.device("cpu"))
    assert torch.equal(reused.views, built.views) and reused.header == built.header


def test_refined_caches_draw_from_the_refined_style_of_each_input(cache, tiny_run, monkeypatch):
    """synth.refine_steps: the views of every input are drawn from its refined style, as the chair commands draw them;
    styles are found a few inputs per call (STYLE_BATCH), in the inputs' order."""
    _, config, data, plain = cache
    refined_config = synth_config(tiny_run)
    refined_config.synth.refine_steps = 3
    monkeypatch.setattr("mvaug.recon.synth_views.STYLE_BATCH", 3)  # 8 inputs: batches of 3, 3, 2
    refined = build_cache(data, refined_config, torch.device("cpu"), progress=False)
    assert refined.header["settings"]["synth"]["refine_steps"] == 3 and "refine_steps" not in plain.header["settings"]["synth"]
    synth = MultiViewSynthesizer.from_run(tiny_run, refine_steps=3)
    order = [(m, slot) for m in range(4) for slot in range(2)]
    for start in (0, 3, 6):
        batch = order[start : start + 3]
        sources = torch.stack([load_image(data.views(m)[int(refined.inputs[m, slot])], synth.image_size) for m, slot in batch])
        for (m, slot), style in zip(batch, synth.style(sources)):
            chosen = [v for v in synth.bank.views if v.name in refined.header["view_names"][m][slot]]
            chosen.sort(key=lambda v: refined.header["view_names"][m][slot].index(v.name))
            _, drawn = synth.generate_from_style(style[None], chosen)
            framed = frame_generated(drawn[0], 32, config.data.crop_fraction, (config.augment.val_background,) * 3)
            assert torch.equal(refined.views[m, slot], (framed * 255).round().byte())
    assert not torch.equal(refined.views, plain.views)  # refinement changed the views


@pytest.mark.parametrize("change, named", [({"inputs_per_model": 1}, "synth.inputs_per_model"), ({"run": "elsewhere"}, "synth.run"), ({"views": 4}, "synth.views"),
                                           ({"refine_steps": 5}, "synth.refine_steps")])
def test_a_cache_made_for_other_settings_is_refused_naming_the_file(cache, change, named):
    folder, config, data, _ = cache
    other = synth_config(config.synth.run)
    for key, value in change.items():
        setattr(other.synth, key, value)
    with pytest.raises(DataError, match=named) as caught:
        prepare_cache(folder, data, other, torch.device("cpu"))
    assert str(caught.value.path) == str(folder / CACHE_NAME) and "delete the file" in str(caught.value)


def test_a_cache_of_the_earlier_odd_spread_is_refused_and_even_counts_keep_their_caches(cache, tmp_path):
    """Odd counts of views are turned off the input's back since the twentieth session: a cache of an odd count made
    before (its settings without ``spread``) must not be mixed into a resumed run; even counts are spread as before."""
    folder, config, data, _ = cache
    assert config.synth.views % 2 == 1 and cache_settings(data, config)["spread"] == ODD_SPREAD
    even = synth_config(config.synth.run)
    even.synth.views = 2
    assert "spread" not in cache_settings(data, even)  # a cache made before keeps matching
    with np.load(folder / CACHE_NAME, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    header = json.loads(str(arrays["header"]))
    del header["settings"]["spread"]
    old = tmp_path / "old"
    old.mkdir()
    np.savez(old / CACHE_NAME, **(arrays | {"header": np.array(json.dumps(header))}))
    with pytest.raises(DataError, match="spread") as caught:
        prepare_cache(old, data, config, torch.device("cpu"))
    assert str(caught.value.path) == str(old / CACHE_NAME) and "delete the file" in str(caught.value)


def test_how_training_uses_the_views_may_change_and_keep_the_cache(cache, tmp_path, monkeypatch):
    """synth.mix and synth.generated_trains do not change the cached views: a run may change them and reuse its cache,
    also one written when the header kept the whole synth section."""
    from mvaug.recon.synth_views import write_cache

    folder, config, data, built = cache
    other = synth_config(config.synth.run)
    other.synth.mix, other.synth.generated_trains = (0.1, 0.8, 0.1), "merger"
    monkeypatch.setattr("mvaug.recon.synth_views.build_cache", lambda *a, **k: pytest.fail("the cache was built again"))
    assert torch.equal(prepare_cache(folder, data, other, torch.device("cpu")).views, built.views)
    legacy = json.loads(json.dumps(built.header))
    legacy["settings"]["synth"].update(mix=[0.3, 0.5, 0.2], generated_trains="all")
    write_cache(tmp_path / CACHE_NAME, legacy, inputs=built.inputs, views=built.views)
    assert torch.equal(prepare_cache(tmp_path, data, other, torch.device("cpu")).views, built.views)
    legacy["settings"]["synth"]["views"] = 5
    write_cache(tmp_path / CACHE_NAME, legacy, inputs=built.inputs, views=built.views)
    with pytest.raises(DataError, match="synth.views: 5 in the file, 3 now"):
        prepare_cache(tmp_path, data, other, torch.device("cpu"))


def test_batch_modes_follow_the_mix_and_generated_views_are_the_samples_own(cache):
    _, config, data, built = cache
    batches = TrainBatches(data, config, synth=built)
    reals = {}  # model -> its 4 real views composited on white (read once, not once per sample)
    modes = Counter()
    for step in range(300):
        batch = batches[step]
        mode = batch["extra"]
        modes[mode] += 1
        images = batch["images"]
        assert images.shape[1] == (1 if mode == "none" else 3)
        for sample, m in zip(images, batch_indices(step, len(data), config.train.batch_size, config.train.seed).tolist()):
            if m not in reals:
                reals[m] = composite(torch.stack([data.rgba(m, v) for v in range(4)]).float() / 255, torch.ones(3))  # (4, 3, S, S) on white
            real = reals[m]
            slots = [s for s in range(2) if torch.equal(sample[0], real[int(built.inputs[m, s])])]
            assert len(slots) == 1, "the first view is one of the model's cached inputs"
            first = int(built.inputs[m, slots[0]])
            if mode == "generated":
                cached = built.views[m, slots[0]].float() / 255
                found = [next(k for k in range(3) if torch.equal(view, cached[k])) for view in sample[1:]]
                assert len(set(found)) == 2
            elif mode == "real":
                found = [next(v for v in range(4) if torch.equal(view, real[v])) for view in sample[1:]]
                assert len(set(found)) == 2 and first not in found
    share = {mode: modes[mode] / 300 for mode in EXTRA_MODES}
    for mode, p in zip(EXTRA_MODES, config.synth.mix):
        assert share[mode] == pytest.approx(p, abs=0.08), share


def test_a_flip_mirrors_generated_views_with_their_voxels(cache):
    _, config, data, built = cache
    flipped = synth_config(config.synth.run)
    flipped.augment.flip = True
    steps = [s for s in range(40) if TrainBatches(data, config, synth=built)[s]["extra"] == "generated"][:6]
    mirrored = 0
    for step in steps:
        plain, other = TrainBatches(data, config, synth=built)[step], TrainBatches(data, flipped, synth=built)[step]
        for b in range(2):
            mirror = torch.equal(other["images"][b], plain["images"][b].flip(-1))  # every view, the generated ones too
            assert mirror or torch.equal(other["images"][b], plain["images"][b])
            assert torch.equal(other["voxels"][b], plain["voxels"][b].flip(-1) if mirror else plain["voxels"][b])
            mirrored += mirror
    assert 0 < mirrored < 2 * len(steps)


def test_single_view_steps_and_the_first_stage_keep_todays_batches(cache):
    _, config, data, built = cache
    config = synth_config(config.synth.run, two_stage=True, stage1_epochs=1, epochs=2)
    with_synth, without = TrainBatches(data, config, synth=built)[0], TrainBatches(data, config)[0]
    assert with_synth["extra"] == "none" and "extra" not in without
    assert torch.equal(with_synth["images"], without["images"]) and with_synth["images"].shape[1] == 1


def test_synth_config_errors_name_the_key():
    cases = {
        "synth: mix must be three non-negative probabilities": {"synth": {"mix": [0.5, 0.6, 0.0]}},
        "synth: inputs_per_model must be at least 1": {"synth": {"inputs_per_model": 0}},
        "synth: refine_steps must be at least 0": {"synth": {"refine_steps": -1}},
        "synth: bank is set but run is null": {"synth": {"bank": "bank.npz"}},
        r"synth.views \(2\) must be at least data.views - 1 \(7\)": {"synth": {"run": "r", "views": 2}, "data": {"views": 8}},
        "key 'synth.mix' expects 3 values": {"synth": {"mix": [0.5, 0.5]}},
    }
    for message, given in cases.items():
        with pytest.raises(ConfigError, match=message):
            load_config(ReconConfig, given)
    assert load_config(ReconConfig, {}).synth.run is None


def test_the_cli_option_reaches_the_run_config_and_the_log(chairs, tiny_run, tmp_path):
    from mvaug.cli.main import cli

    run = tmp_path / "run"
    args = ["train-recon", "--data", str(chairs), "--out", str(run), "--set", "model.image_size=32", "--set", "train.batch_size=2",
            "--set", "data.views=3", "--set", "data.val_views=1", "--set", "synth.views=2", "--set", "synth.inputs_per_model=1", "--set", "train.log_every=1",
            "--max-steps", "2", "--device", "cpu", "--quiet", "--augment-from", str(tiny_run)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    saved = yaml.safe_load((run / "config.yaml").read_text())["synth"]
    assert saved["run"] == str(tiny_run) and saved["bank"] is None and saved["views"] == 2
    assert (run / CACHE_NAME).is_file()
    logged = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if "merged" in line]
    assert [r["extra"] in EXTRA_MODES for r in logged] == [True, True]


@pytest.mark.parametrize("generated_trains", ["merger", "all"])
def test_generated_batches_train_only_the_merger_when_asked(chairs, tiny_run, tmp_path, generated_trains):
    """synth.generated_trains 'merger': a stage-2 step on generated views moves the merger and leaves encoder and
    decoder (weights and BatchNorm statistics) as they were; 'all' trains them too."""
    from mvaug.recon.trainer import ReconTrainer

    config = synth_config(tiny_run, two_stage=True, stage1_epochs=1, epochs=2, batch_size=4, stage2_freeze=False)
    config.synth.mix, config.synth.generated_trains = (0.0, 1.0, 0.0), generated_trains
    trainer = ReconTrainer(config, ShapeNetViews(chairs, "train", config), ShapeNetViews(chairs, "val", config), tmp_path / "run",
                           torch.device("cpu"), progress=False)
    trainer.start(resume=False)
    trainer.train(max_steps=1)  # stage 1: single views
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.train(max_steps=1)  # stage 2: every batch's extra views generated
    assert trainer.train_batches[1]["extra"] == "generated"
    changed = {k for k, v in trainer.model.state_dict().items() if not torch.equal(v, before[k])}
    assert any(k.startswith("merger.") for k in changed)
    views_changed = {k for k in changed if k.startswith(("encoder.", "decoder."))}
    assert (not views_changed) if generated_trains == "merger" else "decoder.layer1.1.running_mean" in views_changed
    assert trainer.model.encoder.training and trainer.model.decoder.training  # their modes are given back


def test_generated_trains_names_its_choices():
    with pytest.raises(ConfigError, match="synth: generated_trains must be 'all' or 'merger', got 'encoder'"):
        load_config(ReconConfig, {"synth": {"generated_trains": "encoder"}})
