"""Hostile inputs (issue 14): each probe asserts the exit code, one line naming the file and the fix, no
traceback, and that nothing else was touched. The data are tiny corpora synthesized here."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from loco_cli.cli import app

runner = CliRunner()


def _run(args) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def _one_line_error(output: str, *needles: str) -> None:
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    for needle in needles:
        assert needle in errors[0], errors[0]


@pytest.fixture(scope="module")
def base(tmp_path_factory, tiny_recipe):
    root = tmp_path_factory.mktemp("bad")
    shutil.copy(tiny_recipe, root / "tiny.toml")
    for args in (["synth", "drums", root / "corpus", "--tracks", 3, "--duration", 4],
                 ["prepare", root / "corpus", root / "prep", "--jobs", 1],
                 ["train", root / "prep", "--out", root / "run", "--recipe", root / "tiny.toml"]):
        code, out = _run(args)
        assert code == 0, out
    return root


def _copy_prep(base: Path, tmp_path: Path) -> Path:
    prep = tmp_path / "prep"
    shutil.copytree(base / "prep", prep)
    return prep


def _a_feature_file(prep: Path) -> Path:
    return sorted((prep / "features").glob("*/*.npy"))[0]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------ row 1: corrupt feature caches
@pytest.mark.parametrize("damage", ["nan", "truncate", "bytes"])
def test_corrupt_feature_cache_stops_training_and_prepare_force_repairs_it(base, tmp_path, damage):
    prep = _copy_prep(base, tmp_path)
    f = _a_feature_file(prep)
    if damage == "nan":
        x = np.load(f)
        x[3] = np.nan
        np.save(f, x)
    elif damage == "truncate":
        f.write_bytes(f.read_bytes()[:500])
    else:
        raw = bytearray(f.read_bytes())
        raw[200:] = np.random.default_rng(0).integers(0, 256, len(raw) - 200, dtype=np.uint8).tobytes()
        f.write_bytes(bytes(raw))
    code, out = _run(["train", prep, "--out", tmp_path / "run", "--recipe", base / "tiny.toml"])
    if damage == "bytes" and code == 0:  # random bytes may decode as finite float16 values: no NaN to find
        pytest.skip("these random bytes happen to be finite features")
    assert code == 2
    _one_line_error(out, f.name, "corrupt feature cache", "--force")
    assert not (tmp_path / "run" / "model.pt").exists()
    code, out = _run(["prepare", base / "corpus", prep, "--jobs", 1, "--force"])
    assert code == 0, out
    assert np.isfinite(np.load(f)).all()
    code, out = _run(["train", prep, "--out", tmp_path / "run", "--recipe", base / "tiny.toml", "--force"])
    assert code == 0, out


# ------------------------------------------------------- row 4: truncated tables, norm.npz, last.pt
@pytest.mark.parametrize("target", ["norm.npz", "snippets.csv", "tracks.csv", "events.csv"])
def test_corrupt_prepared_files_are_named(base, tmp_path, target):
    prep = _copy_prep(base, tmp_path)
    path = prep / target
    if target.endswith(".npz"):
        path.write_bytes(path.read_bytes()[:100])
    else:
        lines = path.read_text().splitlines()
        cells = lines[1].split(",")
        column = {"snippets.csv": "n_frames", "tracks.csv": "frames", "events.csv": "track"}[target]
        cells[lines[0].split(",").index(column)] = "no-such-track" if column == "track" else "x"
        path.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    code, out = _run(["train", prep, "--out", tmp_path / "run", "--recipe", base / "tiny.toml"])
    assert code == 2
    _one_line_error(out, target, "--force")


def test_junk_last_checkpoint_cannot_be_resumed(base, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(base / "run", run)
    (run / "last.pt").write_bytes(b"junk")
    before = _snapshot(run)
    code, out = _run(["train", base / "prep", "--out", run, "--resume", run, "--recipe", base / "tiny.toml"])
    assert code == 2
    _one_line_error(out, "last.pt", "--force")
    assert _snapshot(run) == before


def test_non_finite_loss_stops_without_a_model(base, tmp_path):
    recipe = tmp_path / "hot.toml"
    recipe.write_text((base / "tiny.toml").read_text().replace("[train]", "[train]\nlr = 1e30\nclip_norm = 1e30"))
    code, out = _run(["train", base / "prep", "--out", tmp_path / "run", "--recipe", recipe])
    if code == 0:
        pytest.skip("this lr did not diverge on this machine")
    assert code == 2
    _one_line_error(out, "the loss became", "--lr")
    assert not (tmp_path / "run" / "model.pt").exists()


# -------------------------------------------------------------------- row 3: detect output paths
def test_detect_into_a_file_is_one_line(base, tmp_path):
    wav = next((base / "corpus").glob("*.wav"))
    target = tmp_path / "taken"
    target.write_text("keep me")
    code, out = _run(["detect", wav, "--out", target, "--model", base / "run"])
    assert code == 2
    _one_line_error(out, "taken", "not a folder")
    assert target.read_text() == "keep me"


def test_detect_goes_on_when_one_output_cannot_be_written(base, tmp_path):
    wavs = sorted((base / "corpus").glob("*.wav"))[:2]
    out_dir = tmp_path / "out"
    (out_dir / f"{wavs[0].stem}.csv").mkdir(parents=True)  # a folder where the CSV should go
    result = runner.invoke(app, ["detect", *map(str, wavs), "--out", str(out_dir), "--model", str(base / "run")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{wavs[0].name}: cannot write its outputs" in result.output.replace("\n", " ")
    assert (out_dir / f"{wavs[1].stem}.csv").is_file()


# ------------------------------------------------------------------- row 5: counts manifests
@pytest.mark.parametrize("header,row,needle", [
    ("audio,start,end,KD,KD", "a.wav,0,1.5,1,2", "appears twice"),
    ("audio,start,end,KD,SD", "a.wav,0,1.5,100000000000000000000000,0", "onsets per second"),
    ("audio,start,end,KD,SD", "a.wav,0,inf,1,0", "finite"),
    ("audio,start,end,KD,", "a.wav,0,1.5,1,0", "empty class name"),
])
def test_bad_count_manifests(tmp_path, header, row, needle):
    sf.write(tmp_path / "a.wav", np.random.default_rng(0).standard_normal(44100 * 2) * 0.1, 44100)
    (tmp_path / "counts.csv").write_text(f"{header}\n{row}\n")
    code, out = _run(["prepare", tmp_path / "counts.csv", tmp_path / "prep"])
    assert code == 2
    _one_line_error(out, "counts.csv", needle)
    assert not (tmp_path / "prep").exists()


# ----------------------------------------------- row 7: suspicious annotations and low sample rates
def test_prepare_warns_about_onsets_outside_the_audio_empty_annotations_and_low_rates(tmp_path):
    rng = np.random.default_rng(0)
    src = tmp_path / "src"
    src.mkdir()
    for name in ("a", "b", "c"):
        sf.write(src / f"{name}.wav", rng.standard_normal(44100 * 3) * 0.1, 44100)
    sf.write(src / "low.wav", rng.standard_normal(22050 * 3) * 0.1, 22050)
    (src / "a.txt").write_text("-0.5 bd\n0.5 bd\n1.0 sd\n7.0 chh\n")
    (src / "b.txt").write_text("")
    (src / "c.txt").write_text("0.5 bd\n1.0 sd\n1.5 chh\n")
    (src / "low.txt").write_text("0.5 bd\n1.0 sd\n1.5 chh\n")
    code, out = _run(["prepare", src, tmp_path / "prep", "--jobs", 1])
    assert code == 0, out
    text = " ".join(out.split())
    assert "a.txt: 2 onset(s) outside the audio (0-3.00 s), left out" in text
    assert "b.txt: no onsets at all" in text
    assert "low.wav: recorded at 22050 Hz, so nothing above 11025 Hz" in text
    events = (tmp_path / "prep" / "events.csv").read_text()
    assert "-0.5" not in events and "7.0" not in events


def test_detect_warns_about_a_low_sample_rate(base, tmp_path):
    x = np.random.default_rng(0).standard_normal(8000 * 2) * 0.1
    sf.write(tmp_path / "phone.wav", x, 8000)
    code, out = _run(["detect", tmp_path / "phone.wav", "--out", tmp_path / "det", "--model", base / "run"])
    assert code == 0, out
    assert "recorded at 8000 Hz" in " ".join(out.split())


# --------------------------------------------------------- row 9: temp folders of killed writers
def test_temp_folders_of_dead_processes_are_removed_on_the_next_run(tmp_path):
    import subprocess
    import sys

    from loco_cli.annotations import sibling_temp_dir

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    stale = tmp_path / f".prep.tmp-{pid}-abc"
    (stale / "features").mkdir(parents=True)
    mine = sibling_temp_dir(tmp_path / "prep")  # this process: alive
    other = tmp_path / f".other.tmp-{pid}-abc"
    other.mkdir()
    fresh = sibling_temp_dir(tmp_path / "prep")
    assert not stale.exists() and mine.is_dir() and fresh.is_dir() and other.is_dir()


# ------------------------------------------------- kill test: detect with --midi --plot, SIGKILL
def test_killed_detect_leaves_each_output_complete_or_absent(base, tmp_path):
    """``loco detect --midi --plot`` killed (SIGKILL) at seeded random moments, three times, then run to
    the end: after every kill each visible output parses in full (CSV, MIDI, PNG), and after the last
    run every output exists and no temp file is left."""
    import subprocess
    import sys
    import time

    import matplotlib.image

    from loco_cli.annotations import read_events
    from loco_cli.midi import read_smf_notes

    out = tmp_path / "det"
    cmd = [sys.executable, "-m", "loco_cli", "detect", str(base / "corpus"), "--out", str(out), "--model",
           str(base / "run"), "--midi", "--plot"]
    stems = sorted(p.stem for p in (base / "corpus").glob("*.wav"))

    def check_visible() -> None:
        for f in sorted(out.glob("[!.]*")):
            if f.suffix == ".csv":
                read_events(f)
            elif f.suffix == ".mid":
                read_smf_notes(f.read_bytes())
            elif f.suffix == ".png":
                assert matplotlib.image.imread(f).ndim == 3
            else:
                raise AssertionError(f"unexpected output {f.name}")

    rng = np.random.default_rng(14)
    for _ in range(3):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(float(rng.uniform(1.0, 5.0)))  # start-up, mid-batch or done: each must be safe
        proc.kill()
        proc.wait()
        if out.exists():
            check_visible()
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    check_visible()
    assert sorted(f.name for f in out.iterdir()) == sorted(f"{s}{ext}" for s in stems for ext in (".csv", ".mid", ".png"))
