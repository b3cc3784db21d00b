"""The main job on the built-in data: ``mvaug demo`` (``make demo``), end to end.

1. synthesise dense procedural chairs (ShapeNet layout) for the disentangler, and a second set with
   more chairs and fewer views for Pix2Vox;
2. train the disentangler and its encoders (``configs/chairs-quick.yaml``), build its content bank;
3. train Pix2Vox-F (``configs/pix2vox-quick.yaml``);
4. reconstruct one held-out chair from one image, without and with generated views;
5. evaluate single vs generated vs ground-truth views on the held-out chairs.

Every stage is skipped when its output exists and resumed when it was interrupted, so a second call
only prints the summary. ``fast`` runs the same path on tiny data and tiny models (about a minute),
for the tests and a first look; its numbers mean nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mvaug.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@dataclass(frozen=True)
class DemoPlan:
    """Sizes of one demo run."""

    dense_models: int = 20
    dense_size: int = 137
    dense_split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    recon_models: int = 120
    recon_views: int = 12
    disentangler_overrides: tuple[str, ...] = ()
    recon_overrides: tuple[str, ...] = ()
    eval_views: tuple[int, ...] = (1, 2, 4, 8)
    generate: int = 4


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
    recon_overrides=("model.image_size=32", "train.epochs=1", "train.stage1_epochs=0", "train.two_stage=false", "train.batch_size=2", "data.cache_images=false"),
    eval_views=(1, 2),
    generate=2,
)


@dataclass
class DemoResult:
    data_root: Path
    sheet: Path
    models: int
    disentangler: Path | None = None
    recon: Path | None = None
    reconstructions: dict[str, Path] = field(default_factory=dict)
    report: Path | None = None
    summary: dict = field(default_factory=dict)


def run_demo(out: str | Path, models: int | None = None, workers: int = 2, seed: int = 0, progress: bool = True, fast: bool = False, data_only: bool = False) -> DemoResult:
    """Run the stages above into ``out``; ``models`` overrides the number of dense chairs; ``data_only`` stops after stage 1."""
    from mvaug.data.synth.writer import CHAIR_TAXONOMY, SynthChairsConfig, synthesize_chairs
    from mvaug.io.images import write_png
    from mvaug.viz.dataset_sheet import dataset_sheet

    plan = FAST if fast else FULL
    out = Path(out)
    dense = out / "chairs"
    count = models or plan.dense_models
    summary = synthesize_chairs(dense, SynthChairsConfig(models=count, seed=seed, dense=True, size=plan.dense_size, split=plan.dense_split), workers=workers, progress=progress)
    sheet_path = out / "preview_sheet.png"
    sheet = dataset_sheet(dense / "ShapeNetRendering" / CHAIR_TAXONOMY, dense / "ShapeNetVox32" / CHAIR_TAXONOMY, summary.models[: min(8, count)], size=plan.dense_size)
    write_png(sheet_path, sheet)
    result = DemoResult(dense, sheet_path, len(summary.models))
    if data_only:
        return result
    if not (CONFIGS / "chairs-quick.yaml").is_file():
        raise ConfigError("the demo reads configs/chairs-quick.yaml and configs/pix2vox-quick.yaml: run it from a source checkout", CONFIGS)
    result.disentangler = _disentangler(out, dense, plan, progress)
    recon_data = out / "recon-chairs"
    synthesize_chairs(recon_data, SynthChairsConfig(models=plan.recon_models, views=plan.recon_views, seed=seed + 1, size=plan.dense_size, split=(0.8, 0.1, 0.1)), workers=workers, progress=progress)
    result.recon = _pix2vox(out, recon_data, plan, progress)
    result.reconstructions = _reconstruct_one(out, dense, result, plan)
    from mvaug.evaluate.reconstruction import ReconEvalConfig, evaluate_reconstruction

    result.report = out / "report"
    result.summary = evaluate_reconstruction(dense, result.recon, result.disentangler, result.report, ReconEvalConfig(views=plan.eval_views, seed=seed), device="auto", progress=progress)
    return result


def _disentangler(out: Path, data: Path, plan: DemoPlan, progress: bool) -> Path:
    from mvaug.disentangle.run import run_training
    from mvaug.multiview.pipeline import build_bank
    from mvaug.multiview.synthesizer import DEFAULT_BANK_NAME

    run = out / "runs" / "disentangler"
    if not (run / "model.pt").is_file():
        resume = (run / "config.yaml").is_file()
        run_training(data, run, CONFIGS / "chairs-quick.yaml", list(plan.disentangler_overrides), resume=resume, progress=progress)
    if not (run / DEFAULT_BANK_NAME).is_file():
        build_bank(run, data=data, progress=progress)
    return run


def _pix2vox(out: Path, data: Path, plan: DemoPlan, progress: bool) -> Path:
    from mvaug.recon.run import run_recon_training

    run = out / "runs" / "pix2vox"
    resume = (run / "config.yaml").is_file()  # a finished run resumes to its last step and returns
    run_recon_training(data, run, CONFIGS / "pix2vox-quick.yaml", list(plan.recon_overrides), resume=resume, progress=progress)
    return run


def _reconstruct_one(out: Path, data: Path, result: DemoResult, plan: DemoPlan) -> dict[str, Path]:
    """View 00 of the first held-out chair, reconstructed alone and with ``plan.generate`` generated views."""
    from mvaug.data.shapenet import ShapeNetDataset, list_views
    from mvaug.multiview.synthesizer import generate_around
    from mvaug.recon.reconstruct import run_reconstruct

    model = ShapeNetDataset.from_root(data, split="test").models[0]
    image = list_views(model.rendering_dir)[0]
    folder = out / "reconstruction"
    single = run_reconstruct([image], result.recon, folder / f"{model.model_id}-single")
    generated = generate_around(image, result.disentangler, plan.generate)
    both = run_reconstruct([image], result.recon, folder / f"{model.model_id}-generated", generated=generated)
    return {"input": image, "single": single.paths[".png"], "generated": both.paths[".png"]}
