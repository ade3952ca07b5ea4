"""KNN smoothing in the co-embedding and RNA + ATAC mini-bulks."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp

from minnet import MinNetInputError
from minnet.tl._smooth import knn_connectivity, smooth

# ---------------------------------------------------------------------------------------------
# smooth
# ---------------------------------------------------------------------------------------------
# Four cells on a line at 0, 1, 3 and 10. With one neighbour: 0->1 (d=1), 1->0 (d=1),
# 2->1 (d=2), 3->2 (d=7).
POS = np.array([[0.0], [1.0], [3.0], [10.0]])
COUNTS = np.array([[1, 0, 0], [0, 2, 0], [3, 0, 1], [0, 5, 0]], dtype=np.float32)


def _line(x=COUNTS, sparse=True):
    a = ad.AnnData(X=sp.csr_matrix(x) if sparse else np.array(x))
    a.obsm["X_minnet"] = POS.astype(np.float32)
    return a


def test_smooth_exact_sums_with_self():
    out = smooth(_line(), n_neighbors=1, percentile=100)
    expected = np.array([[1, 2, 0], [1, 2, 0], [3, 2, 1], [3, 5, 1]], dtype=np.float32)
    got = out.layers["minnet_smoothed"]
    assert sp.issparse(got) and got.format == "csr"
    np.testing.assert_array_equal(got.toarray(), expected)
    assert out.uns["minnet_smoothed"]["n_neighbors"] == 1


def test_smooth_two_neighbours():
    # 2 neighbours: 0->{1,2}, 1->{0,2}, 2->{1,0}, 3->{2,1}
    out = smooth(_line(), n_neighbors=2, percentile=100)
    x = COUNTS
    expected = np.stack(
        [x[0] + x[1] + x[2], x[1] + x[0] + x[2], x[2] + x[1] + x[0], x[3] + x[2] + x[1]]
    )
    np.testing.assert_array_equal(out.layers["minnet_smoothed"].toarray(), expected)


def test_percentile_drops_far_neighbours():
    # KNN distances [1, 1, 2, 7]; the 75th percentile is 3.25, so only 3->2 (d=7) is dropped
    out = smooth(_line(), n_neighbors=1, percentile=75)
    got = out.layers["minnet_smoothed"].toarray()
    np.testing.assert_array_equal(got[3], COUNTS[3])  # only itself left
    np.testing.assert_array_equal(got[2], COUNTS[2] + COUNTS[1])
    assert out.uns["minnet_smoothed"]["distance_threshold"] == pytest.approx(3.25)
    a, thr = knn_connectivity(POS, 1, 75)
    assert thr == pytest.approx(3.25)
    np.testing.assert_array_equal(
        a.toarray(), [[1, 1, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1]]
    )


def test_smooth_does_not_modify_input_and_copy_false_writes():
    a = _line()
    before = a.X.toarray().copy()
    out = smooth(a, n_neighbors=1, key_added="sm")
    assert "sm" not in a.layers and "sm" not in a.uns
    np.testing.assert_array_equal(a.X.toarray(), before)
    assert out is not a and "sm" in out.layers
    assert smooth(a, n_neighbors=1, key_added="sm", copy=False) is None
    assert "sm" in a.layers
    np.testing.assert_array_equal(a.layers["sm"].toarray(), out.layers["sm"].toarray())
    np.testing.assert_array_equal(a.X.toarray(), before)


def test_smooth_dense_stays_dense_and_layer_input():
    a = _line(sparse=False)
    a.layers["counts"] = a.X.copy()
    a.X = np.zeros_like(a.X)
    out = smooth(a, n_neighbors=1, percentile=100, layer="counts")
    got = out.layers["minnet_smoothed"]
    assert isinstance(got, np.ndarray)
    np.testing.assert_array_equal(got[0], COUNTS[0] + COUNTS[1])


def test_smooth_errors():
    a = _line()
    with pytest.raises(MinNetInputError, match="obsm has no 'X_other'"):
        smooth(a, use_rep="X_other")
    with pytest.raises(MinNetInputError, match="n_neighbors"):
        smooth(a, n_neighbors=4)
    with pytest.raises(MinNetInputError, match="percentile"):
        smooth(a, n_neighbors=1, percentile=0)
    with pytest.raises(MinNetInputError, match="layer 'nope'"):
        smooth(a, n_neighbors=1, layer="nope")
    bad = _line(x=-COUNTS)
    with pytest.raises(MinNetInputError, match="negative"):
        smooth(bad, n_neighbors=1)


# ---------------------------------------------------------------------------------------------
# minibulk
# ---------------------------------------------------------------------------------------------
