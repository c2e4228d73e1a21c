"""Input level normalisation (``DecodeConfig.level_dbfs``): a quieter or louder copy of a recording gives
the same onsets, from audio files, from samples and from prepared datasets alike."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import soundfile as sf
from mir_eval.util import match_events

from loco_cli.checkpoint import load_model
from loco_cli.config import DecodeConfig
from loco_cli.detection import (
    LEVEL_BLOCK_SECONDS,
    MAX_LEVEL_GAIN_DB,
    block_peaks,
    detect_file,
    detect_samples,
    detect_tracks,
    file_level,
    level_gain,
    signal_level,
)
from loco_cli.errors import ConfigError, DatasetError


def _track(seed: int = 5, seconds: float = 4.0):
    from loco_cli.synth import render_drum_track

    t = render_drum_track(seed, 0, duration=seconds)
    return t.samples.astype(np.float32), t.sample_rate


def _with_level(loaded, level):
    return dataclasses.replace(loaded, decode=loaded.decode.replace(level_dbfs=level))


def test_level_gain_puts_the_peak_at_the_level_within_its_cap():
    assert level_gain(0.5, None) == 1.0 and level_gain(0.0, -10.0) == 1.0
    assert 20 * np.log10(0.5 * level_gain(0.5, -10.0)) == pytest.approx(-10.0)
    assert 20 * np.log10(level_gain(1e-6, -10.0)) == pytest.approx(MAX_LEVEL_GAIN_DB)  # near silence: capped
    with pytest.raises(ConfigError, match="level_dbfs"):
        DecodeConfig(level_dbfs=3.0)
    assert DecodeConfig.from_dict(DecodeConfig(level_dbfs=-10.0).to_dict()).level_dbfs == -10.0
    assert DecodeConfig.from_dict({"threshold": 0.4}).level_dbfs is None  # model files from before the field


def test_the_level_passes_over_a_click_and_does_not_depend_on_the_chunks(tmp_path):
    """A file's level is a high quantile of its 50 ms block peaks: a full-scale click in a track 20 dB
    quieter leaves it where it was (the largest sample would move 20 dB); block peaks are the same however
    the audio is cut into chunks, and the level of a file is that of its samples."""
    x, sr = _track(seconds=12.0)
    x *= np.float32(0.1 / np.abs(x).max())  # peak at -20 dBFS
    clicked = x.copy()
    clicked[sr * 5] = 1.0
    assert signal_level(x, sr) == pytest.approx(signal_level(clicked, sr), rel=0.05)
    assert 0.05 < signal_level(x, sr) <= 0.1 and np.abs(clicked).max() == 1.0
    block = round(LEVEL_BLOCK_SECONDS * sr)
    whole = block_peaks([clicked], sr)
    assert whole.size == -(-clicked.size // block)
    cuts = [0, 1, 999, 5000, block * 7 + 3, clicked.size]
    np.testing.assert_array_equal(block_peaks([clicked[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True)], sr), whole)
    assert block_peaks([], sr).size == 0 and signal_level(np.zeros(0, np.float32), sr) == 0.0
    path = tmp_path / "clicked.wav"
    sf.write(path, clicked, sr, subtype="FLOAT")
    assert file_level(path, sr) == pytest.approx(signal_level(clicked, sr))


def test_the_prepared_features_move_as_the_audio_would_silence_included():
    """``data.with_gain`` turns the log-mel of ``x`` into that of ``gain * x`` (floor, delta and the long window
    included): the prepared-dataset path of the level normalisation is the file path's to float32 rounding."""
    from loco_cli.config import PIANO_FEATURES
    from loco_cli.data import with_gain
    from loco_cli.features import log_mel

    x, _ = _track(seconds=2.0)
    x[: x.size // 4] = 0.0  # digital silence: the floor
    for f in (load_model("drums").features, PIANO_FEATURES):
        for gain in (0.01, 30.0):
            want = log_mel(x * np.float32(gain), f)
            np.testing.assert_allclose(with_gain(log_mel(x, f), gain, f), want, atol=2e-3)


def test_a_quieter_copy_gives_the_same_onsets_only_with_a_level():
    loaded = load_model("drums")
    x, sr = _track()
    assert sr == loaded.features.sample_rate
    quiet = x * np.float32(10 ** (-45 / 20))

    levelled = _with_level(loaded, -10.0)
    a, b = detect_samples(levelled, x), detect_samples(levelled, quiet)
    assert list(a.events.labels) == list(b.events.labels) and len(a.events) > 10
    assert np.allclose(a.events.times, b.events.times, atol=1e-6) and np.abs(a.probs - b.probs).max() < 1e-3
    raw = _with_level(loaded, None)  # the audio as it comes: the network sees another level
    u, v = detect_samples(raw, x), detect_samples(raw, quiet)
    assert np.abs(u.probs - v.probs).max() > 0.05


def test_file_and_prepared_paths_apply_the_same_level(tmp_path):
    from loco_cli.corpus import write_corpus
    from loco_cli.prepare import prepare_dataset
    from loco_cli.prepared import load_prepared

    loaded = _with_level(load_model("drums"), -10.0)
    write_corpus("drums", tmp_path / "c", n_tracks=2, duration=4.0, seed=7)
    for wav in (tmp_path / "c").glob("*.wav"):  # one quiet track, one loud
        y, sr = sf.read(wav, dtype="float32")
        sf.write(wav, y * (0.02 if wav.stem.endswith("0") else 1.0), sr, subtype="FLOAT")
    prepare_dataset(tmp_path / "c", tmp_path / "p", split="none", val_fraction=0.0)
    data = load_prepared(tmp_path / "p")
    names = data.split_tracks("train")
    for name, probs, events in detect_tracks(loaded.model, data, names, loaded.decode):
        audio = data.tracks[name]["audio"]
        assert data.level(name) == pytest.approx(file_level(audio, data.features.sample_rate))
        res = detect_file(loaded, audio)
        # the same onsets; the float16 feature cache differs most near the floor (the synthesizer's silences)
        assert np.abs(res.probs - probs).max() < 0.1
        times = [res.events.of(c) for c in loaded.classes], [events.of(c) for c in loaded.classes]
        matched = sum(len(match_events(a, b, 0.01)) for a, b in zip(*times, strict=True))
        assert 2 * matched / (len(res.events) + len(events)) > 0.95
    (tmp_path / "c" / f"{names[0]}.wav").unlink()
    fresh = load_prepared(tmp_path / "p")
    with pytest.raises(DatasetError, match="level_dbfs"):
        fresh.level(names[0])


def test_a_recipe_sets_the_level_and_training_keeps_it(tmp_path, prepared):
    """``[decode] level_dbfs`` in a recipe file: validation detects at that level and the trained model
    keeps it (its thresholds are calibrated for it); a model fine-tuned from it keeps it too."""
    from conftest import TINY_RECIPE

    from loco_cli import engine

    recipe = tmp_path / "r.toml"
    recipe.write_text(TINY_RECIPE + "[decode]\nlevel_dbfs = -12.0\n")
    result = engine.train(prepared, tmp_path / "run", loss="ce", recipe=str(recipe), init="none", tensorboard=False)
    assert load_model(result.model_path).decode.level_dbfs == -12.0
    plain = tmp_path / "plain.toml"
    plain.write_text(TINY_RECIPE)
    tuned = engine.train(prepared, tmp_path / "ft", loss="ce", recipe=str(plain), init=str(result.model_path),
                         tensorboard=False)
    assert load_model(tuned.model_path).decode.level_dbfs == -12.0  # fine-tuning keeps the start's level
    fresh = engine.train(prepared, tmp_path / "new", loss="ce", recipe=str(plain), init="none", tensorboard=False)
    assert load_model(fresh.model_path).decode.level_dbfs is None


def test_training_at_the_level_shows_the_network_every_copy_at_that_level(tmp_path):
    """``train_at_level``: the sampler moves each track's windows to the input level first, so a copy of a
    track 34 dB quieter gives the loud copy's windows (to the float16 cache's rounding above the floor)."""
    from loco_cli.config import TrainConfig
    from loco_cli.corpus import write_corpus
    from loco_cli.data import Sampler
    from loco_cli.prepare import prepare_dataset
    from loco_cli.prepared import load_prepared

    write_corpus("drums", tmp_path / "c", n_tracks=1, duration=4.0, seed=3)
    (wav,) = (tmp_path / "c").glob("*.wav")
    y, sr = sf.read(wav, dtype="float32")
    sf.write(wav.with_name("quiet.wav"), 0.02 * y, sr, subtype="FLOAT")
    for ann in (tmp_path / "c").glob(f"{wav.stem}.*"):
        if ann.suffix != ".wav":
            (tmp_path / "c" / f"quiet{ann.suffix}").write_bytes(ann.read_bytes())
    prepare_dataset(tmp_path / "c", tmp_path / "p", split="none", val_fraction=0.0)
    data = load_prepared(tmp_path / "p")
    assert sorted(data.split_tracks("train")) == sorted(["quiet", wav.stem])
    loud, quiet = (np.asarray(data.feature_array(n)[:300], np.float32) for n in (wav.stem, "quiet"))
    for level, close in ((-10.0, True), (None, False)):
        s = Sampler(data, TrainConfig(), np.random.default_rng(0), level_dbfs=level)
        a, b = s._at_level(loud, wav.stem), s._at_level(quiet, "quiet")
        heard = a[:, 0] > np.log(data.features.log_floor) + 8  # well above the floor
        assert (np.abs(a[:, 0] - b[:, 0])[heard].max() < 0.05) == close
    loudest = a[:, 0] > np.log(data.features.log_floor) + 14  # as they come, 34 dB apart where the floor is far
    assert np.median((a[:, 0] - b[:, 0])[loudest]) == pytest.approx(2 * np.log(50), abs=0.05)


def test_training_at_the_level_needs_a_level(tmp_path, prepared):
    from conftest import TINY_RECIPE

    from loco_cli import engine

    recipe = tmp_path / "r.toml"
    recipe.write_text(TINY_RECIPE.replace("[train]\n", "[train]\ntrain_at_level = true\n"))
    with pytest.raises(ConfigError, match="level_dbfs"):
        engine.train(prepared, tmp_path / "run", loss="ce", recipe=str(recipe), init="none", tensorboard=False)
    recipe.write_text(recipe.read_text() + "[decode]\nlevel_dbfs = -10.0\n")
    result = engine.train(prepared, tmp_path / "run", loss="ce", recipe=str(recipe), init="none", tensorboard=False)
    model = load_model(result.model_path)
    assert model.decode.level_dbfs == -10.0 and model.payload["train"]["train_at_level"] is True
