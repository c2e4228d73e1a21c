"""Training loop (resume exactness, checkpoints), models on disk, decoding and detection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from loco_cli.calibration import calibrate, calibrate_min_gap, coarse_latency
from loco_cli.checkpoint import content_hash, load_model
from loco_cli.config import DecodeConfig, LossConfig, ModelConfig, TrainConfig
from loco_cli.data import Sampler, scale_frequency, stretch_features
from loco_cli.detection import activations
from loco_cli.errors import ConfigError, InvalidOption, ModelError
from loco_cli.features import frames_to_seconds
from loco_cli.outputs import write_midi
from loco_cli.peaks import decode, pick_peaks
from loco_cli.prepared import load_prepared
from loco_cli.train import load_recipe, train_run

TINY = ModelConfig(conv_filters=(4, 4), freq_pools=(4, 4), rnn_hidden=8, fc_hidden=8)
QUICK = TrainConfig(steps=4, batch_size=2, val_every=2, log_every=1, stretch=0.1, stack_prob=0.5)


def test_stretch_identity_and_delta():
    x = np.random.default_rng(0).normal(size=(50, 2, 6)).astype(np.float32)
    x[1:, 1] = np.diff(x[:, 0], axis=0)
    assert np.allclose(stretch_features(x, 1.0, 50), x, atol=1e-6)
    y = stretch_features(x, 0.5, 90)
    assert y.shape == (90, 2, 6) and np.allclose(y[2, 0], x[1, 0], atol=1e-6)
    assert np.allclose(y[1:, 1], np.diff(y[:, 0], axis=0))


def test_scale_frequency_moves_partials_like_resampling():
    from loco_cli.config import DRUM_FEATURES
    from loco_cli.features import mel_centers

    centers = mel_centers(DRUM_FEATURES)
    assert centers.shape == (72,) and np.all(np.diff(centers) > 0)
    x = np.full((3, 2, 72), -10.0, dtype=np.float32)
    x[:, 0, 30] = 5.0  # a partial at the centre of band 30
    assert np.allclose(scale_frequency(x, centers, 1.0), x)
    for factor in (7 / 8, 9 / 8):
        y = scale_frequency(x, centers, factor)
        peak = int(np.argmax(y[0, 0]))
        assert peak == int(np.argmin(np.abs(centers - factor * centers[30])))  # lands at factor * f
        assert y.shape == x.shape and y.dtype == np.float32
    # linear per channel: a delta channel stays the time difference of the log-mel channel
    z = np.random.default_rng(1).normal(size=(20, 2, 72)).astype(np.float32)
    z[1:, 1] = np.diff(z[:, 0], axis=0)
    w = scale_frequency(z, centers, 1.1)
    assert np.allclose(w[1:, 1], np.diff(w[:, 0], axis=0), atol=1e-5)


def test_rate_scaled_windows_keep_labels_on_the_onsets(prepared):
    # With stretch and rate scaling, every labelled frame of a window must still sit on an onset: the
    # spectral flux there is larger than at random frames (the features move with the labels).
    data = load_prepared(prepared)
    cfg = QUICK.replace(stretch=0.0, rate_scale=0.125, stack_prob=0.0, gain_db=0.0, min_length_fraction=1.0)
    sampler = Sampler(data, cfg, np.random.default_rng(5))
    flux_on, flux_all = [], []
    for _ in range(40):
        x, frames, counts = sampler.example()
        pos = np.clip(x[:, 1], 0, None).sum(-1)  # half-wave rectified delta summed over bands
        for fr in frames:
            flux_on += [pos[max(f - 1, 0) : f + 2].max() for f in fr]
        flux_all.append(pos)
        assert counts.tolist() == [f.size for f in frames]
    assert np.median(flux_on) > 3 * np.median(np.concatenate(flux_all))
    assert cfg.replace(rate_scale=0.0).rate_scale == 0.0
    with pytest.raises(ValueError, match="rate_scale"):
        TrainConfig(rate_scale=0.6)


def test_label_delay_moves_every_target_later_by_the_delay(prepared):
    """``label_delay_s``: with the same draws, each window's targets are those without the delay moved
    ``delay * fps`` frames later (a target pushed past the window's end leaves it, and its count with it),
    on the same features; the delay is checked against its range."""
    data = load_prepared(prepared)
    cfg = QUICK.replace(stretch=0.0, stack_prob=0.0, gain_db=0.0, min_length_fraction=1.0)
    delay = 0.03
    shift = int(np.floor(delay * data.features.fps + 1e-9))
    assert shift == 6
    plain, late = Sampler(data, cfg, np.random.default_rng(9)), Sampler(data, cfg.replace(label_delay_s=delay),
                                                                      np.random.default_rng(9))
    moved = 0
    for _ in range(30):
        (x0, f0, _), (x1, f1, c1) = plain.example(), late.example()
        np.testing.assert_array_equal(x0, x1)
        for a, b in zip(f0, f1, strict=True):
            # targets of onsets up to `shift` frames before the window may enter it; compare inside both
            inner = a[a + shift < x0.shape[0]] + shift
            np.testing.assert_array_equal(b[b >= shift], inner)
            moved += inner.size
        assert c1.tolist() == [f.size for f in f1]
    assert moved > 50
    with pytest.raises(ValueError, match="label_delay_s"):
        TrainConfig(label_delay_s=0.5)
    with pytest.raises(ValueError, match="label_delay_s"):
        TrainConfig(label_delay_s=-0.01)


def test_sampler_batches_are_consistent(prepared):
    data = load_prepared(prepared)
    sampler = Sampler(data, QUICK.replace(batch_size=6), np.random.default_rng(0))
    batch = sampler.batch()
    n, t, ch, f = batch["features"].shape
    assert (n, ch, f) == (6, 2, 72) and batch["lengths"].max() == t
    assert torch.equal(batch["frame_labels"].sum(1).long(), batch["counts"])
    for i, length in enumerate(batch["lengths"]):
        assert batch["features"][i, length:].abs().sum() == 0
        assert batch["frame_labels"][i, length:].sum() == 0
    a = Sampler(data, QUICK, np.random.default_rng(3)).batch()
    b = Sampler(data, QUICK, np.random.default_rng(3)).batch()
    assert all(torch.equal(a[k], b[k]) for k in a)


def _train(prepared, run, **kw):
    return train_run(prepared, run, loss=kw.pop("loss", LossConfig()), train=kw.pop("train", QUICK), model=TINY, **kw)


class _Killed(Exception):
    pass


def test_resume_reproduces_an_uninterrupted_run(prepared, tmp_path):
    _train(prepared, tmp_path / "full")

    def kill_after_step_3(kind, info):  # dies mid-run, after the step-2 checkpoint and one more update
        if kind == "log" and info["step"] == 3:
            raise _Killed

    with pytest.raises(_Killed):
        _train(prepared, tmp_path / "part", on_event=kill_after_step_3)
    assert torch.load(tmp_path / "part" / "last.pt", weights_only=True)["step"] == 2
    _train(prepared, tmp_path / "part", resume=True)
    a = torch.load(tmp_path / "full" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "part" / "last.pt", weights_only=True)
    for k, v in a["model_payload"]["state_dict"].items():
        assert torch.equal(v, b["model_payload"]["state_dict"][k]), k
    assert a["step"] == b["step"] == 4
    assert [r["loss"] for r in a["metrics"]] == [r["loss"] for r in b["metrics"]]
    assert torch.equal(a["optimizer"]["state"][0]["exp_avg"], b["optimizer"]["state"][0]["exp_avg"])


def test_run_folder_rules_and_losses(prepared, tmp_path):
    _train(prepared, tmp_path / "r")
    with pytest.raises(InvalidOption, match="--resume"):
        _train(prepared, tmp_path / "r")
    with pytest.raises(InvalidOption, match="nothing to resume"):
        _train(prepared, tmp_path / "new", resume=True)
    for name in ("softloc", "oss", "ce", "mil"):
        res = _train(prepared, tmp_path / name, loss=LossConfig(name=name), train=QUICK.replace(steps=2))
        assert res.model_path.is_file()
    # SeCoST: a teacher's count predictions mix into the targets
    res = _train(prepared, tmp_path / "student", loss=LossConfig(teacher_weight=0.5), train=QUICK.replace(steps=2),
                 teacher=tmp_path / "r")
    assert res.step == 2


def test_model_file_is_self_describing_and_hash_checked(prepared, tmp_path):
    res = _train(prepared, tmp_path / "m")
    loaded = load_model(res.model_path)
    assert loaded.classes == ["KD", "SD", "HH"] and loaded.features.n_mels == 72
    assert len(loaded.decode.thresholds) == 3 and len(loaded.decode.latency_s) == 3
    from loco_cli.calibration import MIN_GAP_GRID_S  # the final calibration chose each class's minimum gap
    assert len(loaded.decode.min_gaps_s) == 3 and set(loaded.decode.min_gaps_s) <= set(MIN_GAP_GRID_S)
    assert not loaded.model.training
    payload = torch.load(res.model_path, weights_only=True)
    assert payload["hash"] == content_hash(payload)
    payload["state_dict"]["out.bias"] += 1.0
    torch.save(payload, tmp_path / "tampered.pt")
    with pytest.raises(ModelError, match="hash"):
        load_model(tmp_path / "tampered.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a readable"):
        load_model(tmp_path / "junk.pt")
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "absent.pt")


def test_stream_equals_single_pass_and_windows_shape(prepared, tmp_path):
    from loco_cli import detection as detect

    res = _train(prepared, tmp_path / "s")
    loaded = load_model(res.model_path)
    feats = np.random.default_rng(0).normal(size=(900, 2, 72)).astype(np.float32)
    old = detect.STREAM_CHUNK_FRAMES
    try:
        detect.STREAM_CHUNK_FRAMES = 128
        chunked = activations(loaded.model, feats, DecodeConfig(), 200.0)
    finally:
        detect.STREAM_CHUNK_FRAMES = old
    whole = torch.sigmoid(loaded.model(torch.from_numpy(feats)[None]))[0].detach().numpy()
    assert np.allclose(chunked, whole, atol=1e-5)
    win = activations(loaded.model, feats, DecodeConfig(mode="windows"), 200.0)
    assert win.shape == (900, 3) and np.isfinite(win).all()


def test_pick_peaks_subframe_and_gap():
    p = np.zeros(100)
    p[10], p[11] = 0.5, 0.5  # one event split over two frames -> one peak at 10.5
    p[30], p[34] = 0.6, 0.9  # two peaks 4 frames apart, gap 5: the stronger stays
    p[50] = 0.3  # below threshold
    p[80] = 0.95
    pos, conf = pick_peaks(p, 0.5, min_gap=5)
    assert pos.tolist() == pytest.approx([10.5, 34.0, 80.0])
    assert conf.tolist() == pytest.approx([1.0, 0.9, 0.95])
    assert pick_peaks(p, 0.5, min_gap=1)[0].tolist() == pytest.approx([10.5, 30.0, 34.0, 80.0])
    assert pick_peaks(np.zeros(0), 0.5, 3)[0].size == 0


def test_decode_applies_latency_once():
    fps = 200.0
    probs = np.zeros((400, 2))
    probs[100, 0] = probs[300, 1] = 1.0
    cfg = DecodeConfig(thresholds=(0.5, 0.5), latency_s=(0.02, 0.0))
    events, conf = decode(probs, ["KD", "SD"], fps, cfg)
    assert events.of("KD").tolist() == pytest.approx([100 / fps - 0.02])
    assert events.of("SD").tolist() == pytest.approx([frames_to_seconds(300, fps)])
    assert conf.tolist() == [1.0, 1.0]


def _late_peaks(rng, fps, n_tracks, n_onsets, late_s, height, n_frames=2000):
    """Tracks whose one class peaks ``late_s`` after each of ``n_onsets`` random onsets, at ``height``."""
    tracks = []
    for _ in range(n_tracks):
        ref = np.sort(rng.choice(np.arange(20, n_frames - 100, 10), n_onsets, replace=False)) / fps
        probs = np.zeros((n_frames, 1))
        probs[np.round((ref + late_s) * fps).astype(int), 0] = height
        tracks.append((probs, [ref]))
    return tracks


def test_calibrate_recovers_a_known_latency():
    fps = 200.0
    tracks = _late_peaks(np.random.default_rng(0), fps, 3, 40, 0.015, 0.4)  # 15 ms late, weak peaks
    cfg, report = calibrate(tracks, ["KD"], fps, DecodeConfig(threshold=0.3))
    n = report["KD"]["latency_pairs"]
    assert n == 120 and report["KD"]["hits"] == 120 and report["KD"]["detections"] == 120
    assert cfg.latency_s[0] == pytest.approx(0.015, abs=1e-6)
    assert cfg.thresholds[0] <= 0.4 and report["KD"]["f1"] == 1.0


@pytest.mark.parametrize("late_s", [0.08, -0.07, 0.2])
def test_calibrate_finds_a_latency_beyond_the_match_window(late_s):
    """Peaks 80 ms after (or 70 ms before) every onset: outside the 50 ms window, so a search that only
    sees matched pairs finds no hits at latency zero, picks the lowest threshold and a latency near zero
    (a counts-trained piano model validated at 0.42 that way). The coarse search recovers it."""
    fps = 100.0
    rng = np.random.default_rng(7)
    tracks = _late_peaks(rng, fps, 3, 40, late_s, 0.6, n_frames=3000)
    for probs, _ in tracks:  # noise peaks at 0.1 that a too-low threshold would let in
        near = np.convolve(probs[:, 0] > 0, np.ones(9), mode="same") > 0  # 4 frames either side of a peak
        probs[rng.choice(np.flatnonzero(~near), 60, replace=False), 0] = 0.1
    cfg, report = calibrate(tracks, ["KD"], fps, DecodeConfig())
    assert cfg.latency_s[0] == pytest.approx(late_s, abs=1e-6)
    assert 0.1 < cfg.thresholds[0] <= 0.6 and report["KD"]["f1"] == 1.0


def _pairs_of_peaks(rng, fps: float, apart: int, first: float, second: float, annotate_both: bool,
                    spread: float = 0.0):
    """Two tracks of one class: at each of 60 random slots a peak ``first`` (drawn from ``first +- spread``)
    and, ``apart`` frames later, a peak ``second - first`` higher; the references are both peaks' frames (a
    flam) or only the first's."""
    tracks = []
    for _ in range(2):
        at = np.sort(rng.choice(np.arange(20, 5900, 40), 60, replace=False))
        probs = np.zeros((6000, 1))
        height = first + rng.uniform(-spread, spread, at.size)
        probs[at, 0], probs[at + apart, 0] = height, height + (second - first)
        ref = np.sort(np.concatenate([at, at + apart])) if annotate_both else at
        tracks.append((probs, [ref / fps]))
    return tracks


def test_calibrate_min_gap_keeps_both_strokes_of_a_flam():
    """Both strokes of a flam 20 ms apart are onsets: the default 25 ms gap keeps one of each pair (F1 2/3),
    the search keeps the largest gap that finds both (20 ms) and scores F1 1."""
    fps = 200.0
    tracks = _pairs_of_peaks(np.random.default_rng(5), fps, 4, 0.5, 0.9, annotate_both=True)
    _, plain = calibrate(tracks, ["SD"], fps, DecodeConfig())
    assert plain["SD"]["f1"] == pytest.approx(2 / 3, abs=0.01)
    cfg, report = calibrate_min_gap(tracks, ["SD"], fps, DecodeConfig())
    assert cfg.min_gaps_s == (0.02,) and report["SD"]["min_gap_s"] == 0.02 and report["SD"]["f1"] == 1.0
    assert cfg.latency_s[0] == pytest.approx(0.0, abs=1e-6)
    events, _ = decode(tracks[0][0], ["SD"], fps, cfg)  # the gap chosen is the gap decoded with
    assert len(events) == tracks[0][1][0].size


def test_calibrate_min_gap_chooses_each_class_its_own_gap():
    """A flam class and a class with doubled peaks on one set of tracks: each class keeps the gap that suits
    it (20 ms, 25 ms) and the thresholds and latencies of the calibration at that gap; the pooled gap is the
    one the checkpoint score prefers; ``calibrate`` decodes each class at the base config's own gaps."""
    fps = 200.0
    flams = _pairs_of_peaks(np.random.default_rng(5), fps, 4, 0.5, 0.9, annotate_both=True)
    doubled = _pairs_of_peaks(np.random.default_rng(6), fps, 4, 0.5, 0.7, annotate_both=False, spread=0.25)
    tracks = [(np.concatenate([a[0], b[0]], 1), [a[1][0], b[1][0]]) for a, b in zip(flams, doubled, strict=True)]
    cfg, report = calibrate_min_gap(tracks, ["SD", "HH"], fps, DecodeConfig())
    assert cfg.min_gaps_s == (0.02, 0.025) and report["SD"]["f1"] == 1.0 and report["HH"]["f1"] == 1.0
    assert cfg.latency_s == pytest.approx((0.0, 0.02), abs=1e-6) and cfg.min_gap_s in (0.02, 0.025)
    again, rep2 = calibrate(tracks, ["SD", "HH"], fps, cfg.replace(thresholds=(), latency_s=()))
    assert again.min_gaps_s == cfg.min_gaps_s and rep2["SD"]["f1"] == 1.0 and rep2["HH"]["f1"] == 1.0
    with pytest.raises(ConfigError, match="min_gaps_s"):
        DecodeConfig(min_gaps_s=(0.02, -0.01))


def test_calibrate_min_gap_keeps_the_gap_that_suppresses_doubled_peaks(monkeypatch):
    """One onset with two peaks 20 ms apart (the later stronger, heights spread so that no threshold tells
    them apart): a smaller gap only adds false alarms, so
    the base gap stays; gaps that round to the same frames are tried once (at 100 fps 25, 20 and 15 ms
    are all 2 frames)."""
    import loco_cli.calibration as calibration

    fps = 200.0
    tracks = _pairs_of_peaks(np.random.default_rng(6), fps, 4, 0.5, 0.7, annotate_both=False, spread=0.25)
    assert calibrate(tracks, ["HH"], fps, DecodeConfig(min_gap_s=0.02))[1]["HH"]["f1"] < 0.9
    cfg, report = calibrate_min_gap(tracks, ["HH"], fps, DecodeConfig())
    assert cfg.min_gap_s == 0.025 and cfg.min_gaps_s == (0.025,) and report["HH"]["f1"] == 1.0
    assert cfg.latency_s[0] == pytest.approx(0.02, abs=1e-6)  # the stronger, later peak is the one kept
    tried = []
    real = calibration.calibrate
    monkeypatch.setattr(calibration, "calibrate", lambda *a, **k: tried.append(a[3].min_gap_s) or real(*a, **k))
    calibration.calibrate_min_gap(tracks, ["HH"], 100.0, DecodeConfig(min_gap_s=0.05))
    assert tried == [0.05, 0.025, 0.01]


def test_coarse_latency_searches_a_grid_of_frames_and_needs_evidence():
    fps = 100.0
    ref = np.arange(1.0, 20.0, 0.5)
    peaks = [[[ref + 0.12], [ref[:3] + 0.12]]]  # one class; threshold 0: all peaks, threshold 1: three
    lag, g = coarse_latency(peaks, [[ref]], fps)
    assert lag == pytest.approx(0.12) and g == 0
    # three hits are too few to move the latency from zero; nothing at all neither
    assert coarse_latency([[[ref[:3] + 0.12]]], [[ref]], fps) == (0.0, -1)
    assert coarse_latency([[[np.zeros(0)]]], [[ref]], fps) == (0.0, -1)
    # beyond the search range: not found; with a wider range: found
    assert coarse_latency([[[ref + 0.4]]], [[ref]], fps)[0] != pytest.approx(0.4)
    assert coarse_latency([[[ref + 0.4]]], [[ref]], fps, search_s=0.45)[0] == pytest.approx(0.4)


def test_calibrate_shrinks_a_latency_measured_on_few_hits_toward_the_pooled_one():
    """Class b's 12 hits lie 25 ms later than class a's 600: b's latency is a's plus 12 / (12 +
    LATENCY_PRIOR_ONSETS) of the difference; alone (four onsets, pooled) a class gets the pooled latency."""
    from loco_cli.calibration import LATENCY_PRIOR_ONSETS

    fps, rng = 200.0, np.random.default_rng(3)
    tracks = []
    for _ in range(2):
        slots = rng.permutation(np.arange(50, 39000, 40))
        ref_a, ref_b = np.sort(slots[:300]) / fps, np.sort(slots[300:306]) / fps
        probs = np.zeros((40000, 2))
        probs[np.round((ref_a + 0.01) * fps).astype(int), 0] = 0.8
        probs[np.round((ref_b + 0.035) * fps).astype(int), 1] = 0.8
        tracks.append((probs, [ref_a, ref_b]))
    cfg, report = calibrate(tracks, ["a", "b"], fps, DecodeConfig())
    assert report["b"]["latency_pairs"] == 12 and not report["b"]["pooled"]
    pooled = 0.01 + 0.0 * 612  # the median offset of all 612 pairs from the coarse 10 ms is zero
    assert cfg.latency_s[0] == pytest.approx(pooled, abs=1e-6)
    assert cfg.latency_s[1] == pytest.approx(pooled + 0.025 * 12 / (12 + LATENCY_PRIOR_ONSETS), abs=1e-6)
    # four pairs are no evidence at all: zero (the class has too few onsets to calibrate: pooled)
    lone = calibrate(_late_peaks(np.random.default_rng(3), fps, 1, 4, 0.025, 0.8), ["SD"], fps, DecodeConfig())
    assert lone[0].latency_s == (0.0,) and lone[1]["SD"]["pooled"]


def test_calibrate_pools_classes_with_few_onsets():
    """A class with < MIN_CALIBRATION_ONSETS references takes the pooled latency and threshold."""
    from loco_cli.calibration import MIN_CALIBRATION_ONSETS

    fps, rng = 200.0, np.random.default_rng(1)
    tracks = []
    for _ in range(2):
        ref_a = np.sort(rng.choice(np.arange(20, 1900, 10), 30, replace=False)) / fps
        ref_b = np.array([2.0, 5.0, 8.0])  # 6 onsets in all: too few to tune on
        probs = np.zeros((2000, 3))
        probs[np.round((ref_a + 0.02) * fps).astype(int), 0] = 0.6
        probs[np.round(ref_a * fps).astype(int) + 25, 0] = 0.3  # weak false alarms of class a
        probs[np.round((ref_b + 0.02) * fps).astype(int), 1] = 0.25  # alone, b would pick threshold <= 0.25
        tracks.append((probs, [ref_a, ref_b, np.zeros(0)]))
    assert 6 < MIN_CALIBRATION_ONSETS <= 60
    cfg, report = calibrate(tracks, ["a", "b", "c"], fps, DecodeConfig(threshold=0.5))
    assert not report["a"]["pooled"] and report["a"]["latency_pairs"] == 60
    assert cfg.latency_s[0] == pytest.approx(0.02, abs=1e-6)
    assert report["b"]["pooled"] and report["c"]["pooled"] and report["b"]["onsets"] == 6
    # the pooled threshold (0.5, best for all classes' onsets together) keeps b's weak peaks out:
    # the pooled latency is that of a's 60 pairs
    assert cfg.thresholds == (0.5, 0.5, 0.5) and cfg.latency_s[1] == cfg.latency_s[2] == cfg.latency_s[0]
    assert report["a"]["f1"] == 1.0 and report["b"]["f1"] == 0.0
    assert report["c"]["onsets"] == 0 and report["c"]["f1"] == 0.0


def _two_classes(rng, fps, n_tracks, n_a, n_b, n_frames=40000):
    """Class a: ``n_a`` onsets per track peaking 0.6, each with a 0.3 false alarm 60 ms later (pooled
    best threshold 0.5); class b: ``n_b`` onsets peaking 0.25 (its own best threshold <= 0.25)."""
    tracks = []
    for _ in range(n_tracks):
        slots = rng.permutation(np.arange(50, n_frames - 100, 40))[: n_a + n_b]
        ref_a, ref_b = np.sort(slots[:n_a]) / fps, np.sort(slots[n_a:]) / fps
        probs = np.zeros((n_frames, 2))
        probs[np.round(ref_a * fps).astype(int), 0] = 0.6
        probs[np.round(ref_a * fps).astype(int) + 12, 0] = 0.3
        probs[np.round(ref_b * fps).astype(int), 1] = 0.25
        tracks.append((probs, [ref_a, ref_b]))
    return tracks


def test_calibrate_threshold_prior_pulls_a_class_with_few_onsets_to_the_pooled_threshold():
    """20 validation onsets: the pooled curve, worth THRESHOLD_PRIOR_ONSETS onsets, outweighs the class's
    own (its own best, 0.25, is what no prior picks); 1000 onsets keep their own threshold."""
    from loco_cli.calibration import THRESHOLD_PRIOR_ONSETS

    fps = 200.0
    few = _two_classes(np.random.default_rng(4), fps, 2, 150, 10)
    assert THRESHOLD_PRIOR_ONSETS == 100
    own, _ = calibrate(few, ["a", "b"], fps, DecodeConfig(), prior_onsets=0)
    assert own.thresholds[1] <= 0.25 and 0.3 < own.thresholds[0] <= 0.6
    cfg, report = calibrate(few, ["a", "b"], fps, DecodeConfig())
    assert not report["b"]["pooled"] and report["b"]["onsets"] == 20
    assert cfg.thresholds == (0.5, 0.5) and report["b"]["f1"] == 0.0
    many, _ = calibrate(_two_classes(np.random.default_rng(5), fps, 4, 150, 250), ["a", "b"], fps, DecodeConfig())
    assert many.thresholds[1] <= 0.25 and many.thresholds[0] == 0.5


def test_checkpoint_score_pools_rare_classes_with_the_rest():
    """A class with 3 validation onsets moves the score far less than its own F1 swings."""
    from loco_cli.calibration import CHECKPOINT_PRIOR_ONSETS, checkpoint_score

    def report(sd_hits):
        return {"KD": {"f1": 0.9, "onsets": 100, "hits": 90, "detections": 100},
                "SD": {"f1": 2 * sd_hits / (3 + 3), "onsets": 3, "hits": sd_hits, "detections": 3},
                "HH": {"f1": 0.0, "onsets": 0, "hits": 0, "detections": 0}}

    lo, own_lo = checkpoint_score(report(0), ["KD", "SD", "HH"])
    hi, own_hi = checkpoint_score(report(3), ["KD", "SD", "HH"])
    assert own_lo == {"KD": 0.9, "SD": 0.0} and own_hi == {"KD": 0.9, "SD": 1.0}  # HH: no onsets, not scored
    k = CHECKPOINT_PRIOR_ONSETS
    pooled_lo = 2 * 90 / (103 + 103)
    expected_lo = ((100 * 0.9 + k * pooled_lo) / (100 + k) + (3 * 0.0 + k * pooled_lo) / (3 + k)) / 2
    assert lo == pytest.approx(expected_lo)
    # the plain macro mean would move by 0.5 between the two; the pooled score by less than half of that
    assert 0 < hi - lo < 0.25


def test_keys_network_needs_pitch_classes():
    from loco_cli.train import class_pitches

    assert class_pitches(["21", "108"], "x") == [21, 108]
    with pytest.raises(InvalidOption, match="arch = 'crnn'"):
        class_pitches(["KD", "SD"], "data")


def test_midi_file_structure(tmp_path):
    from loco_cli.annotations import Events

    ev = Events(np.array([0.5, 1.0, 1.0]), np.array(["KD", "SD", "HH"], dtype=object))
    write_midi(tmp_path / "d.mid", ev, np.array([1.0, 0.5, 0.2]), drums=True)
    blob = (tmp_path / "d.mid").read_bytes()
    assert blob[:4] == b"MThd" and b"MTrk" in blob
    assert blob.count(bytes([0x99, 36])) == 1 and blob.count(bytes([0x99, 38])) == 1  # note-on, channel 10
    assert blob.endswith(b"\xff\x2f\x00")
    with pytest.raises(InvalidOption):
        write_midi(tmp_path / "x.mid", Events(np.array([0.1]), np.array(["tabla"], dtype=object)), np.ones(1), drums=True)


def test_midi_files_read_back_with_mido(tmp_path):
    """An independent reader (mido) sees the notes loco wrote: times (s), pitches, channels, velocities and
    durations, for drum classes (GM notes, channel 10) and piano pitches (channel 1)."""
    mido = pytest.importorskip("mido")
    from loco_cli.annotations import Events

    def notes(path):
        t, on, out = 0.0, {}, []
        for msg in mido.MidiFile(path):  # iteration yields delta times in seconds, tempo applied
            t += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                on[(msg.channel, msg.note)] = (t, msg.velocity)
            elif msg.type in ("note_off", "note_on"):
                start, vel = on.pop((msg.channel, msg.note))
                out.append((round(start, 4), msg.channel, msg.note, vel, round(t - start, 4)))
        return sorted(out)

    ev = Events(np.array([0.5, 1.0, 1.25]), np.array(["KD", "SD", "HH"], dtype=object))
    write_midi(tmp_path / "d.mid", ev, np.array([1.0, 0.5, 0.2]), drums=True)
    assert notes(tmp_path / "d.mid") == [(0.5, 9, 36, 127, 0.1), (1.0, 9, 38, 84, 0.1), (1.25, 9, 42, 57, 0.1)]
    ev = Events(np.array([0.1, 0.3, 2.0]), np.array(["60", "60", "72"], dtype=object))
    write_midi(tmp_path / "p.mid", ev, np.array([1.0, 1.0, 0.0]), drums=False)
    assert notes(tmp_path / "p.mid") == [(0.1, 0, 60, 127, 0.2), (0.3, 0, 60, 127, 0.5), (2.0, 0, 72, 40, 0.5)]


def test_recipes(tmp_path):
    assert load_recipe("drums")["train"].lr > 0
    path = tmp_path / "r.toml"
    path.write_text('base = "drums"\n[train]\nsteps = 7\n[model]\nconv_filters = [4, 4]\nfreq_pools = [4, 4]\n')
    r = load_recipe(str(path))
    assert r["train"].steps == 7 and r["model"].conv_filters == (4, 4)
    path.write_text("[bogus]\nx = 1\n")
    with pytest.raises(InvalidOption, match="bogus"):
        load_recipe(str(path))
    with pytest.raises(InvalidOption):
        load_recipe("nope")


def test_tensorboard_events_when_installed(prepared, tmp_path, monkeypatch):
    # The wiring, with a stand-in for torch.utils.tensorboard (CI has no tensorboard package).
    import sys
    import types

    calls = []

    class FakeWriter:
        def __init__(self, log_dir):
            calls.append(("init", log_dir))

        def add_scalar(self, tag, value, step):
            calls.append((tag, float(value), step))

        def flush(self):
            pass

        def close(self):
            calls.append(("close",))

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", types.SimpleNamespace(SummaryWriter=FakeWriter))
    _train(prepared, tmp_path / "run")
    assert calls[0] == ("init", str(tmp_path / "run" / "tensorboard")) and calls[-1] == ("close",)
    tags = {c[0] for c in calls}
    assert {"train/loss", "train/lr", "train/steps_per_s", "val/f1", "val_f1/KD"} <= tags
    assert [c[2] for c in calls if c[0] == "val/f1"] == [2, 4]
    calls.clear()
    _train(prepared, tmp_path / "run2", tensorboard=False)
    assert calls == []
    # without the package: no events, no error
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    from loco_cli.train import tensorboard_writer

    assert tensorboard_writer(tmp_path / "tb") is None
    _train(prepared, tmp_path / "run3")
    assert not (tmp_path / "run3" / "tensorboard").exists()


def test_tensorboard_real_event_files(prepared, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _train(prepared, tmp_path / "run")
    acc = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    acc.Reload()
    assert [e.step for e in acc.Scalars("val/f1")] == [2, 4]
    assert len(acc.Scalars("train/loss")) == 4


def test_count_noise_moves_counts_not_frames(prepared):
    data = load_prepared(prepared)
    base = QUICK.replace(stack_prob=0.0, stretch=0.0)
    clean = Sampler(data, base, np.random.default_rng(9))
    noisy = Sampler(data, base.replace(count_noise=0.5), np.random.default_rng(9))
    diffs = []
    for _ in range(60):
        _, frames_c, counts_c = clean.example()
        _, frames_n, counts_n = noisy.example()
        clean.rng.random(3), clean.rng.choice(np.array([-1, 1]), 3)  # keep the two streams in step
        assert all(np.array_equal(a, b) for a, b in zip(frames_c, frames_n, strict=True))
        assert (counts_n >= 0).all()
        diffs.append(counts_n - counts_c)
    d = np.concatenate(diffs)
    assert set(np.unique(d)) <= {-1, 0, 1} and 0.25 < (d != 0).mean() < 0.6
    with pytest.raises(ValueError, match="count_noise"):
        TrainConfig(count_noise=1.5)


def test_resume_with_weight_averaging_is_exact(prepared, tmp_path):
    cfg = QUICK.replace(ema_decay=0.9, warmup_steps=2)
    _train(prepared, tmp_path / "full", train=cfg)

    def kill_after_step_3(kind, info):
        if kind == "log" and info["step"] == 3:
            raise _Killed

    with pytest.raises(_Killed):
        _train(prepared, tmp_path / "part", train=cfg, on_event=kill_after_step_3)
    _train(prepared, tmp_path / "part", train=cfg, resume=True)
    a = torch.load(tmp_path / "full" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "part" / "last.pt", weights_only=True)
    for k, v in a["ema"].items():
        assert torch.equal(v, b["ema"][k]), k
    # the averaged weights are what the run validates and ships, and they differ from the raw ones
    best = torch.load(tmp_path / "full" / "best.pt", weights_only=True)["state_dict"]
    raw = a["model_payload"]["state_dict"]
    assert any(not torch.equal(best[k], raw[k]) for k in raw if raw[k].is_floating_point())


def test_learning_rate_warmup_and_decay():
    cfg = TrainConfig(steps=100, lr=1.0, warmup_steps=10, lr_final_fraction=0.1)
    assert cfg.lr_at(0) == pytest.approx(0.1) and cfg.lr_at(9) == pytest.approx(1.0)
    assert cfg.lr_at(10) == pytest.approx(1.0) and cfg.lr_at(99) == pytest.approx(0.1)
    assert TrainConfig(steps=100, lr=2.0).lr_at(57) == 2.0  # the defaults keep the authors' constant rate
    with pytest.raises(ValueError):
        TrainConfig(ema_decay=1.0)


def test_init_transfers_shared_classes(prepared, tmp_path):
    from loco_cli.networks import build_model
    from loco_cli.train import transfer_weights

    torch.manual_seed(1)
    src = build_model(TINY)
    torch.manual_seed(2)
    dst = build_model(TINY)
    fresh_row = dst.out.weight[2].clone()
    info = transfer_weights(dst, src, ["KD", "SD", "HH"], ["HH", "KD", "XX"])
    assert info == {"kept": ["HH", "KD"], "new": ["XX"], "dropped": ["SD"]}
    assert torch.equal(dst.out.weight[0], src.out.weight[2]) and torch.equal(dst.out.weight[1], src.out.weight[0])
    assert torch.equal(dst.out.weight[2], fresh_row)
    assert torch.equal(dst.fc.weight, src.fc.weight)
    # a run started from another run: same architecture, its weights, recorded in config.json
    _train(prepared, tmp_path / "base")
    res = train_run(prepared, tmp_path / "tuned", loss=LossConfig(), train=QUICK.replace(steps=1, lr=1e-9),
                    model=ModelConfig(), init=tmp_path / "base")
    cfg = __import__("json").loads((tmp_path / "tuned" / "config.json").read_text())
    assert cfg["init"]["kept"] == ["KD", "SD", "HH"] and cfg["model"]["rnn_hidden"] == TINY.rnn_hidden
    a = load_model(tmp_path / "base" / "best.pt").model.state_dict()
    b = load_model(res.model_path).model.state_dict()
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)


def test_init_refuses_other_features(prepared, tmp_path):
    with pytest.raises(InvalidOption, match="features differ"):
        train_run(prepared, tmp_path / "p", loss=LossConfig(), train=QUICK.replace(steps=1), model=TINY, init="piano")


def test_log_uniform_window_lengths(prepared):
    data = load_prepared(prepared)
    lengths = {}
    for dist in ("uniform", "log"):
        cfg = QUICK.replace(length_dist=dist, stretch=0.0, stack_prob=0.0)
        sampler = Sampler(data, cfg, np.random.default_rng(0))
        lengths[dist] = np.array([sampler.example()[0].shape[0] for _ in range(400)])
    nominal = max(r["n_frames"] for r in data.snippets)
    for v in lengths.values():
        assert v.min() >= 2 and v.max() <= nominal
    # log-uniform: about half the windows under sqrt(0.1) of the nominal length; uniform: a third of that
    short = np.sqrt(0.1) * nominal
    assert np.mean(lengths["log"] < short) > 0.4 > 0.3 > np.mean(lengths["uniform"] < short)


def test_count_variance_term():
    from loco_cli.losses import compute_loss, count_variance

    logits = torch.tensor([[[0.0], [-20.0], [20.0]]])  # p = 0.5, ~0, ~1
    assert float(count_variance(logits)) == pytest.approx(0.25, abs=1e-6)
    assert float(count_variance(logits, torch.tensor([1]))) == pytest.approx(0.25, abs=1e-6)
    batch = {"counts": torch.tensor([[1]]), "lengths": torch.tensor([3])}
    base = compute_loss("loco", logits, batch, LossConfig(k_max=4))
    assert float(compute_loss("loco", logits, batch, LossConfig(k_max=4, peak_weight=2.0)) - base) == pytest.approx(0.5, abs=1e-5)


def test_onset_mask_marks_flux_peaks_and_the_frames_after():
    from loco_cli.losses import onset_mask

    x = torch.zeros(2, 20, 2, 3)
    x[0, 5, 1] = 1.0  # a peak of the delta channel (all bands)
    x[0, 12, 1] = 0.05  # under a tenth of the window's largest flux: no peak
    x[0, 15, 1] = -3.0  # a decay (negative difference) is no onset
    x[1, 3, 1] = 2.0
    x[1, 14, 1] = 5.0  # past the length of example 1: ignored
    m = onset_mask(x, torch.tensor([20, 10]), delta_channel=1, radius=2, after=3, threshold=0.1)
    assert m.shape == (2, 20)
    assert torch.nonzero(m[0]).flatten().tolist() == [4, 5, 6, 7, 8]  # peak - 1 .. peak + after
    assert torch.nonzero(m[1]).flatten().tolist() == [2, 3, 4, 5, 6]
    x[0, 6, 1] = 0.9  # a smaller flux within the radius of the peak is not a second peak
    assert torch.equal(onset_mask(x, torch.tensor([20, 10]), delta_channel=1, radius=2, after=3)[0], m[0])


def test_onset_prior_term_counts_mass_off_the_mask():
    from loco_cli.losses import compute_loss, off_onset_mass

    logits = torch.tensor([[[0.0], [-20.0], [20.0], [0.0]]])  # p = 0.5, ~0, ~1, 0.5
    mask = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    assert float(off_onset_mass(logits, mask)) == pytest.approx(0.5, abs=1e-6)  # the first frame's 0.5
    assert float(off_onset_mass(logits, torch.zeros(1, 4), torch.tensor([3]))) == pytest.approx(1.5, abs=1e-6)
    batch = {"counts": torch.tensor([[2]]), "lengths": torch.tensor([4]), "onset_mask": mask}
    base = compute_loss("loco", logits, batch, LossConfig(k_max=4))
    with_prior = compute_loss("loco", logits, batch, LossConfig(k_max=4, onset_weight=2.0))
    assert float(with_prior - base) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ConfigError):
        LossConfig(onset_weight=-1.0)


def test_count_assignment_places_each_count_on_the_best_peaks():
    from loco_cli.losses import compute_loss, count_assignment, loco_loss

    x = torch.tensor([[[0.0], [3.0], [1.0], [0.0], [5.0], [0.0], [2.0], [0.0]]])  # local maxima: 1, 4, 6
    pick = lambda *a, **k: torch.nonzero(count_assignment(*a, radius=1, **k)[0, :, 0]).flatten().tolist()  # noqa: E731
    assert pick(x, torch.tensor([[2]])) == [1, 4]  # the two best peaks, one frame each
    assert pick(x, torch.tensor([[0]])) == []
    assert pick(x, torch.tensor([[9]])) == [1, 4, 6]  # more events than peaks: every peak
    assert pick(x, torch.tensor([[2]]), mask=torch.tensor([[1, 0, 0, 0, 1, 1, 1, 1]])) == [4, 6]
    assert pick(x, torch.tensor([[2]]), lengths=torch.tensor([5])) == [1, 4]
    assert pick(x, torch.tensor([[3]]), lengths=torch.tensor([5])) == [1, 4]
    batch = {"counts": torch.tensor([[2]]), "lengths": torch.tensor([8])}
    logits = x.clone().requires_grad_(True)
    value = compute_loss("loco", logits, batch, LossConfig(k_max=4, assign_weight=1.0))
    target = torch.zeros(1, 8, 1)
    target[0, 4] = 1.0  # the default radius (4 frames) leaves frame 4 the only candidate
    expected = loco_loss(x, batch["counts"], k_max=4) + torch.nn.functional.binary_cross_entropy_with_logits(x, target)
    assert float(value) == pytest.approx(float(expected), abs=1e-5)
    value.backward()  # the choice itself carries no gradient; the loss does
    assert torch.isfinite(logits.grad).all()


def test_training_with_the_onset_prior_runs_and_is_saved(prepared, tmp_path):
    loss = LossConfig(onset_weight=0.5, assign_weight=1.0)
    result = train_run(prepared, tmp_path / "r", loss=loss, train=QUICK.replace(steps=3), model=TINY)
    saved = load_model(result.model_path).payload["loss"]
    assert (saved["onset_weight"], saved["assign_weight"]) == (0.5, 1.0)


def test_onset_terms_need_the_delta_channel(tmp_path):
    from loco_cli.config import DRUM_FEATURES
    from loco_cli.corpus import write_corpus
    from loco_cli.prepare import prepare_dataset

    write_corpus("drums", tmp_path / "c", n_tracks=3, duration=4.0, seed=2)
    prepare_dataset(tmp_path / "c", tmp_path / "p", features=DRUM_FEATURES.replace(delta=False), split="random")
    with pytest.raises(InvalidOption, match="time difference"):
        train_run(tmp_path / "p", tmp_path / "r", loss=LossConfig(assign_weight=1.0), train=QUICK.replace(steps=1), model=TINY)


def test_drums_recipe_is_the_robust_one():
    t = load_recipe("drums")["train"]
    assert (t.ema_decay, t.length_dist, t.stack_prob, t.warmup_steps, t.rate_scale) == (0.998, "log", 0.5, 100, 0.125)
    assert TrainConfig().ema_decay == 0.0 and TrainConfig().stack_prob == 0.0  # the dataclass keeps the authors'


def test_validation_gaps_name_classes_with_few_onsets(prepared):
    from loco_cli.train import validation_gaps

    data = load_prepared(prepared)
    gaps = validation_gaps(data, "val")
    counts = {c: sum(int(data.reference(n).of(c).size) for n in data.split_tracks("val")) for c in data.classes}
    assert gaps == {c: k for c, k in counts.items() if k < 10} and gaps  # the tiny set's one validation track
    events = []
    _train(prepared, prepared.parent / "gaps-run", on_event=lambda kind, info: events.append((kind, info)))
    assert events[0][0] == "start" and events[0][1]["thin_classes"] == gaps


def test_shipped_models_resolve_from_a_source_tree_that_is_not_installed(monkeypatch):
    # Running from a checkout on PYTHONPATH (no `pip install`): loco_cli.models does not exist as a
    # package, and the models come from the top-level models/ folder.
    from importlib import resources
    from pathlib import Path

    from loco_cli.checkpoint import shipped_model

    def missing(anchor):
        raise ModuleNotFoundError(f"No module named {anchor!r}")

    monkeypatch.setattr(resources, "files", missing)
    path = shipped_model("drums")
    assert path == Path(__file__).resolve().parent.parent / "models" / "drums.pt" and path.is_file()


@pytest.mark.parametrize("name", ["drums", "piano"])
def test_overlapped_stream_equals_features_then_network(name):
    # Two torch threads: detection overlaps features (a helper thread) and network (block by block).
    from loco_cli.detection import detect_samples, stream_activations
    from loco_cli.features import log_mel, log_mel_blocks
    from loco_cli.synth import render_drum_track, render_piano_track

    loaded = load_model(name)
    render = render_drum_track if name == "drums" else render_piano_track
    samples = render(3, duration=4.0, sr=loaded.features.sample_rate).samples
    feats = log_mel(samples, loaded.features)
    probs = activations(loaded.model, feats, loaded.decode, loaded.features.fps)
    torch.set_num_threads(2)
    try:
        out = list(stream_activations(loaded.model, log_mel_blocks(samples, loaded.features, block_frames=123), overlap=True))
    finally:
        torch.set_num_threads(1)
    assert np.array_equal(np.concatenate([b for b, _ in out]), feats)
    np.testing.assert_allclose(np.concatenate([p for _, p in out]), probs, atol=1e-5)
    torch.set_num_threads(2)
    try:
        piped = detect_samples(loaded, samples)
        assert torch.get_num_threads() == 2  # restored after the helper thread's share
    finally:
        torch.set_num_threads(1)
    plain = detect_samples(loaded, samples)
    np.testing.assert_allclose(piped.probs, plain.probs, atol=1e-5)
    np.testing.assert_allclose(piped.events.times, plain.events.times)


def test_log_mel_blocks_concatenate_to_log_mel():
    from loco_cli.config import DRUM_FEATURES
    from loco_cli.features import log_mel, log_mel_blocks

    x = np.random.default_rng(0).normal(size=44100).astype(np.float32)
    whole = log_mel(x, DRUM_FEATURES)
    for size in (1, 7, 64, 10_000):
        parts = list(log_mel_blocks(x, DRUM_FEATURES, block_frames=size))
        assert max(p.shape[0] for p in parts) <= size
        assert np.array_equal(np.concatenate(parts), whole)
    with pytest.raises(ValueError, match="block_frames"):
        next(log_mel_blocks(x, DRUM_FEATURES, block_frames=0))


def test_detect_file_streams_the_audio_and_keeps_only_what_is_asked(tmp_path):
    """A file read in 0.37 s pieces at another sample rate gives the detections of the whole file
    resampled at once (at the model's input level); activations and features are kept only on request
    (bounded memory)."""
    import soundfile as sf

    from loco_cli.audio import AudioStream, load_audio
    from loco_cli.detection import detect_file, detect_samples, detect_stream, file_level, level_gain
    from loco_cli.errors import InvalidOption
    from loco_cli.synth import render_drum_track

    loaded = load_model("drums")
    x = render_drum_track(4, duration=5.0, sr=48000).samples
    path = tmp_path / "take.wav"
    sf.write(path, np.stack([x, 0.5 * x], 1), 48000, subtype="FLOAT")
    whole = detect_samples(loaded, load_audio(path, 44100), keep_features=True)
    gain = level_gain(file_level(path, 44100), loaded.decode.level_dbfs)  # what detect_samples applies
    pieces = detect_stream(loaded, AudioStream(path, 44100, block_seconds=0.37), keep_features=True, gain=gain)
    assert whole.seconds == pieces.seconds == load_audio(path, 44100).size / 44100
    np.testing.assert_array_equal(pieces.features, whole.features)
    np.testing.assert_allclose(pieces.probs, whole.probs, atol=1e-5)
    np.testing.assert_allclose(pieces.events.times, whole.events.times, atol=1e-6)
    assert len(whole.events) > 10
    lean = detect_file(loaded, path, keep_activations=False)
    assert lean.probs is None and lean.features is None and len(lean.events) == len(whole.events)
    with pytest.raises(InvalidOption, match="keep_activations"):
        lean.save_activations(tmp_path / "a.npy")


def test_onset_decoder_in_chunks_equals_decode():
    from loco_cli.features import frames_to_seconds
    from loco_cli.peaks import OnsetDecoder, PeakPicker

    rng = np.random.default_rng(3)
    probs = rng.random((700, 4)) ** 6
    cfg = DecodeConfig(thresholds=(0.2, 0.3, 0.5, 0.05), latency_s=(0.01, 0.0, -0.02, 0.005),
                       min_gaps_s=(0.025, 0.01, 0.05, 0.015))  # each class its own gap
    events, conf = decode(probs, list("abcd"), 200.0, cfg)
    dec = OnsetDecoder(list("abcd"), 200.0, cfg)
    for part in np.split(probs, [1, 2, 3, 50, 51, 400]):
        dec.push(part)
    ev2, conf2 = dec.finish()
    assert np.array_equal(events.times, ev2.times) and list(events.labels) == list(ev2.labels)
    assert np.array_equal(conf, conf2) and len(events) > 20
    for c, name in enumerate("abcd"):  # all classes at once = one picker per class, ties included
        ref = pick_peaks(probs[:, c], cfg.thresholds[c], max(1, round(cfg.min_gaps_s[c] * 200.0)))
        mine = events.labels == name
        assert np.array_equal(np.sort(events.times[mine]), np.maximum(frames_to_seconds(ref[0], 200.0, cfg.latency_s[c]), 0))
    ties = np.round(rng.random((300, 6)) ** 2, 1)  # many equal neighbours and plateaus
    t_ev, _ = decode(ties, list("uvwxyz"), 100.0, DecodeConfig(threshold=0.3, min_gap_s=0.03))
    for c, name in enumerate("uvwxyz"):
        assert np.array_equal(np.sort(t_ev.times[t_ev.labels == name]), frames_to_seconds(pick_peaks(ties[:, c], 0.3, 3)[0], 100.0))
    for trial in range(300):  # the peak picker alone, any chunking, against the whole-array call
        p = np.round(rng.random(int(rng.integers(0, 40))) ** 3, int(rng.integers(1, 3)))
        thr, gap = float(rng.choice([0.0, 0.2, 0.5])), int(rng.integers(1, 5))
        picker, got = PeakPicker(thr, gap), []
        for part in np.split(p, np.sort(rng.integers(0, p.size + 1, 4))):
            got.append(picker.push(part))
        got.append(picker.finish())
        ref = pick_peaks(p, thr, gap)
        assert np.array_equal(np.concatenate([g[0] for g in got]), ref[0]), trial
        assert np.array_equal(np.concatenate([g[1] for g in got]), ref[1]), trial


def test_peaks_at_a_higher_threshold_are_the_stronger_peaks_at_a_lower_one():
    """calibrate picks peaks once, at the grid's lowest threshold, and keeps those whose strength s_t
    reaches each higher threshold: exactly what pick_peaks at that threshold returns (ties included)."""
    from loco_cli.calibration import THRESHOLD_GRID

    for seed in range(120):
        rng = np.random.default_rng(seed)
        p = rng.random(int(rng.integers(1, 300))) ** rng.choice([1, 3, 8]) * rng.choice([0.3, 0.6, 1.0])
        if seed % 3 == 0:
            p = np.round(p, 1)  # equal strengths
        gap = int(rng.integers(1, 12))
        pos0, s0 = pick_peaks(p, THRESHOLD_GRID[0], gap, cap=False)
        assert np.array_equal(pick_peaks(p, THRESHOLD_GRID[0], gap)[1], np.minimum(s0, 1.0))
        for thr in THRESHOLD_GRID:
            assert np.array_equal(pick_peaks(p, thr, gap)[0], pos0[s0 >= thr]), (seed, thr, gap)


def test_the_measured_rate_scale_recipe_is_the_drums_recipe():
    """README's seed table measured `drums_ratescale.toml` (seeds_demo_ratescale_cpu.json) and calls it the
    `drums` recipe of today: the two must train identically."""
    root = Path(__file__).resolve().parent.parent / "benchmarks" / "recipes"
    measured, default = load_recipe(str(root / "drums_ratescale.toml")), load_recipe("drums")
    assert measured["train"] == default["train"] and measured["model"] == default["model"]
    assert measured["loss"] == default["loss"]
    before = load_recipe(str(root / "drums_ema_logwin_stack.toml"))["train"]  # seeds_demo_cpu.json's recipe
    assert before == default["train"].replace(rate_scale=0.0)


def test_auto_init_only_for_small_sets_where_the_shipped_model_fits(tmp_path):
    """``init="auto"`` picks the shipped model for a small drums set with its classes, features and
    network (and the piano model for a small piano set); not when the set is large, the classes or the
    network differ; "none" / None mean random
    weights and a named model is kept as given."""
    from loco_cli.corpus import write_corpus
    from loco_cli.prepare import prepare_dataset
    from loco_cli.prepared import load_prepared
    from loco_cli.train import SMALL_SET_SECONDS, auto_init, load_recipe, resolve_init

    write_corpus("drums", tmp_path / "c", n_tracks=3, duration=3.0, seed=5)
    prepare_dataset(tmp_path / "c", tmp_path / "p", preset="drums", jobs=1)
    prepare_dataset(tmp_path / "c", tmp_path / "p2", preset="drums", classes=["KD", "SD"], jobs=1)
    data = load_prepared(tmp_path / "p")
    model = load_recipe("drums")["model"]
    assert auto_init(data, model) == "drums"
    assert resolve_init("auto", data, model) == ("drums", True)
    assert resolve_init("none", data, model) == (None, False) and resolve_init(None, data, model) == (None, False)
    assert resolve_init("piano", data, model) == ("piano", False)
    assert auto_init(data, model.replace(rnn_hidden=8)) is None  # another network
    assert auto_init(load_prepared(tmp_path / "p2"), model) is None  # other classes
    for name in data.tracks:
        data.tracks[name]["seconds"] = SMALL_SET_SECONDS
    assert auto_init(data, model) is None  # not a small set
    write_corpus("piano", tmp_path / "pc", n_tracks=2, duration=3.0, seed=5)
    prepare_dataset(tmp_path / "pc", tmp_path / "pp", preset="piano", jobs=1)
    assert auto_init(load_prepared(tmp_path / "pp"), load_recipe("piano")["model"]) == "piano"


def test_coarse_latency_takes_onsets_in_any_order():
    fps, ref = 100.0, np.arange(1.0, 20.0, 0.5)
    shuffled = np.random.default_rng(0).permutation(ref)
    assert coarse_latency([[[ref + 0.09]]], [[shuffled]], fps) == coarse_latency([[[ref + 0.09]]], [[ref]], fps)
    assert coarse_latency([[[ref + 0.09]]], [[shuffled]], fps)[0] == pytest.approx(0.09)
