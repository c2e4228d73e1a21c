"""Event annotations: read reference onsets in the formats datasets use, write detections as CSV.

Times are seconds everywhere in this module. Readers return :class:`Events` (sorted by time) with the
dataset's raw labels; :func:`map_labels` turns them into loco classes with a label map and reports
what it dropped. Supported formats (docs/datasets.md):

* text (``.txt``, ``.csv``, ``.tsv``, ``.onsets``, ``.lab`` ...), comma / tab / space separated, ``#``
  comments, optional header, CRLF tolerated:

  - one column: onset times (label ``onset``);
  - ``time label`` (ENST-Drums, MDB Drums class/subclass files, loco's own ``time,label,confidence``);
  - ``onset offset pitch`` (MAPS ``OnsetTime OffsetTime MidiPitch``): label = MIDI pitch;
* IDMT-SMT-Drums XML (``<event><onsetSec/><instrument/></event>``; negative or exponent onsets are
  parsed with ``float`` and clipped at 0);
* Sonic Visualiser ``.svl`` layers (``<point frame=... label=.../>``, frames at the model's sample rate);
* standard MIDI files (``.mid``): note onsets, label = MIDI note number (tempo map followed).
"""

from __future__ import annotations

import csv
import io
import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from loco_cli.atomic import atomic_write_text
from loco_cli.config import GM_NOTE_CLASSES
from loco_cli.errors import InvalidAnnotation

__all__ = [
    "Events",
    "read_events",
    "map_labels",
    "write_events_csv",
    "ANNOTATION_SUFFIXES",
    "ENST_LABELS",
    "GM_DRUM_LABELS",
    "MDB_LABELS",
]

#: File suffixes recognised as annotations when scanning folders.
ANNOTATION_SUFFIXES = (".txt", ".csv", ".tsv", ".onsets", ".lab", ".xml", ".svl", ".mid", ".midi")

#: ENST-Drums raw labels -> KD / SD / HH (Wu et al. 2018; ``sd-`` is a snare, other drums ignored).
ENST_LABELS = {"bd": "KD", "sd": "SD", "sd-": "SD", "chh": "HH", "ohh": "HH"}
#: General MIDI drum notes (as labels of MIDI annotations) -> KD / SD / HH (:data:`loco_cli.config.GM_NOTE_CLASSES`).
GM_DRUM_LABELS = {str(note): cls for note, cls in GM_NOTE_CLASSES.items()}
#: MDB Drums class-file labels kept by default.
MDB_LABELS = {"KD": "KD", "SD": "SD", "HH": "HH"}


@dataclass(frozen=True)
class Events:
    """Point events: ``times`` ``(E,)`` float64 seconds, sorted; ``labels`` ``(E,)`` str."""

    times: np.ndarray
    labels: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))

    def __post_init__(self) -> None:
        times = np.asarray(self.times, dtype=np.float64).reshape(-1)
        labels = np.asarray(self.labels, dtype=object).reshape(-1)
        if labels.size == 0 and times.size:
            labels = np.array(["onset"] * times.size, dtype=object)
        if labels.size != times.size:
            raise ValueError("times and labels must have the same length")
        order = np.argsort(times, kind="stable")
        object.__setattr__(self, "times", times[order])
        object.__setattr__(self, "labels", labels[order])

    def __len__(self) -> int:
        return int(self.times.size)

    def of(self, label: str) -> np.ndarray:
        """Times of one label, sorted."""
        return self.times[self.labels == label]

    @property
    def label_set(self) -> list[str]:
        """Distinct labels, sorted."""
        return sorted({str(x) for x in self.labels})


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _split(line: str) -> list[str]:
    if "," in line:
        return [part.strip() for part in line.split(",")]
    return line.split()


def _read_text(path: Path) -> Events:
    try:
        raw = path.read_text(encoding="utf-8-sig", errors="strict")
    except UnicodeDecodeError as err:
        raise InvalidAnnotation(f"{path}: not a text annotation file ({err.reason}); use UTF-8 text") from err
    rows = []
    header: list[str] | None = None
    for number, line in enumerate(raw.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = _split(line)
        if not rows and header is None and not _is_number(parts[0]):
            header = [p.lower() for p in parts]
            continue
        if not _is_number(parts[0]):
            raise InvalidAnnotation(f"{path}:{number}: expected a time in seconds, got {parts[0]!r}")
        rows.append((number, parts))
    times, labels = [], []
    pitch_col = label_col = None
    if header and "midipitch" in header:
        pitch_col = header.index("midipitch")
    elif header and "label" in header:  # loco's own time,label,confidence (numeric labels: piano pitches)
        label_col = header.index("label")
    for number, parts in rows:
        t = float(parts[0])
        if not math.isfinite(t):
            raise InvalidAnnotation(f"{path}:{number}: time {parts[0]!r} is not finite")
        if label_col is not None:
            if len(parts) <= label_col:
                raise InvalidAnnotation(f"{path}:{number}: missing the label column")
            label = parts[label_col]
        elif pitch_col is not None:
            label = parts[pitch_col] if len(parts) > pitch_col else None
        elif len(parts) == 1:
            label = "onset"
        elif len(parts) >= 3 and all(_is_number(p) for p in parts[:3]):
            label = parts[2]  # onset offset pitch
        else:
            label = parts[1]
        if label is None:
            raise InvalidAnnotation(f"{path}:{number}: missing the pitch column")
        if label_col is None and (pitch_col is not None or (len(parts) >= 3 and _is_number(label))):
            label = str(int(round(float(label))))
        times.append(max(t, 0.0) if t > -NEGATIVE_TOLERANCE_S else t)  # far below 0: kept, for prepare to report
        labels.append(label)
    return Events(np.array(times), np.array(labels, dtype=object))


#: Onset times this little below zero (rounding in annotation tools) read as 0; earlier ones are kept as they
#: are, and ``loco prepare`` reports and leaves out onsets outside the audio.
NEGATIVE_TOLERANCE_S = 0.05


def _read_idmt_xml(path: Path, root: ET.Element) -> Events:
    times, labels = [], []
    for event in root.iter("event"):
        onset = event.findtext("onsetSec")
        inst = event.findtext("instrument")
        if onset is None or inst is None:
            raise InvalidAnnotation(f"{path}: an <event> lacks <onsetSec> or <instrument>")
        try:
            t = float(onset.strip())
        except ValueError as err:
            raise InvalidAnnotation(f"{path}: bad onsetSec {onset!r}") from err
        times.append(max(t, 0.0))  # a few IDMT onsets near zero are written as negative numbers
        labels.append(inst.strip())
    return Events(np.array(times), np.array(labels, dtype=object))


def _read_svl(path: Path, root: ET.Element) -> Events:
    model = root.find(".//model")
    rate = float(model.get("sampleRate", 44100)) if model is not None else 44100.0
    default_label = path.stem.split("#")[-1] if "#" in path.stem else "onset"
    times, labels = [], []
    for point in root.iter("point"):
        frame = point.get("frame")
        if frame is None:
            raise InvalidAnnotation(f"{path}: a <point> has no frame attribute")
        times.append(max(float(frame) / rate, 0.0))
        labels.append(point.get("label") or default_label)
    return Events(np.array(times), np.array(labels, dtype=object))


def read_events(path: str | os.PathLike) -> Events:
    """Read reference events from any supported annotation file (see the module docstring).

    Raises :class:`~loco_cli.errors.InvalidAnnotation` naming the file (and line) when it is missing,
    unreadable or malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidAnnotation(f"{path}: annotation file not found")
    if path.suffix.lower() in (".xml", ".svl"):
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as err:
            raise InvalidAnnotation(f"{path}: malformed XML ({err})") from err
        if root.tag == "sv" or path.suffix.lower() == ".svl":
            return _read_svl(path, root)
        return _read_idmt_xml(path, root)
    if path.suffix.lower() in (".mid", ".midi"):
        return _read_midi(path)
    return _read_text(path)


def _read_midi(path: Path) -> Events:
    """Note onsets of a MIDI file; label = the MIDI note number (GM drum notes on channel 10)."""
    from loco_cli.midi import read_smf_notes

    try:
        notes = read_smf_notes(path.read_bytes())
    except (ValueError, IndexError) as err:
        raise InvalidAnnotation(f"{path}: malformed MIDI file ({err})") from err
    return Events(np.array([t for t, _, _ in notes]), np.array([str(n) for _, n, _ in notes], dtype=object))


def map_labels(events: Events, label_map: dict[str, str] | None) -> tuple[Events, dict[str, int]]:
    """Rename labels with ``label_map`` (raw -> class); drop unmapped ones.

    Returns the mapped events and ``{raw label: number dropped}``. ``None`` keeps every label.
    Matching is exact first, then case-insensitive.
    """
    if label_map is None:
        return events, {}
    lower = {k.lower(): v for k, v in label_map.items()}
    keep_t, keep_l, dropped = [], [], {}
    for t, label in zip(events.times, events.labels, strict=True):
        target = label_map.get(label, lower.get(str(label).lower()))
        if target is None:
            dropped[label] = dropped.get(label, 0) + 1
            continue
        keep_t.append(t)
        keep_l.append(target)
    return Events(np.array(keep_t), np.array(keep_l, dtype=object)), dropped


def write_events_csv(path: str | os.PathLike, events: Events, confidence: np.ndarray | None = None) -> None:
    """Write ``time,label,confidence`` rows (seconds, 6 decimals) atomically (temp file + rename)."""
    path = Path(path)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["time", "label", "confidence"])
    conf = np.ones(len(events)) if confidence is None else np.asarray(confidence, dtype=float)
    for t, label, c in zip(events.times, events.labels, conf, strict=True):
        writer.writerow([f"{t:.6f}", label, f"{c:.4f}"])
    atomic_write_text(path, buf.getvalue())


def json_text(obj, indent: int = 1) -> str:
    """``obj`` as strict JSON text (newline-terminated): a NaN or infinite float, which JSON cannot hold,
    becomes ``null``. loco writes ``null`` where a score is undefined, e.g. the precision of a class
    with neither references nor detections."""
    import json
    import math

    def clean(x):
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [clean(v) for v in x]
        return x

    return json.dumps(clean(obj), indent=indent, allow_nan=False) + "\n"

