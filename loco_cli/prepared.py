"""The prepared-dataset folder that ``loco prepare`` writes, opened for training and evaluation.

:func:`load_prepared` validates the folder (format, tables, normalisation, every feature file's shape)
and names the file and the fix for anything corrupt; :class:`Prepared` serves tracks, snippets,
reference events and memory-mapped features. The layout is described in :mod:`loco_cli.prepare`.
"""

from __future__ import annotations

import csv
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from loco_cli.annotations import Events
from loco_cli.config import FeatureConfig
from loco_cli.errors import DatasetError

__all__ = ["DATASET_FORMAT", "Prepared", "load_prepared", "feature_problem"]

DATASET_FORMAT = "loco-prepared-1"


@dataclass
class Prepared:
    """A prepared dataset opened for training and evaluation.

    ``tracks``: ``{name: {"split", "frames", "group", "seconds", "audio"}}``; ``events[name][c]``:
    reference onset times (s) of class index ``c``; ``train_events`` the same with label noise;
    ``snippets``: rows of ``snippets.csv`` as dicts with int ``counts`` ``(C,)``.
    """

    root: Path
    meta: dict
    classes: list[str]
    features: FeatureConfig
    tracks: dict[str, dict]
    events: dict[str, list[np.ndarray]]
    train_events: dict[str, list[np.ndarray]]
    snippets: list[dict]
    mean: np.ndarray
    std: np.ndarray
    _levels: dict[str, float] = field(default_factory=dict, repr=False)

    @property
    def has_timestamps(self) -> bool:
        """False for a counts-manifest dataset (counts only)."""
        return bool(self.meta["has_timestamps"])

    def split_tracks(self, split: str) -> list[str]:
        """Names of the tracks of one split, sorted."""
        return sorted(n for n, t in self.tracks.items() if t["split"] == split)

    def reference(self, name: str) -> Events:
        """Reference onsets of a track (clean times, before any label noise) as :class:`Events`."""
        per = self.events[name]
        return Events(np.concatenate(per), np.concatenate([[c] * len(t) for c, t in zip(self.classes, per, strict=True)]))

    def feature_path(self, name: str) -> Path:
        """The cached feature file of a track."""
        return self.root / "features" / self.meta["feature_digest"] / f"{name}.npy"

    def feature_array(self, name: str) -> np.ndarray:
        """Memory-mapped float16 features ``(frames, channels, bands)`` of a track; a missing, truncated
        or misshapen file is a :class:`DatasetError` naming it."""
        path = self.feature_path(name)
        x, problem = _open_features(path, self.tracks[name]["frames"], self.features)
        if problem:
            raise DatasetError(f"{path}: {problem}; run `loco prepare SOURCE {self.root} --force` to recompute it")
        return x

    def level(self, name: str) -> float:
        """The level of a track's audio (:func:`loco_cli.detection.signal_level`: mono, at the features'
        sample rate; full scale = 1), read from its audio file once and remembered: what a level normalisation
        (``DecodeConfig.level_dbfs``) needs beside the features. A missing or unreadable audio file is a
        :class:`DatasetError` naming it."""
        if name not in self._levels:
            from loco_cli.detection import file_level
            from loco_cli.errors import InvalidAudio

            audio = self.tracks[name]["audio"]
            try:
                self._levels[name] = file_level(audio, self.features.sample_rate)
            except InvalidAudio as err:
                raise DatasetError(f"{err}; the model sets its input level (decode level_dbfs), which needs the "
                                   f"audio of {self.root}'s tracks where `loco prepare` found it") from err
        return self._levels[name]

    def check_features(self, names: list[str]) -> None:
        """Read every feature file of ``names`` once: :class:`DatasetError` naming the first one that is
        truncated, misshapen or holds NaN / Inf values (a corrupt cache), with the fix."""
        for name in names:
            x = self.feature_array(name)
            if not np.isfinite(x).all():
                raise DatasetError(f"{self.feature_path(name)}: corrupt feature cache (NaN or Inf values); run "
                                   f"`loco prepare SOURCE {self.root} --force` to recompute it")


def _open_features(path: Path, frames: int | None, features: FeatureConfig) -> tuple[np.ndarray | None, str | None]:
    """A cached feature file memory-mapped, and why it is unusable (``None`` if it is fine): missing,
    truncated, not float16 ``(frames, channels, bands)``."""
    try:
        x = np.load(path, mmap_mode="r")
    except FileNotFoundError:
        return None, "feature cache missing"
    except (OSError, ValueError, EOFError) as err:
        return None, f"corrupt feature cache ({err})"
    if x.dtype != np.float16 or x.ndim != 3 or x.shape[2] != features.n_mels or (frames is not None and x.shape[0] != frames):
        return None, f"corrupt feature cache (shape {x.shape} {x.dtype})"
    return x, None


def feature_problem(path: Path, frames: int | None, features: FeatureConfig, *, values: bool = False) -> str | None:
    """Why a cached feature file is unusable (``None`` if it is fine): as :func:`_open_features`; with
    ``values``, also NaN / Inf values (reads the whole file)."""
    x, problem = _open_features(path, frames, features)
    if problem is None and values and not np.isfinite(x).all():
        return "corrupt feature cache (NaN or Inf values)"
    return problem


def load_prepared(path: str | Path) -> Prepared:
    """Open a folder written by :func:`prepare_dataset`; errors name the folder and the fix."""
    root = Path(path)
    meta_path = root / "dataset.json"
    if not meta_path.is_file():
        raise DatasetError(f"{root}: not a prepared dataset (no dataset.json); run `loco prepare` first")
    try:
        meta = json.loads(meta_path.read_text())
    except ValueError as err:
        raise DatasetError(f"{meta_path}: corrupt ({err}); run `loco prepare --force` again") from err
    if meta.get("format") != DATASET_FORMAT:
        raise DatasetError(f"{root}: dataset format {meta.get('format')!r}, expected {DATASET_FORMAT}; re-run prepare")
    classes = list(meta["classes"])
    index = {c: i for i, c in enumerate(classes)}
    fix = f"run `loco prepare SOURCE {root} --force` again"

    def parse(name: str, convert) -> None:
        """Feed the rows of one CSV table to ``convert``; a missing file or a bad row is a DatasetError
        naming the file and the line."""
        path = root / name
        reader = None
        try:
            with path.open(newline="") as fh:
                reader = csv.DictReader(fh)
                for row in reader:
                    convert(row)
        except OSError as err:
            raise DatasetError(f"{path}: cannot read it ({err.strerror or err}); {fix}") from err
        except (KeyError, ValueError, TypeError, OverflowError, csv.Error) as err:
            line = reader.line_num if reader is not None else 1
            raise DatasetError(f"{path}: corrupt at line {line} ({type(err).__name__}: {err}); {fix}") from err

    tracks = {}

    def track_row(row: dict) -> None:
        tracks[row["name"]] = {"split": row["split"], "frames": int(row["frames"]), "group": row["group"],
                               "seconds": float(row["seconds"]), "audio": row["audio"]}

    parse("tracks.csv", track_row)
    raw: dict[str, list[list[float]]] = {n: [[] for _ in classes] for n in tracks}
    noisy: dict[str, list[list[float]]] = {n: [[] for _ in classes] for n in tracks}

    def event_row(row: dict) -> None:
        c = index[row["label"]]
        raw[row["track"]][c].append(float(row["time"]))
        noisy[row["track"]][c].append(float(row["train_time"]))

    parse("events.csv", event_row)
    snippets = []

    def snippet_row(row: dict) -> None:
        if row["track"] not in tracks:
            raise KeyError(row["track"])
        snippets.append({
            "track": row["track"], "split": row["split"], "start_frame": int(row["start_frame"]),
            "n_frames": int(row["n_frames"]), "counts": np.array([int(row[c]) for c in classes], dtype=np.int64),
        })

    parse("snippets.csv", snippet_row)
    try:
        with np.load(root / "norm.npz") as norm:
            mean, std = np.asarray(norm["mean"]), np.asarray(norm["std"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise DatasetError(f"{root / 'norm.npz'}: corrupt normalisation statistics ({err}); {fix}") from err
    if mean.shape != std.shape or not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
        raise DatasetError(f"{root / 'norm.npz'}: corrupt normalisation statistics (shape {mean.shape} / {std.shape}, "
                           f"non-finite or zero values); {fix}")

    def arrays(d):
        return {n: [np.sort(np.asarray(v, dtype=np.float64)) for v in per] for n, per in d.items()}

    return Prepared(root, meta, classes, FeatureConfig.from_dict(meta["features"]), tracks, arrays(raw),
                    arrays(noisy), snippets, mean, std)
