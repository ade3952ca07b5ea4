"""Per-modality normalisation of count matrices (RNA / gene activity: log-normalise; ADT: CLR)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from anndata import AnnData

from .._utils import MinNetInputError, get_matrix, logger, to_csr_float32
from ..validation import (
    Modality,
    check_counts,
    check_finite,
    check_modality,
    check_number,
)

# obs column of pp.gene_activity's result: each cell's total peak counts (its size factor)
PEAK_TOTALS = "minnet_peak_counts"


_SCALE_ROWS = 1 << 12  # rows scaled at once by log_normalize


def log_normalize(
    counts: sp.spmatrix | np.ndarray, target_sum: float = 1e4, totals: np.ndarray | None = None
) -> sp.csr_matrix:
    """Scale every cell to ``target_sum`` total counts and take ``log1p``.

    Parameters
    ----------
    counts
        Cells × features raw counts.
    target_sum
        Total per cell after scaling (10,000 as in Seurat's ``LogNormalize``).
    totals
        Each cell's size factor; ``None``: its total over ``counts``. Gene activity passes the
        cell's total peak counts, so the result does not depend on which genes were computed.

    Returns
    -------
    A new float32 CSR matrix (canonical: sorted indices, no duplicates); cells with no counts
    stay all-zero.
    """
    check_number(target_sum, "target_sum", 0.0, low_open=True)
    return log_normalize_owned(to_csr_float32(counts), target_sum, totals)


def log_normalize_owned(
    x: sp.csr_matrix, target_sum: float = 1e4, totals: np.ndarray | None = None
) -> sp.csr_matrix:
    """:func:`log_normalize` of a float32 CSR matrix the caller owns: ``x`` is overwritten.

    For matrices made on the way (gene activity), so no second copy is held.
    """
    x.sum_duplicates()  # canonical, so each stored value is one cell's one feature
    if totals is None:
        totals = np.asarray(x.sum(axis=1)).ravel()
    else:
        totals = np.asarray(totals, dtype=np.float64).ravel()
        if totals.shape[0] != x.shape[0]:
            raise MinNetInputError(
                f"totals has {totals.shape[0]} values for {x.shape[0]} cells; pass one per cell."
            )
    scale = np.divide(target_sum, totals, out=np.zeros_like(totals), where=totals > 0)
    # rows scaled in place, a block of rows at a time (a product with a diagonal matrix, or
    # one repeat of the scales over all values, would hold another copy)
    scale32, ptr = scale.astype(np.float32), x.indptr
    step = max(1, _SCALE_ROWS)
    for lo in range(0, x.shape[0], step):
        hi = min(lo + step, x.shape[0])
        x.data[ptr[lo]:ptr[hi]] *= np.repeat(scale32[lo:hi], np.diff(ptr[lo:hi + 1]))
    x.eliminate_zeros()  # cells without counts stay empty
    np.log1p(x.data, out=x.data)
    return x


def clr_normalize(counts: sp.spmatrix | np.ndarray) -> sp.csr_matrix:
    """Centred log-ratio per cell, as Seurat's ``NormalizeData(method = "CLR", margin = 2)``.

    ``log1p(x / g)`` with ``g = exp(sum(log1p(x)) / n_features)``; zeros stay zero, so the
    result stays sparse.

    Returns
    -------
    scipy.sparse.csr_matrix
        A new float32 CSR matrix.
    """
    x = to_csr_float32(counts)
    n_features = max(x.shape[1], 1)
    logsum = np.asarray(x.copy().log1p().sum(axis=1)).ravel()
    geo = np.exp(logsum / n_features).astype(np.float32)
    x = sp.csr_matrix(sp.diags(1.0 / geo) @ x)
    np.log1p(x.data, out=x.data)
    return x


def _is_integer_valued(x: np.ndarray | sp.spmatrix) -> bool:
    """Whether the (first million) stored values are whole numbers, as raw counts are."""
    data = x.data if sp.issparse(x) else np.asarray(x)
    if data.size == 0:
        return True
    sample = data.ravel()[: 1_000_000]
    return bool(np.all(np.equal(np.mod(sample, 1), 0)))


# Log-normalised (log1p of 1e4 per cell: at most ~9.2) and CLR values stay far below this;
# whole numbers above it are counts.
COUNTS_MIN_MAX = 20


def _warn_if_counts(x: sp.csr_matrix, src: str) -> None:
    """Warn when data declared normalised look like raw counts (whole numbers, large maximum)."""
    if x.nnz == 0 or not _is_integer_valued(x):
        return
    top = float(x.data.max())
    if top > COUNTS_MIN_MAX:
        logger.warning(
            "%s holds only whole numbers up to %g although normalized=True: it looks like raw "
            "counts, which MinNet would then use without normalisation (lower accuracy). Set "
            "normalized=False to let MinNet normalise them, or pass the normalised values.",
            src, top)


def normalized_matrix(
    adata: AnnData,
    modality: Modality,
    layer: str | None = None,
    normalized: bool = False,
    what: str = "data",
) -> sp.csr_matrix:
    """Return the normalised cells × features matrix MinNet works on, as new float32 CSR.

    Parameters
    ----------
    adata
        Input object (not modified).
    modality
        ``"rna"`` and ``"atac"`` (gene activity) are log-normalised; ``"adt"`` is CLR-normalised.
    layer
        Layer with the raw counts; ``None`` uses ``.X``.
    normalized
        ``True`` when the matrix is already normalised (log-normalised / CLR): it is used as is
        (with a warning when it holds only whole numbers above ``COUNTS_MIN_MAX``: raw counts).
    what
        Name of the object used in error messages.

    Returns
    -------
    scipy.sparse.csr_matrix
        The normalised matrix; ``adata`` is not modified.

    Raises
    ------
    MinNetInputError
        For an unknown modality or layer, an empty matrix, NaN / infinite values, or values
        that are not raw counts (negative or fractional) when ``normalized`` is false.
    """
    mod = check_modality(modality)
    x = get_matrix(adata, layer)
    src = f"{what} ({'.X' if layer is None else f'layers[{layer!r}]'})"
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise MinNetInputError(f"{what} is empty ({x.shape[0]} cells × {x.shape[1]} features).")
    if normalized:
        x = to_csr_float32(x)
        check_finite(x, src, "remove or impute them before MinNet")
        _warn_if_counts(x, src)
        return x
    check_counts(x, src)
    # distance-weighted gene activity (pp.gene_activity with distance > 0) is raw but fractional
    weighted_activity = mod == "atac" and (
        "minnet_gene_activity" in adata.uns or PEAK_TOTALS in adata.obs.columns)
    if not weighted_activity and not _is_integer_valued(x):
        raise MinNetInputError(
            f"{src} holds non-integer values, so it does not look like raw counts. Pass the raw "
            "counts (e.g. layer='counts'), or set normalized=True if it is already "
            "log-normalised (RNA / gene activity) or CLR-normalised (ADT)."
        )
    if mod == "atac" and PEAK_TOTALS in adata.obs.columns:
        # as when MinNet computes gene activity itself: size factors from all peaks
        return log_normalize(x, totals=adata.obs[PEAK_TOTALS].to_numpy())
    return clr_normalize(x) if mod == "adt" else log_normalize(x)
