"""tl.minibulk: mini-bulks of RNA and ATAC cells in the co-embedding."""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from minnet import MinNetInputError
from minnet.tl._minibulk import _allocate, auto_n_bulks, minibulk

# ---------------------------------------------------------------------------------------------
# smooth
# ---------------------------------------------------------------------------------------------
# Four cells on a line at 0, 1, 3 and 10. With one neighbour: 0->1 (d=1), 1->0 (d=1),
# 2->1 (d=2), 3->2 (d=7).


def _pair(seed=0, n_rna=120, n_atac=90, n_genes=30, n_peaks=40):
    """Unpaired RNA and ATAC cells of two groups in a 4-d embedding with 3 blobs per group."""
    rng = np.random.default_rng(seed)

    def make(n, n_feat, prefix):
        group = rng.choice(["A", "B"], size=n, p=[0.7, 0.3])
        blob = rng.integers(0, 3, n)
        centre = np.where(group[:, None] == "A", 0.0, 20.0) + blob[:, None] * np.array(
            [4.0, 0, 0, 0]
        )
        z = centre + rng.normal(0, 0.5, (n, 4))
        x = sp.csr_matrix(rng.poisson(1.0, (n, n_feat)).astype(np.float32))
        a = ad.AnnData(
            X=x,
            obs=pd.DataFrame(
                {"cell_type": pd.Categorical(group)}, index=[f"{prefix}{i}" for i in range(n)]
            ),
        )
        a.obsm["X_minnet"] = z.astype(np.float32)
        return a

    return make(n_rna, n_genes, "r"), make(n_atac, n_peaks, "a")


def _members(bulk):
    info = bulk.uns["minnet_minibulk"]
    return pd.Series(info["bulks"], index=info["cells"])


def test_minibulk_groups_modalities_and_sums():
    rna, atac = _pair()
    rb, ab = minibulk(rna, atac, n_bulks=12)
    assert list(rb.obs_names) == list(ab.obs_names)
    assert sp.issparse(rb.X) and sp.issparse(ab.X)
    assert rb.n_obs <= 12 and rb.n_obs >= 6
    assert (rb.obs["n_cells_rna"] >= 1).all() and (rb.obs["n_cells_atac"] >= 1).all()
    for bulk, cells, obj in ((rb, _members(rb), rna), (ab, _members(ab), atac)):
        labels = obj.obs["cell_type"].astype(str)
        for b in bulk.obs_names:
            mem = cells.index[cells.to_numpy() == b]
            # never mixes groups
            assert set(labels[mem]) == {bulk.obs.loc[b, "cell_type"]}
            # the bulk is the sum of its members
            np.testing.assert_allclose(
                bulk[b].X.toarray().ravel(), np.asarray(obj[mem].X.sum(axis=0)).ravel()
            )
        col = "n_cells_rna" if obj is rna else "n_cells_atac"
        assert cells.value_counts().reindex(bulk.obs_names).tolist() == bulk.obs[col].tolist()
    # inputs untouched
    assert "minnet_minibulk" not in rna.uns and rna.obs.shape[1] == 1


def test_minibulk_deterministic_given_seed():
    rna, atac = _pair(seed=3)
    r1, a1 = minibulk(rna, atac, n_bulks=20, seed=5)
    r2, a2 = minibulk(rna, atac, n_bulks=20, seed=5)
    np.testing.assert_array_equal(r1.X.toarray(), r2.X.toarray())
    np.testing.assert_array_equal(a1.X.toarray(), a2.X.toarray())
    pd.testing.assert_frame_equal(r1.obs, r2.obs)


def test_minibulk_tuple_groupby_and_layers():
    rna, atac = _pair(seed=1)
    atac.obs = atac.obs.rename(columns={"cell_type": "cell_type_pred"})
    atac.layers["counts"] = atac.X.copy()
    atac.X = sp.csr_matrix(atac.shape, dtype=np.float32)
    rb, ab = minibulk(
        rna, atac, n_bulks=6, groupby=("cell_type", "cell_type_pred"), atac_layer="counts"
    )
    assert "cell_type" in rb.obs and ab.X.sum() > 0
    with pytest.raises(MinNetInputError, match="'cell_type' is not in atac.obs"):
        minibulk(rna, atac, n_bulks=6)


def test_minibulk_without_groups_and_dense_input():
    rna, atac = _pair(seed=4)
    rna.X = rna.X.toarray()
    rb, ab = minibulk(rna, atac, n_bulks=5, groupby=None)
    assert sp.issparse(rb.X) and set(rb.obs["group"]) == {"all"}
    assert rb.obs["n_cells_rna"].sum() <= rna.n_obs
    np.testing.assert_allclose(
        rb.X.sum(), rna.X[np.isin(rna.obs_names, rb.uns["minnet_minibulk"]["cells"])].sum()
    )


def test_minibulk_drops_clusters_of_one_modality(caplog):
    rna, atac = _pair(seed=2)
    # move the RNA cells of group B far away: k-means then separates them from B's ATAC cells
    z = rna.obsm["X_minnet"].copy()
    z[rna.obs["cell_type"].to_numpy() == "B"] += 1000.0
    rna.obsm["X_minnet"] = z
    with caplog.at_level(logging.WARNING, logger="minnet"):
        rb, ab = minibulk(rna, atac, n_bulks=10)
    assert "only one modality" in caplog.text
    assert rb.n_obs < 10
    assert (rb.obs["n_cells_rna"] >= 1).all() and (rb.obs["n_cells_atac"] >= 1).all()


def test_minibulk_errors():
    rna, atac = _pair()
    n_a = int((atac.obs["cell_type"] == "A").sum())
    n_b = int((atac.obs["cell_type"] == "B").sum())
    cap = min(n_a, int((rna.obs["cell_type"] == "A").sum())) + min(
        n_b, int((rna.obs["cell_type"] == "B").sum())
    )
    with pytest.raises(MinNetInputError, match=f"at most {cap} bulks"):
        minibulk(rna, atac, n_bulks=cap + 1)
    with pytest.raises(MinNetInputError, match="smaller than the number of groups"):
        minibulk(rna, atac, n_bulks=1)
    with pytest.raises(MinNetInputError, match="'donor' is not in rna.obs"):
        minibulk(rna, atac, groupby="donor")
    with pytest.raises(MinNetInputError, match="obsm has no 'X_pca'"):
        minibulk(rna, atac, use_rep="X_pca")
    frac = atac.copy()
    frac.X = frac.X * 0.5
    with pytest.raises(MinNetInputError, match="does not look like counts"):
        minibulk(rna, frac, n_bulks=4)


def test_minibulk_argument_errors():
    rna, atac = _pair()
    with pytest.raises(MinNetInputError, match=r"\(rna_column, atac_column\)"):
        minibulk(rna, atac, n_bulks=4, groupby=("cell_type",))
    with pytest.raises(MinNetInputError, match="n_bulks must be a positive integer or 'auto'"):
        minibulk(rna, atac, n_bulks=2.5)
    with pytest.raises(MinNetInputError, match="seed must be a non-negative integer"):
        minibulk(rna, atac, n_bulks=4, seed=-1)
    wide = atac.copy()
    wide.obsm["X_minnet"] = np.hstack([wide.obsm["X_minnet"], wide.obsm["X_minnet"]])
    with pytest.raises(MinNetInputError, match="differ in width"):
        minibulk(rna, wide, n_bulks=4)


def test_allocate_proportional_with_floor_and_cap():
    alloc = _allocate(10, np.array([300.0, 100.0, 1.0]), np.array([100, 100, 100]))
    assert alloc.sum() == 10 and alloc[2] == 1 and alloc[0] > alloc[1] >= 2
    capped = _allocate(10, np.array([100.0, 1.0]), np.array([3, 100]))
    assert capped.tolist() == [3, 7]


def test_auto_n_bulks_rule():
    """One bulk per 10 cells of the smaller modality, at most 100, one per group at least."""
    one = np.array
    assert auto_n_bulks(one([1_000]), one([5_000])) == 100
    assert auto_n_bulks(one([20_000]), one([30_000])) == 100  # larger bulks, not more
    assert auto_n_bulks(one([400]), one([300])) == 30
    assert auto_n_bulks(one([5] * 12), one([50] * 12)) == 12  # one per group
    assert auto_n_bulks(one([1, 1]), one([9, 9])) == 2  # never more than the cells allow
    rna, atac = _pair()  # 120 RNA and 90 ATAC cells in two groups
    rb, ab = minibulk(rna, atac)
    assert rb.uns["minnet_minibulk"]["n_bulks_requested"] == 9
    fixed, _ = minibulk(rna, atac, n_bulks=9)
    pd.testing.assert_frame_equal(rb.obs, fixed.obs)
