"""``mvaug train``: the C-S disentangler, stage 1 then stage 2."""

from __future__ import annotations

import click


@click.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Experiment YAML (configs/*.yaml).")
@click.option("--data", required=True, type=click.Path(), help="ShapeNet-layout root, 3D Chairs, CelebA or image folder.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder (runs/NAME).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its latest checkpoint.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config value, e.g. --set train.steps=500.")
@click.option("--max-steps", type=int, help="Stop after this many steps (smoke runs); resume later.")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--stage", default="all", show_default=True, type=click.Choice(["all", "generator", "encoders"]), help="'encoders' runs stage 2 alone on a finished stage 1.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def train(config_path, data, out, resume, overrides, max_steps, device, stage, quiet) -> None:
    """Train the content/style disentangler (latent optimisation, then encoders)."""
    from mvaug.disentangle.run import run_training

    result = run_training(data, out, config_path, overrides, resume, max_steps, device, stage, progress=not quiet)
    click.echo(f"run {result.run_dir}: stage 1 at step {result.step}; last log {result.last}")
