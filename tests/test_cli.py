"""The ``minnet`` command line."""

from __future__ import annotations

import subprocess
import sys

import anndata as ad
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


def test_demo_writes_outputs(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["-q", "demo", "--out", str(out), "--n-cells", "600", "--epochs", "3"]) == 0
    text = capsys.readouterr().out
    assert "FOSCTTM" in text and "label transfer accuracy" in text and "silhouette" in text
    assert "peak-gene link AUROC" in text
    for name in ("model.safetensors", "umap.png", "rna_heldout_embedded.h5ad",
                 "atac_heldout_embedded.h5ad", "transfer_confusion.png", "links.tsv",
                 "links.png"):
        assert (out / name).stat().st_size > 0
