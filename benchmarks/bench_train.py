"""Benchmark: training throughput, the count loss's share of a step, and peak memory vs corpus size.

    python benchmarks/bench_train.py [--steps 60] [--threads 2] [--sizes 8,32,96] [--json FILE]

* Throughput: snippets per second of the drum recipe (batch 16, windows of 0.1-1 x 1.5 s, the default
  augmentation) on this machine, split into batch sampling, forward, loss, and backward + Adam step.
* Loss share: a step with the real count loss vs the same step with the loss replaced by a plain sum
  of the logits (same network forward and backward); the difference is what the Poisson-binomial
  count distribution and its gradient cost.
* Peak memory: the peak resident memory of a fresh process that opens a prepared corpus of each size
  and trains ``--steps`` steps. Features are memory-mapped float16, so it should stay flat.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent


def _prepare(root: Path, tracks: int, seed: int = 3) -> Path:
    from loco_cli.prepare import prepare_dataset
    from loco_cli.synth import write_corpus

    corpus, prep = root / f"corpus{tracks}", root / f"prep{tracks}"
    write_corpus("drums", corpus, n_tracks=tracks, duration=30.0, seed=seed)
    prepare_dataset(corpus, prep, split="none", jobs=2)
    return prep


def throughput(prep: Path, steps: int) -> dict:
    """Time the parts of a training step (drum recipe, loss ``loco``)."""
    from loco_cli.config import PRESETS, RECIPES
    from loco_cli.data import Sampler
    from loco_cli.losses import compute_loss
    from loco_cli.networks import build_model
    from loco_cli.prepare import load_prepared
    from loco_cli.train import model_config_for

    data = load_prepared(prep)
    train, loss_cfg = RECIPES["drums"], PRESETS["drums"].loss
    torch.manual_seed(0)
    net = build_model(model_config_for(data, PRESETS["drums"].model))
    net.norm.set(data.mean, data.std)
    opt = torch.optim.Adam(net.parameters(), lr=train.lr)
    sampler = Sampler(data, train, np.random.default_rng(0))
    parts = {"sample": 0.0, "forward": 0.0, "loss": 0.0, "backward_step": 0.0}
    plain = {"forward": 0.0, "backward_step": 0.0}
    frames = 0
    for i in range(steps + 5):
        t0 = time.perf_counter()
        batch = sampler.batch()
        t1 = time.perf_counter()
        logits = net(batch["features"]).float()
        t2 = time.perf_counter()
        value = compute_loss("loco", logits, batch, loss_cfg, 0)
        t3 = time.perf_counter()
        opt.zero_grad()
        value.backward()
        opt.step()
        t4 = time.perf_counter()
        # the same step with a trivial loss: what the network alone costs
        logits = net(batch["features"]).float()
        t5 = time.perf_counter()
        opt.zero_grad()
        (logits.sum() * 1e-9).backward()
        t6 = time.perf_counter()
        if i >= 5:  # warm-up excluded
            for k, v in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                parts[k] += v
            plain["forward"] += t5 - t4
            plain["backward_step"] += t6 - t5
            frames += int(batch["lengths"].sum())
    step_s = sum(parts.values()) / steps
    model_s = (parts["forward"] + parts["loss"] + parts["backward_step"]) / steps
    plain_s = (plain["forward"] + plain["backward_step"]) / steps
    return {
        "batch_size": train.batch_size, "steps": steps, "step_ms": 1000 * step_s,
        "snippets_per_s": train.batch_size / step_s, "frames_per_s": frames / sum(parts.values()),
        "parts_ms": {k: 1000 * v / steps for k, v in parts.items()},
        "loss_share_of_step": (model_s - plain_s) / step_s,
        "loss_forward_share_of_step": parts["loss"] / sum(parts.values()),
    }


_CHILD = """
import resource, sys, torch
torch.set_num_threads(int(sys.argv[3]))
from loco_cli.config import PRESETS, RECIPES, LossConfig
from loco_cli.train import train_run
train_run(sys.argv[1], sys.argv[2], loss=LossConfig(), train=RECIPES["drums"].replace(steps=int(sys.argv[4]),
          val_every=10**6), model=PRESETS["drums"].model, force=True, tensorboard=False, device="cpu")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_memory(prep: Path, run: Path, steps: int, threads: int) -> float:
    """Peak RSS (MiB) of a fresh process training ``steps`` steps on ``prep`` (validation included)."""
    out = subprocess.run([sys.executable, "-c", _CHILD, str(prep), str(run), str(threads), str(steps)],
                         capture_output=True, text=True, check=True, env=dict(os.environ, PYTHONPATH=str(ROOT.parent)))
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", default="8,32,96", help="corpus sizes in 30 s tracks for the memory curve")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict = {"machine": platform.platform(), "torch": torch.__version__, "threads": args.threads,
                     "date": time.strftime("%Y-%m-%d"), "command": "python benchmarks/bench_train.py"}
    with tempfile.TemporaryDirectory() as tmp:
        preps = {n: _prepare(Path(tmp), n) for n in sizes}
        results["throughput"] = throughput(preps[sizes[0]], args.steps)
        t = results["throughput"]
        print(f"train: {t['snippets_per_s']:.0f} snippets/s ({t['step_ms']:.0f} ms/step of {t['batch_size']}), "
              f"count loss {100 * t['loss_share_of_step']:.1f} % of a step; parts (ms): "
              + ", ".join(f"{k} {v:.1f}" for k, v in t["parts_ms"].items()))
        results["peak_memory_mib"] = {}
        for n in sizes:
            mib = peak_memory(preps[n], Path(tmp) / f"run{n}", 20, args.threads)
            results["peak_memory_mib"][str(n * 30)] = mib
            print(f"peak memory, {n * 30:5d} s of audio: {mib:.0f} MiB")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
