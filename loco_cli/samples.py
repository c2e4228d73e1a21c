"""Drum kits of real recorded samples, and a renderer that plays loco's grooves with them.

The built-in synthesizer (:mod:`loco_cli.synth`) makes every drum from oscillators and noise; a model
trained on it alone does not transfer to recorded drums. This module reads sample libraries that
anyone can install from a package registry and renders annotated tracks with them:

* **Hydrogen drumkit folders** (``drumkit.xml`` + sample files; Debian ``hydrogen-drumkits``): every
  instrument, its velocity layers (``min``/``max`` in 0..1) and round-robin alternatives (several
  layers covering one velocity), old and new ``drumkit.xml`` formats;
* **folders of one-shots** (a WAV / FLAC / OGG / AIFF file per drum, its name saying the instrument, e.g.
  ``kick_hard.flac``, ``snare.wav``, ``hihat_open.ogg``; Debian ``sonic-pi-samples``, ``lmms-common``, ``exadrums``):
  each hit plays one of its instrument's files at random (round robin), ``soft`` / ``hard`` in a name a velocity layer;
* **SoundFont drum presets** (``.sf2``; Debian ``avldrums.lv2-soundfont``, ``fluid-soundfont-gm``):
  each General MIDI drum note is rendered once per velocity layer by FluidSynth (reverb and chorus
  off) into one-shots, so both kinds of library go through the same mixing below.

Instruments are recognised from their names (:func:`classify_instrument`): kick, snare (and
rimshot), closed / pedal / open hi-hat, toms, crash, ride, and other percussion (a distractor).

A track (:func:`render_sample_track`) plays a groove of :func:`loco_cli.patterns.drum_score` (human
timing and dynamics, fills, flams, ghost notes, crashes) on one kit with: a velocity layer and a
round-robin sample per hit, level set by velocity; pedal hi-hats and rimshots where the kit has them;
open hi-hats choked by the next hi-hat stroke; a per-instrument mix balance; a generated stereo-less
room (early reflections and a band-split exponential tail); mix-bus EQ, compression and limiting;
a noise floor; a random overall level; and optionally an accompaniment of SoundFont instruments
(bass, guitars, keys, organ, strings, pads) rendered by FluidSynth at a chosen level.

Annotation times are the sample at which a hit's one-shot starts; one-shots are trimmed to their
first sample above -40 dB of their peak (less 0.5 ms), so an onset means the same on every library.
Labels use the ENST-Drums vocabulary (``bd sd chh ohh lt mt ht cr1 rc1 cb``), as the built-in
renderer does; pedal hi-hats are labelled ``chh`` (they count as HH in MDB Drums' class map).
"""

from __future__ import annotations

import re
import struct
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from loco_cli.errors import InvalidOption

__all__ = [
    "Layer",
    "SampleKit",
    "classify_instrument",
    "expand_kit_specs",
    "load_kit",
    "load_hydrogen_kit",
    "load_oneshot_kit",
    "load_soundfont_kit",
    "soundfont_presets",
    "render_sample_track",
    "KIT_LABELS",
    "usable",
    "room_impulse",
    "shelf_eq",
    "compress",
    "accompaniment",
]

#: loco's instrument names -> ENST-Drums labels written to the annotations.
KIT_LABELS = {"KD": "bd", "SD": "sd", "RS": "sd", "CHH": "chh", "PHH": "chh", "OHH": "ohh", "LT": "lt",
              "MT": "mt", "HT": "ht", "CR": "cr1", "RC": "rc1", "PERC": "cb"}
#: The instruments a kit must have to be used for KD / SD / HH training.
REQUIRED = ("KD", "SD", "CHH")

# Name patterns, tried in order (lower-case instrument names of Hydrogen kits).
_PATTERNS = [
    ("XS", r"stick|rim ?click|cross"),
    ("ROLL", r"roll|choke|swish|flink|hat free|zap|fx|whistle|sample:|beats_|snap"),
    ("PHH", r"(hi.?hat|hh|hat).*(pedal|foot|\bpd\b)|pedal.*(hh|hat)"),
    ("OHH", r"(hi.?hat|hh|hat).*(open|semi|\bop\b|side ohh)|open.*(hh|hat)"),
    ("CHH", r"hi.?hat|\bhh\b|\bhat\b|closed"),
    ("RS", r"rim ?shot"),
    ("KD", r"kick|bass ?drum|bassdrum|\bbd\b"),
    ("SD", r"snare"),
    ("LT", r"floor|tom low|low tom|tom 2\b|\blt\b"),
    ("HT", r"tom hi|hi(gh)? tom|tom 1\b"),
    ("MT", r"tom"),
    ("CR", r"crash|splash|china|cymbal"),
    ("RC", r"ride"),
    ("PERC", r"cowbell|clap|tamb|conga|bongo|clave|agogo|maraca|shaker|woodblock|cajon|djembe|drum \d"),
]
#: General MIDI drum notes per instrument (SoundFont kits).
GM_NOTES = {"KD": (35, 36), "SD": (38,), "RS": (40,), "CHH": (42,), "PHH": (44,), "OHH": (46,),
            "LT": (41, 43), "MT": (45, 47), "HT": (48, 50), "CR": (49, 57), "RC": (51, 59), "PERC": (39, 54, 56)}
#: Velocity layers rendered from a SoundFont (MIDI velocities) and the 0..1 range each one covers.
_SF2_VELOCITIES = (28, 52, 76, 100, 124)
_ONSET_DB = -40.0
#: Licences of Debian ``hydrogen-drumkits`` kits whose drumkit.xml names none (Debian's copyright file).
_DEBIAN_LICENCES = {"ColomboAcoustic": "GPL-2+ (Marcos Guglielmetti)", "Millo": "GPL-2 (Emiliano Grilli)"}


def classify_instrument(name: str) -> str | None:
    """loco's instrument for a kit instrument's ``name`` (``'KD'``, ``'OHH'``, ...), ``None`` to skip it.

    Side sticks, rolls, chokes and effects are skipped: they are neither a class nor a clean distractor.
    """
    low = name.lower()
    for inst, pattern in _PATTERNS:
        if re.search(pattern, low):
            return None if inst in ("XS", "ROLL") else inst
    return None


@dataclass
class Layer:
    """One velocity layer: hits with velocity in ``[vmin, vmax]`` play one of ``samples`` (round robin),
    each a mono float32 one-shot starting at its onset, scaled by ``gain``."""

    vmin: float
    vmax: float
    gain: float
    samples: list[np.ndarray]


@dataclass
class SampleKit:
    """A drum kit: ``voices[instrument]`` is a list of alternative drums (e.g. two crashes), each a list
    of velocity :class:`Layer`. ``velocity_gain``: scale a hit by its velocity (Hydrogen does; a
    SoundFont's layers are already rendered at their velocity)."""

    name: str
    source: str
    licence: str
    voices: dict[str, list[list[Layer]]] = field(default_factory=dict)
    velocity_gain: bool = True
    velocity_gains: dict[str, bool] = field(default_factory=dict)  # per instrument, where it differs (mix_kits)

    def has(self, inst: str) -> bool:
        return bool(self.voices.get(inst))

    def pick(self, rng: np.random.Generator, inst: str, velocity: float) -> tuple[np.ndarray, float]:
        """The one-shot of ``inst`` at ``velocity`` (0..1), as stored in the kit, and its gain: a velocity
        layer, a round-robin sample."""
        drum = self.voices[inst][rng.integers(len(self.voices[inst]))]
        fits = [layer for layer in drum if layer.vmin <= velocity <= layer.vmax] or [
            min(drum, key=lambda layer: min(abs(layer.vmin - velocity), abs(layer.vmax - velocity)))]
        layer = fits[rng.integers(len(fits))]
        shot = layer.samples[rng.integers(len(layer.samples))]
        return shot, layer.gain * (velocity if self.velocity_gains.get(inst, self.velocity_gain) else 1.0)

    def hit(self, rng: np.random.Generator, inst: str, velocity: float) -> np.ndarray:
        """A one-shot of ``inst`` at ``velocity`` (0..1) at its level (:meth:`pick`)."""
        shot, gain = self.pick(rng, inst, velocity)
        return shot * gain

    def summary(self) -> str:
        return ", ".join(f"{k} {sum(len(layer.samples) for d in v for layer in d)}" for k, v in sorted(self.voices.items()))


#: The instrument groups :func:`mix_kits` takes from one kit each: a snare with its rimshot, a hi-hat's
#: closed, pedal and open sounds, the toms, the cymbals stay together.
MIX_GROUPS = (("KD",), ("SD", "RS"), ("CHH", "PHH", "OHH"), ("LT", "MT", "HT"), ("CR", "RC"), ("PERC",))


def mix_kits(rng: np.random.Generator, base: SampleKit, kits: list[SampleKit], p: float) -> SampleKit:
    """``base`` with each instrument group of :data:`MIX_GROUPS`, with probability ``p``, played by a kit
    drawn from ``kits`` that has the group's first instrument (``base`` itself among them): the kick of
    one recorded kit, the snare of another, the hi-hat of a third. Kits are recorded as sets; mixing
    them keeps a network from telling a snare by the kit it came with (on the held-out kits it did not
    help: docs/real-audio.md). The result shares the sample arrays (nothing is copied); ``name`` stays
    ``base``'s, ``licence`` lists every kit used.
    """
    voices = dict(base.voices)
    gains = {inst: base.velocity_gains.get(inst, base.velocity_gain) for inst in base.voices}
    used = [base]
    for group in MIX_GROUPS:
        if rng.random() >= p:
            continue
        donors = [k for k in kits if k.has(group[0])]
        if not donors:
            continue
        donor = donors[rng.integers(len(donors))]
        for inst in group:
            voices.pop(inst, None)
            gains.pop(inst, None)
            if donor.has(inst):
                voices[inst] = donor.voices[inst]
                gains[inst] = donor.velocity_gains.get(inst, donor.velocity_gain)
        if all(donor is not k for k in used):  # by identity: comparing kits would compare their samples
            used.append(donor)
    licence = base.licence if len(used) == 1 else "; ".join(f"{k.name}: {k.licence}" for k in used)
    return SampleKit(base.name, base.source, licence, voices, base.velocity_gain, gains)


def _trim(shot: np.ndarray, sr: int, max_s: float = 4.0) -> np.ndarray:
    """Start a one-shot at its onset (first sample above -40 dB of the peak, less 0.5 ms); fade its tail."""
    peak = float(np.abs(shot).max()) if shot.size else 0.0
    if peak <= 0:
        return np.zeros(0, np.float32)
    first = int(np.argmax(np.abs(shot) >= peak * 10 ** (_ONSET_DB / 20)))
    shot = shot[max(0, first - int(0.0005 * sr)): first + int(max_s * sr)]
    fade = min(shot.size, int(0.05 * sr))
    shot = shot.astype(np.float32, copy=True)
    shot[shot.size - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return shot


def _text(node: ET.Element | None, tag: str, default: str = "") -> str:
    if node is None:
        return default
    for child in node:
        if child.tag.rsplit("}", 1)[-1] == tag:
            return (child.text or default).strip()
    return default


def _children(node: ET.Element, tag: str) -> list[ET.Element]:
    return [el for el in node.iter() if el.tag.rsplit("}", 1)[-1] == tag]


def load_hydrogen_kit(folder: str | Path, sr: int) -> SampleKit:
    """Read a Hydrogen drumkit folder (``drumkit.xml`` and its samples) at ``sr`` Hz.

    Instrument ``gain`` x ``volume`` and each layer's ``gain`` set the levels; layers (old format:
    ``<layer>`` under ``<instrument>``; new: under ``<instrumentComponent>``; oldest: one ``<filename>``)
    give the velocity ranges. Raises :class:`InvalidOption` naming the file when it cannot be read.
    """
    from loco_cli.audio import load_audio
    from loco_cli.errors import LocoError

    folder = Path(folder)
    xml = folder / "drumkit.xml"
    try:
        root = ET.parse(xml).getroot()
    except (OSError, ET.ParseError) as err:
        raise InvalidOption(f"{xml}: not a readable Hydrogen drumkit.xml ({err})") from err
    licence = _text(root, "license") or next((v for k, v in _DEBIAN_LICENCES.items() if k in folder.name), "unknown")
    kit = SampleKit(_text(root, "name", folder.name), str(folder), licence)
    for inst_el in _children(root, "instrument"):
        inst = classify_instrument(_text(inst_el, "name"))
        if inst is None:
            continue
        level = float(_text(inst_el, "gain", "1") or 1) * float(_text(inst_el, "volume", "1") or 1)
        layers = []
        for layer_el in _children(inst_el, "layer") or [inst_el]:
            fname = _text(layer_el, "filename")
            if not fname:
                continue
            try:
                shot = _trim(load_audio(folder / fname, sr), sr)
            except LocoError:
                continue
            if shot.size:
                layers.append(Layer(float(_text(layer_el, "min", "0") or 0), float(_text(layer_el, "max", "1") or 1),
                                    level * float(_text(layer_el, "gain", "1") or 1), [shot]))
        if layers:
            kit.voices.setdefault(inst, []).append(layers)
    return kit


#: Audio files a one-shot kit folder may hold (:func:`load_oneshot_kit`).
ONESHOT_SUFFIXES = (".wav", ".flac", ".ogg", ".aif", ".aiff")
#: Name words that make a one-shot a velocity layer (0..1 range) of its instrument; without one it covers all.
_LAYER_WORDS = {"soft": (0.0, 0.5), "hard": (0.5, 1.0)}
#: Files of a one-shot kit folder that hold its licence (first non-empty line).
_LICENCE_FILES = ("LICENCE", "LICENSE", "licence.txt", "license.txt")


def _oneshots(folder: Path) -> list[Path]:
    """The audio files directly inside ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in ONESHOT_SUFFIXES and p.is_file())


def load_oneshot_kit(folder: str | Path, sr: int) -> SampleKit:
    """Read a folder of one-shot drum samples at ``sr`` Hz: one audio file per sample, its instrument named
    by the file name (``_`` and ``-`` read as spaces, then :func:`classify_instrument`: ``kick_hard.flac`` a
    kick, ``hihat_pedal.wav`` a pedal hi-hat; files no pattern names are skipped). Each hit of an instrument
    plays one of its files drawn at random (round robin); a name holding the word ``soft`` or ``hard`` makes the file a
    velocity layer (0-0.5 / 0.5-1) of its instrument, levels set by velocity. The licence is the first
    line of a ``LICENCE`` / ``LICENSE`` file in the folder (``unknown`` without one), the name the folder's.
    Raises :class:`InvalidOption` naming the folder when it cannot be listed.
    """
    from loco_cli.audio import load_audio
    from loco_cli.errors import LocoError

    folder = Path(folder)
    try:
        files = _oneshots(folder)
    except OSError as err:
        raise InvalidOption(f"{folder}: cannot list the one-shot kit folder ({err})") from err
    licence = "unknown"
    for name in _LICENCE_FILES:
        if (folder / name).is_file():
            try:
                lines = [ln.strip() for ln in (folder / name).read_text(errors="replace").splitlines() if ln.strip()]
            except OSError as err:
                raise InvalidOption(f"{folder / name}: cannot read the kit's licence file ({err})") from err
            licence = lines[0] if lines else licence
            break
    layers: dict[str, dict[tuple[float, float], list[np.ndarray]]] = {}
    for path in files:
        words = re.sub(r"[_\-.]+", " ", path.stem.lower())
        inst = classify_instrument(words)
        if inst is None:
            continue
        try:
            shot = _trim(load_audio(path, sr), sr)
        except LocoError:
            continue
        if shot.size:
            rng = next((r for w, r in _LAYER_WORDS.items() if re.search(rf"\b{w}\b", words)), (0.0, 1.0))
            layers.setdefault(inst, {}).setdefault(rng, []).append(shot)
    kit = SampleKit(folder.name, str(folder), licence)
    for inst, by_range in layers.items():
        kit.voices[inst] = [[Layer(lo, hi, 1.0, shots) for (lo, hi), shots in sorted(by_range.items())]]
    return kit


#: Licences of the SoundFonts in Debian's packages (their copyright files), by file name.
SOUNDFONT_LICENCES = {"Black_Pearl": "CC-BY-SA 4.0 (AVL Drumkits, Glen MacArthur)",
                      "Red_Zeppelin": "CC-BY-SA 4.0 (AVL Drumkits, Glen MacArthur)",
                      "FluidR3": "MIT (FluidR3_GM, Frank Wen)",
                      "MuseScore_General": "MIT (MuseScore General, S. Christian Collins)",
                      "TimGM6mb": "GPL-2 (TimGM6mb, Tim Brechbill)",
                      "sf_GMbank": "public domain (csound-soundfont sf_GMbank)"}


def soundfont_licence(path: str | Path) -> str:
    """The licence of a known SoundFont file (:data:`SOUNDFONT_LICENCES`), else a pointer to its documentation."""
    return next((v for k, v in SOUNDFONT_LICENCES.items() if k in Path(path).name), "see the SoundFont's documentation")


def soundfont_presets(path: str | Path) -> list[tuple[int, int, str]]:
    """The presets ``(bank, program, name)`` of a SoundFont 2 file (its ``phdr`` chunk)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InvalidOption(f"{path}: cannot read the SoundFont ({err})") from err
    if data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        raise InvalidOption(f"{path}: not a SoundFont 2 file")
    i = data.find(b"phdr")
    if i < 0:
        raise InvalidOption(f"{path}: SoundFont without presets")
    size = struct.unpack("<I", data[i + 4:i + 8])[0]
    body = data[i + 8:i + 8 + size]
    out = []
    for j in range(0, size - 38, 38):  # the last record is the terminal "EOP"
        name = body[j:j + 20].split(b"\0")[0].decode("latin-1")
        program, bank = struct.unpack("<HH", body[j + 20:j + 24])
        out.append((bank, program, name))
    return out


def load_soundfont_kit(path: str | Path, sr: int, program: int | None = None) -> SampleKit:
    """Render a SoundFont drum preset into one-shots: every GM note of :data:`GM_NOTES` at five velocities.

    ``program``: the bank-128 (percussion) preset; ``None`` takes the file's first bank-128 preset, or,
    in a file without one (AVL drum kits), its first preset played on a melodic channel.
    """
    import soundfile as sf

    from loco_cli.fluidsynth import find_fluidsynth
    from loco_cli.midi import write_smf

    path = Path(path)
    presets = soundfont_presets(path)
    drums = sorted(p for b, p, _ in presets if b == 128)
    if program is not None and program not in drums:
        raise InvalidOption(f"{path}#{program}: no percussion preset {program}; it has {drums or 'none'}")
    if drums:
        channel, program = 9, drums[0] if program is None else program
        name = next(n for b, p, n in presets if b == 128 and p == program)
    else:
        channel, (_, program, name) = 0, min(presets)
    exe, sf2 = find_fluidsynth(path)
    step = 3.0
    notes = sorted({n for ns in GM_NOTES.values() for n in ns})
    events = [(i * step, n, v, 0.2, channel) for i, (n, v) in enumerate((n, v) for n in notes for v in _SF2_VELOCITIES)]
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "kit.mid", Path(tmp) / "kit.wav"
        write_smf(mid, events, {channel: program})
        proc = subprocess.run([exe, "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.5", "-r", str(sr), "-F", str(wav),
                               str(sf2), str(mid)], capture_output=True, text=True, timeout=600)
        if proc.returncode != 0 or not wav.is_file():
            raise InvalidOption(f"{path}: fluidsynth could not render the kit")
        audio, _ = sf.read(wav, dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    kit = SampleKit(path.stem if len(presets) == 1 else f"{path.stem} {name}", str(path), soundfont_licence(path),
                    velocity_gain=False)
    lows = [0.0] + [(a + b) / 254 for a, b in zip(_SF2_VELOCITIES, _SF2_VELOCITIES[1:], strict=False)]
    highs = lows[1:] + [1.0]
    for inst, inst_notes in GM_NOTES.items():
        for note in inst_notes:
            layers = []
            for k in range(len(_SF2_VELOCITIES)):
                i = notes.index(note) * len(_SF2_VELOCITIES) + k
                shot = _trim(audio[int(i * step * sr): int((i + 1) * step * sr)], sr, max_s=step - 0.1)
                if shot.size and np.abs(shot).max() > 1e-3:
                    layers.append(Layer(lows[k], highs[k], 1.0, [shot]))
            if layers:
                kit.voices.setdefault(inst, []).append(layers)
    return kit


def _is_oneshot_kit(folder: Path) -> bool:
    """Whether ``folder`` (no ``drumkit.xml``) holds one-shot audio files (:func:`load_oneshot_kit`)."""
    try:
        return folder.is_dir() and not (folder / "drumkit.xml").exists() and bool(_oneshots(folder))
    except OSError:
        return False


def expand_kit_specs(specs: str | list[str]) -> list[str]:
    """Kit specs from a comma-separated string or list: a Hydrogen kit folder; a folder of one-shots
    (:func:`load_oneshot_kit`); a folder of kit folders (either kind, sorted by name); ``FILE.sf2`` or
    ``FILE.sf2#PROGRAM``."""
    items = [s.strip() for s in (specs.split(",") if isinstance(specs, str) else specs) if s.strip()]
    if not items:
        raise InvalidOption("--kits: name at least one kit folder or .sf2 file")
    out = []
    for item in items:
        base = Path(item.split("#")[0])
        if base.suffix.lower() in (".sf2", ".sf3") or (base / "drumkit.xml").is_file():
            if not base.exists():
                raise InvalidOption(f"{base}: kit not found; pass a Hydrogen kit folder or a .sf2 file to --kits")
            out.append(item)
        elif _is_oneshot_kit(base):
            out.append(str(base))
        elif base.is_dir():
            found = sorted(str(p) for p in base.iterdir() if (p / "drumkit.xml").is_file() or _is_oneshot_kit(p))
            if not found:
                raise InvalidOption(f"{base}: no drumkit.xml or drum one-shots in it or its subfolders; pass Hydrogen "
                                    "kit folders (Debian: apt install hydrogen-drumkits), folders of one-shots named "
                                    "by instrument (kick.wav, snare.wav, hihat.wav) or .sf2 files to --kits")
            out += found
        else:
            raise InvalidOption(f"{base}: kit not found; pass a Hydrogen kit folder or a .sf2 file to --kits")
    return out


@lru_cache(maxsize=32)
def load_kit(spec: str, sr: int) -> SampleKit:
    """One kit from a spec of :func:`expand_kit_specs` (cached per process)."""
    path, _, prog = spec.partition("#")
    if path.lower().endswith((".sf2", ".sf3")):
        return load_soundfont_kit(path, sr, int(prog) if prog else None)
    if _is_oneshot_kit(Path(path)):
        return load_oneshot_kit(path, sr)
    return load_hydrogen_kit(path, sr)


def usable(kit: SampleKit) -> bool:
    """Whether ``kit`` has a kick, a snare and a closed hi-hat."""
    return all(kit.has(inst) for inst in REQUIRED)


# ------------------------------------------------------------------------------------------ mixing
def room_impulse(rng: np.random.Generator, sr: int, rt60: float) -> np.ndarray:
    """A generated room response ``(n,)``: direct sound, 4-10 early reflections in the first 5-40 ms,
    and a noise tail decaying by 60 dB in ``rt60`` s (the highs in 60 % of it); unit energy tail."""
    from scipy.signal import butter, sosfilt

    n = int(rt60 * 1.2 * sr) + 1
    t = np.arange(n) / sr
    noise = rng.standard_normal(n)
    low = sosfilt(butter(2, 2000, "low", fs=sr, output="sos"), noise) * np.exp(-6.9 * t / rt60)
    high = sosfilt(butter(2, 2000, "high", fs=sr, output="sos"), noise) * np.exp(-6.9 * t / (0.6 * rt60))
    tail = low + high
    tail[: int(rng.uniform(0.005, 0.02) * sr)] = 0.0  # pre-delay
    tail /= np.sqrt(np.sum(tail**2)) + 1e-12
    ir = tail * rng.uniform(0.3, 1.0)
    for _ in range(int(rng.integers(4, 11))):
        ir[int(rng.uniform(0.005, 0.04) * sr)] += rng.uniform(-0.5, 0.5)
    ir[0] = 1.0
    return ir


def in_room(x: np.ndarray, rng: np.random.Generator, sr: int, *, rt60: tuple[float, float],
            wet: tuple[float, float]) -> np.ndarray:
    """``x`` ``(n,)`` mixed with itself in a generated room (:func:`room_impulse`, RT60 drawn from
    ``rt60`` s), the room's share drawn from ``wet`` (the microphone distance), the room at the dry
    signal's RMS."""
    from scipy.signal import fftconvolve

    ir = room_impulse(rng, sr, rng.uniform(*rt60))
    share = rng.uniform(*wet)
    room = fftconvolve(x, ir)[: x.size]
    room *= np.sqrt(np.mean(x**2) / (np.mean(room**2) + 1e-20))
    return (1 - share) * x + share * room


def shelf_eq(x: np.ndarray, rng: np.random.Generator, sr: int) -> np.ndarray:
    """Random mix-bus EQ: low and high band gains of +-6 dB and a +-4 dB bell, as parallel bands."""
    from scipy.signal import butter, sosfilt

    lo_f, hi_f = rng.uniform(80, 300), rng.uniform(3000, 9000)
    low = sosfilt(butter(2, lo_f, "low", fs=sr, output="sos"), x)
    high = sosfilt(butter(2, hi_f, "high", fs=sr, output="sos"), x)
    mid_f = rng.uniform(300, 3000)
    mid = sosfilt(butter(2, (mid_f / 1.5, mid_f * 1.5), "band", fs=sr, output="sos"), x)
    g = 10 ** (rng.uniform(-6, 6, 3) / 20) - 1.0
    g[2] = 10 ** (rng.uniform(-4, 4) / 20) - 1.0
    return x + g[0] * low + g[1] * high + g[2] * mid


def compress(x: np.ndarray, rng: np.random.Generator, sr: int) -> np.ndarray:
    """Feed-forward RMS compressor (ratio 1.5-6, threshold 4-20 dB under the track's peak RMS, 10-200 ms
    smoothing) followed by a soft limiter (tanh, 0-8 dB drive)."""
    from scipy.signal import lfilter

    tau = rng.uniform(0.01, 0.2)
    a = np.exp(-1.0 / (tau * sr))
    env = np.sqrt(np.maximum(lfilter([1 - a], [1, -a], x**2), 1e-12))
    thresh = env.max() * 10 ** (-rng.uniform(4, 20) / 20)
    ratio = rng.uniform(1.5, 6.0)
    gain = np.where(env > thresh, (env / thresh) ** (1 / ratio - 1), 1.0)
    y = x * gain
    drive = 10 ** (rng.uniform(0, 8) / 20)
    peak = np.abs(y).max() + 1e-12
    return np.tanh(drive * y / peak) * peak / drive


def _accompaniment_notes(rng: np.random.Generator, duration: float) -> tuple[list, dict[int, int]]:
    """A random song part for FluidSynth: bass, a chord instrument, a pad and sometimes a lead line.
    Returns notes ``(onset_s, note, velocity, duration_s, channel)`` and programs per channel."""
    programs = {0: int(rng.integers(32, 40)), 1: int(rng.choice([0, 1, 2, 4, 5, 16, 17, 24, 25, 26, 27, 29, 30])),
                2: int(rng.choice([48, 49, 50, 52, 88, 89, 90, 91, 94])), 3: int(rng.choice([56, 61, 65, 73, 80, 81]))}
    beat = 60.0 / rng.uniform(70, 170)
    key = int(rng.integers(0, 12))
    prog = [0, 5, 7, 9, 3, 10]
    notes, t = [], 0.0
    lead = rng.random() < 0.5
    while t < duration:
        root = key + int(rng.choice(prog))
        bar = 4 * beat
        third = 3 if rng.random() < 0.4 else 4
        for k in range(8):  # bass in eighths
            if rng.random() < 0.8:
                notes.append((t + k * beat / 2, 36 + root % 12, int(rng.integers(70, 110)), beat / 2 * 0.9, 0))
        strum = rng.choice([1, 2, 4])
        for k in range(int(strum)):
            for iv in (0, third, 7, 12):
                notes.append((t + k * bar / strum + rng.uniform(0, 0.02), 52 + (root + iv) % 12,
                              int(rng.integers(50, 100)), bar / strum * 0.95, 1))
        for iv in (0, third, 7):
            notes.append((t, 60 + (root + iv) % 12, int(rng.integers(40, 80)), bar, 2))
        if lead:
            s = t
            while s < t + bar:
                d = beat * float(rng.choice([0.5, 1.0, 1.5]))
                notes.append((s, 67 + int(rng.choice([0, 2, 4, 5, 7, 9, 12])) + key % 12 - 6, int(rng.integers(60, 110)),
                              d * 0.9, 3))
                s += d
        t += bar
    return [n for n in notes if n[0] < duration], programs


def accompaniment(rng: np.random.Generator, duration: float, sr: int, soundfont: str | Path | None = None) -> np.ndarray:
    """Accompaniment audio ``(round(duration * sr),)`` rendered by FluidSynth from a GM SoundFont, unit RMS."""
    from loco_cli.fluidsynth import find_fluidsynth, render_midi

    notes, programs = _accompaniment_notes(rng, duration)
    out = render_midi(notes, programs, int(duration * sr), sr, find_fluidsynth(soundfont))
    return out / (np.sqrt(np.mean(out**2)) + 1e-12)


class _Variation:
    """Per-track retuning and EQ of each instrument (``render_sample_track(detune=...)``); each stored
    one-shot of the kit (alive for the whole track, so its ``id`` is a stable key) is transformed once per
    track and reused."""

    def __init__(self, rng: np.random.Generator, detune: float, sr: int) -> None:
        self.rng, self.detune, self.sr = rng, detune, sr
        self.ratio: dict[str, float] = {}
        self.eq_seed: dict[str, int] = {}
        self.done: dict[int, np.ndarray] = {}

    def apply(self, inst: str, shot: np.ndarray) -> np.ndarray:
        """``shot`` retuned by the instrument's ratio (up: shorter) and through its EQ."""
        if inst not in self.ratio:
            self.ratio[inst] = 2.0 ** (self.rng.uniform(-self.detune, self.detune) / 12.0)
            self.eq_seed[inst] = int(self.rng.integers(2**31))
        key = id(shot)
        if key not in self.done:
            ratio = self.ratio[inst]
            pos = np.arange(0.0, shot.size - 1, ratio)
            moved = np.interp(pos, np.arange(shot.size), shot) if pos.size > 1 else shot
            self.done[key] = shelf_eq(moved, np.random.default_rng(self.eq_seed[inst]), self.sr)
        return self.done[key]


def render_sample_track(
    seed: int,
    index: int,
    kit: SampleKit,
    *,
    duration: float = 30.0,
    sr: int = 44100,
    accompaniment_db: float | None = None,
    soundfont: str | Path | None = None,
    detune: float = 0.0,
) -> tuple[np.ndarray, list[tuple[float, str]]]:
    """Render one track of ``duration`` s on ``kit``: mono float32 samples ``(n,)`` at ``sr`` and events
    ``(time_s, instrument)`` (instruments of :data:`KIT_LABELS`), a pure function of ``(seed, index)``.

    ``accompaniment_db``: mix a FluidSynth accompaniment (``soundfont``, default Debian's GM font) at
    this level relative to the drums' RMS; ``None``: drums only. ``detune`` > 0 makes one library
    sound like many kits: in each track every instrument is retuned by its own random factor within
    ``+-detune`` semitones (resampled, so its decay changes with it) and coloured by its own random
    EQ (:func:`shelf_eq`: microphone and drum head), drawn from a separate random stream, so
    ``detune = 0`` renders exactly what it did before the option existed.
    """

    from loco_cli.patterns import drum_score

    rng = np.random.default_rng(np.random.SeedSequence([seed, index, 3]))
    family = "Real" if rng.random() < 0.8 else "Wave"
    score = drum_score(rng, duration, family)
    n = int(duration * sr)
    balance = {inst: 10 ** (rng.uniform(-4, 4) / 20) for inst in KIT_LABELS}
    pedal_p = rng.uniform(0.0, 0.25) if kit.has("PHH") else 0.0
    rim_p = rng.uniform(0.0, 0.15) if kit.has("RS") else 0.0
    toms = [t for t in ("LT", "MT", "HT") if kit.has(t)]
    hits: list[tuple[float, str, float]] = []
    for t, inst, vel in sorted(score):
        if inst == "CHH" and rng.random() < pedal_p:
            inst = "PHH"
        elif inst == "SD" and vel > 0.5 and rng.random() < rim_p:
            inst = "RS"
        elif inst in ("LT", "MT"):
            if not toms:
                continue
            inst = toms[rng.integers(len(toms))] if inst == "MT" else toms[0]
        elif inst == "CB":
            inst = "PERC"
        if inst == "OHH" and not kit.has("OHH"):
            inst = "CHH"
        if inst == "RC" and not kit.has("RC"):
            inst = "CR"
        if not kit.has(inst):
            continue
        hits.append((t, inst, float(np.clip(vel * rng.uniform(0.9, 1.1), 0.05, 1.0))))
    hat_times = np.array([t for t, inst, _ in hits if inst in ("CHH", "PHH", "OHH")])
    out = np.zeros(n + 5 * sr)
    events = []
    vary = _Variation(np.random.default_rng(np.random.SeedSequence([seed, index, 4])), detune, sr) if detune > 0 else None
    for t, inst, vel in hits:
        if vary is None:
            shot = kit.hit(rng, inst, vel) * balance[inst]
        else:
            sample, gain = kit.pick(rng, inst, vel)
            shot = vary.apply(inst, sample) * (gain * balance[inst])
        a = int(round(t * sr))
        if inst == "OHH":  # choked by the next hi-hat stroke (10 ms fade)
            later = hat_times[hat_times > t + 1e-4]
            if later.size:
                stop = max(int(round((later[0] - t) * sr)), 1)
                fade = int(0.01 * sr)
                shot = shot[: stop + fade].copy()
                tail = shot[stop:]
                tail *= np.linspace(1.0, 0.0, tail.size)
        out[a: a + shot.size] += shot
        events.append((a / sr, inst))
    out = out[:n]
    if rng.random() < 0.85:
        out = in_room(out, rng, sr, rt60=(0.15, 1.2), wet=(0.05, 0.6))
    out = shelf_eq(out, rng, sr)
    if rng.random() < 0.7:
        out = compress(out, rng, sr)
    if accompaniment_db is not None:
        rms = np.sqrt(np.mean(out**2)) + 1e-12
        out = out + accompaniment(rng, duration, sr, soundfont) * rms * 10 ** (accompaniment_db / 20)
    peak = np.abs(out).max() + 1e-12
    out += rng.standard_normal(n) * peak * 10 ** (rng.uniform(-75, -45) / 20)
    out *= 10 ** (-rng.uniform(0, 20) / 20) * 0.95 / (np.abs(out).max() + 1e-12)
    return out.astype(np.float32), events
