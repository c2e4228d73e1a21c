"""A recording's tuning (``DecodeConfig.tuning``, :mod:`loco_cli.tuning`): the offset from the A = 440 Hz
grid is found in the spectral peaks, the audio is moved onto the grid before the features, and times come
back in the recording's seconds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import soundfile as sf

from loco_cli.checkpoint import load_model
from loco_cli.config import DecodeConfig
from loco_cli.detection import detect_file, detect_samples, retune_factor
from loco_cli.errors import ConfigError
from loco_cli.tuning import MIN_RETUNE_CENTS, TuningHistogram, estimate_tuning_cents, tuning_factor

SR = 44100


def _tones(cents: float, seconds: float = 8.0, seed: int = 0) -> np.ndarray:
    """Decaying harmonic notes (4 partials) on random keys 40-80, every pitch ``cents`` off the grid."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.5 * SR)) / SR
    out = np.zeros(int(seconds * SR), np.float64)
    for start in np.arange(0.0, seconds - 0.5, 0.25):
        f0 = 440.0 * 2 ** ((rng.integers(40, 81) - 69) / 12 + cents / 1200)
        note = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 5)) * np.exp(-4 * t)
        i = int(start * SR)
        out[i:i + t.size] += note
    return (0.3 * out / np.abs(out).max()).astype(np.float32)


@pytest.mark.parametrize("cents", [-40.0, -12.0, 0.0, 7.0, 25.0, 45.0])
def test_the_offset_of_harmonic_notes_is_found(cents):
    assert estimate_tuning_cents([_tones(cents)], SR) == pytest.approx(cents, abs=1.5)


def test_the_estimate_does_not_depend_on_the_chunks():
    x = _tones(18.0, seconds=10.0, seed=3)
    whole = estimate_tuning_cents([x], SR)
    pieces = estimate_tuning_cents(np.array_split(x, 37), SR)
    assert whole == pieces and whole == pytest.approx(18.0, abs=1.5)


def test_no_clear_mode_gives_no_offset():
    noise = np.random.default_rng(1).normal(scale=0.1, size=5 * SR).astype(np.float32)
    assert estimate_tuning_cents([noise], SR) == 0.0
    assert estimate_tuning_cents([np.zeros(3 * SR, np.float32)], SR) == 0.0
    assert estimate_tuning_cents([], SR) == 0.0
    assert TuningHistogram(SR).cents() == 0.0


def test_small_offsets_are_left_and_larger_ones_corrected():
    assert retune_factor(MIN_RETUNE_CENTS - 0.1) == 1.0 and retune_factor(-(MIN_RETUNE_CENTS - 0.1)) == 1.0
    assert retune_factor(25.0) == tuning_factor(25.0) == pytest.approx(2 ** (25 / 1200))
    assert tuning_factor(-1200.0) == 0.5


def test_decode_tuning_is_checked_and_old_models_read_as_none():
    with pytest.raises(ConfigError, match="tuning"):
        DecodeConfig(tuning="sometimes")
    assert DecodeConfig.from_dict({"threshold": 0.4}).tuning == "none"  # model files from before the field
    assert DecodeConfig.from_dict(DecodeConfig(tuning="auto").to_dict()).tuning == "auto"


def test_audio_stream_retunes_a_file(tmp_path):
    from loco_cli.audio import AudioStream

    factor = tuning_factor(30.0)
    sharp = _tones(30.0, seconds=6.0)
    path = tmp_path / "sharp.wav"
    sf.write(path, sharp, SR, subtype="FLOAT")
    stream = AudioStream(path, SR, block_seconds=0.7, retune=factor)
    moved = np.concatenate(list(stream))
    assert moved.size == stream.n_samples == int(np.ceil(sharp.size * factor))
    assert estimate_tuning_cents([moved], SR) == pytest.approx(0.0, abs=1.5)  # on the grid now
    with pytest.raises(ValueError, match="retune"):
        AudioStream(path, SR, retune=0.0)


def _piano(tuning: str):
    loaded = load_model("piano")
    return dataclasses.replace(loaded, decode=loaded.decode.replace(tuning=tuning))


def _sharpened(x: np.ndarray, cents: float) -> np.ndarray:
    """``x`` played ``tuning_factor(cents)`` times as fast: every pitch ``cents`` higher, every time shorter."""
    import soxr

    return soxr.resample(x, SR, SR / tuning_factor(cents), quality="HQ").astype(np.float32)


def test_a_sharp_piano_is_detected_as_if_in_tune_and_its_times_come_back(tmp_path):
    """The piano model on loco's piano played 30 cents sharp: with tuning auto it finds the offset, and its
    onsets, in the sharp recording's seconds, are those it finds in the in-tune audio with every time divided
    by the factor; in-tune audio goes through unchanged (nothing retuned, the same onsets as with none)."""
    from mir_eval.util import match_events

    from loco_cli.synth import render_piano_track

    x = render_piano_track(2, duration=6.0, sr=SR).samples.astype(np.float32)
    auto, none = _piano("auto"), _piano("none")
    plain = detect_samples(none, x)
    in_tune = detect_samples(auto, x)
    assert in_tune.tuning_cents == 0.0
    np.testing.assert_array_equal(in_tune.events.times, plain.events.times)
    assert len(plain.events) > 10

    factor = tuning_factor(30.0)
    sharp = _sharpened(x, 30.0)
    found = detect_samples(auto, sharp)
    assert found.tuning_cents == pytest.approx(30.0, abs=3.0)
    assert found.seconds == pytest.approx(sharp.size / SR, abs=1e-3)
    assert found.fps == pytest.approx(none.features.fps * tuning_factor(found.tuning_cents))
    hits = 0
    for label in set(plain.events.labels):
        ref = plain.events.of(label) / factor
        hits += len(match_events(ref, found.events.of(label), 0.03))
    assert hits >= 0.9 * len(plain.events) and abs(len(found.events) - len(plain.events)) <= 0.1 * len(plain.events)

    path = tmp_path / "sharp.wav"
    sf.write(path, sharp, SR, subtype="FLOAT")
    from_file = detect_file(auto, path)
    assert from_file.tuning_cents == found.tuning_cents and len(from_file.events) == len(found.events)
    np.testing.assert_allclose(from_file.events.times, found.events.times, atol=0.011)


def test_cli_detect_says_which_files_it_retuned(tmp_path):
    from typer.testing import CliRunner

    from loco_cli.cli import app

    sf.write(tmp_path / "sharp.wav", _tones(25.0, seconds=4.0), SR, subtype="FLOAT")
    sf.write(tmp_path / "in_tune.wav", _tones(0.0, seconds=4.0), SR, subtype="FLOAT")
    runner = CliRunner()
    done = runner.invoke(app, ["detect", str(tmp_path / "sharp.wav"), str(tmp_path / "in_tune.wav"), "--out",
                               str(tmp_path / "out"), "--model", "piano", "--tuning", "auto"], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    assert "retuned" in done.output and "sharp.wav: +2" in done.output and "in_tune.wav:" not in done.output
    plain = runner.invoke(app, ["detect", str(tmp_path / "sharp.wav"), "--out", str(tmp_path / "o2"), "--model", "piano",
                                "--tuning", "none"], env={"COLUMNS": "200"})
    assert plain.exit_code == 0 and "retuned" not in plain.output
    bad = runner.invoke(app, ["detect", str(tmp_path / "sharp.wav"), "--out", str(tmp_path / "o3"), "--model", "piano",
                              "--tuning", "maybe"], env={"COLUMNS": "200"})
    assert bad.exit_code != 0 and "tuning must be one of none, auto" in bad.output and "Traceback" not in bad.output


def test_spectral_peaks_are_those_of_librosa_piptrack():
    import librosa

    from loco_cli.tuning import TUNING_FMAX, TUNING_FMIN, TUNING_N_FFT, spectral_peaks

    x = _tones(-17.0, seconds=3.0, seed=5)
    mag = np.abs(librosa.stft(x, n_fft=TUNING_N_FFT, hop_length=TUNING_N_FFT // 2, center=False))
    freqs, mags = spectral_peaks(mag, SR)
    pitches, pmags = librosa.piptrack(S=mag, sr=SR, n_fft=TUNING_N_FFT, fmin=TUNING_FMIN, fmax=TUNING_FMAX, threshold=0.1)
    assert freqs.size == np.count_nonzero(pitches) > 50
    np.testing.assert_allclose(np.sort(freqs), np.sort(pitches[pitches > 0]), rtol=1e-5)
    np.testing.assert_allclose(np.sort(mags), np.sort(pmags[pitches > 0]), rtol=1e-4)


def test_python_detect_takes_the_tuning():
    from loco_cli import detect

    sharp = _tones(20.0, seconds=4.0)
    assert detect(sharp, sr=SR, model="piano").tuning_cents == pytest.approx(20.0, abs=1.5)  # the model's: auto
    assert detect(sharp, sr=SR, model="piano", tuning="none").tuning_cents == 0.0
    with pytest.raises(ConfigError, match="tuning"):
        detect(sharp, sr=SR, model="piano", tuning="always")
