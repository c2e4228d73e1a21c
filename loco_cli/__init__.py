"""loco: learn *when* events happen in audio from labels that only say *how many* happened.

The package is the shared core engine (pure functions over numpy arrays and torch tensors) plus a
thin Typer command-line layer in :mod:`loco_cli.cli`. Importing this package is cheap: torch,
librosa and the CLI libraries are imported only by the modules that need them.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "detect"]


def detect(audio, **kwargs):
    """Detect onsets in a file or an array: :func:`loco_cli.engine.detect` (see ``docs/api.md``).
    Defined here so that ``from loco_cli import detect`` stays cheap until it is called."""
    from loco_cli.engine import detect as _detect

    return _detect(audio, **kwargs)
