"""``loco detect``: whole audio files -> per-frame activations -> onsets (seconds) -> CSV / MIDI / PNG.

Two ways to run a causal model over a file of any length:

* ``stream`` (default): one pass, the input fed in chunks with the recurrent and convolutional state
  carried across (equal to a single pass to 1e-5, as tested; memory bounded by the chunk);
* ``windows``: 1.5 s windows every 0.5 s, each from the zero state, overlap-averaged (the authors'
  inference). ``benchmarks/bench_detect.py`` measures both; with the shipped drum
  model on a held-out synthetic corpus they score alike (F1 0.919 streaming vs 0.918 windows) and
  streaming is 2-3x faster (248x vs 102x real time on 2 threads, 164x vs 58x on one), hence the default.

Activations ``p`` are ``(frames, classes)`` probabilities; :mod:`loco_cli.peaks` turns them into onsets
in seconds, :mod:`loco_cli.outputs` writes the MIDI and PNG files, :mod:`loco_cli.calibration` chooses
the thresholds and latencies on validation tracks.
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
from loco_cli.config import DRUM_GM_NOTES, DecodeConfig, FeatureConfig
from loco_cli.data import with_gain
from loco_cli.errors import InvalidOption, LocoError
from loco_cli.features import log_mel, log_mel_stream, seconds_to_frames
from loco_cli.files import walk_files
from loco_cli.outputs import plot_detection, pyplot, write_midi
from loco_cli.peaks import OnsetDecoder, decode
from loco_cli.tuning import MIN_RETUNE_CENTS, TuningHistogram, estimate_tuning_cents, tuning_factor

__all__ = [
    "STREAM_CHUNK_FRAMES",
    "DEFAULT_STREAM_BLOCK_SECONDS",
    "STREAM_BLOCK_SECONDS",
    "activations",
    "detect_tracks",
    "DetectResult",
    "detect_file",
    "detect_samples",
    "detect_stream",
    "file_level_and_tuning",
    "retune_factor",
    "stream_activations",
    "collect_inputs",
    "detect_paths",
    "MAX_LEVEL_GAIN_DB",
    "level_gain",
    "file_level",
    "signal_level",
]

#: Frames per chunk when streaming (2.5 s at 200 fps): bounds the network's memory on long files and
#: keeps its activations in cache (the piano network ran 2.5x faster than on 4000-frame chunks).
STREAM_CHUNK_FRAMES = 500
#: Seconds of audio per block when a file streams through features, network and peak picking
#: (:func:`detect_stream`), per network (``arch``; the others, the piano keys network included:
#: :data:`DEFAULT_STREAM_BLOCK_SECONDS`): 1002 frames for the drum CRNN (200 frames/s), 251 for the piano
#: keys network (100). Longer blocks cost
#: memory and, on the keys network, speed (its activations for 88 keys leave the cache: 2.5 s ran
#: 1.1-1.2x faster than 5 s on two threads); on the CRNN 5 s ran 6-7 % faster than 2.5 s on one thread
#: (ad hoc, alternating passes; bench_detect.py and bench_memory.py measure the result).
STREAM_BLOCK_SECONDS = {"crnn": 5.0}
DEFAULT_STREAM_BLOCK_SECONDS = 2.5


#: The most a level normalisation (``DecodeConfig.level_dbfs``) raises an input, in dB: a file whose level
#: lies further below the model's (a near-silent one) is lifted by this much only, not into noise the model
#: never heard.
MAX_LEVEL_GAIN_DB = 40.0

#: A signal's level (what ``DecodeConfig.level_dbfs`` places) is a high quantile of the peaks of its
#: consecutive blocks of this many seconds (:func:`signal_level`) ...
LEVEL_BLOCK_SECONDS = 0.05
#: ... this quantile (linear interpolation): the loudest 0.5 % of the blocks are passed over, so that a
#: click, a dropped microphone or a clipped spike far louder than the music does not turn the whole file
#: down (in a 30 s file the 4th loudest of 600 blocks sets the level; in one of 10 s or less a point between
#: its two loudest blocks). With the largest sample instead, one full-scale burst cost the shipped piano
#: model 0.784 -> 0.729 note F1 (ad hoc, docs/real-audio.md, Recording level).
LEVEL_QUANTILE = 0.995


def level_gain(level: float, level_dbfs: float | None) -> float:
    """The factor that puts a signal whose level (:func:`signal_level`, full scale = 1) is ``level`` at
    ``level_dbfs`` dBFS, at most :data:`MAX_LEVEL_GAIN_DB` up; 1 when ``level_dbfs`` is ``None`` or
    the signal is all zeros."""
    if level_dbfs is None or not level > 0:
        return 1.0
    return float(min(10 ** (level_dbfs / 20) / level, 10 ** (MAX_LEVEL_GAIN_DB / 20)))


def block_peaks(chunks: Iterable[np.ndarray], sample_rate: int) -> np.ndarray:
    """Largest absolute sample of each consecutive :data:`LEVEL_BLOCK_SECONDS` block of the mono signal
    that ``chunks`` (1-D arrays of any lengths, in order) make up: ``(ceil(n / block),)``, the last block
    possibly shorter; the blocks do not depend on where the chunks break."""
    block = max(1, round(LEVEL_BLOCK_SECONDS * sample_rate))
    peaks, rest = [], np.zeros(0, np.float32)
    for c in chunks:
        c = np.abs(np.asarray(c, dtype=np.float32).reshape(-1))
        if rest.size:
            c = np.concatenate([rest, c])
        whole = c.size // block * block
        if whole:
            peaks.append(c[:whole].reshape(-1, block).max(axis=1))
        rest = c[whole:]
    if rest.size:
        peaks.append(rest.max(keepdims=True))
    return np.concatenate(peaks) if peaks else np.zeros(0, np.float32)


def level_of_peaks(peaks: np.ndarray) -> float:
    """A signal's level from its block peaks ``(blocks,)`` (:func:`block_peaks`): their
    :data:`LEVEL_QUANTILE` quantile; 0 for an empty signal."""
    return float(np.quantile(peaks, LEVEL_QUANTILE)) if peaks.size else 0.0


def signal_level(samples: np.ndarray, sample_rate: int) -> float:
    """The level (full scale = 1) of mono ``samples`` ``(n,)`` at ``sample_rate`` Hz that a level
    normalisation places at ``DecodeConfig.level_dbfs``: :data:`LEVEL_QUANTILE` of its block peaks."""
    return level_of_peaks(block_peaks([samples], sample_rate))


def file_level(path: str | os.PathLike, sample_rate: int) -> float:
    """:func:`signal_level` of a file's mono mixdown at ``sample_rate`` Hz, in one streamed pass
    (:class:`~loco_cli.audio.AudioStream`; memory: one float per block, 72k for an hour)."""
    return level_of_peaks(block_peaks(AudioStream(path, sample_rate), sample_rate))


def retune_factor(cents: float) -> float:
    """The factor a recording ``cents`` off the A = 440 Hz grid is resampled by before the features
    (:func:`loco_cli.tuning.tuning_factor`), or 1 when the offset is under
    :data:`~loco_cli.tuning.MIN_RETUNE_CENTS`."""
    return tuning_factor(cents) if abs(cents) >= MIN_RETUNE_CENTS else 1.0


def file_level_and_tuning(path: str | os.PathLike, sample_rate: int, *, level: bool, tuning: bool) -> tuple[float, float]:
    """A file's level (:func:`file_level`; 0 unless ``level``) and its offset from the A = 440 Hz grid in
    cents (:func:`loco_cli.tuning.estimate_tuning_cents`; 0 unless ``tuning``), in one streamed pass."""
    hist = TuningHistogram(sample_rate) if tuning else None

    def chunks():
        for c in AudioStream(path, sample_rate):
            if hist is not None:
                hist.push(c)
            yield c

    if level:
        found = level_of_peaks(block_peaks(chunks(), sample_rate))
    else:
        found = 0.0
        for _ in chunks():
            pass
    return found, (hist.cents() if hist is not None else 0.0)


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


def detect_tracks(
    model: torch.nn.Module,
    data,
    names: list[str],
    cfg: DecodeConfig,
    *,
    device="cpu",
    features_of: Callable[[str], np.ndarray] | None = None,
    fps: float | None = None,
    features: FeatureConfig | None = None,
):
    """Detect on tracks of a prepared dataset: yields ``(name, probs (T, C), Events in seconds)``.

    The one detect loop behind validation (``loco train``), ``loco eval --model`` and the accuracy
    benchmarks. ``features_of(name)`` supplies features ``(T, channels, bands)`` when the model's
    feature config differs from the dataset's (then ``fps`` is the model's frame rate and ``features``
    its front-end); by default the prepared features are used. With ``cfg.level_dbfs`` each track's
    features are moved as its audio would be by :func:`level_gain` (its level: ``data.level(name)``).
    """
    fps = fps or data.features.fps
    front = features or data.features
    for name in names:
        feats = features_of(name) if features_of else np.asarray(data.feature_array(name))
        if cfg.level_dbfs is not None:
            feats = with_gain(feats, level_gain(data.level(name), cfg.level_dbfs), front)
        probs = activations(model, feats, cfg, fps, device)
        events, _ = decode(probs, data.classes, fps, cfg)
        yield name, probs, events


@dataclass
class DetectResult:
    """Detections of one file: events (s), confidences ``(E,)``, activations ``(T, C)`` and features
    ``(T, channels, bands)`` (each ``None`` when not kept: see :func:`detect_stream`); ``seconds`` of
    audio; ``fps`` frames per second of the activations (0 if unknown); ``tuning_cents``: the offset from the
    A = 440 Hz grid that the input was moved by before the features (``DecodeConfig.tuning``; 0: as it came)."""

    events: Events
    confidence: np.ndarray
    probs: np.ndarray | None
    features: np.ndarray | None
    seconds: float
    fps: float = 0.0
    tuning_cents: float = 0.0

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
                  keep_activations: bool = True, keep_features: bool = False, gain: float = 1.0,
                  retune: float = 1.0) -> DetectResult:
    """Detect in audio that arrives in pieces: ``chunks`` of mono float32 samples ``(n_i,)`` at the
    model's rate (``loaded.features.sample_rate`` Hz), e.g. an :class:`~loco_cli.audio.AudioStream`.

    In ``stream`` mode (the default) every stage runs block by block (:func:`loco_cli.features.log_mel_stream`,
    :func:`stream_activations`, :class:`OnsetDecoder`), so memory does not grow with the length of the
    audio unless the activations (``keep_activations``, ``(T, C)`` float32) or the features
    (``keep_features``, ``(T, channels, bands)``; needed for plots) are kept. On a CPU with two or more
    torch threads the features of the next block are computed while the network runs. ``windows``
    mode reads all the audio first (:func:`activations`). ``gain``: every sample is multiplied by it
    first (:func:`detect_file` and :func:`detect_samples` pass the level normalisation's,
    :func:`level_gain`; the stream itself cannot see its level before it ends). ``retune``: the chunks were
    resampled by this factor from the recording (:class:`~loco_cli.audio.AudioStream`'s ``retune``, from
    :func:`retune_factor`), so its frames come ``fps * retune`` to a second of the recording: the decoder
    turns frames into the recording's seconds at that rate."""
    cfg = cfg or loaded.decode
    f = loaded.features
    fps = f.fps * retune  # frames per second of the recording
    if gain != 1.0:
        chunks = (np.asarray(c, dtype=np.float32) * np.float32(gain) for c in chunks)
    counted = _Counted(chunks)
    if cfg.mode == "stream" and hasattr(loaded.model, "stream"):
        overlap = torch.get_num_threads() >= 2 and torch.device(device).type == "cpu"
        seconds = STREAM_BLOCK_SECONDS.get(loaded.model.cfg.arch, DEFAULT_STREAM_BLOCK_SECONDS)
        blocks = log_mel_stream(counted, f, block_frames=max(1, round(seconds * f.fps)),
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
        all_probs = activations(loaded.model, all_feats, cfg, f.fps, device)
        events, conf = decode(all_probs, loaded.classes, fps, cfg)
        all_feats = all_feats if keep_features else None
        all_probs = all_probs if keep_activations else None
    return DetectResult(events, conf, all_probs, all_feats, counted.n / f.sample_rate / retune, fps,
                        round(1200 * float(np.log2(retune)), 1))


def detect_file(loaded: LoadedModel, path: str | os.PathLike, cfg: DecodeConfig | None = None, device="cpu", *,
                keep_activations: bool = True, keep_features: bool = False) -> DetectResult:
    """Detect in an audio file, decoded block by block (:class:`~loco_cli.audio.AudioStream`, then
    :func:`detect_stream`); with ``level_dbfs`` or ``tuning='auto'`` in the decode config a first pass finds
    the file's level and tuning (:func:`file_level_and_tuning`) and the second detects at that level, moved
    onto the A = 440 Hz grid (:func:`retune_factor`)."""
    cfg = cfg or loaded.decode
    sr = loaded.features.sample_rate
    gain, retune = 1.0, 1.0
    if cfg.level_dbfs is not None or cfg.tuning == "auto":
        level, cents = file_level_and_tuning(path, sr, level=cfg.level_dbfs is not None, tuning=cfg.tuning == "auto")
        gain, retune = level_gain(level, cfg.level_dbfs), retune_factor(cents)
    return detect_stream(loaded, AudioStream(path, sr, retune=retune), cfg, device, keep_activations=keep_activations,
                         keep_features=keep_features, gain=gain, retune=retune)


def detect_samples(loaded: LoadedModel, samples: np.ndarray, cfg: DecodeConfig | None = None, device="cpu", *,
                   keep_activations: bool = True, keep_features: bool = False) -> DetectResult:
    """Detect in mono samples ``(n,)`` at the model's sample rate (``loaded.features.sample_rate`` Hz), at
    the decode config's ``level_dbfs`` when it has one, moved onto the A = 440 Hz grid with ``tuning='auto'``."""
    cfg = cfg or loaded.decode
    sr = loaded.features.sample_rate
    x = np.asarray(samples, dtype=np.float32)
    gain = level_gain(signal_level(x, sr), cfg.level_dbfs)
    retune = retune_factor(estimate_tuning_cents([x], sr)) if cfg.tuning == "auto" else 1.0
    if retune != 1.0:
        import soxr

        x = soxr.resample(x, sr, sr * retune, quality="HQ").astype(np.float32, copy=False)
    return detect_stream(loaded, [x], cfg, device, keep_activations=keep_activations,
                         keep_features=keep_features, gain=gain, retune=retune)


def collect_inputs(inputs: list[Path]) -> tuple[list[Path], list[str]]:
    """Audio files named directly or found (recursively) in folders; missing paths become problems."""
    files, problems = [], []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            found = walk_files(item, AUDIO_SUFFIXES)
            if not found:
                problems.append(f"{item}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in this folder")
            files += found
        elif item.is_file():
            files.append(item)
        else:
            problems.append(f"{item}: no such file or folder")
    return files, problems


@dataclass
class DetectSummary:
    """Outcome of :func:`detect_paths`: files written per input and problems (one line each); ``tunings``:
    the files moved onto the A = 440 Hz grid before detection (``DecodeConfig.tuning``) and by how many cents
    they were off."""

    outputs: dict[str, list[Path]] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    audio_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tunings: dict[str, float] = field(default_factory=dict)


def _detect_to_files(loaded: LoadedModel, f: Path, out_dir: Path, cfg: DecodeConfig | None, midi: bool, plot: bool,
                     device) -> tuple[list[Path], int, float, float]:
    """Detect one file and write its outputs: ``(written paths, number of onsets, seconds of audio, cents
    the audio was retuned by)``.
    A failure to write is an :class:`InvalidOption` naming the file (the batch goes on)."""
    res = detect_file(loaded, f, cfg, device, keep_activations=plot, keep_features=plot)  # memory: only plots keep them
    try:
        return _write_outputs(loaded, f, res, out_dir, midi, plot)
    except OSError as err:
        raise InvalidOption(f"{f}: cannot write its outputs into {out_dir} ({err.strerror or err}); "
                            "choose a writable --out folder") from err


def _write_outputs(loaded: LoadedModel, f: Path, res, out_dir: Path, midi: bool, plot: bool) -> tuple[list[Path], int, float, float]:
    written = [out_dir / f"{f.stem}.csv"]
    write_events_csv(written[0], res.events, res.confidence)
    if midi:
        written.append(out_dir / f"{f.stem}.mid")
        write_midi(written[-1], res.events, res.confidence, drums=set(loaded.classes) <= set(DRUM_GM_NOTES))
    if plot:
        written.append(out_dir / f"{f.stem}.png")
        plot_detection(written[-1], res, loaded.classes, res.fps or loaded.features.fps, f.name)
    return written, len(res.events), res.seconds, res.tuning_cents


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
        pyplot()  # a missing matplotlib stops the batch before any work, not once per file
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
            written, n_events, seconds, cents = outcome
            if cents:
                summary.tunings[str(f)] = cents
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
