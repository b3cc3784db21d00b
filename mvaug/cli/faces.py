"""``mvaug data synth-faces``: the built-in synthetic face data set (procedural morphable head)."""

from __future__ import annotations

import click


def _float_list(ctx: click.Context, param: click.Parameter, value: str | None):
    if value is None:
        return None
    try:
        return [float(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {value!r}") from None


@click.command("synth-faces")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML file of SynthFacesConfig keys; options given here override it.")
@click.option("--identities", type=int, help="Number of random identities [100].")
@click.option("--size", type=int, help="Image side in pixels, e.g. 64, 128 or 224 [128].")
@click.option("--seed", type=int, help="Master seed; equal settings give byte-identical output [0].")
@click.option("--yaws", callback=_float_list, help="Comma-separated yaw angles in degrees [-90,-75,...,90].")
@click.option("--pitches", callback=_float_list, help="Comma-separated pitch angles in degrees [-20,0,20].")
@click.option("--split", callback=_float_list, help="Train,val,test fractions by identity [0.8,0.1,0.1].")
@click.option("--model", help="'procedural' (built-in synthetic head) or a morphable model file (.npz, BFM .mat/.h5, 3DDFA Model_Shape.mat).")
@click.option("--expression-std", type=float, help="Spread of the expression coefficients, in standard deviations [0.5].")
@click.option("--supersample", type=int, help="Anti-aliasing rays per pixel along each axis [2].")
@click.option("--workers", default=1, show_default=True, help="Worker processes (the output does not depend on it).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
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
