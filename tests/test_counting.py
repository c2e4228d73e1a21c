import itertools
import math

import pytest
import torch

from loco_cli import counting
from loco_cli.counting import (
    count_log_distribution,
    count_nll,
    initial_bias,
    linear_count_distribution,
    running_count_distribution,
)


def brute_force(p: torch.Tensor, k_max: int) -> torch.Tensor:
    """Enumerate all 2^T event patterns (LoCo [1] eq. 6), folding counts >= K-1 into the last bin."""
    dist = torch.zeros(k_max, dtype=torch.float64)
    for bits in itertools.product([0, 1], repeat=p.numel()):
        w = 1.0
        for b, q in zip(bits, p.tolist(), strict=False):
            w *= q if b else 1.0 - q
        dist[min(sum(bits), k_max - 1)] += w
    return dist


@pytest.mark.parametrize("t,k_max", [(1, 2), (5, 3), (7, 4), (9, 12), (12, 5), (12, 13)])
def test_matches_brute_force_enumeration(backend, gen, t, k_max):
    logits = torch.randn(2, t, 2, generator=gen, dtype=torch.float64) * 2
    log_y = count_log_distribution(logits, k_max=k_max)
    p = torch.sigmoid(logits)
    for n in range(2):
        for c in range(2):
            ref = brute_force(p[n, :, c], k_max)
            torch.testing.assert_close(log_y[n, c].exp(), ref, rtol=1e-12, atol=1e-15)


def test_log_space_tree_matches_brute_force(gen):
    logits = torch.randn(3, 10, 1, generator=gen, dtype=torch.float64)
    leaves = counting._leaves(logits, None, log_space=True)
    log_y = counting._tree_product(leaves, 6, log_space=True)
    p = torch.sigmoid(logits)
    for n in range(3):
        torch.testing.assert_close(log_y[n].exp(), brute_force(p[n, :, 0], 6), rtol=1e-12, atol=1e-15)


def test_matches_float64_sequential_reference_on_long_sequences(backend, gen):
    logits = torch.randn(4, 400, 3, generator=gen, dtype=torch.float64) * 3 - 4
    ours = count_log_distribution(logits, k_max=31)
    ref = running_count_distribution(logits, k_max=31)[:, -1]
    big = ref > math.log(1e-200)
    torch.testing.assert_close(ours[big], ref[big], rtol=1e-10, atol=1e-10)
    # The authors' linear recursion agrees where it does not underflow.
    lin = linear_count_distribution(torch.sigmoid(logits), 31)
    torch.testing.assert_close(ours.exp(), lin, rtol=1e-9, atol=1e-300)


def test_distribution_sums_to_one_and_is_float32_for_float32_input(backend, gen):
    logits = torch.randn(5, 300, 2, generator=gen) * 2 - 3
    log_y = count_log_distribution(logits, k_max=20)
    assert log_y.dtype == torch.float32
    torch.testing.assert_close(log_y.double().exp().sum(-1), torch.ones(5, 2, dtype=torch.float64))


@pytest.mark.parametrize("k_max", [3, 6])
def test_gradcheck_with_lengths(backend, gen, k_max):
    # Lengths >= K - 1 keep every bin possible (an impossible bin is -inf, where finite differences fail).
    logits = torch.randn(3, 9, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([9, 5, 6])
    assert torch.autograd.gradcheck(
        lambda z: count_log_distribution(z, lengths=lengths, k_max=k_max), (logits,)
    )


def test_gradcheck_of_nll_through_log_space_fallback(gen):
    # Confident logits make P(Y = y) astronomically small: the log-space path must carry gradients.
    logits = (torch.randn(2, 8, 1, generator=gen, dtype=torch.float64) + 90).requires_grad_(True)
    counts = torch.tensor([[0], [1]])
    assert torch.autograd.gradcheck(lambda z: count_nll(z, counts, k_max=4), (logits,))


def test_underflow_loss_and_gradient_are_exact(backend):
    # P(Y = 0) = sigmoid(-12)^400 ~ 1e-2085: far below float32 and float64 ranges.
    logits = torch.full((1, 400, 1), 12.0, requires_grad=True)
    nll = count_nll(logits, torch.tensor([[0]]), k_max=32)
    expected = 400 * torch.nn.functional.softplus(torch.tensor(12.0, dtype=torch.float64))
    assert torch.isfinite(nll).all()
    assert abs(nll.item() - expected.item()) < 1e-2
    nll.sum().backward()
    # d(-log P)/dz = p - P(E=1 | Y=0) = sigmoid(12) on every frame.
    torch.testing.assert_close(logits.grad, torch.full_like(logits, torch.sigmoid(torch.tensor(12.0)).item()))


def test_underflow_in_the_middle_bins(backend):
    # Half the frames certain, half impossible: P(Y = 3) with 200 near-certain events underflows.
    logits = torch.cat([torch.full((1, 200, 1), 15.0), torch.full((1, 200, 1), -15.0)], 1)
    logits.requires_grad_(True)
    nll = count_nll(logits, torch.tensor([[3]]), k_max=250)
    assert torch.isfinite(nll).all() and nll.item() > 1000
    nll.sum().backward()
    assert torch.isfinite(logits.grad).all()
    assert logits.grad.abs().max() <= 1.0 + 1e-6


def test_authors_epsilon_loss_saturates_where_ours_does_not():
    logits = torch.full((1, 400, 1), 12.0, requires_grad=True)
    lin = linear_count_distribution(torch.sigmoid(logits), 32)[0, 0, 0]
    authors = -torch.log(lin + 1e-9)
    authors.backward()
    assert abs(authors.item() - (-math.log(1e-9))) < 1e-3  # clamped at 20.7 nats
    assert logits.grad.abs().max() == 0  # ... and its gradient vanished


def test_absorbing_bin_collects_all_counts_above(backend, gen):
    logits = torch.randn(2, 50, 1, generator=gen, dtype=torch.float64) + 1  # ~36 events expected
    k_max = 10
    log_y = count_log_distribution(logits, k_max=k_max)
    full = count_log_distribution(logits, k_max=51)
    torch.testing.assert_close(log_y[..., :-1], full[..., : k_max - 1])
    torch.testing.assert_close(log_y[..., -1], torch.logsumexp(full[..., k_max - 1 :], -1))
    # Counts at or above K - 1 are scored against the absorbing bin, never against zero.
    nll_big = count_nll(logits, torch.tensor([[40], [9]]), k_max=k_max)
    assert torch.isfinite(nll_big).all()
    torch.testing.assert_close(nll_big[:, 0], -log_y[:, 0, -1])


def test_lengths_equal_truncated_sequences_and_mask_gradients(backend, gen):
    logits = torch.randn(2, 30, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([30, 17])
    log_y = count_log_distribution(logits, lengths=lengths, k_max=8)
    short = count_log_distribution(logits[1:, :17], k_max=8)
    torch.testing.assert_close(log_y[1], short[0])
    log_y[..., 2].sum().backward()
    assert logits.grad[1, 17:].abs().max() == 0
    assert logits.grad[1, :17].abs().max() > 0


def test_initial_bias_puts_mass_w_on_zero(backend):
    for t, w in [(400, 0.8), (300, 0.5), (37, 0.9)]:
        bias = initial_bias(t, w)
        log_y = count_log_distribution(torch.full((1, t, 1), bias, dtype=torch.float64), k_max=5)
        assert abs(log_y[0, 0, 0].exp().item() - w) < 1e-12
    root = 0.8 ** (1 / 400)
    assert initial_bias(400, 0.8) == pytest.approx(math.log((1 - root) / root))
    assert round(initial_bias(400, 0.8), 2) == -7.49  # the value quoted in the notes
    with pytest.raises(ValueError):
        initial_bias(10, 1.0)


def test_running_distributions_are_irreversible_and_end_at_final(gen):
    logits = torch.randn(2, 60, 2, generator=gen, dtype=torch.float64)
    running = running_count_distribution(logits, k_max=12)
    assert running.shape == (2, 60, 2, 12)
    torch.testing.assert_close(running[:, -1], count_log_distribution(logits, k_max=12))
    # Property 1 (mass shift irreversibility): P(Y_t <= k) never increases with t.
    cdf = running.exp().cumsum(-1)
    assert (cdf[:, 1:] <= cdf[:, :-1] + 1e-12).all()
    # Lemma 1 (decreasing maximum, eq. 8) holds for the untruncated distribution (K = T + 1);
    # the absorbing bin of eq. 14 can only gain mass, so it is checked without truncation.
    peak = running_count_distribution(logits, k_max=61).exp().amax(-1)
    assert (peak[:, 1:] <= peak[:, :-1] + 1e-12).all()


def test_kernel_and_torch_paths_agree_on_values_and_gradients(gen):
    logits = torch.randn(4, 257, 3, generator=gen) * 2 - 3
    counts = torch.randint(0, 8, (4, 3), generator=gen)
    grads = []
    for name in ("auto", "torch"):
        counting.set_backend(name)
        z = logits.clone().requires_grad_(True)
        loss = count_nll(z, counts, k_max=16).sum()
        loss.backward()
        grads.append((loss.detach(), z.grad))
    counting.set_backend("auto")
    torch.testing.assert_close(grads[0][0], grads[1][0])
    torch.testing.assert_close(grads[0][1], grads[1][1], atol=1e-6, rtol=1e-5)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        count_log_distribution(torch.zeros(2, 3, 1), k_max=1)
    with pytest.raises(ValueError):
        count_log_distribution(torch.zeros(2, 3), k_max=4)
    with pytest.raises(ValueError):
        count_nll(torch.zeros(2, 3, 1), torch.tensor([[-1], [0]]), k_max=4)
    with pytest.raises(ValueError):
        count_nll(torch.zeros(2, 3, 1), torch.tensor([0, 0]), k_max=4)


@pytest.mark.parametrize("k_max", [2, 5, 12])
def test_count_nll_on_truncated_bins_equals_the_whole_distribution(gen, k_max):
    # count_nll asks only for the bins of the observed counts: the CPU kernels then compute each row's
    # bins up to its count, the torch tree the batch's highest count + 1. The loss and its gradient
    # equal those read from the whole distribution (every bin, absorbing bin K - 1 included), for
    # counts of 0, middling, and at or above K - 1.
    logits = torch.randn(3, 30, 4, generator=gen, dtype=torch.float64) * 2 - 1
    counts = torch.tensor([[0, 1, k_max - 1, k_max + 3], [2, 0, 1, k_max - 2], [k_max, 3, 0, 1]]).clamp(max=29)
    lengths = torch.tensor([30, 17, 25])
    z = logits.clone().requires_grad_(True)
    whole = count_log_distribution(z, lengths=lengths, k_max=k_max)
    ref = -whole.gather(-1, counts.clamp(max=k_max - 1).unsqueeze(-1)).squeeze(-1)
    ref.sum().backward()
    for name in ("auto", "torch"):
        for batch in (counts, counts.clamp(max=1)):  # the second: the torch tree carries 3 bins of K
            counting.set_backend(name)
            try:
                expected = ref if batch is counts else None
                zz = logits.clone().requires_grad_(True)
                nll = count_nll(zz, batch, lengths=lengths, k_max=k_max)
                nll.sum().backward()
            finally:
                counting.set_backend("auto")
            if expected is None:
                z2 = logits.clone().requires_grad_(True)
                full = count_log_distribution(z2, lengths=lengths, k_max=k_max)
                expected = -full.gather(-1, batch.clamp(max=k_max - 1).unsqueeze(-1)).squeeze(-1)
                expected.sum().backward()
                grad = z2.grad
            else:
                grad = z.grad
            torch.testing.assert_close(nll, expected.detach(), rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(zz.grad, grad, rtol=1e-10, atol=1e-12)


def test_truncated_kernels_leave_the_needed_bins_bit_identical(gen):
    import numpy as np

    from loco_cli import _count_kernels

    p = torch.sigmoid(torch.randn(6, 40, generator=gen, dtype=torch.float64)).numpy()
    q = 1.0 - p
    whole = _count_kernels.count_distribution(q, p, 9, np.full(6, 8, dtype=np.int64))
    top = np.array([0, 1, 3, 7, 8, 20], dtype=np.int64)
    part = _count_kernels.count_distribution(q, p, 9, top)
    for r, m in enumerate(np.minimum(top, 8)):
        assert np.array_equal(part[r, : m + 1], whole[r, : m + 1]) and not part[r, m + 1 :].any()
