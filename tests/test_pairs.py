"""Pair sampling: the positive:negative ratio, the kinds of negatives, seeds, errors."""

from __future__ import annotations

import numpy as np
import pytest

from minnet import MinNetInputError
from minnet.pairs import KIND_XX, KIND_XY, KIND_YY, sample_pairs


@pytest.mark.parametrize("mode", ["between", "within", "both"])
def test_pair_ratio_and_kinds(mode):
    rng = np.random.default_rng(0)
    cells = np.arange(100, 1100)
    pairs = sample_pairs(cells, rng, positive_fraction=0.25, negatives=mode)
    assert len(pairs) == cells.size
    assert (~pairs.negative).sum() == 250  # exactly 1 positive : 3 negatives
    assert np.all(pairs.first[~pairs.negative] == pairs.second[~pairs.negative])
    assert np.all(pairs.first[pairs.negative] != pairs.second[pairs.negative])
    assert set(pairs.first) == set(cells) and set(pairs.second) <= set(cells)
    assert np.all(pairs.kind[~pairs.negative] == KIND_XY)
    neg_kinds = pairs.kind[pairs.negative]
    if mode == "between":
        assert np.all(neg_kinds == KIND_XY)
    elif mode == "within":
        assert set(neg_kinds) == {KIND_XX, KIND_YY}
    else:
        assert 0.4 < np.mean(neg_kinds == KIND_XY) < 0.6


def test_pairs_redrawn_and_seeded():
    a = sample_pairs(np.arange(500), np.random.default_rng(1))
    b = sample_pairs(np.arange(500), np.random.default_rng(1))
    c = sample_pairs(np.arange(500), np.random.default_rng(2))
    np.testing.assert_array_equal(a.second, b.second)
    assert not np.array_equal(a.second, c.second)


def test_pair_errors():
    with pytest.raises(MinNetInputError, match="negatives"):
        sample_pairs(np.arange(5), np.random.default_rng(0), negatives="random")
    with pytest.raises(MinNetInputError, match="at least 2"):
        sample_pairs(np.arange(1), np.random.default_rng(0))
