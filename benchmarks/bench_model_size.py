"""Benchmark: drum-model size against held-out-library F1 and detection speed (issue 12, section 3).

    python benchmarks/bench_model_size.py [--work runs/size] [--json benchmarks/results/model_size.json]

Reads the runs that the ``bench_seeds.py`` sweeps in :data:`TRAIN_COMMANDS` trained and scored (each
``WORK/<variant>-s<seed>/result.json``), counts each model's parameters and times ``loco detect``'s
path (stream mode, 1 and 2 threads, best of two passes after a warm-up) on the synthetic drum corpus
of ``bench_detect.py`` (6 x 30 s, seed 1): the size to ship is the most accurate one on the held-out
libraries that keeps the 300x real-time goal on 2 cores.

The three CRNNs share the shipped drum model's schedule (``drums_ema.toml``: EMA of the weights,
warm-up, cosine decay) and supervision (onset times, ``--loss ce``) on the same renders of 26 sample
libraries (``python benchmarks/build_models.py drums``); the convolution widths, the LSTM and the FC layer grow
(18.6k, 124k, 494k parameters); the largest trains at a third of the learning rate, since at the
shipped one it diverged. The held-out test sets are the four kits never heard in training, drums
alone (``dry``) and in band mixes (``mix``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_seeds import environment, write_json  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
_SWEEP = ("python benchmarks/bench_seeds.py --data runs/models/drums/prepared --test dry=runs/models/drums/test-dry "
          "--test mix=runs/models/drums/test-mix --steps 3000 --work runs/size")
#: The sweeps that trained the runs (one thread each, ``LOCO_NUM_THREADS=1``).
TRAIN_COMMANDS = [
    _SWEEP + " --variant s18k=benchmarks/recipes/drums_ema.toml@ce --variant m124k=benchmarks/recipes/drums_l.toml@ce "
             "--variant l494k=benchmarks/recipes/drums_xl.toml@ce --seeds 1 --json runs/size/size.json",
    _SWEEP + " --variant s18k=benchmarks/recipes/drums_ema.toml@ce --variant m124k=benchmarks/recipes/drums_l.toml@ce "
             "--first-seed 1 --seeds 1 --json runs/size/size-seed1.json",
    _SWEEP + " --variant s18k=benchmarks/recipes/drums_ema.toml@ce --first-seed 2 --seeds 1 "
             "--json runs/size/size-seed2.json",
]


def speed(model: Path, wavs: list[Path], audio_s: float) -> dict:
    """x real time of ``detect_file`` over ``wavs`` on 1 and 2 torch threads (best of two passes)."""
    import torch

    from loco_cli.checkpoint import load_model
    from loco_cli.detection import detect_file

    loaded = load_model(model)
    out = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        detect_file(loaded, wavs[0])  # warm-up
        best = float("inf")
        for _ in range(2):
            t0 = time.perf_counter()
            for w in wavs:
                detect_file(loaded, w, keep_activations=False)
            best = min(best, time.perf_counter() - t0)
        out[f"x_real_time_{threads}thread"] = round(audio_s / best, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default="runs/size", help="bench_seeds.py's --work folder of the size sweeps")
    parser.add_argument("--json", default=None)
    a = parser.parse_args()

    from loco_cli.checkpoint import load_model
    from loco_cli.corpus import write_corpus

    runs = sorted((json.loads(f.read_text()) for f in Path(a.work).glob("*-s*/result.json")),
                  key=lambda r: (r["variant"], r["seed"]))
    if not runs:
        raise SystemExit(f"{a.work}: no finished runs (*/result.json); run the bench_seeds.py sweep first")
    doc = {"benchmark": "model_size", "command": " ".join(sys.argv), "train_commands": TRAIN_COMMANDS,
           "environment": environment("cpu"), "rows": []}
    with tempfile.TemporaryDirectory() as tmp:
        write_corpus("drums", Path(tmp) / "drums", n_tracks=6, duration=30.0, seed=1)
        wavs = sorted((Path(tmp) / "drums").glob("*.wav"))
        for run in runs:
            model = Path(a.work) / f"{run['variant']}-s{run['seed']}" / "train" / "model.pt"
            loaded = load_model(model)
            row = {"variant": run["variant"], "recipe": run["recipe"], "loss": run["loss"], "seed": run["seed"],
                   "steps": run["steps"], "parameters": int(sum(p.numel() for p in loaded.model.parameters())),
                   "lr": float(loaded.payload["train"]["lr"]), "train_seconds": run["train_seconds"],
                   "val_f1": run["val_f1"], "tests": run["tests"], **speed(model, wavs, 6 * 30.0)}
            doc["rows"].append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "tests"}), flush=True)
    write_json(doc, a.json)


if __name__ == "__main__":
    main()
