"""``loco eval``: score predicted onsets against references with mir_eval."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from loco_cli.config import EVAL_WINDOW_S


def eval_command(
    pred: Path = typer.Argument(..., help="Predicted onsets: a file, or a folder of files named after the references."),
    ref: Path = typer.Argument(..., help="Reference annotations: a file or a folder (any supported format)."),
    window: float = typer.Option(EVAL_WINDOW_S, help="Matching tolerance in seconds."),
    classes: str = typer.Option("", help="Comma-separated classes to score (default: all in the references)."),
    labels: str = typer.Option("", help="Reference label map, e.g. 'bd=KD,sd=SD,chh=HH' or 'enst'."),
    json_out: Path = typer.Option(None, "--json", help="Write the full report (per class, per track) as JSON."),
    csv_out: Path = typer.Option(None, "--csv", help="Write per-class rows as CSV."),
) -> None:
    """Score predicted onsets: F1 per class, mean over tracks and global (summed)."""
    from rich.console import Console
    from rich.table import Table

    from loco_cli.annotations import ENST_LABELS, MDB_LABELS, atomic_write_text
    from loco_cli.cli._common import fail_on_error, parse_label_map
    from loco_cli.engine import evaluate_paths

    console = Console(stderr=True)
    with fail_on_error(console):
        presets = {"enst": ENST_LABELS, "mdb": MDB_LABELS}
        label_map = presets.get(labels.lower()) if labels.lower() in presets else parse_label_map(labels)
        class_list = [c.strip() for c in classes.split(",") if c.strip()] or None
        result = evaluate_paths(pred, ref, window=window, classes=class_list, label_map=label_map)
    for problem in result.problems:
        console.print(f"[yellow]skipped[/yellow] {problem}")
    table = Table(title=f"Onset F1 at {1000 * result.window:.0f} ms ({len(result.report['tracks'])} tracks)")
    for col in ("class", "P (mean)", "R (mean)", "F1 (mean)", "F1 (global)", "refs", "estimates"):
        table.add_column(col, justify="left" if col == "class" else "right")
    rows = [(c, result.report["classes"][c]) for c in result.classes] + [("all", result.report["overall"])]
    csv_lines = ["class,precision_mean,recall_mean,f1_mean,precision_global,recall_global,f1_global,n_ref,n_est"]
    for name, block in rows:
        m, g = block["mean"], block["global"]
        table.add_row(
            name, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", f"{g['f1']:.3f}",
            str(g["n_ref"]), str(g["n_est"]),
        )
        csv_lines.append(
            f"{name},{m['precision']:.6f},{m['recall']:.6f},{m['f1']:.6f},"
            f"{g['precision']:.6f},{g['recall']:.6f},{g['f1']:.6f},{g['n_ref']},{g['n_est']}"
        )
    Console().print(table)
    if json_out:
        payload = {"window_s": result.window, "class_names": result.classes, "problems": result.problems, **result.report}
        atomic_write_text(Path(json_out), json.dumps(payload, indent=2))
    if csv_out:
        atomic_write_text(Path(csv_out), "\n".join(csv_lines) + "\n")
    if result.problems:
        raise typer.Exit(1)
