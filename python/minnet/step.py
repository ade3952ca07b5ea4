"""One training step: a mini-batch of cell pairs → losses → one optimiser step.

The training loop (:func:`minnet.train.fit`), the benchmarks and distributed training all call
:class:`TrainingStep`; nothing else computes MinNet's mini-batch loss.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import scipy.sparse as sp
import torch

from .distributed import SINGLE, Ranks, data_parallel
from .loss import Losses, minnet_loss, query_loss
from .module import MinNetModule
from .pairs import PairSet
from .pp._scale import Standardizer
from .settings import LossSettings, OptimSettings


class PairDistances(Protocol):
    """Anything that gives graph distances of cell pairs (:class:`minnet.margins.GraphDistances`)."""

    def pair_distances(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray: ...


@dataclass
class PairedData:
    """Model-ready paired training data.

    Attributes
    ----------
    x, y
        Model input of RNA and of the other modality (cells × features, normalised, unscaled).
    sx, sy
        Their scalers (applied lazily to the rows of each mini-batch).
    labels
        Integer cell-type codes.
    distances
        Graph distances between cells (the margins' first term).
    """

    x: sp.csr_matrix
    y: sp.csr_matrix
    sx: Standardizer
    sy: Standardizer
    labels: np.ndarray
    distances: PairDistances
    # per (modality, device): the input held on an accelerator (DeviceRows), made once
    _resident: dict = field(default_factory=dict, repr=False, compare=False)

    def rows(self, modality: int, rows: np.ndarray) -> np.ndarray:
        """Scaled model input of ``rows`` of one modality (0: RNA, 1: the other)."""
        x, scaler = (self.x, self.sx) if modality == 0 else (self.y, self.sy)
        return scaler.transform_rows(x, rows)

    def tensor_rows(self, modality: int, rows: np.ndarray, device: torch.device,
                    resident: bool | None = None) -> torch.Tensor:
        """:meth:`rows` as a float32 tensor on ``device``. ``resident`` (default: on any device
        but the CPU) gathers them from a copy of the sparse input moved to the device once
        (:class:`DeviceRows`) instead of slicing on the host and copying every mini-batch."""
        if resident is None:
            resident = device.type != "cpu"
        if not resident:
            return torch.from_numpy(self.rows(modality, rows)).to(device)
        key = (modality, str(device))
        if key not in self._resident:
            x, scaler = (self.x, self.sx) if modality == 0 else (self.y, self.sy)
            self._resident[key] = DeviceRows(x, scaler, device)
        return self._resident[key].rows(rows)

    def margins(self, pairs: PairSet, loss: LossSettings) -> np.ndarray:
        """Margin of every pair: ``m0 · (graph distance + C · [types differ])``, 0 for positives."""
        margin = np.zeros(len(pairs), dtype=np.float32)
        neg = np.flatnonzero(pairs.negative)
        if neg.size:
            d = self.distances.pair_distances(pairs.first[neg], pairs.second[neg])
            differ = self.labels[pairs.first[neg]] != self.labels[pairs.second[neg]]
            margin[neg] = loss.margin * (d + loss.celltype_margin * differ)
        return margin


class DeviceRows:
    """A modality's sparse model input and its scaler held on a device, as CSR tensors.

    ``rows`` gathers, scales and clips mini-batch rows there, with the same float32 arithmetic
    as :meth:`Standardizer.transform_rows` (identical values for float32 input, which the
    input specs make; other input is cast to float32 first), so a GPU run moves its data to
    the GPU once instead of every step.
    """

    def __init__(self, x: sp.csr_matrix, scaler: Standardizer, device: torch.device) -> None:
        x = sp.csr_matrix(x, dtype=np.float32)
        x.sum_duplicates()  # one stored value per entry, as toarray() would sum them
        self.device, self.n_features = device, x.shape[1]
        self.indptr = torch.from_numpy(x.indptr.astype(np.int64)).to(device)
        self.indices = torch.from_numpy(x.indices.astype(np.int32)).to(device)
        self.values = torch.from_numpy(x.data).to(device)
        self.group = torch.from_numpy(np.asarray(scaler.group_index, dtype=np.int64)).to(device)
        self.mean = torch.from_numpy(scaler.mean).to(device)
        self.std = torch.from_numpy(scaler.std).to(device)
        self.max_value = scaler.max_value

    def rows(self, rows: np.ndarray) -> torch.Tensor:
        """Scaled, clipped dense rows (float32, on the device)."""
        r = torch.from_numpy(np.asarray(rows, dtype=np.int64)).to(self.device)
        start = self.indptr[r]
        count = self.indptr[r + 1] - start
        total = int(count.sum())
        row_of = torch.repeat_interleave(torch.arange(r.numel(), device=self.device), count)
        first = torch.repeat_interleave(torch.cumsum(count, 0) - count, count)
        pos = torch.repeat_interleave(start, count) + torch.arange(total, device=self.device) \
            - first
        out = torch.zeros(r.numel(), self.n_features, device=self.device)
        out[row_of, self.indices[pos].long()] = self.values[pos]
        g = self.group[r]
        out = (out - self.mean[g]) / self.std[g]
        return out.clamp_(-self.max_value, self.max_value)


@dataclass
class QueryCells:
    """Unpaired, unlabelled query cells trained on beside the pairs (query-aware mode).

    Attributes
    ----------
    inputs
        Per modality index (0: RNA, 1: the other) the model input and its scaler; a modality
        may be absent.
    weight
        Weight of their label-free loss (:func:`minnet.loss.query_loss`) in each step.
    cells_per_step
        Query cells of each modality drawn for every mini-batch.
    rng
        Draws them (seeded from the run's seed).
    """

    inputs: dict[int, tuple[sp.csr_matrix, Standardizer]]
    weight: float
    cells_per_step: int
    rng: np.random.Generator

    def batch(self, modality: int) -> np.ndarray | None:
        """Scaled input of a random draw of the modality's query cells (None if absent)."""
        if modality not in self.inputs:
            return None
        x, scaler = self.inputs[modality]
        # at least two rows: BatchNorm in training mode needs them
        rows = self.rng.choice(x.shape[0], max(2, self.cells_per_step), replace=True)
        return scaler.transform_rows(x, np.sort(rows))


def pair_batches(n: int, size: int, rng: np.random.Generator | None,
                 min_last: int = 2) -> Iterator[np.ndarray]:
    """Mini-batches of pair indices (shuffled with ``rng``; in order without it).

    A last batch of fewer than ``min_last`` pairs is folded into the one before: BatchNorm
    needs two rows (on every rank of a distributed run: ``2 · world_size``).
    """
    order = rng.permutation(n) if rng is not None else np.arange(n)
    starts = list(range(0, n, size))
    if len(starts) > 1 and n - starts[-1] < min_last:
        starts.pop()
    for i, s in enumerate(starts):
        e = starts[i + 1] if i + 1 < len(starts) else n
        yield order[s:e]


class _StepNetwork(torch.nn.Module):
    """One step's forward passes in one call, so DistributedDataParallel can wrap them.

    Each modality and the query cells go through the network separately, as BatchNorm's
    batch statistics must not mix them.
    """

    def __init__(self, module: MinNetModule) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor, y: torch.Tensor, query_x: torch.Tensor | None,
                query_y: torch.Tensor | None) -> tuple:
        """Embeddings and logits of the pairs' RNA and other rows, then of the query rows."""
        out = [*self.module(x, 0), *self.module(y, 1)]
        for m, rows in enumerate((query_x, query_y)):
            out += list(self.module(rows, m)) if rows is not None else [None, None]
        return tuple(out)


class TrainingStep:
    """Computes a mini-batch's losses and takes one optimiser step.

    Parameters
    ----------
    module
        The network (already on ``device``).
    data
        The paired training data.
    loss
        The loss settings (margins and ``λ``).
    optim
        Adam's learning rate and weight decay.
    device
        Where the network runs.
    query
        Unpaired query cells whose label-free loss is added to each step (query-aware mode).
    class_weight
        Per cell type, its weight in the training cross-entropy (validation is unweighted).
    ranks
        A distributed run's ranks: the forward passes are wrapped in
        :class:`~torch.nn.parallel.DistributedDataParallel`, which averages the gradients of
        every rank's shard of the global mini-batch.
    resident, mixed_precision
        Hold the training input on the device (:class:`DeviceRows`) and run the forward passes
        in bfloat16 autocast (losses in float32); ``None``: both on CUDA, neither on the CPU.
    """

    def __init__(self, module: MinNetModule, data: PairedData, loss: LossSettings,
                 optim: OptimSettings, device: torch.device,
                 query: QueryCells | None = None, class_weight: torch.Tensor | None = None,
                 ranks: Ranks = SINGLE, resident: bool | None = None,
                 mixed_precision: bool | None = None) -> None:
        self.module = module
        self.resident = resident
        # bfloat16 keeps float32's range, so no loss scaling is needed
        self.mixed_precision = (device.type == "cuda" if mixed_precision is None
                                else mixed_precision)
        self.class_weight = None if class_weight is None else class_weight.to(device)
        self.data = data
        self.query = query
        self.loss = loss
        self.device = device
        self.network: torch.nn.Module = _StepNetwork(module)
        if ranks.distributed:  # gradients averaged over the ranks in backward()
            self.network = data_parallel(self.network, device)
        lr = optim.resolved(data.x.shape[0], ranks.world_size)["lr"]  # "auto" as train()'s
        self.optimizer = torch.optim.Adam(module.parameters(), lr=lr,
                                          weight_decay=optim.weight_decay)

    def _batch(self, pairs: PairSet, idx: np.ndarray, margin: np.ndarray) -> tuple:
        """The pairs ``idx`` as tensors: RNA rows, other rows, then the loss's per-row data."""
        a, b = pairs.first[idx], pairs.second[idx]
        rows = np.concatenate([a, b])
        dev, data = self.device, self.data
        return (data.tensor_rows(0, rows, dev, self.resident),
                data.tensor_rows(1, rows, dev, self.resident),
                (torch.from_numpy(data.labels[rows]).to(dev),
                 torch.from_numpy(pairs.kind[idx]).to(dev),
                 torch.from_numpy(pairs.negative[idx].astype(np.float32)).to(dev),
                 torch.from_numpy(margin[idx]).to(dev)))

    def losses(self, pairs: PairSet, idx: np.ndarray, margin: np.ndarray) -> Losses:
        """Forward pass of the pairs ``idx`` through both encoders and their losses."""
        xb, yb, rest = self._batch(pairs, idx, margin)
        zx, px = self.module(xb, 0)
        zy, py = self.module(yb, 1)
        return minnet_loss(zx, px, zy, py, *rest, self.loss.contrastive_weight)

    def __call__(self, pairs: PairSet, idx: np.ndarray, margin: np.ndarray) -> Losses:
        """One optimiser step on the pairs ``idx``; returns their losses."""
        xb, yb, rest = self._batch(pairs, idx, margin)
        query = [None, None]
        if self.query is not None:
            query = [None if r is None else torch.from_numpy(r).to(self.device)
                     for r in (self.query.batch(0), self.query.batch(1))]
        with torch.autocast(self.device.type, torch.bfloat16, enabled=self.mixed_precision):
            zx, px, zy, py, *q = self.network(xb, yb, *query)
        zx, px, zy, py = (t.float() for t in (zx, px, zy, py))
        q = [None if t is None else t.float() for t in q]
        out = minnet_loss(zx, px, zy, py, *rest, self.loss.contrastive_weight, self.class_weight)
        total = out.total
        if self.query is not None:
            total = total + self.query.weight * query_loss(*q)
        self.optimizer.zero_grad()
        total.backward()
        self.optimizer.step()
        return out

    @torch.no_grad()
    def evaluate(self, pairs: PairSet, margin: np.ndarray, chunk: int = 1024) -> dict[str, float]:
        """Mean validation loss and classifier accuracy over ``pairs`` (eval mode, no grad)."""
        self.module.eval()
        tot = acc = 0.0
        for idx in pair_batches(len(pairs), chunk, None):
            out = self.losses(pairs, idx, margin)
            tot += out.total.item() * len(idx)
            acc += out.accuracy.item() * len(idx)
        return {"val_loss": tot / len(pairs), "val_accuracy": acc / len(pairs)}
