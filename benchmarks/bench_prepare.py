"""Benchmark: `loco prepare` throughput in x real time per core (goal >= 200x, drum preset).

Run ``python benchmarks/bench_prepare.py [--tracks 8] [--duration 30] [--json out.json]``. Synthesizes a
drum corpus (not timed), then times ``prepare_dataset`` with one worker process and one torch thread:
reading WAV, features, float16 cache, events, snippets, normalisation statistics and the index files.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from loco_cli.corpus import write_corpus
from loco_cli.prepare import prepare_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=8)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--preset", default="drums", choices=["drums", "piano"])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    kind = "piano" if args.preset == "piano" else "drums"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_corpus(kind, root / "corpus", n_tracks=args.tracks, duration=args.duration)
        prepare_dataset(root / "corpus", root / "warm", preset=args.preset, jobs=1)  # imports, filterbank
        runs = []
        for i in range(3):
            t0 = time.perf_counter()
            prepare_dataset(root / "corpus", root / f"p{i}", preset=args.preset, jobs=1)
            runs.append(time.perf_counter() - t0)
    audio = args.tracks * args.duration
    result = {"preset": args.preset, "audio_s": audio, "best_s": min(runs), "x_real_time_per_core": audio / min(runs)}
    print(f"prepare ({args.preset}): {audio:.0f} s of audio in {min(runs):.2f} s on one core = "
          f"{result['x_real_time_per_core']:.0f}x real time")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
