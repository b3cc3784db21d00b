import numpy as np
import pytest
import torch

from mvaug.disentangle.data import load_image_set
from mvaug.disentangle.fusion import normalize_content
from mvaug.disentangle.trained import TrainedDisentangler
from mvaug.errors import ConfigError, DataError
from mvaug.multiview.bank import BankEntry, ContentBank, build_bank_from_cameras, build_bank_from_exemplars, robust_mean
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
    bank = build_bank_from_cameras(model, train_images)
    bank.save(tmp_path / "bank.npz")
    loaded = ContentBank.load(tmp_path / "bank.npz")
    assert torch.equal(loaded.codes, bank.codes) and loaded.entries == bank.entries
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
