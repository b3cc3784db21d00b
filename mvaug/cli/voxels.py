"""``mvaug voxels``: voxel IoU, voxels to mesh, previews."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mvaug.errors import DataError

AXIS_CHOICES = ("xyz", "xzy", "yxz", "yzx", "zxy", "zyx")  # how a stored array's axes map to x, y, z


@click.group()
def voxels() -> None:
    """Voxel grids: IoU, meshing and previews."""


def _parse_thresholds(ctx: click.Context, param: click.Parameter, value: str) -> tuple[float, ...]:
    try:
        thresholds = tuple(float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {value!r}") from None
    if not all(0.0 < t <= 1.0 for t in thresholds):
        raise click.BadParameter(f"thresholds must lie in (0, 1], got {value!r}")
    return thresholds


@voxels.command()
@click.argument("pred", type=click.Path(path_type=Path))
@click.argument("gt", type=click.Path(path_type=Path))
@click.option(
    "--thresholds", default="0.2,0.3,0.4,0.5", show_default=True, callback=_parse_thresholds,
    help="Comma-separated binarisation thresholds (a voxel is occupied when prediction >= t).",
)
@click.option("--per-file", is_flag=True, help="Also print one row per prediction.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write all results here.")
@click.option("--format", "style", type=click.Choice(["text", "markdown"]), default="text", show_default=True)
@click.option(
    "--pred-axes", type=click.Choice(AXIS_CHOICES), default="xyz", show_default=True,
    help="Axis order of the prediction arrays as stored; 'xzy' for predictions written with y and z swapped.",
)
def iou(
    pred: Path, gt: Path, thresholds: tuple[float, ...], per_file: bool, json_path: Path | None, style: str, pred_axes: str
) -> None:
    """Voxel IoU (Pix2Vox's definition) of predictions PRED against ground truth GT.

    PRED and GT are files (.binvox, or .npy grids of probabilities) or folders: every
    PRED/<taxonomy>/<model>/<name>.binvox|.npy is scored against GT/<taxonomy>/<model>/model.binvox.
    """
    from mvaug.evaluate.voxel_iou import (
        evaluate_pairs,
        find_prediction_pairs,
        format_category_table,
        format_file_table,
        iou_report,
        mean_iou_by_category,
    )
    from mvaug.io.atomic import atomic_write_text
    from mvaug.io.outputs import check_outputs

    pairs = find_prediction_pairs(pred, gt)
    if json_path is not None:
        check_outputs([json_path], [path for p in pairs for path in (p.prediction, p.ground_truth)], overwrite=True)
    ious = evaluate_pairs(pairs, thresholds, pred_axes)
    if per_file:
        click.echo(format_file_table(pairs, ious, thresholds, style) + "\n")
    summary = mean_iou_by_category(ious, [p.taxonomy_id for p in pairs])
    click.echo(format_category_table(summary, thresholds, style))
    if json_path is not None:
        atomic_write_text(json_path, json.dumps(iou_report(pairs, ious, thresholds, pred_axes), indent=2) + "\n")
        click.echo(f"wrote {json_path}", err=True)


@voxels.command()
@click.argument("grid_path", metavar="IN", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--threshold", default=0.5, show_default=True, type=float, help="Voxels >= threshold are solid.")
@click.option(
    "--axes", type=click.Choice(AXIS_CHOICES), default="xyz", show_default=True,
    help="Axis order of the array as stored; 'xzy' for a grid written with y and z swapped.",
)
def mesh(grid_path: Path, out: Path, threshold: float, axes: str) -> None:
    """Mesh the voxel grid IN (.binvox or .npy) with marching cubes and write OUT (.obj, .ply, .off, .stl).

    The grid fills a cube centred on the origin whose side is the binvox header's scale (1.0 for .npy).
    """
    from mvaug.io.outputs import check_outputs
    from mvaug.io.voxel_files import read_grid
    from mvaug.geometry.voxel_mesh import export_mesh, mesh_file_type, voxels_to_mesh

    mesh_file_type(out)  # reject an unsupported format before the work
    check_outputs([out], [grid_path], overwrite=True)
    grid, side = read_grid(grid_path, axes)
    if len(set(grid.shape)) != 1:
        raise DataError(f"expected a cubic voxel grid, got shape {grid.shape}", grid_path)
    result = voxels_to_mesh(grid, threshold=threshold, side=side)
    if result.is_empty:
        raise DataError(f"no voxel reaches the threshold {threshold:g}; nothing to mesh", grid_path)
    export_mesh(result, out)
    click.echo(f"wrote {out}: {len(result.vertices)} vertices, {len(result.faces)} faces")


@voxels.command()
@click.argument("shape_path", metavar="IN", type=click.Path(path_type=Path))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PNG to write.")
@click.option("--views", default=4, show_default=True, help="Number of azimuths around the object.")
@click.option("--size", default=256, show_default=True, help="Pixels per view.")
@click.option("--threshold", default=0.5, show_default=True, type=float, help="For .npy probabilities: voxels >= threshold.")
@click.option("--axes", type=click.Choice(AXIS_CHOICES), default="xyz", show_default=True, help="Axis order of a stored grid.")
def show(shape_path: Path, out: Path, views: int, size: int, threshold: float, axes: str) -> None:
    """Render a voxel grid (.binvox, .npy) or a mesh (.obj, .ply, .off, .stl) from a few views into one PNG."""
    from mvaug.io.images import write_png
    from mvaug.io.outputs import check_outputs
    from mvaug.viz.previews import shape_preview

    if out.suffix.lower() != ".png":
        raise DataError("the preview is written as PNG; give a file name ending in .png", out)
    check_outputs([out], [shape_path], overwrite=True)
    write_png(out, shape_preview(shape_path, views=views, size=size, threshold=threshold, axes=axes))
    click.echo(f"wrote {out}")
