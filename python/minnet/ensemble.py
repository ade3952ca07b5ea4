"""Seed ensembles: several MinNet networks, aligned onto the first and averaged.

Networks trained from different seeds (initial weights, pairs, validation cells) place cells
in co-embeddings that agree up to a rotation and carry independent noise. Aligning each
network's co-embedding onto the first by orthogonal Procrustes (fitted on the training
cells of both modalities) and averaging keeps the 32-d co-embedding and its scale while the
noise averages out; the classifiers' probabilities are averaged. Chosen by leave-libraries-out
cross-validation on the real development set (``benchmarks/dev_cv.py``, ``n_networks``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from .module import MinNetModule

# Training cells (of each modality) the alignment is fitted on: 32 × 32 rotations are
# determined long before this, and it bounds the work on large data.
ALIGN_MAX_CELLS = 20_000


class MinNetEnsemble(nn.Module):
    """Networks whose co-embeddings are averaged after alignment onto the first's.

    Network ``j`` maps a cell to ``(z_j − center_j) · rotation_j``, centred on the first
    network's ``center_0``; the ensemble's embedding is the mean over networks plus
    ``center_0``, its class logits the log of the mean probability (so ``softmax`` gives the
    averaged probabilities).

    Parameters
    ----------
    members
        The trained networks (same sizes).
    rotation, center
        ``k × d × d`` orthogonal matrices and ``k × d`` means (identity and 0 until
        :func:`align` sets them; a loaded file sets them from its tensors).
    """

    def __init__(self, members: Sequence[MinNetModule], rotation: torch.Tensor | None = None,
                 center: torch.Tensor | None = None) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        k, d = len(members), members[0].head.out_features
        self.register_buffer("rotation", torch.eye(d).repeat(k, 1, 1)
                             if rotation is None else rotation.clone())
        self.register_buffer("center", torch.zeros(k, d) if center is None else center.clone())

    def forward(self, x: torch.Tensor, modality: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the averaged, aligned ``(embedding, log mean class probability)``."""
        zs, probs = [], []
        for j, member in enumerate(self.members):
            z, logits = member(x, modality)
            zs.append((z - self.center[j]) @ self.rotation[j])
            probs.append(torch.softmax(logits, dim=1))
        mean_p = torch.stack(probs).mean(dim=0)
        # log of the mean probability: softmax of it gives it back; tiny keeps it finite
        return (self.center[0] + torch.stack(zs).mean(dim=0),
                torch.log(mean_p.clamp_min(torch.finfo(mean_p.dtype).tiny)))


Rows = Callable[[int, np.ndarray], np.ndarray]


@torch.no_grad()
def align(members: Sequence[MinNetModule], rows: Rows, cells: np.ndarray,
          rng: np.random.Generator) -> MinNetEnsemble:
    """The ensemble of ``members`` aligned onto the first on ``cells`` of both modalities.

    Parameters
    ----------
    members
        Trained networks (on the CPU, eval mode is set here).
    rows
        ``rows(modality, cells)``: the scaled model input of those cells (0: RNA, 1: other).
    cells
        Training cells to fit the alignment on (at most :data:`ALIGN_MAX_CELLS` are drawn).
    rng
        Draws them.
    """
    if cells.size > ALIGN_MAX_CELLS:
        cells = np.sort(rng.choice(cells, ALIGN_MAX_CELLS, replace=False))
    inputs = [torch.from_numpy(rows(m, cells)) for m in (0, 1)]
    embeddings = []
    for member in members:
        member.eval()
        embeddings.append(torch.cat([member(x, m)[0] for m, x in enumerate(inputs)]).double())
    centers = torch.stack([z.mean(dim=0) for z in embeddings])
    target = embeddings[0] - centers[0]
    rotations = [_procrustes(z - c, target) for z, c in zip(embeddings, centers, strict=True)]
    return MinNetEnsemble(members, torch.stack(rotations).float(), centers.float()).eval()


def _procrustes(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The orthogonal ``R`` minimising ``‖source · R − target‖`` (Schönemann's SVD solution)."""
    u, _, vh = torch.linalg.svd(source.T @ target)
    return u @ vh
