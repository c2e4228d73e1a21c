"""A minimal standard MIDI file writer (format 0), enough for detections and for rendering corpora.

Times are seconds; the file runs at 120 BPM with 480 ticks per beat, i.e. 960 ticks per second, so a
note's time is exact to 1/960 s (:func:`quantize`).
"""

from __future__ import annotations

import os
import struct

from loco_cli.atomic import atomic_write_bytes

__all__ = ["TICKS_PER_S", "quantize", "smf_bytes", "write_smf", "read_smf_notes", "read_smf"]

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


def smf_bytes(
    notes: list[tuple[float, int, int, float, int]],
    programs: dict[int, int] | None = None,
    controls: list[tuple[float, int, int, int]] | None = None,
) -> bytes:
    """Bytes of a format-0 file for ``notes`` ``(onset_s, note, velocity 1-127, duration_s, channel 0-15)``;
    ``programs`` sets a program per channel at time 0; ``controls`` are control changes
    ``(time_s, channel, controller, value 0-127)`` (e.g. controller 64, the sustain pedal), sent before
    the notes of the same tick (controller 0, bank select, before the program change at time 0)."""
    msgs: list[tuple[int, int, bytes]] = []
    for t, ch, ctrl, value in controls or []:
        msgs.append((round(t * TICKS_PER_S), -1 if ctrl == 0 else 0, bytes([0xB0 | ch, int(ctrl), max(0, min(127, int(value)))])))
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


def write_smf(path: str | os.PathLike, notes, programs: dict[int, int] | None = None, controls=None) -> None:
    """Write :func:`smf_bytes` atomically to ``path``."""
    atomic_write_bytes(path, smf_bytes(notes, programs, controls))


def _read_vlq(data: bytes, i: int) -> tuple[int, int]:
    value = 0
    while True:
        if i >= len(data):
            raise ValueError("truncated variable-length number")
        byte = data[i]
        i += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, i


def _smf_events(blob: bytes):
    """Note events of a standard MIDI file (format 0 or 1): ``(on_s, off_s | None, note, velocity, channel)``
    in file order, each note-on paired with the next note-off (or velocity-0 note-on) of its key and
    channel (``None`` when the file never releases it). Follows the tempo map (``FF 51`` events of any
    track), running status, SMPTE time division. Raises ``ValueError`` on a malformed file."""
    if blob[:4] != b"MThd" or len(blob) < 14:
        raise ValueError("not a standard MIDI file (no MThd header)")
    hlen, _fmt, ntracks, division = struct.unpack(">IHHH", blob[4:14])
    pos = 8 + hlen
    smpte = division & 0x8000
    if smpte:
        fps = 256 - (division >> 8)
        seconds_per_tick_fixed = 1.0 / (fps * (division & 0xFF))
    tempos: list[tuple[int, int]] = [(0, 500000)]
    raw: list[list] = []  # [on_tick, off_tick | None, note, velocity, channel]
    for _ in range(ntracks):
        if blob[pos : pos + 4] != b"MTrk":
            raise ValueError(f"expected a track chunk at byte {pos}")
        (length,) = struct.unpack(">I", blob[pos + 4 : pos + 8])
        data, i, tick, status = blob[pos + 8 : pos + 8 + length], 0, 0, 0
        pos += 8 + length
        sounding: dict[tuple[int, int], list[list]] = {}
        while i < len(data):
            delta, i = _read_vlq(data, i)
            tick += delta
            byte = data[i]
            if byte == 0xFF:
                kind = data[i + 1]
                size, i = _read_vlq(data, i + 2)
                if kind == 0x51 and size == 3:
                    tempos.append((tick, int.from_bytes(data[i : i + 3], "big")))
                i += size
                continue
            if byte in (0xF0, 0xF7):
                size, i = _read_vlq(data, i + 1)
                i += size
                continue
            if byte & 0x80:
                status, i = byte, i + 1
            elif not status:
                raise ValueError("data byte without a status byte")
            kind, channel = status & 0xF0, status & 0x0F
            n_data = 1 if kind in (0xC0, 0xD0) else 2
            args = data[i : i + n_data]
            i += n_data
            if kind == 0x90 and len(args) == 2 and args[1] > 0:
                note = [tick, None, args[0], args[1], channel]
                raw.append(note)
                sounding.setdefault((args[0], channel), []).append(note)
            elif kind in (0x80, 0x90) and len(args) == 2 and sounding.get((args[0], channel)):
                sounding[(args[0], channel)].pop(0)[1] = tick  # the earliest sounding note of that key
    tempos.sort()

    def seconds(tick: int) -> float:
        if smpte:
            return tick * seconds_per_tick_fixed
        t, last_tick, last_tempo = 0.0, 0, tempos[0][1]
        for at, tempo in tempos:
            if at >= tick:
                break
            t += (at - last_tick) * last_tempo / 1e6 / division
            last_tick, last_tempo = at, tempo
        return t + (tick - last_tick) * last_tempo / 1e6 / division

    return [(seconds(on), None if off is None else seconds(off), note, vel, ch) for on, off, note, vel, ch in raw]


def read_smf_notes(blob: bytes) -> list[tuple[float, int, int]]:
    """Note onsets ``(time_s, note, channel)`` of a standard MIDI file (format 0 or 1), sorted.

    Follows the tempo map (``FF 51`` events of any track), running status, SMPTE time division;
    a note-on with velocity 0 is a note-off. Raises ``ValueError`` on a malformed file.
    """
    return sorted((on, note, ch) for on, _off, note, _vel, ch in _smf_events(blob))


def read_smf(blob: bytes) -> list[tuple[float, float, int, int, int]]:
    """Notes ``(onset_s, offset_s, note, velocity 1-127, channel)`` of a standard MIDI file (format 0 or 1),
    sorted by onset. Each note-on ends at the next note-off (or velocity-0 note-on) of its key and channel,
    the earliest sounding one first; a note the file never releases ends at the file's last event.
    Raises ``ValueError`` on a malformed file."""
    events = _smf_events(blob)
    end = max((t for on, off, *_ in events for t in (on, off) if t is not None), default=0.0)
    return sorted((on, end if off is None else off, note, vel, ch) for on, off, note, vel, ch in events)
