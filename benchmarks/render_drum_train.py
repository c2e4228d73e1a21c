"""Render the shipped drum model's training corpus (``build_models.py``'s kits, seeds and parts) with a
given ``--detune``, and prepare it, for training-data studies (``bench_seeds.py --data``).

    python benchmarks/render_drum_train.py --detune 3 --work runs/detune
    python benchmarks/render_drum_train.py --detune 3 --wide --work runs/wide   # 42 training libraries
    python benchmarks/render_drum_train.py --detune 3 --kit-mix 0.5 --work runs/kitmix   # kits mixed per track
    python benchmarks/render_drum_train.py --detune 3 --copies 2 --work runs/twice   # twice the tracks
    python benchmarks/render_drum_train.py --detune 3 --oneshot --work runs/oneshot   # + 21 one-shot kits
    python benchmarks/render_drum_train.py --detune 3 --add-oneshot 42 --work runs/oneshot-extra   # 156 + 42 tracks
    python benchmarks/render_drum_train.py --detune 3 --accompaniment-db 3,-3 --work runs/loudacc   # louder bands

Writes ``WORK/train-corpus/{dry,mix,mix9}`` and ``WORK/prepared`` (``loco prepare --split none``, as
the build does, so the validation tracks are the same ones). The parts render in two processes.
``--copies K`` renders the parts K times, copy ``c`` with every seed moved by ``10 c`` (other grooves,
rooms and detuning on the same kits) into ``{dry,mix,mix9}-c``: K times the tracks. ``--accompaniment-db A,B``
plays the two band-mix parts' accompaniment at A and B dB relative to the drums instead of the build's -3 and -9
(the folders keep their names; each part's ``corpus.json`` records its level).
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _part(args: tuple) -> str:
    from build_models import drum_train_part

    root, part, detune, kits, kit_mix = args
    return drum_train_part(Path(root), part, detune, kits, kit_mix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detune", type=float, required=True, help="semitones (loco synth --detune)")
    parser.add_argument("--work", required=True)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--wide", action="store_true", help="build_models.DRUM_TRAIN_KITS_WIDE: 42 libraries, not 26")
    parser.add_argument("--kit-mix", type=float, default=0.0, help="loco synth --kit-mix: kits mixed per track")
    parser.add_argument("--oneshot", action="store_true",
                        help="add build_models.oneshot_kits(): 21 kits of one-shot samples (Sonic Pi, LMMS, eXaDrums)")
    parser.add_argument("--add-oneshot", type=int, default=0, metavar="TRACKS",
                        help="besides the parts, TRACKS more on the one-shot kits only (split as the parts, seeds + 3)")
    parser.add_argument("--copies", type=int, default=1, help="render the parts this many times (other seeds)")
    parser.add_argument("--accompaniment-db", default=None, metavar="A,B",
                        help="accompaniment levels (dB re the drums) of the mix and mix9 parts (default: the build's)")
    a = parser.parse_args()
    from build_models import DRUM_TRAIN_KITS, DRUM_TRAIN_KITS_WIDE, DRUM_TRAIN_PARTS, oneshot_kits

    from loco_cli.prepare import prepare_dataset

    with ProcessPoolExecutor(a.jobs) as pool:
        levels = {sub: acc for sub, _, _, acc in DRUM_TRAIN_PARTS}
        if a.accompaniment_db:
            mix_db, mix9_db = (float(v) for v in a.accompaniment_db.split(","))
            levels.update(mix=mix_db, mix9=mix9_db)
        parts = [(f"{sub}-{c}" if c else sub, n, seed + 10 * c, levels[sub])
                 for c in range(a.copies) for sub, n, seed, _ in DRUM_TRAIN_PARTS]
        shots = oneshot_kits() if a.oneshot or a.add_oneshot else []
        kits = (DRUM_TRAIN_KITS_WIDE if a.wide else DRUM_TRAIN_KITS) + (shots if a.oneshot else [])
        jobs = [(a.work, p, a.detune, kits, a.kit_mix) for p in parts]
        if a.add_oneshot:
            n = a.add_oneshot
            extra = [("os-dry", n // 2, 33, None), ("os-mix", n // 3, 34, -3.0), ("os-mix9", n - n // 2 - n // 3, 35, -9.0)]
            jobs += [(a.work, p, a.detune, shots, a.kit_mix) for p in extra]
        list(pool.map(_part, jobs))
    prepare_dataset(Path(a.work) / "train-corpus", Path(a.work) / "prepared", preset="drums", split="none", jobs=a.jobs)


if __name__ == "__main__":
    main()
