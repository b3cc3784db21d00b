"""MorphableModel: batched vertices against a naive reference, landmarks, save/load and its errors."""

import numpy as np
import pytest
import torch

from mvaug.errors import DataError
from mvaug.faces.morphable_model import MorphableModel


def _random_model(seed=0, n=40, k_id=5, k_exp=3, landmarks=True) -> MorphableModel:
    rng = np.random.default_rng(seed)
    return MorphableModel(
        mean=rng.normal(size=(n, 3)) * 50,
        id_basis=rng.normal(size=(k_id, n, 3)),
        id_std=rng.uniform(1, 5, k_id),
        exp_basis=rng.normal(size=(k_exp, n, 3)),
        exp_std=rng.uniform(0.5, 2, k_exp),
        triangles=rng.integers(0, n, size=(30, 3)),
        landmark_indices=rng.choice(n, 68) if landmarks else None,
        name="random",
        metadata={"note": "test"},
    )


def _naive_vertices(model: MorphableModel, id_coef: np.ndarray, exp_coef: np.ndarray) -> np.ndarray:
    mean, ids, id_std = model.mean.numpy(), model.id_basis.numpy(), model.id_std.numpy()
    exps, exp_std = model.exp_basis.numpy(), model.exp_std.numpy()
    out = np.zeros((len(id_coef), *mean.shape))
    for b in range(len(id_coef)):
        shape = mean.astype(np.float64).copy()
        for k in range(len(id_std)):
            shape += id_coef[b, k] * id_std[k] * ids[k]
        for k in range(len(exp_std)):
            shape += exp_coef[b, k] * exp_std[k] * exps[k]
        out[b] = shape
    return out


def test_vertices_match_a_per_sample_reference():
    model = _random_model()
    rng = np.random.default_rng(1)
    id_coef, exp_coef = rng.normal(size=(4, 5)), rng.normal(size=(4, 3))
    got = model.vertices(torch.tensor(id_coef), torch.tensor(exp_coef)).numpy()
    np.testing.assert_allclose(got, _naive_vertices(model, id_coef, exp_coef), rtol=1e-4, atol=1e-3)
    neutral = model.vertices(torch.tensor(id_coef)).numpy()
    np.testing.assert_allclose(neutral, _naive_vertices(model, id_coef, np.zeros((4, 3))), rtol=1e-4, atol=1e-3)


def test_landmarks_are_the_landmark_vertices():
    model = _random_model()
    coef = torch.randn(3, 5), torch.randn(3, 3)
    full = model.vertices(*coef)
    torch.testing.assert_close(model.landmarks(*coef), full[:, model.landmark_indices], rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="no landmark indices"):
        _random_model(landmarks=False).landmarks(*coef)


def test_coefficient_shapes_are_checked():
    model = _random_model()
    with pytest.raises(ValueError, match=r"id_coef must have shape \(B, 5\), got \(3, 4\)"):
        model.vertices(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="same batch size"):
        model.vertices(torch.zeros(3, 5), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"id_basis must have shape"):
        MorphableModel(np.zeros((4, 3)), np.zeros((2, 5, 3)), np.ones(2), np.zeros((0, 4, 3)), np.zeros(0), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="triangles must index"):
        MorphableModel(np.zeros((4, 3)), np.zeros((2, 4, 3)), np.ones(2), np.zeros((0, 4, 3)), np.zeros(0), [[0, 1, 4]])


def test_save_load_round_trip_is_exact_and_reproducible(tmp_path):
    model = _random_model()
    model.save(tmp_path / "a.npz")
    model.save(tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    back = MorphableModel.load(tmp_path / "a.npz")
    for key in ("mean", "id_basis", "id_std", "exp_basis", "exp_std", "triangles", "landmark_indices"):
        assert torch.equal(getattr(back, key), getattr(model, key)), key
    assert back.name == "random" and back.metadata == {"note": "test"}
    no_marks = _random_model(landmarks=False)
    no_marks.save(tmp_path / "c.npz")
    assert MorphableModel.load(tmp_path / "c.npz").landmark_indices is None
    assert np.load(tmp_path / "a.npz")["mean"].shape == (40, 3)  # plain numpy can read it


def test_to_device_keeps_values():
    model = _random_model()
    moved = model.to("cpu")
    assert moved is not model and torch.equal(moved.id_basis, model.id_basis) and moved.device.type == "cpu"


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="not found") as err:
        MorphableModel.load(tmp_path / "missing.npz")
    assert "missing.npz" in str(err.value)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable"):
        MorphableModel.load(tmp_path / "junk.npz")
    np.savez(tmp_path / "foreign.npz", mean=np.zeros((3, 3)))
    with pytest.raises(DataError, match="no 'header'"):
        MorphableModel.load(tmp_path / "foreign.npz")
    np.savez(tmp_path / "other.npz", header=np.array(['{"format": "something-else"}']))
    with pytest.raises(DataError, match="something-else"):
        MorphableModel.load(tmp_path / "other.npz")
    model = _random_model()
    model.save(tmp_path / "good.npz")
    data = dict(np.load(tmp_path / "good.npz"))
    data["id_std"] = np.ones(7)
    np.savez(tmp_path / "bad.npz", **data)
    with pytest.raises(DataError, match=r"id_std must have shape \(5,\)") as err:
        MorphableModel.load(tmp_path / "bad.npz")
    assert "bad.npz" in str(err.value)
