"""Benchmark: feature extraction speed (x real time, one CPU thread) for the drum and piano presets.

Run ``python benchmarks/bench_features.py [--seconds 60]``. ``log_mel`` of seeded noise, as ``prepare``
computes it (blocks of 2048 frames; the goal for ``prepare`` is >= 200x real time per core), and
``stream``: ``log_mel_stream`` of a synthesized track of that preset's music fed in 2.5 s chunks, in the
blocks detection uses (``detection.STREAM_BLOCK_SECONDS``), the front-end of ``loco detect``. (The FFT
row count, ``features.FFT_ROWS``, mattered on that path in some runs: on an hour of a WAV file 128 rows ran
the piano's 2.2-2.5x slower than 32; in other runs, and on this benchmark's synthesized track, the two were
within 10 %; ad hoc.) Best of three passes each.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from loco_cli.config import DRUM_FEATURES, PIANO_FEATURES
from loco_cli.features import log_mel, log_mel_stream


def _best(fn, runs: int = 3) -> float:
    """The shortest of ``runs`` wall times of ``fn()``, seconds."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _stream_rtf(name: str, cfg, seconds: float) -> float:
    """x real time of ``log_mel_stream`` on ``seconds`` of synthesized ``name`` music, detection's blocks."""
    from loco_cli.audio import AUDIO_BLOCK_SECONDS
    from loco_cli.detection import DEFAULT_STREAM_BLOCK_SECONDS, STREAM_BLOCK_SECONDS
    from loco_cli.synth import render_drum_track, render_piano_track

    render = render_drum_track if name == "drums" else render_piano_track
    x = render(7, duration=seconds, sr=cfg.sample_rate).samples.astype(np.float32)
    step = int(AUDIO_BLOCK_SECONDS * cfg.sample_rate)
    chunks = [x[i : i + step] for i in range(0, x.size, step)]
    arch = "crnn" if name == "drums" else "keys"
    block = max(1, round(STREAM_BLOCK_SECONDS.get(arch, DEFAULT_STREAM_BLOCK_SECONDS) * cfg.fps))

    def run() -> None:
        for _ in log_mel_stream(chunks, cfg, block_frames=block):
            pass

    run()  # warm-up
    return seconds / _best(run)


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
        rtf = args.seconds / _best(lambda: log_mel(x, cfg))  # noqa: B023
        stream = _stream_rtf(name, cfg, args.seconds)
        results["presets"][name] = {"x_real_time": rtf, "stream_x_real_time": stream, "n_fft": cfg.n_fft,
                                    "n_mels": cfg.n_mels}
        print(f"{name}: {rtf:.0f}x real time on one thread ({cfg.n_fft}-point FFT, {cfg.n_mels} bands), "
              f"streamed as detection does {stream:.0f}x")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
