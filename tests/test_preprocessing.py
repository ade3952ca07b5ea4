"""Normalisation, scaling, feature selection and alignment."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from minnet import MinNetInputError
from minnet.pp import (
    Standardizer,
    align_features,
    clr_normalize,
    log_normalize,
    normalized_matrix,
    scale,
    select_features,
)


def test_log_normalize_values():
    x = sp.csr_matrix(np.array([[1, 3, 0], [0, 0, 0], [2, 2, 4]], dtype=float))
    out = log_normalize(x, target_sum=10).toarray()
    expected = np.log1p(np.array([[2.5, 7.5, 0], [0, 0, 0], [2.5, 2.5, 5]]))
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert out.dtype == np.float32


def test_clr_matches_seurat_formula():
    x = np.array([[0, 5, 10, 1], [3, 3, 3, 3]], dtype=float)
    out = clr_normalize(x).toarray()
    for i in range(2):
        g = np.exp(np.log1p(x[i]).sum() / x.shape[1])
        np.testing.assert_allclose(out[i], np.log1p(x[i] / g), rtol=1e-5)
    assert out[0, 0] == 0  # zeros stay zero: sparse in, sparse out


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float32, np.float64])
@pytest.mark.parametrize("sparse", [True, False])
def test_normalized_matrix_accepts_dtypes(dtype, sparse):
    x = np.array([[1, 0, 2], [0, 4, 0]], dtype=dtype)
    a = ad.AnnData(X=sp.csr_matrix(x) if sparse else x)
    out = normalized_matrix(a, "rna")
    np.testing.assert_allclose(out.toarray(), log_normalize(x.astype(float)).toarray(), rtol=1e-6)


def test_normalized_matrix_errors():
    a = ad.AnnData(X=np.array([[1.0, np.nan], [0, 2]]))
    with pytest.raises(MinNetInputError, match="NaN"):
        normalized_matrix(a, "rna")
    a = ad.AnnData(X=np.array([[1.0, -1], [0, 2]]))
    with pytest.raises(MinNetInputError, match="negative"):
        normalized_matrix(a, "rna")
    a = ad.AnnData(X=np.array([[1.5, 0.2], [0, 2]]))
    with pytest.raises(MinNetInputError, match="normalized=True"):
        normalized_matrix(a, "rna")
    # explicitly normalised input is taken as is (negatives allowed)
    out = normalized_matrix(ad.AnnData(X=np.array([[1.5, -0.2]])), "rna", normalized=True)
    np.testing.assert_allclose(out.toarray(), [[1.5, -0.2]], rtol=1e-6)
    with pytest.raises(MinNetInputError, match="layer"):
        normalized_matrix(a, "rna", layer="counts")
    with pytest.raises(MinNetInputError, match="modality"):
        normalized_matrix(a, "protein")


def test_standardizer_per_group_and_clip(rng):
    x = rng.poisson(2.0, size=(200, 5)).astype(np.float32)
    x[:100] += 5  # group-specific shift
    x[0, 0] = 1000  # an outlier that must be clipped
    groups = np.repeat(["a", "b"], 100)
    out = scale(sp.csr_matrix(x), groups, max_value=10)
    assert out.max() <= 10 and out.min() >= -10
    for g in ("a", "b"):
        sub = out[groups == g][:, 1:]
        np.testing.assert_allclose(sub.mean(axis=0), 0, atol=1e-5)
        np.testing.assert_allclose(sub.std(axis=0, ddof=1), 1, atol=1e-4)
    st = Standardizer.fit(sp.csr_matrix(np.zeros((4, 2), dtype=np.float32)))
    assert np.all(st.transform_rows(sp.csr_matrix(np.zeros((4, 2))), np.arange(4)) == 0)


def test_align_features_order_and_missing(caplog):
    x = sp.csr_matrix(np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32))
    out, missing = align_features(x, ["a", "b", "c"], ["c", "z", "a"], min_overlap=0.5)
    np.testing.assert_array_equal(out.toarray(), [[3, 0, 1], [6, 0, 4]])
    assert missing == pytest.approx(1 / 3)
    assert "lacks 1 of the model's 3 features" in caplog.text
    with pytest.raises(MinNetInputError, match="shares only 0"):
        align_features(x, ["a", "b", "c"], ["x", "y"])
    with pytest.raises(MinNetInputError, match="duplicated"):
        align_features(x, ["a", "a", "c"], ["a"])


def test_select_features_batches_and_extra(rng):
    n, p = 400, 300
    mu = rng.gamma(2.0, 1.0, size=p)
    state = np.where(rng.random((n, 1)) < 0.5, 6.0, 0.15)  # a bimodal program ...
    lam = np.tile(mu, (n, 1))
    lam[:, :20] *= state  # ... that makes the first 20 genes overdispersed at any mean
    x = rng.poisson(lam).astype(np.float32)
    names = [f"g{i}" for i in range(p)]
    lognorm = log_normalize(x)
    batches = np.repeat(["b1", "b2"], n // 2)
    feats = select_features(lognorm, names, n_top=50, batches=batches, extra=["g299", "nope"])
    assert "g299" in feats and "nope" not in feats
    assert len(feats) <= 51
    assert sum(f in feats for f in names[:20]) >= 15  # the planted variable genes are found
    assert feats == [f for f in names if f in set(feats)]  # kept in the data's order
    assert select_features(lognorm, names, n_top=1000) == names  # fewer genes than n_top: all


def test_inputs_not_modified():
    x = sp.csr_matrix(np.array([[1, 0, 2], [0, 4, 0]], dtype=np.float32))
    a = ad.AnnData(X=x.copy(), obs=pd.DataFrame(index=["c1", "c2"]))
    before = a.X.toarray().copy()
    normalized_matrix(a, "rna")
    normalized_matrix(a, "adt")
    np.testing.assert_array_equal(a.X.toarray(), before)
