"""Self-describing model files: weights plus every config needed to use them, with a content hash.

A model file is a ``torch.save`` of plain dicts, lists, numbers, strings and tensors, loadable with
``torch.load(weights_only=True)`` (no pickled code)::

    format, loco_version, classes, features, model, loss, train, decode, metrics, dataset,
    state_dict, hash

``hash`` is the SHA-256 of the canonical JSON of everything else plus every tensor's name, dtype,
shape and bytes; :func:`load_model` recomputes it, so a file damaged on disk or in transfer, or edited
without updating the hash, is refused. The hash has no secret key: it is an integrity check, not a
signature. Someone who edits a file on purpose can recompute it; to trust a model from elsewhere,
compare its hash (``loco`` prints it; ``models/*.md`` list the shipped ones) with one from a source you
trust. Loading never runs code from the file (``torch.load(weights_only=True)``).
Files are written to a temporary name and renamed.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from loco_cli import __version__
from loco_cli.config import DecodeConfig, FeatureConfig, LossConfig, ModelConfig, TrainConfig
from loco_cli.errors import ModelError

__all__ = ["MODEL_FORMAT", "LoadedModel", "make_payload", "content_hash", "atomic_save", "load_model",
           "shipped_model", "SHIPPED_MODELS"]

MODEL_FORMAT = "loco-model-1"
#: Models shipped in ``models/`` (installed as the ``loco_cli.models`` package).
SHIPPED_MODELS = ("drums", "piano")


def _canonical(obj):
    if isinstance(obj, dict):
        return {str(k): _canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        raise TypeError("tensors belong in state_dict")
    return obj


def content_hash(payload: dict) -> str:
    """SHA-256 hex digest of a payload's configs and tensors (the ``hash`` key itself excluded)."""
    h = hashlib.sha256()
    meta = {k: v for k, v in payload.items() if k not in ("state_dict", "hash")}
    h.update(json.dumps(_canonical(meta), sort_keys=True).encode())
    for name in sorted(payload["state_dict"]):
        t = payload["state_dict"][name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def make_payload(
    model: torch.nn.Module,
    *,
    classes: list[str],
    features: FeatureConfig,
    model_cfg: ModelConfig,
    loss: LossConfig,
    train: TrainConfig,
    decode: DecodeConfig,
    metrics: dict | None = None,
    dataset: dict | None = None,
) -> dict:
    """The dict saved as a model file (hash included)."""
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    payload = {
        "format": MODEL_FORMAT,
        "loco_version": __version__,
        "classes": list(classes),
        "features": features.to_dict(),
        "model": model_cfg.to_dict(),
        "loss": loss.to_dict(),
        "train": train.to_dict(),
        "decode": decode.to_dict(),
        "metrics": json.loads(json.dumps(metrics or {})),
        "dataset": json.loads(json.dumps(dataset or {})),
        "state_dict": state,
    }
    payload["hash"] = content_hash(payload)
    return payload


def atomic_save(obj, path: str | os.PathLike) -> None:
    """``torch.save`` to ``path`` atomically (a temporary file in the same folder, renamed over ``path``:
    :func:`loco_cli.atomic.atomic_path`)."""
    from loco_cli.atomic import atomic_path

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


@dataclass
class LoadedModel:
    """A model ready for inference plus its description."""

    model: torch.nn.Module
    classes: list[str]
    features: FeatureConfig
    decode: DecodeConfig
    payload: dict
    path: Path

    @property
    def metrics(self) -> dict:
        """Scores recorded at training time."""
        return self.payload.get("metrics", {})


def shipped_model(name: str = "drums") -> Path:
    """Path of a shipped model file (``models/<name>.pt``, installed inside the package)."""
    from importlib import resources

    if name not in SHIPPED_MODELS:
        raise ModelError(f"no shipped model {name!r}; use one of {', '.join(SHIPPED_MODELS)} or a path")
    try:
        folder = Path(str(resources.files("loco_cli.models")))
    except ModuleNotFoundError:  # run from a source tree without installing: the top-level models/
        folder = Path(__file__).resolve().parent.parent / "models"
    path = folder / f"{name}.pt"
    if not path.is_file():
        raise ModelError(f"the shipped {name} model is missing from this install ({path}); run `make models`")
    return path


def resolve_model_path(spec: str | os.PathLike | None) -> Path:
    """A model spec: ``None`` or a shipped name (``drums``/``piano``), a model file, or a run folder
    (its ``model.pt``)."""
    if spec is None:
        return shipped_model("drums")
    if str(spec) in SHIPPED_MODELS and not Path(spec).exists():
        return shipped_model(str(spec))
    path = Path(spec)
    if path.is_dir():
        for candidate in ("model.pt", "best.pt"):
            if (path / candidate).is_file():
                return path / candidate
        raise ModelError(f"{path}: no model.pt in this run folder; train it to the end or pass a .pt file")
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    return path


def load_model(spec: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> LoadedModel:
    """Load and verify a model file (see :func:`resolve_model_path` for ``spec``); eval mode."""
    from loco_cli.networks import build_model

    path = resolve_model_path(spec)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt zip, truncated file, pickled code: all "not a loco model"
        raise ModelError(f"{path}: not a readable loco model ({type(err).__name__}); retrain or re-download") from err
    if isinstance(payload, dict) and "model_payload" in payload:  # a run's last.pt
        payload = payload["model_payload"]
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise ModelError(f"{path}: not a loco model file (format {payload.get('format') if isinstance(payload, dict) else None!r})")
    if content_hash(payload) != payload.get("hash"):
        raise ModelError(f"{path}: content hash mismatch, the file is corrupt or was modified; retrain it")
    try:
        model_cfg = ModelConfig.from_dict(payload["model"])
        model = build_model(model_cfg)
        model.load_state_dict(payload["state_dict"])
    except (ValueError, RuntimeError, KeyError) as err:
        raise ModelError(f"{path}: incompatible with loco {__version__} ({err})") from err
    model.to(device).eval()
    return LoadedModel(
        model,
        list(payload["classes"]),
        FeatureConfig.from_dict(payload["features"]),
        DecodeConfig.from_dict(payload["decode"]),
        payload,
        path,
    )
