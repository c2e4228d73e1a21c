"""``loco prepare``: a dataset folder (or counts manifest) -> features, snippets, splits."""

from __future__ import annotations

from pathlib import Path

import typer

from loco_cli.config import PRESETS, SnippetConfig
from loco_cli.splits import DEFAULT_SPLIT, DEFAULT_VAL_FRACTION

_SNIPPET = SnippetConfig()


def prepare_command(
    source: Path = typer.Argument(..., help="Dataset folder (ENST, IDMT, MAPS, MDB, generic) or counts-manifest CSV."),
    out: Path = typer.Argument(..., help="Output folder of the prepared dataset."),
    preset: str = typer.Option("drums", help="drums (KD/SD/HH, 72 bands) or piano (88 keys, 384 bands)."),
    features: str = typer.Option("", help="Changes to the preset's front-end, 'field=value,...' (e.g. "
                                 "'long_win_length=0' or 'fmax=16000,n_mels=512'; an unknown field lists them)."),
    layout: str = typer.Option("auto", help="auto, generic, enst, idmt, maps, mdb or manifest."),
    channel: str = typer.Option("wet_mix", help="ENST-Drums audio channel folder; MDB Drums: drum_only (default) or full_mix."),
    labels: str = typer.Option("", help="Label map: enst, mdb, or 'raw=class,...' (default: the preset's)."),
    classes: str = typer.Option("", help="Comma-separated class names (default: the preset's)."),
    split: str = typer.Option(DEFAULT_SPLIT, help="random, kfold:K:I, holdout:GROUP[,GROUP], maps or none."),
    val_fraction: float = typer.Option(DEFAULT_VAL_FRACTION, help="Share of non-test tracks used for validation."),
    snippet_length: float = typer.Option(_SNIPPET.length_s, help="Snippet length in seconds."),
    snippet_hop: float = typer.Option(_SNIPPET.hop_s, help="Snippet hop in seconds."),
    label_noise_ms: float = typer.Option(0.0, help="Jitter training timestamps by a seeded Gaussian (ms std)."),
    seed: int = typer.Option(0, help="Seed of the splits and the label noise."),
    jobs: int = typer.Option(0, help="Parallel processes; 0 = one per CPU core (at most 4)."),
    include_train: bool = typer.Option(False, help="IDMT: also use the #train single-hit files."),
    skip_bad: bool = typer.Option(False, help="Exit 0 even if some files were skipped."),
    force: bool = typer.Option(False, help="Replace an existing output folder (unchanged features are reused)."),
) -> None:
    """Compute features once, cut count-labelled snippets, assign splits; bad files are reported and skipped."""
    from rich.console import Console
    from rich.text import Text

    from loco_cli import engine
    from loco_cli.cli._common import default_jobs, fail_on_error, label_map_option, progress, split_list
    from loco_cli.datasets import detect_layout, discover
    from loco_cli.errors import InvalidOption

    console = Console(stderr=True)
    with fail_on_error(console):
        snippets = SnippetConfig(snippet_length, snippet_hop)
        feature_cfg = None
        if features:
            if preset not in PRESETS:
                raise InvalidOption(f"unknown preset {preset!r}; use {', '.join(PRESETS)}")
            feature_cfg = PRESETS[preset].features.with_overrides(features)
        jobs = jobs if jobs > 0 else default_jobs()
        label_map = label_map_option(labels)
        n_total = None
        if source.is_dir():
            lay = detect_layout(source) if layout == "auto" else layout
            n_total = len(discover(source, lay, channel=channel, include_train=include_train)[0])
        with progress(console) as bar:
            task = bar.add_task("prepare", total=n_total, info="")

            def on_track(name: str, error: str | None) -> None:
                bar.update(task, advance=1, info=name)
                if error:
                    bar.console.print(Text.assemble(("skipped", "yellow"), " ", str(error)), highlight=False, soft_wrap=True)

            result = engine.prepare(
                source, out, preset=preset, features=feature_cfg, classes=split_list(classes), label_map=label_map, layout=layout,
                channel=channel, include_train=include_train, split=split, val_fraction=val_fraction,
                snippets=snippets, label_noise_ms=label_noise_ms, seed=seed, jobs=jobs, force=force,
                on_track=on_track,
            )
    s = result.summary
    n = s["n_tracks"]
    console.print(
        f"prepared {sum(n.values())} tracks (train {n['train']}, val {n['val']}, test {n['test']}"
        f"{', unused ' + str(n['unused']) if n['unused'] else ''}), {s['n_snippets']} snippets -> {result.out}"
    )
    top = sorted(s["events"].items(), key=lambda kv: -kv[1])[:8]
    console.print("events: " + ", ".join(f"{k} {v}" for k, v in top) + (" ..." if len(s["events"]) > 8 else ""))
    if s["dropped_labels"]:
        console.print("ignored labels: " + ", ".join(f"{k} {v}" for k, v in list(s["dropped_labels"].items())[:10]))
    if s["snippets_at_or_over_k_max"]:
        console.print(f"[yellow]{s['snippets_at_or_over_k_max']} snippets reach the absorbing count bin "
                      f"(k_max {s['k_max']}); their counts train as '>= {s['k_max'] - 1}'[/yellow]")
    if s["collapsed_onsets"]:
        console.print(f"{s['collapsed_onsets']} same-frame onsets collapsed into one event")
    for warning in s.get("warnings", [])[:20]:
        console.print(Text.assemble(("warning", "yellow"), " ", warning), highlight=False, soft_wrap=True)
    if len(s.get("warnings", [])) > 20:
        console.print(f"... and {len(s['warnings']) - 20} more warnings (dataset.json lists them all)")
    for problem in result.problems:
        console.print(Text.assemble(("skipped", "yellow"), " ", str(problem)), highlight=False, soft_wrap=True)
    if result.problems and not skip_bad:
        console.print(f"[red]{len(result.problems)} file(s) skipped[/red]; fix them or pass --skip-bad")
        raise typer.Exit(1)
