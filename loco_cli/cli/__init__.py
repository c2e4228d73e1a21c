"""The ``loco`` command line: a thin Typer layer over the engine.

Heavy libraries (torch, librosa) are imported inside command bodies so that ``loco --help`` answers
at once. User errors (:class:`loco_cli.errors.LocoError`) become one line on stderr and a non-zero
exit code, without a traceback.
"""

from __future__ import annotations

import sys

import typer
from typer.core import TyperArgument, TyperCommand

from loco_cli import __version__

app = typer.Typer(
    name="loco",
    help="Learn when events happen in audio from labels that only say how many happened.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"loco {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    verbose: bool = typer.Option(False, "--verbose", help="Show full tracebacks instead of one-line errors."),
    threads: int = typer.Option(0, "--threads", min=0, metavar="N",
                                help="CPU threads per process (torch and numba); 0 = the cores available, fewer "
                                     "while training next to other busy processes; OMP_NUM_THREADS also pins it."),
) -> None:
    """loco: weakly-supervised event localisation (LoCo, SoftLoc) for drums and piano."""
    import os

    from loco_cli.cli._common import VERBOSE
    from loco_cli.threads import PIN_VARIABLES

    VERBOSE["on"] = verbose
    if threads:
        os.environ[PIN_VARIABLES[0]] = str(threads)  # pinned for this process and the workers it starts


# commands register after the app exists; each imports its heavy libraries inside its body
from loco_cli.cli.count_cmd import count_command  # noqa: E402
from loco_cli.cli.crossval_cmd import crossval_command  # noqa: E402
from loco_cli.cli.detect_cmd import detect_command  # noqa: E402
from loco_cli.cli.ensemble_cmd import ensemble_command  # noqa: E402
from loco_cli.cli.eval_cmd import eval_command  # noqa: E402
from loco_cli.cli.prepare_cmd import prepare_command  # noqa: E402
from loco_cli.cli.synth_cmd import synth_command  # noqa: E402
from loco_cli.cli.train_cmd import train_command  # noqa: E402


def _plain_metavars(command) -> None:
    """Name each option's value as click apps do (``PATH``, ``TEXT``, ``N``, ``NUMBER``; nothing for a
    flag) where the command gives none, instead of typer's ``<str>`` / ``<bool>`` tags."""
    import inspect
    import typing
    from pathlib import Path

    from typer.models import OptionInfo

    hints = typing.get_type_hints(command)
    for name, param in inspect.signature(command).parameters.items():
        info = param.default
        if isinstance(info, OptionInfo) and info.metavar is None:
            info.metavar = {bool: "", int: "N", float: "NUMBER", Path: "PATH", str: "TEXT"}.get(hints.get(name))


class _Argument(TyperArgument):
    """A positional argument shown as click apps show one (``SOURCE``, ``INPUTS...``, ``[NAME]``), without
    typer's type tag (``<path>``, ``<list[Path]>``) and braces (``{source}``)."""

    def _label(self) -> str:
        return self.metavar or self.name.upper()

    def display_type_rich(self, ctx) -> None:
        return None

    def _rich_display_name(self) -> str:
        return self._label()

    def _usage_display_name(self) -> str:
        return self._label() if self.required else f"[{self._label()}]"


class _Command(TyperCommand):
    """A loco command: positional arguments as :class:`_Argument`, and no ``<bool>`` tag on ``--help``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if type(param) is TyperArgument:
                param.__class__ = _Argument  # same state, its own display
                param.metavar = param.metavar or param.name.upper() + ("..." if param.nargs != 1 else "")

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""  # a flag takes no value
        return option


for _name, _command in (("synth", synth_command), ("prepare", prepare_command), ("train", train_command),
                        ("detect", detect_command), ("eval", eval_command), ("crossval", crossval_command),
                        ("ensemble", ensemble_command), ("count", count_command)):
    _plain_metavars(_command)
    app.command(_name, cls=_Command)(_command)


def main() -> None:
    """Console-script entry point."""
    from loco_cli.errors import LocoError

    try:
        app()
    except LocoError as err:  # pragma: no cover - commands catch their own; this is the last guard
        typer.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
