"""The shared camera model against real ShapeNet renders and voxels (and its own algebra)."""

import math

import numpy as np
import pytest

from mvaug.geometry.camera import BLENDER_FOV_DEG, ShapeNetCamera, read_rendering_metadata
from mvaug.geometry.silhouette import silhouette_agreement
from mvaug.io.binvox import read_binvox
from mvaug.io.images import read_image
from tests.conftest import REAL_MODELS


def _agreement(root, taxonomy, model):
    vox = read_binvox(root / f"ShapeNetVox32/{taxonomy}/{model}/model.binvox")
    render_dir = root / f"ShapeNetRendering/{taxonomy}/{model}/rendering"
    cameras = read_rendering_metadata(render_dir / "rendering_metadata.txt")
    results = []
    for view, camera in enumerate(cameras):
        alpha = read_image(render_dir / f"{view:02d}.png")[..., 3] > 0
        results.append(silhouette_agreement(vox.data, vox.scale, camera, alpha))
    return results


@pytest.mark.parametrize("taxonomy", ["02828884", "02958343"])
def test_real_voxels_project_onto_real_silhouettes(realdata, taxonomy):
    results = _agreement(realdata, taxonomy, REAL_MODELS[taxonomy])
    assert len(results) == 24
    for view, r in enumerate(results):
        assert r.inside >= 0.90, (view, r)
        assert r.coverage >= 0.95, (view, r)


def test_thin_categories_report_lower_but_aligned(realdata):
    """Lamp and aeroplane have parts thinner than a voxel: fattened, so 'inside' drops, coverage stays."""
    for taxonomy in ("02691156", "03636649"):
        results = _agreement(realdata, taxonomy, REAL_MODELS[taxonomy])
        assert np.mean([r.inside for r in results]) >= 0.75
        assert np.mean([r.coverage for r in results]) >= 0.95


def test_wrong_conventions_fail_the_check(realdata):
    """The check has teeth: a mirrored azimuth or the metadata's 25-degree fov breaks agreement."""
    taxonomy, model = "02958343", "sample-car"
    vox = read_binvox(realdata / f"ShapeNetVox32/{taxonomy}/{model}/model.binvox")
    render_dir = realdata / f"ShapeNetRendering/{taxonomy}/{model}/rendering"
    camera = read_rendering_metadata(render_dir / "rendering_metadata.txt")[2]  # azimuth 56: not symmetric
    alpha = read_image(render_dir / "02.png")[..., 3] > 0
    mirrored = ShapeNetCamera(-camera.azimuth, camera.elevation, 0, camera.distance_ratio)
    assert silhouette_agreement(vox.data, vox.scale, mirrored, alpha).inside < 0.8
    # a grid of side 1 instead of the header's scale overshoots the silhouette
    assert silhouette_agreement(vox.data, 1.0, camera, alpha).inside < 0.9


def test_projection_of_origin_and_axes():
    cam = ShapeNetCamera(azimuth=0, elevation=0, distance_ratio=1.0)
    np.testing.assert_allclose(cam.eye, [1.75, 0, 0], atol=1e-12)
    np.testing.assert_allclose(ShapeNetCamera(90, 0).eye, [0, 0, 1.75], atol=1e-12)
    uv, depth = cam.project(np.array([[0.0, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, 0.0, -0.1]]), 137)
    np.testing.assert_allclose(uv[0], [68.5, 68.5])
    assert depth[0] == pytest.approx(1.75)
    assert uv[1, 1] < 68.5  # +Y is up in the image
    assert uv[2, 0] > 68.5  # from +X, world -Z is to the right
    assert BLENDER_FOV_DEG == pytest.approx(49.134, abs=1e-3)


def test_rays_pass_through_projected_pixels():
    cam = ShapeNetCamera(azimuth=37.0, elevation=28.0, in_plane=12.0, distance_ratio=0.8)
    eye, dirs = cam.rays(16)
    assert dirs.shape == (16, 16, 3)
    point = eye + 1.3 * dirs[5, 11]
    uv, _ = cam.project(point[None], 16)
    np.testing.assert_allclose(uv[0], [11.5, 5.5], atol=1e-9)
    _, window = cam.rays(16, supersample=2, window=(6, 10, 3, 5))  # subpixels x 6..9, y 3..4
    _, full = cam.rays(16, supersample=2)
    np.testing.assert_allclose(window, full[3:5, 6:10])
    np.testing.assert_allclose(cam.rotation @ cam.rotation.T, np.eye(3), atol=1e-12)
    assert math.isclose(np.linalg.det(cam.rotation), 1.0)


def test_metadata_parse_and_errors(tmp_path, realdata):
    cams = read_rendering_metadata(realdata / "ShapeNetRendering/02828884/sample-bench/rendering/rendering_metadata.txt")
    assert cams[0].azimuth == pytest.approx(23.1629952007) and cams[0].metadata_fov == 25
    bad = tmp_path / "rendering_metadata.txt"
    bad.write_text("10 20 0 0.8\n")
    from mvaug.errors import DataError

    with pytest.raises(DataError, match="line 1 has 4 values"):
        read_rendering_metadata(bad)
    bad.write_text("10 twenty 0 0.8 25\n")
    with pytest.raises(DataError, match="not a number"):
        read_rendering_metadata(bad)
