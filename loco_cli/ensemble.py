"""``loco ensemble``: several trained models of one recipe (seeds) -> one model file that averages them.

Trained models in (model files or run folders: the same classes, features, network and decoding), a model
file out whose network is a :class:`~loco_cli.networks.Ensemble` of all their weights: its activations are
the mean of the members' probabilities per frame and class. The members are ordered by their own score
on the dataset's validation split (the best first: ``loco train --init`` of an ensemble fine-tunes the first
member), then the ensemble's per-class thresholds and latencies and its minimum gap are calibrated on that split as a training
run calibrates its model (:func:`loco_cli.train.validate`), since the mean of several networks' peaks is
lower and broader than one network's. A counts-only dataset has no onset times to calibrate on: the first
member's thresholds are kept.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from loco_cli.checkpoint import LoadedModel, atomic_save, load_model, make_payload
from loco_cli.config import DecodeConfig, FeatureConfig, LossConfig, ModelConfig, TrainConfig
from loco_cli.errors import InvalidOption
from loco_cli.networks import Ensemble, build_model

__all__ = ["EnsembleResult", "combine_models", "ensemble_members"]


@dataclass
class EnsembleResult:
    """What :func:`combine_models` wrote: the model file, its score on the split it was calibrated on
    (``metric``, named ``name``: ``f1``, or ``count_accuracy`` on a counts-only dataset) and one row per member,
    in the ensemble's order: ``{"model", "hash", "seed", "val"}`` (``val``: the member's own score there)."""

    path: Path
    metric: float
    name: str
    members: list[dict]


def ensemble_members(loaded: LoadedModel) -> list[torch.nn.Module]:
    """The networks a model runs: the members of an ensemble, else the model itself."""
    return list(loaded.model.members) if isinstance(loaded.model, Ensemble) else [loaded.model]


def _decoding(cfg: DecodeConfig) -> DecodeConfig:
    """A decode config without what calibration sets (per-class thresholds and latencies)."""
    return cfg.replace(thresholds=(), latency_s=())


def _check_compatible(models: list[LoadedModel]) -> ModelConfig:
    """The members' common network config (``members=1``); :class:`InvalidOption` naming the first model that
    differs from the first in classes, features, network or decoding."""
    first = models[0]
    net = ModelConfig.from_dict(first.payload["model"]).replace(members=1)
    for m in models[1:]:
        what = ("classes" if m.classes != first.classes else
                "features" if m.features != first.features else
                "network" if ModelConfig.from_dict(m.payload["model"]).replace(members=1) != net else
                "decoding (peak picking, input level)" if _decoding(m.decode) != _decoding(first.decode) else None)
        if what:
            raise InvalidOption(f"{m.path}: its {what} differ from {first.path}'s; an ensemble combines models "
                                "trained with one recipe on one kind of data (seeds)")
    return net


def combine_models(models: list[str | os.PathLike], prepared: str | os.PathLike, out: str | os.PathLike, *,
                   device: str = "cpu") -> EnsembleResult:
    """Combine trained ``models`` (shipped names, model files or run folders; an ensemble adds all its members)
    into one ensemble model file ``out``, written atomically, ordered and calibrated on the validation split
    of the prepared dataset ``prepared`` (the training split when it has no validation tracks).

    Raises :class:`InvalidOption` for fewer than two networks, models that do not fit together or a dataset
    whose features differ from theirs."""
    from loco_cli.prepared import load_prepared
    from loco_cli.train import validate

    if not models:
        raise InvalidOption("give at least two models to combine (model files or run folders)")
    loaded = [load_model(m, device) for m in models]
    net_cfg = _check_compatible(loaded)
    nets = [(m, n) for m in loaded for n in ensemble_members(m)]
    if len(nets) < 2:
        raise InvalidOption(f"{loaded[0].path}: one network; give at least two models to combine")
    data = load_prepared(prepared)
    first = loaded[0]
    if data.classes != first.classes or data.meta.get("feature_digest") != first.features.digest():
        raise InvalidOption(f"{prepared}: its classes or features differ from the models'; calibrate on data "
                            "prepared as theirs was (loco prepare --preset ...)")
    split = "val" if data.split_tracks("val") else "train"
    base = first.decode
    # each member's own score orders them: the best first (loco train --init of an ensemble starts from it)
    rows = []
    for i, (m, net) in enumerate(nets):
        v = validate(net, data, base, split=split, device=device, k_max=LossConfig.from_dict(m.payload["loss"]).k_max)
        rows.append((-v["metric"], i, m, net, v))
    rows.sort(key=lambda r: (r[0], r[1]))
    cfg = net_cfg.replace(members=len(rows))
    model = build_model(cfg).to(device)
    for member, (_, _, _, net, _) in zip(model.members, rows, strict=True):
        member.load_state_dict(net.state_dict())
    model.eval()
    top = rows[0][2]
    loss = LossConfig.from_dict(top.payload["loss"])
    v = validate(model, data, base, split=split, device=device, k_max=loss.k_max, search_gap=True)
    decode = v.get("decode", base)
    members = [{"model": str(m.path), "hash": m.payload["hash"], "seed": TrainConfig.from_dict(m.payload["train"]).seed,
                "val": round(-neg, 4)} for neg, _, m, _, _ in rows]
    metrics = {"val_f1_calibrated" if v["name"] == "f1" else "val_count_accuracy": v["metric"],
               "per_class_calibrated": v["per_class"], "calibrated_on": split, "ensemble": members}
    payload = make_payload(model, classes=first.classes, features=FeatureConfig.from_dict(first.payload["features"]),
                           model_cfg=cfg, loss=loss, train=TrainConfig.from_dict(top.payload["train"]), decode=decode,
                           metrics=metrics, dataset=top.payload.get("dataset"))
    atomic_save(payload, out)
    return EnsembleResult(Path(out), v["metric"], v["name"], members)
