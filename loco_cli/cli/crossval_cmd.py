"""``loco crossval``: k-fold cross-validation of a training recipe on a dataset, in one command."""

from __future__ import annotations

from pathlib import Path

import typer

from loco_cli.config import DEFAULT_INIT, EVAL_WINDOW_S, LOSS_NAMES, SMALL_SET_SECONDS
from loco_cli.splits import DEFAULT_VAL_FRACTION


def crossval_command(
    source: Path = typer.Argument(..., help="Dataset folder (ENST, IDMT, MAPS, MDB, generic)."),
    out: Path = typer.Option(..., "--out", help="Folder for the folds and crossval.json (run again to continue)."),
    folds: int = typer.Option(3, help="Number of folds of --protocol kfold: every track is tested in exactly one."),
    protocol: str = typer.Option("kfold", help="kfold (K seeded folds; Eval Random of Wu et al. 2018 with 3), groups "
                                               "(one fold per group: IDMT's subsets = Eval Subset, ENST's drummers) or "
                                               "maps (MAPS synthetic pianos -> Disklavier)."),
    loss: str = typer.Option("loco", help=f"Training objective: {', '.join(LOSS_NAMES)}."),
    recipe: str = typer.Option("", help="drums, piano or a TOML file (default: the preset's)."),
    steps: int = typer.Option(None, help="Training steps per fold (default: the recipe's)."),
    init: str = typer.Option(DEFAULT_INIT, help="Start every fold from this model, as loco train --init: drums, "
                                                "piano, a model file or a run folder; auto: the shipped model on "
                                                f"folds under {SMALL_SET_SECONDS / 60:.0f} minutes where it fits; none: random weights."),
    preset: str = typer.Option("drums", help="drums or piano."),
    layout: str = typer.Option("auto", help="auto, generic, enst, idmt, maps or mdb."),
    channel: str = typer.Option("wet_mix", help="ENST-Drums audio channel folder; MDB Drums: drum_only or full_mix."),
    labels: str = typer.Option("", help="Label map: enst, mdb, or 'raw=class,...' (default: the preset's)."),
    classes: str = typer.Option("", help="Comma-separated class names (default: the preset's)."),
    val_fraction: float = typer.Option(DEFAULT_VAL_FRACTION, help="Share of each fold's training tracks that validates."),
    seed: int = typer.Option(0, help="Seed of the fold assignment."),
    window: float = typer.Option(EVAL_WINDOW_S, help="Matching tolerance in seconds."),
    device: str = typer.Option("auto", help="auto (CUDA if present, else CPU), cpu, cuda, cuda:N."),
    jobs: int = typer.Option(0, help="Processes for computing features; 0 = one per CPU core (at most 4)."),
    train_jobs: int = typer.Option(1, min=1, help="Folds trained side by side (CPU), as processes that share the "
                                   "cores; on 2 cores two trainings side by side made 1.07x the steps of one "
                                   "(benchmarks/results/train.json): worth it on more cores."),
) -> None:
    """Prepare the folds, train each, score each fold's test tracks and pool them into one report."""
    from rich.console import Console
    from rich.table import Table

    from loco_cli.cli._common import (
        default_jobs,
        fail_on_error,
        init_text,
        label_map_option,
        split_list,
        use_thread_policy,
    )
    from loco_cli.crossval import crossval

    console = Console(stderr=True)

    hinted = []

    def on_event(kind: str, info: dict) -> None:
        if kind == "start" and info.get("init") and not hinted:  # the first fold's; the others start alike
            hinted.append(True)
            console.print(init_text(info["init"]), highlight=False, markup=False)
        elif kind == "fold":
            console.print(f"fold {info['fold'] + 1}/{info['folds']} ({info['split']}): {info['stage']}", highlight=False,
                          markup=False)
        elif kind == "val":
            console.print(f"  fold {info['fold'] + 1} step {info['step']}: val {info['name']} {info['metric']:.3f}",
                          highlight=False, markup=False)

    with fail_on_error(console):
        use_thread_policy()
        options = {"layout": layout, "channel": channel, "classes": split_list(classes),
                   "label_map": label_map_option(labels), "val_fraction": val_fraction, "seed": seed,
                   "jobs": jobs if jobs > 0 else default_jobs()}
        result = crossval(source, out, folds=folds, protocol=protocol, loss=loss, recipe=recipe or None, steps=steps,
                          init=init, preset=preset,
                          prepare_options=options, window=window, device=device, train_jobs=train_jobs,
                          on_event=on_event)
    r = result.report
    n_folds = len(r["folds"])
    what = f"{n_folds}-fold cross-validation" if protocol == "kfold" else f"--protocol {protocol} ({n_folds} fold(s))"
    table = Table(title=f"{what}, --loss {loss}: onset F1 at {1000 * window:.0f} ms, "
                        f"{len(r['tracks'])} test tracks")
    for col in ("class", "F1 pooled (global)", "F1 per fold: mean ± std", "min-max", "timing (ms, mean ± std)"):
        table.add_column(col, justify="left" if col == "class" else "right")
    rows = [(c, r["pooled"]["classes"][c]["global"]["f1"], r["over_folds"]["classes"][c], r["timing"][c])
            for c in r["classes"]] if len(r["classes"]) <= 12 else []
    rows.append(("all", r["pooled"]["overall"]["global"]["f1"], r["over_folds"]["global_f1"], None))
    for name, pooled, st, tm in rows:
        spread = "n/a" if st["mean"] is None else f"{st['mean']:.3f} ± {st['std']:.3f}"
        span = "" if st["mean"] is None else f"{st['min']:.3f}-{st['max']:.3f}"
        timing = "" if not tm or tm["mean_ms"] is None else f"{tm['mean_ms']:+.1f} ± {tm['std_ms']:.1f}"
        table.add_row(name, "n/a" if pooled != pooled else f"{pooled:.3f}", spread, span, timing)
    Console().print(table)
    console.print(f"report -> {Path(out) / 'crossval.json'}", highlight=False, markup=False)
