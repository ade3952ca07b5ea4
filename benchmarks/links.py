"""Time and peak memory of ``link_peaks`` on synthetic mini-bulks (no cells are simulated).

    python benchmarks/links.py            # 2k genes x 10k peaks and 20k genes x 100k peaks
    python benchmarks/links.py --quick    # smoke run (500 genes x 2k peaks x 30 bulks)

Each size runs in a fresh subprocess so that its peak RSS (``ru_maxrss``) is its own. The
synthetic genome has 23 chromosomes with genes and peaks at uniform random positions at
human-like densities (one gene per ~155 kb and one peak per ~31 kb, so ~10 peaks within
+-150 kb of a TSS); the bulk matrices are Poisson counts around a low-rank log-mean (so genes
and peaks co-vary), stored as CSR like the output of ``minibulk``. Prints a table and writes
``benchmarks/results/links.csv`` and ``links.md`` (not with ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = [(2_000, 10_000, 100), (20_000, 100_000, 100)]
QUICK = [(500, 2_000, 30)]
N_CHROM = 23
BP_PER_PEAK = 31_000  # ~100k peaks on a 3.1 Gb genome


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _synthetic(n_genes: int, n_peaks: int, n_bulks: int, seed: int):
    import anndata as ad
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    chrom_len = max(1, n_peaks * BP_PER_PEAK // N_CHROM)
    chroms = np.array([f"chr{i + 1}" for i in range(N_CHROM)], dtype=object)

    p_chrom = rng.integers(0, N_CHROM, n_peaks)
    p_start = rng.integers(1_000, chrom_len, n_peaks)
    names = pd.Index([f"{chroms[c]}-{s}-{s + 500}" for c, s in zip(p_chrom, p_start, strict=True)])
    names = names[~names.duplicated()]
    g_chrom = rng.integers(0, N_CHROM, n_genes)
    annotation = pd.DataFrame(
        {
            "gene_name": [f"G{i}" for i in range(n_genes)],
            "chrom": chroms[g_chrom],
            "tss": rng.integers(1_000, chrom_len, n_genes),
            "strand": np.where(rng.random(n_genes) < 0.5, "+", "-"),
        }
    )

    rank = 8
    factors = rng.normal(0, 1, (n_bulks, rank)).astype(np.float32)

    def counts(n_feat: int, base_mean: float) -> sp.csr_matrix:
        load = rng.normal(0, 0.4, (rank, n_feat)).astype(np.float32)
        log_mu = np.log(base_mean) + rng.normal(0, 1.0, n_feat).astype(np.float32)
        blocks = []
        for lo in range(0, n_feat, 20_000):
            hi = min(lo + 20_000, n_feat)
            mu = np.exp(log_mu[lo:hi] + factors @ load[:, lo:hi])
            blocks.append(sp.csr_matrix(rng.poisson(mu).astype(np.float32)))
        return sp.hstack(blocks, format="csr")

    obs = pd.DataFrame(index=[f"bulk{i:04d}" for i in range(n_bulks)])
    rna = ad.AnnData(
        X=counts(n_genes, 20.0),
        obs=obs.copy(),
        var=pd.DataFrame(index=annotation["gene_name"].to_numpy()),
    )
    atac = ad.AnnData(X=counts(len(names), 10.0), obs=obs.copy(), var=pd.DataFrame(index=names))
    return rna, atac, annotation


def worker(n_genes: int, n_peaks: int, n_bulks: int, seed: int) -> None:
    from minnet.tl import link_peaks

    rna, atac, annotation = _synthetic(n_genes, n_peaks, n_bulks, seed)
    import gc

    gc.collect()
    rss_before = _rss_mb()
    t0 = time.perf_counter()
    df = link_peaks(rna, atac, annotation, progress=False, seed=seed)
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "genes": n_genes,
                "peaks": int(atac.n_vars),
                "bulks": n_bulks,
                "pairs": len(df),
                "seconds": round(secs, 2),
                "pairs_per_s": round(len(df) / secs),
                "rss_before_mb": round(rss_before),
                "peak_rss_mb": round(peak),
                "link_peaks_extra_mb": round(peak - rss_before),
            }
        )
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run on one small size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--worker", nargs=3, type=int, metavar=("GENES", "PEAKS", "BULKS"), help=argparse.SUPPRESS
    )
    p.add_argument("--out", default=str(RESULTS / "links.csv"))
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.worker:
        worker(*args.worker, seed=args.seed)
        return
    rows = []
    for n_genes, n_peaks, n_bulks in QUICK if args.quick else SIZES:
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            str(n_genes),
            str(n_peaks),
            str(n_bulks),
            "--seed",
            str(args.seed),
        ]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            print(res.stderr, file=sys.stderr)
            raise SystemExit(f"worker failed for {n_genes} genes x {n_peaks} peaks")
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
        print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    df = pd.DataFrame(rows)
    print()
    print(df.to_string(index=False))
    if args.quick:  # smoke run: do not overwrite the recorded results
        return
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    md = [
        "# link_peaks benchmark",
        "",
        "Synthetic genome (23 chromosomes, ~10 peaks within +-150 kb of each TSS) and "
        "synthetic mini-bulk counts; `method='empirical_bayes'` (the default), `n_background=200`, "
        "`distance=150_000`. One fresh process per size; peak RSS is the process maximum "
        "(`ru_maxrss`), `link_peaks_extra_mb` = peak minus the RSS before the call.",
        "",
        f"Machine: {platform.machine()}, {platform.system()}, {os.cpu_count()} CPU(s), Python "
        f"{platform.python_version()}, NumPy {np.__version__} (CPUs may be shared with other "
        "jobs: treat times as upper bounds).",
        "",
        "| " + " | ".join(df.columns) + " |",
        "|" + "|".join("---:" for _ in df.columns) + "|",
    ]
    md += ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print(f"\nwrote {out} and {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
