import pytest
import torch

from mvaug.data.shapenet import ShapeNetDataset, list_views, read_cameras
from mvaug.data.transforms import load_image
from mvaug.errors import DataError
from mvaug.multiview.retrieval import StyleIndex
from mvaug.multiview.synthesizer import MultiViewSynthesizer
from mvaug.multiview.views import camera_view, nearest_camera


@pytest.fixture(scope="module")
def synth(tiny_run):
    return MultiViewSynthesizer.from_run(tiny_run)


@pytest.fixture(scope="module")
def views(synth):
    return [v for v in synth.bank.views if v.has_camera][::10]  # a few bank views, both elevations


@pytest.fixture(scope="module")
def tolerance(synth):
    return float(synth.bank.notes.get("tolerance_deg", 0.5))


@pytest.fixture(scope="module")
def index(synth, views, tolerance, dense_chairs):
    return StyleIndex.build(dense_chairs, "train", views, tolerance, synth.model, batch=5)  # batches of 5: several, one short


def brute_force(synth, dense_chairs, view, tolerance, style):
    """The nearest training image at ``view``'s camera, one model and one image at a time."""
    best, best_distance = None, float("inf")
    for model in ShapeNetDataset.from_root(dense_chairs, split="train").models:
        paths = list_views(model.rendering_dir)
        at = nearest_camera(read_cameras(model.rendering_dir, len(paths))[:, :2], view, tolerance)
        if at is None:
            continue
        distance = float((synth.model.encode(load_image(paths[at], 32)[None])[0][0] - style).norm())
        if distance < best_distance:
            best, best_distance = paths[at], distance
    return best


def test_a_training_image_retrieves_itself(index, synth, views, tolerance, dense_chairs):
    for view in views[:3]:
        for path in index.paths[view.name]:
            style = synth.model.encode(load_image(path, 32)[None])[0][0]
            assert index.nearest(style, view.name) == path
            assert brute_force(synth, dense_chairs, view, tolerance, style) == path


def test_nearest_matches_a_brute_force_search(index, synth, views, tolerance, dense_chairs):
    held_out = ShapeNetDataset.from_root(dense_chairs, split="test").models
    for model in held_out:
        style = synth.model.encode(load_image(list_views(model.rendering_dir)[0], 32)[None])[0][0]
        for view in views:
            assert index.nearest(style, view.name) == brute_force(synth, dense_chairs, view, tolerance, style)
    noise = torch.randn(len(style), generator=torch.Generator().manual_seed(0))
    assert index.nearest(noise, views[1].name) == brute_force(synth, dense_chairs, views[1], tolerance, noise)


def test_index_holds_one_render_per_training_model_and_view(index, views, dense_chairs):
    train = ShapeNetDataset.from_root(dense_chairs, split="train").models
    assert index.folders == {m.rendering_dir.resolve() for m in train}
    for view in views:
        assert [p.parent for p in index.paths[view.name]] == [m.rendering_dir for m in train]
        assert index.styles(view.name).shape == (len(train), 16)


def test_a_view_without_renders_or_a_missing_split_is_refused(synth, views, tolerance, dense_chairs):
    with pytest.raises(DataError, match="bank view az007_el55: that view cannot be retrieved") as err:
        StyleIndex.build(dense_chairs, "train", [views[0], camera_view(7.0, 55.0)], tolerance, synth.model)
    assert str(dense_chairs) in str(err.value)
    with pytest.raises(DataError, match="no models in split val"):
        StyleIndex.build(dense_chairs, "val", views, tolerance, synth.model)


def test_only_the_views_asked_for_are_encoded(synth, views, tolerance, dense_chairs):
    index = StyleIndex.build(dense_chairs, "train", views, tolerance, synth.model)
    assert index.encoded == {} and set(index.paths) == {v.name for v in views}
    index.nearest(torch.zeros(16), views[2].name)
    assert list(index.encoded) == [views[2].name]


def test_the_style_alone_is_the_style_of_the_full_encoding(synth, dense_chairs):
    model = ShapeNetDataset.from_root(dense_chairs, split="train").models[0]
    images = torch.stack([load_image(p, 32) for p in list_views(model.rendering_dir)[:3]])
    assert torch.equal(synth.model.encode_style(images), synth.model.encode(images)[0])
    with pytest.raises(ValueError):
        synth.model.encode_style(images[:, :, :16])
