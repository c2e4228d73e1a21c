"""Benchmark: which piano notes a model misses: recall by the note's context (time since its key was last
struck, keys held, notes struck with it, nearest other onset, note length, register, a note an octave, a
twelfth or two octaves below struck with it).

    loco detect runs/models/piano/test-composed --out runs/ctx/new --model models/piano.pt
    python benchmarks/bench_piano_contexts.py --corpus runs/models/piano/test-composed \\
        --detections NAME=runs/ctx/new [NAME=DIR ...] [--json benchmarks/results/piano_contexts.json]

The committed files: ``piano_contexts.json`` (the composed test pieces as rendered before the repertoire was
fixed, ``test-composed``) and ``piano_contexts_generated.json`` (loco's test pieces, ``test-corpus``), each with
``shipped=`` the detections of the model shipped until e90daeb (``git show e90daeb:models/piano.pt``; written by ``bench_piano_peers.py --detections``), ``before_mix=`` those of
the model shipped before it, without the layer across keys (``git show 9ec4de3:models/piano.pt``),
``before_context=`` those of the one before, without the broadband key context (``git show
d6c0637:models/piano.pt``), and ``before_composed=`` those of the one before that, trained without composed
music (``git show 9705b51:models/piano.pt``); ``piano_contexts.json`` also holds ``times_mix16_s0=`` (the
shipped recipe trained on onset times, ``loco detect runs/models/piano/test-composed --out runs/ctx/pce_s0 --model
runs/pce/s0/model.pt``) and ``score_draw_time_s0=`` (the pilot with ``--score-draw time``, ``runs/ctx/pdraw_s0``);
both are described in ``piano_libraries.json``. ``piano_contexts_trainpianos.json``: the same composed test
excerpts rendered on two of the training pianos (test set ``trainpianos_composed2`` of ``piano_libraries.json``,
its render command in that file's ``about``; ``loco detect runs/diag/train-piano-composed --out runs/ctx/NAME
--model MODEL``): ``shipped=`` the model shipped now, ``mix16_build_s0=`` the one before it (``git show
e90daeb:models/piano.pt``). ``piano_contexts_composed2.json``: the same two models on the composed Salamander
pieces as rendered from the fixed repertoire (test set ``salamander_composed2`` of ``piano_libraries.json``;
``loco detect runs/build-more/piano/test-composed``). Each file keeps its command.
``piano_contexts_peers.json``: the composed Salamander pieces (before the repertoire was fixed) as loco's model
shipped until e90daeb, the one before it, madmom
and basic-pitch transcribed them (``bench_piano_peers.py ... --detections runs/peerdet2``, then
``--detections shipped=runs/peerdet2/salamander_composed/shipped`` and the same for ``before_mix``,
``madmom_piano_transcriptor`` and ``basic_pitch``).

A note is found when a detection of its pitch lies within 50 ms of its onset (a detection may find more
than one note here, unlike mir_eval's one-to-one matching, so recall is a little higher than the note
recall of ``bench_piano.py``). The corpus is a ``loco synth piano`` folder (``<name>.txt``: ``OnsetTime
OffsetTime MidiPitch`` rows, offsets where the key or the pedal releases it); the detections are ``loco
detect`` CSVs named like the audio.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_seeds import environment, write_json  # noqa: E402

TOLERANCE_S = 0.05
_INF = float("inf")
#: context -> (column, bin edges); the last bin (``"LO+"``) is open.
CONTEXTS = {
    "since_same_key_s": (0, [0, 0.15, 0.3, 0.6, 1.2, _INF]),
    "keys_held": (1, [0, 1, 3, 6, 10, _INF]),
    "struck_with_it": (2, [0, 1, 2, 4, _INF]),
    "nearest_other_onset_s": (3, [0, 0.08, 0.15, 0.3, _INF]),
    "note_length_s": (4, [0, 0.1, 0.2, 0.4, 1.0, _INF]),
    "register_midi": (5, [21, 33, 45, 57, 69, 81, 93, _INF]),  # [lo, hi) MIDI pitches
    "harmonic_below_struck_with_it": (6, [0, 1, _INF]),  # 0-1: none, 1+: one or more
}
#: Semitones below a note whose partials hold its fundamental (octave, twelfth, two octaves, and the 17th,
#: 19th, three octaves): such a note struck within 30 ms of it hides it inside its own spectrum.
HARMONIC_BELOW = (12, 19, 24, 28, 31, 36)


def note_contexts(notes: list[tuple[float, float, int]]) -> np.ndarray:
    """``(N, 7)`` contexts of each note ``(onset_s, offset_s, pitch)``: seconds since its key was last struck
    (inf if never), keys held at its onset (struck over 50 ms before, not yet released), other notes struck
    within 30 ms, seconds to the nearest other onset beyond 30 ms (inf if none), its length (s), its MIDI
    pitch, and how many notes :data:`HARMONIC_BELOW` semitones below it were struck within 30 ms."""
    on = np.array([n[0] for n in notes])
    off = np.array([n[1] for n in notes])
    pitch = np.array([n[2] for n in notes])
    rows = []
    for t, o, p in notes:
        before = on[(pitch == p) & (on < t)]
        others = np.abs(on[np.abs(on - t) > 0.03] - t)
        together = np.abs(on - t) <= 0.03
        rows.append((t - before.max() if before.size else _INF, int(((on < t - 0.05) & (off > t)).sum()),
                     int(together.sum()) - 1, others.min() if others.size else _INF, o - t, p,
                     int(np.isin(p - pitch[together], HARMONIC_BELOW).sum())))
    return np.array(rows, dtype=float).reshape(-1, 7)


def found(notes, detections: list[tuple[float, int]]) -> np.ndarray:
    """Whether each note has a detection of its pitch within :data:`TOLERANCE_S` of its onset."""
    by_pitch: dict[int, np.ndarray] = {}
    for t, p in detections:
        by_pitch.setdefault(p, []).append(t)
    by_pitch = {p: np.array(ts) for p, ts in by_pitch.items()}
    return np.array([p in by_pitch and bool((np.abs(by_pitch[p] - t) <= TOLERANCE_S).any()) for t, _, p in notes])


def read_corpus_notes(path: Path) -> list[tuple[float, float, int]]:
    rows = [line.split() for line in path.read_text().splitlines()[1:] if line.strip()]
    return sorted((float(a), float(b), int(p)) for a, b, p in rows)


def read_detections(path: Path) -> list[tuple[float, int]]:
    with path.open() as f:
        return [(float(r["time"]), int(r["label"])) for r in csv.DictReader(f)]


def recall_by_context(corpus: Path, detections: Path) -> dict:
    ctx, hit = [], []
    for ann in sorted(corpus.glob("*.txt")):
        notes = read_corpus_notes(ann)
        ctx.append(note_contexts(notes))
        hit.append(found(notes, read_detections(detections / f"{ann.stem}.csv")))
    c, h = np.concatenate(ctx), np.concatenate(hit)
    out = {"notes": int(h.size), "recall": round(float(h.mean()), 4)}
    for name, (col, edges) in CONTEXTS.items():
        out[name] = {}
        for lo, hi in zip(edges[:-1], edges[1:], strict=False):
            m = (c[:, col] >= lo) & ((c[:, col] < hi) | (hi == _INF))
            if m.any():
                out[name][f"{lo:g}+" if hi == _INF else f"{lo:g}-{hi:g}"] = {"notes": int(m.sum()), "recall": round(float(h[m].mean()), 4)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, type=Path)
    parser.add_argument("--detections", action="append", required=True, help="NAME=DIR of loco detect CSVs")
    parser.add_argument("--json", default=None)
    a = parser.parse_args()
    doc = {"benchmark": "piano_contexts", "corpus": str(a.corpus), "command": " ".join(sys.argv),
           "environment": environment("cpu"), "models": {}}
    for spec in a.detections:
        name, _, folder = spec.partition("=")
        doc["models"][name] = recall_by_context(a.corpus, Path(folder))
    write_json(doc, a.json)


if __name__ == "__main__":
    main()
