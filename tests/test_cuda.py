"""The CUDA paths, checked against the CPU: count loss, training (AMP on and off), detection.

Marked ``cuda`` and skipped where torch sees no CUDA device (CI has none); ``benchmarks/gpu_check.sh``
runs them with ``pytest -m cuda`` whenever a GPU is at hand.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from loco_cli import counting
from loco_cli.checkpoint import load_model
from loco_cli.config import PRESETS, LossConfig, ModelConfig, TrainConfig
from loco_cli.counting import count_nll
from loco_cli.detection import activations, detect_samples
from loco_cli.networks import build_model
from loco_cli.synth import render_drum_track, render_piano_track
from loco_cli.train import train_run

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]

TINY = ModelConfig(conv_filters=(4, 4), freq_pools=(4, 4), rnn_hidden=8, fc_hidden=8)


@pytest.mark.parametrize("shape,k_max", [((8, 400, 3), 32), ((4, 400, 88), 42)])
def test_count_loss_and_gradient_match_the_cpu(shape, k_max):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(*shape, generator=gen) * 2 - 5
    counts = torch.randint(0, 6, shape[::2], generator=gen)
    out = []
    for dev in ("cpu", "cuda"):
        z = logits.detach().clone().to(dev).requires_grad_(True)
        nll = count_nll(z, counts.to(dev), k_max=k_max)
        nll.sum().backward()
        out.append((nll.detach().cpu(), z.grad.cpu()))
    torch.testing.assert_close(out[1][0], out[0][0], atol=1e-5, rtol=1e-6)
    torch.testing.assert_close(out[1][1], out[0][1], atol=1e-6, rtol=1e-5)


def test_count_loss_is_exact_far_below_float64_on_cuda():
    # P(Y = 0) = sigmoid(-12)^400 ~ 1e-2085: the log-space fallback must hold on the GPU too.
    logits = torch.full((1, 400, 1), 12.0, device="cuda", requires_grad=True)
    nll = count_nll(logits, torch.tensor([[0]], device="cuda"), k_max=32)
    expected = 400 * torch.nn.functional.softplus(torch.tensor(12.0, dtype=torch.float64))
    assert abs(nll.item() - expected.item()) < 1e-2
    nll.sum().backward()
    torch.testing.assert_close(logits.grad.cpu(), torch.full((1, 400, 1), torch.sigmoid(torch.tensor(12.0)).item()))


def test_the_cuda_path_is_the_torch_tree():
    # The numba kernels are CPU-only; CUDA tensors take the torch tree (tested against them on the CPU).
    counting.set_backend("torch")
    try:
        gen = torch.Generator().manual_seed(3)
        z = torch.randn(2, 100, 2, generator=gen)
        c = torch.randint(0, 4, (2, 2), generator=gen)
        cpu = count_nll(z, c, k_max=16)
    finally:
        counting.set_backend("auto")
    torch.testing.assert_close(count_nll(z.cuda(), c.cuda(), k_max=16).cpu(), cpu, atol=1e-5, rtol=1e-6)


@pytest.mark.parametrize("amp", [True, False])
def test_training_on_cuda_gives_a_model_that_loads_on_the_cpu(prepared, tmp_path, amp):
    events = []
    result = train_run(prepared, tmp_path / "run", loss=LossConfig(),
                       train=TrainConfig(steps=6, batch_size=4, val_every=3, log_every=1, amp=amp),
                       model=TINY, force=True, tensorboard=False, device="cuda",
                       on_event=lambda kind, info: events.append((kind, info)))
    start = dict(events)["start"]
    assert start["device"].startswith("cuda")
    losses = [info["loss"] for kind, info in events if kind == "log"]
    assert losses and all(np.isfinite(losses))
    loaded = load_model(result.model_path)  # saved from the GPU, read on the CPU
    assert next(loaded.model.parameters()).device.type == "cpu"


@pytest.fixture(scope="module")
def prepared_piano(tmp_path_factory):
    """A prepared tiny piano corpus (3 synthetic tracks of 4 s, seed 2, random split)."""
    from loco_cli.corpus import write_corpus
    from loco_cli.prepare import prepare_dataset

    root = tmp_path_factory.mktemp("tiny_piano")
    write_corpus("piano", root / "corpus", n_tracks=3, duration=4.0, seed=2)
    prepare_dataset(root / "corpus", root / "prep", preset="piano", split="random")
    return root / "prep"


@pytest.mark.parametrize("amp", [True, False])
@pytest.mark.parametrize("out_zero", [False, True])
def test_piano_network_trains_on_cuda(prepared_piano, tmp_path, amp, out_zero):
    # The shipped piano architecture (keys network, key context, key mix; output weights at zero or not):
    # finite losses on CUDA, and the model file loads on the CPU and gives the same probabilities there.
    model = PRESETS["piano"].model.replace(key_out_zero=out_zero)
    events = []
    result = train_run(prepared_piano, tmp_path / "run", loss=PRESETS["piano"].loss,
                       train=TrainConfig(steps=6, batch_size=2, val_every=3, log_every=1, amp=amp),
                       model=model, force=True, tensorboard=False, device="cuda",
                       on_event=lambda kind, info: events.append((kind, info)))
    losses = [info["loss"] for kind, info in events if kind == "log"]
    assert losses and all(np.isfinite(losses))
    cpu = load_model(result.model_path)
    gpu = load_model(result.model_path, "cuda")
    assert cpu.model.cfg.key_mix and cpu.model.cfg.key_context and cpu.model.cfg.key_out_zero == out_zero
    x = torch.randn(1, 200, cpu.features.n_channels, cpu.model.cfg.n_bands)
    with torch.no_grad():
        torch.testing.assert_close(gpu.model(x.cuda()).float().cpu(), cpu.model(x).float(), atol=2e-3, rtol=1e-3)


@pytest.fixture
def no_tf32():
    """cuDNN convolutions default to TF32 (10-bit mantissa) on Ampere and later; off, CUDA must
    match the CPU to float32 rounding."""
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


@pytest.mark.parametrize("name", ["drums", "piano"])
def test_detection_on_cuda_matches_the_cpu(name, no_tf32):
    loaded = load_model(name)
    render = render_drum_track if name == "drums" else render_piano_track
    samples = render(4, duration=6.0, sr=loaded.features.sample_rate).samples
    cpu = detect_samples(loaded, samples, keep_features=True)
    gpu_model = load_model(name, "cuda")
    gpu = detect_samples(gpu_model, samples, device="cuda")
    np.testing.assert_allclose(gpu.probs, cpu.probs, atol=2e-5)
    np.testing.assert_allclose(gpu.events.times, cpu.events.times)
    cfg = loaded.decode.replace(mode="windows")
    a = activations(gpu_model.model, cpu.features, cfg, loaded.features.fps, "cuda")
    b = activations(loaded.model, cpu.features, cfg, loaded.features.fps, "cpu")
    np.testing.assert_allclose(a, b, atol=2e-5)


@pytest.mark.parametrize("name", ["drums", "piano"])
def test_detection_with_tf32_stays_close_to_the_cpu(name):
    # The default (TF32 convolutions): probabilities within 0.3 % (measured 7e-4 on an H200).
    loaded = load_model(name)
    render = render_drum_track if name == "drums" else render_piano_track
    samples = render(4, duration=6.0, sr=loaded.features.sample_rate).samples
    cpu = detect_samples(loaded, samples)
    gpu = detect_samples(load_model(name, "cuda"), samples, device="cuda")
    np.testing.assert_allclose(gpu.probs, cpu.probs, atol=3e-3)


@pytest.mark.parametrize("name", ["drums", "piano"])
def test_presets_run_with_bf16_autocast(name):
    # AMP (train.amp) runs the network in bfloat16: its outputs must stay close to float32. The piano
    # preset is the keys network with key context and the layer across keys (key_mix).
    torch.manual_seed(0)
    preset = PRESETS[name]
    net = build_model(preset.model.replace(in_channels=preset.features.n_channels)).cuda()
    x = torch.randn(2, 300, preset.features.n_channels, preset.model.n_bands, device="cuda")
    with torch.no_grad():
        full = net(x).float()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            half = net(x).float()
    assert torch.isfinite(half).all()
    assert (half - full).abs().max().item() < 0.1 * full.abs().max().item() + 0.05
