"""Benchmark: the papers' accuracy tables, re-measured on the embedded (synthetic) corpora.

    python benchmarks/bench_accuracy.py [--quick | --full] [--only weak,misalign,secost,piano]
                                        [--seeds 3] [--jobs 2] [--work runs/bench] [--json FILE]

Same network, same data; only the supervision changes. Every run goes through the public engine
(``write_corpus`` -> ``prepare_dataset`` -> ``train_run`` -> ``detect_tracks``) and is cached under
``--work`` (``<run>/result.json``), so an interrupted benchmark re-run picks up where it stopped.

Experiments (LoCo [1] Table 1, SoftLoc [3] Table 2, SeCoST [4], LoCo [1] Table 2 analogues):

* ``weak``: ``loco`` (counts only) vs ``ce`` (framewise, full timestamps) vs ``oss`` vs ``mil``
  (presence only) on a drum corpus in the ENST layout, split like the paper's "Eval Random"
  (random tracks held out) and, with ``--full``, "Eval Subset" (one kit family held out). Per class
  P/R/F1 at 50 ms and at 20 ms, and the standard deviation of the timing error of matched hits.
* ``misalign``: training timestamps jittered with Gaussian noise of sigma ms (test labels clean);
  ``ce`` vs ``softloc`` (``--full`` adds ``oss`` and SoftLoc's smoothing term alone). SoftLoc's
  count weight ramps 0.2 -> 0.9 from 20 % to 70 % of the run (:data:`SOFTLOC_RAMP`).
* ``secost``: every training window's count of each class off by +-1 with probability q
  (``TrainConfig.count_noise``; validation and test labels clean); stage 0 (``loco``) and teacher
  stages 1.. (SeCoST, the previous stage as teacher, weight a = 0.5 on the noisy label).
* ``piano``: note-onset F1 with pitch on the synthetic piano corpus (MAPS layout, random split),
  trained from counts (``loco``, the piano recipe's keys network): one model over a key range vs
  one model per band of 10 keys (LoCo's setup), whose detections are merged per track before
  scoring. ``--full`` covers all 88 keys (9 bands); ``--quick`` keys 41-80 (4 bands), to fit the hour.
  Each band's own scores are kept as rows of ``piano-bands``.

Every row: mean and standard deviation over ``--seeds`` training seeds (the data is fixed).
``--quick`` (the ``make bench`` default) trains fewer steps and a subset of rows: about 150 min of
training, 75-80 min of wall time on 2 CPU cores (measured 2026-11-22). ``benchmarks/report.py`` turns the JSON into ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent

#: Experiment sizes. Steps are optimizer steps of batch 16 (the drums recipe).
MODES = {
    "quick": {"tracks": 36, "duration": 30.0, "weak_steps": 1500, "misalign_steps": 500, "secost_steps": 600,
              "protocols": ["random"], "weak_losses": ["loco", "ce", "oss", "mil"], "sigmas_ms": [0, 100, 200],
              "misalign_losses": ["ce", "softloc"], "secost_q": [0.3], "secost_stages": 2,
              "piano_tracks": 24, "piano_steps": 400, "piano_keys": (41, 80)},
    # a seconds-long run of every code path, for the test suite
    "smoke": {"tracks": 8, "duration": 8.0, "weak_steps": 4, "misalign_steps": 4, "secost_steps": 4,
              "protocols": ["random", "subset"], "weak_losses": ["loco", "ce"], "sigmas_ms": [0, 100],
              "misalign_losses": ["softloc", "smooth"], "secost_q": [0.3], "secost_stages": 2,
              "piano_tracks": 6, "piano_steps": 3, "piano_keys": (44, 63)},
    "full": {"tracks": 60, "duration": 30.0, "weak_steps": 5000, "misalign_steps": 3000, "secost_steps": 3000,
             "protocols": ["random", "subset"], "weak_losses": ["loco", "ce", "oss", "mil"],
             "sigmas_ms": [0, 50, 100, 150, 200], "misalign_losses": ["ce", "oss", "smooth", "softloc"],
             "secost_q": [0.1, 0.3], "secost_stages": 4, "piano_tracks": 60, "piano_steps": 3000,
             "piano_keys": (21, 108)},
}
CORPUS_SEED = 10
#: The kit family held out by the "Eval Subset" protocol (ENST layout: drummer_<family index>).
SUBSET_HOLDOUT = "drummer_2"
TEACHER_WEIGHT = 0.5
#: SoftLoc's count weight ramps from alpha_min to alpha_max between these fractions of a run
#: (the library's defaults are the paper's absolute steps, 3e4 + 1e5, far beyond a quick run).
SOFTLOC_RAMP = (0.2, 0.5)
#: LoCo's piano models each cover 10 keys (the authors' code [5]); 9 bands span 21..108.
PIANO_BAND = 10


def band_keys(lo: int, hi: int = 108) -> list[str]:
    """Class names of the band starting at MIDI pitch ``lo`` (clipped at ``hi``)."""
    return [str(p) for p in range(lo, min(lo + PIANO_BAND, hi + 1))]


@dataclass(frozen=True)
class RunSpec:
    """One training run and its evaluation."""

    key: str  # unique folder name
    experiment: str
    row: str  # the table row this run belongs to
    data: str  # prepared dataset folder name
    test: str  # prepared dataset with the test tracks
    test_split: str
    loss: str
    steps: int
    seed: int
    loss_overrides: dict = field(default_factory=dict)
    train_overrides: dict = field(default_factory=dict)
    teacher: str | None = None  # key of the teacher run
    preset: str = "drums"
    members: tuple[str, ...] = ()  # a merged row: the runs whose detections are united (trains nothing)


# ---------------------------------------------------------------------------------------------------
# Data


def build_data(work: Path, mode: dict, experiments: list[str], log) -> None:
    """Synthesize and prepare every dataset the experiments need (cached by folder)."""
    from loco_cli.corpus import write_corpus
    from loco_cli.prepare import prepare_dataset

    corpus = work / "corpus-drums"
    if not (corpus / "corpus.json").is_file() and not any(corpus.glob("**/*.wav")):
        log(f"synthesizing {mode['tracks']} drum tracks")
        write_corpus("drums", corpus, n_tracks=mode["tracks"], duration=mode["duration"], seed=CORPUS_SEED,
                     layout="enst")

    def prep(name: str, src: Path, **kw) -> None:
        if not (work / name / "dataset.json").is_file():
            log(f"preparing {name}")
            prepare_dataset(src, work / name, preset=kw.pop("preset", "drums"), jobs=2, force=True, **kw)

    prep("drums-random", corpus, split="random")
    if "subset" in mode["protocols"]:
        prep("drums-subset", corpus, split=f"holdout:{SUBSET_HOLDOUT}")
    if "misalign" in experiments:
        for sigma in mode["sigmas_ms"]:
            if sigma:
                prep(f"drums-random-noise{sigma}", corpus, split="random", label_noise_ms=float(sigma))
    if "piano" in experiments:
        piano = work / "corpus-piano"
        if not (piano / "corpus.json").is_file():
            log(f"synthesizing {mode['piano_tracks']} piano pieces")
            write_corpus("piano", piano, n_tracks=mode["piano_tracks"], duration=mode["duration"], seed=CORPUS_SEED,
                         layout="maps")
        lo, hi = mode["piano_keys"]
        prep("piano-all", piano, split="random", preset="piano", classes=[str(p) for p in range(lo, hi + 1)])
        for band in piano_bands(mode):  # the same tracks and split, only the classes differ
            prep(f"piano-band{band}", piano, split="random", preset="piano", classes=band_keys(band, hi))


def piano_bands(mode: dict) -> list[int]:
    """Start pitches of the 10-key bands covering the mode's key range ``piano_keys``."""
    lo, hi = mode["piano_keys"]
    return list(range(lo, hi + 1, PIANO_BAND))


# ---------------------------------------------------------------------------------------------------
# Runs


def plan(mode: dict, experiments: list[str], seeds: int) -> list[RunSpec]:
    """Every run of the requested experiments (identical runs shared between tables by key)."""
    specs: dict[str, RunSpec] = {}

    def add(spec: RunSpec) -> None:
        specs.setdefault(spec.key, spec)

    for seed in range(seeds):
        if "weak" in experiments:
            for proto in mode["protocols"]:
                for loss in mode["weak_losses"]:
                    add(RunSpec(f"weak-{proto}-{loss}-s{seed}", "weak", f"{proto}/{loss}", f"drums-{proto}",
                                f"drums-{proto}", "test", loss, mode["weak_steps"], seed))
        if "misalign" in experiments:
            for sigma in mode["sigmas_ms"]:
                data = f"drums-random-noise{sigma}" if sigma else "drums-random"
                steps = mode["misalign_steps"]
                for loss in mode["misalign_losses"]:
                    name, over = loss, {}
                    if loss == "softloc":  # the paper's alpha ramp (0.2 -> 0.9), scaled to the run's length
                        over = {"alpha_start": SOFTLOC_RAMP[0] * steps, "alpha_ramp": SOFTLOC_RAMP[1] * steps}
                    if loss == "smooth":  # SoftLoc's smoothing term alone: count weight alpha = 0
                        name, over = "softloc", {"alpha_min": 0.0, "alpha_max": 0.0}
                    add(RunSpec(f"misalign-{loss}-{sigma}ms-s{seed}", "misalign", f"{loss}/{sigma}", data,
                                "drums-random", "test", name, mode["misalign_steps"], seed, over))
        if "secost" in experiments:
            for q in mode["secost_q"]:
                prev = None
                for stage in range(mode["secost_stages"]):
                    key = f"secost-q{q}-stage{stage}-s{seed}"
                    over = {"teacher_weight": TEACHER_WEIGHT} if stage else {}
                    add(RunSpec(key, "secost", f"q{q}/stage{stage}", "drums-random", "drums-random", "test",
                                "loco", mode["secost_steps"], seed, over, {"count_noise": q}, teacher=prev))
                    prev = key
        if "piano" in experiments:
            steps = mode["piano_steps"]
            add(RunSpec(f"piano-all-s{seed}", "piano", "one model", "piano-all", "piano-all", "test", "loco", steps,
                        seed, preset="piano"))
            members = []
            for lo in piano_bands(mode):
                keys = band_keys(lo, mode["piano_keys"][1])
                key = f"piano-band{lo}-s{seed}"
                add(RunSpec(key, "piano-bands", f"{keys[0]}-{keys[-1]}", f"piano-band{lo}", f"piano-band{lo}", "test",
                            "loco", steps, seed, preset="piano"))
                members.append(key)
            add(RunSpec(f"piano-bands-s{seed}", "piano", f"{PIANO_BAND}-key bands", "piano-all", "piano-all", "test",
                        "loco", steps, seed, preset="piano", members=tuple(members)))
    return list(specs.values())


def evaluate_run(model_path: Path, test_dir: Path, split: str, members: list[tuple[Path, Path]] = ()) -> dict:
    """P/R/F1 per class at 50 and 20 ms (global over tracks), timing-error std, piano note F1.

    With ``members`` (``[(model, its prepared test dir)]``, ``model_path`` unused), each track's
    detections are the union of the members' (models over disjoint classes), scored against
    ``test_dir``'s reference."""
    from loco_cli.annotations import Events
    from loco_cli.checkpoint import load_model
    from loco_cli.detection import detect_tracks
    from loco_cli.engine import _is_piano, note_level_f1
    from loco_cli.prepared import load_prepared
    from loco_cli.scores import Counts, match_count, prf, timing_errors

    data = load_prepared(test_dir)
    names = data.split_tracks(split)

    def detections():
        if not members:
            loaded = load_model(model_path)
            yield from ((n, ev) for n, _, ev in detect_tracks(loaded.model, data, names, loaded.decode))
            return
        parts: dict[str, list[Events]] = {n: [] for n in names}
        for path, member_dir in members:
            loaded, sub = load_model(path), load_prepared(member_dir)
            for n, _, ev in detect_tracks(loaded.model, sub, names, loaded.decode):
                parts[n].append(ev)
        for n in names:
            yield n, Events(np.concatenate([e.times for e in parts[n]]), np.concatenate([e.labels for e in parts[n]]))

    counts = {w: {c: Counts(0, 0, 0) for c in data.classes} for w in (0.05, 0.02)}
    errors: dict[str, list[float]] = {c: [] for c in data.classes}
    notes = []
    for name, events in detections():
        ref = data.reference(name)
        for c in data.classes:
            for w in counts:
                counts[w][c] = counts[w][c] + match_count(ref.of(c), events.of(c), w)
            errors[c] += timing_errors(ref.of(c), events.of(c), 0.05).tolist()
        if _is_piano(data.classes):
            notes.append(note_level_f1(ref, events, 0.05)[2])
    out: dict = {"classes": {}, "tracks": len(names)}
    for c in data.classes:
        p50, r50, f50 = prf(counts[0.05][c])
        f20 = prf(counts[0.02][c])[2]
        e = np.array(errors[c])
        out["classes"][c] = {"precision": p50, "recall": r50, "f1": f50, "f1_20ms": f20,
                             "timing_std_ms": float(1000 * e.std()) if e.size > 1 else float("nan"),
                             "n_ref": counts[0.05][c].n_ref}
    total = {w: sum(counts[w].values(), Counts(0, 0, 0)) for w in counts}
    all_err = np.concatenate([np.array(v) for v in errors.values()]) if errors else np.zeros(0)
    out["overall"] = {"f1": prf(total[0.05])[2], "f1_20ms": prf(total[0.02])[2],
                      "macro_f1": float(np.mean([v["f1"] for v in out["classes"].values()])),
                      "timing_std_ms": float(1000 * all_err.std()) if all_err.size > 1 else float("nan")}
    if notes:
        out["overall"]["note_f1"] = float(np.mean(notes))
    return out


def execute(spec: RunSpec, work: Path) -> dict:
    """Train (unless cached) and evaluate one run; returns its result dict (also saved)."""
    import torch

    from loco_cli.annotations import json_text
    from loco_cli.atomic import atomic_write_text
    from loco_cli.config import PRESETS, RECIPES
    from loco_cli.train import train_run

    torch.set_num_threads(1)
    run = work / "runs" / spec.key
    cached = run / "result.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    preset = PRESETS[spec.preset]
    loss = preset.loss.replace(name=spec.loss, **spec.loss_overrides)
    train = RECIPES[spec.preset].replace(steps=spec.steps, seed=spec.seed, val_every=max(spec.steps // 6, 50),
                                         **spec.train_overrides)
    if spec.members:  # a merged row: evaluate the members' models together
        done = [json.loads((work / "runs" / m / "result.json").read_text()) for m in spec.members]
        scores = evaluate_run(Path(), work / spec.test, spec.test_split,
                              [(work / "runs" / m / "model.pt", work / d["spec"]["test"]) for m, d in zip(spec.members, done, strict=True)])
        seconds = sum(d["train_seconds"] for d in done)
        out = {"spec": spec.__dict__, "train_seconds": round(seconds, 1), "steps_per_s": None,
               "val_metric": float(np.mean([d["val_metric"] for d in done])), "val_metric_name": "mean over members",
               "scores": scores}
        run.mkdir(parents=True, exist_ok=True)
        atomic_write_text(cached, json_text(out))
        return out
    teacher = work / "runs" / spec.teacher / "model.pt" if spec.teacher else None
    t0 = time.perf_counter()
    result = train_run(work / spec.data, run / "train", loss=loss, train=train, model=preset.model,
                       teacher=teacher, force=True, device="cpu")
    seconds = time.perf_counter() - t0
    model = run / "model.pt"
    os.replace(result.model_path, model)
    scores = evaluate_run(model, work / spec.test, spec.test_split)
    out = {"spec": spec.__dict__, "train_seconds": round(seconds, 1), "steps_per_s": round(spec.steps / seconds, 2),
           "val_metric": result.best_metric, "val_metric_name": result.metric_name, "scores": scores}
    atomic_write_text(cached, json_text(out))
    return out


def _stats(values: list[float]) -> dict:
    arr = np.array([v for v in values if v == v], dtype=float)
    return {"mean": float(arr.mean()) if arr.size else float("nan"),
            "std": float(arr.std(ddof=1)) if arr.size > 1 else 0.0, "n": int(arr.size)}


def aggregate(results: list[dict]) -> dict:
    """``{experiment: {row: {metric: {mean, std, n}}}}`` over seeds."""
    table: dict = {}
    for r in results:
        s = r["spec"]
        row = table.setdefault(s["experiment"], {}).setdefault(s["row"], {"runs": []})
        row["runs"].append(r)
    out: dict = {}
    for exp, rows in table.items():
        out[exp] = {}
        for name, row in rows.items():
            runs = row["runs"]
            classes = list(runs[0]["scores"]["classes"])
            entry = {"seeds": [r["spec"]["seed"] for r in runs], "steps": runs[0]["spec"]["steps"],
                     "loss": runs[0]["spec"]["loss"],
                     "train_seconds": _stats([r["train_seconds"] for r in runs]),
                     "overall": {m: _stats([r["scores"]["overall"].get(m, float("nan")) for r in runs])
                                 for m in runs[0]["scores"]["overall"]}}
            if len(classes) <= 12:
                entry["classes"] = {c: {m: _stats([r["scores"]["classes"][c][m] for r in runs])
                                        for m in ("precision", "recall", "f1", "f1_20ms", "timing_std_ms")}
                                    for c in classes}
            out[exp][name] = entry
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="the default: fewer steps and rows (~1.5 h on 2 cores)")
    size.add_argument("--full", action="store_true", help="every row of the issue, longer training (a GPU or a day)")
    size.add_argument("--smoke", action="store_true", help="a tiny run of every code path (the test suite's)")
    parser.add_argument("--only", default="weak,misalign,secost,piano")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel, one torch thread each")
    parser.add_argument("--work", type=Path, default=Path("runs/bench"))
    parser.add_argument("--json", type=Path, default=ROOT / "results" / "accuracy.json")
    parser.add_argument("--cached-only", action="store_true", help="report the runs already finished; train nothing")
    args = parser.parse_args()
    mode_name = "full" if args.full else "smoke" if args.smoke else "quick"
    mode = MODES[mode_name]
    experiments = [e.strip() for e in args.only.split(",") if e.strip()]
    work = args.work / mode_name
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:7.0f} s] {msg}", flush=True)

    build_data(work, mode, experiments, log)
    specs = plan(mode, experiments, args.seeds)
    log(f"{len(specs)} runs ({mode_name})")
    results: list[dict] = []
    # Teacher stages wait for their teacher: run in waves of runs whose teacher is done.
    pending = list(specs)
    done: set[str] = set()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        while pending:
            ready = [s for s in pending if (s.teacher is None or s.teacher in done) and set(s.members) <= done]
            pending = [s for s in pending if s not in ready]
            if args.cached_only:
                ready = [s for s in ready if (work / "runs" / s.key / "result.json").is_file()]
                if not ready:
                    break
            futures = {pool.submit(execute, s, work): s for s in ready}
            for fut in as_completed(futures):
                s = futures[fut]
                r = fut.result()
                results.append(r)
                done.add(s.key)
                log(f"{s.key}: F1 {r['scores']['overall']['f1']:.3f} ({r['train_seconds']:.0f} s)")
    import torch

    from loco_cli.annotations import json_text

    report = {"mode": mode_name, "config": mode, "seeds": args.seeds, "experiments": experiments,
              "machine": platform.platform(), "processor": platform.processor() or platform.machine(),
              "cpus": os.cpu_count(), "torch": torch.__version__, "jobs": args.jobs,
              "date": time.strftime("%Y-%m-%d"), "wall_seconds": round(time.perf_counter() - t0),
              "command": "python benchmarks/bench_accuracy.py " + f"--{mode_name}"
              + (f" --only {args.only}" if args.only != parser.get_default("only") else ""),
              "tables": aggregate(results)}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.json.with_suffix(".tmp")
    tmp.write_text(json_text(report))
    os.replace(tmp, args.json)
    log(f"wrote {args.json}")


if __name__ == "__main__":
    main()
