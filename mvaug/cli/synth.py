"""``mvaug data synth-chairs``: the built-in procedural chair data set."""

from __future__ import annotations

import click


@click.command("synth-chairs")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--models", default=100, show_default=True, help="Number of chair models.")
@click.option("--views", default=24, show_default=True, help="Random views per model (ShapeNet-like).")
@click.option("--size", default=137, show_default=True, help="Render size in pixels.")
@click.option("--seed", default=0, show_default=True, help="Master seed; equal seeds give byte-identical output.")
@click.option("--workers", default=1, show_default=True, help="Worker processes (output does not depend on it).")
@click.option("--dense", is_flag=True, help="Render the 3D-Chairs-like grid (31 azimuths x 2 elevations = 62 views).")
@click.option("--family", "families", multiple=True, help="Only these chair families (repeat the option).")
@click.option("--split", default="0.7,0.1,0.2", show_default=True, help="Train,val,test fractions by model.")
@click.option("--supersample", default=2, show_default=True, help="Anti-aliasing rays per pixel along each axis.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def synth_chairs(out, models, views, size, seed, workers, dense, families, split, supersample, quiet) -> None:
    """Synthesise procedural chairs in the ShapeNet layout (renders, metadata, binvox, obj, split JSON)."""
    from mvaug.data.synth.writer import SynthChairsConfig, synthesize_chairs

    try:
        fractions = tuple(float(v) for v in split.split(","))
        config = SynthChairsConfig(models, views, size, seed, dense, supersample, fractions, tuple(families))
    except ValueError as err:
        raise click.BadParameter(str(err)) from None
    summary = synthesize_chairs(out, config, workers=workers, progress=not quiet)
    click.echo(
        f"{len(summary.models)} chairs in {summary.root} ({summary.written} written, {summary.skipped} kept from before); "
        f"split {summary.splits}"
    )
