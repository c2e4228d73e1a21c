"""What is played: drum grooves and piano pieces as timed notes, for every renderer.

Pure functions of a random generator. The built-in synthesizer (:mod:`loco_cli.synth`), FluidSynth
and the sample renderers (:mod:`loco_cli.samples`, :mod:`loco_cli.pianos`) play the same scores:

* :func:`drum_score`: hits ``(time_s, instrument, velocity 0-1)`` of 16-step grooves (rock, disco,
  funk, breakbeat, half-time, four on the floor, ride) with fills, crashes, ghost notes, flams (a grace
  stroke 12-28 ms before the main one), human timing and velocities, tempos 60-200 BPM; instruments
  ``KD SD CHH OHH LT MT CR RC CB``;
* :func:`piano_score`: notes ``(onset_s, pitch, velocity 0-1, duration_s)``: chords, scales, arpeggios,
  melody over bass, now and then the extremes of the keyboard; on request (``figures``) also repeated
  notes and chords, trills, Alberti basses and tremolos, where keys are struck again within 0.05-0.5 s;
* :func:`piano_midi_notes`: those notes as MIDI notes for FluidSynth.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PIANO_FIGURES", "PIANO_FIGURES_ALL", "PIANO_SPAN", "check_figures", "drum_score", "piano_score",
           "piano_midi_notes"]

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


def drum_score(rng: np.random.Generator, duration: float, family: str) -> list[tuple[float, str, float]]:
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


#: MIDI pitches between which a piano piece's phrases are centred (:func:`piano_score`).
PIANO_SPAN = (36, 96)
#: The figures a generated piano phrase is drawn from by default (:func:`piano_score`); loco's test pieces.
PIANO_FIGURES = ("chord", "scale", "arpeggio", "melody")
#: Every figure :func:`piano_score` knows: the default ones and four that strike keys again quickly
#: (repeated notes and chords, trills, Alberti basses, tremolos), as accompaniments and ornaments do.
PIANO_FIGURES_ALL = PIANO_FIGURES + ("repeat", "trill", "alberti", "tremolo")


def check_figures(figures) -> tuple[str, ...]:
    """``figures`` as a tuple of known figure names (:data:`PIANO_FIGURES_ALL`), each once; raises
    :class:`ValueError` naming the first unknown one, or when there are none or repeats."""
    figures = tuple(figures)
    unknown = [f for f in figures if f not in PIANO_FIGURES_ALL]
    if unknown or not figures or len(set(figures)) != len(figures):
        bad = f"unknown figure {unknown[0]!r}" if unknown else "each figure once, at least one"
        raise ValueError(f"{bad}; choose from {', '.join(PIANO_FIGURES_ALL)} (or all)")
    return figures


def piano_score(rng: np.random.Generator, duration: float, span: tuple[int, int] = PIANO_SPAN,
                figures=PIANO_FIGURES) -> list[tuple[float, int, float, float]]:
    """Notes ``(onset_s, pitch, velocity, duration_s)``: chords, scales, arpeggios, melody over bass.

    Each phrase is centred on a MIDI pitch in ``span`` (the bass reaches about 23 keys below the centre,
    chords about 19 above). With the default span, notes beyond the keyboard (MIDI 21-108) are clipped
    onto its end keys, as loco's corpora have always been rendered; with any other span (a wider one
    puts more notes in the outer octaves) they move by octaves onto the keyboard instead, so the end
    keys do not collect them.

    Each phrase is one of ``figures``, drawn uniformly (:data:`PIANO_FIGURES` by default: the same
    pieces as before the option existed). The others (:data:`PIANO_FIGURES_ALL`) strike keys again soon:
    ``repeat``, a note, octave or chord struck 4-16 times every 1/2-1/4 beat (0.09-0.5 s), the first of
    each group accented; ``trill``, two keys a semitone or a tone apart alternating every 1/4-1/8 beat
    (at least 60 ms), over a held bass half the time; ``alberti``, a broken chord low-fifth-third-fifth
    every 1/2-1/4 beat under a melody struck every two or four of its notes; ``tremolo``, two keys a
    third to an octave apart alternating every 1/4-1/8 beat (at least 50 ms).
    """
    lo, hi = int(span[0]), int(span[1])
    if not 21 <= lo <= hi <= 108:
        raise ValueError(f"span {span}: need 21 <= low <= high <= 108")
    kinds = list(check_figures(figures))
    notes: list[tuple[float, int, float, float]] = []
    key = int(rng.integers(0, 12))
    scale = np.array([0, 2, 4, 5, 7, 9, 11])
    tempo = rng.uniform(60, 160)
    beat = 60 / tempo
    t = rng.uniform(0.3, 0.7)
    centre = int(rng.integers(45, 80)) if (lo, hi) == PIANO_SPAN else int(rng.integers(lo, hi + 1))
    while t < duration - 0.5:
        kind = rng.choice(kinds)
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
        elif kind == "melody":
            bass = centre - 12 - int(rng.integers(0, 12))
            for i in range(int(rng.integers(4, 9))):
                if i % 2 == 0:
                    notes.append((t, bass, v(), beat * 2))
                notes.append((t, centre + int(rng.choice([0, 2, 4, 5, 7, 9, 12])), v(), beat * 0.9))
                t += beat * rng.choice([0.5, 1.0])
        elif kind == "repeat":  # repeated note, octave or chord: accompaniment in quavers or semiquavers
            root = centre + int(rng.integers(-7, 8))
            voicing = [(0,), (0, 12), (0, 4 if rng.random() < 0.5 else 3, 7), (0, 4 if rng.random() < 0.5 else 3, 7, 12)][
                int(rng.integers(4))]
            step = beat / rng.choice([2, 3, 4])
            group = int(rng.choice([2, 3, 4]))
            for i in range(int(rng.integers(4, 17))):
                for iv in voicing:
                    notes.append((t, root + iv, v(vel_base if i % group == 0 else 0.8 * vel_base), step * 0.8))
                t += step
        elif kind == "trill":
            principal = centre + int(rng.integers(-5, 8))
            step = max(0.06, beat / rng.choice([4, 6, 8]))
            n = int(rng.integers(8, 25))
            if rng.random() < 0.5:
                notes.append((t, principal - 12 - int(rng.integers(0, 13)), v(), step * n))
            for i in range(n):
                notes.append((t, principal + (int(rng.choice([1, 2])) if i % 2 else 0), v(), step * 0.9))
                t += step
        elif kind == "alberti":
            root = centre - 12 + int(rng.integers(-5, 6))
            third = 4 if rng.random() < 0.5 else 3
            step = beat / rng.choice([2, 4])
            every = int(rng.choice([2, 4]))
            for i in range(int(rng.integers(8, 17))):
                notes.append((t, root + (0, 7, third, 7)[i % 4], v(0.8 * vel_base), step * (4 if sustain else 0.9)))
                if i % every == 0:
                    notes.append((t, centre + int(rng.choice([0, 2, 4, 5, 7, 9, 12])), v(), step * every * 0.9))
                t += step
        else:  # tremolo
            low = centre + int(rng.integers(-12, 1))
            high = low + int(rng.choice([3, 4, 7, 12]))
            step = max(0.05, beat / rng.choice([4, 6, 8]))
            for i in range(int(rng.integers(8, 25))):
                notes.append((t, high if i % 2 else low, v(), step * 0.9))
                t += step
        centre = int(np.clip(centre + rng.integers(-12, 13), lo, hi))
        t += rng.uniform(0.1, 0.6) * beat
        if rng.random() < 0.1:  # reach the extremes of the keyboard now and then
            p = int(rng.integers(21, 109))
            notes.append((t, p, v(), beat))
            t += beat
    if (lo, hi) == PIANO_SPAN:
        return [(o, int(np.clip(p, 21, 108)), vel, d) for o, p, vel, d in notes if o < duration - 0.2]
    return [(o, _onto_keyboard(int(p)), vel, d) for o, p, vel, d in notes if o < duration - 0.2]


def _onto_keyboard(pitch: int) -> int:
    """``pitch`` moved by octaves into MIDI 21-108."""
    while pitch < 21:
        pitch += 12
    while pitch > 108:
        pitch -= 12
    return pitch


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
