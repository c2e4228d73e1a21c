"""Shared fixtures: seeded generators; every test is deterministic and CPU-only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

# One thread: deterministic timings-independent results, and no OpenMP spin contention with other jobs.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)


@pytest.fixture(params=["auto", "torch"])
def backend(request):
    """Run a test on both fast paths: numba kernels (CPU default) and the torch tree (the CUDA path)."""
    from loco_cli import counting

    counting.set_backend(request.param)
    yield request.param
    counting.set_backend("auto")
