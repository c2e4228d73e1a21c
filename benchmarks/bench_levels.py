"""Benchmark: how detection holds up when the recording is quieter or louder, or duller, than the training audio.

    python benchmarks/bench_levels.py --kind drums --test DIR --model NAME=MODEL[:ABOUT] ...
                                      [--gains 0,-10,-20,-30,-40,10] [--lowpass 16000,11000,8000]
                                      [--filters zerophase,onepass,brickwall]
                                      [--click] [--cents=-50,-20,20,50] [--merge FILE] [--json FILE]

Real recordings come at any level: a take recorded with headroom peaks 20-40 dB below full scale, where
loco's training renders peak between 0 and -20 dBFS. Every test file (``DIR``: audio files with their
annotations side by side, as ``loco synth`` writes them) is multiplied by ``10 ** (gain / 20)`` for each
``--gains`` value (dB) and detected with each model at its own calibrated thresholds. Scores: drums
(``--kind drums``) global onset F1 at 50 ms over the model's classes (KD, SD, HH of the ENST-style
labels); piano (``--kind piano``) note F1 (pitch + onset at 50 ms, offsets ignored, mean over pieces).
The files' peak levels after the gain are recorded with each row. ``--lowpass``: the files at their own
level through an 8th-order Butterworth low-pass at each cutoff (Hz), as a recording at twice that sample
rate or an MP3 would be; ``--filters`` adds the same 8th-order filter run once and a brickwall cut
(:data:`FILTERS`). ``--click``: the files at their own level with a full-scale click in the middle (1 ms
at +1.0: a dropped microphone, a digital glitch), which a level taken from the largest sample would follow.
``--cents``: the files played faster or slower so that every pitch moves by that many cents (a piano tuned to
A = 444 Hz is +15.6 cents from A = 440, a baroque A = 415 -101; resampled with a polyphase filter,
:func:`_retuned`), the references' times scaled with them: what a model's tuning tolerance is.
Reproduce
``benchmarks/results/levels.json`` (the held-out test sets of ``benchmarks/build_models.py``)::

    python benchmarks/bench_levels.py --kind drums --test runs/models/drums/test-dry --lowpass 16000,11000,8000 \\
        --click --model "shipped=models/drums.pt:..." --json benchmarks/results/levels.json
    python benchmarks/bench_levels.py --kind piano --test runs/models/piano/test-corpus --click \\
        --model "shipped=models/piano.pt:..." --merge benchmarks/results/levels.json --json benchmarks/results/levels.json

(the file keeps each row's command). The level only moves the log-mel features by a constant
(``2 * ln(10) * gain / 20`` nats per band, exactly, while the audio stays far above the features' floor), so
what this measures is the network's and the thresholds' dependence on level.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_seeds import environment, write_json  # noqa: E402

AUDIO = (".wav", ".flac", ".ogg")
ABOUT = ("Each test file multiplied by a gain (dB) and detected with each model at its own calibrated thresholds; "
         "drums: global onset F1 at 50 ms (KD, SD, HH), piano: note F1 (mean over pieces). The test sets' files "
         "peak between 0 and -20 dBFS at gain 0. Low-pass columns: the files at their own level through an "
         "8th-order Butterworth low-pass at that cutoff (a recording at twice that sample rate, an MP3).")


def _tests(folder: Path, sample_rate: int) -> list[tuple[str, np.ndarray, Path]]:
    """``(stem, samples, annotation)`` of every audio file of ``folder`` with an annotation beside it."""
    from loco_cli.audio import load_audio

    out = []
    for wav in sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO):
        ann = next((wav.with_suffix(s) for s in (".txt", ".csv", ".tsv") if wav.with_suffix(s).is_file()), None)
        if ann is not None:
            out.append((wav.stem, load_audio(wav, sample_rate), ann))
    if not out:
        raise SystemExit(f"{folder}: no audio files with annotations beside them")
    return out


#: The low-pass filters ``--filters`` names: ``zerophase`` (8th-order Butterworth forwards and backwards: a
#: 16th-order magnitude response, no delay; the ``lowpass`` rows), ``onepass`` (the 8th-order filter once, the
#: response the training augmentation models by default) and ``brickwall`` (every FFT bin above the cutoff
#: zeroed: the steep cut of an MP3 encoder or a resampler's anti-alias filter).
FILTERS = ("zerophase", "onepass", "brickwall")


def _lowpassed(x: np.ndarray, cutoff_hz: float, sr: int, kind: str = "zerophase") -> np.ndarray:
    """``x`` through a low-pass at ``cutoff_hz`` (:data:`FILTERS`): a recording made at twice that sample rate,
    an MP3, a dull microphone."""
    import scipy.signal

    if kind == "brickwall":
        spec = np.fft.rfft(x)
        spec[np.fft.rfftfreq(x.size, 1 / sr) > cutoff_hz] = 0
        return np.fft.irfft(spec, x.size).astype(np.float32)
    sos = scipy.signal.butter(8, cutoff_hz, fs=sr, output="sos")
    return (scipy.signal.sosfiltfilt(sos, x) if kind == "zerophase" else scipy.signal.sosfilt(sos, x)).astype(np.float32)


def _filter_key(kind: str) -> str:
    """The result key of a filter's rows: ``lowpass`` (zero phase, as before the other filters) or ``lowpass_KIND``."""
    return "lowpass" if kind == "zerophase" else f"lowpass_{kind}"


def _clicked(x: np.ndarray, sr: int) -> np.ndarray:
    """``x`` with 1 ms at full scale (+1.0) in its middle."""
    y = x.copy()
    mid = y.size // 2
    y[mid : mid + max(1, sr // 1000)] = 1.0
    return y


def _retuned(x: np.ndarray, cents: float) -> tuple[np.ndarray, float]:
    """``x`` played ``2 ** (cents / 1200)`` times as fast, so every pitch moves by ``cents`` (and every time
    shrinks by that factor): ``(samples, factor)``. A polyphase resampler (``scipy.signal.resample_poly``) at
    the nearest ratio with a denominator up to 2000; ``factor`` is that ratio, exactly (times in the result
    are the original times divided by it)."""
    from fractions import Fraction

    import scipy.signal

    ratio = Fraction(2 ** (-cents / 1200)).limit_denominator(2000)  # output samples per input sample
    y = scipy.signal.resample_poly(x.astype(np.float64), ratio.numerator, ratio.denominator)
    return y.astype(np.float32), float(1 / ratio)


def score(model: str, kind: str, folder: Path, gains: list[float], lowpass: list[float] = (), click: bool = False,
          filters: tuple[str, ...] = ("zerophase",), cents: list[float] = ()) -> dict:
    """Scores of ``model`` on ``folder``'s files at each gain (dB) and, at gain 0, low-passed at each
    cutoff (Hz) by each of ``filters`` (:data:`FILTERS`), with a click (:func:`_clicked`) and retuned by each of
    ``cents`` (:func:`_retuned`): ``{"gains": {gain: {...}}, "lowpass": {cutoff: {...}}, "lowpass_brickwall": ...,
    "click": {...}, "cents": {cents: {...}}}``."""
    import torch

    from loco_cli.annotations import ENST_LABELS, Events, map_labels, read_events
    from loco_cli.checkpoint import load_model
    from loco_cli.detection import detect_samples
    from loco_cli.engine import _note_summary, note_level_f1
    from loco_cli.scores import score_track, summarise

    torch.set_num_threads(1)
    loaded = load_model(model)
    sr = loaded.features.sample_rate
    tests = _tests(folder, sr)
    refs = {}
    for stem, _, ann in tests:
        ev = read_events(ann)
        if kind == "drums":
            ev = map_labels(ev, ENST_LABELS)[0]
        refs[stem] = ev

    def row_for(change) -> dict:
        """The row of the files as ``change`` leaves them: ``change(x)`` is the samples, or ``(samples,
        factor)`` where the audio plays ``factor`` times as fast (the references' times divided by it)."""
        per_track, notes, peaks = {}, [], []
        for stem, x, _ in tests:
            y = change(x)
            y, factor = y if isinstance(y, tuple) else (y, 1.0)
            peaks.append(20 * np.log10(float(np.abs(y).max()) + 1e-12))
            events = detect_samples(loaded, y, keep_activations=False).events
            ref = refs[stem] if factor == 1.0 else Events(refs[stem].times / factor, refs[stem].labels)
            if kind == "drums":
                per_track[stem] = score_track(ref, events, loaded.classes, 0.05)
            else:
                notes.append(note_level_f1(ref, events, 0.05))
        row = {"peak_dbfs": [round(min(peaks), 1), round(max(peaks), 1)]}
        if kind == "drums":
            rep = summarise(per_track, loaded.classes)
            row.update(global_f1=rep["overall"]["global"]["f1"],
                       per_class={c: v["global"]["f1"] for c, v in rep["classes"].items()})
        else:
            n = _note_summary(notes)
            row.update(note_f1=n["f1"], note_precision=n["precision"], note_recall=n["recall"])
        return row

    out = {"gains": {f"{g:g}": row_for(lambda x, g=g: x * np.float32(10 ** (g / 20))) for g in gains}}
    for filt in filters if lowpass else ():
        out[_filter_key(filt)] = {f"{c:g}": row_for(lambda x, c=c, f=filt: _lowpassed(x, c, sr, f)) for c in lowpass}
    if click:
        out["click"] = row_for(lambda x: _clicked(x, sr))
    if cents:
        out["cents"] = {f"{c:g}": row_for(lambda x, c=c: _retuned(x, c)) for c in cents}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=("drums", "piano"), required=True)
    parser.add_argument("--test", type=Path, required=True, help="folder of test audio with annotations beside it")
    parser.add_argument("--model", action="append", required=True, help="NAME=MODEL[:ABOUT]")
    parser.add_argument("--gains", default="0,-10,-20,-30,-40,10", help="gains in dB, comma-separated")
    parser.add_argument("--lowpass", default="", help="also low-pass cutoffs in Hz (at gain 0), comma-separated")
    parser.add_argument("--filters", default="zerophase",
                        help=f"the low-pass filters, comma-separated: {', '.join(FILTERS)} (zerophase: the 'lowpass' rows)")
    parser.add_argument("--click", action="store_true", help="also the files with a full-scale click in the middle")
    parser.add_argument("--cents", default="", help="also the files retuned by these cents (at gain 0), comma-separated; --cents=-20,20 (with =: a value that starts with -)")
    parser.add_argument("--merge", default=None, help="an earlier result file whose rows are kept")
    parser.add_argument("--json", default=None)
    a = parser.parse_args()
    gains = [float(g) for g in a.gains.split(",")]
    lowpass = [float(c) for c in a.lowpass.split(",") if c]
    filters = tuple(f for f in a.filters.split(",") if f)
    cents = [float(c) for c in a.cents.split(",") if c]
    if not filters or any(f not in FILTERS for f in filters):
        parser.error(f"--filters: choose from {', '.join(FILTERS)}")
    doc = {"benchmark": "levels", "about": ABOUT, "device": "cpu",
           "environment": environment("cpu"), "models": {}}
    if a.merge and Path(a.merge).is_file():
        doc["models"] = json.loads(Path(a.merge).read_text())["models"]
    command = " ".join(sys.argv)
    for spec in a.model:
        name, _, rest = spec.partition("=")
        model, _, about = rest.partition(":")
        doc["models"][f"{a.kind}/{name}"] = {"kind": a.kind, "about": about or model, "model": model,
                                             "test": str(a.test), "command": command,
                                             **score(model, a.kind, a.test, gains, lowpass, a.click, filters, cents)}
        m = doc["models"][f"{a.kind}/{name}"]
        metric = "global_f1" if a.kind == "drums" else "note_f1"
        print(name, " ".join(f"{g} dB: {r[metric]:.3f}" for g, r in m["gains"].items()),
              " ".join(f"{_filter_key(f)} {c} Hz: {r[metric]:.3f}" for f in filters for c, r in m.get(_filter_key(f), {}).items()),
              f"click: {m['click'][metric]:.3f}" if "click" in m else "",
              " ".join(f"{c} cents: {r[metric]:.3f}" for c, r in m.get("cents", {}).items()), flush=True)
    write_json(doc, a.json)


if __name__ == "__main__":
    main()
