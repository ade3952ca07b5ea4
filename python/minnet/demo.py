"""The ``minnet demo`` pipeline: simulate → train on some batches → evaluate on held-out ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
    n_bulks = int(min(100, max(10, atac_q.n_obs // 20)))
    links = tl.peak_gene_links(rna_q, atac_q, sim.annotation,
                               groupby=("cell_type", "cell_type_pred"), n_bulks=n_bulks,
                               seed=seed, progress=progress)
    files.append(out / "links.tsv")
    links.to_csv(files[-1], sep="\t", index=False)
    truth = set(zip(sim.links["gene"], sim.links["peak"], strict=True))
    is_true = np.array([(g, p) in truth for g, p in zip(links["gene"], links["peak"], strict=True)])
    if 0 < is_true.sum() < len(is_true):
        from sklearn.metrics import roc_auc_score

        results["peak-gene link AUROC"] = roc_auc_score(is_true, links["score"])
    top = links.sort_values("pvalue").iloc[0]
    tss = sim.annotation.set_index("gene_name").loc[top["gene"]]
    region = f"{tss['chrom']}-{max(0, int(tss['tss']) - 160_000)}-{int(tss['tss']) + 160_000}"
    files.append(out / "links.png")
    pl.links(links[links["gene"] == top["gene"]], region, annotation=sim.annotation,
             save=files[-1])
    return {
        "metrics": results, "train_batches": train_b, "test_batches": test_b,
        "files": files, "model": model,
    }
