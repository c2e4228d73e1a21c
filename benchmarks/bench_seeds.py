"""Benchmark: how much a training recipe's held-out F1 depends on the seed.

    python benchmarks/bench_seeds.py --data PREPARED --test [NAME=]CORPUS [--test ...]
                                     [--variant NAME=RECIPE[@LOSS][+INIT] ...] [--seeds 5] [--steps 3500]
                                     [--loss loco] [--jobs 4] [--device cpu|cuda] [--labels enst]
                                     [--work runs/seeds] [--json FILE]

Trains every variant (``NAME=RECIPE``: a recipe name or TOML file, see ``loco train --recipe``;
``@LOSS`` overrides ``--loss`` for that variant, e.g. ``ts=drums@ce``; ``+INIT`` fine-tunes from a
model, ``loco train --init``) with seeds 0..N-1 on the
prepared dataset ``--data``, detects on every audio file of each ``--test`` corpus (a folder with
annotations, never seen in training) and scores with mir_eval at 50 ms. The JSON holds, per variant
and test set, every run (global and per-class F1, validation F1, seconds) and the mean / std / min /
max over seeds of the held-out global F1 and of the mean-over-tracks F1 (``make demo``'s headline),
with the package versions, the CPU and the GPU, since the outcome of a run depends on them.

Runs are cached (``WORK/<variant>-s<seed>/result.json``), so an interrupted sweep picks up where it
stopped; a ``--test`` set added later is scored with the run's saved model (no training again).
``--jobs`` runs that many trainings side by side, each on one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent


def environment(device: str) -> dict:
    """Package versions, CPU and GPU: what a training outcome may depend on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "machine": platform.machine(), "cpu": platform.processor() or None}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                out["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    for pkg in ("torch", "numpy", "numba", "scipy", "librosa", "soundfile", "mir_eval"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    if device.startswith("cuda"):
        import torch

        out["gpu"] = torch.cuda.get_device_name(0)
    return out


def evaluate_folder(model, test: str | Path, out: Path, *, labels: str = "enst", device: str = "cpu") -> dict:
    """Detect every audio file of ``test`` with ``model`` into ``out`` and score against its annotations
    (``labels``: ``enst`` or ``mdb``). Returns global and mean-over-tracks F1 (all classes) and per class."""
    from loco_cli.annotations import ENST_LABELS, MDB_LABELS
    from loco_cli.checkpoint import load_model
    from loco_cli.detection import detect_paths
    from loco_cli.engine import evaluate_paths

    loaded = load_model(model, device)
    detect_paths(loaded, [Path(test)], out, device=device)
    res = evaluate_paths(out, Path(test), classes=loaded.classes,
                         label_map={"enst": ENST_LABELS, "mdb": MDB_LABELS}[labels])
    rep = res.report
    return {"global_f1": rep["overall"]["global"]["f1"], "mean_f1": rep["overall"]["mean"]["f1"],
            "per_class": {c: {"global_f1": v["global"]["f1"], "precision": v["global"]["precision"],
                              "recall": v["global"]["recall"]} for c, v in rep["classes"].items()}}


def run_one(variant: str, recipe: str, seed: int, args: dict) -> dict:
    """Train one seed of one variant, detect and score the test corpus; cached in its folder."""
    import torch

    torch.set_num_threads(1)
    from loco_cli.annotations import json_text
    from loco_cli.atomic import atomic_write_text
    from loco_cli.prepared import load_prepared
    from loco_cli.train import load_recipe, train_run

    run = Path(args["work"]) / f"{variant}-s{seed}"
    cached = run / "result.json"
    if cached.is_file():  # trained before: score the saved model on any test set added since
        out = json.loads(cached.read_text())
        missing = {name: folder for name, folder in args["test"].items() if name not in out["tests"]}
        if missing:
            for name, folder in missing.items():
                out["tests"][name] = evaluate_folder(run / "train" / "model.pt", folder, run / f"detections-{name}",
                                                     labels=args["labels"], device=args["device"])
            atomic_write_text(cached, json_text(out))
        return out
    recipe, _, init = recipe.partition("+")
    recipe, _, loss_name = recipe.partition("@")
    configs = load_recipe(recipe)
    data = load_prepared(args["data"])
    train = configs["train"].replace(seed=seed, **({"steps": args["steps"]} if args["steps"] else {}))
    loss = configs["loss"].replace(name=loss_name or args["loss"], k_max=data.meta.get("k_max", configs["loss"].k_max))
    t0 = time.perf_counter()
    result = train_run(args["data"], run / "train", loss=loss, train=train, model=configs["model"],
                       decode_cfg=configs["decode"], force=True, device=args["device"], tensorboard=False,
                       init=init or None)
    seconds = time.perf_counter() - t0
    tests = {name: evaluate_folder(result.model_path, folder, run / f"detections-{name}", labels=args["labels"],
                                   device=args["device"]) for name, folder in args["test"].items()}
    out = {"variant": variant, "recipe": recipe, "loss": loss.name, "init": init or None, "seed": seed, "steps": train.steps,
           "train_seconds": round(seconds, 1), "val_f1": result.best_metric, "tests": tests}
    atomic_write_text(cached, json_text(out))
    return out


def write_json(doc: dict, path: str | None) -> None:
    """Write ``doc`` as strict JSON to ``path`` atomically, or print it when ``path`` is ``None``."""
    from loco_cli.annotations import json_text
    from loco_cli.atomic import atomic_write_text

    if path:
        atomic_write_text(Path(path), json_text(doc))
    else:
        print(json_text(doc), end="")


def _stats(values: list[float]) -> dict:
    v = np.array(values, dtype=float)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "n": int(v.size)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="prepared training dataset")
    parser.add_argument("--test", action="append", required=True,
                        help="[NAME=]held-out corpus folder (audio + annotations); repeatable")
    parser.add_argument("--variant", action="append", default=[], help="NAME=RECIPE (repeatable; default: drums)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=0, help="0: the recipe's")
    parser.add_argument("--loss", default="loco")
    parser.add_argument("--labels", default="enst")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--work", default="runs/seeds")
    parser.add_argument("--json", default=None)
    parser.add_argument("--about", default="", help="what the sweep measures (kept in the JSON for the report)")
    a = parser.parse_args()
    variants = dict(v.split("=", 1) for v in a.variant) if a.variant else {"default": "drums"}
    tests = dict(t.split("=", 1) if "=" in t else ("test", t) for t in a.test)
    args = {"data": a.data, "test": tests, "steps": a.steps, "loss": a.loss, "labels": a.labels,
            "device": a.device, "work": a.work}
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    jobs = [(name, recipe, seed) for name, recipe in variants.items()
            for seed in range(a.first_seed, a.first_seed + a.seeds)]
    t0 = time.perf_counter()
    if a.jobs > 1:
        import multiprocessing as mp

        with ProcessPoolExecutor(a.jobs, mp_context=mp.get_context("spawn")) as pool:
            results = list(pool.map(run_one, *zip(*jobs, strict=True), [args] * len(jobs)))
    else:
        results = [run_one(name, recipe, seed, args) for name, recipe, seed in jobs]
    summary = {"benchmark": "seeds", "about": a.about, "command": " ".join(sys.argv), "work": a.work, "loss": a.loss, "data": a.data,
               "tests": tests, "device": a.device,
               "environment": environment(a.device), "wall_seconds": round(time.perf_counter() - t0, 1),
               "variants": {}}
    for name, recipe in variants.items():
        runs = [r for r in results if r["variant"] == name]
        entry = summary["variants"][name] = {"recipe": recipe, "runs": runs}
        for test in tests:
            g = entry[f"{test}_global_f1"] = _stats([r["tests"][test]["global_f1"] for r in runs])
            m = entry[f"{test}_mean_f1"] = _stats([r["tests"][test]["mean_f1"] for r in runs])
            print(f"{name} on {test}: mean-over-tracks F1 {m['mean']:.3f} +- {m['std']:.3f} (min {m['min']:.3f}, "
                  f"max {m['max']:.3f}); global {g['mean']:.3f} +- {g['std']:.3f} over {g['n']} seeds", file=sys.stderr)
    write_json(summary, a.json)


if __name__ == "__main__":
    main()
