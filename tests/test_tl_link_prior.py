"""The distance-aware two-groups model of ``link_peaks(method="empirical_bayes")``."""

import numpy as np
import pytest

from minnet.tl._link_prior import (
    MIN_PAIRS_PER_BIN,
    bayes_fdr,
    distance_bins,
    fit_two_groups,
)


def _planted(seed: int = 0, n: int = 20_000):
    """z-scores of pairs whose share of links falls with distance (known truth)."""
    rng = np.random.default_rng(seed)
    distance = np.round(np.exp(rng.uniform(np.log(200), np.log(150_000), n))).astype(np.int64)
    distance *= rng.choice([-1, 1], n)
    share = np.where(np.abs(distance) < 1_000, 0.8, 0.05)
    link = rng.random(n) < share
    z = rng.standard_normal(n)
    z[link] += rng.normal(2.0, 0.5, link.sum())
    return z, distance, link


def test_distance_bins_merge_small_bins():
    rng = np.random.default_rng(1)
    d = rng.integers(-150_000, 150_001, 5_000)
    bins, edges = distance_bins(d)
    counts = np.bincount(bins)
    assert counts.size == len(edges) and (counts >= MIN_PAIRS_PER_BIN).all()
    assert edges == sorted(edges) and edges[0] == 0
    # bins follow |distance|: a farther pair is never in a nearer bin
    order = np.argsort(np.abs(d), kind="stable")
    assert (np.diff(bins[order]) >= 0).all()
    few, few_edges = distance_bins(d[:50])
    assert few_edges == [0] and (few == 0).all()


def test_prior_follows_distance_and_calls_are_calibrated():
    z, distance, link = _planted()
    post, fit = fit_two_groups(z, distance)
    assert fit.converged and fit.edges[0] == 0
    near = fit.prior[0]
    assert near > 0.6 and max(fit.prior[2:]) < 0.15, fit.as_dict()
    assert fit.alt_mean == pytest.approx(2.0, abs=0.3)
    q = bayes_fdr(post)
    called = q < 0.1
    fdr = (called & ~link).sum() / called.sum()
    assert fdr < 0.13, fdr
    # the same z counts for more near the TSS
    assert np.corrcoef(post[link], np.abs(distance[link]) < 1_000)[0, 1] > 0.3
    # the distance prior finds more links than the z-score alone at the same q
    flat, _ = fit_two_groups(z, np.zeros_like(distance))
    assert (called & link).sum() > 1.2 * ((bayes_fdr(flat) < 0.1) & link).sum()


def test_null_gives_no_calls_and_deterministic():
    rng = np.random.default_rng(3)
    z = rng.standard_normal(20_000)
    distance = rng.integers(-150_000, 150_001, z.size)
    post, fit = fit_two_groups(z, distance)
    assert (bayes_fdr(post) < 0.1).sum() == 0
    assert np.nanmax(post) < 0.5
    again, fit2 = fit_two_groups(z, distance)
    np.testing.assert_array_equal(post, again)
    assert fit.as_dict() == fit2.as_dict()


def test_posterior_monotone_in_z_within_a_bin():
    """A very negative z is never more probable a link than a larger one (positive links)."""
    z, distance, _ = _planted(seed=4)
    post, _ = fit_two_groups(z, distance)
    bins, _ = distance_bins(distance)
    for b in np.unique(bins):
        sel = np.flatnonzero(bins == b)
        o = sel[np.argsort(z[sel])]
        assert (np.diff(post[o]) >= -1e-12).all()


def test_nan_z_and_bayes_fdr():
    z, distance, _ = _planted(seed=5, n=2_000)
    z[:10] = np.nan
    post, fit = fit_two_groups(z, distance)
    assert np.isnan(post[:10]).all() and np.isfinite(post[10:]).all()
    assert sum(fit.n_pairs) == z.size - 10
    q = bayes_fdr(post)
    assert np.isnan(q[:10]).all()
    fin = np.isfinite(post)
    order = np.argsort(-post[fin], kind="stable")
    expected = np.cumsum(1 - post[fin][order]) / np.arange(1, fin.sum() + 1)
    np.testing.assert_allclose(q[fin][order], expected, rtol=1e-12)
    ties = bayes_fdr(np.array([0.9, 0.9, 0.1]))
    assert ties[0] == ties[1] == pytest.approx(0.1)
    assert np.isnan(bayes_fdr(np.array([np.nan]))).all()


def test_no_finite_z():
    post, fit = fit_two_groups(np.array([np.nan, np.nan]), np.array([10, 2_000]))
    assert np.isnan(post).all() and fit.converged and sum(fit.n_pairs) == 0
    empty, _ = fit_two_groups(np.array([]), np.array([], dtype=np.int64))
    assert empty.size == 0
