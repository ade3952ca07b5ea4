"""End to end on the real BMMC starters in ../shared/data (skipped when absent)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

import minnet
from minnet import metrics

from .conftest import shared_data


def _multiome_starter():
    folder = shared_data("bmmc_multiome_starter")
    tss = shared_data("annotation", "hg38_tss.tsv")
    rna, atac = ad.read_h5ad(folder / "rna.h5ad"), ad.read_h5ad(folder / "atac.h5ad")
    return rna, atac, tss


def test_bmmc_multiome_peaks_end_to_end(tmp_path):
    rna, atac, tss = _multiome_starter()
    train = (rna.obs["batch"] == "s1d1").to_numpy()
    model = minnet.train(rna[train], atac[train], modality="atac", batch_key="batch",
                         layer="counts", other_layer="counts", annotation=tss, epochs=5,
                         progress=False)
    assert model.annotation is not None and len(model.features["atac"]) > 50
    model.save(tmp_path / "bmmc.safetensors")
    model = minnet.load(tmp_path / "bmmc.safetensors")
    zr = model.embed(rna[~train], "rna", layer="counts")
    za = model.embed(atac[~train], "atac", layer="counts")  # peaks → gene activity → embedding
    assert zr.shape == za.shape == ((~train).sum(), 32)
    assert np.isfinite(zr).all() and np.isfinite(za).all()
    assert 0.0 <= metrics.foscttm(zr, za) <= 1.0

    # downstream on the held-out cells as unpaired data: labels → smoothing → mini-bulks → links
    q_rna = minnet.tl.embed(model, rna[~train], "rna", layer="counts")
    q_atac = minnet.tl.embed(model, atac[~train], "atac", layer="counts")
    q_atac.obs = q_atac.obs.drop(columns="cell_type")  # unpaired: ATAC labels come from RNA
    q_atac = minnet.tl.transfer_labels(q_rna, q_atac, "cell_type")
    assert "cell_type_pred" in q_atac.obs
    links = minnet.tl.peak_gene_links(q_rna, q_atac, str(tss), groupby="cell_type",
                                      n_bulks=20, layer="counts", atac_layer="counts",
                                      n_background=50, progress=False)
    assert list(links.columns[:7]) == ["gene", "peak", "distance", "score", "zscore", "pvalue",
                                       "qvalue"]
    assert len(links) > 0
    assert links["distance"].abs().max() <= 150_000
    assert set(links["gene"]) <= set(rna.var_names)
    assert set(links["peak"]) <= set(atac.var_names)
    assert links["pvalue"].between(0, 1).all() and links["qvalue"].between(0, 1).all()
    assert (links["qvalue"] >= links["pvalue"] - 1e-12).all()


def test_bmmc_cite_beats_chance():
    folder = shared_data("bmmc_cite_starter")
    rna, adt = ad.read_h5ad(folder / "rna.h5ad"), ad.read_h5ad(folder / "adt.h5ad")
    train = (rna.obs["batch"] == "s1d1").to_numpy()
    model = minnet.train(rna[train], adt[train], modality="adt", batch_key="batch",
                         layer="counts", other_layer="counts", progress=False, seed=0)
    zr = model.embed(rna[~train], "rna", layer="counts")
    za = model.embed(adt[~train], "adt", layer="counts")
    assert metrics.foscttm(zr, za) < 0.3  # chance is 0.5
    q = adt[~train].copy()
    q.obsm["X_minnet"] = za
    r = rna[~train].copy()
    r.obsm["X_minnet"] = zr
    pred = minnet.tl.transfer_labels(r, q, "cell_type").obs["cell_type_pred"]
    acc = (pred.astype(str) == q.obs["cell_type"].astype(str)).mean()
    top = q.obs["cell_type"].value_counts(normalize=True).iloc[0]
    assert acc > top  # better than always guessing the commonest type
    assert isinstance(pred.dtype, pd.CategoricalDtype)
