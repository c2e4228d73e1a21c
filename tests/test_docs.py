"""Docs check: the command reference is generated from the CLI and must be current."""

from __future__ import annotations

import importlib.util
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_cli_reference_is_current_and_complete():
    spec = importlib.util.spec_from_file_location("gen_cli", DOCS / "gen_cli.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    text = gen.render()
    assert (DOCS / "cli.md").read_text() == text, "docs/cli.md is stale: run python docs/gen_cli.py"
    import typer.main

    from loco_cli.cli import app

    group = typer.main.get_command(app)
    assert set(group.commands) == {"synth", "prepare", "train", "detect", "eval"}
    for name, cmd in group.commands.items():
        assert f"## `loco {name}`" in text
        for p in cmd.params:
            if p.param_type_name == "option" and p.name != "help":
                assert f"`{p.opts[0]}" in text, (name, p.opts)
