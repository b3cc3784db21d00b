import json

import pytest
import torch

from mvaug.evaluate.disentangle_metrics import (
    ContentTransferResult,
    classification,
    content_transfer,
    find_targets,
    format_metrics_table,
    linear_probe,
    metrics_report,
    reconstruction,
    sample_pairs,
    silhouette_iou,
    stratified_split,
)
from mvaug.evaluate.image_distance import l1_distance, ssim_distance

COLOURS = torch.tensor([[1.0, 0.2, 0.2], [0.2, 1.0, 0.2], [0.2, 0.2, 1.0], [1.0, 1.0, 0.2], [0.2, 1.0, 1.0]])  # exact in uint8
SIZE = 16  # four 8 x 8 quadrants: one per view


def draw(identity: torch.Tensor, view: torch.Tensor) -> torch.Tensor:
    """(B,) identities and views -> (B, 3, 16, 16): a block of the identity's colour in the view's quadrant."""
    images = torch.zeros((identity.numel(), 3, SIZE, SIZE))
    for b, (who, where) in enumerate(zip(identity.tolist(), view.tolist())):
        row, col = divmod(where, 2)
        images[b, :, row * 8 : row * 8 + 8, col * 8 : col * 8 + 8] = COLOURS[who][:, None, None]
    return images


def one_hot(labels: torch.Tensor, classes: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(labels, classes).float()


def dataset(drop: tuple[tuple[int, int], ...] = ()):
    """Every (identity, view) of 5 identities x 4 views but ``drop``; uint8 images, one-hot codes."""
    combos = [(i, v) for i in range(5) for v in range(4) if (i, v) not in drop]
    identities = torch.tensor([c[0] for c in combos])
    views = torch.tensor([c[1] for c in combos])
    images = draw(identities, views).mul(255).round().to(torch.uint8)
    return images, views, identities, one_hot(identities, 5), one_hot(views, 4)


def oracle(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """A perfectly disentangled generator: identity from the style code, view from the content code."""
    return draw(style[:, :5].argmax(1), content[:, :4].argmax(1))


def test_oracle_transfers_content_exactly_and_beats_both_baselines():
    images, views, identities, style, content = dataset()
    for distance in (ssim_distance(), l1_distance()):
        result = content_transfer(oracle, style, content, images, views, identities, distance, pairs=100, batch_size=32)
        assert result.pairs == 100 and result.skipped == 0
        assert result.distance_name == distance.name
        assert result.model == pytest.approx(0.0, abs=1e-6)
        assert result.content_source > 0.05 and result.style_source > 0.05
        # silhouettes: the oracle and the content source sit in the target's quadrant, the style source mostly not
        assert result.model_silhouette_iou == pytest.approx(1.0) and result.content_source_silhouette_iou == pytest.approx(1.0)
        assert result.style_source_silhouette_iou < 0.5
        low, high = result.mask_gain_interval  # the oracle's gain over the style source is certain
        assert 0.0 < low <= result.model_silhouette_iou - result.style_source_silhouette_iou <= high


def test_generator_that_ignores_content_scores_the_style_source_baseline():
    images, views, identities, style, content = dataset()
    entangled_style = torch.cat([style, content], 1)  # the style code holds the view too

    def ignore_content(s: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return draw(s[:, :5].argmax(1), s[:, 5:].argmax(1))

    result = content_transfer(ignore_content, entangled_style, content, images, views, identities, l1_distance(), pairs=100)
    assert result.model == pytest.approx(result.style_source, abs=1e-6)
    assert result.style_source > 0.01  # the baseline is not trivially zero
    assert result.model_silhouette_iou == pytest.approx(result.style_source_silhouette_iou)
    assert result.mask_gain_interval == pytest.approx([0.0, 0.0])


def test_silhouette_iou_of_shifted_squares_on_a_white_background():
    square = torch.ones((1, 3, 32, 32))
    square[:, :, 8:16, 8:16] = 0.2  # a dark 8 x 8 square
    shifted = torch.roll(square, shifts=4, dims=-1)  # overlaps in 8 x 4 pixels of a 96-pixel union
    blurred = torch.nn.functional.avg_pool2d(square, 3, stride=1, padding=1, count_include_pad=False)
    iou = silhouette_iou(torch.cat([square, square, blurred]), torch.cat([square, shifted, square]))
    assert iou[0] == pytest.approx(1.0) and iou[1] == pytest.approx(32 / 96)
    assert float(iou[2]) == pytest.approx(64 / 96)  # the 3 x 3 blur adds a one-pixel rim without its 4 corners
    empty = torch.ones((1, 3, 8, 8))
    assert float(silhouette_iou(empty, empty)) == 1.0


def test_generator_that_ignores_style_scores_the_content_source_baseline():
    images, views, identities, style, content = dataset()
    entangled_content = torch.cat([content, style], 1)

    def ignore_style(s: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return draw(c[:, 4:].argmax(1), c[:, :4].argmax(1))

    result = content_transfer(ignore_style, style, entangled_content, images, views, identities, l1_distance(), pairs=100)
    assert result.model == pytest.approx(result.content_source, abs=1e-6)
    assert result.model > 0.01


def test_sampled_pairs_have_different_identities_and_follow_the_seed():
    identities = torch.tensor([3, 3, 0, 7, 7, 7, 0, 3, 3, 3])
    i, j = sample_pairs(identities, 500, seed=4)
    assert (identities[i] != identities[j]).all()
    i2, j2 = sample_pairs(identities, 500, seed=4)
    assert torch.equal(i, i2) and torch.equal(j, j2)
    i3, j3 = sample_pairs(identities, 500, seed=5)
    assert not (torch.equal(i, i3) and torch.equal(j, j3))
    with pytest.raises(ValueError, match="two identities"):
        sample_pairs(torch.zeros(4, dtype=torch.long), 3)


def test_sampled_partner_is_uniform_over_other_identities():
    identities = torch.tensor([2, 0, 0, 1, 1, 1, 1, 1, 1, 1])  # blocks of 2, 7 and 1 images, unsorted
    n = identities.numel()
    _, j = sample_pairs(identities, 40000, seed=0)
    others = torch.tensor([(identities != identities[a]).sum() for a in range(n)], dtype=torch.float64)
    expected = torch.tensor([sum(1 / n / others[a] for a in range(n) if identities[a] != identities[b]) for b in range(n)])
    observed = torch.bincount(j, minlength=n).double() / j.numel()
    torch.testing.assert_close(observed, expected, atol=0.01, rtol=0)


def test_missing_targets_are_skipped_and_counted():
    drop = ((0, 1), (2, 3), (4, 0), (4, 2))
    images, views, identities, style, content = dataset(drop)
    i, j = sample_pairs(identities, 300, seed=1)
    k = find_targets(views, identities, i, j)
    missing = torch.tensor([(int(identities[b]), int(views[a])) in drop for a, b in zip(i, j)])
    assert torch.equal(k < 0, missing) and missing.any()
    found = k[~missing]
    assert torch.equal(identities[found], identities[j[~missing]])
    assert torch.equal(views[found], views[i[~missing]])

    result = content_transfer(oracle, style, content, images, views, identities, l1_distance(), pairs=300, seed=1)
    assert result.skipped == int(missing.sum())
    assert result.pairs == 300 - result.skipped
    assert result.model == pytest.approx(0.0, abs=1e-6)


def test_duplicate_images_of_one_identity_and_view_target_the_first():
    views = torch.tensor([0, 1, 0, 0])
    identities = torch.tensor([0, 0, 1, 1])
    k = find_targets(views, identities, torch.tensor([0]), torch.tensor([3]))
    assert k.tolist() == [2]


def test_no_target_at_all_is_an_error():
    identities = torch.tensor([0, 1])
    views = torch.tensor([0, 1])
    images = draw(identities, views)
    codes = one_hot(identities, 5)
    with pytest.raises(ValueError, match="none of the"):
        content_transfer(oracle, codes, one_hot(views, 4), images, views, identities, l1_distance(), pairs=10)


def test_content_transfer_is_deterministic_under_the_seed():
    images, views, identities, style, content = dataset()

    def run(seed: int) -> ContentTransferResult:
        return content_transfer(oracle, style, content, images, views, identities, l1_distance(), pairs=50, seed=seed)

    assert run(3) == run(3)
    assert run(3).style_source != run(4).style_source


def test_generator_output_of_the_wrong_shape_is_rejected():
    images, views, identities, style, content = dataset()
    with pytest.raises(ValueError, match="generate returned shape"):
        content_transfer(lambda s, c: oracle(s, c)[:, :, :8], style, content, images, views, identities, l1_distance(), pairs=5)


def test_reconstruction_of_oracle_is_exact_and_of_a_blank_generator_is_not():
    images, views, identities, style, content = dataset()
    result = reconstruction(oracle, style, content, images, l1_distance(), samples=1000)
    assert result.samples == images.shape[0] and result.model == pytest.approx(0.0, abs=1e-6)
    blank_generator = lambda s, c: torch.zeros((s.shape[0], 3, SIZE, SIZE))  # noqa: E731
    blank = reconstruction(blank_generator, style, content, images, l1_distance(), samples=7)
    assert blank.samples == 7 and blank.model > 0.05


def _probe_codes(n_ids: int = 60, n_views: int = 8, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    identities = torch.arange(n_ids).repeat_interleave(n_views)
    views = torch.arange(n_views).repeat(n_ids)
    mix = torch.randn((n_views, 6), generator=generator)
    content = mix[views] + 0.1 * torch.randn((views.numel(), 6), generator=generator)  # linear in the view
    style = torch.randn((views.numel(), 6), generator=generator)  # carries nothing
    return style, content, views, identities


def test_probe_reads_views_from_content_but_not_from_random_style():
    style, content, views, _ = _probe_codes()
    right = linear_probe(content, views, seed=0)
    leak = linear_probe(style, views, seed=0)
    assert right.accuracy > 0.95
    assert leak.uniform_chance == pytest.approx(1 / 8) and leak.classes == 8
    assert leak.accuracy < 0.3
    assert right.train + right.test == views.numel() and right.test == 8 * 12


def test_classification_runs_all_four_probes_deterministically():
    style, content, views, identities = _probe_codes(n_ids=10)
    style = torch.cat([style, one_hot(identities, 10)], 1)
    result = classification(style, content, views, identities, seed=2)
    assert result.identity_from_style.accuracy > 0.95
    assert result.view_from_content.accuracy > 0.95
    assert result.identity_from_content.accuracy < 0.5
    assert result == classification(style, content, views, identities, seed=2)
    no_views = classification(style, content, None, identities)
    assert no_views.view_from_style is None and no_views.view_from_content is None
    assert no_views.identity_from_content is not None


def test_majority_chance_is_the_frequent_class_rate():
    labels = torch.tensor([0] * 40 + [1] * 10)
    codes = torch.randn((50, 3), generator=torch.Generator().manual_seed(0))
    result = linear_probe(codes, labels)
    assert result.majority_chance == pytest.approx(8 / 10)
    assert result.uniform_chance == 0.5


def test_stratified_split_keeps_every_class_and_follows_the_seed():
    labels = torch.tensor([0] * 10 + [1] * 5 + [2] * 1)
    train, test = stratified_split(labels, 0.8, seed=0)
    assert sorted(torch.cat([train, test]).tolist()) == list(range(16))
    assert torch.bincount(labels[test], minlength=3).tolist() == [2, 1, 0]  # 20% of 10, 5 and 1, rounded
    assert set(labels[train].tolist()) == {0, 1, 2}
    assert torch.equal(test, stratified_split(labels, 0.8, seed=0)[1])
    assert not torch.equal(test, stratified_split(labels, 0.8, seed=1)[1])


def test_report_is_json_and_tables_compare_runs():
    images, views, identities, style, content = dataset()
    style = torch.cat([style, torch.randn((style.shape[0], 2), generator=torch.Generator().manual_seed(0))], 1)
    report = metrics_report(oracle, style, content, images, views, identities, l1_distance(), pairs=40)
    assert json.loads(json.dumps(report)) == report
    assert report["content_transfer"]["model"] == pytest.approx(0.0, abs=1e-6)
    assert report["classification"]["view_from_content"]["accuracy"] == 1.0

    unlabelled = metrics_report(oracle, style, content, images, None, None, l1_distance(), pairs=40)
    assert unlabelled["content_transfer"] is None and unlabelled["classification"]["view_from_style"] is None

    table = format_metrics_table([("full", report), ("no labels", unlabelled)])
    lines = table.splitlines()
    assert len(lines) == 4 and lines[0].startswith("| Run") and "Transfer" in lines[0]
    assert lines[2].startswith("| full ") and "0.0000" in lines[2] and "L1" in lines[2]
    assert lines[3].count("n/a") == 12
    assert "  " in format_metrics_table([("full", report)], style="text").splitlines()[0]


def test_code_usage_tells_which_code_drives_the_image():
    from mvaug.evaluate.disentangle_metrics import code_usage

    torch.manual_seed(0)
    styles, contents = torch.randn(20, 4), torch.randn(20, 3)

    def style_only(s, c):  # the content is ignored: a collapsed content code
        return s[:, :3, None, None].expand(-1, 3, 8, 8).sigmoid()

    def content_only(s, c):
        return c[:, :, None, None].expand(-1, 3, 8, 8).sigmoid()

    collapsed = code_usage(style_only, styles, contents, samples=8)
    assert collapsed.content_effect == 0.0 and collapsed.style_effect > 0.05 and collapsed.content_share == 0.0
    assert code_usage(content_only, styles, contents, samples=8).content_share == 1.0

    def both(s, c):
        return (0.5 * s[:, :3] + 0.5 * c)[:, :, None, None].expand(-1, 3, 8, 8).sigmoid()

    assert 0.3 < code_usage(both, styles, contents, samples=8).content_share < 0.7
