"""Several processes, one model: DistributedDataParallel as ``torchrun`` launches it.

``torchrun --nproc_per_node P -m panet_min.train ...`` starts P copies of the training script
with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address in the environment.
Each copy draws its own episodes (rank r of W takes episode ``(step * W + r) * E + e`` at step
``step``), DDP averages the gradients, so every rank applies the same update and the weights stay
identical; only rank 0 writes files. Backend: ``nccl`` on CUDA, ``gloo`` on CPU.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """``rank`` of this process, ``world_size`` processes, ``local_rank`` on this machine."""
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def launched_by_torchrun() -> bool:
    """True when the environment holds a process group's coordinates with more than 1 process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device_type: str) -> World:
    """Join the process group described by the environment (no-op for a single process).

    ``device_type`` "cuda": backend nccl and this process uses GPU ``LOCAL_RANK``; "cpu": gloo.
    """
    if not launched_by_torchrun():
        return World()
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    return World(rank, world_size, local_rank)


def close(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


def episode_index(step: int, rank: int, world_size: int, episodes_per_step: int, e: int) -> int:
    """Which episode rank ``rank`` uses as its ``e``-th episode of ``step``: a pure function of
    the step, so a resumed run (and any rank) needs no sampler state."""
    return (step * world_size + rank) * episodes_per_step + e


def parameter_digest(module: torch.nn.Module) -> str:
    """SHA-256 of every parameter's bytes, in order: equal digests = bit-identical weights."""
    h = hashlib.sha256()
    for name, p in module.state_dict().items():
        h.update(name.encode())
        h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def gather_digests(world: World, module: torch.nn.Module) -> list[str]:
    """Every rank's :func:`parameter_digest` (a list on every rank)."""
    digest = parameter_digest(module)
    if not world.distributed:
        return [digest]
    out: list = [None] * world.world_size
    dist.all_gather_object(out, digest)
    return out
