"""Docs check: the command reference is generated from the CLI and must be current."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

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
    assert set(group.commands) == {"synth", "prepare", "train", "detect", "eval", "crossval", "ensemble", "count"}
    for name, cmd in group.commands.items():
        assert f"## `loco {name}`" in text
        for p in cmd.params:
            if p.param_type_name == "option" and p.name != "help":
                assert f"`{p.opts[0]}" in text, (name, p.opts)




def _quickstart_commands() -> list[list[str]]:
    """Every ``loco ...`` line of the quickstart's shell blocks, in order, comments stripped."""
    import shlex

    text = (DOCS / "quickstart.md").read_text()
    blocks = text.split("```")[1::2]
    lines = [ln.split("#")[0].strip() for block in blocks for ln in block.splitlines()]
    return [shlex.split(ln)[1:] for ln in lines if ln.startswith("loco ")]


def _tiny(args: list[str]) -> list[str]:
    """The same command in a tiny configuration: 3 tracks of 4 s, 4 training steps of a tiny model."""
    sizes = {"--tracks": "3", "--duration": "4", "--steps": "4"}
    out = [sizes.get(prev, a) for prev, a in zip([None, *args], args, strict=False)]
    if out[0] == "train" and "--resume" not in out:
        out += ["--recipe", "tiny.toml"]
    return out


@pytest.mark.slow
def test_every_quickstart_command_runs(tmp_path, monkeypatch, tiny_recipe):
    import shutil

    from typer.testing import CliRunner

    from loco_cli.cli import app

    commands = _quickstart_commands()
    assert len(commands) >= 12 and {c[0] for c in commands} == {"synth", "prepare", "train", "detect", "eval"}
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text(tiny_recipe.read_text())
    runner = CliRunner()
    for args in commands:
        tiny = _tiny(args)
        result = runner.invoke(app, tiny)
        if "fluidsynth" in tiny and not shutil.which("fluidsynth"):
            assert result.exit_code != 0 and "fluidsynth" in result.output  # the one-line install hint
            continue
        assert result.exit_code == 0, (tiny, result.output)
    assert (tmp_path / "detections" / "real_000.csv").is_file() and (tmp_path / "shipped" / "real_000.mid").is_file()
    assert (tmp_path / "student" / "model.pt").is_file() and (tmp_path / "run-softloc" / "model.pt").is_file()
    assert (tmp_path / "notes" / "piece_000.mid").is_file() and (tmp_path / "detections-batch" / "real_000.csv").is_file()


def test_api_page_examples_run(tmp_path, monkeypatch, capsys):
    """Every Python block of docs/api.md runs as written (in a scratch folder)."""
    import numpy as np
    import soundfile as sf

    from loco_cli.synth import render_drum_track

    monkeypatch.chdir(tmp_path)
    track = render_drum_track(seed=2, index=0, duration=4.0)
    sf.write(tmp_path / "song.wav", track.samples, track.sample_rate)
    text = (DOCS / "api.md").read_text()
    blocks = [b[len("python"):] for b in text.split("```")[1::2] if b.startswith("python")]
    assert len(blocks) == 4
    for block in blocks:
        exec(compile(block, "docs/api.md", "exec"), {})
    out = capsys.readouterr().out
    assert " s  " in out and "activations at" in out and "error: no-such-file.wav: audio file not found" in out
    assert "12 snippets; validation f1" in out and (tmp_path / "run" / "model.pt").is_file()
    assert np.load(tmp_path / "activations.npy").dtype == np.float32
