"""Real compositions as MIDI files, from the corpus that ships inside music21 (PyPI), for piano renders
of composed music instead of loco's generated pieces (``loco synth piano --scores DIR``).

    .venv/bin/pip install music21==10.5.0        # build time only; loco does not depend on it
    python benchmarks/repertoire_midi.py --out .samples/repertoire

Writes ``OUT/train/*.mid`` (J. S. Bach, C. P. E. Bach, Handel, Corelli, Haydn, Mozart) and
``OUT/test/*.mid`` (Beethoven, Robert and Clara Schumann, Chopin, Schoenberg, Schubert, Joplin, Beach,
Weber, Webern): split by composer, so that no composer of a test piece is heard in training; and
``OUT/sources.json``: each file's corpus path. The works are those listed in ``repertoire_works.tsv`` (434
train, 35 test), the same on every machine. The parts of each work (string quartets, chorales, songs,
piano pieces) are all written, each part on its own channel; ``--scores`` plays every part on the piano.
Tempo: the score's metronome marks, 120 quarter notes per minute where it has none. The music21 corpus'
licence (``music21/corpus/license.txt``): the works are out of copyright in the United States or
licensed for use, some encodings not for commercial use; see ``models/piano.md`` for what the shipped
model used.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
from pathlib import Path

TRAIN = ("bach", "cpebach", "handel", "corelli", "haydn", "mozart")
TEST = ("beethoven", "schumann_robert", "schumann_clara", "chopin", "schoenberg", "schubert", "joplin", "beach",
        "weber", "webern")
#: Each corpus folder's composer, as a card names them (a written file's name starts with its folder).
COMPOSERS = {"bach": "J. S. Bach", "cpebach": "C. P. E. Bach", "handel": "Handel", "corelli": "Corelli", "haydn": "Haydn",
             "mozart": "Mozart", "beethoven": "Beethoven", "schumann_robert": "R. Schumann",
             "schumann_clara": "C. Schumann", "chopin": "Chopin", "schoenberg": "Schoenberg", "schubert": "Schubert",
             "joplin": "Joplin", "beach": "Beach", "weber": "Weber", "webern": "Webern"}


def composer(work: str) -> str:
    """The composer of a written file's stem (``schumann_clara_polonaise_op1n3`` -> ``C. Schumann``)."""
    return COMPOSERS[max((k for k in COMPOSERS if work == k or work.startswith(k + "_")), key=len)]
#: The works written, as ``(OUT-relative MIDI file, music21 corpus path)`` rows: fixed, so that every machine
#: renders the same composed pieces (``loco synth piano --scores`` draws excerpts by position in the sorted
#: file list: one work more or fewer changes every later draw). These are the works of :data:`TRAIN` and
#: :data:`TEST` in music21 10.5.0's corpus that music21 converts.
WORKS = Path(__file__).resolve().parent / "repertoire_works.tsv"
#: A work music21 takes longer than this to convert (seconds) stops the run with an error naming it.
TIMEOUT_S = 900


def _timeout(signum, frame):
    raise TimeoutError(f"took over {TIMEOUT_S} s")


def midi_name(rel: Path) -> str:
    """The MIDI file name of a corpus path (``beethoven/opus18no1/movement1.mxl`` ->
    ``beethoven_opus18no1_movement1.mid``)."""
    return "_".join(rel.with_suffix("").parts).replace(".", "-") + ".mid"


def works(path: Path = WORKS) -> list[tuple[str, str]]:
    """The rows of :data:`WORKS`: ``(split/name.mid, corpus path)``, ``#`` lines skipped."""
    rows = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            target, source = line.split("\t")
            rows.append((target, source))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    a = parser.parse_args()
    import music21

    root = Path(music21.__file__).parent / "corpus"
    out = Path(a.out)
    sources: dict[str, str] = {}
    listed = works()
    for split in ("train", "test"):
        (out / split).mkdir(parents=True, exist_ok=True)
        for stale in set((out / split).glob("*.mid")) - {out / name for name, _ in listed}:
            stale.unlink()  # written from another list of works: --scores would draw it
    for name, rel in listed:
        target = out / name
        sources[name] = rel
        if target.is_file():
            continue
        signal.signal(signal.SIGALRM, _timeout)
        signal.alarm(TIMEOUT_S)
        try:
            score = music21.converter.parse(str(root / rel))
            tmp = target.with_suffix(".mid.tmp")
            score.write("midi", fp=str(tmp))
            os.replace(tmp, target)
        except Exception as exc:  # noqa: BLE001 - any failure: the set would differ from every other machine's
            raise SystemExit(f"{rel}: music21 {music21.__version__} could not convert it ({type(exc).__name__}: "
                             f"{exc}); install music21==10.5.0 (make repertoire) or remove its row from {WORKS}") from None
        finally:
            signal.alarm(0)
    (out / "sources.json").write_text(json.dumps({"corpus": f"music21 {music21.__version__}", "files": sources},
                                                 indent=1) + "\n")
    print(f"{sum(k.startswith('train') for k in sources)} train, {sum(k.startswith('test') for k in sources)} test files")


if __name__ == "__main__":
    main()
