"""Errors a user can cause.

Every exception in this module carries a one-line message that names the offending file or option
and says how to fix it. The CLI turns them into that line on stderr and a non-zero exit code, with
no traceback (unless ``--verbose``). Library code raises them; it never prints.
"""

from __future__ import annotations


class LocoError(Exception):
    """Base class of user-facing errors; ``str(err)`` is the one line shown to the user."""

    exit_code = 2


class InvalidAudio(LocoError):
    """An audio file is missing, unreadable, empty, silent, non-finite or otherwise unusable."""


class InvalidAnnotation(LocoError):
    """An annotation file is missing, malformed, or uses labels outside the label map."""


class InvalidOption(LocoError):
    """A command-line option or configuration value is out of range or inconsistent."""


class ModelError(LocoError):
    """A model file is missing, corrupt (hash mismatch) or incompatible with the request."""


class DatasetError(LocoError):
    """A dataset folder is missing, has the wrong layout, or would be overwritten."""


class ConfigError(InvalidOption, ValueError):
    """A configuration value (recipe, option, config field) is out of range or inconsistent. Also a
    :class:`ValueError`, as invalid arguments to a dataclass are in Python."""
