import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from mvaug.errors import DataError
from mvaug.evaluate.reconstruction import ReconEvalConfig, bootstrap_interval, evaluate_reconstruction
from mvaug.multiview.views import camera_view, spread_azimuths, spread_views


@pytest.fixture(scope="module")
def tiny_recon(dense_chairs, tmp_path_factory):
    """Pix2Vox-F at 32 px after one step on the dense chairs (validated on their test split)."""
    from pix2vox import Pix2VoxConfig

    from mvaug.recon.config import ReconConfig, ReconDataConfig, ReconTrainConfig
    from mvaug.recon.data import ShapeNetViews
    from mvaug.recon.trainer import ReconTrainer

    torch.set_num_threads(1)
    config = ReconConfig(
        model=Pix2VoxConfig(variant="F", image_size=32),
        data=ReconDataConfig(views=2, val_views=1, val_split="test", crop=30, render_size=32),
        train=ReconTrainConfig(epochs=1, batch_size=2, checkpoint_every=1, log_every=1),
    )
    run = tmp_path_factory.mktemp("recon") / "run"
    trainer = ReconTrainer(config, ShapeNetViews(dense_chairs, "train", config), ShapeNetViews(dense_chairs, "test", config), run, torch.device("cpu"), progress=False)
    trainer.start(resume=False)
    trainer.train(max_steps=1)
    return run


@pytest.fixture(scope="module")
def report(tiny_run, tiny_recon, dense_chairs, tmp_path_factory):
    # the content bank is tiny_run's own RUN/bank.npz, which the tiny_run fixture builds from dense_chairs
    out = tmp_path_factory.mktemp("report") / "eval"
    config = ReconEvalConfig(views=(1, 2), bootstrap=200, montage=2)
    summary = evaluate_reconstruction(dense_chairs, tiny_recon, tiny_run, out, config, device="cpu", progress=False)
    return out, summary, config


@pytest.fixture(scope="module")
def retrieval_report(report, tiny_run, tiny_recon, dense_chairs, tmp_path_factory):
    """The same evaluation with retrieved-K (the disentangler's training data is dense_chairs' train split)."""
    out = tmp_path_factory.mktemp("report") / "eval"
    config = ReconEvalConfig(views=(1, 2), bootstrap=200, montage=2, retrieve_from=str(dense_chairs))
    summary = evaluate_reconstruction(dense_chairs, tiny_recon, tiny_run, out, config, device="cpu", progress=False)
    return out, summary, config


def test_spread_views_pick_distinct_bank_views_around_the_input():
    bank = [camera_view(a, e) for e in (20.0, 30.0) for a in np.arange(0, 360, 360 / 31)]
    one = spread_views(bank, 0.0, 20.0, 1)
    assert len(one) == 1 and abs(one[0].azimuth - 90) < 6 and one[0].elevation == 20.0  # a quarter turn, not the back
    four = spread_views(bank, 100.0, 30.0, 4)
    assert [round((v.azimuth - 100) % 360 / 72) for v in four] == [1, 2, 3, 4]
    assert all(v.elevation == 30.0 for v in four)
    crowded = spread_views(bank[:2], 0.0, 20.0, 2)  # fewer candidates near the targets: still distinct
    assert len({v.name for v in crowded}) == 2


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 8])
def test_spread_azimuths_are_even_and_never_opposite_the_input(count):
    input_azimuth = 250.0
    azimuths = np.array(spread_azimuths(input_azimuth, count))
    offsets = np.sort((azimuths - input_azimuth) % 360.0)
    step = 360.0 / (count + 1)
    assert len(offsets) == count and np.allclose(np.diff(offsets), step)  # evenly spaced, one step apart
    assert np.abs(offsets - 180.0).min() >= step / 2 - 1e-9  # none opposite the input
    assert offsets.min() >= step / 2 - 1e-9 and offsets.max() <= 360.0 - step / 2 + 1e-9  # none on the input
    if count % 2 == 0:  # even counts keep the plain spread input + j * step
        assert np.allclose(offsets, step * np.arange(1, count + 1))


def test_bootstrap_interval():
    assert bootstrap_interval(np.full(10, 0.25), 500, 0) == pytest.approx((0.25, 0.25))
    rng = np.random.default_rng(1)
    values = rng.normal(0.1, 0.05, 400)
    low, high = bootstrap_interval(values, 2000, 0)
    assert low < values.mean() < high and high - low < 0.02
    assert bootstrap_interval(values, 2000, 0) == bootstrap_interval(values, 2000, 0)


def test_report_files_and_counts(report):
    out, summary, config = report
    assert summary["objects"] == 2
    rows = list(csv.DictReader((out / "per_object.csv").open()))
    assert len(rows) == 2 * (1 + 2 * 2)
    assert {r["condition"] for r in rows} == {"single", "generated-1", "generated-2", "gt-1", "gt-2"}
    for name in ("report.md", "summary.json", "iou_vs_views.png", "single_vs_generated.png", "montage_best.png", "montage_worst.png"):
        assert (out / name).is_file(), name
    paired = summary["paired"]["generated-2 - single"]
    ious = {(r["object"], r["condition"]): float(r["iou@0.3"]) for r in rows}
    diffs = [ious[(o, "generated-2")] - ious[(o, "single")] for o in {r["object"] for r in rows}]
    assert paired["mean"] == pytest.approx(np.mean(diffs), abs=1e-6)
    assert paired["win_rate"] == pytest.approx(np.mean([d > 0 for d in diffs]))
    assert list(summary["mean_iou"]) == ["single", "generated-1", "generated-2", "gt-1", "gt-2"]
    assert list(summary["paired"]) == ["generated-1 - single", "gt-1 - generated-1", "generated-2 - single", "gt-2 - generated-2"]
    assert "retrieve_from" not in summary["settings"]["config"]  # report folders of earlier versions resume
    assert "retrieved" not in (out / "report.md").read_text()
    with np.load(next((out / "objects").glob("*.npz"))) as arrays:
        assert set(arrays.files) == {"input", "generated", "real", "single", "generated_probs", "gt_probs", "truth"}


def test_retrieved_condition_is_reported(retrieval_report, dense_chairs):
    out, summary, _ = retrieval_report
    conditions = ["single", "generated-1", "generated-2", "retrieved-1", "retrieved-2", "gt-1", "gt-2"]
    assert list(summary["mean_iou"]) == conditions
    for k in (1, 2):
        assert {f"generated-{k} - single", f"gt-{k} - generated-{k}", f"generated-{k} - retrieved-{k}"} <= set(summary["paired"])
    rows = list(csv.DictReader((out / "per_object.csv").open()))
    ious = {(r["object"], r["condition"]): float(r["iou@0.3"]) for r in rows}
    assert sorted({r["condition"] for r in rows}) == sorted(conditions)
    diffs = [ious[(o, "generated-2")] - ious[(o, "retrieved-2")] for o in {r["object"] for r in rows}]
    assert summary["paired"]["generated-2 - retrieved-2"]["mean"] == pytest.approx(np.mean(diffs), abs=1e-6)
    assert summary["settings"]["config"]["retrieve_from"] == str(dense_chairs.resolve())
    report = (out / "report.md").read_text()
    assert "| retrieved-K |" in report and "| retrieved-2 |" in report and "| single | generated-2 | retrieved-2 | gt-2 |" in report
    with np.load(next((out / "objects").glob("*.npz"))) as arrays:
        assert arrays["retrieved"].shape == arrays["real"].shape and arrays["retrieved_probs"].shape == arrays["gt_probs"].shape


def test_retrieved_condition_matches_a_reconstruction_by_hand(retrieval_report, tiny_run, tiny_recon, dense_chairs):
    """retrieved-1 of one object: its input plus the training render nearest in style at the added camera."""
    from mvaug.data.shapenet import ShapeNetDataset, list_views
    from mvaug.data.transforms import load_image
    from mvaug.geometry.voxel_iou import voxel_iou
    from mvaug.io.binvox import read_binvox
    from mvaug.multiview.retrieval import StyleIndex
    from mvaug.multiview.synthesizer import MultiViewSynthesizer
    from mvaug.multiview.views import parse_view
    from mvaug.recon.augment import composite
    from mvaug.recon.data import load_rgba
    from mvaug.recon.reconstruct import Reconstructor

    out, _, config = retrieval_report
    model = ShapeNetDataset.from_root(dense_chairs, split="test").models[1]
    record = json.loads((out / "objects" / f"{model.model_id}.json").read_text())
    (name,) = record["views"]["1"]
    synth = MultiViewSynthesizer.from_run(tiny_run)
    index = StyleIndex.build(dense_chairs, "train", [parse_view(name)], 0.5, synth.model)
    source = list_views(model.rendering_dir)[0]
    retrieved = index.nearest(synth.model.encode(load_image(source, 32)[None])[0][0], name)
    assert Path(record["retrieved"][name]) == retrieved.resolve()  # found under the resolved --retrieve-from root
    assert retrieved.parent.resolve() in index.folders and model.rendering_dir.resolve() not in index.folders
    recon = Reconstructor.from_checkpoint(tiny_recon)
    rgba = torch.stack([load_rgba(p, recon.image_size, recon.config.data.crop_fraction) for p in (source, retrieved)]).float() / 255
    probabilities = recon.reconstruct(composite(rgba, torch.tensor(recon.background)))
    expected = voxel_iou(probabilities.numpy(), read_binvox(model.voxel_path).data, config.thresholds).tolist()
    assert record["ious"]["retrieved-1"] == pytest.approx(expected, abs=1e-6)


def test_retrieval_refuses_trained_objects_and_another_root(retrieval_report, tiny_run, tiny_recon, dense_chairs, tmp_path):
    out, _, config = retrieval_report
    trained = ReconEvalConfig(views=(1,), split="train", bootstrap=200, retrieve_from=str(dense_chairs))
    with pytest.raises(DataError, match=r"2 of the held-out objects were in the disentangler's training data \(e.g. synth-") as err:
        evaluate_reconstruction(dense_chairs, tiny_recon, tiny_run, tmp_path / "trained", trained, device="cpu", progress=False)
    assert str(dense_chairs) in str(err.value) and not (tmp_path / "trained").exists()
    other = ReconEvalConfig(views=config.views, bootstrap=200, montage=2, retrieve_from=str(tmp_path))
    with pytest.raises(DataError, match="other config"):
        evaluate_reconstruction(dense_chairs, tiny_recon, tiny_run, out, other, device="cpu", progress=False)


def test_single_and_gt_conditions_match_a_naive_reconstruction(report, tiny_recon, dense_chairs):
    """Recompute single and gt-1 for one object with the public API and compare IoUs."""
    from mvaug.data.shapenet import ShapeNetDataset, list_views, read_cameras
    from mvaug.geometry.voxel_iou import voxel_iou
    from mvaug.io.binvox import read_binvox
    from mvaug.recon.augment import composite
    from mvaug.recon.data import load_rgba
    from mvaug.recon.reconstruct import Reconstructor

    out, _, config = report
    model = ShapeNetDataset.from_root(dense_chairs, split="test").models[0]
    record = json.loads((out / "objects" / f"{model.model_id}.json").read_text())
    recon = Reconstructor.from_checkpoint(tiny_recon)
    paths = list_views(model.rendering_dir)
    cameras = read_cameras(model.rendering_dir, len(paths))[:, :2]
    gt = read_binvox(model.voxel_path).data

    def renders(chosen):  # as the reconstructor's training data loader reads them
        rgba = torch.stack([load_rgba(p, recon.image_size, recon.config.data.crop_fraction) for p in chosen]).float() / 255
        return composite(rgba, torch.tensor(recon.background))

    single = recon.reconstruct(renders([paths[0]]))
    assert record["ious"]["single"] == pytest.approx(voxel_iou(single.numpy(), gt, config.thresholds).tolist(), abs=1e-6)
    (name,) = record["views"]["1"]
    wrapped = [abs((a - float(name[2:5]) + 180) % 360 - 180) for a in cameras[:, 0]]  # the name rounds to whole degrees
    index = int(np.argmin([w + abs(e - float(name.split("_el")[1])) for w, e in zip(wrapped, cameras[:, 1])]))
    both = recon.reconstruct(renders([paths[0], paths[index]]))
    assert record["ious"]["gt-1"] == pytest.approx(voxel_iou(both.numpy(), gt, config.thresholds).tolist(), abs=1e-6)


def test_resume_reuses_the_cache_and_refuses_other_settings(report, tiny_run, tiny_recon, dense_chairs):
    out, summary, config = report
    cached = sorted((out / "objects").glob("*.json"))
    first = cached[0].read_text()
    cached[0].unlink()  # as if interrupted before this object
    again = evaluate_reconstruction(dense_chairs, tiny_recon, tiny_run, out, config, device="cpu", progress=False)
    assert cached[0].read_text() == first and again["mean_iou"] == summary["mean_iou"]
    with pytest.raises(DataError, match="other config"):
        evaluate_reconstruction(dense_chairs, tiny_recon, tiny_run, out, ReconEvalConfig(views=(1,), bootstrap=200), device="cpu", progress=False)


def test_cli_requires_its_inputs_and_scores_prediction_folders(realdata, tmp_path):
    from mvaug.cli.main import cli

    missing = CliRunner().invoke(cli, ["evaluate", "--data", str(tmp_path)])
    assert missing.exit_code == 2 and "--recon" in missing.output and "--run" in missing.output
    result = CliRunner().invoke(cli, ["evaluate", "voxels", str(realdata / "predictions"), str(realdata / "ShapeNetVox32"), "--pred-axes", "xzy"])
    assert result.exit_code == 0, result.output
    assert "0.747" in result.output.replace("0.7470", "0.747")


def test_reconstruct_with_generated_views(tiny_run, tiny_recon, dense_chairs, report, tmp_path):
    """--run --generate K synthesises K views from the image; they go through the merger and into the preview."""
    from PIL import Image

    from mvaug.cli.main import cli

    image = next((dense_chairs / "ShapeNetRendering").rglob("00.png"))
    plain = CliRunner().invoke(cli, ["reconstruct", str(image), "--recon", str(tiny_recon), "--out", str(tmp_path / "plain"), "--device", "cpu"])
    assert plain.exit_code == 0, plain.output
    more = CliRunner().invoke(cli, ["reconstruct", str(image), "--recon", str(tiny_recon), "--run", str(tiny_run), "--generate", "3", "--out", str(tmp_path / "more"), "--device", "cpu"])
    assert more.exit_code == 0, more.output
    small, large = Image.open(tmp_path / "plain.png"), Image.open(tmp_path / "more.png")
    assert large.size[1] > small.size[1]  # a row of generated views
    assert not np.array_equal(np.load(tmp_path / "plain.npy"), np.load(tmp_path / "more.npy"))
    no_assets = {"MVAUG_ASSETS": str(tmp_path / "no-assets")}  # --generate without --run: the built-in disentangler
    missing = CliRunner(env=no_assets).invoke(cli, ["reconstruct", str(image), "--recon", str(tiny_recon), "--generate", "2", "--out", str(tmp_path / "x")])
    assert missing.exit_code == 2 and "train_defaults.py" in missing.output


def test_a_report_folder_is_not_resumed_with_a_run_folder_trained_again(report, tiny_run, tiny_recon, dense_chairs, tmp_path):
    """The report records a run folder with the checksum of its weights: other weights in the same folder are
    another evaluation, refused instead of mixed with the objects already evaluated."""
    import shutil

    out, summary, config = report
    assert summary["settings"]["recon"].startswith(f"{Path(tiny_recon).resolve()} sha256:")
    again = evaluate_reconstruction(dense_chairs, tiny_recon, tiny_run, out, config, device="cpu", progress=False)
    assert again["settings"] == summary["settings"]  # the same weights resume the folder
    recon = tmp_path / "recon"
    shutil.copytree(tiny_recon, recon)
    moved = tmp_path / "eval"
    shutil.copytree(out, moved)
    settings = json.loads((moved / "settings.json").read_text())
    settings["recon"] = settings["recon"].replace(str(Path(tiny_recon).resolve()), str(recon.resolve()))
    (moved / "settings.json").write_text(json.dumps(settings))
    assert evaluate_reconstruction(dense_chairs, recon, tiny_run, moved, config, device="cpu", progress=False)["objects"] == 2
    payload = torch.load(recon / "best.pt", weights_only=True)
    payload["epoch"] += 1
    torch.save(payload, recon / "best.pt")  # trained again in place
    with pytest.raises(DataError, match="holds an evaluation with other recon"):
        evaluate_reconstruction(dense_chairs, recon, tiny_run, moved, config, device="cpu", progress=False)


def test_refined_codes_draw_the_generated_views_and_pick_the_retrieved_ones(retrieval_report, tiny_run, tiny_recon, dense_chairs, tmp_path):
    """With refine_steps the input's refined style draws the generated views and is the retrieval's query."""
    from mvaug.data.shapenet import ShapeNetDataset, list_views
    from mvaug.data.transforms import load_image
    from mvaug.multiview.retrieval import StyleIndex
    from mvaug.multiview.synthesizer import MultiViewSynthesizer
    from mvaug.multiview.views import parse_view

    plain_out, plain, _ = retrieval_report
    config = ReconEvalConfig(views=(1, 2), bootstrap=200, montage=2, retrieve_from=str(dense_chairs), refine_steps=10)
    out = tmp_path / "refined"
    summary = evaluate_reconstruction(dense_chairs, tiny_recon, tiny_run, out, config, device="cpu", progress=False)
    assert summary["settings"]["config"]["refine_steps"] == 10 and "refine_steps" not in plain["settings"]["config"]
    model = ShapeNetDataset.from_root(dense_chairs, split="test").models[0]
    with np.load(out / "objects" / f"{model.model_id}.npz") as refined, np.load(plain_out / "objects" / f"{model.model_id}.npz") as before:
        assert np.array_equal(refined["real"], before["real"]) and not np.array_equal(refined["generated"], before["generated"])
    record = json.loads((out / "objects" / f"{model.model_id}.json").read_text())
    synth = MultiViewSynthesizer.from_run(tiny_run, refine_steps=10)
    style = synth.style(load_image(list_views(model.rendering_dir)[0], 32)[None])
    for name in record["views"]["2"]:
        index = StyleIndex.build(dense_chairs, "train", [parse_view(name)], 0.5, synth.model)
        assert Path(record["retrieved"][name]) == index.nearest(style[0], name).resolve()


def test_replace_other_empties_a_report_of_another_evaluation_and_nothing_else(report, tiny_run, tiny_recon, dense_chairs, tmp_path):
    import shutil

    out, _, _ = report
    moved = tmp_path / "eval"
    shutil.copytree(out, moved)
    other = ReconEvalConfig(views=(1,), bootstrap=200, montage=2)
    with pytest.raises(DataError, match="holds an evaluation with other config"):
        evaluate_reconstruction(dense_chairs, tiny_recon, tiny_run, moved, other, device="cpu", progress=False)
    summary = evaluate_reconstruction(dense_chairs, tiny_recon, tiny_run, moved, other, device="cpu", progress=False, replace_other=True)
    assert summary["settings"]["config"]["views"] == [1] and list(summary["mean_iou"]) == ["single", "generated-1", "gt-1"]
    assert "gt-2" not in (moved / "per_object.csv").read_text()
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("not a report")
    with pytest.raises(DataError):
        evaluate_reconstruction(dense_chairs, tiny_recon, tiny_run, foreign, other, device="cpu", progress=False, replace_other=True)
    assert (foreign / "mine.txt").read_text() == "not a report"


def test_pooling_one_report_gives_its_own_numbers(retrieval_report):
    """`mvaug evaluate pool` reads a real report folder: alone, it reproduces the report's means and paired differences."""
    from mvaug.evaluate.pooling import pool_and_compare

    out, summary, config = retrieval_report
    pooled = pool_and_compare([out], bootstrap=config.bootstrap, seed=config.seed).summaries["A"]
    assert pooled["objects"] == summary["objects"]
    for condition, values in summary["mean_iou"].items():
        assert pooled["mean_iou"][condition] == pytest.approx(values, abs=1e-6)  # the CSV keeps 6 decimals
    for name, paired in summary["paired"].items():
        assert pooled["paired"][name]["mean"] == pytest.approx(paired["mean"], abs=1e-5)
        assert pooled["paired"][name]["ci95"] == pytest.approx(paired["ci95"], abs=1e-5)


def test_generated_views_are_sharpened_as_the_reconstructors_training_asks(report, tiny_run, tiny_recon, dense_chairs, tmp_path):
    """A reconstructor trained on real renders only gets its generated views sharpened (SHARPEN_AMOUNT, recorded in the
    settings and the report); sharpen=0 draws them as generated, changes nothing else, and is another evaluation."""
    from mvaug.data.shapenet import ShapeNetDataset
    from mvaug.recon.reconstruct import SHARPEN_AMOUNT

    out, summary, config = report
    assert summary["settings"]["config"]["sharpen"] == SHARPEN_AMOUNT > 0
    assert f"unsharp mask of amount {SHARPEN_AMOUNT:g}" in (out / "report.md").read_text()
    with pytest.raises(DataError, match="other config"):
        evaluate_reconstruction(dense_chairs, tiny_recon, tiny_run, out, replace(config, sharpen=0.0), device="cpu", progress=False)
    plain_out = tmp_path / "plain"
    plain = evaluate_reconstruction(dense_chairs, tiny_recon, tiny_run, plain_out, replace(config, sharpen=0.0), device="cpu", progress=False)
    assert "sharpen" not in plain["settings"]["config"] and "not sharpened" in (plain_out / "report.md").read_text()
    model = ShapeNetDataset.from_root(dense_chairs, split="test").models[0]
    with np.load(out / "objects" / f"{model.model_id}.npz") as sharp, np.load(plain_out / "objects" / f"{model.model_id}.npz") as soft:
        assert np.array_equal(sharp["real"], soft["real"]) and np.array_equal(sharp["input"], soft["input"])
        edges = lambda views: np.abs(np.diff(views.astype(np.float32), axis=2)).mean()  # noqa: E731
        assert edges(sharp["generated"]) > edges(soft["generated"])  # the same views with steeper edges
    for condition in ("single", "gt-1", "gt-2"):
        assert plain["mean_iou"][condition] == summary["mean_iou"][condition]
