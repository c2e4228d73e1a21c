"""Screenshot of the ``loco count`` page for docs/counting.md (needs chromium, chromedriver and selenium).

    python docs/screenshot_count.py [--out docs/figures/count-page.png]

Synthesizes two drum tracks (seed 5), serves them as ``loco count --model drums`` does (the shipped
drum model's suggestions and detections on the spectrogram, least certain snippet first), opens the
page in headless Chromium, types one count, and saves the window.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from loco_cli.checkpoint import load_model
from loco_cli.cli.count_server import CountApp, start_server
from loco_cli.corpus import write_corpus
from loco_cli.labelling import CountStore, list_snippets, model_suggestions

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "figures" / "count-page.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_corpus("drums", tmp / "audio", n_tracks=2, duration=6.0, seed=5)
        classes = ["KD", "SD", "HH"]
        snippets, problems = list_snippets(tmp / "audio", tmp / "counts.csv")
        hints = model_suggestions(load_model("drums"), snippets, classes)
        order = sorted(range(len(snippets)), key=lambda i: (-hints[i]["uncertainty"], i))
        app = CountApp(snippets, CountStore(tmp / "counts.csv", classes), order, problems, suggestions=hints,
                       annotator="docs", model_label="drums.pt")
        server = start_server(app)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or shutil.which("google-chrome")
        for arg in ("--headless=new", "--no-sandbox", "--window-size=1040,900", "--hide-scrollbars", "--mute-audio"):
            options.add_argument(arg)
        browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
        try:
            browser.get(f"http://127.0.0.1:{server.server_address[1]}/")
            WebDriverWait(browser, 20).until(lambda d: "this is 1 of" in d.find_element(By.ID, "progress-text").text)
            browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_RIGHT)  # on to SD, as a person would
            time.sleep(0.5)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(args.out))
        finally:
            browser.quit()
            server.shutdown()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
