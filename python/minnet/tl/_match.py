"""``tl.match_cells``: cross-modality nearest-neighbour partners in the co-embedding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from .._utils import MinNetInputError, get_rep, logger
from ..neighbors import knn
from ..validation import check_int, check_same_model


def _check_widths(reps: dict[str, np.ndarray], use_rep: str) -> None:
    widths = {name: x.shape[1] for name, x in reps.items()}
    if len(set(widths.values())) > 1:
        raise MinNetInputError(
            f"obsm[{use_rep!r}] has different widths across objects ({widths}); all objects must "
            "be embedded with the same MinNet model (minnet.tl.embed) to share a co-embedding."
        )


def match_cells(
    rna: AnnData,
    other: AnnData,
    use_rep: str = "X_minnet",
    mutual: bool = False,
    n_neighbors: int = 1,
    check_model: bool = True,
) -> pd.DataFrame:
    """Pair each RNA cell with its nearest cell(s) of the other modality in the co-embedding.

    Distances are Euclidean in ``obsm[use_rep]``, found with :func:`minnet.neighbors.knn`
    (exact up to :data:`minnet.neighbors.EXACT_MAX_CELLS` cells in the searched object,
    seeded approximate search beyond; ``O(cells x n_neighbors)`` memory).

    Parameters
    ----------
    rna
        RNA cells with ``obsm[use_rep]`` (not modified).
    other
        ATAC (or ADT) cells with ``obsm[use_rep]`` of the same width (not modified).
    use_rep
        ``obsm`` key of the co-embedding.
    mutual
        Keep only mutual nearest neighbours: a pair ``(r, o)`` is kept when ``o`` is among the
        ``n_neighbors`` nearest ``other`` cells of ``r`` *and* ``r`` is among the
        ``n_neighbors`` nearest RNA cells of ``o``. With ``n_neighbors=1`` these are the pairs
        of cells that are each other's nearest neighbour, so every cell appears at most once.
    n_neighbors
        Partners reported per RNA cell (capped at the number of ``other`` cells; the same cap
        applies to ``rna`` cells per ``other`` cell in the mutual check).
    check_model
        Refuse objects embedded by different models (their ``uns["minnet"][use_rep]["model"]``
        fingerprints differ); ``False`` only warns.

    Returns
    -------
    pandas.DataFrame
        One row per pair, ordered by RNA cell (as in ``rna``) then by distance, with columns
        ``rna_cell`` (``rna.obs_names``), ``other_cell`` (``other.obs_names``), ``distance``
        (float64, Euclidean) and ``rank`` (1 = nearest ``other`` cell of that RNA cell).
        Equidistant candidates are ranked in an arbitrary but deterministic order.

    Raises
    ------
    MinNetInputError
        If an input is not an AnnData, lacks ``obsm[use_rep]`` (run :func:`minnet.tl.embed`
        first), has no cells, contains NaN/infinite values, the two embeddings differ in width,
        or ``n_neighbors < 1``.

    Examples
    --------
    >>> pairs = minnet.tl.match_cells(rna, atac, mutual=True)  # doctest: +SKIP
    >>> pairs.head()  # doctest: +SKIP
    """
    x_rna = get_rep(rna, use_rep, "rna")
    x_oth = get_rep(other, use_rep, "other")
    check_same_model({"rna": rna, "other": other}, use_rep, check_model)
    _check_widths({"rna": x_rna, "other": x_oth}, use_rep)
    k = check_int(n_neighbors, "n_neighbors", 1)
    for name, x in (("rna", x_rna), ("other", x_oth)):
        if x.shape[0] == 0:
            raise MinNetInputError(f"{name} has no cells; pass an AnnData with at least one cell.")
    for name, a in (("rna", rna), ("other", other)):
        if not a.obs_names.is_unique:
            logger.warning(
                "match_cells: %s.obs_names are not unique, so cell names in the result are "
                "ambiguous; call %s.obs_names_make_unique() first.",
                name,
                name,
            )
    k_fwd = min(k, x_oth.shape[0])
    if k_fwd < k:
        logger.warning(
            "match_cells: n_neighbors=%d exceeds the %d other cells; using %d.", k, k_fwd, k_fwd
        )
    dist, idx = knn(x_oth, k_fwd, query=x_rna)
    n_rna = x_rna.shape[0]
    rows = np.repeat(np.arange(n_rna), k_fwd)
    cols = idx.ravel()
    ranks = np.tile(np.arange(1, k_fwd + 1), n_rna)
    dists = dist.ravel()

    if mutual:
        k_back = min(k, n_rna)
        back = knn(x_rna, k_back, query=x_oth)[1]
        # sparse (other x rna) indicator of backward neighbours; look up each forward pair in it
        bwd = sp.csr_matrix(
            (
                np.ones(back.size, dtype=np.int8),
                (np.repeat(np.arange(x_oth.shape[0]), k_back), back.ravel()),
            ),
            shape=(x_oth.shape[0], n_rna),
        )
        keep = np.asarray(bwd[cols, rows]).ravel() > 0
        rows, cols, ranks, dists = rows[keep], cols[keep], ranks[keep], dists[keep]
        logger.info(
            "match_cells: %d mutual pair(s) out of %d candidate pair(s).", int(keep.sum()), keep.size
        )

    return pd.DataFrame(
        {
            "rna_cell": np.asarray(rna.obs_names, dtype=object)[rows],
            "other_cell": np.asarray(other.obs_names, dtype=object)[cols],
            "distance": dists.astype(np.float64),
            "rank": ranks.astype(np.int64),
        }
    )
