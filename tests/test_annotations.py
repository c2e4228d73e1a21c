import numpy as np
import pytest

from loco_cli.annotations import ENST_LABELS, Events, map_labels, read_events, write_events_csv
from loco_cli.errors import InvalidAnnotation


def write(path, text):
    path.write_text(text)
    return path


def test_enst_time_label_with_simultaneous_hits(tmp_path):
    f = write(tmp_path / "001_hits_snare-drum_sticks_x6.txt", "0.150000 bd\n0.150000 chh\n0.612000 sd\n0.700 ohh\n0.8 lt\n")
    ev, dropped = map_labels(read_events(f), ENST_LABELS)
    assert ev.of("KD").tolist() == [0.15] and ev.of("HH").tolist() == [0.15, 0.7]
    assert dropped == {"lt": 1}


def test_maps_header_crlf_and_pitch_labels(tmp_path):
    f = write(tmp_path / "MAPS_MUS-alb_se3_AkPnBcht.txt",
              "OnsetTime\tOffsetTime\tMidiPitch\r\n0.500004\t0.767863\t67\r\n0.500004\t0.767863\t71\r\n0.500004\t1.552440\t43\r\n")
    ev = read_events(f)
    assert len(ev) == 3 and sorted(ev.labels.tolist()) == ["43", "67", "71"]


def test_onset_list_with_comments(tmp_path):
    ev = read_events(write(tmp_path / "x.onsets", "# onsets\n1.5\n0.25\n\n"))
    assert ev.times.tolist() == [0.25, 1.5] and set(ev.labels) == {"onset"}


def test_mdb_class_file_with_stray_spaces(tmp_path):
    ev = read_events(write(tmp_path / "MusicDelta_80sRock_class.txt", "0.104 \t KD \n0.330\tHH   \n"))
    assert ev.labels.tolist() == ["KD", "HH"]


def test_loco_csv_round_trip(tmp_path):
    events = Events(np.array([0.5, 0.1234567]), np.array(["SD", "KD"], dtype=object))
    out = tmp_path / "sub" / "pred.csv"
    write_events_csv(out, events, np.array([0.9, 0.8]))
    back = read_events(out)
    assert back.labels.tolist() == ["KD", "SD"]
    np.testing.assert_allclose(back.times, [0.123457, 0.5])
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp file left


def test_loco_csv_with_pitch_labels_reads_the_label_column(tmp_path):
    """Piano detections: numeric labels must not be taken for MAPS ``onset offset pitch`` rows."""
    events = Events(np.array([0.5, 1.0]), np.array(["60", "108"], dtype=object))
    write_events_csv(tmp_path / "p.csv", events, np.array([0.62, 0.03]))
    back = read_events(tmp_path / "p.csv")
    assert back.labels.tolist() == ["60", "108"] and back.times.tolist() == [0.5, 1.0]


def test_idmt_xml_with_negative_and_exponent_onsets(tmp_path):
    xml = """<?xml version="1.0"?><instrumentRecording><globalParameter>
    <audioFileName>RealDrum01_00#MIX.wav</audioFileName>
    <audioTrainingFileName>RealDrum01_00#HH#train.wav</audioTrainingFileName></globalParameter>
    <transcription><event><pitch>42</pitch><onsetSec>-2.3e-05</onsetSec><offsetSec>0.1</offsetSec><instrument>HH</instrument></event>
    <event><onsetSec>0.0990</onsetSec><instrument>KD</instrument></event>
    <event><onsetSec>1.5E-1</onsetSec><instrument>SD</instrument></event></transcription></instrumentRecording>"""
    ev = read_events(write(tmp_path / "RealDrum01_00#MIX.xml", xml))
    assert ev.times.tolist() == [0.0, 0.099, 0.15] and ev.labels.tolist() == ["HH", "KD", "SD"]


def test_svl_points(tmp_path):
    svl = """<?xml version="1.0"?><sv><data><model id="1" sampleRate="44100" type="sparse"/>
    <dataset id="1"><point frame="12800" label="KD"/><point frame="44100"/></dataset></data></sv>"""
    ev = read_events(write(tmp_path / "RealDrum01_00#KD.svl", svl))
    np.testing.assert_allclose(ev.times, [12800 / 44100, 1.0])
    assert ev.labels.tolist() == ["KD", "KD"]


@pytest.mark.parametrize(
    "name,text",
    [("bad.txt", "0.1 KD\nabc KD\n"), ("bad.xml", "<a><b></a>"), ("bin.txt", None), ("inf.txt", "inf KD\n")],
)
def test_malformed_files_raise_one_clear_error(tmp_path, name, text):
    path = tmp_path / name
    if text is None:
        path.write_bytes(b"\xff\xfe\x00\x81garbage")
    else:
        path.write_text(text)
    with pytest.raises(InvalidAnnotation, match=name):
        read_events(path)


def test_missing_file(tmp_path):
    with pytest.raises(InvalidAnnotation, match="not found"):
        read_events(tmp_path / "nope.txt")


def test_midi_annotations_round_trip_with_tempo_changes(tmp_path):
    import struct

    from loco_cli.midi import read_smf_notes, smf_bytes

    notes = [(0.5, 36, 100, 0.1, 9), (0.75, 42, 80, 0.1, 9), (1.2, 60, 90, 0.4, 0)]
    (tmp_path / "a.mid").write_bytes(smf_bytes(notes))
    ev = read_events(tmp_path / "a.mid")
    assert ev.times.tolist() == pytest.approx([0.5, 0.75, 1.2]) and list(ev.labels) == ["36", "42", "60"]
    # format 1, two tracks, 96 ticks per beat; tempo 120 -> 60 BPM at tick 192 (1 s); note at tick 288
    track0 = b"\x00\xff\x51\x03\x07\xa1\x20" + b"\x81\x40\xff\x51\x03\x0f\x42\x40" + b"\x00\xff\x2f\x00"
    track1 = b"\x60\x90\x3c\x40" + b"\x00\x3e\x40" + b"\x81\x40\x40\x50" + b"\x00\x90\x3c\x00" + b"\x00\xff\x2f\x00"
    blob = b"MThd" + struct.pack(">IHHH", 6, 1, 2, 96)
    for tr in (track0, track1):
        blob += b"MTrk" + struct.pack(">I", len(tr)) + tr
    got = read_smf_notes(blob)
    assert [(round(t, 6), n) for t, n, _ in got] == [(0.5, 60), (0.5, 62), (2.0, 64)]  # running status, tempo map
    (tmp_path / "bad.mid").write_bytes(b"MThd\x00\x00")
    with pytest.raises(InvalidAnnotation, match="MIDI"):
        read_events(tmp_path / "bad.mid")


def test_json_text_writes_null_for_undefined_scores():
    import json
    import math

    from loco_cli.annotations import json_text

    text = json_text({"f1": float("nan"), "rows": [1.5, math.inf, (2, -math.inf)], "ok": 0.25})
    assert "NaN" not in text and "Infinity" not in text and text.endswith("\n")
    assert json.loads(text) == {"f1": None, "rows": [1.5, None, [2, None]], "ok": 0.25}
