"""The thread policy (loco_cli.threads): cores available, pinning, load-aware training threads."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

from loco_cli import threads
from loco_cli.cli import app

ROOT = Path(__file__).resolve().parent.parent


def test_count_kernels_leave_torch_threads_alone():
    # numba's OpenMP layer, started by the first count-loss call, used to reset torch's pool to
    # NUMBA_NUM_THREADS: a process asked for 1 thread trained on every core. A fresh process is needed
    # (the layer starts once per process).
    code = ("import torch; torch.set_num_threads(1)\n"
            "from loco_cli.counting import count_nll\n"
            "z = torch.randn(4, 200, 2, requires_grad=True)\n"
            "count_nll(z, torch.ones(4, 2, dtype=torch.long), k_max=8).sum().backward()\n"
            "import numba; print(torch.get_num_threads(), numba.get_num_threads())\n")
    env = dict(os.environ, NUMBA_NUM_THREADS="2", PYTHONPATH=str(ROOT))
    env.pop("OMP_NUM_THREADS", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["1", "1"]


def test_available_cores_follow_affinity_and_cgroup_quota(monkeypatch, tmp_path):
    monkeypatch.setattr(threads, "affinity", lambda: {0, 1, 2, 3, 4, 5})
    quota = tmp_path / "cpu.max"
    monkeypatch.setattr(threads, "CGROUP_CPU_MAX", str(quota))
    assert threads.available_cores() == 6  # no cgroup file
    quota.write_text("max 100000\n")
    assert threads.available_cores() == 6
    quota.write_text("250000 100000\n")  # 2.5 CPUs
    assert threads.available_cores() == 3
    quota.write_text("50000 100000\n")  # half a CPU still gets one thread
    assert threads.available_cores() == 1
    quota.write_text("garbage\n")
    assert threads.available_cores() == 6


def test_pinned_threads_read_loco_then_omp(monkeypatch):
    monkeypatch.delenv("LOCO_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "available_cores", lambda: 5)
    assert threads.pinned_threads() is None and threads.default_threads() == 5
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert threads.default_threads() == 2
    monkeypatch.setenv("LOCO_NUM_THREADS", "3")
    assert threads.default_threads() == 3
    for junk in ("0", "-1", "two", ""):
        monkeypatch.setenv("LOCO_NUM_THREADS", junk)
        assert threads.default_threads() == 2


class _Clock:
    """Fake wall clock, process CPU clock and /proc/stat for LoadMonitor."""

    def __init__(self):
        self.wall = self.ours = self.busy = 0.0

    def advance(self, seconds: float, ours_cores: float, others_cores: float) -> None:
        self.wall += seconds
        self.ours += seconds * ours_cores
        self.busy += seconds * (ours_cores + others_cores) * 100  # jiffies at 100 Hz


@pytest.fixture
def clock(monkeypatch):
    c = _Clock()
    monkeypatch.setattr(threads, "time", types.SimpleNamespace(monotonic=lambda: c.wall, process_time=lambda: c.ours))
    monkeypatch.setattr(threads, "_cpu_busy", lambda cpus: (c.busy, 1.0))
    monkeypatch.setattr(threads, "affinity", lambda: {0, 1})
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    return c


def test_load_monitor_gives_way_to_a_busy_process_and_takes_the_cores_back(clock):
    mon = threads.LoadMonitor(2, interval_s=2.0)
    mon.tick = 100
    assert mon.poll() is None  # too early
    clock.advance(2.5, ours_cores=1.2, others_cores=0.9)
    assert mon.poll() is None  # one measurement is not enough
    assert mon.others == pytest.approx(0.9)
    clock.advance(2.5, ours_cores=1.1, others_cores=1.0)
    assert mon.poll() == 1  # two in a row: one core is left
    clock.advance(2.5, ours_cores=1.0, others_cores=1.0)
    assert mon.poll() is None  # steady
    clock.advance(2.5, ours_cores=1.0, others_cores=0.0)
    assert mon.poll() is None
    clock.advance(2.5, ours_cores=1.0, others_cores=0.1)
    assert mon.poll() == 2  # the other process left
    # a short burst is ignored
    clock.advance(2.5, ours_cores=2.0, others_cores=1.0)
    assert mon.poll() is None
    clock.advance(2.5, ours_cores=2.0, others_cores=0.0)
    assert mon.poll() is None and mon.current == 2


def test_load_monitor_never_goes_below_one_or_above_its_ceiling(clock):
    mon = threads.LoadMonitor(2, interval_s=1.0)
    mon.tick = 100
    assert mon.target(5.0) == 1 and mon.target(0.0) == 2
    assert threads.LoadMonitor(1).poll() is None  # one thread: nothing to adapt


def test_train_run_pins_threads_for_the_run_and_restores_them(prepared, tmp_path):
    from loco_cli.config import LossConfig, ModelConfig, TrainConfig
    from loco_cli.train import train_run

    seen = []
    torch.set_num_threads(1)
    train_run(prepared, tmp_path / "run", loss=LossConfig(), train=TrainConfig(steps=2, batch_size=2, val_every=2),
              model=ModelConfig(conv_filters=(4, 4), freq_pools=(4, 4), rnn_hidden=8, fc_hidden=8), force=True,
              tensorboard=False, threads=2, on_event=lambda kind, info: seen.append(torch.get_num_threads()))
    assert 2 in seen
    assert torch.get_num_threads() == 1


def test_cli_threads_option_pins_the_count(monkeypatch):
    from typer.testing import CliRunner

    monkeypatch.setenv("LOCO_NUM_THREADS", "1")  # restored by monkeypatch afterwards
    result = CliRunner().invoke(app, ["--threads", "3", "eval", "--help"])
    assert result.exit_code == 0
    assert os.environ["LOCO_NUM_THREADS"] == "3"
    bad = CliRunner().invoke(app, ["--threads", "-1", "eval", "--help"])
    assert bad.exit_code != 0
