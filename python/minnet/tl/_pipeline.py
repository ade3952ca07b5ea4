"""``tl.peak_gene_links``: the paper's cis-regulatory pipeline in one call.

(embed with a model →) (transfer labels to the ATAC cells →) smooth (KNN in the co-embedding)
→ mini-bulks of RNA and ATAC cells → peak–gene correlations with background z-scores,
p-values and FDR. The command line (``minnet links``), the demo and the R package
(``LinkMinNetPeaks``) all run this one function.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import pandas as pd
from anndata import AnnData

from .._utils import MinNetInputError, logger
from ._embed import embed
from ._links import METHODS, link_peaks
from ._minibulk import minibulk
from ._smooth import smooth as smooth_counts
from ._transfer import transfer_labels

if TYPE_CHECKING:
    from ..model import MinNetModel

def _missing_column(column: str, adata: AnnData, what: str) -> MinNetInputError:
    """The error for a ``groupby`` column absent from ``what.obs``."""
    return MinNetInputError(
        f"groupby column {column!r} is not in {what}.obs; available: "
        f"{list(adata.obs.columns)[:20]}."
    )


def _group_columns(
    rna: AnnData, atac: AnnData, groupby: str | Sequence[str] | None, transfer: bool
) -> tuple[str | tuple[str, str] | None, bool]:
    """The ``minibulk`` grouping, and whether ATAC labels must be transferred first.

    One column present in both objects is used as it is. When ``atac`` lacks it, the ATAC
    cells are grouped by the transferred labels ``{groupby}_pred``, which are made first
    (second value ``True``) if ``atac`` has none and ``transfer`` is on. A pair is
    ``(rna_column, atac_column)``, both required.
    """
    if groupby is None:
        return None, False
    if isinstance(groupby, tuple | list):
        if len(groupby) != 2:
            raise MinNetInputError(
                f"groupby as a tuple must be (rna_column, atac_column), got {groupby!r}."
            )
        for column, adata, what in ((groupby[0], rna, "rna"), (groupby[1], atac, "atac")):
            if column not in adata.obs.columns:
                raise _missing_column(column, adata, what)
        return (groupby[0], groupby[1]), False
    if groupby not in rna.obs.columns:
        raise _missing_column(groupby, rna, "rna")
    if groupby in atac.obs.columns:
        return groupby, False
    pred = f"{groupby}_pred"
    if pred in atac.obs.columns:
        logger.info("peak_gene_links: grouping ATAC cells by transferred labels %r", pred)
        return (groupby, pred), False
    if not transfer:
        raise MinNetInputError(
            f"atac.obs has neither {groupby!r} nor {pred!r}; transfer the labels first with "
            f"minnet.tl.transfer_labels(rna, atac, {groupby!r}), pass transfer=True, or pass "
            "groupby=None."
        )
    return (groupby, pred), True


def _embedded(
    model: MinNetModel,
    rna: AnnData,
    atac: AnnData,
    use_rep: str,
    layer: str | None,
    atac_layer: str | None,
    annotation: pd.DataFrame | str | os.PathLike,
) -> tuple[AnnData, AnnData]:
    """Copies of ``rna`` and ``atac`` with the model's co-embedding in ``obsm[use_rep]``.

    ``annotation`` lets a model trained on gene activity embed ATAC peaks.
    """
    logger.info("peak_gene_links: embedding %d RNA and %d ATAC cells", rna.n_obs, atac.n_obs)
    rna = embed(model, rna, "rna", key_added=use_rep, layer=layer)
    atac = embed(model, atac, "atac", key_added=use_rep, layer=atac_layer, annotation=annotation)
    return rna, atac


def peak_gene_links(
    rna: AnnData,
    atac: AnnData,
    annotation: pd.DataFrame | str | os.PathLike,
    use_rep: str = "X_minnet",
    groupby: str | tuple[str, str] | None = "cell_type",
    n_bulks: int | Literal["auto"] = "auto",
    smooth: bool = True,
    n_neighbors: int = 5,
    percentile: float = 95,
    distance: int = 150_000,
    method: Literal["empirical_bayes", "spearman", "pearson", "robust", "within"] = (
        "empirical_bayes"
    ),
    n_background: int = 200,
    layer: str | None = None,
    atac_layer: str | None = None,
    seed: int = 0,
    progress: bool = True,
    *,
    genes: Sequence[str] | str | None = None,
    model: MinNetModel | None = None,
    transfer: bool = True,
    distance_prior: bool = True,
) -> pd.DataFrame:
    """Peak–gene links from unpaired RNA and ATAC cells embedded in one co-embedding.

    Steps: embed both objects with ``model`` (if given); transfer the RNA labels to the ATAC
    cells when they lack ``groupby`` (:func:`minnet.tl.transfer_labels`); smooth the counts
    over KNN neighbours (:func:`minnet.tl.smooth`); make mini-bulks of RNA and ATAC cells
    close in the co-embedding within each group (:func:`minnet.tl.minibulk`); correlate genes
    with the peaks near their TSS across mini-bulks against a matched background
    (:func:`minnet.tl.link_peaks`).

    Parameters
    ----------
    rna, atac
        Cells with raw counts (``.X`` or ``layer`` / ``atac_layer``; ATAC as peaks named
        ``chr-start-end``) and ``obsm[use_rep]`` (unless ``model`` is given). Not modified.
    annotation
        Gene TSS table (``gene_name, chrom, tss, strand``) or its path.
    use_rep
        ``obsm`` key of the co-embedding (written on copies when ``model`` is given).
    groupby
        Mini-bulks stay inside one group. One column: ``rna.obs[groupby]`` and
        ``atac.obs[groupby]``, or, when ``atac`` lacks it, the transferred labels
        ``atac.obs[f"{groupby}_pred"]`` (made first if absent and ``transfer``). A pair
        ``(rna_column, atac_column)`` names the column of each object. ``None``: no grouping.
    n_bulks
        Mini-bulks requested, or ``"auto"``: one per 10 cells of the smaller modality, at
        most 100 (:func:`minnet.tl._minibulk.minibulk`).
    smooth
        Smooth counts over KNN neighbours first (:func:`minnet.tl.smooth`), as in the paper.
    n_neighbors, percentile
        Smoothing settings.
    distance, method, n_background
        Link settings (:func:`minnet.tl.link_peaks`): ``method="empirical_bayes"`` (the
        default) scores every pair by its posterior probability of a link given its robust
        z-score and its distance to the TSS, with Bayesian FDR q-values; ``"spearman"`` is
        the paper's statistic; ``"robust"`` tests positive links against a median / MAD
        background; ``"within"`` correlates genes and peaks within the ``groupby`` groups
        of the mini-bulks.
    layer, atac_layer
        Layers with the raw counts of ``rna`` and ``atac`` (``None``: ``.X``).
    seed
        Seed of the mini-bulk clustering and the background sampling.
    progress
        Show progress bars.
    genes
        Only link these genes (default: every gene of ``rna`` in the annotation). Smoothing,
        mini-bulks and the background are the same as without it, but the q-values are
        adjusted over the returned pairs only.
    model
        A trained RNA + ATAC :class:`minnet.MinNetModel`: embed both objects with it first
        (``annotation`` lets a gene-activity model embed the peaks).
    transfer
        Transfer missing ATAC labels (see ``groupby``) instead of raising an error.
    distance_prior
        ``method="empirical_bayes"``: let the share of links depend on the distance to the
        TSS (default); ``False`` when the annotation's TSSs are placeholders.

    Returns
    -------
    DataFrame with ``gene, peak, distance, score, zscore, pvalue, qvalue, correlation``
    (Signac ``LinkPeaks`` columns plus ``qvalue`` and ``correlation``; see
    :func:`minnet.tl.link_peaks`); ``df.attrs["minnet_link_peaks"]`` records the link settings and
    ``n_bulks``, the number of mini-bulks made.

    Raises
    ------
    MinNetInputError
        If a ``groupby`` column is missing (see ``groupby`` and ``transfer``), ``method`` is
        unknown, or a step rejects its input.
    """
    if str(method).lower() not in METHODS:  # fail before the slow steps
        raise MinNetInputError(f"method must be one of {METHODS}, got {method!r}.")
    groups, needs_transfer = _group_columns(rna, atac, groupby, transfer)
    if model is not None:
        rna, atac = _embedded(model, rna, atac, use_rep, layer, atac_layer, annotation)
    if needs_transfer:
        logger.info("peak_gene_links: transferring %r labels to the ATAC cells", groupby)
        atac = transfer_labels(rna, atac, groupby, use_rep=use_rep)
    if smooth:
        rna = smooth_counts(rna, use_rep, n_neighbors=n_neighbors, percentile=percentile,
                            layer=layer)
        atac = smooth_counts(atac, use_rep, n_neighbors=n_neighbors, percentile=percentile,
                             layer=atac_layer)
        layer = atac_layer = "minnet_smoothed"
    rna_bulk, atac_bulk = minibulk(rna, atac, use_rep, n_bulks=n_bulks, groupby=groups,
                                   layer=layer, atac_layer=atac_layer, seed=seed)
    logger.info("peak_gene_links: %d mini-bulks", rna_bulk.n_obs)
    return link_peaks(rna_bulk, atac_bulk, annotation, distance=distance, method=method,
                      genes=genes, n_background=n_background, seed=seed, progress=progress,
                      distance_prior=distance_prior)
