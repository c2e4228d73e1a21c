"""Activations to onsets: peak picking, in one pass or fed in chunks.

Activations ``p`` are ``(frames, classes)`` probabilities from a model; :func:`pick_peaks` turns one
class into sub-frame peak positions (frames), :class:`PeakPicker` does the same fed in chunks (exactly
equal), and :class:`OnsetDecoder` / :func:`decode` apply every class's threshold and latency and turn
the positions into seconds with :func:`loco_cli.features.frames_to_seconds`.
"""

from __future__ import annotations

import numpy as np

from loco_cli.annotations import Events
from loco_cli.config import DecodeConfig
from loco_cli.features import frames_to_seconds

__all__ = ["PeakPicker", "pick_peaks", "gap_frames", "OnsetDecoder", "decode"]


def gap_frames(gap_s: float, fps: float) -> int:
    """A minimum gap between two onsets of a class, ``gap_s`` seconds, in whole frames at ``fps`` (at least
    one): the number the peak pickers compare."""
    return max(1, int(round(gap_s * fps)))


class _Pickers:
    """The peaks of ``C`` classes at once, fed in chunks ``(T_i, C)``: the machinery of :class:`PeakPicker`
    and :class:`OnsetDecoder`. The candidates (local maxima of ``s_t`` at or above each class's threshold)
    are found for all classes in one vectorised pass; only they go through the Python loop that applies
    each class's ``min_gap`` (frames; an 88-key piano has none in most keys of most chunks: a loop over the classes cost 3.3 s
    of an hour of audio, ad hoc). The sums are the same float64 sums element by element, so the peaks equal
    one picker per class exactly. Found peaks accumulate as Python floats in ``pos[c]`` / ``conf[c]``."""

    def __init__(self, thresholds, min_gap, cap: bool) -> None:
        self.thresholds = np.asarray(thresholds, dtype=np.float64).reshape(1, -1)
        n = self.thresholds.shape[1]
        # frames, per class (one int: the same for all)
        self.min_gaps = [int(g) for g in np.broadcast_to(np.asarray(min_gap, dtype=np.int64), (n,))]
        self._cap = 1.0 if cap else float("inf")
        self._next = 0  # absolute index of the next frame whose peak status is undecided
        self._ctx = np.zeros((2, n))  # p of frames [next - 2, frames pushed) (frames -2 and -1 are zeros)
        self._pending: list[tuple[int, float, float] | None] = [None] * n  # (frame, s, offset) of each last kept peak
        self.pos: list[list[float]] = [[] for _ in range(n)]
        self.conf: list[list[float]] = [[] for _ in range(n)]

    def _scan(self, ext: np.ndarray, last: bool) -> None:
        """``ext``: p ``(n, C)`` of frames ``[next - 2, n)``, plus one padding row of zeros when ``last``;
        decides frames ``next .. n - 3`` (``n - 1`` when ``last``)."""
        s = ext[:-2] + ext[1:-1] + ext[2:]  # s of frames next - 1 .. (n - 2, or n - 1 when last)
        if self._next == 0:
            s[0] = -1.0  # nothing before frame 0 (pick_peaks' left border)
        if last:
            s = np.concatenate([s, np.full((1, s.shape[1]), -1.0)])  # the right border
        mid = s[1:-1]
        cls, cand = np.nonzero(((mid >= self.thresholds) & (mid >= s[:-2]) & (mid > s[2:])).T)  # by class, then time
        if cls.size:
            s_cand = mid[cand, cls]
            offsets = (ext[cand + 3, cls] - ext[cand + 1, cls]) / np.maximum(s_cand, 1e-12)  # centre of mass, t-1..t+1
            for c, t, st, offset in zip(cls.tolist(), (cand + self._next).tolist(), s_cand.tolist(), offsets.tolist(),
                                        strict=True):
                pending = self._pending[c]
                if pending is not None and t - pending[0] < self.min_gaps[c]:
                    if st > pending[1]:
                        self._pending[c] = (t, st, offset)
                    continue
                if pending is not None:
                    self.pos[c].append(pending[0] + pending[2])
                    self.conf[c].append(min(pending[1], self._cap))
                self._pending[c] = (t, st, offset)
        self._next += mid.shape[0]
        self._ctx = ext[-4:].copy()  # frames [next - 2, n) for the next call (a copy: ext is freed)

    def push(self, p: np.ndarray) -> None:
        """Feed the next frames ``(T_i, C)``."""
        p = np.asarray(p, dtype=np.float64)
        if p.shape[0] == 0:
            return
        ext = np.concatenate([self._ctx, p])
        if ext.shape[0] < 5:  # no frame with two known frames after it yet
            self._ctx = ext
            return
        self._scan(ext, last=False)

    def finish(self) -> None:
        """Decide the remaining frames, at the end of the activations, and keep every pending peak."""
        self._scan(np.concatenate([self._ctx, np.zeros((1, self._ctx.shape[1]))]), last=True)
        for c, pending in enumerate(self._pending):
            if pending is not None:
                self.pos[c].append(pending[0] + pending[2])
                self.conf[c].append(min(pending[1], self._cap))
        self._pending = [None] * len(self._pending)


class PeakPicker:
    """Peaks of one class's activations, fed in chunks: the streaming form of :func:`pick_peaks`.

    ``push(p_chunk)`` takes the next frames ``(T_i,)`` and returns the peaks that can no longer change,
    ``finish()`` the rest; together they equal ``pick_peaks`` of the concatenated activations exactly
    (same float64 sums, same order of comparisons). Memory: four frames of context and one pending peak.
    Returns ``(positions (E,), confidences (E,))``: sub-frame positions in frames from the first frame
    ever pushed, confidences ``min(s_t, 1)`` (``s_t`` itself with ``cap=False``).
    """

    def __init__(self, threshold: float, min_gap: int, *, cap: bool = True) -> None:
        self.threshold, self.min_gap = float(threshold), int(min_gap)
        self._pickers = _Pickers([self.threshold], min_gap, cap)

    def _found(self) -> tuple[np.ndarray, np.ndarray]:
        pos, conf = self._pickers.pos, self._pickers.conf
        found = np.asarray(pos[0], dtype=np.float64), np.asarray(conf[0], dtype=np.float64)
        pos[0], conf[0] = [], []
        return found

    def push(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Feed the next frames ``(T_i,)``; returns the peaks decided so far (see the class docstring)."""
        self._pickers.push(np.asarray(p, dtype=np.float64).reshape(-1, 1))
        return self._found()

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """The remaining peaks, at the end of the activations."""
        self._pickers.finish()
        return self._found()


def pick_peaks(p: np.ndarray, threshold: float, min_gap: int, *, cap: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Peaks of one class's activations ``p`` ``(T,)``.

    ``s_t = p_{t-1} + p_t + p_{t+1}`` is the expected number of events around ``t``; a peak is a
    local maximum of ``s`` with ``s_t >= threshold``; of two peaks closer than ``min_gap`` frames the
    stronger stays. Returns sub-frame positions ``(E,)`` (centre of mass of ``p`` over the three
    frames, in frames) and confidences ``min(s_t, 1)``. (:class:`PeakPicker` fed all of ``p`` at once.)
    """
    picker = PeakPicker(threshold, min_gap, cap=cap)
    a, ca = picker.push(p)
    b, cb = picker.finish()
    return np.concatenate([a, b]), np.concatenate([ca, cb])


class OnsetDecoder:
    """Activations to onsets, fed in chunks: ``push(probs (T_i, C))`` for consecutive frames, then
    ``finish()`` -> ``(Events in seconds, confidences (E,))``, equal to :func:`decode` of the
    concatenated activations and to :func:`pick_peaks` of each class at its threshold. Memory holds the
    onsets only."""

    def __init__(self, classes: list[str], fps: float, cfg: DecodeConfig) -> None:
        self.classes, self.fps = list(classes), fps
        thresholds, self.latency = cfg.class_thresholds(len(classes)), cfg.class_latency(len(classes))
        min_gap = [gap_frames(g, fps) for g in cfg.class_min_gaps(len(classes))]
        # peaks as Python floats: no array kept per chunk and class (thousands of small arrays left between
        # the freed temporaries fragmented the heap, and memory grew with the length of the file)
        self._pickers = _Pickers(thresholds, min_gap, cap=True)

    def push(self, probs: np.ndarray) -> None:
        """Feed the next frames' activations ``(T_i, C)``."""
        self._pickers.push(np.asarray(probs, dtype=np.float64))

    def finish(self) -> tuple[Events, np.ndarray]:
        """All onsets, sorted by time: ``(Events, confidences (E,))``."""
        self._pickers.finish()
        times, labels, conf = [], [], []
        for c, name in enumerate(self.classes):
            pos = np.asarray(self._pickers.pos[c], dtype=np.float64)
            times.append(np.maximum(frames_to_seconds(pos, self.fps, self.latency[c]), 0.0))
            labels += [name] * pos.size
            conf.append(np.asarray(self._pickers.conf[c], dtype=np.float64))
        t = np.concatenate(times) if times else np.zeros(0)
        cf = np.concatenate(conf) if conf else np.zeros(0)
        order = np.argsort(t, kind="stable")
        return Events(t[order], np.array(labels, dtype=object)[order]), cf[order]


def decode(probs: np.ndarray, classes: list[str], fps: float, cfg: DecodeConfig) -> tuple[Events, np.ndarray]:
    """Onsets of all classes from activations ``(T, C)``: ``(Events in seconds, confidences (E,))``
    (:func:`pick_peaks` per class at its threshold and minimum gap, its latency subtracted, times clipped at 0)."""
    decoder = OnsetDecoder(classes, fps, cfg)
    decoder.push(np.asarray(probs))
    return decoder.finish()
