"""Turn a user's AnnData into the model-ready matrix of one modality (shared by train and embed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from ._utils import MinNetInputError, logger
from .pp._features import check_unique_names
from .pp._normalize import normalized_matrix


def check_anndata(adata, what: str) -> AnnData:
    """Raise a clear error unless ``adata`` is a non-empty AnnData with unique cell names."""
    if not isinstance(adata, AnnData):
        raise MinNetInputError(
            f"{what} must be an AnnData object, got {type(adata).__name__}. From Seurat, use the "
            "R package's functions; from files, anndata.read_h5ad()."
        )
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise MinNetInputError(f"{what} is empty ({adata.n_obs} cells × {adata.n_vars} features).")
    check_unique_names(adata.obs_names, what, kind="cell")
    check_unique_names(adata.var_names, what, kind="feature")
    return adata


def looks_like_peaks(var_names) -> bool:
    """True when the feature names parse as genomic regions (``chr1-100-200`` and friends)."""
    from .genomics import parse_peak_names

    sample = list(pd.Index(var_names)[:200])
    try:
        parse_peak_names(sample)
    except (MinNetInputError, ValueError):
        return False
    return True


def modality_matrix(
    adata: AnnData,
    modality: str,
    layer: str | None,
    normalized: bool,
    annotation: pd.DataFrame | None,
    gene_activity_params: dict | None,
    what: str,
) -> tuple[sp.csr_matrix, pd.Index]:
    """Normalised matrix and feature names of one modality.

    ATAC given as peaks is first turned into gene activity with ``annotation``.
    """
    if modality == "atac" and looks_like_peaks(adata.var_names):
        if normalized:
            raise MinNetInputError(
                f"{what} holds ATAC peaks, which must be raw counts to compute gene activity; "
                "pass the counts (normalized=False) or a gene-activity object."
            )
        if annotation is None:
            raise MinNetInputError(
                f"{what} holds ATAC peaks ({adata.var_names[0]}, ...) but no gene annotation is "
                "available to compute gene activity. Pass annotation= (gene_name, chrom, tss, "
                "strand), or compute it first with minnet.pp.gene_activity()."
            )
        from .pp._gene_activity import gene_activity

        params = gene_activity_params or {}
        act = gene_activity(adata, annotation, layer=layer, **params)
        logger.info("%s: gene activity of %d genes from %d peaks", what, act.n_vars, adata.n_vars)
        # normalised like any gene activity from pp.gene_activity (peak-count size factors)
        return normalized_matrix(act, "atac", what=what), act.var_names
    x = normalized_matrix(adata, modality, layer=layer, normalized=normalized, what=what)
    return x, adata.var_names


def obs_column(adata: AnnData, key: str, what: str, role: str) -> np.ndarray:
    """A per-cell column of ``adata.obs`` as strings; error if absent or with missing values."""
    if key not in adata.obs.columns:
        cols = list(adata.obs.columns)[:20]
        raise MinNetInputError(
            f"{role} column {key!r} is not in {what}.obs; available columns: {cols}."
        )
    col = adata.obs[key]
    missing = col.isna().to_numpy()
    if missing.any():
        raise MinNetInputError(
            f"{what}.obs[{key!r}] has {int(missing.sum())} missing values; fill or drop those "
            "cells first."
        )
    return col.astype(str).to_numpy()
