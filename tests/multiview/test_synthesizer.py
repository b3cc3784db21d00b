import dataclasses

import pytest
import torch

from mvaug.disentangle.data import load_image_set
from mvaug.errors import DataError
from mvaug.multiview.synthesizer import MultiViewSynthesizer
from mvaug.multiview.views import View


@pytest.fixture(scope="module")
def synth(tiny_run):
    return MultiViewSynthesizer.from_run(tiny_run)  # with the RUN/bank.npz that tiny_run built


def test_batched_generation_equals_one_generator_call_per_view(synth, dense_chairs):
    images = load_image_set(dense_chairs, 32, progress=False).float_images(slice(0, 3))
    views, out = synth.generate_batch(images, [View("az000_el20"), View("az012_el30"), View("az348_el20")])
    assert out.shape == (3, 3, 3, 32, 32)
    model = synth.model
    _, codes = synth.bank.select(views)
    for b in range(3):
        style = model.style_encoder(images[b : b + 1])
        for v in range(3):
            expected = model.generator(style, codes[v : v + 1])[0]
            assert torch.allclose(out[b, v], expected, atol=1e-5)


def test_with_style_neighbours_each_style_draws_its_own_codes(synth, dense_chairs):
    from mvaug.multiview.bank import build_bank_from_cameras

    train = load_image_set(dense_chairs, 32, progress=False)
    near = dataclasses.replace(synth, bank=build_bank_from_cameras(synth.model, train, neighbours=1))
    styles = near.bank.neighbours.styles  # (2, d_s): the two training chairs' styles, each its own nearest neighbour
    views, out = near.generate_from_style(styles, [View("az000_el20"), View("az348_el20")])
    names = [e.view.name for e in near.bank.entries]
    rows = [names.index("az000_el20"), names.index("az348_el20")]
    for b in range(2):
        for v in range(2):
            expected = synth.model.generator(styles[b : b + 1], near.bank.neighbours.codes[b, rows[v]][None])[0]
            assert torch.allclose(out[b, v], expected, atol=1e-5)
    assert not torch.allclose(out[0, 0], synth.model.generator(styles[:1], near.bank.codes[rows[0]][None])[0], atol=1e-3)  # not the median's


def test_generate_from_a_file_returns_pil_images(synth, dense_chairs):
    path = next((dense_chairs / "ShapeNetRendering").rglob("05.png"))
    pictures = synth.generate(path, ["az000_el20", "az023_el20"])
    assert [p.size for p in pictures] == [(32, 32), (32, 32)]
    assert pictures[0].tobytes() != pictures[1].tobytes()


def test_a_bank_of_another_run_is_refused(synth, tiny_run, tmp_path):
    bank = dataclasses.replace(synth.bank, run_fingerprint="f" * 16)
    bank.save(tmp_path / "foreign.npz")
    with pytest.raises(DataError, match="belongs to the run"):
        MultiViewSynthesizer.from_run(tiny_run, tmp_path / "foreign.npz")


def test_missing_bank_and_unfinished_run_are_clear_errors(tmp_path, tiny_run):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy)
    (copy / "bank.npz").unlink()
    with pytest.raises(DataError, match="mvaug bank build"):
        MultiViewSynthesizer.from_run(copy)
    (copy / "model.pt").unlink()
    with pytest.raises(DataError, match="no model.pt"):
        MultiViewSynthesizer.from_run(copy)


def test_estimated_views_are_the_nearest_bank_codes_and_views_around_spread(synth, dense_chairs):
    from mvaug.disentangle.fusion import normalize_content

    images = load_image_set(dense_chairs, 32, progress=False).float_images(slice(0, 4))
    estimated = synth.estimate_views(images)
    _, content = synth.model.encode(images)
    codes = normalize_content(synth.bank.codes, "l2")
    for view, code in zip(estimated, normalize_content(content, "l2")):
        distances = (codes - code).norm(dim=1)
        assert distances[[e.view.name for e in synth.bank.entries].index(view.name)] == distances.min()
    around = synth.views_around(images[0], 4)
    gaps = sorted(((v.azimuth - estimated[0].azimuth) % 360) for v in around)
    assert len({v.name for v in around}) == 4 and all(abs(g - t) < 6 for g, t in zip(gaps, (72, 144, 216, 288)))
    assert {v.elevation for v in around} == {estimated[0].elevation}


def test_refined_codes_redraw_the_input_closer_and_each_image_follows_its_own_gradient(synth, dense_chairs):
    images = load_image_set(dense_chairs, 32, progress=False).float_images(slice(0, 3))
    model = synth.model
    style, content = model.encode(images)
    refined_style, refined_content = model.refine_codes(images, style, content, steps=20)
    before = (model.generate(style, content) - images).abs().mean(dim=(1, 2, 3))
    after = (model.generate(refined_style, refined_content) - images).abs().mean(dim=(1, 2, 3))
    assert (after < before).all(), (before, after)
    alone, _ = model.refine_codes(images[1:2], style[1:2], content[1:2], steps=20)
    torch.testing.assert_close(alone, refined_style[1:2], atol=1e-4, rtol=0)  # the batch does not couple the images
    assert torch.equal(model.refine_codes(images, style, content, steps=0)[0], style)
    assert all(not p.requires_grad and p.grad is None for p in model.generator.parameters())  # the networks stay as they were


def test_a_synthesizer_with_refine_steps_draws_its_views_from_the_refined_style(tiny_run, synth, dense_chairs):
    images = load_image_set(dense_chairs, 32, progress=False).float_images(slice(0, 2))
    refining = MultiViewSynthesizer.from_run(tiny_run, refine_steps=5)
    style, content = synth.model.encode(images)
    expected, _ = synth.model.refine_codes(images, style, content, steps=5)
    torch.testing.assert_close(refining.style(images), expected)
    views = [View("az000_el20"), View("az348_el20")]
    _, drawn = refining.generate_batch(images, views)
    torch.testing.assert_close(drawn, refining.generate_from_style(expected, views)[1])
    assert not torch.allclose(drawn, synth.generate_batch(images, views)[1], atol=1e-4)
    assert torch.equal(synth.style(images), style)
