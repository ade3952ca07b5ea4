"""tl.peak_gene_links: the one peak-gene orchestrator (smooth, mini-bulks, links) and its callers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import minnet
from minnet import MinNetInputError
from minnet.tl._links import link_peaks
from minnet.tl._minibulk import minibulk
from minnet.tl._smooth import smooth

# Peaks around G1 (chr1, TSS 100,000, '+'); midpoints are (start + end) // 2.


# ---------------------------------------------------------------------------------------------
# exact scores, distances, window
# ---------------------------------------------------------------------------------------------


PGL = {"n_bulks": 30, "n_background": 30, "progress": False}


def _rbridge():
    """The R package's Python glue (rpkg/inst/python), imported from its file."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "rpkg" / "inst" / "python" / "minnet_rbridge.py"
    spec = importlib.util.spec_from_file_location("minnet_rbridge", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pgl_base(sim, unpaired):
    rna, atac = unpaired
    return minnet.tl.peak_gene_links(rna, atac, sim.annotation, **PGL)


def test_peak_gene_links_is_smooth_minibulk_link_peaks(sim, unpaired, pgl_base):
    rna, atac = unpaired
    rna_bulk, atac_bulk = minibulk(smooth(rna), smooth(atac), n_bulks=30,
                                   layer="minnet_smoothed", atac_layer="minnet_smoothed")
    steps = link_peaks(rna_bulk, atac_bulk, sim.annotation, n_background=30, progress=False)
    pd.testing.assert_frame_equal(pgl_base, steps, check_exact=True)
    assert pgl_base.attrs["minnet_link_peaks"]["n_bulks"] == rna_bulk.n_obs
    assert len(pgl_base) > 100


def test_peak_gene_links_genes_restricts(sim, unpaired, pgl_base):
    rna, atac = unpaired
    genes = list(pd.unique(pgl_base["gene"]))[3:8]
    sub = minnet.tl.peak_gene_links(rna, atac, sim.annotation, genes=genes, **PGL)
    assert set(sub["gene"]) == set(genes)
    # same mini-bulks, so the same pairs and scores as the full run for these genes
    full = pgl_base[pgl_base["gene"].isin(genes)].reset_index(drop=True)
    cols = ["gene", "peak", "distance", "score"]
    pd.testing.assert_frame_equal(sub[cols], full[cols], check_exact=True)
    one = minnet.tl.peak_gene_links(rna, atac, sim.annotation, genes=genes[0], **PGL)
    assert set(one["gene"]) == {genes[0]}


def test_peak_gene_links_groupby_pair(sim, unpaired, pgl_base):
    rna, atac = unpaired
    renamed = atac.copy()
    renamed.obs["atac_type"] = renamed.obs.pop("cell_type")
    pair = minnet.tl.peak_gene_links(rna, renamed, sim.annotation,
                                     groupby=("cell_type", "atac_type"), **PGL)
    pd.testing.assert_frame_equal(pair, pgl_base, check_exact=True)  # same labels, new name
    # the ATAC column is really used: shuffled ATAC labels give other mini-bulks and links
    renamed.obs["atac_type"] = np.random.default_rng(0).permutation(
        renamed.obs["atac_type"].to_numpy()
    )
    shuffled = minnet.tl.peak_gene_links(rna, renamed, sim.annotation,
                                         groupby=("cell_type", "atac_type"), **PGL)
    assert not np.array_equal(shuffled["score"].to_numpy(), pair["score"].to_numpy())
    with pytest.raises(MinNetInputError, match="'nope' is not in atac.obs"):
        minnet.tl.peak_gene_links(rna, renamed, sim.annotation, groupby=("cell_type", "nope"))
    with pytest.raises(MinNetInputError, match="'nope' is not in rna.obs"):
        minnet.tl.peak_gene_links(rna, renamed, sim.annotation, groupby=("nope", "atac_type"))
    with pytest.raises(MinNetInputError, match=r"\(rna_column, atac_column\)"):
        minnet.tl.peak_gene_links(rna, renamed, sim.annotation, groupby=("a", "b", "c"))


def test_peak_gene_links_transfers_missing_labels(sim, unpaired):
    rna, atac = unpaired
    unlabelled = atac.copy()
    del unlabelled.obs["cell_type"]
    before = unlabelled.obs.copy()
    auto = minnet.tl.peak_gene_links(rna, unlabelled, sim.annotation, **PGL)
    pd.testing.assert_frame_equal(unlabelled.obs, before)  # the caller's object is untouched
    labelled = minnet.tl.transfer_labels(rna, unlabelled, "cell_type")
    manual = minnet.tl.peak_gene_links(rna, labelled, sim.annotation, **PGL)
    pd.testing.assert_frame_equal(auto, manual, check_exact=True)
    with pytest.raises(MinNetInputError, match="neither 'cell_type' nor 'cell_type_pred'"):
        minnet.tl.peak_gene_links(rna, unlabelled, sim.annotation, transfer=False, **PGL)


def test_peak_gene_links_embeds_with_model(sim, small_model):
    idx = np.arange(sim.rna.n_obs)
    rna, atac = sim.rna[idx % 2 == 0].copy(), sim.atac[idx % 2 == 1].copy()
    via_model = minnet.tl.peak_gene_links(rna, atac, sim.annotation, model=small_model, **PGL)
    assert "X_minnet" not in rna.obsm and "X_minnet" not in atac.obsm
    embedded = (minnet.tl.embed(small_model, rna, "rna"), minnet.tl.embed(small_model, atac, "atac"))
    manual = minnet.tl.peak_gene_links(*embedded, sim.annotation, **PGL)
    pd.testing.assert_frame_equal(via_model, manual, check_exact=True)


def test_peak_gene_links_checks_method_first(sim, unpaired):
    rna, atac = unpaired
    with pytest.raises(MinNetInputError, match="method must be one of"):
        minnet.tl.peak_gene_links(rna, atac, sim.annotation, method="kendall", **PGL)


def test_r_bridge_runs_peak_gene_links_once(sim, unpaired, monkeypatch):
    rna, atac = unpaired
    bridge = _rbridge()
    genes = list(sim.annotation["gene_name"][:40])
    direct = minnet.tl.peak_gene_links(rna, atac, sim.annotation, groupby=("cell_type", "cell_type"),
                                       genes=genes, method="pearson", seed=2, **PGL)
    calls = []
    real = minnet.tl.peak_gene_links

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(minnet.tl, "peak_gene_links", spy)
    res = bridge.link_pipeline(rna, atac, bridge.columns(sim.annotation), ["cell_type"], 30,
                               150_000, "pearson", np.array(genes), 30, True, 5, 95.0, 2)
    assert len(calls) == 1 and calls[0]["groupby"] == ("cell_type", "cell_type")
    pd.testing.assert_frame_equal(pd.DataFrame(res["links"]),
                                  pd.DataFrame(bridge.columns(direct)), check_exact=True)
    assert res["n_bulks"] == direct.attrs["minnet_link_peaks"]["n_bulks"]
    # the R package may send the annotation as a DataFrame (bridge.frame) instead of columns
    again = bridge.link_pipeline(rna, atac, bridge.frame(bridge.columns(sim.annotation)),
                                 ["cell_type", "cell_type"], 30, 150_000, "pearson",
                                 np.array(genes), 30, True, 5, 95.0, 2)
    assert again["links"]["score"].tolist() == res["links"]["score"].tolist()


@pytest.mark.parametrize("method", ["robust", "within"])
def test_peak_gene_links_new_methods(sim, unpaired, method):
    """The issue-18 statistics run through the orchestrator, seeded (same call, same table)."""
    rna, atac = unpaired
    df = minnet.tl.peak_gene_links(rna, atac, sim.annotation, method=method, **PGL)
    again = minnet.tl.peak_gene_links(rna, atac, sim.annotation, method=method, **PGL)
    pd.testing.assert_frame_equal(df, again, check_exact=True)
    assert df.attrs["minnet_link_peaks"]["method"] == method
    if method == "within":  # the mini-bulks' group column is found without being named
        assert df.attrs["minnet_link_peaks"]["groupby"] == "cell_type"
    p = df["pvalue"].dropna()
    assert len(p) > 100 and ((p >= 0) & (p <= 1)).all()
