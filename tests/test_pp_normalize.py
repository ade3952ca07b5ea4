"""Normalisation, scaling, feature selection and alignment."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from minnet import MinNetInputError
from minnet.pp import (
    clr_normalize,
    log_normalize,
    normalized_matrix,
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


def test_inputs_not_modified():
    x = sp.csr_matrix(np.array([[1, 0, 2], [0, 4, 0]], dtype=np.float32))
    a = ad.AnnData(X=x.copy(), obs=pd.DataFrame(index=["c1", "c2"]))
    before = a.X.toarray().copy()
    normalized_matrix(a, "rna")
    normalized_matrix(a, "adt")
    np.testing.assert_array_equal(a.X.toarray(), before)


def test_normalized_true_on_raw_counts_warns(caplog):
    counts = ad.AnnData(X=sp.csr_matrix(np.array([[0, 3, 250], [12, 0, 1]], dtype=np.float32)))
    out = normalized_matrix(counts, "rna", normalized=True, what="rna")
    np.testing.assert_array_equal(out.toarray(), counts.X.toarray())  # still used as given
    assert "whole numbers up to 250 although normalized=True" in caplog.text
    assert "normalized=False" in caplog.text
    caplog.clear()
    normalized_matrix(ad.AnnData(X=log_normalize(counts.X)), "rna", normalized=True)
    normalized_matrix(ad.AnnData(X=np.array([[0.0, 1.0], [1.0, 0.0]])), "adt", normalized=True)
    assert caplog.text == ""  # log-normalised values and 0/1 data are not counts


def test_log_normalize_scales_in_place_of_a_copy_and_is_canonical():
    """The rows are scaled in the normalised copy itself (no diagonal product): the same values
    as the product, sorted indices, empty cells empty, the input untouched."""
    from minnet.pp._normalize import log_normalize_owned

    rng = np.random.default_rng(0)
    x = sp.random(300, 40, density=0.2, random_state=1, format="csr", dtype=np.float32)
    x.data = np.ceil(x.data * 20)
    x = sp.csr_matrix(x.toarray() * (np.arange(300) % 7 != 0)[:, None])  # empty cells
    before = x.copy()
    got = log_normalize(x, totals=rng.uniform(10, 100, 300))
    totals = np.asarray(x.sum(axis=1)).ravel()
    want = np.log1p(x.toarray() * np.divide(1e4, totals, out=np.zeros(300),
                                            where=totals > 0)[:, None].astype(np.float32))
    np.testing.assert_allclose(log_normalize(x).toarray(), want, rtol=1e-6)
    assert got.has_sorted_indices and got.has_canonical_format
    assert (np.diff(log_normalize(x).indptr)[np.arange(300) % 7 == 0] == 0).all()
    assert (x != before).nnz == 0 and np.array_equal(x.indices, before.indices)
    owned = before.copy()
    out = log_normalize_owned(owned)
    assert out is owned  # overwritten, not copied
    np.testing.assert_array_equal(out.toarray(), log_normalize(before).toarray())
