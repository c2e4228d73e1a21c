"""Training batches from a prepared dataset: random windows, augmentation, padding and masks.

Shapes: features ``(N, T, channels, bands)`` float32 (zero-padded past each length), ``lengths``
``(N,)`` int64 frames, ``counts`` ``(N, C)`` int64, ``frame_labels`` ``(N, T, C)`` float32 (1 at the
frame of each onset, for ``ce`` / ``oss`` / ``softloc``); with a clean teacher (``TrainConfig.clean_teacher``)
also ``teacher_features`` ``(N, T, channels, bands)``, the windows before the spectral augmentations. All randomness comes from the
``np.random.Generator`` handed in, so a saved generator state resumes a run exactly.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from loco_cli.config import LOWPASS_ORDER, FeatureConfig, TrainConfig
from loco_cli.errors import DatasetError
from loco_cli.features import mel_centers, seconds_to_frames
from loco_cli.prepared import Prepared

__all__ = ["Sampler", "stretch_features", "scale_frequency", "collate"]


def stretch_features(x: np.ndarray, rate: float, out_len: int, delta_channel: int | None = 1) -> np.ndarray:
    """Time-stretch features ``(T_in, channels, bands)`` by linear interpolation: output frame ``j``
    reads input position ``j * rate``; the delta channel (``delta_channel``, the time difference of
    channel 0; ``None``: there is none) is recomputed from the stretched log-mel.
    Returns ``(out_len, channels, bands)`` float32; needs ``T_in >= (out_len - 1) * rate + 1``."""
    pos = np.arange(out_len) * rate
    i0 = np.minimum(np.floor(pos).astype(np.int64), x.shape[0] - 1)
    i1 = np.minimum(i0 + 1, x.shape[0] - 1)
    w = (pos - i0)[:, None, None].astype(np.float32)
    y = (x[i0].astype(np.float32) * (1 - w) + x[i1].astype(np.float32) * w)
    if delta_channel is not None and x.shape[1] > delta_channel:
        y[1:, delta_channel] = np.diff(y[:, 0], axis=0)
        y[0, delta_channel] = x[0, delta_channel].astype(np.float32) * rate
    return y


def scale_frequency(x: np.ndarray, centers: np.ndarray, factor: float) -> np.ndarray:
    """Move the spectral content of features ``(T, channels, bands)`` up by ``factor`` in frequency.

    What resampling the audio by ``factor`` does to the spectrum (a partial at ``f`` Hz lands at
    ``factor * f``): band ``b`` (centre ``centers[b]`` Hz) takes the value the input had at
    ``centers[b] / factor``, interpolated linearly between neighbouring bands and held at the edges.
    Linear in each channel, so a delta channel stays the time-difference of the log-mel channel.
    Returns float32 of the same shape.
    """
    pos = np.interp(centers / factor, centers, np.arange(centers.size, dtype=np.float64))
    i0 = np.floor(pos).astype(np.int64)
    i1 = np.minimum(i0 + 1, centers.size - 1)
    w = (pos - i0).astype(np.float32)
    x = np.asarray(x, dtype=np.float32)
    return x[..., i0] * (1 - w) + x[..., i1] * w


def _mix(x: np.ndarray, y: np.ndarray, log_channels: tuple[int, ...] = (0,), delta_channel: int | None = 1) -> np.ndarray:
    """Two log-power feature windows ``(T, Ch, F)`` played together: powers add (log-add-exp on each of
    ``log_channels``), the time difference of channel 0 (``delta_channel``) is recomputed."""
    x = x.copy()
    for c in log_channels:
        x[:, c] = np.logaddexp(x[:, c], y[:, c])
    if delta_channel is not None and x.shape[1] > delta_channel:
        x[1:, delta_channel] = np.diff(x[:, 0], axis=0)
    return x


def collate(items: list[tuple], n_classes: int) -> dict:
    """Pad ``(features (T_i, Ch, F), onset frames per class, counts (C,))`` items into a batch dict; items
    with a fourth element (the clean window of :meth:`Sampler.example`, ``(T_i, Ch, F)``) also give
    ``teacher_features`` ``(N, T, Ch, F)``."""
    t_max = max(it[0].shape[0] for it in items)
    ch, bands = items[0][0].shape[1:]
    feats = np.zeros((len(items), t_max, ch, bands), dtype=np.float32)
    clean = np.zeros_like(feats) if len(items[0]) > 3 else None
    labels = np.zeros((len(items), t_max, n_classes), dtype=np.float32)
    lengths = np.zeros(len(items), dtype=np.int64)
    counts = np.zeros((len(items), n_classes), dtype=np.int64)
    for i, (f, frames, c, *rest) in enumerate(items):
        feats[i, : f.shape[0]] = f
        if clean is not None:
            clean[i, : f.shape[0]] = rest[0]
        lengths[i] = f.shape[0]
        counts[i] = c
        for k, fr in enumerate(frames):
            labels[i, fr, k] = 1.0
    batch = {
        "features": torch.from_numpy(feats),
        "lengths": torch.from_numpy(lengths),
        "counts": torch.from_numpy(counts),
        "frame_labels": torch.from_numpy(labels),
    }
    if clean is not None:
        batch["teacher_features"] = torch.from_numpy(clean)
    return batch


def random_eq_db(n_bands: int, eq_db: float, rng: np.random.Generator) -> np.ndarray:
    """A random smooth equaliser curve (dB, shape ``(n_bands,)``) over mel bands.

    With ``u`` the band's position on the mel axis scaled to [-1, 1] (first band -1, last +1):
    ``a * u + b * exp(-((u - m) / w)^2 / 2)``, a tilt ``a`` and a bell of gain ``b`` (both uniform in
    ``+-eq_db``) at a uniform centre ``m`` in [-1, 1] with width ``w`` uniform in [0.1, 0.4]: the
    spectral colour of another drum, microphone, room or mix bus. Constant in time, so it leaves a
    spectral-flux (delta) channel unchanged. Draws 4 numbers from ``rng``.
    """
    u = np.linspace(-1.0, 1.0, n_bands)
    tilt, bell = rng.uniform(-eq_db, eq_db, size=2)
    m, w = rng.uniform(-1.0, 1.0), rng.uniform(0.1, 0.4)
    return (tilt * u + bell * np.exp(-0.5 * ((u - m) / w) ** 2)).astype(np.float32)


#: Lowest cutoff (Hz) of the band-limiting augmentation (``TrainConfig.lowpass_prob``).
LOWPASS_MIN_HZ = 4000.0


def random_lowpass(centres_hz: np.ndarray, rng: np.random.Generator, top_hz: float,
                   orders: tuple[float, float] = (LOWPASS_ORDER, LOWPASS_ORDER)) -> np.ndarray | None:
    """Power gains ``(n_bands,)`` of a Butterworth low-pass of order ``n``, ``1 / (1 + (f / fc)^(2 n))`` at each
    band's centre ``f``, with the cutoff ``fc`` uniform on the mel scale between :data:`LOWPASS_MIN_HZ`
    and ``top_hz`` (the features' ``fmax``): what a recording made at 22.05 kHz, an MP3 or a dull
    microphone lacks. ``n`` is ``orders[0]`` when both ends are equal (1 number drawn from ``rng``), else
    log-uniform in ``orders`` (2 numbers): an MP3 encoder's or a resampler's anti-alias filter is far steeper than
    an 8th-order one (a zero-phase 8th-order filter, as ``bench_levels.py --lowpass`` applies, is a 16th-order
    magnitude response). ``None`` when ``top_hz`` is not above the lowest cutoff."""
    if top_hz <= LOWPASS_MIN_HZ:
        return None
    lo, hi = (2595.0 * np.log10(1.0 + f / 700.0) for f in (LOWPASS_MIN_HZ, top_hz))
    cutoff = 700.0 * (10 ** (rng.uniform(lo, hi) / 2595.0) - 1.0)
    order = orders[0] if orders[0] == orders[1] else math.exp(rng.uniform(math.log(orders[0]), math.log(orders[1])))
    return (1.0 / (1.0 + (np.asarray(centres_hz, dtype=np.float64) / cutoff) ** (2 * order))).astype(np.float32)


#: Tones per band that :func:`leakage_kernels` measures the analysis window's leakage with.
LEAKAGE_TONES = 4


@functools.lru_cache(maxsize=4)
def leakage_kernels(cfg: FeatureConfig) -> np.ndarray:
    """The analysis window's spectral leakage between mel bands, per log-mel channel: ``(n_log_channels, F, F)``
    float64, ``K[c, b, j]`` the power that band ``b`` of channel ``c`` shows per unit of power in band ``j``
    (``K[c, j, j] = 1``). Measured through :func:`loco_cli.features.log_mel` itself: tones at
    :data:`LEAKAGE_TONES` frequencies spread over each band's half-way points to its neighbours (fixed phases),
    their band powers averaged. A Hamming window's far sidelobes fall only 6 dB per octave, so after a steep
    low-pass the cut bands of real audio hold the leakage of the loud bands below the cutoff, tens of dB above
    the log floor (docs/real-audio.md, Bandwidth); :func:`apply_lowpass` puts it there."""
    from loco_cli.features import _mel_points, log_mel

    pts = _mel_points(cfg)
    n_bands = cfg.n_mels
    rng = np.random.default_rng(0)
    t = np.arange(int(0.2 * cfg.sample_rate)) / cfg.sample_rate
    skip = max(2, math.ceil(max(cfg.win_length, cfg.long_win_length) / cfg.hop_length))
    out = np.zeros((len(cfg.log_channels), n_bands, n_bands))
    for j in range(n_bands):
        lo, hi = (pts[j] + pts[j + 1]) / 2, (pts[j + 1] + pts[j + 2]) / 2
        for freq in np.linspace(lo, hi, LEAKAGE_TONES + 2)[1:-1]:
            tone = np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi)).astype(np.float32)
            feats = log_mel(tone, cfg)[skip:-skip].astype(np.float64)
            for k, c in enumerate(cfg.log_channels):
                power = np.maximum(np.exp(feats[:, c]) - cfg.log_floor, 0.0).mean(axis=0)
                out[k, :, j] += power / power.sum()
        for k in range(len(cfg.log_channels)):
            out[k, :, j] /= out[k, j, j]
    out.setflags(write=False)  # cached: shared by every caller
    return out


def apply_lowpass(x: np.ndarray, power_gain: np.ndarray, kernels: np.ndarray, log_channels: tuple[int, ...],
                  delta_channel: int | None, floor: float) -> np.ndarray:
    """Feature window ``(T, Ch, F)`` of the audio low-passed with per-band power gains ``(F,)``, the analysis
    window's leakage included: each log channel's power ``P`` becomes ``g P + (1 - g) (K - I)(g P)`` (``K``: that
    channel's :func:`leakage_kernels`; what the kept bands leak into the bands the filter cut, where ``P`` itself
    held it before only for bands that were kept), then the log again and the delta taken again. Without the leakage
    term this is :func:`apply_power_gain`."""
    x = np.array(x, dtype=np.float32)
    g = power_gain.astype(np.float64)
    for k, c in enumerate(log_channels):
        kept = g * np.maximum(np.exp(x[:, c].astype(np.float64)) - floor, 0.0)
        leak = kept @ (kernels[k] - np.eye(g.size)).T
        x[:, c] = np.log(kept + (1.0 - g) * leak + floor)
    if delta_channel is not None and x.shape[0] > 1:
        x[1:, delta_channel] = np.diff(x[:, 0], axis=0)
    return x


#: Widest run of bands the band-stop augmentation cuts (``TrainConfig.bandstop_prob``), as a fraction of the bands.
BANDSTOP_MAX_FRACTION = 0.2


def random_bandstop(n_bands: int, rng: np.random.Generator) -> np.ndarray:
    """Power gains ``(n_bands,)``: 0 over a run of ``w`` neighbouring bands, ``w`` uniform in 1 ..
    :data:`BANDSTOP_MAX_FRACTION` of the bands, at a uniform position; 1 elsewhere. Applied with
    :func:`apply_power_gain` it is SpecAugment's frequency mask made a band-stop filter: the cut bands fall
    to the log floor (not to a mean), every feature channel alike, the delta taken again. Draws 2 numbers."""
    width = int(rng.integers(1, max(1, round(BANDSTOP_MAX_FRACTION * n_bands)) + 1))
    start = int(rng.integers(0, n_bands - width + 1))
    gain = np.ones(n_bands, dtype=np.float32)
    gain[start : start + width] = 0.0
    return gain


def apply_power_gain(x: np.ndarray, power_gain: np.ndarray, log_channels: tuple[int, ...], delta_channel: int | None,
                     floor: float) -> np.ndarray:
    """Feature window ``(T, Ch, F)`` of the audio filtered with per-band power gains ``(F,)``: each log-mel
    value ``ln(P + floor)`` becomes ``ln(gain * P + floor)`` (bands cut to nothing fall to the floor, as
    in a band-limited recording), the time difference of channel 0 taken again (frame 0 keeps its own)."""
    x = np.array(x, dtype=np.float32)
    f = np.float32(floor)
    for c in log_channels:
        x[:, c] = np.log(power_gain * np.maximum(np.exp(x[:, c]) - f, 0.0) + f)
    if delta_channel is not None and x.shape[0] > 1:
        x[1:, delta_channel] = np.diff(x[:, 0], axis=0)
    return x


def with_gain(feats: np.ndarray, gain: float, f: FeatureConfig) -> np.ndarray:
    """Features ``(T, channels, bands)`` (front-end ``f``) as the audio times ``gain`` would give them: each
    log-mel value ``x = ln(P + floor)`` becomes ``ln(gain^2 P + floor)`` (exact: silence stays at the floor),
    the time difference taken again (:func:`apply_power_gain`). What the level normalisation
    (``DecodeConfig.level_dbfs``) does to prepared features, in evaluation and in training alike."""
    if gain == 1.0:
        return feats
    return apply_power_gain(feats, np.float32(gain * gain), f.log_channels, f.delta_channel, f.log_floor)


class Sampler:
    """Draws training batches from the snippets of one split of a :class:`Prepared` dataset; with
    ``level_dbfs`` each track's windows are first moved to that input level, exactly as detection's level
    normalisation moves a file (:func:`loco_cli.detection.level_gain` of the track's level,
    :meth:`Prepared.level`; ``TrainConfig.train_at_level``)."""

    def __init__(self, data: Prepared, cfg: TrainConfig, rng: np.random.Generator, split: str = "train",
                 level_dbfs: float | None = None) -> None:
        self.data, self.cfg, self.rng = data, cfg, rng
        self.level_dbfs = level_dbfs
        self._gains: dict[str, float] = {}
        self.rows = [r for r in data.snippets if r["split"] == split]
        if not self.rows:
            raise DatasetError(f"{data.root}: no {split} snippets; prepare it again with tracks in that split")
        self.fps = data.features.fps
        self._centers = mel_centers(data.features)
        self._feats: dict[str, np.ndarray] = {}
        # training targets in track frames: each onset's, moved later by the label delay (TrainConfig.label_delay_s)
        self._frames = {
            name: [seconds_to_frames(np.asarray(t, dtype=np.float64) + cfg.label_delay_s, self.fps) for t in per]
            for name, per in data.train_events.items()
        }

    def _features(self, name: str) -> np.ndarray:
        if name not in self._feats:
            self._feats[name] = self.data.feature_array(name)
        return self._feats[name]

    def _at_level(self, x: np.ndarray, name: str) -> np.ndarray:
        """Feature window ``(T, Ch, F)`` of track ``name`` as at the input level (unchanged without one)."""
        if self.level_dbfs is None:
            return x
        if name not in self._gains:
            from loco_cli.detection import level_gain

            self._gains[name] = level_gain(self.data.level(name), self.level_dbfs)
        return with_gain(x, self._gains[name], self.data.features)

    def _window(self, out_len: int | None = None) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
        cfg, rng = self.cfg, self.rng
        row = self.rows[int(rng.integers(len(self.rows)))]
        feats = self._features(row["track"])
        if not self.data.has_timestamps:  # counts only: the clip exactly as labelled
            s, n = row["start_frame"], row["n_frames"]
            return self._at_level(np.asarray(feats[s : s + n], dtype=np.float32), row["track"]), [], row["counts"]
        nominal = row["n_frames"]
        if out_len is None:
            shortest = max(2, math.ceil(cfg.min_length_fraction * nominal))
            if cfg.length_dist == "log":  # log-uniform: as many windows in [a, 2a] as in [L/2, L]
                out_len = min(int(math.exp(rng.uniform(math.log(shortest), math.log(nominal + 1)))), nominal)
            else:
                out_len = int(rng.integers(shortest, nominal + 1))
        rate = float(rng.uniform(1 - cfg.stretch, 1 + cfg.stretch)) if cfg.stretch > 0 else 1.0
        # sample-rate scaling: time read `scale` times faster, spectrum moved up by `scale`
        scale = float(rng.uniform(1 - cfg.rate_scale, 1 + cfg.rate_scale)) if cfg.rate_scale > 0 else 1.0
        rate *= scale
        total = feats.shape[0]
        need = min(math.ceil((out_len - 1) * rate) + 1, total)
        out_len = min(out_len, int((need - 1) / rate) + 1)
        shift = int(rng.integers(-(nominal // 2), nominal // 2 + 1))
        start = int(np.clip(row["start_frame"] + shift, 0, total - need))
        x = self._at_level(np.asarray(feats[start : start + need]), row["track"])
        if scale != 1.0:
            x = scale_frequency(x, self._centers, scale)
        x = stretch_features(x, rate, out_len, self.data.features.delta_channel) if rate != 1.0 else x[:out_len].astype(np.float32)
        frames = []
        for fr in self._frames[row["track"]]:
            inside = fr[(fr >= start) & (fr < start + need)]
            new = np.unique(np.floor((inside - start) / rate + 1e-9).astype(np.int64))
            frames.append(new[new < out_len])
        counts = np.array([f.size for f in frames], dtype=np.int64)
        return x, frames, counts

    def example(self, keep_clean: bool = False) -> tuple:
        """One augmented example ``(features (T, Ch, F), onset frames per class, counts (C,))``; with
        ``keep_clean`` a fourth item, the same window before the level and spectral augmentations (gain, EQ, low-pass,
        band-stop; ``TrainConfig.clean_teacher``), ``(T, Ch, F)``. The random draws are the same either way."""
        x, frames, counts = self._window()
        cfg, rng, f = self.cfg, self.rng, self.data.features
        if cfg.stack_prob > 0 and rng.random() < cfg.stack_prob:
            if self.data.has_timestamps:
                y, frames2, _ = self._window(out_len=x.shape[0])
                n = min(x.shape[0], y.shape[0])
                frames = [np.union1d(a[a < n], b[b < n]) for a, b in zip(frames, frames2, strict=True)]
                counts = np.array([f.size for f in frames], dtype=np.int64)
                x = _mix(x[:n], y[:n], f.log_channels, f.delta_channel)
            else:  # counts only: two whole clips of the same length (to 2 frames), their counts added
                y, _, counts2 = self._window()
                n = min(x.shape[0], y.shape[0])
                if max(x.shape[0], y.shape[0]) - n <= 2:
                    x, counts = _mix(x[:n], y[:n], f.log_channels, f.delta_channel), counts + counts2
        clean = np.array(x, dtype=np.float32) if keep_clean else None
        if cfg.gain_db > 0:
            x = x.copy()
            gain = np.float32(math.log(10.0) / 10.0 * rng.uniform(-cfg.gain_db, cfg.gain_db))
            for c in f.log_channels:
                x[:, c] += gain
        if cfg.eq_db > 0:
            x = x.copy() if cfg.gain_db <= 0 else x  # the gain step above already copied it
            curve = np.float32(math.log(10.0) / 10.0) * random_eq_db(x.shape[-1], cfg.eq_db, rng)
            for c in f.log_channels:
                x[:, c] += curve
        if cfg.lowpass_prob > 0 and rng.random() < cfg.lowpass_prob:
            gain = random_lowpass(self._centers, rng, f.fmax, cfg.lowpass_orders)
            if gain is not None and cfg.lowpass_leakage:
                x = apply_lowpass(x, gain, leakage_kernels(f), f.log_channels, f.delta_channel, f.log_floor)
            elif gain is not None:
                x = apply_power_gain(x, gain, f.log_channels, f.delta_channel, f.log_floor)
        if cfg.bandstop_prob > 0 and rng.random() < cfg.bandstop_prob:
            x = apply_power_gain(x, random_bandstop(x.shape[-1], rng), f.log_channels, f.delta_channel, f.log_floor)
        if cfg.count_noise > 0:  # noisy count labels: each class's count moved by +-1 with this probability
            moved = rng.random(counts.size) < cfg.count_noise
            counts = np.maximum(counts + moved * rng.choice(np.array([-1, 1]), counts.size), 0)
        return (x, frames, counts, clean) if keep_clean else (x, frames, counts)

    def batch(self, keep_clean: bool = False) -> dict:
        """A padded batch of ``cfg.batch_size`` examples (see the module docstring for shapes); with
        ``keep_clean`` also ``teacher_features``, the windows before the spectral augmentations."""
        return collate([self.example(keep_clean) for _ in range(self.cfg.batch_size)], len(self.data.classes))
