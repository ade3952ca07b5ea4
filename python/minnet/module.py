"""The MinNet network: two encoders, a shared classifier and a shared embedding head.

Its loss is in :mod:`minnet.loss`."""

from __future__ import annotations

import torch
from torch import nn


class MinNetModule(nn.Module):
    """Siamese network of the MinNet paper.

    Each modality has its own encoder ``Linear(p_m, h) → Tanh → BatchNorm1d(h)``; a classifier
    ``Linear(h, k)`` and an embedding head ``Linear(h, d)`` are shared by both modalities.
    Dropout on the encoders' input and output (training only) makes the network robust to the
    missing counts of sparse cells and of shallower query libraries; it has no weights, so
    files without it (minnet 0.1.0) load unchanged.

    Parameters
    ----------
    n_features
        Input features of modality 0 (RNA) and modality 1 (ATAC gene activity or ADT).
    n_classes
        Number of cell types.
    n_hidden
        Hidden width ``h``.
    n_latent
        Co-embedding dimension ``d`` (32 in the paper).
    input_dropout, hidden_dropout
        Dropout probability on each encoder's input features and on its hidden output.
    """

    def __init__(
        self, n_features: tuple[int, int], n_classes: int, n_hidden: int = 256,
        n_latent: int = 32, input_dropout: float = 0.0, hidden_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.input_dropout = nn.Dropout(input_dropout)
        self.hidden_dropout = nn.Dropout(hidden_dropout)
        self.encoders = nn.ModuleList(
            nn.Sequential(nn.Linear(p, n_hidden), nn.Tanh(), nn.BatchNorm1d(n_hidden))
            for p in n_features
        )
        self.classifier = nn.Linear(n_hidden, n_classes)
        self.head = nn.Linear(n_hidden, n_latent)

    def hidden(self, x: torch.Tensor, modality: int) -> torch.Tensor:
        """Hidden representation of a batch of one modality (0 = RNA, 1 = other)."""
        return self.hidden_dropout(self.encoders[modality](self.input_dropout(x)))

    def forward(self, x: torch.Tensor, modality: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(embedding, class logits)`` of a batch of one modality."""
        h = self.hidden(x, modality)
        return self.head(h), self.classifier(h)
