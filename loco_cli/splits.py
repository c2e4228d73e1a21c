"""Which tracks train, validate and test: ``loco prepare --split`` and the papers' protocols.

:func:`assign_splits` maps each track to ``train`` / ``val`` / ``test`` / ``unused``, seeded, so the same
tracks and seed always give the same split; :func:`class_presence` tells it which classes each track
holds, so the validation part can be stratified.
"""

from __future__ import annotations

import re

import numpy as np

from loco_cli.annotations import map_labels, read_events
from loco_cli.datasets import TrackRef
from loco_cli.errors import InvalidOption, LocoError

__all__ = ["DEFAULT_SPLIT", "DEFAULT_VAL_FRACTION", "DEFAULT_TEST_FRACTION", "MAPS_TEST_GROUPS", "assign_splits",
           "class_presence"]

DEFAULT_SPLIT = "random"
DEFAULT_VAL_FRACTION = 0.15
DEFAULT_TEST_FRACTION = 0.15
#: MAPS test instruments (the Disklavier recordings) of the standard split.
MAPS_TEST_GROUPS = ("ENSTDkCl", "ENSTDkAm")
_MAPS_PIECE = re.compile(r"MAPS_MUS-(.*)_[^_]+$")


def _piece_id(name: str) -> str:
    m = _MAPS_PIECE.match(name)
    return m.group(1) if m else name


def assign_splits(
    tracks: list[TrackRef], spec: str, *, seed: int = 0, val_fraction: float = DEFAULT_VAL_FRACTION,
    presence: dict[str, set[str]] | None = None,
) -> dict[str, str]:
    """Map track name -> ``train`` / ``val`` / ``test`` / ``unused`` according to ``spec``.

    * ``random``: seeded shuffle, 15 % test, ``val_fraction`` validation (at least one track each when
      there are three or more);
    * ``kfold:K:I``: tracks in K seeded folds, fold I (0-based) is the test set (Eval Random of Wu et
      al. 2018 is ``kfold:3:0..2``);
    * ``holdout:G1[,G2]``: tracks of these groups are the test set (IDMT Eval Subset
      ``holdout:RealDrum``, ENST leave-one-drummer-out ``holdout:drummer_1``);
    * ``maps``: test = ENSTDkCl + ENSTDkAm; training pieces that also occur in the test set are
      ``unused`` (Magenta / LoCo protocol);
    * ``none``: no test set.

    The validation part is always drawn (seeded) from the non-test tracks. With ``presence`` (track
    name -> the classes it has onsets of, :func:`class_presence`) it is stratified: a class that the
    drawn validation tracks lack gets the next training track that has it, as long as another training
    track keeps it, so checkpoint selection and calibration see every class they can (LoCo [1] §6.1
    validates per class).
    """
    names = sorted(t.name for t in tracks)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    order = [names[i] for i in rng.permutation(len(names))]
    split = dict.fromkeys(names, "train")
    kind, _, arg = spec.partition(":")
    if kind == "random":
        n_test = max(1, round(DEFAULT_TEST_FRACTION * len(names))) if len(names) >= 3 else 0
        for name in order[:n_test]:
            split[name] = "test"
    elif kind == "kfold":
        try:
            k, i = (int(x) for x in arg.split(":"))
        except ValueError as err:
            raise InvalidOption(f"--split {spec}: write kfold:K:I, e.g. kfold:3:0") from err
        if not 0 <= i < k or k < 2 or k > len(names):
            raise InvalidOption(f"--split {spec}: need 2 <= K <= {len(names)} tracks and 0 <= I < K")
        for j, name in enumerate(order):
            if j % k == i:
                split[name] = "test"
    elif kind == "holdout":
        groups = set(arg.split(","))
        known = {t.group for t in tracks}
        if not groups or not groups <= known:
            raise InvalidOption(f"--split {spec}: groups must be among {', '.join(sorted(known))}")
        for t in tracks:
            if t.group in groups:
                split[t.name] = "test"
    elif kind == "maps":
        test_pieces = {_piece_id(t.name) for t in tracks if t.group in MAPS_TEST_GROUPS}
        if not test_pieces:
            raise InvalidOption(f"--split maps: no {' or '.join(MAPS_TEST_GROUPS)} tracks found")
        for t in tracks:
            if t.group in MAPS_TEST_GROUPS:
                split[t.name] = "test"
            elif _piece_id(t.name) in test_pieces:
                split[t.name] = "unused"
    elif kind != "none":
        raise InvalidOption(f"--split {spec}: use random, kfold:K:I, holdout:GROUP, maps or none")
    pool = [n for n in order if split[n] == "train"]
    if len(pool) >= 2 and val_fraction > 0:
        val = pool[: max(1, round(val_fraction * len(pool)))]
        if presence:
            val = _cover_classes(val, pool, presence)
        for name in val:
            split[name] = "val"
    if not any(v == "train" for v in split.values()):
        raise InvalidOption(f"--split {spec}: leaves no training tracks")
    return split


def _cover_classes(val: list[str], pool: list[str], presence: dict[str, set[str]]) -> list[str]:
    """``val`` adjusted so that training keeps every class of ``pool`` (a validation track that holds the
    only onsets of a class goes back to training) and, for each class (rarest first) no validation
    track has, the first training track that has it joins, if another training track keeps the class;
    training keeps at least half the pool, validation at least one track."""
    val = list(val)
    classes = sorted({c for n in pool for c in presence.get(n, ())},
                     key=lambda c: (sum(c in presence.get(n, ()) for n in pool), c))
    for c in classes:
        if not any(c in presence.get(n, ()) for n in pool if n not in val):
            val = [n for n in val if c not in presence.get(n, ())]
    if not val:
        exclusive = {n for c in classes for n in pool if [m for m in pool if c in presence.get(m, ())] == [n]}
        val = [next((n for n in pool if n not in exclusive), pool[-1])]
    for c in classes:
        if any(c in presence.get(n, ()) for n in val):
            continue
        train = [n for n in pool if n not in val]
        having = [n for n in train if c in presence.get(n, ())]
        if len(having) >= 2 and len(train) - 1 >= (len(pool) + 1) // 2:
            val.append(having[0])
    return val


def class_presence(tracks: list[TrackRef], label_map: dict[str, str] | None, classes: list[str],
                   clips=None) -> dict[str, set[str]]:
    """The classes each track has at least one onset of: from its annotation files (a file that cannot
    be read counts as none: the track's own job reports it), or from the counts of a manifest's
    ``clips`` (tracks named as in :func:`prepare_dataset`)."""
    out: dict[str, set[str]] = {}
    if clips is not None:
        for clip in clips:
            name = "__".join(clip.audio.with_suffix("").parts[-2:])
            out.setdefault(name, set()).update(c for c in classes if clip.counts.get(c, 0) > 0)
        return out
    for t in tracks:
        found: set[str] = set()
        try:
            for path in (t.annotation, *t.more_annotations):
                if path is not None:
                    events, _ = map_labels(read_events(path), label_map)
                    found.update(c for c in classes if events.of(c).size)
        except (LocoError, OSError, ValueError):
            found = set()
        out[t.name] = found
    return out
