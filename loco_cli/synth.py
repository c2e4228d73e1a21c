"""The built-in synthesizer: deterministic drum and piano recordings with exact annotations.

No dataset can be downloaded where loco is built and tested, so the demo, the tests and the
benchmarks run on audio made here. Everything is a pure function of a seed: the same seed gives the
same samples (:mod:`loco_cli.corpus` writes them as byte-identical files). What is played comes from
:mod:`loco_cli.patterns`; this module makes the sound (or hands the notes to FluidSynth).

Drums (:func:`render_drum_track`): kick, snare, closed and open hi-hat from a per-track random *kit*
(pitch, decay, noise colour, filters, room reverb) in three families that play the role of the
IDMT-SMT-Drums subsets (``Real``: reverberant, varied; ``Wave``: dry sampled-like; ``Techno``:
808-style), playing :func:`loco_cli.patterns.drum_score`'s grooves. Distractors (toms, crash/ride cymbals, cowbell) are
annotated with their own ENST labels and ignored by the default 3-class map; optional accompaniment
(bass + chords, the D-DTM case) is mixed at a chosen level.

Piano (:func:`render_piano_track`): notes 21-108 from inharmonic partials ``f_n = n f0 sqrt(1 + B n^2)``
with pitch-dependent decay, velocity-dependent brightness, a hammer transient and damping at note
off, playing :func:`loco_cli.patterns.piano_score`'s pieces.

Annotation times are the sample at which a hit's waveform starts (seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loco_cli.config import GM_DRUM_NOTES
from loco_cli.errors import InvalidOption
from loco_cli.fluidsynth import render_midi
from loco_cli.patterns import drum_score, piano_midi_notes, piano_score

__all__ = ["SYNTH_SAMPLE_RATE", "DRUM_FAMILIES", "SynthTrack", "render_drum_track", "render_piano_track"]

SYNTH_SAMPLE_RATE = 44100
DRUM_FAMILIES = ("Real", "Wave", "Techno")
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
    hits = drum_score(rng, duration, family)
    n = int(duration * sr)
    events = []
    if renderer is not None:
        from loco_cli.midi import quantize

        notes = [(quantize(t), GM_DRUM_NOTES[inst], int(round(20 + 107 * vel)), 0.2, 9) for t, inst, vel in sorted(hits)]
        out = render_midi(notes, {9: _GM_KITS[family]}, n, sr, renderer)
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
    notes = sorted(set(piano_score(rng, duration)))
    n = int(duration * sr)
    if renderer is not None:
        midi = piano_midi_notes(notes)
        out = render_midi(midi, {0: _GM_PIANOS.get(piano, 0)}, n, sr, renderer)
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




