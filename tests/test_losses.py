import pytest
import torch
import torch.nn.functional as F

from loco_cli.config import LossConfig
from loco_cli.counting import count_log_distribution, count_nll
from loco_cli.losses import (
    ce_loss,
    compute_loss,
    count_cross_entropy,
    gaussian_kernel,
    loco_loss,
    mil_loss,
    oss_loss,
    smooth,
    softloc_alpha,
    softloc_loss,
    teacher_mixed_target,
)


def _batch(gen, n=3, t=40, c=2):
    logits = torch.randn(n, t, c, generator=gen) * 2 - 3
    labels = torch.zeros(n, t, c)
    labels[0, 5, 0] = labels[0, 20, 0] = labels[1, 7, 1] = labels[2, 30, 0] = 1
    lengths = torch.tensor([t, t - 5, t - 8])
    counts = labels.sum(1).long()
    return logits, labels, lengths, counts


def test_loco_is_the_mean_count_nll(gen):
    logits, _, lengths, counts = _batch(gen)
    expected = count_nll(logits, counts, lengths=lengths, k_max=8).mean()
    torch.testing.assert_close(loco_loss(logits, counts, lengths, k_max=8), expected)


def test_softloc_alpha_schedule_matches_the_paper_defaults():
    cfg = LossConfig(alpha_start=1e5, alpha_ramp=1e5, alpha_min=0.2, alpha_max=0.9)
    assert softloc_alpha(0, cfg) == 0.2
    assert softloc_alpha(120_000, cfg) == pytest.approx(0.2)
    assert softloc_alpha(160_000, cfg) == pytest.approx(0.6)  # where the MAPS run stopped
    assert softloc_alpha(190_000, cfg) == pytest.approx(0.9)
    assert softloc_alpha(10**7, cfg) == 0.9


def test_softloc_endpoints(gen):
    logits, labels, lengths, counts = _batch(gen)
    full_count = softloc_loss(logits, labels, counts, lengths, k_max=8, sigma=3.0, alpha=1.0)
    torch.testing.assert_close(full_count, loco_loss(logits, counts, lengths, k_max=8))
    # Perfect point predictions make the smoothed term vanish.
    perfect = torch.where(labels > 0, 30.0, -30.0)
    sll = softloc_loss(perfect, labels, counts, lengths, k_max=8, sigma=3.0, alpha=0.0)
    assert sll.item() < 1e-10
    # A prediction 2 frames late costs less than one 10 frames late: the loss is soft in time.
    late2 = torch.roll(perfect, 2, dims=1)
    late10 = torch.roll(perfect, 10, dims=1)
    l2 = softloc_loss(late2, labels, counts, None, k_max=8, sigma=3.0, alpha=0.0)
    l10 = softloc_loss(late10, labels, counts, None, k_max=8, sigma=3.0, alpha=0.0)
    assert 0 < l2 < l10


@pytest.mark.parametrize("name", ["loco", "softloc", "oss", "ce", "mil"])
def test_padded_frames_never_matter(gen, name):
    logits, labels, lengths, counts = _batch(gen)
    batch = {"counts": counts, "frame_labels": labels, "lengths": lengths}
    cfg = LossConfig(name=name, k_max=8, sigma_frames=3.0)
    ref = compute_loss(name, logits, batch, cfg)
    changed = logits.clone()
    changed[1, 35:] = 25.0
    changed[2, 32:] = -25.0
    torch.testing.assert_close(compute_loss(name, changed, batch, cfg), ref)
    z = logits.clone().requires_grad_(True)
    compute_loss(name, z, batch, cfg).backward()
    assert z.grad[1, 35:].abs().max() == 0 and z.grad[2, 32:].abs().max() == 0
    assert torch.isfinite(z.grad).all()


def test_ce_is_framewise_bce_on_valid_frames(gen):
    logits, labels, lengths, _ = _batch(gen)
    manual = torch.cat(
        [
            F.binary_cross_entropy_with_logits(logits[i, :n], labels[i, :n], reduction="none").flatten()
            for i, n in enumerate(lengths.tolist())
        ]
    ).mean()
    torch.testing.assert_close(ce_loss(logits, labels, lengths), manual)


def test_oss_target_is_the_peak_normalised_gaussian(gen):
    kernel = gaussian_kernel(2.0)
    assert kernel.max() == 1.0 and kernel.numel() == 2 * 8 + 1
    labels = torch.zeros(1, 30, 1)
    labels[0, 10, 0] = 1
    target = smooth(labels, 2.0)
    assert target[0, 10, 0] == 1.0 and target[0, 8, 0] == pytest.approx(torch.exp(torch.tensor(-0.5)).item())
    logits = torch.logit(target.clamp(1e-6, 1 - 1e-6))
    assert oss_loss(logits, labels, sigma=2.0) < 1e-10


def test_mil_pooling(gen):
    logits = torch.full((2, 10, 1), -10.0)
    logits[0, 4, 0] = 10.0  # one confident frame in clip 0
    presence = torch.tensor([[1], [0]])
    assert mil_loss(logits, presence, pooling="max") < 1e-3
    assert mil_loss(logits, 1 - presence, pooling="max") > 5
    assert mil_loss(logits, presence, pooling="mean") > mil_loss(logits, presence, pooling="max")
    with pytest.raises(ValueError):
        mil_loss(logits, presence, pooling="median")


def test_teacher_mixing(gen):
    logits, _, lengths, counts = _batch(gen)
    teacher = count_log_distribution(torch.randn(3, 40, 2, generator=gen) - 3, k_max=8)
    target = teacher_mixed_target(counts, teacher, 0.3, 8)
    torch.testing.assert_close(target.sum(-1), torch.ones(3, 2))
    # Weight 1 reduces to the plain count loss.
    pure = teacher_mixed_target(counts, teacher, 1.0, 8)
    torch.testing.assert_close(
        count_cross_entropy(logits, pure, lengths, k_max=8), loco_loss(logits, counts, lengths, k_max=8)
    )
    batch = {"counts": counts, "lengths": lengths, "teacher_log_dist": teacher}
    z = logits.clone().requires_grad_(True)
    loss = compute_loss("loco", z, batch, LossConfig(k_max=8, teacher_weight=0.3))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()
    # Cross-entropy against a distribution is minimised by matching it: lower than against a point mass.
    assert loss > 0


def test_unknown_loss_name_is_rejected():
    with pytest.raises(ValueError):
        LossConfig(name="focal")
