"""``loco crossval``: folds prepared, trained and scored in one command; the pooled report; resuming."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from loco_cli.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def cv(tmp_path_factory, tiny_recipe):
    root = tmp_path_factory.mktemp("cv")
    shutil.copy(tiny_recipe, root / "tiny.toml")
    result = runner.invoke(app, ["synth", "drums", str(root / "corpus"), "--tracks", "4", "--duration", "4"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["crossval", str(root / "corpus"), "--out", str(root / "cv"), "--folds", "2",
                                 "--recipe", str(root / "tiny.toml"), "--jobs", "1", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    return root, result.output


def test_every_track_is_tested_once_and_the_report_pools_the_folds(cv):
    root, output = cv
    report = json.loads((root / "cv" / "crossval.json").read_text())
    assert report["format"] == "loco-crossval-1" and report["config"]["folds"] == 2 and len(report["folds"]) == 2
    tested = [t for fold in report["folds"] for t in fold["test_tracks"]]
    assert sorted(tested) == sorted(p.stem for p in (root / "corpus").glob("*.wav"))
    for c in report["classes"]:
        pooled = report["pooled"]["classes"][c]["global"]
        assert pooled["tp"] == sum(report["track_counts"][t][c]["tp"] for t in tested)
        folds = [json.loads((root / "cv" / f"fold{i}" / "eval.json").read_text()) for i in range(2)]
        assert pooled["n_ref"] == sum(f["classes"][c]["global"]["n_ref"] for f in folds)
    assert report["over_folds"]["global_f1"]["n"] == 2
    assert set(report["timing"]) == {"KD", "SD", "HH"}
    assert "2-fold cross-validation" in output and "crossval.json" in output


def test_running_again_continues_without_retraining(cv):
    root, _ = cv
    model = root / "cv" / "fold0" / "run" / "model.pt"
    stamp = model.stat().st_mtime_ns
    result = runner.invoke(app, ["crossval", str(root / "corpus"), "--out", str(root / "cv"), "--folds", "2",
                                 "--recipe", str(root / "tiny.toml"), "--jobs", "1", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert model.stat().st_mtime_ns == stamp and "train" not in result.output.split("fold 1/2")[1].split("\n")[0]
    result = runner.invoke(app, ["crossval", str(root / "corpus"), "--out", str(root / "cv"), "--folds", "3",
                                 "--recipe", str(root / "tiny.toml")])
    assert result.exit_code == 2 and "other settings" in result.output and "Traceback" not in result.output


def test_groups_protocol_holds_out_each_subset_once(tmp_path, tiny_recipe):
    """``--protocol groups`` on an IDMT-SMT-Drums layout: one fold per subset (Eval Subset), each fold's
    test tracks are exactly that subset's."""
    result = runner.invoke(app, ["synth", "drums", str(tmp_path / "idmt"), "--tracks", "6", "--duration", "4",
                                 "--layout", "idmt"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["crossval", str(tmp_path / "idmt"), "--out", str(tmp_path / "cv"), "--protocol",
                                 "groups", "--recipe", str(tiny_recipe), "--jobs", "1", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "cv" / "crossval.json").read_text())
    assert [f["split"] for f in report["folds"]] == ["holdout:RealDrum", "holdout:TechnoDrum", "holdout:WaveDrum"]
    for fold in report["folds"]:
        group = fold["split"].split(":")[1]
        assert fold["test_tracks"] and all(t.startswith(group) for t in fold["test_tracks"])
    assert report["config"]["protocol"] == "groups" and "--protocol groups (3 fold(s))" in result.output


def test_protocol_errors_are_one_line(tmp_path):
    from loco_cli.crossval import protocol_splits
    from loco_cli.errors import InvalidOption

    assert protocol_splits("kfold", 3, tmp_path) == ["kfold:3:0", "kfold:3:1", "kfold:3:2"]
    assert protocol_splits("maps", 3, tmp_path) == ["maps"]
    with pytest.raises(InvalidOption, match="use one of kfold, groups, maps"):
        protocol_splits("eval-everything", 3, tmp_path)
    with pytest.raises(InvalidOption, match="2 to 20 folds"):
        protocol_splits("kfold", 1, tmp_path)
    result = runner.invoke(app, ["synth", "drums", str(tmp_path / "one"), "--tracks", "3", "--duration", "2"])
    assert result.exit_code == 0, result.output
    with pytest.raises(InvalidOption, match="needs two or more"):
        protocol_splits("groups", 3, tmp_path / "one")


def test_every_fold_fine_tunes_the_init_model(cv, tiny_recipe):
    """``--init drums``: each fold starts from the shipped model (its weights, not random ones), and the
    setting is part of the cross-validation's identity."""
    root, _ = cv
    out = root / "cv-init"
    result = runner.invoke(app, ["crossval", str(root / "corpus"), "--out", str(out), "--folds", "2", "--recipe",
                                 str(tiny_recipe), "--steps", "4", "--init", "drums", "--jobs", "1", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "crossval-config.json").read_text())["init"] == "drums"
    for i in range(2):
        config = json.loads((out / f"fold{i}" / "run" / "config.json").read_text())
        assert config["init"]["model"].endswith("drums.pt") and config["init"]["kept"] == ["KD", "SD", "HH"]
    result = runner.invoke(app, ["crossval", str(root / "corpus"), "--out", str(out), "--folds", "2", "--recipe",
                                 str(tiny_recipe), "--steps", "4", "--jobs", "1"])  # without --init: another run
    assert result.exit_code == 2 and "other settings" in result.output


@pytest.mark.slow
def test_folds_train_side_by_side(tmp_path, tiny_recipe):
    result = runner.invoke(app, ["synth", "drums", str(tmp_path / "corpus"), "--tracks", "4", "--duration", "4"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["crossval", str(tmp_path / "corpus"), "--out", str(tmp_path / "cv"), "--folds", "2",
                                 "--recipe", str(tiny_recipe), "--jobs", "1", "--device", "cpu", "--train-jobs", "2",
                                 "--init", "drums"])
    assert result.exit_code == 0, result.output
    assert result.output.count("side by side") == 2
    for i in range(2):
        assert (tmp_path / "cv" / f"fold{i}" / "run" / "model.pt").is_file()
        assert "model ->" in (tmp_path / "cv" / f"fold{i}" / "train.log").read_text()
        assert json.loads((tmp_path / "cv" / f"fold{i}" / "run" / "config.json").read_text())["init"]["kept"]
    report = json.loads((tmp_path / "cv" / "crossval.json").read_text())
    assert len(report["folds"]) == 2 and report["over_folds"]["global_f1"]["n"] == 2


@pytest.mark.parametrize("init,passed", [(None, "none"), ("none", "none"), ("auto", "auto"), ("drums", "drums")])
def test_side_by_side_folds_get_the_same_start(tmp_path, monkeypatch, init, passed):
    """Folds trained as ``loco train`` processes start as the in-process ones would: ``None`` (random
    weights) is said as ``--init none``, since the command's own default is ``--init auto``."""
    import subprocess

    from loco_cli.crossval import _train_side_by_side

    calls = []

    class Done:
        def __init__(self, args, **kwargs):
            calls.append(args)

        def wait(self):
            return 0

    monkeypatch.setattr(subprocess, "Popen", Done)
    (tmp_path / "fold0").mkdir()
    _train_side_by_side(tmp_path, [0], 1, loss="loco", recipe=None, steps=4, init=init)
    args = calls[0]
    assert args[args.index("--init") + 1] == passed
