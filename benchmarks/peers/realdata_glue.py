"""Runner: GLUE (``scglue``) on RNA and ATAC peaks with a guidance graph from peak–gene links.

    benchmarks/.venv-peers/bin/python benchmarks/peers/realdata_glue.py --data TASK_DIR \
        --seed 0 --out OUT [--iterations N]

``run_glue.py``'s pipeline (GLUE's tutorial, scglue 0.4) for data without a gene annotation
(``benchmarks/realdata.py``, SNARE-seq mouse cortex, no mm10 table): instead of
``scglue.genomics.rna_anchored_guidance_graph`` (gene body + 2 kb promoter overlaps), the
guidance graph links each peak to the gene it was assigned to (``peak_gene.tsv`` of the
exchange folder: ``peak, gene``), weight 1, sign 1, in both directions (``type`` "fwd" gene →
peak and "rev"), plus a self-loop on every gene and peak, as scglue's builder does. Peaks linked
to a highly variable gene are the highly variable peaks (scglue's propagation). Otherwise as
``run_glue.py``: RNA 2,000 highly variable genes (Seurat v3 flavour on counts; all genes when
fewer) → normalise, log, scale → PCA (100); ATAC → LSI (100, 15 iterations); both
negative-binomial, ``fit_SCGLUE`` with its automatic schedule (``--iterations`` scales it down),
CPU, one thread, no workers, no batch covariate. Embeds every input cell (rows in the exchange
order); the driver scores the held-out ones.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from exchange import read_inputs, write_result  # noqa: E402
from run_glue import configure_cpu, fit_embed, glue_args, preprocess  # noqa: E402


def link_graph(genes, peaks, links: pd.DataFrame):
    """scglue guidance graph (``networkx.MultiDiGraph``) of peak–gene links.

    Parameters
    ----------
    genes, peaks
        The RNA and ATAC feature names (every one gets a self-loop).
    links
        ``peak, gene`` pairs; those whose peak or gene is not a feature are dropped.

    Returns
    -------
    networkx.MultiDiGraph
        Edges gene → peak (``type="fwd"``) and peak → gene (``"rev"``), ``weight=1.0``,
        ``sign=1``, and self-loops (``"loop"``) on all features.
    """
    import networkx as nx

    gene_set, peak_set = set(genes), set(peaks)
    keep = links["gene"].isin(gene_set) & links["peak"].isin(peak_set)
    graph = nx.MultiDiGraph()
    for peak, gene in links.loc[keep, ["peak", "gene"]].itertuples(index=False):
        graph.add_edge(gene, peak, weight=1.0, sign=1, type="fwd")
        graph.add_edge(peak, gene, weight=1.0, sign=1, type="rev")
    for item in itertools.chain(genes, peaks):
        graph.add_edge(item, item, weight=1.0, sign=1, type="loop")
    return graph


def run(data: Path, seed: int, out: Path, iterations: int | None = None) -> None:
    """Integrate the folder's RNA and ATAC peaks with GLUE and write the embeddings."""
    import scglue
    import torch

    configure_cpu()
    inp = read_inputs(data)
    links = pd.read_csv(data / "peak_gene.tsv", sep="\t")
    rna, atac = inp["rna"], inp["other"]
    t0 = time.perf_counter()
    np.random.seed(seed)  # noqa: NPY002 - GLUE draws from the global NumPy RNG
    torch.manual_seed(seed)

    n_pc, n_lsi = preprocess(rna, atac, seed)

    guidance = link_graph(rna.var_names, atac.var_names, links)
    hvg = set(rna.var_names[rna.var["highly_variable"].to_numpy()])
    linked_to_hvg = set(links.loc[links["gene"].isin(hvg), "peak"])
    atac.var["highly_variable"] = atac.var_names.isin(list(linked_to_hvg))
    z_rna, z_atac, guidance_hvf, sched = fit_embed(rna, atac, guidance, seed, iterations)
    secs = time.perf_counter() - t0
    n_edges = sum(1 for *_, t in guidance_hvf.edges(data="type") if t == "fwd")
    write_result(out, z_rna, z_atac, {
        "method": "GLUE", "version": f"scglue {scglue.__version__}", "seconds": secs,
        "row_order": "exchange",
        "settings": (f"HVG {int(rna.var['highly_variable'].sum())}, PCA {n_pc}, LSI {n_lsi}, "
                     f"HV peaks (linked to HVGs) {int(atac.var['highly_variable'].sum())}, "
                     f"peak-gene edges {n_edges}, graph from var.linked_gene, schedule "
                     f"{sched or 'GLUE automatic'}")})


def main() -> None:
    a = glue_args(__doc__)
    run(a.data, a.seed, a.out, a.iterations)


if __name__ == "__main__":
    main()
