"""Benchmark: feature extraction speed (x real time, one CPU thread) for the drum and piano presets.

Run ``python benchmarks/bench_features.py [--seconds 60]``. Audio is seeded noise (speed does not depend
on content). The issue's goal for ``prepare`` is >= 200x real time per core.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from loco_cli.config import DRUM_FEATURES, PIANO_FEATURES
from loco_cli.features import log_mel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = {"threads": 1, "seconds": args.seconds, "presets": {}}
    for name, cfg in (("drums", DRUM_FEATURES), ("piano", PIANO_FEATURES)):
        x = np.random.default_rng(0).normal(0, 0.1, int(cfg.sample_rate * args.seconds)).astype(np.float32)
        log_mel(x[: cfg.sample_rate], cfg)  # warm-up (filterbank, FFT plans)
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            log_mel(x, cfg)
            runs.append(time.perf_counter() - t0)
        rtf = args.seconds / min(runs)
        results["presets"][name] = {"x_real_time": rtf, "n_fft": cfg.n_fft, "n_mels": cfg.n_mels}
        print(f"{name}: {rtf:.0f}x real time on one thread ({cfg.n_fft}-point FFT, {cfg.n_mels} bands)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
