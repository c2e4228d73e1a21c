"""``loco train``: fit a model on a prepared dataset, validate, checkpoint, resume, calibrate.

A run folder holds::

    config.json    every config of the run (human-readable copy)
    metrics.csv    step, loss, validation metric, steps/s, elapsed seconds
    last.pt        full state for ``--resume``: model, optimizer, step, RNG states, metrics so far
    best.pt        the model with the best validation metric so far (a model file)
    model.pt       best.pt with latency and per-class thresholds calibrated on validation (the result)
    tensorboard/   loss, learning rate, steps/s and validation metrics as TensorBoard events, when the
                   ``tensorboard`` package is installed (``pip install tensorboard``; off with
                   ``tensorboard=False`` / ``--no-tensorboard``)

Validation: onset F1 at 50 ms of the validation tracks, decoded whole-track by streaming, each class
at its calibrated threshold and latency, each class's F1 pooled with the all-classes F1 as a prior
(:func:`loco_cli.calibration.checkpoint_score`) when the dataset has timestamps; otherwise count accuracy
(``argmax_k P(Y = k) == y``) on the validation snippets. Resuming restores the optimizer, the step,
the sampler's and torch's RNG states, so a run killed at any point and resumed from its last
checkpoint ends exactly where an uninterrupted run ends.

Multi-GPU: under ``torchrun`` (``WORLD_SIZE > 1``) each process trains on its own seeded stream of
batches with DistributedDataParallel (NCCL on CUDA, gloo on CPU); rank 0 validates and writes.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from loco_cli.atomic import atomic_write_text
from loco_cli.calibration import calibrate, calibrate_min_gap, checkpoint_score
from loco_cli.checkpoint import atomic_save, load_model, make_payload
from loco_cli.config import (
    INIT_AUTO,
    INIT_NONE,
    SMALL_SET_SECONDS,
    TEACHER_LOSSES,
    TENSORBOARD,
    DecodeConfig,
    LossConfig,
    ModelConfig,
    TrainConfig,
)
from loco_cli.counting import count_log_distribution
from loco_cli.data import Sampler
from loco_cli.detection import detect_tracks
from loco_cli.devices import resolve_device
from loco_cli.errors import ConfigError, DatasetError, InvalidOption, ModelError
from loco_cli.features import mel_centers
from loco_cli.losses import compute_loss, onset_mask
from loco_cli.networks import build_model
from loco_cli.prepared import Prepared, load_prepared
from loco_cli.threads import LoadMonitor, pinned_threads, set_threads

__all__ = ["TrainResult", "resolve_device", "model_config_for", "validate", "train_run", "tensorboard_writer",
           "transfer_weights", "validation_gaps"]

LOSSES_NEEDING_TIMESTAMPS = ("softloc", "oss", "ce")


def tensorboard_writer(folder: Path):
    """A ``torch.utils.tensorboard.SummaryWriter`` on ``folder``, or ``None`` when TensorBoard is not
    installed (it is optional: loco never requires it)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(folder))


@dataclass
class TrainResult:
    """The outcome of :func:`train_run`."""

    run: Path
    step: int
    best_metric: float
    metric_name: str
    model_path: Path
    stopped_early: bool
    calibration: dict


def class_pitches(classes: list[str], where: str | Path) -> list[int]:
    """MIDI pitches of class names (``'21'`` .. ``'108'``), for the per-key network."""
    try:
        return [int(c) for c in classes]
    except ValueError:
        raise InvalidOption(f"{where}: the keys network needs MIDI-pitch classes (the piano preset), "
                            f"not {classes[:3]}; set arch = 'crnn' in the recipe's [model] table") from None


def model_config_for(data: Prepared, base: ModelConfig) -> ModelConfig:
    """Fit a model config to a dataset: its number of classes, bands and channels."""
    f = data.features
    return base.replace(n_classes=len(data.classes), n_bands=f.n_mels, in_channels=f.n_channels)


@torch.no_grad()
def validate(model: torch.nn.Module, data: Prepared, decode_cfg: DecodeConfig, *, split: str = "val",
             device="cpu", k_max: int = 31, search_gap: bool = False) -> dict:
    """Score ``model`` on a split; returns ``{"metric", "name", "per_class", ["decode", "calibration"]}``.

    With timestamps, each class is calibrated (:func:`loco_cli.calibration.calibrate`: its threshold
    and latency), so checkpoints are compared independently of a threshold that suits some losses and
    not others, and the metric is :func:`loco_cli.calibration.checkpoint_score` (the mean over the classes
    with onsets in the split of each class's F1 pooled with the all-classes F1 as a prior);
    ``per_class`` holds each class's own F1. ``decode_cfg`` gives the peak-picking settings.
    ``decode`` / ``calibration`` are that calibration (per-class thresholds and latency, and its
    report), which the run's final model keeps. ``search_gap``: the calibration also chooses the peak
    picker's minimum gap (:func:`loco_cli.calibration.calibrate_min_gap`; the final model's calibration).
    """
    model.eval()
    names = data.split_tracks(split)
    try:
        if data.has_timestamps:
            probs_list = [(probs, data.events[name])
                          for name, probs, _ in detect_tracks(model, data, names, decode_cfg, device=device)]
            tune = calibrate_min_gap if search_gap else calibrate
            tuned, report = tune(probs_list, data.classes, data.features.fps, decode_cfg)
            score, f1 = checkpoint_score(report, data.classes)
            return {"metric": score, "name": "f1", "per_class": f1, "decode": tuned, "calibration": report}
        rows = [r for r in data.snippets if r["split"] == split]
        correct = np.zeros(len(data.classes))
        for i in range(0, len(rows), 64):
            chunk = rows[i : i + 64]
            t_max = max(r["n_frames"] for r in chunk)
            x = np.zeros((len(chunk), t_max, *data.feature_array(chunk[0]["track"]).shape[1:]), dtype=np.float32)
            lengths = torch.tensor([r["n_frames"] for r in chunk])
            for j, r in enumerate(chunk):
                x[j, : r["n_frames"]] = data.feature_array(r["track"])[r["start_frame"] : r["start_frame"] + r["n_frames"]]
            logits = model(torch.from_numpy(x).to(device)).float()
            dist = count_log_distribution(logits, lengths=lengths.to(device), k_max=k_max)
            pred = dist.argmax(-1).cpu().numpy()
            target = np.minimum(np.stack([r["counts"] for r in chunk]), k_max - 1)
            correct += (pred == target).sum(0)
        acc = correct / max(len(rows), 1)
        return {"metric": float(acc.mean()), "name": "count_accuracy",
                "per_class": dict(zip(data.classes, acc.tolist(), strict=True))}
    finally:
        model.train()


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    fields = ["step", "loss", "val_metric", "steps_per_s", "elapsed_s"]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return world, int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))


def _setup_device(device: str, world: int, local_rank: int) -> torch.device:
    """The training device; under ``torchrun`` also this process's GPU and the process group."""
    dev = resolve_device(device)
    if world > 1:
        import torch.distributed as dist

        if dev.type == "cuda":
            dev = torch.device("cuda", local_rank)
            torch.cuda.set_device(dev)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return dev


def _load_training_data(data_dir: str | Path, loss: LossConfig) -> Prepared:
    """The prepared dataset, checked for what training needs (timestamps for the losses that use them,
    training tracks, sound feature files)."""
    data = load_prepared(data_dir)
    if loss.name in LOSSES_NEEDING_TIMESTAMPS and not data.has_timestamps:
        raise InvalidOption(f"--loss {loss.name} needs timestamps; {data_dir} has counts only (use --loss loco or mil)")
    if not data.split_tracks("train"):
        raise DatasetError(f"{data_dir}: no training tracks")
    data.check_features(data.split_tracks("train") + data.split_tracks("val"))  # a corrupt cache stops here
    if loss.name == "loco" and (loss.onset_weight > 0 or loss.assign_weight > 0) and data.features.delta_channel is None:
        raise InvalidOption(f"the onset prior and count assignment (onset_weight, assign_weight) read the features' time "
                            f"difference; {data_dir} was prepared without it (prepare with delta = true, or set both to 0)")
    return data


def _prepare_run_folder(run: Path, *, resume: bool, force: bool, rank: int) -> None:
    """Check ``run`` against ``resume`` / ``force``; with ``force``, remove the previous run (a folder
    that ``loco train`` made, never another)."""
    if resume and not (run / "last.pt").is_file():
        if run.is_dir() and (run / "config.json").is_file():
            raise InvalidOption(f"{run}: nothing to resume (no last.pt: it stopped before its first checkpoint); "
                                "start it again with --force instead of --resume")
        raise InvalidOption(f"{run}: nothing to resume (no run there); start it without --resume")
    if not resume and run.exists() and any(run.iterdir()):
        if not force:
            raise InvalidOption(f"{run}: run folder exists; pass --resume to continue it or --force to start over")
        if not (run / "config.json").is_file():
            raise InvalidOption(f"{run}: not a loco run folder (no config.json); --force only replaces a run "
                                "that loco train made: choose another --out folder")
        if rank == 0:
            shutil.rmtree(run)


def _build_network(data: Prepared, data_dir: str | Path, model: ModelConfig, start, init, seed: int):
    """The network to train: ``start``'s architecture, weights and input normalisation when fine-tuning
    (``--init``; of an ensemble: its first member, which ``loco ensemble`` puts first because validation
    scored it best), else ``model`` fitted to the dataset with fresh weights (seeded by ``seed`` alone) and
    the training split's normalisation. Returns ``(net, model_cfg, init_info or None)``."""
    if start is not None:
        if start.features != data.features:
            raise InvalidOption(f"--init {init}: the model's features differ from {data_dir}'s; prepare the data "
                                f"with the model's preset (loco prepare --preset ...)")
        model = ModelConfig.from_dict(start.payload["model"])
    elif model.members > 1:
        raise ConfigError(f"members = {model.members}: an ensemble is not trained as one network; train each "
                          "member (one run per --seed), then combine the runs with `loco ensemble`")
    source = start.model if start is not None else None
    if model.members > 1:  # fine-tuning an ensemble starts from its first member, alone
        model, source = model.replace(members=1), start.model.members[0]
    model_cfg = model_config_for(data, model)
    torch.manual_seed(seed)  # the initial weights depend on the seed alone
    net = build_model(model_cfg)
    init_info = None
    if start is not None:  # the started-from model's weights and input normalisation
        init_info = transfer_weights(net, source, start.classes, data.classes)
        if start.model.cfg.members > 1:
            init_info["member"] = f"1 of {start.model.cfg.members}"
    else:
        net.norm.set(data.mean, data.std)
    if model_cfg.arch == "keys":
        net.set_layout(mel_centers(data.features), class_pitches(data.classes, data_dir))
    return net, model_cfg, init_info


def _load_teacher(teacher: str | Path | None, data: Prepared, loss: LossConfig,
                  dev: torch.device) -> torch.nn.Module | None:
    """The SeCoST teacher model (its classes and features must equal the dataset's; the loss one of
    :data:`~loco_cli.config.TEACHER_LOSSES`), or ``None``."""
    if teacher is None:
        return None
    if loss.name not in TEACHER_LOSSES:
        raise InvalidOption(f"--teacher {teacher}: the {loss.name} loss takes no teacher; use --loss "
                            f"{' or '.join(TEACHER_LOSSES)}")
    t = load_model(teacher, dev)
    if t.classes != data.classes:
        raise ModelError(f"{teacher}: teacher classes {t.classes[:5]} differ from the dataset's {data.classes[:5]}")
    if t.features != data.features:
        raise ModelError(f"{teacher}: the teacher's features differ from the dataset's; a teacher reads the same "
                         "windows as the student (prepare the data with the teacher's preset)")
    return t.model


@dataclass
class _Progress:
    """What a checkpoint carries besides the weights: the step, the best validation metric, the
    validations without improvement (for ``patience``) and the metrics rows so far."""

    step: int = 0
    best: float = -math.inf
    bad_evals: int = 0
    rows: list = field(default_factory=list)


def _restore(last: Path, net, opt, ema_net, rng: np.random.Generator, rank: int) -> _Progress:
    """Load ``last.pt`` into the network, optimizer, weight average and RNGs (exactly where it stopped)."""
    try:
        state = torch.load(last, map_location="cpu", weights_only=True)
        net.load_state_dict(state["model_payload"]["state_dict"])
        opt.load_state_dict(state["optimizer"])
        progress = _Progress(state["step"], state["best"], state["bad_evals"], list(state["metrics"]))
        if ema_net is not None:
            ema_net.load_state_dict(state["ema"] if state.get("ema") is not None else net.state_dict())
        rng.bit_generator.state = state["rng"]["numpy"][rank]
        torch.set_rng_state(state["rng"]["torch"])
    except Exception as err:  # truncated, foreign or pickled-code file: cannot resume from it
        raise ModelError(f"{last}: not a checkpoint this run can resume from ({type(err).__name__}); start the run "
                         "again with --force instead of --resume") from err
    return progress


def _train_step(forward, net, opt, ema_net, batch: dict, loss: LossConfig, train: TrainConfig, teacher_model,
                step: int, use_amp: bool, run: Path) -> torch.Tensor:
    """One optimisation step on ``batch`` (already on the device): forward (bf16 autocast with AMP),
    the loss (with the teacher's count distribution for SeCoST, its frame probabilities for ``ce``), the
    learning rate of ``step``, backward, gradient clipping, Adam, the weight average. Returns the loss; a non-finite loss stops
    the run (:class:`InvalidOption`)."""
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
        logits = forward(batch["features"])
    logits = logits.float()
    if teacher_model is not None:
        with torch.no_grad():
            # the window before the spectral augmentations where the recipe asks for it (clean_teacher)
            t_logits = teacher_model(batch.get("teacher_features", batch["features"])).float()
            if loss.name == "ce":  # frame targets mixed with the teacher's probabilities
                batch["teacher_probs"] = torch.sigmoid(t_logits)
            else:
                batch["teacher_log_dist"] = count_log_distribution(t_logits, lengths=batch["lengths"], k_max=loss.k_max)
    value = compute_loss(loss.name, logits, batch, loss, step)
    if not torch.isfinite(value):
        raise InvalidOption(f"{run}: the loss became {value.item()} at step {step + 1}; training stopped without "
                            "writing a model. Lower --lr, or check the data with `loco prepare --force`")
    for group in opt.param_groups:
        group["lr"] = train.lr_at(step)
    opt.zero_grad(set_to_none=True)
    value.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), train.clip_norm)
    opt.step()
    if ema_net is not None:
        _ema_update(ema_net, net, min(train.ema_decay, (1 + step) / (10 + step)))
    return value


def _write_run_config(run: Path, meta: dict, decode_cfg: DecodeConfig, data: Prepared, teacher, world: int,
                      start, init_info) -> None:
    """``config.json``: every config of the run, human-readable (``--resume`` rebuilds the run from it)."""
    run.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run / "config.json", json.dumps(
        {"loss": meta["loss"].to_dict(), "train": meta["train"].to_dict(), "model": meta["model_cfg"].to_dict(),
         "decode": decode_cfg.to_dict(), "features": data.features.to_dict(), "classes": data.classes,
         "dataset": meta["dataset"], "teacher": str(teacher) if teacher else None, "world_size": world,
         "init": {**init_info, "model": str(start.path)} if start is not None else None},
        indent=1) + "\n")


def _validate_and_keep_best(scored, data: Prepared, decode_cfg: DecodeConfig, split: str, dev, loss: LossConfig,
                            meta: dict, run: Path, progress: _Progress, row: dict) -> dict:
    """Validate ``scored`` (the weight average when there is one); a new best is written to ``best.pt``;
    ``progress`` counts validations without improvement and gains ``row`` with the metric. Returns
    :func:`validate`'s result."""
    v = validate(scored, data, decode_cfg, split=split, device=dev, k_max=loss.k_max)
    if v["metric"] > progress.best + 1e-9:
        progress.best, progress.bad_evals = v["metric"], 0
        atomic_save(make_payload(scored, **_payload_args(meta), decode=decode_cfg,
                                 metrics={"step": progress.step, v["name"]: v["metric"], "per_class": v["per_class"]}),
                    run / "best.pt")
    else:
        progress.bad_evals += 1
    progress.rows.append({**row, "val_metric": f"{v['metric']:.4f}"})
    return v


def _board_validation(board, v: dict, step: int) -> None:
    board.add_scalar(f"val/{v['name']}", v["metric"], step)
    for cls, value in list(v["per_class"].items())[:16]:
        board.add_scalar(f"val_{v['name']}/{cls}", value, step)
    board.flush()


def train_run(
    data_dir: str | Path,
    run_dir: str | Path,
    *,
    loss: LossConfig,
    train: TrainConfig,
    model: ModelConfig,
    decode_cfg: DecodeConfig | None = None,
    resume: bool = False,
    force: bool = False,
    teacher: str | Path | None = None,
    init: str | Path | None = None,
    device: str = "auto",
    tensorboard: bool = TENSORBOARD,
    on_event: Callable[[str, dict], None] | None = None,
    threads: int | None = None,
) -> TrainResult:
    """Train on ``data_dir`` into ``run_dir`` (see the module docstring).

    ``init``: start from a trained model (``drums``, ``piano``, a model file or a run folder) instead
    of random weights: its architecture (``model`` is then ignored), its input normalisation and every
    weight; the output layer keeps the rows of the classes both share (by name) and initialises the
    others afresh (eq. 15 bias). The model's features must equal the dataset's (prepare the data with
    the model's preset). ``"auto"``: the shipped model of the dataset's preset on a small set where it
    fits (:func:`auto_init`), else random weights; ``None`` or ``"none"``: random weights. A resumed run
    ignores ``init`` (its weights come from ``last.pt``).

    ``threads`` (CPU training): torch's and numba's thread count for the run; ``None`` uses up to
    torch's current count and, unless the environment pins one (:mod:`loco_cli.threads`), fewer while
    other processes keep this process's cores busy (a ``threads`` event says when it changes). The
    caller's count is restored at the end.

    ``on_event(kind, info)`` receives ``start``, ``log`` (step, loss, steps/s), ``val`` (step, metric,
    best), ``threads`` (step, threads, cores other processes used) and ``done`` events. Raises
    :class:`DatasetError` / :class:`InvalidOption` for user errors.

    The steps: set up the device, check the data and the run folder, build the network (fresh or from
    ``init``), restore ``last.pt`` when resuming, then train (:func:`_train_step`), validating and
    checkpointing every ``val_every`` steps, and finish with the calibrated ``model.pt``.
    """
    world, rank, local_rank = _dist_info()
    dev = _setup_device(device, world, local_rank)
    emit = on_event if (on_event and rank == 0) else (lambda kind, info: None)
    data = _load_training_data(data_dir, loss)
    run = Path(run_dir)
    last = run / "last.pt"
    _prepare_run_folder(run, resume=resume, force=force, rank=rank)
    init, init_auto = resolve_init(init, data, model) if not resume else (None, False)
    start = load_model(init, "cpu") if init is not None else None
    net, model_cfg, init_info = _build_network(data, data_dir, model, start, init, train.seed)
    if init_info is not None:
        init_info = {**init_info, "name": str(init), "auto": init_auto}
    decode_cfg = decode_cfg or DecodeConfig()
    if start is not None and decode_cfg.level_dbfs is None and start.decode.level_dbfs is not None:
        # a fine-tuned model detects at its starting model's input level unless the recipe sets one
        decode_cfg = decode_cfg.replace(level_dbfs=start.decode.level_dbfs)
    if train.train_at_level and decode_cfg.level_dbfs is None:
        raise ConfigError("train_at_level needs the model's input level: set level_dbfs in the recipe's [decode] "
                          "table (or start from a model that has one)")
    net.to(dev)
    # the weight average that validation scores and the run ships (TrainConfig.ema_decay)
    ema_net = copy.deepcopy(net).requires_grad_(False) if train.ema_decay > 0 else None
    opt = torch.optim.Adam(net.parameters(), lr=train.lr)
    rng = np.random.default_rng(np.random.SeedSequence([train.seed, rank]))
    teacher_model = _load_teacher(teacher, data, loss, dev)
    clean_teacher = train.clean_teacher and teacher_model is not None  # TrainConfig.clean_teacher
    progress = _restore(last, net, opt, ema_net, rng, rank) if resume else _Progress()
    ddp = None
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        ddp = DistributedDataParallel(net, device_ids=[dev.index] if dev.type == "cuda" else None)
    forward = ddp or net
    sampler = Sampler(data, train, rng, level_dbfs=decode_cfg.level_dbfs if train.train_at_level else None)
    val_split = "val" if data.split_tracks("val") else "train"
    meta = {"classes": data.classes, "features": data.features, "model_cfg": model_cfg, "loss": loss,
            "train": train, "dataset": {"path": str(Path(data_dir).resolve()), "split": data.meta["split"],
                                        "seconds": data.meta["seconds"], "preset": data.meta["preset"]}}
    if rank == 0:
        _write_run_config(run, meta, decode_cfg, data, teacher, world, start, init_info)
    board = tensorboard_writer(run / "tensorboard") if tensorboard and rank == 0 else None
    emit("start", {"step": progress.step, "steps": train.steps, "device": str(dev),
                   "params": sum(p.numel() for p in net.parameters()), "train_tracks": len(data.split_tracks("train")),
                   "val_split": val_split, "world_size": world,
                   "tensorboard": str(run / "tensorboard") if board else None, "init": init_info,
                   "thin_classes": validation_gaps(data, val_split)})
    use_amp = train.amp and dev.type == "cuda"
    threads_before = torch.get_num_threads()
    monitor = None
    if dev.type == "cpu":
        if threads:
            set_threads(threads)
        elif pinned_threads() is None and threads_before > 1:
            monitor = LoadMonitor(threads_before)
    net.train()
    t0, s0, loss_sum, loss_n = time.perf_counter(), progress.step, 0.0, 0
    stopped = False
    while progress.step < train.steps and not stopped:
        batch = {k: v.to(dev) for k, v in sampler.batch(keep_clean=clean_teacher).items()}
        if loss.name == "loco" and (loss.onset_weight > 0 or loss.assign_weight > 0):
            batch["onset_mask"] = onset_mask(batch["features"], batch["lengths"], delta_channel=data.features.delta_channel,
                                             after=loss.onset_after_frames, threshold=loss.onset_threshold)
        value = _train_step(forward, net, opt, ema_net, batch, loss, train, teacher_model, progress.step, use_amp, run)
        progress.step += 1
        step = progress.step
        if monitor is not None and (n_threads := monitor.poll()) is not None:
            set_threads(n_threads)
            emit("threads", {"step": step, "threads": n_threads, "others_busy_cores": monitor.others})
        loss_sum += float(value.detach())
        loss_n += 1
        elapsed = time.perf_counter() - t0
        rate = (step - s0) / max(elapsed, 1e-9)
        if step % train.log_every == 0 or step == train.steps:
            emit("log", {"step": step, "steps": train.steps, "loss": loss_sum / loss_n, "steps_per_s": rate})
            if board:
                board.add_scalar("train/loss", loss_sum / loss_n, step)
                board.add_scalar("train/lr", train.lr_at(step - 1), step)
                board.add_scalar("train/steps_per_s", rate, step)
        if step % train.val_every == 0 or step == train.steps:
            stop_flag = torch.zeros(1)
            if rank == 0:
                row = {"step": step, "loss": f"{loss_sum / loss_n:.5f}", "steps_per_s": f"{rate:.2f}",
                       "elapsed_s": f"{elapsed:.1f}"}
                v = _validate_and_keep_best(ema_net if ema_net is not None else net, data, decode_cfg, val_split,
                                            dev, loss, meta, run, progress, row)
                emit("val", {"step": step, "metric": v["metric"], "name": v["name"], "best": progress.best,
                             "per_class": v["per_class"]})
                if board:
                    _board_validation(board, v, step)
                if train.patience and progress.bad_evals >= train.patience:
                    stop_flag[0] = 1
            rng_states = [rng.bit_generator.state]
            if world > 1:
                import torch.distributed as dist

                dist.broadcast(stop_flag, 0)
                rng_states = [None] * world
                dist.all_gather_object(rng_states, rng.bit_generator.state)
            stopped = bool(stop_flag[0])
            if rank == 0:
                payload = make_payload(net, **_payload_args(meta), decode=decode_cfg)
                atomic_save({"model_payload": payload, "optimizer": opt.state_dict(), "step": step,
                             "best": progress.best, "bad_evals": progress.bad_evals, "metrics": progress.rows,
                             "ema": ema_net.state_dict() if ema_net is not None else None,
                             "rng": {"numpy": rng_states, "torch": torch.get_rng_state()}}, last)
                atomic_write_text(run / "metrics.csv", _csv(progress.rows))
            loss_sum, loss_n = 0.0, 0
    if torch.get_num_threads() != threads_before:
        set_threads(threads_before)
    result = None
    if board:
        board.close()
    if rank == 0:
        result = _finish(run, data, meta, decode_cfg, loss, progress.step, progress.best, stopped, dev)
        emit("done", {"step": progress.step, "best": progress.best, "model": str(result.model_path),
                      "calibration": result.calibration})
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
    return result  # type: ignore[return-value]


def auto_init(data: Prepared, model: ModelConfig) -> str | None:
    """The shipped model that ``init="auto"`` starts from, or ``None`` (random weights).

    Its name (``drums`` / ``piano``: the dataset's preset) when the training split holds under
    :data:`SMALL_SET_SECONDS` of audio and the shipped model fits the run: the same classes (names and
    order), the same features (digest) and the same network as ``model`` (the recipe's, fitted to the
    data); else ``None``, also when the shipped model file is not installed.
    """
    from loco_cli.checkpoint import SHIPPED_MODELS
    from loco_cli.errors import LocoError

    preset = data.meta.get("preset")
    if preset not in SHIPPED_MODELS:
        return None
    if sum(float(data.tracks[n]["seconds"]) for n in data.split_tracks("train")) >= SMALL_SET_SECONDS:
        return None
    try:
        shipped = load_model(preset, "cpu")
    except LocoError:  # not installed in this checkout
        return None
    def network(cfg: ModelConfig) -> ModelConfig:  # the architecture; how fresh weights start plays no part
        return model_config_for(data, cfg).replace(key_out_zero=False, members=1)

    same = (shipped.classes == data.classes and shipped.features.digest() == data.meta.get("feature_digest")
            and network(ModelConfig.from_dict(shipped.payload["model"])) == network(model))
    return preset if same else None


def resolve_init(init: str | Path | None, data: Prepared, model: ModelConfig) -> tuple[str | Path | None, bool]:
    """``(model to start from or None, chosen by "auto")`` for a run's ``init``: ``None`` / ``"none"``:
    random weights; ``"auto"``: :func:`auto_init`; anything else as given (``drums``, ``piano``, a model
    file or a run folder)."""
    if init is None or str(init) == INIT_NONE:
        return None, False
    if str(init) == INIT_AUTO:
        chosen = auto_init(data, model)
        return chosen, chosen is not None
    return init, False


def validation_gaps(data: Prepared, split: str) -> dict[str, int]:
    """Classes with fewer than :data:`loco_cli.calibration.MIN_CALIBRATION_ONSETS` onsets in the validation
    ``split``: ``{class: onsets}``. Checkpoint choice ignores a class without onsets there, and its
    threshold and latency fall back to the pooled values; a user should know (give validation more tracks,
    ``loco prepare --val-fraction``). Empty for counts-only datasets (no onsets to count)."""
    from loco_cli.calibration import MIN_CALIBRATION_ONSETS

    if not data.has_timestamps:
        return {}
    names = data.split_tracks(split)
    onsets = {c: sum(int(data.reference(n).of(c).size) for n in names) for c in data.classes}
    return {c: k for c, k in onsets.items() if k < MIN_CALIBRATION_ONSETS}


@torch.no_grad()
def transfer_weights(net: torch.nn.Module, source: torch.nn.Module, source_classes: list[str],
                     classes: list[str]) -> dict:
    """Copy ``source``'s weights into ``net`` (same architecture) for fine-tuning, normalisation included.

    Tensors of equal shape are copied. A tensor whose first axis runs over the classes (the output
    layer, a per-key bias) takes the rows of the classes present in both (by name); the rows of new
    classes keep ``net``'s fresh initialisation. Returns ``{"kept": [...], "new": [...], "dropped": [...]}``
    (class names).
    """
    src, dst = source.state_dict(), net.state_dict()
    rows = [(classes.index(c), source_classes.index(c)) for c in classes if c in source_classes]
    for key, value in dst.items():
        old = src.get(key)
        if old is None:
            continue
        per_class = (source_classes != classes and old.ndim >= 1 and old.shape[0] == len(source_classes)
                     and value.shape[0] == len(classes) and old.shape[1:] == value.shape[1:])
        if per_class:
            for new_i, old_i in rows:
                value[new_i] = old[old_i]
        elif old.shape == value.shape:
            value.copy_(old)
    net.load_state_dict(dst)
    return {"kept": [c for c in classes if c in source_classes], "new": [c for c in classes if c not in source_classes],
            "dropped": [c for c in source_classes if c not in classes]}


@torch.no_grad()
def _ema_update(avg: torch.nn.Module, net: torch.nn.Module, decay: float) -> None:
    """``avg <- decay * avg + (1 - decay) * net`` for every parameter; buffers are copied."""
    torch._foreach_lerp_(list(avg.parameters()), list(net.parameters()), 1.0 - decay)
    for a, b in zip(avg.buffers(), net.buffers(), strict=True):
        a.copy_(b)


def _payload_args(meta: dict) -> dict:
    return {"classes": meta["classes"], "features": meta["features"], "model_cfg": meta["model_cfg"],
            "loss": meta["loss"], "train": meta["train"], "dataset": meta["dataset"]}


def _finish(run: Path, data: Prepared, meta: dict, decode_cfg: DecodeConfig, loss: LossConfig, step: int,
            best: float, stopped: bool, dev) -> TrainResult:
    """Calibrate latency, thresholds and the peak picker's minimum gap of the best model on validation and write
    ``model.pt``."""
    loaded = load_model(run / "best.pt", dev)
    split = "val" if data.split_tracks("val") else "train"
    metrics = dict(loaded.metrics)
    calibration: dict = {}
    final_decode = decode_cfg
    if data.has_timestamps:
        v = validate(loaded.model, data, decode_cfg, split=split, device=dev, k_max=loss.k_max, search_gap=True)
        final_decode, calibration = v["decode"], v["calibration"]
        metrics.update({"val_f1_calibrated": v["metric"], "per_class_calibrated": v["per_class"],
                        "calibrated_on": split})
    payload = make_payload(loaded.model, **_payload_args(meta), decode=final_decode, metrics=metrics)
    atomic_save(payload, run / "model.pt")
    name = "f1" if data.has_timestamps else "count_accuracy"
    return TrainResult(run, step, best, name, run / "model.pt", stopped, calibration)


def load_recipe(spec: str) -> dict:
    """A recipe: a name from :data:`loco_cli.config.RECIPES` or a TOML file.

    A TOML recipe names its base (``base = "drums"``) and overrides fields in ``[train]``, ``[model]``,
    ``[loss]`` and ``[decode]`` tables. Returns ``{"model", "train", "loss", "decode"}`` configs.
    """
    from loco_cli.config import PRESETS, RECIPES

    if spec in RECIPES:
        preset = PRESETS[spec]
        return {"model": preset.model, "train": RECIPES[spec], "loss": preset.loss, "decode": DecodeConfig()}
    path = Path(spec)
    if not path.is_file():
        raise InvalidOption(f"--recipe {spec}: not a recipe name ({', '.join(RECIPES)}) or a TOML file")
    import tomllib

    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InvalidOption(f"{path}: not valid TOML ({err})") from err
    base = doc.pop("base", "drums")
    if base not in RECIPES:
        raise InvalidOption(f"{path}: base = {base!r} is not one of {', '.join(RECIPES)}")
    recipe = load_recipe(base)
    for section in list(doc):
        if section not in recipe or not isinstance(doc[section], dict):
            raise InvalidOption(f"{path}: unknown section [{section}]; use [train], [model], [loss], [decode]")
        try:
            recipe[section] = recipe[section].replace(**{
                k: tuple(v) if isinstance(v, list) else v for k, v in doc[section].items()
            })
        except (TypeError, ValueError) as err:
            raise InvalidOption(f"{path}: [{section}] {err}") from err
    return recipe
