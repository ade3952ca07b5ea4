"""Small helpers shared across modules: the logger, the input error and matrix access.

Input checks live in :mod:`minnet.validation`.
"""

from __future__ import annotations

import logging
import os
from typing import Literal

import numpy as np
import scipy.sparse as sp
from anndata import AnnData

logger = logging.getLogger("minnet")


class MinNetInputError(ValueError):
    """Raised when user input cannot be used; the message names the problem and the fix."""


def read_h5ad(path: str | os.PathLike, backed: Literal["r"] | None = None) -> AnnData:
    """An h5ad file as AnnData (``backed="r"``: on disk), or an error that says what is wrong."""
    import anndata as ad

    if not os.path.isfile(path):
        raise MinNetInputError(f"input file {str(path)!r} does not exist.")
    try:
        return ad.read_h5ad(path, backed=backed)
    except (OSError, KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
        raise MinNetInputError(
            f"input file {str(path)!r} is an HDF5 file but not an h5ad file anndata can read "
            f"({type(err).__name__}: {err}). Pass an AnnData file written by adata.write_h5ad()."
        ) from None


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


def to_csr_float32(x: object) -> sp.csr_matrix:
    """Convert any matrix-like (dense, sparse, backed) to a new float32 CSR matrix."""
    x = in_memory(x)
    if sp.issparse(x):
        return sp.csr_matrix(x, dtype=np.float32, copy=True)
    return sp.csr_matrix(np.asarray(x, dtype=np.float32))


def get_rep(adata: AnnData, use_rep: str, what: str) -> np.ndarray:
    """Validated float64 ``adata.obsm[use_rep]`` (2-D, finite), with errors that name the fix."""
    from .validation import check_is_anndata  # here: validation imports this module

    check_is_anndata(adata, what)
    if use_rep not in adata.obsm:
        raise MinNetInputError(
            f"{what}.obsm has no {use_rep!r} (available: {list(adata.obsm)}); compute the "
            "co-embedding first with minnet.tl.embed(model, adata, modality), or pass the right "
            "use_rep."
        )
    x = in_memory(adata.obsm[use_rep])
    x = x.toarray() if sp.issparse(x) else np.asarray(x)
    if x.ndim != 2:
        raise MinNetInputError(
            f"{what}.obsm[{use_rep!r}] must be a 2-D (cells x dimensions) array, got shape "
            f"{x.shape}."
        )
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise MinNetInputError(f"{what}.obsm[{use_rep!r}] must hold numbers, got dtype {x.dtype}.")
    x = x.astype(np.float64, copy=False)
    bad = ~np.isfinite(x)
    if bad.any():
        n_cells = int(bad.any(axis=1).sum())
        raise MinNetInputError(
            f"{what}.obsm[{use_rep!r}] contains NaN or infinite values in {n_cells} cell(s); "
            "remove those cells or re-embed them with minnet.tl.embed()."
        )
    return x


# Checks that moved to minnet.validation, still importable from here for existing callers. Lazy,
# because minnet.validation imports this module (MinNetInputError).
