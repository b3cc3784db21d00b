"""The built-in procedural head: orthonormal bases, determinism, landmark layout, a closed mesh."""

import numpy as np
import pytest
import torch
import trimesh

from mvaug.faces.procedural import _build, _similarity_modes, procedural_head_model, sphere_grid


@pytest.fixture(scope="module")
def model():
    return procedural_head_model()


def test_bases_are_orthonormal_and_orthogonal_to_similarity_transforms(model):
    sim = torch.from_numpy(_similarity_modes(model.mean.double().numpy()))
    sim = sim / sim.norm(dim=1, keepdim=True)
    for basis in (model.id_basis, model.exp_basis):
        basis = basis.reshape(len(basis), -1).double()
        gram = basis @ basis.T
        torch.testing.assert_close(gram, torch.eye(len(gram), dtype=torch.float64), atol=1e-5, rtol=0)
        assert (basis @ sim.T).abs().max() < 1e-5
    assert model.id_count >= 30 and model.exp_count >= 10
    assert torch.all(model.id_std > 0) and torch.all(model.exp_std > 0)
    assert len(model.metadata["id_names"]) == model.id_count and model.metadata["synthetic"] is True


def test_one_standard_deviation_moves_vertices_by_millimetres(model):
    for basis, std in ((model.id_basis, model.id_std), (model.exp_basis, model.exp_std)):
        peak = (basis * std[:, None, None]).norm(dim=2).amax(dim=1)  # (K,) largest vertex displacement
        assert torch.all(peak > 0.5) and torch.all(peak < 25.0), peak


def test_build_is_deterministic(model, tmp_path):
    again = _build()
    for key in ("mean", "id_basis", "id_std", "exp_basis", "exp_std", "triangles", "landmark_indices"):
        assert torch.equal(getattr(again, key), getattr(model, key)), key
    model.save(tmp_path / "a.npz")
    again.save(tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


def test_mesh_is_closed_and_outward(model):
    mesh = trimesh.Trimesh(model.mean.numpy(), model.triangles.numpy(), process=False)
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
    assert mesh.euler_number == 2
    assert 3000 <= model.vertex_count <= 8000
    dirs, triangles = sphere_grid(6, 8, 1.0)
    sphere = trimesh.Trimesh(dirs, triangles, process=False)
    assert sphere.is_watertight and sphere.volume > 0


def test_landmarks_follow_the_ibug_layout(model):
    idx = model.landmark_indices.numpy()
    assert len(set(idx.tolist())) == 68
    p = model.mean.numpy()[idx]  # (68, 3); x to the subject's left = image right
    jaw = p[:17]
    np.testing.assert_allclose(jaw[:, 0], -jaw[::-1, 0], atol=1.5)  # mirror pairs 0-16, 1-15, ...
    np.testing.assert_allclose(jaw[:, 1], jaw[::-1, 1], atol=1.5)
    assert abs(jaw[8, 0]) < 1.0 and jaw[8, 1] == jaw[:, 1].min()  # chin: lowest, centred
    assert np.all(np.diff(jaw[2:9, 0]) > 0) and jaw[0, 0] < jaw[4, 0]  # left-to-right in the image up to the chin
    assert np.argmax(p[:, 2]) == 30  # the nose tip is frontmost
    assert np.all(np.diff(p[27:31, 1]) < 0)  # nose bridge runs downwards
    brows, eyes, mouth = p[17:27], p[36:48], p[48:68]
    assert brows[:, 1].min() > eyes[:, 1].max() > p[30, 1] > mouth[:, 1].max() > jaw[8, 1]
    assert p[36, 0] < p[39, 0] < 0 < p[42, 0] < p[45, 0]  # outer/inner eye corners
    assert p[48, 0] < p[51, 0] < p[54, 0] and p[51, 1] > p[57, 1]  # mouth corners, upper over lower lip
    np.testing.assert_allclose(p[17:22, 0], -p[26:21:-1, 0], atol=1.5)  # brows mirror each other


def test_expression_moves_the_mouth_not_the_ears(model):
    names = model.metadata["exp_names"]
    coef = torch.zeros(1, model.exp_count)
    coef[0, names.index("jaw_open")] = 2.0
    offset = (model.vertices(torch.zeros(1, model.id_count), coef) - model.mean)[0]
    idx = model.landmark_indices
    lip_gap = offset[idx[57], 1] - offset[idx[51], 1]  # lower lip relative to upper lip, along y
    chin_drop = offset[idx[8], 1] - offset[idx[27], 1]  # chin relative to nose bridge
    assert lip_gap < -3.0 and chin_drop < -8.0, (lip_gap, chin_drop)
