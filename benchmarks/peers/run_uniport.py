"""Runner: uniPort (``uniport``) on held-out RNA and gene activity (ATAC) or ADT, unpaired.

    benchmarks/.venv-peers/bin/python benchmarks/peers/run_uniport.py --data TASK_DIR --seed 0 --out OUT

uniPort's tutorial for unpaired scATAC + scRNA (``mode="h"``: common genes plus each dataset's
own features): the common space is the genes both objects share (gene activity for ATAC,
proteins whose names are gene names for ADT), 2,000 highly variable (Seurat v3 flavour on
counts) → normalise → log → ``up.batch_scale``; each dataset's specific features: its own
2,000 highly variable features (all ADT proteins) normalised the same way. ``up.Run`` with
``lambda_s=1.0`` (the tutorial's value), RNA as the reference, CPU, no worker processes,
``iteration`` = uniPort's 30,000 unless ``--iterations`` caps it (quick runs).
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from exchange import read_inputs, runner_args, write_result  # noqa: E402

log = logging.getLogger("benchmarks.uniport")


def _prepare(adata, n_top: int, subset: bool = True):
    """HVGs on counts → normalise → log → keep HVGs → uniPort's per-domain max-abs scaling."""
    import scanpy as sc
    import uniport as up

    adata = adata.copy()
    if subset and adata.n_vars > n_top:
        sc.pp.highly_variable_genes(adata, n_top_genes=n_top, flavor="seurat_v3")
        adata = adata[:, adata.var["highly_variable"].to_numpy()].copy()
    sc.pp.normalize_total(adata)
    sc.pp.log1p(adata)
    up.batch_scale(adata)
    return adata


def run(data: Path, seed: int, out: Path, iterations: int | None = None) -> None:
    """Integrate the task's held-out RNA and other modality with uniPort; write the embeddings."""
    import anndata as ad
    import pandas as pd
    import uniport as up

    inp = read_inputs(data)
    rna = inp["rna"]
    other = inp["activity"] if inp["modality"] == "atac" else inp["other"]
    t0 = time.perf_counter()
    rna.obs = pd.DataFrame({"domain_id": "1", "source": "RNA"}, index=rna.obs_names)
    other.obs = pd.DataFrame({"domain_id": "0", "source": "OTHER"}, index=other.obs_names)
    for a in (rna, other):
        a.obs["domain_id"] = a.obs["domain_id"].astype("category")
    shared = other.var_names.intersection(rna.var_names)
    if len(shared) < 2:
        raise SystemExit(f"only {len(shared)} shared features between RNA and the other modality")
    cm = ad.concat([other[:, shared], rna[:, shared]], join="inner", label="domain_id",
                   keys=["0", "1"], index_unique=None)
    cm.obs["source"] = np.where(cm.obs["domain_id"] == "0", "OTHER", "RNA")
    cm = _prepare(cm, 2000)
    other_p = _prepare(other, 2000, subset=inp["modality"] == "atac")
    rna_p = _prepare(rna, 2000)
    kw = {} if iterations is None else {"iteration": iterations}
    with tempfile.TemporaryDirectory(prefix="uniport_") as tmp, \
            contextlib.redirect_stdout(io.StringIO()):
        res = up.Run(adatas=[other_p, rna_p], adata_cm=cm, lambda_s=1.0, seed=seed,
                     outdir=tmp, num_workers=0, **kw)
    z = np.asarray(res.obsm["latent"])
    order = pd.Index(res.obs_names)
    z_other = z[order.get_indexer(other.obs_names)]
    z_rna = z[order.get_indexer(rna.obs_names)]
    secs = time.perf_counter() - t0
    write_result(out, z_rna, z_other, {
        "method": "uniPort", "version": f"uniport {up.__version__}", "seconds": secs,
        "row_order": "exchange",
        "settings": (f"common features {cm.n_vars} (of {len(shared)} shared), specific RNA "
                     f"{rna_p.n_vars}, other {other_p.n_vars}, iterations "
                     f"{iterations or 30000}")})


def main() -> None:
    a = runner_args(__doc__, exchange=True)
    logging.basicConfig(level=logging.WARNING)
    run(a.data, a.seed, a.out, a.iterations)


if __name__ == "__main__":
    main()
