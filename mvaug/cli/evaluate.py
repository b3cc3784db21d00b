"""``mvaug eval-disentangle``: disentanglement metrics of a trained run."""

from __future__ import annotations

import click


@click.command("eval-disentangle")
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--data", required=True, type=click.Path(), help="The data the run was trained on.")
@click.option("--pairs", default=1000, show_default=True, help="Content-transfer test pairs.")
@click.option("--distance", default="auto", show_default=True, type=click.Choice(["auto", "ssim", "l1"]), help="auto: LPIPS when its weights are on disk, else 1-SSIM.")
@click.option("--seed", default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]))
def eval_disentangle(run, data, pairs, distance, seed, device) -> None:
    """Content transfer (lower is better) and classification leakage of RUN; writes RUN/eval/metrics.{json,md}."""
    from pathlib import Path

    from mvaug.disentangle.evaluate import evaluate_run

    evaluate_run(run, data, pairs, seed, device, distance, progress=True)
    click.echo((Path(run) / "eval" / "metrics.md").read_text())
