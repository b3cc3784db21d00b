"""``mvaug data synth-faces``: the built-in synthetic face data set (procedural morphable head)."""

from __future__ import annotations

import click

from mvaug.cli.options import float_list, synth_command


@synth_command("synth-faces", "SynthFacesConfig", [
    click.option("--identities", type=int, help="Number of random identities [100]."),
    click.option("--size", type=int, help="Image side in pixels, e.g. 64, 128 or 224 [128]."),
    click.option("--seed", type=int, help="Master seed; equal settings give byte-identical output [0]."),
    click.option("--yaws", callback=float_list("comma-separated numbers"), help="Comma-separated yaw angles in degrees [-90,-75,...,90]."),
    click.option("--pitches", callback=float_list("comma-separated numbers"), help="Comma-separated pitch angles in degrees [-20,0,20]."),
    click.option("--split", callback=float_list("comma-separated numbers"), help="Train,val,test fractions by identity [0.8,0.1,0.1]."),
    click.option("--model", help="'procedural' (built-in synthetic head) or a morphable model file (.npz, BFM .mat/.h5, 3DDFA Model_Shape.mat)."),
    click.option("--expression-std", type=float, help="Spread of the expression coefficients, in standard deviations [0.5]."),
])
def synth_faces(out, config_path, workers, quiet, **options) -> None:
    """Render random faces over a yaw x pitch grid with landmarks, poses, coefficients and meshes (layout: mvaug.faces.synth)."""
    from mvaug.config import load_config
    from mvaug.faces.synth import SynthFacesConfig, synthesize_faces

    overrides = {k: v for k, v in options.items() if v is not None}
    config = load_config(SynthFacesConfig, config_path, overrides)
    summary = synthesize_faces(out, config, workers=workers, progress=not quiet)
    click.echo(
        f"{len(summary.identities)} identities x {len(config.yaws) * len(config.pitches)} views in {summary.root} "
        f"({summary.written} written, {summary.skipped} kept from before); split {summary.splits}"
    )
