"""``mvaug train``: the C-S disentangler, stage 1 then stage 2."""

from __future__ import annotations

import click

from mvaug.cli.options import training_options


@click.command()
@training_options("Experiment YAML (configs/*.yaml).", "ShapeNet-layout root, 3D Chairs, CelebA or image folder.", "train.steps=500")
@click.option("--stage", default="all", show_default=True, type=click.Choice(["all", "generator", "encoders"]), help="'encoders' runs stage 2 alone on a finished stage 1.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def train(config_path, data, out, resume, overrides, max_steps, device, stage, quiet) -> None:
    """Train the content/style disentangler (latent optimisation, then encoders)."""
    from mvaug.disentangle.run import run_training
    from mvaug.engine.loop import TrainRequest

    request = TrainRequest(data, out, config_path, tuple(overrides), resume, max_steps, device, progress=not quiet)
    result = run_training(request, stage)
    click.echo(f"run {result.run_dir}: stage 1 at step {result.step}; last log {result.last}")
