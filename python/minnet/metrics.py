"""Integration metrics for paired and unpaired multi-omics embeddings.

All functions take plain two-dimensional NumPy arrays (cells x dimensions, float32 or
float64) plus label vectors (lists, arrays, :class:`pandas.Series` or
:class:`pandas.Categorical`); none of them modifies its inputs. Memory stays bounded for
large numbers of cells: no function allocates an ``n x n`` matrix.

Metrics
-------
:func:`foscttm`
    Fraction Of Samples Closer Than the True Match for paired embeddings (lower is better).
:func:`silhouette_celltype`
    Cell-type average silhouette width rescaled to ``[0, 1]`` (higher is better).
:func:`silhouette_mixing`
    "1 - ASW" of modality / batch labels, scib's batch-ASW style (higher is better mixed).
:func:`ari_over_resolutions`
    Adjusted Rand index of Leiden clusterings against labels over several resolutions.
:func:`label_transfer_accuracy`
    Accuracy, macro recall and per-class recall of transferred labels.
:func:`evaluate_pair`
    The headline scores of a held-out paired set embedded as two unpaired objects.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from minnet._utils import MinNetInputError
from minnet.validation import check_int

logger = logging.getLogger("minnet")

__all__ = [
    "foscttm",
    "foscttm_per_cell",
    "silhouette_celltype",
    "silhouette_mixing",
    "ari_over_resolutions",
    "label_transfer_accuracy",
    "evaluate_pair",
]

# Relative tolerance (w.r.t. the squared norms involved) below which two squared distances
# computed via ``|x|^2 + |y|^2 - 2 x.y`` are considered tied rather than "strictly closer".
_TIE_RTOL = 1e-12


# --------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------
def _check_embedding(x, name: str, min_cells: int = 2) -> np.ndarray:
    """Return ``x`` as a finite, 2-d, floating-point array (no copy when already one)."""
    if sp.issparse(x):
        raise MinNetInputError(
            f"{name} is a sparse matrix; metrics expect a dense embedding. "
            f"Pass {name}.toarray() (or the dense embedding from adata.obsm)."
        )
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise MinNetInputError(
            f"{name} must be a 2-d array (cells x dimensions), got shape {arr.shape}; "
            "reshape it, e.g. x.reshape(-1, 1) for a single dimension."
        )
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise MinNetInputError(
            f"{name} must hold numbers (float32/float64), got dtype {arr.dtype}; "
            "convert it with np.asarray(x, dtype=float)."
        )
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if arr.shape[0] < min_cells:
        raise MinNetInputError(
            f"{name} has {arr.shape[0]} cells but at least {min_cells} are needed for this metric."
        )
    if arr.shape[1] < 1:
        raise MinNetInputError(f"{name} has no dimensions (shape {arr.shape}).")
    if not np.all(np.isfinite(arr)):
        n_bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise MinNetInputError(
            f"{name} contains {n_bad} NaN or infinite values; remove those cells or fix the "
            "embedding before computing metrics."
        )
    return arr


def _as_label_array(labels, n: int | None, name: str, allow_missing: bool = False) -> np.ndarray:
    """Return ``labels`` as a 1-d object array, ignoring any pandas index."""
    if labels is None:
        raise MinNetInputError(f"{name} is None; pass one label per cell.")
    if isinstance(labels, pd.Series | pd.Index | pd.Categorical):
        arr = np.asarray(labels.to_numpy() if hasattr(labels, "to_numpy") else labels)
    else:
        arr = np.asarray(labels)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise MinNetInputError(
            f"{name} must be one-dimensional (one label per cell), got shape {arr.shape}."
        )
    if n is not None and arr.shape[0] != n:
        raise MinNetInputError(
            f"{name} has {arr.shape[0]} entries but the embedding has {n} cells; "
            "pass exactly one label per row of the embedding, in the same order."
        )
    arr = arr.astype(object)
    if not allow_missing:
        missing = pd.isna(arr)
        if missing.any():
            raise MinNetInputError(
                f"{name} contains {int(missing.sum())} missing values (NaN/None); drop the "
                "unlabelled cells (and their embedding rows) before computing this metric."
            )
    return arr


def _encode(labels: np.ndarray) -> np.ndarray:
    """Integer codes for a label array (no missing values)."""
    codes, _ = pd.factorize(labels, sort=False)
    return codes.astype(np.intp)


def _subsample_indices(n: int, sample_size: int | None, seed: int) -> np.ndarray | None:
    """Sorted random subset of ``range(n)`` of size ``sample_size`` or ``None`` if not needed."""
    if sample_size is None or n <= sample_size:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=sample_size, replace=False))


def _check_sample_size(sample_size: int | None) -> None:
    if sample_size is not None and (int(sample_size) != sample_size or sample_size < 2):
        raise MinNetInputError(
            f"sample_size must be an integer >= 2 or None (no subsampling), got {sample_size!r}."
        )


# --------------------------------------------------------------------------------------
# FOSCTTM
# --------------------------------------------------------------------------------------
def foscttm_per_cell(
    x: np.ndarray, y: np.ndarray, chunk_size: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell FOSCTTM in both directions for paired embeddings.

    Row ``i`` of ``x`` and row ``i`` of ``y`` must be the same cell measured in two
    modalities. With Euclidean distances ``d``,

    * ``fx[i]`` is the fraction of cells ``j != i`` with ``d(x_i, y_j) < d(x_i, y_i)``;
    * ``fy[i]`` is the fraction of cells ``j != i`` with ``d(y_i, x_j) < d(y_i, x_i)``.

    Only strictly closer samples count (ties with the true match do not).

    The distance matrix is never materialised: ``x`` is processed in blocks of
    ``chunk_size`` rows, so peak extra memory is ``O(chunk_size * n)``.

    Parameters
    ----------
    x, y
        Paired embeddings of shape ``(n_cells, n_dims)``; float32 or float64.
    chunk_size
        Number of rows of ``x`` whose distances to all of ``y`` are held at once.

    Returns
    -------
    fx, fy
        Float64 arrays of length ``n_cells`` with values in ``[0, 1]``.

    Raises
    ------
    MinNetInputError
        If the shapes differ, there are fewer than 2 cells, the inputs hold NaN/Inf, or
        ``chunk_size`` is not a positive integer.
    """
    x = _check_embedding(x, "x")
    y = _check_embedding(y, "y")
    if x.shape != y.shape:
        raise MinNetInputError(
            f"x and y must have the same shape (paired cells, shared embedding), got "
            f"{x.shape} and {y.shape}; row i of x and row i of y must be the same cell."
        )
    if int(chunk_size) != chunk_size or chunk_size < 1:
        raise MinNetInputError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
    chunk_size = int(chunk_size)
    n = x.shape[0]

    # Centre on the common mean (translation-invariant) to reduce cancellation in the
    # ``|a|^2 + |b|^2 - 2 a.b`` expansion; work in float64. These are n x d copies only.
    center = 0.5 * (x.mean(axis=0, dtype=np.float64) + y.mean(axis=0, dtype=np.float64))
    xc = x.astype(np.float64) - center
    yc = y.astype(np.float64) - center
    xx = np.einsum("ij,ij->i", xc, xc)
    yy = np.einsum("ij,ij->i", yc, yc)
    diff = xc - yc
    true_sq = np.einsum("ij,ij->i", diff, diff)  # exact squared distance to the true match
    del diff

    # Thresholds: a sample counts as closer only if its squared distance is below the true
    # one by more than the rounding error of the expansion (exact ties do not count).
    thr_x = true_sq - _TIE_RTOL * (xx + yy.max())
    thr_y = true_sq - _TIE_RTOL * (xx.max() + yy)
    xm2 = -2.0 * xc

    count_x = np.zeros(n, dtype=np.int64)  # x_i vs all y_j
    count_y = np.zeros(n, dtype=np.int64)  # y_j vs all x_i
    # Reused (chunk, n) buffers: the only O(chunk * n) allocations.
    chunk = min(chunk_size, n)
    d_buf = np.empty((chunk, n), dtype=np.float64)
    b_buf = np.empty((chunk, n), dtype=bool)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        m = stop - start
        d_sq, closer = d_buf[:m], b_buf[:m]
        # squared distances d(x_i, y_j) = |x_i|^2 + |y_j|^2 - 2 x_i.y_j, i in chunk, all j
        np.matmul(xm2[start:stop], yc.T, out=d_sq)
        d_sq += yy[None, :]
        d_sq += xx[start:stop, None]
        # the true pair is never "closer than itself"
        d_sq[np.arange(m), np.arange(start, stop)] = np.inf
        # row direction: y_j closer to x_i than y_i
        np.less(d_sq, thr_x[start:stop, None], out=closer)
        count_x[start:stop] = np.count_nonzero(closer, axis=1)
        # column direction: x_i closer to y_j than x_j
        np.less(d_sq, thr_y[None, :], out=closer)
        count_y += np.count_nonzero(closer, axis=0)

    denom = float(n - 1)
    return count_x / denom, count_y / denom


def foscttm(x: np.ndarray, y: np.ndarray, chunk_size: int = 1024) -> float:
    """Fraction Of Samples Closer Than the True Match (FOSCTTM) for paired embeddings.

    The mean of :func:`foscttm_per_cell` over both directions and all cells, as used to
    evaluate GLUE and MinNet on paired data. ``0`` means every cell's true partner is its
    nearest cross-modality neighbour; unrelated embeddings give about ``0.5``. Lower is
    better. Euclidean distance; only strictly closer samples count.

    Parameters
    ----------
    x, y
        Paired embeddings of shape ``(n_cells, n_dims)``; row ``i`` of ``x`` and row ``i``
        of ``y`` are the same cell.
    chunk_size
        Rows of ``x`` processed at once; peak extra memory is ``O(chunk_size * n_cells)``.

    Returns
    -------
    float
        FOSCTTM in ``[0, 1]``.

    Raises
    ------
    MinNetInputError
        If the shapes differ, there are fewer than 2 cells or the inputs hold NaN/Inf.
    """
    fx, fy = foscttm_per_cell(x, y, chunk_size=chunk_size)
    value = 0.5 * (float(fx.mean()) + float(fy.mean()))
    logger.debug("FOSCTTM over %d paired cells: %.4f", fx.shape[0], value)
    return value


# --------------------------------------------------------------------------------------
# silhouettes
# --------------------------------------------------------------------------------------
def silhouette_celltype(
    x: np.ndarray,
    labels,
    sample_size: int | None = 10000,
    seed: int = 0,
) -> float:
    """Cell-type average silhouette width (ASW), rescaled to ``[0, 1]``.

    Computes the Euclidean silhouette score of ``labels`` in ``x`` and returns
    ``(asw + 1) / 2`` (scib convention): ``1`` means compact, well-separated cell types,
    ``0.5`` overlapping types. Higher is better.

    Parameters
    ----------
    x
        Embedding of shape ``(n_cells, n_dims)``.
    labels
        One cell-type label per row of ``x`` (no missing values).
    sample_size
        If ``n_cells`` exceeds it, the score is computed on a uniformly random subset of
        this many cells (drawn with ``seed``), bounding time to ``O(sample_size**2)``.
        ``None`` uses all cells. Memory is bounded either way (scikit-learn computes the
        distances in chunks).
    seed
        Seed for the subsample.

    Returns
    -------
    float
        Rescaled ASW in ``[0, 1]``.

    Raises
    ------
    MinNetInputError
        For mismatched lengths, NaN values, missing labels, or fewer than 2 (or as many
        as cells) distinct labels.
    """
    from sklearn.metrics import silhouette_score

    x = _check_embedding(x, "x")
    lab = _as_label_array(labels, x.shape[0], "labels")
    _check_sample_size(sample_size)
    idx = _subsample_indices(x.shape[0], sample_size, seed)
    if idx is not None:
        logger.debug("silhouette_celltype: subsampling %d of %d cells", idx.size, x.shape[0])
        x, lab = x[idx], lab[idx]
    codes = _encode(lab)
    n_labels = int(codes.max()) + 1
    if not 2 <= n_labels <= x.shape[0] - 1:
        raise MinNetInputError(
            f"the silhouette needs between 2 and n_cells - 1 distinct labels, got {n_labels} "
            f"among {x.shape[0]} (sub)sampled cells; check that labels are cell types."
        )
    asw = float(silhouette_score(x, codes, metric="euclidean"))
    return (asw + 1.0) / 2.0


def silhouette_mixing(
    x: np.ndarray,
    groups,
    labels=None,
    sample_size: int | None = 10000,
    seed: int = 0,
) -> float:
    """Mixing of modalities or batches as "1 - ASW" (higher is better mixed, in ``[0, 1]``).

    Parameters
    ----------
    x
        Embedding of shape ``(n_cells, n_dims)``.
    groups
        One group label per cell: modality (e.g. ``"rna"``/``"atac"``) or batch.
    labels
        Optional cell-type label per cell; see Notes for both definitions.
    sample_size
        Cap on the number of cells used for a silhouette computation: without ``labels``
        a uniformly random subset of this many cells is used when ``n_cells`` is larger;
        with ``labels`` each cell type with more cells than this is subsampled to it (rare
        types are kept whole). ``None`` disables subsampling.
    seed
        Seed for the subsampling.

    Returns
    -------
    float
        Mixing score in ``[0, 1]``.

    Raises
    ------
    MinNetInputError
        For mismatched lengths, NaN values, missing labels, fewer than 2 groups overall,
        or (with ``labels``) no cell type containing at least 2 groups.

    Notes
    -----
    Without ``labels``
        ``1 - |silhouette_score(x, groups)|``: ``1`` when the groups (e.g. RNA vs ATAC
        cells) are indistinguishable in the embedding, near ``0`` when they form separate
        clusters.
    With ``labels`` (scib's batch ASW)
        For each cell type ``t``: take the cells of type ``t``, compute the per-cell
        silhouette ``s_i`` of the group labels among them, transform to ``1 - |s_i|`` and
        average over the cells of ``t``; the result is the mean over cell types. Types in
        which fewer than 2 groups are present (or every cell is its own group) are skipped
        (logged at debug level). This measures mixing *within* cell types, so it is not
        rewarded for merging different cell types.
    """
    from sklearn.metrics import silhouette_samples, silhouette_score

    x = _check_embedding(x, "x")
    n = x.shape[0]
    grp = _as_label_array(groups, n, "groups")
    _check_sample_size(sample_size)
    grp_codes = _encode(grp)
    if int(grp_codes.max()) + 1 < 2:
        raise MinNetInputError(
            "groups has a single value; mixing needs at least 2 groups (e.g. modalities or "
            "batches). Pass the modality/batch of each cell."
        )

    if labels is None:
        idx = _subsample_indices(n, sample_size, seed)
        xs, gs = (x, grp_codes) if idx is None else (x[idx], grp_codes[idx])
        n_groups = np.unique(gs).size
        if not 2 <= n_groups <= xs.shape[0] - 1:
            raise MinNetInputError(
                f"the silhouette needs between 2 and n_cells - 1 distinct groups, got "
                f"{n_groups} among {xs.shape[0]} (sub)sampled cells."
            )
        asw = float(silhouette_score(xs, gs, metric="euclidean"))
        return 1.0 - abs(asw)

    lab = _as_label_array(labels, n, "labels")
    lab_codes, lab_uniques = pd.factorize(lab, sort=False)
    rng = np.random.default_rng(seed)
    per_type: list[float] = []
    for code, name in enumerate(lab_uniques):
        members = np.flatnonzero(lab_codes == code)
        if sample_size is not None and members.size > sample_size:
            members = np.sort(rng.choice(members, size=int(sample_size), replace=False))
        g = grp_codes[members]
        n_groups = np.unique(g).size
        if n_groups < 2 or n_groups >= members.size:
            logger.debug(
                "silhouette_mixing: skipping cell type %r (%d cells, %d groups present)",
                name,
                members.size,
                n_groups,
            )
            continue
        s = silhouette_samples(x[members], g, metric="euclidean")
        per_type.append(float(np.mean(1.0 - np.abs(s))))
    if not per_type:
        raise MinNetInputError(
            "no cell type contains at least 2 groups, so within-type mixing is undefined; "
            "check groups/labels, or pass labels=None for the global mixing score."
        )
    return float(np.mean(per_type))


# --------------------------------------------------------------------------------------
# clustering agreement
# --------------------------------------------------------------------------------------
def ari_over_resolutions(
    x: np.ndarray,
    labels,
    resolutions: Sequence[float] = (0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0),
    n_neighbors: int = 15,
    seed: int = 0,
) -> dict:
    """Adjusted Rand index between Leiden clusterings of ``x`` and ``labels``.

    Clusters ``x`` exactly as :func:`minnet.tl.cluster` does (same kNN graph with UMAP
    connectivities, same seeded igraph Leiden; see
    :func:`minnet.tl._cluster.leiden_clusters`), so at each resolution the score is that of
    the clusters ``tl.cluster(..., resolution=r, n_neighbors=n_neighbors, seed=seed)`` gives
    on the same embedding. Each clustering is scored against ``labels`` with
    :func:`sklearn.metrics.adjusted_rand_score`. Memory is ``O(n * k)``.

    Parameters
    ----------
    x
        Embedding of shape ``(n_cells, n_dims)``.
    labels
        Reference cell-type label per cell (no missing values).
    resolutions
        Leiden resolutions to scan.
    n_neighbors
        Neighbours per cell in the kNN graph, counting the cell itself as in
        :func:`minnet.tl.cluster` (>= 2; capped at ``n_cells``).
    seed
        Seed for Leiden (and for the approximate neighbour search of large embeddings).

    Returns
    -------
    dict
        ``{'max': float, 'mean': float, 'per_resolution': pandas.Series}``, where the
        series holds the ARI indexed by resolution.

    Raises
    ------
    MinNetInputError
        For mismatched lengths, NaN values, missing labels, empty or non-positive
        resolutions, or ``n_neighbors < 2``.
    """
    from sklearn.metrics import adjusted_rand_score

    from .tl._cluster import leiden_clusters  # tl is heavier; import at call time

    x = _check_embedding(x, "x", min_cells=3)
    lab = _as_label_array(labels, x.shape[0], "labels")
    res = [float(r) for r in resolutions]
    if not res or any(not np.isfinite(r) or r <= 0 for r in res):
        raise MinNetInputError(
            f"resolutions must be a non-empty sequence of positive numbers, got {resolutions!r}."
        )
    if int(n_neighbors) != n_neighbors or n_neighbors < 2:
        raise MinNetInputError(
            f"n_neighbors must be an integer >= 2 (it counts the cell itself, as in "
            f"minnet.tl.cluster), got {n_neighbors!r}."
        )

    codes = _encode(lab)
    scores = []
    for r, clusters in zip(res, leiden_clusters(x, res, int(n_neighbors), int(seed)), strict=True):
        ari = float(adjusted_rand_score(codes, clusters))
        logger.debug(
            "ari_over_resolutions: resolution %g -> %d clusters, ARI %.4f",
            r,
            int(clusters.max()) + 1,
            ari,
        )
        scores.append(ari)
    per_resolution = pd.Series(scores, index=pd.Index(res, name="resolution"), name="ari")
    return {
        "max": float(per_resolution.max()),
        "mean": float(per_resolution.mean()),
        "per_resolution": per_resolution,
    }


# --------------------------------------------------------------------------------------
# label transfer
# --------------------------------------------------------------------------------------
def label_transfer_accuracy(
    true,
    predicted,
    unassigned: str | None = "unassigned",
) -> dict:
    """Accuracy of transferred cell-type labels.

    Parameters
    ----------
    true
        Reference labels, one per cell (no missing values).
    predicted
        Transferred labels, same length. Cells predicted as ``unassigned`` (and missing
        predictions) always count as wrong.
    unassigned
        Label used for cells left unassigned by the transfer; ``None`` if there is none.

    Returns
    -------
    dict
        ``{'accuracy': float, 'macro': float, 'per_class': pandas.Series}``:
        ``accuracy`` is the fraction of all cells predicted correctly; ``per_class`` is the
        recall (fraction correct) of each class present in ``true``, indexed by class;
        ``macro`` is the unweighted mean of ``per_class``.

    Raises
    ------
    MinNetInputError
        If the lengths differ, there are no cells, or ``true`` has missing values.
    """
    t = _as_label_array(true, None, "true")
    p = _as_label_array(predicted, None, "predicted", allow_missing=True)
    if t.shape[0] != p.shape[0]:
        raise MinNetInputError(
            f"true has {t.shape[0]} labels but predicted has {p.shape[0]}; pass one "
            "prediction per cell, in the same order."
        )
    if t.shape[0] == 0:
        raise MinNetInputError("true and predicted are empty; pass at least one cell.")

    correct = np.array([a == b for a, b in zip(t, p, strict=True)], dtype=bool)
    correct &= ~pd.isna(p)
    if unassigned is not None:
        is_unassigned = np.array([v == unassigned for v in p], dtype=bool)
        correct &= ~is_unassigned
        logger.debug(
            "label_transfer_accuracy: %d of %d cells unassigned", int(is_unassigned.sum()), p.size
        )

    classes = pd.unique(t)
    try:
        classes = np.array(sorted(classes), dtype=object)
    except TypeError:  # mixed, unorderable label types: keep order of appearance
        pass
    t_codes = pd.Index(classes).get_indexer(t)
    n_per_class = np.bincount(t_codes, minlength=len(classes))
    n_correct = np.bincount(t_codes, weights=correct.astype(np.float64), minlength=len(classes))
    per_class = pd.Series(
        n_correct / n_per_class, index=pd.Index(classes, name="class"), name="recall"
    )
    return {
        "accuracy": float(correct.mean()),
        "macro": float(per_class.mean()),
        "per_class": per_class,
    }


def calibration(true, predicted, confidence, n_bins: int = 10) -> dict:
    """How well label-transfer confidence matches accuracy (expected calibration error).

    Cells are put in ``n_bins`` equal-width bins of confidence; in each bin, mean confidence
    is compared with the fraction predicted correctly.

    Parameters
    ----------
    true, predicted
        True and transferred labels, one per cell.
    confidence
        Each prediction's confidence in [0, 1] (``obs[f"{key}_confidence"]``).
    n_bins
        Number of confidence bins.

    Returns
    -------
    dict
        ``{'ece': float, 'bins': pandas.DataFrame}``: ``ece`` is the cell-weighted mean of
        ``|accuracy − confidence|`` over bins (0: confidence equals accuracy); ``bins`` has
        each non-empty bin's ``n_cells``, ``confidence`` (mean) and ``accuracy``.

    Raises
    ------
    MinNetInputError
        If the lengths differ, or a confidence is missing or outside [0, 1].
    """
    check_int(n_bins, "n_bins", 1)
    t = _as_label_array(true, None, "true")
    p = _as_label_array(predicted, t.shape[0], "predicted", allow_missing=True)
    c = np.asarray(confidence, dtype=np.float64).ravel()
    if c.shape[0] != t.shape[0]:
        raise MinNetInputError(
            f"confidence has {c.shape[0]} values for {t.shape[0]} cells; pass one per cell.")
    if not np.all(np.isfinite(c)) or c.min(initial=0.0) < 0 or c.max(initial=0.0) > 1:
        raise MinNetInputError("confidence must be finite values in [0, 1].")
    correct = np.array([a == b for a, b in zip(t, p, strict=True)], dtype=np.float64)
    which = np.minimum((c * n_bins).astype(int), n_bins - 1)
    bins = pd.DataFrame({"bin": which, "confidence": c, "accuracy": correct}).groupby("bin")
    table = bins.agg(n_cells=("confidence", "size"), confidence=("confidence", "mean"),
                     accuracy=("accuracy", "mean"))
    ece = float((table["n_cells"] * (table["accuracy"] - table["confidence"]).abs()).sum()
                / max(t.shape[0], 1))
    return {"ece": ece, "bins": table}


def evaluate_pair(rna, other, label_key: str = "cell_type", use_rep: str = "X_minnet") -> dict:
    """Headline scores of paired held-out cells embedded as two unpaired objects.

    The paper's protocol: both modalities of held-out cells are embedded separately, then
    scored knowing that row ``i`` of ``rna`` and row ``i`` of ``other`` are the same cell.

    Parameters
    ----------
    rna, other
        AnnData objects with the same cells in the same order, ``obsm[use_rep]`` and
        ``obs[label_key]`` (not modified).
    label_key
        Cell-type column of both objects.
    use_rep
        ``obsm`` key of the co-embedding.

    Returns
    -------
    dict
        ``FOSCTTM (lower is better)``, ``label transfer accuracy`` and ``label transfer macro
        accuracy`` (RNA → other with :func:`minnet.tl.transfer_labels`), ``cell-type
        silhouette`` and ``modality mixing (1 - ASW)``.
    """
    from . import tl  # tl imports this module's helpers; import at call time

    if rna.n_obs != other.n_obs or not np.array_equal(rna.obs_names, other.obs_names):
        raise MinNetInputError(
            "rna and other must hold the same cells in the same order (equal obs_names) to be "
            "scored as a pair."
        )
    zx, zy = np.asarray(rna.obsm[use_rep]), np.asarray(other.obsm[use_rep])
    z = np.concatenate([zx, zy])
    lab = np.concatenate([rna.obs[label_key].astype(str), other.obs[label_key].astype(str)])
    mod = np.repeat(["rna", "other"], [len(zx), len(zy)])
    pred = tl.transfer_labels(rna, other, label_key, use_rep=use_rep)
    acc = label_transfer_accuracy(other.obs[label_key].astype(str),
                                  pred.obs[f"{label_key}_pred"].astype(str))
    return {
        "FOSCTTM (lower is better)": foscttm(zx, zy),
        "label transfer accuracy": acc["accuracy"],
        "label transfer macro accuracy": acc["macro"],
        "cell-type silhouette": silhouette_celltype(z, lab),
        "modality mixing (1 - ASW)": silhouette_mixing(z, mod, lab),
    }
