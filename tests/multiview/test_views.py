import numpy as np
import pytest

from mvaug.errors import ConfigError
from mvaug.multiview.views import angular_gap, camera_view, parse_view, parse_views, training_cameras, view_name


def test_view_names_round_and_wrap():
    assert view_name(11.612903, 20.0) == "az012_el20"
    assert view_name(-30.0, 30.0) == "az330_el30"
    assert view_name(359.7, -10.0) == "az000_el-10"
    view = camera_view(370.0, 25.0)
    assert view.azimuth == pytest.approx(10.0) and view.name == "az010_el25"


def test_parse_view_forms():
    assert parse_view("az030_el20") == camera_view(30.0, 20.0)
    plain = parse_view("left")
    assert plain.name == "left" and not plain.has_camera
    assert [v.name for v in parse_views("az000_el20, front")] == ["az000_el20", "front"]
    assert parse_views(None) is None
    with pytest.raises(ConfigError, match="names no view"):
        parse_views(" , ")
    with pytest.raises(ConfigError, match="azAAA_elEE"):
        parse_view("a view")


def test_angular_gap_wraps_around():
    assert angular_gap(np.array([350.0, 10.0, 180.0]), 0.0) == pytest.approx([10.0, 10.0, 180.0])


def test_training_cameras_read_the_metadata(dense_chairs):
    from mvaug.disentangle.data import load_image_set

    images = load_image_set(dense_chairs, 32, progress=False)
    cameras = training_cameras(images.kind, images.names)
    assert cameras.shape == (len(images), 2)
    manifest_views = images.views.numpy()  # dense grid: view label = file number
    import json

    dense = json.loads((dense_chairs / "synth_manifest.json").read_text())["dense_views"]
    expected = np.array([[dense[v]["azimuth"], dense[v]["elevation"]] for v in manifest_views])
    assert np.allclose(cameras, expected, atol=1e-4)
    assert training_cameras("folder", images.names) is None


def test_training_cameras_of_3d_chairs_come_from_the_file_names(tmp_path):
    from mvaug.data.chairs3d import Chairs3DDataset
    from tests.data.test_chairs3d import CHAIRS, make_chairs

    renders = Chairs3DDataset(make_chairs(tmp_path), image_size=None).renders
    cameras = training_cameras("chairs3d", [str(r.path) for r in renders])
    expected = [(az, el) for views in CHAIRS.values() for el, az in views]
    assert sorted(map(tuple, cameras.tolist())) == sorted(expected)


def test_training_cameras_of_synthetic_faces_are_the_pose_grid(tmp_path):
    from mvaug.disentangle.data import load_image_set
    from mvaug.faces.dataset import read_face_manifest
    from mvaug.faces.synth import SynthFacesConfig, synthesize_faces

    root = tmp_path / "faces"
    synthesize_faces(root, SynthFacesConfig(identities=2, size=32, yaws=(-45.0, 0.0, 45.0), pitches=(0.0, 20.0), split=(0.5, 0.0, 0.5)), progress=False)
    images = load_image_set(root, 32, progress=False)
    assert images.kind == "faces" and len(images) == 6
    cameras = training_cameras(images.kind, images.names)
    grid = read_face_manifest(root)["views"]
    expected = [[grid[v]["yaw"], grid[v]["pitch"]] for v in images.views.tolist()]
    assert cameras.tolist() == expected
    assert sorted(set(map(tuple, cameras.tolist()))) == [(-45.0, 0.0), (-45.0, 20.0), (0.0, 0.0), (0.0, 20.0), (45.0, 0.0), (45.0, 20.0)]
