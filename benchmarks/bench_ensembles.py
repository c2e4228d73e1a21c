"""Benchmark: ensembles of trained seeds (``loco ensemble``) on held-out test sets, against their members alone.

    python benchmarks/bench_ensembles.py --data PREPARED --run RUN [--run RUN ...] --test NAME=DIR [...]
                                         [--sizes 1,2,3,4] [--work runs/ensembles] [--json FILE]

Every subset of the runs of each size is combined with :func:`loco_cli.ensemble.combine_models` (members
ordered and the ensemble calibrated on ``PREPARED``'s validation split, as ``loco ensemble`` does; size 1: the
run's own ``model.pt``), its model file kept under ``--work``, and scored on every test folder as
``bench_seeds.py`` scores a run (``loco detect``, then mir_eval at 50 ms). One variant per size, one row per
subset, so the spread is over subsets (which share members: not independent draws). Results are cached per
subset in ``--work``. The layout is ``bench_seeds.py``'s, which ``report.py`` renders. The figures in
docs/real-audio.md (Ensembles and distillation)::

    python benchmarks/bench_ensembles.py --data runs/detune/prepared \\
        --run runs/d15b/s0 --run runs/d15b/s1 --run runs/d15b/s2 --run runs/d15b/s3 \\
        --test dry=runs/models/drums/test-dry --test mix=runs/models/drums/test-mix \\
        --test mix6=runs/models/drums/test-mix6 --test mix_ms=runs/models/drums/test-mix-ms \\
        --json benchmarks/results/ensembles_drums.json

(the four runs: ``loco train runs/detune/prepared --out runs/d15b/sN --recipe
benchmarks/recipes/drums_ema_ratescale_lowpass_level_delay15.toml --loss ce --steps 6000 --seed N``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_seeds import _stats, environment, evaluate_folder, write_json  # noqa: E402

ABOUT = ("Ensembles of one recipe's seeds (`loco ensemble`: the mean of the members' probabilities, calibrated "
         "on validation) against the seeds alone; one row per subset of the runs, so a size's spread is over "
         "subsets that share members. Global F1 at 50 ms, all classes.")


def run_names(runs: list[str]) -> dict[str, str]:
    """A short name per run: the fewest trailing path parts (joined by ``-``) that tell the runs apart
    (``runs/a/s0``, ``runs/a/s1`` -> ``s0``, ``s1``; ``runs/x-s0/train``, ``runs/x-s1/train`` -> ``x-s0-train``...)."""
    parts = [Path(r).parts for r in runs]
    for k in range(1, max(len(p) for p in parts) + 1):
        names = ["-".join(p[-k:]) for p in parts]
        if len(set(names)) == len(names):
            return dict(zip(runs, names, strict=True))
    raise SystemExit("--run: the same run given twice")


def subset_key(runs: list[str], names: dict[str, str]) -> str:
    """A subset's name: its runs' short names (:func:`run_names`) joined by ``+``."""
    return "+".join(names[r] for r in runs)


def score_subset(runs: list[str], data: str, tests: dict[str, str], work: Path, names: dict[str, str]) -> dict:
    """Combine ``runs`` (one: its model), score it on ``tests``; cached in ``work/<key>.json`` (a test set added
    later is scored alone, with the kept model file)."""
    import torch

    from loco_cli.annotations import json_text
    from loco_cli.atomic import atomic_write_text
    from loco_cli.ensemble import combine_models

    torch.set_num_threads(1)
    key = subset_key(runs, names)
    cached = work / f"{key}.json"
    model = str(Path(runs[0]) / "model.pt") if len(runs) == 1 else str(work / f"{key}.pt")
    out = json.loads(cached.read_text()) if cached.is_file() else {
        "variant": f"ensemble_{len(runs)}", "recipe": key, "loss": "", "model": model, "members": runs, "tests": {}}
    missing = {t: folder for t, folder in tests.items() if t not in out["tests"]}
    if not missing:
        return out
    if not Path(model).is_file():
        combine_models(runs, data, model)
    out["tests"].update({t: evaluate_folder(model, folder, work / f"{key}-{t}") for t, folder in missing.items()})
    atomic_write_text(cached, json_text(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="prepared dataset the runs trained on (validation split)")
    parser.add_argument("--run", action="append", required=True, help="a trained run folder (repeatable)")
    parser.add_argument("--test", action="append", required=True, help="NAME=held-out corpus folder")
    parser.add_argument("--sizes", default="1,2,3,4", help="ensemble sizes, comma-separated")
    parser.add_argument("--work", default="runs/ensembles")
    parser.add_argument("--json", default=None)
    a = parser.parse_args()
    tests = dict(t.split("=", 1) for t in a.test)
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    doc = {"benchmark": "ensembles", "about": ABOUT, "command": " ".join(sys.argv), "tests": tests, "device": "cpu",
           "environment": environment("cpu"), "runs": a.run, "variants": {}}
    names = run_names(a.run)
    for size in (int(s) for s in a.sizes.split(",")):
        if not 1 <= size <= len(a.run):
            raise SystemExit(f"--sizes: {size} is not between 1 and the {len(a.run)} runs given")
        rows = [score_subset(list(sub), a.data, tests, work, names) for sub in itertools.combinations(a.run, size)]
        name = "single" if size == 1 else f"ensemble_{size}"
        entry = doc["variants"][name] = {"recipe": f"{size} member{'s' if size > 1 else ''} "
                                                   f"({len(rows)} subset{'s' if len(rows) > 1 else ''})", "runs": rows}
        for t in tests:
            entry[f"{t}_mean_f1"] = _stats([r["tests"][t]["mean_f1"] for r in rows])
            entry[f"{t}_global_f1"] = _stats([r["tests"][t]["global_f1"] for r in rows])
    write_json(doc, a.json)


if __name__ == "__main__":
    main()
