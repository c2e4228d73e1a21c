"""The benchmark harness's bookkeeping (no training here) and the generated benchmarks page."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
ROOT = BENCH.parent


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
        specs = acc.plan(acc.MODES[mode], ["weak", "misalign", "secost", "piano"], seeds=3)
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


def test_piano_plan_has_an_all_keys_model_and_merged_bands():
    acc = _module("bench_accuracy")
    specs = acc.plan(acc.MODES["quick"], ["piano"], seeds=3)
    assert len([s for s in specs if s.row == "one model"]) == 3
    merged = [s for s in specs if s.members]
    assert len(merged) == 3 and all(s.row == "10-key bands" and s.data == "piano-all" for s in merged)
    bands = [s for s in specs if s.experiment == "piano-bands"]
    assert len(bands) == 3 * 4 and set(merged[0].members) == {s.key for s in bands if s.seed == 0}
    for mode, n in (("quick", 4), ("full", 9), ("smoke", 2)):
        lo, hi = acc.MODES[mode]["piano_keys"]
        starts = acc.piano_bands(acc.MODES[mode])
        covered = sorted(int(k) for b in starts for k in acc.band_keys(b, hi))
        assert len(starts) == n and covered == list(range(lo, hi + 1))  # the bands cover the range once


def test_merged_band_models_are_scored_as_one_transcription(tmp_path, monkeypatch):
    """Members over disjoint keys: their detections are united per track before scoring."""
    import types

    import loco_cli.checkpoint
    import loco_cli.detection
    from loco_cli.corpus import write_corpus
    from loco_cli.prepare import prepare_dataset
    from loco_cli.prepared import load_prepared

    acc = _module("bench_accuracy")
    write_corpus("piano", tmp_path / "c", n_tracks=2, duration=4.0, seed=3)
    prepare_dataset(tmp_path / "c", tmp_path / "all", preset="piano", split="none")
    ref = load_prepared(tmp_path / "all")
    keys = sorted({label for n in ref.split_tracks("train") for label in ref.reference(n).labels}, key=int)
    lo_keys, hi_keys = keys[: len(keys) // 2], keys[len(keys) // 2 :]
    for name, sub in (("lo", lo_keys), ("hi", hi_keys)):
        prepare_dataset(tmp_path / "c", tmp_path / name, preset="piano", split="none", classes=sub)

    def perfect(model, data, names, cfg, **kw):  # a detector that returns its dataset's reference
        for n in names:
            yield n, None, data.reference(n)

    monkeypatch.setattr(loco_cli.detection, "detect_tracks", perfect)
    monkeypatch.setattr(loco_cli.checkpoint, "load_model", lambda p: types.SimpleNamespace(model=None, decode=None))
    both = acc.evaluate_run(Path(), tmp_path / "all", "train", [(Path("a"), tmp_path / "lo"), (Path("b"), tmp_path / "hi")])
    assert both["overall"]["f1"] == 1.0 and both["overall"]["note_f1"] == 1.0
    half = acc.evaluate_run(Path(), tmp_path / "all", "train", [(Path("a"), tmp_path / "lo")])
    n_lo = sum(half["classes"][k]["n_ref"] for k in lo_keys)
    n_all = sum(v["n_ref"] for v in half["classes"].values())
    assert half["overall"]["f1"] == pytest.approx(2 * n_lo / (n_lo + n_all))  # precision 1, recall n_lo / n_all


@pytest.mark.slow
def test_seed_and_library_benchmarks_end_to_end(tmp_path, tiny_recipe):
    """bench_seeds.py trains every seed of every variant and scores each test set; bench_libraries.py scores
    model files and merges those rows (a few steps of a tiny model: the bookkeeping, not the accuracy)."""
    import json
    import subprocess

    from loco_cli.corpus import write_corpus
    from loco_cli.prepare import prepare_dataset

    write_corpus("drums", tmp_path / "train", n_tracks=3, duration=4.0, seed=2)
    write_corpus("drums", tmp_path / "test", n_tracks=2, duration=4.0, seed=3)
    prepare_dataset(tmp_path / "train", tmp_path / "prep", split="none")
    env = {"OMP_NUM_THREADS": "1", **__import__("os").environ}
    subprocess.run([sys.executable, str(BENCH / "bench_seeds.py"), "--data", str(tmp_path / "prep"),
                    "--test", f"a={tmp_path / 'test'}", "--variant", f"x={tiny_recipe}",
                    "--variant", f"y={tiny_recipe}@ce", "--seeds", "2", "--steps", "2",
                    "--work", str(tmp_path / "w"), "--json", str(tmp_path / "s.json")], check=True, env=env,
                   capture_output=True)
    doc = json.loads((tmp_path / "s.json").read_text())
    assert set(doc["variants"]) == {"x", "y"} and doc["environment"]["torch"]
    assert [r["seed"] for r in doc["variants"]["x"]["runs"]] == [0, 1]
    assert doc["variants"]["y"]["runs"][0]["loss"] == "ce" and doc["variants"]["x"]["a_mean_f1"]["n"] == 2
    # a test set added later: scored with each run's saved model, nothing trained again
    model = tmp_path / "w" / "x-s0" / "train" / "model.pt"
    stamp = model.stat().st_mtime_ns
    subprocess.run([sys.executable, str(BENCH / "bench_seeds.py"), "--data", str(tmp_path / "prep"),
                    "--test", f"a={tmp_path / 'test'}", "--test", f"b={tmp_path / 'test'}", "--variant", f"x={tiny_recipe}",
                    "--seeds", "2", "--steps", "2", "--work", str(tmp_path / "w"), "--json", str(tmp_path / "s2.json")],
                   check=True, env=env, capture_output=True)
    again = json.loads((tmp_path / "s2.json").read_text())["variants"]["x"]
    assert model.stat().st_mtime_ns == stamp and again["b_global_f1"]["n"] == 2
    assert [r["tests"]["b"] for r in again["runs"]] == [r["tests"]["a"] for r in again["runs"]]
    assert [r["tests"]["a"] for r in again["runs"]] == [r["tests"]["a"] for r in doc["variants"]["x"]["runs"]]
    subprocess.run([sys.executable, str(BENCH / "bench_libraries.py"), "--test", f"a={tmp_path / 'test'}",
                    "--model", f"m={tmp_path / 'w' / 'x-s0' / 'train'}:a tiny model", "--seeds-json",
                    str(tmp_path / "s.json"), "--work", str(tmp_path / "l"), "--json", str(tmp_path / "l.json")],
                   check=True, env=env, capture_output=True)
    lib = json.loads((tmp_path / "l.json").read_text())
    assert set(lib["variants"]) == {"m", "x", "y"} and lib["variants"]["m"]["recipe"] == "a tiny model"
    assert "NaN" not in (tmp_path / "l.json").read_text()
    rows = _module("report").seeds_rows(lib)
    assert len(rows) == 3 and rows[0].startswith("| m | a tiny model | a |")


def test_piano_bench_merge_keeps_earlier_rows_with_their_command(tmp_path, monkeypatch):
    """``bench_piano.py --merge``: rows of an earlier result that this run does not score are kept (with the
    command that scored them), rows it scores are replaced; a further test set is added beside the earlier
    ones (earlier rows keep only theirs); a test set of the same name on other files refuses to merge."""
    import json

    bench = _module("bench_piano")
    monkeypatch.setattr(bench, "environment", lambda device: {"python": "3"})
    monkeypatch.setattr(bench, "score", lambda model, folder, scales: {"note_f1": len(model) / 100})
    out = tmp_path / "r.json"

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["bench_piano.py", "--test", "s=T", *args, "--json", str(out)])
        bench.main()
        return json.loads(out.read_text())

    first = run("--model", "a=aa:first", "--model", "b=bbb")
    assert list(first["models"]) == ["a", "b"] and "command" not in first["models"]["a"]
    second = run("--model", "b=bbbbb:again", "--model", "c=c", "--merge", str(out))
    assert list(second["models"]) == ["a", "b", "c"]
    assert second["models"]["a"]["command"] == first["command"] and second["models"]["a"]["tests"]["s"]["note_f1"] == 0.02
    assert second["models"]["b"]["tests"]["s"]["note_f1"] == 0.05 and second["models"]["b"]["command"] == second["command"]
    monkeypatch.setattr(sys, "argv", ["bench_piano.py", "--test", "s=T", "--test", "v=V", "--model", "d=dd",
                                      "--merge", str(out), "--json", str(out)])
    bench.main()
    third = json.loads(out.read_text())
    assert third["tests"] == {"s": "T", "v": "V"} and list(third["models"]) == ["a", "b", "c", "d"]
    assert set(third["models"]["d"]["tests"]) == {"s", "v"} and set(third["models"]["a"]["tests"]) == {"s"}
    monkeypatch.setattr(sys, "argv", ["bench_piano.py", "--test", "s=OTHER", "--model", "e=e", "--merge", str(out)])
    with pytest.raises(SystemExit, match=r"test sets \['s'\] were other files"):
        bench.main()


def test_smallset_bench_merge_keeps_earlier_variants_with_their_command(tmp_path, monkeypatch):
    """``bench_smallset.py --merge``: variants of an earlier result that this run does not train are kept
    (with their command and environment), the ones it trains are added; another source refuses to merge."""
    import json

    bench = _module("bench_smallset")
    monkeypatch.setattr(bench, "environment", lambda device: {"python": "3"})
    monkeypatch.setattr(bench, "_commit", lambda code: "abc")
    report = {"pooled": {"overall": {"global": {"f1": 0.5}, "mean": {"f1": 0.4}},
                         "classes": {"KD": {"global": {"f1": 0.6, "precision": 0.5, "recall": 0.75}}}},
              "folds": [{"global_f1": 0.5}], "classes": ["KD"], "timing": {"KD": {"mean_ms": 1.0, "std_ms": 2.0}}}
    trained = []
    monkeypatch.setattr(bench, "run_crossval", lambda code, source, out, loss, seed, *a: trained.append(out.name) or report)
    out = tmp_path / "r.json"
    first_args = ["--source", str(tmp_path), "--variant", "a=.@loco:0", "--variant", "b=.@ce:0", "--json", str(out)]
    bench.main(first_args)
    first = json.loads(out.read_text())
    bench.main(["--source", str(tmp_path), "--variant", "b=.@ce:1", "--variant", "c=.@loco%r.toml:0",
                "--merge", str(out), "--json", str(out)])
    second = json.loads(out.read_text())
    assert trained == ["a-loco-s0", "b-ce-s0", "b-ce-s1", "c-loco-s0"]  # the kept variant is not trained again
    assert list(second["variants"]) == ["a-loco", "b-ce", "c-loco"]
    assert second["variants"]["a-loco"]["command"] == first["command"] and second["variants"]["a-loco"]["environment"]
    assert [r["seed"] for r in second["variants"]["b-ce"]["runs"]] == [1]  # replaced by this run's
    assert second["variants"]["c-loco"]["command"] == second["command"] and second["variants"]["c-loco"]["recipe"] == "r.toml"
    assert second["variants"]["c-loco"]["runs"][0]["classes_precision_recall"] == {"KD": [0.5, 0.75]}
    with pytest.raises(SystemExit, match="another source"):
        bench.main(["--source", str(tmp_path / "other"), "--variant", "d=.@loco:0", "--merge", str(out)])


def test_smallset_bench_says_how_each_run_starts(tmp_path):
    """Runs from random weights pass ``--init none`` to code whose default is ``--init auto`` (and nothing
    to older code without the option); ``auto`` / ``drums`` go as given, a model file as its path."""
    bench = _module("bench_smallset")
    here = Path(__file__).resolve().parents[1]
    old = tmp_path / "old"
    (old / "loco_cli").mkdir(parents=True)
    (old / "loco_cli" / "config.py").write_text("EVAL_WINDOW_S = 0.05\n")

    def init_of(code, init):
        args = bench.crossval_args(code, tmp_path, tmp_path / "o", "loco", 0, 3, 1400, init)
        return args[args.index("--init") + 1] if "--init" in args else None

    assert init_of(here, None) == "none" and init_of(old, None) is None
    assert init_of(here, "auto") == "auto" and init_of(here, "drums") == "drums"
    assert init_of(here, "m.pt") == str(Path("m.pt").resolve())


def test_levels_bench_scales_the_audio_and_reports_each_gain(tmp_path, monkeypatch):
    """bench_levels.py: every test file is detected at each gain (its peak moved by exactly that many dB),
    scored per model, merged with an earlier file's rows, and rendered by report.py."""
    import json

    from loco_cli.corpus import write_corpus

    write_corpus("drums", tmp_path / "test", n_tracks=1, duration=3.0, seed=3)
    bench = _module("bench_levels")
    monkeypatch.setattr(bench, "environment", lambda device: {"python": "3"})
    out = tmp_path / "levels.json"

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["bench_levels.py", "--kind", "drums", "--test", str(tmp_path / "test"),
                                          "--gains", "0,-60", *args, "--json", str(out)])
        bench.main()
        return json.loads(out.read_text())

    first = run("--model", f"shipped={ROOT / 'models' / 'drums.pt'}:the shipped model", "--lowpass", "8000",
                "--filters", "zerophase,brickwall")
    row = first["models"]["drums/shipped"]["gains"]
    assert 0 <= first["models"]["drums/shipped"]["lowpass"]["8000"]["global_f1"] <= 1
    assert 0 <= first["models"]["drums/shipped"]["lowpass_brickwall"]["8000"]["global_f1"] <= 1
    assert "lowpass_onepass" not in first["models"]["drums/shipped"]
    assert list(row) == ["0", "-60"] and row["0"]["peak_dbfs"][0] - row["-60"]["peak_dbfs"][0] == pytest.approx(60, abs=0.05)
    assert set(row["0"]["per_class"]) == {"KD", "SD", "HH"} and 0 <= row["-60"]["global_f1"] <= 1
    second = run("--model", f"again={ROOT / 'models' / 'drums.pt'}", "--merge", str(out), "--cents=-20,30")
    assert list(second["models"]) == ["drums/shipped", "drums/again"]
    assert list(second["models"]["drums/again"]["cents"]) == ["-20", "30"] and "cents" not in second["models"]["drums/shipped"]
    assert second["models"]["drums/shipped"]["command"] == first["models"]["drums/shipped"]["command"]
    text = "\n".join(_module("report").levels_section(tmp_path))
    assert "| shipped: the shipped model |" in text and "-60 dB" in text and "low-pass 8 kHz" in text
    assert "brickwall 8 kHz" in text and "| +30 cents |" in text


def test_levels_bench_retunes_pitch_and_time_together():
    """bench_levels.py --cents: +100 cents puts a 440 Hz tone at 466.16 Hz (A to B flat) and shortens the file by
    the same factor, which the references' times are divided by; 0 cents leaves the samples as they are."""
    import numpy as np

    bench = _module("bench_levels")
    sr = 44100
    x = np.sin(2 * np.pi * 440 * np.arange(2 * sr) / sr).astype(np.float32)
    y, factor = bench._retuned(x, 100.0)
    assert factor == pytest.approx(2 ** (100 / 1200), rel=1e-5) and y.size == pytest.approx(x.size / factor, abs=2)
    spec = np.abs(np.fft.rfft(y[2000:-2000] * np.hanning(y.size - 4000)))
    peak = np.argmax(spec) * sr / (y.size - 4000)
    assert peak == pytest.approx(440 * 2 ** (100 / 1200), abs=1.0)
    same, one = bench._retuned(x, 0.0)
    assert one == 1.0 and np.allclose(same, x, atol=1e-6)


def test_levels_bench_filters_cut_as_named():
    """bench_levels.py's filters: a tone an octave above the cutoff is removed (brickwall: to rounding; the
    zero-phase filter far more than the same filter run once), one an octave below passes all three, and the
    zero-phase one does not delay it."""
    import numpy as np

    bench = _module("bench_levels")
    sr, t = 44100, np.arange(44100) / 44100
    low, high = np.sin(2 * np.pi * 2000 * t).astype(np.float32), np.sin(2 * np.pi * 8000 * t).astype(np.float32)
    inner = slice(4000, -4000)
    rms = {k: float(np.sqrt(np.mean(bench._lowpassed(high, 4000.0, sr, k)[inner] ** 2))) for k in bench.FILTERS}
    assert rms["brickwall"] < 1e-4 and rms["zerophase"] < rms["onepass"] ** 2 * 10 and rms["onepass"] < 0.01
    for k in bench.FILTERS:
        out = bench._lowpassed(low, 4000.0, sr, k)
        assert float(np.sqrt(np.mean(out[inner] ** 2))) == pytest.approx(np.sqrt(0.5), rel=0.02)
    np.testing.assert_allclose(bench._lowpassed(low, 4000.0, sr, "zerophase")[inner], low[inner], atol=0.02)


def test_memory_bench_merge_keeps_rows_not_measured_again():
    """``bench_memory.py --merge``: a re-run of the current tree replaces its rows and keeps the earlier
    ``before`` rows, each with the command that measured it."""
    bench = _module("bench_memory")
    earlier = {"command": "bench_memory.py --before /tmp/old",
               "rows": [{"model": "drums", "minutes": 60.0, "tree": "now", "peak_mb": 300.0},
                        {"model": "drums", "minutes": 60.0, "tree": "before", "peak_mb": 2000.0},
                        {"model": "piano", "minutes": 10, "tree": "now", "peak_mb": 350.0, "command": "older"}]}
    rows = [{"model": "drums", "minutes": 60.0, "tree": "now", "peak_mb": 290.0, "command": "bench_memory.py --merge m"}]
    merged = bench.merge_rows(earlier, rows)
    assert [(r["model"], r["tree"], r["peak_mb"]) for r in merged] == [
        ("drums", "before", 2000.0), ("piano", "now", 350.0), ("drums", "now", 290.0)]
    assert merged[0]["command"] == "bench_memory.py --before /tmp/old" and merged[1]["command"] == "older"
    assert merged[2]["command"] == "bench_memory.py --merge m"


def test_model_cards_are_written_from_their_records():
    build = _module("build_models")
    import json

    for name in ("drums", "piano"):
        record = json.loads((ROOT / "models" / f"{name}.json").read_text())
        assert build.card(record) == (ROOT / "models" / f"{name}.md").read_text(), (
            f"models/{name}.md is stale: python benchmarks/build_models.py {name} --cards-only")


def test_piano_card_names_the_tuning_augmentation_and_parallel_build():
    # the card says what sample-rate scaling the recipe trained with (in cents), and the build's --jobs
    build = _module("build_models")
    tune = {"recipe": "/elsewhere/benchmarks/recipes/piano_context_mix16_zero_tune.toml"}
    assert "+-26 cents" in build._tuning_text(tune) and "1 +- 0.015" in build._tuning_text(tune)
    assert build._tuning_text({"recipe": "piano_context_mix16_zero.toml"}) == ""
    assert build._jobs_text({"jobs": 2}) == " --jobs 2" and build._jobs_text({}) == ""


def test_recalibrated_card_line_names_each_class_gap():
    # a recalibration that chose one gap per class says so, not the base gap (which no class uses)
    build = _module("build_models")
    r = {"name": "drums", "classes": ["KD", "SD"],
         "decode": {"level_dbfs": -10.0, "min_gap_s": 0.015, "min_gaps_s": [0.025, 0.01]},
         "recalibrated": {"before": {"notes": None, "global_f1": 0.5, "level_dbfs": -10.0, "min_gap_s": 0.025}}}
    text = build._recalibrated_text(r)
    assert "(KD 25 ms, SD 10 ms; 25 ms for all before)" in text and "15 ms" not in text
    r["decode"]["min_gaps_s"] = []
    assert "15 ms instead of 25" in build._recalibrated_text(r)
    assert build._recalibrated_text({"decode": {}}) == ""


def test_repertoire_composers_are_split_and_named():
    rep = _module("repertoire_midi")
    assert not set(rep.TRAIN) & set(rep.TEST) and set(rep.TRAIN) | set(rep.TEST) == set(rep.COMPOSERS)
    assert rep.composer("schumann_clara_polonaise_op1n3") == "C. Schumann"
    assert rep.composer("bach_bwv244-29-a") == "J. S. Bach" and rep.composer("cpebach_h186") == "C. P. E. Bach"


def test_piano_contexts_of_notes_and_their_recall(tmp_path):
    ctx = _module("bench_piano_contexts")
    notes = [(1.0, 3.0, 60), (1.01, 1.5, 64), (1.2, 1.4, 60), (2.0, 2.5, 67), (2.02, 2.5, 79), (2.01, 2.5, 48)]
    assert ctx.note_contexts(notes)[3:, 6].tolist() == [1, 2, 0]  # 67 over 48 (a twelfth); 79 over 67 and 48
    assert ctx.note_contexts(notes)[:, 5].tolist() == [60, 64, 60, 67, 79, 48]
    notes = notes[:4]
    c = ctx.note_contexts(notes)
    assert c[:, 0].tolist() == [float("inf"), float("inf"), pytest.approx(0.2), float("inf")]  # since the same key
    assert c[:, 1].tolist() == [0, 0, 2, 1]  # keys held (struck over 50 ms before, not released)
    assert c[:, 2].tolist() == [1, 1, 0, 0]  # struck with it (within 30 ms)
    assert c[3, 3] == pytest.approx(0.8) and c[2, 4] == pytest.approx(0.2)
    assert ctx.found(notes, [(1.04, 60), (2.2, 67), (1.3, 64)]).tolist() == [True, False, False, False]
    (tmp_path / "c").mkdir()
    (tmp_path / "d").mkdir()
    (tmp_path / "c" / "a.txt").write_text("OnsetTime\tOffsetTime\tMidiPitch\n" + "".join(f"{a} {b} {p}\n" for a, b, p in notes))
    (tmp_path / "d" / "a.csv").write_text("time,label,confidence\n1.04,60,0.9\n1.2,60,0.8\n")
    out = ctx.recall_by_context(tmp_path / "c", tmp_path / "d")
    assert out["notes"] == 4 and out["recall"] == 0.5
    assert out["since_same_key_s"] == {"0.15-0.3": {"notes": 1, "recall": 1.0}, "1.2+": {"notes": 3, "recall": 0.3333}}
    assert out["register_midi"] == {"57-69": {"notes": 4, "recall": 0.5}}
    assert out["harmonic_below_struck_with_it"] == {"0-1": {"notes": 4, "recall": 0.5}}


def test_piano_peers_are_scored_as_loco_and_their_notes_saved(tmp_path, monkeypatch):
    """A peer's notes (its JSON) are scored with loco's note F1, notes off the keyboard dropped, and written as
    CSVs that bench_piano_contexts reads; a missing peer environment is recorded as skipped."""
    import numpy as np

    from loco_cli.annotations import Events

    peers = _module("bench_piano_peers")
    ctx = _module("bench_piano_contexts")
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    refs = {a: Events(np.array([0.5, 1.0]), np.array(["60", "64"], dtype=object)),
            b: Events(np.array([0.5]), np.array(["60"], dtype=object))}
    got = {"version": "x", "seconds": 2.0,
           "notes": {str(a): [[0.51, 60], [1.02, 64], [1.5, 12]], str(b): [[0.7, 60]]}}  # MIDI 12: off the keys
    monkeypatch.setattr(peers, "_run_peer", lambda *args, **kw: got)
    out = peers.score_peer("basic_pitch", [a, b], refs, 4.0, tmp_path / "det")
    assert out["pieces"] == {"a": 1.0, "b": 0.0} and out["note_f1"] == 0.5 and out["rtf"] == 2.0
    assert out["note_precision"] == 0.5 and out["version"] == "x"
    assert ctx.read_detections(tmp_path / "det" / "a.csv") == [(0.51, 60), (1.02, 64)]
    monkeypatch.setattr(peers, "_run_peer", lambda *args, **kw: {"skipped": "no basic_pitch environment"})
    assert peers.score_peer("basic_pitch", [a, b], refs, 4.0) == {"skipped": "no basic_pitch environment"}


def test_repertoire_works_are_fixed_and_split_by_composer():
    rep = _module("repertoire_midi")
    rows = rep.works()
    assert len(rows) == len({t for t, _ in rows}) == 469
    for target, source in rows:
        split, name = target.split("/")
        assert name == rep.midi_name(Path(source))
        assert split == ("train" if source.split("/")[0] in rep.TRAIN else "test") and source.split("/")[0] in rep.COMPOSERS
    assert sum(t.startswith("test/") for t, _ in rows) == 35


def test_build_resumes_only_runs_of_the_same_configs(prepared, tmp_path):
    # build_models.py --resume: a run is resumed only when its configs and dataset are the build's; the data
    # is kept only when its data-spec.json matches the spec's data fields.
    build = _module("build_models")
    from loco_cli.config import LossConfig, ModelConfig, TrainConfig
    from loco_cli.train import train_run

    loss = LossConfig()
    train = TrainConfig(steps=4, batch_size=2, val_every=2, log_every=1)
    model = ModelConfig(conv_filters=(4, 4), freq_pools=(4, 4), rnn_hidden=8, fc_hidden=8)
    run = tmp_path / "run-s0"
    assert not build._resumable(run, prepared, loss, train, model)  # nothing there yet
    train_run(prepared, run, loss=loss, train=train, model=model, force=True, tensorboard=False)
    assert build._resumable(run, prepared, loss, train, model)
    assert not build._resumable(run, prepared, loss, train.replace(seed=1), model)
    assert not build._resumable(run, prepared, loss.replace(name="ce"), train, model)
    assert not build._resumable(run, prepared, loss, train, model.replace(key_out_zero=True))
    (run / "metrics.csv").write_text("step,loss,val_metric,steps_per_s,elapsed_s\n2,0.5,0.1,9.0,0.4\n4,0.4,0.2,9.0,12.5\n")
    assert build._run_seconds(run) == 12.5 and build._run_seconds(tmp_path / "none") == 0.0
    again = train_run(prepared, run, loss=loss, train=train, model=model, resume=True, tensorboard=False)
    assert again.model_path.is_file()  # a finished run resumes to its end at once
    spec = dict(build.SPECS["piano"])
    assert build.data_spec(spec) == build.data_spec({**spec, "recipe": "other.toml", "seeds": (0, 1, 2)})
    assert build.data_spec(spec) != build.data_spec({**spec, "score_tracks": 72})


def test_build_teacher_stage_trains_its_seeds_into_an_ensemble(prepared, tmp_path, tiny_recipe):
    # build_models.py with a teacher in the spec: its seeds trained on the build's data and combined into
    # root/teacher.pt (loco ensemble), which the card describes
    build = _module("build_models")
    from loco_cli.checkpoint import load_model

    (tmp_path / "prepared").symlink_to(prepared, target_is_directory=True)
    spec = {"steps": 2, "level_dbfs": None,
            "teacher": {"recipe": str(tiny_recipe), "loss": "ce", "seeds": (0, 1), "weight": 0.5}}
    t = build._train_teacher(spec, tmp_path, None, False, lambda kind, info: None)
    ens = load_model(t["path"])
    assert ens.model.cfg.members == 2 and sorted(m["seed"] for m in t["members"]) == [0, 1]
    assert {p.name for p in tmp_path.iterdir()} >= {"teacher-s0", "teacher-s1", "teacher.pt"}
    text = build._teacher_text({"teacher": {**t, "dry": 0.9, "mix": 0.8}})[0]
    assert "2 runs of `benchmarks/recipes/tiny.toml`" in text and "0.900 drums only, 0.800 in band mixes" in text
    assert build._teacher_text({}) == []


def test_build_resumes_a_student_only_with_its_own_teacher(prepared, tmp_path, tiny_recipe):
    # --resume takes a student run only when the build's teacher has the weights of the one it recorded
    import shutil

    from loco_cli.config import LossConfig
    from loco_cli.train import load_recipe, train_run

    build = _module("build_models")
    recipe = load_recipe(tiny_recipe)
    loss, train = LossConfig(name="ce"), recipe["train"].replace(steps=2)
    run = train_run(prepared, tmp_path / "t", loss=loss, train=train, model=recipe["model"], tensorboard=False)
    student = train_run(prepared, tmp_path / "st", loss=loss, train=train, model=recipe["model"], tensorboard=False,
                        teacher=run.model_path)
    shutil.copyfile(run.model_path, tmp_path / "copy.pt")
    assert build._resumable(student.run, prepared, loss, train, recipe["model"], tmp_path / "copy.pt")
    assert not build._resumable(student.run, prepared, loss, train, recipe["model"])  # a teacher the build lacks
    other = train_run(prepared, tmp_path / "o", loss=loss, train=train.replace(seed=3), model=recipe["model"],
                      tensorboard=False)
    assert not build._resumable(student.run, prepared, loss, train, recipe["model"], other.model_path)
    assert not build._resumable(other.run, prepared, loss, train.replace(seed=3), recipe["model"], run.model_path)


def test_bench_ensembles_names_runs_apart():
    bench = _module("bench_ensembles")
    assert bench.run_names(["runs/d/s0", "runs/d/s1"]) == {"runs/d/s0": "s0", "runs/d/s1": "s1"}
    names = bench.run_names(["w/c-s0/train", "w/c-s1/train"])
    assert names == {"w/c-s0/train": "c-s0-train", "w/c-s1/train": "c-s1-train"}
    assert bench.subset_key(["w/c-s0/train", "w/c-s1/train"], names) == "c-s0-train+c-s1-train"
    with pytest.raises(SystemExit):
        bench.run_names(["runs/a", "runs/a"])


def test_build_trains_seeds_in_parallel_as_it_would_one_by_one(prepared, tmp_path, tiny_recipe, monkeypatch):
    # build_models.py --jobs 2: each seed in its own process on cores // 2 threads gives the run that seed
    # gives when trained alone on that many threads (same weights), and the results come back in seed order
    import os

    import torch

    monkeypatch.syspath_prepend(str(BENCH))  # spawned workers import the module by name
    import build_models as build

    from loco_cli.checkpoint import load_model
    from loco_cli.train import load_recipe, train_run

    recipe = load_recipe(tiny_recipe)
    loss, train = recipe["loss"].replace(name="ce"), recipe["train"].replace(steps=3)
    (tmp_path / "prepared").symlink_to(prepared, target_is_directory=True)
    runs, resumed = build._train_seeds(tmp_path, {3: tmp_path / "run-s3", 1: tmp_path / "run-s1"}, recipe, loss, train,
                                       None, False, lambda kind, info: None, jobs=2)
    assert [r.run.name for r in runs] == ["run-s3", "run-s1"] and resumed == {}
    alone = train_run(prepared, tmp_path / "alone", loss=loss, train=train.replace(seed=1), model=recipe["model"],
                      decode_cfg=recipe["decode"], threads=max(1, (os.cpu_count() or 1) // 2), tensorboard=False)
    a, b = load_model(runs[1].model_path).model.state_dict(), load_model(alone.model_path).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    other = load_model(runs[0].model_path).model.state_dict()
    assert not all(torch.equal(other[k], a[k]) for k in a)  # the other seed is another run


def test_retune_corpus_moves_audio_and_references_together(tmp_path):
    # benchmarks/retune_corpus.py: +25 cents shortens the audio and every reference time by the same factor,
    # and the copy is prepared for the tools that read prepared sets
    import soundfile as sf

    from loco_cli.corpus import write_corpus

    retune = _module("retune_corpus")
    write_corpus("piano", tmp_path / "pc", n_tracks=1, duration=3.0, seed=4)
    prepared = retune.retune_corpus(tmp_path / "pc", tmp_path / "out", 25.0)
    factor = 2 ** (25 / 1200)
    (wav,) = sorted((tmp_path / "pc").glob("*.wav"))
    moved = tmp_path / "out" / "pc+25" / wav.name
    assert sf.info(moved).frames == pytest.approx(sf.info(wav).frames / factor, abs=2)
    before = [line.split("\t") for line in wav.with_suffix(".txt").read_text().splitlines()[1:]]
    after = [line.split("\t") for line in moved.with_suffix(".txt").read_text().splitlines()[1:]]
    assert len(after) == len(before) > 0 and [a[2] for a in after] == [b[2] for b in before]
    assert all(float(a[0]) == pytest.approx(float(b[0]) / factor, abs=1e-4) for a, b in zip(after, before, strict=True))
    assert (prepared / "dataset.json").is_file()


def test_set_decode_changes_the_decoding_only(tmp_path):
    # build_models.py --decode (and --recalibrate's level step): the decode config replaced, the hash valid
    # again (load_model checks it), the weights untouched
    import torch

    from loco_cli.checkpoint import load_model

    build = _module("build_models")
    current = load_model("piano")
    other = "none" if current.decode.tuning == "auto" else "auto"
    digest = build.set_decode(current, current.decode.replace(tuning=other), tmp_path / "p.pt")
    changed = load_model(tmp_path / "p.pt")
    assert changed.decode.tuning == other and changed.payload["hash"] == digest != current.payload["hash"]
    assert changed.decode.replace(tuning=current.decode.tuning) == current.decode
    a, b = changed.model.state_dict(), current.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
