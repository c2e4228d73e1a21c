"""Every default of loco, in one place, as frozen dataclasses.

The CLI reads its option defaults from here; checkpoints store these configs as plain dicts
(``to_dict``) and rebuild them with ``from_dict``, so a model file describes itself. Units are in the
field names or docstrings: seconds at the edges, frames inside, Hz for frequencies.

Presets follow the papers (LoCo [1] §6.1, §7.1; `the authors' code [5]` §1-§4):
a drum preset near the paper's ~18k parameters and a piano preset.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from loco_cli.errors import ConfigError

#: Initial probability mass on ``Y = 0`` (LoCo [1] eq. 15, ``w = 0.8`` in LoCo).
INIT_MASS_AT_ZERO = 0.8
#: Onset-matching tolerance of the evaluation, seconds (mir_eval / Wu et al. 2018).
EVAL_WINDOW_S = 0.05
#: Largest ``TrainConfig.label_delay_s``: well inside the latency that calibration searches (0.25 s).
MAX_LABEL_DELAY_S = 0.1
#: Butterworth order of the band-limiting augmentation (``TrainConfig.lowpass_orders``; :func:`loco_cli.data.random_lowpass`)
#: unless a recipe draws it from a range.
LOWPASS_ORDER = 8.0
#: Drum classes.
DRUM_CLASSES = ("KD", "SD", "HH")
#: The General MIDI drum map (channel 10), the one source of loco's drum notes: the synthesized
#: instruments' notes (kick, snare, closed / open hi-hat, toms, crash, ride, cowbell) ...
GM_DRUM_NOTES = {"KD": 36, "SD": 38, "CHH": 42, "OHH": 46, "LT": 45, "MT": 47, "CR": 49, "RC": 51, "CB": 56}
#: ... the note each class is written as (kick 36, snare 38, closed hi-hat 42) ...
DRUM_GM_NOTES = {"KD": GM_DRUM_NOTES["KD"], "SD": GM_DRUM_NOTES["SD"], "HH": GM_DRUM_NOTES["CHH"]}
#: ... and the notes read as each class (acoustic / bass drum 1, acoustic / electric snare, closed /
#: pedal / open hi-hat).
GM_NOTE_CLASSES = {35: "KD", 36: "KD", 38: "SD", 40: "SD", 42: "HH", 44: "HH", 46: "HH"}
#: ``loco train`` writes TensorBoard events into the run folder when the package is installed.
TENSORBOARD = True
#: ``loco train --init`` values besides a model: ``auto`` starts from the shipped model of the dataset's
#: preset on a small set where it fits (:func:`loco_cli.train.auto_init`), ``none`` from random weights;
#: ``auto`` is the default of ``loco train``, ``loco crossval`` and their Python functions.
INIT_AUTO, INIT_NONE = "auto", "none"
DEFAULT_INIT = INIT_AUTO
#: Training audio (seconds) under which ``init="auto"`` (:func:`loco_cli.train.auto_init`, the default of ``loco train``
#: and ``loco crossval``) starts from the shipped model: on 16 tracks of unheard kits (about 4.5 minutes
#: per training fold, 1400 steps) counts from random weights scored 0.62 and fine-tuned from the shipped
#: drum model 0.88 (onset times: 0.86 and 0.90; benchmarks/results/smallset.json). ``make demo``'s
#: 10 minutes of the built-in synthesizer (a corpus the shipped model is not tuned for) stay above.
SMALL_SET_SECONDS = 480.0
#: Piano MIDI range (A0..C8).
PIANO_LOW, PIANO_HIGH = 21, 108

T = TypeVar("T")


class _Config:
    """Mixin: dict round trip and a stable content hash for frozen dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        """Rebuild from :meth:`to_dict` output; unknown keys raise, missing keys take defaults."""
        names = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
        unknown = set(data) - set(names)
        if unknown:
            raise ConfigError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
        kwargs = {}
        for key, value in data.items():
            default = names[key].default
            if isinstance(value, list) and (isinstance(default, tuple) or default is dataclasses.MISSING):
                value = tuple(value)
            kwargs[key] = value
        return cls(**kwargs)  # type: ignore[call-arg]

    def replace(self: T, **changes: Any) -> T:
        """Return a copy with ``changes`` applied (validation runs again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def with_overrides(self: T, text: str) -> T:
        """A copy with ``"field=value,field=value"`` applied (e.g. ``"long_win_length=0,fmax=16000"``);
        values are cast to the type of each field's current value. Unknown fields and values that do not
        parse raise :class:`ConfigError` naming them."""
        changes: dict[str, Any] = {}
        names = {f.name for f in fields(self)}  # type: ignore[arg-type]
        for item in filter(None, (part.strip() for part in text.split(","))):
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep or key not in names:
                raise ConfigError(f"{item!r}: expected field=value with a field of {type(self).__name__} "
                                  f"({', '.join(sorted(names))})")
            current = getattr(self, key)
            try:
                if isinstance(current, bool):
                    if value.strip().lower() not in ("true", "false", "1", "0"):
                        raise ValueError(value)
                    changes[key] = value.strip().lower() in ("true", "1")
                else:
                    changes[key] = type(current)(value.strip())
            except ValueError:
                raise ConfigError(f"{item!r}: {value.strip()!r} is not a {type(current).__name__}") from None
        return self.replace(**changes)

    def digest(self) -> str:
        """Stable 16-hex-digit hash of the content, used as a cache key."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class FeatureConfig(_Config):
    """Log-mel spectrogram with its first time-difference as a second channel (LoCo [1] §6.1).

    Defaults follow the authors: 44.1 kHz mono, pre-emphasis 0.97, 25 ms Hamming window, 220-sample
    hop (200.45 frames per second), triangular HTK mel bank.
    """

    sample_rate: int = 44100
    win_length: int = 1102  # samples: 25 ms at 44.1 kHz
    hop_length: int = 220  # samples: ~5 ms at 44.1 kHz
    n_fft: int = 2048
    n_mels: int = 72
    fmin: float = 30.0  # Hz
    fmax: float = 17000.0  # Hz
    preemphasis: float = 0.97
    log_floor: float = 1e-8  # added to mel power before the log
    delta: bool = True  # add the first time-difference as a second channel
    #: > 0: one more log-mel channel, from a ``long_win_length``-sample window centred where the
    #: ``win_length`` window is centred (a multi-resolution front-end: the long window separates
    #: low piano keys a semitone apart, the short one keeps the timing). 0: none.
    long_win_length: int = 0

    def __post_init__(self) -> None:
        if self.sample_rate <= 0 or self.hop_length <= 0 or self.win_length <= 0:
            raise ConfigError("sample_rate, hop_length and win_length must be positive")
        if self.long_win_length and not self.win_length < self.long_win_length <= self.n_fft:
            raise ConfigError(f"long_win_length ({self.long_win_length}) must be 0 or between win_length "
                              f"({self.win_length}) and n_fft ({self.n_fft})")
        if self.win_length > self.n_fft:
            raise ConfigError(f"win_length ({self.win_length}) must not exceed n_fft ({self.n_fft})")
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise ConfigError(f"need 0 <= fmin < fmax <= sample_rate/2, got {self.fmin}, {self.fmax}")
        if self.n_mels < 1:
            raise ConfigError("n_mels must be positive")

    @property
    def fps(self) -> float:
        """Frames per second (``sample_rate / hop_length``)."""
        return self.sample_rate / self.hop_length

    @property
    def n_channels(self) -> int:
        """Feature channels: the log-mel, its time difference (with ``delta``), the long-window
        log-mel (with ``long_win_length``), in that order."""
        return 1 + int(self.delta) + int(self.long_win_length > 0)

    @property
    def log_channels(self) -> tuple[int, ...]:
        """Indices of the log-power channels (the log-mel, and the long-window log-mel when present):
        the ones a gain adds to and two mixed signals log-add in."""
        return (0, self.n_channels - 1) if self.long_win_length else (0,)

    @property
    def delta_channel(self) -> int | None:
        """Index of the time-difference channel of channel 0, or ``None`` without ``delta``."""
        return 1 if self.delta else None

    def to_dict(self) -> dict[str, Any]:
        """As :meth:`_Config.to_dict`, without ``long_win_length`` when it is 0, so that configs (and
        the feature-cache digests and model files) from before the field existed stay the same."""
        d = super().to_dict()
        if not d["long_win_length"]:
            del d["long_win_length"]
        return d


#: Piano features: 384 mel bands up to ~7.3 kHz with a long FFT (the authors' code [5]), a 46 ms
#: window (2048 samples) instead of the authors' 25 ms (a 25 ms Hamming window cannot separate partials
#: a semitone apart below ~1.3 kHz; one window alone: note F1 0.59 / 0.81 / 0.75 / 0.60 for 25 / 46 / 93
#: / 186 ms on held-out synthetic piano), and a second log-mel channel from a 186 ms window (8192
#: samples) centred on the same point, which separates the bass keys: held-out Salamander piano note F1
#: 0.631 -> 0.722 with the same network and training; at 100 frames per second (hop 440) instead of
#: 200: 0.728, and detection runs twice as fast (docs/method.md). The same windows at 22.05 kHz (half
#: the FFT length; the bands stop at 7.27 kHz) scored 0.746 in one build against 0.768 / 0.776 at 44.1 kHz
#: and detected no faster on two threads, so the rate stays (``piano_libraries.json``, ``keys29k_22k``).
PIANO_FEATURES = FeatureConfig(n_fft=8192, win_length=2048, hop_length=440, n_mels=384, fmin=27.5, fmax=7270.0,
                               long_win_length=8192)
DRUM_FEATURES = FeatureConfig()


@dataclass(frozen=True)
class SnippetConfig(_Config):
    """How tracks are cut into count-labelled snippets.

    An onset at time ``t`` belongs to the snippet ``[start, start + length_s)`` when
    ``start <= t < start + length_s``; onsets of one class that fall into the same frame collapse
    into one event (as in the authors' code), and the index records how many collapsed.
    """

    length_s: float = 1.5
    hop_s: float = 1.5

    def __post_init__(self) -> None:
        if self.length_s <= 0 or self.hop_s <= 0:
            raise ConfigError("snippet length and hop must be positive")


ARCHS = ("crnn", "fcn", "keys")
#: The most networks one model file may combine (:class:`loco_cli.networks.Ensemble`).
MAX_ENSEMBLE_MEMBERS = 16


@dataclass(frozen=True)
class ModelConfig(_Config):
    """A network, built by :func:`loco_cli.networks.build_model`.

    ``arch='crnn'``: conv2d stack (kernel 3 time x 4 frequency, ReLU, max-pooling on frequency only,
    causal in time), a unidirectional LSTM or GRU, an FC layer and one logit per class.
    ``arch='fcn'``: fully-convolutional network with an adaptive Gaussian accumulation layer (Liu [2]).
    ``arch='keys'``: one small causal temporal-conv network shared by every piano key, reading the
    spectrogram at the key's partials (``key_ratios`` x f0); classes must be MIDI pitches.
    """

    arch: str = "crnn"
    n_classes: int = 3
    n_bands: int = 72
    in_channels: int = 2
    conv_filters: tuple[int, ...] = (8, 16, 16, 16, 16, 16)
    freq_pools: tuple[int, ...] = (2, 2, 2, 3, 3, 1)
    kernel_time: int = 3
    kernel_freq: int = 4
    rnn: str = "lstm"
    rnn_hidden: int = 24
    fc_hidden: int = 16
    init_frames: int = 300  # T used for the eq. 15 output bias
    init_mass_at_zero: float = INIT_MASS_AT_ZERO
    # FCN only (Liu [2] ch. 3)
    fcn_channels: int = 64
    fcn_early_layers: int = 2
    fcn_late_channels: int = 128
    fcn_sigma_init: float = 4.0  # frames
    fcn_scales: int = 1
    # keys only: partials read per key (multiples of f0; 0.5 and the semitone neighbours let the
    # network tell a note from the partial of a note an octave below or a key next to it), channels
    # and dilations of the causal temporal convolutions (kernel ``kernel_time``), hidden units of the head
    key_ratios: tuple[float, ...] = (0.5, 0.9439, 1.0, 1.0595, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0)
    key_channels: int = 32
    key_dilations: tuple[int, ...] = (1, 2, 4, 8)
    # keys only (other archs ignore them): every key also reads the frame's broadband context, the same for
    # all keys: per feature channel and per region of ``key_context_regions`` consecutive groups of bands (as
    # equal as they divide), the mean over the region's bands and the mean of their rise since the frame before
    key_context: bool = False
    key_context_regions: int = 1
    # keys only: > 0 adds a layer across keys after the temporal convolutions: each key's hidden features,
    # squeezed to ``key_mix`` channels, are convolved over the neighbouring keys (``key_mix_span`` semitones
    # each side, the same weights for every key) and added back, so that a key hears what the keys around
    # it (an octave below, a fifth above) are doing in the same frame; the classes must be consecutive keys
    key_mix: int = 0
    key_mix_span: int = 12
    # keys only: the output layer's weights start at zero instead of Xavier-uniform, so every seed starts from
    # the eq. 15 bias prior alone and the per-frame logits of the first steps do not depend on the draw of the
    # last layer (a pilot: a seed whose Xavier start trained badly trained as the good ones, docs/real-audio.md)
    key_out_zero: bool = False
    # > 1: an ensemble (:class:`loco_cli.networks.Ensemble`) of this many networks of the config above, trained
    # apart (seeds) and combined by ``loco ensemble``; its activations are the mean of the members' probabilities
    members: int = 1

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ConfigError(f"arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        if self.arch == "keys" and (not self.key_ratios or min(self.key_ratios) <= 0 or not self.key_dilations
                                    or min(self.key_dilations) < 1 or self.key_channels < 1):
            raise ConfigError("keys: need positive key_ratios, key_dilations >= 1 and key_channels >= 1")
        if self.key_mix < 0 or self.key_mix_span < 1:
            raise ConfigError("key_mix must be >= 0 (0: off) and key_mix_span >= 1")
        if not 1 <= self.key_context_regions <= self.n_bands:
            raise ConfigError(f"key_context_regions must lie in 1..n_bands ({self.n_bands})")
        if self.rnn not in ("lstm", "gru"):
            raise ConfigError(f"rnn must be 'lstm' or 'gru', got {self.rnn!r}")
        if len(self.conv_filters) != len(self.freq_pools):
            raise ConfigError("conv_filters and freq_pools must have the same length")
        if self.n_classes < 1 or self.n_bands < 1:
            raise ConfigError("n_classes and n_bands must be positive")
        if not 1 <= self.members <= MAX_ENSEMBLE_MEMBERS:
            raise ConfigError(f"members must lie in 1..{MAX_ENSEMBLE_MEMBERS}, got {self.members}")

    def to_dict(self) -> dict[str, Any]:
        """As :meth:`_Config.to_dict`, without ``key_context`` and ``key_out_zero`` when they are off, ``members`` when 1,
        ``key_context_regions`` when it is 1 and the ``key_mix`` fields when it is 0 (model files from before the
        fields existed stay the same)."""
        d = super().to_dict()
        if not d["key_mix"]:
            del d["key_mix"], d["key_mix_span"]
        if not d["key_context"]:
            del d["key_context"]
        if d["key_context_regions"] == 1:
            del d["key_context_regions"]
        if not d["key_out_zero"]:
            del d["key_out_zero"]
        if d["members"] == 1:
            del d["members"]
        return d


DRUM_MODEL = ModelConfig()
#: Piano: one causal network shared by the 88 keys (:class:`loco_cli.networks.KeyNet`), ~21k parameters.
#: A 29k one (``benchmarks/recipes/piano_m.toml``) trained more evenly over two seeds (held-out Salamander
#: note F1 0.768 / 0.776 against 0.770 / 0.680) but detects a third slower (75-85x against 118-131x real
#: time on two threads in two runs of bench_detect.py then, under the 100x goal),
#: and its seed chosen by validation scores 0.768 against the shipped 13k model's 0.765 (docs/benchmarks.md, Held-out piano).
#: Every key also reads the frame's broadband context (``key_context``: each feature channel's band mean and
#: spectral flux): on the shipped build's pieces, five runs against three without it, held-out Salamander note
#: F1 0.773-0.817 against 0.752-0.775, composed music 0.681-0.698 against 0.647-0.674, for 576 more parameters
#: and the same speed (``piano_libraries.json``; docs/real-audio.md; the recipes from before it set it off).
#: And a layer across keys (``key_mix``: each key hears its neighbours up to an octave either side in the same
#: frame): 8 channels wide (2160 more parameters), four runs on the same pieces (two pilots, a build's two seeds)
#: beat every run without it on all four held-out sets, note F1 0.851-0.878 on Salamander and 0.735-0.757 on its
#: composed pieces; 16 wide (7488 more, 21305 in all; the shipped model), its four runs 0.850-0.885 and 0.729-0.771
#: (``piano_libraries.json``; docs/real-audio.md). With the rows laid out for the CPU's kernels
#: (:class:`loco_cli.networks.KeyNet`) the 16-wide model detects at 95x / 133x real time on one / two threads,
#: the 8-wide one at 99x / 148x in the same run (detect.json).
#: The output layer starts at zero (``key_out_zero``): on the shipped build's data and recipe, four seeds each
#: (``piano_libraries.json``, docs/real-audio.md), note F1 on held-out Salamander 0.840-0.872 against Xavier's
#: 0.749-0.862 and on its composed pieces 0.787-0.831 against 0.675-0.816 (the recipes from before it set it off).
PIANO_MODEL = ModelConfig(arch="keys", n_classes=PIANO_HIGH - PIANO_LOW + 1, n_bands=384, key_context=True, key_mix=16,
                          key_out_zero=True)
#: The paper's piano CRNN: 9 conv layers (16..64 filters), LSTM 128, FC 96 (the authors' code [5]);
#: LoCo trained it per band of 10 keys. Select it with ``arch = "crnn"`` and these fields in a recipe.
PAPER_PIANO_MODEL = ModelConfig(
    n_classes=PIANO_HIGH - PIANO_LOW + 1,
    n_bands=384,
    conv_filters=(16, 16, 32, 32, 64, 64, 64, 64, 64),
    freq_pools=(3, 2, 2, 2, 2, 2, 2, 2, 1),
    rnn_hidden=128,
    fc_hidden=96,
)


@dataclass(frozen=True)
class LossConfig(_Config):
    """Training objective (see :mod:`loco_cli.losses`).

    ``name``: ``loco`` (count NLL, LoCo [1] eq. 7), ``softloc`` (SoftLoc [3] eq. 5), ``oss`` (one-sided
    smoothing), ``ce`` (framewise BCE) or ``mil`` (clip-level presence, Liu [2]).
    """

    name: str = "loco"
    k_max: int = 31  # count bins; the last one absorbs counts >= k_max - 1 (eq. 14)
    sigma_frames: float = 20.0  # SoftLoc / oss Gaussian width s_M: 20 frames = 100 ms at 200 fps
    alpha_start: float = 3e4  # SoftLoc schedule: a = max(min((step - t0) / t1, a_max), a_min)
    alpha_ramp: float = 1e5
    alpha_min: float = 0.2
    alpha_max: float = 0.9
    mil_pooling: str = "max"  # 'max' or 'mean'
    teacher_weight: float = 1.0  # SeCoST: weight a of the original label (1 = no teacher)
    peak_weight: float = 0.0  # loco: weight of the count-variance term sum_t p_t (1 - p_t) (sharp peaks)
    onset_weight: float = 0.0  # loco: weight of the onset prior, mass off spectral-flux peaks (losses.onset_mask)
    onset_after_frames: int = 6  # the onset prior's mask reaches this many frames past each flux peak
    onset_threshold: float = 0.1  # flux peaks count above this fraction of the window's largest flux
    assign_weight: float = 0.0  # loco: weight of framewise BCE on the counts' most probable placement (hard EM)

    def __post_init__(self) -> None:
        if self.name not in LOSS_NAMES:
            raise ConfigError(f"loss must be one of {', '.join(LOSS_NAMES)}; got {self.name!r}")
        if self.k_max < 2:
            raise ConfigError("k_max must be at least 2")
        if self.sigma_frames <= 0:
            raise ConfigError("sigma_frames must be positive")
        if not 0 <= self.alpha_min <= self.alpha_max <= 1:
            raise ConfigError("need 0 <= alpha_min <= alpha_max <= 1")
        if self.alpha_ramp <= 0:
            raise ConfigError("alpha_ramp must be positive")
        if self.mil_pooling not in ("max", "mean"):
            raise ConfigError("mil_pooling must be 'max' or 'mean'")
        if not 0 <= self.teacher_weight <= 1:
            raise ConfigError("teacher_weight must lie in [0, 1]")
        if self.peak_weight < 0:
            raise ConfigError("peak_weight must be >= 0")
        if self.assign_weight < 0:
            raise ConfigError("assign_weight must be >= 0")
        if self.onset_weight < 0 or self.onset_after_frames < 0 or not 0 <= self.onset_threshold < 1:
            raise ConfigError("need onset_weight >= 0, onset_after_frames >= 0 and 0 <= onset_threshold < 1")


LOSS_NAMES = ("loco", "softloc", "oss", "ce", "mil")
#: The losses a teacher (``loco train --teacher``) mixes into: ``loco`` its count distribution (SeCoST), ``ce``
#: its frame probabilities (distillation, :func:`loco_cli.losses.teacher_mixed_frames`).
TEACHER_LOSSES = ("loco", "ce")


@dataclass(frozen=True)
class Preset:
    """A named bundle of defaults for one task."""

    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)


PRESETS = {
    "drums": Preset(DRUM_FEATURES, DRUM_MODEL, LossConfig(k_max=31)),
    "piano": Preset(PIANO_FEATURES, PIANO_MODEL, LossConfig(k_max=42)),
}


@dataclass(frozen=True)
class TrainConfig(_Config):
    """Optimisation, batching and augmentation of ``loco train`` (the authors' code [5]).

    Each training example is a window of a training track: a random snippet of the index, moved by up
    to half its length, ``min_length_fraction``..1 of its length long (varying lengths keep a causal
    count model from deferring its detections, LoCo [1] §5), time-stretched by a factor in
    ``1 +- stretch``, sample-rate scaled by a factor in ``1 +- rate_scale`` (time and spectrum
    together, as resampling the audio would: 0.125 gives the authors' 7/8..9/8 for drums,
    the authors' code [5]) and gain-shifted by up to ``gain_db``; ``eq_db`` > 0 adds a random smooth
    equaliser curve to the log-mel channels (a spectral tilt plus one bell, each up to ``+-eq_db`` dB:
    the timbre of another kit, microphone or room; see :func:`loco_cli.data.random_eq_db`); with
    probability ``lowpass_prob`` the window is band-limited at a random cutoff (a recording at 22.05 kHz,
    an MP3, a dull microphone; :func:`loco_cli.data.random_lowpass`) by a Butterworth response whose order is
    drawn log-uniformly from ``lowpass_orders`` (8 by default; MP3 encoders and resamplers cut far more
    steeply, docs/real-audio.md, Bandwidth), and with ``lowpass_leakage`` the bands it cuts keep what the
    analysis window leaks into them from the bands below the cutoff, as in features of band-limited audio
    (:func:`loco_cli.data.apply_lowpass`; off, they fall towards the log floor); with probability ``bandstop_prob`` a
    random run of up to a fifth of the bands is cut to the floor (a frequency mask as SpecAugment's, made a
    band-stop filter: :func:`loco_cli.data.random_bandstop`), so no class is told by one region alone; with
    ``stack_prob`` a second window is mixed in ("extract stacking") and the labels are united. ``count_noise`` moves each window's count
    of each class by +-1 with that probability (clipped at 0), leaving the frame labels alone: noisy
    count labels for the SeCoST study (SeCoST [4]). Counts-only datasets train on their
    fixed clips: gain, and stacking of two clips of the same length (their counts added).
    ``length_dist='log'`` draws window lengths log-uniformly (as many in [a, 2a] as in [L/2, L]);
    ``ema_decay`` > 0 validates and ships an exponential moving average of the weights.
    ``train_at_level`` trains at the model's input level (``DecodeConfig.level_dbfs``, which it needs): each
    training track's features are moved exactly as its audio would be by the level normalisation that
    detection applies (:func:`loco_cli.detection.level_gain` of the track's level) before any other
    augmentation, so that the network learns the levels it will be shown (the random gain then spreads
    them by ``gain_db``); off, it learns the tracks at the levels they come at.
    ``label_delay_s`` > 0 (datasets with timestamps) places each onset's training target that many seconds
    after the onset, in the frame labels of the timestamp losses and in the windows' counts alike: a
    causal network then answers once it has heard that much of the sound (a snare's wires on top of a
    kick) instead of at the onset's first frame; validation measures the delay back out as latency
    (:func:`loco_cli.calibration.calibrate`), so detected onsets stay on time.
    ``clean_teacher`` (with a teacher: SeCoST or distillation) shows the teacher each window as it is before
    the level and spectral augmentations (gain, ``eq_db``, ``lowpass_prob``, ``bandstop_prob``), the student the
    augmented copy: the student then learns to say on band-limited or coloured audio what the teacher says
    on the full-band window (the teacher's targets stay those of audio it knows), instead of copying the
    teacher's own failures there; time transforms (shift, stretch, rate scaling) and stacking reach both.
    Without a teacher it changes nothing.
    """

    steps: int = 3000
    batch_size: int = 16
    lr: float = 3e-3
    lr_final_fraction: float = 1.0  # cosine decay from lr to lr * this over the run; 1 = constant (the authors)
    clip_norm: float = 10.0  # global gradient norm (the authors' clip_by_global_norm(10))
    min_length_fraction: float = 0.1
    length_dist: str = "uniform"  # window lengths: 'uniform' in [min, 1] x nominal, or 'log' (log-uniform: more short ones)
    stretch: float = 0.12
    rate_scale: float = 0.0  # the authors' 0.125 is the drums recipe's (RECIPES); off for piano (docs/method.md)
    gain_db: float = 6.0
    eq_db: float = 0.0  # random smooth EQ curve (tilt + bell, each up to +- this many dB); 0 = off
    lowpass_prob: float = 0.0  # probability that a window is band-limited at a random cutoff (data.random_lowpass)
    lowpass_orders: tuple[float, float] = (LOWPASS_ORDER, LOWPASS_ORDER)  # its Butterworth order, log-uniform in this range
    lowpass_leakage: bool = False  # the low-passed window keeps the analysis window's leakage (data.apply_lowpass)
    bandstop_prob: float = 0.0  # probability that a random run of bands is cut to the floor (data.random_bandstop)
    stack_prob: float = 0.0
    count_noise: float = 0.0  # probability that a window's count of a class is off by +-1 (noisy-label studies)
    val_every: int = 250  # steps between validations (and checkpoints)
    patience: int = 0  # validations without improvement before stopping; 0 = never stop early
    log_every: int = 25
    seed: int = 0
    amp: bool = True  # bfloat16 autocast for the network on CUDA (the count loss stays float64)
    warmup_steps: int = 0  # linear learning-rate warm-up from lr / warmup_steps
    ema_decay: float = 0.0  # validate and ship an exponential moving average of the weights; 0 = off
    train_at_level: bool = False  # move each training track to the decode config's level_dbfs first
    label_delay_s: float = 0.0  # seconds from each onset to its training target (timestamps only); 0 = at the onset
    clean_teacher: bool = False  # a teacher reads each window before the spectral augmentations, the student after

    def lr_at(self, step: int) -> float:
        """Learning rate of step ``step`` (0-based): a linear warm-up over ``warmup_steps``, then a cosine
        from ``lr`` to ``lr * lr_final_fraction`` over the remaining steps."""
        import math

        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        frac = min((step - self.warmup_steps) / max(self.steps - self.warmup_steps - 1, 1), 1.0)
        return self.lr * (self.lr_final_fraction + (1 - self.lr_final_fraction) * 0.5 * (1 + math.cos(math.pi * frac)))

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.val_every < 1 or self.log_every < 1:
            raise ConfigError("steps, batch_size, val_every and log_every must be positive")
        if self.lr <= 0:
            raise ConfigError("lr must be positive")
        if not 0 < self.lr_final_fraction <= 1:
            raise ConfigError("lr_final_fraction must lie in (0, 1]")
        if not 0 < self.min_length_fraction <= 1:
            raise ConfigError("min_length_fraction must lie in (0, 1]")
        if self.length_dist not in ("uniform", "log"):
            raise ConfigError("length_dist must be 'uniform' or 'log'")
        if not 0 <= self.stretch < 0.5:
            raise ConfigError("stretch must lie in [0, 0.5)")
        if not 0 <= self.rate_scale < 0.5:
            raise ConfigError("rate_scale must lie in [0, 0.5)")
        if not 0 <= self.eq_db <= 24:
            raise ConfigError("eq_db must lie in [0, 24]")
        if not 0 <= self.lowpass_prob <= 1:
            raise ConfigError("lowpass_prob must lie in [0, 1]")
        if len(self.lowpass_orders) != 2 or not 1 <= self.lowpass_orders[0] <= self.lowpass_orders[1] <= 128:
            raise ConfigError("lowpass_orders must be two orders [low, high] with 1 <= low <= high <= 128")
        if not 0 <= self.bandstop_prob <= 1:
            raise ConfigError("bandstop_prob must lie in [0, 1]")
        if not 0 <= self.count_noise <= 1:
            raise ConfigError("count_noise must lie in [0, 1]")
        if not 0 <= self.stack_prob <= 1:
            raise ConfigError("stack_prob must lie in [0, 1]")
        if self.warmup_steps < 0:
            raise ConfigError("warmup_steps must be >= 0")
        if not 0 <= self.ema_decay < 1:
            raise ConfigError("ema_decay must lie in [0, 1)")
        if not 0 <= self.label_delay_s <= MAX_LABEL_DELAY_S:
            raise ConfigError(f"label_delay_s must lie in [0, {MAX_LABEL_DELAY_S}] seconds")


#: ``DecodeConfig.tuning``'s values: the pitch as it comes, or each input moved onto the A = 440 Hz grid.
TUNINGS = ("none", "auto")


@dataclass(frozen=True)
class DecodeConfig(_Config):
    """Activations -> onsets (see :mod:`loco_cli.detection`).

    A peak is a local maximum of the 3-frame sum of ``p_t`` (the expected number of events near
    ``t``, which a count-trained model concentrates in one or two frames) that reaches the class's
    threshold; peaks closer than ``min_gap_s`` keep the stronger one. Its time is the centre of mass
    of ``p`` over those frames, minus the class's ``latency_s`` measured on validation data.
    ``thresholds`` / ``latency_s`` / ``min_gaps_s`` are per class (empty: ``threshold`` / 0 / ``min_gap_s`` for
    all; a trained model's calibration sets them, :func:`loco_cli.calibration.calibrate_min_gap`).
    ``level_dbfs``: scale each input so that its level (the 99.5th percentile of its 50 ms block peaks,
    :func:`loco_cli.detection.signal_level`) lies at this many dB relative to full scale before the
    features, so that a quieter or louder copy of a recording gives the same onsets (a gain only adds a
    constant to the log-mel); ``None``: the audio as it comes.
    ``tuning``: ``'auto'`` finds each input's offset from the A = 440 Hz grid in its spectral peaks and, when
    it is :data:`loco_cli.tuning.MIN_RETUNE_CENTS` or more, resamples the input onto the grid before the
    features (times are mapped back: :mod:`loco_cli.tuning`), so that a piano tuned sharp or flat lights the
    keys a model learned at 440; ``'none'``: the pitch as it comes.
    """

    threshold: float = 0.5
    thresholds: tuple[float, ...] = ()
    latency_s: tuple[float, ...] = ()
    min_gap_s: float = 0.025
    min_gaps_s: tuple[float, ...] = ()
    mode: str = "stream"  # 'stream' (causal model, carried state) or 'windows' (overlap-averaged snippets)
    window_s: float = 1.5  # 'windows' mode only
    window_hop_s: float = 0.5
    level_dbfs: float | None = None
    tuning: str = "none"  # 'none' or 'auto'

    def __post_init__(self) -> None:
        if self.tuning not in TUNINGS:
            raise ConfigError(f"tuning must be one of {', '.join(TUNINGS)}, got {self.tuning!r}")
        if not 0 < self.threshold <= 3:
            raise ConfigError("threshold must lie in (0, 3]")
        if self.level_dbfs is not None and not -60 <= self.level_dbfs <= 0:
            raise ConfigError("level_dbfs must lie in [-60, 0] dBFS (or be unset)")
        if self.min_gap_s < 0 or any(g < 0 for g in self.min_gaps_s):
            raise ConfigError("min_gap_s and min_gaps_s must be >= 0")
        if self.mode not in ("stream", "windows"):
            raise ConfigError("mode must be 'stream' or 'windows'")

    def class_thresholds(self, n: int) -> list[float]:
        """Threshold of each of ``n`` classes."""
        return list(self.thresholds) if len(self.thresholds) == n else [self.threshold] * n

    def class_min_gaps(self, n: int) -> list[float]:
        """Minimum gap (s) between two onsets of each of ``n`` classes."""
        return list(self.min_gaps_s) if len(self.min_gaps_s) == n else [self.min_gap_s] * n

    def class_latency(self, n: int) -> list[float]:
        """Latency (s) of each of ``n`` classes."""
        return list(self.latency_s) if len(self.latency_s) == n else [0.0] * n


#: Training recipes: drums (small CRNN, fast on CPU) and piano (the keys network over 88 keys).
#: The drums recipe departs from the authors' constant learning rate and uniform window lengths: with them,
#: counts-only training on ``make demo``'s corpus ended anywhere between mean F1 0.71 and 0.90 over five
#: seeds (KD detections fired on snares and hi-hats). A weight average, a warm-up and a cosine decay,
#: log-uniform window lengths and extract stacking (windows of two tracks mixed, their counts added, so
#: the classes' counts stop moving together as they do in a groove) make it robust, and the authors'
#: sample-rate scaling (7/8..9/8) lifts the worst of five seeds from 0.837 to 0.882
#: (benchmarks/bench_seeds.py; docs/benchmarks.md, "Seed spread of the demo recipe").
RECIPES = {
    "drums": TrainConfig(ema_decay=0.998, warmup_steps=100, lr_final_fraction=0.1, length_dist="log", stack_prob=0.5,
                         rate_scale=0.125),
    "piano": TrainConfig(steps=3000, batch_size=8, lr=5e-3, lr_final_fraction=0.1, stretch=0.1),
}
