"""Distributed data-parallel training with PyTorch's own engine (``torch.distributed`` + DDP under
``torchrun``).

``torchrun --nproc_per_node N -m LesionSegLogic train ...`` starts N processes with ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK`` and the rendezvous variables set; :func:`setup` reads them (it never sets environment
variables) and joins the process group: NCCL on CUDA (one GPU per local rank), gloo on CPU. Multi-node works
the same way with ``torchrun --nnodes``. Each rank draws its own batches (generator seeded with ``(seed,
rank)``); gradients are averaged by DDP; only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device


def is_distributed_env() -> bool:
    """True when launched by ``torchrun`` with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: str = "auto") -> DistContext | None:
    """Join the process group when running under ``torchrun`` with WORLD_SIZE > 1; ``None`` otherwise."""
    if not is_distributed_env():
        return None
    import torch.distributed as dist

    rank = int(os.environ["RANK"])
    world = int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device in ("auto", "cuda") and torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        dev = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", rank=rank, world_size=world)
    return DistContext(rank, world, local, dev)


def wrap(model: nn.Module, ctx: DistContext) -> nn.Module:
    """``DistributedDataParallel`` around ``model`` (already on ``ctx.device``)."""
    from torch.nn.parallel import DistributedDataParallel

    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def barrier() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()


def cleanup(ctx: DistContext | None) -> None:
    import torch.distributed as dist

    if ctx is not None and dist.is_initialized():
        dist.destroy_process_group()
