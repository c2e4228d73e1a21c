"""Labelling by counting: the snippets of a folder of audio, a counts manifest written answer by answer,
and a trained model's suggestions (``loco count``; the page and its server live in ``loco_cli.cli``).

Data flow: audio files -> :func:`list_snippets` (fixed-length snippets, seconds) -> a person's counts
-> :class:`CountStore` (the counts manifest that ``loco prepare`` reads, rewritten atomically after each
answer) -> ``loco prepare`` / ``loco train``. :func:`snippet_view` gives what the page draws (a log-mel
image and a waveform envelope) and :func:`snippet_wav` what it plays. With a model,
:func:`model_suggestions` gives each snippet the model's expected count per class (the mean of its
count distribution, LoCo [1] eq. 6: ``sum_t p_t``), its detections, and how unsure it is (``1 - max_k
P(Y = k)`` summed over classes), so the least certain snippets can be labelled first.

The manifest: ``audio,start,end,<class>,...`` (audio paths relative to the manifest's folder, seconds,
integer counts), then columns whose names start with ``_``, which ``loco prepare`` ignores:
``_by`` (who answered) and ``_model`` (the model's suggestion shown to that person, ``KD=2;SD=0``, empty
without a model), so a reader can tell counts a person confirmed from counts a person corrected.
"""

from __future__ import annotations

import base64
import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loco_cli.atomic import atomic_write_text
from loco_cli.audio import AUDIO_SUFFIXES
from loco_cli.errors import DatasetError, InvalidOption
from loco_cli.files import walk_files

__all__ = ["Snippet", "CountStore", "list_snippets", "snippet_samples", "snippet_view", "snippet_wav",
           "model_suggestions", "disagreements", "DEFAULT_SNIPPET_S", "MAX_COUNT"]

#: Snippet length (s) of ``loco count``: the length ``loco prepare`` cuts training snippets to.
DEFAULT_SNIPPET_S = 1.5
#: The largest count the page accepts for one class of one snippet.
MAX_COUNT = 99
#: A trailing piece of a file shorter than this fraction of a snippet is not offered.
MIN_TAIL_FRACTION = 0.5
#: Display front-end of the page: log-mel bands and frames per second of :func:`snippet_view`.
VIEW_BANDS, VIEW_FPS = 64, 100
#: The darkest level of the page's picture, in dB below the snippet's loudest band.
VIEW_RANGE_DB = 70.0


@dataclass(frozen=True)
class Snippet:
    """One stretch of one audio file to count in: ``start`` / ``end`` in seconds; ``rel`` is the audio
    path as the manifest writes it (relative to the manifest's folder when possible)."""

    id: int
    audio: Path
    rel: str
    start: float
    end: float

    @property
    def key(self) -> tuple[str, float, float]:
        """What identifies the snippet in a manifest: the resolved audio path and the times (s, to 1 µs)."""
        return (str(self.audio), round(self.start, 6), round(self.end, 6))


def _relative(audio: Path, base: Path) -> str:
    try:
        return os.path.relpath(audio, base)
    except ValueError:  # another drive (Windows)
        return str(audio)


def _seconds(t: float) -> str:
    """Seconds as the manifest writes them: up to 6 decimals, no trailing zeros (``1.5``, ``29.999977``)."""
    return f"{t:.6f}".rstrip("0").rstrip(".")


def list_snippets(audio_dir: str | os.PathLike, manifest: str | os.PathLike,
                  snippet_s: float = DEFAULT_SNIPPET_S) -> tuple[list[Snippet], list[str]]:
    """Cut every audio file under ``audio_dir`` (recursively, sorted) into consecutive snippets of
    ``snippet_s`` seconds (a last piece of at least half a snippet is kept). Returns the snippets and
    one line per file that could not be read (the rest go on)."""
    import soundfile as sf

    if not snippet_s > 0 or not np.isfinite(snippet_s):
        raise InvalidOption(f"--snippet-length {snippet_s}: give a positive number of seconds")
    root = Path(audio_dir)
    if not root.is_dir():
        raise InvalidOption(f"{root}: not a folder; give the folder that holds the audio to count in")
    base = Path(manifest).resolve().parent
    files = walk_files(root, AUDIO_SUFFIXES)
    if not files:
        raise InvalidOption(f"{root}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in this folder")
    snippets, problems = [], []
    for f in files:
        try:
            info = sf.info(str(f))
            seconds = info.frames / info.samplerate
            if info.frames <= 0:
                raise ValueError("no samples")
        except Exception as err:  # any decoder failure: skip the file, name it
            problems.append(f"{f}: cannot be read ({str(err).strip() or type(err).__name__}); skipped")
            continue
        n_whole = int(seconds // snippet_s + 1e-9)
        bounds = [(k * snippet_s, (k + 1) * snippet_s) for k in range(n_whole)]
        if seconds - n_whole * snippet_s >= MIN_TAIL_FRACTION * snippet_s:
            bounds.append((n_whole * snippet_s, seconds))
        for start, end in bounds:
            snippets.append(Snippet(len(snippets), f.resolve(), _relative(f.resolve(), base),
                                    round(start, 6), round(end, 6)))
    return snippets, problems


def snippet_samples(snippet: Snippet) -> tuple[np.ndarray, int]:
    """The snippet's samples, mono float32 ``(n,)``, at the file's own rate (Hz)."""
    import soundfile as sf

    info = sf.info(str(snippet.audio))
    a, b = int(round(snippet.start * info.samplerate)), int(round(snippet.end * info.samplerate))
    x, rate = sf.read(str(snippet.audio), start=a, stop=b, dtype="float32", always_2d=True)
    return np.nan_to_num(x.mean(axis=1)), rate


def snippet_wav(snippet: Snippet) -> bytes:
    """The snippet as a mono 16-bit WAV at the file's own rate, for the browser to play."""
    import soundfile as sf

    x, rate = snippet_samples(snippet)
    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1.0, 1.0), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def snippet_view(snippet: Snippet, columns: int = 600) -> dict:
    """What the page draws: a log-mel image (``VIEW_BANDS`` bands at ``VIEW_FPS`` frames per second,
    scaled to 0-255 from the snippet's 20th percentile (at most ``VIEW_RANGE_DB`` below its peak) to its
    peak, base64 of ``uint8`` rows, frame-major) and a waveform envelope (``columns`` min/max pairs in
    [-1, 1])."""
    import soxr

    from loco_cli.config import FeatureConfig
    from loco_cli.features import log_mel

    x, rate = snippet_samples(snippet)
    cfg = FeatureConfig(sample_rate=22050, win_length=1024, hop_length=22050 // VIEW_FPS, n_fft=1024,
                        n_mels=VIEW_BANDS, fmin=30.0, fmax=11025.0, delta=False)
    y = soxr.resample(x, rate, cfg.sample_rate) if rate != cfg.sample_rate else x
    y = np.concatenate([y, np.zeros(cfg.n_fft, dtype=np.float32)])  # the last frames see the end
    mel = log_mel(y.astype(np.float32), cfg)[: max(1, int(len(x) / rate * VIEW_FPS)), 0]  # (frames, bands)
    top, floor = float(mel.max()), float(np.percentile(mel, 20))
    floor = max(floor, top - VIEW_RANGE_DB * np.log(10) / 10)  # natural-log power: dB * ln(10) / 10
    img = np.clip((mel - floor) / max(top - floor, 1e-6), 0, 1)
    edges = np.linspace(0, len(x), columns + 1).astype(int)
    env = [(float(x[a:b].min()), float(x[a:b].max())) if b > a else (0.0, 0.0) for a, b in zip(edges[:-1], edges[1:],
                                                                                               strict=True)]
    return {"frames": int(img.shape[0]), "bands": VIEW_BANDS, "fps": VIEW_FPS,
            "image": base64.b64encode((img * 255).astype(np.uint8).tobytes()).decode("ascii"),
            "envelope": env, "seconds": len(x) / rate}


@dataclass
class Answer:
    """A person's counts for one snippet, with who gave them and what the model suggested."""

    counts: dict[str, int]
    by: str = ""
    model: str = ""


@dataclass
class CountStore:
    """The counts manifest at ``path`` for ``classes``, one row per answered snippet.

    :meth:`save` takes a lock (``fcntl.flock`` on ``<path>.lock``, shared by every process and thread),
    re-reads the manifest, sets the row and rewrites the file atomically: two tabs or two servers on
    the same manifest never lose each other's answers, and a kill leaves the previous or the new file
    whole. Rows of snippets that are not offered now (another folder, another snippet length) are
    kept as they are."""

    path: Path
    classes: list[str]

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.classes or len(set(self.classes)) != len(self.classes) or not all(self.classes):
            raise InvalidOption(f"--classes {','.join(self.classes)}: give distinct, non-empty class names")
        if any(c in ("audio", "start", "end") or c.startswith("_") or "," in c for c in self.classes):
            raise InvalidOption("--classes: a class may not be named audio, start or end, start with _ or hold a comma")
        if self.path.exists() and not self.path.is_file():
            raise InvalidOption(f"{self.path}: exists and is not a file; choose another --out")
        self.read()  # refuse a manifest of other classes now, not after the first answer

    @property
    def header(self) -> list[str]:
        return ["audio", "start", "end", *self.classes, "_by", "_model"]

    def read(self) -> dict[tuple[str, float, float], Answer]:
        """Every answered snippet, keyed like :attr:`Snippet.key`."""
        if not self.path.is_file():
            return {}
        text = self.path.read_text(encoding="utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            return {}
        head = [h.strip() for h in rows[0]]
        classes = [h for h in head[3:] if not h.startswith("_")]
        if head[:3] != ["audio", "start", "end"] or classes != self.classes:
            raise InvalidOption(f"{self.path}: its classes are {','.join(classes) or 'none'}, not "
                                f"{','.join(self.classes)}; pass --classes {','.join(classes)} or another --out")
        col = {h: i for i, h in enumerate(head)}
        base = self.path.resolve().parent
        out = {}
        for number, row in enumerate(rows[1:], start=2):
            if not row:
                continue
            try:
                audio = (base / row[0]).resolve()
                key = (str(audio), round(float(row[1]), 6), round(float(row[2]), 6))
                counts = {c: int(row[col[c]]) for c in self.classes}
            except (ValueError, IndexError) as err:
                raise DatasetError(f"{self.path}:{number}: not a counts row ({err}); fix or remove the line") from err
            out[key] = Answer(counts, row[col["_by"]] if "_by" in col and col["_by"] < len(row) else "",
                              row[col["_model"]] if "_model" in col and col["_model"] < len(row) else "")
        return out

    def save(self, snippet: Snippet, answer: Answer) -> int:
        """Record ``answer`` for ``snippet`` (replacing an earlier one); returns the number of answered
        snippets in the manifest."""
        import fcntl

        bad = {c: v for c, v in answer.counts.items() if not isinstance(v, int) or not 0 <= v <= MAX_COUNT}
        if set(answer.counts) != set(self.classes) or bad:
            raise InvalidOption(f"counts must be whole numbers 0-{MAX_COUNT} for {', '.join(self.classes)}; "
                                f"got {answer.counts}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(f".{self.path.name}.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            rows = self.read()
            rows[snippet.key] = answer
            base = self.path.resolve().parent
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(self.header)
            for (audio, start, end), a in sorted(rows.items()):
                w.writerow([_relative(Path(audio), base), _seconds(start), _seconds(end),
                            *[a.counts[c] for c in self.classes], a.by, a.model])
            atomic_write_text(self.path, buf.getvalue())
        return len(rows)


def model_suggestions(loaded, snippets: list[Snippet], classes: list[str], *, device: str = "cpu",
                      on_file=None) -> dict[int, dict]:
    """A model's view of each snippet, by snippet id: ``expected`` (per class, ``sum_t p_t`` over the
    snippet's frames: the mean of the count distribution, LoCo [1] eq. 6), ``suggested`` (the count the
    page pre-fills: the rounded mean for a model trained on counts, else the number of detections,
    which the decoder's calibrated thresholds make the better guess for a model trained on onset times),
    ``detections`` (seconds from the snippet's start, per class) and ``uncertainty`` (``sum_c 1 - max_k
    P_c(Y = k)`` of the count distribution of the snippet's activations). Each file is detected once.
    Classes the model does not know get no suggestion; a model that knows none of them is refused."""
    import torch

    from loco_cli.counting import count_log_distribution
    from loco_cli.detection import detect_file
    from loco_cli.features import seconds_to_frames

    shared = [c for c in classes if c in loaded.classes]
    if not shared:
        raise InvalidOption(f"the model's classes ({', '.join(loaded.classes[:8])}) hold none of --classes "
                            f"({', '.join(classes)}); choose a model for these classes")
    by_counts = loaded.payload.get("loss", {}).get("name") in ("loco", "softloc")
    fps = loaded.features.fps
    out: dict[int, dict] = {}
    by_file: dict[Path, list[Snippet]] = {}
    for s in snippets:
        by_file.setdefault(s.audio, []).append(s)
    for audio, group in by_file.items():
        res = detect_file(loaded, audio, None, device, keep_activations=True)
        probs = np.asarray(res.probs, dtype=np.float64)
        for s in group:
            a, b = (int(v) for v in seconds_to_frames([s.start, s.end], fps))
            b = max(min(b, probs.shape[0]), a + 1)
            view = {"expected": {}, "suggested": {}, "detections": {}, "uncertainty": 0.0}
            for c in shared:
                k = loaded.classes.index(c)
                p = np.clip(probs[a:b, k], 1e-7, 1 - 1e-7)
                hits = res.events.of(c)
                inside = hits[(hits >= s.start) & (hits < s.end)]
                logits = torch.from_numpy(np.log(p) - np.log1p(-p))[None, :, None]
                dist = count_log_distribution(logits, k_max=min(len(p) + 1, 64)).exp()[0, 0].numpy()
                view["expected"][c] = round(float(p.sum()), 2)
                view["suggested"][c] = int(round(p.sum())) if by_counts else int(inside.size)
                view["detections"][c] = [round(float(t - s.start), 3) for t in inside]
                view["uncertainty"] += float(1.0 - dist.max())
            view["uncertainty"] = round(view["uncertainty"], 4)
            out[s.id] = view
        if on_file:
            on_file(audio)
    return out


def disagreements(first: str | os.PathLike, second: str | os.PathLike, classes: list[str],
                  snippets: list[Snippet]) -> dict[int, dict[str, tuple[int, int]]]:
    """Snippets (by id) that two annotators' manifests both answered with different counts, and the two
    counts of each class: ``{id: {class: (first, second)}}``."""
    a = CountStore(Path(first), classes).read()
    b = CountStore(Path(second), classes).read()
    for path, rows in ((first, a), (second, b)):
        if not rows:
            raise InvalidOption(f"{path}: no answers to review; give two manifests written by loco count")
    out = {}
    for s in snippets:
        x, y = a.get(s.key), b.get(s.key)
        if x is not None and y is not None and x.counts != y.counts:
            out[s.id] = {c: (x.counts[c], y.counts[c]) for c in classes}
    return out
