"""Audio input: read any file libsndfile can decode, downmix to mono, resample, validate.

Returns float32 samples in [-1, 1] at the requested rate. Errors name the file and the fix.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from loco_cli.errors import InvalidAudio

__all__ = ["load_audio", "AUDIO_SUFFIXES", "rate_warning"]

#: Suffixes treated as audio when scanning folders.
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3")


def load_audio(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """Load ``path`` as mono float32 samples at ``sample_rate`` Hz: ``(n_samples,)``.

    Multi-channel files are averaged; other rates are resampled (soxr, high quality). Raises
    :class:`~loco_cli.errors.InvalidAudio` for a missing, unreadable, empty or non-finite file.
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise InvalidAudio(f"{path}: audio file not found")
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as err:  # libsndfile raises several types; all mean "cannot decode"
        raise InvalidAudio(f"{path}: cannot read audio ({err}); convert it to WAV or FLAC") from err
    if data.size == 0:
        raise InvalidAudio(f"{path}: the file contains no samples")
    if not np.isfinite(data).all():
        raise InvalidAudio(f"{path}: the audio contains NaN or infinite samples")
    mono = data.mean(axis=1)
    if rate != sample_rate:
        import librosa

        mono = librosa.resample(mono, orig_sr=rate, target_sr=sample_rate, res_type="soxr_hq")
    return np.ascontiguousarray(mono, dtype=np.float32)


def rate_warning(path: str | os.PathLike, fmax: float) -> str | None:
    """A warning when ``path`` was recorded at a rate whose Nyquist frequency lies below ``fmax`` (Hz, the
    top of the model's bands): resampling cannot bring those bands back, so they read silence."""
    import soundfile as sf

    try:
        rate = sf.info(path).samplerate
    except Exception:  # unreadable files are reported by load_audio
        return None
    if rate / 2 < 0.95 * fmax:
        return (f"{path}: recorded at {rate} Hz, so nothing above {rate / 2:.0f} Hz; the model reads up to "
                f"{fmax:.0f} Hz (hi-hats and cymbals live there): expect missed or weaker detections")
    return None
