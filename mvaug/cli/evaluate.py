"""``mvaug eval-disentangle``: disentanglement metrics of a trained run."""

from __future__ import annotations

import click

from mvaug.cli.options import KIND, device_option, refine_steps_option, sharpen_option
from mvaug.kinds import EvaluateOptions, get_kind


@click.command("eval-disentangle")
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--data", required=True, type=click.Path(), help="The data the run was trained on.")
@click.option("--pairs", default=1000, show_default=True, help="Content-transfer test pairs.")
@click.option("--distance", default="auto", show_default=True, type=click.Choice(["auto", "ssim", "l1"]), help="auto: LPIPS when its weights are on disk, else 1-SSIM.")
@click.option("--seed", default=0, show_default=True)
@device_option
def eval_disentangle(run, data, pairs, distance, seed, device) -> None:
    """Content transfer (lower is better) and classification leakage of RUN; writes RUN/eval/metrics.{json,md}."""
    from pathlib import Path

    from mvaug.evaluate.disentanglement import evaluate_run

    evaluate_run(run, data, pairs, seed, device, distance, progress=True)
    click.echo((Path(run) / "eval" / "metrics.md").read_text())


def _parse_counts(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        counts = tuple(sorted({int(v) for v in value.split(",")}))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated whole numbers, got {value!r}") from None
    if not counts or counts[0] < 1:
        raise click.BadParameter(f"numbers of added views must be >= 1, got {value!r}")
    return counts


@click.group(invoke_without_command=True)
@click.option("--data", type=click.Path(), help="ShapeNet-layout data with a dense view grid (renders at the bank's cameras).")
@click.option("--split", default="test", show_default=True)
@click.option("--recon", type=click.Path(), help="Pix2Vox run folder or checkpoint (mvaug train-recon).")
@click.option("--run", type=click.Path(file_okay=False), help="Disentangler run with its content bank.")
@click.option("--bank", "bank_path", type=click.Path(dir_okay=False), help="Content bank [RUN/bank.npz].")
@click.option("--out", type=click.Path(file_okay=False), help="Report folder: new, empty, or an earlier report of the same evaluation (resumed).")
@click.option("--views", default="1,2,4,8", show_default=True, callback=_parse_counts, help="Numbers K of added views.")
@click.option("--input-view", default=0, show_default=True, help="Index of the render that is the single input.")
@click.option("--limit", type=int, help="Only the first N objects of the split.")
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap intervals.")
@click.option("--workers", default=1, show_default=True, help="Processes evaluating objects in parallel.")
@click.option("--retrieve-from", type=click.Path(file_okay=False),
              help="The disentangler's training data, ShapeNet layout: adds retrieved-K, the training images nearest in style at the same cameras "
                   "(a built-in disentangler's: mvaug models data NAME DIR).")
@refine_steps_option
@sharpen_option
@device_option
@click.option("--kind", default="chair", show_default=True, type=KIND, help="face: MVF-Net meshes on synthetic faces (mesh errors, Fig. 13).")
@click.pass_context
def evaluate(ctx, data, split, recon, run, bank_path, out, views, input_view, limit, seed, workers, retrieve_from, refine_steps, sharpen, device, kind) -> None:
    """Single view vs generated views vs ground-truth views, reconstructed and scored by voxel IoU.

    `mvaug evaluate voxels PRED GT` scores folders of predictions made with other tools; `mvaug evaluate pool REPORT...`
    pools reports over test sets and training seeds.
    """
    if ctx.invoked_subcommand is not None:
        return
    missing = [name for name, value in (("--data", data), ("--recon", recon), ("--run", run), ("--out", out)) if value is None]
    if missing:
        raise click.UsageError(f"missing {', '.join(missing)} (or use a subcommand: mvaug evaluate voxels PRED GT, mvaug evaluate pool REPORT...)")
    from pathlib import Path

    options = EvaluateOptions(data=data, recon=recon, run=run, out=out, bank=bank_path, split=split, limit=limit, device=device,
                              views=views, input_view=input_view, seed=seed, workers=workers, retrieve_from=retrieve_from,
                              refine_steps=refine_steps, sharpen=sharpen)
    click.echo(get_kind(kind).evaluate(options))
    click.echo(f"\nreport: {Path(out) / 'report.md'}")


@click.command("pool")
@click.argument("reports", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--against", multiple=True, type=click.Path(file_okay=False),
              help="A report of a second configuration (B, e.g. the baseline network's) on the same test sets; repeat per report.")
@click.option("--threshold", default=0.3, show_default=True, help="IoU threshold of the tables and differences.")
@click.option("--bootstrap", default=10000, show_default=True, type=click.IntRange(min=100), help="Bootstrap resamples.")
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap intervals.")
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the tables to this Markdown file, and their numbers to its .json.")
def pool(reports, against, threshold, bootstrap, seed, out) -> None:
    """Pool `mvaug evaluate` REPORTS (folders) of one configuration into one table with paired bootstrap intervals.

    Reports of different test sets add their objects; reports of one test set by several networks (training seeds)
    average each object over them, so every test set needs the same networks. With --against, the same for a second
    configuration, and the paired differences between the two, e.g.

      mvaug evaluate pool AUG1_T1 AUG1_T2 AUG2_T1 AUG2_T2 --against BASE1_T1 --against BASE1_T2 ...
    """
    from mvaug.evaluate.pooling import format_pooled, pool_and_compare, write_pooled

    result = pool_and_compare(list(reports), list(against) or None, threshold, bootstrap, seed)
    text = format_pooled(result)
    click.echo(text)
    if out is not None:
        markdown, data = write_pooled(result, out, text)
        click.echo(f"written: {markdown}, {data}")
