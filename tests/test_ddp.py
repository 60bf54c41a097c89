"""Distributed data parallel on CPU (gloo, 127.0.0.1): 2 ranks x batch B == 1 process x batch 2B."""

import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from depthlab.train import fit, load_weights
from test_engine import blobs

B = 16
SETTINGS = dict(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-3, quiet=True, device="cpu", seed=3)


def no_bn_mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 3))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        model = no_bn_mlp()
        history = fit(
            model, blobs(n_train=128), epochs=1, batch_size=B, checkpoint_dir=f"{out_dir}/ckpt", **SETTINGS
        )
        if rank == 0:
            torch.save({"final": history.final, "state": model.state_dict()}, f"{out_dir}/rank0.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(free_port(), str(out)), nprocs=2, join=True)
    return out, torch.load(out / "rank0.pt", weights_only=True)


@pytest.mark.slow
def test_two_ranks_of_batch_b_match_one_process_of_batch_2b(ddp_run):
    _, result = ddp_run
    single = no_bn_mlp()
    fit(single, blobs(n_train=128), epochs=1, batch_size=2 * B, **SETTINGS)  # 4 steps either way
    for key, value in single.state_dict().items():
        torch.testing.assert_close(result["state"][key], value, rtol=1e-5, atol=1e-6)
    assert not torch.equal(result["state"]["0.weight"], no_bn_mlp()[0].weight)  # it did train


@pytest.mark.slow
def test_a_ddp_checkpoint_resumes_in_one_process(ddp_run):
    out, result = ddp_run
    loaded = load_weights(no_bn_mlp(), out / "ckpt")
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, result["state"][key]), key
    # continue the DDP run for a second epoch alone, and compare with 2 uninterrupted single-process epochs
    resumed = no_bn_mlp()
    fit(
        resumed,
        blobs(n_train=128),
        epochs=2,
        batch_size=2 * B,
        checkpoint_dir=str(out / "ckpt"),
        resume=True,
        **SETTINGS,
    )
    reference = no_bn_mlp()
    fit(reference, blobs(n_train=128), epochs=2, batch_size=2 * B, **SETTINGS)
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value, rtol=1e-5, atol=1e-6)
