"""`prepare`: features cache, snippet counts, splits, label noise, bad files, atomic/deterministic output."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from loco_cli.config import FeatureConfig, SnippetConfig
from loco_cli.corpus import write_corpus
from loco_cli.datasets import TrackRef
from loco_cli.errors import DatasetError, InvalidOption
from loco_cli.features import seconds_to_frames
from loco_cli.prepare import prepare_dataset, snippet_counts
from loco_cli.prepared import load_prepared
from loco_cli.splits import assign_splits


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    write_corpus("drums", root, n_tracks=4, duration=4.0, seed=1)
    return root


def _files_digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def test_snippet_counts_collapse_same_frame():
    frames = [np.array([3, 3, 10, 299, 300]), np.array([], dtype=np.int64)]
    counts, collapsed = snippet_counts(frames, 0, 300)
    assert counts.tolist() == [3, 0] and collapsed == 1  # 3,3 collapse; 300 is outside [0, 300)


def test_prepare_outputs_consistent(corpus, tmp_path):
    out = tmp_path / "prep"
    res = prepare_dataset(corpus, out, jobs=1)
    assert not res.problems
    data = load_prepared(out)
    assert data.classes == ["KD", "SD", "HH"]
    assert sum(data.meta["n_tracks"].values()) == 4 and data.meta["n_tracks"]["train"] >= 1
    name = data.split_tracks("train")[0]
    feats = data.feature_array(name)
    assert feats.dtype == np.float16 and feats.shape[1:] == (2, 72)
    assert isinstance(feats, np.memmap)
    assert data.mean.shape == (2, 72) and (data.std > 0).all()
    # every snippet's counts equal the (collapsed) onsets inside its frames
    fps = data.features.fps
    for row in data.snippets:
        frames = [seconds_to_frames(t, fps) for t in data.events[row["track"]]]
        expect, _ = snippet_counts(frames, row["start_frame"], row["n_frames"])
        assert np.array_equal(row["counts"], expect)
    # the default label map drops the distractors and reports them
    assert set(data.meta["dropped_labels"]) <= {"lt", "mt", "cr1", "rc1", "cb"}
    # the same inputs give byte-identical outputs; parallel workers change nothing
    res2 = prepare_dataset(corpus, tmp_path / "prep2", jobs=2)
    assert not res2.problems
    assert _files_digest(out) == _files_digest(tmp_path / "prep2")


def test_prepare_refuses_to_overwrite_and_reuses_features(corpus, tmp_path):
    out = tmp_path / "p"
    prepare_dataset(corpus, out)
    with pytest.raises(DatasetError, match="--force"):
        prepare_dataset(corpus, out)
    before = _files_digest(out)
    prepare_dataset(corpus, out, force=True)
    assert _files_digest(out) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders left behind


def test_label_noise_only_on_training_tracks(corpus, tmp_path):
    data = load_prepared(prepare_dataset(corpus, tmp_path / "n", label_noise_ms=20.0, seed=3).out)
    moved = {s: [] for s in ("train", "val", "test")}
    for name, t in data.tracks.items():
        diff = np.concatenate([a - b for a, b in zip(data.train_events[name], data.events[name], strict=True)])
        moved[t["split"]].append(np.abs(diff).max() if diff.size else 0.0)
    assert max(moved["train"]) > 0.005
    assert max(moved["val"] + moved["test"]) == 0.0


def test_bad_files_are_reported_and_skipped(corpus, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for p in corpus.glob("*"):
        if p.is_file():
            (src / p.name).write_bytes(p.read_bytes())
    (src / "broken.wav").write_bytes(b"RIFF not really a wav")
    (src / "broken.txt").write_text("0.1 bd\n")
    sf.write(src / "quiet.wav", np.zeros(44100, dtype=np.float32), 44100)
    (src / "quiet.txt").write_text("0.1 bd\n")
    sf.write(src / "strange.wav", np.random.default_rng(0).normal(0, 0.1, 44100).astype(np.float32), 44100)
    (src / "strange.txt").write_text("0.1 tabla\n")
    sf.write(src / "wide.wav", np.random.default_rng(0).normal(0, 0.1, (44100, 4)).astype(np.float32), 44100)
    (src / "wide.txt").write_text("0.1 bd\n")
    (src / "garbled.wav").write_bytes((src / "quiet.wav").read_bytes())
    (src / "garbled.txt").write_text("0.1 bd\nzero bd\n")
    res = prepare_dataset(src, tmp_path / "out", split="none")
    text = "\n".join(res.problems)
    assert len(res.problems) == 5, text
    for name, why in [("broken.wav", "cannot read"), ("quiet.wav", "silent"), ("strange.txt", "--labels"),
                      ("wide.wav", "channels"), ("garbled.txt", "expected a time")]:
        assert any(name in p and why in p for p in res.problems), (name, text)
    assert load_prepared(res.out).meta["n_tracks"]["train"] >= 3


def _refs(names, groups=None):
    return [TrackRef(n, None, None, (groups or {}).get(n, "g")) for n in names]  # type: ignore[arg-type]


def test_splits():
    names = [f"t{i:02d}" for i in range(12)]
    folds = [assign_splits(_refs(names), f"kfold:3:{i}", val_fraction=0) for i in range(3)]
    tests = [{n for n, s in f.items() if s == "test"} for f in folds]
    assert set().union(*tests) == set(names) and sum(len(t) for t in tests) == 12
    split = assign_splits(_refs(names, {"t00": "A", "t01": "A"}), "holdout:A")
    assert {n for n, s in split.items() if s == "test"} == {"t00", "t01"}
    assert sum(s == "val" for s in split.values()) >= 1
    maps = _refs(["MAPS_MUS-x_ENSTDkCl", "MAPS_MUS-x_AkPnBcht", "MAPS_MUS-y_AkPnBcht", "MAPS_MUS-z_AkPnStgb"],
                 {"MAPS_MUS-x_ENSTDkCl": "ENSTDkCl", "MAPS_MUS-x_AkPnBcht": "AkPnBcht",
                  "MAPS_MUS-y_AkPnBcht": "AkPnBcht", "MAPS_MUS-z_AkPnStgb": "AkPnStgb"})
    split = assign_splits(maps, "maps", val_fraction=0)
    assert split["MAPS_MUS-x_ENSTDkCl"] == "test" and split["MAPS_MUS-x_AkPnBcht"] == "unused"
    assert assign_splits(_refs(names), "random", seed=1) == assign_splits(_refs(names), "random", seed=1)
    for bad in ("kfold:3", "kfold:3:5", "holdout:nope", "maps", "weird"):
        with pytest.raises(InvalidOption):
            assign_splits(_refs(names), bad)


def test_counts_manifest_dataset(corpus, tmp_path):
    wav = sorted(corpus.glob("*.wav"))[0]
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"audio,start,end,KD,SD\n{wav},0,1.5,2,1\n{wav},1.5,3.0,0,4\n")
    data = load_prepared(prepare_dataset(manifest, tmp_path / "mp", split="none").out)
    assert not data.has_timestamps and data.classes == ["KD", "SD"]
    assert [r["counts"].tolist() for r in data.snippets] == [[2, 1], [0, 4]]
    with open(tmp_path / "mp" / "snippets.csv") as fh:
        assert next(csv.reader(fh))[:6] == ["track", "split", "start_s", "length_s", "start_frame", "n_frames"]


def test_snippet_config_and_piano_preset(tmp_path):
    root = tmp_path / "piano"
    write_corpus("piano", root, n_tracks=1, duration=3.0)
    data = load_prepared(prepare_dataset(root, tmp_path / "pp", preset="piano", split="none",
                                         snippets=SnippetConfig(1.0, 0.5)).out)
    assert len(data.classes) == 88 and data.features == FeatureConfig(n_fft=8192, win_length=2048, n_mels=384, fmin=27.5,
                                                                      fmax=7270.0, long_win_length=8192, hop_length=440)
    assert [r["start_frame"] for r in data.snippets][:3] == [0, 50, 100]  # 0.5 s hops at 100.2 frames per second


def test_outputs_have_normal_permissions(corpus, tmp_path):
    import os
    import stat

    out = prepare_dataset(corpus, tmp_path / "perm").out
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~mask
    assert stat.S_IMODE((out / "dataset.json").stat().st_mode) == 0o666 & ~mask


def test_a_class_subset_keeps_tracks_without_those_classes(tmp_path):
    # A piano key band: a piece that plays none of its keys is a valid track with zero counts, while a
    # label outside the preset's vocabulary still makes the track bad.
    write_corpus("piano", tmp_path / "c", n_tracks=2, duration=3.0, seed=3)
    ann = sorted((tmp_path / "c").glob("*.txt"))
    pitches = {int(line.split()[2]) for a in ann for line in a.read_text().splitlines()[1:] if line.strip()}
    absent = [str(p) for p in range(21, 109) if p not in pitches][:3]
    res = prepare_dataset(tmp_path / "c", tmp_path / "p", preset="piano", classes=absent, split="none")
    data = load_prepared(tmp_path / "p")
    assert not res.problems and len(data.tracks) == 2 and data.classes == absent
    assert all(r["counts"].sum() == 0 for r in data.snippets)
    with pytest.raises(DatasetError):
        prepare_dataset(tmp_path / "c", tmp_path / "d", preset="drums", split="none")


def test_counts_only_stacking_adds_counts(corpus, tmp_path):
    import numpy as np

    from loco_cli.config import TrainConfig
    from loco_cli.data import Sampler

    wav = sorted(corpus.glob("*.wav"))[0]
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"audio,start,end,KD,SD\n{wav},0,1.5,2,1\n{wav},1.5,3.0,0,4\n")
    data = load_prepared(prepare_dataset(manifest, tmp_path / "mp", split="none").out)
    sampler = Sampler(data, TrainConfig(stack_prob=1.0, gain_db=0.0), np.random.default_rng(0))
    seen = {tuple(sampler.example()[2].tolist()) for _ in range(40)}
    assert seen <= {(4, 2), (2, 5), (0, 8)} and len(seen) == 3  # every pair of clips, counts added


def _long_window_clip(corpus, tmp_path):
    """A counts-only dataset of one 1.5 s clip with a multi-resolution front-end (``long_win_length``):
    ``(FeatureConfig, Prepared, the clip's cached features (T, 3, bands) float32)``; counts-only
    windows are the clip exactly, so an augmented example lines up with them frame by frame."""
    import numpy as np

    from loco_cli.config import FeatureConfig

    cfg = FeatureConfig(long_win_length=2048)
    wav = sorted(corpus.glob("*.wav"))[0]
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"audio,start,end,KD,SD\n{wav},0,1.5,2,1\n")
    data = load_prepared(prepare_dataset(manifest, tmp_path / "mp", features=cfg, split="none").out)
    row = data.snippets[0]
    raw = np.asarray(data.feature_array(row["track"])[row["start_frame"] : row["start_frame"] + row["n_frames"]], np.float32)
    return cfg, data, raw


def test_long_window_channel_is_augmented_as_a_log_power_channel(corpus, tmp_path):
    """With a multi-resolution front-end (``long_win_length``) the gain moves both log-mel channels and
    not the time difference; mixing two clips log-adds both log-mel channels."""
    import numpy as np

    from loco_cli.config import TrainConfig
    from loco_cli.data import Sampler, _mix

    cfg, data, raw = _long_window_clip(corpus, tmp_path)
    assert raw.shape[1:] == (3, cfg.n_mels)
    x = Sampler(data, TrainConfig(gain_db=6.0), np.random.default_rng(0)).example()[0]
    gain = x[:, 0] - raw[:, 0]
    assert abs(gain.mean()) > 0.01 and np.allclose(gain, gain.flat[0], atol=1e-5)
    np.testing.assert_allclose(x[:, 2] - raw[:, 2], gain, atol=1e-5)
    np.testing.assert_array_equal(x[:, 1], raw[:, 1])
    mixed = _mix(raw, raw[::-1], cfg.log_channels, cfg.delta_channel)
    for c in (0, 2):
        np.testing.assert_allclose(mixed[:, c], np.logaddexp(raw[:, c], raw[::-1, c]), rtol=1e-6)
    np.testing.assert_allclose(mixed[1:, 1], np.diff(mixed[:, 0], axis=0), atol=1e-5)


def test_validation_is_stratified_so_every_class_is_seen():
    from loco_cli.datasets import TrackRef
    from loco_cli.splits import assign_splits

    tracks = [TrackRef(f"t{i}", Path(f"t{i}.wav"), Path(f"t{i}.txt"), "g") for i in range(10)]
    rare = {"SD": ["t3", "t8"], "HH": ["t5"]}  # SD in two tracks, HH in one
    presence = {t.name: {"KD"} | {c for c, names in rare.items() if t.name in names} for t in tracks}
    for seed in range(20):
        plain = assign_splits(tracks, "none", seed=seed)
        split = assign_splits(tracks, "none", seed=seed, presence=presence)
        val = [n for n, s in split.items() if s == "val"]
        train = [n for n, s in split.items() if s == "train"]
        drawn = {n for n, s in plain.items() if s == "val"}
        assert drawn - {"t5"} <= set(val) and val  # the seeded draw, less the only HH track
        assert any("SD" in presence[n] for n in val) and any("SD" in presence[n] for n in train)
        assert "t5" in train  # a class in one track stays in training
        assert len(val) <= len(drawn) + 1


def test_prepare_warns_when_a_class_cannot_be_validated(tmp_path):
    rng = np.random.default_rng(0)
    src = tmp_path / "src"
    src.mkdir()
    for k in range(6):
        sf.write(src / f"t{k}.wav", rng.standard_normal(44100 * 3) * 0.1, 44100)
        (src / f"t{k}.txt").write_text("0.5 bd\n1.0 chh\n" + ("1.5 sd\n" if k == 4 else ""))
    result = prepare_dataset(src, tmp_path / "prep", split="none", seed=0)
    splits = {t["name"]: t["split"] for t in result.summary["tracks"]}
    assert splits["t4"] == "train"  # the only snare track trains
    assert any(w.startswith("validation: no SD onsets in the validation tracks (SD occurs in 1 training track")
               for w in result.summary["warnings"])


def test_eq_augmentation_adds_one_smooth_bounded_curve_to_the_log_channels(corpus, tmp_path):
    """``eq_db``: every frame of each log-mel channel moves by the same curve over the bands, bounded by
    twice ``eq_db`` (tilt + bell) and smooth; the delta channel is untouched; off draws nothing."""
    import math

    import numpy as np

    from loco_cli.config import ConfigError, TrainConfig
    from loco_cli.data import Sampler, random_eq_db

    cfg, data, raw = _long_window_clip(corpus, tmp_path)
    x = Sampler(data, TrainConfig(gain_db=0.0, eq_db=6.0), np.random.default_rng(3)).example()[0]
    curve = x[:, 0] - raw[:, 0]  # (T, F): the same curve in every frame
    np.testing.assert_allclose(curve, np.broadcast_to(curve[0], curve.shape), atol=1e-5)
    np.testing.assert_allclose(x[:, 2] - raw[:, 2], curve, atol=1e-5)
    np.testing.assert_array_equal(x[:, 1], raw[:, 1])
    db = curve[0] * 10.0 / math.log(10.0)
    assert np.ptp(db) > 0.5 and np.abs(db).max() <= 12.0 + 1e-3
    rng = np.random.default_rng(0)
    curves = np.stack([random_eq_db(cfg.n_mels, 6.0, rng) for _ in range(200)])
    assert np.abs(curves).max() <= 12.0 + 1e-4 and np.abs(curves).max() > 6.0  # tilt and bell add up
    assert np.abs(np.diff(curves, axis=1)).max() < 1.5  # smooth over neighbouring bands
    assert abs(curves.mean()) < 1.0  # no bias towards boosting or cutting
    plain = Sampler(data, TrainConfig(gain_db=0.0), np.random.default_rng(3)).example()[0]
    np.testing.assert_array_equal(plain, raw)  # eq_db = 0: no curve
    with pytest.raises(ConfigError):
        TrainConfig(eq_db=-1.0)


def test_lowpass_augmentation_cuts_the_top_bands_as_a_band_limited_recording_does(corpus, tmp_path):
    """``lowpass_prob``: the window's log-mel channels keep the bands well below the random cutoff, fall
    towards the floor well above it (the long window too), the delta is the new log-mel's difference;
    the features match those of audio filtered with the same gains per band to a small error; off (or a
    miss of the probability) leaves the window alone."""
    import numpy as np

    from loco_cli.config import ConfigError, TrainConfig
    from loco_cli.data import LOWPASS_MIN_HZ, Sampler, apply_power_gain, random_lowpass
    from loco_cli.features import log_mel, mel_centers

    cfg, data, raw = _long_window_clip(corpus, tmp_path)
    centres = mel_centers(cfg)
    x = Sampler(data, TrainConfig(gain_db=0.0, lowpass_prob=1.0), np.random.default_rng(3)).example()[0]
    gain = random_lowpass(centres, np.random.default_rng(3).spawn(1)[0], cfg.fmax)  # any cutoff: check the shape
    assert gain is not None and gain[0] > 0.99 and gain[-1] < gain[0]
    moved = x[:, 0] - raw[:, 0]
    low, high = centres < LOWPASS_MIN_HZ / 2, centres > cfg.fmax * 0.99
    assert np.abs(moved[:, low]).max() < 1e-3  # far below every cutoff: untouched
    assert (x[:, 0][:, high] < raw[:, 0][:, high] - 1.0).all()  # above the cutoff: far quieter
    assert (x[:, 2][:, high] < raw[:, 2][:, high] - 1.0).all()
    np.testing.assert_allclose(x[1:, 1], np.diff(x[:, 0], axis=0), atol=1e-5)
    # against audio: a band-limited signal's features, with the gains the filter has at the band centres
    rng = np.random.default_rng(0)
    audio = rng.standard_normal(cfg.sample_rate).astype(np.float32) * 0.1
    spec = np.fft.rfft(audio)
    freqs = np.fft.rfftfreq(audio.size, 1 / cfg.sample_rate)
    cutoff = 6000.0
    filtered = np.fft.irfft(spec / np.sqrt(1 + (freqs / cutoff) ** 16), audio.size).astype(np.float32)
    want = log_mel(filtered, cfg)
    got = apply_power_gain(log_mel(audio, cfg), (1 / (1 + (centres / cutoff) ** 16)).astype(np.float32),
                           cfg.log_channels, cfg.delta_channel, cfg.log_floor)
    # (the FFT filter wraps around at the ends; below ~1 kHz the pre-emphasised noise is mostly the window's
    # leakage from the bands the filter removes, which no per-band gain can model)
    inner, passband = slice(10, -10), (centres > 1000) & (centres < cutoff * 0.8)
    err = np.abs(got[inner, 0][:, passband] - want[inner, 0][:, passband])
    assert err.max() < 0.15 and err.mean() < 0.02
    assert np.abs(got[inner, 0] - want[inner, 0]).mean() < 0.5  # the transition band: the gain at the centre only
    plain = Sampler(data, TrainConfig(gain_db=0.0), np.random.default_rng(3)).example()[0]
    np.testing.assert_array_equal(plain, raw)
    assert random_lowpass(centres, rng, LOWPASS_MIN_HZ) is None
    with pytest.raises(ConfigError):
        TrainConfig(lowpass_prob=1.5)


def test_lowpass_orders_draw_the_filter_steepness(corpus, tmp_path):
    """``lowpass_orders``: by default the 8th-order response, one number drawn (the windows of recipes written
    before the option are the same to the bit); with a range the order is drawn log-uniformly from it (a second
    number) and the response follows it: the steepest cut falls from the passband to the floor in a few bands."""
    import math

    import numpy as np

    from loco_cli.config import LOWPASS_ORDER, ConfigError, TrainConfig
    from loco_cli.data import Sampler, random_lowpass
    from loco_cli.features import mel_centers

    cfg, data, raw = _long_window_clip(corpus, tmp_path)
    centres = mel_centers(cfg)
    rng = np.random.default_rng(5)
    gain = random_lowpass(centres, rng, cfg.fmax)
    ref = np.random.default_rng(5)
    lo, hi = (2595.0 * np.log10(1.0 + f / 700.0) for f in (4000.0, cfg.fmax))
    cutoff = 700.0 * (10 ** (ref.uniform(lo, hi) / 2595.0) - 1.0)
    np.testing.assert_allclose(gain, 1 / (1 + (centres / cutoff) ** (2 * LOWPASS_ORDER)), rtol=1e-6)
    assert rng.random() == ref.random()  # one number drawn, as before the option
    orders = []
    for seed in range(40):
        rng, ref = np.random.default_rng(seed), np.random.default_rng(seed)
        gain = random_lowpass(centres, rng, cfg.fmax, (8.0, 64.0))
        cutoff = 700.0 * (10 ** (ref.uniform(lo, hi) / 2595.0) - 1.0)
        order = math.exp(ref.uniform(math.log(8.0), math.log(64.0)))
        np.testing.assert_allclose(gain, 1 / (1 + (centres / cutoff) ** (2 * order)), rtol=1e-5, atol=1e-30)
        assert rng.random() == ref.random()  # two numbers drawn
        orders.append(order)
    assert 8.0 <= min(orders) < 12.0 and 45.0 < max(orders) <= 64.0
    steep = random_lowpass(centres, np.random.default_rng(0), cfg.fmax, (64.0, 64.0))
    gentle = random_lowpass(centres, np.random.default_rng(0), cfg.fmax)
    edge = int(np.argmax(steep < 0.5))
    assert steep[edge - 2] > 0.99 and steep[edge + 2] < 1e-3  # two bands either side: pass, then nothing
    assert gentle[edge + 2] > 10 * steep[edge + 2]
    x = Sampler(data, TrainConfig(gain_db=0.0, lowpass_prob=1.0, lowpass_orders=(64.0, 64.0)),
                np.random.default_rng(3)).example()[0]
    y = Sampler(data, TrainConfig(gain_db=0.0, lowpass_prob=1.0), np.random.default_rng(3)).example()[0]
    assert not np.array_equal(x, y) and np.array_equal(x[:, :, :4], y[:, :, :4])  # the same cutoff, a steeper cut
    for bad in ((0.5, 8.0), (64.0, 8.0), (8.0, 256.0), (8.0,)):
        with pytest.raises(ConfigError):
            TrainConfig(lowpass_orders=bad)


def test_lowpass_leakage_puts_the_windows_leakage_into_the_cut_bands(corpus, tmp_path):
    """``lowpass_leakage``: the leakage kernels have unit diagonals and fall with the distance between bands (both
    log channels of a multi-resolution front-end, the long window leaking less); a steep low-pass applied to the
    features with them matches the features of brickwall-filtered drum audio in the cut bands several times
    better than the floor model, and the same in the passband; the sampler uses them only when asked."""
    import numpy as np

    from loco_cli.audio import load_audio
    from loco_cli.config import TrainConfig
    from loco_cli.data import Sampler, apply_lowpass, apply_power_gain, leakage_kernels
    from loco_cli.features import log_mel, mel_centers

    cfg, data, raw = _long_window_clip(corpus, tmp_path)
    kernels = leakage_kernels(cfg)
    assert kernels.shape == (2, cfg.n_mels, cfg.n_mels)
    np.testing.assert_allclose(np.diagonal(kernels, axis1=1, axis2=2), 1.0)
    assert (kernels >= 0).all()
    j = 20
    assert (kernels[:, j + 1, j] > kernels[:, j + 10, j]).all() and (kernels[:, j + 10, j] > kernels[:, j + 40, j]).all()
    assert kernels[1, j + 40, j] < kernels[0, j + 40, j]  # the long window leaks less
    audio = load_audio(sorted(corpus.glob("*.wav"))[0], cfg.sample_rate)
    spec = np.fft.rfft(audio)
    cutoff = 8000.0
    spec[np.fft.rfftfreq(audio.size, 1 / cfg.sample_rate) > cutoff] = 0
    want = log_mel(np.fft.irfft(spec, audio.size).astype(np.float32), cfg)
    full = log_mel(audio, cfg)
    centres = mel_centers(cfg)
    gain = (1 / (1 + (centres / cutoff) ** 128)).astype(np.float32)
    got = apply_lowpass(full, gain, kernels, cfg.log_channels, cfg.delta_channel, cfg.log_floor)
    floor = apply_power_gain(full, gain, cfg.log_channels, cfg.delta_channel, cfg.log_floor)
    inner, cut, passband = slice(10, -10), centres > cutoff * 1.1, centres < cutoff * 0.8
    for c in cfg.log_channels:
        err = np.abs(got[inner, c][:, cut] - want[inner, c][:, cut]).mean()
        assert err < 0.35 * np.abs(floor[inner, c][:, cut] - want[inner, c][:, cut]).mean()
        np.testing.assert_allclose(got[inner, c][:, passband], floor[inner, c][:, passband], atol=0.05)
    np.testing.assert_allclose(got[1:, 1], np.diff(got[:, 0], axis=0), atol=1e-5)
    steep = TrainConfig(gain_db=0.0, lowpass_prob=1.0, lowpass_orders=(64.0, 64.0))
    x = Sampler(data, steep, np.random.default_rng(3)).example()[0]
    y = Sampler(data, steep.replace(lowpass_leakage=True), np.random.default_rng(3)).example()[0]
    assert not np.array_equal(x, y) and (y[:, 0] >= x[:, 0] - 1e-4).all()  # leakage only adds power


def test_bandstop_augmentation_cuts_one_run_of_bands_to_the_floor(corpus, tmp_path):
    """``bandstop_prob``: one run of at most a fifth of the bands falls to the log floor in every log-mel
    channel (the long window too), the other bands stay as they were, the delta is the new log-mel's
    difference; widths and positions cover the range; off leaves the window alone."""
    import numpy as np

    from loco_cli.config import ConfigError, TrainConfig
    from loco_cli.data import BANDSTOP_MAX_FRACTION, Sampler, random_bandstop

    cfg, data, raw = _long_window_clip(corpus, tmp_path)
    x = Sampler(data, TrainConfig(gain_db=0.0, bandstop_prob=1.0), np.random.default_rng(3)).example()[0]
    floor = np.float32(np.log(cfg.log_floor))
    cut = np.all(x[:, 0] == floor, axis=0)
    run = np.flatnonzero(cut)
    assert 1 <= run.size <= round(BANDSTOP_MAX_FRACTION * cfg.n_mels) and np.all(np.diff(run) == 1)
    assert np.all(x[:, 2][:, cut] == floor)  # the long window's channel too
    np.testing.assert_allclose(x[:, 0][:, ~cut], raw[:, 0][:, ~cut], atol=1e-5)
    np.testing.assert_allclose(x[1:, 1], np.diff(x[:, 0], axis=0), atol=1e-5)
    rng = np.random.default_rng(0)
    gains = np.stack([random_bandstop(72, rng) for _ in range(2000)])
    widths, starts = (gains == 0).sum(1), (gains == 0).argmax(1)
    assert widths.min() == 1 and widths.max() == round(BANDSTOP_MAX_FRACTION * 72)
    assert starts.min() == 0 and (starts + widths).max() == 72  # both ends reached
    plain = Sampler(data, TrainConfig(gain_db=0.0), np.random.default_rng(3)).example()[0]
    np.testing.assert_array_equal(plain, raw)
    with pytest.raises(ConfigError):
        TrainConfig(bandstop_prob=-0.1)
