"""MinNet's loss: cross-entropy of both modalities plus the flexible-margin contrastive loss."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch.nn import functional as F

from .pairs import KIND_XX, KIND_YY


class Losses(NamedTuple):
    """The loss of a mini-batch and its parts (``total`` carries the gradient)."""

    total: torch.Tensor
    cross_entropy: torch.Tensor
    contrastive: torch.Tensor
    accuracy: torch.Tensor


def contrastive_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    negative: torch.Tensor,
    margin: torch.Tensor,
    eps: float = 1e-3,
) -> torch.Tensor:
    """Flexible-margin contrastive loss, averaged over pairs.

    ``L = (1 − u)·D² + u·max(0, m − D)²`` with ``D`` the Euclidean distance of the embeddings,
    ``u = 1`` for negative pairs. As in the authors' code, ``D = sqrt(‖z1 − z2‖² + eps)`` inside
    the hinge so the gradient stays finite when two embeddings coincide.

    Parameters
    ----------
    z1, z2
        Embeddings of the two members of each pair (pairs × d).
    negative
        1 for negative pairs, 0 for positive pairs (float tensor).
    margin
        Margin of every pair (ignored for positives).
    eps
        Added inside the square root.

    Returns
    -------
    The mean loss over pairs (a scalar tensor).
    """
    sq = ((z1 - z2) ** 2).sum(dim=1)
    d = torch.sqrt(sq + eps)
    loss = (1.0 - negative) * sq + negative * F.relu(margin - d) ** 2
    return loss.mean()


def minnet_loss(
    zx: torch.Tensor,
    px: torch.Tensor,
    zy: torch.Tensor,
    py: torch.Tensor,
    labels: torch.Tensor,
    kind: torch.Tensor,
    negative: torch.Tensor,
    margin: torch.Tensor,
    contrastive_weight: float,
    class_weight: torch.Tensor | None = None,
) -> Losses:
    """``CE_rna + CE_other + λ · L_contrastive`` of a mini-batch of pairs.

    Parameters
    ----------
    zx, px, zy, py
        Embeddings and class logits of the batch's cells through the RNA (x) and the other (y)
        encoder: rows ``0..n-1`` are the pairs' first members, ``n..2n-1`` their second.
    labels
        Cell-type codes of those ``2n`` rows.
    kind
        Per pair, which encoder each member goes through (:mod:`minnet.pairs` ``KIND_*``).
    negative, margin
        Per pair: 1.0 for negative pairs, and the pair's margin.
    contrastive_weight
        ``λ``.
    class_weight
        Per cell type, the weight of its cells in the cross-entropy (:func:`class_weights`);
        ``None``: all equal.

    Returns
    -------
    The total loss and, detached, its cross-entropy and contrastive parts and the
    classifier's accuracy (mean of both modalities).
    """
    n = kind.shape[0]
    kind = kind.unsqueeze(1)
    z1 = torch.where(kind == KIND_YY, zy[:n], zx[:n])
    z2 = torch.where(kind == KIND_XX, zx[n:], zy[n:])
    ce = F.cross_entropy(px, labels, weight=class_weight) \
        + F.cross_entropy(py, labels, weight=class_weight)
    lc = contrastive_loss(z1, z2, negative, margin)
    acc = 0.5 * ((px.argmax(1) == labels).float().mean()
                 + (py.argmax(1) == labels).float().mean())
    return Losses(ce + contrastive_weight * lc, ce.detach(), lc.detach(), acc.detach())


def class_weights(labels: np.ndarray, n_classes: int, balance: float) -> torch.Tensor | None:
    """Cross-entropy weight of each cell type: ``(cells / (types · cells of the type)) ** balance``.

    ``balance`` 0 gives plain cross-entropy (``None``), 1 weights every type equally; between,
    rare types count more without the few cells of the rarest dominating. Chosen on the real
    development set (0.5: macro accuracy of the classifier and of the blended labeller up on
    every fold, overall accuracy level; BENCHMARKS.md).
    """
    if balance == 0:
        return None
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    present = counts > 0
    w = np.ones(n_classes)
    w[present] = (counts.sum() / (present.sum() * counts[present])) ** balance
    return torch.tensor(w, dtype=torch.float32)


# Bandwidths of the MMD's Gaussian kernels, as multiples of the median cross distance: a mix
# makes the statistic sensitive to both the global and the local shape of the two clouds.
MMD_BANDWIDTHS = (0.25, 1.0, 4.0)
# Query cells whose classifier is at least this sure train on their predicted type.
SELF_TRAINING_CONFIDENCE = 0.9


def mmd(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Maximum mean discrepancy between two batches of embeddings (Gaussian kernels).

    Zero when the two batches come from one distribution: pulls the query's RNA and ATAC
    embeddings onto each other without knowing which cells correspond.
    """
    aa, bb, ab = torch.cdist(a, a) ** 2, torch.cdist(b, b) ** 2, torch.cdist(a, b) ** 2
    scale = ab.detach().median().clamp_min(1e-8)
    out = a.new_zeros(())
    for bandwidth in MMD_BANDWIDTHS:
        g = 1.0 / (bandwidth * scale)
        out = out + torch.exp(-g * aa).mean() + torch.exp(-g * bb).mean() \
            - 2 * torch.exp(-g * ab).mean()
    return out


def self_training_loss(logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the confident cells on their own predicted type, times their share.

    Sharpens the query's cell types in each modality (labels are never seen); weighting by the
    confident share keeps a query of unknown types from being pushed into known ones.
    """
    prob = torch.softmax(logits.detach(), dim=1)
    conf, target = prob.max(dim=1)
    sure = conf >= SELF_TRAINING_CONFIDENCE
    if not bool(sure.any()):
        return logits.new_zeros(())
    ce = F.cross_entropy(logits[sure], target[sure])
    return ce * sure.float().mean()


def query_loss(z_rna: torch.Tensor | None, logits_rna: torch.Tensor | None,
               z_other: torch.Tensor | None, logits_other: torch.Tensor | None) -> torch.Tensor:
    """The label-free loss of unpaired query cells: MMD between the modalities' embeddings
    (when both are given) plus self-training of each modality given."""
    parts = [self_training_loss(lg) for lg in (logits_rna, logits_other) if lg is not None]
    if z_rna is not None and z_other is not None:
        parts.append(mmd(z_rna, z_other))
    return torch.stack(parts).sum()
