"""Cross-modality cell matching and joint Leiden clustering of the co-embedding."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from minnet._utils import MinNetInputError
from minnet.tl._cluster import cluster
from minnet.tl._match import match_cells


def _obj(z, names=None, rep="X_minnet"):
    z = np.asarray(z, dtype=np.float32)
    a = ad.AnnData(X=np.zeros((len(z), 1), dtype=np.float32))
    if names is not None:
        a.obs_names = list(names)
    a.obsm[rep] = z
    return a


# ---------------------------------------------------------------------------------------------
# match_cells
# ---------------------------------------------------------------------------------------------
@pytest.fixture()
def pair():
    # r0 -> o0 (distance 5 = 3-4-5), r1 -> o1 (1), r2 -> o1 (2): o1's nearest RNA cell is r1,
    # so (r2, o1) is one-sided; o2 is nobody's partner.
    rna = _obj([[0, 0], [10, 0], [12, 0]], names=["r0", "r1", "r2"])
    oth = _obj([[3, 4], [11, 0], [50, 50]], names=["o0", "o1", "o2"])
    return rna, oth


def test_match_cells_nearest_partner_and_distance(pair):
    rna, oth = pair
    before = rna.obsm["X_minnet"].copy()
    res = match_cells(rna, oth)
    assert list(res.columns) == ["rna_cell", "other_cell", "distance", "rank"]
    assert res["rna_cell"].tolist() == ["r0", "r1", "r2"]
    assert res["other_cell"].tolist() == ["o0", "o1", "o1"]
    np.testing.assert_allclose(res["distance"].to_numpy(), [5.0, 1.0, 1.0])
    assert res["rank"].tolist() == [1, 1, 1]
    np.testing.assert_array_equal(rna.obsm["X_minnet"], before)  # input untouched


def test_match_cells_mutual_removes_one_sided_pair(pair):
    rna, oth = pair
    oth.obsm["X_minnet"][1] = [10.5, 0.0]  # r1 at 0.5, r2 at 1.5: (r2, o1) is one-sided
    res = match_cells(rna, oth, mutual=True)
    assert list(zip(res["rna_cell"], res["other_cell"], strict=True)) == [
        ("r0", "o0"),
        ("r1", "o1"),
    ]
    np.testing.assert_allclose(res["distance"].to_numpy(), [5.0, 0.5])
    # each cell appears at most once among mutual nearest neighbours
    assert res["rna_cell"].is_unique and res["other_cell"].is_unique


def test_match_cells_k_neighbours_ranked(pair):
    rna, oth = pair
    res = match_cells(rna, oth, n_neighbors=2)
    r0 = res[res["rna_cell"] == "r0"]
    assert r0["other_cell"].tolist() == ["o0", "o1"]
    assert r0["rank"].tolist() == [1, 2]
    np.testing.assert_allclose(r0["distance"].to_numpy(), [5.0, 11.0])
    assert len(res) == 6
    # mutual with k=2: o1's two nearest RNA cells are r1 and r2 -> both kept; r0-o1 is not
    mut = match_cells(rna, oth, n_neighbors=2, mutual=True)
    got = set(zip(mut["rna_cell"], mut["other_cell"], strict=True))
    assert ("r1", "o1") in got and ("r2", "o1") in got and ("r0", "o1") not in got
    assert ("r0", "o0") in got
    # n_neighbors larger than the other object is capped
    assert len(match_cells(rna, oth, n_neighbors=10)) == 9


def test_match_cells_errors(pair):
    rna, oth = pair
    with pytest.raises(MinNetInputError, match="minnet.tl.embed"):
        match_cells(rna, _obj([[0.0, 0.0]], rep="X_other"))
    with pytest.raises(MinNetInputError, match="different widths"):
        match_cells(rna, _obj(np.zeros((2, 3))))
    bad = oth.copy()
    bad.obsm["X_minnet"][0, 0] = np.nan
    with pytest.raises(MinNetInputError, match="NaN or infinite"):
        match_cells(rna, bad)
    with pytest.raises(MinNetInputError, match="n_neighbors"):
        match_cells(rna, oth, n_neighbors=0)
    with pytest.raises(MinNetInputError, match="AnnData"):
        match_cells(rna, oth.obsm["X_minnet"])


# ---------------------------------------------------------------------------------------------
# cluster
# ---------------------------------------------------------------------------------------------
def _blobs(seed=0):
    """Two well separated blobs, each split across an 'rna' (60 cells) and 'atac' (40) object."""
    rng = np.random.default_rng(seed)
    truth = np.repeat([0, 1], 50)
    x = rng.normal(scale=0.5, size=(100, 8)) + np.where(truth[:, None] == 0, 0.0, 20.0)
    order = rng.permutation(100)
    r, a = order[:60], order[60:]
    rna = _obj(x[r], names=[f"r{i}" for i in range(60)])
    atac = _obj(x[a], names=[f"a{i}" for i in range(40)])
    return rna, atac, truth[r], truth[a]


def test_cluster_joint_blobs_list_copy():
    rna, atac, t_r, t_a = _blobs()
    res = cluster([rna, atac], resolution=0.1)
    assert isinstance(res, list) and len(res) == 2
    out_r, out_a = res
    assert out_r is not rna and "minnet_leiden" not in rna.obs and "minnet_leiden" not in atac.obs
    lab_r, lab_a = out_r.obs["minnet_leiden"], out_a.obs["minnet_leiden"]
    assert isinstance(lab_r.dtype, pd.CategoricalDtype)
    assert list(lab_r.cat.categories) == list(lab_a.cat.categories) == ["0", "1"]
    both = np.concatenate([lab_r.astype(str), lab_a.astype(str)])
    assert adjusted_rand_score(np.concatenate([t_r, t_a]), both) == pytest.approx(1.0)
    # the same blob gets the same cluster name in both objects
    for blob in (0, 1):
        assert set(lab_r[t_r == blob]) == set(lab_a[t_a == blob])
        assert len(set(lab_r[t_r == blob])) == 1
    assert out_r.uns["minnet_leiden"]["params"]["resolution"] == 0.1
    # deterministic given the seed
    again = cluster([rna, atac], resolution=0.1)
    assert (again[0].obs["minnet_leiden"] == lab_r).all()


def test_cluster_dict_in_place_and_shared_categories():
    rna, atac, t_r, t_a = _blobs(1)
    atac_one_blob = atac[t_a == 1].copy()  # a cluster absent from one object keeps its category
    objs = {"rna": rna, "atac": atac_one_blob}
    out = cluster(objs, resolution=0.1, key_added="cl", copy=True)
    assert isinstance(out, dict) and list(out) == ["rna", "atac"]
    assert list(out["atac"].obs["cl"].cat.categories) == ["0", "1"]
    assert out["atac"].obs["cl"].nunique() == 1
    assert "cl" not in rna.obs
    assert cluster(objs, resolution=0.1, key_added="cl", copy=False) is None
    assert rna.obs["cl"].tolist() == out["rna"].obs["cl"].tolist()
    assert atac_one_blob.obs["cl"].tolist() == out["atac"].obs["cl"].tolist()
    # tuples come back as tuples
    assert isinstance(cluster((rna, atac), resolution=0.1), tuple)


def test_cluster_errors():
    rna, atac, _, _ = _blobs()
    with pytest.raises(MinNetInputError, match="list or dict"):
        cluster(rna)
    with pytest.raises(MinNetInputError, match="empty"):
        cluster([])
    with pytest.raises(MinNetInputError, match="minnet.tl.embed"):
        cluster([rna, atac], use_rep="X_missing")
    with pytest.raises(MinNetInputError, match="different widths"):
        cluster([rna, _obj(np.zeros((5, 3)))])
    bad = atac.copy()
    bad.obsm["X_minnet"][3, 1] = np.inf
    with pytest.raises(MinNetInputError, match="NaN or infinite"):
        cluster({"rna": rna, "atac": bad})
    with pytest.raises(MinNetInputError, match="resolution"):
        cluster([rna, atac], resolution=0)
    with pytest.raises(MinNetInputError, match="at least 3 cells"):
        cluster([_obj(np.zeros((2, 4)))])
