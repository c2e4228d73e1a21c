"""``loco detect``: whole audio files -> per-frame activations -> onsets (seconds) -> CSV / MIDI / PNG.

Two ways to run a causal model over a file of any length:

* ``stream`` (default): one pass, the input fed in chunks with the recurrent and convolutional state
  carried across (equal to a single pass to 1e-5, as tested; memory bounded by the chunk);
* ``windows``: 1.5 s windows every 0.5 s, each from the zero state, overlap-averaged (the authors'
  inference). ``benchmarks/bench_detect.py`` measures both; with the shipped drum
  model on a held-out synthetic corpus they score alike (F1 0.919 streaming vs 0.918 windows) and
  streaming is 2-3x faster (248x vs 102x real time on 2 threads, 164x vs 58x on one), hence the default.

Activations ``p`` are ``(frames, classes)`` probabilities; :func:`pick_peaks` turns one class into
sub-frame peak positions; :func:`loco_cli.features.frames_to_seconds` (with the model's measured
latency) turns those into seconds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from loco_cli.annotations import Events, write_events_csv
from loco_cli.atomic import atomic_path
from loco_cli.audio import AUDIO_SUFFIXES, AudioStream, audio_warnings
from loco_cli.checkpoint import LoadedModel
from loco_cli.config import DRUM_GM_NOTES, EVAL_WINDOW_S, DecodeConfig
from loco_cli.errors import InvalidOption, LocoError
from loco_cli.features import frames_to_seconds, log_mel, log_mel_stream, seconds_to_frames

__all__ = [
    "STREAM_CHUNK_FRAMES",
    "STREAM_BLOCK_SECONDS",
    "activations",
    "pick_peaks",
    "PeakPicker",
    "decode",
    "OnsetDecoder",
    "calibrate",
    "detect_tracks",
    "DetectResult",
    "detect_file",
    "detect_samples",
    "detect_stream",
    "stream_activations",
    "collect_inputs",
    "detect_paths",
    "write_midi",
]

#: Frames per chunk when streaming (2.5 s at 200 fps): bounds the network's memory on long files and
#: keeps its activations in cache (the piano network ran 2.5x faster than on 4000-frame chunks).
STREAM_CHUNK_FRAMES = 500
#: Seconds of audio per block when a file streams through features, network and peak picking
#: (:func:`detect_stream`): 501 frames for the drums (200 frames/s), 251 for the piano (100). Longer
#: blocks cost memory, shorter ones speed (benchmarks/bench_memory.py and bench_detect.py measure both).
STREAM_BLOCK_SECONDS = 2.5
#: Threshold grid searched by :func:`calibrate`: down to 0.02 for models whose peaks are smeared
#: (framewise or smoothed losses on misaligned labels put well under one unit of mass per event).
THRESHOLD_GRID = (0.02, 0.03, 0.05, 0.07) + tuple(np.round(np.arange(0.1, 0.951, 0.05), 2))


@torch.no_grad()
def activations(model: torch.nn.Module, feats: np.ndarray, cfg: DecodeConfig, fps: float, device="cpu") -> np.ndarray:
    """Per-frame event probabilities ``(T, C)`` float32 of features ``(T, channels, bands)``."""
    x = torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32)).to(device)
    t = x.shape[0]
    if cfg.mode == "stream" and hasattr(model, "stream"):
        state, outs = None, []
        for a in range(0, t, STREAM_CHUNK_FRAMES):
            logits, state = model.stream(x[None, a : a + STREAM_CHUNK_FRAMES], state)
            outs.append(torch.sigmoid(logits[0].float()))
        return torch.cat(outs).cpu().numpy()
    win = max(1, int(seconds_to_frames(cfg.window_s, fps)))
    hop = max(1, int(seconds_to_frames(cfg.window_hop_s, fps)))
    starts = list(range(0, max(t - win, 0) + 1, hop))
    if starts[-1] + win < t:
        starts.append(max(t - win, 0))
    acc = torch.zeros(t, model.cfg.n_classes, device=device)
    cover = torch.zeros(t, 1, device=device)
    for i in range(0, len(starts), 64):
        group = starts[i : i + 64]
        batch = torch.stack([x[s : s + win] for s in group]) if t >= win else x[None]
        probs = torch.sigmoid(model(batch).float())
        for s, p in zip(group, probs, strict=True):
            acc[s : s + p.shape[0]] += p
            cover[s : s + p.shape[0]] += 1
    return (acc / cover.clamp_min(1)).cpu().numpy()


class PeakPicker:
    """Peaks of one class's activations, fed in chunks: the streaming form of :func:`pick_peaks`.

    ``push(p_chunk)`` takes the next frames ``(T_i,)`` and returns the peaks that can no longer change,
    ``finish()`` the rest; together they equal ``pick_peaks`` of the concatenated activations exactly
    (same float64 sums, same order of comparisons). Memory: four frames of context and one pending peak.
    Returns ``(positions (E,), confidences (E,))``: sub-frame positions in frames from the first frame
    ever pushed, confidences ``min(s_t, 1)``.
    """

    def __init__(self, threshold: float, min_gap: int) -> None:
        self.threshold, self.min_gap = float(threshold), int(min_gap)
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
                conf.append(min(self._pending[1], 1.0))
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
            conf = np.append(conf, min(self._pending[1], 1.0))
            self._pending = None
        return pos, conf


def pick_peaks(p: np.ndarray, threshold: float, min_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Peaks of one class's activations ``p`` ``(T,)``.

    ``s_t = p_{t-1} + p_t + p_{t+1}`` is the expected number of events around ``t``; a peak is a
    local maximum of ``s`` with ``s_t >= threshold``; of two peaks closer than ``min_gap`` frames the
    stronger stays. Returns sub-frame positions ``(E,)`` (centre of mass of ``p`` over the three
    frames, in frames) and confidences ``min(s_t, 1)``. (:class:`PeakPicker` fed all of ``p`` at once.)
    """
    picker = PeakPicker(threshold, min_gap)
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


#: A class with fewer validation onsets than this takes the pooled latency and threshold of all classes
#: (88 piano keys: most keys have a handful of notes in a validation split, too few to tune on).
MIN_CALIBRATION_ONSETS = 10


def calibrate(
    tracks: list[tuple[np.ndarray, list[np.ndarray]]],
    classes: list[str],
    fps: float,
    base: DecodeConfig,
    *,
    window: float = EVAL_WINDOW_S,
) -> tuple[DecodeConfig, dict]:
    """Measure each class's latency and choose its threshold on validation tracks.

    ``tracks``: ``[(probs (T, C), reference onset times per class (s))]``. Latency = median of
    ``detected - reference`` over pairs matched within ``window`` at the base threshold; then the
    threshold on :data:`THRESHOLD_GRID` maximising the summed F1 over tracks (Liu [2] §3.1.2).
    Classes with fewer than :data:`MIN_CALIBRATION_ONSETS` reference onsets take the pooled values
    (median over all classes' pairs; the threshold maximising the F1 summed over all classes).
    Returns the new config and a report ``{class: {"latency_s", "threshold", "f1", "onsets", "pooled"}}``
    (``f1`` at the chosen threshold; 0 for a class without onsets or detections).
    """
    import mir_eval

    min_gap = max(1, int(round(base.min_gap_s * fps)))
    n_cls, grid = len(classes), np.asarray(THRESHOLD_GRID)
    n_ref = np.array([sum(refs[c].size for _, refs in tracks) for c in range(n_cls)])
    diffs: list[list[float]] = []
    for c in range(n_cls):
        d = []
        for p, refs in tracks:
            est = frames_to_seconds(pick_peaks(p[:, c], base.threshold, min_gap)[0], fps)
            d += [est[j] - refs[c][i] for i, j in mir_eval.util.match_events(refs[c], est, window)]
        diffs.append(d)
    every = [x for d in diffs for x in d]
    pooled_lat = float(np.median(every)) if len(every) >= 5 else 0.0
    own = n_ref >= MIN_CALIBRATION_ONSETS
    lat = np.array([float(np.median(diffs[c])) if own[c] and len(diffs[c]) >= 5 else pooled_lat for c in range(n_cls)])
    tp, n_est = np.zeros((n_cls, grid.size)), np.zeros((n_cls, grid.size))
    for c in range(n_cls):
        for g, thr in enumerate(grid):
            for p, refs in tracks:
                est = frames_to_seconds(pick_peaks(p[:, c], thr, min_gap)[0], fps, lat[c])
                tp[c, g] += len(mir_eval.util.match_events(refs[c], est, window))
                n_est[c, g] += est.size

    def best_threshold(tp_g: np.ndarray, est_g: np.ndarray, ref: float) -> int:
        f1 = np.where(est_g + ref > 0, 2 * tp_g / np.maximum(est_g + ref, 1), 0.0)
        top = np.flatnonzero(f1 >= f1.max() - 1e-12)  # ties: the threshold nearest 0.5
        return int(top[np.argmin(np.abs(grid[top] - 0.5))])

    pooled_g = best_threshold(tp.sum(0), n_est.sum(0), float(n_ref.sum()))
    thresholds, report = [], {}
    for c, name in enumerate(classes):
        g = best_threshold(tp[c], n_est[c], float(n_ref[c])) if own[c] else pooled_g
        denom = n_est[c, g] + n_ref[c]
        thresholds.append(float(grid[g]))
        report[name] = {"latency_s": round(float(lat[c]), 6), "threshold": float(grid[g]),
                        "f1": round(float(2 * tp[c, g] / denom) if denom else 0.0, 4),
                        "onsets": int(n_ref[c]), "pooled": bool(not own[c])}
    return base.replace(thresholds=tuple(thresholds), latency_s=tuple(round(float(x), 6) for x in lat)), report


def detect_tracks(
    model: torch.nn.Module,
    data,
    names: list[str],
    cfg: DecodeConfig,
    *,
    device="cpu",
    features_of: Callable[[str], np.ndarray] | None = None,
    fps: float | None = None,
):
    """Detect on tracks of a prepared dataset: yields ``(name, probs (T, C), Events in seconds)``.

    The one detect loop behind validation (``loco train``), ``loco eval --model`` and the accuracy
    benchmarks. ``features_of(name)`` supplies features ``(T, channels, bands)`` when the model's
    feature config differs from the dataset's (then ``fps`` is the model's frame rate); by default the
    prepared features are used.
    """
    fps = fps or data.features.fps
    for name in names:
        feats = features_of(name) if features_of else np.asarray(data.feature_array(name))
        probs = activations(model, feats, cfg, fps, device)
        events, _ = decode(probs, data.classes, fps, cfg)
        yield name, probs, events


@dataclass
class DetectResult:
    """Detections of one file: events (s), confidences ``(E,)``, activations ``(T, C)`` and features
    ``(T, channels, bands)`` (each ``None`` when not kept: see :func:`detect_stream`); ``seconds`` of
    audio; ``fps`` frames per second of the activations (0 if unknown)."""

    events: Events
    confidence: np.ndarray
    probs: np.ndarray | None
    features: np.ndarray | None
    seconds: float
    fps: float = 0.0

    @property
    def onsets(self) -> list[tuple[float, str, float]]:
        """``(time_s, label, confidence)`` per detected onset, in time order."""
        return [(float(t), str(c), float(p)) for t, c, p in zip(self.events.times, self.events.labels,
                                                                  self.confidence, strict=True)]

    def save_activations(self, path: str | os.PathLike) -> None:
        """Write the activations ``(T, C)`` float32 to ``path`` (``.npy``), atomically; frame ``t`` is at
        ``t / fps`` seconds."""
        if self.probs is None:
            raise InvalidOption("these detections did not keep their activations; detect with keep_activations=True")
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.asarray(self.probs, dtype=np.float32))


@torch.no_grad()
def stream_activations(model: torch.nn.Module, blocks: Iterable[np.ndarray], device="cpu", *, overlap: bool = False):
    """Run a streaming model over consecutive feature blocks ``(T_i, channels, bands)``: yields
    ``(block, probabilities (T_i, C) float32)``, the recurrent and convolutional state carried across
    blocks (equal to :func:`activations` in ``stream`` mode when the blocks have its chunk size).

    ``overlap``: a helper thread produces block ``i + 1`` (reading the audio and computing its
    features, whatever ``blocks`` does) while torch runs the network on block ``i`` with one thread
    fewer (the caller's count is restored afterwards)."""
    threads, state = torch.get_num_threads(), None
    if overlap:
        torch.set_num_threads(max(1, threads - 1))
    try:
        for block in _prefetched(blocks) if overlap else blocks:
            logits, state = model.stream(torch.from_numpy(block).to(device)[None], state)
            yield block, torch.sigmoid(logits[0].float()).cpu().numpy()
    finally:
        torch.set_num_threads(threads)


def _prefetched(items: Iterable):
    """The items of ``items``, each next one produced by a helper thread while the caller works."""
    from concurrent.futures import ThreadPoolExecutor

    it = iter(items)
    with ThreadPoolExecutor(1) as helper:
        pending = helper.submit(next, it, None)
        while (item := pending.result()) is not None:
            pending = helper.submit(next, it, None)
            yield item


class _Counted:
    """Iterate sample chunks, counting the samples (``n``)."""

    def __init__(self, chunks: Iterable[np.ndarray]) -> None:
        self.chunks, self.n = chunks, 0

    def __iter__(self):
        for chunk in self.chunks:
            self.n += len(chunk)
            yield chunk


def detect_stream(loaded: LoadedModel, chunks: Iterable[np.ndarray], cfg: DecodeConfig | None = None, device="cpu", *,
                  keep_activations: bool = True, keep_features: bool = False) -> DetectResult:
    """Detect in audio that arrives in pieces: ``chunks`` of mono float32 samples ``(n_i,)`` at the
    model's rate (``loaded.features.sample_rate`` Hz), e.g. an :class:`~loco_cli.audio.AudioStream`.

    In ``stream`` mode (the default) every stage runs block by block (:func:`loco_cli.features.log_mel_stream`,
    :func:`stream_activations`, :class:`OnsetDecoder`), so memory does not grow with the length of the
    audio unless the activations (``keep_activations``, ``(T, C)`` float32) or the features
    (``keep_features``, ``(T, channels, bands)``; needed for plots) are kept. On a CPU with two or more
    torch threads the features of the next block are computed while the network runs. ``windows``
    mode reads all the audio first (:func:`activations`)."""
    cfg = cfg or loaded.decode
    f, fps = loaded.features, loaded.features.fps
    counted = _Counted(chunks)
    if cfg.mode == "stream" and hasattr(loaded.model, "stream"):
        overlap = torch.get_num_threads() >= 2 and torch.device(device).type == "cpu"
        blocks = log_mel_stream(counted, f, block_frames=max(1, round(STREAM_BLOCK_SECONDS * fps)),
                                workers=1 if overlap else torch.get_num_threads())
        decoder, feats, probs = OnsetDecoder(loaded.classes, fps, cfg), [], []
        for block, p in stream_activations(loaded.model, blocks, device, overlap=overlap):
            decoder.push(p)
            if keep_activations:
                probs.append(p)
            if keep_features:
                feats.append(block)
        events, conf = decoder.finish()
        all_probs = np.concatenate(probs) if keep_activations else None
        all_feats = np.concatenate(feats) if keep_features else None
    else:
        samples = np.concatenate([np.asarray(c, dtype=np.float32) for c in counted] or [np.zeros(0, np.float32)])
        all_feats = log_mel(samples, f, workers=torch.get_num_threads())
        all_probs = activations(loaded.model, all_feats, cfg, fps, device)
        events, conf = decode(all_probs, loaded.classes, fps, cfg)
        all_feats = all_feats if keep_features else None
        all_probs = all_probs if keep_activations else None
    return DetectResult(events, conf, all_probs, all_feats, counted.n / f.sample_rate, fps)


def detect_file(loaded: LoadedModel, path: str | os.PathLike, cfg: DecodeConfig | None = None, device="cpu", *,
                keep_activations: bool = True, keep_features: bool = False) -> DetectResult:
    """Detect in an audio file, decoded block by block (:class:`~loco_cli.audio.AudioStream`, then
    :func:`detect_stream`)."""
    return detect_stream(loaded, AudioStream(path, loaded.features.sample_rate), cfg, device,
                         keep_activations=keep_activations, keep_features=keep_features)


def detect_samples(loaded: LoadedModel, samples: np.ndarray, cfg: DecodeConfig | None = None, device="cpu", *,
                   keep_activations: bool = True, keep_features: bool = False) -> DetectResult:
    """Detect in mono samples ``(n,)`` at the model's sample rate (``loaded.features.sample_rate`` Hz)."""
    return detect_stream(loaded, [np.asarray(samples, dtype=np.float32)], cfg, device,
                         keep_activations=keep_activations, keep_features=keep_features)


def collect_inputs(inputs: list[Path]) -> tuple[list[Path], list[str]]:
    """Audio files named directly or found (recursively) in folders; missing paths become problems."""
    files, problems = [], []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            found = sorted(p for p in item.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith("."))
            if not found:
                problems.append(f"{item}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in this folder")
            files += found
        elif item.is_file():
            files.append(item)
        else:
            problems.append(f"{item}: no such file or folder")
    return files, problems


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


def _pyplot():
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
    plt = _pyplot()
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


@dataclass
class DetectSummary:
    """Outcome of :func:`detect_paths`: files written per input and problems (one line each)."""

    outputs: dict[str, list[Path]] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    audio_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _detect_to_files(loaded: LoadedModel, f: Path, out_dir: Path, cfg: DecodeConfig | None, midi: bool, plot: bool,
                     device) -> tuple[list[Path], int, float]:
    """Detect one file and write its outputs: ``(written paths, number of onsets, seconds of audio)``.
    A failure to write is an :class:`InvalidOption` naming the file (the batch goes on)."""
    res = detect_file(loaded, f, cfg, device, keep_activations=plot, keep_features=plot)  # memory: only plots keep them
    try:
        return _write_outputs(loaded, f, res, out_dir, midi, plot)
    except OSError as err:
        raise InvalidOption(f"{f}: cannot write its outputs into {out_dir} ({err.strerror or err}); "
                            "choose a writable --out folder") from err


def _write_outputs(loaded: LoadedModel, f: Path, res, out_dir: Path, midi: bool, plot: bool) -> tuple[list[Path], int, float]:
    written = [out_dir / f"{f.stem}.csv"]
    write_events_csv(written[0], res.events, res.confidence)
    if midi:
        written.append(out_dir / f"{f.stem}.mid")
        write_midi(written[-1], res.events, res.confidence, drums=set(loaded.classes) <= set(DRUM_GM_NOTES))
    if plot:
        written.append(out_dir / f"{f.stem}.png")
        plot_detection(written[-1], res, loaded.classes, loaded.features.fps, f.name)
    return written, len(res.events), res.seconds


_WORKER: dict = {}


def _worker_init(loaded: LoadedModel) -> None:
    torch.set_num_threads(1)
    _WORKER["loaded"] = loaded


def _worker_detect(f: Path, out_dir: Path, cfg: DecodeConfig | None, midi: bool, plot: bool):
    try:
        return _detect_to_files(_WORKER["loaded"], f, out_dir, cfg, midi, plot, "cpu"), None
    except LocoError as err:
        return None, str(err)


def detect_paths(
    loaded: LoadedModel,
    inputs: list[Path],
    out_dir: Path,
    *,
    cfg: DecodeConfig | None = None,
    midi: bool = False,
    plot: bool = False,
    device="cpu",
    jobs: int = 1,
    on_file: Callable[[Path, str | None], None] | None = None,
) -> DetectSummary:
    """Detect onsets in every input (files or folders) and write ``<stem>.csv`` (+ ``.mid``, ``.png``)
    into ``out_dir``. A file that fails is reported and the rest go on.

    ``jobs > 1`` (CPU only) detects that many files at once in forked worker processes of one torch
    thread each: the throughput of a batch on several cores (a single file is not split).
    """
    out_dir = Path(out_dir)
    if plot:
        _pyplot()  # a missing matplotlib stops the batch before any work, not once per file
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidOption(f"{out_dir}: exists and is not a folder; choose another --out")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InvalidOption(f"{out_dir}: cannot create the output folder ({err.strerror or err}); "
                            "choose a writable --out") from err
    files, problems = collect_inputs(inputs)
    summary = DetectSummary(problems=problems)
    stems: dict[str, Path] = {}
    todo = []
    for f in files:
        if f.stem in stems:
            msg = f"{f}: same name as {stems[f.stem]}; outputs would collide, detect them separately"
            summary.problems.append(msg)
            if on_file:
                on_file(f, msg)
            continue
        stems[f.stem] = f
        todo.append(f)

    def record(f: Path, outcome, error: str | None) -> None:
        if error is None:
            written, n_events, seconds = outcome
            summary.outputs[str(f)] = written
            summary.events[str(f)] = n_events
            summary.audio_seconds += seconds
            summary.warnings.extend(audio_warnings(f, loaded.features.fmax))
        else:
            summary.problems.append(error)
        if on_file:
            on_file(f, error)

    if jobs > 1 and len(todo) > 1 and torch.device(device).type == "cpu":
        from concurrent.futures import as_completed

        from loco_cli.devices import process_pool
        from loco_cli.features import _mel_operator

        _mel_operator(loaded.features)  # build the filterbank once, before the workers fork
        with process_pool(min(jobs, len(todo)), _worker_init, (loaded,)) as pool:
            futures = {pool.submit(_worker_detect, f, out_dir, cfg, midi, plot): f for f in todo}
            for fut in as_completed(futures):
                record(futures[fut], *fut.result())
        return summary
    for f in todo:
        try:
            record(f, _detect_to_files(loaded, f, out_dir, cfg, midi, plot, device), None)
        except LocoError as err:
            record(f, None, str(err))
    return summary
