"""Multi-process training (DistributedDataParallel) on the gloo backend with 2 CPU processes."""

from __future__ import annotations

import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from loco_cli.config import LossConfig, ModelConfig, TrainConfig

TINY = ModelConfig(conv_filters=(4, 4), freq_pools=(4, 4), rnn_hidden=8, fc_hidden=8)
QUICK = TrainConfig(steps=4, batch_size=2, val_every=2, log_every=1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, prep: str, run: str, port: int) -> None:
    import torch.distributed as dist

    from loco_cli.train import train_run

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    train_run(prep, run, loss=LossConfig(), train=QUICK, model=TINY, device="cpu")
    dist.destroy_process_group()


@pytest.mark.slow
def test_two_process_gloo_training(tmp_path):
    from loco_cli.corpus import write_corpus
    from loco_cli.prepare import prepare_dataset

    write_corpus("drums", tmp_path / "c", n_tracks=3, duration=3.0, seed=4)
    prepare_dataset(tmp_path / "c", tmp_path / "p")
    try:
        mp.spawn(_worker, args=(2, str(tmp_path / "p"), str(tmp_path / "run"), _free_port()), nprocs=2, join=True)
    except mp.ProcessExitedException as err:
        # gloo now and then aborts a process while the two tear their connection down after training
        # ("terminate called without an active exception", about 1 full test run in 9 here); the run's
        # outputs, checked below, tell whether training itself completed
        if err.signal_name != "SIGABRT":
            raise
    assert (tmp_path / "run" / "model.pt").is_file()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["world_size"] == 2
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert state["step"] == 4 and len(state["rng"]["numpy"]) == 2  # one sampler state per process
