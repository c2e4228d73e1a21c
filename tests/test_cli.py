import json
import subprocess
import sys

from typer.testing import CliRunner

from loco_cli.cli import app

runner = CliRunner()


def test_help_lists_commands_and_is_fast():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "eval" in result.output
    # --help must not import torch (it is imported lazily inside commands).
    code = "import sys; from loco_cli.cli import app; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_option_help_names_values_as_a_person_reads_them():
    import re

    from typer.main import get_command

    for name in get_command(app).commands:
        result = runner.invoke(app, [name, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, name
        options = [line for line in result.output.splitlines() if re.match(r"^\W*(\*\s+)?--[a-z]", line)]
        assert options and not any(re.search(r"<(str|int|float|path|bool)>", line) for line in options), name
        # no typer type tags (<path>, <list[Path]>) or braces ({source}) anywhere: arguments read as click's
        assert not re.search(r"<[a-z]+(\[\w+\])?>|\{[a-z_]+\}", result.output.replace("<stem>", "")), name
    out = runner.invoke(app, ["detect", "--help"], env={"COLUMNS": "200"}).output
    assert re.search(r"--out\s+PATH", out) and re.search(r"--jobs\s+N\b", out)
    assert "Usage: loco detect [OPTIONS] INPUTS..." in out and re.search(r"\*\s+INPUTS\.\.\.\s+Audio files", out)
    assert re.search(r"--help\s+Show this message", out)
    usage = runner.invoke(app, ["eval", "--help"], env={"COLUMNS": "200"}).output
    assert "Usage: loco eval [OPTIONS] [PRED] [REF]" in usage
    missing = runner.invoke(app, ["detect"], env={"COLUMNS": "200"})
    assert missing.exit_code == 2 and "Missing argument 'INPUTS...'" in missing.output


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("loco ")


def _tree(tmp_path):
    ref, pred = tmp_path / "ref", tmp_path / "pred"
    ref.mkdir()
    pred.mkdir()
    (ref / "t1.txt").write_text("0.10 bd\n0.50 sd\n0.90 chh\n")
    (ref / "t2.txt").write_text("0.20 bd\n0.40 bd\n")
    (pred / "t1.csv").write_text("time,label,confidence\n0.11,KD,1\n0.52,SD,1\n")
    (pred / "t2.csv").write_text("time,label,confidence\n0.21,KD,1\n0.43,KD,1\n0.8,KD,1\n")
    return pred, ref


def test_eval_folders_with_label_map_and_reports(tmp_path):
    pred, ref = _tree(tmp_path)
    out = tmp_path / "report.json"
    result = runner.invoke(app, ["eval", str(pred), str(ref), "--labels", "enst", "--json", str(out), "--csv", str(tmp_path / "r.csv")])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["class_names"] == ["HH", "KD", "SD"]
    assert report["classes"]["KD"]["global"] == {
        "precision": 0.75, "recall": 1.0, "f1": 6 / 7, "tp": 3, "n_ref": 3, "n_est": 4
    }
    assert report["tracks"]["t1"]["HH"]["recall"] == 0.0
    assert report["overall"]["global"]["tp"] == 4 and report["overall"]["global"]["n_ref"] == 5
    assert report["overall"]["global"]["n_est"] == 5
    assert report["format"] == "loco-eval-1" and report["window_s"] == 0.05
    import csv

    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert [r["class"] for r in rows] == ["HH", "KD", "SD", "all"]
    assert float(rows[1]["f1_global"]) == round(6 / 7, 6) and rows[1]["n_est"] == "4"
    assert "F1" in result.output


def test_eval_reports_unmatched_and_bad_files_and_goes_on(tmp_path):
    pred, ref = _tree(tmp_path)
    (ref / "t3.txt").write_text("0.1 bd\n")
    (pred / "t2.csv").write_text("time,label\nnot-a-time,KD\n")
    result = runner.invoke(app, ["eval", str(pred), str(ref), "--labels", "enst"])
    assert result.exit_code == 1
    assert "t3" in result.output and "t2.csv" in result.output
    assert "Traceback" not in result.output


def test_eval_user_errors_are_one_line(tmp_path):
    result = runner.invoke(app, ["eval", str(tmp_path / "missing"), str(tmp_path)])
    assert result.exit_code == 2 and "no such file or folder" in result.output
    assert "Traceback" not in result.output
    pred, ref = _tree(tmp_path)
    bad = runner.invoke(app, ["eval", str(pred), str(ref), "--labels", "bd:KD"])
    assert bad.exit_code == 2 and "raw=class" in bad.output
    neg = runner.invoke(app, ["eval", str(pred), str(ref), "--window", "-1"])
    assert neg.exit_code == 2 and "--window" in neg.output


def test_prepare_features_option_changes_the_front_end(tmp_path):
    """``--features field=value,...`` changes the preset's front-end (cast to each field's type); a bad
    field or value is one line naming it, exit 2."""
    from loco_cli.config import PIANO_FEATURES, FeatureConfig
    from loco_cli.corpus import write_corpus
    from loco_cli.errors import ConfigError
    from loco_cli.prepared import load_prepared

    write_corpus("piano", tmp_path / "c", n_tracks=1, duration=2.0, seed=2)
    result = runner.invoke(app, ["prepare", str(tmp_path / "c"), str(tmp_path / "p"), "--preset", "piano", "--split",
                                 "none", "--jobs", "1", "--features", "long_win_length=0, hop_length=440"])
    assert result.exit_code == 0, result.output
    assert load_prepared(tmp_path / "p").features == PIANO_FEATURES.replace(long_win_length=0, hop_length=440)
    for bad, needle in (("n_bands=3", "n_bands"), ("fmax=high", "'high' is not a float"), ("delta=maybe", "maybe"),
                        ("long_win_length=100", "long_win_length")):
        result = runner.invoke(app, ["prepare", str(tmp_path / "c"), str(tmp_path / "q"), "--preset", "piano",
                                     "--features", bad])
        assert result.exit_code == 2 and "Traceback" not in result.output and needle in result.output, result.output
        assert not (tmp_path / "q").exists()
    assert FeatureConfig().with_overrides("delta=false,n_mels=40") == FeatureConfig(delta=False, n_mels=40)
    try:
        FeatureConfig().with_overrides("n_mels")
    except ConfigError as err:
        assert "field=value" in str(err)
    else:
        raise AssertionError("no error")
