"""The shared core engine: one function per command, returning result objects; nothing here prints.

Progress and per-file problems are reported through callbacks, so the CLI (or a notebook) decides
how to show them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from loco_cli.annotations import ANNOTATION_SUFFIXES, map_labels, read_events
from loco_cli.config import EVAL_WINDOW_S
from loco_cli.errors import InvalidAnnotation, InvalidOption
from loco_cli.scores import score_track, summarise

__all__ = ["EvalResult", "pair_annotation_files", "evaluate_paths"]


@dataclass
class EvalResult:
    """Scores of a batch evaluation plus what could not be scored and why."""

    report: dict
    classes: list[str]
    window: float
    problems: list[str] = field(default_factory=list)


def _annotation_files(folder: Path) -> dict[str, Path]:
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix.lower() in ANNOTATION_SUFFIXES and not path.name.startswith("."):
            files.setdefault(path.stem, path)
    return files


def pair_annotation_files(pred: Path, ref: Path) -> tuple[list[tuple[str, Path, Path]], list[str]]:
    """Pair prediction and reference files: two files, or two folders matched by file stem.

    Returns ``[(track, pred_file, ref_file)]`` and a list of problems (unmatched stems).
    """
    pred, ref = Path(pred), Path(ref)
    for p in (pred, ref):
        if not p.exists():
            raise InvalidOption(f"{p}: no such file or folder")
    if pred.is_file() and ref.is_file():
        return [(ref.stem, pred, ref)], []
    if pred.is_dir() != ref.is_dir():
        raise InvalidOption(f"{pred} and {ref}: give two files or two folders")
    preds, refs = _annotation_files(pred), _annotation_files(ref)
    pairs = [(stem, preds[stem], refs[stem]) for stem in sorted(refs) if stem in preds]
    problems = [f"{refs[s]}: no prediction with the stem {s!r} in {pred}" for s in sorted(refs) if s not in preds]
    problems += [f"{preds[s]}: no reference with the stem {s!r} in {ref}" for s in sorted(preds) if s not in refs]
    if not pairs:
        raise InvalidOption(f"{pred} and {ref}: no annotation files share a stem; name predictions after references")
    return pairs, problems


def evaluate_paths(
    pred: Path,
    ref: Path,
    *,
    window: float = EVAL_WINDOW_S,
    classes: list[str] | None = None,
    label_map: dict[str, str] | None = None,
    on_file: Callable[[str], None] | None = None,
) -> EvalResult:
    """Score predicted onsets against references (mir_eval onset matching within ``window`` seconds).

    ``label_map`` maps reference labels to classes (predictions are assumed to use class names
    already); ``classes`` defaults to every class found in the references. A file that cannot be read
    is reported in ``problems`` and the rest go on.
    """
    if window <= 0:
        raise InvalidOption(f"--window must be positive, got {window}")
    pairs, problems = pair_annotation_files(pred, ref)
    loaded = {}
    for track, pred_file, ref_file in pairs:
        try:
            ref_events, _ = map_labels(read_events(ref_file), label_map)
            est_events = read_events(pred_file)
        except InvalidAnnotation as err:
            problems.append(str(err))
            continue
        loaded[track] = (ref_events, est_events)
        if on_file:
            on_file(track)
    if not loaded:
        raise InvalidOption("no track could be scored: " + "; ".join(problems[:3]))
    if classes is None:
        classes = sorted({label for r, _ in loaded.values() for label in r.label_set})
    per_track = {t: score_track(r, e, classes, window) for t, (r, e) in loaded.items()}
    return EvalResult(summarise(per_track, classes), classes, window, problems)
