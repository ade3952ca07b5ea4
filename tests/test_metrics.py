"""Tests for minnet.metrics."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from minnet._utils import MinNetInputError
from minnet.metrics import (
    ari_over_resolutions,
    foscttm,
    foscttm_per_cell,
    label_transfer_accuracy,
    silhouette_celltype,
    silhouette_mixing,
)


def _brute_foscttm(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference implementation with a full distance matrix (small n only)."""
    d = np.sqrt(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1))
    diag = np.diag(d)
    n = x.shape[0]
    fx = ((d < diag[:, None]).sum(1)) / (n - 1)
    fy = ((d < diag[None, :]).sum(0)) / (n - 1)
    return fx, fy


# --------------------------------------------------------------------------------------
# FOSCTTM
# --------------------------------------------------------------------------------------
def test_foscttm_identical_is_zero():
    x = np.random.default_rng(0).normal(size=(50, 5))
    assert foscttm(x, x.copy()) == 0.0
    fx, fy = foscttm_per_cell(x, x)
    assert np.all(fx == 0) and np.all(fy == 0)


def test_foscttm_hand_example_with_ties():
    # 1-d, computed by hand (see comments); includes exact ties, which must not count.
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([[0.5], [3.0], [2.0], [10.0]])
    # x->y: cell0 none closer; cell1 (true d=2): y0 (0.5), y2 (1) -> 2/3; cell2: 0;
    #       cell3 (true d=7): y0, y1, y2 all closer -> 1
    # y->x: cell0 (true d=0.5): x1 ties at 0.5 -> 0; cell1 (true d=2): x2, x3 -> 2/3;
    #       cell2: 0; cell3 (true d=7): none -> 0
    fx, fy = foscttm_per_cell(x, y)
    np.testing.assert_allclose(fx, [0, 2 / 3, 0, 1])
    np.testing.assert_allclose(fy, [0, 2 / 3, 0, 0])
    assert foscttm(x, y) == pytest.approx(7 / 24)
    # swapping the modalities swaps the directions
    fx2, fy2 = foscttm_per_cell(y, x)
    np.testing.assert_allclose(fx2, fy)
    np.testing.assert_allclose(fy2, fx)


def test_foscttm_matches_brute_force():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 3))
    y = x + rng.normal(scale=0.7, size=x.shape)
    fx, fy = foscttm_per_cell(x, y, chunk_size=16)
    bx, by = _brute_foscttm(x, y)
    np.testing.assert_allclose(fx, bx)
    np.testing.assert_allclose(fy, by)
    assert 0 < foscttm(x, y) < 0.5


def test_foscttm_random_is_half():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, 10))
    y = rng.normal(size=(400, 10))
    assert foscttm(x, y) == pytest.approx(0.5, abs=0.05)


def test_foscttm_chunk_size_invariant():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(97, 4)).astype(np.float32)
    y = (x + rng.normal(scale=0.5, size=x.shape)).astype(np.float32)
    ref = foscttm_per_cell(x, y, chunk_size=10_000)
    for chunk in (1, 7, 96, 97, 98):
        fx, fy = foscttm_per_cell(x, y, chunk_size=chunk)
        np.testing.assert_array_equal(fx, ref[0])
        np.testing.assert_array_equal(fy, ref[1])
    assert foscttm(x, y, chunk_size=1) == foscttm(x, y, chunk_size=10_000)


def test_foscttm_permutation_invariant_and_inputs_untouched():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(80, 6))
    y = x + rng.normal(scale=0.8, size=x.shape)
    x0, y0 = x.copy(), y.copy()
    value = foscttm(x, y, chunk_size=13)
    perm = rng.permutation(80)
    assert foscttm(x[perm], y[perm], chunk_size=13) == pytest.approx(value, abs=1e-12)
    fx, fy = foscttm_per_cell(x, y)
    px, py = foscttm_per_cell(x[perm], y[perm])
    np.testing.assert_allclose(px, fx[perm])
    np.testing.assert_allclose(py, fy[perm])
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)


def test_foscttm_translation_invariant_float32():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(70, 3))
    y = x + rng.normal(scale=0.5, size=x.shape)
    shifted = foscttm((x + 1e3).astype(np.float32), (y + 1e3).astype(np.float32))
    assert shifted == pytest.approx(foscttm(x, y), abs=0.01)


def test_foscttm_never_allocates_n_by_n():
    n = 12_000
    rng = np.random.default_rng(6)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x + rng.normal(scale=0.05, size=x.shape)).astype(np.float32)
    tracemalloc.start()
    try:
        value = foscttm(x, y, chunk_size=256)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    full = n * n * 8
    assert peak < 0.5 * full
    # much stronger: only O(chunk * n) buffers (a (256, n) float64 is ~25 MB)
    assert peak < 0.05 * full
    assert 0 <= value < 0.05


def test_foscttm_errors():
    x = np.zeros((5, 3))
    with pytest.raises(MinNetInputError, match="same shape"):
        foscttm(x, np.zeros((6, 3)))
    with pytest.raises(MinNetInputError, match="same shape"):
        foscttm(x, np.zeros((5, 2)))
    with pytest.raises(MinNetInputError, match="at least 2"):
        foscttm(np.zeros((1, 3)), np.zeros((1, 3)))
    bad = np.ones((5, 3))
    bad[2, 1] = np.nan
    with pytest.raises(MinNetInputError, match="NaN"):
        foscttm(bad, x)
    with pytest.raises(MinNetInputError, match="2-d"):
        foscttm(np.zeros(5), np.zeros(5))
    with pytest.raises(MinNetInputError, match="chunk_size"):
        foscttm(x, x, chunk_size=0)
    assert issubclass(MinNetInputError, ValueError)


# --------------------------------------------------------------------------------------
# silhouettes
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def blobs():
    x, y = make_blobs(
        n_samples=600,
        centers=4,
        n_features=8,
        cluster_std=0.5,
        center_box=(-20, 20),
        random_state=0,
    )
    labels = np.array(["t0", "t1", "t2", "t3"])[y]
    return x, labels


def test_silhouette_celltype_separated(blobs):
    x, labels = blobs
    score = silhouette_celltype(x, labels)
    assert 0.8 < score <= 1.0
    # random labels -> ASW around 0 -> rescaled around 0.5
    shuffled = np.random.default_rng(0).permutation(labels)
    assert silhouette_celltype(x, shuffled) == pytest.approx(0.5, abs=0.05)
    # pandas inputs and float32
    cat = pd.Categorical(labels)
    assert silhouette_celltype(x.astype(np.float32), cat) == pytest.approx(score, abs=1e-4)
    series = pd.Series(labels, index=np.arange(600)[::-1])  # index must be ignored
    assert silhouette_celltype(x, series) == pytest.approx(score)


def test_silhouette_mixing_mixed_vs_separated(blobs):
    x, labels = blobs
    rng = np.random.default_rng(1)
    mixed = rng.choice(["rna", "atac"], size=x.shape[0])
    assert silhouette_mixing(x, mixed) > 0.9
    assert silhouette_mixing(x, mixed, labels=labels) > 0.9

    # two modalities fully separated: shift the ATAC copy far away
    x2 = np.vstack([x, x + 100.0])
    groups = np.repeat(["rna", "atac"], x.shape[0])
    labels2 = np.concatenate([labels, labels])
    assert silhouette_mixing(x2, groups) < 0.3
    assert silhouette_mixing(x2, groups, labels=labels2) < 0.3
    for value in (
        silhouette_mixing(x2, groups),
        silhouette_mixing(x2, groups, labels=labels2),
        silhouette_mixing(x, mixed, labels=labels),
    ):
        assert 0.0 <= value <= 1.0


def test_silhouette_mixing_within_type():
    # groups aligned with cell types: globally separated, but each type holds one group
    # in one type and both groups (well mixed) in the other
    rng = np.random.default_rng(2)
    a = rng.normal(size=(100, 2))
    b = rng.normal(size=(100, 2)) + 50
    x = np.vstack([a, b])
    labels = np.repeat(["A", "B"], 100)
    groups = np.concatenate([np.repeat("g1", 100), rng.choice(["g1", "g2"], 100)])
    # type A has a single group -> skipped; type B is well mixed
    assert silhouette_mixing(x, groups, labels=labels) > 0.9
    with pytest.raises(MinNetInputError, match="no cell type"):
        silhouette_mixing(x, np.repeat(["g1", "g2"], 100), labels=labels)


def test_silhouette_subsampling(blobs):
    x, labels = blobs
    full = silhouette_celltype(x, labels, sample_size=None)
    sub = silhouette_celltype(x, labels, sample_size=200, seed=3)
    assert sub == pytest.approx(full, abs=0.03)
    assert sub == silhouette_celltype(x, labels, sample_size=200, seed=3)
    assert sub != silhouette_celltype(x, labels, sample_size=200, seed=4)

    groups = np.random.default_rng(5).choice(["rna", "atac"], size=x.shape[0])
    m_full = silhouette_mixing(x, groups, sample_size=None)
    m_sub = silhouette_mixing(x, groups, sample_size=300, seed=1)
    assert m_sub == pytest.approx(m_full, abs=0.05)
    assert m_sub == silhouette_mixing(x, groups, sample_size=300, seed=1)
    l_full = silhouette_mixing(x, groups, labels=labels, sample_size=None)
    l_sub = silhouette_mixing(x, groups, labels=labels, sample_size=100, seed=1)
    assert l_sub == pytest.approx(l_full, abs=0.05)
    assert l_sub == silhouette_mixing(x, groups, labels=labels, sample_size=100, seed=1)


def test_silhouette_errors(blobs):
    x, labels = blobs
    with pytest.raises(MinNetInputError, match="entries but the embedding has"):
        silhouette_celltype(x, labels[:-1])
    with pytest.raises(MinNetInputError, match="distinct labels"):
        silhouette_celltype(x, np.repeat("a", x.shape[0]))
    with pytest.raises(MinNetInputError, match="single value"):
        silhouette_mixing(x, np.repeat("rna", x.shape[0]))
    with pytest.raises(MinNetInputError, match="entries but the embedding has"):
        silhouette_mixing(x, np.repeat(["a", "b"], 300), labels=labels[:10])
    missing = labels.astype(object)
    missing[3] = None
    with pytest.raises(MinNetInputError, match="missing"):
        silhouette_celltype(x, missing)
    with pytest.raises(MinNetInputError, match="sample_size"):
        silhouette_celltype(x, labels, sample_size=1)


# --------------------------------------------------------------------------------------
# ARI over resolutions
# --------------------------------------------------------------------------------------
def test_ari_over_resolutions_blobs():
    x, y = make_blobs(
        n_samples=400,
        centers=5,
        n_features=10,
        cluster_std=1.0,
        center_box=(-20, 20),
        random_state=1,
    )
    labels = pd.Categorical(np.array(list("abcde"))[y])
    res = (0.1, 0.5, 1.0)
    out = ari_over_resolutions(x, labels, resolutions=res, seed=0)
    assert set(out) == {"max", "mean", "per_resolution"}
    per = out["per_resolution"]
    assert isinstance(per, pd.Series)
    assert list(per.index) == list(res)
    assert out["max"] > 0.9
    assert out["max"] == pytest.approx(per.max())
    assert out["mean"] == pytest.approx(per.mean())
    assert ((per >= -1) & (per <= 1)).all()
    # deterministic by seed
    again = ari_over_resolutions(x, labels, resolutions=res, seed=0)
    pd.testing.assert_series_equal(per, again["per_resolution"])

    # random labels -> ARI near 0
    rnd = np.random.default_rng(0).integers(0, 5, size=400)
    assert ari_over_resolutions(x, rnd, resolutions=(1.0,))["max"] < 0.1


def test_ari_errors():
    x = np.random.default_rng(0).normal(size=(30, 3))
    with pytest.raises(MinNetInputError, match="entries but the embedding has"):
        ari_over_resolutions(x, np.zeros(29))
    with pytest.raises(MinNetInputError, match="resolutions"):
        ari_over_resolutions(x, np.zeros(30), resolutions=())
    with pytest.raises(MinNetInputError, match="resolutions"):
        ari_over_resolutions(x, np.zeros(30), resolutions=(1.0, -0.5))
    with pytest.raises(MinNetInputError, match="n_neighbors"):
        ari_over_resolutions(x, np.zeros(30), n_neighbors=0)


# --------------------------------------------------------------------------------------
# label transfer
# --------------------------------------------------------------------------------------
def test_label_transfer_hand_example():
    true = ["B", "B", "B", "B", "T", "T", "NK", "NK", "NK", "NK"]
    pred = ["B", "B", "T", "unassigned", "T", "T", "NK", "B", "unassigned", "NK"]
    out = label_transfer_accuracy(true, pred)
    # correct: B 2/4, T 2/2, NK 2/4 -> 6/10 overall
    assert out["accuracy"] == pytest.approx(0.6)
    assert out["per_class"].to_dict() == pytest.approx({"B": 0.5, "NK": 0.5, "T": 1.0})
    assert out["macro"] == pytest.approx((0.5 + 1.0 + 0.5) / 3)
    assert set(out["per_class"].index) == {"B", "T", "NK"}  # predicted-only labels ignored

    # pandas / numpy inputs give the same answer
    out2 = label_transfer_accuracy(pd.Categorical(true), pd.Series(pred, index=range(10, 0, -1)))
    assert out2["accuracy"] == pytest.approx(0.6)
    pd.testing.assert_series_equal(out["per_class"], out2["per_class"])
    out3 = label_transfer_accuracy(np.array(true), np.array(pred, dtype=object))
    assert out3["macro"] == pytest.approx(out["macro"])


def test_label_transfer_unassigned_counts_wrong():
    # even when the reference itself contains the "unassigned" string
    true = ["unassigned", "A", "A", "B"]
    pred = ["unassigned", "A", "unassigned", None]
    out = label_transfer_accuracy(true, pred)
    assert out["accuracy"] == pytest.approx(0.25)
    assert out["per_class"]["unassigned"] == 0.0
    assert out["per_class"]["A"] == 0.5
    assert out["per_class"]["B"] == 0.0
    # with unassigned=None the string is an ordinary label
    assert label_transfer_accuracy(true, pred, unassigned=None)["accuracy"] == pytest.approx(0.5)


def test_label_transfer_errors():
    with pytest.raises(MinNetInputError, match="predicted has"):
        label_transfer_accuracy(["a", "b", "c"], ["a", "b"])
    with pytest.raises(MinNetInputError, match="empty"):
        label_transfer_accuracy([], [])
    with pytest.raises(MinNetInputError, match="missing"):
        label_transfer_accuracy(["a", None], ["a", "b"])


# --------------------------------------------------------------------------------------
# evaluate_pair
# --------------------------------------------------------------------------------------
def _pair(z_rna, z_other, labels):
    import anndata as ad

    obs = pd.DataFrame({"cell_type": labels}, index=[f"c{i}" for i in range(len(labels))])
    return (ad.AnnData(obs=obs.copy(), obsm={"X_minnet": z_rna}),
            ad.AnnData(obs=obs.copy(), obsm={"X_minnet": z_other}))


def test_evaluate_pair_scores_identical_embeddings_as_perfect():
    from minnet.metrics import evaluate_pair

    z, y = make_blobs(n_samples=120, centers=3, n_features=4, cluster_std=0.3, random_state=0)
    rna, other = _pair(z, z + 1e-3, np.array(["a", "b", "c"])[y])
    res = evaluate_pair(rna, other)
    assert res["FOSCTTM (lower is better)"] == pytest.approx(0.0, abs=1e-9)
    assert res["label transfer accuracy"] == 1.0
    assert res["cell-type silhouette"] > 0.8
    # shuffled partners: the true match is no longer closest
    rna2, other2 = _pair(z, z[np.random.default_rng(0).permutation(120)], y.astype(str))
    assert evaluate_pair(rna2, other2)["FOSCTTM (lower is better)"] > 0.2


def test_evaluate_pair_needs_the_same_cells_in_order():
    from minnet.metrics import evaluate_pair

    z, y = make_blobs(n_samples=30, centers=2, n_features=3, random_state=0)
    rna, other = _pair(z, z, y.astype(str))
    other = other[::-1].copy()
    with pytest.raises(MinNetInputError, match="same cells in the same order"):
        evaluate_pair(rna, other)


def test_calibration_is_zero_when_confidence_equals_accuracy_and_names_the_gap():
    from minnet.metrics import calibration

    true = np.array(["a"] * 10 + ["b"] * 10)
    pred = true.copy()
    pred[:5] = "b"  # the first ten cells: half right, at confidence 0.55
    conf = np.r_[np.full(10, 0.55), np.full(10, 0.95)]
    res = calibration(true, pred, conf, n_bins=10)
    # bin 5: accuracy 0.5 vs 0.55; bin 9: accuracy 1.0 vs 0.95 → ECE = 0.05
    assert res["ece"] == pytest.approx(0.05)
    assert res["bins"]["n_cells"].tolist() == [10, 10]
    assert calibration(true, true, np.ones(20))["ece"] == pytest.approx(0.0)
    over = calibration(true, np.where(true == "a", "b", "a"), np.ones(20))
    assert over["ece"] == pytest.approx(1.0)
    with pytest.raises(MinNetInputError, match=r"\[0, 1\]"):
        calibration(true, pred, np.full(20, 1.5))
    with pytest.raises(MinNetInputError, match="one per cell"):
        calibration(true, pred, conf[:5])
