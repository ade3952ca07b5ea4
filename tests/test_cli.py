"""The ``minnet`` command line."""

from __future__ import annotations

import subprocess
import sys

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from minnet.cli import main


@pytest.mark.parametrize("cmd", [[], ["demo"], ["train"], ["embed"], ["transfer"], ["links"]])
def test_help(cmd, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*cmd, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: minnet" in out


def test_console_script_installed():
    res = subprocess.run([sys.executable, "-m", "minnet.cli", "--version"], capture_output=True,
                         text=True, check=True)
    assert res.stdout.startswith("minnet ")


def test_train_embed_transfer_files(sim, sim_split, tmp_path, capsys):
    tr = sim_split
    sim.rna[tr].copy().write_h5ad(tmp_path / "rna.h5ad")
    act = __import__("minnet").pp.gene_activity(sim.atac, sim.annotation)
    act[tr].copy().write_h5ad(tmp_path / "act.h5ad")
    act[~tr].copy().write_h5ad(tmp_path / "act_q.h5ad")
    sim.rna[~tr].copy().write_h5ad(tmp_path / "rna_q.h5ad")
    model = tmp_path / "m.safetensors"
    assert main(["-q", "train", "--rna", str(tmp_path / "rna.h5ad"), "--other",
                 str(tmp_path / "act.h5ad"), "--modality", "atac", "--batch-key", "batch",
                 "--epochs", "2", "--out", str(model)]) == 0
    assert model.exists()
    for name, mod in (("rna_q", "rna"), ("act_q", "atac")):
        assert main(["-q", "embed", "--model", str(model), "--input",
                     str(tmp_path / f"{name}.h5ad"), "--modality", mod, "--out",
                     str(tmp_path / f"{name}_emb.h5ad")]) == 0
    assert main(["-q", "transfer", "--reference", str(tmp_path / "rna_q_emb.h5ad"), "--query",
                 str(tmp_path / "act_q_emb.h5ad"), "--out", str(tmp_path / "lab.h5ad")]) == 0
    lab = ad.read_h5ad(tmp_path / "lab.h5ad")
    assert "cell_type_pred" in lab.obs and lab.obsm["X_minnet"].shape[1] == 32
    # blended with the model's classifier; the classifier alone equals predict_labels
    assert main(["-q", "transfer", "--reference", str(tmp_path / "rna_q_emb.h5ad"), "--query",
                 str(tmp_path / "act_q_emb.h5ad"), "--model", str(model), "--modality", "atac",
                 "--head-weight", "1", "--out", str(tmp_path / "lab2.h5ad")]) == 0
    lab2 = ad.read_h5ad(tmp_path / "lab2.h5ad")
    head = __import__("minnet").load(model).predict_labels(act[~tr], "atac")
    assert (lab2.obs["cell_type_pred"].astype(str).to_numpy()
            == head["label"].astype(str).to_numpy()).all()
    # links from the query's RNA and ATAC peaks, embedding both with the model first
    atac_q = sim.atac[~tr].copy()
    del atac_q.obs["cell_type"]  # labels come from the RNA by transfer
    atac_q.write_h5ad(tmp_path / "atac_q.h5ad")
    sim.annotation.to_csv(tmp_path / "tss.tsv", sep="\t", index=False)
    tsv = tmp_path / "links.tsv"
    assert main(["-q", "links", "--rna", str(tmp_path / "rna_q.h5ad"), "--atac",
                 str(tmp_path / "atac_q.h5ad"), "--annotation", str(tmp_path / "tss.tsv"),
                 "--model", str(model), "--n-bulks", "20", "--out", str(tsv)]) == 0
    links = pd.read_csv(tsv, sep="\t")
    assert list(links.columns[:7]) == ["gene", "peak", "distance", "score", "zscore", "pvalue",
                                       "qvalue"]
    assert len(links) > 100 and links["distance"].abs().max() <= 150_000


def test_cli_reports_errors(tmp_path, capsys):
    code = main(["embed", "--model", str(tmp_path / "none.safetensors"), "--input", "x.h5ad",
                 "--modality", "rna", "--out", "y.h5ad"])
    assert code == 2
    assert "error" in capsys.readouterr().err


def test_links_command_is_one_peak_gene_links_call(sim, tmp_path, peak_gene_links_calls):
    import minnet

    # unpaired halves in a stand-in co-embedding (cell type + noisy latent state)
    rng = np.random.default_rng(0)
    onehot = pd.get_dummies(sim.rna.obs["cell_type"]).to_numpy(float) * 10
    emb = np.hstack([onehot, sim.rna.obsm["latent_state"] + rng.normal(0, 1, (sim.rna.n_obs, 2))])
    idx = np.arange(sim.rna.n_obs)
    rna, atac = sim.rna[idx % 2 == 0].copy(), sim.atac[idx % 2 == 1].copy()
    rna.obsm["X_minnet"], atac.obsm["X_minnet"] = emb[idx % 2 == 0], emb[idx % 2 == 1]
    atac.obs["cell_type_pred"] = atac.obs.pop("cell_type")
    rna.write_h5ad(tmp_path / "rna.h5ad")
    atac.write_h5ad(tmp_path / "atac.h5ad")
    sim.annotation.to_csv(tmp_path / "tss.tsv", sep="\t", index=False)
    genes = list(sim.annotation["gene_name"][:60])
    calls = peak_gene_links_calls
    tsv = tmp_path / "links.tsv"
    assert main(["-q", "links", "--rna", str(tmp_path / "rna.h5ad"), "--atac",
                 str(tmp_path / "atac.h5ad"), "--annotation", str(tmp_path / "tss.tsv"),
                 "--groupby", "cell_type", "cell_type_pred", "--genes", *genes,
                 "--n-bulks", "40", "--n-background", "30", "--n-neighbors", "7",
                 "--percentile", "90", "--method", "pearson", "--seed", "3",
                 "--out", str(tsv)]) == 0
    assert len(calls) == 1
    kw = calls[0]["kwargs"]
    assert kw["groupby"] == ("cell_type", "cell_type_pred") and kw["genes"] == genes
    assert (kw["n_background"], kw["n_neighbors"], kw["percentile"]) == (30, 7, 90.0)
    # the TSV is the table of a direct call with the same settings
    direct = minnet.tl.peak_gene_links(
        rna, atac, sim.annotation, groupby=("cell_type", "cell_type_pred"), genes=genes,
        n_bulks=40, n_background=30, n_neighbors=7, percentile=90.0, method="pearson", seed=3,
        progress=False,
    )
    written = pd.read_csv(tsv, sep="\t", float_precision="round_trip")
    assert set(written["gene"]) <= set(genes) and len(written) > 20
    pd.testing.assert_frame_equal(written, direct, check_exact=True, check_dtype=False)
    # more than two group columns is an input error (exit code 2)
    assert main(["-q", "links", "--rna", str(tmp_path / "rna.h5ad"), "--atac",
                 str(tmp_path / "atac.h5ad"), "--annotation", str(tmp_path / "tss.tsv"),
                 "--groupby", "a", "b", "c", "--out", str(tsv)]) == 2
