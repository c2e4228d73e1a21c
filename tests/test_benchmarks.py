"""The benchmark harness's bookkeeping (no training here) and the generated benchmarks page."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_benchmarks_page_is_generated_from_the_results():
    report = _module("report")
    page = (BENCH.parent / "docs" / "benchmarks.md").read_text()
    assert page == report.render(BENCH / "results"), "docs/benchmarks.md is stale: run python benchmarks/report.py"


def test_plan_covers_the_rows_and_chains_teachers():
    acc = _module("bench_accuracy")
    for mode in ("quick", "full", "smoke"):
        specs = acc.plan(acc.MODES[mode], ["weak", "misalign", "secost"], seeds=3)
        keys = [s.key for s in specs]
        assert len(keys) == len(set(keys))
        cfg = acc.MODES[mode]
        weak = [s for s in specs if s.experiment == "weak"]
        assert len(weak) == 3 * len(cfg["protocols"]) * len(cfg["weak_losses"])
        mis = [s for s in specs if s.experiment == "misalign"]
        assert len(mis) == 3 * len(cfg["sigmas_ms"]) * len(cfg["misalign_losses"])
        assert all(s.data == "drums-random" for s in mis if s.row.endswith("/0"))
        for s in specs:
            if s.experiment == "secost":
                stage = int(s.row.split("stage")[1])
                assert (s.teacher is None) == (stage == 0)
                if stage:
                    assert s.teacher == s.key.replace(f"stage{stage}", f"stage{stage - 1}")
                    assert s.loss_overrides == {"teacher_weight": acc.TEACHER_WEIGHT}
        smooth = [s for s in specs if s.row.startswith("smooth/")]
        assert all(s.loss == "softloc" and s.loss_overrides["alpha_max"] == 0.0 for s in smooth)


def test_aggregate_gives_mean_and_spread_over_seeds():
    acc = _module("bench_accuracy")

    def result(seed, f1):
        cls = {"precision": f1, "recall": f1, "f1": f1, "f1_20ms": f1 / 2, "timing_std_ms": 3.0, "n_ref": 10}
        return {"spec": {"experiment": "weak", "row": "random/loco", "seed": seed, "steps": 10, "loss": "loco"},
                "train_seconds": 1.0, "scores": {"classes": {"KD": cls},
                                                 "overall": {"f1": f1, "f1_20ms": f1 / 2, "macro_f1": f1,
                                                             "timing_std_ms": 3.0}}}

    table = acc.aggregate([result(0, 0.8), result(1, 0.9), result(2, 1.0)])
    row = table["weak"]["random/loco"]
    assert row["overall"]["f1"]["mean"] == pytest.approx(0.9)
    assert row["overall"]["f1"]["std"] == pytest.approx(0.1)
    assert row["classes"]["KD"]["f1_20ms"]["mean"] == pytest.approx(0.45)
    assert row["seeds"] == [0, 1, 2]
