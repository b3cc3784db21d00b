"""``mvaug data synth-chairs``: the built-in procedural chair data set."""

from __future__ import annotations

import click

from mvaug.cli.options import float_list, synth_command


@synth_command("synth-chairs", "SynthChairsConfig", [
    click.option("--models", type=int, help="Number of chair models [100]."),
    click.option("--views", type=int, help="Random views per model, ShapeNet-like [24]."),
    click.option("--size", type=int, help="Render size in pixels [137]."),
    click.option("--seed", type=int, help="Master seed; equal seeds give byte-identical output [0]."),
    click.option("--dense/--random-views", default=None, help="Render the 3D-Chairs-like grid (31 azimuths x 2 elevations = 62 views)."),
    click.option("--family", "families", multiple=True, help="Only these chair families (repeat the option)."),
    click.option("--look", type=click.Choice(["flat", "realistic", "mixed"]),
                 help="flat: per-part colours, fixed lights; realistic: smooth shading, wood/fabric/metal textures, "
                      "random lights, jittered cameras, more families; mixed: each chair one of the two, even odds [flat]."),
    click.option("--split", callback=float_list("three comma-separated fractions"), help="Train,val,test fractions by model [0.7,0.1,0.2]."),
])
def synth_chairs(out, config_path, workers, quiet, **options) -> None:
    """Synthesise procedural chairs in the ShapeNet layout (renders, metadata, binvox, obj, split JSON)."""
    from mvaug.config import load_config
    from mvaug.data.synth.writer import SynthChairsConfig, synthesize_chairs

    overrides = {k: v for k, v in options.items() if v is not None and v != ()}
    config = load_config(SynthChairsConfig, config_path, overrides)
    summary = synthesize_chairs(out, config, workers=workers, progress=not quiet)
    click.echo(
        f"{len(summary.models)} chairs in {summary.root} ({summary.written} written, {summary.skipped} kept from before); "
        f"split {summary.splits}"
    )
