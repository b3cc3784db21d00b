import csv
import json

import pytest

from mvaug.data.shapenet import ShapeNetDataset, list_views
from mvaug.data.transforms import load_image
from mvaug.evaluate.disentangle_metrics import silhouette_iou
from mvaug.evaluate.image_distance import ssim_distance
from mvaug.evaluate.generation import evaluate_generation
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
