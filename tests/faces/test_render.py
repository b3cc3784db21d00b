"""Weak-perspective face rendering: silhouettes, shading and visibility against analytic answers."""

import math

import numpy as np
import trimesh

from mvaug.faces.pose import project, rotation_from_angles
from mvaug.faces.render import FaceLighting, FaceRenderer, vertex_normals

BG = (0.0, 0.0, 1.0)


def _sphere(radius=50.0, centre=(0.0, 0.0, 0.0)):
    mesh = trimesh.creation.icosphere(subdivisions=4, radius=radius)
    return mesh.vertices + np.asarray(centre), mesh.faces


def test_vertex_normals_of_a_sphere_point_outwards():
    v, f = _sphere()
    np.testing.assert_allclose(vertex_normals(v, f), v / 50.0, atol=0.02)


def test_sphere_silhouette_is_the_scaled_shifted_disc():
    v, f = _sphere(centre=(10.0, -5.0, 3.0))
    renderer = FaceRenderer(v, f, np.full((len(v), 3), 0.8))
    size, scale, trans = 64, 0.4, (30.0, 34.0)
    rot = rotation_from_angles(25, 10)
    image = renderer.render(rot, scale, trans, size, FaceLighting(), BG, supersample=1)
    covered = ~np.all(image == np.round(np.array(BG) * 255).astype(np.uint8), axis=-1)
    centre = project(np.array([[10.0, -5.0, 3.0]]), rot, np.float64(scale), np.array(trans))[0]
    u, v_ = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5)
    inside = np.hypot(u - centre[0], v_ - centre[1]) < 50.0 * scale
    assert np.mean(covered != inside) < 0.01  # only edge pixels of the polyhedral sphere may differ
    assert abs(covered.sum() - math.pi * (50.0 * scale) ** 2) < 0.03 * covered.sum()


def test_lambertian_shading_of_the_sphere_centre():
    v, f = _sphere()
    albedo = np.tile([0.8, 0.6, 0.4], (len(v), 1))
    renderer = FaceRenderer(v, f, albedo)
    light = FaceLighting(direction=(0.0, 0.0, 1.0), ambient=0.1, diffuse=0.7, specular=0.0)
    image = renderer.render(np.eye(3), 0.5, (32.0, 32.0), 64, light, BG, supersample=1)
    np.testing.assert_allclose(image[32, 32] / 255.0, np.array([0.8, 0.6, 0.4]) * 0.8, atol=3 / 255)
    side = FaceLighting(direction=(1.0, 0.0, 0.0), ambient=0.1, diffuse=0.7, specular=0.0)
    lit = renderer.render(np.eye(3), 0.5, (32.0, 32.0), 64, side, BG, supersample=1)
    assert lit[32, 50, 0] > lit[32, 14, 0]  # the light on the +x side brightens the image right
    np.testing.assert_allclose(lit[32, 14] / 255.0, np.array([0.8, 0.6, 0.4]) * 0.1, atol=3 / 255)


def test_visibility_front_and_back():
    v, f = _sphere()
    renderer = FaceRenderer(v, f, np.ones((len(v), 3)))
    oblique = v[np.argmax(v @ [math.sin(1.0), 0.0, math.cos(1.0)])]  # a vertex 57 degrees off the front
    points = np.array([[0.0, 0.0, 50.0], [0.0, 0.0, -50.0], oblique])
    assert renderer.visible(points, np.eye(3)).tolist() == [True, False, True]
    assert renderer.visible(points, rotation_from_angles(180, 0)).tolist() == [False, True, False]
    assert renderer.visible(points, rotation_from_angles(-120, 0)).tolist() == [False, True, True]
