"""Per-dataset (or per-batch) standardisation to zero mean / unit variance, clipped at ±max_value.

The statistics are computed from the sparse matrix and applied lazily to row blocks, so that
scaling never densifies the whole cells × features matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..validation import check_number


@dataclass
class Standardizer:
    """Per-group feature means and standard deviations of a cells × features matrix.

    Attributes
    ----------
    group_index
        Group (dataset or batch) of every row, 0..n_groups-1.
    mean, std
        ``n_groups × n_features`` float32; a feature with zero variance gets std 1.
    max_value
        Scaled values are clipped to ``[-max_value, max_value]``.
    """

    group_index: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    max_value: float = 10.0

    @classmethod
    def fit(
        cls, x: sp.csr_matrix, groups: np.ndarray | None = None, max_value: float = 10.0
    ) -> Standardizer:
        """Compute per-group statistics of ``x`` (rows = cells).

        Parameters
        ----------
        x
            Cells × features CSR matrix.
        groups
            Optional per-cell group labels; ``None``: one group.
        max_value
            Clipping bound (> 0) of :meth:`transform_rows`.

        Returns
        -------
        Standardizer
            The fitted statistics.
        """
        check_number(max_value, "max_value", 0.0, low_open=True)
        n = x.shape[0]
        if groups is None:
            codes = np.zeros(n, dtype=np.int64)
        else:
            _, codes = np.unique(np.asarray(groups).astype(str), return_inverse=True)
        n_groups = int(codes.max()) + 1 if n else 1
        means = np.zeros((n_groups, x.shape[1]), dtype=np.float64)
        stds = np.ones((n_groups, x.shape[1]), dtype=np.float64)
        for g in range(n_groups):
            # one group (the usual case): x itself, no copy of the whole matrix
            rows = x if n_groups == 1 else x[codes == g]
            m = rows.shape[0]
            total, total_sq = _column_sums(rows)
            mean, sq = total / max(m, 1), total_sq / max(m, 1)
            var = np.maximum(sq - mean**2, 0.0) * (m / max(m - 1, 1))
            std = np.sqrt(var)
            std[std == 0] = 1.0
            means[g], stds[g] = mean, std
        return cls(codes, means.astype(np.float32), stds.astype(np.float32), float(max_value))

    @classmethod
    def fixed(
        cls, mean: np.ndarray, std: np.ndarray, n_rows: int, max_value: float = 10.0
    ) -> Standardizer:
        """Scale ``n_rows`` rows with given statistics (e.g. a model's training data's).

        Each row is then scaled on its own: its values do not depend on any other row.
        """
        mean = np.asarray(mean, dtype=np.float32).reshape(1, -1)
        std = np.asarray(std, dtype=np.float32).reshape(1, -1)
        return cls(np.zeros(n_rows, dtype=np.int64), mean, std, float(max_value))

    def transform_rows(self, x: sp.csr_matrix, rows: np.ndarray) -> np.ndarray:
        """Return the scaled, clipped dense block ``x[rows]`` (float32)."""
        block = x[rows]
        dense = block.toarray() if sp.issparse(block) else np.asarray(block, dtype=np.float32)
        g = self.group_index[rows]
        out = (dense - self.mean[g]) / self.std[g]
        np.clip(out, -self.max_value, self.max_value, out=out)
        return out.astype(np.float32, copy=False)


_STORED_CHUNK = 1 << 20  # stored values of a CSR matrix read at once by the column reductions


def column_counts(x: sp.csr_matrix, positive: bool = False) -> np.ndarray:
    """Stored values (``positive``: positive ones) per column of a CSR matrix, counted a slice
    of the stored values at a time: ``np.bincount`` of all indices at once, or ``(x > 0)``,
    would hold a copy of the whole matrix's indices."""
    out = np.zeros(x.shape[1], dtype=np.int64)
    for lo in range(0, x.nnz, _STORED_CHUNK):
        idx = x.indices[lo:lo + _STORED_CHUNK]
        if positive:
            idx = idx[x.data[lo:lo + _STORED_CHUNK] > 0]
        out += np.bincount(idx, minlength=x.shape[1])
    return out


def column_means(x: sp.spmatrix | np.ndarray) -> np.ndarray:
    """Per-column mean in float64, without a copy of a canonical CSR matrix."""
    total, _ = _column_sums(x)
    return np.asarray(total, dtype=np.float64).ravel() / max(x.shape[0], 1)


def _column_sums(x: sp.spmatrix | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column sum and sum of squares, in float64. A CSR matrix is read in slices of its
    stored values (duplicates add up as in the matrix they are): no copy of the whole
    matrix, which ``x.mean(axis=0)`` and ``x.multiply(x)`` would each make."""
    if sp.isspmatrix_csr(x) and x.has_canonical_format:
        total = np.zeros(x.shape[1])
        total_sq = np.zeros(x.shape[1])
        for lo in range(0, x.nnz, _STORED_CHUNK):
            idx = x.indices[lo:lo + _STORED_CHUNK]
            val = x.data[lo:lo + _STORED_CHUNK].astype(np.float64)
            total += np.bincount(idx, weights=val, minlength=x.shape[1])
            total_sq += np.bincount(idx, weights=val * val, minlength=x.shape[1])
        return total, total_sq
    if sp.issparse(x):  # a canonical copy: the squares must be of the summed values
        x = sp.csr_matrix(x, copy=True)
        x.sum_duplicates()
        return _column_sums(x)
    x = np.asarray(x, dtype=np.float64)
    return x.sum(axis=0), (x * x).sum(axis=0)


def scale(
    x: sp.spmatrix | np.ndarray, groups: np.ndarray | None = None, max_value: float = 10.0
) -> np.ndarray:
    """Standardise each feature within each group and clip at ``max_value``; returns dense float32.

    Parameters
    ----------
    x
        Cells × features (normalised) matrix.
    groups
        Optional per-cell group (batch) labels: each group is scaled on its own statistics.
    max_value
        Clipping bound (10, as Seurat's ``ScaleData`` and the MinNet paper).

    Returns
    -------
    numpy.ndarray
        Dense float32 cells × features matrix.
    """
    x = sp.csr_matrix(x, dtype=np.float32)
    st = Standardizer.fit(x, groups, max_value)
    return st.transform_rows(x, np.arange(x.shape[0]))
