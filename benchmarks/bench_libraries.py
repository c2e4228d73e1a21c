"""Benchmark: drum models on sample libraries never heard in training (drums alone and in band mixes).

    python benchmarks/bench_libraries.py --test dry=DIR --test mix=DIR [--model NAME=MODEL[:ABOUT] ...]
                                         [--seeds-json FILE ...] [--json benchmarks/results/libraries.json]

The held-out protocol of ``benchmarks/build_models.py drums``: four recorded kits (AVL Drumkits' Black Pearl and Red
Zeppelin, Hydrogen's ForzeeStereo and ColomboAcoustic) play loco's grooves (``loco synth
--renderer samples``), once drums-only and once inside FluidSynth band mixes at 0 dB. This script scores
trained model files on those test folders (``--model``: e.g. the previous and the current shipped
model) and merges the rows that ``bench_seeds.py`` trained and scored on the same folders
(``--seeds-json``: e.g. counts-only training on the same renders), into one file in
``bench_seeds.py``'s layout, which ``report.py`` renders. Reproduce the figures in docs/benchmarks.md::

    make samples && python benchmarks/build_models.py drums            # renders, trains and scores the shipped model
    git show bd132c9:models/drums.pt > runs/drums-synth-counts.pt   # the first model (synthetic, counts)
    python benchmarks/render_drum_train.py --detune 3 --work runs/detune   # the shipped model's training renders
    python benchmarks/bench_seeds.py --data runs/detune/prepared \\
        --test dry=runs/models/drums/test-dry --test mix=runs/models/drums/test-mix \\
        --variant counts12k=drums@loco+runs/drums-synth-counts.pt \\
        --seeds 1 --steps 12000 --work runs/libseeds-dt3 --json runs/libseeds-dt3/counts12k.json
    python benchmarks/bench_libraries.py --test dry=runs/models/drums/test-dry \\
        --test mix=runs/models/drums/test-mix --model "previous=runs/drums-synth-counts.pt:first shipped \\
        model (built-in synthesizer, counts)" --model "shipped=models/drums.pt:shipped model (sample libraries, \\
        onset times)" --seeds-json runs/libseeds-dt3/counts12k.json --json benchmarks/results/libraries.json

(``benchmarks/results/libraries.json`` holds the exact commands of its rows.)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_seeds import _stats, environment, evaluate_folder, write_json  # noqa: E402

ABOUT = ("Four recorded drum kits never heard in training (AVL Black Pearl and Red Zeppelin, Hydrogen ForzeeStereo "
         "and ColomboAcoustic), 16 tracks x 30 s of loco's grooves; `dry`: drums only, `mix`: inside FluidSynth band "
         "mixes at 0 dB. Global F1 at 50 ms, all classes (KD, SD, HH).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--test", action="append", required=True, help="NAME=held-out corpus folder")
    parser.add_argument("--model", action="append", default=[], help="NAME=MODEL[:ABOUT] to score")
    parser.add_argument("--seeds-json", action="append", default=[], help="bench_seeds.py results to merge")
    parser.add_argument("--about", default=ABOUT, help="what the test sets are (kept in the JSON)")
    parser.add_argument("--work", default="runs/libraries")
    parser.add_argument("--merge", default=None, help="an earlier result file whose variants are kept (each with "
                        "the command that scored it) unless this run scores them again")
    parser.add_argument("--json", default=None)
    a = parser.parse_args()
    tests = dict(t.split("=", 1) for t in a.test)
    doc = {"benchmark": "libraries", "about": a.about, "command": " ".join(sys.argv), "tests": tests, "device": "cpu",
           "environment": environment("cpu"), "variants": {}}
    if a.merge and Path(a.merge).is_file():
        earlier = json.loads(Path(a.merge).read_text())
        if earlier["tests"] != tests:
            raise SystemExit(f"{a.merge}: scored on other test sets ({earlier['tests']}); not merged")
        doc["variants"] = {name: {**v, "command": v.get("command", earlier["command"])}
                           for name, v in earlier["variants"].items()}
        if a.about == ABOUT:
            doc["about"] = earlier["about"]
    for spec in a.model:
        name, _, rest = spec.partition("=")
        model, _, about = rest.partition(":")
        run = {"variant": name, "recipe": about or model, "loss": "", "model": model,
               "tests": {t: evaluate_folder(model, folder, Path(a.work) / f"{name}-{t}") for t, folder in tests.items()}}
        entry = doc["variants"][name] = {"recipe": about or model, "runs": [run]}
        for t in tests:
            entry[f"{t}_mean_f1"] = _stats([run["tests"][t]["mean_f1"]])
            entry[f"{t}_global_f1"] = _stats([run["tests"][t]["global_f1"]])
    for path in a.seeds_json:  # each row keeps the bench_seeds.py command that trained and scored it
        seeds = json.loads(Path(path).read_text())
        doc["variants"].update({name: {**v, "command": v.get("command", seeds["command"])}
                                for name, v in seeds["variants"].items()})
    write_json(doc, a.json)


if __name__ == "__main__":
    main()
