import csv
import json

import pytest

from mvaug.data.shapenet import ShapeNetDataset, list_views
from mvaug.data.transforms import load_image
from mvaug.evaluate.disentangle_metrics import silhouette_iou
from mvaug.evaluate.image_distance import ssim_distance
from mvaug.errors import DataError
from mvaug.evaluate.generation import evaluate_generation, paired_gains
from mvaug.multiview.pipeline import build_bank


def test_eval_generate_compares_every_view_of_every_test_chair(tiny_run, dense_chairs, tmp_path):
    bank, bank_path = build_bank(tiny_run, tmp_path / "bank.npz", dense_chairs, device="cpu", progress=False)
    summary = evaluate_generation(tiny_run, dense_chairs, tmp_path / "report", bank_path, distance="ssim", device="cpu", progress=False)
    test_models = ShapeNetDataset.from_root(dense_chairs, split="test").models
    assert summary["objects"] == len(test_models) == 2
    rows = list(csv.DictReader((tmp_path / "report" / "per_view.csv").open()))
    assert len(rows) == 2 * 62
    # baseline (a) recomputed naively: the input render against the render at each view
    model = test_models[0]
    paths = list_views(model.rendering_dir)
    source = load_image(paths[0], 32)[None]
    mine = [r for r in rows if r["object"] == model.model_id]
    for k in (0, 17, 61):
        expected = float(ssim_distance()(source, load_image(paths[k], 32)[None])[0])
        row = next(r for r in mine if r["view"] == bank.entries[k].view.name)
        assert float(row["input"]) == pytest.approx(expected, abs=1e-9)
        assert float(row["input_mask_iou"]) == pytest.approx(float(silhouette_iou(source, load_image(paths[k], 32)[None])[0]))
    same = next(r for r in mine if r["view"] == bank.entries[0].view.name)
    assert float(same["input"]) == pytest.approx(0.0, abs=1e-9) and float(same["input_mask_iou"]) == pytest.approx(1.0)
    stored = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert stored["overall"]["input"]["n"] == 124 and stored["distance"].startswith("1-SSIM")
    assert sorted(p.name for p in (tmp_path / "report").glob("sheet_*.png"))
    assert "Nearest training image" in (tmp_path / "report" / "report.md").read_text()
    assert stored["mask_iou"]["input"]["mean"] == pytest.approx(sum(float(r["input_mask_iou"]) for r in rows) / len(rows))


def test_paired_gains_average_each_object_then_bootstrap_over_objects():
    rows = [
        {"object": "a", "generated": 0.2, "input": 0.4, "nearest-train": 0.1, "generated_mask_iou": 0.8, "input_mask_iou": 0.5, "nearest-train_mask_iou": 0.7},
        {"object": "a", "generated": 0.4, "input": 0.4, "nearest-train": 0.3, "generated_mask_iou": 0.6, "input_mask_iou": 0.5, "nearest-train_mask_iou": 0.9},
        {"object": "b", "generated": 0.3, "input": 0.6, "nearest-train": 0.3, "generated_mask_iou": 0.9, "input_mask_iou": 0.4, "nearest-train_mask_iou": 0.6},
    ]
    gains = paired_gains(rows, resamples=2000, seed=0)
    # object a: distance gaps -0.1 (a) and +0.1 (b); object b: -0.3 and 0.0 -> means over objects -0.2 and +0.05
    assert gains["distance"]["input"]["mean"] == pytest.approx(-0.2)
    assert gains["distance"]["nearest-train"]["mean"] == pytest.approx(0.05)
    assert gains["mask_iou"]["nearest-train"]["mean"] == pytest.approx((-0.1 + 0.3) / 2)
    for gap in (*gains["distance"].values(), *gains["mask_iou"].values()):
        assert gap["objects"] == 2 and gap["low"] <= gap["mean"] <= gap["high"]
    assert (gains["distance"]["input"]["low"], gains["distance"]["input"]["high"]) == pytest.approx((-0.3, -0.1))  # two objects: resampled means lie in {-0.3, -0.2, -0.1}


def test_eval_generate_on_fresh_objects_of_another_root(tiny_run, dense_chairs, tmp_path):
    from mvaug.data.synth.writer import SynthChairsConfig, synthesize_chairs

    fresh = tmp_path / "fresh"
    synthesize_chairs(fresh, SynthChairsConfig(models=2, dense=True, size=32, seed=77, split=(0.0, 0.0, 1.0)), progress=False)
    _, bank_path = build_bank(tiny_run, tmp_path / "bank.npz", dense_chairs, device="cpu", progress=False)
    summary = evaluate_generation(tiny_run, dense_chairs, tmp_path / "report", bank_path, distance="ssim", device="cpu", progress=False, held_out=fresh)
    rows = list(csv.DictReader((tmp_path / "report" / "per_view.csv").open()))
    assert summary["objects"] == 2 and summary["held_out"] == str(fresh)
    assert {r["object"] for r in rows} == {m.model_id for m in ShapeNetDataset.from_root(fresh, split="test").models}
    by_object = {obj: [float(r["generated_mask_iou"]) - float(r["nearest-train_mask_iou"]) for r in rows if r["object"] == obj] for obj in {r["object"] for r in rows}}
    expected = sum(sum(v) / len(v) for v in by_object.values()) / 2
    assert summary["paired"]["mask_iou"]["nearest-train"]["mean"] == pytest.approx(expected)
    assert "bootstrap interval over 2 objects" in (tmp_path / "report" / "report.md").read_text()
    with pytest.raises(DataError, match="of the held-out objects were trained on"):
        evaluate_generation(tiny_run, dense_chairs, tmp_path / "report2", bank_path, split="train", distance="ssim", device="cpu", progress=False)


def test_refined_codes_draw_the_generated_views(tiny_run, dense_chairs, tmp_path):
    bank_path = tiny_run / "bank.npz"
    plain = evaluate_generation(tiny_run, dense_chairs, tmp_path / "plain", bank_path, distance="ssim", device="cpu", progress=False)
    refined = evaluate_generation(tiny_run, dense_chairs, tmp_path / "refined", bank_path, distance="ssim", device="cpu", progress=False, refine_steps=10)
    assert (plain["refine_steps"], refined["refine_steps"]) == (0, 10)
    assert refined["overall"]["input"] == plain["overall"]["input"]  # the same inputs and real views
    assert refined["overall"]["generated"]["mean"] != plain["overall"]["generated"]["mean"]
