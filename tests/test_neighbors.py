"""kNN graphs with UMAP connectivities (minnet.neighbors) and the RNA graph built on them."""

import re
from pathlib import Path

import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors

import minnet
from minnet import neighbors
from minnet._utils import MinNetInputError
from minnet.graph import build_rna_graph
from minnet.metrics import ari_over_resolutions
from minnet.neighbors import fuzzy_connectivities, knn, knn_connectivities
from minnet.tl import cluster


def test_fuzzy_connectivities_properties():
    x = np.random.default_rng(0).normal(size=(60, 4))
    d, i = NearestNeighbors(n_neighbors=9).fit(x).kneighbors()
    n = len(x)
    conn = fuzzy_connectivities(
        np.column_stack([np.zeros(n), d]), np.column_stack([np.arange(n), i])
    )
    assert abs(conn - conn.T).max() < 1e-12  # symmetric
    assert conn.diagonal().sum() == 0
    assert conn.data.min() > 0 and conn.data.max() <= 1.0 + 1e-12
    # every cell's nearest neighbour gets weight 1 (distance == rho)
    assert np.allclose(conn[np.arange(n), i[:, 0]].A1, 1.0)


def test_connectivities_match_scanpy():
    import anndata as ad
    import scanpy as sc

    x = np.random.default_rng(1).normal(size=(300, 6)).astype(np.float32)
    a = ad.AnnData(x)
    sc.pp.neighbors(a, n_neighbors=10, use_rep="X")
    ours = knn_connectivities(x, 10)
    ref = sp.csr_matrix(a.obsp["connectivities"])
    assert (ours != 0).sum() == (ref != 0).sum()
    assert abs(ours - ref).max() < 1e-4


def test_duplicated_cells_get_weight_one_without_overflow_warnings():
    import warnings

    # cell 0 has an exact copy (cell 1) and its other neighbours all at nearly one distance,
    # so its bandwidth is tiny: the copy's distance below rho must not overflow exp
    n, k = 12, 8
    dist = np.tile(np.r_[0.0, 0.0, 1.0 + 1e-9 * np.arange(k - 2)], (n, 1))
    idx = np.array([[i, *[(i + j) % n for j in range(1, k)]] for i in range(n)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        conn = fuzzy_connectivities(dist, idx)
    assert np.isfinite(conn.data).all() and conn.data.max() <= 1.0 + 1e-12
    assert conn[0, 1] == 1.0


def test_knn_puts_each_cell_first_even_with_duplicates():
    x = np.random.default_rng(2).normal(size=(50, 3))
    x[10] = x[11] = x[12]  # identical cells: any of them could come first
    dist, idx = knn(x, 5)
    assert np.array_equal(idx[:, 0], np.arange(50))
    assert np.all(dist[:, 0] == 0)
    assert np.all(np.diff(dist, axis=1) >= -1e-12)


def test_rna_graph_on_more_cells_than_scanpys_dense_path():
    # scanpy's neighbours fail here from 4,096 cells with scipy >= 1.15; ours must not
    rng = np.random.default_rng(3)
    n = 5000
    centres = rng.normal(scale=3, size=(5, 40))
    x = np.abs(centres[rng.integers(5, size=n)] + rng.normal(size=(n, 40)))
    lengths = build_rna_graph(sp.csr_matrix(x), rng.integers(2, size=n), 15, 10, "combat", 0)
    assert lengths.shape == (n, n)
    assert abs(lengths - lengths.T).max() < 1e-12
    assert lengths.data.min() >= 0.01 - 1e-9 and lengths.data.max() <= 1.01 + 1e-9
    degree = np.diff(lengths.indptr)
    assert degree.min() >= 14  # at least the 14 neighbours each cell chose


def test_knn_connectivities_with_one_neighbour():
    x = np.random.default_rng(4).normal(size=(10, 2))
    conn = knn_connectivities(x, 2)  # the cell itself plus its nearest neighbour
    assert conn.shape == (10, 10)
    assert np.all(np.diff(conn.indptr) >= 1)  # nobody is isolated
    assert np.allclose(conn.data, 1.0)  # the nearest neighbour always has weight 1


# ---------------------------------------------------------------------------------------------
# the one kNN search: exact / approximate, self handling, query vs reference
# ---------------------------------------------------------------------------------------------
def _clustered(n, seed, d=10, n_centres=8):
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(scale=5, size=(n_centres, d))
    labels = rng.integers(n_centres, size=n)
    return (centres[labels] + rng.normal(size=(n, d))).astype(np.float32), labels


def _brute(ref, query, k):
    """Reference answer: full distance matrix (small inputs only), stable sort."""
    d = np.sqrt(((query[:, None, :].astype(np.float64) - ref[None, :, :]) ** 2).sum(-1))
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(d, idx, axis=1), idx


def _recall(truth, found):
    k = truth.shape[1]
    return np.mean([len(set(t) & set(f)) / k for t, f in zip(truth, found, strict=True)])


@pytest.fixture(scope="module")
def approx_runs():
    """Exact and approximate answers on clustered data (pynndescent compiles once)."""
    x, _ = _clustered(2500, 0)
    q, _ = _clustered(400, 1)
    out = {}
    for mode in ("first", "exclude"):
        out[mode] = [knn(x, 15, seed=3, self_neighbor=mode, method=m) for m in ("exact", "approximate")]
    out["query"] = [knn(x, 15, seed=3, query=q, method=m) for m in ("exact", "approximate")]
    out["again"] = {
        "first": knn(x, 15, seed=3, method="approximate"),
        "query": knn(x, 15, seed=3, query=q, method="approximate"),
    }
    return x, q, out


@pytest.mark.parametrize("mode", ["first", "exclude", "query"])
def test_approximate_agrees_with_exact_on_clustered_data(approx_runs, mode):
    x, q, out = approx_runs
    (d_ex, i_ex), (d_ap, i_ap) = out[mode]
    n_rows = q.shape[0] if mode == "query" else x.shape[0]
    assert i_ap.shape == i_ex.shape == (n_rows, 15)
    assert d_ap.dtype == np.float64 and i_ap.dtype == np.int64
    assert _recall(i_ex, i_ap) > 0.95
    assert np.all(np.diff(d_ap, axis=1) >= -1e-6)  # sorted by distance
    # where both found the same neighbour they report the same distance
    same = i_ex == i_ap
    assert same.mean() > 0.9
    np.testing.assert_allclose(d_ap[same], d_ex[same], rtol=1e-4, atol=1e-4)


def test_approximate_self_handling_and_seed_reproducible(approx_runs):
    x, _, out = approx_runs
    n = x.shape[0]
    _, first = out["first"][1]
    _, excl = out["exclude"][1]
    assert np.array_equal(first[:, 0], np.arange(n))
    assert not (excl == np.arange(n)[:, None]).any()
    for key in ("first", "query"):
        ref = out[key][1] if key == "query" else out["first"][1]
        again = out["again"][key]
        assert np.array_equal(again[0], ref[0]) and np.array_equal(again[1], ref[1])


def test_query_against_reference_is_exact_below_threshold():
    ref, _ = _clustered(300, 2, d=4)
    query, _ = _clustered(50, 3, d=4)
    dist, idx = knn(ref, 7, query=query)
    d_true, i_true = _brute(ref, query, 7)
    assert idx.shape == (50, 7) and idx.max() < 300
    assert np.array_equal(idx, i_true)
    np.testing.assert_allclose(dist, d_true, rtol=1e-5, atol=1e-5)
    # k is capped at the reference size
    assert knn(ref[:5], 9, query=query)[1].shape == (50, 5)


def test_self_first_and_excluded_within_one_set():
    x = np.random.default_rng(5).normal(size=(80, 3))
    x[3] = x[4] = x[5] = x[6]  # four identical cells, more than k - 1
    d_first, i_first = knn(x, 3)
    d_excl, i_excl = knn(x, 3, self_neighbor="exclude")
    assert np.array_equal(i_first[:, 0], np.arange(80))
    assert not (i_excl == np.arange(80)[:, None]).any()
    assert i_excl.shape == (80, 3)
    # away from the (tied) duplicates, "first" is the cell itself then "exclude"'s first k-1
    ok = ~np.isin(i_first, [3, 4, 5, 6]).any(axis=1)
    assert ok.sum() > 60
    assert np.array_equal(i_first[ok, 1:], i_excl[ok, :2])
    np.testing.assert_allclose(d_first[ok, 1:], d_excl[ok, :2])
    # the same as scikit-learn without X (the semantics smoothing and clustering rely on)
    sk_d, sk_i = NearestNeighbors(n_neighbors=3).fit(x).kneighbors()
    assert np.array_equal(i_excl, sk_i) and np.array_equal(d_excl, sk_d)
    # "exclude" caps k at n - 1
    assert knn(x[:4], 10, self_neighbor="exclude")[1].shape == (4, 3)


def test_knn_rejects_bad_choices():
    x = np.zeros((5, 2))
    with pytest.raises(MinNetInputError, match="method"):
        knn(x, 2, method="fast")
    with pytest.raises(MinNetInputError, match="self_neighbor"):
        knn(x, 2, self_neighbor="last")
    with pytest.raises(MinNetInputError, match="at least 1"):
        knn(x, 0)
    with pytest.raises(MinNetInputError, match="at least 1"):
        knn(x[:1], 3, self_neighbor="exclude")


def test_auto_switches_at_exact_max_cells_for_every_mode(monkeypatch):
    calls = []
    real = neighbors._approximate

    def spy(x, k, seed, query):
        calls.append((x.shape[0], k, seed, query is None))
        return real(x, k, seed, query)

    monkeypatch.setattr(neighbors, "_approximate", spy)
    x = np.random.default_rng(6).normal(size=(60, 3)).astype(np.float32)
    monkeypatch.setattr(neighbors, "EXACT_MAX_CELLS", 60)
    knn(x, 4)
    knn(x, 4, query=x[:70])
    assert calls == []  # exact up to and including the threshold
    monkeypatch.setattr(neighbors, "EXACT_MAX_CELLS", 59)
    knn(x, 4, seed=2)
    knn(x, 4, seed=2, self_neighbor="exclude")
    knn(x, 4, seed=2, query=x[:10])
    assert calls == [(60, 4, 2, True), (60, 5, 2, True), (60, 4, 2, False)]
    # the size of the searched set decides, not that of the query
    calls.clear()
    knn(x[:10], 4, query=x)
    assert calls == []


def test_only_neighbors_module_builds_neighbour_indexes():
    root = Path(minnet.__file__).parent
    pattern = re.compile(r"\b(NearestNeighbors|NNDescent)\s*\(")
    offenders = [
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if p.name != "neighbors.py" and pattern.search(p.read_text())
    ]
    assert offenders == []


# ---------------------------------------------------------------------------------------------
# one Leiden: metrics.ari_over_resolutions scores tl.cluster's clustering
# ---------------------------------------------------------------------------------------------
def _overlapping(seed=0):
    """Overlapping blobs split across two objects: the clustering depends on graph and Leiden."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(4, size=300)
    x = rng.normal(size=(300, 6)) + 1.5 * np.eye(6)[truth]
    a, b = ad.AnnData(np.zeros((180, 1))), ad.AnnData(np.zeros((120, 1)))
    a.obsm["X_minnet"], b.obsm["X_minnet"] = x[:180], x[180:]
    return x, truth, a, b


@pytest.mark.parametrize(("resolution", "n_neighbors", "seed"), [(0.5, 15, 0), (1.2, 8, 4)])
def test_ari_over_resolutions_scores_the_clusters_tl_cluster_gives(resolution, n_neighbors, seed):
    x, truth, a, b = _overlapping()
    out = cluster([a, b], resolution=resolution, n_neighbors=n_neighbors, seed=seed)
    labels = np.concatenate([o.obs["minnet_leiden"].astype(str).to_numpy() for o in out])
    assert np.unique(labels).size > 2  # a non-trivial partition
    # scored against tl.cluster's own labels, the same clustering gives an ARI of exactly 1
    got = ari_over_resolutions(x, labels, resolutions=(resolution,), n_neighbors=n_neighbors,
                               seed=seed)
    assert got["max"] == 1.0
    # and against the truth the metric equals the ARI of tl.cluster's labels
    from sklearn.metrics import adjusted_rand_score

    vs_truth = ari_over_resolutions(x, truth, resolutions=(0.3, resolution), seed=seed,
                                    n_neighbors=n_neighbors)["per_resolution"]
    assert vs_truth.loc[resolution] == adjusted_rand_score(truth, labels)


def test_cluster_approximate_path_is_seeded(monkeypatch):
    monkeypatch.setattr(neighbors, "EXACT_MAX_CELLS", 100)  # force pynndescent on 300 cells
    x, truth, a, b = _overlapping(1)
    first = cluster([a, b], resolution=0.5, seed=2)
    again = cluster([a, b], resolution=0.5, seed=2)
    for u, v in zip(first, again, strict=True):
        assert u.obs["minnet_leiden"].tolist() == v.obs["minnet_leiden"].tolist()
    labels = np.concatenate([o.obs["minnet_leiden"].astype(str).to_numpy() for o in first])
    assert ari_over_resolutions(x, labels, resolutions=(0.5,), seed=2)["max"] == 1.0
