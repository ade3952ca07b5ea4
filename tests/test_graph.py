"""The RNA KNN graph whose shortest paths set the margins."""

from __future__ import annotations

from minnet.graph import build_rna_graph
from minnet.pp import log_normalize


def test_rna_graph_edge_lengths(sim):
    x = log_normalize(sim.rna.X[:300])
    g = build_rna_graph(x, sim.rna.obs["batch"].to_numpy()[:300], n_neighbors=10, n_pcs=20)
    assert g.shape == (300, 300)
    assert (abs(g - g.T) > 1e-9).nnz == 0  # symmetric
    assert g.data.min() >= 0.01 - 1e-9 and g.data.max() <= 1.01 + 1e-9
    assert g.diagonal().sum() == 0
    assert g.nnz >= 300 * 9  # every cell keeps its neighbours
