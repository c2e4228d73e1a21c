"""The shared core engine: one function per command, returning result objects; nothing here prints.

``synth`` (``loco synth``), ``prepare``, ``train`` and ``resume`` (``loco train [--resume]``),
``detect`` (one recording; :func:`loco_cli.detection.detect_paths` for a batch of files),
``evaluate_paths`` (``loco eval PRED REF``), ``evaluate_model`` (``loco eval --model``, ``--tune``),
``ensemble`` (``loco ensemble``) and :func:`loco_cli.crossval.crossval` (``loco crossval``).

Progress and per-file problems are reported through callbacks, so the CLI (or a notebook) decides
how to show them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from loco_cli.annotations import ANNOTATION_SUFFIXES, Events, map_labels, read_events
from loco_cli.config import DEFAULT_INIT, EVAL_WINDOW_S
from loco_cli.corpus import SYNTH_DURATION_S, SYNTH_TRACKS
from loco_cli.errors import InvalidAnnotation, InvalidOption
from loco_cli.files import walk_files
from loco_cli.patterns import PIANO_FIGURES
from loco_cli.pianos import SCORE_DRAWS, SCORE_TEMPO
from loco_cli.scores import score_track, summarise, timing_errors
from loco_cli.splits import DEFAULT_SPLIT, DEFAULT_VAL_FRACTION

__all__ = ["synth", "prepare", "train", "resume", "ensemble", "training_configs", "run_configs", "detect", "EvalResult",
           "pair_annotation_files", "track_key", "evaluate_paths", "evaluate_model", "note_level_f1"]


#: Format tag of ``loco eval --json`` reports.
EVAL_FORMAT = "loco-eval-1"


@dataclass
class EvalResult:
    """Scores of a batch evaluation plus what could not be scored and why."""

    report: dict
    classes: list[str]
    window: float
    problems: list[str] = field(default_factory=list)
    notes: dict = field(default_factory=dict)  # piano: note-level P/R/F1, mean over tracks
    counts: dict = field(default_factory=dict)  # {track: {class: Counts}} behind the report (for pooling)
    timing: dict = field(default_factory=dict)  # {class: signed errors (s) of matched onsets, detection - reference}

    def payload(self, info: dict | None = None) -> dict:
        """The report as written by ``loco eval --json`` (format ``loco-eval-1``): window (s), classes,
        problems, ``classes`` / ``overall`` / ``tracks`` scores, the model info and note-level scores.
        A precision or F1 with nothing to divide (no references and no detections) is ``null``."""
        from loco_cli import __version__

        notes = (info or {}).get("notes") or self.notes
        return {"format": EVAL_FORMAT, "loco_version": __version__, "window_s": self.window,
                "class_names": self.classes, "problems": self.problems, **self.report,
                **({"model": info} if info else {}), **({"notes": notes} if notes else {})}

    def csv_text(self) -> str:
        """Per-class rows (and ``all``) as CSV: mean-over-tracks and global precision, recall, F1, counts."""
        import csv
        import io

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["class", "precision_mean", "recall_mean", "f1_mean", "precision_global", "recall_global",
                         "f1_global", "n_ref", "n_est"])
        for name, block in [(c, self.report["classes"][c]) for c in self.classes] + [("all", self.report["overall"])]:
            m, g = block["mean"], block["global"]
            writer.writerow([name, *(f"{v:.6f}" for v in (m["precision"], m["recall"], m["f1"], g["precision"],
                                                          g["recall"], g["f1"])), g["n_ref"], g["n_est"]])
        return buf.getvalue()


def _annotation_files(folder: Path) -> dict[str, Path]:
    files = {}
    for path in walk_files(folder, ANNOTATION_SUFFIXES):
        files.setdefault(path.stem, path)
    return files


def pair_annotation_files(pred: Path, ref: Path) -> tuple[list[tuple[str, Path, Path]], list[str]]:
    """Pair prediction and reference files: two files, or two folders matched by file stem, or, when no
    stem is shared, by track under the datasets' naming rules (:func:`track_key`: a prediction
    ``<T>_Drum.csv`` or ``<T>_MIX.csv`` pairs with MDB Drums' ``<T>_class.txt``).

    Returns ``[(track, pred_file, ref_file)]`` and a list of problems (unmatched stems).
    """
    pred, ref = Path(pred), Path(ref)
    for p in (pred, ref):
        if not p.exists():
            raise InvalidOption(f"{p}: no such file or folder")
    if pred.is_file() and ref.is_file():
        return [(ref.stem, pred, ref)], []
    if pred.is_dir() != ref.is_dir():
        raise InvalidOption(f"{pred} and {ref}: give two files or two folders")
    preds, refs = _annotation_files(pred), _annotation_files(ref)
    if not set(preds) & set(refs):  # no identical stems: pair by the datasets' naming rules
        preds, refs = _by_track(preds), _by_track(refs)
    pairs = [(stem, preds[stem], refs[stem]) for stem in sorted(refs) if stem in preds]
    problems = [f"{refs[s]}: no prediction with the stem {s!r} in {pred}" for s in sorted(refs) if s not in preds]
    problems += [f"{preds[s]}: no reference with the stem {s!r} in {ref}" for s in sorted(preds) if s not in refs]
    if not pairs:
        raise InvalidOption(f"{pred} and {ref}: no annotation files share a stem; name predictions after references")
    return pairs, problems


#: File-name suffixes that name a recording's version or annotation layer rather than the track:
#: MDB Drums ``<T>_MIX`` / ``<T>_Drum`` audio and ``<T>_class`` / ``<T>_subclass`` annotations, IDMT-SMT-Drums
#: ``<T>#MIX`` audio and ``<T>#MIX`` / ``<T>#KD`` ... annotations.
TRACK_SUFFIXES = ("_MIX", "_Drum", "_class", "_subclass", "#MIX", "#KD", "#SD", "#HH", "#train")


def track_key(stem: str) -> str:
    """The track a file stem belongs to under the datasets' naming rules: ``MusicDelta_Rock_Drum`` and
    ``MusicDelta_Rock_class`` -> ``MusicDelta_Rock``; ``RealDrum01_00#MIX`` -> ``RealDrum01_00``."""
    for suffix in TRACK_SUFFIXES:
        if stem.endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)]
    return stem


def _by_track(files: dict[str, Path]) -> dict[str, Path]:
    """Re-key ``{stem: path}`` by :func:`track_key`; a track with several files keeps the first."""
    out: dict[str, Path] = {}
    for stem, path in sorted(files.items()):
        out.setdefault(track_key(stem), path)
    return out


def evaluate_paths(
    pred: Path,
    ref: Path,
    *,
    window: float = EVAL_WINDOW_S,
    classes: list[str] | None = None,
    label_map: dict[str, str] | None = None,
    on_file: Callable[[str], None] | None = None,
) -> EvalResult:
    """Score predicted onsets against references (mir_eval onset matching within ``window`` seconds).

    ``label_map`` maps reference labels to classes (predictions are assumed to use class names
    already); ``classes`` defaults to every class found in the references. A file that cannot be read
    is reported in ``problems`` and the rest go on. When every class is a MIDI pitch (piano),
    ``notes`` holds the note-level scores (:func:`note_level_f1`, mean over tracks).
    """
    if not 0 < window < float("inf"):  # also refuses NaN
        raise InvalidOption(f"--window must be a positive number of seconds (e.g. 0.05), got {window}")
    pairs, problems = pair_annotation_files(pred, ref)
    loaded = {}
    for track, pred_file, ref_file in pairs:
        try:
            ref_events, _ = map_labels(read_events(ref_file), label_map)
            est_events = read_events(pred_file)
        except InvalidAnnotation as err:
            problems.append(str(err))
            continue
        loaded[track] = (ref_events, est_events)
        if on_file:
            on_file(track)
    if not loaded:
        raise InvalidOption("no track could be scored: " + "; ".join(problems[:3]))
    if classes is None:
        classes = sorted({label for r, _ in loaded.values() for label in r.label_set})
    per_track = {t: score_track(r, e, classes, window) for t, (r, e) in loaded.items()}
    notes = {}
    if _is_piano(classes):  # pitch + onset through mir_eval.transcription, as the piano papers report
        notes = _note_summary([note_level_f1(r, e, window) for r, e in loaded.values()])
    return EvalResult(summarise(per_track, classes), classes, window, problems, notes)


def _note_summary(per_track: list[tuple[float, float, float]]) -> dict:
    """Mean note-level P/R/F1 over tracks, from :func:`note_level_f1` triples."""
    arr = np.array(per_track)
    return {"precision": float(arr[:, 0].mean()), "recall": float(arr[:, 1].mean()), "f1": float(arr[:, 2].mean()),
            "tracks": len(per_track)}


def _is_piano(classes: list[str]) -> bool:
    return all(c.isdigit() and 0 <= int(c) <= 127 for c in classes)


def note_level_f1(ref: Events, est: Events, window: float) -> tuple[float, float, float]:
    """Piano note-level ``(P, R, F1)``: onset within ``window`` and the same pitch, offsets ignored
    (``mir_eval.transcription.precision_recall_f1_overlap`` with ``offset_ratio=None``)."""
    import mir_eval

    def notes(ev: Events):
        t = ev.times
        intervals = np.stack([t, t + 0.1], axis=1) if t.size else np.zeros((0, 2))
        pitches = mir_eval.util.midi_to_hz(np.array([float(x) for x in ev.labels])) if t.size else np.zeros(0)
        return intervals, pitches

    (ri, rp), (ei, ep) = notes(ref), notes(est)
    if not ri.size and not ei.size:
        return 1.0, 1.0, 1.0
    if not ri.size or not ei.size:
        return 0.0, 0.0, 0.0
    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(ri, rp, ei, ep, onset_tolerance=window,
                                                                   offset_ratio=None)
    return p, r, f


def evaluate_model(
    model: str | Path | None,
    data_dir: str | Path,
    *,
    split: str = "test",
    window: float = EVAL_WINDOW_S,
    tune: bool = False,
    tuned_out: str | Path | None = None,
    device="cpu",
    on_file: Callable[[str], None] | None = None,
) -> tuple[EvalResult, dict]:
    """Detect on the tracks of ``split`` of a prepared dataset and score them.

    With ``tune``, per-class latency and thresholds and the peak picker's minimum gap are first calibrated
    (:func:`loco_cli.calibration.calibrate_min_gap`) on the ``val`` split and
    written, with the model, to the new file ``tuned_out`` (the model given is never modified; the
    score is then that of the tuned model). Returns ``(EvalResult, info)``; ``info`` holds the model
    path, the decode settings used and, for piano, the note-level (pitch + onset) mean F1 over tracks.
    """
    from loco_cli.calibration import calibrate_min_gap
    from loco_cli.checkpoint import atomic_save, content_hash, load_model
    from loco_cli.detection import detect_tracks
    from loco_cli.errors import ModelError
    from loco_cli.prepared import load_prepared

    if not 0 < window < float("inf"):  # also refuses NaN
        raise InvalidOption(f"--window must be a positive number of seconds (e.g. 0.05), got {window}")
    if tune and tuned_out is None:
        raise InvalidOption("--tune writes the tuned model to a new file: pass --out FILE.pt")
    loaded = load_model(model, device)
    if tune and Path(tuned_out).resolve() == Path(loaded.path).resolve():
        raise InvalidOption(f"{tuned_out}: --out must be a new file, not the model being tuned")
    data = load_prepared(data_dir)
    if loaded.classes != data.classes:
        raise ModelError(f"{loaded.path}: model classes {loaded.classes[:6]} differ from {data_dir}'s {data.classes[:6]}")
    if not data.has_timestamps:
        raise InvalidOption(f"{data_dir}: a counts-only dataset has no timestamps to score onsets against")
    names = data.split_tracks(split)
    if not names:
        raise InvalidOption(f"{data_dir}: no {split!r} tracks; choose --split train, val or test")
    same_features = loaded.features.digest() == data.meta["feature_digest"]

    features_of = None
    if not same_features:
        from loco_cli.audio import load_audio
        from loco_cli.features import log_mel

        def features_of(name: str) -> np.ndarray:
            return log_mel(load_audio(data.tracks[name]["audio"], loaded.features.sample_rate), loaded.features)

    def run(names_: list[str], cfg_):
        return detect_tracks(loaded.model, data, names_, cfg_, device=device, features_of=features_of,
                             fps=loaded.features.fps, features=loaded.features)

    cfg = loaded.decode
    info: dict = {"model": str(loaded.path)}
    if tune:
        val = data.split_tracks("val")
        if not val:
            raise InvalidOption(f"{data_dir}: --tune needs a validation split; prepare with --val-fraction > 0")
        cfg, report = calibrate_min_gap([(p, data.events[n]) for n, p, _ in run(val, cfg)], data.classes, loaded.features.fps,
                                cfg.replace(thresholds=(), latency_s=()), window=window)
        payload = dict(loaded.payload)
        payload["decode"] = cfg.to_dict()
        payload["hash"] = content_hash(payload)
        try:
            atomic_save(payload, Path(tuned_out))
        except OSError as err:
            raise InvalidOption(f"{tuned_out}: cannot write the tuned model ({err.strerror or err})") from err
        info["tuned"] = report
        info["tuned_model"] = str(tuned_out)
    per_track, notes = {}, []
    timing: dict[str, list] = {c: [] for c in data.classes}
    for name, _, events in run(names, cfg):
        ref = data.reference(name)
        per_track[name] = score_track(ref, events, data.classes, window)
        for c in data.classes:
            timing[c].extend(timing_errors(ref.of(c), events.of(c), window).tolist())
        if _is_piano(data.classes):
            notes.append(note_level_f1(ref, events, window))
        if on_file:
            on_file(name)
    if notes:
        info["notes"] = _note_summary(notes)
    info["decode"] = cfg.to_dict()
    return EvalResult(summarise(per_track, data.classes), data.classes, window, [], counts=per_track,
                      timing={c: np.array(v) for c, v in timing.items()}), info


# --------------------------------------------------------------------------------------- Python API
@lru_cache(maxsize=8)
def _cached_model(spec: str, device: str):
    from loco_cli.checkpoint import load_model

    return load_model(spec, device)


def detect(
    audio,
    *,
    sr: int | None = None,
    model="drums",
    threshold: float | None = None,
    tuning: str | None = None,
    device: str = "cpu",
    keep_features: bool = False,
):
    """Detect onsets in one recording: the Python face of ``loco detect``.

    ``audio``: a file path (any format libsndfile reads), or mono / multi-channel samples as an array
    ``(n,)`` or ``(n, channels)`` with their sample rate ``sr`` (Hz; resampled to the model's rate).
    ``model``: ``"drums"``, ``"piano"``, a model file or run folder (loaded once and cached), or a
    :class:`~loco_cli.checkpoint.LoadedModel`. ``threshold``: one peak threshold for every class
    instead of the model's calibrated ones. ``tuning``: ``"auto"`` or ``"none"`` instead of the model's
    (``DecodeConfig.tuning``; the result's ``.tuning_cents`` says how far the audio was moved). Returns a
    :class:`~loco_cli.detection.DetectResult`:
    ``.onsets`` ``[(time_s, label, confidence)]``, ``.events`` (times and labels), ``.probs``
    activations ``(T, C)`` at ``.fps`` frames per second, ``.save_activations(path)``, and ``.features``
    ``(T, channels, bands)`` only with ``keep_features`` (``None`` otherwise: an hour of piano features
    takes gigabytes; a file is otherwise read and processed block by block). Errors a user can
    cause raise :class:`~loco_cli.errors.LocoError` subclasses with a one-line message.
    """
    import os

    from loco_cli.detection import detect_file, detect_samples

    loaded = model if hasattr(model, "decode") and hasattr(model, "features") else _cached_model(str(model), str(device))
    cfg = loaded.decode if threshold is None else loaded.decode.replace(threshold=threshold, thresholds=())
    if tuning is not None:
        cfg = cfg.replace(tuning=tuning)
    if isinstance(audio, (str, os.PathLike)):
        if sr is not None:
            raise InvalidOption("sr is for arrays; a file carries its own sample rate")
        return detect_file(loaded, audio, cfg, device, keep_features=keep_features)
    x = np.asarray(audio, dtype=np.float32)
    if sr is None or sr <= 0:
        raise InvalidOption("detect(samples) needs the sample rate: detect(y, sr=44100)")
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.ndim != 1 or x.size == 0 or not np.isfinite(x).all():
        raise InvalidOption(f"detect(samples): need finite samples (n,) or (n, channels), got shape {x.shape}")
    if sr != loaded.features.sample_rate:
        import soxr

        x = soxr.resample(x, sr, loaded.features.sample_rate).astype(np.float32)
    return detect_samples(loaded, x, cfg, device, keep_features=keep_features)


# ------------------------------------------------------------------------------------ the pipeline
def synth(
    kind: str,
    out: str | Path,
    *,
    tracks: int = SYNTH_TRACKS,
    duration: float = SYNTH_DURATION_S,
    seed: int = 0,
    layout: str = "generic",
    accompaniment_db: float | None = None,
    renderer: str = "builtin",
    soundfont: str | Path | None = None,
    kits: str | list[str] | None = None,
    pianos: str | list[str] | None = None,
    detune: float = 0.0,
    kit_mix: float = 0.0,
    span: tuple[int, int] | None = None,
    scores: str | list[str] | None = None,
    score_share: float = 1.0,
    score_draw: str = SCORE_DRAWS[0],
    score_tempo: tuple[float, float] = SCORE_TEMPO,
    figures: tuple[str, ...] = PIANO_FIGURES,
    force: bool = False,
    on_track: Callable[[str], None] | None = None,
) -> dict:
    """Render a corpus of ``tracks`` drum or piano tracks of ``duration`` seconds into ``out``: ``loco
    synth``. ``kind``: ``"drums"`` or ``"piano"``; ``renderer``: ``builtin``, ``fluidsynth`` or ``samples``
    (with ``kits`` / ``pianos``; ``detune``: retune and colour each drum per track, semitones; ``kit_mix``:
    the probability that each instrument group of a track comes from another of the kits; ``span``:
    the MIDI range the piano pieces' phrases are centred in; ``scores``: MIDI files or folders whose
    composed pieces ``score_share`` of the piano pieces play excerpts of; ``score_draw``: each work drawn
    equally often, ``"work"``, or in proportion to its length, ``"time"``; ``score_tempo``: LOW, HIGH times
    the written tempo; ``figures``: the phrases the generated piano pieces draw from,
    :data:`loco_cli.patterns.PIANO_FIGURES_ALL`). The
    same ``seed`` gives byte-identical files. The corpus is rendered into a temporary folder and
    renamed to ``out`` when complete; an existing ``out`` is replaced only with ``force`` and only when
    it is a loco corpus (it holds ``corpus.json``). Returns the corpus summary written to
    ``out/corpus.json`` (seconds, events per label, kits and their licences);
    :func:`loco_cli.corpus.write_corpus` has every layout."""
    import shutil

    from loco_cli.atomic import replace_folder, sibling_temp_dir
    from loco_cli.corpus import write_corpus
    from loco_cli.errors import DatasetError

    out = Path(out)
    if out.exists():
        if not force:
            raise DatasetError(f"{out}: already exists; choose another folder or pass --force to replace it")
        if not out.is_dir() or (any(out.iterdir()) and not (out / "corpus.json").is_file()):
            raise DatasetError(f"{out}: not a loco corpus (no corpus.json); refusing to replace it")
    tmp = sibling_temp_dir(out)
    try:
        summary = write_corpus(kind, tmp, n_tracks=tracks, duration=duration, seed=seed, layout=layout,
                               accompaniment_db=accompaniment_db, renderer=renderer, soundfont=soundfont, kits=kits,
                               pianos=pianos, detune=detune, kit_mix=kit_mix, span=span, scores=scores,
                               score_share=score_share, score_draw=score_draw,
                               score_tempo=score_tempo, figures=figures, on_track=on_track)
        replace_folder(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return summary


def prepare(
    source: str | Path,
    out: str | Path,
    *,
    preset: str = "drums",
    split: str = DEFAULT_SPLIT,
    val_fraction: float = DEFAULT_VAL_FRACTION,
    layout: str = "auto",
    channel: str = "wet_mix",
    classes: list[str] | None = None,
    label_map: dict[str, str] | None = None,
    seed: int = 0,
    jobs: int = 1,
    force: bool = False,
    on_track: Callable[[str, str | None], None] | None = None,
    **options,
):
    """Features, splits and count-labelled 1.5 s snippets of a dataset folder or a counts manifest
    (``.csv``) into ``out``: ``loco prepare``. ``split``: ``random`` (default), ``none``,
    ``kfold:K:I``, ``holdout:GROUP``, ``maps``; ``val_fraction``: share of the training tracks that
    validates. Returns a :class:`loco_cli.prepare.PrepareResult` (``out``, the ``dataset.json`` summary,
    the tracks skipped and why). ``options``: the remaining keyword arguments of
    :func:`loco_cli.prepare.prepare_dataset` (``features``, ``snippets``, ``label_noise_ms``,
    ``include_train``, ``k_max``)."""
    from loco_cli.prepare import prepare_dataset

    return prepare_dataset(source, out, preset=preset, split=split, val_fraction=val_fraction, layout=layout, channel=channel, classes=classes, label_map=label_map, seed=seed,
                           jobs=jobs, force=force, on_track=on_track, **options)


def training_configs(
    prepared: str | Path,
    *,
    loss: str = "loco",
    recipe: str | None = None,
    teacher: str | Path | None = None,
    teacher_weight: float = 0.5,
    **overrides,
) -> dict:
    """The configs a training on ``prepared`` uses: ``{"model", "train", "loss", "decode"}`` of ``recipe``
    (a name or a TOML file; default: the dataset's preset), ``overrides`` of
    :class:`~loco_cli.config.TrainConfig` fields applied (``None`` values ignored: steps, batch_size, lr,
    val_every, patience, seed, rate_scale ...), the loss named ``loss`` with the dataset's ``k_max``, and
    SeCoST's ``teacher_weight`` when a ``teacher`` is given."""
    from loco_cli.prepared import load_prepared
    from loco_cli.train import load_recipe

    data = load_prepared(prepared)
    configs = load_recipe(recipe or data.meta["preset"])
    configs["train"] = configs["train"].replace(**{k: v for k, v in overrides.items() if v is not None})
    configs["loss"] = configs["loss"].replace(name=loss, k_max=data.meta.get("k_max", configs["loss"].k_max),
                                              teacher_weight=teacher_weight if teacher is not None else 1.0)
    return configs


def train(
    prepared: str | Path,
    out: str | Path,
    *,
    loss: str = "loco",
    recipe: str | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    val_every: int | None = None,
    patience: int | None = None,
    rate_scale: float | None = None,
    seed: int | None = None,
    init: str | Path | None = DEFAULT_INIT,
    teacher: str | Path | None = None,
    teacher_weight: float = 0.5,
    device: str = "auto",
    force: bool = False,
    tensorboard: bool | None = None,
    on_event: Callable[[str, dict], None] | None = None,
    threads: int | None = None,
):
    """Train a detector on a prepared dataset into the run folder ``out``: ``loco train``.

    ``loss``: ``loco`` (counts only, LoCo [1] eq. 14), ``softloc``, ``oss``, ``ce`` (onset times),
    ``mil``; ``recipe`` and the ``None``-means-the-recipe's overrides as :func:`training_configs`;
    ``init``: fine-tune ``drums``, ``piano``, a model file or a run folder; ``"auto"`` (the default)
    starts from the shipped model on a small set where it fits (:func:`loco_cli.train.auto_init`),
    ``"none"`` / ``None`` from random weights; ``teacher``: SeCoST. The
    best checkpoint on validation is calibrated (per-class thresholds and latency,
    :mod:`loco_cli.calibration`) and written to ``out/model.pt``. ``on_event(kind, info)`` reports
    progress (:func:`loco_cli.train.train_run`). Returns a :class:`~loco_cli.train.TrainResult`
    (``None`` on a non-zero rank under ``torchrun``)."""
    from loco_cli.config import TENSORBOARD
    from loco_cli.train import train_run

    configs = training_configs(prepared, loss=loss, recipe=recipe, teacher=teacher, teacher_weight=teacher_weight,
                               steps=steps, batch_size=batch_size, lr=lr, val_every=val_every, patience=patience,
                               seed=seed, rate_scale=rate_scale)
    return train_run(prepared, out, loss=configs["loss"], train=configs["train"], model=configs["model"],
                     decode_cfg=configs["decode"], force=force, teacher=teacher, init=init, device=device,
                     tensorboard=TENSORBOARD if tensorboard is None else tensorboard, on_event=on_event,
                     threads=threads)


def ensemble(models: list[str | Path], prepared: str | Path, out: str | Path, *, device: str = "cpu"):
    """Combine trained models (seeds of one recipe) into one ensemble model file ``out``: ``loco ensemble``
    (:func:`loco_cli.ensemble.combine_models`: members ordered and the ensemble calibrated on ``prepared``'s
    validation split). Returns an :class:`~loco_cli.ensemble.EnsembleResult`."""
    from loco_cli.ensemble import combine_models

    return combine_models(models, prepared, out, device=device)


def run_configs(run: str | Path) -> tuple[dict, Path, str | None]:
    """What a run folder was started with, from its ``config.json``: ``(configs, prepared dataset folder,
    teacher or None)``; :class:`InvalidOption` naming the file when it is missing or unreadable."""
    import json

    from loco_cli.config import DecodeConfig, LossConfig, ModelConfig, TrainConfig

    cfg_path = Path(run) / "config.json"
    if not cfg_path.is_file():
        raise InvalidOption(f"{run}: not a run folder (no config.json); give the --out folder of a run")
    try:
        cfg = json.loads(cfg_path.read_text())
        configs = {"loss": LossConfig.from_dict(cfg["loss"]), "train": TrainConfig.from_dict(cfg["train"]),
                   "model": ModelConfig.from_dict(cfg["model"]), "decode": DecodeConfig.from_dict(cfg["decode"])}
        return configs, Path(cfg["dataset"]["path"]), cfg.get("teacher")
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise InvalidOption(f"{cfg_path}: not a readable run configuration ({type(err).__name__}: {err}); "
                            "start the run again: loco train PREPARED --out RUN --force") from None


def resume(
    run: str | Path,
    *,
    device: str = "auto",
    tensorboard: bool | None = None,
    on_event: Callable[[str, dict], None] | None = None,
    threads: int | None = None,
):
    """Continue the run folder ``run`` exactly where it stopped (``loco train --resume``): its configs
    from ``config.json``, its state from ``last.pt``; a run killed at any point and resumed ends with
    the model an uninterrupted run makes. Returns a :class:`~loco_cli.train.TrainResult`."""
    from loco_cli.config import TENSORBOARD
    from loco_cli.train import train_run

    configs, data_dir, teacher = run_configs(run)
    return train_run(data_dir, run, loss=configs["loss"], train=configs["train"], model=configs["model"],
                     decode_cfg=configs["decode"], resume=True, teacher=teacher, device=device,
                     tensorboard=TENSORBOARD if tensorboard is None else tensorboard, on_event=on_event,
                     threads=threads)
