"""pp: per-dataset standardisation (Standardizer, scale)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from minnet.pp import (
    Standardizer,
    scale,
)


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


def test_fit_without_copies_matches_on_canonical_and_duplicate_entries():
    rng = np.random.default_rng(5)
    dense = (rng.poisson(0.8, (40, 7)) * rng.uniform(0.5, 9, 7)).astype(np.float32)
    x = sp.csr_matrix(dense)
    # the same rows, with an extra stored entry 1.5 at column 0 of every row (duplicates
    # where the row already has column 0): a non-canonical CSR matrix
    data = np.concatenate([np.r_[x.data[x.indptr[i]:x.indptr[i + 1]], 1.5] for i in range(40)])
    idx = np.concatenate([np.r_[x.indices[x.indptr[i]:x.indptr[i + 1]], 0] for i in range(40)])
    dup = sp.csr_matrix((data.astype(np.float32), idx, x.indptr + np.arange(41)), shape=x.shape)
    assert not dup.has_canonical_format
    dense_dup = dense.copy()
    dense_dup[:, 0] += 1.5
    for m, want in ((x, dense), (dup, dense_dup)):
        st = Standardizer.fit(m)
        np.testing.assert_allclose(st.mean[0], want.mean(0), rtol=1e-5)
        np.testing.assert_allclose(st.std[0], want.std(0, ddof=1), rtol=1e-4)


def test_column_sums_read_csr_without_copies_and_match_dense(rng):
    from minnet.pp._scale import _column_sums, column_means

    dense = rng.poisson(1.0, size=(500, 30)).astype(np.float32)
    x = sp.csr_matrix(dense)
    total, total_sq = _column_sums(x)
    np.testing.assert_allclose(total, dense.astype(np.float64).sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(total_sq, (dense.astype(np.float64) ** 2).sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(column_means(x), dense.mean(axis=0, dtype=np.float64), rtol=1e-12)
    # duplicates are summed before squaring, as the matrix they make; the input is untouched
    dup = sp.csr_matrix((np.array([1.0, 2.0, 3.0]), np.array([0, 0, 1]), np.array([0, 3])),
                        shape=(1, 2))
    t, t2 = _column_sums(dup)
    np.testing.assert_array_equal(t, [3.0, 3.0])
    np.testing.assert_array_equal(t2, [9.0, 9.0])
    assert dup.nnz == 3 and not dup.has_canonical_format
    t, t2 = _column_sums(dense)
    np.testing.assert_allclose(t2, (dense.astype(np.float64) ** 2).sum(axis=0))
