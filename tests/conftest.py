"""Shared fixtures: seeded generators; every test is deterministic and CPU-only."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

# One thread: deterministic timings-independent results, and no OpenMP spin contention with other jobs.
# LOCO_NUM_THREADS pins it for the CLI commands run in-process too (loco_cli.threads).
os.environ["LOCO_NUM_THREADS"] = "1"
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


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A prepared tiny drum corpus (3 synthetic tracks of 4 s, seed 2, random split), once per module."""
    from loco_cli.corpus import write_corpus
    from loco_cli.prepare import prepare_dataset

    root = tmp_path_factory.mktemp("tiny")
    write_corpus("drums", root / "corpus", n_tracks=3, duration=4.0, seed=2)
    prepare_dataset(root / "corpus", root / "prep", split="random")
    return root / "prep"


#: A recipe (TOML) for a tiny drum model and a few steps: CLI tests train with it in seconds.
TINY_RECIPE = """base = "drums"
[train]
steps = 4
batch_size = 2
val_every = 2
[model]
conv_filters = [4, 4]
freq_pools = [4, 4]
rnn_hidden = 8
fc_hidden = 8
"""


@pytest.fixture(scope="session")
def tiny_recipe(tmp_path_factory):
    """Path of a TOML file holding :data:`TINY_RECIPE`."""
    path = tmp_path_factory.mktemp("recipe") / "tiny.toml"
    path.write_text(TINY_RECIPE)
    return path
