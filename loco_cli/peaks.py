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

__all__ = ["PeakPicker", "pick_peaks", "OnsetDecoder", "decode"]


class PeakPicker:
    """Peaks of one class's activations, fed in chunks: the streaming form of :func:`pick_peaks`.

    ``push(p_chunk)`` takes the next frames ``(T_i,)`` and returns the peaks that can no longer change,
    ``finish()`` the rest; together they equal ``pick_peaks`` of the concatenated activations exactly
    (same float64 sums, same order of comparisons). Memory: four frames of context and one pending peak.
    Returns ``(positions (E,), confidences (E,))``: sub-frame positions in frames from the first frame
    ever pushed, confidences ``min(s_t, 1)`` (``s_t`` itself with ``cap=False``).
    """

    def __init__(self, threshold: float, min_gap: int, *, cap: bool = True) -> None:
        self.threshold, self.min_gap, self._cap = float(threshold), int(min_gap), 1.0 if cap else float("inf")
        self._next = 0  # absolute index of the next frame whose peak status is undecided
        self._ctx = np.zeros(2)  # p of frames [next - 2, frames pushed) (frames -2 and -1 are zeros)
        self._pending: tuple[int, float, float] | None = None  # (frame, s, offset) of the last kept peak

    def _scan(self, ext: np.ndarray, last: bool) -> tuple[np.ndarray, np.ndarray]:
        """``ext``: p of frames ``[next - 2, n)``, plus one padding zero when ``last``; decides frames
        ``next .. n - 3`` (``n - 1`` when ``last``)."""
        s = ext[:-2] + ext[1:-1] + ext[2:]  # s of frames next - 1 .. (n - 2, or n - 1 when last)
        if self._next == 0:
            s[0] = -1.0  # nothing before frame 0 (pick_peaks' left border)
        if last:
            s = np.concatenate([s, [-1.0]])  # the right border
        mid = s[1:-1]
        cand = np.flatnonzero((mid >= self.threshold) & (mid >= s[:-2]) & (mid > s[2:]))
        pos, conf = [], []
        s_cand = mid[cand]
        offsets = (ext[cand + 3] - ext[cand + 1]) / np.maximum(s_cand, 1e-12)  # centre of mass over t-1..t+1
        for t, st, offset in zip((cand + self._next).tolist(), s_cand.tolist(), offsets.tolist(), strict=True):
            if self._pending is not None and t - self._pending[0] < self.min_gap:
                if st > self._pending[1]:
                    self._pending = (t, st, offset)
                continue
            if self._pending is not None:
                pos.append(self._pending[0] + self._pending[2])
                conf.append(min(self._pending[1], self._cap))
            self._pending = (t, st, offset)
        self._next += mid.size
        self._ctx = ext[-4:].copy()  # frames [next - 2, n) for the next call (a copy: ext is freed)
        return np.asarray(pos, dtype=np.float64), np.asarray(conf, dtype=np.float64)

    def push(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Feed the next frames ``(T_i,)``; returns the peaks decided so far (see the class docstring)."""
        p = np.asarray(p, dtype=np.float64)
        if p.size == 0:
            return np.zeros(0), np.zeros(0)
        ext = np.concatenate([self._ctx, p])
        if ext.size < 5:  # no frame with two known frames after it yet
            self._ctx = ext
            return np.zeros(0), np.zeros(0)
        return self._scan(ext, last=False)

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """The remaining peaks, at the end of the activations."""
        pos, conf = self._scan(np.concatenate([self._ctx, [0.0]]), last=True)
        if self._pending is not None:
            pos = np.append(pos, self._pending[0] + self._pending[2])
            conf = np.append(conf, min(self._pending[1], self._cap))
            self._pending = None
        return pos, conf


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
    concatenated activations. One :class:`PeakPicker` per class; memory holds the onsets only."""

    def __init__(self, classes: list[str], fps: float, cfg: DecodeConfig) -> None:
        self.classes, self.fps = list(classes), fps
        thresholds, self.latency = cfg.class_thresholds(len(classes)), cfg.class_latency(len(classes))
        min_gap = max(1, int(round(cfg.min_gap_s * fps)))
        self.pickers = [PeakPicker(thresholds[c], min_gap) for c in range(len(classes))]
        # peaks as Python floats: no array kept per chunk and class (thousands of small arrays left between
        # the freed temporaries fragmented the heap, and memory grew with the length of the file)
        self.pos: list[list[float]] = [[] for _ in classes]
        self.conf: list[list[float]] = [[] for _ in classes]

    def _add(self, c: int, found: tuple[np.ndarray, np.ndarray]) -> None:
        if found[0].size:
            self.pos[c].extend(found[0].tolist())
            self.conf[c].extend(found[1].tolist())

    def push(self, probs: np.ndarray) -> None:
        """Feed the next frames' activations ``(T_i, C)``."""
        p = np.asarray(probs, dtype=np.float64)
        for c, picker in enumerate(self.pickers):
            self._add(c, picker.push(p[:, c]))

    def finish(self) -> tuple[Events, np.ndarray]:
        """All onsets, sorted by time: ``(Events, confidences (E,))``."""
        times, labels, conf = [], [], []
        for c, name in enumerate(self.classes):
            self._add(c, self.pickers[c].finish())
            pos = np.asarray(self.pos[c], dtype=np.float64)
            times.append(np.maximum(frames_to_seconds(pos, self.fps, self.latency[c]), 0.0))
            labels += [name] * pos.size
            conf.append(np.asarray(self.conf[c], dtype=np.float64))
        t = np.concatenate(times) if times else np.zeros(0)
        cf = np.concatenate(conf) if conf else np.zeros(0)
        order = np.argsort(t, kind="stable")
        return Events(t[order], np.array(labels, dtype=object)[order]), cf[order]


def decode(probs: np.ndarray, classes: list[str], fps: float, cfg: DecodeConfig) -> tuple[Events, np.ndarray]:
    """Onsets of all classes from activations ``(T, C)``: ``(Events in seconds, confidences (E,))``
    (:func:`pick_peaks` per class at its threshold, its latency subtracted, times clipped at 0)."""
    decoder = OnsetDecoder(classes, fps, cfg)
    decoder.push(np.asarray(probs))
    return decoder.finish()
