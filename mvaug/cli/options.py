"""Options and parameter types that several commands share."""

from __future__ import annotations

from collections.abc import Callable

import click

from mvaug.kinds import KINDS

DEVICE = click.Choice(["auto", "cpu", "cuda"])
KIND = click.Choice(tuple(KINDS))
device_option = click.option("--device", default="auto", show_default=True, type=DEVICE)
refine_steps_option = click.option(
    "--refine-steps", type=click.IntRange(min=0),
    help="Steps of test-time optimisation of the input's style and content codes (Adam, L1 to the input) before its views are generated; "
         "0 keeps the encoders' codes [100].")
sharpen_option = click.option(
    "--sharpen", type=click.FloatRange(min=0.0),
    help="--kind chair: unsharp-mask amount of the generated views before the reconstructor sees them; 0 turns it off "
         "[3 for a reconstructor trained on real renders only, 0 for one trained beside generated views].")


def _stack(options: list[Callable]) -> Callable:
    """One decorator applying ``options`` in the order listed (as if written one above the other)."""

    def decorate(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def training_options(config: str, data: str, example: str) -> Callable:
    """--config (``config`` says which YAML), --data, --out, --resume, --set (``example``: KEY=VALUE), --max-steps, --device."""
    return _stack([
        click.option("--config", "config_path", type=click.Path(dir_okay=False), help=config),
        click.option("--data", required=True, type=click.Path(), help=data),
        click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder (runs/NAME)."),
        click.option("--resume", is_flag=True, help="Continue the run in --out from its latest checkpoint."),
        click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=f"Override a config value, e.g. --set {example}."),
        click.option("--max-steps", type=int, help="Stop after this many steps (smoke runs); resume later."),
        device_option,
    ])


def float_list(expected: str) -> Callable:
    """A callback reading comma-separated numbers (None stays None); anything else is refused as not ``expected``."""

    def parse(ctx: click.Context, param: click.Parameter, value: str | None) -> list[float] | None:
        if value is None:
            return None
        try:
            return [float(v) for v in value.split(",") if v.strip()]
        except ValueError:
            raise click.BadParameter(f"expected {expected}, got {value!r}") from None

    return parse


def synth_command(name: str, config: str, options: list[Callable]) -> Callable:
    """A data-synthesis command ``name``: OUT, --config (YAML of ``config`` keys), ``options``, --supersample, --workers, --quiet."""
    return _stack([
        click.command(name),
        click.argument("out", type=click.Path(file_okay=False)),
        click.option("--config", "config_path", type=click.Path(dir_okay=False), help=f"YAML file of {config} keys; options given here override it."),
        *options,
        click.option("--supersample", type=int, help="Anti-aliasing rays per pixel along each axis [2]."),
        click.option("--workers", default=1, show_default=True, help="Worker processes (the output does not depend on it)."),
        click.option("--quiet", is_flag=True, help="No progress bar."),
    ])
