"""Onset scoring with mir_eval: per class, per track, the mean over tracks and the global (summed) figure.

Conventions (documented because papers differ, `the authors' code [5]` §6):

* Matching is mir_eval's maximum bipartite matching of reference and estimated onsets within
  ``window`` seconds (``mir_eval.util.match_events``, as used by ``mir_eval.onset.f_measure``), per
  class; the authors' LoCo-MAPS scorer was a greedy matcher instead.
* ``per-track mean``: precision / recall / F1 computed per (track, class) and averaged over the pairs
  where the reference or the estimate is non-empty (the figure LoCo and Wu et al. report).
* ``global``: true positives, references and estimates summed over tracks before P / R / F1 (micro).
* An empty reference with an empty estimate is skipped from the mean (nothing to find, nothing found);
  in mir_eval it would score 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import mir_eval
import numpy as np

from loco_cli.annotations import Events
from loco_cli.config import EVAL_WINDOW_S

__all__ = ["Counts", "match_count", "score_track", "summarise", "prf", "timing_errors"]


@dataclass(frozen=True)
class Counts:
    """Matched onsets of one (track, class): true positives, references, estimates."""

    tp: int
    n_ref: int
    n_est: int

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.n_ref + other.n_ref, self.n_est + other.n_est)


def prf(c: Counts) -> tuple[float, float, float]:
    """``(precision, recall, F1)`` from counts; 0 where a denominator is 0."""
    p = c.tp / c.n_est if c.n_est else 0.0
    r = c.tp / c.n_ref if c.n_ref else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def match_count(ref: np.ndarray, est: np.ndarray, window: float = EVAL_WINDOW_S) -> Counts:
    """Maximum matching of onset times (seconds) within ``window``, as ``mir_eval.onset.f_measure`` does."""
    ref = np.sort(np.asarray(ref, dtype=float))
    est = np.sort(np.asarray(est, dtype=float))
    tp = len(mir_eval.util.match_events(ref, est, window)) if ref.size and est.size else 0
    return Counts(tp, int(ref.size), int(est.size))


def score_track(
    ref: Events, est: Events, classes: list[str], window: float = EVAL_WINDOW_S
) -> dict[str, Counts]:
    """Counts per class for one track."""
    return {c: match_count(ref.of(c), est.of(c), window) for c in classes}


def summarise(per_track: dict[str, dict[str, Counts]], classes: list[str]) -> dict:
    """Aggregate ``{track: {class: Counts}}`` into the report loco prints and saves.

    Returns ``{"classes": {c: {"mean": {...}, "global": {...}}}, "overall": {...}, "tracks": {...}}``
    where each ``{...}`` holds ``precision``, ``recall``, ``f1`` (and counts for ``global``).
    """

    def block(pairs: list[Counts]) -> dict:
        used = [c for c in pairs if c.n_ref or c.n_est]
        mean = [prf(c) for c in used]
        total = sum(pairs, Counts(0, 0, 0))
        gp, gr, gf = prf(total)
        return {
            "mean": {
                "precision": float(np.mean([m[0] for m in mean])) if mean else float("nan"),
                "recall": float(np.mean([m[1] for m in mean])) if mean else float("nan"),
                "f1": float(np.mean([m[2] for m in mean])) if mean else float("nan"),
                "pairs": len(used),
            },
            "global": {
                "precision": gp,
                "recall": gr,
                "f1": gf,
                "tp": total.tp,
                "n_ref": total.n_ref,
                "n_est": total.n_est,
            },
        }

    report = {"classes": {}, "tracks": {}}
    for c in classes:
        report["classes"][c] = block([per_track[t][c] for t in per_track])
    report["overall"] = block([per_track[t][c] for t in per_track for c in classes])
    for t, counts in per_track.items():
        report["tracks"][t] = {c: dict(zip(("precision", "recall", "f1"), prf(counts[c]), strict=True)) for c in classes}
    return report


def timing_errors(ref: np.ndarray, est: np.ndarray, window: float = EVAL_WINDOW_S) -> np.ndarray:
    """Signed timing errors ``est - ref`` (seconds) of the onsets matched within ``window``.

    The same maximum matching as :func:`match_count`; the paper reports the standard deviation of
    these errors (LoCo [1] §7: 4.35 ms on D-DTD). Returns ``(n_matched,)`` float64 in reference order.
    """
    ref = np.sort(np.asarray(ref, dtype=float))
    est = np.sort(np.asarray(est, dtype=float))
    if not ref.size or not est.size:
        return np.zeros(0)
    pairs = sorted(mir_eval.util.match_events(ref, est, window))
    return np.array([est[j] - ref[i] for i, j in pairs], dtype=np.float64)
