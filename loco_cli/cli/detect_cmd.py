"""``loco detect``: audio files -> CSV (and MIDI, PNG) of onset times."""

from __future__ import annotations

from pathlib import Path

import typer


def detect_command(
    inputs: list[Path] = typer.Argument(..., help="Audio files and/or folders (searched recursively)."),
    out: Path = typer.Option(..., "--out", help="Folder for <stem>.csv (time,label,confidence in seconds)."),
    model: str = typer.Option(None, help="Model file, run folder, or shipped name (drums, piano). Default: drums."),
    threshold: float = typer.Option(None, help="Peak threshold for every class (default: the model's tuned ones)."),
    mode: str = typer.Option(None, help="stream (default) or windows (1.5 s windows, 0.5 s hop, averaged)."),
    tuning: str = typer.Option(None, help="auto: find each file's offset from A = 440 Hz and move it onto that "
                               "grid first (piano); none: the pitch as it comes. Default: the model's (piano: auto)."),
    midi: bool = typer.Option(False, help="Also write <stem>.mid (GM drum notes or piano pitches)."),
    plot: bool = typer.Option(False, help="Also write <stem>.png: spectrogram, activations, onsets."),
    device: str = typer.Option("cpu", help="cpu, cuda or auto."),
    jobs: int = typer.Option(1, help="Files detected at once on CPU, one process and one thread each; 1 = one "
                             "process that overlaps features and network on the available threads (on 2 cores "
                             "also the faster for batches: benchmarks/results/detect.json)."),
) -> None:
    """Detect onsets in audio with a trained model; a bad file is reported and the rest go on."""
    import time

    from rich.console import Console
    from rich.text import Text

    from loco_cli.cli._common import fail_on_error, progress, use_thread_policy

    console = Console(stderr=True)
    with fail_on_error(console):
        use_thread_policy()
        from loco_cli.checkpoint import load_model
        from loco_cli.detection import collect_inputs, detect_paths
        from loco_cli.devices import resolve_device
        from loco_cli.errors import InvalidOption

        dev = resolve_device(device)
        loaded = load_model(model, dev)
        cfg = loaded.decode
        if threshold is not None:
            cfg = cfg.replace(threshold=threshold, thresholds=())
        if mode is not None:
            cfg = cfg.replace(mode=mode)
        if tuning is not None:
            cfg = cfg.replace(tuning=tuning)
        if jobs < 1:
            raise InvalidOption(f"--jobs {jobs}: give 1 or more")
        files, _ = collect_inputs(inputs)
        start = time.perf_counter()
        with progress(console) as bar:
            task = bar.add_task("detect", total=len(files), info="")

            def on_file(path: Path, error: str | None) -> None:
                bar.update(task, advance=1, info=path.name)

            summary = detect_paths(loaded, inputs, out, cfg=cfg, midi=midi, plot=plot, device=dev, jobs=jobs,
                                   on_file=on_file)
        elapsed = time.perf_counter() - start
    for warning in summary.warnings:
        console.print(Text.assemble(("warning", "yellow"), " ", warning), highlight=False, soft_wrap=True)
    for path, cents in summary.tunings.items():
        console.print(f"retuned {path}: {cents:+.1f} cents off A = 440 Hz, moved onto it before detection",
                      highlight=False, soft_wrap=True)
    for problem in summary.problems:
        console.print(Text.assemble(("skipped", "yellow"), " ", str(problem)), highlight=False, soft_wrap=True)
    n = len(summary.outputs)
    rtf = summary.audio_seconds / elapsed if elapsed > 0 else float("inf")
    console.print(f"{n} file(s), {sum(summary.events.values())} onsets -> {out} "
                  f"({summary.audio_seconds:.0f} s of audio in {elapsed:.1f} s, {rtf:.0f}x real time)")
    if summary.problems:
        raise typer.Exit(1)
