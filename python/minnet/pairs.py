"""Drawing the positive and negative cell pairs of one epoch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._utils import MinNetInputError
from .validation import Negatives, check_negatives, check_number

# Pair kinds: which modality each member of a pair is taken from.
KIND_XY, KIND_XX, KIND_YY = 0, 1, 2
KIND_MODALITIES = np.array([[0, 1], [0, 0], [1, 1]])


@dataclass
class PairSet:
    """Cell pairs of one epoch.

    Attributes
    ----------
    first, second
        Cell indices of the two members.
    negative
        True for negative pairs (different cells), False for positives (the same cell).
    kind
        ``0``: first from RNA, second from the other modality; ``1``: both RNA; ``2``: both other.
    """

    first: np.ndarray
    second: np.ndarray
    negative: np.ndarray
    kind: np.ndarray

    def __len__(self) -> int:
        return int(self.first.shape[0])

    def subset(self, idx: np.ndarray) -> PairSet:
        """The pairs ``idx`` (e.g. one rank's shard of a distributed epoch)."""
        return PairSet(self.first[idx], self.second[idx], self.negative[idx], self.kind[idx])


def sample_pairs(
    cells: np.ndarray,
    rng: np.random.Generator,
    positive_fraction: float = 0.25,
    negatives: Negatives = "both",
) -> PairSet:
    """Give every cell one partner: a positive (itself, other modality) or a random negative.

    Parameters
    ----------
    cells
        Indices of the cells to pair (a negative partner is drawn from the same set).
    rng
        Random generator (the caller seeds it).
    positive_fraction
        Fraction of positive pairs (0.25 gives the paper's 1 positive : 3 negatives).
    negatives
        ``"between"``: negatives pair RNA of one cell with the other modality of another;
        ``"within"``: both members from the same modality (RNA–RNA or other–other, half each);
        ``"both"``: half between-, half within-modality.

    Returns
    -------
    PairSet
        One pair per cell, positives first.

    Raises
    ------
    MinNetInputError
        For an unknown ``negatives``, ``positive_fraction`` outside ``[0, 1]`` or fewer than
        two cells.
    """
    check_negatives(negatives)
    check_number(positive_fraction, "positive_fraction", 0.0, 1.0)  # the value is used as given
    cells = np.asarray(cells, dtype=np.int64)
    n = cells.shape[0]
    if n < 2:
        raise MinNetInputError("at least 2 cells are needed to draw negative pairs.")
    first = rng.permutation(cells)
    n_pos = int(round(positive_fraction * n))
    negative = np.ones(n, dtype=bool)
    negative[:n_pos] = False
    second = first.copy()
    # A random partner other than the cell itself: shift a random position by 1..n-1.
    order = np.argsort(cells)
    rank = order[np.searchsorted(cells[order], first[n_pos:])]
    offset = rng.integers(1, n, size=n - n_pos)
    second[n_pos:] = cells[(rank + offset) % n]
    kind = np.full(n, KIND_XY, dtype=np.int64)
    n_neg = n - n_pos
    if negatives == "within":
        kind[n_pos:] = rng.choice([KIND_XX, KIND_YY], size=n_neg)
    elif negatives == "both":
        kind[n_pos:] = rng.choice([KIND_XY, KIND_XY, KIND_XX, KIND_YY], size=n_neg)
    return PairSet(first, second, negative, kind)
