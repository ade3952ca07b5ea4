"""Small helpers shared across modules: matrix access and input checks."""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
from anndata import AnnData

logger = logging.getLogger("minnet")


class MinNetInputError(ValueError):
    """Raised when user input cannot be used; the message names the problem and the fix."""


def get_matrix(adata: AnnData, layer: str | None = None) -> np.ndarray | sp.spmatrix:
    """Return ``adata.X`` or ``adata.layers[layer]`` without copying.

    Raises
    ------
    MinNetInputError
        If ``layer`` is not a layer of ``adata``.
    """
    if layer is None:
        return in_memory(adata.X)
    if layer not in adata.layers:
        raise MinNetInputError(
            f"layer {layer!r} not found in AnnData; available layers: {list(adata.layers)}. "
            "Pass layer=None to use .X."
        )
    return in_memory(adata.layers[layer])


def in_memory(x: object) -> np.ndarray | sp.spmatrix:
    """Materialise backed matrices (HDF5 datasets, backed sparse datasets) in memory.

    In-memory dense and sparse matrices are returned as they are (not copied).
    """
    if sp.issparse(x) or isinstance(x, np.ndarray):
        return x
    if hasattr(x, "to_memory"):  # anndata's backed sparse datasets
        return x.to_memory()
    if hasattr(x, "shape") and hasattr(x, "dtype") and hasattr(x, "__getitem__"):
        return np.asarray(x[()])  # h5py.Dataset and similar
    return np.asarray(x)


def to_csr_float32(x) -> sp.csr_matrix:
    """Convert any matrix-like (dense, sparse, backed) to a new float32 CSR matrix."""
    x = in_memory(x)
    if sp.issparse(x):
        return sp.csr_matrix(x, dtype=np.float32, copy=True)
    return sp.csr_matrix(np.asarray(x, dtype=np.float32))


def check_finite_nonnegative(x, what: str, allow_negative: bool = False) -> None:
    """Raise a clear error if a matrix holds NaN/Inf (or negative values when counts are expected)."""
    data = x.data if sp.issparse(x) else np.asarray(x)
    if data.size == 0:
        return
    if not np.issubdtype(data.dtype, np.number) or np.issubdtype(data.dtype, np.complexfloating):
        raise MinNetInputError(f"{what} must hold real numbers, got dtype {data.dtype}.")
    if not np.all(np.isfinite(data)):
        n_bad = int(np.size(data) - np.isfinite(data).sum())
        raise MinNetInputError(
            f"{what} contains {n_bad} NaN or infinite values; remove or impute them before MinNet."
        )
    if not allow_negative and data.min() < 0:
        raise MinNetInputError(
            f"{what} contains negative values but raw counts were expected; pass raw counts "
            "(or a counts layer via layer=), or set normalized=True for already-normalised data."
        )
