"""The ``mvaug`` command line. It only parses arguments and calls library functions.

Heavy libraries (torch, open3d, trimesh) are imported inside the commands, so ``mvaug --help``
answers at once.
"""

from __future__ import annotations

import click

from mvaug import __version__
from mvaug.errors import MvaugError


class UserInputError(click.ClickException):
    """An :class:`MvaugError` shown as one line, exit status 2."""

    exit_code = 2


class MvaugGroup(click.Group):
    """Turns input errors raised anywhere below into one clear line and exit status 2.

    Besides :class:`MvaugError`: an option value click refused (a folder where a file goes), and the
    operating system refusing a path that a reader did not check itself (a symbolic-link loop, no
    permission), both said on one line that names the path.
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MvaugError as err:
            raise UserInputError(str(err)) from None
        except click.BadParameter as err:
            err.ctx = None  # one line: the message without the usage text
            raise
        except OSError as err:
            if err.filename is None:
                raise
            from mvaug.io.files import describe_os_error

            raise UserInputError(f"{err.filename}: {describe_os_error(err)}") from None
        except RuntimeError as err:
            loop = _symlink_loop(err)
            if loop is None:
                raise
            raise UserInputError(f"{loop}: a symbolic link that loops back on itself") from None


def _symlink_loop(err: RuntimeError) -> str | None:
    """The path of ``Path.resolve()``'s "Symlink loop from '...'" error (Python < 3.13), else None."""
    prefix = "Symlink loop from "
    text = str(err)
    return text[len(prefix) :].strip("'\"") if text.startswith(prefix) else None


@click.group(cls=MvaugGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mvaug")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]),
              help="Inference precision of generate, reconstruct and evaluate [$MVAUG_PRECISION, else auto: bf16 where native]; training reads train.precision.")
@click.pass_context
def cli(ctx, precision) -> None:
    """mvaug: synthesise missing views with content/style disentanglement for 3D reconstruction."""
    if precision is not None:
        import os

        from mvaug.engine.precision import PRECISION_ENV

        before = os.environ.get(PRECISION_ENV)
        os.environ[PRECISION_ENV] = precision  # read by the inference modules and inherited by worker processes
        ctx.call_on_close(lambda: os.environ.pop(PRECISION_ENV) if before is None else os.environ.update({PRECISION_ENV: before}))


@cli.command()
@click.option("--out", default="demo_out", show_default=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--models", type=int, help="Number of synthetic chairs: held-out ones [8], or with --retrain training ones [20; 4 with --fast].")
@click.option("--workers", default=2, show_default=True, help="Worker processes for the data synthesis.")
@click.option("--seed", default=0, show_default=True)
@click.option("--retrain", is_flag=True, help="Train the disentangler, its bank and Pix2Vox from scratch (about 27 min) instead of using the built-in models.")
@click.option("--fast", is_flag=True, help="With --retrain (implied): tiny data and models, the whole path in about a minute (numbers mean nothing).")
@click.option("--data-only", is_flag=True, help="With --retrain (implied): stop after synthesising the data and its preview sheet.")
def demo(out, models, workers, seed, retrain, fast, data_only) -> None:
    """The main job on the built-in data: held-out chairs -> reconstruction with and without generated views -> evaluation,
    with the built-in models; --retrain first trains the disentangler + bank and Pix2Vox on synthetic chairs."""
    from mvaug.demo import run_demo

    result = run_demo(out, models=models, workers=workers, seed=seed, fast=fast, data_only=data_only, retrain=retrain)
    click.echo(f"data set ({result.models} chairs, ShapeNet layout): {result.data_root}")
    click.echo(f"preview sheet: {result.sheet}")
    if not data_only:
        click.echo(f"disentangler: {result.disentangler}\nPix2Vox: {result.recon}")
        click.echo(f"one held-out chair: {result.reconstructions['single']} (single view), {result.reconstructions['generated']} (with generated views)")
        click.echo(f"evaluation report: {result.report / 'report.md'}")


def _register() -> None:
    from mvaug.cli.data import data
    from mvaug.cli.evaluate import eval_disentangle, evaluate, pool
    from mvaug.cli.faces import synth_faces
    from mvaug.cli.mesh import mesh
    from mvaug.cli.models import models
    from mvaug.cli.multiview import bank, eval_generate, generate
    from mvaug.cli.pretrain_id import pretrain_id
    from mvaug.cli.recon import reconstruct, train_recon
    from mvaug.cli.synth import synth_chairs
    from mvaug.cli.train import train
    from mvaug.cli.voxels import iou, voxels

    data.add_command(synth_chairs)
    data.add_command(synth_faces)
    evaluate.add_command(iou, name="voxels")
    evaluate.add_command(pool)

    cli.add_command(data)
    cli.add_command(voxels)
    cli.add_command(train)
    cli.add_command(eval_disentangle)
    cli.add_command(pretrain_id)
    cli.add_command(bank)
    cli.add_command(generate)
    cli.add_command(eval_generate)
    cli.add_command(evaluate)
    cli.add_command(mesh)
    cli.add_command(train_recon)
    cli.add_command(reconstruct)
    cli.add_command(models)


_register()


def main() -> None:
    cli(prog_name="mvaug")


if __name__ == "__main__":
    main()
