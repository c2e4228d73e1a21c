"""Benchmark: the threshold prior of the calibration (``calibration.THRESHOLD_PRIOR_ONSETS``).

    python benchmarks/bench_calibration.py --case NAME=MODEL,VAL_PREPARED,TEST_PREPARED [--case ...]
                                           [--priors 0,10,30,100,300,1000]
                                           [--json benchmarks/results/calibration.json]

For each case: the model's activations on the ``val`` split of ``VAL_PREPARED`` (the split that picked
its checkpoint and calibrated it) and on every track of ``TEST_PREPARED`` (held-out libraries, prepared
with ``--split none --val-fraction 0``; ``TEST_PREPARED:test`` scores its ``test`` split only, e.g. a
``loco crossval`` fold's); for each prior weight ``k``, :func:`loco_cli.calibration.calibrate`
on the validation activations with ``prior_onsets=k``, then the test tracks decoded at those thresholds
and latencies and scored at 50 ms: global onset F1, per class, and for piano the note F1 (pitch + onset,
mean over pieces). ``k = 0`` is each class's own F1-optimal threshold (the rule before the prior). The
cases in the repository's file, after ``python benchmarks/build_models.py drums piano``::

    python benchmarks/bench_calibration.py \\
        --case piano=models/piano.pt,runs/models/piano/prepared,runs/models/piano/prepared-test \\
        --case drums=models/drums.pt,runs/models-dt3/drums/prepared,runs/models-dt3/drums/prepared-dry \\
        --case sm_now-loco_f0=runs/smallset/now-loco-s0/fold0/run/model.pt,runs/smallset/now-loco-s0/fold0/prepared,runs/smallset/now-loco-s0/fold0/prepared:test \\
        ... (sm_now-loco_f1, _f2 and sm_after-ce_f0 to _f2: the folds of bench_smallset.py's runs) \\
        --json benchmarks/results/calibration.json

A ``loco crossval`` fold validates on two tracks (hundreds of drum onsets per class): the prior there
moves little.

``--gaps 0.025,0.02,0.015,0.01`` sweeps the peak picker's minimum gap between two onsets of a class instead
(at the default prior): each gap for every class (``calibrate`` with that ``min_gap_s``), then each class's own
gap chosen on validation (:func:`loco_cli.calibration.calibrate_min_gap`, row ``per_class``)::

    python benchmarks/bench_calibration.py --gaps 0.025,0.02,0.015,0.01 \
        --case drums_dry=models/drums.pt,runs/recal/drums/prepared,runs/recal/drums/prepared-dry \
        --case drums_mix=models/drums.pt,runs/recal/drums/prepared,runs/recal/drums/prepared-mix \
        --json benchmarks/results/min_gap.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_seeds import environment, write_json  # noqa: E402

from loco_cli.calibration import THRESHOLD_PRIOR_ONSETS, calibrate, calibrate_min_gap  # noqa: E402
from loco_cli.checkpoint import load_model  # noqa: E402
from loco_cli.config import EVAL_WINDOW_S  # noqa: E402
from loco_cli.detection import detect_tracks  # noqa: E402
from loco_cli.engine import _is_piano, note_level_f1  # noqa: E402
from loco_cli.peaks import decode  # noqa: E402
from loco_cli.prepared import load_prepared  # noqa: E402
from loco_cli.scores import score_track, summarise  # noqa: E402


def prior_settings(priors: list[float]) -> dict:
    """``{key: calibration(val_probs, classes, fps, base)}`` for each threshold prior weight."""
    return {f"{k:g}": (lambda v, c, f, b, k=k: calibrate(v, c, f, b, prior_onsets=k)) for k in priors}


def gap_settings(gaps: list[float]) -> dict:
    """Each minimum gap (s) for every class, then each class's own (``per_class``)."""
    out = {f"gap_{g * 1000:g}ms": (lambda v, c, f, b, g=g: calibrate(v, c, f, b.replace(min_gap_s=g, min_gaps_s=())))
           for g in gaps}
    out["per_class"] = lambda v, c, f, b: calibrate_min_gap(v, c, f, b, gaps=tuple(gaps))
    return out


def run_case(model: str, val_dir: str, test_dir: str, settings: dict) -> dict:
    """Scores of one model on its held-out test set, per calibration setting (:func:`prior_settings`,
    :func:`gap_settings`)."""
    test_dir, _, test_split = test_dir.partition(":")
    loaded = load_model(model)
    val, test = load_prepared(val_dir), load_prepared(test_dir)
    base = loaded.decode.replace(thresholds=(), latency_s=(), min_gaps_s=())
    fps = loaded.features.fps
    val_probs = [(p, val.events[n]) for n, p, _ in detect_tracks(loaded.model, val, val.split_tracks("val"), base)]
    test_names = test.split_tracks(test_split) if test_split else \
        [n for split in ("train", "val", "test") for n in test.split_tracks(split)]
    test_probs = {n: p for n, p, _ in detect_tracks(loaded.model, test, test_names, base)}
    piano = _is_piano(test.classes)
    out = {}
    for key, setting in settings.items():
        cfg, report = setting(val_probs, val.classes, fps, base)
        per_track, notes = {}, []
        for name, probs in test_probs.items():
            events, _ = decode(probs, test.classes, fps, cfg)
            ref = test.reference(name)
            per_track[name] = score_track(ref, events, test.classes)
            if piano:
                notes.append(note_level_f1(ref, events, EVAL_WINDOW_S)[2])
        summary = summarise(per_track, test.classes)
        row = {"global_f1": round(summary["overall"]["global"]["f1"], 4),
               "own_threshold_classes": sum(not r["pooled"] for r in report.values()),
               "distinct_thresholds": len(set(cfg.thresholds)),
               "min_gaps_s": list(cfg.class_min_gaps(len(val.classes))) if len(val.classes) <= 12 else None}
        if piano:
            row["note_f1"] = round(sum(notes) / len(notes), 4)
        else:
            row["classes"] = {c: round(summary["classes"][c]["global"]["f1"], 4) for c in test.classes}
        if not piano:
            row["recall"] = {c: round(summary["classes"][c]["global"]["recall"], 4) for c in test.classes}
        row["val_f1"] = {c: r["f1"] for c, r in report.items()} if len(val.classes) <= 12 else None
        out[key] = row
        print(f"{Path(model).name} {key}: " + ", ".join(f"{a} {b}" for a, b in row.items() if a != "classes"),
              flush=True)
    return {"model": model, "val": val_dir, "test": test_dir, "val_tracks": len(val_probs),
            "test_tracks": len(test_probs), "settings": out}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", action="append", required=True, help="NAME=MODEL,VAL_PREPARED,TEST_PREPARED")
    ap.add_argument("--priors", default="0,10,30,100,300,1000")
    ap.add_argument("--gaps", default=None, help="sweep the minimum gap (s, comma-separated) instead of the prior")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if args.gaps:
        settings = gap_settings([float(x) for x in args.gaps.split(",")])
        about = ("the peak picker's minimum gap between two onsets of a class: each gap for every class, thresholds "
                 "and latencies calibrated on the validation split at that gap, then each class's own gap chosen "
                 "on validation (calibrate_min_gap, row per_class); scores on held-out libraries at 50 ms")
    else:
        settings = prior_settings([float(x) for x in args.priors.split(",")])
        about = ("threshold prior weight k (pseudo-onsets following the pooled classes' F1 curve) in "
                 "each class's threshold choice on the validation split; scores on held-out "
                 f"libraries at 50 ms; the library's default k is {THRESHOLD_PRIOR_ONSETS:g}")
    cases = {}
    for spec in args.case:
        name, rest = spec.split("=", 1)
        model, val_dir, test_dir = rest.split(",")
        r = run_case(model, val_dir, test_dir, settings)
        cases[name] = {**{k: v for k, v in r.items() if k != "settings"}, "gaps" if args.gaps else "priors": r["settings"]}
    if args.json:
        write_json({"benchmark": "calibration", "about": about,
                    "command": "python benchmarks/bench_calibration.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                    "environment": environment("cpu"), "cases": cases}, str(args.json))


if __name__ == "__main__":
    main()
