"""Time and peak memory of the RNA graph (ComBat → scale → PCA → KNN): dense vs sparse route.

    python benchmarks/graph_memory.py [--sizes 50000,200000] [--routes sparse,dense]

``minnet.graph.build_rna_graph`` builds its PCs from a dense copy (scanpy) up to
``DENSE_MAX_CELLS`` cells and from sparse products above (``minnet.pp._corrected_pca``). Here
each route is forced at each size, in its own subprocess (so each peak belongs to one run):
the RNA of a 20,000-cell simulation (2,000 genes, 4 batches, log-normalised) tiled to ``n``
rows with ±10 % jitter of the values. "peak RSS over input" is the process's peak resident
size minus its size once the input matrix is built. Prints a table and writes
``benchmarks/results/graph_memory.csv``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one(route: str, n: int) -> dict:
    """Build the graph of ``n`` tiled cells with one route; its time and memory."""
    import numpy as np
    import scanpy as sc
    import scipy.sparse as sp

    import minnet
    from minnet import graph

    sim = minnet.datasets.simulate_multiome(n_cells=20_000, n_cell_types=10, n_batches=4,
                                            n_genes=2000, seed=0)
    a = sim.rna
    sc.pp.normalize_total(a, target_sum=1e4)
    sc.pp.log1p(a)
    block, labels = sp.csr_matrix(a.X, dtype=np.float32), a.obs["batch"].astype(str).to_numpy()
    reps = -(-n // block.shape[0])
    x = sp.vstack([block] * reps).tocsr()[:n]
    x.data *= np.random.default_rng(0).uniform(0.9, 1.1, x.data.size).astype(np.float32)
    batches = np.tile(labels, reps)[:n]
    del sim, a, block
    before = _rss_mb()
    graph.DENSE_MAX_CELLS = 10**12 if route == "dense" else 0
    t0 = time.perf_counter()
    lengths = graph.build_rna_graph(x, batches, seed=0)
    return {"route": route, "cells": n, "nnz": int(x.nnz), "edges": int(lengths.nnz // 2),
            "seconds": round(time.perf_counter() - t0, 1),
            "peak RSS over input (MB)": round(_rss_mb() - before)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="50000,200000")
    p.add_argument("--routes", default="sparse,dense")
    p.add_argument("--one", nargs=2, metavar=("ROUTE", "N"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]))))
        return
    import pandas as pd

    rows = []
    for n in map(int, args.sizes.split(",")):
        for route in args.routes.split(","):
            out = subprocess.run([sys.executable, __file__, "--one", route, str(n)],
                                 capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    RESULTS.mkdir(exist_ok=True)
    df.to_csv(RESULTS / "graph_memory.csv", index=False)
    print(df.to_string(index=False))


if __name__ == "__main__":
    main()
