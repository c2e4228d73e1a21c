"""Helpers shared by the CLI commands: user errors as one line, option parsing, progress bars."""

from __future__ import annotations

import contextlib

import typer

from loco_cli.errors import InvalidOption, LocoError

#: Set by ``loco --verbose``: show tracebacks instead of one-line errors.
VERBOSE = {"on": False}


@contextlib.contextmanager
def fail_on_error(console):
    """Turn a :class:`LocoError` into ``error: <message>`` on stderr and its exit code, no traceback
    (``loco --verbose`` re-raises it with the traceback)."""
    from rich.text import Text

    try:
        yield
    except LocoError as err:
        if VERBOSE["on"]:
            raise
        console.print(Text.assemble(("error:", "red"), " ", str(err)), highlight=False, soft_wrap=True)
        raise typer.Exit(err.exit_code) from None


def use_thread_policy() -> int:
    """Set torch's and numba's threads for a command by :func:`loco_cli.threads.default_threads`
    (``loco --threads``, ``OMP_NUM_THREADS``, else the cores available); the count."""
    from loco_cli.threads import default_threads, set_threads

    n = default_threads()
    set_threads(n)
    return n


def default_jobs(limit: int = 4) -> int:
    """Worker processes for ``--jobs 0``: one per available core (affinity, cgroup quota), at most ``limit``."""
    from loco_cli.threads import available_cores

    return min(available_cores(), limit)


def parse_label_map(text: str) -> dict[str, str] | None:
    """Parse ``'raw=class,raw2=class'`` into a dict; empty text means no mapping."""
    if not text.strip():
        return None
    mapping = {}
    for item in text.split(","):
        if "=" not in item:
            raise InvalidOption(f"--labels: expected raw=class pairs separated by commas, got {item!r}")
        raw, cls = (part.strip() for part in item.split("=", 1))
        if not raw or not cls:
            raise InvalidOption(f"--labels: empty name in {item!r}")
        mapping[raw] = cls
    return mapping


def label_map_option(text: str) -> dict[str, str] | None:
    """``--labels``: a named map (``enst``, ``mdb``) or ``raw=class`` pairs; empty: the default."""
    from loco_cli.annotations import ENST_LABELS, MDB_LABELS

    presets = {"enst": ENST_LABELS, "mdb": MDB_LABELS}
    return presets[text.lower()] if text.lower() in presets else parse_label_map(text)


def split_list(text: str) -> list[str] | None:
    """``'a,b'`` -> ``['a', 'b']``; empty -> ``None``."""
    items = [c.strip() for c in text.split(",") if c.strip()]
    return items or None


def progress(console):
    """A rich progress bar with counts, rate and time left."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"), console=console, transient=False,
    )


def init_text(info: dict) -> str:
    """The line a run that starts from a model prints: which model (and why, when ``--init auto`` chose
    it: :func:`loco_cli.train.auto_init`) and which classes kept their output weights."""
    from loco_cli.train import SMALL_SET_SECONDS

    if info.get("auto"):
        head = (f"starting from the shipped {info['name']} model (--init auto: under {SMALL_SET_SECONDS / 60:.0f} "
                "minutes of training audio, where it beats random weights; --init none trains from random weights)")
    else:
        head = f"starting from --init {info['name']}"
    if info.get("member"):
        head += f" (an ensemble: its member {info['member']}, the best on validation)"
    return (f"{head}: kept {', '.join(info['kept']) or 'no classes'}"
            + (f"; new {', '.join(info['new'])}" if info["new"] else "")
            + (f"; dropped {', '.join(info['dropped'])}" if info["dropped"] else ""))
