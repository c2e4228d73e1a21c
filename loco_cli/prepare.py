"""``loco prepare``: audio + annotations -> cached features, count-labelled snippets and splits.

The pipeline lives here; the splits in :mod:`loco_cli.splits`, the reader of the folder it writes in
:mod:`loco_cli.prepared`. A prepared dataset is a folder::

    dataset.json               configs, classes, label map, splits, k_max report, per-track summary
    tracks.csv                 name, group, split, seconds, frames, events per class, source files
    events.csv                 track, label, time (s, reference), train_time (s, with --label-noise-ms)
    snippets.csv               track, split, start_s, length_s, start_frame, n_frames, count per class, collapsed
    norm.npz                   per-channel, per-band mean and std of the training split (float32)
    features/<digest>/<track>.npy   float16 (frames, channels, bands), memory-mapped when training

``<digest>`` is :meth:`FeatureConfig.digest`, so features computed with other settings never mix.
Snippet counts follow one convention: an onset at ``t`` belongs to the snippet whose frames
``[start_frame, start_frame + n_frames)`` contain ``seconds_to_frames(t)``; onsets of one class in the
same frame collapse to one event (the authors' "no double triggering") and ``collapsed`` says how many
did. Everything is written into a temporary folder and renamed at the end, so a prepared folder is
never half-written; the same inputs and seed give byte-identical files.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from loco_cli import __version__
from loco_cli.annotations import (
    ENST_LABELS,
    GM_DRUM_LABELS,
    Events,
    map_labels,
    read_events,
)
from loco_cli.atomic import atomic_path, replace_folder, sibling_temp_dir
from loco_cli.audio import audio_warnings, load_audio
from loco_cli.config import DRUM_CLASSES, PIANO_HIGH, PIANO_LOW, PRESETS, FeatureConfig, SnippetConfig
from loco_cli.datasets import TrackRef, detect_layout, discover, read_count_manifest
from loco_cli.errors import DatasetError, InvalidAnnotation, InvalidAudio, InvalidOption, LocoError
from loco_cli.features import log_mel, seconds_to_frames
from loco_cli.prepared import DATASET_FORMAT, feature_problem
from loco_cli.splits import DEFAULT_SPLIT, DEFAULT_VAL_FRACTION, assign_splits, class_presence

__all__ = ["SILENCE_PEAK", "PrepareResult", "default_classes", "default_label_map", "snippet_counts", "prepare_dataset"]

#: A track whose peak is below this (full scale = 1) is reported as silent.
SILENCE_PEAK = 1e-4


def default_classes(preset: str) -> list[str]:
    """Class names of a preset: KD/SD/HH for drums, MIDI pitches 21..108 for piano."""
    if preset == "piano":
        return [str(p) for p in range(PIANO_LOW, PIANO_HIGH + 1)]
    return list(DRUM_CLASSES)


def default_label_map(preset: str, layout: str) -> dict[str, str] | None:
    """Raw label -> class for a preset: ENST names, General MIDI drum notes (MIDI annotations) and
    KD/SD/HH themselves for drums (IDMT and MDB use those); identity (``None``) for piano."""
    if preset == "piano":
        return None
    return {**ENST_LABELS, **GM_DRUM_LABELS, **{c: c for c in DRUM_CLASSES}}


# ---------------------------------------------------------------------------------------------- snippets
def snippet_counts(
    event_frames: list[np.ndarray], start: int, length: int
) -> tuple[np.ndarray, int]:
    """Counts per class of onsets in frames ``[start, start + length)``, collapsing same-frame onsets.

    ``event_frames``: per class, the frame index of every onset (any order, duplicates allowed).
    Returns ``(counts (C,) int64, collapsed)`` where ``collapsed`` is the number of onsets merged away.
    """
    counts = np.zeros(len(event_frames), dtype=np.int64)
    collapsed = 0
    for c, frames in enumerate(event_frames):
        inside = frames[(frames >= start) & (frames < start + length)]
        unique = np.unique(inside)
        counts[c] = unique.size
        collapsed += inside.size - unique.size
    return counts, collapsed


def _windows(n_frames: int, fps: float, cfg: SnippetConfig) -> list[tuple[int, int]]:
    length = int(seconds_to_frames(cfg.length_s, fps))
    hop = max(1, int(seconds_to_frames(cfg.hop_s, fps)))
    out = []
    start = 0
    while start < n_frames:
        n = min(length, n_frames - start)
        if n >= min(length, max(1, length // 4)):  # drop tail slivers shorter than a quarter snippet
            out.append((start, n))
        start += hop
    return out


# -------------------------------------------------------------------------------------------- per track
@dataclass
class _Job:
    track: TrackRef
    features: FeatureConfig
    label_map: dict[str, str] | None
    classes: list[str]
    dest: Path
    reuse: Path | None
    reuse_seconds: float = 0.0
    #: labels that are valid but not trained on (the preset's other classes, e.g. keys outside a band)
    known: frozenset = frozenset()


def _check_channels(path: Path) -> None:
    import soundfile as sf

    try:
        info = sf.info(path)
    except Exception:  # decoding problems are reported by load_audio with the fix
        return
    if info.channels > 2:
        raise InvalidAudio(f"{path}: {info.channels} channels; give a mono or stereo mix (or pick one channel)")


def _process(job: _Job) -> dict:
    """Features and events of one track; returns a record, or ``{"error": line}``. Leaves the calling
    process's thread settings alone (pool workers set theirs in :func:`_one_thread`)."""
    t = job.track
    try:
        events = None
        if t.annotation is not None:
            raw = read_events(t.annotation)
            for more in t.more_annotations:  # e.g. IDMT's per-instrument layers
                extra = read_events(more)
                raw = Events(np.concatenate([raw.times, extra.times]), np.concatenate([raw.labels, extra.labels]))
            events, dropped = map_labels(raw, job.label_map)
            unknown = sorted(set(events.label_set) - set(job.classes) - job.known)
            if len(raw) and not len(events):
                raise InvalidAnnotation(
                    f"{t.annotation}: none of its labels ({', '.join(raw.label_set[:6])}) maps to a class; "
                    "pass --labels"
                )
            if unknown and len(unknown) == len(events.label_set):
                raise InvalidAnnotation(
                    f"{t.annotation}: labels {', '.join(unknown[:6])} are not classes ({', '.join(job.classes[:6])}); "
                    "pass --labels or --classes"
                )
        else:
            dropped = {}
        _check_channels(t.audio)
        warnings = audio_warnings(t.audio, job.features.fmax)
        if job.reuse is not None:
            feats = np.load(job.reuse, mmap_mode="r")
            seconds = job.reuse_seconds
        else:
            samples = load_audio(t.audio, job.features.sample_rate)
            if np.abs(samples).max() < SILENCE_PEAK:
                raise InvalidAudio(f"{t.audio}: the audio is silent (peak below {SILENCE_PEAK:g})")
            seconds = samples.size / job.features.sample_rate
            feats = log_mel(samples, job.features).astype(np.float16)
        with atomic_path(job.dest) as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(feats))
        stat = t.audio.stat()
        ev = {}
        if events is not None:
            outside = (events.times < 0) | (events.times > seconds)
            if outside.any():
                warnings.append(f"{t.annotation}: {int(outside.sum())} onset(s) outside the audio (0-{seconds:.2f} s), "
                                "left out; check the annotation's time unit and offset")
                events = Events(events.times[~outside], events.labels[~outside])
            if t.annotation is not None and not len(raw):
                warnings.append(f"{t.annotation}: no onsets at all; the track trains as silence for every class")
            ev = {c: events.of(c).tolist() for c in job.classes}
        return {
            "name": t.name,
            "frames": int(feats.shape[0]),
            "seconds": round(float(seconds), 6),
            "events": ev,
            "dropped": {str(k): v for k, v in dropped.items()},
            "warnings": warnings,
            "source_size": stat.st_size,
            "source_mtime_ns": stat.st_mtime_ns,
        }
    except LocoError as err:
        return {"name": t.name, "error": str(err)}


# ----------------------------------------------------------------------------------------------- driver
@dataclass
class PrepareResult:
    """What :func:`prepare_dataset` did: the output folder, the dataset summary and skipped files."""

    out: Path
    summary: dict
    problems: list[str] = field(default_factory=list)


def _csv_text(header: list[str], rows: list[list]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _check_output(out: Path, force: bool) -> None:
    """Refuse an existing ``out`` without ``force``, and any folder ``loco prepare`` did not make."""
    if out.exists() and not force:
        raise DatasetError(f"{out}: already exists; choose another folder or pass --force to replace it")
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "dataset.json").is_file())):
        raise DatasetError(f"{out}: not a prepared dataset (no dataset.json); --force only replaces a folder "
                           "that loco prepare made: choose another output folder")


@dataclass
class _Sources:
    """What a source holds: its tracks, the classes and label map to read them with, the counts
    manifest's clips (``None`` for a dataset with onset times) and the problems found so far."""

    layout: str
    tracks: list[TrackRef]
    classes: list[str]
    label_map: dict[str, str] | None
    clips: list | None
    problems: list[str]


def _find_sources(source: Path, preset: str, layout: str, channel: str, include_train: bool,
                  classes: list[str] | None, label_map: dict[str, str] | None) -> _Sources:
    """The tracks of a dataset folder (by its layout) or of a counts manifest ``.csv``."""
    layout = detect_layout(source) if layout == "auto" else layout
    if layout == "manifest":
        clips, manifest_classes = read_count_manifest(source)
        classes = classes or manifest_classes
        if set(classes) - set(manifest_classes):
            raise InvalidOption(f"{source}: classes {sorted(set(classes) - set(manifest_classes))} are not columns")
        audio_files = sorted({c.audio for c in clips})
        tracks = [TrackRef("__".join(a.with_suffix("").parts[-2:]), a, None, a.parent.name) for a in audio_files]
        return _Sources(layout, tracks, classes, label_map, clips, [])
    tracks, problems = discover(source, layout, channel=channel, include_train=include_train)
    label_map = default_label_map(preset, layout) if label_map is None else label_map
    return _Sources(layout, tracks, classes or default_classes(preset), label_map, None, problems)


def _validation_warnings(splits: dict[str, str], presence: dict[str, set], classes: list[str]) -> list[str]:
    """One warning per class that no validation track holds (when there is a validation split)."""
    if not any(s == "val" for s in splits.values()):
        return []
    val_classes = {c for n, s in splits.items() if s == "val" for c in presence.get(n, ())}
    warnings = []
    for c in classes:
        if c not in val_classes:
            n_train = sum(c in presence.get(n, ()) for n, s in splits.items() if s == "train")
            warnings.append(f"validation: no {c} onsets in the validation tracks ({c} occurs in {n_train} "
                            "training track(s)); checkpoint selection and calibration will not see it")
    return warnings


def _feature_jobs(src: _Sources, out: Path, feat_dir: Path, features: FeatureConfig, preset: str,
                  force: bool) -> list[_Job]:
    """One job per track; with ``force``, a track whose audio is unchanged (size, mtime) and whose
    cached features are sound reuses them."""
    digest = features.digest()
    old = _old_records(out, digest) if force else {}
    jobs = []
    for t in src.tracks:
        rec = old.get(t.name)
        reuse, reuse_seconds = None, 0.0
        if rec is not None and t.audio.is_file():
            st = t.audio.stat()
            if (st.st_size, st.st_mtime_ns) == (rec["source_size"], rec["source_mtime_ns"]):
                reuse = out / "features" / digest / f"{t.name}.npy"
                reuse = reuse if feature_problem(reuse, int(rec["frames"]), features, values=True) is None else None
                reuse_seconds = float(rec["seconds"])
        jobs.append(_Job(t, features, src.label_map, src.classes, feat_dir / f"{t.name}.npy", reuse, reuse_seconds,
                         frozenset(default_classes(preset))))
    return jobs


def _event_rows(good: list[dict], classes: list[str], fps: float, seed: int,
                label_noise_ms: float) -> tuple[list[list], dict[str, list[np.ndarray]]]:
    """``events.csv`` rows (reference time and, for training tracks with ``label_noise_ms``, a jittered
    training time) and each track's onset frames per class (of the reference times)."""
    rows, frames = [], {}
    for i, rec in enumerate(good):
        rng = np.random.default_rng(np.random.SeedSequence([seed, 11, i]))
        per_class = []
        for c in classes:
            times = np.asarray(rec["events"].get(c, []), dtype=np.float64)
            noisy = times
            if label_noise_ms > 0 and rec["split"] == "train":
                noisy = np.maximum(times + rng.normal(0.0, label_noise_ms / 1000.0, times.size), 0.0)
            rows += [[rec["name"], c, f"{a:.6f}", f"{b:.6f}"] for a, b in zip(times, noisy, strict=True)]
            per_class.append(seconds_to_frames(times, fps))
        frames[rec["name"]] = per_class
    return rows, frames


@dataclass
class _Snippets:
    rows: list[list]
    max_count: np.ndarray  # (C,) the highest count per class
    over_k: int  # snippets with a count at or above k_max - 1
    collapsed: int  # onsets merged because they fell in one frame


def _snippet_rows(src: _Sources, good: list[dict], onset_frames: dict[str, list[np.ndarray]], fps: float,
                  snippets: SnippetConfig, k_max: int) -> _Snippets:
    """``snippets.csv`` rows: the manifest's clips with their counts, or windows of every track with the
    onsets counted per class (:func:`snippet_counts`); clips outside their audio are problems."""
    result = _Snippets([], np.zeros(len(src.classes), dtype=np.int64), 0, 0)

    def add(name: str, split: str, s: int, n: int, counts: np.ndarray, collapsed: int) -> None:
        result.rows.append([name, split, f"{s / fps:.6f}", f"{n / fps:.6f}", s, n, *counts.tolist(), collapsed])
        result.max_count = np.maximum(result.max_count, counts)
        result.over_k += int((counts >= k_max - 1).any())
        result.collapsed += collapsed

    if src.clips is not None:
        by_audio = {str(t.audio): t.name for t in src.tracks}
        names = {r["name"]: r for r in good}
        for clip in src.clips:
            name = by_audio[str(clip.audio)]
            if name not in names:
                continue
            s = int(seconds_to_frames(clip.start_s, fps))
            n = min(int(seconds_to_frames(clip.end_s, fps)) - s, names[name]["frames"] - s)
            if n < 1:
                src.problems.append(f"{clip.audio}: clip {clip.start_s}-{clip.end_s} s lies outside the audio")
                continue
            add(name, names[name]["split"], s, n, np.array([clip.counts[c] for c in src.classes], dtype=np.int64), 0)
    else:
        for rec in good:
            for s, n in _windows(rec["frames"], fps, snippets):
                counts, collapsed = snippet_counts(onset_frames[rec["name"]], s, n)
                add(rec["name"], rec["split"], s, n, counts, collapsed)
    return result


def prepare_dataset(
    source: str | Path,
    out: str | Path,
    *,
    preset: str = "drums",
    features: FeatureConfig | None = None,
    classes: list[str] | None = None,
    label_map: dict[str, str] | None = None,
    layout: str = "auto",
    channel: str = "wet_mix",
    include_train: bool = False,
    split: str = DEFAULT_SPLIT,
    val_fraction: float = DEFAULT_VAL_FRACTION,
    snippets: SnippetConfig | None = None,
    label_noise_ms: float = 0.0,
    seed: int = 0,
    jobs: int = 1,
    force: bool = False,
    k_max: int | None = None,
    on_track: Callable[[str, str | None], None] | None = None,
) -> PrepareResult:
    """Prepare ``source`` (a dataset folder or a counts manifest .csv) into ``out``.

    The steps: find the tracks (:func:`_find_sources`), assign the splits (:mod:`loco_cli.splits`),
    compute each track's features and read its onsets (a worker pool, :func:`_process`), write the
    events, the snippets with their counts (:func:`_snippet_rows`) and the training split's
    normalisation statistics into a temporary folder, then rename it to ``out``.

    ``on_track(name, error_or_None)`` is called once per track (for progress bars). Bad tracks are
    skipped and listed in ``PrepareResult.problems``; raises :class:`DatasetError` if ``out`` exists
    without ``force`` or if no track could be prepared.
    """
    if preset not in PRESETS:
        raise InvalidOption(f"unknown preset {preset!r}; use {', '.join(PRESETS)}")
    source, out = Path(source), Path(out)
    _check_output(out, force)
    if label_noise_ms < 0:
        raise InvalidOption("--label-noise-ms must be >= 0")
    features = features or PRESETS[preset].features
    snippets = snippets or SnippetConfig()
    k_max = k_max or PRESETS[preset].loss.k_max
    fps = features.fps
    src = _find_sources(source, preset, layout, channel, include_train, classes, label_map)
    classes, problems = src.classes, src.problems
    presence = class_presence(src.tracks, src.label_map, classes, src.clips)
    splits = assign_splits(src.tracks, split, seed=seed, val_fraction=val_fraction, presence=presence)

    digest = features.digest()
    out.resolve().parent.mkdir(parents=True, exist_ok=True)
    tmp = sibling_temp_dir(out)
    try:
        feat_dir = tmp / "features" / digest
        feat_dir.mkdir(parents=True)
        records = _run_jobs(_feature_jobs(src, out, feat_dir, features, preset, force), jobs, on_track)
        good = []
        for t, rec in zip(src.tracks, records, strict=True):
            if "error" in rec:
                problems.append(rec["error"])
            else:
                rec.update(group=t.group, split=splits[t.name], audio=str(t.audio),
                           annotation=str(t.annotation) if t.annotation else "")
                good.append(rec)
        if not good:
            raise DatasetError(f"{source}: no track could be prepared ({problems[0] if problems else 'none found'})")

        event_rows, onset_frames = _event_rows(good, classes, fps, seed, label_noise_ms)
        snips = _snippet_rows(src, good, onset_frames, fps, snippets, k_max)
        mean, std = _norm_stats([feat_dir / f"{r['name']}.npy" for r in good if r["split"] == "train"])
        np.savez(tmp / "norm.npz", mean=mean, std=std)

        track_rows = [
            [r["name"], r["group"], r["split"], f"{r['seconds']:.3f}", r["frames"],
             *[len(r["events"].get(c, [])) for c in classes], r["audio"], r["annotation"]]
            for r in good
        ]
        _write(tmp / "tracks.csv", _csv_text(["name", "group", "split", "seconds", "frames", *classes, "audio",
                                              "annotation"], track_rows))
        _write(tmp / "events.csv", _csv_text(["track", "label", "time", "train_time"], event_rows))
        _write(tmp / "snippets.csv", _csv_text(
            ["track", "split", "start_s", "length_s", "start_frame", "n_frames", *classes, "collapsed"], snips.rows))
        dropped: dict[str, int] = {}
        for r in good:
            for k, v in r["dropped"].items():
                dropped[k] = dropped.get(k, 0) + v
        summary = {
            "format": DATASET_FORMAT,
            "loco_version": __version__,
            "preset": preset,
            "source": str(source),
            "layout": src.layout,
            "has_timestamps": src.clips is None,
            "classes": classes,
            "label_map": src.label_map,
            "features": features.to_dict(),
            "feature_digest": digest,
            "snippets": snippets.to_dict(),
            "split": split,
            "seed": seed,
            "label_noise_ms": label_noise_ms,
            "k_max": k_max,
            "max_count": dict(zip(classes, snips.max_count.tolist(), strict=True)),
            "snippets_at_or_over_k_max": snips.over_k,
            "collapsed_onsets": snips.collapsed,
            "dropped_labels": dict(sorted(dropped.items())),
            "n_tracks": {s: sum(r["split"] == s for r in good) for s in ("train", "val", "test", "unused")},
            "seconds": {s: round(sum(r["seconds"] for r in good if r["split"] == s), 3)
                        for s in ("train", "val", "test", "unused")},
            "n_snippets": len(snips.rows),
            "events": {c: int(sum(len(r["events"].get(c, [])) for r in good)) for c in classes},
            "skipped": len(problems),
            "warnings": _validation_warnings(splits, presence, classes) + [w for r in good for w in r.get("warnings", [])],
            "tracks": [{k: r[k] for k in ("name", "group", "split", "frames", "seconds", "source_size",
                                          "source_mtime_ns")} for r in good],
        }
        _write(tmp / "dataset.json", json.dumps(summary, indent=1) + "\n")
        replace_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return PrepareResult(out, summary, problems)


def _old_records(out: Path, digest: str) -> dict[str, dict]:
    try:
        meta = json.loads((out / "dataset.json").read_text())
    except (OSError, ValueError):
        return {}
    if meta.get("feature_digest") != digest:
        return {}
    return {t["name"]: t for t in meta.get("tracks", [])}


def _one_thread() -> None:
    """Pool worker set-up: one torch thread per worker process (the workers share the cores)."""
    import torch

    torch.set_num_threads(1)


def _run_jobs(jobs_list: list[_Job], jobs: int, on_track) -> list[dict]:
    if jobs <= 1 or len(jobs_list) <= 1:
        records = []
        for job in jobs_list:
            rec = _process(job)
            records.append(rec)
            if on_track:
                on_track(job.track.name, rec.get("error"))
        return records
    from concurrent.futures import as_completed

    from loco_cli.devices import process_pool

    records: list[dict] = [{}] * len(jobs_list)
    with process_pool(jobs, _one_thread) as pool:
        futures = {pool.submit(_process, job): i for i, job in enumerate(jobs_list)}
        for fut in as_completed(futures):
            i = futures[fut]
            records[i] = fut.result()
            if on_track:
                on_track(jobs_list[i].track.name, records[i].get("error"))
    return records


def _norm_stats(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel, per-band mean and std ``(channels, bands)`` over all frames of ``paths`` (float64 sums)."""
    total, sq, n = None, None, 0
    for p in paths:
        x = np.load(p, mmap_mode="r").astype(np.float64)
        s, q = x.sum(axis=0), np.square(x).sum(axis=0)
        total = s if total is None else total + s
        sq = q if sq is None else sq + q
        n += x.shape[0]
    if total is None:
        raise DatasetError("no training tracks to compute normalisation statistics from")
    mean = total / n
    std = np.sqrt(np.maximum(sq / n - mean**2, 0.0))
    return mean.astype(np.float32), np.maximum(std, 1e-5).astype(np.float32)
