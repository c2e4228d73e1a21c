"""How well loco finds a recording's offset from the A = 440 Hz grid (``DecodeConfig.tuning = 'auto'``).

    python benchmarks/bench_tuning.py --test salamander=runs/models/piano/test-corpus \\
        --test train=runs/models/piano/train-corpus --cents=-25,0,25 --json benchmarks/results/tuning.json

Every audio file of each ``--test`` folder (at most ``--files``, spread evenly over the sorted list) is played
``2 ** (cents / 1200)`` times as fast (the polyphase resampler of ``bench_levels.py``), and
:func:`loco_cli.tuning.estimate_tuning_cents` estimates its offset; the error is the estimate minus the cents
applied, plus what the file itself is off (unknown: the samples' own tuning is part of the error). Reported per
set and offset: the mean and largest absolute error, the share of files it would move onto the grid
(:data:`~loco_cli.tuning.MIN_RETUNE_CENTS` or more), and the estimator's speed in audio seconds per second.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_levels import _retuned  # noqa: E402
from bench_seeds import environment  # noqa: E402

from loco_cli.atomic import atomic_write_text  # noqa: E402
from loco_cli.audio import AUDIO_SUFFIXES, load_audio  # noqa: E402
from loco_cli.files import walk_files  # noqa: E402
from loco_cli.tuning import MIN_RETUNE_CENTS, TUNING_FMAX, TUNING_FMIN, estimate_tuning_cents  # noqa: E402

SR = 44100  # the piano model's rate


def measure(folder: Path, cents: list[float], files: int) -> dict:
    """One set's errors per offset: ``{cents: {"mean_error", "max_abs_error", "moved_share", "errors"}}`` and the
    estimator's speed (audio seconds per second)."""
    paths = walk_files(folder, AUDIO_SUFFIXES)
    if not paths:
        raise SystemExit(f"{folder}: no audio files")
    paths = [paths[i] for i in np.linspace(0, len(paths) - 1, min(files, len(paths))).round().astype(int)]
    audio = [load_audio(p, SR) for p in paths]
    out, seconds, spent = {}, 0.0, 0.0
    for c in cents:
        errors = []
        for y in audio:
            x = _retuned(y, c)[0] if c else y
            t = time.perf_counter()
            found = estimate_tuning_cents([x], SR)
            spent += time.perf_counter() - t
            seconds += x.size / SR
            errors.append(round(found - c, 1))
        e = np.array(errors)
        out[f"{c:g}"] = {"mean_error": round(float(e.mean()), 2), "max_abs_error": round(float(np.abs(e).max()), 1),
                         "moved_share": round(float(np.mean(np.abs(e + c) >= MIN_RETUNE_CENTS)), 3),
                         "errors": errors}
    return {"folder": str(folder), "files": [p.name for p in paths], "offsets": out,
            "audio_seconds_per_second": round(seconds / spent, 1) if spent else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test", action="append", required=True, help="NAME=FOLDER of audio files")
    parser.add_argument("--cents", default="-25,0,25", help="offsets applied, comma-separated (--cents=-25,0,25)")
    parser.add_argument("--files", type=int, default=24, help="at most this many files per set")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    cents = [float(c) for c in args.cents.split(",") if c.strip()]
    sets = {}
    for item in args.test:
        name, _, folder = item.partition("=")
        sets[name] = measure(Path(folder), cents, args.files)
        for c, r in sets[name]["offsets"].items():
            print(f"{name} {c:>4} cents: error mean {r['mean_error']:+.1f}, largest {r['max_abs_error']:.1f}, "
                  f"moved {r['moved_share']:.0%}")
    doc = {"benchmark": "tuning",
           "about": ("The offset from the A = 440 Hz grid that DecodeConfig.tuning = 'auto' finds (loco_cli.tuning: "
                     f"spectral peaks {TUNING_FMIN:g} Hz-{TUNING_FMAX:g} Hz in a 1-cent circular histogram), on piano "
                     "renders played off by each offset; error: the estimate minus the offset applied (the samples' "
                     "own tuning included); moved: the share of files at 3 cents or more, which detection retunes."),
           "command": "python benchmarks/bench_tuning.py " + " ".join(sys.argv[1:]),
           "device": "cpu", "environment": environment("cpu"), "sets": sets}
    if args.json:
        atomic_write_text(args.json, json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
