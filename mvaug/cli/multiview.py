"""``mvaug bank build|show``, ``mvaug generate`` and ``mvaug eval-generate``: views synthesised from one image."""

from __future__ import annotations

import click

from mvaug.cli.options import DEVICE


@click.group()
def bank() -> None:
    """Content banks: canonical content codes of named views for a trained run."""


@bank.command("build")
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--data", type=click.Path(), help="The run's view-labelled training data (ShapeNet layout or 3D Chairs).")
@click.option("--out", type=click.Path(dir_okay=False), help="Bank file to write [RUN/bank.npz].")
@click.option("--views", help="Comma-separated views 'azAAA_elEE' [every camera of a grid, else 8 azimuths].")
@click.option("--tolerance", type=float, help="Degrees within which a training camera counts as the view [0.5 on a grid, else 15].")
@click.option("--exemplar", "exemplars", multiple=True, metavar="NAME=IMAGE", help="Build from exemplar images instead (repeat).")
@click.option("--nearest/--encode", default=True, show_default=True, help="Exemplars: nearest learned content code, or E_c's code as it is.")
@click.option("--neighbours", default=0, show_default=True, type=click.IntRange(min=0),
              help="--data: also keep every training object's style and codes, so that a view of an unseen object is drawn with the "
                   "median content of the N training objects nearest to its style (0: the median over all objects, as the paper).")
@click.option("--device", default="auto", show_default=True, type=DEVICE)
def bank_build(run, data, out, views, tolerance, exemplars, nearest, neighbours, device) -> None:
    """Build the content bank of RUN from view-labelled data (--data) or exemplar images (--exemplar)."""
    from mvaug.multiview.pipeline import build_bank
    from mvaug.multiview.views import parse_views

    built, path = build_bank(run, out, data, parse_views(views), tolerance, list(exemplars), nearest, device, neighbours=neighbours)
    counts = [e.count for e in built.entries if e.source == "mean"]
    detail = f", {min(counts)}-{max(counts)} training images per view" if counts else " from exemplars"
    if built.neighbours is not None:
        detail += f", codes of {built.neighbours.styles.shape[0]} objects for {built.neighbours.k} style neighbours"
    click.echo(f"wrote {path}: {len(built.entries)} views{detail}")


@bank.command("show")
@click.argument("bank_path", metavar="BANK", type=click.Path(dir_okay=False))
@click.option("--run", required=True, type=click.Path(file_okay=False), help="The run the bank belongs to.")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="PNG to write.")
@click.option("--styles", default=6, show_default=True, help="Training styles, one row each.")
@click.option("--device", default="auto", show_default=True, type=DEVICE)
def bank_show(bank_path, run, out, styles, device) -> None:
    """Draw BANK's views applied to a few training styles."""
    from mvaug.multiview.pipeline import bank_sheet

    click.echo(f"wrote {bank_sheet(run, bank_path, out, styles, device)}")


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--run", required=True, type=click.Path(file_okay=False), help="Trained disentangler run.")
@click.option("--bank", "bank_path", type=click.Path(dir_okay=False), help="Content bank [RUN/bank.npz].")
@click.option("--views", help="Comma-separated bank views [all].")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--batch-size", default=32, show_default=True)
@click.option("--device", default="auto", show_default=True, type=DEVICE)
@click.option("--quiet", is_flag=True, help="No progress bar or notes.")
def generate(images, run, bank_path, views, out, batch_size, device, quiet) -> None:
    """Synthesise other views of the object in each image (files or folders of images)."""
    import logging

    from mvaug.multiview.pipeline import generate_views
    from mvaug.multiview.views import parse_views

    if not quiet:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = generate_views(list(images), run, out, bank_path, parse_views(views), batch_size, device, progress=not quiet)
    rate = result.inputs * result.views / max(result.seconds, 1e-9)
    click.echo(f"wrote {result.views} views of {result.inputs} images to {result.out} ({rate:.0f} views/s)")


@click.command("eval-generate")
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--data", required=True, type=click.Path(), help="ShapeNet-layout data the run was trained on (its train split).")
@click.option("--split", default="test", show_default=True, help="Held-out split to evaluate.")
@click.option("--held-out", type=click.Path(), help="ShapeNet-layout data holding the held-out objects, e.g. fresh chairs of an unused seed [--data].")
@click.option("--bank", "bank_path", type=click.Path(dir_okay=False), help="Content bank [RUN/bank.npz].")
@click.option("--input-view", default=0, show_default=True, help="Index of the render used as the single input.")
@click.option("--distance", default="auto", show_default=True, type=click.Choice(["auto", "ssim", "l1"]), help="auto: LPIPS when its weights are on disk, else 1-SSIM.")
@click.option("--out", type=click.Path(file_okay=False), help="Report folder [RUN/eval-generate].")
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap intervals.")
@click.option("--refine-steps", type=click.IntRange(min=0),
              help="Steps of test-time optimisation of each input's codes before its views are generated, as evaluate and reconstruct "
                   "do; the refined style also picks the nearest training image (0: the encoders' codes) [100].")
@click.option("--device", default="auto", show_default=True, type=DEVICE)
def eval_generate(run, data, split, held_out, bank_path, input_view, distance, out, seed, refine_steps, device) -> None:
    """Generated views of held-out objects vs their real renders, with two baselines."""
    from pathlib import Path

    from mvaug.evaluate.generation import evaluate_generation, format_generation_table
    from mvaug.kinds import refine_steps_or_default

    out = out or str(Path(run) / "eval-generate")
    summary = evaluate_generation(run, data, out, bank_path, split, input_view, distance, device=device, held_out=held_out, seed=seed,
                                  refine_steps=refine_steps_or_default(refine_steps))
    click.echo(format_generation_table(summary))
    click.echo(f"report: {Path(out) / 'report.md'}")
