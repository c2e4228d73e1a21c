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
def _step(src, dst, q, p, k_max):  # pragma: no cover - compiled
    """One frame of eq. 9: ``dst[k] = q src[k] + p src[k-1]``; bin ``K-1`` absorbs."""
    dst[k_max - 1] = (q + p) * src[k_max - 1] + p * src[k_max - 2]
    for k in range(k_max - 2, 0, -1):
        dst[k] = q * src[k] + p * src[k - 1]
    dst[0] = q * src[0]


@nb.njit(parallel=True, cache=True)
def count_distribution(q, p, k_max):  # pragma: no cover - compiled
    """Final count distributions. ``q = 1 - p`` and ``p``: ``(R, T)`` float64 -> ``(R, K)``."""
    rows, frames = p.shape
    out = np.zeros((rows, k_max))
    for r in nb.prange(rows):
        a = np.zeros(k_max)
        b = np.zeros(k_max)
        a[0] = 1.0
        for t in range(frames):
            _step(a, b, q[r, t], p[r, t], k_max)
            a, b = b, a
        out[r] = a
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
    """
    rows, frames = p.shape
    k_max = weights.shape[1]
    grad = np.zeros((rows, frames))
    for r in nb.prange(rows):
        alpha = np.zeros((frames + 1, k_max))
        alpha[0, 0] = 1.0
        for t in range(frames):
            _step(alpha[t], alpha[t + 1], q[r, t], p[r, t], k_max)
        beta = weights[r].copy()
        prev = np.empty(k_max)
        for t in range(frames - 1, -1, -1):
            pt = p[r, t]
            qt = q[r, t]
            event = 0.0
            none = 0.0
            for a in range(k_max - 1):
                event += alpha[t, a] * beta[a + 1]
                none += alpha[t, a] * beta[a]
            last = alpha[t, k_max - 1] * beta[k_max - 1]
            event += last
            none += last
            grad[r, t] = qt * pt * event - pt * qt * none
            for a in range(k_max - 1):
                prev[a] = qt * beta[a] + pt * beta[a + 1]
            prev[k_max - 1] = (qt + pt) * beta[k_max - 1]
            beta, prev = prev, beta
    return grad
