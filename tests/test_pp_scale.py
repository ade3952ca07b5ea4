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
