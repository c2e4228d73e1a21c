"""Files under a folder, the one way loco searches folders (datasets, audio to detect or count, sample
folders, scores, annotations)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["walk_files"]


def walk_files(folder: str | os.PathLike, suffixes: tuple[str, ...] | None = None) -> list[Path]:
    """Every file under ``folder`` (recursively, sorted by path), descending into symlinked folders too (a
    dataset assembled from links to other disks is read whole; ``Path.rglob`` skips such folders), each real
    folder once, so a link back up the tree does not loop. Names starting with ``.`` are left out; with
    ``suffixes`` (lower case, with the dot) only files whose suffix, lower-cased, is one of them."""
    out, seen = [], set()
    for top, dirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(top)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if name.startswith(".") or (suffixes is not None and Path(name).suffix.lower() not in suffixes):
                continue
            path = Path(top) / name
            if path.is_file():
                out.append(path)
    return sorted(out)
