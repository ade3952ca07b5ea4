"""pp: feature selection at training and alignment at embedding."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from minnet import MinNetInputError
from minnet.pp import (
    align_features,
    log_normalize,
    select_features,
)


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


def test_select_features_takes_one_extra_name_as_a_string(rng):
    x = log_normalize(rng.poisson(2.0, size=(50, 30)).astype(np.float32))
    names = [f"g{i}" for i in range(30)]
    feats = select_features(x, names, n_top=5, extra="g29")
    assert "g29" in feats and "g" not in feats


def test_detected_features_from_stored_values():
    from minnet.pp._features import _detected

    x = sp.csr_matrix((np.array([0.0, 2.0, 1.0, 0.0]), np.array([0, 1, 3, 2]),
                       np.array([0, 2, 4])), shape=(2, 5))  # explicit zeros in columns 0, 2
    want = np.asarray((x > 0).sum(axis=0)).ravel() > 0
    np.testing.assert_array_equal(_detected(x), want)
    np.testing.assert_array_equal(_detected(x), [False, True, False, True, False])
    np.testing.assert_array_equal(_detected(x.toarray()), want)
    np.testing.assert_array_equal(_detected(x.tocsc()), want)
