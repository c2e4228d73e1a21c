"""The count distribution of LoCo: an exact, log-space Poisson-binomial with an absorbing last bin.

LoCo (Schroeter et al., ICML 2019, "LoCo [1]") models per-frame events as independent Bernoulli
variables ``E(t) ~ B(p(t))`` (eq. 4) and learns from the distribution of their sum ``Y = sum_t E(t)``,
a Poisson-binomial distribution (eq. 6). That distribution is computed with the recursion of
eq. 9::

    Y(k, t) = (1 - p(t)) Y(k, t-1) + p(t) Y(k-1, t-1),        Y(k, 0) = 1[k = 0]

truncated to ``k_max`` bins whose last bin absorbs all mass at or above ``k_max - 1`` (eq. 14): bins
``0 .. k_max - 2`` are exact counts and bin ``k_max - 1`` means "``k_max - 1`` or more".

How this implementation differs from the authors' (see `the authors' code [5]`
§3.1): they run the recursion step by step in linear float32 and score ``-log(P + 1e-9)``; once
``P(Y = y)`` falls under 1e-9 (or the float32 range) the loss saturates and its gradient vanishes,
and the Python loop over ``T`` frames dominates the training step.

Here, on CPU, compiled per-row kernels (:mod:`loco_cli._count_kernels`, numba) run the recursion and
an analytic forward-backward pass in float64, keeping each row's messages in cache. Elsewhere (CUDA),
the distribution of a sum of independent counts is the *convolution* of their distributions,
and "convolve, then fold every bin ``>= K - 1`` into bin ``K - 1``" is associative and commutative.
The ``T`` Bernoulli polynomials ``(1 - p) + p x`` are therefore multiplied in a pairwise tree:
``ceil(log2 T)`` batched levels instead of ``T`` sequential steps, with a hand-written reverse pass.
Both run in float64, where the mass lost to underflow is below ``T K^2 2.2e-308`` in absolute
terms: every probability above :data:`FAST_PATH_MIN_PROB` (1e-250) is exact to float64 rounding.
Rows whose needed probabilities are smaller go through the same tree in log space (``logsumexp``),
which is exact at any magnitude (``P(Y = y) = 1e-2000`` included), with bounded gradients:
``d(-log P(Y = y)) / dz(t) = p(t) - P(E(t) = 1 | Y = y)`` for a logit ``z(t)``.

Shapes used throughout (the module works on frames, never on seconds):

* ``N``: batch, ``T``: frames, ``C``: classes, ``K``: ``k_max`` bins.
* Network outputs are ``(N, T, C)`` logits; the count distribution is ``(N, C, K)`` log-probabilities.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from loco_cli.config import INIT_MASS_AT_ZERO

__all__ = [
    "count_log_distribution",
    "count_nll",
    "running_count_distribution",
    "bernoulli_log_probs",
    "mask_frames",
    "valid_frames",
    "initial_bias",
    "linear_count_distribution",
    "set_backend",
]


def initial_bias(n_frames: int, w: float = INIT_MASS_AT_ZERO) -> float:
    """Pre-sigmoid output bias that puts mass ``w`` on ``Y = 0`` at initialisation (LoCo [1] eq. 15).

    With every frame at ``p = 1 - w**(1/T)``, ``P(Y = 0) = prod_t (1 - p) = w``. The bias is the logit
    of that ``p``: ``log((1 - w**(1/T)) / w**(1/T))``.

    Parameters
    ----------
    n_frames:
        ``T``, the number of frames of a training snippet.
    w:
        Target probability of observing no event in the snippet, strictly between 0 and 1.

    Returns
    -------
    float
        The logit bias (e.g. -7.49 for ``T = 400, w = 0.8``).
    """
    if not 0.0 < w < 1.0:
        raise ValueError(f"w must lie strictly between 0 and 1, got {w}")
    if n_frames < 1:
        raise ValueError(f"n_frames must be positive, got {n_frames}")
    root = w ** (1.0 / n_frames)
    return math.log((1.0 - root) / root)


def bernoulli_log_probs(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(log p, log(1 - p))`` for ``p = sigmoid(logits)``, both finite for any finite logit."""
    return F.logsigmoid(logits), F.logsigmoid(-logits)


def valid_frames(lengths, n: int, t: int, device=None) -> torch.Tensor | None:
    """``(N, T)`` boolean mask of frames before each sequence's length, or ``None`` when ``lengths`` is ``None``.

    The single place where valid lengths ``(N,)`` (frames) are checked and turned into a mask.
    """
    if lengths is None:
        return None
    lengths = torch.as_tensor(lengths, device=device)
    if lengths.shape != (n,):
        raise ValueError(f"lengths must have shape ({n},), got {tuple(lengths.shape)}")
    return torch.arange(t, device=device)[None, :] < lengths[:, None]


def mask_frames(
    logp: torch.Tensor, log1mp: torch.Tensor, lengths: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn frames at or after each sequence's length into certain non-events.

    Setting ``p = 0`` on padded frames (``log p = -inf``, ``log(1-p) = 0``) leaves the running
    distribution unchanged after the last valid frame, so the distribution read at the final frame
    *is* the one at each sequence's own last valid frame, and padded frames receive zero gradient.

    Parameters
    ----------
    logp, log1mp:
        ``(N, T, C)`` log-probabilities of event / no event.
    lengths:
        ``(N,)`` integer valid lengths in frames, or ``None`` when every frame is valid.
    """
    valid = valid_frames(lengths, logp.shape[0], logp.shape[1], logp.device)
    if valid is None:
        return logp, log1mp
    valid = valid.unsqueeze(-1)
    logp = torch.where(valid, logp, torch.full_like(logp, -math.inf))
    log1mp = torch.where(valid, log1mp, torch.zeros_like(log1mp))
    return logp, log1mp


def _skew_sum(outer: torch.Tensor, pad_value: float, log_space: bool) -> torch.Tensor:
    """Sum an outer product ``(..., D, D)`` along its anti-diagonals -> ``(..., 2D - 1)``.

    ``out[j] = sum_{a + b = j} outer[a, b]`` (or ``logsumexp`` in log space): the coefficients of the
    product of two polynomials. Row ``a`` is shifted right by ``a`` with the pad-and-reshape trick, so
    the whole batch is one reduction.
    """
    d = outer.shape[-1]
    lead = outer.shape[:-2]
    padded = F.pad(outer, (0, d), value=pad_value)  # (..., D, 2D)
    flat = padded.reshape(*lead, d * 2 * d)[..., : d * (2 * d - 1)]
    skewed = flat.reshape(*lead, d, 2 * d - 1)  # row a shifted right by a
    if log_space:
        return torch.logsumexp(skewed, dim=-2)
    return skewed.sum(dim=-2)


def _clamp_bins(poly: torch.Tensor, k_max: int, log_space: bool) -> torch.Tensor:
    """Fold all bins ``>= k_max - 1`` into bin ``k_max - 1`` (the absorbing bin of eq. 14)."""
    if poly.shape[-1] <= k_max:
        return poly
    head = poly[..., : k_max - 1]
    if log_space:
        tail = torch.logsumexp(poly[..., k_max - 1 :], dim=-1, keepdim=True)
    else:
        tail = poly[..., k_max - 1 :].sum(dim=-1, keepdim=True)
    return torch.cat([head, tail], dim=-1)


def _tail_weights(x: torch.Tensor, k_out: int) -> torch.Tensor:
    """``w[i] = sum_{j >= k_out - 1 - i} x[j]`` for ``i < D``: the mass of ``x`` that lands in the absorbing bin.

    ``x``: ``(B, D)`` with ``D <= k_out``. A prefix sum of the reversed coefficients (a sum of
    non-negative terms, no cancellation), shifted so that indices past the last bin give zero.
    """
    d = x.shape[-1]
    prefix_rev = x.flip(-1).cumsum(-1)  # prefix_rev[m] = sum_{j >= d - 1 - m} x[j]
    return F.pad(prefix_rev, (k_out - d, 0))[:, :d]


def _clamped_product(a: torch.Tensor, b: torch.Tensor, k_out: int) -> torch.Tensor:
    """Product of polynomials ``a``, ``b`` (``(B, D)`` coefficients), tail folded into bin ``k_out - 1``.

    Bins ``0 .. k_out - 2`` are the convolution ``sum_i a[i] b[j - i]`` (one Hankel-view multiply-sum);
    the absorbing bin is ``sum_i a[i] * (mass of b at or above k_out - 1 - i)``, a sum of non-negative
    terms, so no bin is ever computed by subtraction.
    """
    d = a.shape[-1]
    windows = F.pad(b, (d - 1, d - 1)).unfold(1, d, 1)[:, : k_out - 1]  # [j, i2] = b[j + i2 - d + 1]
    head = (windows * a.flip(-1).unsqueeze(1)).sum(-1)
    tail = (a * _tail_weights(b, k_out)).sum(-1, keepdim=True)
    return torch.cat([head, tail], dim=-1)


def _clamped_product_grads(
    a: torch.Tensor, b: torch.Tensor, grad: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of :func:`_clamped_product` w.r.t. ``a`` and ``b`` given ``grad``: ``(B, k_out)``."""
    d = a.shape[-1]
    k_out = grad.shape[-1]
    head = F.pad(grad[:, : k_out - 1], (0, 2 * d - k_out))  # length 2D - 1, zero past the head
    hankel = head.unfold(1, d, 1)  # [i, m] = grad_head[i + m]
    tail = grad[:, k_out - 1 :]
    grad_a = (hankel * b.unsqueeze(1)).sum(-1) + tail * _tail_weights(b, k_out)
    grad_b = (hankel * a.unsqueeze(1)).sum(-1) + tail * _tail_weights(a, k_out)
    return grad_a, grad_b


class _LinearTree(torch.autograd.Function):
    """Clamped product of ``(R, T, 2)`` Bernoulli polynomials -> ``(R, K')``, with a hand-written reverse pass.

    The reverse pass walks the same tree backwards; each level costs two Hankel multiply-sums.
    """

    @staticmethod
    def forward(ctx, leaves, k_max):  # noqa: D102 - documented on the class
        pieces = leaves
        saved = []
        while pieces.shape[1] > 1:
            rows, m, d = pieces.shape
            odd = m % 2 == 1
            if odd:  # an extra frame with p = 0 (the polynomial 1) keeps the pairing even
                one = torch.zeros_like(pieces[:, :1])
                one[..., 0] = 1.0
                pieces = torch.cat([pieces, one], dim=1)
                m += 1
            a = pieces[:, 0::2].reshape(rows * m // 2, d)
            b = pieces[:, 1::2].reshape(rows * m // 2, d)
            k_out = min(2 * d - 1, k_max)
            saved.append((a, b, odd, rows, m))
            pieces = _clamped_product(a, b, k_out).reshape(rows, m // 2, k_out)
        ctx.saved = saved
        return pieces[:, 0]

    @staticmethod
    def backward(ctx, grad_out):  # noqa: D102
        grad = grad_out.unsqueeze(1)
        for a, b, odd, rows, m in reversed(ctx.saved):
            grad_a, grad_b = _clamped_product_grads(a, b, grad.reshape(a.shape[0], -1))
            grad = torch.stack([grad_a, grad_b], dim=1).reshape(rows, m, a.shape[-1])
            if odd:
                grad = grad[:, :-1]
        return grad, None


class _KernelCount(torch.autograd.Function):
    """CPU path: ``(R, T)`` float64 logits and validity -> ``(R, K)`` probabilities via numba kernels.

    The backward pass receives ``dL/dP`` and returns ``dL/dz`` from one forward-backward sweep per
    row (:func:`loco_cli._count_kernels.logit_gradient`). ``top`` (``(R,)`` int64 or ``None``): the
    highest bin each row needs; bins above it are not computed (left at 0) and cost nothing.
    """

    @staticmethod
    def forward(ctx, z, valid, k_max, top=None):  # noqa: D102 - documented on the class
        from loco_cli import _count_kernels

        p = torch.sigmoid(z)
        q = torch.sigmoid(-z)  # exact near 0, unlike 1 - p
        if valid is not None:
            p = torch.where(valid, p, torch.zeros_like(p))
            q = torch.where(valid, q, torch.ones_like(q))
        q_np, p_np = q.contiguous().numpy(), p.contiguous().numpy()
        ctx.arrays = (q_np, p_np)
        _count_kernels.follow_torch_threads()
        if top is None:
            top_np = np.full(q_np.shape[0], k_max - 1, dtype=np.int64)
        else:
            top_np = top.to(torch.int64).contiguous().numpy()
        return torch.from_numpy(_count_kernels.count_distribution(q_np, p_np, k_max, top_np))

    @staticmethod
    def backward(ctx, grad_p):  # noqa: D102
        from loco_cli import _count_kernels

        q_np, p_np = ctx.arrays
        weights = grad_p.detach().double().contiguous().numpy()
        _count_kernels.follow_torch_threads()
        return torch.from_numpy(_count_kernels.logit_gradient(q_np, p_np, weights)), None, None, None


def _use_kernels(device: torch.device) -> bool:
    """Whether the compiled CPU kernels serve this device (numba is a dependency of librosa)."""
    if device.type != "cpu" or _BACKEND == "torch":
        return False
    try:
        import numba  # noqa: F401
    except ImportError:  # pragma: no cover - numba ships with librosa
        return False
    return True


#: "auto" (numba kernels on CPU, torch tree elsewhere) or "torch" (always the torch tree).
_BACKEND = "auto"


def set_backend(name: str) -> None:
    """Choose the fast-path implementation: ``"auto"`` (default) or ``"torch"``; used by tests and benchmarks."""
    global _BACKEND
    if name not in ("auto", "torch"):
        raise ValueError("backend must be 'auto' or 'torch'")
    _BACKEND = name


def _tree_product(leaves: torch.Tensor, k_max: int, log_space: bool) -> torch.Tensor:
    """Clamped product of per-frame Bernoulli polynomials by pairwise reduction over time.

    ``leaves``: ``(R, T, 2)`` with ``[1 - p, p]`` per frame (or their logs). The distribution of a sum
    of independent counts is the convolution of their distributions, and convolution followed by
    folding the tail into bin ``K - 1`` is associative and commutative, so eq. 9 over ``T`` frames
    equals ``ceil(log2 T)`` levels of batched pairwise products. Returns ``(R, K')`` with
    ``K' = min(T + 1, K)`` bins.
    """
    if not log_space:
        return _LinearTree.apply(leaves, k_max)
    pieces = leaves
    while pieces.shape[1] > 1:
        if pieces.shape[1] % 2:
            one = torch.full_like(pieces[:, :1], LOG_ZERO)
            one[..., 0] = 0.0
            pieces = torch.cat([pieces, one], dim=1)
        a, b = pieces[:, 0::2], pieces[:, 1::2]
        outer = a.unsqueeze(-1) + b.unsqueeze(-2)
        pieces = _clamp_bins(_skew_sum(outer, LOG_ZERO, True), k_max, True)
    return pieces[:, 0]


#: Finite stand-in for log(0) in the log-space tree: exp() of it is exactly 0 and, unlike -inf,
#: it never produces NaN gradients in logsumexp.
LOG_ZERO = -1e30
#: Below this probability the float64 fast path hands a row to the log-space path. Mass lost to
#: float64 underflow is bounded by ~T * K^2 * 2.2e-308 in absolute terms, i.e. a relative error
#: below 1e-40 for any probability above this threshold.
FAST_PATH_MIN_PROB = 1e-250


def _leaves(logits: torch.Tensor, lengths: torch.Tensor | None, log_space: bool) -> torch.Tensor:
    """Per-frame ``[1 - p, p]`` (or logs) in float64, ``(N * C, T, 2)``, padded frames set to p = 0."""
    z = logits.double()
    n, t, c = z.shape
    if log_space:
        none, event = F.logsigmoid(-z), F.logsigmoid(z)
        off_none, off_event = 0.0, LOG_ZERO
    else:
        none, event = torch.sigmoid(-z), torch.sigmoid(z)  # both exact near 0 and 1
        off_none, off_event = 1.0, 0.0
    valid = valid_frames(lengths, n, t, z.device)
    if valid is not None:
        valid = valid.unsqueeze(-1)
        none = torch.where(valid, none, torch.full_like(none, off_none))
        event = torch.where(valid, event, torch.full_like(event, off_event))
    leaves = torch.stack([none, event], dim=-1)  # (N, T, C, 2)
    return leaves.permute(0, 2, 1, 3).reshape(n * c, t, 2)


def _pad_bins(dist: torch.Tensor, k_max: int, pad_value: float) -> torch.Tensor:
    """Pad ``(R, K')`` to ``(R, K)`` bins when the sequence is shorter than ``K - 1`` frames."""
    if dist.shape[-1] < k_max:
        dist = F.pad(dist, (0, k_max - dist.shape[-1]), value=pad_value)
    return dist


def _forward_messages(logp: torch.Tensor, log1mp: torch.Tensor, k_max: int) -> torch.Tensor:
    """Sequential log-space recursion of eq. 9 / eq. 14 (no autograd): every running distribution.

    ``logp``, ``log1mp``: ``(T, R)``. Returns ``(T + 1, R, K)`` with ``out[t, r, k] = log Y(k, t)``.
    """
    t_len, rows = logp.shape
    alpha = logp.new_full((t_len + 1, rows, k_max), -math.inf)
    alpha[0, :, 0] = 0.0
    stay = log1mp.unsqueeze(-1).repeat(1, 1, k_max)
    stay[:, :, -1] = torch.logaddexp(logp, log1mp)  # the absorbing bin keeps its mass
    move = logp.unsqueeze(-1)
    for t in range(t_len):
        prev, cur = alpha[t], alpha[t + 1]
        kept = prev + stay[t]
        cur[:, 0] = kept[:, 0]
        cur[:, 1:] = torch.logaddexp(kept[:, 1:], prev[:, :-1] + move[t])
    return alpha


def count_log_distribution(
    logits: torch.Tensor,
    *,
    lengths: torch.Tensor | None = None,
    k_max: int,
    needed: torch.Tensor | None = None,
) -> torch.Tensor:
    """Log of the truncated count distribution ``log Y(k, T_i)`` for every sequence and class.

    Implements LoCo [1] eq. 6 through the recursion of eq. 9, with the absorbing last bin of eq. 14,
    exactly: a float64 pairwise-product tree (:func:`_tree_product`) for speed, and the same tree
    in log space for every row whose needed probabilities fall below :data:`FAST_PATH_MIN_PROB`,
    so values and gradients stay finite and correct however small ``P(Y = y)`` is.

    Parameters
    ----------
    logits:
        ``(N, T, C)`` per-frame event logits ``z``, ``p = sigmoid(z)``. Any float dtype; the result has
        the same dtype.
    lengths:
        ``(N,)`` valid lengths in frames; frames at or after a sequence's length are ignored, so the
        distribution is the one at each sequence's own last valid frame. ``None``: all valid.
    k_max:
        ``K``, the number of bins (at least 2); bin ``K - 1`` holds the mass of counts ``>= K - 1``.
    needed:
        Optional ``(N, C, K)`` boolean mask of the bins whose log-probability (and gradient) the caller
        uses; bins outside it are undefined: the bins above the highest needed one are not computed
        at all (on the CPU kernels per row, a count ``y`` costs ``y + 1`` bins of ``K``; in the torch
        tree for the whole batch, which then carries ``highest + 2`` bins, the last one absorbing).
        Default: all bins.

    Returns
    -------
    torch.Tensor
        ``(N, C, K)`` log-probabilities; ``exp().sum(-1) == 1`` when ``needed`` is ``None``.
    """
    if k_max < 2:
        raise ValueError(f"k_max must be at least 2, got {k_max}")
    if logits.dim() != 3:
        raise ValueError(f"expected logits of shape (batch, time, classes), got {tuple(logits.shape)}")
    n, t, c = logits.shape
    if t == 0:
        raise ValueError("logits have no frames")
    k_eff = k_max  # bins the torch tree carries: the highest needed bin + 1 (a bin above it absorbs)
    if needed is not None and not _use_kernels(logits.device):
        highest = int((needed.reshape(n * c, k_max).long() * torch.arange(1, k_max + 1, device=needed.device))
                      .amax()) - 1
        k_eff = min(k_max, max(highest, 0) + 2)
    if _use_kernels(logits.device):
        z = logits.double().permute(0, 2, 1).reshape(n * c, t)
        valid = valid_frames(lengths, n, t)
        if valid is not None:
            valid = valid.unsqueeze(1).expand(n, c, t).reshape(n * c, t)
        top = None
        if needed is not None:  # the highest needed bin of each row: the kernels skip the bins above it
            ranks = torch.arange(1, k_max + 1, device=needed.device)
            top = ((needed.reshape(n * c, k_max).long() * ranks).amax(-1) - 1).clamp_min(0).cpu()
        dist = _KernelCount.apply(z, valid, k_max, top)
    else:
        dist = _pad_bins(_tree_product(_leaves(logits, lengths, False), k_eff, False), k_max, 0.0)
    log_fast = torch.log(dist.clamp_min(FAST_PATH_MIN_PROB))
    small = dist < FAST_PATH_MIN_PROB
    if needed is not None:
        small = small & needed.reshape(n * c, k_max).to(small.device)
    rows = small.any(dim=-1).nonzero().squeeze(-1)
    if rows.numel():
        exact = _tree_product(_leaves(logits, lengths, True)[rows], k_eff, True)
        exact = _pad_bins(exact, k_max, LOG_ZERO)
        log_fast = log_fast.index_put((rows,), exact)
    # LOG_ZERO marks bins that are impossible (count > frames): report them as -inf.
    log_y = torch.where(log_fast <= LOG_ZERO / 2, torch.full_like(log_fast, -math.inf), log_fast)
    return log_y.reshape(n, c, k_max).to(logits.dtype)


def running_count_distribution(
    logits: torch.Tensor, *, lengths: torch.Tensor | None = None, k_max: int
) -> torch.Tensor:
    """Every running distribution ``log Y(k, t)`` (LoCo [1] Fig. 1), for plots and analysis.

    Sequential log-space recursion, not differentiable. ``logits``: ``(N, T, C)``. Returns
    ``(N, T, C, K)`` log-probabilities after frames ``0..t``; frames after a sequence's length repeat
    its final distribution.
    """
    with torch.no_grad():
        logp, log1mp = bernoulli_log_probs(logits.double())
        logp, log1mp = mask_frames(logp, log1mp, lengths)
        n, t, c = logp.shape
        lp = logp.permute(1, 0, 2).reshape(t, n * c)
        l1 = log1mp.permute(1, 0, 2).reshape(t, n * c)
        alpha = _forward_messages(lp, l1, k_max)
        return alpha[1:].reshape(t, n, c, k_max).permute(1, 0, 2, 3).to(logits.dtype)


def count_nll(
    logits: torch.Tensor,
    counts: torch.Tensor,
    *,
    lengths: torch.Tensor | None = None,
    k_max: int,
) -> torch.Tensor:
    """Negative log-likelihood ``-log P(Y = y)`` of observed counts (LoCo [1] eq. 7), per sequence and class.

    Counts at or above ``k_max - 1`` are scored against the absorbing bin (never dropped): the model
    is asked for "at least ``k_max - 1`` events".

    Parameters
    ----------
    logits:
        ``(N, T, C)`` per-frame event logits.
    counts:
        ``(N, C)`` non-negative integer counts.
    lengths:
        ``(N,)`` valid lengths in frames, or ``None``.
    k_max:
        Number of bins ``K``.

    Returns
    -------
    torch.Tensor
        ``(N, C)`` non-negative losses in nats (``+inf`` only for an impossible count, e.g. more events
        than valid frames).
    """
    if logits.ndim != 3:
        raise ValueError(f"logits must have shape (N, T, C), got {tuple(logits.shape)}; "
                         "add the missing axes, e.g. logits[None] or logits[..., None]")
    counts = torch.as_tensor(counts, device=logits.device).long()
    if counts.shape != (logits.shape[0], logits.shape[2]):
        raise ValueError(
            f"counts must have shape {(logits.shape[0], logits.shape[2])}, got {tuple(counts.shape)}"
        )
    if (counts < 0).any():
        raise ValueError("counts must be non-negative")
    idx = counts.clamp(max=k_max - 1)
    needed = F.one_hot(idx, k_max).bool()
    log_y = count_log_distribution(logits, lengths=lengths, k_max=k_max, needed=needed)
    return -log_y.gather(-1, idx.unsqueeze(-1)).squeeze(-1)


def linear_count_distribution(probs: torch.Tensor, k_max: int) -> torch.Tensor:
    """Reference: the authors' linear-space recursion, differentiated by autograd.

    This is the baseline the benchmarks compare against (and what the original code computes,
    without the ``+1e-9``). ``probs``: ``(N, T, C)``; returns ``(N, C, K)`` probabilities (not logs).
    It underflows for long or confident sequences; use it only for comparison.
    """
    n, t, c = probs.shape
    p = probs.permute(1, 0, 2).reshape(t, n * c, 1)
    state = torch.zeros(n * c, k_max, dtype=probs.dtype, device=probs.device)
    state = state.index_fill(1, torch.tensor([0], device=probs.device), 1.0)
    keep = torch.ones(k_max, dtype=probs.dtype, device=probs.device)
    keep[-1] = 0.0  # the absorbing bin loses nothing
    for step in range(t):
        moved = state * p[step]
        state = state - moved * keep + F.pad(moved[:, :-1], (1, 0))
    return state.reshape(n, c, k_max)
