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


@pytest.mark.parametrize("rate", [SR, 48000, 8000])
def test_audio_stream_in_blocks_equals_the_whole_file_resampled_at_once(tmp_path, rate):
    """Decoded 0.3 s at a time, downmixed and resampled by soxr's streaming resampler: the samples of
    librosa's one-shot soxr_hq resampling of the whole file, to the bit and to the length."""
    import librosa

    from loco_cli.audio import AudioStream

    x = np.random.default_rng(4).normal(0, 0.1, (rate * 2 + 77, 2)).astype(np.float32)
    path = tmp_path / "a.wav"
    sf.write(path, x, rate, subtype="FLOAT")
    stream = AudioStream(path, SR, block_seconds=0.3)
    blocks = list(stream)
    assert len(blocks) > 5 and all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
    got = np.concatenate(blocks)
    ref = x.mean(axis=1) if rate == SR else librosa.resample(x.mean(axis=1), orig_sr=rate, target_sr=SR, res_type="soxr_hq")
    assert got.shape == ref.shape and stream.n_samples == got.size
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(load_audio(path, SR), got)


@pytest.mark.parametrize("channels", [1, 2, 3, 6])
def test_mixdown_equals_numpy_mean_to_the_bit(channels):
    """The stream's channel average (a fast path for stereo) is numpy's float32 mean to the value (a zero
    may keep its sign), with overflowing, denormal and signed-zero samples among them; one channel passes."""
    from loco_cli.audio import _mixdown

    rng = np.random.default_rng(channels)
    x = (rng.standard_normal((5001, channels)) * rng.choice([1e-30, 1e-3, 1.0, 3e37], (5001, channels)))
    x = x.astype(np.float32)
    x[:3] = [[-0.0] * channels, [1e-45] * channels, [3.4e38] * channels]
    with np.errstate(over="ignore"):
        got, ref = _mixdown(x), x.mean(axis=1, dtype=np.float32) if channels > 1 else x[:, 0]
    assert got.dtype == np.float32 and got.shape == (5001,)
    np.testing.assert_array_equal(got, ref)  # NaN/inf where they are, -0.0 == 0.0


def test_audio_stream_reports_bad_samples_late_in_the_file(tmp_path):
    from loco_cli.audio import AudioStream

    x = np.zeros(SR * 3, dtype=np.float32)
    x[-10] = np.inf
    path = tmp_path / "late.wav"
    sf.write(path, x, SR, subtype="FLOAT")
    stream = iter(AudioStream(path, SR, block_seconds=1.0))
    assert next(stream).size == SR  # the first blocks are fine
    with pytest.raises(InvalidAudio, match="late.wav.*NaN or infinite"):
        list(stream)


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


LONG = FeatureConfig(n_fft=8192, win_length=2048, n_mels=384, fmin=27.5, fmax=7270.0, long_win_length=8192)


def test_long_window_channel_matches_a_direct_numpy_reference():
    """The long-window channel: a Hamming window of long_win_length samples centred where frame t's
    short window is centred, zero-padded past both ends; the other channels are unchanged."""
    from loco_cli.features import log_mel_blocks, mel_filterbank

    cfg = LONG
    x = np.random.default_rng(2).normal(0, 0.1, 20000).astype(np.float64)
    y = np.concatenate([x[:1], x[1:] - cfg.preemphasis * x[:-1]])
    frames = n_frames(x.size, cfg)
    off = (cfg.long_win_length - cfg.win_length) // 2
    y = np.pad(y, (off, frames * cfg.hop_length + cfg.long_win_length))
    win = np.hamming(cfg.long_win_length + 1)[:-1]
    fb = mel_filterbank(cfg).astype(np.float64)
    ref = np.array([np.log(fb @ np.abs(np.fft.rfft(y[t * cfg.hop_length : t * cfg.hop_length + cfg.long_win_length] * win,
                                                  cfg.n_fft)) ** 2 + cfg.log_floor) for t in range(frames)])
    got = log_mel(x.astype(np.float32), cfg)
    assert got.shape == (frames, 3, cfg.n_mels) and cfg.n_channels == 3 and cfg.log_channels == (0, 2)
    assert np.abs(got[:, 2] - ref).max() < 2e-3
    np.testing.assert_array_equal(got[:, :2], log_mel(x.astype(np.float32), cfg.replace(long_win_length=0)))
    blocks = np.concatenate(list(log_mel_blocks(x.astype(np.float32), cfg, block_frames=7)))
    np.testing.assert_array_equal(blocks, got)
    assert log_mel(x.astype(np.float32), cfg.replace(delta=False)).shape[1] == 2


def test_long_window_separates_tones_a_semitone_apart_in_the_bass():
    """220 Hz + 233.1 Hz (A3 + A#3, 13 Hz apart): the 46 ms window shows one lump, the 186 ms window
    two peaks with a dip between them (why the piano preset reads both)."""
    from loco_cli.features import mel_centers

    t = np.arange(44100) / 44100
    x = (np.sin(2 * np.pi * 220.0 * t) + np.sin(2 * np.pi * 233.08 * t)).astype(np.float32)
    spec = log_mel(x, LONG)[100]
    centres = mel_centers(LONG)
    lo, hi, mid = (int(np.argmin(np.abs(centres - f))) for f in (220.0, 233.08, 226.5))

    def dip(row):
        return min(row[lo], row[hi]) - row[mid]

    assert dip(spec[2]) > 0.5  # natural-log power: a dip of 2-3 dB between the two partials
    assert dip(spec[0]) < 0  # the short window's lump peaks between them


def test_long_window_config_is_checked_and_old_digests_stay():
    from loco_cli.errors import ConfigError

    with pytest.raises(ConfigError, match="long_win_length"):
        FeatureConfig(long_win_length=1000)
    with pytest.raises(ConfigError, match="long_win_length"):
        FeatureConfig(long_win_length=4096)  # beyond n_fft 2048
    assert "long_win_length" not in FeatureConfig().to_dict()
    assert FeatureConfig.from_dict(LONG.to_dict()) == LONG
    # the feature-cache key of the default drum features, from before the field existed
    assert FeatureConfig().digest() == "21d2a7d03aa65a42"


@pytest.mark.parametrize("cfg", [CFG, LONG, CFG.replace(delta=False, preemphasis=0.0)], ids=["drums", "long", "plain"])
def test_log_mel_stream_equals_log_mel_for_any_chunking(cfg):
    """Audio read in pieces of any size (1 sample, odd sizes, empty ones) gives log_mel's features bit
    for bit, in blocks of at most block_frames frames."""
    from loco_cli.features import log_mel_stream

    rng = np.random.default_rng(5)
    for n in (0, 1, cfg.win_length - 1, 30011):
        x = rng.normal(0, 0.1, n).astype(np.float32)
        whole = log_mel(x, cfg)
        cuts = np.sort(rng.integers(0, n + 1, 12)) if n else np.zeros(0, dtype=int)
        chunks = [x[:1], np.zeros(0, np.float32)] + np.split(x[1:], np.maximum(cuts - 1, 0)) if n else [x]
        blocks = list(log_mel_stream(iter(chunks), cfg, block_frames=9))
        assert all(1 <= b.shape[0] <= 9 for b in blocks)
        np.testing.assert_array_equal(np.concatenate(blocks), whole)


def test_a_gain_moves_the_log_mel_by_a_constant_and_leaves_the_delta():
    """A recording ``g`` times louder has log-mel ``+ 2 ln g`` in every band whose power stays well above the
    floor (``log_floor``), and there the same time difference: what the training's level augmentation (``TrainConfig.gain_db``) adds to the
    features is exactly what a quieter or louder recording does (benchmarks/bench_levels.py)."""
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(SR) * 0.1).astype(np.float32)
    base = log_mel(x, CFG)
    for gain_db in (-30.0, 12.0):
        g = 10 ** (gain_db / 20)
        moved = log_mel(x * np.float32(g), CFG)
        clear = np.minimum(base[:, 0], moved[:, 0]) > np.log(CFG.log_floor) + 8  # power > 3000 x the floor
        clear[1:] &= clear[:-1]  # the delta of frame t reads frame t - 1 too
        assert clear.mean() > 0.8
        np.testing.assert_allclose((moved[:, 0] - base[:, 0])[clear], 2 * np.log(g), atol=1e-3)
        np.testing.assert_allclose(moved[:, 1][clear], base[:, 1][clear], atol=2e-3)
