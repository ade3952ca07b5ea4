"""Gene activity scores from ATAC peak counts: Signac's ``GeneActivity`` window sum, optionally
with distance-weighted flanking peaks (ArchR's gene-score idea)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from minnet._utils import MinNetInputError, get_matrix, in_memory, logger
from minnet.genomics import (
    _naming_hint,
    check_bp,
    gene_windows,
    overlap_windows,
    parse_peak_names,
    read_annotation,
    window_gaps,
)
from minnet.pp._normalize import PEAK_TOTALS
from minnet.pp._scale import column_counts
from minnet.validation import check_counts, check_int, check_is_anndata, check_number

__all__ = ["gene_activity"]

# the settings a model stores for turning query peaks into gene activity
SETTINGS = ("upstream", "gene_body", "distance", "decay")


def gene_activity(
    atac: AnnData,
    annotation: pd.DataFrame | str | os.PathLike,
    upstream: int = 2000,
    gene_body: bool = True,
    layer: str | None = None,
    genes: Sequence[str] | None = None,
    min_cells: int = 1,
    distance: int = 0,
    decay: float = 5000,
) -> AnnData:
    """Summarise ATAC peak counts into a cells x genes activity matrix.

    For each gene the counts of all peaks overlapping its window are summed, like Signac's
    ``GeneActivity`` (``distance=0``). With ``distance > 0``, peaks up to ``distance`` bp from
    the window are added too, each weighted by ``exp(-gap / decay)`` (``gap``: bp between the
    peak and the window), so distal regulatory peaks count for less the farther they lie, as in
    ArchR's gene scores; this also gives activity to genes whose promoter has no peak. The
    window is the promoter, ``upstream`` bp upstream of the TSS
    (``[tss - upstream, tss]`` on ``'+'``, ``[tss, tss + upstream]`` on ``'-'``), plus the gene
    body ``[min(tss, end), max(tss, end)]`` when ``gene_body`` is true and the annotation has an
    ``end`` column (promoter only otherwise). Peaks are the closed intervals in their names
    (``chr1-100-200`` covers 100..200, 1-based) and overlap is inclusive: a peak touching the
    window edge counts. Each peak counts at most once per gene.

    Parameters
    ----------
    atac
        Cells x peaks AnnData with raw counts and peak names like ``chr1-100-200`` as
        ``var_names``. Dense or sparse, any numeric dtype, views and backed objects are
        accepted. Never modified.
    annotation
        Gene annotation DataFrame or TSV/CSV path, see :func:`minnet.genomics.read_annotation`
        (columns ``gene_name``, ``chrom``, ``tss``, ``strand``, optional ``end``). Chromosome
        names are reconciled with the peaks (``'chr1'`` vs ``'1'``, ``'chrM'`` vs ``'MT'``).
    upstream
        Promoter length in bp upstream of the TSS.
    gene_body
        Whether to add the gene body (needs an ``end`` column).
    layer
        Layer holding the raw counts; ``None`` uses ``atac.X``.
    genes
        Restrict to these gene names (in this order); names absent from the annotation are
        skipped with a warning.
    min_cells
        Drop genes with a non-zero activity in fewer than this many cells.
    distance
        Also count peaks within this many bp of the window (0: only overlapping peaks).
    decay
        Length scale in bp of the weight ``exp(-gap / decay)`` of a flanking peak.

    Returns
    -------
    anndata.AnnData
        Cells x genes, ``X`` a float32 CSR matrix (weighted sums of counts, so not integers
        when ``distance > 0``), ``obs`` a copy of ``atac.obs`` plus ``minnet_peak_counts``
        (each cell's total over all peaks: MinNet's size factor for gene activity, so that it
        does not depend on which genes were computed), ``var``
        indexed by gene name with columns ``chrom``, ``tss``, ``strand``, ``n_peaks`` (number
        of peaks summed) and ``gene_id`` when annotated. Genes with no overlapping peak or
        detected in fewer than ``min_cells`` cells are dropped.
        ``uns['minnet_gene_activity']`` records the settings (``upstream``, ``gene_body``:
        whether the gene body was actually used, ``distance``, ``decay``); MinNet accepts the
        object as raw gene activity because of it.

    Raises
    ------
    MinNetInputError
        For unparsable peak names, annotation problems, negative/NaN counts, unknown layers,
        or when no gene window overlaps any peak (the message shows the chromosome names seen
        on each side).
    """
    check_is_anndata(atac, "atac")
    upstream = check_bp(upstream, "upstream")
    distance = check_bp(distance, "distance")
    decay = check_number(decay, "decay", 0.0, low_open=True, description="a positive number of bp")
    min_cells = check_int(min_cells, "min_cells", 0, allow_float=True)

    ann = read_annotation(annotation)
    if genes is not None:
        ann = _select_genes(ann, genes)
    peaks = parse_peak_names(atac.var_names)
    use_body = bool(gene_body) and "end" in ann.columns
    if gene_body and not use_body:
        logger.info("gene_activity: annotation has no 'end' column; using promoters only.")
    gene_idx, peak_idx, weight = _peak_gene_weights(peaks, ann, upstream, use_body, distance,
                                                    decay)
    counts = _peak_counts(atac, layer)

    # Only peaks overlapping some gene window and genes with some peak take part.
    used_peaks, peak_col = np.unique(peak_idx, return_inverse=True)
    used_genes, gene_col = np.unique(gene_idx, return_inverse=True)
    activity = _weighted_peak_sums(counts, used_peaks, peak_col, gene_col, weight,
                                   used_genes.size)
    n_peaks = np.bincount(gene_col, minlength=used_genes.size).astype(np.int64)
    n_cells = column_counts(activity)  # cells per gene, without a copy of the indices
    keep = n_cells >= min_cells
    if used_genes.size and not keep.any():
        raise MinNetInputError(
            f"min_cells={min_cells} drops every gene: the most widely detected one is non-zero "
            f"in {int(n_cells.max())} of {atac.n_obs} cells. Lower min_cells."
        )
    if not keep.all():  # a column subset is a copy of the whole matrix: only when needed
        activity = activity[:, np.flatnonzero(keep)].tocsr()
    var = _gene_var(ann, used_genes[keep], n_peaks[keep])

    logger.info(
        "gene_activity: %d of %d genes got activity from %d of %d peaks "
        "(%d genes without overlapping peaks, %d detected in fewer than %d cells dropped).",
        int(keep.sum()),
        len(ann),
        int(used_peaks.size),
        atac.n_vars,
        len(ann) - used_genes.size,
        int((~keep).sum()),
        min_cells,
    )
    obs = atac.obs.copy()
    obs[PEAK_TOTALS] = np.asarray(counts.sum(axis=1), dtype=np.float64).ravel()
    return AnnData(
        X=activity,
        obs=obs,
        var=var,
        uns={"minnet_gene_activity": {"upstream": upstream, "gene_body": use_body,
                                      "distance": distance, "decay": decay}},
    )


def _select_genes(ann: pd.DataFrame, genes: Sequence[str] | str) -> pd.DataFrame:
    """Annotation rows of the requested genes, in their order; absent names are logged."""
    if isinstance(genes, str):
        genes = [genes]
    wanted = pd.Index(pd.unique(pd.Series(list(genes), dtype=object).astype(str)))
    if len(wanted) == 0:
        raise MinNetInputError("genes= is empty; pass gene names, or genes=None for all genes.")
    pos = pd.Index(ann["gene_name"]).get_indexer(wanted)
    n_missing = int((pos < 0).sum())
    if n_missing == len(wanted):
        raise MinNetInputError(
            f"none of the {len(wanted)} requested genes (e.g. {wanted[:5].tolist()}) are in "
            "the annotation; check gene naming (symbols vs Ensembl IDs)."
        )
    if n_missing:
        logger.warning(
            "gene_activity: %d of %d requested genes are not in the annotation, e.g. %s; "
            "skipping them.",
            n_missing,
            len(wanted),
            wanted[pos < 0][:5].tolist(),
        )
    return ann.iloc[pos[pos >= 0]].reset_index(drop=True)


def _peak_gene_weights(
    peaks: pd.DataFrame,
    ann: pd.DataFrame,
    upstream: int,
    use_body: bool,
    distance: int,
    decay: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(gene, peak, weight) of every peak within ``distance`` of a gene window.

    The weight is ``exp(-gap / decay)``: 1 for peaks overlapping the window. Raises, showing
    both chromosome namings, when no window reaches any peak.
    """
    windows = gene_windows(ann, upstream=upstream, gene_body=use_body)
    widened = windows.assign(start=np.maximum(windows["start"] - distance, 0),
                             end=windows["end"] + distance)
    gene_idx, peak_idx = overlap_windows(peaks, widened)
    weight = np.exp(-window_gaps(peaks, windows, gene_idx, peak_idx) / decay)
    if gene_idx.size == 0:
        raise MinNetInputError(
            f"no gene window (promoter of {upstream} bp"
            + (" + gene body" if use_body else "")
            + (f" ± {distance} bp" if distance else "")
            + ") overlaps any peak. "
            + _naming_hint(peaks["chrom"], ann["chrom"])
        )
    return gene_idx, peak_idx, weight


def _peak_counts(atac: AnnData, layer: str | None) -> np.ndarray | sp.spmatrix:
    """The cells x peaks raw counts in memory (CSR/CSC or ndarray, not copied when possible),
    checked to be a finite, non-negative matrix of ``atac``'s shape."""
    what = "atac.X" if layer is None else f"atac.layers[{layer!r}]"
    x = in_memory(get_matrix(atac, layer))
    if sp.issparse(x):
        if x.format not in ("csr", "csc"):
            x = sp.csr_matrix(x)
    else:
        x = np.asarray(x)
        if x.ndim != 2:
            raise MinNetInputError(f"{what} must be a 2-D matrix, got shape {x.shape}.")
    check_counts(
        x, what, expected="raw peak counts", fix="pass the raw counts (e.g. layer='counts')",
        finite_fix="gene activity needs raw, finite peak counts (pass a counts layer via layer=)",
    )
    if x.shape != (atac.n_obs, atac.n_vars):
        raise MinNetInputError(
            f"{what} has shape {x.shape}, expected {(atac.n_obs, atac.n_vars)}."
        )
    return x


def _weighted_peak_sums(
    counts: np.ndarray | sp.spmatrix,
    used_peaks: np.ndarray,
    peak_col: np.ndarray,
    gene_col: np.ndarray,
    weight: np.ndarray,
    n_genes: int,
) -> sp.csr_matrix:
    """Cells x genes float32 CSR: each gene's weighted sum of its peaks' counts."""
    # float32 CSR counts are multiplied as they are (never written to), with empty link rows
    # for unused peaks: the same sums as on their column subset, without a copy of the matrix;
    # other counts are subset (a new matrix, so atac is untouched) and made float32 CSR
    direct = sp.isspmatrix_csr(counts) and counts.dtype == np.float32
    link = sp.csr_matrix(
        (weight.astype(np.float32), (used_peaks[peak_col] if direct else peak_col, gene_col)),
        shape=(counts.shape[1] if direct else used_peaks.size, n_genes),
    )
    sub = counts if direct else sp.csr_matrix(counts[:, used_peaks], dtype=np.float32)
    activity = sp.csr_matrix(sub @ link, dtype=np.float32)
    activity.eliminate_zeros()
    activity.sort_indices()
    return activity


def _gene_var(ann: pd.DataFrame, kept: np.ndarray, n_peaks: np.ndarray) -> pd.DataFrame:
    """``var`` of the kept genes: annotation columns plus the number of peaks summed."""
    var_cols = [c for c in ("gene_id", "chrom", "tss", "strand") if c in ann.columns]
    var = ann.iloc[kept][var_cols].copy()
    var["n_peaks"] = n_peaks
    var.index = pd.Index(ann["gene_name"].to_numpy(dtype=object)[kept], name=None)
    return var
