"""One thread policy for torch, numba and BLAS.

* A process uses the cores available to it: the CPUs of its affinity mask, capped by a cgroup CPU
  quota (``/sys/fs/cgroup/cpu.max``), never more threads than that (:func:`available_cores`).
* ``OMP_NUM_THREADS`` (or ``loco --threads N``) pins the count exactly (:func:`default_threads`).
* numba's count kernels follow torch's intra-op count (``_count_kernels.follow_torch_threads``);
  numba's OpenMP layer would otherwise reset torch's pool to ``NUMBA_NUM_THREADS`` when it starts.
  Pool workers (``--jobs``) run one thread each, so ``jobs x threads`` never exceeds the cores.
* Training that is not pinned adapts to load (:class:`LoadMonitor`): every few seconds it measures how
  many of its cores other processes keep busy (``/proc/stat`` minus this process's own CPU time) and
  runs torch on the cores left (at least one). OpenMP threads that wait at a barrier for a thread
  whose core another process took spin instead of working: on 2 cores next to one CPU-bound process,
  a 2-thread training step ran 2.2x slower than alone, a 1-thread step 1.2x
  (``benchmarks/bench_train.py``, contention row).

Nothing here imports torch at module level: the CLI reads the policy before the heavy imports.
"""

from __future__ import annotations

import math
import os
import time

#: Environment variables that pin a thread count (read in this order).
PIN_VARIABLES = ("LOCO_NUM_THREADS", "OMP_NUM_THREADS")
#: Seconds between two load measurements of :class:`LoadMonitor`.
LOAD_INTERVAL_S = 2.0
#: cgroup v2 CPU limit of this process's group: ``quota period`` in microseconds, or ``max``.
CGROUP_CPU_MAX = "/sys/fs/cgroup/cpu.max"


def _cgroup_quota() -> float | None:
    """CPUs granted by a cgroup v2 quota (``cpu.max``: ``quota period``), or ``None`` if unlimited."""
    try:
        with open(CGROUP_CPU_MAX) as f:
            quota, period = f.read().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return max(int(quota) / int(period), 1.0)
    except (ValueError, ZeroDivisionError):
        return None


def affinity() -> set[int]:
    """CPU indices this process may run on (all CPUs where the OS cannot say)."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return set(range(os.cpu_count() or 1))


def available_cores() -> int:
    """Cores this process may use: its affinity mask, capped by a cgroup CPU quota; at least 1."""
    cores = len(affinity())
    quota = _cgroup_quota()
    if quota is not None:
        cores = min(cores, math.ceil(quota))
    return max(1, cores)


def pinned_threads() -> int | None:
    """The thread count the environment pins (``LOCO_NUM_THREADS``, then ``OMP_NUM_THREADS``), or
    ``None``; values that are not positive integers are ignored."""
    for name in PIN_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def default_threads() -> int:
    """Threads for torch and numba in this process: the pinned count, else :func:`available_cores`."""
    return pinned_threads() or available_cores()


def set_threads(n: int) -> None:
    """Run torch's intra-op pool (and with it numba's kernels) on ``n`` threads. numba is not imported
    here (its import costs memory and start-up time that detection does not need): the count kernels follow torch's count at
    each call (:func:`loco_cli._count_kernels.follow_torch_threads`), and here only once loaded."""
    import sys

    import torch

    torch.set_num_threads(max(1, int(n)))
    kernels = sys.modules.get("loco_cli._count_kernels")
    if kernels is not None:
        kernels.follow_torch_threads()


def _cpu_busy(cpus: set[int]) -> tuple[float, float] | None:
    """Busy and total jiffies summed over ``cpus`` (``/proc/stat``), or ``None`` off Linux."""
    try:
        with open("/proc/stat") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    busy = total = 0
    for line in lines:
        if not line.startswith("cpu") or line.startswith("cpu "):
            continue
        name, *fields = line.split()
        try:
            idx = int(name[3:])
        except ValueError:
            continue
        if idx not in cpus:
            continue
        vals = [int(v) for v in fields[:8]]
        total += sum(vals)
        busy += sum(vals) - vals[3] - vals[4]  # idle and iowait
    return (busy, total) if total else None


class LoadMonitor:
    """Chooses torch's thread count while training, from the cores other processes leave free.

    ``ceiling``: the most threads to use. Call :meth:`poll` once per step; it measures at most every
    ``interval_s`` seconds and returns a new thread count when two measurements in a row agree on one
    different from the current count (else ``None``). ``others`` (cores, float) is the last
    measurement of what other processes used.
    """

    def __init__(self, ceiling: int, interval_s: float = LOAD_INTERVAL_S):
        self.ceiling = max(1, int(ceiling))
        self.current = self.ceiling
        self.interval_s = interval_s
        self.cpus = affinity()
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.others = 0.0
        self._last = self._sample()
        self._pending: int | None = None

    def _sample(self):
        busy = _cpu_busy(self.cpus)
        return None if busy is None else (time.monotonic(), time.process_time(), busy[0])

    def target(self, others: float) -> int:
        """Threads for the cores left when other processes keep ``others`` cores busy."""
        free = min(len(self.cpus), available_cores()) - others
        return int(min(self.ceiling, max(1, math.floor(free + 0.5))))

    def poll(self) -> int | None:
        if self._last is None or self.ceiling == 1:
            return None
        now = time.monotonic()
        if now - self._last[0] < self.interval_s:
            return None
        sample = self._sample()
        if sample is None:
            return None
        wall = sample[0] - self._last[0]
        ours = sample[1] - self._last[1]
        system = (sample[2] - self._last[2]) / self.tick
        self._last = sample
        self.others = max(0.0, (system - ours) / wall)
        want = self.target(self.others)
        if want == self.current:
            self._pending = None
            return None
        if self._pending != want:
            self._pending = want
            return None
        self._pending, self.current = None, want
        return want
