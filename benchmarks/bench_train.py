"""Benchmark: training throughput, the count loss's share of a step, and peak memory vs corpus size.

    python benchmarks/bench_train.py [--steps 60] [--threads 2] [--sizes 8,32,96] [--device cpu|cuda]
                                     [--amp on|off] [--preset drums|piano] [--json FILE]

* Throughput: snippets per second of the drum recipe (batch 16, windows of 0.1-1 x 1.5 s, the default
  augmentation) on this machine, split into batch sampling, forward, loss, and backward + Adam step.
* Loss share: the count loss's forward and its backward (``torch.autograd.grad`` of the loss w.r.t.
  the logits, timed apart from the network's backward) as a share of the whole step. (Until
  2026-11-27 this compared the step with one whose loss was a plain sum of the logits and whose Adam
  step was left out: that overstated the share, 12-15 % where the loss took 2-3 %.)
* Under load (``--contention``): a fresh training process (default thread policy, ``loco_cli.threads``)
  alone, next to one CPU-bound process (a busy loop), the same with threads pinned to the core count
  (what the policy avoids), and two trainings side by side; steps/s of each.
* Peak memory: the peak resident memory of a fresh process that opens a prepared corpus of each size
  and trains ``--steps`` steps. Features are memory-mapped float16, so it should stay flat.
  ``--sizes ''`` skips it.

``--device cuda`` times the step on the GPU (the batch is copied there as training does; CUDA is
synchronised around each part); ``--amp on`` runs the network under bfloat16 autocast, as
``TrainConfig.amp`` does on CUDA (the count loss stays float64). ``--profile N`` prints the top of
torch.profiler's table (operators by self time, CPU and CUDA) over N training steps after the timing.
``--preset piano`` times the piano preset instead (the shipped keys network with key context and key mix,
loss ``loco`` with k_max 42, the piano recipe: batch 8) on a synthesized piano corpus of four 30 s tracks;
the throughput and profile only (the memory curve stays the drum corpus's).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent


def _prepare(root: Path, tracks: int, seed: int = 3, preset: str = "drums") -> Path:
    from loco_cli.corpus import write_corpus
    from loco_cli.prepare import prepare_dataset

    corpus, prep = root / f"{preset}corpus{tracks}", root / f"{preset}prep{tracks}"
    write_corpus(preset, corpus, n_tracks=tracks, duration=30.0, seed=seed)
    prepare_dataset(corpus, prep, preset=preset, split="none", jobs=2)
    return prep


def _setup(prep: Path, device: str, preset: str = "drums"):
    """The ``preset``'s network (seed 0, on ``device``), Adam, sampler and loss config on ``prep``."""
    from loco_cli.config import PRESETS, RECIPES
    from loco_cli.data import Sampler
    from loco_cli.networks import build_model
    from loco_cli.prepared import load_prepared
    from loco_cli.train import model_config_for

    data = load_prepared(prep)
    train = RECIPES[preset]
    torch.manual_seed(0)
    net = build_model(model_config_for(data, PRESETS[preset].model))
    net.norm.set(data.mean, data.std)
    dev = torch.device(device)
    net.to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=train.lr)
    return dev, net, opt, Sampler(data, train, np.random.default_rng(0)), train, PRESETS[preset].loss


def throughput(prep: Path, steps: int, device: str = "cpu", amp: bool = False, preset: str = "drums") -> dict:
    """Time the parts of a training step (the ``preset``'s recipe, loss ``loco``) on ``device``."""
    from loco_cli.losses import compute_loss

    dev, net, opt, sampler, train, loss_cfg = _setup(prep, device, preset)
    cuda = dev.type == "cuda"
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp and cuda)

    def now() -> float:
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    parts = {"sample": 0.0, "forward": 0.0, "loss": 0.0, "loss_backward": 0.0, "backward_step": 0.0}
    frames = 0
    for i in range(steps + 5):
        t0 = now()
        batch = {k: v.to(dev) for k, v in sampler.batch().items()}
        t1 = now()
        with autocast:
            logits = net(batch["features"]).float()
        t2 = now()
        value = compute_loss("loco", logits, batch, loss_cfg, 0)
        t3 = now()
        (grad,) = torch.autograd.grad(value, logits, retain_graph=True)  # the count loss's backward alone
        t4 = now()
        opt.zero_grad()
        logits.backward(grad)  # the network's backward
        opt.step()
        t5 = now()
        if i >= 5:  # warm-up excluded
            for k, v in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
                parts[k] += v
            frames += int(batch["lengths"].sum())
    step_s = sum(parts.values()) / steps
    return {
        "preset": preset, "parameters": sum(p.numel() for p in net.parameters()),
        "device": str(dev), "amp": bool(amp and cuda), "batch_size": train.batch_size, "steps": steps,
        "step_ms": 1000 * step_s, "snippets_per_s": train.batch_size / step_s,
        "frames_per_s": frames / sum(parts.values()),
        "parts_ms": {k: 1000 * v / steps for k, v in parts.items()},
        "loss_share_of_step": (parts["loss"] + parts["loss_backward"]) / sum(parts.values()),
        "loss_forward_share_of_step": parts["loss"] / sum(parts.values()),
    }


def profile(prep: Path, steps: int, device: str, amp: bool, rows: int = 15, preset: str = "drums") -> str:
    """torch.profiler's operator table (sorted by self time on ``device``) over ``steps`` steps of the ``preset``."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    from loco_cli.losses import compute_loss

    dev, net, opt, sampler, _, loss_cfg = _setup(prep, device, preset)
    cuda = dev.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])

    def step() -> None:
        batch = {k: v.to(dev) for k, v in sampler.batch().items()}
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp and cuda):
            logits = net(batch["features"]).float()
        value = compute_loss("loco", logits, batch, loss_cfg, 0)
        opt.zero_grad()
        value.backward()
        opt.step()

    for _ in range(3):
        step()
    with torch_profile(activities=activities) as prof:
        for _ in range(steps):
            step()
        if cuda:
            torch.cuda.synchronize()
    key = "self_cuda_time_total" if cuda else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=rows)


_CHILD = """
import resource, sys, torch
torch.set_num_threads(int(sys.argv[3]))
from loco_cli.config import PRESETS, RECIPES, LossConfig
from loco_cli.train import train_run
train_run(sys.argv[1], sys.argv[2], loss=LossConfig(), train=RECIPES["drums"].replace(steps=int(sys.argv[4]),
          val_every=10**6), model=PRESETS["drums"].model, force=True, tensorboard=False, device="cpu")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


_RATE_CHILD = """
import json, os, sys, time
from loco_cli.config import PRESETS, RECIPES, LossConfig
from loco_cli.threads import default_threads, set_threads
from loco_cli.train import train_run
set_threads(default_threads())  # what `loco train` does
t, changes = {}, []
def on_event(kind, info):
    if kind == "start":
        t["start"] = time.perf_counter()
    elif kind == "threads":
        changes.append([info["step"], info["threads"]])
steps = int(sys.argv[3])
train_run(sys.argv[1], sys.argv[2], loss=LossConfig(), train=RECIPES["drums"].replace(steps=steps, val_every=10**6),
          model=PRESETS["drums"].model, force=True, tensorboard=False, device="cpu", on_event=on_event)
print(json.dumps({"steps_per_s": steps / (time.perf_counter() - t["start"]), "thread_changes": changes}))
"""


def _rate_child(prep: Path, run: Path, steps: int, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _RATE_CHILD, str(prep), str(run), str(steps)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)


def contention(prep: Path, root: Path, steps: int) -> dict:
    """Training steps/s of fresh processes alone, next to a busy loop, and two side by side."""
    from loco_cli.threads import PIN_VARIABLES, available_cores

    base = {k: v for k, v in os.environ.items() if k not in PIN_VARIABLES}
    base["PYTHONPATH"] = str(ROOT.parent)

    def run(n: int, env: dict, busy: bool) -> list[dict]:
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        try:
            time.sleep(0.5 if busy else 0)
            procs = [_rate_child(prep, root / f"rate{i}", steps, env) for i in range(n)]
            return [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
        finally:
            if hog:
                hog.kill()
                hog.wait()

    cores = available_cores()
    rows = {"alone": run(1, base, False)[0],
            "next_to_a_busy_process": run(1, base, True)[0],
            f"next_to_a_busy_process_pinned_{cores}_threads": run(1, dict(base, LOCO_NUM_THREADS=str(cores)), True)[0]}
    pair = run(2, base, False)
    rows["two_trainings_side_by_side"] = {"steps_per_s": [p["steps_per_s"] for p in pair],
                                          "thread_changes": [p["thread_changes"] for p in pair]}
    alone = rows["alone"]["steps_per_s"]
    slowdown = {k: alone / (min(v["steps_per_s"]) if isinstance(v["steps_per_s"], list) else v["steps_per_s"])
                for k, v in rows.items() if k != "alone"}
    return {"cores": cores, "steps": steps, "rows": rows, "slowdown_vs_alone": slowdown}


def peak_memory(prep: Path, run: Path, steps: int, threads: int) -> float:
    """Peak RSS (MiB) of a fresh process training ``steps`` steps on ``prep`` (validation included)."""
    out = subprocess.run([sys.executable, "-c", _CHILD, str(prep), str(run), str(threads), str(steps)],
                         capture_output=True, text=True, check=True, env=dict(os.environ, PYTHONPATH=str(ROOT.parent)))
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", default="8,32,96", help="corpus sizes in 30 s tracks for the memory curve")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", choices=("on", "off"), default="off",
                        help="bfloat16 autocast for the network (CUDA only, as TrainConfig.amp)")
    parser.add_argument("--contention", type=int, default=0, metavar="STEPS",
                        help="also time STEPS-step trainings alone, next to a busy process, and in pairs")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also print torch.profiler's top operators over N steps")
    parser.add_argument("--preset", choices=("drums", "piano"), default="drums",
                        help="whose network, recipe and synthesized corpus the throughput and profile time")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.preset != "drums" and args.contention:
        parser.error("--contention times the drum recipe only; leave out --preset piano")
    torch.set_num_threads(args.threads)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    results: dict = {"machine": platform.platform(), "torch": torch.__version__, "threads": args.threads,
                     "date": time.strftime("%Y-%m-%d"), "command": "python " + shlex.join(["benchmarks/bench_train.py", *sys.argv[1:]])}
    if args.device.startswith("cuda"):
        results["gpu"] = torch.cuda.get_device_name(torch.device(args.device))
    with tempfile.TemporaryDirectory() as tmp:
        preps = {n: _prepare(Path(tmp), n) for n in sizes}
        if args.preset == "piano":
            step_prep = _prepare(Path(tmp), 4, preset="piano")
        else:
            step_prep = preps[sizes[0]] if sizes else _prepare(Path(tmp), 8)
        results["throughput"] = throughput(step_prep, args.steps, args.device, args.amp == "on", args.preset)
        t = results["throughput"]
        print(f"train: {t['snippets_per_s']:.0f} snippets/s ({t['step_ms']:.0f} ms/step of {t['batch_size']}), "
              f"count loss {100 * t['loss_share_of_step']:.1f} % of a step; parts (ms): "
              + ", ".join(f"{k} {v:.1f}" for k, v in t["parts_ms"].items()))
        if args.profile:
            table = profile(step_prep, args.profile, args.device, args.amp == "on", preset=args.preset)
            results["profile_top"] = table.splitlines()
            print(table)
        if args.contention:
            results["contention"] = c = contention(step_prep, Path(tmp), args.contention)
            for name, row in c["rows"].items():
                rate = row["steps_per_s"]
                rate = " + ".join(f"{r:.2f}" for r in rate) if isinstance(rate, list) else f"{rate:.2f}"
                print(f"under load, {name}: {rate} steps/s"
                      + (f" ({c['slowdown_vs_alone'][name]:.2f}x slower than alone)" if name != "alone" else ""))
        results["peak_memory_mib"] = {}
        for n in sizes:
            mib = peak_memory(preps[n], Path(tmp) / f"run{n}", 20, args.threads)
            results["peak_memory_mib"][str(n * 30)] = mib
            print(f"peak memory, {n * 30:5d} s of audio: {mib:.0f} MiB")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
