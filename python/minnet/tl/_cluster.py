"""``tl.cluster``: Leiden clustering of the joint co-embedding of several objects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Real

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData
from sklearn.neighbors import NearestNeighbors

from .._utils import MinNetInputError, check_int, get_rep, logger
from ..neighbors import fuzzy_connectivities
from ._match import _check_widths


def _leiden(conn: sp.csr_matrix, resolution: float, seed: int) -> np.ndarray:
    """Seeded Leiden on a weighted graph (igraph's implementation, modularity objective).

    Same algorithm as ``scanpy.tl.leiden(flavor="igraph", n_iterations=2, directed=False)``;
    much faster than ``leidenalg`` on large graphs. igraph's global random generator is
    seeded for the call and restored afterwards.
    """
    import random

    import igraph as ig

    upper = sp.triu(conn, k=1).tocoo()
    graph = ig.Graph(
        n=conn.shape[0], edges=np.column_stack([upper.row, upper.col]).tolist(), directed=False
    )
    graph.es["weight"] = upper.data.astype(float).tolist()
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

    The cells of all objects are pooled, a kNN graph is built on ``obsm[use_rep]`` (exact
    Euclidean search with :class:`sklearn.neighbors.NearestNeighbors`, sparse, ``O(cells x
    n_neighbors)`` memory) and weighted with UMAP fuzzy connectivities as in
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
        Seed of the Leiden optimisation (same input and seed give the same clusters).
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

    nbr_dist, nbr_idx = NearestNeighbors(n_neighbors=k_eff - 1).fit(x).kneighbors()
    dist = np.column_stack([np.zeros(n), nbr_dist])
    idx = np.column_stack([np.arange(n), nbr_idx])
    conn = fuzzy_connectivities(dist, idx)
    labels = _relabel_by_size(_leiden(conn, resolution, seed))
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
