"""ComBat, scaling and PCA from sparse products (minnet.pp._corrected_pca) against scanpy."""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scanpy as sc
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors

import minnet
from minnet import graph
from minnet.pp._corrected_pca import _batch_moments, _combat_affine, corrected_pcs


@pytest.fixture(scope="module")
def lognorm():
    sim = minnet.datasets.simulate_multiome(n_cells=900, n_cell_types=5, n_batches=3,
                                            n_genes=300, seed=4)
    a = sim.rna.copy()
    sc.pp.normalize_total(a, target_sum=1e4)
    sc.pp.log1p(a)
    return sp.csr_matrix(a.X, dtype=np.float32), pd.Categorical(sim.rna.obs["batch"])


def _scanpy(x: sp.csr_matrix, batch: pd.Categorical | None, clip: float | None,
            n_comps: int) -> ad.AnnData:
    d = ad.AnnData(x.toarray())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if batch is not None:
            d.obs["batch"] = batch
            sc.pp.combat(d, key="batch")
        sc.pp.scale(d, max_value=clip)
        sc.tl.pca(d, n_comps=n_comps, svd_solver="arpack", random_state=0)
    return d


def _neighbours(z: np.ndarray, k: int = 15) -> np.ndarray:
    return NearestNeighbors(n_neighbors=k).fit(z).kneighbors(return_distance=False)


def test_combat_from_batch_moments_equals_scanpys_combat(lognorm):
    x, batch = lognorm
    want = ad.AnnData(x.toarray())
    want.obs["batch"] = batch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.pp.combat(want, key="batch")
    counts, mean, var = _batch_moments(sp.csr_matrix(x, dtype=np.float64), batch.codes)
    alpha, beta = _combat_affine(counts, mean, var)
    dense = x.toarray().astype(np.float64)
    got = np.empty_like(dense)
    for g in range(len(counts)):
        rows = batch.codes == g
        got[rows] = dense[rows] * alpha[g] + beta[g]
    np.testing.assert_allclose(got, want.X, atol=1e-8)


@pytest.mark.parametrize("combat", [True, False])
def test_pcs_equal_scanpys_dense_route_without_clipping(lognorm, combat):
    x, batch = lognorm
    want = _scanpy(x, batch if combat else None, None, 20).obsm["X_pca"]
    codes = batch.codes if combat else np.zeros(x.shape[0], dtype=np.int64)
    got = corrected_pcs(x, codes, 20, combat, seed=0)
    np.testing.assert_allclose(np.linalg.norm(got, axis=0), np.linalg.norm(want, axis=0),
                               rtol=1e-4)
    pairs = zip(_neighbours(got), _neighbours(want), strict=True)
    same = [len(set(a) & set(b)) / 15 for a, b in pairs]
    assert np.mean(same) > 0.99


class _NoDense(sp.csr_matrix):
    def toarray(self, *args, **kwargs):  # a dense copy is what the sparse route avoids
        raise AssertionError("densified")


def test_large_data_take_the_sparse_route_and_never_densify(lognorm, monkeypatch):
    x, batch = lognorm
    dense = graph.build_rna_graph(x, np.asarray(batch), seed=0)
    monkeypatch.setattr(graph, "DENSE_MAX_CELLS", 100)
    sparse = graph.build_rna_graph(_NoDense(x), np.asarray(batch), seed=0)
    assert sparse.shape == dense.shape and (sparse != sparse.T).nnz == 0
    # the same graph up to scanpy's clipping of scaled values at ±10 in the dense route
    a, b = (dense > 0).astype(int), (sparse > 0).astype(int)
    assert a.multiply(b).sum() / a.sum() > 0.6


def test_operator_equals_the_dense_corrected_matrix_in_any_block_size(lognorm, monkeypatch):
    """``Z v`` and ``Z^T u`` from the one scaled sparse matrix equal the dense affine map,
    whatever the row blocks it is filled in (cells of the three batches interleaved)."""
    from minnet.pp import _corrected_pca as cp

    x, batch = lognorm
    codes = np.asarray(batch.codes, dtype=np.int64)
    rng = np.random.default_rng(0)
    a = rng.uniform(0.5, 2.0, (3, x.shape[1]))
    b = rng.normal(size=(3, x.shape[1]))
    dense = x.toarray().astype(np.float64) * a[codes] + b[codes]
    v, u = rng.normal(size=(x.shape[1], 4)), rng.normal(size=(x.shape[0], 4))
    for rows in (7, 1 << 16):
        monkeypatch.setattr(cp, "MOMENT_ROWS", rows)
        op = cp._affine_operator(x, codes, a, b)
        np.testing.assert_allclose(op.matmat(v), dense @ v, rtol=1e-10, atol=1e-9)
        np.testing.assert_allclose(op.rmatmat(u), dense.T @ u, rtol=1e-10, atol=1e-9)
