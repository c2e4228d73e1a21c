"""Networks: the causal CRNN of LoCo / SoftLoc, the FCN with adaptive Gaussian accumulation of Liu [2],
and a pitch-shared causal network for piano keys (:class:`KeyNet`).

Input features are ``(batch, time, channels, bands)`` (a ``(batch, time, bands)`` tensor is taken as one
channel); outputs are per-frame event logits ``(batch, time, classes)``. Per-band normalisation
statistics live in the model as buffers, so a saved model carries them.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from loco_cli.config import ModelConfig
from loco_cli.counting import initial_bias
from loco_cli.errors import ConfigError

__all__ = ["CRNN", "FCN", "KeyNet", "Ensemble", "ENSEMBLE_EPS", "build_model", "count_parameters"]

#: The members' mean probability is clipped to ``[ENSEMBLE_EPS, 1 - ENSEMBLE_EPS]`` before it becomes a logit
#: (:class:`Ensemble`), so that the logit stays finite; far below any threshold (``THRESHOLD_GRID`` starts at 0.02).
ENSEMBLE_EPS = 1e-6


def _as_4d(x: torch.Tensor) -> torch.Tensor:
    if x.dim() == 3:
        return x.unsqueeze(2)
    if x.dim() != 4:
        raise ValueError(f"expected (batch, time, [channels,] bands), got shape {tuple(x.shape)}")
    return x


class _RowConv(nn.Conv1d):
    """A :class:`torch.nn.Conv1d` (same parameters, same state-dict keys) on rows laid out
    ``(rows, length, channels)`` instead of ``(rows, channels, length)``: ``(N, L, C_in) -> (N, L', C_out)``.

    It runs as a channels-last ``conv2d`` (a 1x1 kernel as one matrix product), the layout the CPU kernels
    are fastest in: on the piano keys network's shapes (88 rows x 251 frames, one thread) the temporal
    convolutions took 15-18 ms instead of 18-27 ms per 30 s, and the 25-semitone convolution across keys
    with 16 channels 28 ms instead of 98 (ad hoc; ``bench_detect.py --piano`` measures the whole). The same
    values as ``Conv1d`` up to rounding.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if self.kernel_size[0] == 1 and self.padding[0] == 0:
            return F.linear(x, self.weight[:, :, 0], self.bias)
        weight = self.weight[:, :, None].contiguous(memory_format=torch.channels_last)
        y = F.conv2d(x.transpose(1, 2)[:, :, None], weight, self.bias, padding=(0, self.padding[0]),
                     dilation=(1, self.dilation[0]))  # (N, C_out, 1, L') channels-last
        return y[:, :, 0].transpose(1, 2)


#: Run the CRNN's convolutions on channels-last tensors in training (measured faster on CPU: 326 -> 241 ms per
#: step; same values up to rounding). Not at inference, where it measured slower (85 vs 68-75 ms per 30 s).
CHANNELS_LAST = True


def _pool_frequency(h: torch.Tensor, pool: int) -> torch.Tensor:
    """Max over non-overlapping groups of ``pool`` bands: ``(B, C, T, F) -> (B, C, T, F // pool)``.

    The same values as ``F.max_pool2d(h, (1, pool))`` (a trailing partial group is dropped). Without
    autograd (detection) the element-wise maximum of the ``pool`` strided views is used: on a 30 s input
    max_pool2d with a 1 x k kernel took more time than the convolutions (the front-end ran 1.8x faster
    with a reshape + ``amax`` instead, one thread), and the strided maximum takes less time again than the
    ``amax`` (the drum model's pooling: 1.47 -> 0.83 ms per 1000 frames, one thread, ad hoc; the same
    values, a maximum is exact). In training max_pool2d stays (its backward is the
    faster one for batches of short windows, measured on CPU).
    """
    if torch.is_grad_enabled():
        return F.max_pool2d(h, (1, pool))
    end = (h.shape[-1] // pool) * pool
    out = h[..., 0:end:pool]
    for k in range(1, pool):
        out = torch.maximum(out, h[..., k:end:pool])
    return out


class _Normalise(nn.Module):
    """Per-channel, per-band standardisation with stored statistics ``(channels, bands)``."""

    def __init__(self, channels: int, bands: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(channels, bands))
        self.register_buffer("std", torch.ones(channels, bands))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return (x - self.mean) / self.std

    def set(self, mean, std) -> None:
        """Store statistics (array-likes of shape ``(channels, bands)``); ``std`` is floored at 1e-5."""
        self.mean.copy_(torch.as_tensor(mean, dtype=self.mean.dtype))
        self.std.copy_(torch.as_tensor(std, dtype=self.std.dtype).clamp_min(1e-5))


class CRNN(nn.Module):
    """Causal conv2d stack + unidirectional LSTM/GRU + FC head (LoCo [1] §6.1, the authors' code [5]).

    Each conv layer has a ``kernel_time x kernel_freq`` (3 x 4) kernel, ReLU, and max-pooling over
    frequency only; time is padded on the past side only, so the output at frame ``t`` depends on
    frames ``<= t`` alone (causal), which together with the recurrence is what prevents a model
    trained on counts from deferring its detections. The output bias starts at eq. 15.

    ``forward(x)`` and :meth:`stream` share one code path: a whole pass is a single chunk streamed
    from the zero state.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.norm = _Normalise(cfg.in_channels, cfg.n_bands)
        convs = []
        channels, bands = cfg.in_channels, cfg.n_bands
        for filters, pool in zip(cfg.conv_filters, cfg.freq_pools, strict=True):
            convs.append(nn.Conv2d(channels, filters, (cfg.kernel_time, cfg.kernel_freq)))
            channels = filters
            bands = bands // pool
            if bands < 1:
                raise ConfigError(f"freq_pools {cfg.freq_pools} reduce {cfg.n_bands} bands below one")
        self.convs = nn.ModuleList(convs)
        self.out_bands = bands
        rnn_cls = nn.LSTM if cfg.rnn == "lstm" else nn.GRU
        self.rnn = rnn_cls(channels * bands, cfg.rnn_hidden, batch_first=True)
        self.fc = nn.Linear(cfg.rnn_hidden, cfg.fc_hidden)
        self.out = nn.Linear(cfg.fc_hidden, cfg.n_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He init for ReLU convs, Xavier for linear and input-recurrent weights, orthogonal recurrent
        weights, LSTM forget-gate bias 1, output bias from eq. 15."""
        for conv in self.convs:
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            nn.init.zeros_(conv.bias)
        for name, param in self.rnn.named_parameters():
            if "weight_ih" in name:
                nn.init.xavier_uniform_(param)
            elif "weight_hh" in name:
                nn.init.orthogonal_(param)
            else:
                nn.init.zeros_(param)
                if self.cfg.rnn == "lstm":
                    h = self.cfg.rnn_hidden
                    param.data[h : 2 * h] = 1.0
        nn.init.xavier_uniform_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)
        nn.init.xavier_uniform_(self.out.weight)
        nn.init.constant_(self.out.bias, initial_bias(self.cfg.init_frames, self.cfg.init_mass_at_zero))

    def initial_state(self, batch: int, device=None, dtype=torch.float32) -> dict:
        """Zero streaming state: the last ``kernel_time - 1`` input frames of each conv layer, and the RNN state."""
        ctx = self.cfg.kernel_time - 1
        convs = []
        channels, bands = self.cfg.in_channels, self.cfg.n_bands
        for conv, pool in zip(self.convs, self.cfg.freq_pools, strict=True):
            convs.append(torch.zeros(batch, channels, ctx, bands, device=device, dtype=dtype))
            channels, bands = conv.out_channels, bands // pool
        return {"conv": convs, "rnn": None}

    def stream(self, x: torch.Tensor, state: dict | None = None) -> tuple[torch.Tensor, dict]:
        """Process a chunk ``(batch, time, [channels,] bands)`` -> ``(logits (batch, time, classes), state)``.

        Feeding consecutive chunks with the returned state gives the same logits as one pass.
        """
        x = _as_4d(x)
        b = x.shape[0]
        if state is None:
            state = self.initial_state(b, x.device, x.dtype)
        h = self.norm(x).permute(0, 2, 1, 3)  # (B, Ch, T, F)
        kf = self.cfg.kernel_freq
        new_conv = []
        ctx = self.cfg.kernel_time - 1
        for conv, pool, past in zip(self.convs, self.cfg.freq_pools, state["conv"], strict=True):
            h = torch.cat([past, h], dim=2)
            new_conv.append(h[:, :, h.shape[2] - ctx :] if ctx else h[:, :, :0])
            h = F.pad(h, ((kf - 1) // 2, kf // 2))  # "same" padding over frequency
            if CHANNELS_LAST and torch.is_grad_enabled():
                h = h.contiguous(memory_format=torch.channels_last)
            h = conv(h)
            if pool > 1:  # pool, then ReLU: the same values (ReLU is monotone), on 1/pool of the data
                h = _pool_frequency(h, pool)
            h = F.relu(h)
        t = h.shape[2]
        h = h.permute(0, 2, 1, 3).reshape(b, t, -1)
        h, rnn_state = self.rnn(h, state["rnn"])
        h = F.relu(self.fc(h))
        return self.out(h), {"conv": new_conv, "rnn": rnn_state}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, time, classes)`` for features ``(batch, time, [channels,] bands)``."""
        return self.stream(x)[0]


class FCN(nn.Module):
    """Fully-convolutional network with an adaptive Gaussian accumulation layer (Liu [2] ch. 3).

    Early 1-D convolutions over time (features as channels; with ``fcn_scales > 1``, parallel stacks
    with dilations 1, 2, 4, ... whose outputs are concatenated, a multi-scale context), late 1x1
    convolutions to one score per class, a sigmoid, then a per-class Gaussian filter over time whose
    width ``sigma_c`` (frames) is learned (eq. 3.1). Outputs the logit of the accumulated
    probabilities, ``(batch, time, classes)``: pooled over time (``mil`` loss) it is the clip-level
    prediction; frame by frame it is the detection activation. Not causal.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.norm = _Normalise(cfg.in_channels, cfg.n_bands)
        n_in = cfg.in_channels * cfg.n_bands
        self.stacks = nn.ModuleList()
        for scale in range(cfg.fcn_scales):
            dilation = 2**scale
            layers = []
            channels = n_in
            for _ in range(cfg.fcn_early_layers):
                layers += [
                    nn.Conv1d(channels, cfg.fcn_channels, 3, padding=dilation, dilation=dilation),
                    nn.ReLU(),
                ]
                channels = cfg.fcn_channels
            self.stacks.append(nn.Sequential(*layers))
        self.late = nn.Sequential(
            nn.Conv1d(cfg.fcn_channels * cfg.fcn_scales, cfg.fcn_late_channels, 1),
            nn.ReLU(),
            nn.Conv1d(cfg.fcn_late_channels, cfg.n_classes, 1),
        )
        self.log_sigma = nn.Parameter(torch.full((cfg.n_classes,), math.log(cfg.fcn_sigma_init)))
        for m in self.modules():
            if isinstance(m, nn.Conv1d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    @property
    def sigma(self) -> torch.Tensor:
        """Learned Gaussian widths per class, frames: ``(classes,)``."""
        return self.log_sigma.exp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, time, classes)`` of the accumulated frame probabilities."""
        x = _as_4d(x)
        b, t = x.shape[:2]
        h = self.norm(x).reshape(b, t, -1).transpose(1, 2)  # (B, Ch*F, T)
        h = torch.cat([stack(h) for stack in self.stacks], dim=1)
        p = torch.sigmoid(self.late(h))  # (B, C, T)
        sigma = self.sigma
        radius = max(1, int(math.ceil(4 * float(sigma.detach().max()))))
        offsets = torch.arange(-radius, radius + 1, device=x.device, dtype=p.dtype)
        kernel = torch.exp(-0.5 * (offsets[None, :] / sigma[:, None]) ** 2)
        kernel = kernel / kernel.sum(-1, keepdim=True)  # (C, 2r + 1), unit mass
        acc = F.conv1d(p, kernel.unsqueeze(1), padding=radius, groups=self.cfg.n_classes)
        return torch.logit(acc.clamp(1e-6, 1 - 1e-6)).transpose(1, 2)


class KeyNet(nn.Module):
    """One causal network shared by every key: the count model for piano (``arch='keys'``).

    For class ``c`` (MIDI pitch ``m_c``, fundamental ``f0 = 440 * 2 ** ((m_c - 69) / 12)`` Hz) the input
    is the normalised spectrogram read at the partials ``r * f0`` for ``r`` in ``cfg.key_ratios``
    (linear interpolation between the two nearest bands; partials outside the band range read 0),
    every feature channel, plus the key's position ``(m_c - 64.5) / 24`` as a constant channel:
    ``(batch * classes, time, channels * ratios + 1)`` (each row laid out time-major, :class:`_RowConv`).
    Causal dilated 1-D convolutions over time (kernel ``kernel_time``, dilations ``key_dilations``, ReLU), a
    1x1 hidden layer of ``fc_hidden`` units and one logit per frame follow, with the same weights for every key; each key adds its own
    output bias, initialised by eq. 15 (LoCo [1]). Output: logits ``(batch, time, classes)``.

    With ``cfg.key_context`` every key also reads ``2 * channels * key_context_regions`` inputs that are the
    same for all keys: per feature channel and region (``key_context_regions`` consecutive groups of bands),
    the normalised frame's mean over the region's bands, and the mean of its rise since the frame before,
    ``mean_f max(0, h[t, f] - h[t - 1, f])`` (spectral flux; 0 at the first frame): the frame's loudness
    and onset strength, which the key's own partials do not show (held-out piano note F1 +0.02-0.03 on the means of
    five runs against three, docs/real-audio.md).

    With ``cfg.key_mix`` > 0 a residual layer across keys follows the temporal convolutions: per frame, each
    key's hidden features are squeezed to ``key_mix`` channels (1x1, ReLU), convolved over the key axis
    (kernel ``2 * key_mix_span + 1`` semitones, zero beyond the keyboard, ReLU), expanded back (1x1,
    initialised to zero, so training starts from the network without it) and added: a key hears what its
    neighbours up to ``key_mix_span`` semitones away do in the same frame. Classes that are not consecutive
    keys sit on a grid of semitones (the keys between them silent), so the span is always in semitones.

    With ``cfg.key_out_zero`` the output layer's weights start at zero (Xavier-uniform otherwise): every seed's
    first logits are the eq. 15 bias alone, and the output weights grow from the first step's gradient.

    The CRNN of the paper pools the spectrum to one vector and must tell 88 keys apart from it;
    LoCo therefore trained one model per band of 10 keys (the authors' code [5]). Sharing one
    network over keys makes every note of every key a training example for all of them, and keeps
    the cost linear in the number of keys. The band layout (which bands each key reads) is a buffer
    set by :meth:`set_layout` from the feature config and class pitches, saved with the weights.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.norm = _Normalise(cfg.in_channels, cfg.n_bands)
        n_ratios = len(cfg.key_ratios)
        self.register_buffer("band_index", torch.zeros(cfg.n_classes, n_ratios, 2, dtype=torch.long))
        self.register_buffer("band_weight", torch.zeros(cfg.n_classes, n_ratios, 2))
        self.register_buffer("position", torch.zeros(cfg.n_classes))
        channels = cfg.in_channels * n_ratios + 1 + (2 * cfg.in_channels * cfg.key_context_regions if cfg.key_context else 0)
        # (bands, regions): each region's mean over its bands, regions as np.array_split divides the bands
        regions = torch.zeros(cfg.n_bands, cfg.key_context_regions)
        for j, idx in enumerate(np.array_split(np.arange(cfg.n_bands), cfg.key_context_regions)):
            regions[idx, j] = 1.0 / len(idx)
        self.register_buffer("regions", regions, persistent=False)
        self.convs = nn.ModuleList()
        for d in cfg.key_dilations:
            self.convs.append(_RowConv(channels, cfg.key_channels, cfg.kernel_time, dilation=d))
            channels = cfg.key_channels
        if cfg.key_mix:  # across keys, per frame: squeeze, convolve over the key axis, expand, add back
            self.mix_down = _RowConv(channels, cfg.key_mix, 1)
            self.mix_keys = _RowConv(cfg.key_mix, cfg.key_mix, 2 * cfg.key_mix_span + 1, padding=cfg.key_mix_span)
            self.mix_up = _RowConv(cfg.key_mix, channels, 1)
        self.fc = _RowConv(channels, cfg.fc_hidden, 1)
        self.out = _RowConv(cfg.fc_hidden, 1, 1)
        self.key_bias = nn.Parameter(torch.zeros(cfg.n_classes))
        for m in [*self.convs, self.fc, *([self.mix_down, self.mix_keys] if cfg.key_mix else [])]:
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
        if cfg.key_mix:  # the residual branch starts at zero: the network begins as the one without it
            nn.init.zeros_(self.mix_up.weight)
            nn.init.zeros_(self.mix_up.bias)
        nn.init.xavier_uniform_(self.out.weight)  # drawn either way: the random stream stays the same
        if cfg.key_out_zero:  # every seed starts at the eq. 15 prior; the output weights grow from the first step
            nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        nn.init.constant_(self.key_bias, initial_bias(cfg.init_frames, cfg.init_mass_at_zero))

    def set_layout(self, band_hz, pitches) -> None:
        """Point each key at its partials: ``band_hz`` (bands,) centre frequencies (Hz, ascending),
        ``pitches`` (classes,) MIDI pitch of each class."""
        centres = np.asarray(band_hz, dtype=np.float64)
        pitches = np.asarray(pitches, dtype=np.float64)
        if centres.shape != (self.cfg.n_bands,) or pitches.shape != (self.cfg.n_classes,):
            raise ValueError(f"need {self.cfg.n_bands} band centres and {self.cfg.n_classes} pitches")
        f0 = 440.0 * 2 ** ((pitches - 69) / 12)
        freqs = f0[:, None] * np.asarray(self.cfg.key_ratios)[None, :]  # (C, R)
        pos = np.interp(freqs, centres, np.arange(centres.size))
        lo = np.clip(np.floor(pos), 0, centres.size - 2).astype(np.int64)
        frac = np.clip(pos - lo, 0.0, 1.0)
        inside = (freqs >= centres[0]) & (freqs <= centres[-1])
        self.band_index.copy_(torch.from_numpy(np.stack([lo, lo + 1], -1)))
        self.band_weight.copy_(torch.from_numpy(np.stack([1 - frac, frac], -1) * inside[..., None]))
        self.position.copy_(torch.from_numpy((pitches - 64.5) / 24))

    def _reader(self, dtype: torch.dtype) -> torch.Tensor:
        """The partial-reading matrix ``(classes * ratios, bands)``, sparse, from the layout buffers."""
        rows = self.band_index.shape[0] * self.band_index.shape[1]
        row = torch.arange(rows, device=self.band_index.device).repeat_interleave(2)
        with warnings.catch_warnings():  # torch 2.11 on CUDA warns of the invariant checks this call turns off
            warnings.filterwarnings("ignore", message="Sparse invariant checks", category=UserWarning)
            return torch.sparse_coo_tensor(torch.stack([row, self.band_index.reshape(-1)]),
                                           self.band_weight.reshape(-1).to(dtype), (rows, self.cfg.n_bands),
                                           check_invariants=False, is_coalesced=False)

    def initial_state(self, batch: int, device=None, dtype=torch.float32) -> list[torch.Tensor]:
        """Zero streaming state: the last ``(kernel_time - 1) * dilation`` inputs of each layer
        ``(batch * classes, frames, channels)``; with ``key_context`` also the last normalised frame
        ``(batch, 0 or 1, channels, bands)`` (none yet)."""
        rows = batch * self.cfg.n_classes
        state = [torch.zeros(rows, (self.cfg.kernel_time - 1) * conv.dilation[0], conv.in_channels, device=device,
                             dtype=dtype) for conv in self.convs]
        if self.cfg.key_context:
            state.append(torch.zeros(batch, 0, self.cfg.in_channels, self.cfg.n_bands, device=device, dtype=dtype))
        return state

    def stream(self, x: torch.Tensor, state: list | None = None) -> tuple[torch.Tensor, list]:
        """Process a chunk ``(batch, time, [channels,] bands)`` -> ``(logits (batch, time, classes), state)``;
        consecutive chunks with the returned state give the same logits as one pass."""
        x = _as_4d(x)
        b, t = x.shape[:2]
        c = self.cfg.n_classes
        if state is None:
            state = self.initial_state(b, x.device, x.dtype)
        frames = self.norm(x)  # (B, T, Ch, F)
        ch, n_r = frames.shape[2], self.band_index.shape[1]
        # partials read as one sparse (C*R, F) x (F, B*T*Ch) product: 2 weights per row. Outside autocast (AMP
        # on CUDA): the sparse product has no bfloat16 kernel there; it runs in the frames' dtype.
        with torch.autocast(frames.device.type, enabled=False):
            h = torch.sparse.mm(self._reader(frames.dtype), frames.reshape(-1, frames.shape[-1]).t())  # (C*R, B*T*Ch)
        # rows are (batch, key), laid out (rows, time, features) throughout (_RowConv)
        h = h.reshape(c, n_r, b, t, ch).permute(2, 0, 3, 4, 1).reshape(b * c, t, ch * n_r)  # (B*C, T, Ch*R)
        pos = self.position.to(h.dtype).repeat(b)[:, None, None].expand(b * c, t, 1)
        parts, new_state = [h, pos], []
        if self.cfg.key_context:
            *state, prev = state
            before = torch.cat([frames[:, :1] if prev.shape[1] == 0 else prev, frames[:, :-1]], 1)
            means = torch.cat([frames, F.relu(frames - before)], 2) @ self.regions.to(frames.dtype)  # (B, T, 2 Ch, R)
            context = means.reshape(b, t, -1)  # (B, T, 2 Ch R)
            parts.append(context[:, None].expand(b, c, t, -1).reshape(b * c, t, -1))
            context_state = frames[:, -1:]
        h = torch.cat(parts, 2)
        for conv, past in zip(self.convs, state, strict=True):
            h = torch.cat([past, h], 1)
            new_state.append(h[:, h.shape[1] - past.shape[1] :])
            h = F.relu(conv(h))
        if self.cfg.key_context:
            new_state.append(context_state)
        if self.cfg.key_mix:  # (B*C, T, K) -> per frame over the semitone axis -> added back
            z = F.relu(self.mix_down(h))  # (B*C, T, M)
            m = z.shape[2]
            z = z.reshape(b, c, t, m).transpose(1, 2).reshape(b * t, c, m)  # (B*T, C, M): rows are frames
            slot = torch.round(self.position * 24 + 64.5).long()  # MIDI pitch of each class
            slot = slot - slot.min()
            if c > 1 and not torch.equal(slot, torch.arange(c, device=slot.device)):  # keys with gaps or in any order:
                grid = z.new_zeros(b * t, int(slot.max()) + 1, m)  # on a grid of semitones, silent between them
                grid[:, slot] = z
                z = self.mix_keys(grid)[:, slot]
            else:
                z = self.mix_keys(z)
            z = F.relu(z).reshape(b, t, c, m).transpose(1, 2).reshape(b * c, t, m)
            h = h + self.mix_up(z)
        h = self.out(F.relu(self.fc(h)))  # (B*C, T, 1)
        return h.reshape(b, c, t).transpose(1, 2) + self.key_bias, new_state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, time, classes)`` for features ``(batch, time, [channels,] bands)``."""
        return self.stream(x)[0]


class Ensemble(nn.Module):
    """``cfg.members`` networks of one architecture, trained apart (seeds), run side by side (``loco ensemble``).

    Its output at frame ``t`` is the mean of the members' probabilities, ``p_t = (1/M) sum_m sigmoid(z_t^m)``,
    given back as the logit ``log(p_t / (1 - p_t))`` (``p_t`` clipped to :data:`ENSEMBLE_EPS`), so it stands
    wherever one network does: detection (streamed, each member's state carried), calibration, a SeCoST
    teacher. Averaging independently trained networks is the classic way to cut the variance between seeds
    (references [8]: Hansen & Salamon 1990; Lakshminarayanan et al. 2017 for deep networks); for loco's drum
    model it is measured in docs/real-audio.md (Ensembles and distillation). Members must stream (``crnn``,
    ``keys``).
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.arch not in ("crnn", "keys"):
            raise ConfigError(f"an ensemble needs a streaming network (crnn or keys), not {cfg.arch!r}")
        self.cfg = cfg
        self.members = nn.ModuleList(build_model(cfg.replace(members=1)) for _ in range(cfg.members))

    def stream(self, x: torch.Tensor, state: list | None = None) -> tuple[torch.Tensor, list]:
        """A chunk ``(batch, time, [channels,] bands)`` -> ``(logits of the mean probability (batch, time,
        classes), [each member's state])``; consecutive chunks give the same logits as one pass. The members
        run one after another: fused into one wider network (grouped convolutions, block-diagonal LSTM) they
        ran no faster on the CPU (ad hoc, 2000 frames and batches of 16 x 300, one and two threads), the
        convolutions' arithmetic being the cost."""
        state = state if state is not None else [None] * len(self.members)
        probs, new = [], []
        for member, past in zip(self.members, state, strict=True):
            logits, now = member.stream(x, past)
            probs.append(torch.sigmoid(logits.float()))
            new.append(now)
        return torch.logit(torch.stack(probs).mean(0), eps=ENSEMBLE_EPS), new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, time, classes)`` of the members' mean probability."""
        return self.stream(x)[0]


def build_model(cfg: ModelConfig) -> nn.Module:
    """Build the network described by ``cfg`` (an :class:`Ensemble` of ``cfg.members`` when that is above 1)."""
    if cfg.members > 1:
        return Ensemble(cfg)
    return {"crnn": CRNN, "fcn": FCN, "keys": KeyNet}[cfg.arch](cfg)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
