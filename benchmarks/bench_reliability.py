"""The reliability figure (issue 14): run the hostile-input probes and count what they found.

    python benchmarks/bench_reliability.py [--json benchmarks/results/reliability.json]

Runs ``pytest tests/test_bad_inputs.py tests/test_threads.py`` in a fresh process (the thread tests are
the probe of two jobs on two cores) and records every test case with its outcome and seconds. Each
probe asserts, for its hostile input, the exit code, a one-line message naming the file and the fix,
no traceback, and that no output was half-written or lost; so the figure is "N probes, F failed":
with F = 0, no probe saw a traceback, a silent corruption or a lost file. The per-row mapping is in
the comments of ``tests/test_bad_inputs.py``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_seeds import environment, write_json  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SUITES = ("tests/test_bad_inputs.py", "tests/test_threads.py")


def run_probes() -> dict:
    """Run the probe suites once; outcomes per test case (``passed``, ``failed``, ``skipped``)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SUITES,
                               f"--junitxml={report}"], cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        cases = []
        for case in ET.parse(report).getroot().iter("testcase"):
            outcome, why = "passed", None
            bad = case.find("failure") if case.find("failure") is not None else case.find("error")
            if bad is not None:
                outcome, why = "failed", (bad.get("message") or "")[:300]
            elif case.find("skipped") is not None:
                outcome, why = "skipped", (case.find("skipped").get("message") or "")[:300]
            cases.append({"id": f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}",
                          "outcome": outcome, "seconds": round(float(case.get("time", 0.0)), 2),
                          **({"why": why} if why else {})})
    counts = {k: sum(c["outcome"] == k for c in cases) for k in ("passed", "failed", "skipped")}
    return {"command": "python benchmarks/bench_reliability.py", "suites": list(SUITES), "pytest_exit": done.returncode,
            "seconds": round(seconds, 1), "probes": len(cases), **counts, "cases": cases}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None, help="write the results here (default: print them)")
    args = parser.parse_args()
    doc = run_probes()
    doc["environment"] = environment("cpu")
    write_json(doc, args.json)
    if doc["failed"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
