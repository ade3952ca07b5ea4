"""How well ``peak_gene_links`` finds the simulator's true peak-gene links (issue 18).

    python benchmarks/links_quality.py              # demo size: 3,000 cells, 1,000 genes
    python benchmarks/links_quality.py --seed 1 --n-bulks 150 --methods empirical_bayes,robust
    python benchmarks/links_quality.py --snare ../shared/data/snare_cortex_dev
        --methods empirical_bayes,spearman,robust --out benchmarks/results/links_quality_snare.csv

``--snare``: real data instead (SNARE-seq cortex, paired cells; see ``_snare``): links at
q < 0.1 on all cells and on two halves of the libraries, and their replication.

Data: ``simulate_multiome(n_cells=3000, n_cell_types=8, n_batches=3, seed=...)`` (1,000
genes, 5,000 peaks, the simulator's defaults). MinNet is trained on batches 0-1 with
``minnet.train(..., annotation=sim.annotation)`` for ``--epochs`` (default 20, fewer than
the training default, so a run takes a few minutes on 2 cores); the held-out batch's RNA and ATAC are
embedded separately (treated as unpaired), the ATAC cells get transferred labels and
``peak_gene_links`` is run with each link statistic. The **oracle** rows place every ATAC
cell on its paired RNA cell (same embedding and label: perfect integration).

Columns: recall of the true links (``sim.links``) at q < 0.1, empirical FDR among the
pairs with q < 0.1, AUROC and AUPRC of ``abs(score)`` over the tested pairs (the issue's
measure; for ``empirical_bayes`` the score is the posterior probability of a link, what it
ranks by), AUROC and AUPRC of the p-value ranking (``auroc_p``, ``auprc_p``; one-sided for
``robust``, ``within`` and ``empirical_bayes``), the false calls split into another gene's
true link / a decoy peak / a background peak (``false_*``), and seconds of
``peak_gene_links``. The trained embedding is cached in ``--cache`` so reruns skip training.
The **Signac** row runs Signac 1.10's ``LinkPeaks`` (``benchmarks/peers/run_linkpeaks.R``,
through ``Rscript`` with files in a temp dir) on the held-out batch's *paired* single cells
(its best case): RNA log-normalised (``NormalizeData``), peak counts, annotation = the
simulator's TSS table, ``distance`` = 150 kb as for MinNet, 200 background peaks, GC content
constant (background matched on accessibility and peak length), cut-offs opened; its p-value
``pnorm(-|z|)`` as Signac computes it, BH over all tested pairs. ``n_default`` /
``fdr_default``: links Signac keeps with its default cut-offs (p < 0.05, ``|r| > 0.05``) and
the fraction of them not true. Signac is looked up in ``$MINNET_SIGNAC_LIB`` or
``~/.cache/minnet/r-stacks/v4signac-*`` (put first in ``R_LIBS``); ``--no-signac`` skips it.
"""

from __future__ import annotations

import argparse
import glob
import logging
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control

import minnet
from minnet import tl
from minnet.datasets import simulate_multiome

RESULTS = Path(__file__).resolve().parent / "results"
LINKPEAKS_R = Path(__file__).resolve().parent / "peers" / "run_linkpeaks.R"


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


def _signac_lib() -> str | None:
    lib = os.environ.get("MINNET_SIGNAC_LIB")
    if lib:
        return lib
    found = sorted(glob.glob(os.path.expanduser("~/.cache/minnet/r-stacks/v4signac-*")))
    return found[-1] if found else None


def _signac_links(rna, atac, annotation: pd.DataFrame, distance: int = 150_000,
                  n_sample: int = 200) -> tuple[pd.DataFrame, float]:
    """Signac ``LinkPeaks`` on paired cells (``rna``, ``atac`` raw counts, same cells)."""
    import scipy.io
    import scipy.sparse as sp

    lib = _signac_lib()
    if lib is None:
        raise RuntimeError("Signac not found: set MINNET_SIGNAC_LIB")
    atac = atac[rna.obs_names]
    with tempfile.TemporaryDirectory(prefix="minnet_linkpeaks_") as tmp:
        d = Path(tmp)
        scipy.io.mmwrite(d / "rna.mtx", sp.csr_matrix(rna.X).T.tocoo())
        scipy.io.mmwrite(d / "atac.mtx", sp.csr_matrix(atac.X).T.tocoo())
        (d / "genes.txt").write_text("\n".join(rna.var_names) + "\n")
        (d / "peaks.txt").write_text("\n".join(atac.var_names) + "\n")
        (d / "cells.txt").write_text("\n".join(rna.obs_names) + "\n")
        annotation[["gene_name", "chrom", "tss", "strand"]].to_csv(
            d / "annotation.csv", index=False
        )
        env = dict(os.environ)
        env["R_LIBS"] = lib + (os.pathsep + env["R_LIBS"] if env.get("R_LIBS") else "")
        res = subprocess.run(
            ["Rscript", str(LINKPEAKS_R), str(d), str(distance), str(n_sample)],
            env=env, capture_output=True, text=True,
        )
        if res.returncode != 0:
            raise RuntimeError(f"LinkPeaks failed:\n{res.stderr[-3000:]}")
        links = pd.read_csv(d / "links.csv")
        secs = float((d / "seconds.txt").read_text())
    links["qvalue"] = false_discovery_control(links["pvalue"].to_numpy())  # BH
    return links, secs


def _false_calls(links: pd.DataFrame, called: np.ndarray, is_true: np.ndarray,
                 peak_var: pd.DataFrame) -> dict:
    """What the false discoveries are: another gene's true link, a decoy, a background peak."""
    false = links[called & ~is_true]
    kind = peak_var["peak_type"].astype(str).reindex(false["peak"]).to_numpy()
    return {
        "false_other_genes_link": int(np.isin(kind, ["promoter", "distal_true"]).sum()),
        "false_decoy": int((kind == "distal_decoy").sum()),
        "false_background": int((kind == "background").sum()),
    }


def _scores(links: pd.DataFrame, truth: pd.DataFrame, q: float = 0.1,
            peak_var: pd.DataFrame | None = None) -> dict:
    from sklearn.metrics import average_precision_score, roc_auc_score

    true = set(zip(truth["gene"], truth["peak"], strict=True))
    is_true = np.array(
        [(g, p) in true for g, p in zip(links["gene"], links["peak"], strict=True)]
    )
    called = links["qvalue"].to_numpy() < q
    s = np.abs(links["score"].fillna(0).to_numpy())
    extra = {} if peak_var is None else _false_calls(links, called, is_true, peak_var)
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
        **extra,
    }


def _snare(path: Path, methods: list[str], n_bulks: int, seed: int, q: float = 0.1):
    """Real data: links at q < ``q`` on SNARE-seq cortex, all cells and two library halves.

    No mm10 annotation is shipped, only ``atac.var.linked_gene`` (one gene per peak), so no
    TSS is known: each gene gets a placeholder position (the centre of its assigned peaks'
    span) and a window wide enough to hold all of them, ``peak_gene_links`` is run, and only
    the pairs of a peak with *its assigned gene* are kept, BH over those pairs. The z-scores
    do not depend on the placeholder (the background is peaks on other chromosomes matched
    on accessibility); it is never reported as a distance. Cells are paired: the ATAC cells
    are placed on their RNA cells (PCA of the RNA, 30 components), no co-embedding.
    ``empirical_bayes`` needs the distance to a real TSS for its prior, so it runs with
    ``distance_prior=False`` (one share of links for every pair in the window); its
    q-values are then the Bayesian FDR over the assigned pairs.
    """
    import anndata as ad
    from sklearn.decomposition import PCA

    rna_all = ad.read_h5ad(path / "rna.h5ad")
    atac_all = ad.read_h5ad(path / "atac.h5ad")[rna_all.obs_names]
    for a in (rna_all, atac_all):
        a.X = a.layers["counts"]
        del a.layers["counts"]
    peaks = atac_all.var_names.str.split("-", expand=True).to_frame(index=False)
    peaks.columns = ["chrom", "start", "end"]
    peaks["gene"] = atac_all.var["linked_gene"].to_numpy()
    peaks[["start", "end"]] = peaks[["start", "end"]].astype(int)
    peaks = peaks[peaks["gene"].isin(rna_all.var_names)]
    span = peaks.groupby("gene").agg(
        chrom=("chrom", "first"), lo=("start", "min"), hi=("end", "max")
    )
    ann = pd.DataFrame({
        "gene_name": span.index, "chrom": span["chrom"].to_numpy(),
        "tss": ((span["lo"] + span["hi"]) // 2).to_numpy(), "strand": "+",
    })
    window = int((span["hi"] - span["lo"]).max() // 2 + 1_000)
    assigned = set(zip(peaks["gene"], atac_all.var_names[peaks.index], strict=True))
    libs = sorted(rna_all.obs["batch"].astype(str).unique())
    halves = {"all": libs, "half A": libs[0::2], "half B": libs[1::2]}
    rows, called, pvals = [], {}, {}
    for name, keep_libs in halves.items():
        cells = rna_all.obs["batch"].astype(str).isin(keep_libs).to_numpy()
        rna, atac = rna_all[cells].copy(), atac_all[cells].copy()
        x = np.asarray(rna.X.sum(axis=1)).ravel()
        lognorm = np.log1p(rna.X.multiply(1e4 / np.maximum(x, 1)[:, None]).toarray())
        emb = PCA(30, random_state=seed).fit_transform(lognorm - lognorm.mean(axis=0))
        rna.obsm["X_minnet"] = emb
        atac.obsm["X_minnet"] = emb
        for method in methods:
            t0 = time.perf_counter()
            links = tl.peak_gene_links(  # no TSS: no distance prior
                rna, atac, ann, groupby="cell_type", method=method, n_bulks=n_bulks,
                distance=window, seed=seed, progress=False, distance_prior=False,
            )
            secs = time.perf_counter() - t0
            own = np.array(
                [(g, p) in assigned for g, p in zip(links["gene"], links["peak"], strict=True)]
            )
            links = tl.subset_links(links, own)
            sig = links[(links["qvalue"] < q).to_numpy()]
            called[(name, method)] = set(zip(sig["gene"], sig["peak"], strict=True))
            pvals[(name, method)] = dict(
                zip(zip(links["gene"], links["peak"], strict=True), links["pvalue"], strict=True)
            )
            rows.append({
                "subset": name, "libraries": "+".join(keep_libs), "cells": int(cells.sum()),
                "method": method, "n_bulks": links.attrs["minnet_link_peaks"]["n_bulks"],
                "tested_pairs": len(links), "n_called": len(sig),
                "n_called_positive": int((sig["correlation"] > 0).sum()),
                "genes_with_link": sig["gene"].nunique(), "seconds": round(secs, 1),
            })
            print(pd.DataFrame([rows[-1]]).to_string(index=False), flush=True)
    df = pd.DataFrame(rows)
    for method in methods:
        a, b = called[("half A", method)], called[("half B", method)]
        for name, mine, other in (("half A", a, b), ("half B", b, a)):
            sel = (df["subset"] == name) & (df["method"] == method)
            df.loc[sel, "replicated_in_other_half"] = round(
                len(mine & other) / max(len(mine), 1), 3
            )
            # looser: the other half's p-value for the same pair is < 0.05
            other_p = pvals[("half B" if name == "half A" else "half A", method)]
            df.loc[sel, "other_half_p_below_0.05"] = round(
                sum(other_p.get(k, 1.0) < 0.05 for k in mine) / max(len(mine), 1), 3
            )
    return df


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-bulks", type=lambda t: t if t == "auto" else int(t), default="auto")
    p.add_argument("--methods", default="empirical_bayes,spearman,robust,within")
    p.add_argument("--no-smooth", action="store_true", help="skip the KNN smoothing")
    p.add_argument("--no-signac", action="store_true", help="skip Signac's LinkPeaks row")
    p.add_argument("--cache", default="/tmp/minnet_links_quality")
    p.add_argument("--out", default=str(RESULTS / "links_quality.csv"))
    p.add_argument("--snare", default=None, metavar="DIR",
                   help="real data instead: SNARE-seq cortex folder (rna.h5ad, atac.h5ad)")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.snare:
        df = _snare(Path(args.snare), args.methods.split(","), args.n_bulks, args.seed)
        print()
        print(df.to_string(index=False))
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(out, index=False)
        return
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
                   **_scores(links, sim.links, peak_var=sim.atac.var),
                   "seconds": round(secs, 1)}
            rows.append(row)
            print(pd.DataFrame([row]).to_string(index=False, header=len(rows) == 1), flush=True)
    if not args.no_signac:
        is_test = ~sim.rna.obs["batch"].isin(["batch0", "batch1"]).to_numpy()
        links, secs = _signac_links(sim.rna[is_test], sim.atac[is_test], sim.annotation)
        truth = set(zip(sim.links["gene"], sim.links["peak"], strict=True))
        is_true = np.array(
            [(g, q) in truth for g, q in zip(links["gene"], links["peak"], strict=True)]
        )
        default = (links["pvalue"] < 0.05).to_numpy() & (links["score"].abs() > 0.05).to_numpy()
        row = {"setting": "paired single cells", "method": "Signac LinkPeaks",
               "n_bulks": 0, **_scores(links, sim.links, peak_var=sim.atac.var),
               "seconds": round(secs, 1),
               "n_default": int(default.sum()),
               "fdr_default": round(float((default & ~is_true).sum() / max(default.sum(), 1)), 3)}
        rows.append(row)
        print(pd.DataFrame([row]).to_string(index=False), flush=True)
    df = pd.DataFrame(rows)
    print()
    print(df.to_string(index=False))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)


if __name__ == "__main__":
    main()
