"""kNN graphs with UMAP connectivities (minnet.neighbors) and the RNA graph built on them."""

import numpy as np
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors

from minnet.graph import build_rna_graph
from minnet.neighbors import fuzzy_connectivities, knn, knn_connectivities


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
