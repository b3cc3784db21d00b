"""``mvaug evaluate``: single view vs generated views vs ground-truth views (the paper's Fig. 9, measured).

For every object of the split, view ``input_view`` is the one real input. The conditions:

* ``single``: that view alone;
* ``generated-K``: that view plus K views synthesised from it by the disentangler (bank views spread
  evenly in azimuth around the input, at its elevation);
* ``retrieved-K`` (with ``retrieve_from``): that view plus, at each of the same cameras, the disentangler's
  training image whose style E_s(x) is nearest to the input's (:mod:`mvaug.multiview.retrieval`): does
  synthesis add anything beyond looking up a similar chair?
* ``gt-K``: that view plus the K real renders at the same cameras as the generated ones.

Each condition is reconstructed by the same multi-view reconstructor and scored by voxel IoU against
the ground-truth grid at several thresholds. Per-object results are cached in OUT/objects/, so an
interrupted evaluation resumes; the report is rebuilt from the cache.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from mvaug.io.assets import describe_ref
from mvaug.errors import ConfigError, DataError
from mvaug.multiview.views import spread_views

SINGLE = "single"
SETTINGS = "settings.json"


@dataclass(frozen=True)
class ReconEvalConfig:
    """What ``mvaug evaluate`` measures."""

    views: tuple[int, ...] = (1, 2, 4, 8)
    """Numbers K of added views (generated or real)."""
    thresholds: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5)
    """Occupancy thresholds of the IoU; the report's headline uses ``headline_threshold``."""
    headline_threshold: float = 0.3
    split: str = "test"
    input_view: int = 0
    """Index of the render that is the single input."""
    limit: int | None = None
    """Evaluate only the first N objects of the split."""
    bootstrap: int = 10000
    """Resamples of the paired bootstrap confidence intervals."""
    seed: int = 0
    """Seeds the bootstrap."""
    montage: int = 8
    """Objects in each of the best and worst montages."""
    retrieve_from: str | None = None
    """The disentangler's training data (ShapeNet layout, renders at the bank's cameras): adds ``retrieved-K``."""
    refine_steps: int = 0
    """Test-time optimisation steps of the input's codes (:meth:`MultiViewSynthesizer.style`); the generated and
    the retrieved views share the refined style."""
    sharpen: float | None = None
    """Unsharp-mask amount of the generated views (:meth:`Reconstructor.sharpening`); None: as the reconstructor's
    training asks. :func:`evaluate_reconstruction` resolves it before anything runs."""

    def __post_init__(self) -> None:
        if not self.views or min(self.views) < 1:
            raise ValueError(f"views must be numbers of added views >= 1, got {self.views}")
        if self.refine_steps < 0:
            raise ValueError(f"refine_steps must be at least 0, got {self.refine_steps}")
        if self.sharpen is not None and self.sharpen < 0:
            raise ValueError(f"sharpen must be at least 0, got {self.sharpen}")
        if self.headline_threshold not in self.thresholds:
            raise ValueError(f"headline_threshold {self.headline_threshold} must be one of thresholds {self.thresholds}")

    def added_kinds(self) -> tuple[str, ...]:
        """What the K added views are, in report order."""
        return ("generated", "retrieved", "gt") if self.retrieve_from is not None else ("generated", "gt")

    def conditions(self) -> list[str]:
        return [SINGLE] + [f"{kind}-{k}" for kind in self.added_kinds() for k in self.views]


@dataclass
class EvalContext:
    """The two trained models and where their inputs come from (one per worker process)."""

    recon: object  # mvaug.recon.reconstruct.Reconstructor
    synth: object  # mvaug.multiview.synthesizer.MultiViewSynthesizer
    config: ReconEvalConfig
    tolerance: float = 0.5
    bank_views: list = field(default_factory=list)
    retrieval: object = None  # mvaug.multiview.retrieval.StyleIndex when config.retrieve_from is set

    @classmethod
    def load(cls, recon: str | os.PathLike, run: str | os.PathLike, bank: str | os.PathLike | None, config: ReconEvalConfig, device: str,
             reconstructor=None) -> EvalContext:
        """``reconstructor``: ``recon`` already loaded on ``device`` (else it is loaded here)."""
        from mvaug.engine.device import resolve_device
        from mvaug.multiview.retrieval import StyleIndex
        from mvaug.multiview.synthesizer import MultiViewSynthesizer
        from mvaug.recon.reconstruct import Reconstructor

        torch_device = resolve_device(device)
        synth = MultiViewSynthesizer.from_run(run, bank, torch_device, config.refine_steps)
        views = [v for v in synth.bank.views if v.has_camera]
        if len(views) < max(config.views):
            raise ConfigError(f"the bank has {len(views)} views with cameras, fewer than the largest K = {max(config.views)}")
        tolerance = float(synth.bank.notes.get("tolerance_deg", 0.5))
        retrieval = None
        if config.retrieve_from is not None:
            retrieval = StyleIndex.build(config.retrieve_from, synth.model.config.data.split, views, tolerance, synth.model)
        reconstructor = reconstructor if reconstructor is not None else Reconstructor.from_checkpoint(recon, torch_device)
        return cls(reconstructor, synth, config, tolerance, views, retrieval)

    def recon_inputs(self, paths: list[Path]) -> torch.Tensor:
        """Real renders as the reconstructor was trained to see them: (V, 3, S, S)."""
        from mvaug.recon.augment import composite
        from mvaug.recon.data import load_rgba

        recon = self.recon
        rgba = torch.stack([load_rgba(p, recon.image_size, recon.config.data.crop_fraction) for p in paths]).float() / 255.0
        return composite(rgba, torch.tensor(recon.background))


def evaluate_object(model, ctx: EvalContext) -> tuple[dict, dict]:
    """IoUs of every condition for one ShapeNet model; and arrays for the montage."""
    from mvaug.data.shapenet import list_views, read_cameras
    from mvaug.data.transforms import load_image
    from mvaug.geometry.voxel_iou import voxel_iou
    from mvaug.io.binvox import read_binvox
    from mvaug.multiview.views import nearest_camera

    cfg = ctx.config
    paths = list_views(model.rendering_dir)
    if cfg.input_view >= len(paths):
        raise DataError(f"{len(paths)} views, no view {cfg.input_view}", model.rendering_dir)
    cameras = read_cameras(model.rendering_dir, len(paths))[:, :2]
    azimuth, elevation = (float(x) for x in cameras[cfg.input_view])
    plans = {k: spread_views(ctx.bank_views, azimuth, elevation, k) for k in cfg.views}
    needed = list({v.name: v for k in cfg.views for v in plans[k]}.values())
    real_index = {}
    for view in needed:
        index = nearest_camera(cameras, view, ctx.tolerance)
        if index is None:
            raise DataError(f"no render at the bank view {view.name} (gt-K needs renders at the bank's cameras: use a --dense data set)", model.rendering_dir)
        real_index[view.name] = index
    source = load_image(paths[cfg.input_view], ctx.synth.image_size)[None]  # as the disentangler was trained
    style = ctx.synth.style(source)  # (1, d_s), shared by the generated and the retrieved views
    _, generated = ctx.synth.generate_from_style(style, needed)  # (1, V, 3, s, s)
    added = {  # kind -> view name -> (3, S, S) as the reconstructor sees it
        "generated": dict(zip((v.name for v in needed), ctx.recon.frame_generated(generated[0], cfg.sharpen))),
        "gt": dict(zip((v.name for v in needed), ctx.recon_inputs([paths[real_index[v.name]] for v in needed]))),
    }
    if ctx.retrieval is not None:
        retrieved = [ctx.retrieval.nearest(style[0], v.name) for v in needed]
        added["retrieved"] = dict(zip((v.name for v in needed), ctx.recon_inputs(retrieved)))
    single = ctx.recon_inputs([paths[cfg.input_view]])  # (1, 3, S, S)
    gt = read_binvox(model.voxel_path).data
    # encoder and decoder once per view (each view's volume does not depend on the others), the merger per condition
    volumes = {kind: _per_view(ctx.recon, list(added[kind].values()), list(added[kind])) for kind in cfg.added_kinds()}
    single_raw, single_coarse = ctx.recon.per_view(single)
    probabilities = {SINGLE: ctx.recon.fuse(single_raw, single_coarse)}
    for k in cfg.views:
        names = [v.name for v in plans[k]]
        for kind in cfg.added_kinds():
            raw = torch.cat([single_raw, torch.stack([volumes[kind][n][0] for n in names])])
            coarse = torch.cat([single_coarse, torch.stack([volumes[kind][n][1] for n in names])])
            probabilities[f"{kind}-{k}"] = ctx.recon.fuse(raw, coarse)
    ious = {name: voxel_iou(p.numpy(), gt, cfg.thresholds).tolist() for name, p in probabilities.items()}
    kmax = max(cfg.views)
    names = [v.name for v in plans[kmax]]
    record = {"object": model.model_id, "taxonomy_id": model.taxonomy_id, "ious": ious, "views": {str(k): [v.name for v in plans[k]] for k in cfg.views}}
    if ctx.retrieval is not None:
        record["retrieved"] = {v.name: str(p) for v, p in zip(needed, retrieved)}
    arrays = {
        "input": _to_uint8(single),
        **{"real" if kind == "gt" else kind: _to_uint8(torch.stack([added[kind][n] for n in names])) for kind in cfg.added_kinds()},
        "single": probabilities[SINGLE].numpy().astype(np.float16),
        **{f"{kind}_probs": probabilities[f"{kind}-{kmax}"].numpy().astype(np.float16) for kind in cfg.added_kinds()},
        "truth": gt.astype(np.uint8),
    }
    return record, arrays


def _per_view(recon, images: list[torch.Tensor], names: list[str]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """View name -> (raw features, coarse volume) of :meth:`Reconstructor.per_view` for (3, S, S) ``images``."""
    raw, coarse = recon.per_view(torch.stack(images))
    return {name: (raw[i], coarse[i]) for i, name in enumerate(names)}


def _to_uint8(images: torch.Tensor) -> np.ndarray:
    return (images.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()


def evaluate_reconstruction(
    data: str | os.PathLike,
    recon: str | os.PathLike,
    run: str | os.PathLike,
    out: str | os.PathLike,
    config: ReconEvalConfig | None = None,
    bank: str | os.PathLike | None = None,
    device: str = "auto",
    workers: int = 1,
    progress: bool = True,
    replace_other: bool = False,
) -> dict:
    """Evaluate every object of ``config.split`` (cached per object in OUT/objects/), then write the report.

    OUT must be new, empty or a report folder of the same evaluation; the data and (when objects are
    left to evaluate) the models are read before anything is written there. ``replace_other``: a report
    folder of another evaluation is emptied and evaluated anew instead (a program's own output folder, as
    the demo's). With ``config.retrieve_from``, held-out objects that the disentangler was trained on are refused.
    """
    from tqdm import tqdm

    from mvaug.data.shapenet import ShapeNetDataset
    from mvaug.data.transforms import existing_dir
    from mvaug.engine.device import resolve_device
    from mvaug.io.atomic import atomic_write_text
    from mvaug.recon.reconstruct import Reconstructor

    config = config or ReconEvalConfig()
    if config.retrieve_from is not None:  # absolute: another root is another evaluation
        config = replace(config, retrieve_from=str(existing_dir(config.retrieve_from, "--retrieve-from folder").resolve()))
    reconstructor = None
    if config.sharpen is None:  # as the reconstructor's training asks: part of the settings a report resumes with
        reconstructor = Reconstructor.from_checkpoint(recon, resolve_device(device))
        config = replace(config, sharpen=reconstructor.sharpening())
    out = Path(out)
    settings = json.loads(json.dumps({"data": str(Path(data).resolve()), "recon": describe_ref(recon), "run": describe_ref(run),
                                      "bank": describe_ref(bank), "config": _config_settings(config)}))  # tuples as JSON lists, as stored
    _check_report_folder(out, settings, replace_other)
    models = ShapeNetDataset.from_root(data, split=config.split).models[: config.limit]
    if not models:
        raise DataError(f"the {config.split} split holds no models", data)
    cache = out / "objects"
    todo = [m for m in models if not (cache / f"{m.model_id}.json").is_file()]
    ctx = EvalContext.load(recon, run, bank, config, device, reconstructor) if todo else None
    if ctx is not None and ctx.retrieval is not None:
        _refuse_trained_on(models, ctx.retrieval.folders, data)
    if not (out / SETTINGS).is_file():
        atomic_write_text(out / SETTINGS, json.dumps(settings, indent=2) + "\n")
    cache.mkdir(exist_ok=True)
    if todo:
        jobs = [(m, str(recon), str(run), None if bank is None else str(bank), config, device) for m in todo]
        bar = tqdm(total=len(models), initial=len(models) - len(todo), desc="evaluate", unit="object", disable=not progress, dynamic_ncols=True)
        if workers > 1:
            import multiprocessing as mp

            with mp.get_context("spawn").Pool(workers, initializer=_init_worker) as pool:
                for record, arrays in pool.imap_unordered(_worker_job, jobs):
                    _store(cache, record, arrays)
                    bar.update()
        else:
            for model in todo:
                _store(cache, *evaluate_object(model, ctx))
                bar.update()
        bar.close()
    records = [json.loads((cache / f"{m.model_id}.json").read_text()) for m in models]
    from mvaug.data.synth.writer import read_model_families

    families = read_model_families(data)
    for record in records:
        record["family"] = families.get(record["object"], record["taxonomy_id"])
    summary = summarise(records, config)
    summary["settings"] = settings
    from mvaug.evaluate.reconstruction_report import write_report

    write_report(out, records, summary, config, cache)
    return summary


def _config_settings(config: ReconEvalConfig) -> dict:
    """The config as stored in settings.json; without ``retrieve_from`` when unset and ``refine_steps`` and ``sharpen``
    when 0, so earlier report folders resume."""
    stored = asdict(config)
    if config.retrieve_from is None:
        del stored["retrieve_from"]
    for key in ("refine_steps", "sharpen"):
        if not stored[key]:
            del stored[key]
    return stored


def _refuse_trained_on(models: list, trained_on: frozenset[Path], data: str | os.PathLike) -> None:
    """A :class:`DataError` naming one held-out model whose renders the disentangler was trained on."""
    seen = [m.model_id for m in models if Path(m.rendering_dir).resolve() in trained_on]
    if seen:
        raise DataError(f"{len(seen)} of the held-out objects were in the disentangler's training data (e.g. {seen[0]}): "
                        "retrieved-K would find them; choose another --split or --data", data)


_WORKER_CTX: dict = {}


def _init_worker() -> None:
    torch.set_num_threads(1)


def _worker_job(job) -> tuple[dict, dict]:
    model, recon, run, bank, config, device = job
    key = (recon, run, bank)
    if key not in _WORKER_CTX:
        _WORKER_CTX[key] = EvalContext.load(recon, run, bank, config, device)
    return evaluate_object(model, _WORKER_CTX[key])


def _store(cache: Path, record: dict, arrays: dict) -> None:
    """Arrays first, then the JSON that marks the object done: a crash in between only repeats that object."""
    import io

    from mvaug.io.atomic import atomic_write_bytes, atomic_write_text

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(cache / f"{record['object']}.npz", buffer.getvalue())
    atomic_write_text(cache / f"{record['object']}.json", json.dumps(record) + "\n")


def _stored_settings(folder: Path) -> dict | None:
    """The settings.json of a report folder of ``mvaug evaluate``; None when there is none (or it is someone else's file)."""
    try:
        stored = json.loads((folder / SETTINGS).read_text())
    except (OSError, ValueError):
        return None
    keys = ("data", "recon", "run", "bank", "config")
    return stored if isinstance(stored, dict) and all(k in stored for k in keys) else None


def _check_report_folder(out: Path, settings: dict, replace_other: bool = False) -> None:
    """OUT is new, empty, or a report folder of the same evaluation (resumed); a report folder of another
    evaluation is emptied when ``replace_other``, refused otherwise, and anything else is refused."""
    import shutil

    from mvaug.io.outputs import check_output_folder

    check_output_folder(out, lambda folder: _stored_settings(folder) is not None, "a report folder of 'mvaug evaluate'")
    previous = _stored_settings(out)
    changed = [] if previous is None else sorted(k for k in settings if previous.get(k) != settings[k])
    if changed and replace_other:
        shutil.rmtree(out)
    elif changed:
        raise DataError(f"the report folder holds an evaluation with other {', '.join(changed)}; choose a new --out or delete it", out)


def bootstrap_interval(differences: np.ndarray, resamples: int, seed: int, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of paired differences (N,), resampling objects."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(differences), size=(resamples, len(differences)))
    means = differences[picks].mean(axis=1)
    tail = (1.0 - level) / 2.0
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))


def summarise(records: list[dict], config: ReconEvalConfig) -> dict:
    """Means per condition and threshold; paired differences (generated - single, gt - generated and, with
    retrieval, generated - retrieved) at the headline threshold."""
    t = config.thresholds.index(config.headline_threshold)
    conditions = config.conditions()
    ious = {c: np.array([r["ious"][c] for r in records]) for c in conditions}  # (N, T) each
    summary = {
        "objects": len(records),
        "thresholds": list(config.thresholds),
        "headline_threshold": config.headline_threshold,
        "mean_iou": {c: ious[c].mean(axis=0).tolist() for c in conditions},
        "by_family": {},
        "paired": {},
    }
    for family in sorted({r["family"] for r in records}):
        rows = [k for k, r in enumerate(records) if r["family"] == family]
        summary["by_family"][family] = {"n": len(rows), **{c: float(ious[c][rows, t].mean()) for c in conditions}}
    for k in config.views:
        pairs = [(f"generated-{k}", SINGLE), (f"gt-{k}", f"generated-{k}")]
        if config.retrieve_from is not None:
            pairs.append((f"generated-{k}", f"retrieved-{k}"))
        for better, worse in pairs:
            summary["paired"][f"{better} - {worse}"] = paired_difference(ious[better][:, t] - ious[worse][:, t], config.bootstrap, config.seed)
    return summary


def paired_difference(differences: np.ndarray, resamples: int, seed: int) -> dict:
    """Mean, 95 % bootstrap interval (:func:`bootstrap_interval`), win and tie rates of paired differences (N,)."""
    low, high = bootstrap_interval(differences, resamples, seed)
    return {"mean": float(differences.mean()), "ci95": [low, high], "win_rate": float((differences > 0).mean()),
            "tie_rate": float((differences == 0).mean())}
