"""The ``minnet demo`` pipeline: simulate → train on some batches → evaluate on held-out ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import metrics, pl, tl
from .datasets import simulate_multiome
from .model import MinNetModel
from .train import train


def evaluate_pair(rna, other, label_key: str = "cell_type", use_rep: str = "X_minnet") -> dict:
    """Metrics of a paired held-out set embedded as two unpaired objects (rows = same cells)."""
    zx, zy = rna.obsm[use_rep], other.obsm[use_rep]
    z = np.concatenate([zx, zy])
    lab = np.concatenate([rna.obs[label_key].astype(str), other.obs[label_key].astype(str)])
    mod = np.repeat(["rna", "other"], [len(zx), len(zy)])
    pred = tl.transfer_labels(rna, other, label_key, use_rep=use_rep)
    acc = metrics.label_transfer_accuracy(other.obs[label_key].astype(str),
                                          pred.obs[f"{label_key}_pred"].astype(str))
    return {
        "FOSCTTM (lower is better)": metrics.foscttm(zx, zy),
        "label transfer accuracy": acc["accuracy"],
        "label transfer macro accuracy": acc["macro"],
        "cell-type silhouette": metrics.silhouette_celltype(z, lab),
        "modality mixing (1 - ASW)": metrics.silhouette_mixing(z, mod, lab),
    }


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
    results = evaluate_pair(rna_q, atac_q)
    rna_q.write_h5ad(out / "rna_heldout_embedded.h5ad")
    atac_q.write_h5ad(out / "atac_heldout_embedded.h5ad")
    png = out / "umap.png"
    pl.embedding({"RNA": rna_q, "ATAC": atac_q}, color=["modality", "cell_type"], save=png)
    return {
        "metrics": results, "train_batches": train_b, "test_batches": test_b,
        "files": [model_path, out / "rna_heldout_embedded.h5ad",
                  out / "atac_heldout_embedded.h5ad", png],
        "model": model,
    }
