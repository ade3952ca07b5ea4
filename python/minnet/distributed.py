"""Data-parallel training over processes and machines with ``torch.distributed``.

Launched with ``torchrun`` (``torchrun --nproc_per_node=N -m minnet train ... --distributed``,
or ``minnet.train(..., distributed=True)`` inside a torchrun worker): every process (rank)
prepares the same inputs from the same seed, receives rank 0's RNA graph (:func:`from_main`),
draws the epoch's pairs from the same seeded generator and trains on its own shard of every
global mini-batch; the network is
wrapped in :class:`torch.nn.parallel.DistributedDataParallel`, which all-reduces the gradients,
so every rank keeps the same weights. Rank 0 validates (its score is broadcast, so every rank
stops at the same epoch), writes checkpoints and the one model file. NCCL on CUDA, gloo on CPU;
several machines work with ``torchrun --nnodes``.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

from ._utils import MinNetInputError, logger

T = TypeVar("T")

#: How long a rank waits in a collective: the other ranks wait for rank 0's RNA graph
#: (:func:`from_main`), minutes at a million cells, longer beyond; torch's defaults (NCCL 10,
#: gloo 30 minutes) would end a large run there.
GROUP_TIMEOUT = datetime.timedelta(hours=3)

# what torchrun sets in each worker's environment
_TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class Ranks:
    """Where this process stands in a data-parallel run (one process: rank 0 of 1).

    Attributes
    ----------
    rank, world_size
        This process's rank and the number of processes over all machines.
    local_rank
        Its rank on this machine (picks its GPU).
    backend
        ``"nccl"``, ``"gloo"`` or ``None`` when not distributed.
    owns_group
        Whether :func:`join_group` created the process group (and :func:`leave_group` ends it).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        """Rank 0: validates, logs and writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def shard(self, batch: np.ndarray) -> np.ndarray:
        """This rank's contiguous share of a global mini-batch of pair indices."""
        if not self.distributed:
            return batch
        return np.array_split(batch, self.world_size)[self.rank]

    def describe(self) -> dict:
        """For the model's summary."""
        return {"world_size": self.world_size, "backend": self.backend}


SINGLE = Ranks()


def join_group(device: torch.device) -> tuple[Ranks, torch.device]:
    """Join (or create) the process group of a torchrun launch; returns ranks and the device.

    On CUDA each process takes the GPU of its local rank and NCCL; on CPU gloo.

    Raises
    ------
    MinNetInputError
        Outside a torchrun worker (its environment variables are missing).
    """
    import torch.distributed as dist

    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if device.type == "cuda":  # one GPU per process of this machine
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
    owns = not dist.is_initialized()
    if owns:
        missing = [k for k in _TORCHRUN_ENV if k not in os.environ]
        if missing:
            raise MinNetInputError(
                f"distributed=True needs the environment of a torchrun worker ({', '.join(missing)} "
                "not set). Launch with e.g. `torchrun --nproc_per_node=2 -m minnet train ... "
                "--distributed`, or `torchrun --nproc_per_node=2 your_script.py` around "
                "minnet.train(..., distributed=True); without torchrun use distributed=False.")
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                timeout=GROUP_TIMEOUT)
    ranks = Ranks(dist.get_rank(), dist.get_world_size(), local_rank, dist.get_backend(), owns)
    logger.info("distributed training: rank %d of %d (%s, %s)", ranks.rank, ranks.world_size,
                ranks.backend, device)
    return ranks, device


def leave_group(ranks: Ranks) -> None:
    """Wait for every rank, then end the process group if :func:`join_group` created it."""
    if not ranks.distributed and not ranks.owns_group:
        return
    import torch.distributed as dist

    dist.barrier()
    if ranks.owns_group:
        dist.destroy_process_group()


def data_parallel(network: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``network`` in DistributedDataParallel, BatchNorm's running statistics kept per rank.

    They are averaged after each epoch (:func:`average_buffers`) instead of being overwritten
    by rank 0's before every forward pass, so every rank's shards count.
    """
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    # torch 2.13 renamed broadcast_buffers (older releases have only the old name)
    keep_local = ("forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(
        DistributedDataParallel).parameters else "broadcast_buffers")
    return DistributedDataParallel(network, device_ids=[device.index] if device.type == "cuda"
                                   else None, **{keep_local: False})


def average_buffers(module: torch.nn.Module, ranks: Ranks) -> None:
    """Average BatchNorm's running statistics over the ranks (each saw its own shards), so
    every rank validates and keeps the same network."""
    if not ranks.distributed:
        return
    import torch.distributed as dist

    for buf in module.buffers():
        if buf.is_floating_point():
            dist.all_reduce(buf)
            buf /= ranks.world_size


def broadcast_floats(values: list[float], ranks: Ranks, device: torch.device) -> list[float]:
    """Rank 0's ``values`` on every rank (the others pass placeholders of the same length)."""
    if not ranks.distributed:
        return values
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.broadcast(t, src=0)
    return t.tolist()


def sum_floats(values: list[float], ranks: Ranks, device: torch.device) -> list[float]:
    """Element-wise sums of ``values`` over the ranks."""
    if not ranks.distributed:
        return values
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def from_main(make: Callable[[], T], ranks: Ranks, device: torch.device) -> T:
    """``make()`` run on rank 0 only and its result sent to every rank (pickled).

    For what every rank needs but need not compute: the others skip its time and peak
    memory, and all ranks hold the very same object even where machines' floating-point
    libraries would break ties differently. The others wait up to the process group's
    timeout (:data:`GROUP_TIMEOUT` for a group :func:`join_group` creates).
    """
    if not ranks.distributed:
        return make()
    import torch.distributed as dist

    box = [make() if ranks.is_main else None]
    dist.broadcast_object_list(box, src=0, device=device)
    return box[0]
