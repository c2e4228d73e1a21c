"""Ensembles (``loco ensemble``): the network, combining trained runs, fine-tuning from one; distillation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from loco_cli.checkpoint import load_model
from loco_cli.cli import app
from loco_cli.config import DecodeConfig, LossConfig, ModelConfig, TrainConfig
from loco_cli.detection import activations
from loco_cli.ensemble import combine_models
from loco_cli.errors import ConfigError, InvalidOption, ModelError
from loco_cli.losses import compute_loss, teacher_mixed_frames
from loco_cli.networks import ENSEMBLE_EPS, Ensemble, build_model
from loco_cli.train import train_run

TINY = ModelConfig(conv_filters=(4, 4), freq_pools=(4, 4), rnn_hidden=8, fc_hidden=8)
QUICK = TrainConfig(steps=2, batch_size=2, val_every=2, log_every=1)


@pytest.fixture(scope="module")
def runs(prepared, tmp_path_factory):
    """Two tiny runs of one recipe (seeds 0 and 1) on onset times, and one of another network."""
    root = tmp_path_factory.mktemp("members")
    for seed in (0, 1):
        train_run(prepared, root / f"s{seed}", loss=LossConfig(name="ce"), train=QUICK.replace(seed=seed), model=TINY)
    train_run(prepared, root / "wide", loss=LossConfig(name="ce"), train=QUICK, model=TINY.replace(rnn_hidden=12))
    return root


def test_ensemble_output_is_the_mean_of_the_members_probabilities():
    torch.manual_seed(0)
    ens = build_model(TINY.replace(n_bands=72, members=3)).eval()
    assert isinstance(ens, Ensemble) and len(ens.members) == 3
    x = torch.randn(2, 60, 2, 72)
    with torch.no_grad():
        mean = torch.stack([torch.sigmoid(m(x)) for m in ens.members]).mean(0)
        torch.testing.assert_close(torch.sigmoid(ens(x)), mean.clamp(ENSEMBLE_EPS, 1 - ENSEMBLE_EPS), atol=1e-6, rtol=0)
        # streamed in chunks, each member's state carried: the same as one pass
        a, state = ens.stream(x[:, :25])
        b, _ = ens.stream(x[:, 25:], state)
        torch.testing.assert_close(torch.cat([a, b], 1), ens(x), atol=1e-5, rtol=0)
    # the state dict names each member; a one-network config keeps its plain layout (old model files load)
    assert any(k.startswith("members.2.") for k in ens.state_dict())
    assert "members" not in TINY.to_dict() and TINY.replace(members=3).to_dict()["members"] == 3
    with pytest.raises(ConfigError, match="members"):
        TINY.replace(members=0)
    with pytest.raises(ConfigError, match="streaming"):
        build_model(ModelConfig(arch="fcn", members=2))


def test_combine_orders_members_by_validation_and_detects_with_their_mean(runs, prepared, tmp_path):
    out = tmp_path / "ens.pt"
    res = combine_models([runs / "s0", runs / "s1"], prepared, out)
    assert res.path == out and res.name == "f1" and len(res.members) == 2
    vals = [m["val"] for m in res.members]
    assert vals == sorted(vals, reverse=True) and {m["seed"] for m in res.members} == {0, 1}
    ens = load_model(out)  # hash-checked, weights_only
    assert ens.model.cfg.members == 2 and ens.payload["metrics"]["ensemble"] == res.members
    assert len(ens.decode.thresholds) == 3 and len(ens.decode.min_gaps_s) == 3  # calibrated for the ensemble
    singles = {m["seed"]: load_model(runs / f"s{m['seed']}") for m in res.members}
    feats = np.random.default_rng(0).normal(size=(300, 2, 72)).astype(np.float32)
    cfg = DecodeConfig()
    mean = np.mean([activations(s.model, feats, cfg, 200.0) for s in singles.values()], 0)
    np.testing.assert_allclose(activations(ens.model, feats, cfg, 200.0), mean, atol=1e-5)
    # the first member is the one validation scored best: its weights are member 0's
    first = singles[res.members[0]["seed"]].model.state_dict()
    assert all(torch.equal(v, ens.model.members[0].state_dict()[k]) for k, v in first.items())
    # an ensemble given again adds all its members
    res3 = combine_models([out, runs / "s0"], prepared, tmp_path / "ens3.pt")
    assert len(res3.members) == 3
    # loco eval --model ENSEMBLE --tune writes a tuned ensemble that loads again
    from loco_cli.engine import evaluate_model

    evaluate_model(out, prepared, split="test", tune=True, tuned_out=tmp_path / "tuned.pt")
    assert load_model(tmp_path / "tuned.pt").model.cfg.members == 2


def test_combine_refuses_what_does_not_fit(runs, prepared, tmp_path):
    with pytest.raises(InvalidOption, match="at least two"):
        combine_models([runs / "s0"], prepared, tmp_path / "x.pt")
    with pytest.raises(InvalidOption, match="network differ"):
        combine_models([runs / "s0", runs / "wide"], prepared, tmp_path / "x.pt")
    with pytest.raises(InvalidOption, match="features differ"):
        combine_models(["piano", "piano"], prepared, tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()


def test_training_an_ensemble_is_refused_and_init_takes_its_first_member(runs, prepared, tmp_path):
    with pytest.raises(ConfigError, match="loco ensemble"):
        train_run(prepared, tmp_path / "e", loss=LossConfig(), train=QUICK, model=TINY.replace(members=2))
    combine_models([runs / "s0", runs / "s1"], prepared, tmp_path / "ens.pt")
    ens = load_model(tmp_path / "ens.pt")
    res = train_run(prepared, tmp_path / "tuned", loss=LossConfig(), train=QUICK.replace(steps=1, lr=1e-9),
                    model=ModelConfig(), init=tmp_path / "ens.pt")
    cfg = json.loads((tmp_path / "tuned" / "config.json").read_text())
    assert cfg["init"]["member"] == "1 of 2" and "members" not in cfg["model"]
    tuned = load_model(res.model_path).model
    first = ens.model.members[0].state_dict()
    assert not isinstance(tuned, Ensemble)
    assert all(torch.allclose(first[k].float(), v.float(), atol=1e-6) for k, v in tuned.state_dict().items())


def test_distillation_mixes_the_teachers_frame_probabilities(runs, prepared, tmp_path):
    labels = torch.zeros(2, 10, 3)
    labels[0, 4, 1] = 1
    q = torch.full((2, 10, 3), 0.2)
    mixed = teacher_mixed_frames(labels, q, 0.25)
    assert mixed[0, 4, 1] == pytest.approx(0.25 + 0.75 * 0.2) and mixed[1, 0, 0] == pytest.approx(0.15)
    logits = torch.randn(2, 10, 3)
    lengths = torch.tensor([10, 7])
    plain = compute_loss("ce", logits, {"frame_labels": labels, "lengths": lengths, "counts": None},
                         LossConfig(name="ce"))
    full = compute_loss("ce", logits, {"frame_labels": labels, "lengths": lengths, "counts": None,
                                       "teacher_probs": q}, LossConfig(name="ce", teacher_weight=1.0))
    assert full == plain
    # with the teacher alone (a = 0) a student that already says what the teacher says has nothing to learn
    z = logits.clone().requires_grad_(True)
    compute_loss("ce", z, {"frame_labels": labels, "lengths": lengths, "counts": None,
                           "teacher_probs": torch.sigmoid(logits)}, LossConfig(name="ce", teacher_weight=0.0)).backward()
    assert z.grad.abs().max() < 1e-6
    # a run distilled from an ensemble trains; a loss that takes no teacher is refused
    combine_models([runs / "s0", runs / "s1"], prepared, tmp_path / "ens.pt")
    res = train_run(prepared, tmp_path / "student", loss=LossConfig(name="ce", teacher_weight=0.5), train=QUICK,
                    model=TINY, teacher=tmp_path / "ens.pt")
    assert res.step == 2
    with pytest.raises(InvalidOption, match="takes no teacher"):
        train_run(prepared, tmp_path / "oss", loss=LossConfig(name="oss"), train=QUICK, model=TINY,
                  teacher=tmp_path / "ens.pt")
    # a teacher whose front-end differs (here its lowest band edge) would read other windows than the student
    from loco_cli.checkpoint import content_hash

    payload = torch.load(runs / "s0" / "model.pt", weights_only=True)
    payload["features"] = {**payload["features"], "fmin": payload["features"]["fmin"] + 10.0}
    payload["hash"] = content_hash(payload)
    torch.save(payload, tmp_path / "other.pt")
    with pytest.raises(ModelError, match="features differ"):
        train_run(prepared, tmp_path / "p", loss=LossConfig(name="ce"), train=QUICK, model=TINY,
                  teacher=tmp_path / "other.pt")


def test_cli_ensemble(runs, prepared, tmp_path):
    r = CliRunner().invoke(app, ["ensemble", str(runs / "s0"), str(runs / "s1"), "--data", str(prepared),
                                 "--out", str(tmp_path / "e.pt")])
    assert r.exit_code == 0, r.output
    assert "ensemble of 2" in r.output and (tmp_path / "e.pt").is_file()
    r = CliRunner().invoke(app, ["ensemble", str(runs / "s0"), str(tmp_path / "absent.pt"), "--data", str(prepared),
                                 "--out", str(tmp_path / "f.pt")])
    assert r.exit_code != 0 and "absent.pt" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "f.pt").exists()


def test_clean_teacher_reads_the_window_before_the_spectral_augmentations(runs, prepared, tmp_path, monkeypatch):
    """``clean_teacher``: the sampler's fourth item is the window the student would get without gain, EQ,
    low-pass and band-stop, drawn with the same random numbers (the student's copy unchanged); training
    hands the teacher those windows, the student the augmented ones."""
    from loco_cli import train as train_mod
    from loco_cli.data import Sampler
    from loco_cli.prepared import load_prepared

    data = load_prepared(prepared)
    spectral = TrainConfig(gain_db=6.0, eq_db=6.0, lowpass_prob=1.0, bandstop_prob=1.0, stretch=0.1)
    x, frames, counts, clean = Sampler(data, spectral, np.random.default_rng(5)).example(keep_clean=True)
    x2, frames2, counts2 = Sampler(data, spectral, np.random.default_rng(5)).example()
    np.testing.assert_array_equal(x, x2)  # the student's window does not depend on keeping the clean one
    assert all(np.array_equal(a, b) for a, b in zip(frames, frames2, strict=True)) and np.array_equal(counts, counts2)
    plain = TrainConfig(gain_db=0.0, stretch=0.1)  # the same draws up to the spectral steps, none of them taken
    ref = Sampler(data, plain, np.random.default_rng(5)).example()[0]
    np.testing.assert_array_equal(clean, ref)
    assert clean.shape == x.shape and np.abs(clean - x).max() > 1.0
    batch = Sampler(data, spectral.replace(batch_size=3), np.random.default_rng(1)).batch(keep_clean=True)
    assert batch["teacher_features"].shape == batch["features"].shape
    assert "teacher_features" not in Sampler(data, spectral, np.random.default_rng(1)).batch()

    seen = []
    real_step = train_mod._train_step

    def spy(forward, net, opt, ema_net, batch, *args, **kwargs):
        seen.append(batch.get("teacher_features"))
        return real_step(forward, net, opt, ema_net, batch, *args, **kwargs)

    monkeypatch.setattr(train_mod, "_train_step", spy)
    loss = LossConfig(name="ce", teacher_weight=0.5)
    train_run(prepared, tmp_path / "clean", loss=loss, train=QUICK.replace(clean_teacher=True, lowpass_prob=1.0),
              model=TINY, teacher=runs / "s0")
    assert len(seen) == 2 and all(t is not None for t in seen)
    seen.clear()
    train_run(prepared, tmp_path / "same", loss=loss, train=QUICK.replace(lowpass_prob=1.0), model=TINY,
              teacher=runs / "s0")
    assert seen == [None, None]  # off: the teacher reads the student's windows, as before
    seen.clear()
    train_run(prepared, tmp_path / "none", loss=LossConfig(name="ce"), train=QUICK.replace(clean_teacher=True),
              model=TINY)
    assert seen == [None, None]  # no teacher: nothing kept
