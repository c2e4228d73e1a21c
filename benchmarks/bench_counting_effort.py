"""Benchmark: how long labelling takes by counting (``loco count``) vs by marking every onset.

    python benchmarks/bench_counting_effort.py [--snippets 100] [--json benchmarks/results/counting_effort.json]

Not a stopwatch on a person: an estimate from the keystrokes each snippet needs, on a held-out drum
corpus (``loco synth drums``, seed 1, the demo's test corpus) whose exact counts are known. Per 1.5 s
snippet and class, the page needs one digit for a count of 0-9; a count above 9 needs a 9, ``Left``,
``Up`` for each count above 9 and ``Right`` to go on; then ``Enter``. With ``--model drums`` pre-filled
(the shipped model's suggestions, computed here), a right suggestion costs nothing and a wrong one
``Right`` presses to reach the class plus its digits, then ``Enter``. Times use the Keystroke-Level
Model (Card, Moran & Newell 1980): K = 0.28 s per keystroke (an average typist), M = 1.35 s of mental
preparation per snippet, plus listening to each snippet twice (its length x 2).

Marking onsets in a DAW-like editor: listen to the audio twice at full speed, then per onset point at
it in a zoomed waveform (P = 1.1 s), click (B = 0.2 s), pick its class with a key (K), decide (M):
2.93 s per onset, zooming and scrolling not counted (favouring the DAW).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_seeds import environment, write_json  # noqa: E402

K, M, P, B = 0.28, 1.35, 1.1, 0.2  # KLM operators (s)
PLAYS = 2


def keys_for(counts: list[int]) -> int:
    """Keystrokes to type ``counts`` (one per class, in order) and Enter, from an empty snippet."""
    n = 0
    for k, c in enumerate(counts):
        n += 1 if c <= 9 else 1 + 1 + (c - 9) + (1 if k < len(counts) - 1 else 0)
    return n + 1


def keys_to_correct(suggested: list[int], truth: list[int]) -> int:
    """Keystrokes to turn a pre-filled snippet into ``truth`` and press Enter: for each wrong class,
    ``Right`` presses from the last one touched, then its digits (as in :func:`keys_for`)."""
    n, at = 0, 0
    for k, (s, t) in enumerate(zip(suggested, truth, strict=True)):
        if s == t:
            continue
        n += k - at  # Right presses to reach class k
        n += 1 if t <= 9 else 1 + 1 + (t - 9)
        at = k + 1 if t <= 9 else k
    return n + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snippets", type=int, default=100)
    parser.add_argument("--json", default=None)
    a = parser.parse_args()

    from loco_cli.annotations import ENST_LABELS, map_labels, read_events
    from loco_cli.checkpoint import load_model
    from loco_cli.corpus import write_corpus
    from loco_cli.labelling import DEFAULT_SNIPPET_S, list_snippets, model_suggestions

    classes = ["KD", "SD", "HH"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_corpus("drums", tmp / "audio", n_tracks=6, duration=30.0, seed=1)
        snippets, _ = list_snippets(tmp / "audio", tmp / "counts.csv")
        snippets = [s for s in snippets if s.end - s.start == DEFAULT_SNIPPET_S][: a.snippets]
        refs = {}
        for s in snippets:
            if s.audio not in refs:
                refs[s.audio] = map_labels(read_events(s.audio.with_suffix(".txt")), ENST_LABELS)[0]
        truth = [[int(((refs[s.audio].of(c) >= s.start) & (refs[s.audio].of(c) < s.end)).sum()) for c in classes]
                 for s in snippets]
        hints = model_suggestions(load_model("drums"), snippets, classes)
    suggested = [[hints[s.id]["suggested"][c] for c in classes] for s in snippets]
    plain = [keys_for(t) for t in truth]
    assisted = [keys_to_correct(g, t) for g, t in zip(suggested, truth, strict=True)]
    onsets = int(np.sum(truth))
    audio_s = len(snippets) * DEFAULT_SNIPPET_S
    listen = PLAYS * audio_s

    def minutes(keys: list[int]) -> float:
        return (listen + len(keys) * M + K * sum(keys)) / 60

    doc = {
        "benchmark": "counting_effort", "command": " ".join(sys.argv), "environment": environment("cpu"),
        "about": "keystroke-level estimate of labelling time, held-out synthetic drum corpus (seed 1), KD/SD/HH",
        "snippets": len(snippets), "audio_s": audio_s, "onsets": onsets,
        "operators_s": {"K": K, "M": M, "P": P, "B": B, "plays": PLAYS},
        "count_keys_per_snippet": float(np.mean(plain)),
        "count_minutes": round(minutes(plain), 2),
        "assisted_keys_per_snippet": float(np.mean(assisted)),
        "assisted_right_snippets": int(sum(g == t for g, t in zip(suggested, truth, strict=True))),
        "assisted_minutes": round(minutes(assisted), 2),
        "daw_minutes": round((listen + onsets * (P + B + K + M)) / 60, 2),
    }
    doc["daw_over_count"] = round(doc["daw_minutes"] / doc["count_minutes"], 2)
    write_json(doc, a.json)


if __name__ == "__main__":
    main()
