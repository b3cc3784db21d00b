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
    """Turns input errors raised anywhere below into one clear line and exit status 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MvaugError as err:
            raise UserInputError(str(err)) from None


@click.group(cls=MvaugGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mvaug")
def cli() -> None:
    """mvaug: synthesise missing views with content/style disentanglement for 3D reconstruction."""


def _register() -> None:
    from mvaug.cli.data import data
    from mvaug.cli.voxels import voxels

    cli.add_command(data)
    cli.add_command(voxels)


_register()


def main() -> None:
    cli(prog_name="mvaug")
