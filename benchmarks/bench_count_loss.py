"""Benchmark: LoCo count loss, forward + backward, ours vs autograd through the linear recursion.

The baseline is the authors' formulation (LoCo [1] eq. 9 step by step in linear space, loss
``-log(P + 1e-9)``), differentiated by autograd: what the released TF code and the authors' PyTorch
``CountingLoss`` compute. Ours is :func:`loco_cli.counting.count_nll` (exact; float64 pairwise tree
with a log-space fallback).

Run ``python benchmarks/bench_count_loss.py [--json OUT] [--device cuda]``. Reports the median and
minimum of repeated timings, the ratio, and the exactness of both against a float64 log-space
reference. On the CPU it also times the torch pairwise tree (the path CUDA takes) on the same data.

The counts are drawn from 0-5, as in a training batch of short snippets. Both of our paths compute
only the bins up to the counts asked for (the kernels per row, the tree up to the batch's largest
count + 1), so the speed-up grows as counts fall below ``K``; a batch whose counts reach ``K - 1``
costs what the whole distribution costs.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from loco_cli.counting import count_nll, linear_count_distribution, running_count_distribution

CASES = {
    "drums N=96 T=400 K=32": (96, 400, 1, 32),
    "piano N=32x88 T=400 K=42": (32, 400, 88, 42),
}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _time(fn, device: str, repeats: int) -> list[float]:
    for _ in range(2):
        fn()
    _sync(device)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        out.append(time.perf_counter() - t0)
    return out


def _case(n, t, c, k, device, repeats, seed=0):
    gen = torch.Generator().manual_seed(seed)
    # Realistic logits: mostly confident non-events, a few events per snippet.
    logits = (torch.randn(n, t, c, generator=gen) * 2.0 - 5.0).to(device)
    counts = torch.randint(0, 6, (n, c), generator=gen).to(device)

    def ours():
        z = logits.clone().requires_grad_(True)
        count_nll(z, counts, k_max=k).mean().backward()
        return z.grad

    def baseline():
        z = logits.clone().requires_grad_(True)
        dist = linear_count_distribution(torch.sigmoid(z), k)
        picked = dist.gather(-1, counts.clamp(max=k - 1).unsqueeze(-1)).squeeze(-1)
        (-torch.log(picked + 1e-9)).mean().backward()
        return z.grad

    def tree():
        from loco_cli import counting

        counting.set_backend("torch")
        try:
            return ours()
        finally:
            counting.set_backend("auto")

    t_ours = _time(ours, device, repeats)
    t_base = _time(baseline, device, repeats)
    t_tree = _time(tree, device, repeats) if device == "cpu" else None

    # Exactness against the float64 sequential log-space recursion.
    ref = running_count_distribution(logits.double().cpu(), k_max=k)[:, -1]
    idx = counts.clamp(max=k - 1).cpu().unsqueeze(-1)
    ref_nll = -ref.gather(-1, idx).squeeze(-1)
    with torch.no_grad():
        ours_nll = count_nll(logits, counts, k_max=k).cpu().double()
    base_p = linear_count_distribution(torch.sigmoid(logits), k).gather(-1, idx.to(device))
    base_nll = (-torch.log(base_p.squeeze(-1) + 1e-9)).cpu().double()
    return {
        "ours_ms_median": 1e3 * statistics.median(t_ours),
        "ours_ms_min": 1e3 * min(t_ours),
        "baseline_ms_median": 1e3 * statistics.median(t_base),
        "baseline_ms_min": 1e3 * min(t_base),
        "speedup_median": statistics.median(t_base) / statistics.median(t_ours),
        **({"tree_ms_median": 1e3 * statistics.median(t_tree)} if t_tree else {}),
        "ours_max_abs_err_nats": float((ours_nll - ref_nll).abs().max()),
        "baseline_max_abs_err_nats": float((base_nll - ref_nll).abs().max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--json", default=None, help="write results to this JSON file")
    args = parser.parse_args()
    results = {
        "machine": platform.platform(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": args.device,
        "cases": {},
    }
    for name, (n, t, c, k) in CASES.items():
        res = _case(n, t, c, k, args.device, args.repeats)
        results["cases"][name] = res
        print(
            f"{name:28s} ours {res['ours_ms_median']:7.1f} ms  baseline {res['baseline_ms_median']:7.1f} ms"
            f"  x{res['speedup_median']:.1f}  tree {res.get('tree_ms_median', float('nan')):.1f} ms  |err| ours {res['ours_max_abs_err_nats']:.1e}"
            f" baseline {res['baseline_max_abs_err_nats']:.1e} nats"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
