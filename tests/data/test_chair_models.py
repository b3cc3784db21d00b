"""Procedural chair meshes: determinism, closed parts, and chair-like geometry for every family."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from scipy.spatial import Delaunay

from mvaug.data.synth.chair_models import FAMILIES, REALISTIC_FAMILIES, ChairModel, sample_chair

SEEDS = range(6)


def _chair(family: str | None, seed: int) -> ChairModel:
    return sample_chair(np.random.default_rng(seed), family)


def _vertices(chair: ChairModel, prefix: str) -> np.ndarray:
    parts = [part.mesh.vertices for part in chair.parts if part.name.startswith(prefix)]
    return np.vstack(parts) if parts else np.empty((0, 3))


@pytest.fixture(scope="module", params=REALISTIC_FAMILIES)
def family_chairs(request) -> list[ChairModel]:
    return [_chair(request.param, seed) for seed in SEEDS]


def test_families_are_distinct_and_many():
    assert len(FAMILIES) >= 7
    assert len(set(FAMILIES)) == len(FAMILIES)


def test_same_seed_gives_identical_chair():
    for seed in range(8):
        a, b = _chair(None, seed), _chair(None, seed)
        assert a.family == b.family and a.params == b.params and a.materials == b.materials
        assert [p.name for p in a.parts] == [p.name for p in b.parts]
        ma, mb = a.to_mesh(), b.to_mesh()
        assert ma.vertices.tobytes() == mb.vertices.tobytes()
        assert ma.faces.tobytes() == mb.faces.tobytes()
        assert ma.visual.face_colors.tobytes() == mb.visual.face_colors.tobytes()


def test_different_seeds_give_different_chairs():
    for family in REALISTIC_FAMILIES:
        a, b = _chair(family, 1), _chair(family, 2)
        assert a.params != b.params
        va, vb = a.to_mesh().vertices, b.to_mesh().vertices
        assert va.shape != vb.shape or not np.allclose(va, vb)


def test_the_generator_state_advances():
    rng = np.random.default_rng(5)
    first, second = sample_chair(rng, "office"), sample_chair(rng, "office")
    assert first.params != second.params


def test_family_comes_from_the_generator_uniformly():
    rng = np.random.default_rng(123)
    chairs = [sample_chair(rng) for _ in range(300)]
    counts = Counter(chair.family for chair in chairs)
    assert set(counts) == set(FAMILIES)
    assert min(counts.values()) >= 300 / len(FAMILIES) / 2
    assert all(chair.params["family"] == chair.family for chair in chairs)


def test_unknown_family_names_the_choices():
    with pytest.raises(ValueError) as error:
        sample_chair(np.random.default_rng(0), "throne")
    assert "throne" in str(error.value)
    assert all(family in str(error.value) for family in FAMILIES)


def test_parts_are_closed_outward_and_named_once(family_chairs):
    for chair in family_chairs:
        names = [part.name for part in chair.parts]
        assert len(names) == len(set(names)), names
        for part in chair.parts:
            mesh = part.mesh
            assert mesh.is_watertight, part.name
            assert mesh.is_winding_consistent, part.name
            assert mesh.volume > 1e-7, part.name
            assert part.material in chair.materials, part.name


def test_chair_stands_on_the_floor(family_chairs):
    for chair in family_chairs:
        vertices = chair.to_mesh().vertices
        assert vertices[:, 1].min() == pytest.approx(0.0, abs=1e-5)
        # the seat's centre lies over the footprint: the chair would not tip over
        contact = vertices[vertices[:, 1] < 2e-3][:, [0, 2]]
        seat = _vertices(chair, "seat")
        centre = (seat.min(0) + seat.max(0))[[0, 2]] / 2
        assert Delaunay(contact).find_simplex(centre) >= 0, chair.params


def test_seat_height_and_extent(family_chairs):
    for chair in family_chairs:
        height = chair.params["seat_height"]
        assert 0.35 <= height <= 0.85
        seat = _vertices(chair, "seat")
        assert seat[:, 1].max() == pytest.approx(height, abs=1e-3)
        assert seat[:, 1].min() > 0.2 or chair.family == "armchair"  # an armchair's seat base may reach the floor
        size = seat.max(0) - seat.min(0)
        assert size[0] == pytest.approx(chair.params["seat_depth"], rel=0.1)
        assert size[2] == pytest.approx(chair.params["seat_width"], rel=0.1)


def test_back_rises_behind_the_seat(family_chairs):
    for chair in family_chairs:
        back = _vertices(chair, "back")
        if not chair.params["has_back"]:
            assert len(back) == 0
            continue
        height = chair.params["seat_height"]
        assert back[:, 1].max() > height + 0.15
        top = back[back[:, 1] > back[:, 1].max() - 0.02]
        seat = _vertices(chair, "seat")
        assert top[:, 0].mean() < (seat[:, 0].min() + seat[:, 0].max()) / 2 - 0.05


def test_arms_sit_at_the_sides(family_chairs):
    for chair in family_chairs:
        parts = [part for part in chair.parts if part.name.startswith("arm")]
        assert bool(parts) == chair.params["has_arms"]
        for part in parts:
            z = part.mesh.vertices[:, 2]
            side = -1 if part.name.endswith("left") else 1
            assert part.name.endswith(("left", "right"))
            assert (side * z > 0).all(), part.name
            assert np.abs(z).max() > 0.6 * chair.params["seat_width"] / 2, part.name
            assert part.mesh.vertices[:, 1].max() > chair.params["seat_height"] + 0.1, part.name


def test_parts_touch_each_other(family_chairs):
    """No floating pieces: the graph of overlapping part bounding boxes is connected."""
    for chair in family_chairs:
        boxes = np.array([part.mesh.bounds for part in chair.parts])
        low, high = boxes[:, 0], boxes[:, 1] + 1e-6
        touch = np.all((low[:, None] <= high[None]) & (low[None] <= high[:, None]), axis=-1)
        reached = {0}
        frontier = [0]
        while frontier:
            new = set(np.flatnonzero(touch[frontier.pop()])) - reached
            reached |= new
            frontier.extend(new)
        assert len(reached) == len(chair.parts), [p.name for i, p in enumerate(chair.parts) if i not in reached]


def test_params_are_plain_json(family_chairs):
    for chair in family_chairs:
        assert json.loads(json.dumps(chair.params)) == chair.params
        assert all(type(v) in (bool, int, float, str) for v in chair.params.values())
        for key in ("seat_height", "seat_width", "seat_depth", "has_back", "has_arms"):
            assert key in chair.params


def test_to_mesh_colours_faces_by_material(family_chairs):
    for chair in family_chairs:
        mesh = chair.to_mesh()
        assert len(mesh.faces) == sum(len(part.mesh.faces) for part in chair.parts) < 20_000
        colours = mesh.visual.face_colors
        assert colours.dtype == np.uint8 and (colours[:, 3] == 255).all()
        start = 0
        for part in chair.parts:
            stop = start + len(part.mesh.faces)
            rgb = np.round(255 * np.array(chair.materials[part.material]))
            assert (colours[start:stop, :3] == rgb).all(), part.name
            start = stop
        for rgb in chair.materials.values():
            assert all(0.0 <= c <= 1.0 for c in rgb)


def test_options_and_proportions_vary_within_a_family(family_chairs):
    layouts = {tuple(part.name for part in chair.parts) for chair in _many(family_chairs[0].family)}
    assert len(layouts) >= 3
    heights = [chair.params["seat_height"] for chair in family_chairs]
    assert np.ptp(heights) > 0.01
    assert len({chair.materials[chair.parts[0].material] for chair in family_chairs}) > 1


def _many(family: str) -> list[ChairModel]:
    return [_chair(family, seed) for seed in range(100, 130)]
