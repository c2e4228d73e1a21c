"""Benchmark: training on a small real-like set by cross-validation, counts against onset times,
before and after a code change.

    python benchmarks/bench_smallset.py --source DIR --variant NAME=CODE@LOSS[+INIT][%RECIPE][#STEPS][:SEEDS] [--variant ...]
                                        [--seeds 0,1] [--folds 3] [--steps 1400] [--work runs/smallset]
                                        [--json benchmarks/results/smallset.json] [--merge FILE]

The situation of a user with a few minutes of their own drums: ``loco crossval SOURCE --folds 3
--loss LOSS --steps N --seed S`` (each track tested once, about 5 minutes of audio per training fold,
from random weights), for every variant and fold-assignment seed. ``CODE`` is the folder of the loco
source to run (``.`` for this checkout; a ``git worktree`` of an older commit for a "before" row),
``LOSS`` the training loss (``loco``: counts only; ``ce``: onset times), ``INIT`` a model every fold
fine-tunes (``crossval --init``: ``drums``, a model file, ``auto``; without one, random weights:
``--init none`` where the code's default is ``--init auto``), ``RECIPE`` a recipe TOML (``crossval
--recipe``; default the preset's), ``STEPS`` the variant's own steps per fold (default ``--steps``),
``SEEDS`` the variant's own seeds
(``:0``; default ``--seeds``). Each run goes to ``WORK/NAME-LOSS-sS`` and
is reused when its ``crossval.json`` exists; each uses one thread, so two
can share a 2-core machine. The JSON holds, per variant, the pooled global F1 over all folds' test
tracks for each seed, its mean / min / max over seeds, per class, and the timing error (mean and
std of detected minus reference, ms) that tells a miscalibrated latency.

The proxy for "a small real dataset": the held-out kits' drum-only renders of ``benchmarks/build_models.py
drums`` (16 tracks x 30 s, four recorded kits none of which the shipped model heard)::

    git worktree add /tmp/loco-before fdff3a4          # before stratified validation and calibration
    git show bd132c9:models/drums.pt > runs/drums-synth-counts.pt   # counts only, built-in synthesizer
    python benchmarks/bench_smallset.py --source runs/models/drums/test-dry \\
        --variant before=/tmp/loco-before@loco --variant after=.@loco --variant after=.@ce \\
        --variant synthcounts=.@loco+runs/drums-synth-counts.pt:0 \\
        --variant drums=.@loco+drums:0 --variant drums=.@ce+drums:0
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_seeds import _stats, environment, write_json  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _commit(code: Path) -> str | None:
    try:
        return subprocess.run(["git", "-C", str(code), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def crossval_args(code: Path, source: Path, out: Path, loss: str, seed: int, folds: int, steps: int,
                  init: str | None = None, recipe: str | None = None) -> list[str]:
    """The ``loco crossval`` arguments of one run: ``init`` as given (``drums``, ``piano``, ``auto``,
    ``none``) or a model file's absolute path; without one, random weights, said as ``--init none`` to
    code whose default is ``--init auto`` (older code, a "before" worktree, has no such option and
    starts from random weights anyway)."""
    args = ["crossval", str(source.resolve()), "--out", str(out.resolve()), "--folds", str(folds), "--loss", loss,
            "--steps", str(steps), "--seed", str(seed), "--jobs", "1"]
    if init:
        args += ["--init", init if init in ("drums", "piano", "auto", "none") else str(Path(init).resolve())]
    elif "INIT_NONE" in (code / "loco_cli" / "config.py").read_text():
        args += ["--init", "none"]
    if recipe:
        args += ["--recipe", recipe if recipe in ("drums", "piano") else str(Path(recipe).resolve())]
    return args


def run_crossval(code: Path, source: Path, out: Path, loss: str, seed: int, folds: int, steps: int,
                 init: str | None = None, recipe: str | None = None) -> dict:
    """``loco crossval`` with the loco source in ``code`` (one thread), or its cached report."""
    report = out / "crossval.json"
    if not report.is_file():
        env = dict(os.environ, PYTHONPATH=str(code), OMP_NUM_THREADS="1", LOCO_NUM_THREADS="1",
                   NUMBA_NUM_THREADS="1", MKL_NUM_THREADS="1")
        check = f"import loco_cli, sys; assert loco_cli.__file__.startswith({str(code)!r}), loco_cli.__file__; "
        cmd = [sys.executable, "-c", check + "from loco_cli.cli import main; sys.argv[0] = 'loco'; main()",
               *crossval_args(code, source, out, loss, seed, folds, steps, init, recipe)]
        subprocess.run(cmd, cwd=code, env=env, check=True)  # cwd: `python -c` puts it first on sys.path
    return json.loads(report.read_text())


def summarise(report: dict) -> dict:
    pooled = report["pooled"]
    return {"global_f1": pooled["overall"]["global"]["f1"], "mean_f1": pooled["overall"]["mean"]["f1"],
            "folds_global_f1": [f["global_f1"] for f in report["folds"]],
            "classes": {c: pooled["classes"][c]["global"]["f1"] for c in report["classes"]},
            "classes_precision_recall": {c: [round(pooled["classes"][c]["global"]["precision"], 4),
                                             round(pooled["classes"][c]["global"]["recall"], 4)] for c in report["classes"]},
            "timing_ms": {c: {"mean": round(t["mean_ms"], 2), "std": round(t["std_ms"], 2)}
                          for c, t in report["timing"].items()}}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path, required=True)
    ap.add_argument("--variant", action="append", required=True, help="NAME=CODE@LOSS")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=1400)
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "smallset")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--merge", type=Path, default=None,
                    help="an earlier result file of the same source, folds and steps: its variants are kept (each "
                         "with its own command) and the new ones added or replaced, without re-running the old ones")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    variants = {}
    for spec in args.variant:
        name, rest = spec.split("=", 1)
        code, loss = rest.rsplit("@", 1)
        own_seeds = seeds
        if ":" in loss and loss.rsplit(":", 1)[1].replace(",", "").isdigit():
            loss, given = loss.rsplit(":", 1)
            own_seeds = [int(s) for s in given.split(",")]
        loss, _, steps = loss.partition("#")
        steps = int(steps) if steps else args.steps
        loss, _, recipe = loss.partition("%")
        loss, _, init = loss.partition("+")
        code_dir = (ROOT if code == "." else Path(code)).resolve()
        runs = []
        for seed in own_seeds:
            report = run_crossval(code_dir, args.source, args.work / f"{name}-{loss}-s{seed}", loss, seed,
                                  args.folds, steps, init or None, recipe or None)
            runs.append({"seed": seed, **summarise(report)})
            print(f"{name} {loss} seed {seed}: pooled global F1 {runs[-1]['global_f1']:.3f} "
                  f"({', '.join(f'{c} {f:.2f}' for c, f in runs[-1]['classes'].items())})")
        key = f"{name}-{loss}"
        variants[key] = {"code": str(code_dir if code != "." else "."), "commit": _commit(code_dir), "loss": loss,
                         "init": init or None, "recipe": recipe or None, "steps": steps,
                         "global_f1": _stats([r["global_f1"] for r in runs]),
                         "mean_f1": _stats([r["mean_f1"] for r in runs]),
                         "classes": {c: _stats([r["classes"][c] for r in runs]) for c in runs[0]["classes"]},
                         "runs": runs}
    command = "python benchmarks/bench_smallset.py " + " ".join(argv if argv is not None else sys.argv[1:])
    try:
        source = str(args.source.resolve().relative_to(ROOT))
    except ValueError:
        source = str(args.source)
    if args.merge:
        old = json.loads(args.merge.read_text())
        if (old.get("source"), old.get("folds"), old.get("steps")) != (source, args.folds, args.steps):
            raise SystemExit(f"{args.merge}: measured on another source or with other folds or steps "
                             f"({old.get('source')}, {old.get('folds')}, {old.get('steps')}); cannot merge")
        kept = {k: {**v, "command": v.get("command", old["command"]), "environment": v.get("environment", old["environment"])}
                for k, v in old["variants"].items() if k not in variants}
        variants = {**kept, **{k: {**v, "command": command} for k, v in variants.items()}}
    if args.json:
        write_json({
            "benchmark": "smallset",
            "about": (f"loco crossval --folds {args.folds} --steps {args.steps} (a variant's own where given) on {source} "
                      "(16 tracks x 30 s of four "
                      "recorded kits the shipped model never heard, drums only; about 5 minutes of audio per training "
                      "fold), from random weights or fine-tuning a model (--init), one thread per run; pooled global "
                      "F1 at 50 ms over all folds' test tracks, per fold-assignment seed"),
            "command": command,
            "source": source, "folds": args.folds, "steps": args.steps, "seeds": seeds,
            "environment": environment("cpu"), "variants": variants}, str(args.json))


if __name__ == "__main__":
    main()
