"""Real compositions as MIDI files, from the corpus that ships inside music21 (PyPI), for piano renders
of composed music instead of loco's generated pieces (``loco synth piano --scores DIR``).

    .venv/bin/pip install music21==10.5.0        # build time only; loco does not depend on it
    python benchmarks/repertoire_midi.py --out .samples/repertoire

Writes ``OUT/train/*.mid`` (J. S. Bach, C. P. E. Bach, Handel, Corelli, Haydn, Mozart) and
``OUT/test/*.mid`` (Beethoven, Robert and Clara Schumann, Chopin, Schoenberg, Schubert, Joplin, Beach,
Weber, Webern): split by composer, so that no composer of a test piece is heard in training; and
``OUT/sources.json``: each file's corpus path. The parts of each work (string quartets, chorales, songs,
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
SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn")
#: Each corpus folder's composer, as a card names them (a written file's name starts with its folder).
COMPOSERS = {"bach": "J. S. Bach", "cpebach": "C. P. E. Bach", "handel": "Handel", "corelli": "Corelli", "haydn": "Haydn",
             "mozart": "Mozart", "beethoven": "Beethoven", "schumann_robert": "R. Schumann",
             "schumann_clara": "C. Schumann", "chopin": "Chopin", "schoenberg": "Schoenberg", "schubert": "Schubert",
             "joplin": "Joplin", "beach": "Beach", "weber": "Weber", "webern": "Webern"}


def composer(work: str) -> str:
    """The composer of a written file's stem (``schumann_clara_polonaise_op1n3`` -> ``C. Schumann``)."""
    return COMPOSERS[max((k for k in COMPOSERS if work == k or work.startswith(k + "_")), key=len)]
#: A work music21 takes longer than this to convert (seconds; some quartets' repeat expansion runs for
#: many minutes) is left out.
TIMEOUT_S = 60


def _timeout(signum, frame):
    raise TimeoutError(f"took over {TIMEOUT_S} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    a = parser.parse_args()
    import music21

    root = Path(music21.__file__).parent / "corpus"
    out = Path(a.out)
    sources: dict[str, str] = {}
    for split, composers in (("train", TRAIN), ("test", TEST)):
        (out / split).mkdir(parents=True, exist_ok=True)
        for composer in composers:
            for path in sorted((root / composer).rglob("*")):
                if path.suffix not in SUFFIXES:
                    continue
                rel = path.relative_to(root)
                name = "_".join(rel.with_suffix("").parts).replace(".", "-")
                target = out / split / f"{name}.mid"
                if target.is_file():
                    sources[f"{split}/{target.name}"] = str(rel)
                    continue
                signal.signal(signal.SIGALRM, _timeout)
                signal.alarm(TIMEOUT_S)
                try:
                    score = music21.converter.parse(str(path))
                    tmp = target.with_suffix(".mid.tmp")
                    score.write("midi", fp=str(tmp))
                    os.replace(tmp, target)
                    sources[f"{split}/{target.name}"] = str(rel)
                except Exception as exc:  # noqa: BLE001 - an encoding music21 cannot convert is left out
                    print(f"left out {rel}: {type(exc).__name__}: {exc}", flush=True)
                finally:
                    signal.alarm(0)
    (out / "sources.json").write_text(json.dumps({"corpus": f"music21 {music21.__version__}", "files": sources},
                                                 indent=1) + "\n")
    print(f"{sum(k.startswith('train') for k in sources)} train, {sum(k.startswith('test') for k in sources)} test files")


if __name__ == "__main__":
    main()
