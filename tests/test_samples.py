"""Real-sample drum kits: Hydrogen kit reading, velocity layers, the renderer, ``synth --renderer samples``.

The kits are tiny folders written here (a few synthesized one-shots with a ``drumkit.xml`` in both of
Hydrogen's formats); no sample library is needed.
"""

from __future__ import annotations

import json
import shutil
import struct

import numpy as np
import pytest
import soundfile as sf

from loco_cli.annotations import read_events
from loco_cli.corpus import write_corpus
from loco_cli.errors import InvalidOption
from loco_cli.samples import (
    SampleKit,
    classify_instrument,
    expand_kit_specs,
    load_hydrogen_kit,
    load_kit,
    load_oneshot_kit,
    render_sample_track,
    soundfont_presets,
    usable,
)

SR = 44100
LEAD = 300  # samples of silence before each one-shot's attack (the loader trims them)


def _shot(kind: str, level: float, sr: int) -> np.ndarray:
    rng = np.random.default_rng(len(kind))
    n = int(0.3 * sr)
    t = np.arange(n) / sr
    body = {"kick": np.sin(2 * np.pi * 60 * t) * np.exp(-t / 0.08),
            "snare": rng.standard_normal(n) * np.exp(-t / 0.06),
            "hat": np.diff(rng.standard_normal(n + 1)) * np.exp(-t / 0.02),
            "open": np.diff(rng.standard_normal(n + 1)) * np.exp(-t / 0.2),
            "tom": np.sin(2 * np.pi * 110 * t) * np.exp(-t / 0.1)}[kind]
    return np.concatenate([np.zeros(LEAD), level * body / np.abs(body).max()]).astype(np.float32)


OLD_XML = """<drumkit_info><name>Tiny Old</name><author>tests</author><license>CC0</license><instrumentList>
<instrument><id>0</id><name>Kick</name><volume>1</volume><gain>1</gain>
 <layer><filename>kick_soft.wav</filename><min>0</min><max>0.5</max><gain>1</gain></layer>
 <layer><filename>kick_hard.wav</filename><min>0.5</min><max>1</max><gain>1</gain></layer></instrument>
<instrument><id>1</id><name>Snare Rock</name><volume>0.5</volume><gain>1</gain>
 <layer><filename>snare.wav</filename><min>0</min><max>1</max><gain>1</gain></layer></instrument>
<instrument><id>2</id><name>Closed HH</name><volume>1</volume><gain>1</gain>
 <layer><filename>hat.wav</filename><min>0</min><max>1</max><gain>1</gain></layer></instrument>
<instrument><id>3</id><name>Open HH</name><volume>1</volume><gain>1</gain>
 <layer><filename>open.wav</filename><min>0</min><max>1</max><gain>1</gain></layer></instrument>
<instrument><id>4</id><name>Tom Low</name><volume>1</volume><gain>1</gain>
 <layer><filename>tom.wav</filename><min>0</min><max>1</max><gain>1</gain></layer></instrument>
<instrument><id>5</id><name>Stick</name><volume>1</volume><gain>1</gain>
 <layer><filename>snare.wav</filename><min>0</min><max>1</max><gain>1</gain></layer></instrument>
</instrumentList></drumkit_info>
"""

NEW_XML = """<?xml version="1.0" encoding="UTF-8"?>
<drumkit_info xmlns="http://www.hydrogen-music.org/drumkit"><name>Tiny New</name><license>GPL</license>
<instrumentList>
<instrument><id>0</id><name>Bass Drum</name><volume>1</volume><gain>1</gain>
 <instrumentComponent><layer><filename>kick_hard.wav</filename><min>0</min><max>1</max><gain>1</gain></layer>
 </instrumentComponent></instrument>
<instrument><id>1</id><name>Snare</name><volume>1</volume><gain>1</gain>
 <instrumentComponent><layer><filename>snare.wav</filename><min>0</min><max>1</max><gain>1</gain></layer>
 </instrumentComponent></instrument>
<instrument><id>2</id><name>Hi-Hat Closed</name><volume>1</volume><gain>1</gain>
 <instrumentComponent><layer><filename>hat.wav</filename><min>0</min><max>1</max><gain>1</gain></layer>
 </instrumentComponent></instrument>
</instrumentList></drumkit_info>
"""


def _write_kit(folder, xml: str, sr: int = SR) -> None:
    folder.mkdir(parents=True)
    (folder / "drumkit.xml").write_text(xml)
    for name, kind, level in [("kick_soft", "kick", 0.3), ("kick_hard", "kick", 0.9), ("snare", "snare", 0.8),
                              ("hat", "hat", 0.5), ("open", "open", 0.5), ("tom", "tom", 0.7)]:
        sf.write(folder / f"{name}.wav", _shot(kind, level, sr), sr)


@pytest.fixture(scope="module")
def kits(tmp_path_factory):
    root = tmp_path_factory.mktemp("kits")
    _write_kit(root / "old", OLD_XML, sr=22050)  # resampled to 44.1 kHz on load
    _write_kit(root / "new", NEW_XML)
    (root / "photos").mkdir()  # not a kit: ignored when the parent folder is expanded
    return root


@pytest.mark.parametrize("name,inst", [
    ("Kick (Tama Superstar 22\")", "KD"), ("BassDrum", "KD"), ("Snare (Pearl Free Floating Maple)", "SD"),
    ("Snare Rimshot", "RS"), ("Hi-Hat Closed", "CHH"), ("Sabian Hat Pedal", "PHH"), ("VariBreaks Hat 1 Op", "OHH"),
    ("Hi Hat Opened", "OHH"), ("Floor Tom", "LT"), ("Tom Hi", "HT"), ("Tom", "MT"), ("Crash Left", "CR"),
    ("Ride Bell", "RC"), ("Cowbell", "PERC"), ("Pearl Side Stick", None), ("Snare Roll", None),
    ("Sabian Hat Choke", None), ("Whistle", None),
])
def test_instrument_names(name, inst):
    assert classify_instrument(name) == inst


def test_hydrogen_kit_both_formats(kits):
    old = load_hydrogen_kit(kits / "old", SR)
    assert old.name == "Tiny Old" and old.licence == "CC0" and usable(old)
    assert sorted(old.voices) == ["CHH", "KD", "LT", "OHH", "SD"]  # the side stick is skipped
    kick = old.voices["KD"][0]
    assert [(layer.vmin, layer.vmax) for layer in kick] == [(0.0, 0.5), (0.5, 1.0)]
    snare = old.voices["SD"][0][0]
    assert snare.gain == pytest.approx(0.5)  # instrument volume x layer gain
    # trimmed to the attack (0.5 ms of lead kept), resampled from 22.05 kHz
    shot = snare.samples[0]
    assert int(np.argmax(np.abs(shot) > 0.01 * np.abs(shot).max())) <= int(0.0005 * SR) + 2
    new = load_hydrogen_kit(kits / "new", SR)
    assert new.name == "Tiny New" and sorted(new.voices) == ["CHH", "KD", "SD"]


def test_velocity_picks_the_layer():
    rng = np.random.default_rng(0)
    soft, hard = np.ones(10, np.float32), 2 * np.ones(10, np.float32)
    from loco_cli.samples import Layer

    kit = SampleKit("k", "src", "CC0", {"KD": [[Layer(0, 0.5, 1.0, [soft]), Layer(0.5, 1.0, 1.0, [hard])]]})
    assert kit.hit(rng, "KD", 0.2)[0] == pytest.approx(0.2)  # soft layer, scaled by the velocity
    assert kit.hit(rng, "KD", 0.8)[0] == pytest.approx(1.6)
    kit.velocity_gain = False
    assert kit.hit(rng, "KD", 0.8)[0] == pytest.approx(2.0)


def test_render_is_deterministic_and_annotated(kits):
    kit = load_hydrogen_kit(kits / "old", SR)
    a, ev_a = render_sample_track(3, 0, kit, duration=6.0)
    b, ev_b = render_sample_track(3, 0, kit, duration=6.0)
    assert np.array_equal(a, b) and ev_a == ev_b
    assert a.shape == (6 * SR,) and a.dtype == np.float32 and np.abs(a).max() <= 0.951
    insts = {inst for _, inst in ev_a}
    assert {"KD", "SD", "CHH"} <= insts and insts <= {"KD", "SD", "CHH", "OHH", "LT", "PHH", "RS", "CR", "RC", "PERC"}
    times = np.array([t for t, _ in ev_a])
    assert np.all((times >= 0) & (times < 6.0))
    # each annotated kick starts a rise of the low-frequency energy (onset = the sample the shot starts)
    from scipy.signal import butter, sosfilt

    low = np.abs(sosfilt(butter(2, 150, "low", fs=SR, output="sos"), a))
    for t in [t for t, inst in ev_a if inst == "KD"][:5]:
        i = int(round(t * SR))
        assert low[i: i + int(0.02 * SR)].max() > 2 * low[max(0, i - int(0.01 * SR)): i].max() - 1e-6
    c, _ = render_sample_track(4, 0, kit, duration=6.0)
    assert not np.array_equal(a, c)


def test_detune_retunes_each_instrument_and_leaves_the_default_render_alone(kits, tmp_path, monkeypatch):
    """``detune``: the hits (times, instruments) stay; each instrument's one-shot is resampled by one factor
    per track within the range, so its spectrum moves; ``detune=0`` is the plain render, bit for bit."""
    from loco_cli.samples import _Variation

    kit = load_hydrogen_kit(kits / "old", SR)
    plain, ev = render_sample_track(3, 0, kit, duration=6.0)
    assert np.array_equal(plain, render_sample_track(3, 0, kit, duration=6.0, detune=0.0)[0])
    moved, ev_d = render_sample_track(3, 0, kit, duration=6.0, detune=4.0)
    assert ev_d == ev and not np.array_equal(moved, plain)
    assert np.array_equal(moved, render_sample_track(3, 0, kit, duration=6.0, detune=4.0)[0])  # deterministic
    shot = kit.voices["SD"][0][0].samples[0]
    vary = _Variation(np.random.default_rng(0), 4.0, SR)
    out = vary.apply("SD", shot)
    ratio = vary.ratio["SD"]
    assert 2 ** (-4 / 12) <= ratio <= 2 ** (4 / 12) and ratio != 1.0
    assert abs(out.size - shot.size / ratio) <= 2  # resampled: up is shorter, down is longer
    assert vary.apply("SD", shot) is out  # one transform per stored one-shot and track
    spec = lambda x: np.abs(np.fft.rfft(x[:4096], 16384))  # noqa: E731
    centroid = lambda x: float((spec(x) * np.arange(8193)).sum() / spec(x).sum())  # noqa: E731
    pure = _Variation(np.random.default_rng(0), 4.0, SR)
    pure.eq_seed = {"SD": 0}
    pure.ratio = {"SD": 2 ** (3 / 12)}
    monkeypatch.setattr("loco_cli.samples.shelf_eq", lambda x, rng, sr: x)  # the retuning alone: spectrum moves up
    assert centroid(pure.apply("SD", shot)) > 1.1 * centroid(shot)
    with pytest.raises(InvalidOption, match="--detune"):
        write_corpus("drums", tmp_path / "x", n_tracks=1, duration=3.0, detune=2.0)


def test_write_corpus_with_sample_kits(kits, tmp_path):
    summary = write_corpus("drums", tmp_path / "c", n_tracks=3, duration=3.0, seed=1, renderer="samples",
                           kits=str(kits))
    assert [k["name"] for k in summary["kits"]] == ["Tiny New", "Tiny Old"] and summary["kits_left_out"] == []
    assert {k["licence"] for k in summary["kits"]} == {"GPL", "CC0"}
    assert json.loads((tmp_path / "c" / "corpus.json").read_text())["renderer"] == "samples"
    names = sorted(p.stem for p in (tmp_path / "c").glob("*.wav"))
    assert names == ["tiny_new_000", "tiny_new_002", "tiny_old_001"]
    ev = read_events(tmp_path / "c" / "tiny_old_001.txt")
    assert set(ev.labels) >= {"bd", "sd", "chh"}
    enst = write_corpus("drums", tmp_path / "e", n_tracks=2, duration=3.0, seed=1, renderer="samples",
                        kits=[str(kits / "old"), str(kits / "new")], layout="enst")
    assert enst["tracks"] == 2 and (tmp_path / "e" / "drummer_2" / "annotation").is_dir()


def test_kits_without_the_classes_are_listed_as_left_out(kits, tmp_path):
    hands = tmp_path / "hands"
    hands.mkdir()
    shutil.copy(kits / "old" / "snare.wav", hands / "clap.wav")
    (hands / "drumkit.xml").write_text("<drumkit_info><name>Hands</name><instrumentList><instrument><name>Hand Clap"
                                       "</name><layer><filename>clap.wav</filename></layer></instrument>"
                                       "</instrumentList></drumkit_info>")
    summary = write_corpus("drums", tmp_path / "c", n_tracks=1, duration=3.0, renderer="samples",
                           kits=[str(kits / "old"), str(hands)])
    assert [k["name"] for k in summary["kits"]] == ["Tiny Old"] and summary["kits_left_out"] == ["Hands"]


def _write_oneshots(folder, files: dict, sr: int = SR) -> None:
    folder.mkdir(parents=True)
    for name, (kind, level) in files.items():
        sf.write(folder / name, _shot(kind, level, sr), sr)


def test_oneshot_kit_folder(tmp_path):
    """A folder of one-shots named for their instruments: round robin, soft / hard layers, skipped names,
    the licence file; found by --kits on its own and inside a folder of kits, beside a Hydrogen kit."""
    folder = tmp_path / "kits" / "shots"
    _write_oneshots(folder, {"kick_soft.wav": ("kick", 0.3), "kick_hard.flac": ("kick", 0.9),
                             "snare-1.wav": ("snare", 0.8), "snare-2.wav": ("snare", 0.6),
                             "hihat_closed.ogg": ("hat", 0.5), "hihat_open.wav": ("open", 0.5),
                             "side_stick.wav": ("snare", 0.4), "laser.wav": ("tom", 0.4)}, sr=22050)
    (folder / "notes.txt").write_text("not audio")
    (folder / "LICENCE").write_text("\nCC0 (test shots)\nmore text\n")
    kit = load_oneshot_kit(folder, SR)
    assert kit.name == "shots" and kit.licence == "CC0 (test shots)" and usable(kit)
    assert sorted(kit.voices) == ["CHH", "KD", "OHH", "SD"]  # the side stick and the laser are skipped
    kick, snare = kit.voices["KD"], kit.voices["SD"]
    assert len(kick) == 1 and [(layer.vmin, layer.vmax) for layer in kick[0]] == [(0.0, 0.5), (0.5, 1.0)]
    assert len(snare) == 1 and len(snare[0]) == 1 and len(snare[0][0].samples) == 2  # round robin
    shot = snare[0][0].samples[0]  # trimmed to the attack, resampled from 22.05 kHz
    assert int(np.argmax(np.abs(shot) > 0.01 * np.abs(shot).max())) <= int(0.0005 * SR) + 2
    soft, hard = kick[0][0].samples[0], kick[0][1].samples[0]
    assert np.abs(soft).max() < np.abs(hard).max()
    rng = np.random.default_rng(0)
    assert np.abs(kit.hit(rng, "KD", 0.2)).max() == pytest.approx(0.2 * np.abs(soft).max(), rel=1e-6)
    # --kits: the folder itself, or a folder of kits holding it and a Hydrogen kit
    _write_kit(tmp_path / "kits" / "hydro", NEW_XML)
    assert expand_kit_specs(str(folder)) == [str(folder)]
    assert expand_kit_specs(str(tmp_path / "kits")) == [str(tmp_path / "kits" / "hydro"), str(folder)]
    assert load_kit(str(folder), SR).name == "shots" and load_kit(str(tmp_path / "kits" / "hydro"), SR).name == "Tiny New"
    summary = write_corpus("drums", tmp_path / "c", n_tracks=2, duration=3.0, renderer="samples", kits=str(folder))
    assert [k["licence"] for k in summary["kits"]] == ["CC0 (test shots)"] and summary["events"]["sd"] > 0
    odd = tmp_path / "odd"
    _write_oneshots(odd, {"laser.wav": ("tom", 0.4), "song.wav": ("snare", 0.5)})
    with pytest.raises(InvalidOption, match="kick.wav, snare.wav, hihat_closed.wav"):
        write_corpus("drums", tmp_path / "d", n_tracks=1, duration=3.0, renderer="samples", kits=str(odd))


def test_kit_errors(kits, tmp_path):
    with pytest.raises(InvalidOption, match="needs --kits"):
        write_corpus("drums", tmp_path / "x", n_tracks=1, duration=3.0, renderer="samples")
    with pytest.raises(InvalidOption, match="no drumkit.xml"):
        expand_kit_specs(str(kits / "photos"))
    with pytest.raises(InvalidOption, match="kit not found"):
        expand_kit_specs(str(tmp_path / "missing"))
    with pytest.raises(InvalidOption, match="needs --renderer samples"):
        write_corpus("drums", tmp_path / "y", n_tracks=1, duration=3.0, kits=str(kits))
    with pytest.raises(InvalidOption, match="--kits are drum kits"):
        write_corpus("piano", tmp_path / "z", n_tracks=1, duration=3.0, renderer="samples", kits=str(kits))
    broken = tmp_path / "broken"
    shutil.copytree(kits / "old", broken)
    (broken / "drumkit.xml").write_text("<drumkit_info><name>")
    with pytest.raises(InvalidOption, match="drumkit.xml"):
        load_hydrogen_kit(broken, SR)


def test_soundfont_preset_table(tmp_path):
    def record(name: str, program: int, bank: int) -> bytes:
        return name.encode().ljust(20, b"\0") + struct.pack("<HHHIII", program, bank, 0, 0, 0, 0)

    phdr = record("Standard", 0, 128) + record("Piano", 0, 0) + record("EOP", 0, 0)
    pdta = b"pdta" + b"phdr" + struct.pack("<I", len(phdr)) + phdr
    body = b"sfbk" + b"LIST" + struct.pack("<I", len(pdta)) + pdta
    path = tmp_path / "t.sf2"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    assert soundfont_presets(path) == [(128, 0, "Standard"), (0, 0, "Piano")]
    (tmp_path / "bad.sf2").write_bytes(b"not a soundfont")
    with pytest.raises(InvalidOption, match="not a SoundFont"):
        soundfont_presets(tmp_path / "bad.sf2")


@pytest.mark.skipif(shutil.which("fluidsynth") is None or not __import__("pathlib").Path(
    "/usr/share/sounds/sf2/FluidR3_GM.sf2").is_file(), reason="needs fluidsynth and fluid-soundfont-gm (Debian)")
def test_soundfont_kit_renders_every_class():
    from loco_cli.samples import load_soundfont_kit

    kit = load_soundfont_kit("/usr/share/sounds/sf2/FluidR3_GM.sf2", SR, program=0)
    assert usable(kit) and not kit.velocity_gain
    assert len(kit.voices["SD"][0]) == 5  # five velocity layers


def test_cli_synth_with_sample_kits(kits, tmp_path):
    from typer.testing import CliRunner

    from loco_cli.cli import app

    runner = CliRunner()
    out = tmp_path / "corpus"
    result = runner.invoke(app, ["synth", "drums", str(out), "--tracks", "2", "--duration", "3", "--renderer", "samples",
                                 "--kits", f"{kits / 'old'},{kits / 'new'}"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "corpus.json").read_text())["kits"][0]["name"] == "Tiny Old"
    result = runner.invoke(app, ["synth", "drums", str(tmp_path / "c2"), "--renderer", "samples"])
    assert result.exit_code == 2 and "needs --kits" in result.output and "Traceback" not in result.output
    detuned = tmp_path / "detuned"
    result = runner.invoke(app, ["synth", "drums", str(detuned), "--tracks", "1", "--duration", "3", "--renderer",
                                 "samples", "--kits", str(kits / "old"), "--detune", "2"])
    assert result.exit_code == 0, result.output
    assert json.loads((detuned / "corpus.json").read_text())["detune"] == 2.0
    for bad in (["--detune", "2"], ["--renderer", "samples", "--kits", str(kits / "old"), "--detune", "13"]):
        result = runner.invoke(app, ["synth", "drums", str(tmp_path / "c3"), "--tracks", "1", *bad])
        assert result.exit_code == 2 and "--detune" in result.output and "Traceback" not in result.output
        assert not (tmp_path / "c3").exists()  # nothing half-written


def test_kit_mix_takes_instrument_groups_from_other_kits(kits, tmp_path):
    """``mix_kits``: with p = 1 every group comes from a kit that has it, a group's instruments stay
    together (with their own velocity scaling), nothing is copied; p = 0 keeps the kit; ``kit_mix=0``
    renders the plain corpus bit for bit and ``kit_mix`` > 0 changes the sound, not the hits."""
    from loco_cli.samples import MIX_GROUPS, SampleKit, mix_kits

    old, new = load_hydrogen_kit(kits / "old", SR), load_hydrogen_kit(kits / "new", SR)
    other = SampleKit("Other", "x", "MIT", {"SD": new.voices["SD"], "CHH": new.voices["CHH"]}, velocity_gain=False)
    assert mix_kits(np.random.default_rng(0), old, [old, other], 0.0).voices == old.voices
    seen = set()
    for s in range(40):
        mixed = mix_kits(np.random.default_rng(s), old, [old, other], 1.0)
        assert mixed.name == old.name and set(mixed.voices) >= {"KD", "SD", "CHH"}
        assert mixed.voices["KD"] is old.voices["KD"]  # only `old` has a kick
        hat_from_other = mixed.voices["CHH"] is other.voices["CHH"]
        if hat_from_other:  # the hi-hat group moves whole: `other` has no open hi-hat
            assert "OHH" not in mixed.voices and mixed.velocity_gains["CHH"] is False
        else:
            assert mixed.voices["OHH"] is old.voices["OHH"] and mixed.velocity_gains["CHH"] is True
        seen.add((mixed.voices["SD"] is other.voices["SD"], hat_from_other))
    assert seen == {(a, b) for a in (False, True) for b in (False, True)}  # each group drawn on its own
    assert [g[0] for g in MIX_GROUPS][:3] == ["KD", "SD", "CHH"]
    plain = write_corpus("drums", tmp_path / "a", n_tracks=2, duration=3.0, seed=1, renderer="samples",
                         kits=[str(kits / "old"), str(kits / "new")])
    zero = write_corpus("drums", tmp_path / "b", n_tracks=2, duration=3.0, seed=1, renderer="samples",
                        kits=[str(kits / "old"), str(kits / "new")], kit_mix=0.0)
    mixed = write_corpus("drums", tmp_path / "c", n_tracks=2, duration=3.0, seed=1, renderer="samples",
                         kits=[str(kits / "old"), str(kits / "new")], kit_mix=1.0)
    assert "kit_mix" not in zero and mixed["kit_mix"] == 1.0
    # the same hits; an open hi-hat becomes a closed one where the hi-hat's kit has no open sound
    assert sum(mixed["events"].values()) == sum(plain["events"].values())
    assert {k: mixed["events"][k] for k in ("bd", "sd")} == {k: plain["events"][k] for k in ("bd", "sd")}
    wavs = lambda d: sorted((tmp_path / d).glob("*.wav"))  # noqa: E731
    assert [w.read_bytes() for w in wavs("a")] == [w.read_bytes() for w in wavs("b")]
    assert [w.read_bytes() for w in wavs("a")] != [w.read_bytes() for w in wavs("c")]
    with pytest.raises(InvalidOption, match="--kit-mix"):
        write_corpus("drums", tmp_path / "x", n_tracks=1, duration=3.0, kit_mix=0.5)
    with pytest.raises(InvalidOption, match="--kit-mix"):
        write_corpus("drums", tmp_path / "y", n_tracks=1, duration=3.0, renderer="samples", kits=str(kits / "old"),
                     kit_mix=1.5)
