import dataclasses

import numpy as np
import pytest
import torch

from mvaug.disentangle.data import load_image_set
from mvaug.disentangle.fusion import normalize_content
from mvaug.disentangle.trained import TrainedDisentangler
from mvaug.errors import ConfigError, DataError
from mvaug.multiview.bank import BankEntry, ContentBank, StyleNeighbours, build_bank_from_cameras, build_bank_from_exemplars, robust_mean
from mvaug.multiview.views import View, camera_view, training_cameras


def test_robust_mean_is_the_geometric_median():
    torch.manual_seed(0)
    cluster = torch.randn(50, 4) * 0.1
    codes = torch.cat([cluster, torch.full((5, 4), 40.0)])  # 5 far outliers
    median = robust_mean(codes)
    assert median.norm() < 0.2  # the mean would sit near 3.6
    assert codes.mean(0).norm() > 3.0

    def objective(p):
        return (codes - p).norm(dim=1).sum()

    for _ in range(20):  # no random nearby point has a smaller sum of distances
        assert objective(median) <= objective(median + 0.05 * torch.randn(4)) + 1e-4


@pytest.fixture(scope="module")
def model(tiny_run):
    return TrainedDisentangler.from_run(tiny_run)


@pytest.fixture(scope="module")
def train_images(dense_chairs):
    return load_image_set(dense_chairs, 32, progress=False)


def test_bank_from_a_camera_grid_has_every_view_and_a_median_of_its_images(model, train_images):
    bank = build_bank_from_cameras(model, train_images)
    assert len(bank.entries) == 62
    assert all(e.count == 2 for e in bank.entries)  # 2 training chairs per view
    cameras = training_cameras(train_images.kind, train_images.names)
    view = bank.entries[7].view
    members = np.flatnonzero(np.isclose(cameras[:, 0], view.azimuth, atol=0.01) & np.isclose(cameras[:, 1], view.elevation))
    projected = normalize_content(model.content_embeddings[torch.from_numpy(members)], "l2")
    expected = normalize_content(robust_mean(projected)[None], "l2")[0]
    assert torch.allclose(bank.codes[7], expected, atol=1e-5)
    assert torch.allclose(bank.codes.pow(2).mean(1), torch.ones(62), atol=1e-3)  # on the L2 prior's support


def test_style_neighbours_hold_each_objects_mean_style_and_its_codes_at_every_view(model, train_images, caplog):
    bank = build_bank_from_cameras(model, train_images, neighbours=1)
    found = bank.neighbours
    assert found.k == 1 and found.styles.shape == (2, 16) and found.codes.shape == (2, 62, 8)
    cameras = training_cameras(train_images.kind, train_images.names)
    view = bank.entries[7].view
    for row, obj in enumerate(train_images.identities.unique().tolist()):
        mine = (train_images.identities == obj).numpy()
        torch.testing.assert_close(found.styles[row], model.style_embeddings[torch.from_numpy(mine)].mean(0))
        (image,) = np.flatnonzero(mine & np.isclose(cameras[:, 0], view.azimuth, atol=0.01) & np.isclose(cameras[:, 1], view.elevation))
        projected = normalize_content(model.content_embeddings[image][None], "l2")  # one image per object and view on the grid
        torch.testing.assert_close(found.codes[row, 7], normalize_content(robust_mean(projected)[None], "l2")[0])
    for row in range(2):  # a style next to an object's draws that object's codes (k = 1)
        _, content = bank.content_for(found.styles[row][None] + 1e-3, None)
        torch.testing.assert_close(content[0], found.codes[row])
    with caplog.at_level("WARNING"):
        assert build_bank_from_cameras(model, train_images, neighbours=8).neighbours.k == 2  # as many as there are
    assert "2 style neighbours instead of 8" in caplog.text
    assert build_bank_from_cameras(model, train_images).neighbours is None  # the paper's bank unless asked
    with pytest.raises(DataError, match="--neighbours 0"):
        build_bank_from_cameras(model, dataclasses.replace(train_images, identities=None), neighbours=1)


def test_neighbour_content_is_the_median_of_the_nearest_objects():
    torch.manual_seed(0)
    styles, codes = torch.randn(7, 4), normalize_content(torch.randn(7 * 3, 6), "l2").view(7, 3, 6)
    found = StyleNeighbours(styles, codes, k=3)
    query = torch.randn(2, 4)
    out = found.content(query, [2, 0], "l2")
    assert out.shape == (2, 2, 6)
    for b in range(2):
        distances = [float((styles[m] - query[b]).norm()) for m in range(7)]
        nearest = sorted(range(7), key=distances.__getitem__)[:3]
        for j, v in enumerate([2, 0]):
            expected = normalize_content(robust_mean(codes[nearest, v])[None], "l2")[0]
            torch.testing.assert_close(out[b, j], expected)
    with pytest.raises(ValueError, match="k must be"):
        StyleNeighbours(styles, codes, k=8)


def test_bank_with_chosen_views_and_errors(model, train_images):
    bank = build_bank_from_cameras(model, train_images, [camera_view(0, 20), camera_view(180, 30)], tolerance=6.0)
    assert [e.view.name for e in bank.entries] == ["az000_el20", "az180_el30"]
    with pytest.raises(DataError, match="no training image within 0.5 degrees of az005_el20"):
        build_bank_from_cameras(model, train_images, [camera_view(5, 20)])
    with pytest.raises(ConfigError, match="has no camera"):
        build_bank_from_cameras(model, train_images, [View("left")])
    fewer = load_image_set(train_images.names[0].rsplit("/ShapeNetRendering", 1)[0], 32, limit=10, progress=False)
    with pytest.raises(DataError, match="learned codes for 124 images"):
        build_bank_from_cameras(model, fewer)


def test_bank_file_round_trip_and_run_check(model, train_images, tmp_path):
    bank = build_bank_from_cameras(model, train_images, neighbours=2)
    bank.save(tmp_path / "bank.npz")
    loaded = ContentBank.load(tmp_path / "bank.npz")
    assert torch.equal(loaded.codes, bank.codes) and loaded.entries == bank.entries
    assert loaded.neighbours.k == bank.neighbours.k
    torch.testing.assert_close(loaded.neighbours.styles, bank.neighbours.styles, atol=1e-3, rtol=1e-3)  # float16
    largest = bank.neighbours.codes.abs().amax(dim=2, keepdim=True)  # int8: within half a step of 1/127 of each code's largest entry
    assert ((loaded.neighbours.codes - bank.neighbours.codes).abs() <= largest / 254 + 1e-6).all()
    loaded.check_run(model.fingerprint, "run")
    with pytest.raises(DataError, match="belongs to the run"):
        loaded.check_run("0" * 16, "other-run", tmp_path / "bank.npz")
    views, codes = loaded.select([View("az012_el20"), View("az000_el30")])
    assert [v.azimuth for v in views] == pytest.approx([11.612903, 0.0]) and codes.shape == (2, 8)
    with pytest.raises(ConfigError, match="did you mean az012_el20"):
        loaded.select([View("az012_el2")])


def test_damaged_bank_files_are_named(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 nothing")
    with pytest.raises(DataError, match="junk.npz"):
        ContentBank.load(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", codes=np.zeros((1, 2)), header=np.array('{"format": "x"}'))
    with pytest.raises(DataError, match="not an mvaug-content-bank-v1"):
        ContentBank.load(tmp_path / "other.npz")
    with pytest.raises(DataError, match="not found"):
        ContentBank.load(tmp_path / "missing.npz")
    header = '{"format": "mvaug-content-bank-v1", "run": "r", "run_fingerprint": "f", "content_norm": "l2", "entries": [], "neighbours_k": 1}'
    np.savez(tmp_path / "half.npz", codes=np.zeros((0, 2), np.float32), header=np.array(header), neighbour_styles=np.zeros((1, 2), np.float16))
    with pytest.raises(DataError, match="half.npz.*style neighbours are incomplete"):
        ContentBank.load(tmp_path / "half.npz")
    np.savez(tmp_path / "float.npz", codes=np.zeros((0, 2), np.float32), header=np.array(header), neighbour_styles=np.zeros((1, 2), np.float16),
             neighbour_codes=np.zeros((1, 0, 2), np.float32), neighbour_scales=np.ones((1, 0), np.float32))
    with pytest.raises(DataError, match="not int8 codes"):
        ContentBank.load(tmp_path / "float.npz")


def test_bank_rejects_inconsistent_entries():
    with pytest.raises(ValueError, match="unique"):
        ContentBank([BankEntry(View("a"), "mean"), BankEntry(View("a"), "mean")], torch.zeros(2, 3), "r", "f", "l2")


def test_exemplar_bank_encodes_or_retrieves(model, train_images):
    exemplars = {"front": ("a.png", train_images.float_images(0)), "side": ("b.png", train_images.float_images(40))}
    encoded = build_bank_from_exemplars(model, exemplars, nearest=False)
    _, expected = model.encode(torch.stack([train_images.float_images(0), train_images.float_images(40)]))
    assert torch.allclose(encoded.codes, normalize_content(expected, "l2"), atol=1e-5)
    retrieved = build_bank_from_exemplars(model, exemplars, nearest=True)
    learned = normalize_content(model.content_embeddings, "l2")
    for code in retrieved.codes:  # each code is one of the learned codes
        assert torch.isclose((learned - code).norm(dim=1).min(), torch.tensor(0.0), atol=1e-5)
    assert [e.image for e in retrieved.entries] == ["a.png", "b.png"]


def test_robust_mean_of_a_batch_is_the_median_of_each_set():
    torch.manual_seed(1)
    codes = torch.randn(3, 2, 9, 5)
    codes[1, 0, :2] += 30.0  # outliers in one set only
    together = robust_mean(codes)
    assert together.shape == (3, 2, 5)
    for i in range(3):
        for j in range(2):
            torch.testing.assert_close(together[i, j], robust_mean(codes[i, j]), atol=1e-4, rtol=1e-4)


def test_training_codes_are_the_learned_ones_or_the_encoders(model, train_images):
    from mvaug.multiview.bank import training_codes

    styles, content = training_codes(model, train_images)
    assert styles is model.style_embeddings and content is model.content_embeddings
    amortised = dataclasses.replace(model, style_embeddings=None, content_embeddings=None)  # as the built-in models
    styles, content = training_codes(amortised, train_images)
    expected = model.encode(train_images.float_images(slice(100, 103)))
    torch.testing.assert_close(styles[100:103], expected[0])
    torch.testing.assert_close(content[100:103], expected[1])
    assert styles.shape == (len(train_images), 16)
