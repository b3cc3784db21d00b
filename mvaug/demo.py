"""The main job on the built-in data: ``mvaug demo`` (``make demo``), end to end.

By default it uses the built-in models (:mod:`mvaug.builtin`, a few minutes on a CPU):

1. synthesise a few held-out dense chairs with a seed no training used (``HELDOUT_SEED``);
2. reconstruct one of them from one image, without and with generated views;
3. rebuild the built-in disentangler's training chairs from the recipe on its card (``mvaug models data``);
4. evaluate single vs generated vs retrieved vs ground-truth views on the held-out chairs (``mvaug evaluate
   --retrieve-from``: retrieved-K looks up, at the same cameras, the training chairs nearest in style).

With ``retrain`` it trains everything from scratch first (``scripts/train_defaults.py`` trains the
built-in chair models with the same function, :func:`train_chair_models`):

1. synthesise dense procedural chairs (ShapeNet layout) for the disentangler, and a second set with
   more chairs and fewer views for Pix2Vox;
2. train the disentangler and its encoders (``configs/chairs-quick.yaml``), build its content bank;
3. train Pix2Vox-F (``configs/pix2vox-quick.yaml``);
4. reconstruct one held-out chair from one image, without and with generated views;
5. evaluate single vs generated vs retrieved (from the disentangler's chairs) vs ground-truth views on the
   held-out chairs.

Every stage is skipped when its output exists and resumed when it was interrupted, so a second call
only prints the summary. ``fast`` runs the from-scratch path on tiny data and tiny models (about a
minute), for the tests and a first look; its numbers mean nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from mvaug.errors import ConfigError

CONFIGS = Path(__file__).resolve().parent / "configs"
"""The YAML configs: ``configs/`` of the repository, shipped inside the package (``mvaug/configs`` links to it)."""


@dataclass(frozen=True)
class DemoPlan:
    """Sizes of one demo run."""

    dense_models: int = 20
    dense_size: int = 137
    dense_split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    recon_models: int = 120
    recon_views: int = 12
    recon_data_seed: int = 1
    """Seed of Pix2Vox's chairs, added to the run's ``seed``."""
    recon_split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    """Train / validation / test shares of Pix2Vox's chairs."""
    recon_look: str = "flat"
    """Look of Pix2Vox's chairs (``mvaug data synth-chairs --look``)."""
    recon_config: str = "pix2vox-quick.yaml"
    """Pix2Vox's config in configs/; one with ``synth`` keys (pix2vox-augment.yaml) learns from generated views too."""
    disentangler_overrides: tuple[str, ...] = ()
    recon_overrides: tuple[str, ...] = ()
    eval_views: tuple[int, ...] = (1, 2, 4, 8)
    generate: int = 4
    refine_steps: int = 100
    """Test-time refinement steps of each input's codes before its views are generated (as the chair commands do)."""
    heldout_models: int = 8
    """Fresh held-out chairs of the built-in-model demo."""


FULL = DemoPlan()
FAST = DemoPlan(
    dense_models=4,
    dense_size=32,
    dense_split=(0.5, 0.25, 0.25),
    recon_models=6,
    recon_views=4,
    disentangler_overrides=(
        "model.image_size=32", "model.style_dim=16", "model.content_dim=8", "model.channels=[32,32,16,8]",
        "train.steps=4", "train.batch_size=16", "train.encoder_steps=2", "train.checkpoint_every=4", "train.sample_every=4",
    ),
    recon_overrides=("model.image_size=32", "train.epochs=1", "train.stage1_epochs=0", "train.two_stage=false", "train.batch_size=2", "data.cache_images=false",
                     "data.val_views=2"),
    eval_views=(1, 2),
    generate=2,
    refine_steps=2,
    heldout_models=2,
)
HELDOUT_SEED = 1000
"""Seed (plus ``--seed``) of the held-out chairs of the built-in-model demo; training data uses seeds 0 and 1."""


@dataclass
class DemoResult:
    data_root: Path
    sheet: Path
    models: int
    disentangler: Path | str | None = None
    """Run folder, or ``builtin:NAME``."""
    recon: Path | str | None = None
    reconstructions: dict[str, Path] = field(default_factory=dict)
    report: Path | None = None
    summary: dict = field(default_factory=dict)


def run_demo(out: str | Path, models: int | None = None, workers: int = 2, seed: int = 0, progress: bool = True, fast: bool = False,
             data_only: bool = False, retrain: bool = False) -> DemoResult:
    """Run the stages above into ``out``: with the built-in models, or with ``retrain`` (implied by ``fast`` and
    ``data_only``) from scratch; ``models`` overrides the number of chairs; ``data_only`` stops after the data."""
    from mvaug.data.synth.writer import SynthChairsConfig

    plan = FAST if fast else FULL
    out = Path(out)
    if not (retrain or fast or data_only):
        return _builtin_demo(out, plan, models or plan.heldout_models, workers, seed, progress)
    dense = out / "chairs"
    config = SynthChairsConfig(models=models or plan.dense_models, seed=seed, dense=True, size=plan.dense_size, split=plan.dense_split)
    result = _chairs_with_sheet(out, dense, config, workers, progress)
    if data_only:
        return result
    result.disentangler, result.recon = train_chair_models(out, dense, plan, seed, workers, progress)
    result.reconstructions = _reconstruct_one(out, dense, result, plan)
    result.report, result.summary = _evaluate(out, dense, result, plan, seed, progress, retrieve_from=dense)
    return result


def train_chair_models(out: Path, dense: Path, plan: DemoPlan, seed: int = 0, workers: int = 2, progress: bool = True) -> tuple[Path, Path]:
    """Stages 2-3: the disentangler + bank on the dense chairs in ``dense`` (``out/runs/disentangler``), then
    :func:`train_pix2vox`; returns the two run folders (resumed, or skipped when finished)."""
    if not (CONFIGS / "chairs-quick.yaml").is_file():
        raise ConfigError("the demo's configs chairs-quick.yaml and pix2vox-quick.yaml are missing from the installed package; reinstall mvaug", CONFIGS)
    disentangler = out / "runs" / "disentangler"
    train_disentangler(disentangler, dense, CONFIGS / "chairs-quick.yaml", plan.disentangler_overrides, progress=progress)
    return disentangler, train_pix2vox(out, plan, seed, workers, progress, augment_from=disentangler)


def train_pix2vox(out: Path, plan: DemoPlan, seed: int = 0, workers: int = 2, progress: bool = True, augment_from: str | Path | None = None) -> Path:
    """Stage 3: Pix2Vox-F (``plan.recon_config``) on ``plan.recon_models`` chairs x ``plan.recon_views`` views
    (``out/recon-chairs``, seed ``seed + plan.recon_data_seed``) in ``out/runs/pix2vox`` (resumed, or skipped when
    finished); returns the run folder. A config that learns from generated views takes them from ``augment_from``
    (a disentangler run or ``builtin:NAME``; None keeps the config's ``synth.run``)."""
    from mvaug.data.synth.writer import synthesize_chairs
    from mvaug.engine.loop import TrainRequest
    from mvaug.recon.run import run_recon_training

    recon_data, run = out / "recon-chairs", out / "runs" / "pix2vox"
    synthesize_chairs(recon_data, pix2vox_data(plan, seed), workers=workers, progress=progress)
    resume = (run / "config.yaml").is_file()  # a finished run resumes to its last step and returns
    run_recon_training(TrainRequest(recon_data, run, CONFIGS / plan.recon_config, pix2vox_overrides(plan, augment_from), resume, progress=progress))
    return run


def pix2vox_data(plan: DemoPlan, seed: int = 0):
    """The ``SynthChairsConfig`` of Pix2Vox's chairs."""
    from mvaug.data.synth.writer import SynthChairsConfig

    return SynthChairsConfig(models=plan.recon_models, views=plan.recon_views, seed=seed + plan.recon_data_seed, size=plan.dense_size, split=plan.recon_split,
                             look=plan.recon_look)


def pix2vox_overrides(plan: DemoPlan, augment_from: str | Path | None) -> tuple[str, ...]:
    """``plan.recon_overrides``, and ``synth.run=augment_from`` when the config learns from generated views (the value
    JSON-quoted, as ``--augment-from`` writes it: YAML reads it back as the same string)."""
    import json

    import yaml

    learns_from_generated = "synth" in (yaml.safe_load((CONFIGS / plan.recon_config).read_text()) or {})
    return tuple(plan.recon_overrides) + ((f"synth.run={json.dumps(str(augment_from))}",) if learns_from_generated and augment_from is not None else ())


def train_disentangler(run: Path, data: Path, config: Path, overrides: tuple[str, ...] = (), bank_views: str | None = None,
                       device: str = "auto", progress: bool = True, finish: tuple[str, ...] = (), bank_neighbours: int = 0) -> None:
    """The disentangler of ``config`` (+ ``overrides``) on ``data`` in ``run`` (resumed, or skipped when finished),
    then its content bank ``RUN/bank.npz`` of ``bank_views`` (every training camera when None) with ``bank_neighbours``
    style neighbours. With ``finish``, stage 1
    ends as ``overrides`` say, resumes with the ``finish`` overrides (e.g. more epochs under another loss), and stage 2
    fits the encoders after that."""
    from mvaug.disentangle.run import run_training
    from mvaug.engine.loop import TrainRequest
    from mvaug.multiview.pipeline import build_bank
    from mvaug.multiview.synthesizer import DEFAULT_BANK_NAME
    from mvaug.multiview.views import parse_views

    if not (run / "model.pt").is_file():
        request = TrainRequest(data, run, config, tuple(overrides), (run / "config.yaml").is_file(), device=device, progress=progress)
        if finish:  # a second call after an interruption finds stage 1 past its first end and goes on to the finish
            run_training(request, stage="generator")
            request = replace(request, overrides=tuple(finish), resume=True)
        run_training(request)
    if not (run / DEFAULT_BANK_NAME).is_file():
        build_bank(run, data=data, views=parse_views(bank_views) if bank_views else None, device=device, progress=progress, neighbours=bank_neighbours)


def _builtin_demo(out: Path, plan: DemoPlan, models: int, workers: int, seed: int, progress: bool) -> DemoResult:
    from mvaug.io.assets import DEFAULT_NAMES, default_ref, verify
    from mvaug.data.synth.writer import SynthChairsConfig
    from mvaug.errors import DataError
    from mvaug.multiview.training_data import rebuild_training_data

    for role in ("disentangler", "reconstructor"):
        try:
            verify(DEFAULT_NAMES[("chair", role)])
        except DataError as err:
            raise DataError(f"{err.message}; or train everything from scratch with 'mvaug demo --retrain'", err.path) from None
    heldout = out / "heldout-chairs"
    config = SynthChairsConfig(models=models, seed=HELDOUT_SEED + seed, dense=True, size=plan.dense_size, split=(0.0, 0.0, 1.0))
    result = _chairs_with_sheet(out, heldout, config, workers, progress)
    result.disentangler, result.recon = default_ref("chair", "disentangler"), default_ref("chair", "reconstructor")
    result.reconstructions = _reconstruct_one(out, heldout, result, plan)
    disentangler_data = rebuild_training_data(DEFAULT_NAMES[("chair", "disentangler")], out / "disentangler-chairs", workers, progress)
    result.report, result.summary = _evaluate(out, heldout, result, plan, seed, progress, retrieve_from=disentangler_data)
    return result


def _chairs_with_sheet(out: Path, root: Path, config, workers: int, progress: bool) -> DemoResult:
    """Stage 1: the chairs of ``config`` (a ``SynthChairsConfig``) in ``root`` and ``out/preview_sheet.png`` of the first eight."""
    from mvaug.data.synth.writer import CHAIR_TAXONOMY, synthesize_chairs
    from mvaug.io.images import write_png
    from mvaug.viz.dataset_sheet import dataset_sheet

    summary = synthesize_chairs(root, config, workers=workers, progress=progress)
    sheet_path = out / "preview_sheet.png"
    sheet = dataset_sheet(root / "ShapeNetRendering" / CHAIR_TAXONOMY, root / "ShapeNetVox32" / CHAIR_TAXONOMY, summary.models[: min(8, config.models)], size=config.size)
    write_png(sheet_path, sheet)
    return DemoResult(root, sheet_path, len(summary.models))


def _evaluate(out: Path, data: Path, result: DemoResult, plan: DemoPlan, seed: int, progress: bool, retrieve_from: Path) -> tuple[Path, dict]:
    from mvaug.evaluate.reconstruction import ReconEvalConfig, evaluate_reconstruction

    report = out / "report"
    config = ReconEvalConfig(views=plan.eval_views, seed=seed, retrieve_from=str(retrieve_from), refine_steps=plan.refine_steps)
    return report, evaluate_reconstruction(data, result.recon, result.disentangler, report, config, device="auto", progress=progress,
                                           replace_other=True)  # the report of an earlier demo with other models or settings goes


def _reconstruct_one(out: Path, data: Path, result: DemoResult, plan: DemoPlan) -> dict[str, Path]:
    """View 00 of the first held-out chair, reconstructed alone and with ``plan.generate`` generated views."""
    from mvaug.data.shapenet import ShapeNetDataset, list_views
    from mvaug.multiview.synthesizer import generate_around
    from mvaug.recon.reconstruct import run_reconstruct

    model = ShapeNetDataset.from_root(data, split="test").models[0]
    image = list_views(model.rendering_dir)[0]
    folder = out / "reconstruction"
    single = run_reconstruct([image], result.recon, folder / f"{model.model_id}-single")
    generated = generate_around(image, result.disentangler, plan.generate, refine_steps=plan.refine_steps)
    both = run_reconstruct([image], result.recon, folder / f"{model.model_id}-generated", generated=generated)
    return {"input": image, "single": single.paths[".png"], "generated": both.paths[".png"]}
