"""K-fold cross-validation in one call: prepare each fold, train it, score its test tracks, pool.

    OUT/
      fold0/prepared/   loco prepare SOURCE --split kfold:K:0 (every track is tested in exactly one fold;
                        --protocol groups: holdout:<group>, one fold per group; maps: --split maps)
      fold0/run/        loco train (resumed if it stopped; skipped when its model.pt exists)
      fold0/eval.json   loco eval --model fold0/run --data fold0/prepared --split test
      ...
      crossval.json     the report (format ``loco-crossval-1``)

Every step reuses what a previous, interrupted call finished, so running the same command again
continues where it stopped. The report pools the test tracks of all folds: per class and overall,
global F1 (counts summed over every test track) and mean F1 over tracks; the mean +- std over folds
of each fold's global F1; per-track rows; and the signed timing error (ms) of the matched onsets.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from loco_cli.config import DEFAULT_INIT, EVAL_WINDOW_S, INIT_NONE
from loco_cli.errors import DatasetError, InvalidOption

__all__ = ["CROSSVAL_FORMAT", "PROTOCOLS", "CrossvalResult", "crossval", "protocol_splits"]

CROSSVAL_FORMAT = "loco-crossval-1"

#: The fold layouts of ``loco crossval --protocol``:
PROTOCOLS = {
    "kfold": "K seeded folds of tracks (--folds K; Eval Random of Wu et al. 2018 with K = 3)",
    "groups": "one fold per group: each group is the test set once (IDMT-SMT-Drums' subsets: Eval Subset "
              "of Wu et al. 2018; ENST-Drums' drummers; MDB's genres)",
    "maps": "one fold: train on MAPS' synthesized pianos, test on the Disklavier recordings (ENSTDkCl, "
            "ENSTDkAm), test pieces left out of training (the LoCo paper's MAPS protocol)",
}


@dataclass
class CrossvalResult:
    """Where the folds live and the pooled report (what ``crossval.json`` holds)."""

    out: Path
    report: dict


def _fold_stats(values: list[float]) -> dict:
    v = np.array([x for x in values if x == x], dtype=float)
    if not v.size:
        return {"mean": None, "std": None, "min": None, "max": None, "n": 0}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "n": int(v.size)}


def _timing(errors: np.ndarray) -> dict:
    if not errors.size:
        return {"matched": 0, "mean_ms": None, "std_ms": None, "median_abs_ms": None}
    return {"matched": int(errors.size), "mean_ms": float(1000 * errors.mean()), "std_ms": float(1000 * errors.std()),
            "median_abs_ms": float(1000 * np.median(np.abs(errors)))}


def _train_side_by_side(out: Path, folds: list[int], jobs: int, *, loss: str, recipe: str | None,
                        steps: int | None, init: str | None = None) -> None:
    """Train ``folds`` as ``loco train`` processes, ``jobs`` at a time, the cores shared out among them;
    a fold that stopped resumes. Raises :class:`DatasetError` naming the fold's log when one fails."""
    import os
    import subprocess
    import sys

    from loco_cli.threads import available_cores

    env = {**os.environ, "LOCO_NUM_THREADS": str(max(1, available_cores() // jobs))}
    waiting, running = list(folds), []
    while waiting or running:
        while waiting and len(running) < jobs:
            i = waiting.pop(0)
            fold = out / f"fold{i}"
            run = fold / "run"
            if (run / "last.pt").is_file():
                args = ["--resume", str(run)]
            else:
                args = [str(fold / "prepared"), "--out", str(run), "--loss", loss, "--force", "--device", "cpu",
                        "--no-tensorboard", *(["--recipe", str(recipe)] if recipe else []),
                        *(["--steps", str(steps)] if steps else []), "--init", str(init) if init else INIT_NONE]
            log = open(fold / "train.log", "w")  # closed when its process ends (below)
            running.append((i, subprocess.Popen([sys.executable, "-m", "loco_cli", "train", *args], stdout=log,
                                                stderr=subprocess.STDOUT, env=env), log))
        i, proc, log = running.pop(0)
        code = proc.wait()
        log.close()
        if code != 0:
            for _, other, other_log in running:
                other.wait()
                other_log.close()
            tail = (out / f"fold{i}" / "train.log").read_text().strip().splitlines()[-1:]
            raise DatasetError(f"{out / f'fold{i}' / 'train.log'}: training fold {i} failed "
                               f"({tail[0] if tail else f'exit {code}'}); fix it and run crossval again")


def _fold_event(emit: Callable[[str, dict], None], fold: int, kind: str, info: dict) -> None:
    """A training event of fold ``fold``, passed on with the fold's index."""
    emit(kind, {**info, "fold": fold})


def protocol_splits(protocol: str, folds: int, source: str | Path, prepare_options: dict | None = None) -> list[str]:
    """The ``--split`` of each fold of ``protocol`` (:data:`PROTOCOLS`), e.g. ``kfold:3:0 .. kfold:3:2``
    or ``holdout:RealDrum``, ``holdout:TechnoDrum``, ``holdout:WaveDrum``."""
    if protocol == "kfold":
        if not 2 <= folds <= 20:
            raise InvalidOption(f"--folds {folds}: use 2 to 20 folds")
        return [f"kfold:{folds}:{i}" for i in range(folds)]
    if protocol == "maps":
        return ["maps"]
    if protocol == "groups":
        from loco_cli.datasets import detect_layout, discover

        opts = prepare_options or {}
        layout = opts.get("layout", "auto")
        layout = detect_layout(Path(source)) if layout == "auto" else layout
        tracks, _ = discover(Path(source), layout, channel=opts.get("channel", "wet_mix"),
                             include_train=opts.get("include_train", False))
        groups = sorted({t.group for t in tracks})
        if len(groups) < 2:
            raise InvalidOption(f"--protocol groups: {source} has {len(groups)} group(s) ({', '.join(groups)}); "
                                "it needs two or more (use --protocol kfold)")
        return [f"holdout:{g}" for g in groups]
    raise InvalidOption(f"--protocol {protocol}: use one of {', '.join(PROTOCOLS)}")


def crossval(
    source: str | Path,
    out: str | Path,
    *,
    folds: int = 3,
    protocol: str = "kfold",
    loss: str = "loco",
    recipe: str | None = None,
    steps: int | None = None,
    init: str | None = DEFAULT_INIT,
    preset: str = "drums",
    prepare_options: dict | None = None,
    window: float = EVAL_WINDOW_S,
    device: str = "auto",
    train_jobs: int = 1,
    on_event: Callable[[str, dict], None] | None = None,
) -> CrossvalResult:
    """Cross-validate ``loss`` on ``source`` over the folds of ``protocol`` (:data:`PROTOCOLS`; ``folds``
    folds for ``kfold``) into ``out`` (see the module docstring).

    ``prepare_options``: keyword arguments of :func:`loco_cli.prepare.prepare_dataset` (layout, channel,
    classes, label_map, val_fraction, seed, jobs ...); the split is set per fold. ``recipe``: drums,
    piano or a TOML file (default: the preset's); ``steps`` overrides its step count. ``init``: every
    fold fine-tunes this model (``drums``, ``piano``, a model file or a run folder; ``loco train
    --init``); ``"auto"`` (the default): the shipped model where it fits each fold
    (:func:`loco_cli.train.auto_init`); ``"none"`` / ``None``: random weights. ``on_event(kind,
    info)`` receives ``fold`` (fold, stage), the training events of :func:`loco_cli.train.train_run`
    with ``fold`` added, and ``done``. Returns the pooled report, also written to ``out/crossval.json``.

    ``train_jobs > 1`` (CPU): the folds still to train run as that many ``loco train`` processes side
    by side, sharing the available cores (their output in ``foldI/train.log``), after every fold is
    prepared.
    """
    from loco_cli import engine
    from loco_cli.annotations import json_text
    from loco_cli.atomic import atomic_write_text
    from loco_cli.devices import resolve_device
    from loco_cli.engine import evaluate_model
    from loco_cli.prepare import prepare_dataset
    from loco_cli.prepared import load_prepared
    from loco_cli.scores import summarise

    out = Path(out)
    emit = on_event or (lambda kind, info: None)
    options = dict(prepare_options or {})
    if "split" in options:
        raise InvalidOption("crossval sets each fold's split itself; leave --split out")
    splits = protocol_splits(protocol, folds, source, options)
    dev = resolve_device(device)
    out.mkdir(parents=True, exist_ok=True)
    marker = out / "crossval-config.json"
    config = {"source": str(Path(source).resolve()), "folds": len(splits), "loss": loss, "recipe": recipe,
              "steps": steps, "preset": preset, "prepare": {k: v for k, v in options.items() if k != "jobs"}}
    if init and str(init) != INIT_NONE:  # (runs from random weights keep the marker they had before --init)
        config["init"] = str(init)
    if protocol != "kfold":  # kfold runs keep the marker they had before protocols existed
        config["protocol"], config["splits"] = protocol, splits
    if marker.is_file():
        old = json.loads(marker.read_text())
        if old != json.loads(json.dumps(config)):
            raise InvalidOption(f"{out}: holds a cross-validation with other settings ({marker.name}); "
                                "choose another --out")
    atomic_write_text(marker, json.dumps(config, indent=1) + "\n")

    def prepare_fold(i: int) -> Path:
        prepared = out / f"fold{i}" / "prepared"
        if not (prepared / "dataset.json").is_file():
            emit("fold", {"fold": i, "folds": len(splits), "split": splits[i], "stage": "prepare"})
            prepare_dataset(source, prepared, preset=preset, split=splits[i], **options)
        return prepared

    if train_jobs > 1 and dev.type == "cpu":
        for i in range(len(splits)):
            prepare_fold(i)
        todo = [i for i in range(len(splits)) if not (out / f"fold{i}" / "run" / "model.pt").is_file()]
        for i in todo:
            emit("fold", {"fold": i, "folds": len(splits), "split": splits[i], "stage": f"train ({train_jobs} side by side)"})
        _train_side_by_side(out, todo, train_jobs, loss=loss, recipe=recipe, steps=steps, init=init)
    fold_rows, pooled, timing, classes = [], {}, {}, None
    for i, split in enumerate(splits):
        fold = out / f"fold{i}"
        prepared, run = prepare_fold(i), fold / "run"
        data = load_prepared(prepared)
        if classes is None:
            classes = data.classes
        if data.classes != classes:
            raise DatasetError(f"{prepared}: classes differ from fold 0's; prepare the folds again")
        if not (run / "model.pt").is_file():
            emit("fold", {"fold": i, "folds": len(splits), "split": split, "stage": "train"})
            events = partial(_fold_event, emit, i)
            if (run / "last.pt").is_file():  # a fold that stopped continues
                engine.resume(run, device=str(dev), tensorboard=False, on_event=events)
            else:
                engine.train(prepared, run, loss=loss, recipe=recipe, steps=steps, init=init, device=str(dev),
                             force=True, tensorboard=False, on_event=events)
        emit("fold", {"fold": i, "folds": len(splits), "split": split, "stage": "evaluate"})
        result, info = evaluate_model(run / "model.pt", prepared, split="test", window=window, device=dev)
        atomic_write_text(fold / "eval.json", json_text(result.payload(info), indent=1))
        pooled.update(result.counts)
        for c, errs in result.timing.items():
            timing.setdefault(c, []).append(errs)
        rep = result.report
        fold_rows.append({"fold": i, "split": split, "test_tracks": sorted(result.counts), "global_f1": rep["overall"]["global"]["f1"],
                          "mean_f1": rep["overall"]["mean"]["f1"],
                          "classes": {c: rep["classes"][c]["global"]["f1"] for c in classes}})
    report = summarise(pooled, classes)
    all_timing = {c: np.concatenate(v) if v else np.zeros(0) for c, v in timing.items()}
    payload = {
        "format": CROSSVAL_FORMAT, "config": config, "window_s": window, "classes": classes,
        "pooled": {"overall": report["overall"], "classes": report["classes"]},
        "over_folds": {"global_f1": _fold_stats([r["global_f1"] for r in fold_rows]),
                       "mean_f1": _fold_stats([r["mean_f1"] for r in fold_rows]),
                       "classes": {c: _fold_stats([r["classes"][c] for r in fold_rows]) for c in classes}},
        "timing": {c: _timing(all_timing[c]) for c in classes},
        "folds": fold_rows,
        "tracks": report["tracks"],
        "track_counts": {t: {c: {"tp": n.tp, "n_ref": n.n_ref, "n_est": n.n_est} for c, n in per.items()}
                         for t, per in pooled.items()},
    }
    atomic_write_text(out / "crossval.json", json_text(payload, indent=1))
    emit("done", {"out": str(out)})
    return CrossvalResult(out, payload)
