"""Features: log-mel spectrogram with its first time-difference as a second channel (LoCo [1] §6.1).

Frame convention (the only one in loco): frame ``t`` is the analysis window of ``win_length`` samples
that starts at sample ``t * hop_length``, i.e. at ``t / fps`` seconds; the signal is zero-padded at the
end so that every sample lies in some frame. :func:`frames_to_seconds` and :func:`seconds_to_frames`
are the single place where frames and seconds meet.
"""

from __future__ import annotations

import functools

import numpy as np

from loco_cli.config import FeatureConfig

__all__ = ["log_mel", "log_mel_blocks", "log_mel_stream", "n_frames", "frames_to_seconds", "seconds_to_frames", "mel_filterbank", "mel_centers"]


def n_frames(n_samples: int, cfg: FeatureConfig) -> int:
    """Number of frames for ``n_samples`` samples: ``1 + ceil(max(n - win, 0) / hop)``."""
    return 1 + -(-max(n_samples - cfg.win_length, 0) // cfg.hop_length)


def frames_to_seconds(frames, fps: float, latency_s: float = 0.0) -> np.ndarray:
    """Times in seconds of frame indices (float frames allowed, e.g. interpolated peaks).

    ``frame / fps`` is the start of the frame's window; ``latency_s`` (a model's measured detection
    delay, see :func:`loco_cli.calibration.calibrate`) is subtracted so that detections land on onsets.
    This is the only place in loco where frames become seconds.
    """
    return np.asarray(frames, dtype=np.float64) / fps - latency_s


def seconds_to_frames(seconds, fps: float) -> np.ndarray:
    """Index of the frame that starts at or before each time: ``floor(t * fps)`` (int64)."""
    return np.floor(np.asarray(seconds, dtype=np.float64) * fps + 1e-9).astype(np.int64)


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def _mel_points(cfg: FeatureConfig) -> np.ndarray:
    """The ``n_mels + 2`` triangle corners (Hz), equally spaced on the HTK mel scale from fmin to fmax."""
    return _mel_to_hz(np.linspace(_hz_to_mel(cfg.fmin), _hz_to_mel(cfg.fmax), cfg.n_mels + 2))


@functools.lru_cache(maxsize=8)
def mel_filterbank(cfg: FeatureConfig) -> np.ndarray:
    """Triangular HTK mel filterbank ``(n_mels, n_fft // 2 + 1)`` (no area normalisation, as the authors).

    Triangle ``i`` rises from corner ``i`` to 1 at corner ``i + 1`` and falls to 0 at corner ``i + 2``
    (corners from :func:`_mel_points`), evaluated at the FFT bin frequencies: the values of
    ``librosa.filters.mel(..., htk=True, norm=None)`` (a test checks it), computed here in numpy because
    the librosa call costs ~5 s of start-up (it loads librosa's core) on every ``loco detect``.
    """
    corners = _mel_points(cfg)
    bins = np.linspace(0.0, cfg.sample_rate / 2, 1 + cfg.n_fft // 2)
    width = np.diff(corners)
    fb = np.zeros((cfg.n_mels, bins.size), dtype=np.float32)
    # Row by row over the bins each triangle covers: the whole-matrix float64 version held five
    # (n_mels, bins) temporaries at once, the largest allocation of a piano detection.
    starts = np.searchsorted(bins, corners[:-2], side="left")
    stops = np.searchsorted(bins, corners[2:], side="right")
    for i, (a, b) in enumerate(zip(starts, stops, strict=True)):
        f = bins[a:b]
        lower = (f - corners[i]) / width[i]
        upper = (corners[i + 2] - f) / width[i + 1]
        fb[i, a:b] = np.maximum(0.0, np.minimum(lower, upper))
    return fb


@functools.lru_cache(maxsize=8)
def mel_centers(cfg: FeatureConfig) -> np.ndarray:
    """Centre frequencies (Hz) of the ``n_mels`` triangles of :func:`mel_filterbank`, ascending."""
    return _mel_points(cfg)[1:-1]


@functools.lru_cache(maxsize=8)
def _mel_operator(cfg: FeatureConfig):
    """The filterbank restricted to its non-zero FFT bins ``[lo, hi)``, as a sparse CSR matrix
    ``(n_mels, hi - lo)``.

    Each HTK triangle covers a few bins, so the product costs ~2 multiply-adds per bin instead of
    ``n_mels``: 3x faster for the drum preset, 40x for the piano preset (384 bands)."""
    import scipy.sparse

    fb = mel_filterbank(cfg)
    used = np.flatnonzero(fb.any(axis=0))
    lo, hi = int(used[0]), int(used[-1]) + 1
    return scipy.sparse.csr_matrix(fb[:, lo:hi]), lo, hi


@functools.lru_cache(maxsize=16)
def _window(length: int) -> np.ndarray:
    """Periodic Hamming window of ``length`` samples, float32."""
    n = np.arange(length)
    return (0.54 - 0.46 * np.cos(2 * np.pi * n / length)).astype(np.float32)


#: Frames per FFT call inside a block: bounds the temporaries (spectra of ``n_fft`` points) whatever
#: the block size, and keeps them in cache: on this project's CPU 32 rows computed the piano front-end (two
#: 8192-point FFTs a frame) 2.2-2.5x faster than 128 in some runs (an hour of audio on one thread: 14.6-15.3 s
#: against 32.6-38.2 s), within 10 % in others, never slower; the drums' 1.2-2x (4.3-4.7 s against 5.5-9.5 s);
#: 16 and 64 were slower than 24-32 (ad hoc; ``benchmarks/bench_features.py`` measures the front-ends). Each
#: frame's FFT and mel sum are computed alone, so the features are the same to the bit for any number of rows.
FFT_ROWS = 32
#: Frames transformed per block in :func:`log_mel`: bounds the working memory on long files
#: (~10 MB of frames for the drum preset) and keeps the block in cache.
FEATURE_BLOCK_FRAMES = 2048


def log_mel(samples: np.ndarray, cfg: FeatureConfig, *, workers: int = 1) -> np.ndarray:
    """Log-mel features of mono samples at ``cfg.sample_rate``: ``(frames, channels, n_mels)`` float32.

    Steps: pre-emphasis ``x[n] - a x[n-1]``; a Hamming window of ``win_length`` samples placed at the
    *start* of each ``n_fft`` frame, every ``hop_length`` samples (so frame ``t`` starts at
    ``t / fps`` s); power spectrum; HTK mel filterbank; natural log of ``mel + log_floor``. With
    ``cfg.delta`` the second channel is the first difference over time (frame 0 gets 0), kept as its
    own channel rather than glued onto the frequency axis (the authors' code [5]). With
    ``cfg.long_win_length`` a last channel holds the log-mel of a Hamming window of that many samples
    centred where frame ``t``'s window is centred (zero-padded before the start and after the end): a
    multi-resolution front-end, fine frequency resolution for the bass beside the short window's timing.

    Single-precision real FFTs (``scipy.fft``, ``workers`` threads) of :data:`FFT_ROWS` frames at a
    time (the spectra stay in cache) within blocks of :data:`FEATURE_BLOCK_FRAMES` frames, so memory
    stays bounded on hour-long files; only the FFT bins the filterbank uses are squared and summed
    (``benchmarks/bench_features.py`` measures the speed). :func:`log_mel_blocks` and
    :func:`log_mel_stream` yield the same numbers block by block.
    """
    blocks = list(log_mel_blocks(samples, cfg, workers=workers))
    if len(blocks) == 1:
        return blocks[0]
    return np.concatenate(blocks)


def log_mel_blocks(samples: np.ndarray, cfg: FeatureConfig, *, block_frames: int = FEATURE_BLOCK_FRAMES,
                   workers: int = 1):
    """:func:`log_mel` in consecutive blocks of at most ``block_frames`` frames: a generator of
    ``(frames_i, channels, n_mels)`` float32 arrays whose concatenation equals ``log_mel(samples, cfg)``
    (the delta channel carries over block boundaries). Lets detection run the network on one block
    while the next one's features are computed."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"expected mono samples (n,), got shape {x.shape}")
    return log_mel_stream((x,), cfg, block_frames=block_frames, workers=workers)


def log_mel_stream(chunks, cfg: FeatureConfig, *, block_frames: int = FEATURE_BLOCK_FRAMES, workers: int = 1):
    """:func:`log_mel` of audio that arrives in pieces: ``chunks`` is an iterable of mono float32 sample
    arrays ``(n_i,)`` at ``cfg.sample_rate`` (e.g. :class:`loco_cli.audio.AudioStream`), read one at a
    time; yields blocks ``(frames_i, channels, n_mels)`` float32 of at most ``block_frames`` frames as
    soon as their samples have arrived. The concatenated blocks equal ``log_mel`` of the concatenated
    chunks bit for bit (pre-emphasis, the delta and the long window carry across chunk boundaries), and
    memory stays bounded by one chunk plus one block, whatever the length of the audio.
    """
    import scipy.fft

    if block_frames < 1:
        raise ValueError(f"block_frames must be positive, got {block_frames}")
    hop, win, long = cfg.hop_length, cfg.win_length, cfg.long_win_length
    before = (long - win) // 2 if long else 0  # zeros ahead of sample 0 (the long window is centred)
    span = max(long, before + win)  # samples (from frame t's first) that frame t needs
    op, lo, hi = _mel_operator(cfg)
    emph = np.float32(cfg.preemphasis)

    tapers = {n: _window(n) for n in {win, long} if n}  # made once, not per FFT call

    def log_mel_of(windows: np.ndarray, length: int) -> np.ndarray:
        mel = np.empty((windows.shape[0], cfg.n_mels), dtype=np.float32)
        taper = tapers[length]
        for a in range(0, windows.shape[0], FFT_ROWS):  # bounded temporaries: 2 MB per 32 rows at n_fft 8192
            spec = scipy.fft.rfft(windows[a : a + FFT_ROWS] * taper, n=cfg.n_fft, axis=1, workers=workers)
            spec = spec[:, lo:hi]
            power = np.square(spec.real) + np.square(spec.imag)
            mel[a : a + FFT_ROWS] = (op @ power.T).T
        return np.log(mel + np.float32(cfg.log_floor), out=mel)

    previous = None  # the last log-mel frame of the block before (for the delta)

    def features(buf: np.ndarray, count: int) -> np.ndarray:
        """The next ``count`` frames; ``buf`` starts at the first one's first sample."""
        nonlocal previous
        view = np.lib.stride_tricks.sliding_window_view(buf[: (count - 1) * hop + span], span)[::hop]
        mel = log_mel_of(view[:, before : before + win], win)
        out = np.empty((count, cfg.n_channels, cfg.n_mels), dtype=np.float32)
        out[:, 0] = mel
        if cfg.delta:
            if previous is None:
                out[0, 1] = 0.0
            else:
                np.subtract(mel[0], previous, out=out[0, 1])
            np.subtract(mel[1:], mel[:-1], out=out[1:, 1])
            previous = mel[-1].copy()
        if long:
            out[:, -1] = log_mel_of(view[:, :long], long)
        return out

    buf = np.zeros(before, dtype=np.float32)  # pre-emphasised samples from the next frame's start on
    n_seen = 0  # raw samples read so far
    last = None  # the last raw sample (pre-emphasis across chunks)
    for chunk in chunks:
        x = np.asarray(chunk, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError(f"expected mono samples (n,), got shape {x.shape}")
        if x.size == 0:
            continue
        if cfg.preemphasis:
            y = np.empty_like(x)
            y[0] = x[0] if last is None else x[0] - emph * last
            np.subtract(x[1:], emph * x[:-1], out=y[1:])
            last = x[-1]
        else:
            y = x
        n_seen += x.size
        buf = np.concatenate([buf, y]) if buf.size else y
        ready = (buf.size - span) // hop + 1 if buf.size >= span else 0
        while ready >= block_frames:
            yield features(buf, block_frames)
            buf, ready = buf[block_frames * hop :], ready - block_frames
    # the end: the frames left (n_frames of everything read), zero-padded
    emitted = (before + n_seen - buf.size) // hop  # each frame yielded dropped hop samples from buf
    left = n_frames(n_seen, cfg) - emitted
    while left > 0:
        count = min(left, block_frames)
        need = (count - 1) * hop + span
        if buf.size < need:
            buf = np.concatenate([buf, np.zeros(need - buf.size, dtype=np.float32)])
        yield features(buf, count)
        buf, left = buf[count * hop :], left - count
