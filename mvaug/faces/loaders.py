"""Readers for the morphable models users hold under licence; each returns a :class:`MorphableModel`.

Layouts (every flattened shape vector is vertex-major, ``x0 y0 z0 x1 y1 z1 ...``):

* Basel Face Model 2009, ``01_MorphableModel.mat`` (Paysan et al. 2009): ``shapeMU`` (3N, 1),
  ``shapePC`` (3N, K) orthonormal columns, ``shapeEV`` (K, 1) standard deviations, ``tl`` (F, 3)
  1-based triangles; micrometres. No expression part and no 68 landmarks.
* 3DDFA's ``Model_Shape.mat`` + ``Model_Expression.mat`` (Zhu et al. 2016; what MVF-Net uses):
  ``mu_shape`` (3N, 1), ``w`` (3N, 199), ``sigma`` (199, 1), ``tri`` (3, F) 1-based, ``keypoints``
  (1, 68) 1-based vertex indices; ``mu_exp`` (3N, 1, added to the mean), ``w_exp`` (3N, 29) and
  ``sigma_exp`` (29, 1), which MVF-Net ships as a separate ``sigma_exp.mat``; micrometres.
* Basel Face Model 2017, ``model2017-1_*.h5`` (Gerig et al. 2018, statismo layout):
  ``shape/model/mean`` (3N,), ``shape/model/pcaBasis`` (3N, K) orthonormal columns,
  ``shape/model/pcaVariance`` (K,) variances, ``shape/representer/points`` (3, N),
  ``shape/representer/cells`` (3, F) 0-based; the same under ``expression/``; millimetres.

Every model is converted to millimetres. Models without the 68 landmarks take them from
``landmark_indices`` (a sequence or a text file of 68 0-based vertex indices).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mvaug.errors import DataError
from mvaug.faces.morphable_model import LANDMARK_COUNT, MorphableModel

MICROMETRES_TO_MM = 1e-3
LandmarkSource = Sequence[int] | np.ndarray | str | os.PathLike | None


def load_morphable_model(
    path: str | os.PathLike, landmark_indices: LandmarkSource = None, sigma_exp_path: str | os.PathLike | None = None
) -> MorphableModel:
    """Read any supported model, chosen by content: our ``.npz``, BFM 2017 ``.h5``, BFM 2009 or 3DDFA ``.mat``.

    For 3DDFA pass ``Model_Shape.mat``; ``Model_Expression.mat`` (and ``sigma_exp.mat`` if the
    expression file lacks ``sigma_exp``) are read from the same folder unless ``sigma_exp_path`` is given.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("morphable model file not found", path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return MorphableModel.load(path)
    if suffix in (".h5", ".hdf5"):
        return load_bfm2017(path, landmark_indices)
    if suffix == ".mat":
        keys = _mat_keys(path)
        if "shapeMU" in keys:
            return load_bfm2009(path, landmark_indices)
        if "mu_shape" in keys:
            return load_3ddfa(path, path.with_name("Model_Expression.mat"), sigma_exp_path)
        raise DataError("unrecognised .mat morphable model: expected 'shapeMU' (BFM 2009) or 'mu_shape' (3DDFA Model_Shape.mat)", path)
    raise DataError(f"unsupported morphable model file type {suffix or '(none)'!r}; use .npz, .h5 or .mat", path)


def load_bfm2009(path: str | os.PathLike, landmark_indices: LandmarkSource = None) -> MorphableModel:
    """Basel Face Model 2009 (``01_MorphableModel.mat``); identity only, micrometres -> mm."""
    path = Path(path)
    data = _read_mat(path)
    mean = _array(data, "shapeMU", path, ("3N", 1))
    n3 = mean.size
    basis = _array(data, "shapePC", path, (n3, "K"))
    std = _array(data, "shapeEV", path, (basis.shape[1], 1))
    triangles = _triangles(_array(data, "tl", path, ("F", 3)), path, "tl", n3 // 3, one_based=True)
    return MorphableModel(
        mean=mean.reshape(-1, 3) * MICROMETRES_TO_MM,
        id_basis=_split_columns(basis),
        id_std=std.ravel() * MICROMETRES_TO_MM,
        exp_basis=np.zeros((0, n3 // 3, 3)),
        exp_std=np.zeros(0),
        triangles=triangles,
        landmark_indices=_landmarks(landmark_indices, n3 // 3),
        name="bfm2009",
        metadata={"source": path.name, "source_units": "micrometre"},
    )


def load_3ddfa(
    shape_path: str | os.PathLike, expression_path: str | os.PathLike | None = None, sigma_exp_path: str | os.PathLike | None = None
) -> MorphableModel:
    """3DDFA's BFM (``Model_Shape.mat`` + ``Model_Expression.mat``), as used by MVF-Net; micrometres -> mm."""
    shape_path = Path(shape_path)
    expression_path = Path(expression_path) if expression_path is not None else shape_path.with_name("Model_Expression.mat")
    shape = _read_mat(shape_path)
    mean = _array(shape, "mu_shape", shape_path, ("3N", 1))
    n3 = mean.size
    basis = _array(shape, "w", shape_path, (n3, "K_id"))
    std = _array(shape, "sigma", shape_path, (basis.shape[1], 1))
    triangles = _triangles(_array(shape, "tri", shape_path, (3, "F")).T, shape_path, "tri", n3 // 3, one_based=True)
    keypoints = _array(shape, "keypoints", shape_path, (1, LANDMARK_COUNT))
    landmarks = _index_array(keypoints.ravel() - 1, shape_path, "keypoints", n3 // 3)

    expression = _read_mat(expression_path)
    mean_exp = _array(expression, "mu_exp", expression_path, (n3, 1))
    basis_exp = _array(expression, "w_exp", expression_path, (n3, "K_exp"))
    if "sigma_exp" in expression:
        std_exp = _array(expression, "sigma_exp", expression_path, (basis_exp.shape[1], 1))
    else:
        sigma_path = Path(sigma_exp_path) if sigma_exp_path is not None else expression_path.with_name("sigma_exp.mat")
        if not sigma_path.is_file():
            raise DataError(f"missing key 'sigma_exp', and no {sigma_path.name} beside it to read it from", expression_path)
        std_exp = _array(_read_mat(sigma_path), "sigma_exp", sigma_path, (basis_exp.shape[1], 1))
    return MorphableModel(
        mean=(mean + mean_exp).reshape(-1, 3) * MICROMETRES_TO_MM,
        id_basis=_split_columns(basis),
        id_std=std.ravel() * MICROMETRES_TO_MM,
        exp_basis=_split_columns(basis_exp),
        exp_std=std_exp.ravel() * MICROMETRES_TO_MM,
        triangles=triangles,
        landmark_indices=landmarks,
        name="3ddfa-bfm",
        metadata={"source": [shape_path.name, expression_path.name], "source_units": "micrometre"},
    )


def load_bfm2017(path: str | os.PathLike, landmark_indices: LandmarkSource = None) -> MorphableModel:
    """Basel Face Model 2017 (``.h5``, statismo layout); variances -> standard deviations; millimetres."""
    path = Path(path)
    data = _read_h5(path)
    mean = _array(data, "shape/model/mean", path, ("3N",))
    n3 = mean.size
    _array(data, "shape/representer/points", path, (3, n3 // 3))
    basis = _array(data, "shape/model/pcaBasis", path, (n3, "K_id"))
    variance = _array(data, "shape/model/pcaVariance", path, (basis.shape[1],))
    triangles = _triangles(_array(data, "shape/representer/cells", path, (3, "F")).T, path, "shape/representer/cells", n3 // 3, one_based=False)
    if "expression/model/mean" in data:
        mean_exp = _array(data, "expression/model/mean", path, (n3,))
        basis_exp = _array(data, "expression/model/pcaBasis", path, (n3, "K_exp"))
        variance_exp = _array(data, "expression/model/pcaVariance", path, (basis_exp.shape[1],))
    else:
        mean_exp, basis_exp, variance_exp = np.zeros(n3), np.zeros((n3, 0)), np.zeros(0)
    for key, values in (("shape/model/pcaVariance", variance), ("expression/model/pcaVariance", variance_exp)):
        if np.any(values < 0):
            raise DataError(f"key '{key}' holds negative variances", path)
    return MorphableModel(
        mean=(mean + mean_exp).reshape(-1, 3),
        id_basis=_split_columns(basis),
        id_std=np.sqrt(variance),
        exp_basis=_split_columns(basis_exp),
        exp_std=np.sqrt(variance_exp),
        triangles=triangles,
        landmark_indices=_landmarks(landmark_indices, n3 // 3),
        name="bfm2017",
        metadata={"source": path.name, "source_units": "millimetre"},
    )


def _split_columns(basis: np.ndarray) -> np.ndarray:
    """(3N, K) columns of vertex-major xyz -> (K, N, 3)."""
    return basis.T.reshape(basis.shape[1], -1, 3)


def _mat_keys(path: Path) -> set[str]:
    import scipy.io

    try:
        return {name for name, _, _ in scipy.io.whosmat(path)}
    except NotImplementedError:
        raise DataError("MATLAB v7.3 (HDF5) .mat files are not supported; re-save it in MATLAB with save(..., '-v7')", path) from None
    except (OSError, ValueError, TypeError) as err:
        raise DataError(f"not a readable .mat file ({err})", path) from None


def _read_mat(path: Path) -> dict[str, np.ndarray]:
    import scipy.io

    if not path.is_file():
        raise DataError("morphable model file not found", path)
    try:
        data = scipy.io.loadmat(path)
    except NotImplementedError:
        raise DataError("MATLAB v7.3 (HDF5) .mat files are not supported; re-save it in MATLAB with save(..., '-v7')", path) from None
    except (OSError, ValueError, TypeError) as err:
        raise DataError(f"not a readable .mat file ({err})", path) from None
    return {key: value for key, value in data.items() if not key.startswith("__")}


def _read_h5(path: Path) -> dict[str, np.ndarray]:
    """Every dataset of an HDF5 file, keyed by its path without the leading '/'."""
    try:
        import h5py
    except ImportError:
        raise DataError("reading BFM 2017 .h5 files needs h5py: pip install h5py", path) from None
    arrays: dict[str, np.ndarray] = {}
    try:
        with h5py.File(path, "r") as handle:
            handle.visititems(lambda name, item: arrays.__setitem__(name, np.asarray(item)) if isinstance(item, h5py.Dataset) else None)
    except OSError as err:
        raise DataError(f"not a readable HDF5 file ({err})", path) from None
    return arrays


def _array(data: dict, key: str, path: Path, shape: tuple) -> np.ndarray:
    """``data[key]`` as float64 after checking its shape; string entries of ``shape`` match any size."""
    if key not in data:
        raise DataError(f"missing key '{key}'", path)
    try:
        array = np.asarray(data[key], dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"key '{key}' does not hold numbers", path) from None
    sizes = [s for s in shape]
    ok = array.ndim == len(sizes) and all(isinstance(s, str) or s == a for s, a in zip(sizes, array.shape))
    if ok and sizes[0] == "3N":
        ok = array.shape[0] % 3 == 0 and array.shape[0] > 0
    if not ok:
        expected = "(" + ", ".join(str(s) for s in sizes) + ("," if len(sizes) == 1 else "") + ")"
        raise DataError(f"key '{key}' has shape {array.shape}, expected {expected}", path)
    if not np.all(np.isfinite(array)):
        raise DataError(f"key '{key}' holds values that are not finite", path)
    return array


def _index_array(values: np.ndarray, path: Path | None, key: str, vertex_count: int) -> np.ndarray:
    if np.any(values != np.round(values)):
        raise DataError(f"key '{key}' holds indices that are not integers", path)
    index = values.astype(np.int64)
    if index.size and (index.min() < 0 or index.max() >= vertex_count):
        raise DataError(f"key '{key}' holds vertex indices outside [0, {vertex_count}) after conversion to 0-based", path)
    return index


def _triangles(values: np.ndarray, path: Path, key: str, vertex_count: int, one_based: bool) -> np.ndarray:
    return _index_array(values - 1 if one_based else values, path, key, vertex_count)


def _landmarks(source: LandmarkSource, vertex_count: int) -> np.ndarray | None:
    """68 0-based vertex indices from a sequence or a text file (whitespace-separated), or None."""
    if source is None:
        return None
    path = None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            values = np.loadtxt(path, dtype=np.float64).ravel()
        except (OSError, ValueError) as err:
            raise DataError(f"landmark index file is unreadable ({err})", path) from None
    else:
        values = np.asarray(source, dtype=np.float64).ravel()
    if values.size != LANDMARK_COUNT:
        raise DataError(f"expected {LANDMARK_COUNT} landmark vertex indices, got {values.size}", path)
    return _index_array(values, path, "landmark_indices", vertex_count)
