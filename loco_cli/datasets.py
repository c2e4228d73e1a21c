"""Dataset readers: find the (audio, annotation) pairs of a dataset folder by its layout.

Layouts (docs/datasets.md):

* ``enst``: ``drummer_N/audio/<channel>/<take>.wav`` + ``drummer_N/annotation/<take>.txt``; group = drummer.
* ``idmt``: ``audio/<Subset><Kit>_<Take>#MIX.wav`` + ``annotation_xml/<same>.xml`` (or
  ``annotation_svl/<same>.svl``, or, as distributed, one Sonic Visualiser layer per instrument
  ``annotation_svl/<Subset><Kit>_<Take>#KD.svl``, ``#SD``, ``#HH``, merged); ``#train`` single-hit files and isolated stems are skipped; group = subset
  (``RealDrum`` / ``WaveDrum`` / ``TechnoDrum``).
* ``maps``: ``<Instrument>/MUS/MAPS_MUS-<piece>_<Instrument>.wav`` + ``.txt``; group = instrument.
* ``mdb``: ``audio/drum_only/<Track>_Drum.wav`` (or, with ``channel='full_mix'``,
  ``audio/full_mix/<Track>_MIX.wav``) + ``annotations/class/<Track>_class.txt``.
* ``generic``: any audio file with an annotation of the same stem in the same folder (or in a sibling
  ``annotations``/``annotation`` folder); group = parent folder name.
* ``manifest``: a CSV of clips with counts and no timestamps (:func:`read_count_manifest`).

``auto`` recognises each layout from its marker folders. Nothing here reads audio.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from loco_cli.annotations import ANNOTATION_SUFFIXES
from loco_cli.audio import AUDIO_SUFFIXES
from loco_cli.errors import DatasetError
from loco_cli.files import walk_files

__all__ = ["TrackRef", "Clip", "LAYOUT_NAMES", "detect_layout", "discover", "read_count_manifest"]

LAYOUT_NAMES = ("auto", "generic", "enst", "idmt", "maps", "mdb", "manifest")
#: ENST-Drums audio channels.
ENST_CHANNELS = ("wet_mix", "dry_mix", "hi-hat", "kick", "snare", "overhead_L", "overhead_R", "tom_1", "tom_2")


@dataclass(frozen=True)
class TrackRef:
    """One recording: unique ``name``, ``audio`` path, ``annotation`` path (``None`` for manifest
    tracks), and ``group`` (drummer, IDMT subset, MAPS instrument, or folder) used by the splits."""

    name: str
    audio: Path
    annotation: Path | None
    group: str
    #: further annotation files of the same recording, read and merged with ``annotation`` (IDMT's
    #: one Sonic Visualiser layer per instrument)
    more_annotations: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Clip:
    """A counts-manifest row: ``counts[class]`` events in ``[start_s, end_s)`` of ``audio``."""

    audio: Path
    start_s: float
    end_s: float
    counts: dict[str, int]


def detect_layout(root: Path) -> str:
    """Guess the layout of ``root`` from marker files and folders."""
    root = Path(root)
    if root.is_file():
        if root.suffix.lower() == ".csv":
            return "manifest"
        raise DatasetError(f"{root}: a dataset is a folder (or a counts-manifest .csv)")
    if any(root.glob("drummer_*/annotation")):
        return "enst"
    if (root / "annotation_xml").is_dir() or (root / "annotation_svl").is_dir():
        return "idmt"
    if any(root.glob("*/MUS")) or any(root.glob("MUS")):
        return "maps"
    if (root / "annotations" / "class").is_dir():
        return "mdb"
    return "generic"


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return walk_files(folder, suffixes)


def _enst(root: Path, channel: str) -> tuple[list[TrackRef], list[str]]:
    tracks, problems = [], []
    for ann_dir in sorted(root.glob("drummer_*/annotation")):
        drummer = ann_dir.parent.name
        audio_dir = ann_dir.parent / "audio" / channel
        if not audio_dir.is_dir():
            problems.append(f"{audio_dir}: channel folder missing (choose another with --channel)")
            continue
        for ann in sorted(ann_dir.glob("*.txt")):
            wav = audio_dir / f"{ann.stem}.wav"
            if not wav.is_file():
                problems.append(f"{ann}: no audio {wav.name} in {audio_dir}")
                continue
            tracks.append(TrackRef(f"{drummer}__{ann.stem}", wav, ann, drummer))
    return tracks, problems


_IDMT_SUBSET = re.compile(r"^(RealDrum|WaveDrum|TechnoDrum)")


def _idmt(root: Path, include_train: bool) -> tuple[list[TrackRef], list[str]]:
    tracks, problems = [], []
    audio_dir = root / "audio"
    for wav in sorted(audio_dir.glob("*.wav")):
        stem = wav.stem
        if "#train" in stem and not include_train:
            continue
        if not stem.endswith("#MIX") and "#train" not in stem:
            continue  # isolated #KD/#SD/#HH stems: the mixes carry the same hits
        candidates = [root / "annotation_xml" / f"{stem}.xml", root / "annotation_svl" / f"{stem}.svl"]
        ann = next((c for c in candidates if c.is_file()), None)
        base = stem[: -len("#MIX")] if stem.endswith("#MIX") else stem
        layers = tuple(p for p in (root / "annotation_svl" / f"{base}#{i}.svl" for i in ("KD", "SD", "HH")) if p.is_file())
        if ann is None and layers:  # the set as distributed: one .svl layer per instrument
            ann, layers = layers[0], layers[1:]
        elif ann is not None:
            layers = ()
        if ann is None:
            problems.append(f"{wav}: no annotation_xml/{stem}.xml, annotation_svl/{stem}.svl or "
                            f"annotation_svl/{base}#KD.svl (#SD, #HH)")
            continue
        match = _IDMT_SUBSET.match(stem)
        tracks.append(TrackRef(stem.replace("#", "_"), wav, ann, match.group(1) if match else "other", layers))
    return tracks, problems


def _maps(root: Path) -> tuple[list[TrackRef], list[str]]:
    tracks, problems = [], []
    for wav in sorted(list(root.glob("*/MUS/*.wav")) + list(root.glob("MUS/*.wav"))):
        ann = wav.with_suffix(".txt")
        if not ann.is_file():
            problems.append(f"{wav}: no {ann.name} next to it")
            continue
        instrument = wav.parent.parent.name
        tracks.append(TrackRef(wav.stem, wav, ann, instrument))
    return tracks, problems


#: MDB Drums audio versions (``--channel``): the drum stems alone, or the full band mix.
MDB_MIXES = ("drum_only", "full_mix")


def _mdb(root: Path, mix: str) -> tuple[list[TrackRef], list[str]]:
    """MDB Drums: ``annotations/class/<T>_class.txt`` with ``audio/drum_only/<T>_Drum.wav`` or, with
    ``mix='full_mix'``, ``audio/full_mix/<T>_MIX.wav``; never a mixture of the two."""
    if mix not in MDB_MIXES:
        raise DatasetError(f"{root}: MDB Drums has the audio versions {' and '.join(MDB_MIXES)}; "
                           f"choose one with --channel (got {mix!r})")
    suffix = "_Drum" if mix == "drum_only" else "_MIX"
    tracks, problems = [], []
    for ann in sorted((root / "annotations" / "class").glob("*_class.txt")):
        name = ann.name[: -len("_class.txt")]
        wav = root / "audio" / mix / f"{name}{suffix}.wav"
        if not wav.is_file():
            problems.append(f"{ann}: no audio/{mix}/{wav.name}")
            continue
        tracks.append(TrackRef(name, wav, ann, "mdb"))
    return tracks, problems


def _generic(root: Path) -> tuple[list[TrackRef], list[str]]:
    tracks, problems = [], []
    seen: dict[str, Path] = {}
    for wav in _files(root, AUDIO_SUFFIXES):
        folders = [wav.parent, wav.parent / "annotations", wav.parent / "annotation", wav.parent.parent / "annotations"]
        ann = next(
            (f / f"{wav.stem}{s}" for f in folders for s in ANNOTATION_SUFFIXES if (f / f"{wav.stem}{s}").is_file()),
            None,
        )
        if ann is None:
            problems.append(f"{wav}: no annotation file {wav.stem}.txt (or .csv, .xml, ...) next to it")
            continue
        rel = wav.relative_to(root).with_suffix("")
        name = "__".join(rel.parts)
        if name in seen:
            problems.append(f"{wav}: same track name as {seen[name]}")
            continue
        seen[name] = wav
        group = wav.parent.name if wav.parent != root else "all"
        tracks.append(TrackRef(name, wav, ann, group))
    return tracks, problems


def discover(
    root: str | Path, layout: str = "auto", *, channel: str = "wet_mix", include_train: bool = False
) -> tuple[list[TrackRef], list[str]]:
    """Find the tracks of a dataset folder. Returns ``(tracks, problems)``; each problem is one line
    naming a file that could not be paired. Raises :class:`DatasetError` if nothing is found."""
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"{root}: no such dataset folder")
    if layout not in LAYOUT_NAMES:
        raise DatasetError(f"unknown layout {layout!r}; use one of {', '.join(LAYOUT_NAMES)}")
    if root.name in MDB_MIXES and (root.parent.parent / "annotations" / "class").is_dir():
        raise DatasetError(f"{root}: this is an MDB Drums audio folder; run on the dataset root "
                           f"{root.parent.parent} with --channel {root.name}")
    if layout == "auto":
        layout = detect_layout(root)
    if layout == "manifest":
        raise DatasetError(f"{root}: a counts manifest is read with read_count_manifest")
    if layout == "enst":
        tracks, problems = _enst(root, channel)
    elif layout == "idmt":
        tracks, problems = _idmt(root, include_train)
    elif layout == "maps":
        tracks, problems = _maps(root)
    elif layout == "mdb":
        tracks, problems = _mdb(root, "drum_only" if channel == "wet_mix" else channel)
    else:
        tracks, problems = _generic(root)
    if not tracks:
        detail = f" ({problems[0]})" if problems else ""
        raise DatasetError(f"{root}: no audio with annotations found for layout {layout!r}{detail}")
    return tracks, problems


#: The most onsets per second of clip a counts manifest may claim for one class (a sanity bound: 1 ms apart).
MAX_ONSETS_PER_S = 1000


def read_count_manifest(path: str | Path) -> tuple[list[Clip], list[str]]:
    """Read a counts manifest: CSV with header ``audio,start,end,<class>,...`` (seconds; integer counts).

    Audio paths are relative to the manifest's folder. Columns whose names start with ``_`` are notes
    (``loco count`` writes ``_by`` and ``_model``) and are ignored. Returns ``(clips, class names)``; a
    malformed row raises :class:`DatasetError` naming the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: counts manifest not found")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader, [])]
        if header[:3] != ["audio", "start", "end"] or not any(not h.startswith("_") for h in header[3:]):
            raise DatasetError(f"{path}: the header must be audio,start,end,<class>,... (one column per class)")
        columns = [i for i, h in enumerate(header) if i >= 3 and not h.startswith("_")]
        classes = [header[i] for i in columns]
        twice = sorted({c for c in classes if classes.count(c) > 1})
        if twice or not all(classes):
            raise DatasetError(f"{path}: class column {twice[0]!r} appears twice; give each class one column"
                               if twice else f"{path}: the header has an empty class name; name every column")
        clips = []
        for number, row in enumerate(reader, start=2):
            if not row or not "".join(row).strip():
                continue
            if len(row) != len(header):
                raise DatasetError(f"{path}:{number}: expected {len(header)} columns, got {len(row)}")
            try:
                start, end = float(row[1]), float(row[2])
                counts = {c: int(row[i]) for c, i in zip(classes, columns, strict=True)}
            except ValueError as err:
                raise DatasetError(f"{path}:{number}: {err}; start/end are seconds, counts integers") from err
            if not 0 <= start < end < float("inf") or min(counts.values()) < 0:
                raise DatasetError(f"{path}:{number}: need 0 <= start < end (finite seconds) and non-negative counts")
            if max(counts.values()) > MAX_ONSETS_PER_S * (end - start):
                raise DatasetError(f"{path}:{number}: a count of {max(counts.values())} in {end - start:g} s is more than "
                                   f"{MAX_ONSETS_PER_S} onsets per second; check the row")
            clips.append(Clip((path.parent / row[0].strip()).resolve(), start, end, counts))
    if not clips:
        raise DatasetError(f"{path}: the manifest has no clips")
    return clips, classes
