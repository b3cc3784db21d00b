"""``mvaug mesh``: compare a predicted mesh with a ground-truth mesh."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mvaug.errors import ConfigError


@click.group()
def mesh() -> None:
    """Triangle meshes: alignment and surface errors."""


@mesh.command()
@click.argument("pred", type=click.Path(path_type=Path))
@click.argument("gt", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the results (metrics, transform) as JSON.")
@click.option("--crop-radius", type=float, help="Only the GT surface within this distance of the nose tip counts (MICC-style).")
@click.option("--landmarks-a", type=click.Path(path_type=Path), help="Landmarks of PRED: K rows 'x y z' or K vertex indices (.txt, .csv, .npy).")
@click.option("--landmarks-b", type=click.Path(path_type=Path), help="The corresponding landmarks of GT.")
@click.option("--fscore-threshold", type=float, help="F-score distance in GT units [default: 1% of the GT bounding-box diagonal].")
@click.option("--no-icp", is_flag=True, help="Skip the ICP refinement after the coarse alignment.")
@click.option(
    "--alignment", type=click.Choice(["similarity", "rigid", "none"]), default="similarity", show_default=True,
    help="Fit scale + rotation + translation, rotation + translation, or compare the meshes as given.",
)
@click.option("--nose-landmark", default=30, show_default=True, help="Index of the nose tip among the GT landmarks.")
@click.option(
    "--view-axis", type=click.Choice(["+x", "-x", "+y", "-y", "+z", "-z"]), default="+z", show_default=True,
    help="Without landmarks the nose tip is the GT vertex farthest along this axis.",
)
@click.option("--samples", default=20000, show_default=True, help="Surface samples per mesh.")
@click.option("--seed", default=0, show_default=True, help="Seed of the surface sampling.")
def compare(
    pred: Path, gt: Path, as_json: bool, crop_radius: float | None, landmarks_a: Path | None, landmarks_b: Path | None,
    fscore_threshold: float | None, no_icp: bool, alignment: str, nose_landmark: int, view_axis: str, samples: int, seed: int,
) -> None:
    """Align the predicted mesh PRED to the ground truth GT (.obj, .ply, .off, .stl) and print the surface errors.

    Errors are in GT units: point-to-plane RMSE and mean point-to-surface distance (GT to PRED),
    symmetric chamfer distance (mean of unsquared distances), F-score and normal consistency.
    """
    from mvaug.evaluate.mesh_compare import MeshCompareConfig, compare_mesh_files, format_comparison

    try:
        config = MeshCompareConfig(
            alignment=alignment, icp=not no_icp, samples=samples, seed=seed, crop_radius=crop_radius,
            nose_landmark=nose_landmark, view_axis=view_axis, fscore_threshold=fscore_threshold,
        )
    except ValueError as err:
        raise ConfigError(str(err)) from None
    result = compare_mesh_files(pred, gt, config, landmarks_a, landmarks_b)
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else format_comparison(result))
