"""``mvaug models``: the built-in trained models (their cards), and ``mvaug models verify``."""

from __future__ import annotations

import click


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the full cards as JSON.")
@click.pass_context
def models(ctx: click.Context, as_json: bool) -> None:
    """List the built-in models: name, kind, size, data, config, commit and key metrics."""
    if ctx.invoked_subcommand is not None:
        return
    import json

    from mvaug.io.assets import TRAIN_HINT, assets_dir, format_table, list_builtin

    cards = list_builtin()
    if as_json:
        click.echo(json.dumps(cards, indent=1))
    elif not cards:
        click.echo(f"no built-in models in {assets_dir()}: {TRAIN_HINT}")
    else:
        click.echo(format_table(cards))


@models.command()
@click.argument("names", nargs=-1)
def verify(names) -> None:
    """Check the files of the built-in models NAMES (default: all) against the sha256 and sizes in their cards."""
    from mvaug.io.assets import TRAIN_HINT, assets_dir, list_builtin
    from mvaug.io.assets import verify as verify_model
    from mvaug.errors import DataError

    names = names or [card["name"] for card in list_builtin()]
    if not names:
        raise DataError(f"no built-in models: {TRAIN_HINT}", assets_dir())
    for name in names:
        card = verify_model(name)
        files = ", ".join(f"{r['file']} {r['sha256'][:12]}" for r in card["files"].values())
        click.echo(f"ok  {name}: {files}")


@models.command()
@click.argument("name")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--workers", default=2, show_default=True, help="Worker processes for the data synthesis (the output does not depend on it).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def data(name, out, workers, quiet) -> None:
    """Rebuild the training data of the built-in model NAME into OUT from the recipe on its card (the synthetic
    sets are deterministic: the same images). For example the disentangler's images for
    'mvaug evaluate --retrieve-from OUT'."""
    from mvaug.multiview.training_data import rebuild_training_data

    root = rebuild_training_data(name, out, workers=workers, progress=not quiet)
    click.echo(f"training data of {name}: {root}")
