"""The main job on the built-in data: ``mvaug demo`` (``make demo``).

Synthesises a small procedural chair set in the ShapeNet layout, voxelises it, and draws a preview
sheet. Later stages (disentangler, multi-view synthesis, reconstruction) extend this pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class DemoResult:
    data_root: Path
    sheet: Path
    models: int


def run_demo(out: str | Path, models: int = 24, workers: int = 2, seed: int = 0, progress: bool = True) -> DemoResult:
    from mvaug.data.synth.writer import CHAIR_TAXONOMY, SynthChairsConfig, synthesize_chairs
    from mvaug.io.images import write_png
    from mvaug.viz.dataset_sheet import dataset_sheet

    out = Path(out)
    data_root = out / "chairs"
    summary = synthesize_chairs(data_root, SynthChairsConfig(models=models, seed=seed), workers=workers, progress=progress)
    sheet_path = out / "preview_sheet.png"
    sheet = dataset_sheet(
        data_root / "ShapeNetRendering" / CHAIR_TAXONOMY,
        data_root / "ShapeNetVox32" / CHAIR_TAXONOMY,
        summary.models[: min(8, models)],
    )
    write_png(sheet_path, sheet)
    return DemoResult(data_root, sheet_path, len(summary.models))
