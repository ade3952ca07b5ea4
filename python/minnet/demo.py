"""The ``minnet demo`` pipeline: simulate → train on some batches → evaluate on held-out ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import metrics, pl, tl
from .datasets import simulate_multiome
from .model import MinNetModel
from .train import train


def run_demo(
    out: str | Path = "minnet-demo",
    n_cells: int = 3000,
    epochs: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Run the demo and write its files into ``out``.

    Returns
    -------
    dict with ``metrics``, ``train_batches``, ``test_batches``, ``files`` and ``model``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sim = simulate_multiome(n_cells=n_cells, n_cell_types=8, n_batches=3, seed=seed)
    batches = sorted(sim.rna.obs["batch"].unique())
    train_b, test_b = batches[:-1], batches[-1:]
    is_train = sim.rna.obs["batch"].isin(train_b).to_numpy()
    kw = {} if epochs is None else {"epochs": epochs}
    model: MinNetModel = train(
        sim.rna[is_train], sim.atac[is_train], modality="atac", label_key="cell_type",
        batch_key="batch", annotation=sim.annotation, seed=seed, progress=progress, **kw,
    )
    model_path = out / "model.safetensors"
    model.save(model_path)
    # Held-out batch: its RNA and ATAC are treated as two unrelated (unpaired) objects.
    rna_q = tl.embed(model, sim.rna[~is_train], "rna")
    atac_q = tl.embed(model, sim.atac[~is_train], "atac")
    results = metrics.evaluate_pair(rna_q, atac_q)
    # Label the ATAC cells as a user would (their own labels are only used for scoring).
    atac_q = tl.transfer_labels(rna_q, atac_q, "cell_type")
    rna_q.write_h5ad(out / "rna_heldout_embedded.h5ad")
    atac_q.write_h5ad(out / "atac_heldout_embedded.h5ad")
    files = [model_path, out / "rna_heldout_embedded.h5ad", out / "atac_heldout_embedded.h5ad"]
    files.append(out / "umap.png")
    pl.embedding({"RNA": rna_q, "ATAC": atac_q}, color=["modality", "cell_type"], save=files[-1])
    files.append(out / "transfer_confusion.png")
    pl.transfer_confusion(atac_q, "cell_type", save=files[-1])

    # Peak–gene links from the unpaired held-out cells, scored against the simulator's truth.
    # ATAC cells are grouped by their transferred labels, as for real unlabelled ATAC data.
    links = tl.peak_gene_links(rna_q, atac_q, sim.annotation,
                               groupby=("cell_type", "cell_type_pred"), seed=seed,
                               progress=progress)
    files.append(out / "links.tsv")
    links.to_csv(files[-1], sep="\t", index=False)
    results.update(_link_quality(links, sim.links))
    files.append(out / "links.png")
    _draw_significant_links(links, sim.annotation, files[-1])
    return {
        "metrics": results, "train_batches": train_b, "test_batches": test_b,
        "files": files, "model": model,
    }


LINK_Q = 0.1  # links called at q < 0.1 in the demo's report and figure


def _link_quality(links: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """AUROC of the link score, links called at q < LINK_Q, their recall and empirical FDR."""
    from sklearn.metrics import roc_auc_score

    true = set(zip(truth["gene"], truth["peak"], strict=True))
    is_true = np.array([(g, p) in true for g, p in zip(links["gene"], links["peak"], strict=True)])
    called = (links["qvalue"] < LINK_Q).to_numpy()
    out = {}
    if 0 < is_true.sum() < len(is_true):
        out["peak-gene link AUROC"] = float(roc_auc_score(is_true, links["score"].fillna(0)))
    out[f"peak-gene links at q < {LINK_Q}"] = int(called.sum())
    out["  recall of the true links"] = float((called & is_true).sum() / max(len(true), 1))
    out["  empirical FDR"] = float((called & ~is_true).sum() / max(called.sum(), 1))
    return out


def _draw_significant_links(links: pd.DataFrame, annotation: pd.DataFrame, path: Path) -> None:
    """The links called at q < LINK_Q around the gene with the most of them (else the best)."""
    called = links[(links["qvalue"] < LINK_Q).to_numpy()]
    if len(called):
        gene = called["gene"].value_counts().index[0]
        shown = called[called["gene"] == gene]
    else:  # nothing called: the best-scoring gene's pairs, all of them
        gene = links.sort_values("score", ascending=False)["gene"].iloc[0]
        shown = links[links["gene"] == gene]
    tss = annotation.set_index("gene_name").loc[gene]
    region = f"{tss['chrom']}-{max(0, int(tss['tss']) - 160_000)}-{int(tss['tss']) + 160_000}"
    pl.links(shown, region, annotation=annotation, save=path)
