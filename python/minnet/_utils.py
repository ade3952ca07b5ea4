"""Small helpers shared across modules: the logger, the input error and matrix access.

Input checks live in :mod:`minnet.validation`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator
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


@contextlib.contextmanager
def once_per_message() -> Iterator[None]:
    """Let each of minnet's log messages (by its format string) through once: for work done
    block by block, whose checks would otherwise repeat for every block."""
    seen: set[str] = set()

    def first_time(record: logging.LogRecord) -> bool:
        new = str(record.msg) not in seen
        seen.add(str(record.msg))
        return new

    logger.addFilter(first_time)
    try:
        yield
    finally:
        logger.removeFilter(first_time)


def stack_rows(blocks: Iterable[sp.csr_matrix], n_cols: int) -> sp.csr_matrix:
    """Float32 CSR blocks of rows stacked into one matrix, holding the blocks and the result
    together only block by block (``scipy.sparse.vstack`` holds both whole: twice the size)."""
    kept = [sp.csr_matrix(b, dtype=np.float32) for b in blocks]
    nnz = sum(b.nnz for b in kept)
    n_rows = sum(b.shape[0] for b in kept)
    index = np.int32 if max(nnz, n_cols) < np.iinfo(np.int32).max else np.int64
    data, indices = np.empty(nnz, np.float32), np.empty(nnz, index)
    indptr = np.zeros(n_rows + 1, index)
    kept.reverse()
    row = pos = 0
    while kept:  # copy a block, then let it go
        b = kept.pop()
        b.sort_indices()
        data[pos:pos + b.nnz], indices[pos:pos + b.nnz] = b.data, b.indices
        indptr[row + 1:row + 1 + b.shape[0]] = b.indptr[1:] + pos
        row, pos = row + b.shape[0], pos + b.nnz
        del b
    return sp.csr_matrix((data, indices, indptr), shape=(n_rows, n_cols))


def rows_in_memory(adata: AnnData, rows: np.ndarray | slice | None) -> AnnData:
    """``adata`` (``rows=None``) or some of its cells, read into memory when it is backed."""
    if not adata.isbacked:
        return adata if rows is None else adata[rows]
    if not adata.is_view:
        return (adata if rows is None else adata[rows]).to_memory()
    # anndata cannot index a view of a backed object again: read the rows from the file
    import anndata as ad

    whole = ad.read_h5ad(adata.filename, backed="r")
    try:
        at = whole.obs_names.get_indexer(adata.obs_names)
        at = at if rows is None else at[rows]
        order = np.argsort(at, kind="stable")  # a backed file is read in increasing rows
        part = whole[at[order]].to_memory()
    finally:
        whole.file.close()
    part = part[np.argsort(order)]
    return part if part.n_vars == adata.n_vars else part[:, adata.var_names]


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
