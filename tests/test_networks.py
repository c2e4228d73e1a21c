import numpy as np
import pytest
import torch

from loco_cli.config import DRUM_MODEL, PAPER_PIANO_MODEL, PIANO_FEATURES, PIANO_MODEL, ModelConfig
from loco_cli.counting import count_log_distribution, initial_bias
from loco_cli.losses import mil_loss
from loco_cli.networks import CRNN, FCN, KeyNet, _RowConv, build_model, count_parameters


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
    assert isinstance(model, KeyNet)
    # on the piano features (three channels) the preset is the shipped model's size
    assert count_parameters(build_model(PIANO_MODEL.replace(in_channels=PIANO_FEATURES.n_channels))) == 21_305
    assert model(torch.randn(1, 12, 2, 384)).shape == (1, 12, 88)
    paper = build_model(PAPER_PIANO_MODEL)
    assert 250_000 <= count_parameters(paper) <= 400_000  # paper: ~0.28 M (per 10-key band)
    assert paper(torch.randn(1, 12, 2, 384)).shape == (1, 12, 88)


def _keynet(pitches=(21, 60, 69, 108), context=False, mix=0, span=12):
    from loco_cli.config import PIANO_FEATURES
    from loco_cli.features import mel_centers

    # Xavier output weights (not the preset's zeros), so that the logits depend on the input and the tests see it
    cfg = PIANO_MODEL.replace(n_classes=len(pitches), key_context=context, key_mix=mix, key_mix_span=span,
                              key_out_zero=False)
    model = build_model(cfg)
    model.set_layout(mel_centers(PIANO_FEATURES), list(pitches))
    return model, mel_centers(PIANO_FEATURES)


def test_keynet_reads_each_key_at_its_partials():
    model, centres = _keynet()
    ratios = torch.tensor(PIANO_MODEL.key_ratios, dtype=torch.float64)
    # A4 = 440 Hz: every partial r * 440 is read by interpolating the two bands around it
    read = (torch.from_numpy(centres)[model.band_index[2]] * model.band_weight[2].double()).sum(-1)
    inside = model.band_weight[2].sum(-1) > 0
    assert inside.all()  # 220 .. 3520 Hz all lie within 27.5 .. 7270 Hz
    torch.testing.assert_close(read, 440.0 * ratios, rtol=2e-3, atol=0)
    # partials beyond the top band read nothing: C8's 2nd partial (8.4 kHz) is above 7.27 kHz
    top = model.band_weight[3].sum(-1)
    assert top[PIANO_MODEL.key_ratios.index(1.0)] == 1 and top[PIANO_MODEL.key_ratios.index(2.0)] == 0
    # A0's half-frequency partial (13.75 Hz) is below the lowest band
    assert model.band_weight[0].sum(-1)[0] == 0
    assert model.position.tolist() == pytest.approx([(p - 64.5) / 24 for p in (21, 60, 69, 108)])


@pytest.mark.parametrize("context", [False, True])
def test_keynet_shares_weights_across_keys(context):
    """Keys differ only in the bands they read, their position input and their output bias: two keys
    pointed at the same bands with the same position and bias give the same logits."""
    model, _ = _keynet((57, 69), context)  # A3, A4
    model.eval()
    x = torch.randn(2, 50, 2, 384)
    with torch.no_grad():
        before = model(x)
        model.band_index[1] = model.band_index[0]
        model.band_weight[1] = model.band_weight[0]
        model.position[1] = model.position[0]
        model.key_bias[1] = model.key_bias[0]
        y = model(x)
    assert not torch.allclose(before[..., 0], before[..., 1])
    torch.testing.assert_close(y[..., 0], y[..., 1], rtol=0, atol=0)
    torch.testing.assert_close(y[..., 0], before[..., 0], rtol=0, atol=0)


@pytest.mark.parametrize("context", [False, True])
def test_keynet_is_causal_and_streams_exactly(context):
    model, _ = _keynet(context=context)
    model.eval()
    x = torch.randn(2, 90, 2, 384)
    with torch.no_grad():
        y = model(x)
        x2 = x.clone()
        x2[:, 50:] += 3.0
        assert torch.equal(model(x2)[:, :50], y[:, :50])
        state, parts = None, []
        for a, b in [(0, 1), (1, 17), (17, 18), (18, 90)]:
            out, state = model.stream(x[:, a:b], state)
            parts.append(out)
    torch.testing.assert_close(torch.cat(parts, 1), y, rtol=1e-5, atol=1e-5)


def test_keynet_context_is_band_mean_and_flux():
    """With ``key_context`` the first layer reads 2 x channels more inputs: each channel's mean over bands
    and its rectified rise since the frame before (0 at the first frame), the same for every key."""
    model, _ = _keynet((60,), context=True)
    plain, _ = _keynet((60,))
    assert model.convs[0].in_channels == plain.convs[0].in_channels + 2 * PIANO_MODEL.in_channels
    model.eval()
    seen = []
    model.convs[0].register_forward_pre_hook(lambda mod, args: seen.append(args[0]))
    x = torch.zeros(1, 4, 2, 384)
    x[0, 2, 0, :192] = 2.0  # frame 2: half the bands of channel 0 rise by 2, frame 3 falls back
    with torch.no_grad():
        model(x)
    context = seen[0][0, -4:, -4:].t()  # (2 x channels, frames) after the causal padding
    torch.testing.assert_close(context[0], torch.tensor([0.0, 0.0, 1.0, 0.0]))  # band mean, channel 0
    torch.testing.assert_close(context[1], torch.zeros(4))
    torch.testing.assert_close(context[2], torch.tensor([0.0, 0.0, 1.0, 0.0]))  # flux: the rise only
    torch.testing.assert_close(context[3], torch.zeros(4))
    assert "key_context" not in PIANO_MODEL.replace(key_context=False).to_dict()  # older files keep their hash
    assert PIANO_MODEL.key_context and not ModelConfig.from_dict({"arch": "keys"}).key_context  # older files: off
    assert ModelConfig.from_dict(model.cfg.to_dict()).key_context


def test_keynet_context_regions_average_their_own_bands():
    """``key_context_regions`` splits the bands into consecutive groups: a rise in the lower half of the
    bands shows in the first region's mean and flux only."""
    model, _ = _keynet((60,), context=True)
    model = build_model(model.cfg.replace(key_context_regions=2))
    model.eval()
    seen = []
    model.convs[0].register_forward_pre_hook(lambda mod, args: seen.append(args[0]))
    x = torch.zeros(1, 3, 2, 384)
    x[0, 1, 1, :96] = 4.0  # frame 1, channel 1: a quarter of the bands, all in the lower region
    with torch.no_grad():
        model(x)
    context = seen[0][0, -3:, -8:].t()  # rows: (mean, flux) x channels x regions, in that order
    expected = torch.zeros(8, 3)
    expected[1 * 2 + 0, 1] = 2.0  # mean, channel 1, lower region: 4 over half of its 192 bands
    expected[2 * 2 + 1 * 2 + 0, 1] = 2.0  # flux, channel 1, lower region
    torch.testing.assert_close(context, expected)
    with pytest.raises(ValueError):
        ModelConfig(arch="keys", key_context_regions=0)


def _bump_hidden(model) -> dict:
    """Hook the last temporal convolution: while the returned dict holds ``key`` and ``frame``, that key's
    hidden features (rows are batch x keys) in that frame (an index into the input's frames) rise by 5."""
    bump: dict = {}

    def hook(mod, args, out):
        if bump:
            out = out.clone()
            out[bump["key"], bump["frame"]] += 5.0  # out: (rows, frames, features)
        return out

    model.convs[-1].register_forward_hook(hook)
    return bump


def _live_mix(pitches, span=2):
    """A keys network (seeded) whose layer across keys (4 channels, ``span`` semitones) already does something:
    its zero-initialised expansion drawn at random; in eval mode."""
    torch.manual_seed(0)
    model, _ = _keynet(pitches, mix=4, span=span)
    torch.nn.init.normal_(model.mix_up.weight, std=0.5)
    return model.eval()


def test_keynet_mix_starts_as_the_network_without_it():
    """``key_mix``'s residual branch is initialised to zero: the same weights without it give the same logits."""
    torch.manual_seed(0)
    mixed, _ = _keynet(tuple(range(55, 66)), context=True, mix=8)
    plain, _ = _keynet(tuple(range(55, 66)), context=True)
    missing = plain.load_state_dict(mixed.state_dict(), strict=False)
    assert not missing.missing_keys and all(k.startswith("mix_") for k in missing.unexpected_keys)
    x = torch.randn(2, 30, 2, 384)
    with torch.no_grad():
        torch.testing.assert_close(mixed.eval()(x), plain.eval()(x), rtol=0, atol=0)
    off = PIANO_MODEL.replace(key_mix=0).to_dict()
    assert "key_mix" not in off and "key_mix_span" not in off  # older files keep their hash
    assert PIANO_MODEL.key_mix and not ModelConfig.from_dict({"arch": "keys"}).key_mix  # older files: off
    assert ModelConfig.from_dict(mixed.cfg.to_dict()).key_mix == 8
    with pytest.raises(ValueError):
        ModelConfig(arch="keys", key_mix=-1)


def test_keynet_mix_reaches_the_keys_within_its_span():
    """A change in one key's hidden features moves the logits of the keys up to ``key_mix_span`` semitones
    away in the same frame, and no others; the branch is causal and streams exactly."""
    model = _live_mix(tuple(range(48, 69)))
    x = torch.randn(1, 40, 2, 384)
    bump = _bump_hidden(model)
    with torch.no_grad():
        y = model(x)
        bump.update(key=10, frame=-10)
        z = model(x)
    moved = (z - y).abs()[0, -10]  # (keys,) in the bumped frame
    assert moved[8:13].min() > 0 and moved[:8].max() == 0 and moved[13:].max() == 0
    assert (z - y)[0, :-10].abs().max() == 0  # earlier frames untouched
    bump.clear()
    with torch.no_grad():
        state, parts = None, []
        for a, b in [(0, 7), (7, 8), (8, 40)]:
            out, state = model.stream(x[:, a:b], state)
            parts.append(out)
    torch.testing.assert_close(torch.cat(parts, 1), y, rtol=1e-5, atol=1e-5)


def test_keynet_mix_span_is_in_semitones_whatever_the_classes():
    """Classes that are not consecutive keys (a gap, another order) sit on a grid of semitones: keys 3
    semitones apart do not hear each other with a span of 2, keys 2 apart do, and the result does not depend
    on the order of the classes."""
    pitches = (60, 62, 65, 70)
    model = _live_mix(pitches)
    x = torch.randn(1, 12, 2, 384)
    bump = _bump_hidden(model)
    with torch.no_grad():
        y = model(x)
        bump.update(key=0, frame=-1)  # MIDI 60: reaches 62 (2 semitones), not 65 or 70
        z = model(x)
    moved = (z - y).abs()[0, -1]
    assert moved[1] > 0 and moved[2] == 0 and moved[3] == 0
    order = [2, 0, 3, 1]  # the same keys in another order of classes
    other, _ = _keynet(tuple(pitches[i] for i in order), mix=4, span=2)
    state = {k: v for k, v in model.state_dict().items() if k not in ("band_index", "band_weight", "position", "key_bias")}
    other.load_state_dict(state, strict=False)
    other.eval()
    with torch.no_grad():
        torch.testing.assert_close(other(x), y[..., order], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel, dilation, padding", [(1, 1, 0), (3, 1, 0), (3, 4, 0), (25, 1, 12)])
def test_row_conv_is_conv1d_on_rows_of_frames(kernel, dilation, padding):
    """``_RowConv`` (the keys network's layers) is ``Conv1d`` with the same parameters and state-dict keys, on
    rows laid out ``(rows, length, channels)``, in values and in gradients."""
    torch.manual_seed(0)
    row = _RowConv(5, 7, kernel, dilation=dilation, padding=padding)
    plain = torch.nn.Conv1d(5, 7, kernel, dilation=dilation, padding=padding)
    plain.load_state_dict(row.state_dict())
    x = torch.randn(3, 40, 5, requires_grad=True)
    x_plain = x.detach().transpose(1, 2).clone().requires_grad_()
    y, y_plain = row(x), plain(x_plain)
    torch.testing.assert_close(y, y_plain.transpose(1, 2), rtol=1e-5, atol=1e-5)
    y.square().sum().backward()
    y_plain.square().sum().backward()
    torch.testing.assert_close(x.grad, x_plain.grad.transpose(1, 2), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(row.weight.grad, plain.weight.grad, rtol=1e-4, atol=1e-4)


def test_keynet_layout_travels_in_the_state_dict():
    model, _ = _keynet()
    clone = build_model(model.cfg)
    clone.load_state_dict(model.state_dict())
    assert torch.equal(clone.band_index, model.band_index) and torch.equal(clone.position, model.position)
    with pytest.raises(ValueError):
        model.set_layout(np.zeros(10), [60])


def test_keynet_output_bias_is_eq15():
    model, _ = _keynet()
    assert model.key_bias.detach().allclose(torch.full((4,), initial_bias(300, 0.8)))


def test_keynet_output_weights_can_start_at_zero():
    """``key_out_zero``: every seed's first logits are the eq. 15 bias alone, and one gradient step moves the
    output weights (the rest of the network learns from the next); off, older model files keep their dict."""
    from loco_cli.config import PIANO_FEATURES
    from loco_cli.features import mel_centers

    x = torch.randn(2, 30, PIANO_MODEL.in_channels, PIANO_MODEL.n_bands)
    firsts = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = build_model(PIANO_MODEL.replace(n_classes=4, key_context=True, key_mix=4, key_out_zero=True))
        model.set_layout(mel_centers(PIANO_FEATURES), [21, 60, 69, 108])
        assert not model.out.weight.any()
        firsts.append(model(x))
    torch.testing.assert_close(firsts[0], firsts[1], rtol=0, atol=0)
    torch.testing.assert_close(firsts[0], torch.full_like(firsts[0], initial_bias(300, 0.8)))
    firsts[1].sigmoid().sum().backward()
    assert model.out.weight.grad.abs().sum() > 0
    torch.manual_seed(0)
    assert not build_model(PIANO_MODEL.replace(n_classes=4)).out.weight.any()  # the piano preset starts at zero
    assert build_model(PIANO_MODEL.replace(n_classes=4, key_out_zero=False)).out.weight.any()  # else Xavier
    assert "key_out_zero" not in PIANO_MODEL.replace(key_out_zero=False).to_dict()  # older model files read the same
    assert ModelConfig.from_dict(PIANO_MODEL.to_dict()).key_out_zero


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
    with pytest.raises(ValueError):
        ModelConfig(arch="keys", key_ratios=(0.0, 1.0))
    with pytest.raises(ValueError):
        ModelConfig(arch="transformer")


def test_frequency_pooling_equals_max_pool2d():
    import torch.nn.functional as F

    from loco_cli.networks import _pool_frequency

    x = torch.randn(2, 3, 7, 23)
    for pool in (2, 3, 4):
        with torch.no_grad():
            assert torch.equal(_pool_frequency(x, pool), F.max_pool2d(x, (1, pool)))
        assert torch.equal(_pool_frequency(x, pool), F.max_pool2d(x, (1, pool)))
