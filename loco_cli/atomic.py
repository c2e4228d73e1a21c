"""Writing files so that a reader, a second writer or a kill never sees half of one.

Every file loco writes goes through :func:`atomic_path`: the data go to a hidden temporary file in the
same folder, named ``.NAME.tmp-PID-HOST-XXXX`` (the writing process and machine), which is renamed onto
``NAME`` once complete (``os.replace``, atomic on POSIX). Two processes writing the same output each
write their own temporary file, and the last rename wins with a complete file. Folders are built the
same way (:func:`sibling_temp_dir`, ``.NAME.TAGtmp-PID-HOST-XXXX``).

A process killed mid-write (SIGKILL, power loss) leaves its temporary file behind. The first time a
process writes into a folder, it removes the temporary files and folders of that pattern that this
machine wrote and whose process no longer runs (:func:`remove_stale_temps`), so they do not pile up.
Those of other machines (a folder shared over the network) are left alone: their process ids mean
nothing here.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "remove_stale_temps", "sibling_temp_dir",
           "replace_folder"]

#: Name of a temporary file or folder: ``.NAME.`` + optional tag + ``tmp-PID-HOST-`` + random part
#: (+ suffix).
TEMP_NAME = re.compile(r"\.(?P<name>.+?)\.[A-Za-z0-9_.]*?tmp-(?P<pid>\d+)-(?P<host>[A-Za-z0-9_.]+)-[^/]+")

_cleaned: set[str] = set()
_lock = threading.Lock()


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: The process's umask, read once at import (reading it means setting it, which races with threads).
_UMASK = _read_umask()


def _host() -> str:
    """This machine's name as it appears in temporary names (no ``-`` or ``/``)."""
    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "host"


def _temp_prefix(path: Path, tag: str = "") -> str:
    return f".{path.name}.{tag}tmp-{os.getpid()}-{_host()}-"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temps(folder: str | os.PathLike, *, once: bool = True) -> list[Path]:
    """Remove the temporary files and folders (:data:`TEMP_NAME`) in ``folder`` that this machine wrote
    and whose writing process no longer runs; returns what was removed. With ``once`` (the default) a
    process scans each folder only the first time, so a batch writing thousands of files lists the
    folder once, not once per file."""
    folder = Path(folder)
    key = str(folder.resolve())
    with _lock:
        if once and key in _cleaned:
            return []
        _cleaned.add(key)
    removed, host = [], _host()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = TEMP_NAME.fullmatch(entry.name)
        if m is None or m.group("host") != host or _alive(int(m.group("pid"))):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:  # gone meanwhile, or not ours to remove
            pass
    return removed


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path to write ``path``'s content to; on leaving the block without an exception it is
    renamed onto ``path`` (with the permissions of a normal new file), otherwise deleted. The
    temporary name keeps ``path``'s suffix, so writers that pick a format from it (matplotlib) work."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path.parent)
    fd, name = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; outputs get the usual permissions
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (:func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def sibling_temp_dir(path: str | os.PathLike, tag: str = "") -> Path:
    """A new hidden temporary folder next to ``path`` (same file system, so it can be renamed onto
    ``path``), named ``.NAME.TAGtmp-PID-HOST-XXXX``, with the permissions of a normal new folder (``mkdtemp``
    alone would make it 0700). The stale temporary files and folders beside it are removed first."""
    path = Path(path)
    parent = path.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(parent, once=False)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(path, tag), dir=parent))
    os.chmod(tmp, 0o777 & ~_UMASK)
    return tmp


def replace_folder(tmp: str | os.PathLike, out: str | os.PathLike) -> None:
    """Put the finished folder ``tmp`` (a :func:`sibling_temp_dir` of ``out``) at ``out`` with renames
    only: a previous ``out`` is first renamed aside, then removed, so ``out`` never holds half of
    either."""
    import shutil

    tmp, out = Path(tmp), Path(out)
    if out.exists():
        trash = sibling_temp_dir(out, "old.")
        os.replace(out, trash / "old")
        os.replace(tmp, out)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(tmp, out)
