"""Generate the method figures in docs/figures/ from a real trained model and synthesized audio.

    python docs/figures.py [--model drums]

* ``count_distribution.png``: the running count distribution Y(k, t) of each class over one 1.5 s
  snippet (seed 001 Fig. 1): the probability mass steps up one count at each detected hit.
* ``drum_activations.png``: a held-out drum excerpt: spectrogram, per-class activations p_t and
  detected onsets against the reference (what ``loco detect --plot`` draws, plus the ground truth).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from loco_cli.checkpoint import load_model  # noqa: E402
from loco_cli.counting import running_count_distribution  # noqa: E402
from loco_cli.detect import activations, decode  # noqa: E402
from loco_cli.features import frames_to_seconds, log_mel  # noqa: E402
from loco_cli.synth import render_drum_track  # noqa: E402

OUT = Path(__file__).resolve().parent / "figures"
ENST_TO_CLASS = {"KD": "KD", "SD": "SD", "CHH": "HH", "OHH": "HH"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="drums")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    loaded = load_model(args.model)
    fps = loaded.features.fps
    track = render_drum_track(args.seed, 1, duration=8.0)
    feats = log_mel(track.samples, loaded.features)
    probs = activations(loaded.model, feats, loaded.decode, fps)
    events, _ = decode(probs, loaded.classes, fps, loaded.decode)
    ref = {c: np.array([t for t, i in track.events if ENST_TO_CLASS.get(i) == c]) for c in loaded.classes}

    # 1. Y(k, t) over one snippet
    a, n = int(2.0 * fps), int(1.5 * fps)
    with torch.no_grad():
        logits, _ = loaded.model.stream(torch.from_numpy(feats[None, : a + n]))
    y = running_count_distribution(logits[:, a:], k_max=24)[0].exp().numpy()  # (T, C, K)
    fig, axes = plt.subplots(len(loaded.classes), 1, figsize=(9, 2.2 * len(loaded.classes)), sharex=True)
    t = np.arange(n) / fps
    for c, name in enumerate(loaded.classes):
        ax = axes[c]
        ax.imshow(y[:, c].T, origin="lower", aspect="auto", extent=(0, n / fps, -0.5, y.shape[-1] - 0.5), cmap="Blues", vmin=0, vmax=1)
        onsets = ref[name][(ref[name] >= a / fps) & (ref[name] < (a + n) / fps)] - a / fps
        truth = np.searchsorted(np.sort(onsets), t, side="right")
        ax.step(t, truth, where="post", color="tab:red", lw=1, label="true count so far")
        ax.set_ylabel(f"{name}: k")
        ax.set_ylim(-0.5, max(truth.max() + 2, 4))
    axes[0].legend(loc="upper left", fontsize=8)
    axes[0].set_title("Running count distribution Y(k, t) over a 1.5 s snippet (shade: probability)")
    axes[-1].set_xlabel("time in snippet (s)")
    fig.tight_layout()
    fig.savefig(OUT / "count_distribution.png", dpi=80)
    plt.close(fig)

    # 2. activations against the ground truth
    m = int(4.0 * fps)
    fig, axes = plt.subplots(1 + len(loaded.classes), 1, figsize=(11, 1.8 + 1.5 * len(loaded.classes)), sharex=True)
    axes[0].imshow(feats[:m, 0].T, origin="lower", aspect="auto", extent=(0, m / fps, 0, feats.shape[2]), cmap="magma")
    axes[0].set_ylabel("mel band")
    axes[0].set_title("Held-out drum excerpt: activations p_t (blue), detections (red), reference onsets (black)")
    tt = frames_to_seconds(np.arange(m), fps)
    for c, name in enumerate(loaded.classes):
        ax = axes[1 + c]
        ax.plot(tt, probs[:m, c], lw=0.8)
        for x in ref[name][ref[name] < m / fps]:
            ax.axvline(x, color="k", lw=0.6, ymin=0.0, ymax=0.35)
        for x in events.of(name)[events.of(name) < m / fps]:
            ax.axvline(x, color="tab:red", lw=0.6, ymin=0.65, ymax=1.0)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel(name)
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(OUT / "drum_activations.png", dpi=80)
    plt.close(fig)
    print(f"wrote {OUT / 'count_distribution.png'} and {OUT / 'drum_activations.png'}")


if __name__ == "__main__":
    main()
