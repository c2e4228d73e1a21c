"""Peer: Spotify's basic-pitch (ICASSP 2022 model, its ONNX export), in its own environment.

    <basic-pitch-env>/bin/python benchmarks/peers/basic_pitch_piano.py OUT.json AUDIO.wav...

``basic_pitch.inference.predict`` with the program's defaults (onset threshold 0.5, frame threshold 0.3,
minimum note length 127.7 ms, the "melodia trick"), as ``basic-pitch OUT_DIR AUDIO`` transcribes. The model
file ships inside the wheel (``nmp.onnx``; ``make peers`` installs basic-pitch without TensorFlow, with
onnxruntime, which basic-pitch then uses). Imports nothing from loco; writes ``{"version", "backend",
"seconds", "notes": {path: [[onset_s, midi_pitch], ...]}}``, ``seconds`` being the wall time of all files
after one warm-up file (model loading not counted).
"""

import importlib.metadata as _md
import json
import logging
import sys
import time

logging.disable(logging.WARNING)  # basic-pitch warns once per backend it does not find

from basic_pitch import ICASSP_2022_MODEL_PATH  # noqa: E402
from basic_pitch.inference import Model, predict  # noqa: E402


def main() -> None:
    out, paths = sys.argv[1], sys.argv[2:]
    model = Model(ICASSP_2022_MODEL_PATH)
    predict(paths[0], model)  # warm-up
    t0 = time.perf_counter()
    notes = {}
    for p in paths:
        events = predict(p, model)[2]  # (start_s, end_s, pitch_midi, amplitude, pitch_bends)
        notes[p] = sorted([float(e[0]), int(e[2])] for e in events)
    seconds = time.perf_counter() - t0
    with open(out, "w") as fh:
        json.dump({"version": _md.version("basic-pitch"), "backend": str(ICASSP_2022_MODEL_PATH).rsplit(".", 1)[-1],
                   "seconds": seconds, "notes": notes}, fh)


if __name__ == "__main__":
    main()
