"""Compiled CPU kernels for the count distribution (numba; compiled once and cached on disk).

Each row (one sequence and class) is independent; rows run in parallel over CPU cores. Within a row
the recursion of LoCo [1] eq. 9 (with the absorbing bin of eq. 14) runs over time in float64 linear
space, touching only ``K`` numbers per frame, so the working set stays in cache. The reverse pass
recomputes the row's forward messages into a thread-local ``(T + 1, K)`` buffer instead of storing
them for the whole batch (memory ``O(K)`` per row between the passes).

Callers (``loco_cli.counting``) guarantee that the probabilities they read are above the float64
fast-path threshold; anything smaller goes through the exact log-space path instead.
"""

from __future__ import annotations

import numba as nb
import numpy as np


def follow_torch_threads() -> None:
    """Run the kernels on as many threads as torch's intra-op pool (``torch.set_num_threads``), so
    one setting governs a process: a worker limited to one thread does not spawn numba threads."""
    import torch

    threads = torch.get_num_threads()
    nb.set_num_threads(max(1, min(threads, nb.config.NUMBA_NUM_THREADS)))
    # The first call starts numba's OpenMP layer, which sets OpenMP's thread count (torch's intra-op
    # pool in the CPU build) to NUMBA_NUM_THREADS: put torch's own setting back.
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


@nb.njit(cache=True, inline="always")
def _step(src, dst, q, p, width, absorbing):  # pragma: no cover - compiled
    """One frame of eq. 9 on bins ``0 .. width - 1``: ``dst[k] = q src[k] + p src[k-1]``. With
    ``absorbing`` (``width == K``) bin ``K-1`` absorbs (eq. 14); otherwise the bins above ``width - 1``
    are simply not computed (counts never decrease, so bins ``<= k`` never depend on bins above ``k``)."""
    top = width - 1
    if top > 0:
        if absorbing:
            dst[top] = (q + p) * src[top] + p * src[top - 1]
        else:
            dst[top] = q * src[top] + p * src[top - 1]
    for k in range(top - 1, 0, -1):
        dst[k] = q * src[k] + p * src[k - 1]
    if top > 0:
        dst[0] = q * src[0]
    elif absorbing:  # K == 1: everything is "at least 0"
        dst[0] = (q + p) * src[0]
    else:
        dst[0] = q * src[0]


@nb.njit(parallel=True, cache=True)
def count_distribution(q, p, k_max, top):  # pragma: no cover - compiled
    """Final count distributions. ``q = 1 - p`` and ``p``: ``(R, T)`` float64 -> ``(R, K)``.

    ``top``: ``(R,)`` int64, the highest bin each row needs (``K - 1``: all); bins above it are left at
    0, and the row costs ``O(T (top + 1))`` instead of ``O(T K)``. Bins up to ``top`` are exact."""
    rows, frames = p.shape
    out = np.zeros((rows, k_max))
    for r in nb.prange(rows):
        width = min(top[r], k_max - 1) + 1
        absorbing = width == k_max
        a = np.zeros(width)
        b = np.zeros(width)
        a[0] = 1.0
        for t in range(frames):
            _step(a, b, q[r, t], p[r, t], width, absorbing)
            a, b = b, a
        out[r, :width] = a
    return out


#: Reassociation lets the two dot products per frame vectorise; no flags that assume finite values.
_FAST = {"reassoc", "contract"}


@nb.njit(parallel=True, cache=True, fastmath=_FAST)
def logit_gradient(q, p, weights):  # pragma: no cover - compiled
    """Gradient w.r.t. the logits of ``sum_k g_k log P_k``, given ``weights[r, k] = g_k / P_k``.

    With forward messages ``alpha`` and backward messages ``beta`` (``beta`` at the final frame equals
    ``weights``), the gradient w.r.t. ``log p(t)`` is ``p(t) sum_a alpha(a, t) beta(next(a), t + 1)``
    and w.r.t. ``log(1 - p(t))`` is ``q(t) sum_a alpha(a, t) beta(a, t + 1)``; for the logit
    ``z = log p - log(1 - p)`` the chain rule gives ``q * d_logp - p * d_log1mp``. For the NLL of a
    single count this is ``p(t) - P(E(t) = 1 | Y = y)``. Returns ``(R, T)``.

    Only bins up to the highest non-zero weight ``m`` of a row take part: ``beta`` is zero above ``m``
    at every frame (it flows to lower bins only) and ``alpha`` up to ``m`` needs no bin above ``m``, so
    a row costs ``O(T (m + 1))``; for the NLL of a count ``y`` that is ``y + 1`` bins of ``K``.
    """
    rows, frames = p.shape
    k_max = weights.shape[1]
    grad = np.zeros((rows, frames))
    for r in nb.prange(rows):
        m = -1
        for k in range(k_max - 1, -1, -1):
            if weights[r, k] != 0.0:
                m = k
                break
        if m < 0:  # no weight: no gradient
            continue
        width = m + 1
        absorbing = width == k_max
        alpha = np.zeros((frames + 1, width))
        alpha[0, 0] = 1.0
        for t in range(frames):
            _step(alpha[t], alpha[t + 1], q[r, t], p[r, t], width, absorbing)
        beta = weights[r, :width].copy()
        prev = np.empty(width)
        for t in range(frames - 1, -1, -1):
            pt = p[r, t]
            qt = q[r, t]
            event = 0.0
            none = 0.0
            for a in range(width - 1):
                event += alpha[t, a] * beta[a + 1]
                none += alpha[t, a] * beta[a]
            last = alpha[t, width - 1] * beta[width - 1]
            none += last
            if absorbing:  # an event in the absorbing bin stays there
                event += last
            grad[r, t] = qt * pt * event - pt * qt * none
            for a in range(width - 1):
                prev[a] = qt * beta[a] + pt * beta[a + 1]
            prev[width - 1] = (qt + pt) * beta[width - 1] if absorbing else qt * beta[width - 1]
            beta, prev = prev, beta
    return grad
