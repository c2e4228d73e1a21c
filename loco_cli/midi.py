"""A minimal standard MIDI file writer (format 0), enough for detections and for rendering corpora.

Times are seconds; the file runs at 120 BPM with 480 ticks per beat, i.e. 960 ticks per second, so a
note's time is exact to 1/960 s (:func:`quantize`).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

__all__ = ["TICKS_PER_S", "quantize", "smf_bytes", "write_smf"]

TICKS_PER_S = 960


def quantize(seconds: float) -> float:
    """The time a note at ``seconds`` really has in the file."""
    return round(seconds * TICKS_PER_S) / TICKS_PER_S


def _vlq(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def smf_bytes(notes: list[tuple[float, int, int, float, int]], programs: dict[int, int] | None = None) -> bytes:
    """Bytes of a format-0 file for ``notes`` ``(onset_s, note, velocity 1-127, duration_s, channel 0-15)``;
    ``programs`` sets a program per channel at time 0."""
    msgs: list[tuple[int, int, bytes]] = []
    for ch, prog in (programs or {}).items():
        msgs.append((0, 0, bytes([0xC0 | ch, prog])))
    for t, note, vel, dur, ch in notes:
        on, off = round(t * TICKS_PER_S), round((t + max(dur, 0.01)) * TICKS_PER_S)
        msgs.append((on, 2, bytes([0x90 | ch, int(note), max(1, min(127, int(vel)))])))
        msgs.append((max(off, on + 1), 1, bytes([0x80 | ch, int(note), 0])))
    msgs.sort(key=lambda m: (m[0], m[1]))
    body, last = bytearray(b"\x00\xff\x51\x03\x07\xa1\x20"), 0  # tempo: 500000 us per beat
    for tick, _, data in msgs:
        body += _vlq(tick - last) + data
        last = tick
    body += b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", len(body)) + bytes(body)


def write_smf(path: str | os.PathLike, notes, programs: dict[int, int] | None = None) -> None:
    """Write :func:`smf_bytes` atomically to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(smf_bytes(notes, programs))
    os.replace(tmp, path)
