"""Benchmark: peak memory of ``loco detect`` on long files (the goal: <= 400 MB for an hour, any length).

    python benchmarks/bench_memory.py [--minutes 10,60] [--models drums,piano]
                                      [--before SRC [--before-name NAME]] [--merge FILE]
                                      [--json benchmarks/results/memory.json]

For each model, writes a stereo 16-bit 44.1 kHz WAV of the given lengths (one synthesized minute of
that model's music, repeated; 635 MB for an hour), then runs ``python -m loco_cli detect FILE --out DIR
--model M`` in a fresh process per run and records its peak resident memory (``ru_maxrss`` of the
child), its wall time (x real time) and the onsets it wrote. ``--before SRC`` runs the same commands
from another loco source tree (e.g. a ``git worktree`` of an older commit) for a before/after, in the
same run, its rows named ``before`` (``--before-name``, e.g. the commit).
``--merge FILE`` keeps the rows of an earlier result that this run does not measure again (the same model,
length and tree), each with the command that measured it, so a re-run of ``now`` keeps a ``before``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_seeds import environment, write_json  # noqa: E402

RATE = 44100
_CHILD = """
import resource, subprocess, sys, time, json
t0 = time.perf_counter()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
wall = time.perf_counter() - t0
print(json.dumps({"rc": rc.returncode, "wall_s": wall, "peak_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "stderr": rc.stderr[-500:]}))
"""


def long_file(kind: str, minutes: float, folder: Path) -> Path:
    """A stereo int16 WAV of ``minutes`` minutes: one synthesized minute of ``kind`` repeated, written in
    blocks (the benchmark itself stays small)."""
    import numpy as np
    import soundfile as sf

    from loco_cli.synth import render_drum_track, render_piano_track

    path = folder / f"{kind}_{minutes:g}min.wav"
    if path.exists():
        return path
    render = render_drum_track if kind == "drums" else render_piano_track
    minute = render(7, duration=60.0, sr=RATE).samples
    minute = 0.9 * minute / max(float(np.abs(minute).max()), 1e-9)
    stereo = np.stack([minute, 0.8 * minute], 1)
    with sf.SoundFile(path, "w", RATE, 2, "PCM_16") as fh:
        whole, rest = divmod(minutes, 1.0)
        for _ in range(int(whole)):
            fh.write(stereo)
        if rest:
            fh.write(stereo[: int(rest * 60 * RATE)])
    return path


def run(src: Path, audio: Path, model: str, out: Path) -> dict:
    """Peak RSS (MB), wall time and onsets of one ``loco detect`` in a fresh process tree."""
    env = dict(os.environ, PYTHONPATH=str(src))
    shipped = src / "models" / f"{model}.pt"  # the tree's own model file (an editable install maps another)
    cmd = [sys.executable, "-c", _CHILD, sys.executable, "-m", "loco_cli", "detect", str(audio), "--out", str(out),
           "--model", str(shipped) if shipped.is_file() else model]
    # cwd = the tree: ``python -m`` puts the working folder ahead of PYTHONPATH
    res = json.loads(subprocess.run(cmd, env=env, cwd=src, capture_output=True, text=True, check=True).stdout)
    if res["rc"] != 0:
        raise SystemExit(f"loco detect failed ({src}): {res['stderr']}")
    csv = out / f"{audio.stem}.csv"
    onsets = max(0, len(csv.read_text().splitlines()) - 1)
    return {"peak_mb": round(res["peak_kb"] / 1024, 1), "wall_s": round(res["wall_s"], 2), "onsets": onsets}


def merge_rows(earlier: dict, rows: list[dict]) -> list[dict]:
    """``earlier``'s rows that ``rows`` do not measure again (key: model, minutes, tree), each tagged with the
    command of the run that measured it, then ``rows``."""
    key = lambda r: (r["model"], float(r["minutes"]), r["tree"])  # noqa: E731
    again = {key(r) for r in rows}
    kept = [{**r, "command": r.get("command", earlier.get("command", ""))} for r in earlier.get("rows", [])
            if key(r) not in again]
    return kept + rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", default="10,60")
    parser.add_argument("--models", default="drums,piano")
    parser.add_argument("--before", default=None, help="another loco source tree to compare with")
    parser.add_argument("--before-name", default="before", help="the tree name of --before's rows (e.g. its commit)")
    parser.add_argument("--merge", type=Path, default=None, help="keep the rows of this earlier result not measured again")
    parser.add_argument("--json", default=None)
    a = parser.parse_args(argv)
    earlier = json.loads(a.merge.read_text()) if a.merge else None
    here = Path(__file__).resolve().parent.parent
    trees = {"now": here} | ({a.before_name: Path(a.before).resolve()} if a.before else {})
    doc = {"benchmark": "memory", "command": " ".join(sys.argv), "environment": environment("cpu"),
           "about": "peak resident memory of one `loco detect` process (ru_maxrss), stereo 16-bit 44.1 kHz WAV",
           "rows": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for model in a.models.split(","):
            for minutes in (float(m) for m in a.minutes.split(",")):
                audio = long_file(model, minutes, tmp)
                with open(audio, "rb") as fh:  # into the page cache, so that no run pays for the disk
                    while fh.read(1 << 24):
                        pass
                for tree, src in trees.items():
                    t0 = time.perf_counter()
                    r = run(src, audio, model, tmp / f"out-{tree}")
                    row = {"model": model, "minutes": minutes, "tree": tree, **r,
                           "x_real_time": round(minutes * 60 / r["wall_s"], 1)}
                    if earlier is not None:
                        row["command"] = doc["command"]
                    doc["rows"].append(row)
                    print(json.dumps(row), f"({time.perf_counter() - t0:.0f} s)", flush=True)
                audio.unlink()
    if earlier is not None:
        doc["rows"] = merge_rows(earlier, doc["rows"])
    write_json(doc, a.json)


if __name__ == "__main__":
    main()
