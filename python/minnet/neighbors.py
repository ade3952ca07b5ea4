"""K-nearest-neighbour graphs with UMAP connectivities (as ``scanpy.pp.neighbors``), sparse.

Built here rather than through ``scanpy.pp.neighbors``, whose large-data path fails with
scipy ≥ 1.15 sparse arrays (``csr_array.getnnz``) and which densifies distances below 8,192
cells. Memory is O(n · k).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

# Above this many cells the exact search is replaced by pynndescent's approximate one.
EXACT_MAX_CELLS = 20_000

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
        w = np.where(
            (d <= 0) | (sigma[:, None] == 0), 1.0, np.exp(-d / sigma[:, None])
        )
    self_loop = idx[:, 1:] == np.arange(n)[:, None]
    w[self_loop] = 0.0
    rows = np.repeat(np.arange(n), k - 1)
    g = sp.csr_matrix((w.ravel(), (rows, idx[:, 1:].ravel())), shape=(n, n))
    g.eliminate_zeros()
    gt = g.T.tocsr()
    return (g + gt - g.multiply(gt)).tocsr()



def knn(x: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Distances and indices of each row's ``k`` nearest rows, the row itself in column 0.

    Exact (scikit-learn) up to :data:`EXACT_MAX_CELLS` rows, pynndescent (seeded) beyond.
    """
    n = x.shape[0]
    k = int(min(k, n))
    if n <= EXACT_MAX_CELLS:
        from sklearn.neighbors import NearestNeighbors

        dist, idx = NearestNeighbors(n_neighbors=k).fit(x).kneighbors(x)
    else:
        from pynndescent import NNDescent

        index = NNDescent(x, n_neighbors=k, random_state=seed, n_jobs=1, low_memory=True)
        idx, dist = index.neighbor_graph
    # make sure each row lists itself first (duplicated rows may swap places)
    own = np.arange(n)
    first_is_self = idx[:, 0] == own
    if not first_is_self.all():
        rows = np.flatnonzero(~first_is_self)
        for r in rows:  # rare: identical cells; put the cell itself first
            pos = np.flatnonzero(idx[r] == r)
            j = pos[0] if pos.size else k - 1
            idx[r, 1 : j + 1], dist[r, 1 : j + 1] = idx[r, :j].copy(), dist[r, :j].copy()
            idx[r, 0], dist[r, 0] = r, 0.0
    return dist.astype(np.float64), idx.astype(np.int64)


def knn_connectivities(x: np.ndarray, n_neighbors: int = 15, seed: int = 0) -> sp.csr_matrix:
    """Symmetric UMAP connectivities of the ``n_neighbors``-NN graph of the rows of ``x``.

    ``n_neighbors`` counts the cell itself, as in ``scanpy.pp.neighbors``.
    """
    dist, idx = knn(np.asarray(x, dtype=np.float32), n_neighbors, seed)
    return fuzzy_connectivities(dist, idx)
