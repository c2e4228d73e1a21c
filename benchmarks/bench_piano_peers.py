"""Benchmark: loco's piano models side by side with madmom and basic-pitch on the held-out piano sets.

    make peers      # madmom (.venv-madmom) and basic-pitch (.venv-basicpitch), each in its own environment
    python benchmarks/bench_piano_peers.py --test NAME=PREPARED ... [--model NAME=MODEL ...] \\
        [--json benchmarks/results/piano_peers.json]

The committed ``piano_peers.json`` (written to ``runs/`` and copied; its command is inside)::

    P=runs/models/piano      # benchmarks/build_models.py piano's work folder (bench_piano.py's test sets)
    python benchmarks/bench_piano_peers.py --test salamander=$P/prepared-test --test vsco=runs/vsco-test/prepared \
        --test salamander_composed=$P/prepared-composed --test vsco_composed=$P/prepared-vsco_composed \
        --model shipped=models/piano.pt --json benchmarks/results/piano_peers.json

(``shipped`` there is the model shipped until e90daeb, ``git show e90daeb:models/piano.pt``; the composed sets
as rendered before the repertoire was fixed.) ``piano_peers_composed2.json``: the composed sets as rendered from
the fixed repertoire (``benchmarks/repertoire_works.tsv``; ``build_models.py piano --work runs/build-more``)::

    P=runs/build-more/piano
    python benchmarks/bench_piano_peers.py --test salamander_composed2=$P/prepared-composed \
        --test vsco_composed2=$P/prepared-vsco_composed --model shipped=models/piano.pt \
        --model mix16_build_s0=runs/piano-before-more.pt --json benchmarks/results/piano_peers_composed2.json

Every tool transcribes the same audio files, each as its user would run it on a file: loco's models through
``detect_file`` (``loco detect``: the file's level set, the calibrated thresholds), madmom's
``PianoTranscriptor`` pipeline (``benchmarks/peers/madmom_piano.py``) and basic-pitch with its program's
defaults (``benchmarks/peers/basic_pitch_piano.py``). The test sets are the prepared held-out sets of
``bench_piano.py`` (``build_models.py piano``'s Salamander and VSCO 2 renders, with loco's pieces and with
composed ones); only their audio and reference onsets are read. Scored alike: note F1 (pitch + onset within
50 ms, offsets ignored, ``mir_eval.transcription``), mean over pieces, plus each piece's F1 (for paired
comparisons) and the wall time of all files after one warm-up file (loco on two threads, the peers with two
BLAS / OpenMP threads). Neither peer was trained on the sample libraries of these sets, as far as their
papers say: madmom's model on MAPS (a Disklavier and software pianos), basic-pitch's on several datasets of
many instruments, MAESTRO's real piano among them. A peer whose environment is missing is recorded as
skipped.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_detect import _rel, _run_peer  # noqa: E402
from bench_seeds import environment, write_json  # noqa: E402

#: Each peer: (script in benchmarks/peers, environment make peers creates, variable naming another one).
PEERS = {
    "madmom_piano_transcriptor": ("madmom_piano.py", ".venv-madmom/bin/python", "LOCO_MADMOM_PYTHON"),
    "basic_pitch": ("basic_pitch_piano.py", ".venv-basicpitch/bin/python", "LOCO_BASIC_PITCH_PYTHON"),
}


def _summary(per_piece: dict[str, tuple[float, float, float]], seconds: float, audio_s: float) -> dict:
    """Mean note P / R / F1 over pieces, each piece's F1, and the real-time factor."""
    arr = np.array(list(per_piece.values()))
    return {"note_f1": float(arr[:, 2].mean()), "note_precision": float(arr[:, 0].mean()),
            "note_recall": float(arr[:, 1].mean()), "rtf": audio_s / seconds,
            "pieces": {k: round(v[2], 4) for k, v in per_piece.items()}}


def test_set(prepared: str) -> tuple[list[Path], dict, float]:
    """A prepared held-out set's audio files, their reference onsets (Events, MIDI pitch labels) by file
    and the seconds of audio."""
    from loco_cli.prepared import load_prepared

    data = load_prepared(prepared)
    names = data.split_tracks("train") + data.split_tracks("test")
    wavs = [Path(data.tracks[n]["audio"]) for n in names]
    refs = {w: data.reference(n) for w, n in zip(wavs, names, strict=True)}
    audio_s = sum(data.tracks[n]["frames"] for n in names) / data.features.fps
    return wavs, refs, audio_s


def save_detections(folder: Path | None, events: dict) -> None:
    """Each file's notes as a ``time,label`` CSV named like the audio (``loco detect``'s columns, which
    ``bench_piano_contexts.py --detections`` reads), when ``folder`` is given."""
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    for w, ev in events.items():
        rows = "".join(f"{t:.6f},{lab}\n" for t, lab in zip(ev.times.tolist(), ev.labels.tolist(), strict=True))
        (folder / f"{w.stem}.csv").write_text("time,label\n" + rows)


def score_loco(model: str, wavs: list[Path], refs: dict, audio_s: float, save: Path | None = None) -> dict:
    """A loco model on the files as ``loco detect`` runs it, on two threads."""
    import torch

    from loco_cli.checkpoint import load_model
    from loco_cli.detection import detect_file
    from loco_cli.engine import note_level_f1

    torch.set_num_threads(2)
    loaded = load_model(model)
    detect_file(loaded, wavs[0], keep_activations=False)  # warm-up
    t0 = time.perf_counter()
    events = {w: detect_file(loaded, w, keep_activations=False).events for w in wavs}
    seconds = time.perf_counter() - t0
    save_detections(save, events)
    return _summary({w.stem: note_level_f1(refs[w], events[w], 0.05) for w in wavs}, seconds, audio_s)


def score_peer(name: str, wavs: list[Path], refs: dict, audio_s: float, save: Path | None = None) -> dict:
    """A peer's transcriptions of the files, scored as loco's."""
    from loco_cli.annotations import Events
    from loco_cli.engine import note_level_f1

    script, default, env_var = PEERS[name]
    got = _run_peer(None, script, wavs, peer=name, default=default, env_var=env_var)
    if "skipped" in got:
        return got
    events = {}
    for w in wavs:
        notes = [n for n in got["notes"][str(w)] if 21 <= n[1] <= 108]  # the piano's keys (references: 21-108)
        events[w] = Events(np.array([n[0] for n in notes], dtype=np.float64),
                           np.array([str(n[1]) for n in notes], dtype=object))
    save_detections(save, events)
    per_piece = {w.stem: note_level_f1(refs[w], events[w], 0.05) for w in wavs}
    out = _summary(per_piece, got["seconds"], audio_s)
    out["version"] = got["version"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--test", action="append", required=True, help="NAME=prepared held-out piano set")
    parser.add_argument("--model", action="append", default=[], help="NAME=MODEL: a loco model (default: shipped=piano)")
    parser.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated, of {', '.join(PEERS)}")
    parser.add_argument("--json", default=None)
    parser.add_argument("--detections", type=Path, default=None,
                        help="write every tool's notes as CSVs into DIR/TEST/TOOL (for bench_piano_contexts.py)")
    a = parser.parse_args()
    models = dict(m.split("=", 1) for m in a.model) or {"shipped": "piano"}
    peers = [p for p in a.peers.split(",") if p]
    unknown = set(peers) - set(PEERS)
    if unknown:
        raise SystemExit(f"--peers: unknown {sorted(unknown)}; choose from {', '.join(PEERS)}")
    about = next(p for p in __doc__.split("\n\n") if p.startswith("Every tool transcribes"))  # what is measured
    doc = {"benchmark": "piano_peers", "about": about.replace("\n", " "), "command": " ".join(sys.argv),
           "tests": dict(t.split("=", 1) for t in a.test), "models": {k: _rel(v) for k, v in models.items()},
           "device": "cpu", "environment": environment("cpu"), "results": {}}
    for test, prepared in doc["tests"].items():
        wavs, refs, audio_s = test_set(prepared)
        row = doc["results"][test] = {"pieces": len(wavs), "audio_s": audio_s}
        save = a.detections / test if a.detections else None
        for name, model in models.items():
            row[name] = score_loco(model, wavs, refs, audio_s, save and save / name)
        for name in peers:
            row[name] = score_peer(name, wavs, refs, audio_s, save and save / name)
        print(test + ": " + ", ".join(f"{k} {v['note_f1']:.3f} ({v['rtf']:.0f}x)" if "note_f1" in v else f"{k} skipped"
                                      for k, v in row.items() if isinstance(v, dict)), flush=True)
    write_json(doc, a.json)


if __name__ == "__main__":
    main()
