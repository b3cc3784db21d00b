"""Loaders of BFM 2009, 3DDFA (MVF-Net) and BFM 2017 files, on small files written in those formats."""

import h5py
import numpy as np
import pytest
import scipy.io
import torch

from mvaug.errors import DataError
from mvaug.faces.loaders import load_3ddfa, load_bfm2009, load_bfm2017, load_morphable_model

N, K_ID, K_EXP, F = 12, 4, 2, 9


@pytest.fixture
def source():
    """Model arrays in the files' conventions: flattened vertex-major xyz, micrometre-sized numbers."""
    rng = np.random.default_rng(3)
    return {
        "mean": rng.normal(size=3 * N) * 5e4,
        "basis": np.linalg.qr(rng.normal(size=(3 * N, K_ID)))[0],
        "std": rng.uniform(1e3, 5e3, K_ID),
        "mean_exp": rng.normal(size=3 * N) * 1e3,
        "basis_exp": rng.normal(size=(3 * N, K_EXP)),
        "std_exp": rng.uniform(1e2, 1e3, K_EXP),
        "tri": rng.integers(0, N, size=(F, 3)),
        "marks": rng.integers(0, N, size=68),
    }


def _expected(src, id_coef, exp_coef=None, unit=1.0):
    flat = src["mean"] + src["basis"] @ (id_coef * src["std"])
    if exp_coef is not None:
        flat = flat + src["mean_exp"] + src["basis_exp"] @ (exp_coef * src["std_exp"])
    return flat.reshape(N, 3) * unit


def _check_vertices(model, src, with_expression, unit):
    rng = np.random.default_rng(0)
    id_coef = rng.normal(size=K_ID)
    exp_coef = rng.normal(size=K_EXP) if with_expression else None
    got = model.vertices(torch.tensor(id_coef[None]), None if exp_coef is None else torch.tensor(exp_coef[None]))[0].double().numpy()
    np.testing.assert_allclose(got, _expected(src, id_coef, exp_coef, unit), rtol=1e-5, atol=1e-3)  # mm


def _write_bfm2009(path, src, drop=None, **replace):
    data = {"shapeMU": src["mean"][:, None], "shapePC": src["basis"], "shapeEV": src["std"][:, None], "tl": src["tri"] + 1,
            "texMU": np.zeros((3 * N, 1)), "texPC": np.zeros((3 * N, K_ID)), "texEV": np.zeros((K_ID, 1))}
    data.update(replace)
    data.pop(drop, None)
    scipy.io.savemat(path, data)
    return path


def _write_3ddfa(folder, src, sigma_in_expression=True):
    scipy.io.savemat(folder / "Model_Shape.mat", {"mu_shape": src["mean"][:, None], "w": src["basis"], "sigma": src["std"][:, None],
                                                   "tri": (src["tri"] + 1).T, "keypoints": (src["marks"] + 1)[None]})
    expression = {"mu_exp": src["mean_exp"][:, None], "w_exp": src["basis_exp"]}
    if sigma_in_expression:
        expression["sigma_exp"] = src["std_exp"][:, None]
    else:
        scipy.io.savemat(folder / "sigma_exp.mat", {"sigma_exp": src["std_exp"][:, None]})
    scipy.io.savemat(folder / "Model_Expression.mat", expression)
    return folder / "Model_Shape.mat"


def _write_bfm2017(path, src, drop=None):
    with h5py.File(path, "w") as f:
        items = {
            "shape/model/mean": src["mean"], "shape/model/pcaBasis": src["basis"], "shape/model/pcaVariance": src["std"] ** 2,
            "shape/representer/points": src["mean"].reshape(N, 3).T, "shape/representer/cells": src["tri"].T,
            "expression/model/mean": src["mean_exp"], "expression/model/pcaBasis": src["basis_exp"],
            "expression/model/pcaVariance": src["std_exp"] ** 2,
        }
        for key, value in items.items():
            if key != drop:
                f.create_dataset(key, data=value)
    return path


def test_bfm2009_round_trip_in_millimetres(tmp_path, source):
    path = _write_bfm2009(tmp_path / "01_MorphableModel.mat", source)
    model = load_bfm2009(path, landmark_indices=source["marks"])
    assert (model.id_count, model.exp_count, model.vertex_count) == (K_ID, 0, N)
    assert np.array_equal(model.triangles.numpy(), source["tri"])
    assert np.array_equal(model.landmark_indices.numpy(), source["marks"])
    _check_vertices(model, source, with_expression=False, unit=1e-3)
    assert load_morphable_model(path).name == "bfm2009"


def test_3ddfa_round_trip_with_sigma_exp_inside_or_beside(tmp_path, source):
    for inside in (True, False):
        folder = tmp_path / f"inside-{inside}"
        folder.mkdir()
        shape_path = _write_3ddfa(folder, source, sigma_in_expression=inside)
        model = load_3ddfa(shape_path)
        assert (model.id_count, model.exp_count) == (K_ID, K_EXP)
        assert np.array_equal(model.triangles.numpy(), source["tri"])
        assert np.array_equal(model.landmark_indices.numpy(), source["marks"])
        _check_vertices(model, source, with_expression=True, unit=1e-3)
        assert load_morphable_model(shape_path).name == "3ddfa-bfm"


def test_bfm2017_round_trip_with_variances(tmp_path, source):
    marks = tmp_path / "marks.txt"
    np.savetxt(marks, source["marks"], fmt="%d")
    path = _write_bfm2017(tmp_path / "model2017-1_bfm_nomouth.h5", source)
    model = load_morphable_model(path, landmark_indices=marks)
    assert model.name == "bfm2017" and (model.id_count, model.exp_count) == (K_ID, K_EXP)
    np.testing.assert_allclose(model.id_std.numpy(), source["std"], rtol=1e-6)
    assert np.array_equal(model.triangles.numpy(), source["tri"])
    assert np.array_equal(model.landmark_indices.numpy(), source["marks"])
    _check_vertices(model, source, with_expression=True, unit=1.0)


def test_missing_key_names_file_and_key(tmp_path, source):
    path = _write_bfm2009(tmp_path / "01_MorphableModel.mat", source, drop="shapeEV")
    with pytest.raises(DataError, match="missing key 'shapeEV'") as err:
        load_bfm2009(path)
    assert str(path) in str(err.value)
    folder = tmp_path / "dfa"
    folder.mkdir()
    shape_path = _write_3ddfa(folder, source, sigma_in_expression=False)
    (folder / "sigma_exp.mat").unlink()
    with pytest.raises(DataError, match="missing key 'sigma_exp'") as err:
        load_3ddfa(shape_path)
    assert "Model_Expression.mat" in str(err.value)
    h5 = _write_bfm2017(tmp_path / "m.h5", source, drop="shape/model/pcaVariance")
    with pytest.raises(DataError, match="missing key 'shape/model/pcaVariance'"):
        load_bfm2017(h5)


def test_wrong_shapes_and_indices_are_data_errors(tmp_path, source):
    path = _write_bfm2009(tmp_path / "a.mat", source, shapePC=source["basis"][:-3])
    with pytest.raises(DataError, match=r"key 'shapePC' has shape \(33, 4\), expected \(36, K\)") as err:
        load_bfm2009(path)
    assert "a.mat" in str(err.value)
    past_end = source["tri"] + 1
    past_end[0, 0] = N + 1  # 1-based index past the last vertex
    with pytest.raises(DataError, match=r"key 'tl' holds vertex indices outside \[0, 12\)"):
        load_bfm2009(_write_bfm2009(tmp_path / "b.mat", source, tl=past_end))
    path = _write_bfm2009(tmp_path / "c.mat", source, tl=np.zeros((F, 3)))  # 0-based file read as 1-based
    with pytest.raises(DataError, match="outside"):
        load_bfm2009(path)
    with pytest.raises(DataError, match="expected 68 landmark vertex indices, got 3"):
        load_bfm2009(_write_bfm2009(tmp_path / "d.mat", source), landmark_indices=[1, 2, 3])


def test_unrecognised_and_corrupt_files(tmp_path):
    scipy.io.savemat(tmp_path / "x.mat", {"something": np.zeros(3)})
    with pytest.raises(DataError, match="unrecognised .mat morphable model"):
        load_morphable_model(tmp_path / "x.mat")
    (tmp_path / "y.mat").write_bytes(b"garbage" * 20)
    with pytest.raises(DataError, match="not a readable .mat"):
        load_morphable_model(tmp_path / "y.mat")
    (tmp_path / "z.h5").write_bytes(b"garbage")
    with pytest.raises(DataError, match="not a readable HDF5"):
        load_morphable_model(tmp_path / "z.h5")
    (tmp_path / "w.ply").write_text("ply")
    with pytest.raises(DataError, match="unsupported morphable model file type"):
        load_morphable_model(tmp_path / "w.ply")
    with pytest.raises(DataError, match="not found"):
        load_morphable_model(tmp_path / "none.mat")
