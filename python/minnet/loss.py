"""MinNet's loss: cross-entropy of both modalities plus the flexible-margin contrastive loss."""

from __future__ import annotations

from typing import NamedTuple

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

    Returns
    -------
    The total loss and, detached, its cross-entropy and contrastive parts and the
    classifier's accuracy (mean of both modalities).
    """
    n = kind.shape[0]
    kind = kind.unsqueeze(1)
    z1 = torch.where(kind == KIND_YY, zy[:n], zx[:n])
    z2 = torch.where(kind == KIND_XX, zx[n:], zy[n:])
    ce = F.cross_entropy(px, labels) + F.cross_entropy(py, labels)
    lc = contrastive_loss(z1, z2, negative, margin)
    acc = 0.5 * ((px.argmax(1) == labels).float().mean()
                 + (py.argmax(1) == labels).float().mean())
    return Losses(ce + contrastive_weight * lc, ce.detach(), lc.detach(), acc.detach())
