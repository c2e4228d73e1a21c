"""Generate ``docs/benchmarks.md`` from the JSON results in ``benchmarks/results/``.

    python benchmarks/report.py [--results benchmarks/results] [--out docs/benchmarks.md] [--check]

Every number in the page comes from a results file written by a ``benchmarks/bench_*.py`` script
(``make bench`` runs them all, then this); a section whose file is missing says so. ``--check``
exits 1 when the page differs from what the results give (the test suite runs it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
FILES = ("accuracy", "count_loss", "train", "train_piano", "detect", "detect_ab", "memory", "prepare", "features", "reliability")


def _load(results: Path) -> dict:
    return {name: json.loads((results / f"{name}.json").read_text())
            for name in FILES if (results / f"{name}.json").is_file()}


def _pm(stat: dict, scale: float = 1.0, digits: int = 3) -> str:
    if stat["mean"] is None or stat["std"] is None:  # null: undefined (no matched onsets)
        return "n/a"
    m, s = stat["mean"] * scale, stat["std"] * scale
    if m != m:
        return "n/a"
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def _missing(name: str, command: str) -> list[str]:
    return [f"_No results yet (`benchmarks/results/{name}.json`): run `{command}`._", ""]


WEAK_TEXT = {
    "loco": "counts only",
    "mil": "presence only (clip tags)",
    "oss": "timestamps (one-sided smoothing)",
    "ce": "timestamps (framewise)",
}
PROTOCOLS = {"random": "Eval Random (random tracks held out)", "subset": "Eval Subset (one kit family held out)"}


def _train_seconds(tables: dict) -> float:
    return sum(row["train_seconds"]["mean"] * row["train_seconds"]["n"] for rows in tables.values() for row in rows.values())


def accuracy_section(acc: dict) -> list[str]:
    tables, cfg = acc["tables"], acc["config"]
    out = [
        "## Accuracy: the papers' tables on the synthetic corpora", "",
        f"Mode `{acc['mode']}`: a drum corpus of {cfg['tracks']} tracks x {cfg['duration']:.0f} s "
        "(`loco synth drums`, ENST layout, seed 10), one network (the `drums` recipe's CRNN), only the "
        f"supervision changes. Mean ± standard deviation over {acc['seeds']} training seeds; onset matching "
        f"with mir_eval; F1 is the global F1 over the test tracks. Run `{acc['command']}` "
        f"({acc['date']}): {_train_seconds(tables) / 60:.0f} min of training in all, {acc['jobs']} runs in parallel "
        f"(one thread each) on {acc['cpus']} cores, so about {_train_seconds(tables) / 60 / acc['jobs']:.0f} min "
        "of wall time plus data preparation. Runs are cached, so an interrupted benchmark resumes. "
        "Runs dated before 2026-11-27 used the drums recipe of that time (`benchmarks/recipes/drums_authors.toml`: "
        "constant learning rate, uniform window lengths, no weight average, no stacking).", "",
    ]
    if "weak" in tables:
        out += [f"### Weak vs full supervision (LoCo [1] Table 1 analogue), {cfg['weak_steps']} steps", ""]
        for proto, title in PROTOCOLS.items():
            rows = {k.split("/")[1]: v for k, v in tables["weak"].items() if k.startswith(proto + "/")}
            if not rows:
                continue
            classes = list(next(iter(rows.values())).get("classes", {}))
            out += [f"**{title}**", "",
                    "| loss | labels | " + " | ".join(f"{c} F1" for c in classes)
                    + " | F1 @ 50 ms | F1 @ 20 ms | timing std (ms) |",
                    "|---|---|" + "---|" * (len(classes) + 3)]
            for loss in ("loco", "mil", "oss", "ce"):
                if loss not in rows:
                    continue
                r = rows[loss]
                cls = " | ".join(_pm(r["classes"][c]["f1"]) for c in classes)
                o = r["overall"]
                out.append(f"| `{loss}` | {WEAK_TEXT[loss]} | {cls} | {_pm(o['f1'])} | {_pm(o['f1_20ms'])} | "
                           f"{_pm(o['timing_std_ms'], digits=1)} |")
            out += ["", "Per class, precision / recall at 50 ms:", "",
                    "| loss | " + " | ".join(f"{c} P / R" for c in classes) + " |", "|---|" + "---|" * len(classes)]
            for loss in ("loco", "mil", "oss", "ce"):
                if loss in rows:
                    r = rows[loss]["classes"]
                    out.append(f"| `{loss}` | " + " | ".join(
                        f"{r[c]['precision']['mean']:.3f} / {r[c]['recall']['mean']:.3f}" for c in classes) + " |")
            out.append("")
    if "misalign" in tables:
        rows = tables["misalign"]
        sigmas = sorted({int(k.split("/")[1]) for k in rows})
        losses = [m for m in ("ce", "oss", "smooth", "softloc") if any(k.startswith(m + "/") for k in rows)]
        names = {"ce": "`ce`", "oss": "`oss`", "smooth": "SoftLoc smoothing term alone", "softloc": "`softloc`"}
        out += [f"### Label misalignment (SoftLoc [3] Table 2 analogue), {cfg['misalign_steps']} steps", "",
                "Training timestamps moved by Gaussian noise of standard deviation sigma; test labels clean. "
                "F1 at 50 ms (timing std of matched hits in ms below each).", "",
                "| loss | " + " | ".join(f"sigma {s} ms" for s in sigmas) + " |", "|---|" + "---|" * len(sigmas)]
        for m in losses:
            cells = []
            for s in sigmas:
                r = rows.get(f"{m}/{s}")
                cells.append(f"{_pm(r['overall']['f1'])}<br>({_pm(r['overall']['timing_std_ms'], digits=1)} ms)"
                             if r else "")
            out.append(f"| {names[m]} | " + " | ".join(cells) + " |")
        out.append("")
    if "secost" in tables:
        rows = tables["secost"]
        out += [f"### SeCoST stages on noisy counts (SeCoST [4]), {cfg['secost_steps']} steps per stage", "",
                "Each training window's count of each class off by ±1 with probability q (`count_noise`; "
                "validation and test labels clean); stage 0 is `loco`, stage k trains on the noisy label mixed "
                "with stage k-1's count distribution (weight 0.5). Tested on the Eval Random split's test tracks.", "",
                "| q | stage | F1 @ 50 ms | F1 @ 20 ms | macro F1 |", "|---|---|---|---|---|"]
        for key in sorted(rows):
            q, stage = key.split("/")
            o = rows[key]["overall"]
            out.append(f"| {q[1:]} | {stage[5:]} | {_pm(o['f1'])} | {_pm(o['f1_20ms'])} | {_pm(o['macro_f1'])} |")
        out.append("")
    if "piano" in tables:
        rows = tables["piano"]
        lo, hi = cfg["piano_keys"]
        out += [f"### Piano: one model vs bands of 10 keys (LoCo [1] Table 2 analogue), keys {lo}-{hi}, "
                f"{cfg['piano_steps']} steps per model", "",
                f"A synthetic piano corpus of {cfg['piano_tracks']} pieces x {cfg['duration']:.0f} s (`loco synth piano`, "
                "MAPS layout, seed 10, random held-out pieces), trained from counts only (`loco`, the piano "
                f"recipe's keys network) on the keys MIDI {lo}-{hi}: one model over all of them, or one model per "
                "band of 10 keys (as LoCo), the bands' detections merged per piece before scoring. Note F1: pitch + "
                "onset within 50 ms (`mir_eval.transcription`, offsets ignored), mean over pieces; onset F1: global "
                "over pieces and keys. Training time is the sum over a row's models.", "",
                "| models | note F1 (mean over pieces) | onset F1 @ 50 ms | onset F1 @ 20 ms | timing std (ms) | training (min) |",
                "|---|---|---|---|---|---|"]
        for key in ("one model", "10-key bands"):
            if key in rows:
                o, r = rows[key]["overall"], rows[key]
                out.append(f"| {key} | {_pm(o['note_f1'])} | {_pm(o['f1'])} | {_pm(o['f1_20ms'])} | "
                           f"{_pm(o['timing_std_ms'], digits=1)} | {r['train_seconds']['mean'] / 60:.1f} |")
        bands = tables.get("piano-bands", {})
        if bands:
            out += ["", "Each band model on its own keys (onset F1 @ 50 ms): " + "; ".join(
                f"{k} {_pm(v['overall']['f1'])}" for k, v in sorted(bands.items(), key=lambda kv: int(kv[0].split("-")[0])))
                + "."]
        out.append("")
    return out


def _contention_rows(c: dict | None) -> list[str]:
    """The training-under-load table of ``bench_train.py --contention``."""
    if not c:
        return []
    labels = {"alone": "alone", "next_to_a_busy_process": "next to one CPU-bound process (thread policy)",
              "two_trainings_side_by_side": "two trainings side by side (each)"}
    out = [f"Training under load ({c['steps']} steps of the drum recipe in a fresh process, {c['cores']} cores; "
           "`bench_train.py --contention`): the thread policy (`loco_cli/threads.py`) runs torch on the cores other "
           "processes leave free.", "", "| situation | steps/s | slower than alone | thread changes (step, threads) |",
           "|---|---|---|---|"]
    for name, row in c["rows"].items():
        label = labels.get(name, name.replace("_", " ").replace("next to a busy process pinned", "next to one CPU-bound "
                                                                 "process, threads pinned to"))
        rate = row["steps_per_s"]
        rate_s = " / ".join(f"{x:.2f}" for x in rate) if isinstance(rate, list) else f"{rate:.2f}"
        slow = c["slowdown_vs_alone"].get(name)
        out.append(f"| {label} | {rate_s} | {f'{slow:.2f}x' if slow else ''} | {row['thread_changes']} |")
    return out + [""]


def speed_sections(r: dict) -> list[str]:
    out = ["## Speed", ""]
    out += ["### Count loss: ours vs autograd through the linear recursion", ""]
    if "count_loss" in r:
        c = r["count_loss"]
        out += [f"Forward + backward, {c['device']}, {c['threads']} threads, torch {c['torch']} "
                "(`python benchmarks/bench_count_loss.py`). Exactness: largest error of -log P(Y = y) against a "
                "float64 log-space reference.", "",
                "| case | ours (ms, median) | baseline (ms, median) | speed-up | our error (nats) | baseline error (nats) "
                "| torch tree, the CUDA path, on this device (ms) |",
                "|---|---|---|---|---|---|---|"]
        for name, v in c["cases"].items():
            tree = f"{v['tree_ms_median']:.1f}" if "tree_ms_median" in v else ""
            out.append(f"| {name} | {v['ours_ms_median']:.2f} | {v['baseline_ms_median']:.1f} | "
                       f"{v['speedup_median']:.1f}x | {v['ours_max_abs_err_nats']:.1e} | {v['baseline_max_abs_err_nats']:.1e} "
                       f"| {tree} |")
        out.append("")
    else:
        out += _missing("count_loss", "python benchmarks/bench_count_loss.py --json benchmarks/results/count_loss.json")
    out += ["### Training", ""]
    if "train" in r:
        t = r["train"]
        tp = t["throughput"]
        out += [f"Drum recipe (batch {tp['batch_size']}), {t['threads']} threads, torch {t['torch']} "
                f"(`{t['command']}`, {t['date']}).", "",
                "| snippets/s | ms per step | sampling | forward | count loss forward / backward | network backward "
                "+ Adam | count loss share of a step |", "|---|---|---|---|---|---|---|",
                f"| {tp['snippets_per_s']:.0f} | {tp['step_ms']:.0f} | {tp['parts_ms']['sample']:.1f} ms | "
                f"{tp['parts_ms']['forward']:.1f} ms | {tp['parts_ms']['loss']:.1f} / "
                f"{tp['parts_ms'].get('loss_backward', float('nan')):.1f} ms | "
                f"{tp['parts_ms']['backward_step']:.1f} ms | {100 * tp['loss_share_of_step']:.1f} % |", "",
                *_contention_rows(t.get("contention")),
                "Peak resident memory of a training process vs corpus size (features are memory-mapped):", "",
                "| audio in the corpus | peak memory |", "|---|---|"]
        for seconds, mib in t["peak_memory_mib"].items():
            out.append(f"| {int(seconds) / 60:.0f} min | {mib:.0f} MiB |")
        out.append("")
    else:
        out += _missing("train", "python benchmarks/bench_train.py --json benchmarks/results/train.json")
    if "train_piano" in r:
        t = r["train_piano"]
        tp = t["throughput"]
        out += [f"Piano recipe (the shipped keys network, {tp['parameters']} parameters, batch {tp['batch_size']}), "
                f"{t['threads']} threads (`{t['command']}`, {t['date']}): {tp['snippets_per_s']:.0f} snippets/s, "
                f"{tp['step_ms']:.0f} ms per step (sampling {tp['parts_ms']['sample']:.1f} ms, forward "
                f"{tp['parts_ms']['forward']:.1f} ms, count loss {tp['parts_ms']['loss']:.1f} / "
                f"{tp['parts_ms']['loss_backward']:.1f} ms, network backward + Adam {tp['parts_ms']['backward_step']:.1f} ms). "
                "Validation (every 250 steps) is not counted.", ""]
    out += ["### Detection", ""]
    if "detect" in r:
        d = r["detect"]
        out += [f"The shipped drum model on a held-out synthetic corpus ({d['audio_s'] / 60:.0f} min; "
                "`python benchmarks/bench_detect.py`): the whole `loco detect` path (read WAV, features, network, "
                "peaks). Real-time factor = audio seconds / wall seconds.", "",
                "| tool | threads | x real time | KD / SD / HH F1 | class-agnostic F1 |", "|---|---|---|---|---|"]
        agn = d.get("class_agnostic_f1", {})
        for key in ("stream_1thread", "stream_2thread", "windows_1thread", "windows_2thread"):
            if key in d:
                v = d[key]
                mode, threads = key.split("_")
                f1 = " / ".join(f"{x:.3f}" for x in v["f1"].values())
                a = f"{agn['loco_stream']:.3f}" if mode == "stream" and "loco_stream" in agn else ""
                out.append(f"| loco `{mode}` | {threads[0]} | {v['rtf']:.0f}x | {f1} | {a} |")
        lib = d.get("librosa_onset_detect")
        if lib:
            out.append(f"| librosa `onset.onset_detect` | 2 | {lib['rtf']:.0f}x | (no classes) | {lib['f1_all_onsets']:.3f} |")
        mm = d.get("madmom_cnn_onsets")
        if mm and "rtf" in mm:
            out.append(f"| madmom {mm['version']} `CNNOnsetDetector` | 2 | {mm['rtf']:.0f}x | (no classes) | "
                       f"{mm['f1_all_onsets']:.3f} |")
        for key in ("stream_2jobs", "stream_2jobs_batch"):
            if key in d:
                n = d[key].get("files")  # not recorded before --batch-tracks existed: the --tracks files
                what = f"a batch of {n} files" if n else "a batch"
                out.append(f"| loco `stream`, {what}, `--jobs 2` | 2 x 1 | {d[key]['rtf']:.0f}x | "
                           f"(as `stream`) | |")
        out.append("")
        if mm and "skipped" in mm:
            out += [f"madmom: skipped ({mm['skipped']}).", ""]
        out += ["Class-agnostic F1: every tool's onsets against the KD/SD/HH onsets merged (hits closer than "
                "25 ms count as one), since the peers do not name instruments. `--jobs 2` times a whole batch as "
                "`loco detect --jobs 2` runs it (one file per process, CSVs written, process start-up included).", ""]
        pn = d.get("piano")
        if pn:
            out += [f"The shipped piano model (`--piano`, {pn['audio_s'] / 60:.0f} min of synthetic piano, seed 1): "
                    f"{pn['stream_1thread']['rtf']:.0f}x real time on 1 thread, {pn['stream_2thread']['rtf']:.0f}x on 2; "
                    f"note F1 {pn['note_f1_mean']:.3f} (mean over pieces)."
                    + (f" madmom {pn['madmom_piano']['version']} `PianoTranscriptor` (`CNNPianoNoteProcessor` + "
                       f"ADSR note tracking) on the same pieces: {pn['madmom_piano']['rtf']:.0f}x real time, note F1 "
                       f"{pn['madmom_piano']['note_f1_mean']:.3f}." if "rtf" in pn.get("madmom_piano", {}) else
                       f" madmom piano: skipped ({pn.get('madmom_piano', {}).get('skipped', 'not run')}).")
                    + "".join(f" In the same run, `{name}` (`{o['model']}`, {o['parameters']} parameters): "
                              f"{o['stream_1thread']['rtf']:.0f}x on 1 thread, {o['stream_2thread']['rtf']:.0f}x on 2, "
                              f"note F1 {o['note_f1_mean']:.3f}." for name, o in pn.get("also", {}).items()), ""]
    else:
        out += _missing("detect", "python benchmarks/bench_detect.py --json benchmarks/results/detect.json")
    out += detect_ab_rows(r.get("detect_ab"))
    out += memory_rows(r.get("memory"))
    out += ["### Preparing data", ""]
    if "prepare" in r:
        p = r["prepare"]
        out += [f"`loco prepare`, {p['preset']} preset, one worker and one thread: **{p['x_real_time_per_core']:.0f}x "
                f"real time per core** ({p['audio_s']:.0f} s of audio in {p['best_s']:.2f} s; "
                "`python benchmarks/bench_prepare.py`)."]
    else:
        out += _missing("prepare", "python benchmarks/bench_prepare.py --json benchmarks/results/prepare.json")
    if "features" in r:
        f = r["features"]["presets"]
        out += ["", "Features alone (`python benchmarks/bench_features.py`), one thread: "
                + "; ".join(f"{k} {v['x_real_time']:.0f}x real time ({v['n_fft']}-point FFT, {v['n_mels']} bands)"
                            + (f", streamed as `loco detect` computes them {v['stream_x_real_time']:.0f}x"
                               if "stream_x_real_time" in v else "")
                            for k, v in f.items()) + "."]
    out.append("")
    return out


def detect_ab_rows(d: dict | None) -> list[str]:
    """Two trees of bench_detect.py timed alternately (detect_ab.json): x real time per pass and tree."""
    if not d:
        return []
    cols = [("drums_stream_1thread", "drums, 1 thread"), ("drums_stream_2thread", "drums, 2 threads"),
            ("piano_stream_1thread", "piano, 1 thread"), ("piano_stream_2thread", "piano, 2 threads"),
            ("librosa", "librosa, same pass")]
    out = ["#### Before and after, one file at a time", "", d["about"], "",
           "| pass | tree | " + " | ".join(label for _, label in cols) + " |", "|---|---|" + "---|" * len(cols)]
    for run in d["runs"]:
        out.append(f"| {run['pass']} | {run['tree']} | " + " | ".join(f"{run[k]:.0f}x" for k, _ in cols) + " |")
    return out + ["", "Commands: " + "; ".join(sorted({f"`{run['command']}`" for run in d["runs"]})) + ".", ""]


def memory_rows(m: dict | None) -> list[str]:
    """Peak memory of `loco detect` on long files (bench_memory.py), now and before streaming."""
    out = ["### Detection memory on long files", ""]
    if not m:
        return out + _missing("memory", "python benchmarks/bench_memory.py --json benchmarks/results/memory.json")
    trees = sorted({row["tree"] for row in m["rows"]}, key=lambda t: (t != "now", t == "before", t))  # a fixed order
    commands = {t: sorted({row.get("command", m["command"]) for row in m["rows"] if row["tree"] == t}) for t in trees}
    measured = "; ".join(f"{t}: " + ", ".join(f"`{c}`" for c in cs) for t, cs in commands.items())
    out += [f"Peak resident memory of one `loco detect` process on a stereo 16-bit 44.1 kHz WAV ({measured}; "
            "`before`: the commit before detection streamed its audio, features and peak "
            "picking; a commit's name: that commit's tree, timed in the same run as `now`, one after the other). "
            "Python, torch and the model included; x real time is the whole process, start-up and the level "
            "pass included.", "",
            "| model | audio | " + " | ".join(f"{t}: peak MB | {t}: x real time" for t in trees) + " |",
            "|---|---|" + "---|---|" * len(trees)]
    keys = sorted({(row["model"], row["minutes"]) for row in m["rows"]})
    for model, minutes in keys:
        cells = []
        for t in trees:
            row = next((x for x in m["rows"] if (x["model"], x["minutes"], x["tree"]) == (model, minutes, t)), None)
            cells += [f"{row['peak_mb']:.0f}", f"{row['x_real_time']:.0f}x"] if row else ["", ""]
        out.append(f"| {model} | {minutes:g} min | " + " | ".join(cells) + " |")
    return out + [""]


def reliability_section(rel: dict | None) -> list[str]:
    """The hostile-input probes (bench_reliability.py): how many ran, how many failed."""
    out = ["## Reliability", ""]
    if not rel:
        return out + _missing("reliability", "python benchmarks/bench_reliability.py --json "
                              "benchmarks/results/reliability.json")
    slowest = sorted(rel["cases"], key=lambda c: -c["seconds"])[:3]
    out += [f"**{rel['probes']} probes, {rel['failed']} failed** ({rel['passed']} passed, {rel['skipped']} skipped; "
            f"`{rel['command']}`, {rel['seconds']:.0f} s). Each probe feeds loco one hostile input (corrupt caches, "
            "truncated tables and checkpoints, junk / empty / NaN / 6-channel / odd-rate audio in one batch, "
            "malicious pickles, tampered weights, `--force` on a folder loco did not make, unwritable outputs, "
            "bad manifests and options, two writers at once, SIGKILL of `prepare`, `train` and `detect` at random "
            "moments, two jobs on two cores) and asserts the exit code, one line naming the file and the fix, no "
            "traceback, and that every output is whole or absent: with 0 failed, the probes saw 0 tracebacks, "
            "0 silent corruptions and 0 lost files. The suites: " + ", ".join(f"`{s}`" for s in rel["suites"])
            + "; the longest probes: " + ", ".join(f"`{c['id']}` {c['seconds']:.0f} s" for c in slowest) + ".", ""]
    if rel["failed"]:
        out += ["Failed: " + ", ".join(f"`{c['id']}`" for c in rel["cases"] if c["outcome"] == "failed"), ""]
    return out


def _stat_cell(st: dict) -> str:
    return f"{st['mean']:.3f} ± {st['std']:.3f} ({st['min']:.3f}-{st['max']:.3f})"


def seeds_rows(doc: dict, label: str = "") -> list[str]:
    """Rows ``| variant | recipe | test | mean-over-tracks F1 | global F1 | seeds |`` of a bench_seeds.py file
    (both its layouts: one test set with top-level stats, or ``<test>_mean_f1`` per test set)."""
    rows = []
    for name, v in doc["variants"].items():
        tests = [k[: -len("_mean_f1")] for k in v if k.endswith("_mean_f1")]
        pairs = [(t, v[f"{t}_mean_f1"], v[f"{t}_global_f1"]) for t in tests] or [("test", v["mean_f1"], v["global_f1"])]
        run0 = v["runs"][0] if v["runs"] else {}
        loss = run0.get("loss", doc.get("loss", ""))
        init = f", from `{run0['init']}`" if run0.get("init") else ""
        recipe = (v["recipe"] if run0.get("model") else f"`{Path(v['recipe'].split('@')[0]).name}` ({loss}{init})")
        for test, m, g in pairs:
            rows.append(f"| {label}{name} | {recipe} | {test} | "
                        f"{_stat_cell(m)} | {_stat_cell(g)} | {m['n']} |")
    return rows


def _env_line(doc: dict) -> str:
    e = doc.get("environment", {})
    gpu = f", {e['gpu']}" if e.get("gpu") else ""
    return (f"{doc.get('device', 'cpu')}{gpu}; {e.get('cpu')}; Python {e.get('python')}, torch {e.get('torch')}, "
            f"numpy {e.get('numpy')}, numba {e.get('numba')}")


def _section(results: Path, title: str, name: str, command: str) -> tuple[list[str], dict | None]:
    """A section's heading and its result file ``results/<name>.json`` (``None``, with the command that
    makes it under the heading, when it is missing)."""
    out = [f"## {title}", ""]
    path = results / f"{name}.json"
    if not path.is_file():
        return out + _missing(name, command), None
    return out, json.loads(path.read_text())


def piano_build_section(results: Path, name: str, title: str) -> list[str]:
    """A piano build's seeds (a ``build_models.py piano`` record kept as a result file): validation and held-out
    note F1 of each seed, their means, and the decision."""
    out, doc = _section(results, title, name, "python benchmarks/build_models.py piano ... (the file's command)")
    if doc is None:
        return out
    keys = ("test", "vsco", "composed", "vsco_composed")
    out += [doc["about"], "",
            "| seed | validation F1 | Salamander | VSCO 2 | Salamander, composed | VSCO 2, composed | picked |",
            "|---|---|---|---|---|---|---|"]
    for s in doc["seeds"]:
        out.append(f"| {s['seed']} | {s['val']:.3f} | " + " | ".join(f"{s[k]:.3f}" for k in keys)
                   + f" | {'yes' if s['shipped'] else ''} |")
    out.append("| mean | | " + " | ".join(f"{doc['means'][k]:.3f}" for k in keys) + " | |")
    out += ["", f"Decision: {doc['decision']}. {doc['steps']} steps, {doc['jobs']} seeds at a time, "
            f"{doc['seconds'] / 60:.0f} minutes. Measured on: {_env_line(doc)}. Command: `{doc['command']}`.", ""]
    return out


def detect_tuning_section(results: Path) -> list[str]:
    """The piano model's detection speed with and without its tuning pass, timed side by side in one run of
    bench_detect.py (``detect_tuning.json``)."""
    out, doc = _section(results, "Detection speed with the tuning pass (piano)", "detect_tuning",
                        "python benchmarks/bench_detect.py --piano --piano-also tuning_none=MODEL --json benchmarks/results/detect_tuning.json")
    if doc is None:
        return out
    p = doc["piano"]
    out += [f"The shipped piano model (`tuning auto`) beside the same weights with `tuning none` and an earlier model, "
            f"on {p['audio_s']:.0f} s of synthetic piano in one run (`loco detect` streamed, the level and tuning pass "
            "included), real-time factors:", "",
            "| model | 1 thread | 2 threads | note F1 |", "|---|---|---|---|",
            f"| shipped (`{p['model']}`) | {p['stream_1thread']['rtf']:.0f}x | {p['stream_2thread']['rtf']:.0f}x | "
            f"{p['note_f1_mean']:.3f} |"]
    for name, v in p.get("also", {}).items():
        out.append(f"| {name} (`{v['model']}`) | {v['stream_1thread']['rtf']:.0f}x | {v['stream_2thread']['rtf']:.0f}x | "
                   f"{v['note_f1_mean']:.3f} |")
    out += ["", f"Machine: {doc['machine']}, torch {doc['torch']}, {doc['date']}. Command: `{doc['command']}`.", ""]
    return out


def tuning_section(results: Path) -> list[str]:
    """The tuning estimator's errors per set and offset (bench_tuning.py results)."""
    out, doc = _section(results, "Tuning estimate (piano)", "tuning", "python benchmarks/bench_tuning.py ... (its docstring)")
    if doc is None:
        return out
    out += [doc["about"], "", "| set | files | offset (cents) | mean error | largest error | moved |", "|---|---|---|---|---|---|"]
    for name, r in doc["sets"].items():
        for c, v in r["offsets"].items():
            out.append(f"| {name} | {len(r['files'])} | {c} | {v['mean_error']:+.1f} | {v['max_abs_error']:.1f} | "
                       f"{v['moved_share']:.0%} |")
    speeds = ", ".join(f"{n} {r['audio_seconds_per_second']:.0f}x" for n, r in doc["sets"].items())
    out += ["", f"Estimator speed (audio seconds per second, one call per file): {speeds}. Measured on: {_env_line(doc)}. "
            f"Command: `{doc['command']}`.", ""]
    return out


def piano_section(results: Path) -> list[str]:
    """Piano models on a held-out piano (bench_piano.py results)."""
    out, doc = _section(results, "Held-out piano (Salamander Grand Piano)", "piano_libraries", "python benchmarks/bench_piano.py ... (its docstring)")
    if doc is None:
        return out
    scales = [k for k in next(iter(next(iter(doc["models"].values()))["tests"].values()))["scales"] if k != "1"]
    out += [doc["about"], "",
            "| model | test set | note F1 | note P / R | onset F1 (global) | "
            + " | ".join(f"note F1, thresholds x{k}" for k in scales) + " |",
            "|---|---|---|---|---|" + "---|" * len(scales)]
    for name, m in doc["models"].items():
        for test, r in m["tests"].items():
            out.append(f"| {name}: {m['about']} | {test} | {r['note_f1']:.3f} | {r['note_precision']:.3f} / "
                       f"{r['note_recall']:.3f} | {r['onset_global_f1']:.3f} | "
                       + " | ".join(f"{r['scales'][k]['note_f1']:.3f}" for k in scales) + " |")
    commands: dict[str, list[str]] = {}  # rows merged from an earlier run (bench_piano.py --merge) keep its command
    for name, m in doc["models"].items():
        commands.setdefault(m.get("command", doc["command"]), []).append(name)
    said = (f"Command: `{doc['command']}`." if len(commands) == 1 else
            "Commands: " + "; ".join(f"rows {', '.join(names)}: `{c}`" for c, names in commands.items()) + ".")
    out += ["", f"Thresholds: each model's own, calibrated on its validation split; the last columns multiply "
            f"them all. Measured on: {_env_line(doc)}. {said}", ""]
    regs = [(name, r["onset_f1_registers"]) for name, m in doc["models"].items() for r in m["tests"].values()
            if "onset_f1_registers" in r]
    if regs:
        keys = list(regs[0][1])
        out += ["Onset F1 (global) per register, MIDI pitches, at the calibrated thresholds:", "",
                "| model | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
        out += [f"| {name} | " + " | ".join("n/a" if v.get(k) is None else f"{v[k]:.3f}" for k in keys) + " |"
                for name, v in regs]
        out.append("")
    return out


def piano_peers_section(results: Path, name: str = "piano_peers",
                        title: str = "Held-out piano: loco beside madmom and basic-pitch") -> list[str]:
    """loco's piano models beside madmom and basic-pitch on the held-out piano sets (bench_piano_peers.py's
    result file ``results/<name>.json``)."""
    out, doc = _section(results, title, name,
                        "make peers && python benchmarks/bench_piano_peers.py --test NAME=PREPARED ...")
    if doc is None:
        return out
    tools = [k for k, v in next(iter(doc["results"].values())).items() if isinstance(v, dict)]
    out += [doc["about"], "", "| test set | " + " | ".join(f"{t}: note F1 (P / R)" for t in tools) + " |",
            "|---|" + "---|" * len(tools)]
    for test, row in doc["results"].items():
        cells = [f"{row[t]['note_f1']:.3f} ({row[t]['note_precision']:.3f} / {row[t]['note_recall']:.3f})"
                 if "note_f1" in row[t] else f"skipped ({row[t]['skipped']})" for t in tools]
        out.append(f"| {test} ({row['pieces']} pieces, {row['audio_s']:.0f} s) | " + " | ".join(cells) + " |")
    speeds = "; ".join(f"{t} {sum(r[t]['rtf'] for r in doc['results'].values()) / len(doc['results']):.0f}x"
                       for t in tools if all("rtf" in r[t] for r in doc["results"].values()))
    versions = ", ".join(f"{t} {v}" for t in tools
                         if (v := next(iter(doc["results"].values()))[t].get("version")))
    out += ["", f"Real time over all files, mean over the test sets: {speeds} (loco on two torch threads, the peers "
            f"with two BLAS / OpenMP threads). Loco models: {doc['models']}; peers: {versions}. Measured on: "
            f"{_env_line(doc)}. Command: `{doc['command']}`.", ""]
    return out


def calibration_section(results: Path) -> list[str]:
    """The calibration's threshold prior (bench_calibration.py): held-out scores per prior weight."""
    out, doc = _section(results, "Calibration: the threshold prior", "calibration", "python benchmarks/bench_calibration.py ... (its docstring)")
    if doc is None:
        return out
    priors = list(next(iter(doc["cases"].values()))["priors"])
    out += [f"{doc['about'][0].upper()}{doc['about'][1:]} (docs/method.md, Calibration). Piano: note F1 on the held-out "
            "piano; drums: global onset F1 on the held-out kits or on a crossval fold's test tracks.", "",
            "| case | validation tracks | test tracks | " + " | ".join(f"k = {k}" for k in priors) + " |",
            "|---|---|---|" + "---|" * len(priors)]
    for name, c in doc["cases"].items():
        cells = [f"{v.get('note_f1', v['global_f1']):.3f}" for v in c["priors"].values()]
        out.append(f"| {name} | {c['val_tracks']} | {c['test_tracks']} | " + " | ".join(cells) + " |")
    return out + ["", f"Measured on: {_env_line(doc)}. Command: `{doc['command']}`.", ""]


def min_gap_section(results: Path) -> list[str]:
    """The peak picker's minimum gap (bench_calibration.py --gaps): held-out scores per gap."""
    out, doc = _section(results, "Calibration: the minimum gap between two onsets", "min_gap",
                        "python benchmarks/bench_calibration.py --gaps ... (its docstring)")
    if doc is None:
        return out
    out += [f"{doc['about'][0].upper()}{doc['about'][1:]} (docs/method.md, Calibration).", "",
            "| case | setting | gaps per class (ms) | global F1 | per class F1 | per class recall | validation F1 per class |",
            "|---|---|---|---|---|---|---|"]
    for name, c in doc["cases"].items():
        for key, v in c["gaps"].items():
            gaps = " / ".join(f"{g * 1000:g}" for g in v.get("min_gaps_s") or [])
            per = " / ".join(f"{k} {x:.3f}" for k, x in (v.get("classes") or {}).items())
            rec = " / ".join(f"{k} {x:.3f}" for k, x in (v.get("recall") or {}).items())
            val = " / ".join(f"{k} {x:.3f}" for k, x in (v.get("val_f1") or {}).items())
            out.append(f"| {name} | {key} | {gaps} | {v.get('note_f1', v['global_f1']):.4f} | {per} | {rec} | {val} |")
    return out + ["", f"Measured on: {_env_line(doc)}. Command: `{doc['command']}`.", ""]


def levels_section(results: Path) -> list[str]:
    """Detection at other recording levels (bench_levels.py): one row per model, one column per gain."""
    out, doc = _section(results, "Recording level (held-out drums and piano)", "levels",
                        "python benchmarks/bench_levels.py ... (its docstring)")
    if doc is None:
        return out
    out += [doc["about"], ""]
    for kind, metric, what in (("drums", "global_f1", "global onset F1"), ("piano", "note_f1", "note F1")):
        rows = {n: m for n, m in doc["models"].items() if m["kind"] == kind}
        if not rows:
            continue
        gains = list(next(iter(rows.values()))["gains"])  # the first row's gains; a row with fewer leaves cells empty
        gains += [g for m in rows.values() for g in m["gains"] if g not in gains]
        # (result key, cutoff) per low-pass column: the zero-phase filter's ("lowpass"), then one-pass and brickwall
        cuts = [(key, c) for key in ("lowpass", "lowpass_onepass", "lowpass_brickwall")
                for c in sorted({c for m in rows.values() for c in m.get(key, {})}, key=lambda c: -float(c))]
        named = {"lowpass": "low-pass", "lowpass_onepass": "one-pass low-pass", "lowpass_brickwall": "brickwall"}
        click = any("click" in m for m in rows.values())
        cents = sorted({c for m in rows.values() for c in m.get("cents", {})}, key=float)
        out += [f"{kind.capitalize()}, {what} at each gain (the files' peaks at gain 0: "
                f"{next(iter(rows.values()))['gains'][gains[0]]['peak_dbfs']} dBFS)"
                + (" and low-passed at each cutoff" if cuts else "") + (", with a full-scale click" if click else "")
                + (", and retuned by each number of cents" if cents else "") + ":", "",
                "| model | " + " | ".join([f"{float(g):+g} dB" for g in gains] + [f"{named[k]} {float(c) / 1000:g} kHz" for k, c in cuts]
                                        + (["click"] if click else []) + [f"{float(c):+g} cents" for c in cents])
                + " |", "|---|" + "---|" * (len(gains) + len(cuts) + click + len(cents))]
        for n, m in rows.items():
            cells = [f"{m['gains'][g][metric]:.3f}" if g in m["gains"] else "" for g in gains]
            cells += [f"{m[k][c][metric]:.3f}" if c in m.get(k, {}) else "" for k, c in cuts]
            cells += [f"{m['click'][metric]:.3f}" if "click" in m else ""] if click else []
            cells += [f"{m['cents'][c][metric]:.3f}" if c in m.get("cents", {}) else "" for c in cents]
            out.append(f"| {n.split('/', 1)[1]}: {m['about']} | " + " | ".join(cells) + " |")
        out.append("")
    commands: dict[str, list[str]] = {}
    for name, m in doc["models"].items():
        commands.setdefault(m["command"], []).append(name)
    out += ["Commands: " + "; ".join(f"rows {', '.join(n)}: `{c}`" for c, n in commands.items())
            + f". Measured on: {_env_line(doc)}.", ""]
    return out


def model_size_section(results: Path) -> list[str]:
    """The drum model-size study (bench_model_size.py): held-out-library F1 and speed per size."""
    out, doc = _section(results, "Model size (drums, held-out sample libraries)", "model_size", "python benchmarks/bench_model_size.py ... (its docstring)")
    if doc is None:
        return out
    tests = list(doc["rows"][0]["tests"])
    out += ["The same schedule, supervision (onset times) and renders as the shipped drum model, three widths of "
            "the CRNN (the largest at a third of the learning rate: at the shipped one it diverged); global F1 at "
            "50 ms on the four held-out kits, and `loco detect`'s speed on the synthetic drum corpus "
            f"(`{doc['command']}`; trained by " + "; ".join(f"`{c}`" for c in doc["train_commands"]) + ").", "",
            "| model | seed | parameters | lr | steps | " + " | ".join(f"{t}: global F1 (KD / SD / HH)" for t in tests)
            + " | x real time, 1 / 2 threads | training (1 thread) |",
            "|---|---|---|---|---|" + "---|" * len(tests) + "---|---|"]
    for r in sorted(doc["rows"], key=lambda r: (r["parameters"], r["seed"])):
        cells = []
        for t in tests:
            v = r["tests"][t]
            per_class = " / ".join("{:.3f}".format(x["global_f1"]) for x in v["per_class"].values())
            cells.append(f"{v['global_f1']:.3f} ({per_class})")
        out.append(f"| {r['variant']} | {r['seed']} | {r['parameters']:,} | {r['lr']:g} | {r['steps']} | "
                   + " | ".join(cells)
                   + f" | {r['x_real_time_1thread']:.0f}x / {r['x_real_time_2thread']:.0f}x | "
                   f"{r['train_seconds'] / 60:.0f} min |")
    return out + ["", f"Measured on: {_env_line(doc)}.", ""]


def smallset_section(results: Path) -> list[str]:
    """Cross-validation on a small set (bench_smallset.py): counts vs onset times, from scratch or fine-tuned."""
    out, doc = _section(results, "Cross-validation on a small set (drums, counts vs onset times)", "smallset", "python benchmarks/bench_smallset.py ... (its docstring)")
    if doc is None:
        return out
    commands: dict[str, list[str]] = {}  # variants merged from an earlier run (bench_smallset.py --merge) keep its command
    for key, v in doc["variants"].items():
        commands.setdefault(v.get("command", doc["command"]), []).append(key.rsplit("-", 1)[0])
    said = (f"`{doc['command']}`" if len(commands) == 1 else
            "; ".join(f"{', '.join(dict.fromkeys(names))}: `{c}`" for c, names in commands.items()))
    out += [f"{doc['about']} ({said}). `before`: the code of commit "
            f"{doc['variants'].get('before-loco', {}).get('commit', '?')} (before the threshold-aware, shrunk latency, "
            "the prior-pooled checkpoint score and stratified validation); the other rows: after them. `now` and "
            "`drums2`: the `drums` recipe with sample-rate scaling, and `drums2` starting from the shipped model "
            "rebuilt on `--detune 3` renders (`drums` starts from the model before it). `peakvar`, `lr6`, `b32`, "
            "`steps2800`, `steps5600`: counts from random weights with one change to that recipe each. "
            "`counts12k`: counts only at every stage, from the first model (built-in synthesizer counts) "
            "fine-tuned 12000 steps on the counts of the shipped model's training renders (`libraries.json`). "
            "`base`: `now` (counts) re-run on a fresh checkout and environment. `onset05`, `assign03`, `assign1`, "
            "`ema099`, `ema099a`, `assign03steps2800`: counts from random weights with the onset prior (mass off spectral-flux peaks "
            "costs, weight 0.5), plus hard-EM count assignment at weight 0.3 or 1.0, a shorter weight average "
            "(0.99), or both (docs/evaluating.md, small sets). `auto`: `loco crossval`'s default since "
            "`--init auto` (no `--init` given): on these folds (under 8 minutes each) it starts from the shipped "
            "drum model. "
            "Timing: mean (and std) of detected minus reference over the matched onsets.", "",
            "| variant | loss | recipe | steps | starts from | seeds | pooled global F1 per seed | KD / SD / HH (seed 0) | "
            "timing mean (std), ms, KD / SD / HH (seed 0) |", "|---|---|---|---|---|---|---|---|---|"]
    for name, v in doc["variants"].items():
        first = v["runs"][0]
        timing = " / ".join(f"{t['mean']:+.1f} ({t['std']:.1f})" for t in first["timing_ms"].values())
        per_seed = ", ".join(f"{r['global_f1']:.3f}" for r in v["runs"])
        recipe = Path(v["recipe"]).name if v.get("recipe") else "the preset's"
        out.append(f"| {name.rsplit('-', 1)[0]} ({v['commit']}) | {v['loss']} | {recipe} | {v.get('steps', doc['steps'])} | "
                   f"{'auto (the shipped model)' if v.get('init') == 'auto' else v.get('init') or 'random weights'} | "
                   f"{', '.join(str(r['seed']) for r in v['runs'])} | "
                   f"{per_seed} | "
                   + " / ".join(f"{f:.2f}" for f in first["classes"].values()) + f" | {timing} |")
    return out + ["", f"Measured on: {_env_line(doc)}.", ""]


def robustness_sections(results: Path) -> list[str]:
    """Held-out sample libraries and the seed spread of recipes (bench_seeds.py results)."""
    out = []
    header = ["| variant | recipe (loss) | test set | mean-over-tracks F1 mean ± std (min-max) | global F1 mean ± std "
              "(min-max) | seeds |", "|---|---|---|---|---|---|"]
    lib = results / "libraries.json"
    out += ["## Held-out sample libraries (drums)", ""]
    if lib.is_file():
        doc = json.loads(lib.read_text())
        out += [doc.get("about", ""), "", *header, *seeds_rows(doc), "", f"Measured on: {_env_line(doc)}.", ""]
    else:
        out += _missing("libraries", "python benchmarks/bench_libraries.py ... (its docstring)")

    def seeds_file(name: str, title: str, how: str) -> list[str]:
        """A section of one bench_seeds.py / bench_libraries.py file: its about, rows, machine and command."""
        path = results / f"{name}.json"
        if not path.is_file():
            return [f"## {title}", "", *_missing(name, how)]
        doc = json.loads(path.read_text())
        return [f"## {title}", "", doc.get("about", ""), "", *header, *seeds_rows(doc), "",
                f"Measured on: {_env_line(doc)}. Command: `{doc['command']}`.", ""]

    out += seeds_file("band_mixes", "Band mixes: a louder band, and a band never heard (drums)",
                      "python benchmarks/bench_libraries.py ... (docs/real-audio.md, Band mixes)")
    out += seeds_file("ensembles_drums", "Ensembles of seeds (drums, held-out sample libraries)",
                      "python benchmarks/bench_ensembles.py ... (its docstring)")
    out += seeds_file("ensembles_counts_drums", "Ensembles of counts-only seeds (drums, held-out sample libraries)",
                      "python benchmarks/bench_ensembles.py ... (docs/real-audio.md, Ensembles and distillation)")
    out += seeds_file("distil_drums", "Distilled from an ensemble (drums, held-out sample libraries)",
                      "python benchmarks/bench_libraries.py ... (docs/real-audio.md, Ensembles and distillation)")
    out += seeds_file("distil_counts_drums", "Distilled from a counts-only ensemble, counts only end to end (drums)",
                      "python benchmarks/bench_libraries.py ... (docs/real-audio.md, Ensembles and distillation)")
    out += seeds_file("clean_teacher_drums", "A teacher reading the windows before the spectral augmentations (drums)",
                      "python benchmarks/bench_libraries.py ... (docs/real-audio.md, Bandwidth)")
    out += seeds_file("finetune_clean_drums", "The shipped model fine-tuned against itself as a clean teacher (drums)",
                      "python benchmarks/bench_libraries.py ... (docs/real-audio.md, Bandwidth)")
    out += model_size_section(results)
    out += seeds_file("losses_drums", "Losses (drums, held-out sample libraries)",
                      "python benchmarks/bench_seeds.py ... (docs/real-audio.md)")
    out += ["## Augmentations (drums, held-out sample libraries)", ""]
    augments = sorted(results.glob("augment_*.json"))
    for aug in augments:
        doc = json.loads(aug.read_text())
        out += [f"`{aug.relative_to(results.parent)}`: {doc.get('about', '')}", "", *header, *seeds_rows(doc), "",
                f"Measured on: {_env_line(doc)}. Command: `{doc['command']}`.", ""]
    if not augments:
        out += _missing("augment_drums", "python benchmarks/bench_seeds.py ... (docs/method.md)")
    out += smallset_section(results)
    out += piano_section(results)
    out += piano_build_section(results, "piano_tune_build", "Held-out piano: the build with sample-rate scaling (tuning)")
    out += piano_peers_section(results)
    out += piano_peers_section(results, "piano_peers_composed2",
                               "Held-out piano, the composed sets re-rendered: loco beside madmom and basic-pitch")
    out += piano_peers_section(results, "piano_peers_tuning",
                               "Held-out piano retuned: loco beside madmom, composed music 25 cents sharp and flat")
    out += calibration_section(results)
    out += min_gap_section(results)
    out += levels_section(results)
    out += tuning_section(results)
    out += detect_tuning_section(results)
    ft = results / "finetune.json"
    out += ["## Fine-tuning on a small set (drums)", ""]
    if ft.is_file():
        doc = json.loads(ft.read_text())
        out += [doc.get("about", ""), "", *header, *seeds_rows(doc), ""]
    else:
        out += _missing("finetune", "python benchmarks/bench_libraries.py ... (docs/real-audio.md)")
    out += ["## Seed spread of the demo recipe", ""]
    files = sorted(results.glob("seeds_*.json")) + sorted((results / "gpu").glob("seeds_*.json"))
    if not files:
        return out + _missing("seeds_demo", "python benchmarks/bench_seeds.py ...")
    out += ["`make demo`'s data (24 training tracks of the built-in synthesizer, seed 0; 6 held-out tracks, seed 1), "
            "counts only, 3500 steps; each row trains every seed and scores the held-out tracks.", ""]
    for f in files:
        doc = json.loads(f.read_text())
        out += [f"`{f.relative_to(results.parent)}` ({_env_line(doc)}):", "", *header, *seeds_rows(doc), ""]
    return out


def gpu_sections(results: Path) -> list[str]:
    """One section per GPU that ``benchmarks/gpu_check.sh`` ran on (``results/gpu/gpu_check_<gpu>.json``)."""
    out: list[str] = []
    for check_file in sorted((results / "gpu").glob("gpu_check_*.json")):
        tag = check_file.stem.removeprefix("gpu_check_")
        check = json.loads(check_file.read_text())

        def part(name: str, _tag: str = tag) -> dict:
            f = results / "gpu" / f"{name}_{_tag}.json"
            return json.loads(f.read_text()) if f.is_file() else {}

        steps = ", ".join(f"{k} {'ok' if v['exit'] == 0 else 'FAILED (exit ' + str(v['exit']) + ')'} ({v['seconds']} s)"
                          for k, v in check["steps"].items())
        out += [f"## On a GPU: {check['gpu']}", "",
                f"`bash benchmarks/gpu_check.sh` ({check['date']}; {check['nvidia_smi']}; torch {check['torch']}, "
                f"CUDA {check['cuda']}, Python {check['python']}). Steps: {steps}. The CUDA-marked tests "
                f"(`pytest -m cuda`, log `results/gpu/tests_{tag}.txt`) compare the count loss, training with AMP on "
                "and off (the drum network and, where the log has them, the piano keys network with key context "
                "and key mix), and detection with the CPU.", ""]
        c = part("count_loss")
        if c:
            out += ["| count loss case | ours (ms, median) | baseline (ms, median) | speed-up | our error (nats) |",
                    "|---|---|---|---|---|"]
            out += [f"| {n} | {v['ours_ms_median']:.1f} | {v['baseline_ms_median']:.1f} | {v['speedup_median']:.1f}x | "
                    f"{v['ours_max_abs_err_nats']:.1e} |" for n, v in c["cases"].items()]
            out.append("")
        rows = [(label, part(name)) for label, name in (
            ("drum recipe (batch 16), bfloat16 autocast (AMP)", "train_amp"), ("drum recipe (batch 16), float32", "train_fp32"),
            ("piano recipe (batch 8), bfloat16 autocast (AMP)", "train_piano_amp"),
            ("piano recipe (batch 8), float32", "train_piano_fp32"))]
        rows = [(label, t["throughput"]) for label, t in rows if t]
        if rows:
            out += ["| training | snippets/s | ms per step | sampling (CPU) | forward | "
                    "count loss forward / backward | network backward + Adam | count loss share of a step |",
                    "|---|---|---|---|---|---|---|---|"]
            out += [f"| {label} | {tp['snippets_per_s']:.0f} | {tp['step_ms']:.0f} | {tp['parts_ms']['sample']:.1f} ms | "
                    f"{tp['parts_ms']['forward']:.1f} ms | {tp['parts_ms']['loss']:.1f} / "
                    f"{tp['parts_ms'].get('loss_backward', float('nan')):.1f} ms | {tp['parts_ms']['backward_step']:.1f} ms | "
                    f"{100 * tp['loss_share_of_step']:.0f} % |" for label, tp in rows]
            out.append("")
        d = part("detect")
        if d:
            out += ["| detection, same run | drums x real time (stream / windows) | drums F1 mean (stream) | "
                    "piano x real time | piano note F1 |", "|---|---|---|---|---|"]
            pn = d.get("piano", {})
            for suffix, label in (("1thread", "CPU, 1 thread"), ("2thread", "CPU, 2 threads"), ("cuda", "CUDA")):
                s_, w_ = d.get(f"stream_{suffix}"), d.get(f"windows_{suffix}")
                if not s_:
                    continue
                p_ = pn.get(f"stream_{suffix}", {})
                out.append(f"| {label} | {s_['rtf']:.0f}x / {w_['rtf']:.0f}x | {s_['f1_mean']:.3f} | "
                           + (f"{p_['rtf']:.0f}x | {p_.get('note_f1_mean', pn.get('note_f1_mean', float('nan'))):.3f} |"
                              if p_ else "| |"))
            out += ["", "Detection timings include reading the WAV and the features (on the CPU); the CPU rows are "
                    "this GPU machine's own cores, measured in the same run. Small F1 differences between CPU and "
                    "CUDA come from TF32 convolutions (probabilities within 1e-3; with TF32 off they match to 2e-5, "
                    "tested).", ""]
        for name, what in (("train_fp32", "drum"), ("train_piano_fp32", "piano")):
            t = part(name)
            if not t.get("profile_top"):
                continue
            busy = [ln for ln in t["profile_top"] if ln.startswith("Self CUDA time total")]
            tp = t["throughput"]
            if busy:
                ms = float(busy[0].split(":")[1].strip().removesuffix("ms")) / 10
                size = f"of {tp['parameters'] / 1000:.1f}k parameters" if "parameters" in tp else "this small"
                out += [f"{what.capitalize()} recipe: the GPU is busy {ms:.1f} ms of each {tp['step_ms']:.0f} ms step: "
                        f"with a network {size} and batches of {tp['batch_size']} the step is bound by the CPU "
                        f"(sampling {tp['parts_ms']['sample']:.0f} ms, kernel launches; the count loss's pairwise "
                        "tree launches many small kernels), not by the GPU. Larger batches or several runs at once "
                        "use it better.", ""]
            out += [f"Top of `torch.profiler` over 10 float32 training steps of the {what} recipe "
                    f"(`gpu_check.sh` step `{name}`, `bench_train.py --profile 10`):", "", "```"]
            out += [line.rstrip() for line in t["profile_top"][:20]]
            out += ["```", ""]
    return out


def render(results: Path) -> str:
    r = _load(results)
    machine = next((v["machine"] for v in r.values() if "machine" in v), "unknown")
    out = ["# Benchmarks", "",
           "Generated by `python benchmarks/report.py` from `benchmarks/results/*.json`; `make bench` re-runs "
           "everything (about 1.5 hours on 2 CPU cores) and regenerates this page. Numbers are as measured, good "
           "or bad. Machine: " + machine + ".", ""]
    out += robustness_sections(results)
    if "accuracy" in r:
        out += accuracy_section(r["accuracy"])
    else:
        out += ["## Accuracy", ""] + _missing("accuracy", "python benchmarks/bench_accuracy.py --quick")
    out += speed_sections(r)
    out += reliability_section(r.get("reliability"))
    out += gpu_sections(results)
    return "\n".join(out).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "results")
    parser.add_argument("--out", type=Path, default=ROOT.parent / "docs" / "benchmarks.md")
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is not what the results give")
    args = parser.parse_args()
    text = render(args.results)
    if args.check:
        current = args.out.read_text() if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} is stale: run python benchmarks/report.py", file=sys.stderr)
            sys.exit(1)
        return
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
