"""Tests of the seeded multi-omics simulators in :mod:`minnet.datasets`."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score

from minnet.datasets import (
    SimulatedCiteseq,
    SimulatedMultiome,
    simulate_citeseq,
    simulate_multiome,
)

# --- helpers --------------------------------------------------------------------------------


def _lognorm(x) -> np.ndarray:
    """log1p of counts scaled to 10,000 per cell, dense."""
    x = sp.csr_matrix(x, dtype=np.float64)
    lib = np.asarray(x.sum(axis=1)).ravel()
    x = sp.diags(1e4 / np.maximum(lib, 1.0)) @ x
    x.data = np.log1p(x.data)
    return x.toarray()


def _colcorr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of matching columns of ``a`` and ``b``."""
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    den = np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum(axis=0) / den


def _group_means(x: np.ndarray, codes: np.ndarray) -> np.ndarray:
    return np.stack([x[codes == k].mean(axis=0) for k in np.unique(codes)])


def _batch_silhouette(sim) -> float:
    logn = _lognorm(sim.rna.X)
    logn = logn[:, np.argsort(logn.var(axis=0))[-300:]]
    pcs = PCA(n_components=15, random_state=0).fit_transform(logn - logn.mean(axis=0))
    return float(silhouette_score(pcs, sim.rna.obs["batch"].cat.codes))


def _same_csr(a, b) -> bool:
    a, b = sp.csr_matrix(a), sp.csr_matrix(b)
    return (
        a.shape == b.shape
        and np.array_equal(a.indptr, b.indptr)
        and np.array_equal(a.indices, b.indices)
        and np.array_equal(a.data, b.data)
    )


@pytest.fixture(scope="module")
def sim() -> SimulatedMultiome:
    return simulate_multiome(n_cells=1500, n_genes=400, n_background_peaks=300, seed=7)


@pytest.fixture(scope="module")
def cite() -> SimulatedCiteseq:
    return simulate_citeseq(n_cells=1200, n_genes=400, n_proteins=30, seed=11)


# --- structure ---------------------------------------------------------------------------------


def test_multiome_shapes_and_alignment(sim):
    rna, atac = sim.rna, sim.atac
    assert rna.shape == (1500, 400)
    assert atac.shape == (1500, 400 * 4 + 300)
    assert list(rna.obs_names) == list(atac.obs_names)
    pd.testing.assert_frame_equal(rna.obs, atac.obs)
    assert rna.obs_names.is_unique and atac.var_names.is_unique
    for col in ("cell_type", "batch"):
        assert isinstance(rna.obs[col].dtype, pd.CategoricalDtype)
    assert list(rna.obs["batch"].cat.categories) == ["batch0", "batch1"]
    assert rna.obs["cell_type"].nunique() == 8
    assert rna.var_names[0] == "Gene0000" and rna.var_names[-1] == "Gene0399"
    for x in (rna.X, atac.X):
        assert sp.isspmatrix_csr(x) and x.dtype == np.float32
    assert list(sim.annotation["gene_name"]) == list(rna.var_names)
    assert {"chrom", "start", "end"} <= set(atac.var.columns)
    assert set(sim.links.columns) >= {"gene", "peak", "distance", "weight"}


def test_counts_are_sparse_integers_with_realistic_depth(sim):
    rna, atac = sim.rna.X, sim.atac.X
    for x in (rna, atac):
        assert x.data.min() >= 0
        np.testing.assert_array_equal(x.data, np.round(x.data))
    assert rna.nnz / np.prod(rna.shape) < 0.6  # most entries are zero
    assert atac.nnz / np.prod(atac.shape) < 0.25
    assert np.mean(atac.data == 1) > 0.6  # ATAC non-zeros are mostly ones
    lib = np.asarray(rna.sum(axis=1)).ravel()
    assert 1_000 < np.median(lib) < 5_000
    means = np.asarray(rna.mean(axis=0)).ravel()
    lo, hi = np.percentile(means, [5, 95])
    assert hi / max(lo, 1e-6) > 100  # gene means span orders of magnitude
    depth = np.asarray(atac.sum(axis=1)).ravel()
    assert depth.min() > 0 and np.percentile(depth, 90) / np.percentile(depth, 10) > 2


def test_type_proportions_balanced_but_unequal(sim):
    counts = sim.rna.obs["cell_type"].value_counts()
    frac = counts / counts.sum()
    assert frac.min() > 0.03 and frac.max() < 0.35
    assert counts.max() > 1.1 * counts.min()


# --- determinism -------------------------------------------------------------------------------


def test_same_seed_identical_different_seed_differs():
    kw = {"n_cells": 300, "n_genes": 100, "n_background_peaks": 50}
    a, b = simulate_multiome(seed=3, **kw), simulate_multiome(seed=3, **kw)
    assert _same_csr(a.rna.X, b.rna.X) and _same_csr(a.atac.X, b.atac.X)
    assert list(a.atac.var_names) == list(b.atac.var_names)
    pd.testing.assert_frame_equal(a.links, b.links)
    pd.testing.assert_frame_equal(a.annotation, b.annotation)
    pd.testing.assert_frame_equal(a.rna.obs, b.rna.obs)

    c = simulate_multiome(seed=4, **kw)
    assert not _same_csr(a.rna.X, c.rna.X)
    assert not _same_csr(a.atac.X, c.atac.X)
    assert list(a.atac.var_names) != list(c.atac.var_names)

    kw = {"n_cells": 200, "n_genes": 100, "n_proteins": 10}
    x, y = simulate_citeseq(seed=1, **kw), simulate_citeseq(seed=1, **kw)
    assert _same_csr(x.adt.X, y.adt.X) and _same_csr(x.rna.X, y.rna.X)
    z = simulate_citeseq(seed=2, **kw)
    assert not _same_csr(x.adt.X, z.adt.X)


def test_batch_effect_aliases():
    kw = {"n_cells": 200, "n_genes": 60, "n_background_peaks": 20, "seed": 5}
    assert _same_csr(
        simulate_multiome(batch_effect="mild", **kw).rna.X,
        simulate_multiome(batch_effect=0.5, **kw).rna.X,
    )
    strong = simulate_multiome(batch_effect="strong", **kw)
    assert _same_csr(strong.atac.X, simulate_multiome(batch_effect=1.5, **kw).atac.X)
    assert strong.rna.uns["minnet_simulation"]["batch_effect"] == 1.5


# --- genome and links ------------------------------------------------------------------------------


def test_genome_layout(sim):
    ann = sim.annotation
    assert set(ann["chrom"]) <= {f"chr{i}" for i in range(1, 6)}
    assert ann["tss"].dtype.kind == "i" and (ann["tss"] >= 1).all()
    plus = ann["strand"] == "+"
    assert set(ann["strand"]) == {"+", "-"}
    assert (ann.loc[plus, "end"] > ann.loc[plus, "tss"]).all()
    assert (ann.loc[~plus, "end"] < ann.loc[~plus, "tss"]).all()
    body = (ann["end"] - ann["tss"]).abs() + 1
    assert body.between(5_000, 50_000).all()
    lo = np.minimum(ann["tss"], ann["end"])
    hi = np.maximum(ann["tss"], ann["end"])
    for _, grp in pd.DataFrame({"chrom": ann["chrom"], "lo": lo, "hi": hi}).groupby("chrom"):
        grp = grp.sort_values("lo")
        assert (grp["lo"].to_numpy()[1:] > grp["hi"].to_numpy()[:-1]).all()  # genes disjoint


def test_peaks_sorted_nonoverlapping_and_named(sim):
    var = sim.atac.var
    assert ((var["end"] - var["start"]) == 500).all()
    names = var["chrom"] + "-" + var["start"].astype(str) + "-" + var["end"].astype(str)
    assert list(names) == list(var.index)
    chrom_num = var["chrom"].str[3:].astype(int).to_numpy()
    start, end = var["start"].to_numpy(), var["end"].to_numpy()
    assert (np.diff(chrom_num) >= 0).all()
    same = chrom_num[1:] == chrom_num[:-1]
    assert (start[1:][same] > end[:-1][same]).all()  # sorted and non-overlapping


def test_one_promoter_peak_per_gene_overlapping_upstream_region(sim):
    ann = sim.annotation.set_index("gene_name")
    var = sim.atac.var
    prom = var[var["peak_type"] == "promoter"]
    assert sorted(prom["anchor_gene"]) == sorted(ann.index)
    g = ann.loc[prom["anchor_gene"]]
    plus = (g["strand"] == "+").to_numpy()
    tss = g["tss"].to_numpy()
    reg_lo = np.where(plus, tss - 2_000, tss)
    reg_hi = np.where(plus, tss, tss + 2_000)
    assert (prom["chrom"].to_numpy() == g["chrom"].to_numpy()).all()
    assert ((prom["start"].to_numpy() < reg_hi) & (prom["end"].to_numpy() > reg_lo)).all()


def test_links_refer_to_existing_features_within_150kb(sim):
    links, var = sim.links, sim.atac.var
    ann = sim.annotation.set_index("gene_name")
    assert links["gene"].isin(sim.rna.var_names).all()
    assert links["peak"].isin(sim.atac.var_names).all()
    assert not links.duplicated(["gene", "peak"]).any()
    assert (links["weight"] > 0).all()
    pv = var.loc[links["peak"]]
    gv = ann.loc[links["gene"]]
    assert (pv["chrom"].to_numpy() == gv["chrom"].to_numpy()).all()
    mid = (pv["start"].to_numpy() + pv["end"].to_numpy()) // 2
    np.testing.assert_array_equal(links["distance"].to_numpy(), mid - gv["tss"].to_numpy())
    assert (links["distance"].abs() <= 150_000).all()
    # promoter peaks are true links; every gene has one
    prom = links[links["is_promoter"]]
    assert prom["gene"].is_unique and len(prom) == sim.rna.n_vars
    assert set(pv["peak_type"]) == {"promoter", "distal_true"}
    # about half of the distal peaks are true links; decoys are not in the table
    distal = var[var["peak_type"].isin(["distal_true", "distal_decoy"])]
    frac_true = np.mean(distal["peak_type"] == "distal_true")
    assert 0.4 < frac_true < 0.6
    assert len(distal) == 3 * sim.rna.n_vars
    assert not links["peak"].isin(distal.index[distal["peak_type"] == "distal_decoy"]).any()
    # decoys also lie within 150 kb of their anchor gene
    dv = distal.copy()
    d_tss = ann.loc[dv["anchor_gene"], "tss"].to_numpy()
    assert (np.abs((dv["start"] + dv["end"]).to_numpy() // 2 - d_tss) <= 150_000).all()


# --- biology -----------------------------------------------------------------------------------------


def test_closely_related_type_pairs(sim):
    logn = _lognorm(sim.rna.X)
    codes = sim.rna.obs["cell_type"].cat.codes.to_numpy()
    cent = _group_means(logn, codes)
    dist = np.sqrt(((cent[:, None, :] - cent[None, :, :]) ** 2).sum(axis=-1))
    np.fill_diagonal(dist, np.inf)
    nearest = dist.argmin(axis=1)
    np.testing.assert_array_equal(nearest, np.arange(8) ^ 1)  # T0<->T1, T2<->T3, ...
    lineage = sim.rna.obs.groupby("cell_type", observed=True)["lineage"].first()
    assert lineage["T0"] == lineage["T1"] != lineage["T2"]
    within = dist[np.arange(8), np.arange(8) ^ 1].mean()
    pair = np.arange(8)[:, None] // 2 == np.arange(8)[None, :] // 2
    between = dist[~pair & np.isfinite(dist)].mean()
    assert within < 0.75 * between


def test_continuous_within_type_state(sim):
    logn = _lognorm(sim.rna.X)
    codes = sim.rna.obs["cell_type"].cat.codes.to_numpy()
    t = np.bincount(codes).argmax()
    x = logn[codes == t]
    x = x[:, x.std(axis=0) > 0]
    z = sim.rna.obsm["latent_state"][codes == t]
    assert z.shape[1] == 2
    r = np.abs(_colcorr(x, np.repeat(z[:, :1], x.shape[1], axis=1)))
    rng = np.random.default_rng(0)
    zs = rng.permutation(z[:, 0])[:, None]
    r_null = np.abs(_colcorr(x, np.repeat(zs, x.shape[1], axis=1)))
    assert np.sum(r > 0.3) >= 5
    assert np.sum(r > 0.3) > 3 * np.sum(r_null > 0.3)


def test_batch_effect_strength_ordering():
    kw = {"n_cells": 600, "n_genes": 300, "n_background_peaks": 10, "seed": 2}
    none = _batch_silhouette(simulate_multiome(batch_effect=0, **kw))
    strong = _batch_silhouette(simulate_multiome(batch_effect="strong", **kw))
    assert abs(none) < 0.05
    assert strong > none + 0.1


def test_true_distal_peaks_track_gene_more_than_decoys(sim):
    codes = sim.rna.obs["cell_type"].cat.codes.to_numpy()
    rna_t = _group_means(_lognorm(sim.rna.X), codes)
    atac = sim.atac.X.astype(np.float64)
    depth = np.asarray(atac.sum(axis=1)).ravel()
    atac_t = _group_means((sp.diags(1e4 / depth) @ atac).toarray(), codes)
    var = sim.atac.var
    gene_idx = pd.Series(np.arange(sim.rna.n_vars), index=sim.rna.var_names)

    def mean_corr(kind: str) -> float:
        cols = np.flatnonzero(var["peak_type"] == kind)
        genes = gene_idx[var["anchor_gene"].to_numpy()[cols]].to_numpy()
        return float(np.nanmean(_colcorr(rna_t[:, genes], atac_t[:, cols])))

    true_c, decoy_c, prom_c = (
        mean_corr("distal_true"),
        mean_corr("distal_decoy"),
        mean_corr("promoter"),
    )
    assert true_c > decoy_c + 0.2
    assert prom_c > decoy_c + 0.2
    assert abs(decoy_c) < 0.15


def test_gene_activity_correlates_with_expression(sim):
    ann, var = sim.annotation, sim.atac.var
    atac = sim.atac.X.tocsc().astype(np.float64)
    plus = (ann["strand"] == "+").to_numpy()
    tss, end = ann["tss"].to_numpy(), ann["end"].to_numpy()
    lo = np.where(plus, tss - 2_000, end)
    hi = np.where(plus, end, tss + 2_000)
    chrom, start, pend = var["chrom"].to_numpy(), var["start"].to_numpy(), var["end"].to_numpy()
    activity = np.zeros(sim.rna.shape)
    for g in range(len(ann)):
        hit = np.flatnonzero((chrom == ann["chrom"].iat[g]) & (start < hi[g]) & (pend > lo[g]))
        activity[:, g] = np.asarray(atac[:, hit].sum(axis=1)).ravel()
    depth = np.asarray(atac.sum(axis=1)).ravel()
    act_n = np.log1p(activity / depth[:, None] * 1e4)
    r = _colcorr(_lognorm(sim.rna.X), act_n)
    expressed = np.asarray(sim.rna.X.mean(axis=0)).ravel() > 0.5
    r = r[expressed & np.isfinite(r)]
    assert np.mean(r > 0) > 0.65  # positive for most genes ...
    assert 0.0 < np.median(r) < 0.6  # ... but noisy


# --- CITE-seq ------------------------------------------------------------------------------------------


def test_citeseq_structure(cite):
    rna, adt = cite.rna, cite.adt
    assert rna.shape == (1200, 400) and adt.shape == (1200, 30)
    pd.testing.assert_frame_equal(rna.obs, adt.obs)
    assert adt.var_names.str.startswith("ADT_").all()
    assert adt.var["gene"].isin(rna.var_names).all() and adt.var["gene"].is_unique
    assert list(adt.var_names) == ["ADT_" + g for g in adt.var["gene"]]
    x = adt.X.toarray() if sp.issparse(adt.X) else np.asarray(adt.X)
    assert x.dtype == np.float32 and x.min() >= 0
    np.testing.assert_array_equal(x, np.round(x))
    assert np.mean(x == 0) < 0.1  # ambient background: proteins rarely at zero
    assert 300 < np.median(x.sum(axis=1)) < 10_000


def test_citeseq_proteins_track_source_genes(cite):
    x = cite.adt.X.toarray() if sp.issparse(cite.adt.X) else np.asarray(cite.adt.X)
    clr = np.log1p(x)
    clr -= clr.mean(axis=1, keepdims=True)
    gene_idx = pd.Series(np.arange(cite.rna.n_vars), index=cite.rna.var_names)
    src = gene_idx[cite.adt.var["gene"]].to_numpy()
    codes = cite.rna.obs["cell_type"].cat.codes.to_numpy()
    logn = _lognorm(cite.rna.X)
    r_type = _colcorr(_group_means(logn[:, src], codes), _group_means(clr, codes))
    assert np.nanmedian(r_type) > 0.6
    # a protein is matched best by its own source gene more often than by a random gene
    rng = np.random.default_rng(0)
    other = rng.permutation(src)
    r_other = _colcorr(_group_means(logn[:, other], codes), _group_means(clr, codes))
    assert np.nanmedian(r_type) > np.nanmedian(r_other) + 0.3


# --- arguments ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_cells": 0},
        {"n_cells": 10.5},
        {"n_cell_types": 1},
        {"n_batches": 0},
        {"n_genes": 5},
        {"n_peaks_per_gene": 0},
        {"n_peaks_per_gene": 51},
        {"n_background_peaks": -1},
        {"batch_effect": -0.1},
        {"batch_effect": float("nan")},
        {"batch_effect": "huge"},
        {"seed": -1},
        {"seed": "zero"},
    ],
)
def test_multiome_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        simulate_multiome(**{"n_cells": 20, "n_genes": 20, **kwargs})


def test_unknown_batch_effect_string_names_accepted_values():
    with pytest.raises(ValueError, match="mild.*strong"):
        simulate_multiome(n_cells=10, n_genes=20, batch_effect="weak")
    with pytest.raises(ValueError, match="mild.*strong"):
        simulate_citeseq(n_cells=10, n_genes=20, n_proteins=5, batch_effect="weak")


@pytest.mark.parametrize(
    "kwargs",
    [{"n_proteins": 0}, {"n_proteins": 21}, {"n_cell_types": 0}, {"n_cells": -3}],
)
def test_citeseq_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        simulate_citeseq(**{"n_cells": 20, "n_genes": 20, "n_proteins": 5, **kwargs})


# --- edge cases and speed ------------------------------------------------------------------------


def test_small_and_odd_configurations():
    s = simulate_multiome(
        n_cells=30,
        n_cell_types=3,
        n_batches=1,
        n_genes=12,
        n_peaks_per_gene=1,
        n_background_peaks=0,
        batch_effect=0,
        seed=9,
    )
    assert s.atac.shape == (30, 12)
    assert (s.atac.var["peak_type"] == "promoter").all()
    assert s.links["is_promoter"].all() and len(s.links) == 12
    assert set(s.rna.obs["cell_type"]) == {"T0", "T1", "T2"}  # every type present
    assert list(s.rna.obs["batch"].cat.categories) == ["batch0"]
    one = simulate_multiome(n_cells=1, n_genes=10, n_background_peaks=5, seed=0)
    assert one.rna.shape == (1, 10) and one.atac.shape == (1, 45)
    # many background peaks for few genes: the genome is extended, peaks stay disjoint
    dense = simulate_multiome(n_cells=5, n_genes=10, n_peaks_per_gene=50, seed=0)
    var = dense.atac.var
    assert dense.atac.n_vars == 10 * 50 + 1000
    assert (var["start"].to_numpy()[1:] > var["end"].to_numpy()[:-1]).all()  # one chromosome
    sizes = dense.atac.uns["minnet_simulation"]["chrom_sizes"]
    assert var["end"].max() < sizes["chr1"]
    c = simulate_citeseq(n_cells=5, n_batches=4, n_genes=10, n_proteins=10, seed=0)
    assert set(c.rna.obs["batch"]) == {"batch0", "batch1", "batch2", "batch3"}


def test_default_multiome_is_fast():
    t0 = time.perf_counter()
    s = simulate_multiome(seed=0)
    elapsed = time.perf_counter() - t0
    assert s.rna.shape == (2000, 1000) and s.atac.shape == (2000, 5000)
    assert elapsed < 10.0  # typically ~0.5 s; generous bound for loaded CI machines
