"""Runner: GLUE (``scglue``) on held-out RNA counts and ATAC peak counts, unpaired.

    benchmarks/.venv-peers/bin/python benchmarks/peers/run_glue.py --data TASK_DIR --seed 0 --out OUT

GLUE's own tutorial pipeline (scglue 0.4): RNA 2,000 highly variable genes (Seurat v3 flavour on
counts) → normalise, log, scale → PCA (100); ATAC → LSI (100, 15 iterations); guidance graph
``scglue.genomics.rna_anchored_guidance_graph`` (gene body + 2 kb promoter overlapping a peak;
GLUE's defaults) built from the TSS table: gene coordinates are the gene body when the table has
an ``end`` column, else the TSS itself (the promoter window then does the work), peak
coordinates from their ``chr-start-end`` names; genes missing from the table are dropped. Both
datasets with the negative-binomial model, ``fit_SCGLUE`` with its automatic epochs and early
stopping (``--iterations`` scales that schedule down, for quick runs: see :func:`schedule`), CPU, one thread, no worker processes.
GLUE has no protein mode: ATAC tasks only.
"""

from __future__ import annotations

import itertools
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from exchange import read_inputs, runner_args, write_result  # noqa: E402

log = logging.getLogger("benchmarks.glue")


def gene_coordinates(genes: pd.Index, annotation: pd.DataFrame) -> pd.DataFrame:
    """BED-like ``chrom, chromStart, chromEnd, strand`` of genes from a TSS table (1-based TSS).

    The gene body ``[min(tss, end), max(tss, end)]`` when ``end`` is known, else the TSS base;
    genes not in the table get NaN.
    """
    ann = annotation.drop_duplicates("gene_name").set_index("gene_name")
    ann = ann.reindex(genes)
    tss = ann["tss"].astype(float)
    end = ann["end"].astype(float) if "end" in ann.columns else tss
    lo, hi = np.fmin(tss, end), np.fmax(tss, end)
    return pd.DataFrame({"chrom": ann["chrom"], "chromStart": lo - 1, "chromEnd": hi,
                         "strand": ann["strand"]}, index=genes)


def peak_coordinates(peaks: pd.Index) -> pd.DataFrame:
    """``chrom, chromStart, chromEnd`` from ``chr-start-end`` peak names."""
    parts = pd.Series(peaks, index=peaks).str.rsplit("-", n=2, expand=True)
    return pd.DataFrame({"chrom": parts[0], "chromStart": parts[1].astype(int),
                         "chromEnd": parts[2].astype(int)}, index=peaks)


def schedule(n_cells: int, iterations: int | None) -> dict:
    """GLUE's training schedule scaled to a budget of ``iterations`` mini-batches per stage.

    GLUE sets ``max_epochs``, ``align_burnin``, ``patience`` and ``reduce_lr_patience`` from
    "optimisation progress" (48, 8, 4, 2 × 1/lr, lr = 2e-3: up to 24,000 iterations of
    pre-training and as many of fine-tuning). With ``iterations`` the same four keep GLUE's
    ratios for ``iterations`` in all; ``None`` keeps GLUE's automatic values.
    """
    if iterations is None:
        return {}
    per_epoch = n_cells * 0.9 / 128  # GLUE's val_split 0.1, data_batch_size 128
    epochs = max(1, int(np.ceil(iterations / per_epoch)))
    return {"max_epochs": epochs, "align_burnin": max(1, epochs // 6),
            "patience": max(1, epochs // 12), "reduce_lr_patience": max(1, epochs // 24)}


def run(data: Path, seed: int, out: Path, iterations: int | None = None) -> None:
    """Integrate the task's held-out RNA and ATAC with GLUE and write the embeddings."""
    import scglue
    import torch

    configure_cpu()
    inp = read_inputs(data)
    if inp["modality"] != "atac":
        raise SystemExit("GLUE has no protein mode: ATAC tasks only")
    rna, atac, ann = inp["rna"], inp["other"], inp["annotation"]
    t0 = time.perf_counter()
    np.random.seed(seed)  # noqa: NPY002 - GLUE draws from the global NumPy RNG
    torch.manual_seed(seed)

    coords = gene_coordinates(rna.var_names, ann)
    keep = coords["chrom"].notna().to_numpy()
    n_dropped = int((~keep).sum())
    rna = rna[:, keep].copy()
    rna.var = rna.var.join(coords.loc[keep])
    rna.var["chromStart"] = rna.var["chromStart"].astype(int)
    rna.var["chromEnd"] = rna.var["chromEnd"].astype(int)
    atac.var = atac.var.join(peak_coordinates(atac.var_names))

    n_pc, n_lsi = preprocess(rna, atac, seed)

    guidance = scglue.genomics.rna_anchored_guidance_graph(rna, atac)
    z_rna, z_atac, guidance_hvf, sched = fit_embed(rna, atac, guidance, seed, iterations)
    secs = time.perf_counter() - t0
    n_peaks_linked = int(atac.var["highly_variable"].sum())
    write_result(out, z_rna, z_atac, {
        "method": "GLUE", "version": f"scglue {scglue.__version__}", "seconds": secs,
        "row_order": "exchange",
        "settings": (f"HVG {int(rna.var['highly_variable'].sum())}, PCA {n_pc}, LSI {n_lsi}, "
                     f"peaks linked to HVGs {n_peaks_linked}, genes without coordinates "
                     f"dropped {n_dropped}, schedule "
                     f"{sched or 'GLUE automatic'}")})


def configure_cpu() -> None:
    """scglue on the CPU, one process: no shuffling or loading workers, quiet log."""
    import scglue

    scglue.config.CPU_ONLY = True
    scglue.config.GRAPH_SHUFFLE_NUM_WORKERS = 0
    scglue.config.ARRAY_SHUFFLE_NUM_WORKERS = 0
    scglue.config.DATALOADER_NUM_WORKERS = 0
    scglue.config.DATALOADER_PIN_MEMORY = False
    scglue.log.console_log_level = logging.WARNING


def preprocess(rna, atac, seed: int) -> tuple[int, int]:
    """GLUE's tutorial preprocessing, in place: RNA highly variable genes (Seurat v3 on counts,
    kept in ``layers["counts"]``) → normalise, log, scale → PCA; ATAC → LSI. Returns the numbers
    of PCs and LSI components."""
    import scanpy as sc
    import scglue

    rna.layers["counts"] = rna.X.copy()
    sc.pp.highly_variable_genes(rna, n_top_genes=min(2000, rna.n_vars), flavor="seurat_v3")
    sc.pp.normalize_total(rna)
    sc.pp.log1p(rna)
    sc.pp.scale(rna)
    n_pc = int(min(100, rna.n_obs - 1, rna.n_vars - 1))
    sc.tl.pca(rna, n_comps=n_pc, svd_solver="arpack", random_state=seed)
    n_lsi = int(min(100, atac.n_obs - 1, atac.n_vars - 1))
    scglue.data.lsi(atac, n_components=n_lsi, n_iter=15, random_state=seed)
    return n_pc, n_lsi


def fit_embed(rna, atac, guidance, seed: int, iterations: int | None):
    """Configure both datasets (negative binomial), fit GLUE on the highly variable features'
    guidance subgraph, and embed every cell; returns both embeddings, the subgraph and the
    schedule used (``schedule``)."""
    import scglue

    scglue.graph.check_graph(guidance, [rna, atac])
    scglue.models.configure_dataset(rna, "NB", use_highly_variable=True, use_layer="counts",
                                    use_rep="X_pca")
    scglue.models.configure_dataset(atac, "NB", use_highly_variable=True, use_rep="X_lsi")
    hvf = itertools.chain(rna.var.query("highly_variable").index,
                          atac.var.query("highly_variable").index)
    guidance_hvf = guidance.subgraph(hvf).copy()
    sched = schedule(rna.n_obs + atac.n_obs, iterations)
    with tempfile.TemporaryDirectory(prefix="glue_") as tmp:
        fit_kws = dict(sched, directory=tmp)
        model = scglue.models.fit_SCGLUE({"rna": rna, "atac": atac}, guidance_hvf,
                                         init_kws={"random_seed": seed}, fit_kws=fit_kws)
    z_rna = model.encode_data("rna", rna)
    z_atac = model.encode_data("atac", atac)
    return z_rna, z_atac, guidance_hvf, sched


def glue_args(doc: str):
    """The options of a GLUE runner (exchange folder, seed, output, iteration budget)."""
    logging.basicConfig(level=logging.WARNING)
    return runner_args(doc, exchange=True, iterations_help="iteration budget per stage "
                       "(default: GLUE's automatic schedule)")


def main() -> None:
    a = glue_args(__doc__)
    run(a.data, a.seed, a.out, a.iterations)


if __name__ == "__main__":
    main()
