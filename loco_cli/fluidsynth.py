"""FluidSynth: find the program and a SoundFont, render MIDI notes to audio.

Used by every renderer that plays a SoundFont: the ``--renderer fluidsynth`` corpora
(:mod:`loco_cli.synth`), SoundFont drum kits and band accompaniment (:mod:`loco_cli.samples`) and
SoundFont pianos (:mod:`loco_cli.pianos`). The notes go through a standard MIDI file
(:mod:`loco_cli.midi`) and ``fluidsynth -F`` into a temporary WAV.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from loco_cli.errors import InvalidOption

__all__ = ["SOUNDFONT_PATHS", "find_fluidsynth", "render_midi"]

#: Where Debian's SoundFont packages put their files (fluid-soundfont-gm, timgm6mb-soundfont).
SOUNDFONT_PATHS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2",
                   "/usr/share/sounds/sf2/default-GM.sf2")


def find_fluidsynth(soundfont: str | os.PathLike | None = None) -> tuple[str, Path]:
    """The ``fluidsynth`` program and a SoundFont, or :class:`InvalidOption` saying what to install."""
    import shutil

    exe = shutil.which("fluidsynth")
    if exe is None:
        raise InvalidOption("--renderer fluidsynth: the fluidsynth program is not installed "
                            "(Debian: apt install fluidsynth fluid-soundfont-gm); or use --renderer builtin")
    if soundfont is not None:
        sf2 = Path(soundfont)
        if not sf2.is_file():
            raise InvalidOption(f"{sf2}: SoundFont not found; pass an existing .sf2 file to --soundfont")
        return exe, sf2
    for candidate in SOUNDFONT_PATHS:
        if Path(candidate).is_file():
            return exe, Path(candidate)
    raise InvalidOption("--renderer fluidsynth: no SoundFont found; pass --soundfont FILE.sf2 "
                        "(Debian: apt install fluid-soundfont-gm or timgm6mb-soundfont)")


def render_midi(notes, programs: dict[int, int], n: int, sr: int, renderer: tuple[str, Path], controls=None,
                 dry: bool = False) -> np.ndarray:
    """Render notes ``(onset_s, note, velocity, duration_s, channel)`` (and ``controls`` of
    :func:`loco_cli.midi.smf_bytes`) with FluidSynth; mono ``(n,)``. ``dry``: reverb and chorus off."""
    import subprocess
    import tempfile

    import soundfile as sf

    from loco_cli.midi import write_smf

    exe, sf2 = renderer
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        write_smf(mid, notes, programs, controls)
        proc = subprocess.run([exe, "-ni", "-q", *(["-R", "0", "-C", "0"] if dry else []), "-g", "0.6", "-r", str(sr), "-F", str(wav), str(sf2), str(mid)],
                              capture_output=True, text=True, timeout=900)
        if proc.returncode != 0 or not wav.is_file():
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise InvalidOption(f"fluidsynth could not render with {sf2}: {last[0]}")
        data, _ = sf.read(wav, dtype="float64", always_2d=True)
    mono = data.mean(axis=1)
    return np.pad(mono, (0, max(0, n - mono.size)))[:n]
