import numpy as np
import pytest
import trimesh

from mvaug.geometry.camera import ShapeNetCamera
from mvaug.render.raycast import MeshRenderer


def _naive_hit_mask(vertices, faces, camera, size):
    """Reference: Möller-Trumbore test of every pixel-centre ray against every triangle."""
    eye, dirs = camera.rays(size, 1)
    d = dirs.reshape(-1, 3)
    hit = np.zeros(len(d), dtype=bool)
    for tri in vertices[faces]:
        e1, e2 = tri[1] - tri[0], tri[2] - tri[0]
        p = np.cross(d, e2)
        det = p @ e1
        ok = np.abs(det) > 1e-12
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        s = eye - tri[0]
        u = (p @ s) * inv
        q = np.cross(s, e1)
        v = (d @ q) * inv
        t = (q @ e2) * inv
        hit |= ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)
    return hit.reshape(size, size)


@pytest.fixture
def chair_like():
    parts = [
        trimesh.creation.box((0.5, 0.06, 0.5)),
        trimesh.creation.box((0.06, 0.5, 0.5)).apply_translation((-0.22, 0.28, 0.0)),
        trimesh.creation.icosphere(2, 0.12).apply_translation((0.1, -0.2, 0.1)),
    ]
    mesh = trimesh.util.concatenate(parts)
    mesh.apply_translation(-mesh.bounds.mean(0))
    return mesh


@pytest.mark.parametrize("azimuth", [0.0, 73.0, 200.0])
def test_silhouette_matches_naive_ray_triangle_reference(chair_like, azimuth):
    camera = ShapeNetCamera(azimuth, 28.0, 0.0, 0.7)
    renderer = MeshRenderer(chair_like.vertices, chair_like.faces, nthreads=1)
    alpha = renderer.render(camera, 48, supersample=1)[..., 3]
    reference = _naive_hit_mask(chair_like.vertices, chair_like.faces, camera, 48)
    assert reference.sum() > 100
    mismatch = (alpha > 0) != reference
    assert mismatch.sum() <= 2, f"{mismatch.sum()} pixels differ"  # rays grazing an edge may differ


def test_footprint_window_changes_nothing(chair_like, monkeypatch):
    camera = ShapeNetCamera(120.0, 25.0, 0.0, 0.8)
    renderer = MeshRenderer(chair_like.vertices, chair_like.faces)
    windowed = renderer.render(camera, 64)
    monkeypatch.setattr(MeshRenderer, "_footprint", lambda self, cam, size: (0, size, 0, size))
    np.testing.assert_array_equal(windowed, renderer.render(camera, 64))


def test_background_transparent_and_edges_antialiased(chair_like):
    image = MeshRenderer(chair_like.vertices, chair_like.faces).render(ShapeNetCamera(40.0, 25.0, 0.0, 0.8), 96, supersample=3)
    alpha = image[..., 3]
    assert alpha[0, 0] == 0 and alpha[-1, -1] == 0
    assert np.all(image[alpha == 0, :3] == 0)
    partial = (alpha > 0) & (alpha < 255)
    assert partial.sum() > 20  # supersampling gives fractional coverage on edges


def test_lambertian_shading_follows_the_key_light():
    """A face turned towards the camera-frame key light (upper left) is brighter than one turned away."""
    box = trimesh.creation.box((0.4, 0.4, 0.4))
    colors = np.full((len(box.faces), 4), 200, dtype=np.uint8)
    renderer = MeshRenderer(box.vertices, box.faces, colors)
    camera = ShapeNetCamera(45.0, 30.0, 0.0, 0.8)
    image = renderer.render(camera, 64, supersample=1).astype(int)
    top = image[20, 32, :3].mean()  # the top face (+Y) is lit by the key and the sky light
    # the two side faces: +X appears left, +Z right (azimuth 45); the key light comes from the left
    left, right = image[40, 22, :3].mean(), image[40, 42, :3].mean()
    assert image[20, 32, 3] == 255 and image[40, 22, 3] == 255 and image[40, 42, 3] == 255
    assert top > right and left > right


def test_face_colors_are_kept(chair_like):
    colors = np.zeros((len(chair_like.faces), 4), dtype=np.uint8)
    colors[:, 0] = 230  # pure red material
    colors[:, 3] = 255
    image = MeshRenderer(chair_like.vertices, chair_like.faces, colors).render(ShapeNetCamera(30, 25, 0, 0.8), 64)
    solid = image[image[..., 3] == 255]
    assert solid[:, 0].min() > 50 and solid[:, 1].max() == 0 and solid[:, 2].max() == 0


def test_studio_lighting_keeps_the_silhouette_and_shades_round_and_textured():
    from mvaug.render.raycast import StudioLighting

    cylinder = trimesh.creation.cylinder(0.2, 0.6, sections=24)
    renderer = MeshRenderer(cylinder.vertices, cylinder.faces, np.full((len(cylinder.faces), 3), 0.7),
                            face_kinds=np.full(len(cylinder.faces), "wood"))
    camera = ShapeNetCamera(30.0, 25.0, 0.0, 0.8)
    flat, real = renderer.render(camera, 64), renderer.render(camera, 64, lighting=StudioLighting())
    np.testing.assert_array_equal(flat[..., 3], real[..., 3])
    assert not np.array_equal(flat[..., :3], real[..., :3])
    side = real[40, 20:44][real[40, 20:44, 3] == 255, :3].astype(int).sum(1)
    assert len(set(side.tolist())) > 10  # a round side under smooth shading and grain, not a few flat facets


def test_corner_normals_keep_creases_and_smooth_curves():
    from mvaug.render.raycast import corner_normals

    box = trimesh.creation.box((0.4, 0.4, 0.4))
    normals = corner_normals(box.vertices, box.faces)
    np.testing.assert_allclose(normals, np.repeat(box.face_normals[:, None], 3, axis=1), atol=1e-6)
    cylinder = trimesh.creation.cylinder(0.2, 0.6, sections=24)
    normals = corner_normals(cylinder.vertices, cylinder.faces)
    side = np.abs(cylinder.face_normals[:, 2]) < 0.5  # the side, not the caps
    corners = cylinder.vertices[cylinder.faces[side]]
    radial = corners * [1, 1, 0] / np.linalg.norm(corners[..., :2], axis=-1, keepdims=True)
    # every corner's normal points (nearly: area weights of the unevenly split quads) straight out, not the face's way
    assert np.einsum("fcd,fcd->fc", normals[side], radial).min() > np.cos(np.radians(4))
    np.testing.assert_allclose(normals[~side], np.repeat(cylinder.face_normals[~side, None], 3, axis=1), atol=1e-6)


def test_textures_vary_across_a_face_and_unknown_kinds_are_refused():
    from mvaug.render.raycast import MATERIAL_KINDS, material_texture

    points = np.random.default_rng(0).uniform(-0.5, 0.5, (500, 3)).astype(np.float32)
    axes = np.tile(np.float32([0, 0, 1]), (500, 1))
    for kind in MATERIAL_KINDS:
        factor = material_texture(np.full(500, MATERIAL_KINDS.index(kind)), points, axes)
        assert factor.min() > 0.6 and factor.max() < 1.2
        assert (np.ptp(factor) == 0) == (kind == "plain"), kind
    box = trimesh.creation.box()
    with pytest.raises(ValueError, match="unknown material kinds \\['velvet'\\]"):
        MeshRenderer(box.vertices, box.faces, face_kinds=np.full(len(box.faces), "velvet"))
