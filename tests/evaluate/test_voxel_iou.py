import numpy as np
import pytest
import torch

from mvaug.evaluate.voxel_iou import (
    DEFAULT_THRESHOLDS,
    evaluate_pairs,
    find_prediction_pairs,
    format_category_table,
    mean_iou_by_category,
    voxel_iou,
)
from mvaug.io.binvox import read_binvox


def _naive_iou(pred: np.ndarray, gt: np.ndarray, threshold: float) -> float:
    """Reference: visit every voxel of one grid in Python."""
    inter = union = 0
    for p, g in zip(pred.ravel().tolist(), gt.ravel().tolist()):
        b = p >= threshold
        inter += b and g
        union += b or g
    return 1.0 if union == 0 else inter / union


def _grid(shape=(3, 3, 3), on=(), value=1.0) -> np.ndarray:
    grid = np.zeros(shape)
    for idx in on:
        grid[idx] = value
    return grid


def test_two_of_three_overlap():
    gt = _grid(on=[(0, 0, 0), (1, 1, 1), (2, 2, 2)]).astype(bool)
    subset = _grid(on=[(0, 0, 0), (1, 1, 1)])
    shifted = _grid(on=[(0, 0, 0), (1, 1, 1), (0, 2, 0)])
    np.testing.assert_allclose(voxel_iou(subset, gt, (0.5,)), [2 / 3])
    np.testing.assert_allclose(voxel_iou(shifted, gt, (0.5,)), [2 / 4])


def test_thresholds_split_a_probability_grid():
    gt = _grid(on=[(0, 0, 0), (0, 0, 1)]).astype(bool)
    pred = np.zeros((3, 3, 3))
    pred[0, 0, 0], pred[0, 0, 1], pred[0, 0, 2], pred[0, 1, 0] = 0.9, 0.3, 0.25, 0.1
    # t=0.2 keeps 0.9, 0.3, 0.25 (one false positive); t=0.3 keeps 0.3 itself (pred >= t); t>=0.4 loses it
    np.testing.assert_allclose(voxel_iou(pred, gt), [2 / 3, 1.0, 1 / 2, 1 / 2])


def test_empty_union_is_one_and_empty_prediction_is_zero():
    empty = np.zeros((2, 4, 4, 4))
    np.testing.assert_array_equal(voxel_iou(empty, empty.astype(bool)), np.ones((2, 4)))
    below = np.full((4, 4, 4), 0.1)  # below every threshold, against empty ground truth
    np.testing.assert_array_equal(voxel_iou(below, np.zeros((4, 4, 4), bool)), np.ones(4))
    gt = _grid(shape=(4, 4, 4), on=[(1, 2, 3)]).astype(bool)
    np.testing.assert_array_equal(voxel_iou(np.zeros((4, 4, 4)), gt), np.zeros(4))


def test_matches_naive_reference_on_random_grids():
    rng = np.random.default_rng(1)
    pred = rng.random((5, 6, 6, 6))
    gt = rng.random((5, 6, 6, 6)) < 0.3
    got = voxel_iou(pred, gt)
    assert got.shape == (5, 4) and got.dtype == np.float64
    want = [[_naive_iou(p, g, t) for t in DEFAULT_THRESHOLDS] for p, g in zip(pred, gt)]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_batched_equals_one_at_a_time_and_bool_predictions():
    rng = np.random.default_rng(2)
    pred, gt = rng.random((4, 8, 8, 8)), rng.random((4, 8, 8, 8)) < 0.5
    batched = voxel_iou(pred, gt, (0.3, 0.7))
    np.testing.assert_array_equal(batched, np.stack([voxel_iou(p, g, (0.3, 0.7)) for p, g in zip(pred, gt)]))
    np.testing.assert_array_equal(voxel_iou(pred >= 0.7, gt.astype(np.float32), (0.5,))[:, 0], batched[:, 1])


def test_torch_agrees_with_numpy_and_keeps_kind_and_device():
    rng = np.random.default_rng(3)
    pred, gt = rng.random((3, 8, 8, 8)).astype(np.float32), rng.random((3, 8, 8, 8)) < 0.4
    expected = voxel_iou(pred, gt)
    got = voxel_iou(torch.from_numpy(pred), torch.from_numpy(gt))
    assert isinstance(got, torch.Tensor) and got.shape == (3, 4) and got.device == torch.device("cpu")
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)
    single = voxel_iou(torch.from_numpy(pred[1]), gt[1].astype(np.float32))  # numpy gt follows the tensor
    assert single.shape == (4,)
    np.testing.assert_allclose(single.numpy(), expected[1], rtol=1e-6)


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 4, 4, 4\).*\(2, 4, 4, 5\)"):
        voxel_iou(np.zeros((2, 4, 4, 4)), np.zeros((2, 4, 4, 5), bool))
    with pytest.raises(ValueError, match=r"\(4, 4\)"):
        voxel_iou(np.zeros((4, 4)), np.zeros((4, 4), bool))


def test_ground_truth_must_be_occupancy():
    with pytest.raises(ValueError, match="occupancy"):
        voxel_iou(np.zeros((4, 4, 4)), np.full((4, 4, 4), 0.7))


def test_category_means_and_count_weighted_overall():
    ious = np.array([[1.0, 0.5], [0.0, 0.5], [0.5, 1.0]])
    summary = mean_iou_by_category(ious, ["02691156", "02958343", "02691156"])
    np.testing.assert_allclose(summary["per_category"]["02691156"], [0.75, 0.75])
    np.testing.assert_allclose(summary["per_category"]["02958343"], [0.0, 0.5])
    assert summary["counts"] == {"02691156": 2, "02958343": 1} and summary["total"] == 3
    # weighted by counts: (2 * 0.75 + 1 * 0.0) / 3, not the unweighted (0.75 + 0.0) / 2
    np.testing.assert_allclose(summary["overall"], [0.5, 2 / 3])


def test_category_table_text_and_markdown():
    summary = mean_iou_by_category(np.array([[0.8, 0.6], [0.4, 0.2], [0.1, 0.1]]), ["03001627", "03001627", "99999999"])
    text = format_category_table(summary, (0.3, 0.5)).splitlines()
    assert text[0].split() == ["Category", "IoU@0.3", "IoU@0.5", "n"]
    assert text[2].split() == ["03001627", "chair", "0.6000", "0.4000", "2"]
    assert text[3].split() == ["99999999", "0.1000", "0.1000", "1"]  # unknown taxonomy: id only
    assert text[4].split() == ["Overall", "0.4333", "0.3000", "3"]
    assert len({len(line) for line in text}) == 1  # aligned columns
    markdown = format_category_table(summary, (0.3, 0.5), style="markdown").splitlines()
    assert all(line.startswith("| ") and line.endswith(" |") for line in markdown)
    rule = [c.strip() for c in markdown[1].strip("|").split("|")]
    assert rule[0].startswith(":-") and all(c.endswith("-:") for c in rule[1:])  # category left, numbers right
    assert [c.strip() for c in markdown[-1].strip("|").split("|")] == ["Overall", "0.4333", "0.3000", "3"]


def test_real_predictions_equal_naive_reference(realdata):
    pairs = find_prediction_pairs(realdata / "predictions", realdata / "ShapeNetVox32")
    assert len(pairs) == 10
    ious = evaluate_pairs(pairs)
    for pair, row in zip(pairs, ious):
        pred, gt = read_binvox(pair.prediction).data, read_binvox(pair.ground_truth).data
        assert row == pytest.approx([_naive_iou(pred, gt, t) for t in DEFAULT_THRESHOLDS], rel=1e-12)


def test_real_predictions_are_stored_with_y_and_z_swapped(realdata):
    """The Pix2Vox port wrote [x, y, z] arrays without binvox's x-z-y file order: as stored they barely
    overlap the ground truth; read as 'xzy' they score like a working Pix2Vox."""
    pairs = find_prediction_pairs(realdata / "predictions", realdata / "ShapeNetVox32")
    as_stored = evaluate_pairs(pairs, (0.5,))[:, 0]
    repaired = evaluate_pairs(pairs, (0.5,), pred_axes="xzy")[:, 0]
    assert as_stored.mean() < 0.2
    assert np.all(repaired > 0.5) and np.all(repaired < 0.95) and np.all(repaired > as_stored + 0.3)


def test_device_path_matches_numpy_path():
    """The float-reduction path used for CUDA tensors, run on CPU tensors, equals the numpy path."""
    import torch

    from mvaug.geometry.voxel_iou import _iou_numpy, _iou_torch

    rng = np.random.default_rng(5)
    pred = rng.random((7, 8, 8, 8)).astype(np.float32)
    gt = rng.random((7, 8, 8, 8)) < 0.3
    gt[3] = False
    pred[3] = 0.0  # both empty: IoU 1
    expected = _iou_numpy(pred, gt, (0.2, 0.5, 0.9))
    got = _iou_torch(torch.from_numpy(pred), torch.from_numpy(gt), (0.2, 0.5, 0.9))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)
    assert expected[3].tolist() == [1.0, 1.0, 1.0]
