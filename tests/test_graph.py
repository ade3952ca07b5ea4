"""The RNA KNN graph whose shortest paths set the margins."""

from __future__ import annotations

import numpy as np
import pytest

from minnet import MinNetInputError
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


def test_a_one_cell_batch_is_refused_before_combat(sim):
    x = log_normalize(sim.rna.X[:100])
    batches = np.where(np.arange(100) == 7, "lonely", "b1")
    with pytest.raises(MinNetInputError, match=r"hold a single cell \(e.g. \['lonely'\]\)"):
        build_rna_graph(x, batches, n_neighbors=10, n_pcs=10)
    # without ComBat the graph is built (the batch only labels the cells)
    g = build_rna_graph(x, batches, n_neighbors=10, n_pcs=10, batch_correction="none")
    assert np.isfinite(g.data).all() and g.shape == (100, 100)
