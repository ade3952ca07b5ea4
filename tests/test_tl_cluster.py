"""tl.cluster: Leiden clusters on the joint co-embedding of several objects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from minnet._utils import MinNetInputError
from minnet.tl._cluster import cluster

# ---------------------------------------------------------------------------------------------
# match_cells
# ---------------------------------------------------------------------------------------------


def _blobs(make_embedded, seed=0):
    """Two well separated blobs, each split across an 'rna' (60 cells) and 'atac' (40) object."""
    rng = np.random.default_rng(seed)
    truth = np.repeat([0, 1], 50)
    x = rng.normal(scale=0.5, size=(100, 8)) + np.where(truth[:, None] == 0, 0.0, 20.0)
    order = rng.permutation(100)
    r, a = order[:60], order[60:]
    rna = make_embedded(x[r], names=[f"r{i}" for i in range(60)])
    atac = make_embedded(x[a], names=[f"a{i}" for i in range(40)])
    return rna, atac, truth[r], truth[a]


def test_cluster_joint_blobs_list_copy(make_embedded):
    rna, atac, t_r, t_a = _blobs(make_embedded)
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


def test_cluster_dict_in_place_and_shared_categories(make_embedded):
    rna, atac, t_r, t_a = _blobs(make_embedded, 1)
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


def test_cluster_errors(make_embedded):
    rna, atac, _, _ = _blobs(make_embedded)
    with pytest.raises(MinNetInputError, match="list or dict"):
        cluster(rna)
    with pytest.raises(MinNetInputError, match="empty"):
        cluster([])
    with pytest.raises(MinNetInputError, match="minnet.tl.embed"):
        cluster([rna, atac], use_rep="X_missing")
    with pytest.raises(MinNetInputError, match="different widths"):
        cluster([rna, make_embedded(np.zeros((5, 3)))])
    bad = atac.copy()
    bad.obsm["X_minnet"][3, 1] = np.inf
    with pytest.raises(MinNetInputError, match="NaN or infinite"):
        cluster({"rna": rna, "atac": bad})
    with pytest.raises(MinNetInputError, match="resolution"):
        cluster([rna, atac], resolution=0)
    with pytest.raises(MinNetInputError, match="at least 3 cells"):
        cluster([make_embedded(np.zeros((2, 4)))])
