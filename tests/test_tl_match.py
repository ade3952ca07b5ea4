"""Cross-modality cell matching and joint Leiden clustering of the co-embedding."""

from __future__ import annotations

import numpy as np
import pytest

from minnet._utils import MinNetInputError
from minnet.tl._match import match_cells


# ---------------------------------------------------------------------------------------------
# match_cells
# ---------------------------------------------------------------------------------------------
@pytest.fixture()
def pair(make_embedded):
    # r0 -> o0 (distance 5 = 3-4-5), r1 -> o1 (1), r2 -> o1 (2): o1's nearest RNA cell is r1,
    # so (r2, o1) is one-sided; o2 is nobody's partner.
    rna = make_embedded([[0, 0], [10, 0], [12, 0]], names=["r0", "r1", "r2"])
    oth = make_embedded([[3, 4], [11, 0], [50, 50]], names=["o0", "o1", "o2"])
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


def test_match_cells_errors(make_embedded, pair):
    rna, oth = pair
    with pytest.raises(MinNetInputError, match="minnet.tl.embed"):
        match_cells(rna, make_embedded([[0.0, 0.0]], rep="X_other"))
    with pytest.raises(MinNetInputError, match="different widths"):
        match_cells(rna, make_embedded(np.zeros((2, 3))))
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
