import numpy as np
import pytest
import soundfile as sf

from loco_cli.audio import load_audio
from loco_cli.config import FeatureConfig
from loco_cli.errors import InvalidAudio
from loco_cli.features import frames_to_seconds, log_mel, n_frames, seconds_to_frames

SR = 22050
CFG = FeatureConfig(sample_rate=SR, win_length=551, hop_length=110, n_fft=1024, n_mels=40, fmax=10000.0)


def test_load_downmixes_and_resamples(tmp_path):
    t = np.arange(SR) / SR
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 440 * t)], axis=1) * 0.5
    path = tmp_path / "a.wav"
    sf.write(path, stereo, SR)
    mono = load_audio(path, SR)
    assert mono.dtype == np.float32 and mono.shape == (SR,)
    np.testing.assert_allclose(mono, stereo[:, 0], atol=1e-4)
    half = load_audio(path, SR // 2)
    assert abs(half.size - SR // 2) <= 1


@pytest.mark.parametrize("content", [b"", b"RIFF....WAVEgarbage"])
def test_unreadable_audio_raises_a_clear_error(tmp_path, content):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(InvalidAudio, match="bad.wav"):
        load_audio(path, SR)


def test_missing_and_nan_audio(tmp_path):
    with pytest.raises(InvalidAudio, match="not found"):
        load_audio(tmp_path / "none.wav", SR)
    path = tmp_path / "nan.wav"
    sf.write(path, np.array([0.0, np.nan, 0.1], dtype=np.float32), SR, subtype="FLOAT")
    with pytest.raises(InvalidAudio, match="NaN"):
        load_audio(path, SR)


def test_feature_shapes_and_frame_count():
    x = np.random.default_rng(0).normal(0, 0.1, SR).astype(np.float32)
    f = log_mel(x, CFG)
    assert f.shape == (n_frames(SR, CFG), 2, 40) and f.dtype == np.float32
    assert n_frames(CFG.win_length, CFG) == 1 and n_frames(CFG.win_length + 1, CFG) == 2
    np.testing.assert_array_equal(f[0, 1], 0)  # delta of frame 0
    np.testing.assert_allclose(f[1:, 1], np.diff(f[:, 0], axis=0), atol=1e-5)
    assert log_mel(x, CFG.replace(delta=False)).shape[1] == 1


def test_frames_start_where_their_window_starts():
    # A burst at 0.5 s first shows up in the frames whose window reaches it.
    x = np.zeros(SR, dtype=np.float32)
    start = SR // 2
    x[start : start + 50] = np.random.default_rng(1).normal(0, 0.5, 50)
    energy = log_mel(x, CFG)[:, 0].mean(axis=1)
    first = int(np.argmax(energy > energy[0] + 3))
    # frame t covers samples [t * hop, t * hop + win): the first frame that contains the burst
    expected = int(np.ceil((start - CFG.win_length + 1) / CFG.hop_length))
    assert first == expected


def test_seconds_frames_round_trip():
    fps = CFG.fps
    frames = np.arange(0, 1000, 7)
    np.testing.assert_array_equal(seconds_to_frames(frames_to_seconds(frames, fps), fps), frames)
    assert seconds_to_frames(0.0, fps) == 0


def test_log_mel_matches_a_direct_numpy_reference():
    """Frame by frame: pre-emphasis, Hamming window at the frame start, |rfft|^2, mel, log."""
    import numpy as np

    from loco_cli.config import FeatureConfig
    from loco_cli.features import log_mel, mel_filterbank, n_frames

    for cfg in (FeatureConfig(), FeatureConfig(n_fft=8192, n_mels=384, fmin=27.5, fmax=7270.0)):
        x = np.random.default_rng(0).normal(0, 0.1, 9000).astype(np.float64)
        y = np.concatenate([x[:1], x[1:] - cfg.preemphasis * x[:-1]])
        frames = n_frames(x.size, cfg)
        y = np.pad(y, (0, (frames - 1) * cfg.hop_length + cfg.n_fft - y.size))
        win = np.hamming(cfg.win_length + 1)[:-1]  # periodic, as torch.hamming_window
        ref = np.empty((frames, cfg.n_mels))
        fb = mel_filterbank(cfg).astype(np.float64)
        for t in range(frames):
            seg = np.zeros(cfg.n_fft)
            seg[: cfg.win_length] = y[t * cfg.hop_length : t * cfg.hop_length + cfg.win_length] * win
            ref[t] = np.log(fb @ np.abs(np.fft.rfft(seg)) ** 2 + cfg.log_floor)
        got = log_mel(x.astype(np.float32), cfg)
        assert got.shape == (frames, 2, cfg.n_mels)
        assert np.abs(got[:, 0] - ref).max() < 2e-3
        assert np.allclose(got[1:, 1], np.diff(got[:, 0], axis=0)) and not got[0, 1].any()


@pytest.mark.parametrize("preset", ["drums", "piano"])
def test_mel_filterbank_and_centres_equal_librosa(preset):
    """Our numpy HTK filterbank is librosa's (htk=True, norm=None), without librosa's start-up cost."""
    import librosa

    from loco_cli.config import PRESETS
    from loco_cli.features import mel_centers, mel_filterbank

    cfg = PRESETS[preset].features
    ref = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax,
                              htk=True, norm=None)
    np.testing.assert_allclose(mel_filterbank(cfg), ref, rtol=0, atol=2e-6)
    centres = librosa.mel_frequencies(n_mels=cfg.n_mels + 2, fmin=cfg.fmin, fmax=cfg.fmax, htk=True)[1:-1]
    np.testing.assert_allclose(mel_centers(cfg), centres, rtol=1e-12)
