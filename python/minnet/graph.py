"""The RNA KNN graph whose shortest paths set the contrastive margins."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from ._utils import MinNetInputError, logger
from .neighbors import knn_connectivities
from .pp._corrected_pca import corrected_pcs
from .validation import BATCH_CORRECTIONS, BatchCorrection, check_choice

# Up to this many cells the graph's PCs come from scanpy on a dense copy (clipping scaled
# values at ±10, as the benchmarks were measured); above, from sparse products
# (minnet.pp._corrected_pca: the same ComBat and scaling, unclipped), so memory stays
# proportional to the counts: a dense copy of 2,000 genes is 8 GB per million cells.
DENSE_MAX_CELLS = 50_000


def build_rna_graph(
    lognorm: sp.csr_matrix,
    batches: np.ndarray | None = None,
    n_neighbors: int = 15,
    n_pcs: int = 50,
    batch_correction: BatchCorrection = "combat",
    seed: int = 0,
) -> sp.csr_matrix:
    """KNN graph of batch-corrected RNA with edge lengths ``1.01 − connectivity``.

    Parameters
    ----------
    lognorm
        Log-normalised RNA (cells × selected genes).
    batches
        Per-cell batch labels; with more than one batch the data are batch-corrected first.
    n_neighbors
        Neighbours per cell, itself included (UMAP connectivities as ``scanpy.pp.neighbors``).
    n_pcs
        Principal components the neighbours are found in.
    batch_correction
        ``"combat"`` (``scanpy.pp.combat`` on the log-normalised genes), ``"harmony"``
        (``harmonypy`` on the PCs, when installed) or ``"none"``.
    seed
        Random seed for PCA and the neighbour search.

    Returns
    -------
    Symmetric sparse matrix of edge lengths (explicit entries are edges; lengths in (0.01, 1.01]).
    """
    check_choice(batch_correction, "batch_correction", BATCH_CORRECTIONS)
    n = lognorm.shape[0]
    if n < 3:
        raise MinNetInputError(f"at least 3 cells are needed to build a KNN graph, got {n}.")
    batch = pd.Categorical(np.asarray(batches).astype(str)) if batches is not None else None
    multi = batch is not None and len(batch.categories) > 1
    if multi and batch_correction == "combat":
        _check_combat_batches(pd.Series(batch))
    n_comps = int(max(2, min(n_pcs, n - 1, lognorm.shape[1] - 1)))
    combat = multi and batch_correction == "combat"
    if n > DENSE_MAX_CELLS:  # the same correction and PCA from sparse products (memory)
        codes = batch.codes if multi else np.zeros(n, dtype=np.int64)
        rep = corrected_pcs(lognorm, codes, n_comps, combat, seed)
    else:
        rep = _dense_pcs(lognorm, batch if multi else None, n_comps, combat, seed)
    if multi and batch_correction == "harmony":
        rep = _harmony(rep, pd.DataFrame({"batch": batch}), seed)
    k = int(min(n_neighbors, n - 1))
    conn = sp.csr_matrix(knn_connectivities(rep, k, seed), dtype=np.float64)
    conn.eliminate_zeros()
    lengths = conn.copy()
    lengths.data = 1.01 - np.clip(lengths.data, 0.0, 1.0)
    logger.info("RNA graph: %d cells, %d edges (k=%d, %s)", n, lengths.nnz // 2, k,
                batch_correction if multi else "single batch")
    return lengths


def _dense_pcs(lognorm: sp.csr_matrix, batch: pd.Categorical | None, n_comps: int,
               combat: bool, seed: int) -> np.ndarray:
    """scanpy's ComBat → scale (clipped at ±10) → PCA on a dense copy (up to DENSE_MAX_CELLS)."""
    import scanpy as sc

    adata = AnnData(X=lognorm.toarray().astype(np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if combat:
            adata.obs["batch"] = batch
            sc.pp.combat(adata, key="batch")
        sc.pp.scale(adata, max_value=10)
        sc.tl.pca(adata, n_comps=n_comps, random_state=seed, svd_solver="arpack")
    return adata.obsm["X_pca"]


def _check_combat_batches(batch: pd.Series) -> None:
    """Refuse batches of one cell: ComBat divides by their variance and fills the data with NaN."""
    sizes = batch.value_counts()
    single = sizes.index[sizes < 2].tolist()
    if single:
        raise MinNetInputError(
            f"{len(single)} batch(es) hold a single cell (e.g. {single[:5]}); ComBat needs at "
            "least 2 cells per batch (one cell has no variance). Merge them into another batch "
            "or drop those cells, or use batch_correction='none'."
        )


def _harmony(pcs: np.ndarray, obs: pd.DataFrame, seed: int) -> np.ndarray:
    try:
        import harmonypy
    except ImportError as err:  # optional dependency
        raise MinNetInputError(
            "batch_correction='harmony' needs the harmonypy package: pip install harmonypy, "
            "or use batch_correction='combat'."
        ) from err
    ho = harmonypy.run_harmony(pcs, obs, ["batch"], random_state=seed, verbose=False)
    return np.asarray(ho.Z_corr).T
