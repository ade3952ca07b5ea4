"""tl.embed: the co-embedding written into obsm."""

from __future__ import annotations

import numpy as np

import minnet


def test_tl_embed_copy_semantics(small_model, sim, sim_split):
    q = sim.rna[~sim_split].copy()
    out = minnet.tl.embed(small_model, q, "rna", key_added="X_test")
    assert "X_test" in out.obsm and "X_test" not in q.obsm  # caller's object untouched
    assert minnet.tl.embed(small_model, q, "rna", copy=False) is None
    assert "X_minnet" in q.obsm
    np.testing.assert_allclose(q.obsm["X_minnet"], out.obsm["X_test"])
