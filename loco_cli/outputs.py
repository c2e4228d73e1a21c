"""Detections to files beside the CSV: a standard MIDI file and a PNG of the activations.

``loco detect --midi`` / ``--plot`` (:func:`loco_cli.detection.detect_paths`); each file is written
whole or not at all (:func:`loco_cli.atomic.atomic_path`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from loco_cli.annotations import Events
from loco_cli.atomic import atomic_path
from loco_cli.config import DRUM_GM_NOTES
from loco_cli.errors import InvalidOption
from loco_cli.features import frames_to_seconds

if TYPE_CHECKING:
    from loco_cli.detection import DetectResult

__all__ = ["write_midi", "pyplot", "plot_detection"]


def write_midi(path: str | os.PathLike, events: Events, confidence: np.ndarray, *, drums: bool) -> None:
    """A standard MIDI file of detections: GM drum notes on channel 10 for drum classes, or piano
    pitches (labels are MIDI numbers) on channel 1; velocity from confidence; notes last 100 ms
    (drums) or until 0.5 s / the next onset of the same pitch (piano)."""
    from loco_cli.midi import write_smf

    notes = []
    times = events.times
    for i, (t, label, c) in enumerate(zip(times, events.labels, confidence, strict=True)):
        try:
            note = DRUM_GM_NOTES[label] if drums else int(label)
        except (KeyError, ValueError) as err:
            raise InvalidOption(f"label {label!r} has no MIDI note; use --midi with drum or piano models") from err
        later = times[i + 1 :][events.labels[i + 1 :] == label]
        dur = 0.1 if drums else min(0.5, float(later[0] - t) if later.size else 0.5)
        notes.append((float(t), note, int(np.clip(round(40 + 87 * float(c)), 1, 127)), dur, 9 if drums else 0))
    write_smf(path, notes)


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend; :class:`InvalidOption` with the install command
    when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise InvalidOption("--plot needs matplotlib: pip install 'loco[plot]' (or matplotlib)") from err
    return plt


def plot_detection(path: Path, result: DetectResult, classes: list[str], fps: float, title: str) -> None:
    """PNG: the input log-mel spectrogram, per-class activations, and detected onsets."""
    plt = pyplot()
    n = len(classes)
    shown = classes if n <= 8 else None
    fig, axes = plt.subplots(2 if shown is None else 1 + n, 1, figsize=(12, 2.2 + 1.3 * min(n, 8)), sharex=True)
    t_end = result.features.shape[0] / fps
    axes[0].imshow(result.features[:, 0].T, origin="lower", aspect="auto", extent=(0, t_end, 0, result.features.shape[2]),
                   cmap="magma")
    axes[0].set_ylabel("mel band")
    axes[0].set_title(title)
    t = frames_to_seconds(np.arange(result.probs.shape[0]), fps)
    if shown is None:  # many classes (piano): activations as an image, onsets as dots
        axes[1].imshow(result.probs.T, origin="lower", aspect="auto", extent=(0, t_end, 0, n), cmap="Greys", vmin=0, vmax=1)
        idx = {c: i for i, c in enumerate(classes)}
        axes[1].scatter(result.events.times, [idx[str(lab)] + 0.5 for lab in result.events.labels], s=6, c="tab:red")
        axes[1].set_ylabel("class")
    else:
        for k, name in enumerate(shown):
            ax = axes[1 + k]
            ax.plot(t, result.probs[:, k], lw=0.8)
            for x in result.events.of(name):
                ax.axvline(x, color="tab:red", lw=0.6, alpha=0.7)
            ax.set_ylim(0, 1.05)
            ax.set_ylabel(name)
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=80, format="png")
    finally:
        plt.close(fig)
