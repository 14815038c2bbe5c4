"""DDP on CPU with 2 gloo processes: gradients are averaged across ranks, and `lesionseg train` runs under
torchrun."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    # test-only: the environment torchrun would give each process
    os.environ.update(
        {
            "RANK": str(rank),
            "WORLD_SIZE": str(world),
            "LOCAL_RANK": str(rank),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": "0",
        }
    )
    torch.set_num_threads(1)
    import torch.distributed as dist

    from LesionSegLogic.models import build_model
    from LesionSegLogic.training import ddp

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    ctx = ddp.setup("cpu")  # already initialised: joins the existing group
    assert ctx is not None and ctx.rank == rank and ctx.world_size == world
    torch.manual_seed(0)
    model = build_model("unet3d", in_channels=1, features=(2, 4), norm="group", group_size=2)
    net = ddp.wrap(model, ctx)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    torch.manual_seed(100 + rank)  # each rank sees a different batch
    x = torch.randn(2, 1, 4, 4, 4)
    net(x).pow(2).mean().backward()
    grad = torch.cat([p.grad.flatten() for p in model.parameters()])
    opt.step()
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    torch.save({"params": flat, "grad": grad}, f"{out_dir}/rank{rank}.pt")
    ddp.cleanup(ctx)


@pytest.mark.heavy  # ~10 s alone, up to 40 s on the shared 2-core machine
def test_ddp_two_gloo_processes_average_gradients(tmp_path):
    init = tmp_path / "init"
    mp.spawn(_worker, args=(2, str(init), str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    # different batches, yet identical (averaged) gradients and identical weights after the step
    torch.testing.assert_close(r0["grad"], r1["grad"])
    torch.testing.assert_close(r0["params"], r1["params"])
    # the averaged gradient is the mean of the two single-process gradients
    torch.manual_seed(0)
    from LesionSegLogic.models import build_model

    model = build_model("unet3d", in_channels=1, features=(2, 4), norm="group", group_size=2)
    grads = []
    for rank in range(2):
        model.zero_grad()
        torch.manual_seed(100 + rank)
        model(torch.randn(2, 1, 4, 4, 4)).pow(2).mean().backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    torch.testing.assert_close(r0["grad"], (grads[0] + grads[1]) / 2, rtol=1e-4, atol=1e-6)


@pytest.mark.heavy
def test_lesionseg_train_under_torchrun(tmp_path):
    from training_cases import make_dataset  # pytest puts Testing/ on sys.path

    data = make_dataset(tmp_path / "data", n=4, shape=(12, 16, 16))
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(_free_port()),  # port 0 reaches the workers as MASTER_PORT=0 and their rendezvous hangs
        "-m",
        "LesionSegLogic",
        "train",
        str(data),
        "--out",
        str(out),
        "--loss",
        "dice",
        "--model-param",
        "features=[4,8]",
        "--patch",
        "8",
        "8",
        "8",
        "--batch-size",
        "2",
        "--epochs",
        "2",
        "--iterations",
        "2",
        "--val-every",
        "0",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--no-progress",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with (out / "log.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == [1, 2]  # written once (rank 0), not twice
    assert (out / "best.safetensors").is_file() and (out / "last.pt").is_file()
