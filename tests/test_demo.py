"""The demo pipeline (minnet demo / make demo)."""

from __future__ import annotations

import pandas as pd

from minnet.cli import main


def test_demo_writes_outputs(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["-q", "demo", "--out", str(out), "--n-cells", "600", "--epochs", "3"]) == 0
    text = capsys.readouterr().out
    assert "FOSCTTM" in text and "label transfer accuracy" in text and "silhouette" in text
    assert "peak-gene link AUROC" in text
    assert "peak-gene links at q < 0.1" in text and "recall of the true links" in text
    assert "empirical FDR" in text
    for name in ("model.safetensors", "umap.png", "rna_heldout_embedded.h5ad",
                 "atac_heldout_embedded.h5ad", "transfer_confusion.png", "links.tsv",
                 "links.png"):
        assert (out / name).stat().st_size > 0


def test_demo_links_come_from_peak_gene_links(tmp_path, peak_gene_links_calls):
    from minnet.demo import run_demo

    calls = peak_gene_links_calls
    res = run_demo(out=tmp_path, n_cells=600, epochs=3, progress=False)
    assert len(calls) == 1
    assert calls[0]["kwargs"]["groupby"] == ("cell_type", "cell_type_pred")
    assert "method" not in calls[0]["kwargs"]  # the package's default statistic
    written = pd.read_csv(tmp_path / "links.tsv", sep="\t", float_precision="round_trip")
    pd.testing.assert_frame_equal(written, calls[0]["out"], check_exact=True, check_dtype=False)
    # the reported numbers are those of the written links against the simulator's truth
    called = written[written["qvalue"] < 0.1]
    assert res["metrics"]["peak-gene links at q < 0.1"] == len(called)
    assert 0 <= res["metrics"]["  empirical FDR"] <= 1
