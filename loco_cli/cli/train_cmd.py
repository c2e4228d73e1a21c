"""``loco train``: fit a detector on a prepared dataset (counts only with --loss loco)."""

from __future__ import annotations

from pathlib import Path

import typer

from loco_cli.config import DEFAULT_INIT, LOSS_NAMES, SMALL_SET_SECONDS, TENSORBOARD

#: Seconds between plain-text progress lines when stderr is not a terminal (a log file, a pipe).
PLAIN_EVERY_S = 30.0


def train_command(
    prepared: Path = typer.Argument(None, help="Prepared dataset folder (from `loco prepare`); not needed with --resume."),
    out: Path = typer.Option(None, "--out", help="Run folder for checkpoints, metrics and the final model.pt."),
    loss: str = typer.Option("loco", help=f"Training objective: {', '.join(LOSS_NAMES)}."),
    recipe: str = typer.Option("", help="drums, piano or a TOML file (default: the dataset's preset)."),
    steps: int = typer.Option(None, help="Training steps (default: the recipe's)."),
    batch_size: int = typer.Option(None, help="Snippets per batch (default: the recipe's)."),
    lr: float = typer.Option(None, help="Adam learning rate (default: the recipe's)."),
    val_every: int = typer.Option(None, help="Steps between validations and checkpoints (default: the recipe's)."),
    patience: int = typer.Option(None, help="Stop after this many validations without improvement; 0 = never."),
    rate_scale: float = typer.Option(None, help="Sample-rate scaling augmentation: factors in 1 +- this "
                                     "(0.125 = the authors' 7/8..9/8; default: the recipe's)."),
    seed: int = typer.Option(None, help="Random seed (default: the recipe's)."),
    device: str = typer.Option("auto", help="auto (CUDA if present, else CPU), cpu, cuda, cuda:N."),
    resume: Path = typer.Option(None, help="Continue this run folder exactly where it stopped."),
    force: bool = typer.Option(False, help="Start over in an existing run folder."),
    tensorboard: bool = typer.Option(TENSORBOARD, help="Write TensorBoard events to RUN/tensorboard "
                                     "(when the tensorboard package is installed)."),
    teacher: Path = typer.Option(None, help="A trained run or model (an ensemble, too) whose predictions mix into the "
                                 "targets: its count distributions with --loss loco (SeCoST), its frame "
                                 "probabilities with --loss ce (distillation)."),
    init: str = typer.Option(DEFAULT_INIT, help="Start from a trained model (fine-tuning): drums, piano, a model file "
                             "or a run folder (shared classes keep their output weights; new ones start afresh); "
                             f"auto: the shipped model of the data's preset on under {SMALL_SET_SECONDS / 60:.0f} "
                             "minutes of training audio where it fits (classes, features, network); none: random "
                             "weights."),
    teacher_weight: float = typer.Option(0.5, help="With --teacher: weight of the original label, count or onset "
                                         "(1 = ignore the teacher)."),
) -> None:
    """Train a detector; validation F1 picks the best checkpoint; latency and thresholds are calibrated."""
    import time

    from rich.console import Console

    from loco_cli.cli._common import fail_on_error, init_text, use_thread_policy
    from loco_cli.errors import InvalidOption

    console = Console(stderr=True)
    with fail_on_error(console):
        use_thread_policy()
        from loco_cli import engine

        if resume is None and (prepared is None or out is None):
            raise InvalidOption("give the prepared dataset and --out RUN (or --resume RUN)")
        overrides = {"steps": steps, "batch_size": batch_size, "lr": lr, "val_every": val_every,
                     "patience": patience, "seed": seed, "rate_scale": rate_scale}
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                       TimeRemainingColumn(), console=console, disable=not console.is_terminal)
        task = None
        state = {"val": "", "loss": "", "printed": 0.0}
        plain = not console.is_terminal  # a file or a pipe: no live bar, a progress line every PLAIN_EVERY_S

        def on_event(kind: str, info: dict) -> None:
            nonlocal task
            if kind == "start":
                console.print(f"training {info['params']} parameters on {info['device']} "
                              f"({info['train_tracks']} training tracks, validating on {info['val_split']})")
                if info.get("init"):
                    console.print(init_text(info["init"]), highlight=False, markup=False)
                if info.get("thin_classes") and len(info["thin_classes"]) <= 12:
                    gaps = ", ".join(f"{c} {k}" for c, k in info["thin_classes"].items())
                    console.print(f"warning: few validation onsets ({gaps}); these classes take pooled thresholds "
                                  "and latency and barely count in choosing the checkpoint; give validation more "
                                  "tracks (loco prepare --val-fraction)", highlight=False, markup=False)
                if info["tensorboard"]:
                    console.print(f"TensorBoard: tensorboard --logdir {info['tensorboard']}")
                task = bar.add_task("train", total=info["steps"], completed=info["step"], info="")
            elif kind == "log":
                state["loss"] = f"loss {info['loss']:.3f}  {info['steps_per_s']:.1f} steps/s"
                bar.update(task, completed=info["step"], info=f"{state['loss']}  {state['val']}")
                now = time.monotonic()
                if plain and (now - state["printed"] >= PLAIN_EVERY_S or info["step"] == info["steps"]):
                    state["printed"] = now
                    left = (info["steps"] - info["step"]) / max(info["steps_per_s"], 1e-9)
                    console.print(f"step {info['step']}/{info['steps']}  {state['loss']}  "
                                  f"ETA {int(left // 60)} min {int(left % 60):02d} s", highlight=False, markup=False)
            elif kind == "threads":
                bar.console.print(f"step {info['step']}: {info['threads']} thread(s) (other processes are using "
                                  f"{info['others_busy_cores']:.1f} of this process's cores)", highlight=False)
            elif kind == "val":
                per = " ".join(f"{c} {v:.3f}" for c, v in list(info["per_class"].items())[:6])
                state["val"] = f"val {info['name']} {info['metric']:.3f} (best {info['best']:.3f})"
                bar.console.print(f"step {info['step']}: {state['val']}  [{per}]", highlight=False)
                bar.update(task, completed=info["step"], info=f"{state['loss']}  {state['val']}")

        with bar:
            if resume is not None:
                result = engine.resume(resume, device=device, tensorboard=tensorboard, on_event=on_event)
            else:
                result = engine.train(prepared, out, loss=loss, recipe=recipe or None, init=init, teacher=teacher,
                                      teacher_weight=teacher_weight, device=device, force=force,
                                      tensorboard=tensorboard, on_event=on_event, **overrides)
    if result is None:  # a non-zero rank under torchrun
        return
    console.print(f"best validation {result.metric_name} {result.best_metric:.3f}; model -> {result.model_path}")
    for name, c in list(result.calibration.items())[:12]:
        gap = f", min gap {1000 * c['min_gap_s']:.0f} ms" if "min_gap_s" in c else ""
        console.print(f"  {name}: latency {1000 * c['latency_s']:+.1f} ms, threshold {c['threshold']:.2f}{gap}, "
                      f"val F1 {c['f1']:.3f}")
