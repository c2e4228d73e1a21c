"""`loco count`: snippets, the counts manifest written answer by answer, the server's endpoints in-process,
model suggestions, reviews, and the page end to end in a headless Chromium (skipped where none is
installed, unless LOCO_REQUIRE_BROWSER=1, which CI sets)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from loco_cli.cli import app
from loco_cli.cli.count_server import CountApp, start_server
from loco_cli.datasets import read_count_manifest
from loco_cli.labelling import Answer, CountStore, disagreements, list_snippets, model_suggestions

runner = CliRunner()
CLASSES = ["KD", "SD", "HH"]


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    """Two synthetic drum tracks of 4 s (three snippets each: 0-1.5, 1.5-3, 3-4 s) and one junk file."""
    from loco_cli.corpus import write_corpus

    root = tmp_path_factory.mktemp("count")
    write_corpus("drums", root / "audio", n_tracks=2, duration=4.0, seed=3)
    (root / "audio" / "junk.wav").write_bytes(b"not audio")
    return root / "audio"


class Served:
    """A CountApp served on a free port in a thread, with JSON helpers."""

    def __init__(self, app: CountApp) -> None:
        self.app = app
        self.server = start_server(app, port=0)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def get(self, path: str):
        with urllib.request.urlopen(self.url + path) as r:
            body = r.read()
            return json.loads(body) if r.headers["Content-Type"] == "application/json" else body

    def post(self, payload) -> tuple[int, dict]:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        req = urllib.request.Request(self.url + "/api/answer", data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _serve(audio: Path, manifest: Path, **kw) -> Served:
    snippets, problems = list_snippets(audio, manifest)
    return Served(CountApp(snippets, CountStore(manifest, CLASSES), list(range(len(snippets))), problems, **kw))


def test_snippets_cover_each_file_and_skip_unreadable_ones(audio, tmp_path):
    snippets, problems = list_snippets(audio, tmp_path / "counts.csv")
    assert [(s.audio.name, s.start, s.end) for s in snippets[:3]] == [
        ("real_000.wav", 0.0, 1.5), ("real_000.wav", 1.5, 3.0), ("real_000.wav", 3.0, 4.0)]
    assert len(snippets) == 6 and [s.id for s in snippets] == list(range(6))
    assert len(problems) == 1 and "junk.wav" in problems[0]
    assert snippets[0].rel == os.path.relpath(audio / "real_000.wav", tmp_path)
    short, _ = list_snippets(audio, tmp_path / "c.csv", 2.5)  # 4 s: one whole snippet, a 1.5 s tail (>= half)
    assert [(s.start, s.end) for s in short[:2]] == [(0.0, 2.5), (2.5, 4.0)]


def test_endpoints_save_each_answer_atomically_and_refuse_bad_counts(audio, tmp_path):
    manifest = tmp_path / "counts.csv"
    srv = _serve(audio, manifest, annotator="ana")
    try:
        state = srv.get("/api/state")
        assert (state["total"], state["answered"], state["resume"], state["classes"]) == (6, 0, 0, CLASSES)
        assert any("junk.wav" in p for p in state["problems"])
        snip = srv.get("/api/snippet/0")
        assert (snip["start"], snip["end"], snip["answer"]) == (0.0, 1.5, None)
        assert snip["view"]["frames"] == 150 and snip["view"]["bands"] == 64 and len(snip["view"]["envelope"]) == 600
        wav = srv.get("/api/audio/0.wav")
        x, rate = sf.read(__import__("io").BytesIO(wav))
        assert rate == 44100 and x.shape == (66150,)
        assert srv.post({"id": 0, "counts": {"KD": 2, "SD": 1, "HH": 6}}) == (200, {"saved": 0, "answered": 1,
                                                                                    "in_manifest": 1})
        before = manifest.read_bytes()
        for bad in ({"id": 1, "counts": {"KD": -1, "SD": 0, "HH": 0}}, {"id": 1, "counts": {"KD": "two", "SD": 0, "HH": 0}},
                    {"id": 1, "counts": {"KD": True, "SD": 0, "HH": 0}}, {"id": 1, "counts": {"KD": 1}},
                    {"id": 99, "counts": {"KD": 1, "SD": 0, "HH": 0}}, {"counts": {}}, b"{not json"):
            code, body = srv.post(bad)
            assert code == 400 and body["error"], bad
        assert manifest.read_bytes() == before
        assert srv.get("/api/snippet/0")["answer"] == {"KD": 2, "SD": 1, "HH": 6}
        assert srv.get("/api/state")["resume"] == 1
        with pytest.raises(urllib.error.HTTPError):
            srv.get("/api/snippet/6")
    finally:
        srv.close()
    clips, classes = read_count_manifest(manifest)  # what loco prepare reads: the _by / _model notes ignored
    assert classes == CLASSES and [(c.start_s, c.end_s, c.counts) for c in clips] == [(0.0, 1.5, {"KD": 2, "SD": 1, "HH": 6})]
    assert manifest.read_text().splitlines()[0] == "audio,start,end,KD,SD,HH,_by,_model"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".") and "tmp" in p.name] == []


def test_two_tabs_and_two_servers_never_lose_an_answer(audio, tmp_path):
    manifest = tmp_path / "counts.csv"
    first, second = _serve(audio, manifest), _serve(audio, manifest)  # two processes' worth of writers
    try:
        results = []
        threads = [threading.Thread(target=lambda k=k: results.append(
            (first if k % 2 else second).post({"id": k, "counts": {"KD": k, "SD": 0, "HH": 1}})[0])) for k in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [200] * 6
        assert first.get("/api/state")["answered"] == second.get("/api/state")["answered"] == 6
    finally:
        first.close()
        second.close()
    clips, _ = read_count_manifest(manifest)
    assert sorted(c.counts["KD"] for c in clips) == list(range(6))


def test_reopening_resumes_where_the_person_stopped(audio, tmp_path):
    manifest = tmp_path / "counts.csv"
    snippets, _ = list_snippets(audio, manifest)
    store = CountStore(manifest, CLASSES)
    for s in snippets[:2]:
        store.save(s, Answer({"KD": 1, "SD": 1, "HH": 1}, "ana"))
    srv = _serve(audio, manifest)
    try:
        assert srv.get("/api/state")["resume"] == 2 and srv.get("/api/state")["answered"] == 2
    finally:
        srv.close()


def test_cli_errors_are_one_line(audio, tmp_path):
    (tmp_path / "other.csv").write_text("audio,start,end,onset\n")
    cases = [
        (["count", audio, "--classes", "KD,SD", "--out", tmp_path / "other.csv", "--no-open"], "its classes are onset"),
        (["count", tmp_path / "nope", "--classes", "KD", "--out", tmp_path / "c.csv", "--no-open"], "not a folder"),
        (["count", audio, "--classes", "KD,KD", "--out", tmp_path / "c.csv", "--no-open"], "distinct"),
        (["count", audio, "--classes", "KD", "--out", tmp_path / "c.csv", "--snippet-length", "0", "--no-open"],
         "positive number of seconds"),
        (["count", audio, "--classes", "KD", "--out", tmp_path / "c.csv", "--review", "a.csv", "--no-open"],
         "two manifests"),
    ]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cases.append((["count", audio, "--classes", "KD", "--out", tmp_path / "c.csv", "--port", port, "--no-open"],
                      f"port {port} on 127.0.0.1 is not free"))
        for args, needle in cases:
            result = runner.invoke(app, [str(a) for a in args])
            errors = [line for line in result.output.splitlines() if line.startswith("error:")]
            assert result.exit_code == 2 and len(errors) == 1 and needle in errors[0], (args, result.output)
            assert "Traceback" not in result.output
    assert not (tmp_path / "c.csv").exists()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, tiny_recipe):
    root = tmp_path_factory.mktemp("countmodel")
    for args in (["synth", "drums", root / "corpus", "--tracks", 3, "--duration", 4],
                 ["prepare", root / "corpus", root / "prep", "--jobs", 1],
                 ["train", root / "prep", "--out", root / "run", "--recipe", tiny_recipe]):
        result = runner.invoke(app, [str(a) for a in args])
        assert result.exit_code == 0, result.output
    return root / "run"


def test_model_suggestions_and_least_certain_first(audio, tmp_path, tiny_model):
    from loco_cli.checkpoint import load_model

    loaded = load_model(tiny_model)
    snippets, _ = list_snippets(audio, tmp_path / "counts.csv")
    got = model_suggestions(loaded, snippets, CLASSES)
    assert sorted(got) == [s.id for s in snippets]
    probs = {}
    for s in snippets:
        view = got[s.id]
        assert set(view["expected"]) == set(CLASSES) and view["uncertainty"] >= 0
        assert all(isinstance(v, int) and v >= 0 for v in view["suggested"].values())
        assert all(0 <= t < s.end - s.start for ts in view["detections"].values() for t in ts)
        # a model trained on counts suggests the rounded mean of its count distribution: sum_t p_t
        if s.audio not in probs:
            from loco_cli.detection import detect_file

            probs[s.audio] = detect_file(loaded, s.audio).probs
        fps = loaded.features.fps
        p = probs[s.audio][int(np.floor(s.start * fps + 1e-9)): int(np.floor(s.end * fps + 1e-9)), 0]
        assert view["expected"]["KD"] == pytest.approx(float(np.clip(p, 1e-7, 1 - 1e-7).sum()), abs=0.01)
        assert view["suggested"]["KD"] == round(view["expected"]["KD"])
    with pytest.raises(Exception, match="none of --classes"):
        model_suggestions(loaded, snippets, ["flute"])
    manifest = tmp_path / "counts.csv"
    srv = Served(CountApp(snippets, CountStore(manifest, CLASSES),
                          sorted(range(6), key=lambda i: (-got[i]["uncertainty"], i)), suggestions=got))
    try:
        state = srv.get("/api/state")
        assert [got[i]["uncertainty"] for i in state["order"]] == sorted((v["uncertainty"] for v in got.values()),
                                                                         reverse=True)
        first = state["order"][0]
        assert srv.get(f"/api/snippet/{first}")["suggestion"]["suggested"] == got[first]["suggested"]
        assert srv.post({"id": first, "counts": {"KD": 9, "SD": 0, "HH": 0}})[0] == 200
    finally:
        srv.close()
    note = manifest.read_text().splitlines()[1].split(",")[-1]
    assert note == ";".join(f"{c}={got[first]['suggested'][c]}" for c in CLASSES)  # what the person was shown


def test_review_offers_only_the_disagreements(audio, tmp_path):
    snippets, _ = list_snippets(audio, tmp_path / "a.csv")
    a, b = CountStore(tmp_path / "a.csv", CLASSES), CountStore(tmp_path / "b.csv", CLASSES)
    for s in snippets:
        a.save(s, Answer({"KD": 1, "SD": 0, "HH": 2}, "ana"))
        b.save(s, Answer({"KD": 1, "SD": 0, "HH": 3 if s.id in (1, 4) else 2}, "bo"))
    assert disagreements(tmp_path / "a.csv", tmp_path / "b.csv", CLASSES, snippets) == {
        1: {"KD": (1, 1), "SD": (0, 0), "HH": (2, 3)}, 4: {"KD": (1, 1), "SD": (0, 0), "HH": (2, 3)}}


# ------------------------------------------------------------------ the page in a real browser
def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    try:
        import selenium  # noqa: F401
    except ImportError:
        chromium = None
    if not (chromium and driver):
        reason = "no headless browser: install chromium, chromium-driver and selenium (pip install 'loco[dev]')"
        if os.environ.get("LOCO_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,900",
                "--autoplay-policy=no-user-gesture-required", "--mute-audio"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(driver), options=options)


def test_the_page_end_to_end_with_the_keyboard(audio, tmp_path, tiny_recipe):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    manifest = tmp_path / "counts.csv"
    srv = _serve(audio, manifest, annotator="ana")
    browser = _browser()
    try:
        wait = WebDriverWait(browser, 20)
        browser.get(srv.url)

        def on_snippet(k: int):
            wait.until(lambda d: f"this is {k + 1} of 6" in d.find_element(By.ID, "progress-text").text)

        on_snippet(0)
        body = browser.find_element(By.TAG_NAME, "body")
        body.send_keys("x")  # not a count: refused on the page
        assert "not a count" in browser.find_element(By.ID, "message").text
        body.send_keys(Keys.ENTER)  # nothing typed yet: refused
        assert "type the count of KD first" in browser.find_element(By.ID, "message").text
        answers = [("2", "0", "5"), ("1", "1", "1"), ("0", "3", "0")]
        for k, keys in enumerate(answers):
            on_snippet(k)
            body.send_keys(*keys)
            if k == 2:
                body.send_keys(Keys.ARROW_LEFT, Keys.ARROW_UP)  # HH: 0 -> 1 (after the auto-advance wrapped to KD)
            body.send_keys(Keys.ENTER)
        on_snippet(3)
        assert "3 of 6 snippets counted" in browser.find_element(By.ID, "progress-text").text
        body.send_keys(Keys.BACKSPACE)  # back to the third: its saved counts are shown
        on_snippet(2)
        wait.until(lambda d: [e.text for e in d.find_elements(By.CSS_SELECTOR, ".cls .count")] == ["0", "3", "1"])
        browser.refresh()  # reopening resumes at the first snippet not counted
        on_snippet(3)
        assert "3 of 6 snippets counted" in browser.find_element(By.ID, "progress-text").text
        pixels = browser.execute_script(
            "const g = document.getElementById('spec').getContext('2d');"
            "return Array.from(g.getImageData(0, 0, 900, 256).data).filter((v, i) => i % 4 === 0 && v > 40).length;")
        assert pixels > 1000  # the spectrogram was drawn
    finally:
        browser.quit()
        srv.close()
    clips, classes = read_count_manifest(manifest)
    assert [c.counts for c in clips] == [{"KD": 2, "SD": 0, "HH": 5}, {"KD": 1, "SD": 1, "HH": 1},
                                         {"KD": 0, "SD": 3, "HH": 1}]
    # ... and the manifest trains: loco prepare + loco train on the three counted snippets
    for args in (["prepare", manifest, tmp_path / "prep"],
                 ["train", tmp_path / "prep", "--out", tmp_path / "run", "--recipe", tiny_recipe]):
        result = runner.invoke(app, [str(a) for a in args])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "model.pt").is_file()


@pytest.mark.slow
def test_the_command_serves_until_interrupted(audio, tmp_path, tiny_model):
    """``loco count --model M --port 0 --no-open`` in its own process: it prints the page's address,
    serves the state with the model's order, and Ctrl+C (SIGINT) ends it with a summary line."""
    import re
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "loco_cli", "count", str(audio), "--classes", "KD,SD,HH", "--out",
                             str(tmp_path / "counts.csv"), "--port", "0", "--no-open", "--model", str(tiny_model)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            # a shell's background job ignores SIGINT, and children inherit that: undo it
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline, url, seen = time.monotonic() + 60, None, ""
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            seen += line
            m = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
            url = m.group(1) if m else None
        assert url, seen
        with urllib.request.urlopen(url + "api/state") as r:
            state = json.loads(r.read())
        assert state["total"] == 6 and state["model"] == tiny_model.name and sorted(state["order"]) == list(range(6))
        assert "skipped" in seen and "junk.wav" in seen
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "0 of 6 snippets counted" in rest and "Traceback" not in rest
