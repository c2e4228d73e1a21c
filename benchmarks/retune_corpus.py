"""Retuned copies of a held-out piano corpus, prepared: every file played ``2 ** (cents / 1200)`` times as fast
(every pitch that many cents off, the polyphase resampler of ``bench_levels.py``) and its references' onset and
offset times scaled with it, for tools that read a prepared set (``bench_piano_peers.py``, ``bench_piano.py``).

    python benchmarks/retune_corpus.py runs/models/piano/test-composed --out runs/retuned --cents=25,-25

writes ``OUT/<corpus>+25`` (audio and MAPS-style ``.txt`` references) and ``OUT/prepared-<corpus>+25`` (the
piano preset, every track scored, as ``build_models.py`` prepares its held-out sets), and so on per offset.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_levels import _retuned  # noqa: E402
from build_models import prepare_test  # noqa: E402

from loco_cli.audio import load_audio  # noqa: E402

SR = 44100  # the piano model's rate


def retune_corpus(src: Path, out_root: Path, cents: float) -> Path:
    """Write ``src`` (``*.wav`` with MAPS-style ``.txt`` references: onset, offset, pitch) retuned by ``cents``
    into ``out_root/<name><+cents>`` and prepare it into ``out_root/prepared-<name><+cents>``; returns the
    prepared folder."""
    dst = out_root / f"{src.name}{cents:+g}"
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    shutil.copy(src / "corpus.json", dst / "corpus.json")
    for wav in sorted(src.glob("*.wav")):
        y, factor = _retuned(load_audio(wav, SR), cents)  # times in y are the original times / factor
        sf.write(dst / wav.name, y, SR, subtype="FLOAT")
        head, *rows = [line.split("\t") for line in (src / f"{wav.stem}.txt").read_text().splitlines() if line]
        lines = ["\t".join(head)] + [f"{float(on) / factor:.6f}\t{float(off) / factor:.6f}\t{pitch}" for on, off, pitch in rows]
        (dst / f"{wav.stem}.txt").write_text("\n".join(lines) + "\n")
    prepared = out_root / f"prepared-{src.name}{cents:+g}"
    prepare_test("piano", dst, prepared)
    return prepared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="a piano corpus folder (loco synth piano's layout)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cents", required=True, help="offsets, comma-separated (--cents=25,-25)")
    args = parser.parse_args()
    for c in (float(v) for v in args.cents.split(",") if v.strip()):
        print(retune_corpus(args.corpus, args.out, c))


if __name__ == "__main__":
    main()
