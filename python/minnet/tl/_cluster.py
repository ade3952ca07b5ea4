"""``tl.cluster``: Leiden clustering of the joint co-embedding of several objects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Real

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from .._utils import MinNetInputError, get_rep, logger
from ..neighbors import fuzzy_connectivities, knn
from ..validation import check_int
from ._match import _check_widths


def leiden_clusters(
    x: np.ndarray, resolutions: Sequence[float], n_neighbors: int = 15, seed: int = 0
) -> list[np.ndarray]:
    """Leiden clusters of the rows of ``x`` at each resolution: what :func:`cluster` computes.

    The single definition of MinNet's clustering, shared by :func:`cluster` and
    :func:`minnet.metrics.ari_over_resolutions` so that the metric scores the clusters users
    get. Each cell and its ``n_neighbors - 1`` nearest other cells (:func:`minnet.neighbors.knn`,
    exact or approximate by size) are weighted with UMAP fuzzy connectivities as in
    :func:`scanpy.pp.neighbors`; the graph is partitioned by seeded Leiden (igraph, modularity,
    2 iterations) as ``scanpy.tl.leiden(flavor="igraph", n_iterations=2, directed=False)``.

    Parameters
    ----------
    x
        ``(n, d)`` embedding, finite, ``n >= 3`` (used as float64).
    resolutions
        Leiden resolutions (> 0, not checked here); the graph is built once for all of them.
    n_neighbors
        Neighbours per cell counting the cell itself (>= 2), capped at ``n``.
    seed
        Seed of the (approximate) neighbour search and of each Leiden run.

    Returns
    -------
    list of numpy.ndarray
        One int64 label vector per resolution, clusters numbered 0, 1, ... by decreasing size
        (ties: first appearance), the same labels a single-resolution call gives.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    k = min(int(n_neighbors), n)
    # the cell itself is put first at distance 0 rather than searched, so duplicates of a
    # cell never take its place
    nbr_dist, nbr_idx = knn(x, k - 1, seed, self_neighbor="exclude")
    dist = np.column_stack([np.zeros(n), nbr_dist])
    idx = np.column_stack([np.arange(n), nbr_idx])
    graph = _igraph(fuzzy_connectivities(dist, idx))
    return [_relabel_by_size(_leiden(graph, r, seed)) for r in resolutions]


def _igraph(conn: sp.csr_matrix):
    """Undirected weighted ``igraph.Graph`` of a symmetric sparse matrix (upper triangle)."""
    import igraph as ig

    upper = sp.triu(conn, k=1).tocoo()
    graph = ig.Graph(
        n=conn.shape[0], edges=np.column_stack([upper.row, upper.col]).tolist(), directed=False
    )
    graph.es["weight"] = upper.data.astype(float).tolist()
    return graph


def _leiden(graph, resolution: float, seed: int) -> np.ndarray:
    """Seeded Leiden on a weighted ``igraph.Graph`` (igraph's implementation, modularity).

    Same algorithm as ``scanpy.tl.leiden(flavor="igraph", n_iterations=2, directed=False)``;
    much faster than ``leidenalg`` on large graphs. igraph's global random generator is
    seeded for the call and restored afterwards.
    """
    import random

    import igraph as ig

    ig.set_random_number_generator(random.Random(int(seed)))
    try:
        part = graph.community_leiden(
            objective_function="modularity",
            weights="weight",
            resolution=float(resolution),
            beta=0.01,
            n_iterations=2,
        )
    finally:
        ig.set_random_number_generator(random)
    return np.asarray(part.membership, dtype=np.int64)


def _relabel_by_size(membership: np.ndarray) -> np.ndarray:
    """Renumber clusters 0, 1, ... by decreasing size (ties: first appearance)."""
    ids, first, counts = np.unique(membership, return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))
    new = np.empty(ids.size, dtype=np.int64)
    new[order] = np.arange(ids.size)
    return new[np.searchsorted(ids, membership)]


def cluster(
    adatas: Mapping[str, AnnData] | Sequence[AnnData],
    use_rep: str = "X_minnet",
    resolution: float = 1.0,
    key_added: str = "minnet_leiden",
    n_neighbors: int = 15,
    seed: int = 0,
    copy: bool = True,
) -> dict[str, AnnData] | list[AnnData] | None:
    """Leiden clusters on the joint co-embedding of several objects (e.g. RNA and ATAC cells).

    The cells of all objects are pooled, a kNN graph is built on ``obsm[use_rep]``
    (Euclidean, :func:`minnet.neighbors.knn`: exact up to
    :data:`minnet.neighbors.EXACT_MAX_CELLS` cells, seeded approximate search beyond; sparse,
    ``O(cells x n_neighbors)`` memory) and weighted with UMAP fuzzy connectivities as in
    :func:`scanpy.pp.neighbors`, then partitioned with seeded Leiden (igraph, modularity
    objective, 2 iterations), as ``scanpy.tl.leiden(flavor="igraph", n_iterations=2,
    directed=False)``. Clusters are named ``"0"``, ``"1"``, … by decreasing size, so one
    cluster has the same name in every object.

    Parameters
    ----------
    adatas
        A list (or tuple) of AnnData objects, or a dict ``{name: AnnData}``, each with
        ``obsm[use_rep]`` of the same width.
    use_rep
        ``obsm`` key of the co-embedding.
    resolution
        Leiden resolution (> 0); higher gives more clusters.
    key_added
        ``obs`` column of the result; an existing column is overwritten.
    n_neighbors
        Neighbours per cell in the kNN graph, counting the cell itself as in scanpy (>= 2;
        capped at the total number of cells).
    seed
        Seed of the Leiden optimisation and of the approximate neighbour search (same input
        and seed give the same clusters).
    copy
        Return annotated copies (default) instead of writing into ``adatas``.

    Returns
    -------
    dict, list or None
        With ``copy=True``, new objects in a container of the input's type (a dict with the
        same keys, or a list/tuple), each with a categorical ``obs[key_added]`` whose
        categories are the same in all objects (including clusters absent from one object),
        and ``uns[key_added] = {"params": {...}}``. With ``copy=False`` the inputs are annotated
        in place and ``None`` is returned.

    Raises
    ------
    MinNetInputError
        If ``adatas`` is empty or holds non-AnnData items, an object lacks ``obsm[use_rep]``
        (run :func:`minnet.tl.embed` first), embeddings differ in width or hold NaN/infinite
        values, fewer than 3 cells are given in total, or a parameter is invalid.
    """
    if isinstance(adatas, AnnData):
        raise MinNetInputError(
            "adatas must be a list or dict of AnnData objects, got a single AnnData; pass "
            "[adata] (or {'name': adata})."
        )
    if isinstance(adatas, Mapping):
        names = [str(k) for k in adatas]
        objs = list(adatas.values())
    elif isinstance(adatas, Sequence) and not isinstance(adatas, str):
        objs = list(adatas)
        names = [str(i) for i in range(len(objs))]
    else:
        raise MinNetInputError(
            f"adatas must be a list or dict of AnnData objects, got {type(adatas).__name__}."
        )
    if not objs:
        raise MinNetInputError("adatas is empty; pass at least one AnnData object.")
    k = check_int(n_neighbors, "n_neighbors", 2)
    check_int(seed, "seed", 0)
    if (
        isinstance(resolution, bool)
        or not isinstance(resolution, Real)
        or not np.isfinite(resolution)
        or resolution <= 0
    ):
        raise MinNetInputError(f"resolution must be a positive number, got {resolution!r}.")
    if not isinstance(key_added, str) or not key_added:
        raise MinNetInputError(f"key_added must be a non-empty string, got {key_added!r}.")

    reps = {f"adatas[{n!r}]": get_rep(a, use_rep, f"adatas[{n!r}]") for n, a in zip(
        names, objs, strict=True)}
    _check_widths(reps, use_rep)
    x = np.concatenate(list(reps.values()), axis=0)
    n = x.shape[0]
    if n < 3:
        raise MinNetInputError(
            f"only {n} cell(s) in total; clustering needs at least 3 cells."
        )
    k_eff = min(k, n)
    if k_eff < k:
        logger.warning("cluster: n_neighbors=%d exceeds the %d cells; using %d.", k, n, k_eff)

    (labels,) = leiden_clusters(x, [resolution], k_eff, seed)
    cats = [str(c) for c in range(int(labels.max()) + 1)]
    logger.info(
        "cluster: %d clusters over %d cells in %d object(s) (resolution %g).",
        len(cats),
        n,
        len(objs),
        resolution,
    )

    params = {
        "use_rep": use_rep,
        "resolution": float(resolution),
        "n_neighbors": int(k_eff),
        "seed": int(seed),
        "n_objects": len(objs),
    }
    outs = [a.copy() for a in objs] if copy else objs
    start = 0
    for a in outs:
        stop = start + a.n_obs
        if key_added in a.obs.columns:
            logger.info("cluster: overwriting existing obs[%r].", key_added)
        a.obs[key_added] = pd.Categorical(
            np.asarray(cats, dtype=object)[labels[start:stop]], categories=cats
        )
        a.uns[key_added] = {"params": dict(params)}
        start = stop
    if not copy:
        return None
    if isinstance(adatas, Mapping):
        return dict(zip(adatas.keys(), outs, strict=True))
    if isinstance(adatas, tuple):
        return tuple(outs)
    return outs
