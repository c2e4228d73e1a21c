"""``loco eval``: score predicted onsets against references with mir_eval, or a model on a prepared split."""

from __future__ import annotations

from pathlib import Path

import typer

from loco_cli.config import EVAL_WINDOW_S


def eval_command(
    pred: Path = typer.Argument(None, help="Predicted onsets: a file, or a folder of files named after the references."),
    ref: Path = typer.Argument(None, help="Reference annotations: a file or a folder (any supported format)."),
    model: str = typer.Option(None, help="Evaluate this model (file, run folder, or shipped name) on --data."),
    data: Path = typer.Option(None, help="Prepared dataset to evaluate --model on."),
    split: str = typer.Option("test", help="Split of --data to score: train, val or test."),
    tune: bool = typer.Option(False, help="First tune per-class latency, thresholds and minimum gaps on --data's val split; write the tuned model to --out (the model given is not changed)."),
    out: Path = typer.Option(None, help="With --tune: the new model file to write (e.g. run/tuned.pt)."),
    window: float = typer.Option(EVAL_WINDOW_S, help="Matching tolerance in seconds."),
    classes: str = typer.Option("", help="Comma-separated classes to score (default: all in the references)."),
    labels: str = typer.Option("", help="Reference label map, e.g. 'bd=KD,sd=SD,chh=HH' or 'enst'."),
    device: str = typer.Option("cpu", help="cpu, cuda or auto (with --model)."),
    json_out: Path = typer.Option(None, "--json", help="Write the full report (per class, per track) as JSON."),
    csv_out: Path = typer.Option(None, "--csv", help="Write per-class rows as CSV."),
) -> None:
    """Score onsets: precision, recall, F1 per class, as the mean over tracks and globally (summed)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from loco_cli.annotations import json_text
    from loco_cli.atomic import atomic_write_text
    from loco_cli.cli._common import fail_on_error, label_map_option, split_list, use_thread_policy
    from loco_cli.errors import InvalidOption

    console = Console(stderr=True)
    info: dict = {}
    with fail_on_error(console):
        use_thread_policy()
        if model is not None or data is not None:
            if model is None or data is None or pred is not None:
                raise InvalidOption("give PRED REF, or --model M --data PREPARED (not both)")
            from loco_cli.devices import resolve_device
            from loco_cli.engine import evaluate_model

            result, info = evaluate_model(model, data, split=split, window=window, tune=tune, tuned_out=out,
                                          device=resolve_device(device))
        else:
            if pred is None or ref is None:
                raise InvalidOption("give PRED and REF (files or folders), or --model M --data PREPARED")
            from loco_cli.engine import evaluate_paths

            result = evaluate_paths(pred, ref, window=window, classes=split_list(classes),
                                    label_map=label_map_option(labels))
    for problem in result.problems:
        console.print(Text.assemble(("skipped", "yellow"), " ", str(problem)), highlight=False, soft_wrap=True)
    if "tuned_model" in info:
        console.print(f"tuned model -> {info['tuned_model']}", highlight=False, markup=False)
    for name, c in list(info.get("tuned", {}).items())[:12]:
        gap = f", min gap {1000 * c['min_gap_s']:.0f} ms" if "min_gap_s" in c else ""
        console.print(f"tuned {name}: latency {1000 * c['latency_s']:+.1f} ms, threshold {c['threshold']:.2f}{gap} "
                      f"(val F1 {c['f1']:.3f})")
    table = Table(title=f"Onset F1 at {1000 * result.window:.0f} ms ({len(result.report['tracks'])} tracks)")
    for col in ("class", "P (mean)", "R (mean)", "F1 (mean)", "F1 (global)", "refs", "estimates"):
        table.add_column(col, justify="left" if col == "class" else "right")
    rows = [(c, result.report["classes"][c]) for c in result.classes] + [("all", result.report["overall"])]
    if len(result.classes) > 12:  # piano: 88 rows would drown the summary; the JSON has them all
        rows = [("all", result.report["overall"])]
    for name, block in rows:
        m, g = block["mean"], block["global"]
        table.add_row(name, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", f"{g['f1']:.3f}",
                      str(g["n_ref"]), str(g["n_est"]))
    Console().print(table)
    notes = info.get("notes") or result.notes
    if notes:
        n = notes
        Console().print(f"note level (pitch + onset, mir_eval.transcription): P {n['precision']:.3f} "
                        f"R {n['recall']:.3f} F1 {n['f1']:.3f} (mean over {n['tracks']} tracks)")
    if json_out:
        atomic_write_text(Path(json_out), json_text(result.payload(info), indent=2))
    if csv_out:
        atomic_write_text(Path(csv_out), result.csv_text())
    if result.problems:
        raise typer.Exit(1)
