import pytest
import torch

from loco_cli.config import DRUM_MODEL, PIANO_MODEL, ModelConfig
from loco_cli.counting import count_log_distribution, initial_bias
from loco_cli.losses import mil_loss
from loco_cli.networks import CRNN, FCN, build_model, count_parameters


def test_drum_preset_is_near_the_papers_size():
    model = build_model(DRUM_MODEL)
    assert 15_000 <= count_parameters(model) <= 22_000  # paper: ~18k
    assert isinstance(model, CRNN)


@pytest.mark.parametrize("cfg", [DRUM_MODEL, ModelConfig(rnn="gru"), ModelConfig(arch="fcn", fcn_scales=2)])
def test_shapes(cfg):
    model = build_model(cfg)
    x = torch.randn(2, 37, cfg.in_channels, cfg.n_bands)
    assert model(x).shape == (2, 37, cfg.n_classes)


def test_piano_preset_shapes():
    model = build_model(PIANO_MODEL)
    assert model(torch.randn(1, 12, 2, 384)).shape == (1, 12, 88)


def test_three_dimensional_input_is_one_channel():
    cfg = ModelConfig(in_channels=1, n_bands=72)
    assert build_model(cfg)(torch.randn(2, 10, 72)).shape == (2, 10, 3)


@pytest.mark.parametrize("rnn", ["lstm", "gru"])
def test_crnn_is_causal(rnn):
    model = build_model(ModelConfig(rnn=rnn)).eval()
    x = torch.randn(2, 60, 2, 72)
    y = model(x)
    x2 = x.clone()
    x2[:, 40:] += 3.0
    torch.testing.assert_close(model(x2)[:, :40], y[:, :40], rtol=0, atol=0)
    assert (model(x2)[:, 40:] - y[:, 40:]).abs().max() > 0


def test_streaming_equals_one_pass():
    model = build_model(DRUM_MODEL).eval()
    x = torch.randn(3, 101, 2, 72)
    whole = model(x)
    state, parts = None, []
    for a, b in [(0, 1), (1, 2), (2, 33), (33, 34), (34, 101)]:
        out, state = model.stream(x[:, a:b], state)
        parts.append(out)
    torch.testing.assert_close(torch.cat(parts, 1), whole, rtol=1e-6, atol=1e-6)


def test_output_bias_is_eq15_and_initial_count_mass_is_near_w():
    cfg = ModelConfig(init_frames=300, init_mass_at_zero=0.8)
    model = build_model(cfg)
    assert model.out.bias.detach().allclose(torch.full((3,), initial_bias(300, 0.8)))
    with torch.no_grad():
        logits = model(torch.randn(8, 300, 2, 72))
        p0 = count_log_distribution(logits, k_max=10)[..., 0].exp()
    # Xavier-initialised hidden weights perturb the bias a little: the mean stays near w.
    assert 0.5 < p0.mean().item() < 0.95


def test_normalisation_is_stored_in_the_state_dict():
    model = build_model(DRUM_MODEL)
    model.norm.set(torch.full((2, 72), 3.0), torch.full((2, 72), 2.0))
    state = model.state_dict()
    assert "norm.mean" in state and state["norm.std"].max() == 2.0
    clone = build_model(DRUM_MODEL)
    clone.load_state_dict(state)
    x = torch.randn(1, 5, 2, 72)
    torch.testing.assert_close(clone(x), model(x))


def test_fcn_learns_its_gaussian_width():
    model = FCN(ModelConfig(arch="fcn", fcn_sigma_init=3.0))
    assert model.sigma.detach().allclose(torch.full((3,), 3.0))
    logits = model(torch.randn(2, 50, 2, 72))
    mil_loss(logits, torch.tensor([[1, 0, 1], [0, 0, 1]])).backward()
    assert model.log_sigma.grad is not None and model.log_sigma.grad.abs().sum() > 0


def test_bad_pooling_is_rejected():
    with pytest.raises(ValueError):
        build_model(ModelConfig(freq_pools=(2, 2, 2, 3, 3, 4)))


def test_frequency_pooling_equals_max_pool2d():
    import torch.nn.functional as F

    from loco_cli.networks import _pool_frequency

    x = torch.randn(2, 3, 7, 23)
    for pool in (2, 3, 4):
        with torch.no_grad():
            assert torch.equal(_pool_frequency(x, pool), F.max_pool2d(x, (1, pool)))
        assert torch.equal(_pool_frequency(x, pool), F.max_pool2d(x, (1, pool)))
