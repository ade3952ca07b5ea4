"""The package's one k-nearest-neighbour search, and UMAP connectivities on it, sparse.

:func:`knn` serves every caller (training graph, smoothing, matching, label transfer,
clustering, metrics): exact below :data:`EXACT_MAX_CELLS` cells, approximate above.
Connectivities are built here rather than through ``scanpy.pp.neighbors``, whose large-data path fails with
scipy ≥ 1.15 sparse arrays (``csr_array.getnnz``) and which densifies distances below 8,192
cells. Memory is O(n · k).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp

from ._utils import MinNetInputError

# Above this many (reference) cells every kNN search of the package switches from exact
# scikit-learn to pynndescent's approximate one.
EXACT_MAX_CELLS = 20_000
# Minimum degree of a pynndescent index searched with other (query) rows; pynndescent's default.
_QUERY_INDEX_K = 30

_N_BISECT = 64
_SMOOTH_TOL = 1e-5
_MIN_K_DIST_SCALE = 1e-3


def fuzzy_connectivities(dist: np.ndarray, idx: np.ndarray) -> sp.csr_matrix:
    """UMAP fuzzy-simplicial-set weights of a kNN graph, as in ``scanpy.pp.neighbors``.

    ``dist``/``idx`` are ``(n, k)`` neighbour distances/indices *including* each cell itself
    (distance 0) in column 0. Re-implemented in NumPy (vectorised over cells) to avoid
    umap-learn's numba compilation; follows ``umap.umap_.smooth_knn_dist`` with
    ``local_connectivity=1`` and ``set_op_mix_ratio=1`` (fuzzy union).
    """
    n, k = dist.shape
    target = np.log2(k)
    others = dist[:, 1:]
    # rho: distance to the nearest neighbour at a non-zero distance
    pos = np.where(others > 0, others, np.inf)
    rho = pos.min(axis=1)
    rho[~np.isfinite(rho)] = 0.0
    d = others - rho[:, None]

    lo = np.zeros(n)
    hi = np.full(n, np.inf)
    mid = np.ones(n)
    active = np.ones(n, dtype=bool)
    for _ in range(_N_BISECT):
        if not active.any():
            break
        m = mid[active, None]
        dd = d[active]
        psum = np.where(dd > 0, np.exp(-np.maximum(dd, 0) / m), 1.0).sum(axis=1)
        done = np.abs(psum - target) < _SMOOTH_TOL
        too_big = psum > target
        a_idx = np.flatnonzero(active)
        upd = a_idx[~done]
        big = too_big[~done]
        hi[upd[big]] = mid[upd[big]]
        lo[upd[~big]] = mid[upd[~big]]
        finite_hi = np.isfinite(hi[upd])
        mid[upd] = np.where(finite_hi, (lo[upd] + hi[upd]) / 2.0, mid[upd] * 2.0)
        active[a_idx[done]] = False
    sigma = mid
    mean_all = dist.mean()
    mean_row = dist.mean(axis=1)
    floor = np.where(rho > 0, _MIN_K_DIST_SCALE * mean_row, _MIN_K_DIST_SCALE * mean_all)
    sigma = np.maximum(sigma, floor)

    with np.errstate(divide="ignore", invalid="ignore"):
        # d < 0 (neighbours closer than the nearest, e.g. duplicated cells) takes weight 1;
        # clipped first, so its exp is not computed to overflow
        w = np.where(
            (d <= 0) | (sigma[:, None] == 0), 1.0, np.exp(-np.maximum(d, 0) / sigma[:, None])
        )
    self_loop = idx[:, 1:] == np.arange(n)[:, None]
    w[self_loop] = 0.0
    rows = np.repeat(np.arange(n), k - 1)
    g = sp.csr_matrix((w.ravel(), (rows, idx[:, 1:].ravel())), shape=(n, n))
    g.eliminate_zeros()
    gt = g.T.tocsr()
    return (g + gt - g.multiply(gt)).tocsr()


def knn(
    x: np.ndarray,
    k: int,
    seed: int = 0,
    *,
    query: np.ndarray | None = None,
    self_neighbor: Literal["first", "exclude"] = "first",
    method: Literal["auto", "exact", "approximate"] = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean ``k`` nearest neighbours: MinNet's one kNN search (``O(n · k)`` memory).

    Every neighbour search of the package goes through here, so all of them switch from the
    exact search to the approximate one at the same size, :data:`EXACT_MAX_CELLS`.

    Parameters
    ----------
    x
        ``(n, d)`` rows that are searched (the reference).
    k
        Neighbours returned per row (>= 1); with ``self_neighbor="first"`` the row itself
        counts. Capped at the number of candidates: ``n``, or ``n - 1`` when excluding self.
    seed
        Seed of the approximate search (the exact one has no randomness).
    query
        ``(m, d)`` rows whose neighbours are looked up among the rows of ``x``; ``None``
        (default) searches the rows of ``x`` among themselves.
    self_neighbor
        Without ``query``: ``"first"`` puts each row itself in column 0 (as
        ``scanpy.pp.neighbors``, also when identical rows tie with it); ``"exclude"`` never
        returns the row itself, as :meth:`sklearn.neighbors.NearestNeighbors.kneighbors`
        without ``X`` (when more than ``k`` rows are identical to it, one of them is dropped
        instead). Ignored with ``query``: those rows are other cells.
    method
        ``"exact"``: scikit-learn's :class:`~sklearn.neighbors.NearestNeighbors`;
        ``"approximate"``: pynndescent's seeded :class:`~pynndescent.NNDescent`; ``"auto"``
        (default): exact while ``x`` has at most :data:`EXACT_MAX_CELLS` rows. The size of
        ``x`` decides because exact search costs ``len(x)`` distances per query row.

    Returns
    -------
    tuple of numpy.ndarray
        ``(dist, idx)``: float64 distances and int64 row indices into ``x``, shape
        ``(n or m, k)``, each row sorted by increasing distance (ties in a deterministic
        order).

    Raises
    ------
    MinNetInputError
        If ``k < 1`` (after capping), or ``method``/``self_neighbor`` is unknown.
    """
    if method not in ("auto", "exact", "approximate"):
        raise MinNetInputError(f"method must be 'auto', 'exact' or 'approximate', got {method!r}.")
    if self_neighbor not in ("first", "exclude"):
        raise MinNetInputError(f"self_neighbor must be 'first' or 'exclude', got {self_neighbor!r}.")
    n = x.shape[0]
    exclude = query is None and self_neighbor == "exclude"
    k = min(int(k), n - int(exclude))
    if k < 1:
        raise MinNetInputError(f"k must be at least 1 (and x hold more rows), got {k}.")
    exact = method == "exact" or (method == "auto" and n <= EXACT_MAX_CELLS)
    if exact:
        dist, idx = _exact(x, k, query, exclude)
    else:
        dist, idx = _approximate(x, k + int(exclude), seed, query)
        if exclude:
            dist, idx = _drop_self(dist, idx)
    if query is None and not exclude:
        _put_self_first(dist, idx)
    return dist.astype(np.float64, copy=False), idx.astype(np.int64, copy=False)


def _exact(
    x: np.ndarray, k: int, query: np.ndarray | None, exclude: bool
) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=k).fit(x)
    if exclude:  # X=None: scikit-learn leaves each row itself out (duplicates included)
        return nn.kneighbors()
    return nn.kneighbors(x if query is None else query)


def _approximate(
    x: np.ndarray, k: int, seed: int, query: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    from pynndescent import NNDescent

    n = x.shape[0]
    if query is None:  # the index's own graph lists each row's k nearest, itself included
        index = NNDescent(x, n_neighbors=k, random_state=seed, n_jobs=1, low_memory=True)
        idx, dist = index.neighbor_graph
        return dist, idx
    # a denser index than k alone would give keeps the query recall high for small k
    index = NNDescent(
        x, n_neighbors=min(max(k, _QUERY_INDEX_K), n - 1), random_state=seed, n_jobs=1,
        low_memory=True,
    )
    idx, dist = index.query(query, k=k)
    return dist, idx


def _drop_self(dist: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remove each row itself from its ``k + 1`` neighbours (the farthest if it is absent)."""
    n, k1 = idx.shape
    keep = idx != np.arange(n)[:, None]
    missing = keep.all(axis=1)
    keep[missing, k1 - 1] = False
    return dist[keep].reshape(n, k1 - 1), idx[keep].reshape(n, k1 - 1)


def _put_self_first(dist: np.ndarray, idx: np.ndarray) -> None:
    """In place: each row itself in column 0 at distance 0 (identical rows may come first)."""
    n, k = idx.shape
    for r in np.flatnonzero(idx[:, 0] != np.arange(n)):  # rare: only with identical rows
        pos = np.flatnonzero(idx[r] == r)
        j = pos[0] if pos.size else k - 1
        idx[r, 1 : j + 1], dist[r, 1 : j + 1] = idx[r, :j].copy(), dist[r, :j].copy()
        idx[r, 0], dist[r, 0] = r, 0.0


def knn_connectivities(x: np.ndarray, n_neighbors: int = 15, seed: int = 0) -> sp.csr_matrix:
    """Symmetric UMAP connectivities of the ``n_neighbors``-NN graph of the rows of ``x``.

    ``n_neighbors`` counts the cell itself, as in ``scanpy.pp.neighbors``.
    """
    dist, idx = knn(np.asarray(x, dtype=np.float32), n_neighbors, seed)
    return fuzzy_connectivities(dist, idx)
