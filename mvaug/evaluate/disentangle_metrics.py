"""Disentanglement metrics of "Rethinking Content and Style" (ICLR 2021 submission): content = pose, style = identity.

* Content transfer (Section 4.1, Appendix A.1): for pairs (i, j) of different identities, the
  generated G(s_j, c_i) (style of j, content of i) should look like the real image of j's
  identity in i's view. Two baselines on the same pairs bound what a model must beat: the content
  source image i (right pose, wrong identity) and the style source image j (right identity, wrong
  pose). A model whose content code carries nothing scores the style-source baseline. Beside the
  image distance, the silhouette IoU with the target (:func:`silhouette_iou`; higher is better) asks
  the pose question directly: a blurred copy of the style image scores well on 1-SSIM but keeps the
  wrong silhouette.
* Self-reconstruction G(s_i, c_i) vs image i: a sanity number, not a disentanglement measure.
* Classification (Table 2): one fully connected layer predicts the content labels (views) from the
  style codes and the style labels (identities) from the content codes; lower test accuracy means
  less leakage, i.e. better disentanglement. The "right" directions (views from content codes,
  identities from style codes) are reported as a reference for what the codes do carry.

The model is seen only through ``generate(style (B, d_s), content (B, d_c)) -> images (B, 3, H, W)``
float in [0, 1] and through its code tensors.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import torch

from mvaug.evaluate.image_distance import ImageDistance
from mvaug.evaluate.voxel_iou import render_table

Generate = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class ContentTransferResult:
    """Mean distances to the real target over ``pairs`` scored pairs; ``skipped`` pairs had no target image."""

    model: float  # G(s_j, c_i) vs target
    content_source: float  # image i vs target
    style_source: float  # image j vs target
    pairs: int
    skipped: int
    distance_name: str
    model_silhouette_iou: float  # silhouette IoU (higher is better) of G(s_j, c_i) with the target
    content_source_silhouette_iou: float  # of image i with the target
    style_source_silhouette_iou: float  # of image j with the target
    mask_gain_interval: list[float]  # [low, high]: 95% bootstrap interval of the mean paired (model - style source) silhouette IoU


@dataclass(frozen=True)
class ReconstructionResult:
    """Mean distance of G(s_i, c_i) to image i over ``samples`` images."""

    model: float
    samples: int
    distance_name: str


@dataclass(frozen=True)
class ProbeResult:
    """Test accuracy of a linear classifier, and the chance levels it is compared with."""

    accuracy: float
    uniform_chance: float  # 1 / number of classes
    majority_chance: float  # test accuracy of always answering the most frequent training label
    classes: int
    train: int
    test: int


@dataclass(frozen=True)
class ClassificationResult:
    """The four probes of Table 2; a probe is None when its labels are unknown."""

    view_from_style: ProbeResult | None  # leakage of content into style: lower is better
    identity_from_content: ProbeResult | None  # leakage of style into content: lower is better
    view_from_content: ProbeResult | None  # reference: what the content code carries
    identity_from_style: ProbeResult | None  # reference: what the style code carries


# ----------------------------------------------------------------------------------------- pairs


def sample_pairs(identities: torch.Tensor, count: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` pairs (i, j) with identities[i] != identities[j], uniform over such pairs (with replacement).

    identities: long (N,). Returns two long (count,) index tensors. i is uniform over the images;
    j is uniform over the images of the other identities, drawn by skipping i's identity block in
    the identity-sorted order.
    """
    identities = identities.cpu()
    _, group, counts = torch.unique(identities, return_inverse=True, return_counts=True)  # group: identity rank
    if counts.numel() < 2:
        raise ValueError("content transfer needs images of at least two identities")
    order = torch.argsort(identities, stable=True)  # identity blocks, in the order of ``counts``
    starts = torch.cumsum(counts, 0) - counts
    generator = torch.Generator().manual_seed(seed)
    i = torch.randint(identities.numel(), (count,), generator=generator)
    others = identities.numel() - counts[group[i]]
    r = (torch.rand(count, generator=generator, dtype=torch.float64) * others).long().clamp(max=others - 1)
    r = torch.where(r >= starts[group[i]], r + counts[group[i]], r)
    return i, order[r]


def find_targets(views: torch.Tensor, identities: torch.Tensor, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
    """For each pair, the image k with identities[k] == identities[j] and views[k] == views[i], or -1.

    views, identities: long (N,); i, j: long (P,). Returns long (P,). When several images share an
    (identity, view), the one with the lowest index is the target.
    """
    views, identities = views.cpu(), identities.cpu()
    table: dict[tuple[int, int], int] = {}
    for k, key in enumerate(zip(identities.tolist(), views.tolist())):
        table.setdefault(key, k)
    wanted = zip(identities[j].tolist(), views[i].tolist())
    return torch.tensor([table.get(key, -1) for key in wanted], dtype=torch.long)


# ------------------------------------------------------------------------------------ generation


def _unit_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, H, W) -> float32 in [0, 1]; float images pass through as float32."""
    return images.float().div_(255.0) if images.dtype == torch.uint8 else images.float()


def _generate(generate: Generate, style: torch.Tensor, content: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Run the model without gradients and check that it returns images shaped like ``like``."""
    with torch.no_grad():
        out = generate(style, content)
    if tuple(out.shape) != tuple(like.shape):
        raise ValueError(f"generate returned shape {tuple(out.shape)}, expected {tuple(like.shape)}")
    return out.float()


def silhouettes(images: torch.Tensor, threshold: float = 0.1) -> torch.Tensor:
    """Foreground masks (B, H, W): pixels whose colour differs from the background by more than
    ``threshold`` in some channel; the background colour is each image's median border colour.

    images: float (B, 3, H, W) in [0, 1]. Suits object renders on a plain background.
    """
    border = torch.cat([images[..., 0, :], images[..., -1, :], images[..., :, 0], images[..., :, -1]], dim=-1)  # (B, 3, 4W)
    background = border.median(dim=-1).values[..., None, None]  # (B, 3, 1, 1)
    return (images - background).abs().amax(dim=1) > threshold


def silhouette_iou(a: torch.Tensor, b: torch.Tensor, threshold: float = 0.1) -> torch.Tensor:
    """Per-image IoU (B,) of the silhouettes of two image batches (1 where both are empty)."""
    ma, mb = silhouettes(a, threshold), silhouettes(b, threshold)
    inter = (ma & mb).flatten(1).sum(1).float()
    union = (ma | mb).flatten(1).sum(1).float()
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))


def _pick(codes: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return codes[index.to(codes.device)]


def _mean(chunks: list[torch.Tensor]) -> float:
    return float(torch.cat(chunks).mean())


def content_transfer(
    generate: Generate,
    style_codes: torch.Tensor,
    content_codes: torch.Tensor,
    images: torch.Tensor,
    views: torch.Tensor,
    identities: torch.Tensor,
    distance: ImageDistance,
    pairs: int = 1000,
    seed: int = 0,
    batch_size: int = 64,
) -> ContentTransferResult:
    """Content-transfer distance of Section 4.1 and its two baselines on the same pairs.

    style_codes (N, d_s), content_codes (N, d_c) (on the model's device); images uint8 or float
    (N, 3, H, W); views, identities long (N,). ``pairs`` pairs of different identities are drawn
    with ``seed`` (:func:`sample_pairs`); those whose target (j's identity in i's view) is not in
    the data are skipped and counted.
    """
    i, j = sample_pairs(identities, pairs, seed)
    k = find_targets(views, identities, i, j)
    found = k >= 0
    i, j, k = i[found], j[found], k[found]
    if i.numel() == 0:
        raise ValueError(f"none of the {pairs} sampled pairs has a target image (identity of j in the view of i)")
    scores: dict[str, list[torch.Tensor]] = {name: [] for name in ("model", "content", "style", "model_iou", "content_iou", "style_iou")}
    for start in range(0, i.numel(), batch_size):
        bi, bj, bk = (t[start : start + batch_size] for t in (i, j, k))
        target = _unit_float(images[bk])
        out = _generate(generate, _pick(style_codes, bj), _pick(content_codes, bi), target)
        target = target.to(out.device)
        for name, candidate in (("model", out), ("content", _unit_float(images[bi]).to(out.device)), ("style", _unit_float(images[bj]).to(out.device))):
            scores[name].append(distance(candidate, target))
            scores[f"{name}_iou"].append(silhouette_iou(candidate, target))
    from mvaug.evaluate.reconstruction import bootstrap_interval

    means = {name: _mean(chunks) for name, chunks in scores.items()}
    gains = (torch.cat(scores["model_iou"]) - torch.cat(scores["style_iou"])).cpu().numpy()  # (P,), per pair
    return ContentTransferResult(
        means["model"], means["content"], means["style"], int(i.numel()), int((~found).sum()), distance.name,
        means["model_iou"], means["content_iou"], means["style_iou"], list(bootstrap_interval(gains, 2000, seed)),
    )


def reconstruction(
    generate: Generate,
    style_codes: torch.Tensor,
    content_codes: torch.Tensor,
    images: torch.Tensor,
    distance: ImageDistance,
    samples: int = 1000,
    seed: int = 0,
    batch_size: int = 64,
) -> ReconstructionResult:
    """Mean distance of G(s_i, c_i) to image i over ``samples`` images drawn without replacement (all if fewer)."""
    generator = torch.Generator().manual_seed(seed)
    index = torch.randperm(images.shape[0], generator=generator)[:samples]
    scores = []
    for start in range(0, index.numel(), batch_size):
        b = index[start : start + batch_size]
        real = _unit_float(images[b])
        out = _generate(generate, _pick(style_codes, b), _pick(content_codes, b), real)
        scores.append(distance(out, real.to(out.device)))
    return ReconstructionResult(_mean(scores), int(index.numel()), distance.name)


# -------------------------------------------------------------------------------- classification


def stratified_split(labels: torch.Tensor, train_fraction: float = 0.8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Train and test indices with about ``train_fraction`` of every class in train.

    labels: long (N,). Each class of n images puts n * (1 - train_fraction), rounded to the nearest
    integer, of them (chosen with ``seed``) in test, so a class of one or two images (at 0.8) is only
    trained on.
    """
    labels = labels.cpu()
    generator = torch.Generator().manual_seed(seed)
    train, test = [], []
    for value in labels.unique():
        members = torch.nonzero(labels == value).flatten()
        members = members[torch.randperm(members.numel(), generator=generator)]
        n_test = math.floor(members.numel() * (1.0 - train_fraction) + 0.5)
        test.append(members[:n_test])
        train.append(members[n_test:])
    return torch.cat(train).sort().values, torch.cat(test).sort().values


def _fit_linear(x: torch.Tensor, y: torch.Tensor, classes: int, weight_decay: float, steps: int) -> torch.nn.Linear:
    """Multinomial logistic regression: one linear layer, zero-initialised, full-batch L-BFGS (deterministic)."""
    layer = torch.nn.Linear(x.shape[1], classes, device=x.device)
    torch.nn.init.zeros_(layer.weight)
    torch.nn.init.zeros_(layer.bias)
    optimizer = torch.optim.LBFGS(layer.parameters(), lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(layer(x), y) + weight_decay * layer.weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return layer


def linear_probe(
    codes: torch.Tensor,
    labels: torch.Tensor,
    seed: int = 0,
    train_fraction: float = 0.8,
    weight_decay: float = 1e-4,
    steps: int = 200,
) -> ProbeResult:
    """Test accuracy of one fully connected layer predicting ``labels`` (N,) from ``codes`` (N, d).

    The split is :func:`stratified_split`; codes are standardised with the training statistics.
    Runs on the codes' device; full batch, so memory grows with N x classes.
    """
    if codes.ndim != 2 or labels.shape != (codes.shape[0],):
        raise ValueError(f"expected codes (N, d) and labels (N,), got {tuple(codes.shape)} and {tuple(labels.shape)}")
    classes, y = torch.unique(labels.cpu(), return_inverse=True)
    train, test = stratified_split(y, train_fraction, seed)
    if test.numel() == 0:
        raise ValueError("no test codes: every class has too few images for the train/test split")
    x = codes.detach().float()
    mean, std = x[train.to(x.device)].mean(0), x[train.to(x.device)].std(0, unbiased=False).clamp(min=1e-6)
    x = (x - mean) / std
    y = y.to(x.device)
    tr, te = train.to(x.device), test.to(x.device)
    with torch.enable_grad():
        layer = _fit_linear(x[tr], y[tr], classes.numel(), weight_decay, steps)
    with torch.no_grad():
        accuracy = float((layer(x[te]).argmax(1) == y[te]).float().mean())
    majority = torch.bincount(y[tr], minlength=classes.numel()).argmax()
    return ProbeResult(
        accuracy=accuracy,
        uniform_chance=1.0 / classes.numel(),
        majority_chance=float((y[te] == majority).float().mean()),
        classes=int(classes.numel()),
        train=int(train.numel()),
        test=int(test.numel()),
    )


def classification(
    style_codes: torch.Tensor,
    content_codes: torch.Tensor,
    views: torch.Tensor | None,
    identities: torch.Tensor | None,
    seed: int = 0,
) -> ClassificationResult:
    """The four linear probes of Table 2 (leakage in both directions, and the two reference directions)."""

    def probe(codes: torch.Tensor, labels: torch.Tensor | None) -> ProbeResult | None:
        return None if labels is None else linear_probe(codes, labels, seed)

    return ClassificationResult(
        view_from_style=probe(style_codes, views),
        identity_from_content=probe(content_codes, identities),
        view_from_content=probe(content_codes, views),
        identity_from_style=probe(style_codes, identities),
    )


# ---------------------------------------------------------------------------------------- report


@dataclass
class CodeUsage:
    """How much each code changes the output: std over images of G(s, c) with one code held fixed, averaged.

    ``content_effect`` varies the content over ``samples`` images at a fixed style (averaged over
    ``samples`` styles), ``style_effect`` the other way round. A collapsed content code has a
    content effect near 0 however good the reconstructions are.
    """

    content_effect: float
    style_effect: float

    @property
    def content_share(self) -> float:
        total = self.content_effect + self.style_effect
        return self.content_effect / total if total > 0 else 0.0


@torch.no_grad()
def code_usage(generate: Generate, style_codes: torch.Tensor, content_codes: torch.Tensor, samples: int = 16, seed: int = 0) -> CodeUsage:
    """See :class:`CodeUsage`; codes (N, d_s) and (N, d_c), ``samples`` images drawn with ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    pick = torch.randperm(style_codes.shape[0], generator=generator)[:samples]
    styles, contents = style_codes[pick], content_codes[pick]
    count = len(pick)

    def effect(fixed: torch.Tensor, varied: torch.Tensor, fixed_is_style: bool) -> float:
        spreads = []
        for code in fixed:
            repeated = code[None].expand(count, -1)
            out = generate(repeated, varied) if fixed_is_style else generate(varied, repeated)  # (count, 3, H, W)
            spreads.append(out.float().std(dim=0).mean())
        return float(torch.stack(spreads).mean())

    return CodeUsage(effect(styles, contents, True), effect(contents, styles, False))


def metrics_report(
    generate: Generate,
    style_codes: torch.Tensor,
    content_codes: torch.Tensor,
    images: torch.Tensor,
    views: torch.Tensor | None,
    identities: torch.Tensor | None,
    distance: ImageDistance,
    pairs: int = 1000,
    seed: int = 0,
    batch_size: int = 64,
) -> dict[str, Any]:
    """Every metric of this module as a JSON-ready dict; content transfer is None without both label kinds."""
    transfer = None
    if views is not None and identities is not None:
        transfer = content_transfer(
            generate, style_codes, content_codes, images, views, identities, distance, pairs, seed, batch_size
        )
    recon = reconstruction(generate, style_codes, content_codes, images, distance, pairs, seed, batch_size)
    probes = classification(style_codes, content_codes, views, identities, seed)
    usage = code_usage(generate, style_codes, content_codes, seed=seed)
    return {
        "distance": distance.name,
        "seed": seed,
        "images": int(images.shape[0]),
        "content_transfer": None if transfer is None else asdict(transfer),
        "reconstruction": asdict(recon),
        "classification": asdict(probes),
        "code_usage": {**asdict(usage), "content_share": usage.content_share},
    }


_TABLE_COLUMNS: tuple[tuple[str, Callable[[dict], Any]], ...] = (
    ("Distance", lambda r: r["distance"]),
    ("Transfer", lambda r: (r["content_transfer"] or {}).get("model")),
    ("Content src", lambda r: (r["content_transfer"] or {}).get("content_source")),
    ("Style src", lambda r: (r["content_transfer"] or {}).get("style_source")),
    ("Mask IoU", lambda r: (r["content_transfer"] or {}).get("model_silhouette_iou")),
    ("Mask IoU content src", lambda r: (r["content_transfer"] or {}).get("content_source_silhouette_iou")),
    ("Mask IoU style src", lambda r: (r["content_transfer"] or {}).get("style_source_silhouette_iou")),
    ("Recon", lambda r: r["reconstruction"]["model"]),
    ("View|style", lambda r: (r["classification"]["view_from_style"] or {}).get("accuracy")),
    ("Id|content", lambda r: (r["classification"]["identity_from_content"] or {}).get("accuracy")),
    ("View|content", lambda r: (r["classification"]["view_from_content"] or {}).get("accuracy")),
    ("Id|style", lambda r: (r["classification"]["identity_from_style"] or {}).get("accuracy")),
    ("Content share", lambda r: (r.get("code_usage") or {}).get("content_share")),
    ("View majority", lambda r: (r["classification"]["view_from_style"] or {}).get("majority_chance")),
    ("Id majority", lambda r: (r["classification"]["identity_from_content"] or {}).get("majority_chance")),
)


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def format_metrics_table(rows: Sequence[tuple[str, dict[str, Any]]], style: str = "markdown") -> str:
    """One row per (run name, :func:`metrics_report` dict), e.g. to compare ablations.

    Transfer / Content src / Style src / Recon are mean distances (lower is better; the model should
    beat both sources); the "Mask IoU" columns are silhouette IoUs with the same targets (higher is
    better: the pose question without the blur bias of 1-SSIM). "View|style" is the accuracy of predicting views from style codes (leakage,
    lower is better), and so on; the majority columns are the leakage probes' chance levels. "Content
    share" is content effect / (content + style effect) of :func:`code_usage`: near 0 means the
    content code is ignored (collapsed), whatever the other columns say.
    """
    body = [[name, *(_cell(get(report)) for _, get in _TABLE_COLUMNS)] for name, report in rows]
    return render_table(["Run", *(title for title, _ in _TABLE_COLUMNS)], body, style, left=2)
