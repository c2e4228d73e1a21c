"""Generate the method figures in docs/figures/ from real trained models and synthesized audio.

    python docs/figures.py [--model drums] [--piano-model models/piano.pt] [--misalign-runs runs/bench/quick/runs]

* ``count_distribution.png``: the running count distribution Y(k, t) of each class over one 1.5 s
  snippet (seed 001 Fig. 1): the probability mass steps up one count at each detected hit.
* ``drum_activations.png``: a held-out drum excerpt: spectrogram, per-class activations p_t and
  detected onsets against the reference (what ``loco detect --plot`` draws, plus the ground truth).
* ``detect_plot.png``: exactly what ``loco detect FILE --plot`` writes, for an 8 s held-out excerpt.
* ``piano_activations.png`` (when a piano model exists): a held-out piano excerpt, activations of
  all 88 keys against the reference notes.
* ``misalignment.png`` (when the accuracy benchmark's runs exist): ``ce`` vs ``softloc`` trained
  on timestamps jittered by 100 ms, on a clean test excerpt (seed 003 Fig. 3).
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
from loco_cli.detection import activations  # noqa: E402
from loco_cli.features import frames_to_seconds, log_mel  # noqa: E402
from loco_cli.peaks import decode  # noqa: E402
from loco_cli.synth import render_drum_track, render_piano_track  # noqa: E402

OUT = Path(__file__).resolve().parent / "figures"
ENST_TO_CLASS = {"KD": "KD", "SD": "SD", "CHH": "HH", "OHH": "HH"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="drums")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--piano-model", default=str(OUT.parent.parent / "models" / "piano.pt"))
    parser.add_argument("--misalign-runs", type=Path, default=Path("runs/bench/quick/runs"))
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
    detect_plot(loaded, track)
    if Path(args.piano_model).is_file():
        piano_figure(load_model(args.piano_model), args.seed)
    else:
        print(f"skipped piano_activations.png: no piano model at {args.piano_model}")
    ce, soft = (args.misalign_runs / f"misalign-{m}-100ms-s0" / "model.pt" for m in ("ce", "softloc"))
    if ce.is_file() and soft.is_file():
        misalignment_figure(load_model(ce), load_model(soft), args.seed)
    else:
        print(f"skipped misalignment.png: no benchmark runs under {args.misalign_runs}")


def detect_plot(loaded, track) -> None:
    """Run the real ``loco detect --plot`` path on the excerpt (first 8 s) and keep its PNG."""
    import shutil
    import tempfile

    import soundfile as sf

    from loco_cli.detection import detect_paths

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "excerpt.wav"
        sf.write(wav, track.samples, loaded.features.sample_rate)
        detect_paths(loaded, [wav], Path(tmp) / "out", plot=True)
        shutil.copyfile(Path(tmp) / "out" / "excerpt.png", OUT / "detect_plot.png")
    print(f"wrote {OUT / 'detect_plot.png'}")


def piano_figure(loaded, seed: int) -> None:
    """Activations of the 88 keys over 6 s of a held-out piano piece, reference note onsets on top."""
    fps = loaded.features.fps
    track = render_piano_track(seed + 200, 1, duration=6.0)
    feats = log_mel(track.samples, loaded.features)
    probs = activations(loaded.model, feats, loaded.decode, fps)
    events, _ = decode(probs, loaded.classes, fps, loaded.decode)
    low = int(loaded.classes[0])
    fig, ax = plt.subplots(figsize=(11, 5))
    t_end = probs.shape[0] / fps
    ax.imshow(probs.T, origin="lower", aspect="auto", extent=(0, t_end, low - 0.5, low + len(loaded.classes) - 0.5),
              cmap="Greys", vmin=0, vmax=1)
    rt = np.array([t for t, _ in track.events])
    rp = np.array([int(p) for _, p in track.events])
    ax.scatter(rt, rp, s=40, facecolors="none", edgecolors="tab:blue", lw=0.8, label="reference onsets")
    ax.scatter(events.times, [int(x) for x in events.labels], s=8, c="tab:red", label="detected onsets")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("MIDI pitch")
    ax.set_ylim(max(low, rp.min() - 6) - 0.5, min(low + len(loaded.classes), rp.max() + 7) - 0.5)
    ax.set_title("Held-out piano excerpt: activations p_t per key (grey), trained from counts only")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "piano_activations.png", dpi=80)
    plt.close(fig)
    print(f"wrote {OUT / 'piano_activations.png'}")


def misalignment_figure(ce, soft, seed: int) -> None:
    """Activations of ``ce`` and ``softloc`` models trained on labels jittered by 100 ms (seed 003 Fig. 3)."""
    fps = ce.features.fps
    track = render_drum_track(seed, 0, duration=4.0)
    feats = log_mel(track.samples, ce.features)
    fig, axes = plt.subplots(len(ce.classes), 1, figsize=(11, 1.2 + 1.6 * len(ce.classes)), sharex=True)
    tt = frames_to_seconds(np.arange(feats.shape[0]), fps)
    for loaded, color, label in ((ce, "tab:orange", "ce"), (soft, "tab:blue", "softloc")):
        probs = activations(loaded.model, feats, loaded.decode, fps)
        for c in range(len(loaded.classes)):
            axes[c].plot(tt - loaded.decode.class_latency(len(loaded.classes))[c], probs[:, c], lw=0.9, color=color,
                         label=label)
    for c, name in enumerate(ce.classes):
        for x in [t for t, i in track.events if ENST_TO_CLASS.get(i) == name]:
            axes[c].axvline(x, color="k", lw=0.6, ymin=0, ymax=0.3)
        axes[c].set_ylim(0, None)
        axes[c].set_ylabel(name)
    axes[0].legend(loc="upper right", fontsize=8)
    axes[0].set_title("Trained on timestamps jittered by sigma = 100 ms, tested on clean audio: activations vs true onsets (black)")
    axes[-1].set_xlabel("time (s), each model's measured latency removed")
    fig.tight_layout()
    fig.savefig(OUT / "misalignment.png", dpi=80)
    plt.close(fig)
    print(f"wrote {OUT / 'misalignment.png'}")


if __name__ == "__main__":
    main()
