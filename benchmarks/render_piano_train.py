"""Render the shipped piano model's training pieces (``build_models.py``'s pianos, seed and count) with a
given ``--span`` (and ``--detune``), and prepare them, for training-data studies (``bench_piano.py``).

    python benchmarks/render_piano_train.py --work runs/pbase                  # the default span (36-96)
    python benchmarks/render_piano_train.py --span 28-100 --work runs/pspan    # build_models.py piano's
    python benchmarks/render_piano_train.py --span 28-100 --detune 3 --work runs/pdet3   # loco synth --detune
    python benchmarks/render_piano_train.py --span 28-100 --add-piano .samples/tonejs-piano --work runs/pvsco
                                                                   # a 10th training piano (recorded samples)
    python benchmarks/render_piano_train.py --span 28-100 --scores .samples/repertoire/train --score-share 0.5 \
        --work runs/prep50                # half the pieces composed music (benchmarks/repertoire_midi.py)
    python benchmarks/render_piano_train.py --build-corpus --add-piano .samples/salamander --work runs/psal
                  # build_models.py piano's whole training corpus (generated and composed pieces), one more piano

Writes ``WORK/train-corpus`` and ``WORK/prepared`` (``loco prepare --preset piano --split none``, as the
build does, so the validation pieces are chosen the same way).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--span", default=None, help="LOW-HIGH MIDI pitches (loco synth --span); default: loco's")
    parser.add_argument("--detune", type=float, default=0.0, help="loco synth --detune (semitones); default 0")
    parser.add_argument("--add-piano", action="append", default=[],
                        help="a further training piano (loco synth --pianos: sample folder or FILE.sf2#PROGRAM); repeatable")
    parser.add_argument("--scores", default=None, help="loco synth --scores: MIDI files or folders")
    parser.add_argument("--score-share", type=float, default=1.0, help="loco synth --score-share; default 1")
    parser.add_argument("--build-corpus", action="store_true",
                        help="build_models.py piano's training corpus itself (its span, generated and composed pieces: "
                             "piano_train_corpus) on its pianos plus --add-piano; --span/--detune/--scores do not apply")
    parser.add_argument("--work", required=True)
    parser.add_argument("--jobs", type=int, default=1)
    a = parser.parse_args()
    from build_models import PIANO_TRAIN, SPECS, piano_train_corpus

    from loco_cli.corpus import write_corpus
    from loco_cli.prepare import prepare_dataset

    span = tuple(int(x) for x in a.span.split("-")) if a.span else None
    root = Path(a.work)
    if a.build_corpus:
        if a.span or a.detune or a.scores:
            parser.error("--build-corpus renders the build's own pieces: leave out --span, --detune and --scores")
        piano_train_corpus(root, PIANO_TRAIN + a.add_piano)
    else:
        write_corpus("piano", root / "train-corpus", n_tracks=SPECS["piano"]["train_tracks"], duration=30.0, seed=40,
                     renderer="samples", pianos=PIANO_TRAIN + a.add_piano, span=span, detune=a.detune, scores=a.scores,
                     score_share=a.score_share)
    prepare_dataset(root / "train-corpus", root / "prepared", preset="piano", split="none", jobs=a.jobs)


if __name__ == "__main__":
    main()
