"""Benchmark: drum-model size against held-out-library F1 and detection speed (issue 12, section 3).

    python benchmarks/bench_seeds.py --data runs/models/drums/prepared \\
        --test dry=runs/models/drums/test-dry --test mix=runs/models/drums/test-mix \\
        --variant s18k=benchmarks/recipes/drums_ema.toml@ce --variant m124k=benchmarks/recipes/drums_l.toml@ce \\
        --variant l494k=benchmarks/recipes/drums_xl.toml@ce --seeds 1 --steps 3000 --work runs/size \\
        --json runs/size/size.json                       # trains and scores (one thread each: ~1.5 h)
    python benchmarks/bench_model_size.py --seeds-json runs/size/size.json \\
        --json benchmarks/results/model_size.json        # adds size and speed

The three CRNNs share the shipped drum model's schedule (``drums_ema.toml``: EMA of the weights,
warm-up, cosine decay) and its supervision (onset times, ``--loss ce``) on the same renders of 26
sample libraries (``python models/build.py drums``); only the convolution widths, the LSTM and the
FC layer grow (18.6k, 124k, 494k parameters). The held-out test sets are the four kits never heard in
training, drums alone (``dry``) and in band mixes (``mix``). This script reads the scores that
``bench_seeds.py`` wrote, counts each model's parameters and times ``loco detect``'s path (stream mode,
1 and 2 threads, after a warm-up) on the synthetic drum corpus of ``bench_detect.py`` (6 x 30 s,
seed 1): the size to ship is the most accurate one that keeps the 300x real-time goal on 2 cores.
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
    parser.add_argument("--seeds-json", action="append", required=True,
                        help="bench_seeds.py results of the size variants (repeatable: one file per sweep)")
    parser.add_argument("--work", default=None, help="bench_seeds.py's --work (default: the one in the JSON)")
    parser.add_argument("--json", default=None)
    a = parser.parse_args()

    from loco_cli.checkpoint import load_model
    from loco_cli.synth import write_corpus

    sweeps = [json.loads(Path(f).read_text()) for f in a.seeds_json]
    doc = {"benchmark": "model_size", "command": " ".join(sys.argv),
           "seeds_commands": [s.get("command") for s in sweeps], "environment": environment("cpu"),
           "tests": sweeps[0].get("tests"), "rows": []}
    with tempfile.TemporaryDirectory() as tmp:
        write_corpus("drums", Path(tmp) / "drums", n_tracks=6, duration=30.0, seed=1)
        wavs = sorted((Path(tmp) / "drums").glob("*.wav"))
        for seeds, name, variant in sorted(((s, n, v) for s in sweeps for n, v in s["variants"].items()),
                                           key=lambda x: (x[1], x[2]["runs"][0]["seed"])):
            for run in variant["runs"]:
                model = Path(a.work or seeds.get("work", "runs/size")) / f"{name}-s{run['seed']}" / "train" / "model.pt"
                loaded = load_model(model)
                params = sum(p.numel() for p in loaded.model.parameters())
                row = {"variant": name, "recipe": variant["recipe"], "seed": run["seed"], "steps": run["steps"],
                       "parameters": int(params), "train_seconds": run["train_seconds"], "val_f1": run["val_f1"],
                       "tests": run["tests"], **speed(model, wavs, 6 * 30.0)}
                doc["rows"].append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "tests"}), flush=True)
    write_json(doc, a.json)


if __name__ == "__main__":
    main()
