"""A recording's tuning: how far its pitches lie from the equal-tempered grid of A = 440 Hz, in cents, and
the factor that resamples it onto that grid before the features (``DecodeConfig.tuning``).

A piano tuned to A = 442-444 Hz lies 8-16 cents sharp of the grid a model learned from samples at A = 440;
the shipped piano weights, detecting the audio as it came, lost 0.16 of their note F1 at +25 cents
(docs/real-audio.md, Tuning). The offset is found from the spectral peaks of the whole recording: every peak's
frequency (:func:`spectral_peaks`: the peak picking and parabolic refinement of :func:`librosa.piptrack`) as
cents off its nearest grid note, in a circular histogram of 1-cent bins from -50 to +50 (the method of
:func:`librosa.estimate_tuning`, accumulated block by block so that memory does not grow with the file); the
offset is the histogram's smoothed mode refined by the mean around it, so it is known modulo a semitone.
A recording sharp by ``c`` cents is then read as if sampled at ``sample_rate * 2 ** (c / 1200)`` Hz
(:func:`tuning_factor`): played back at the model's rate it is ``c`` cents lower and that factor longer, and
the decoder counts its frames at the model's frame rate times the factor, so that its onsets come out in the
recording's seconds (:func:`loco_cli.detection.detect_stream`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["TuningHistogram", "estimate_tuning_cents", "spectral_peaks", "tuning_factor", "TUNING_FMIN",
           "TUNING_FMAX", "MIN_RETUNE_CENTS", "MIN_PEAK_SHARE"]

#: STFT size of the analysis, in samples at the model's rate (44.1 kHz for the piano: 93 ms; bins 10.8 Hz
#: apart, the peaks' interpolation resolves a few cents); hop: half of it.
TUNING_N_FFT = 4096
#: Spectral peaks counted: from the piano's low fundamentals to 1 kHz (a piano's upper partials and treble are
#: stretched sharp of the grid by inharmonicity, by up to tens of cents: with 2.1 kHz one in-tune Salamander piece
#: came out 10 cents sharp; docs/real-audio.md, Tuning).
TUNING_FMIN, TUNING_FMAX = 60.0, 1000.0
#: Samples analysed at a time (3 s at 44.1 kHz); a block's peaks count when their magnitude reaches the
#: median of its peaks' (as :func:`librosa.estimate_tuning` keeps them).
TUNING_BLOCK = 1 << 17
#: An offset found smaller than this (cents) is not corrected: in-tune audio goes to the model as it is.
MIN_RETUNE_CENTS = 3.0
#: The share of the counted peaks within +-10 cents of the mode below which the histogram has no clear
#: mode (noise, drums, or too little pitched sound: a uniform histogram puts 21 % there); the offset is then 0.
MIN_PEAK_SHARE = 0.3
_HALF_WINDOW = 10  # cents either side of the mode that the share and the refinement use


def spectral_peaks(mag: np.ndarray, sample_rate: int, threshold: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """The peaks of a magnitude spectrogram ``mag`` ``(n_fft // 2 + 1, frames)``: bins from
    :data:`TUNING_FMIN` to :data:`TUNING_FMAX` that are larger than the bin below, at least the bin above and
    above ``threshold`` times their frame's largest magnitude, each refined by a parabola through it and its
    neighbours. Returns their frequencies (Hz) and interpolated magnitudes, ``(peaks,)`` each: what
    :func:`librosa.piptrack` finds (the same rule, in numpy: importing librosa cost 1.3 s, ad hoc, which every
    ``loco detect`` would pay)."""
    n_fft = 2 * (mag.shape[0] - 1)
    s = np.asarray(mag, dtype=np.float64)
    avg = 0.5 * (s[2:] - s[:-2])
    curve = 2 * s[1:-1] - s[2:] - s[:-2]
    shift = avg / (curve + np.finfo(np.float64).tiny)
    bins = np.arange(1, s.shape[0] - 1)[:, None]
    freq_ok = (TUNING_FMIN <= bins * sample_rate / n_fft) & (bins * sample_rate / n_fft < TUNING_FMAX)
    high = s > threshold * s.max(axis=0, keepdims=True)
    masked = s * high
    peak = (masked[1:-1] > masked[:-2]) & (masked[1:-1] >= masked[2:]) & freq_ok
    k, t = np.nonzero(peak)
    freqs = (k + 1 + shift[k, t]) * sample_rate / n_fft
    return freqs, s[k + 1, t] + 0.5 * avg[k, t] * shift[k, t]


def _window() -> np.ndarray:
    """The analysis window: a periodic Hann window of :data:`TUNING_N_FFT` samples (librosa.stft's default)."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(TUNING_N_FFT) / TUNING_N_FFT)).astype(np.float32)


def tuning_factor(cents: float) -> float:
    """The frequency ratio of ``cents`` (``2 ** (cents / 1200)``): a recording ``cents`` sharp, read as if
    sampled this many times faster, lies on the grid; its times are that many times longer."""
    return float(2.0 ** (cents / 1200.0))


class TuningHistogram:
    """Accumulates the cents-off-the-grid histogram of mono float32 audio at ``sample_rate`` Hz, pushed in
    chunks of any length (:meth:`push`); :meth:`cents` gives the offset. Memory: one block of samples and
    100 counts, whatever the length."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = int(sample_rate)
        self.counts = np.zeros(100, dtype=np.float64)
        self._buf = np.zeros(0, dtype=np.float32)

    def push(self, chunk: np.ndarray) -> None:
        """Add the samples ``chunk`` ``(n,)``; whole blocks are analysed as they fill."""
        self._buf = np.concatenate([self._buf, np.asarray(chunk, dtype=np.float32).reshape(-1)])
        while self._buf.size >= TUNING_BLOCK:
            self._analyse(self._buf[:TUNING_BLOCK])
            # the next block starts where this one's last full frame hop left off (frames overlap by half)
            keep = TUNING_N_FFT - TUNING_N_FFT // 2
            self._buf = self._buf[TUNING_BLOCK - keep:]

    def _analyse(self, x: np.ndarray) -> None:
        if x.size < TUNING_N_FFT or not np.any(x):
            return
        frames = np.lib.stride_tricks.sliding_window_view(x, TUNING_N_FFT)[::TUNING_N_FFT // 2]
        mag = np.abs(np.fft.rfft(frames * _window(), axis=1)).T  # (bins, frames), as librosa.stft(center=False)
        freqs, mags = spectral_peaks(mag, self.sample_rate)
        if not freqs.size:
            return
        freqs = freqs[mags >= np.median(mags)]
        cents = 1200.0 * np.log2(freqs / 440.0)
        off = np.mod(cents + 50.0, 100.0)  # 0..100: -50..+50 cents off the nearest grid note
        self.counts += np.bincount(np.minimum(off.astype(np.int64), 99), minlength=100)

    def cents(self) -> float:
        """The offset from the A = 440 Hz grid in cents (positive: sharp), to 0.1 cent; 0.0 when the
        histogram has no clear mode (:data:`MIN_PEAK_SHARE`) or holds nothing. Analyses what is left of the
        last block first."""
        if self._buf.size >= TUNING_N_FFT:
            self._analyse(self._buf)
            self._buf = np.zeros(0, dtype=np.float32)
        total = self.counts.sum()
        if total <= 0:
            return 0.0
        smooth = sum(np.roll(self.counts, k) for k in range(-2, 3))  # a 5-cent circular box
        mode = int(np.argmax(smooth))
        near = (mode + np.arange(-_HALF_WINDOW, _HALF_WINDOW + 1)) % 100
        weights = self.counts[near]
        if weights.sum() / total < MIN_PEAK_SHARE:
            return 0.0
        centre = mode + np.sum(weights * np.arange(-_HALF_WINDOW, _HALF_WINDOW + 1)) / weights.sum()
        cents = centre + 0.5 - 50.0  # bin b holds -50 + b .. -49 + b cents
        return round(float(np.mod(cents + 50.0, 100.0) - 50.0), 1)


def estimate_tuning_cents(chunks: Iterable[np.ndarray], sample_rate: int) -> float:
    """The offset from the A = 440 Hz grid, in cents (positive: sharp), of the mono audio that ``chunks``
    (float32 ``(n_i,)`` at ``sample_rate`` Hz, in order) make up: :meth:`TuningHistogram.cents`."""
    hist = TuningHistogram(sample_rate)
    for chunk in chunks:
        hist.push(chunk)
    return hist.cents()
