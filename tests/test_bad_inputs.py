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


@pytest.mark.parametrize("suffix", [".wav", ".aiff"])
def test_a_file_cut_off_mid_data_is_read_with_a_warning(base, tmp_path, suffix):
    x = np.random.default_rng(0).standard_normal(44100 * 4) * 0.1
    whole = tmp_path / f"whole{suffix}"
    sf.write(whole, x, 44100, subtype="PCM_16")
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # a copy that stopped half-way
    code, out = _run(["detect", cut, whole, "--out", tmp_path / "det", "--model", base / "run"])
    assert code == 0, out
    text = " ".join(out.split())
    assert f"cut{suffix}: truncated: its header announces" in text
    assert not any(f"whole{suffix}" in line for line in out.splitlines() if line.startswith("warning"))
    assert (tmp_path / "det" / "cut.csv").is_file()


def test_detect_warns_about_a_low_sample_rate(base, tmp_path):
    x = np.random.default_rng(0).standard_normal(8000 * 2) * 0.1
    sf.write(tmp_path / "phone.wav", x, 8000)
    code, out = _run(["detect", tmp_path / "phone.wav", "--out", tmp_path / "det", "--model", base / "run"])
    assert code == 0, out
    assert "recorded at 8000 Hz" in " ".join(out.split())


# ------------------------------------------------------ row 2: --force only replaces loco's folders
def test_force_never_deletes_a_folder_loco_did_not_make(base, tmp_path):
    for cmd in (["prepare", base / "corpus", tmp_path / "mine", "--force"],
                ["train", base / "prep", "--out", tmp_path / "mine", "--recipe", base / "tiny.toml", "--force"],
                ["synth", "drums", tmp_path / "mine", "--force"]):
        (tmp_path / "mine").mkdir(exist_ok=True)
        (tmp_path / "mine" / "notes.txt").write_text("keep me")
        (tmp_path / "mine" / "photos").mkdir(exist_ok=True)
        before = _snapshot(tmp_path / "mine")
        code, out = _run(cmd)
        assert code == 2, out
        _one_line_error(out, "mine")
        assert _snapshot(tmp_path / "mine") == before and (tmp_path / "mine" / "photos").is_dir()
    # loco's own folders are still replaced
    for cmd in (["prepare", base / "corpus", tmp_path / "prep2", "--jobs", 1],
                ["train", base / "prep", "--out", tmp_path / "run2", "--recipe", base / "tiny.toml"]):
        assert _run(cmd)[0] == 0
        code, out = _run([*cmd, "--force"])
        assert code == 0, out


# ----------------------------------------------- row 5: non-finite options; row 12: markup in messages
@pytest.mark.parametrize("bad", ["nan", "inf", "-1"])
def test_eval_refuses_a_window_that_is_not_a_positive_number(tmp_path, bad):
    ref = tmp_path / "ref.txt"
    ref.write_text("0.5 bd\n")
    code, out = _run(["eval", ref, ref, "--labels", "enst", "--window", bad])
    assert code == 2
    _one_line_error(out, "--window must be a positive number")


def test_messages_print_brackets_and_paths_as_they_are(base, tmp_path, monkeypatch):
    odd = tmp_path / "[plot] take"
    odd.mkdir()
    code, out = _run(["detect", odd / "missing.wav", "--out", tmp_path / "o", "--model", base / "run"])
    assert code == 1 and "[plot] take" in out and "Traceback" not in out
    # the advice for a missing optional dependency keeps its extra's brackets
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    wav = next((base / "corpus").glob("*.wav"))
    code, out = _run(["detect", wav, "--out", tmp_path / "p", "--model", base / "run", "--plot"])
    assert code == 2
    _one_line_error(out, "--plot needs matplotlib", "pip install 'loco[plot]'")
    assert not (tmp_path / "p").exists()  # refused before any work


# ---------------------------------------------------------------- row 8: resume advice does not loop
def test_resume_advice_does_not_loop(base, tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / "config.json").write_text("{}")  # killed before its first checkpoint
    code, out = _run(["train", "--resume", run])
    assert code == 2
    _one_line_error(out, "config.json", "--force")
    shutil.copy(base / "run" / "config.json", run / "config.json")  # a whole config, no checkpoint yet
    code, out = _run(["train", "--resume", run])
    assert code == 2
    _one_line_error(out, "--force")
    code, out = _run(["train", base / "prep", "--out", run, "--recipe", base / "tiny.toml"])
    assert code == 2
    _one_line_error(out, "--force")
    code, out = _run(["train", base / "prep", "--out", run, "--recipe", base / "tiny.toml", "--force"])
    assert code == 0, out


# ----------------------------------- row 10 and probes: tampered weights, malicious pickles, junk files
class _Evil:
    def __reduce__(self):
        import os

        return (os.system, (f"touch {_Evil.marker}",))


@pytest.mark.parametrize("kind", ["tampered", "pickle", "junk", "empty"])
def test_unsafe_or_damaged_model_files_are_refused(base, tmp_path, kind):
    import torch

    model = tmp_path / "m.pt"
    if kind == "tampered":
        payload = torch.load(base / "run" / "model.pt", weights_only=True)
        payload["state_dict"]["out.bias"] += 1.0  # a deliberate edit that does not update the hash
        torch.save(payload, model)
    elif kind == "pickle":
        _Evil.marker = tmp_path / "pwned"
        torch.save({"state_dict": _Evil()}, model)
    else:
        model.write_bytes(b"" if kind == "empty" else b"not a model at all")
    wav = next((base / "corpus").glob("*.wav"))
    code, out = _run(["detect", wav, "--out", tmp_path / "det", "--model", model])
    assert code == 2
    _one_line_error(out, "m.pt")
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "det").exists()


# ---------------------------------------------------------------- row 13: count_nll with a bad shape
def test_count_nll_needs_three_axes():
    import torch

    from loco_cli.counting import count_nll

    with pytest.raises(ValueError, match=r"\(N, T, C\)"):
        count_nll(torch.zeros(4, 10), torch.zeros(4, 1, dtype=torch.long), k_max=5)


# ----------------------------------------- probes: bad audio in a batch, the good files still written
def test_a_batch_of_bad_audio_reports_each_file_and_goes_on(base, tmp_path):
    rng = np.random.default_rng(3)
    src = tmp_path / "in"
    src.mkdir()
    good = next((base / "corpus").glob("*.wav"))
    shutil.copy(good, src / "good.wav")
    (src / "empty.wav").write_bytes(b"")
    (src / "text.wav").write_text("these are not samples\n")
    (src / "truncated.wav").write_bytes(good.read_bytes()[:30])
    nan = rng.standard_normal(44100) * 0.1
    nan[100:200] = np.nan
    sf.write(src / "nan.wav", nan, 44100, subtype="FLOAT")
    sf.write(src / "six.wav", rng.standard_normal((44100 * 2, 6)) * 0.1, 44100)  # 5.1: downmixed
    sf.write(src / "odd.flac", rng.standard_normal(11025 * 2) * 0.1, 11025)  # resampled, warned
    code, out = _run(["detect", *sorted(src.iterdir()), "--out", tmp_path / "det", "--model", base / "run"])
    text = " ".join(out.split())
    assert code == 1 and "Traceback" not in out
    for name in ("empty.wav", "text.wav", "truncated.wav", "nan.wav"):
        assert sum(name in line for line in out.splitlines()) >= 1, (name, out)
    written = sorted(f.name for f in (tmp_path / "det").iterdir())
    assert written == ["good.csv", "odd.csv", "six.csv"], written
    assert "recorded at 11025 Hz" in text


# ------------------------------------------------- probe: two processes writing the same outputs
def test_concurrent_writers_never_leave_a_partial_file(tmp_path):
    import threading

    from loco_cli.atomic import atomic_write_text

    path = tmp_path / "out.csv"
    texts = [f"{k}\n" * (20000 + k) for k in range(4)]  # distinct sizes, each written whole
    seen, stop = set(), threading.Event()

    def write(k):
        for _ in range(25):
            atomic_write_text(path, texts[k])

    def read():
        while not stop.is_set():
            if path.exists():
                seen.add(path.read_text())

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    stop.set()
    reader.join()
    assert seen and seen <= set(texts) and path.read_text() in texts
    assert [f.name for f in tmp_path.iterdir()] == ["out.csv"]


@pytest.mark.slow
def test_two_detect_processes_into_one_folder(base, tmp_path):
    import subprocess
    import sys

    wavs = [str(p) for p in sorted((base / "corpus").glob("*.wav"))]
    cmd = [sys.executable, "-m", "loco_cli", "detect", *wavs, "--out", str(tmp_path / "det"), "--model",
           str(base / "run"), "--midi"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(2)]
    outs = [p.communicate()[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    from loco_cli.annotations import read_events
    from loco_cli.midi import read_smf_notes

    names = sorted(f.name for f in (tmp_path / "det").iterdir())
    assert names == sorted(f"{Path(w).stem}{ext}" for w in wavs for ext in (".csv", ".mid"))
    for f in (tmp_path / "det").iterdir():
        read_events(f) if f.suffix == ".csv" else read_smf_notes(f.read_bytes())


# --------------------------------------------------------- row 9: temp folders of killed writers
def _dead_pid() -> int:
    import subprocess
    import sys

    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout)


def test_temp_folders_of_dead_processes_are_removed_on_the_next_run(tmp_path):
    from loco_cli.atomic import _host, sibling_temp_dir

    pid, host = _dead_pid(), _host()
    stale = tmp_path / f".prep.tmp-{pid}-{host}-abc"
    (stale / "features").mkdir(parents=True)
    stale_file = tmp_path / f".model.pt.tmp-{pid}-{host}-x1y2.pt"
    stale_file.write_bytes(b"half a checkpoint")
    mine = sibling_temp_dir(tmp_path / "prep")  # this process: alive
    users = [tmp_path / ".notes.txt", tmp_path / "prep.tmp-1-a", tmp_path / f".x.tmp-{pid}",
             tmp_path / f".y.csv.tmp-{pid}-othermachine-ab12.csv"]  # another machine's writer: unknown
    for f in users:
        f.write_text("keep")
    fresh = sibling_temp_dir(tmp_path / "prep")
    assert not stale.exists() and not stale_file.exists() and mine.is_dir() and fresh.is_dir()
    assert all(f.read_text() == "keep" for f in users)  # not loco's temp pattern: never touched


def test_writers_remove_the_temp_files_of_killed_writers(base, tmp_path):
    from loco_cli.atomic import _host

    pid, host = _dead_pid(), _host()
    out = tmp_path / "det"
    out.mkdir()
    stale = [out / f".a.csv.tmp-{pid}-{host}-q8.csv", out / f".a.png.tmp-{pid}-{host}-zz.png"]
    for f in stale:
        f.write_bytes(b"half")
    wav = next((base / "corpus").glob("*.wav"))
    code, text = _run(["detect", wav, "--out", out, "--model", base / "run"])
    assert code == 0, text
    assert sorted(f.name for f in out.iterdir()) == [f"{wav.stem}.csv"]


# ------------------------------------------------- kill test: detect with --midi --plot, SIGKILL
@pytest.mark.slow
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


# ------------------------------------------------------------ kill tests: prepare and train, SIGKILL
def _kill_when(cmd, ready, delay: float, env=None, timeout: float = 120.0) -> bool:
    """Run ``cmd`` and SIGKILL it ``delay`` seconds after ``ready()`` first holds (polled every 10 ms).
    Returns whether it was killed (False: it finished first). Waiting on progress rather than on the
    clock makes the kill land mid-work on fast and slow machines alike."""
    import subprocess
    import time

    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + timeout
    while proc.poll() is None and not ready():
        assert time.monotonic() < deadline, f"{cmd} made no progress in {timeout} s"
        time.sleep(0.01)
    time.sleep(delay)
    killed = proc.poll() is None
    proc.kill()
    proc.wait()
    return killed


@pytest.mark.slow
def test_killed_prepare_leaves_a_complete_dataset_or_none(base, tmp_path):
    """``loco prepare`` SIGKILLed three times while it writes (after a seeded random number of feature
    files): after each kill the output folder is absent or a complete prepared set equal to an unkilled
    run's; the run after the kills finishes, and no temp folder of the killed runs is left beside it."""
    import subprocess
    import sys

    from loco_cli.prepared import load_prepared

    reference = _snapshot(base / "prep")
    out = tmp_path / "prep"
    cmd = [sys.executable, "-m", "loco_cli", "prepare", str(base / "corpus"), str(out), "--jobs", "1", "--force"]

    def written() -> int:
        return sum(1 for _ in tmp_path.glob(".prep.tmp-*/features/*/*.npy"))  # in its temporary folder

    def check() -> None:
        if out.exists():
            load_prepared(out)
            got = _snapshot(out)
            assert got.keys() == reference.keys()
            assert all(got[k] == reference[k] for k in got if k.endswith(".npy"))

    rng = np.random.default_rng(9)
    kills = 0
    for _ in range(3):
        target = int(rng.integers(1, 3))  # of 3 tracks
        kills += _kill_when(cmd, lambda target=target: written() >= target, float(rng.uniform(0.0, 0.01)))
        check()
    assert kills >= 1  # seen mid-work; killed before it finished (a last track takes ~10 ms: not always)
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    check()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prep"]  # the killed runs' temp folders are gone


@pytest.mark.slow
def test_killed_training_resumes_to_the_same_model(base, tmp_path):
    """``loco train`` SIGKILLed three times mid-run (after a seeded random checkpoint, a seeded random
    moment later) and resumed each time: every file of the run folder parses after each kill (config,
    metrics, checkpoints), and the model at the end is bit for bit the one an uninterrupted run makes."""
    import json
    import os
    import subprocess
    import sys

    import torch

    from loco_cli.atomic import TEMP_NAME
    from loco_cli.checkpoint import load_model

    recipe = tmp_path / "longer.toml"
    recipe.write_text((base / "tiny.toml").read_text().replace("steps = 4", "steps = 300")
                      .replace("val_every = 2", "val_every = 10"))
    run = tmp_path / "run"
    env = {**os.environ, "LOCO_NUM_THREADS": "1"}

    def cmd(out: Path) -> list[str]:
        if (out / "last.pt").exists():
            return [sys.executable, "-m", "loco_cli", "train", "--resume", str(out)]
        return [sys.executable, "-m", "loco_cli", "train", str(base / "prep"), "--out", str(out),
                "--recipe", str(recipe), "--force"]

    def step() -> int:
        try:
            return int(torch.load(run / "last.pt", weights_only=True)["step"])
        except (FileNotFoundError, RuntimeError, EOFError):
            return 0

    def check(killed: bool) -> None:
        for f in sorted(run.iterdir()) if run.exists() else []:
            if killed and TEMP_NAME.fullmatch(f.name):
                continue  # the killed writer's temporary file: the next process to write here removes it
            if f.name == "config.json":
                json.loads(f.read_text())
            elif f.name == "metrics.csv":
                lines = f.read_text().splitlines()
                assert lines and all(len(x.split(",")) == len(lines[0].split(",")) for x in lines)
            elif f.name == "last.pt":
                assert torch.load(f, weights_only=True)["step"] > 0
            elif f.name in ("best.pt", "model.pt"):
                load_model(f)
            else:
                raise AssertionError(f"unexpected {f.name}")

    rng = np.random.default_rng(21)
    kills = 0
    for target in sorted(rng.choice(np.arange(10, 160, 10), size=3, replace=False)):  # of 300 steps
        kills += _kill_when(cmd(run), lambda target=target: step() >= target, float(rng.uniform(0.0, 0.1)), env=env)
        check(killed=True)
    assert kills == 3 and not (run / "model.pt").exists()
    done = subprocess.run(cmd(run), capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    check(killed=False)  # every temporary file a kill left is gone
    whole = subprocess.run(cmd(tmp_path / "whole"), capture_output=True, text=True, env=env)
    assert whole.returncode == 0, whole.stderr
    a = torch.load(run / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_synth_span_errors(tmp_path):
    for span, needle in (("28", "LOW-HIGH"), ("a-b", "LOW-HIGH"), ("10-100", "within 21-108")):
        code, out = _run(["synth", "piano", tmp_path / "c", "--renderer", "samples", "--pianos", tmp_path,
                          "--span", span])
        assert code != 0, out
        _one_line_error(out, "--span", needle)
    code, out = _run(["synth", "drums", tmp_path / "d", "--span", "30-90", "--tracks", 1])
    assert code != 0
    _one_line_error(out, "applies to pianos")
    assert not (tmp_path / "d").exists()
