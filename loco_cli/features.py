"""Features: log-mel spectrogram with its first time-difference as a second channel (seed 001 §6.1).

Frame convention (the only one in loco): frame ``t`` is the analysis window of ``win_length`` samples
that starts at sample ``t * hop_length``, i.e. at ``t / fps`` seconds; the signal is zero-padded at the
end so that every sample lies in some frame. :func:`frames_to_seconds` and :func:`seconds_to_frames`
are the single place where frames and seconds meet.
"""

from __future__ import annotations

import functools

import numpy as np

from loco_cli.config import FeatureConfig

__all__ = ["log_mel", "n_frames", "frames_to_seconds", "seconds_to_frames", "mel_filterbank", "mel_centers"]


def n_frames(n_samples: int, cfg: FeatureConfig) -> int:
    """Number of frames for ``n_samples`` samples: ``1 + ceil(max(n - win, 0) / hop)``."""
    return 1 + -(-max(n_samples - cfg.win_length, 0) // cfg.hop_length)


def frames_to_seconds(frames, fps: float, latency_s: float = 0.0) -> np.ndarray:
    """Times in seconds of frame indices (float frames allowed, e.g. interpolated peaks).

    ``frame / fps`` is the start of the frame's window; ``latency_s`` (a model's measured detection
    delay, see :func:`loco_cli.detect.calibrate`) is subtracted so that detections land on onsets.
    This is the only place in loco where frames become seconds.
    """
    return np.asarray(frames, dtype=np.float64) / fps - latency_s


def seconds_to_frames(seconds, fps: float) -> np.ndarray:
    """Index of the frame that starts at or before each time: ``floor(t * fps)`` (int64)."""
    return np.floor(np.asarray(seconds, dtype=np.float64) * fps + 1e-9).astype(np.int64)


@functools.lru_cache(maxsize=8)
def mel_filterbank(cfg: FeatureConfig) -> np.ndarray:
    """Triangular HTK mel filterbank ``(n_mels, n_fft // 2 + 1)`` (no area normalisation, as the authors)."""
    import librosa

    return librosa.filters.mel(
        sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax, htk=True, norm=None
    ).astype(np.float32)


@functools.lru_cache(maxsize=8)
def mel_centers(cfg: FeatureConfig) -> np.ndarray:
    """Centre frequencies (Hz) of the ``n_mels`` triangles of :func:`mel_filterbank`, ascending."""
    import librosa

    return librosa.mel_frequencies(n_mels=cfg.n_mels + 2, fmin=cfg.fmin, fmax=cfg.fmax, htk=True)[1:-1]


@functools.lru_cache(maxsize=8)
def _mel_operator(cfg: FeatureConfig):
    """The filterbank restricted to its non-zero FFT bins ``[lo, hi)``, as a sparse CSR tensor.

    Each HTK triangle covers a few bins, so the product costs ~2 multiply-adds per bin instead of
    ``n_mels``: 3x faster for the drum preset, 40x for the piano preset (384 bands)."""
    import warnings

    import torch

    fb = mel_filterbank(cfg)
    used = np.flatnonzero(fb.any(axis=0))
    lo, hi = int(used[0]), int(used[-1]) + 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        op = torch.from_numpy(np.ascontiguousarray(fb[:, lo:hi])).to_sparse_csr()
    return op, lo, hi


def log_mel(samples: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Log-mel features of mono samples at ``cfg.sample_rate``: ``(frames, channels, n_mels)`` float32.

    Steps: pre-emphasis ``x[n] - a x[n-1]``; a Hamming window of ``win_length`` samples placed at the
    *start* of each ``n_fft`` frame, every ``hop_length`` samples (so frame ``t`` starts at
    ``t / fps`` s); power spectrum; HTK mel filterbank; natural log of ``mel + log_floor``. With
    ``cfg.delta`` the second channel is the first difference over time (frame 0 gets 0), kept as its
    own channel rather than glued onto the frequency axis (prior-implementations §8.4).
    Computed in float32 with torch's FFT (203x real time on one thread for the drum preset, measured
    by ``benchmarks/bench_features.py``).
    """
    import torch

    x = torch.as_tensor(np.asarray(samples, dtype=np.float32))
    if x.dim() != 1:
        raise ValueError(f"expected mono samples (n,), got shape {tuple(x.shape)}")
    if cfg.preemphasis and x.numel() > 1:
        x = torch.cat([x[:1], x[1:] - cfg.preemphasis * x[:-1]])
    frames = n_frames(x.numel(), cfg)
    total = (frames - 1) * cfg.hop_length + cfg.n_fft
    x = torch.nn.functional.pad(x, (0, total - x.numel()))
    window = torch.zeros(cfg.n_fft)
    window[: cfg.win_length] = torch.hamming_window(cfg.win_length)
    spec = torch.stft(
        x, cfg.n_fft, cfg.hop_length, cfg.n_fft, window, center=False, return_complex=True
    )  # (freq, frames)
    op, lo, hi = _mel_operator(cfg)
    band = spec[lo:hi]
    power = band.real.square() + band.imag.square()
    mel = torch.log(op @ power + cfg.log_floor).T.contiguous()
    if not cfg.delta:
        return mel.unsqueeze(1).numpy()
    delta = torch.diff(mel, dim=0, prepend=mel[:1])
    return torch.stack([mel, delta], dim=1).numpy()
