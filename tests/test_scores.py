import mir_eval
import numpy as np
import pytest

from loco_cli.annotations import Events
from loco_cli.scores import Counts, match_count, prf, score_track, summarise, timing_errors


def test_matches_mir_eval_f_measure_golden():
    rng = np.random.default_rng(7)
    for _ in range(20):
        ref = np.sort(rng.uniform(0, 10, rng.integers(1, 40)))
        est = np.sort(np.concatenate([ref + rng.normal(0, 0.03, ref.size), rng.uniform(0, 10, rng.integers(0, 10))]))
        est = est[rng.random(est.size) > 0.2]
        f, p, r = mir_eval.onset.f_measure(ref, est, window=0.05)
        ours = prf(match_count(ref, est, 0.05))
        assert ours == pytest.approx((p, r, f), abs=1e-12)


def test_window_is_respected():
    assert match_count([1.0], [1.049], 0.05).tp == 1
    assert match_count([1.0], [1.051], 0.05).tp == 0
    assert match_count([1.0], [1.019], 0.02).tp == 1


def test_mean_and_global_differ_as_documented():
    per_track = {
        "a": {"KD": Counts(1, 1, 1)},  # F 1.0
        "b": {"KD": Counts(0, 9, 0)},  # F 0.0
        "c": {"KD": Counts(0, 0, 0)},  # nothing to find, nothing found: skipped from the mean
    }
    rep = summarise(per_track, ["KD"])
    assert rep["classes"]["KD"]["mean"]["f1"] == pytest.approx(0.5)
    assert rep["classes"]["KD"]["mean"]["pairs"] == 2
    assert rep["classes"]["KD"]["global"]["f1"] == pytest.approx(2 * 1.0 * 0.1 / 1.1)


def test_score_track_per_class():
    ref = Events(np.array([0.1, 0.2, 0.5]), np.array(["KD", "SD", "KD"], dtype=object))
    est = Events(np.array([0.11, 0.52, 0.21]), np.array(["KD", "KD", "HH"], dtype=object))
    counts = score_track(ref, est, ["KD", "SD", "HH"])
    assert counts["KD"] == Counts(2, 2, 2) and counts["SD"] == Counts(0, 1, 0) and counts["HH"] == Counts(0, 0, 1)


def test_timing_errors_are_the_matched_offsets():
    ref = np.array([1.0, 2.0, 3.0, 4.0])
    est = np.array([1.004, 2.010, 2.98, 5.0])  # 5.0 unmatched, 4.0 missed
    err = timing_errors(ref, est, 0.05)
    assert err == pytest.approx([0.004, 0.010, -0.02])
    assert timing_errors(ref, [], 0.05).size == 0
    assert timing_errors(ref, [1.03], 0.02).size == 0
    assert len(timing_errors(ref, est, 0.05)) == match_count(ref, est, 0.05).tp


def test_eval_pairs_files_by_the_datasets_naming_rules(tmp_path):
    from loco_cli.engine import evaluate_paths, pair_annotation_files, track_key

    assert track_key("MusicDelta_Rock_Drum") == track_key("MusicDelta_Rock_class") == "MusicDelta_Rock"
    assert track_key("RealDrum01_00#MIX") == "RealDrum01_00" and track_key("plain") == "plain"
    pred, ref = tmp_path / "pred", tmp_path / "annotations" / "class"
    pred.mkdir()
    ref.mkdir(parents=True)
    for track in ("MusicDelta_Rock", "MusicDelta_Punk"):
        (ref / f"{track}_class.txt").write_text("0.500\tKD\n1.000\tSD\n")
    (pred / "MusicDelta_Rock_Drum.csv").write_text("time,label,confidence\n0.51,KD,0.9\n1.0,SD,0.8\n")
    (pred / "MusicDelta_Punk_MIX.csv").write_text("time,label,confidence\n0.5,KD,0.9\n")
    pairs, problems = pair_annotation_files(pred, ref)
    assert [p[0] for p in pairs] == ["MusicDelta_Punk", "MusicDelta_Rock"] and not problems
    res = evaluate_paths(pred, ref)
    assert res.report["overall"]["global"]["tp"] == 3
