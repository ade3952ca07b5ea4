"""``tl.peak_gene_links``: the paper's cis-regulatory pipeline in one call.

smooth (KNN in the co-embedding) → mini-bulks of RNA and ATAC cells → peak–gene correlations
with background z-scores, p-values and FDR.
"""

from __future__ import annotations

import pandas as pd
from anndata import AnnData

from .._utils import MinNetInputError, logger
from ._links import link_peaks
from ._minibulk import minibulk
from ._smooth import smooth as smooth_counts


def _groupby_pair(rna: AnnData, atac: AnnData, groupby: str | None) -> str | tuple | None:
    """Use ``groupby`` in both objects, or transferred labels (``{groupby}_pred``) for ATAC."""
    if groupby is None:
        return None
    if groupby not in rna.obs.columns:
        raise MinNetInputError(
            f"groupby column {groupby!r} is not in rna.obs; available: {list(rna.obs.columns)[:20]}."
        )
    if groupby in atac.obs.columns:
        return groupby
    pred = f"{groupby}_pred"
    if pred in atac.obs.columns:
        logger.info("peak_gene_links: grouping ATAC cells by transferred labels %r", pred)
        return (groupby, pred)
    raise MinNetInputError(
        f"atac.obs has neither {groupby!r} nor {pred!r}; transfer the labels first with "
        f"minnet.tl.transfer_labels(rna, atac, {groupby!r}), or pass groupby=None."
    )


def peak_gene_links(
    rna: AnnData,
    atac: AnnData,
    annotation: pd.DataFrame | str,
    use_rep: str = "X_minnet",
    groupby: str | None = "cell_type",
    n_bulks: int = 100,
    smooth: bool = True,
    n_neighbors: int = 5,
    percentile: float = 95,
    distance: int = 150_000,
    method: str = "spearman",
    n_background: int = 200,
    layer: str | None = None,
    atac_layer: str | None = None,
    seed: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Peak–gene links from unpaired RNA and ATAC cells embedded in one co-embedding.

    Parameters
    ----------
    rna, atac
        Cells with raw counts (``.X`` or ``layer`` / ``atac_layer``; ATAC as peaks named
        ``chr-start-end``) and ``obsm[use_rep]``. Not modified.
    annotation
        Gene TSS table (``gene_name, chrom, tss, strand``) or its path.
    use_rep
        ``obsm`` key of the co-embedding.
    groupby
        Mini-bulks stay inside one group: ``rna.obs[groupby]`` and ``atac.obs[groupby]`` (or the
        transferred ``atac.obs[f"{groupby}_pred"]``); ``None`` for no grouping.
    n_bulks
        Mini-bulks requested.
    smooth
        Smooth counts over KNN neighbours first (:func:`minnet.tl.smooth`), as in the paper.
    n_neighbors, percentile
        Smoothing settings.
    distance, method, n_background
        Link settings (:func:`minnet.tl.link_peaks`).
    seed
        Seed of the mini-bulk clustering and the background sampling.
    progress
        Show progress bars.

    Returns
    -------
    DataFrame with ``gene, peak, distance, score, zscore, pvalue, qvalue`` (Signac ``LinkPeaks``
    columns plus ``qvalue``).
    """
    groups = _groupby_pair(rna, atac, groupby)
    if smooth:
        rna = smooth_counts(rna, use_rep, n_neighbors, percentile, layer=layer)
        atac = smooth_counts(atac, use_rep, n_neighbors, percentile, layer=atac_layer)
        layer = atac_layer = "minnet_smoothed"
    rna_bulk, atac_bulk = minibulk(rna, atac, use_rep, n_bulks, groups, layer, atac_layer, seed)
    logger.info("peak_gene_links: %d mini-bulks", rna_bulk.n_obs)
    return link_peaks(rna_bulk, atac_bulk, annotation, distance=distance, method=method,
                      n_background=n_background, seed=seed, progress=progress)
