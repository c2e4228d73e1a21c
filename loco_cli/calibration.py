"""Calibration on validation tracks: per-class thresholds and latencies, and the checkpoint score.

Activations ``(T, C)`` of validation tracks and their reference onsets (seconds) in, a
:class:`~loco_cli.config.DecodeConfig` with ``thresholds`` and ``latency_s`` per class out
(:func:`calibrate`), and the one number that compares checkpoints (:func:`checkpoint_score`).

Small validation sets are the hard case (a class with a dozen hits, a key with three notes), so:

* a class with fewer than :data:`MIN_CALIBRATION_ONSETS` reference onsets takes the values pooled over
  all classes, and every other class's threshold is chosen with the pooled classes' F1 curve as a
  prior worth :data:`THRESHOLD_PRIOR_ONSETS` onsets;
* the latency is searched first over +-:data:`LATENCY_SEARCH_S`, far wider than the 50 ms match window
  (a model that fires 70 ms after each onset localises, and must not look like one that does not);
* each class's latency is then measured at the threshold the class will be decoded with (a model whose
  peaks stay under the base threshold of 0.5 still gets its latency measured), and shrunk toward the
  pooled classes' latency by the evidence behind it: ``n / (n + LATENCY_PRIOR_ONSETS)`` of the median
  offset of ``n`` matched pairs;
* the checkpoint score pools each class's F1 with the F1 of all classes, weighted as
  :data:`CHECKPOINT_PRIOR_ONSETS` onsets, so a class with three validation hits cannot swing it;
* a trained model's final calibration (:func:`calibrate_min_gap`) also chooses each class's minimum gap
  between two of its onsets from :data:`MIN_GAP_GRID_S`: a flam's grace note lies 12-28 ms before its main
  stroke, and both are annotated onsets.
"""

from __future__ import annotations

import numpy as np

from loco_cli.config import EVAL_WINDOW_S, DecodeConfig
from loco_cli.features import frames_to_seconds
from loco_cli.peaks import gap_frames, pick_peaks

__all__ = [
    "THRESHOLD_GRID",
    "MIN_CALIBRATION_ONSETS",
    "LATENCY_PRIOR_ONSETS",
    "LATENCY_SEARCH_S",
    "CHECKPOINT_PRIOR_ONSETS",
    "THRESHOLD_PRIOR_ONSETS",
    "MIN_GAP_GRID_S",
    "calibrate",
    "calibrate_min_gap",
    "coarse_latency",
    "checkpoint_score",
]

#: Threshold grid searched by :func:`calibrate`: down to 0.02 for models whose peaks are smeared
#: (framewise or smoothed losses on misaligned labels put well under one unit of mass per event).
THRESHOLD_GRID = (0.02, 0.03, 0.05, 0.07) + tuple(np.round(np.arange(0.1, 0.951, 0.05), 2))
#: A class with fewer validation onsets than this takes the pooled latency and threshold of all classes
#: (88 piano keys: most keys have a handful of notes in a validation split, too few to tune on).
MIN_CALIBRATION_ONSETS = 10
#: Prior weight, in reference onsets, of the pooled classes' F1-vs-threshold curve in each class's
#: threshold choice (:func:`calibrate`): a piano key with 20 validation notes mostly follows the pooled
#: optimum, a drum class with 1000 its own. Per-key thresholds tuned on a handful of notes fitted noise:
#: on the held-out piano the shipped model's note F1 went from 0.732 (no prior) to 0.749 with 100, the
#: drum model's held-out F1 did not move up to 300 (benchmarks/bench_calibration.py,
#: benchmarks/results/calibration.json).
THRESHOLD_PRIOR_ONSETS = 100.0
#: Prior weight, in matched onsets, of the pooled classes' latency ``L`` in a class's own: ``n`` matched
#: pairs whose offsets from ``L`` have median ``m`` give ``L + m * n / (n + LATENCY_PRIOR_ONSETS)``
#: (12 hits: 55 % of their own offset, 200 hits: 95 %). ``L`` is the coarse search's latency
#: (:data:`LATENCY_SEARCH_S`) plus the median offset from it of all classes' pairs.
LATENCY_PRIOR_ONSETS = 10
#: Latencies (s) searched, on a grid of one frame, before the thresholds are chosen: the offset of the
#: model's peaks from the onsets may be up to this, either way. A counts-trained piano model whose peaks
#: came 60-80 ms after the onsets validated at note F1 0.42 (latencies near zero) when only offsets
#: inside the 50 ms window were seen; with the search the same weights validate at 0.843
#: (docs/method.md, Calibration on validation tracks).
LATENCY_SEARCH_S = 0.25
#: The coarse search needs this many matched onsets at its best latency; with fewer it keeps zero.
MIN_LATENCY_PAIRS = 5
#: Prior weight, in reference onsets, of the all-classes F1 in each class's checkpoint F1.
CHECKPOINT_PRIOR_ONSETS = 10
#: Minimum gaps (s) between two onsets of one class that :func:`calibrate_min_gap` tries, besides the base
#: config's ``min_gap_s``. Two peaks closer than the gap keep the stronger, so a gap of 25 ms (the
#: default, :class:`~loco_cli.config.DecodeConfig`) can find only one stroke of a flam (a grace note 12-28 ms
#: before the main stroke, both annotated). The shipped drum model's calibration keeps 25 ms for kicks and
#: hi-hats and takes 10 ms for snares (held-out: docs/real-audio.md, benchmarks/results/min_gap.json).
MIN_GAP_GRID_S = (0.025, 0.02, 0.015, 0.01)


def _f1(tp: np.ndarray, n_est: np.ndarray, n_ref: float) -> np.ndarray:
    return np.where(n_est + n_ref > 0, 2 * tp / np.maximum(n_est + n_ref, 1), 0.0)


def _best_threshold(tp_g: np.ndarray, est_g: np.ndarray, ref: float, grid: np.ndarray,
                    prior: tuple[np.ndarray, np.ndarray, float] | None = None) -> int:
    """Index of the grid threshold with the highest F1; ties go to the threshold nearest 0.5.

    ``prior = (tp_rate (grid,), est_rate (grid,), k)`` adds ``k`` pseudo-onsets that behave like the
    pooled classes' onsets (``tp_rate`` hits and ``est_rate`` detections per reference onset at each
    threshold) to the class's counts: a class with few onsets follows the pooled optimum, one with many
    its own."""
    if prior is not None:
        tp_rate, est_rate, k = prior
        tp_g, est_g, ref = tp_g + k * tp_rate, est_g + k * est_rate, ref + k
    f1 = _f1(tp_g, est_g, ref)
    top = np.flatnonzero(f1 >= f1.max() - 1e-12)
    return int(top[np.argmin(np.abs(grid[top] - 0.5))])


def _covered(a: np.ndarray, b: np.ndarray, lags: np.ndarray, window: float) -> np.ndarray:
    """``(lags,)``: how many times ``t`` of sorted ``a`` have a time of sorted ``b`` within ``window`` of
    ``t + lag``, for each lag (s)."""
    q = a[None, :] + lags[:, None]  # (L, A)
    i = np.searchsorted(b, q)
    right = np.abs(b[np.minimum(i, b.size - 1)] - q)
    left = np.abs(b[np.maximum(i - 1, 0)] - q)
    return (np.minimum(left, right) <= window).sum(1)


def coarse_latency(
    peaks: list[list[list[np.ndarray]]],
    refs: list[list[np.ndarray]],
    fps: float,
    window: float = EVAL_WINDOW_S,
    search_s: float = LATENCY_SEARCH_S,
) -> tuple[float, int]:
    """The offset (s) of the model's peaks from the reference onsets, searched over ``+-search_s`` on a
    grid of one frame, pooled over classes: the (threshold, lag) pair whose F1 is highest when each
    track's hits are counted as ``min(onsets with a peak within window of onset + lag, peaks with an
    onset within window of peak - lag)`` (an upper bound of the one-to-one matching that costs one
    sorted search per class, threshold and track). Of the best lags, the middle of the run of equal F1
    around the one nearest zero.

    ``peaks[c][g][k]``: peak times (s, ascending) of class ``c`` at threshold index ``g`` on track ``k``;
    ``refs[k][c]``: reference onsets (s, any order). Returns ``(lag in s, threshold index)``, ``(0.0, -1)`` when no
    lag gathers :data:`MIN_LATENCY_PAIRS` hits.
    """
    n = int(np.ceil(search_s * fps - 1e-9))
    lags = np.arange(-n, n + 1) / fps
    order = np.argsort(np.abs(lags), kind="stable")  # ties: the run nearest zero
    refs = [[np.sort(r[c]) for c in range(len(peaks))] for r in refs]  # the sorted search needs sorted onsets
    n_ref = sum(r[c].size for r in refs for c in range(len(peaks)))
    best, best_at = -1.0, (0.0, -1)
    for g in range(len(peaks[0]) if peaks else 0):
        hits = np.zeros(lags.size)
        n_est = 0
        for c in range(len(peaks)):
            for k, est in enumerate(peaks[c][g]):
                ref = refs[k][c]
                n_est += est.size
                if est.size and ref.size:
                    hits += np.minimum(_covered(ref, est, lags, window), _covered(est, ref, -lags, window))
        f1 = 2 * hits / max(n_est + n_ref, 1)
        j = order[np.argmax(f1[order])]
        if hits[j] >= MIN_LATENCY_PAIRS and f1[j] > best + 1e-12:
            # the centre of the plateau around the best lag (peaks 15 ms late match every lag within the
            # window of 15 ms: the middle of that run, not its end nearest zero)
            top = f1 >= f1[j] - 1e-12
            lo, hi = j, j
            while lo > 0 and top[lo - 1]:
                lo -= 1
            while hi < lags.size - 1 and top[hi + 1]:
                hi += 1
            best, best_at = float(f1[j]), (float(lags[(lo + hi) // 2]), g)
    return best_at


def calibrate(
    tracks: list[tuple[np.ndarray, list[np.ndarray]]],
    classes: list[str],
    fps: float,
    base: DecodeConfig,
    *,
    window: float = EVAL_WINDOW_S,
    prior_onsets: float = THRESHOLD_PRIOR_ONSETS,
) -> tuple[DecodeConfig, dict]:
    """Choose each class's threshold and measure its latency on validation tracks.

    ``tracks``: ``[(probs (T, C), reference onset times per class (s))]``; ``base`` gives the peak
    picking (each class's minimum gap, :meth:`~loco_cli.config.DecodeConfig.class_min_gaps`). A latency search, then three passes over :data:`THRESHOLD_GRID` (Liu [2] §3.1.2 chooses the
    threshold maximising F1 on validation):

    0. the pooled classes' latency, searched over ``+-LATENCY_SEARCH_S`` (:func:`coarse_latency`), so
       that passes 1 and 2 match peaks to onsets with it removed, however far it lies outside ``window``;
    1. each class's threshold maximising its F1 summed over tracks, at the coarse latency, with ``prior_onsets``
       pseudo-onsets that behave like the pooled classes' onsets added to its counts (a prior that
       pulls a class with few onsets toward the pooled threshold; 0: the class's own F1 only);
    2. its latency at that threshold: the pooled latency ``L`` (the coarse one plus the median offset
       from it of all classes' pairs) plus the median offset from ``L`` of the class's own ``n`` matched
       pairs times ``n / (n + LATENCY_PRIOR_ONSETS)`` (shrinkage toward ``L``; a class with fewer than
       :data:`MIN_LATENCY_PAIRS` pairs takes ``L``);
    3. the threshold again, with that latency removed.

    Classes with fewer than :data:`MIN_CALIBRATION_ONSETS` reference onsets take the pooled values: the
    threshold maximising the F1 of all classes' onsets together and the pooled latency ``L`` (fewer than
    :data:`MIN_LATENCY_PAIRS` pairs in all: the searched latency, itself zero when the search found no lag). Returns the new config and a report ``{class: {"latency_s", "threshold", "f1",
    "onsets", "hits", "detections", "latency_pairs", "pooled"}}``: ``f1``, ``hits`` (matched onsets) and
    ``detections`` at the chosen threshold and latency (``f1`` 0 for a class without onsets or
    detections), ``latency_pairs`` the class's own matched pairs at its threshold (its latency's evidence
    unless ``pooled``).
    """
    import mir_eval

    n_cls, grid = len(classes), np.asarray(THRESHOLD_GRID)
    min_gaps = [gap_frames(g, fps) for g in base.class_min_gaps(n_cls)]
    n_ref = np.array([sum(refs[c].size for _, refs in tracks) for c in range(n_cls)], dtype=float)
    own = n_ref >= MIN_CALIBRATION_ONSETS
    # peaks (seconds, latency zero) per class, threshold and track, matched in every pass. Picked once per
    # class and track, at the lowest threshold: the peaks at a higher one are exactly those whose strength
    # s_t reaches it (a weaker peak never suppresses a stronger one; tested against pick_peaks)
    peaks: list[list[list[np.ndarray]]] = [[[] for _ in grid] for _ in range(n_cls)]
    for c in range(n_cls):
        for p, _ in tracks:
            pos, strength = pick_peaks(p[:, c], float(grid[0]), min_gaps[c], cap=False)
            times = frames_to_seconds(pos, fps)
            for g, thr in enumerate(grid):
                peaks[c][g].append(times[strength >= thr])
    n_est = np.array([[sum(e.size for e in peaks[c][g]) for g in range(grid.size)] for c in range(n_cls)], dtype=float)

    def pairs(c: int, g: int, lat: float) -> list[float]:
        """``detected - latency - reference`` of the pairs matched at threshold index ``g``."""
        out: list[float] = []
        for (_, refs), est in zip(tracks, peaks[c][g], strict=True):
            if not (est.size and refs[c].size):
                continue
            est = est - lat
            out += [est[j] - refs[c][i] for i, j in mir_eval.util.match_events(refs[c], est, window)]
        return out

    def choose(lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Threshold index per class, and hits ``(C, grid)``, with latencies ``lat`` removed."""
        tp = np.array([[len(pairs(c, g, lat[c])) for g in range(grid.size)] for c in range(n_cls)], dtype=float)
        pooled = _best_threshold(tp.sum(0), n_est.sum(0), float(n_ref.sum()), grid)
        total = max(float(n_ref.sum()), 1.0)
        prior = (tp.sum(0) / total, n_est.sum(0) / total, float(prior_onsets)) if prior_onsets > 0 else None
        return np.array([_best_threshold(tp[c], n_est[c], n_ref[c], grid, prior) if own[c] else pooled
                         for c in range(n_cls)]), tp

    def shrunk(diffs: list[float] | np.ndarray) -> float:
        n = len(diffs)
        return float(np.median(diffs)) * n / (n + LATENCY_PRIOR_ONSETS) if n >= MIN_LATENCY_PAIRS else 0.0

    coarse, _ = coarse_latency(peaks, [refs for _, refs in tracks], fps, window)
    chosen, _ = choose(np.full(n_cls, coarse))
    diffs = [np.asarray(pairs(c, chosen[c], coarse)) for c in range(n_cls)]  # offsets from the coarse latency
    every = np.concatenate(diffs)
    pooled_lat = coarse + (float(np.median(every)) if every.size >= MIN_LATENCY_PAIRS else 0.0)
    lat = np.array([pooled_lat + shrunk(diffs[c] - (pooled_lat - coarse)) if own[c] and diffs[c].size >= MIN_LATENCY_PAIRS
                    else pooled_lat for c in range(n_cls)])
    chosen, tp = choose(lat)
    report: dict = {}
    for c, name in enumerate(classes):
        g = chosen[c]
        report[name] = {"latency_s": round(float(lat[c]), 6), "threshold": float(grid[g]),
                        "f1": round(float(_f1(tp[c, g], n_est[c, g], n_ref[c])), 4), "onsets": int(n_ref[c]),
                        "hits": int(tp[c, g]), "detections": int(n_est[c, g]), "latency_pairs": len(diffs[c]),
                        "pooled": bool(not own[c])}
    cfg = base.replace(thresholds=tuple(float(grid[g]) for g in chosen),
                       latency_s=tuple(round(float(x), 6) for x in lat))
    return cfg, report


def checkpoint_score(report: dict, classes: list[str]) -> tuple[float, dict[str, float]]:
    """The validation score that compares checkpoints, from a :func:`calibrate` report.

    Each class with reference onsets contributes its F1 pooled with the all-classes F1 ``F``:
    ``(n_c F1_c + k F) / (n_c + k)`` with ``n_c`` its onsets and ``k =``
    :data:`CHECKPOINT_PRIOR_ONSETS`; the score is the mean over those classes (a class absent from
    validation does not count). Returns ``(score, {class: its own F1})``.
    """
    tp, est, ref = (sum(report[c][k] for c in classes) for k in ("hits", "detections", "onsets"))
    pooled = 2 * tp / (est + ref) if est + ref else 0.0
    own = {c: report[c]["f1"] for c in classes if report[c]["onsets"]}
    k = CHECKPOINT_PRIOR_ONSETS
    terms = [(report[c]["onsets"] * f + k * pooled) / (report[c]["onsets"] + k) for c, f in own.items()]
    return (float(np.mean(terms)) if terms else 0.0), own


def calibrate_min_gap(
    tracks: list[tuple[np.ndarray, list[np.ndarray]]],
    classes: list[str],
    fps: float,
    base: DecodeConfig,
    *,
    gaps: tuple[float, ...] = MIN_GAP_GRID_S,
    window: float = EVAL_WINDOW_S,
    prior_onsets: float = THRESHOLD_PRIOR_ONSETS,
) -> tuple[DecodeConfig, dict]:
    """:func:`calibrate` with each class's minimum gap between two onsets chosen too, from ``gaps`` and the
    base config's gaps (seconds).

    :func:`calibrate` runs once per candidate gap, every class at that gap (gaps that round to the same
    number of frames at ``fps`` once, as the largest of them). The gap of all classes pooled, ``g*``, is the
    one with the highest :func:`checkpoint_score`. Each class with its own calibration (not ``pooled``)
    then takes the gap maximising ``(n F1_c + k F_all) / (n + k)``: its own F1 at that gap's threshold and
    latency, ``n`` its onsets, pooled with the F1 ``F_all`` of all classes at that gap, worth ``k =
    prior_onsets`` onsets (as the threshold prior: a piano key with a dozen notes mostly follows ``g*``, a
    drum class with a thousand its own); a pooled class takes ``g*``. Ties go to the larger gap, which
    suppresses more doubled peaks on audio unlike the validation tracks. Each class's threshold and latency
    are those of the calibration at its gap. Returns the config (``min_gap_s = g*``, ``min_gaps_s`` per
    class) and the per-class report (:func:`calibrate`'s, at each class's gap, with ``"min_gap_s"`` added).
    """
    candidates = sorted({float(g) for g in (*gaps, base.min_gap_s, *base.min_gaps_s)}, reverse=True)
    runs: list[tuple[float, float, float, DecodeConfig, dict]] = []  # (gap, score, F_all, cfg, report)
    seen: set[int] = set()
    for gap in candidates:
        frames = gap_frames(gap, fps)
        if frames in seen:
            continue
        seen.add(frames)
        cfg, report = calibrate(tracks, classes, fps, base.replace(min_gap_s=gap, min_gaps_s=()), window=window,
                                prior_onsets=prior_onsets)
        score, _ = checkpoint_score(report, classes)
        tp, est, ref = (sum(report[c][k] for c in classes) for k in ("hits", "detections", "onsets"))
        runs.append((gap, score, 2 * tp / (est + ref) if est + ref else 0.0, cfg, report))

    def first_best(values: list[float]) -> int:  # the largest gap among the best (runs go from large to small)
        best = 0
        for i, v in enumerate(values):
            if v > values[best] + 1e-9:
                best = i
        return best

    pooled = first_best([r[1] for r in runs])
    chosen = []
    for name in classes:
        entry = runs[pooled][4][name]
        if entry["pooled"] or not entry["onsets"]:
            chosen.append(pooled)
            continue
        n, k = entry["onsets"], float(prior_onsets)
        chosen.append(first_best([(n * r[4][name]["f1"] + k * r[2]) / (n + k) for r in runs]))
    cfg = base.replace(min_gap_s=runs[pooled][0], min_gaps_s=tuple(runs[i][0] for i in chosen),
                       thresholds=tuple(runs[i][3].thresholds[c] for c, i in enumerate(chosen)),
                       latency_s=tuple(runs[i][3].latency_s[c] for c, i in enumerate(chosen)))
    report = {name: {**runs[i][4][name], "min_gap_s": runs[i][0]} for name, i in zip(classes, chosen, strict=True)}
    return cfg, report
