"""``loco ensemble``: combine trained models of one recipe (seeds) into one model file."""

from __future__ import annotations

from pathlib import Path

import typer


def ensemble_command(
    models: list[str] = typer.Argument(..., help="Two or more trained models: run folders or model files "
                                       "(the same recipe and data, different seeds)."),
    data: Path = typer.Option(..., help="Prepared dataset whose validation split orders the members and "
                              "calibrates the ensemble's thresholds and latencies (the one they trained on)."),
    out: Path = typer.Option(..., help="The ensemble model file to write (e.g. runs/ensemble.pt)."),
    device: str = typer.Option("cpu", help="cpu, cuda or auto."),
) -> None:
    """Average several trained models' activations in one model file: steadier and usually more accurate than
    one of them; each member costs its own time at detection (docs/real-audio.md, Ensembles and distillation)."""
    from rich.console import Console

    from loco_cli.cli._common import fail_on_error, use_thread_policy

    console = Console(stderr=True)
    with fail_on_error(console):
        use_thread_policy()
        from loco_cli.devices import resolve_device
        from loco_cli.engine import ensemble

        result = ensemble(models, data, out, device=resolve_device(device))
    for i, m in enumerate(result.members):
        console.print(f"member {i + 1}: {m['model']} (seed {m['seed']}, validation {m['val']:.3f})",
                      highlight=False, markup=False)
    console.print(f"ensemble of {len(result.members)} -> {result.path} (validation {result.name} {result.metric:.3f})",
                  highlight=False, markup=False)
