"""Audio input: read any file libsndfile can decode, downmix to mono, resample, validate.

Returns float32 samples in [-1, 1] at the requested rate. Errors name the file and the fix.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from loco_cli.errors import InvalidAudio

__all__ = ["load_audio", "AudioStream", "AUDIO_SUFFIXES", "AUDIO_BLOCK_SECONDS", "audio_warnings"]

#: Suffixes treated as audio when scanning folders.
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3")
#: Seconds of audio decoded at a time by :class:`AudioStream` (memory per block: 4 bytes x channels x
#: rate x this; detection reads the next block while the network runs on the current one).
AUDIO_BLOCK_SECONDS = 2.5


class AudioStream:
    """A file's audio as mono float32 blocks ``(n_i,)`` at ``sample_rate`` Hz, decoded one block at a time.

    Opening checks the file (missing, unreadable, no samples: :class:`~loco_cli.errors.InvalidAudio`
    naming it); iterating decodes :data:`AUDIO_BLOCK_SECONDS` at a time, averages the channels and
    resamples other rates with soxr's streaming resampler (high quality), so memory does not grow with
    the file. Non-finite samples raise ``InvalidAudio`` when their block is read. After a full
    iteration ``n_samples`` is the number of samples yielded. Iterate once.
    ``retune``: the samples are resampled to ``sample_rate * retune`` Hz instead and handed on as if at
    ``sample_rate``: every pitch ``1200 * log2(retune)`` cents lower, every time ``retune`` times longer
    (:mod:`loco_cli.tuning`; 1: as recorded).
    """

    def __init__(self, path: str | os.PathLike, sample_rate: int, block_seconds: float = AUDIO_BLOCK_SECONDS,
                 retune: float = 1.0) -> None:
        import soundfile as sf

        self.path, self.sample_rate, self.retune = Path(path), int(sample_rate), float(retune)
        if not self.retune > 0:
            raise ValueError(f"retune must be positive, got {retune}")
        if not self.path.is_file():
            raise InvalidAudio(f"{self.path}: audio file not found")
        try:
            info = sf.info(str(self.path))
        except Exception as err:  # libsndfile raises several types; all mean "cannot decode"
            raise InvalidAudio(f"{self.path}: cannot read audio ({err}); convert it to WAV or FLAC") from err
        if info.frames == 0:
            raise InvalidAudio(f"{self.path}: the file contains no samples")
        self.file_rate, self.channels = int(info.samplerate), int(info.channels)
        self.block = max(1, int(block_seconds * self.file_rate))
        self.n_samples = 0

    def __iter__(self):
        import soundfile as sf

        resampler = None
        out_rate = self.sample_rate * self.retune
        if self.file_rate != out_rate:
            import soxr

            resampler = soxr.ResampleStream(self.file_rate, out_rate, 1, dtype="float32", quality="HQ")
        read = 0
        try:
            with sf.SoundFile(str(self.path)) as fh:
                while True:
                    data = fh.read(self.block, dtype="float32", always_2d=True)
                    last = data.shape[0] < self.block
                    if data.size and not np.isfinite(data).all():
                        raise InvalidAudio(f"{self.path}: the audio contains NaN or infinite samples")
                    read += data.shape[0]
                    mono = _mixdown(data)
                    if resampler is not None:
                        mono = resampler.resample_chunk(np.ascontiguousarray(mono), last=last)
                    if mono.size:
                        self.n_samples += mono.size
                        yield np.ascontiguousarray(mono, dtype=np.float32)
                    if last:
                        break
        except InvalidAudio:
            raise
        except Exception as err:  # a file that opens but fails part-way (truncated, corrupt)
            raise InvalidAudio(f"{self.path}: cannot read audio after {read} samples ({err}); "
                               "the file may be truncated: convert or re-export it") from err
        if read == 0:
            raise InvalidAudio(f"{self.path}: the file contains no samples")
        if resampler is not None:  # the one-shot resampler's length, ceil(n * out / in)
            short = (-(-read * self.sample_rate // self.file_rate) if self.retune == 1.0
                     else int(np.ceil(read * out_rate / self.file_rate))) - self.n_samples
            if short > 0:
                self.n_samples += short
                yield np.zeros(short, dtype=np.float32)


def _mixdown(data: np.ndarray) -> np.ndarray:
    """The mean of the channels of float32 ``data`` ``(n, channels)``: ``(n,)`` float32, the value of
    ``data.mean(axis=1, dtype=np.float32)`` (a zero may keep its sign). A stereo block is summed column by
    column: numpy's mean over the short inner axis of an ``(n, 2)`` array runs about 20x slower (2.8 s of an
    hour of 44.1 kHz stereo, ad hoc), and both are one float32 addition, then a division by 2."""
    if data.shape[1] == 1:
        return data[:, 0]
    if data.shape[1] == 2:
        return np.add(data[:, 0], data[:, 1]) / np.float32(2)
    return data.mean(axis=1, dtype=np.float32)


def load_audio(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """Load ``path`` as mono float32 samples at ``sample_rate`` Hz: ``(n_samples,)``.

    Multi-channel files are averaged; other rates are resampled (soxr, high quality): the samples of
    :class:`AudioStream`, concatenated. Raises :class:`~loco_cli.errors.InvalidAudio` for a missing,
    unreadable, empty or non-finite file.
    """
    blocks = list(AudioStream(path, sample_rate))
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


def audio_warnings(path: str | os.PathLike, fmax: float) -> list[str]:
    """What is suspicious about an audio file that can be read: a sample rate whose Nyquist frequency
    lies below ``fmax`` (Hz, the top of the model's bands: resampling cannot bring those bands back,
    so they read silence), and a WAV / AIFF whose header announces more samples than the file holds
    (cut off by a failed copy or download; libsndfile reads what is there without an error)."""
    import re

    import soundfile as sf

    out = []
    try:
        with sf.SoundFile(path) as fh:
            rate, frames, log = fh.samplerate, fh.frames, fh.extra_info
    except Exception:  # unreadable files are reported by load_audio
        return out
    if rate / 2 < 0.95 * fmax:
        out.append(f"{path}: recorded at {rate} Hz, so nothing above {rate / 2:.0f} Hz; the model reads up to "
                   f"{fmax:.0f} Hz (hi-hats and cymbals live there): expect missed or weaker detections")
    cut = re.search(r"^\s*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", log, re.MULTILINE)
    announced, held = (int(cut.group(1)), int(cut.group(2))) if cut else (0, 0)
    if 0 < held < announced < 0xFFFFFFF0:  # 0 / 0xFFFFFFFF: a streamed WAV that never set its size
        out.append(f"{path}: truncated: its header announces {announced} bytes of samples, the file holds "
                   f"{held} ({frames / rate:.2f} s were read); re-export or copy it again")
    return out
