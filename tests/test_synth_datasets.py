"""The embedded corpora and the dataset readers (layouts written by `synth`, plus hand-made fixtures)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from loco_cli.annotations import read_events
from loco_cli.corpus import write_corpus
from loco_cli.datasets import detect_layout, discover, read_count_manifest
from loco_cli.errors import DatasetError, InvalidOption
from loco_cli.synth import render_drum_track, render_piano_track


def _digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_drum_track_is_deterministic_and_annotated():
    a = render_drum_track(3, 1, duration=4.0)
    b = render_drum_track(3, 1, duration=4.0)
    c = render_drum_track(4, 1, duration=4.0)
    assert np.array_equal(a.samples, b.samples) and a.events == b.events
    assert not np.array_equal(a.samples[:1000], c.samples[:1000]) or a.events != c.events
    assert a.samples.dtype == np.float32 and a.samples.size == 4 * a.sample_rate
    assert np.abs(a.samples).max() == pytest.approx(0.9, abs=1e-6)
    times = np.array([t for t, _ in a.events])
    assert times.min() >= 0 and times.max() < 4.0
    assert {"KD", "SD"} <= {i for _, i in a.events}
    # a hit's waveform starts at its annotated sample: energy jumps there
    t_kick = next(t for t, i in a.events if i == "KD")
    k = int(round(t_kick * a.sample_rate))
    assert np.abs(a.samples[k : k + 400]).max() > 0.05


def test_piano_track_notes_in_range():
    track = render_piano_track(0, 0, duration=5.0)
    pitches = np.array([int(p) for _, p in track.events])
    assert pitches.min() >= 21 and pitches.max() <= 108 and len(track.events) > 5
    assert len(track.offsets) == len(track.events)
    assert all(off > t for (t, _), off in zip(track.events, track.offsets, strict=True))


def test_write_corpus_byte_identical(tmp_path):
    s1 = write_corpus("drums", tmp_path / "a", n_tracks=2, duration=3.0, seed=5)
    s2 = write_corpus("drums", tmp_path / "b", n_tracks=2, duration=3.0, seed=5)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert s1 == s2 and s1["seconds"] == pytest.approx(6.0)
    assert sum(s1["events"].values()) > 10


def test_corpus_records_the_accompaniment_level_and_what_plays_it(tmp_path):
    """A drum corpus with a band names its level (dB re the drums' RMS) and its instruments in ``corpus.json``;
    without one it says nothing; louder accompaniment changes the audio, not the annotations."""
    import json

    quiet = write_corpus("drums", tmp_path / "q", n_tracks=1, duration=3.0, seed=5, accompaniment_db=-9.0)
    loud = write_corpus("drums", tmp_path / "l", n_tracks=1, duration=3.0, seed=5, accompaniment_db=6.0)
    dry = write_corpus("drums", tmp_path / "d", n_tracks=1, duration=3.0, seed=5)
    assert quiet["accompaniment"] == {"db": -9.0, "instruments": "builtin"} and loud["accompaniment"]["db"] == 6.0
    assert json.loads((tmp_path / "l" / "corpus.json").read_text())["accompaniment"] == loud["accompaniment"]
    assert "accompaniment" not in dry
    (a,), (b,) = sorted((tmp_path / "q").glob("*.txt")), sorted((tmp_path / "l").glob("*.txt"))
    assert a.read_text() == b.read_text()
    assert a.with_suffix(".wav").read_bytes() != b.with_suffix(".wav").read_bytes()


@pytest.mark.parametrize(("layout", "groups"), [("enst", {"drummer_1", "drummer_2", "drummer_3"}),
                                                 ("idmt", {"RealDrum", "WaveDrum", "TechnoDrum"})])
def test_drum_layouts_round_trip_through_readers(tmp_path, layout, groups):
    write_corpus("drums", tmp_path, n_tracks=3, duration=3.0, layout=layout)
    assert detect_layout(tmp_path) == layout
    tracks, problems = discover(tmp_path)
    assert not problems and len(tracks) == 3
    assert {t.group for t in tracks} == groups
    for t in tracks:
        ev = read_events(t.annotation)
        assert len(ev) > 0 and ev.times.max() < 3.0


def test_maps_layout(tmp_path):
    write_corpus("piano", tmp_path, n_tracks=2, duration=3.0, layout="maps")
    tracks, _ = discover(tmp_path)
    assert detect_layout(tmp_path) == "maps" and len(tracks) == 2
    assert tracks[0].audio.name.startswith("MAPS_MUS-") and tracks[0].group in ("ENSTDkCl", "AkPnBcht")
    ev = read_events(tracks[0].annotation)
    assert all(21 <= int(x) <= 108 for x in ev.labels)


def test_bad_layout_options(tmp_path):
    with pytest.raises(InvalidOption, match="layout"):
        write_corpus("piano", tmp_path, n_tracks=1, duration=3.0, layout="enst")
    with pytest.raises(DatasetError, match="no such"):
        discover(tmp_path / "missing")


def test_idmt_skips_train_files_and_stems(tmp_path):
    write_corpus("drums", tmp_path, n_tracks=1, duration=3.0, layout="idmt")
    audio = tmp_path / "audio"
    mix = next(audio.glob("*#MIX.wav"))
    (audio / mix.name.replace("#MIX", "#KD#train")).write_bytes(mix.read_bytes())
    (audio / mix.name.replace("#MIX", "#KD")).write_bytes(mix.read_bytes())
    tracks, _ = discover(tmp_path)
    assert [t.audio.name for t in tracks] == [mix.name]


def test_mdb_audio_versions_are_never_mixed(tmp_path):
    import soundfile as sf

    from loco_cli.errors import DatasetError

    mdb = tmp_path / "MDB Drums"
    for sub in ("audio/full_mix", "audio/drum_only", "annotations/class"):
        (mdb / sub).mkdir(parents=True)
    for t in ("MusicDelta_Rock", "MusicDelta_Punk"):
        (mdb / "annotations" / "class" / f"{t}_class.txt").write_text("0.10\tKD\n")
        sf.write(mdb / "audio" / "full_mix" / f"{t}_MIX.wav", np.zeros(4410, dtype=np.float32), 44100)
    sf.write(mdb / "audio" / "drum_only" / "MusicDelta_Rock_Drum.wav", np.zeros(4410, dtype=np.float32), 44100)
    tracks, problems = discover(mdb)  # default: the drum stems only
    assert [t.audio.name for t in tracks] == ["MusicDelta_Rock_Drum.wav"]
    assert problems == [f"{mdb / 'annotations' / 'class' / 'MusicDelta_Punk_class.txt'}: no audio/drum_only/MusicDelta_Punk_Drum.wav"]
    tracks, problems = discover(mdb, channel="full_mix")
    assert {t.audio.parent.name for t in tracks} == {"full_mix"} and len(tracks) == 2 and not problems
    with pytest.raises(DatasetError, match="--channel drum_only"):
        discover(mdb / "audio" / "drum_only")
    with pytest.raises(DatasetError, match="choose one with --channel"):
        discover(mdb, channel="close_mics")


def test_symlinked_folders_are_searched_once_and_hidden_ones_not(tmp_path):
    """A dataset assembled from links (a folder of another disk linked in) is read whole, by ``discover``
    and by ``detect``'s folder search alike; a link back up the tree does not loop; a hidden folder is
    skipped."""
    from loco_cli.detection import collect_inputs
    from loco_cli.files import walk_files

    write_corpus("drums", tmp_path / "elsewhere", n_tracks=2, duration=2.0, seed=3)
    write_corpus("drums", tmp_path / "data" / "own", n_tracks=1, duration=2.0, seed=4)
    (tmp_path / "data" / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "data" / "own" / "loop").symlink_to(tmp_path / "data", target_is_directory=True)
    write_corpus("drums", tmp_path / "data" / ".trash", n_tracks=1, duration=2.0, seed=5)
    tracks, problems = discover(tmp_path / "data")
    assert sorted(t.audio.parent.name for t in tracks) == ["linked", "linked", "own"] and not problems
    found, problems = collect_inputs([tmp_path / "data"])
    assert len(found) == 3 and not problems
    assert [p.name for p in walk_files(tmp_path / "data", (".wav",))] == [p.name for p in found]
    assert all(".trash" not in p.parts for p in walk_files(tmp_path / "data"))


def test_mdb_and_generic_layouts(tmp_path):
    import soundfile as sf

    mdb = tmp_path / "mdb"
    (mdb / "audio" / "full_mix").mkdir(parents=True)
    (mdb / "annotations" / "class").mkdir(parents=True)
    sf.write(mdb / "audio" / "full_mix" / "MusicDelta_Rock_MIX.wav", np.zeros(4410, dtype=np.float32), 44100)
    (mdb / "annotations" / "class" / "MusicDelta_Rock_class.txt").write_text("0.10 \t KD \n0.20\tHH  \n")
    tracks, _ = discover(mdb, channel="full_mix")
    assert detect_layout(mdb) == "mdb" and tracks[0].name == "MusicDelta_Rock"
    assert list(read_events(tracks[0].annotation).labels) == ["KD", "HH"]

    gen = tmp_path / "gen"
    (gen / "sub").mkdir(parents=True)
    sf.write(gen / "sub" / "a.wav", np.zeros(4410, dtype=np.float32), 44100)
    (gen / "sub" / "a.txt").write_text("0.1\n")
    sf.write(gen / "b.wav", np.zeros(4410, dtype=np.float32), 44100)  # no annotation: reported
    tracks, problems = discover(gen)
    assert [t.name for t in tracks] == ["sub__a"] and tracks[0].group == "sub"
    assert len(problems) == 1 and "b.wav" in problems[0]


def test_count_manifest(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("audio,start,end,KD,SD\nclip.wav,0,1.5,2,0\nclip.wav,1.5,3.0,1,1\n")
    clips, classes = read_count_manifest(path)
    assert classes == ["KD", "SD"] and clips[1].counts == {"KD": 1, "SD": 1}
    assert clips[0].audio == (tmp_path / "clip.wav").resolve()
    path.write_text("audio,start,end,KD\nclip.wav,0,1.5,x\n")
    with pytest.raises(DatasetError, match=r"m\.csv:2"):
        read_count_manifest(path)
    path.write_text("file,KD\n")
    with pytest.raises(DatasetError, match="header"):
        read_count_manifest(path)


def test_fluidsynth_renderer_or_a_clear_message(tmp_path, monkeypatch):
    import shutil

    from loco_cli.fluidsynth import find_fluidsynth

    if shutil.which("fluidsynth"):
        try:
            find_fluidsynth()
        except InvalidOption:
            pytest.skip("fluidsynth without a SoundFont")
        s = write_corpus("drums", tmp_path / "fs", n_tracks=1, duration=3.0, renderer="fluidsynth")
        assert s["renderer"].startswith("fluidsynth") and sum(s["events"].values()) > 3
        import soundfile as sf

        wav = next((tmp_path / "fs").glob("*.wav"))
        audio, rate = sf.read(wav)
        assert rate == 44100 and audio.shape == (3 * 44100,) and np.abs(audio).max() > 0.1
        ev = read_events(wav.with_suffix(".txt"))
        k = int(ev.times[0] * rate)
        assert np.abs(audio[k : k + 2205]).max() > 4 * (np.abs(audio[max(k - 2205, 0) : k]).max() + 1e-4) or k < 2205
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(InvalidOption, match="apt install fluidsynth"):
        write_corpus("drums", tmp_path / "x", n_tracks=1, duration=3.0, renderer="fluidsynth")
    with pytest.raises(InvalidOption, match="renderer"):
        write_corpus("drums", tmp_path / "y", n_tracks=1, duration=3.0, renderer="midi")


def test_idmt_per_instrument_svl_layers_are_merged(tmp_path):
    import soundfile as sf

    from loco_cli.prepare import prepare_dataset
    from loco_cli.prepared import load_prepared

    root = tmp_path / "IDMT-SMT-DRUMS-V2"
    (root / "audio").mkdir(parents=True)
    (root / "annotation_svl").mkdir()
    noise = (0.1 * np.random.default_rng(0).standard_normal(3 * 44100)).astype(np.float32)
    sf.write(root / "audio" / "RealDrum01_00#MIX.wav", noise, 44100)
    sf.write(root / "audio" / "RealDrum01_00#KD.wav", noise, 44100)
    frames = {"KD": [22050, 66150], "SD": [44100], "HH": [11025, 33075, 55125]}
    for inst, fr in frames.items():
        points = "".join(f'<point frame="{f}" label="" />' for f in fr)
        (root / "annotation_svl" / f"RealDrum01_00#{inst}.svl").write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE sonic-visualiser>\n<sv><data>'
            '<model id="1" name="" sampleRate="44100" start="0" end="0" type="sparse" dimensions="1" '
            f'resolution="1" notifyOnAdd="true" dataset="0"/><dataset id="0" dimensions="1">{points}</dataset>'
            "</data></sv>\n")
    tracks, problems = discover(root)
    assert [t.name for t in tracks] == ["RealDrum01_00_MIX"] and not problems
    assert len(tracks[0].more_annotations) == 2
    data = load_prepared(prepare_dataset(root, tmp_path / "prep", split="none").out)
    ev = data.reference("RealDrum01_00_MIX")
    assert {c: len(ev.of(c)) for c in ("KD", "SD", "HH")} == {"KD": 2, "SD": 1, "HH": 3}
