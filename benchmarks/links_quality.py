"""How well ``peak_gene_links`` finds the simulator's true peak-gene links (issue 18).

    python benchmarks/links_quality.py              # demo size: 3,000 cells, 1,000 genes
    python benchmarks/links_quality.py --seed 1 --n-bulks 150 --methods spearman,robust

Data: ``simulate_multiome(n_cells=3000, n_cell_types=8, n_batches=3, seed=...)`` (1,000
genes, 5,000 peaks, the simulator's defaults). MinNet is trained on batches 0-1 with
``minnet.train(..., annotation=sim.annotation)`` for ``--epochs`` (default 20, fewer than
the training default, so a run takes a few minutes on 2 cores); the held-out batch's RNA and ATAC are
embedded separately (treated as unpaired), the ATAC cells get transferred labels and
``peak_gene_links`` is run with each link statistic. The **oracle** rows place every ATAC
cell on its paired RNA cell (same embedding and label: perfect integration).

Columns: recall of the true links (``sim.links``) at q < 0.1, empirical FDR among the
pairs with q < 0.1, AUROC and AUPRC of ``abs(score)`` over the tested pairs (the issue's
measure), AUROC and AUPRC of the p-value ranking (``auroc_p``, ``auprc_p``: what each
method actually ranks by; one-sided for ``robust`` and ``within``), and seconds of
``peak_gene_links``. The trained embedding is cached in ``--cache`` so reruns skip training.
Signac's ``LinkPeaks`` row is not run here (it needs Signac built from ../shared/r-sources).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

import minnet
from minnet import tl
from minnet.datasets import simulate_multiome

RESULTS = Path(__file__).resolve().parent / "results"


def _heldout(epochs: int, seed: int, cache: Path):
    """Simulation and the held-out batch's RNA and ATAC cells, embedded (cached)."""
    import anndata as ad

    sim = simulate_multiome(n_cells=3000, n_cell_types=8, n_batches=3, seed=seed)
    is_train = sim.rna.obs["batch"].isin(["batch0", "batch1"]).to_numpy()
    f_rna = cache / f"rna_e{epochs}_s{seed}.h5ad"
    f_atac = cache / f"atac_e{epochs}_s{seed}.h5ad"
    if f_rna.exists() and f_atac.exists():
        return sim, ad.read_h5ad(f_rna), ad.read_h5ad(f_atac)
    model = minnet.train(
        sim.rna[is_train], sim.atac[is_train], modality="atac", label_key="cell_type",
        batch_key="batch", annotation=sim.annotation, seed=seed, epochs=epochs,
        progress=False,
    )
    rna = tl.embed(model, sim.rna[~is_train], "rna")
    atac = tl.embed(model, sim.atac[~is_train], "atac")
    atac = tl.transfer_labels(rna, atac, "cell_type")
    cache.mkdir(parents=True, exist_ok=True)
    rna.write_h5ad(f_rna)
    atac.write_h5ad(f_atac)
    return sim, rna, atac


def _oracle(rna, atac):
    """ATAC cells placed exactly on their paired RNA cells, with the RNA labels."""
    atac = atac.copy()
    atac.obsm["X_minnet"] = rna[atac.obs_names].obsm["X_minnet"].copy()
    atac.obs["cell_type_pred"] = rna[atac.obs_names].obs["cell_type"].astype(str).to_numpy()
    return atac


def _scores(links: pd.DataFrame, truth: pd.DataFrame, q: float = 0.1) -> dict:
    from sklearn.metrics import average_precision_score, roc_auc_score

    true = set(zip(truth["gene"], truth["peak"], strict=True))
    is_true = np.array(
        [(g, p) in true for g, p in zip(links["gene"], links["peak"], strict=True)]
    )
    called = links["qvalue"].to_numpy() < q
    s = np.abs(links["score"].to_numpy())
    return {
        "n_called": int(called.sum()),
        "recall": round(float((called & is_true).sum() / len(truth)), 3),
        "emp_fdr": round(float((called & ~is_true).sum() / max(called.sum(), 1)), 3),
        "auroc": round(float(roc_auc_score(is_true, s)), 3),
        "auprc": round(float(average_precision_score(is_true, s)), 3),
        # the statistic each method ranks by: -log p (signed z for one-sided methods)
        "auroc_p": round(float(roc_auc_score(is_true, -links["pvalue"].fillna(1).to_numpy())), 3),
        "auprc_p": round(
            float(average_precision_score(is_true, -links["pvalue"].fillna(1).to_numpy())), 3
        ),
        "tested_true_frac": round(float(is_true.sum() / len(truth)), 3),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-bulks", type=int, default=100)
    p.add_argument("--methods", default="spearman,robust,within")
    p.add_argument("--no-smooth", action="store_true", help="skip the KNN smoothing")
    p.add_argument("--cache", default="/tmp/minnet_links_quality")
    p.add_argument("--out", default=str(RESULTS / "links_quality.csv"))
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sim, rna, atac = _heldout(args.epochs, args.seed, Path(args.cache))
    n_bulks = args.n_bulks
    rows = []
    for setting, atac_s in (("MinNet co-embedding", atac), ("oracle (paired)", _oracle(rna, atac))):
        for method in args.methods.split(","):
            t0 = time.perf_counter()
            links = tl.peak_gene_links(
                rna, atac_s, sim.annotation, groupby=("cell_type", "cell_type_pred"),
                method=method, n_bulks=n_bulks, seed=args.seed, progress=False,
                smooth=not args.no_smooth,
            )
            secs = time.perf_counter() - t0
            row = {"setting": setting, "method": method,
                   "n_bulks": links.attrs["minnet_link_peaks"]["n_bulks"],
                   **_scores(links, sim.links), "seconds": round(secs, 1)}
            rows.append(row)
            print(pd.DataFrame([row]).to_string(index=False, header=len(rows) == 1), flush=True)
    df = pd.DataFrame(rows)
    print()
    print(df.to_string(index=False))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)


if __name__ == "__main__":
    main()
