"""Helpers shared by the CLI commands: user errors as one line, option parsing."""

from __future__ import annotations

import contextlib

import typer

from loco_cli.errors import InvalidOption, LocoError


@contextlib.contextmanager
def fail_on_error(console):
    """Turn a :class:`LocoError` into ``error: <message>`` on stderr and its exit code, no traceback."""
    try:
        yield
    except LocoError as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        raise typer.Exit(err.exit_code) from None


def parse_label_map(text: str) -> dict[str, str] | None:
    """Parse ``'raw=class,raw2=class'`` into a dict; empty text means no mapping."""
    if not text.strip():
        return None
    mapping = {}
    for item in text.split(","):
        if "=" not in item:
            raise InvalidOption(f"--labels: expected raw=class pairs separated by commas, got {item!r}")
        raw, cls = (part.strip() for part in item.split("=", 1))
        if not raw or not cls:
            raise InvalidOption(f"--labels: empty name in {item!r}")
        mapping[raw] = cls
    return mapping
