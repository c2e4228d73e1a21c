"""Where the work runs: the torch device a command asked for, and worker processes for batches."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import torch

from loco_cli.errors import InvalidOption

__all__ = ["resolve_device", "process_pool"]


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else CPU; ``cuda`` without a GPU is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidOption("--device cuda: no CUDA device is available here; use --device cpu or auto")
    try:
        return torch.device(name)
    except RuntimeError as err:
        raise InvalidOption(f"--device {name}: {err}") from err


def process_pool(workers: int, initializer: Callable | None = None, initargs: tuple = ()) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes for a batch (``loco prepare --jobs``, ``loco detect --jobs``):
    forked where the platform allows it, as torch's DataLoader does on Linux (no re-import of the
    caller's main module, the parent's loaded model and filterbanks shared copy-on-write), else
    spawned. ``initializer(*initargs)`` runs once in each worker."""
    import multiprocessing as mp

    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context(method), initializer=initializer,
                               initargs=initargs)
