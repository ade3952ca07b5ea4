"""One training step: a mini-batch of cell pairs → losses → one optimiser step.

The training loop (:func:`minnet.train.fit`), the benchmarks and distributed training all call
:class:`TrainingStep`; nothing else computes MinNet's mini-batch loss.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.sparse as sp
import torch

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

    def rows(self, modality: int, rows: np.ndarray) -> np.ndarray:
        """Scaled model input of ``rows`` of one modality (0: RNA, 1: the other)."""
        x, scaler = (self.x, self.sx) if modality == 0 else (self.y, self.sy)
        return scaler.transform_rows(x, rows)

    def margins(self, pairs: PairSet, loss: LossSettings) -> np.ndarray:
        """Margin of every pair: ``m0 · (graph distance + C · [types differ])``, 0 for positives."""
        margin = np.zeros(len(pairs), dtype=np.float32)
        neg = np.flatnonzero(pairs.negative)
        if neg.size:
            d = self.distances.pair_distances(pairs.first[neg], pairs.second[neg])
            differ = self.labels[pairs.first[neg]] != self.labels[pairs.second[neg]]
            margin[neg] = loss.margin * (d + loss.celltype_margin * differ)
        return margin


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


def pair_batches(n: int, size: int, rng: np.random.Generator | None) -> Iterator[np.ndarray]:
    """Mini-batches of pair indices (shuffled with ``rng``; in order without it).

    A last batch of a single pair is folded into the one before: BatchNorm needs two rows.
    """
    order = rng.permutation(n) if rng is not None else np.arange(n)
    starts = list(range(0, n, size))
    if len(starts) > 1 and n - starts[-1] < 2:
        starts.pop()
    for i, s in enumerate(starts):
        e = starts[i + 1] if i + 1 < len(starts) else n
        yield order[s:e]


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
    """

    def __init__(self, module: MinNetModule, data: PairedData, loss: LossSettings,
                 optim: OptimSettings, device: torch.device,
                 query: QueryCells | None = None) -> None:
        self.module = module
        self.data = data
        self.query = query
        self.loss = loss
        self.device = device
        self.optimizer = torch.optim.Adam(module.parameters(), lr=optim.lr,
                                          weight_decay=optim.weight_decay)

    def losses(self, pairs: PairSet, idx: np.ndarray, margin: np.ndarray) -> Losses:
        """Forward pass of the pairs ``idx`` through both encoders and their losses."""
        a, b = pairs.first[idx], pairs.second[idx]
        rows = np.concatenate([a, b])
        dev, data = self.device, self.data
        xb = torch.from_numpy(data.rows(0, rows)).to(dev)
        yb = torch.from_numpy(data.rows(1, rows)).to(dev)
        lab = torch.from_numpy(data.labels[rows]).to(dev)
        zx, px = self.module(xb, 0)
        zy, py = self.module(yb, 1)
        kind = torch.from_numpy(pairs.kind[idx]).to(dev)
        neg = torch.from_numpy(pairs.negative[idx].astype(np.float32)).to(dev)
        m = torch.from_numpy(margin[idx]).to(dev)
        return minnet_loss(zx, px, zy, py, lab, kind, neg, m, self.loss.contrastive_weight)

    def __call__(self, pairs: PairSet, idx: np.ndarray, margin: np.ndarray) -> Losses:
        """One optimiser step on the pairs ``idx``; returns their losses."""
        out = self.losses(pairs, idx, margin)
        total = out.total
        if self.query is not None:
            total = total + self.query.weight * self.query_losses()
        self.optimizer.zero_grad()
        total.backward()
        self.optimizer.step()
        return out

    def query_losses(self) -> torch.Tensor:
        """The label-free loss of a random draw of query cells of each modality."""
        zs: list[torch.Tensor | None] = [None, None]
        logits: list[torch.Tensor | None] = [None, None]
        for m in (0, 1):
            rows = self.query.batch(m)
            if rows is not None:
                zs[m], logits[m] = self.module(torch.from_numpy(rows).to(self.device), m)
        return query_loss(zs[0], logits[0], zs[1], logits[1])

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
