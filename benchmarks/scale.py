"""Scaling of MinNet's graph margins and of one training epoch: 10k, 100k and 1M simulated cells.

    python benchmarks/scale.py [--sizes 10000,100000,1000000] [--quick] [--max-batches 4000]
    python benchmarks/scale.py --methods all     # whole methods vs the peers: scale_methods.py
    python benchmarks/scale.py --end-to-end      # the whole pipeline per phase: scale_e2e.py

For every size ``n`` four measurements run, each in a fresh single-threaded subprocess (the script
re-invokes itself with ``--one KIND N``), so that each peak memory figure belongs to one
measurement only:

``prep``
    Builds the RNA graph and saves it (with the model inputs) to a scratch folder.
    ``n <= --real-max`` (100k): ``minnet.datasets.simulate_multiome(n, n_genes=2000)``, RNA
    log-normalised, ATAC turned into gene activity (as ``minnet.train`` does), and the graph of
    ``minnet.graph.build_rna_graph`` (ComBat → scale → 50 PCs → 15-NN → UMAP connectivities,
    edge length ``1.01 − connectivity``).
    ``n > --real-max``: a synthetic KNN graph: cells on a noisy tree of 1-d branches between 8
    "cell type" centres in 3-d, exact 15-NN by a k-d tree, UMAP connectivities, same edge lengths.
``margins``
    ``GraphDistances(lengths)`` (radius "auto": radius estimation plus, for n > 20,000, 16
    landmark Dijkstras) and ``pair_distances`` for one epoch's pairs (``sample_pairs``: n pairs,
    75 % negatives, only the negatives are searched), timed separately, with the peak memory.
``dense``
    The original approach: ``scipy.sparse.csgraph.dijkstra(graph, directed=False)``, the full
    n × n matrix, where ``n² · 8`` bytes stay below ``--dense-max-gb``; then the largest absolute
    difference, over the drawn pairs, between it and ``pair_distances`` with ``radius=inf``
    (exact) and with ``radius="auto"`` (compared with ``min(dense, radius)``).
``epoch``
    One training epoch of ``minnet.train.fit`` (sampling, margins, forward/backward of the
    Siamese network over n pairs, batch 64, hidden 256, 2000 RNA and 2000 gene-activity
    features, CPU, one thread), preprocessing excluded. When an epoch has more than
    ``--max-batches`` mini-batches (1M cells), the same loop runs that many batches and the
    time is extrapolated to the whole epoch (marked "extrapolated"). For ``n > --real-max``
    the model inputs are a simulated 20,000-cell block tiled to n rows.

Memory: "tracemalloc" is the peak of Python-tracked allocations (numpy arrays included, numba's
own arrays not); "RSS" is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` after the measurement
minus the resident size just before it, with the high-water mark reset through
``/proc/self/clear_refs`` (Linux) right before the measurement.

Prints a Markdown table and writes ``benchmarks/results/scale.csv`` and ``scale.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import logging
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import scipy.sparse as sp
from _report import fmt_number as _fmt

RESULTS = Path(__file__).resolve().parent / "results"
SEED = 0
N_FEATURES = 2000
N_NEIGHBORS = 15
BASE_BLOCK = 20_000  # simulated cells tiled to n rows for the epoch of sizes > --real-max
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")

log = logging.getLogger("scale")


# ----------------------------------------------------------------------------- measuring


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Meter:
    """Wall time, tracemalloc peak and RSS high-water increase of a block of code."""

    def __init__(self, trace: bool = True) -> None:
        self.trace = trace
        self.seconds = self.trace_mb = self.rss_mb = float("nan")

    def __enter__(self) -> Meter:
        if self.trace:
            tracemalloc.start()
            tracemalloc.reset_peak()
        with contextlib.suppress(OSError):  # reset VmHWM / ru_maxrss to the current RSS
            Path("/proc/self/clear_refs").write_text("5")
        self._rss0 = _rss_mb()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._t0
        self.rss_mb = max(0.0, _maxrss_mb() - self._rss0)
        if self.trace:
            self.trace_mb = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()


# ----------------------------------------------------------------------------- graphs


def _lengths_from_knn(knn_idx: np.ndarray, knn_dist: np.ndarray) -> sp.csr_matrix:
    """UMAP connectivities of a kNN result (as the library's graph) → edge lengths 1.01 − c."""
    from minnet.neighbors import fuzzy_connectivities

    conn = fuzzy_connectivities(knn_dist.astype(np.float64), knn_idx.astype(np.int64))
    conn.eliminate_zeros()
    conn.data = 1.01 - np.clip(conn.data, 0.0, 1.0)
    conn.sort_indices()
    return conn


def _synthetic_graph(n: int, seed: int = SEED) -> sp.csr_matrix:
    """15-NN graph of cells on a noisy tree of branches between 8 centres in 3-d (k-d tree)."""
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=10.0, size=(8, 3))
    parent = [int(rng.integers(0, i)) for i in range(1, 8)]  # a random tree over the centres
    branch = rng.integers(0, 7, size=n)
    t = rng.random(n)[:, None]
    a, b = centres[np.array(parent)[branch]], centres[np.arange(1, 8)[branch]]
    pts = a + t * (b - a) + rng.normal(scale=1.0, size=(n, 3))
    nn = NearestNeighbors(n_neighbors=N_NEIGHBORS, algorithm="kd_tree", n_jobs=1).fit(pts)
    dist, idx = nn.kneighbors(pts)
    return _lengths_from_knn(idx, dist.astype(np.float32))


def _simulate(n: int) -> dict:
    """Simulated paired data → normalised RNA and gene-activity matrices (as minnet.train)."""
    import minnet
    from minnet.inputs import modality_matrix

    sim = minnet.datasets.simulate_multiome(n_cells=n, n_genes=N_FEATURES, n_batches=2, seed=SEED)
    x, _ = modality_matrix(sim.rna, "rna", None, False, None, None, "rna")
    y, _ = modality_matrix(sim.atac, "atac", None, False, sim.annotation,
                           {"upstream": 2000, "gene_body": True}, "atac")
    labels = pd.Categorical(sim.rna.obs["cell_type"]).codes.astype(np.int64)
    batches = sim.rna.obs["batch"].astype(str).to_numpy()
    return {"x": sp.csr_matrix(x), "y": sp.csr_matrix(y), "labels": labels, "batches": batches}


# ----------------------------------------------------------------------------- one measurement


def _paths(work: Path, n: int) -> dict:
    return {k: work / f"{k}_{n}.npz" for k in ("graph", "x", "y", "meta")}


def _load_graph(work: Path, n: int) -> sp.csr_matrix:
    return sp.load_npz(_paths(work, n)["graph"]).tocsr()


def _epoch_pairs(n: int):
    from minnet.pairs import sample_pairs

    return sample_pairs(np.arange(n), np.random.default_rng(SEED + 7))


def _warm_numba() -> None:
    """Load (or compile) the numba search once, outside any timed block."""
    from minnet.margins import GraphDistances

    g = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=np.float64))
    GraphDistances(g, radius=np.inf).pair_distances(np.array([0]), np.array([2]))


def one_prep(n: int, work: Path, real_max: int) -> dict:
    p = _paths(work, n)
    out: dict = {"cells": n}
    with Meter(trace=False) as m:
        data = _simulate(n if n <= real_max else min(n, BASE_BLOCK))
    out["simulate_s"] = m.seconds
    with Meter(trace=False) as m:
        if n <= real_max:
            from minnet.graph import build_rna_graph

            lengths = build_rna_graph(data["x"], data["batches"], N_NEIGHBORS, 50, "combat", SEED)
            out["graph"] = "minnet build_rna_graph on simulated RNA"
        else:
            lengths = _synthetic_graph(n)
            out["graph"] = "synthetic: noisy 3-d branches, exact k-d tree 15-NN"
    out.update(graph_s=m.seconds, edges=int(lengths.nnz // 2))
    sp.save_npz(p["graph"], sp.csr_matrix(lengths), compressed=False)
    sp.save_npz(p["x"], data["x"], compressed=False)
    sp.save_npz(p["y"], data["y"], compressed=False)
    np.savez(p["meta"], labels=data["labels"], batches=data["batches"].astype(str))
    from scipy.sparse.csgraph import connected_components

    out["components"] = int(connected_components(lengths, directed=False)[0])
    return out


def one_margins(n: int, work: Path) -> dict:
    from minnet.margins import GraphDistances

    lengths = _load_graph(work, n)
    pairs = _epoch_pairs(n)
    neg = np.flatnonzero(pairs.negative)
    src, dst = pairs.first[neg], pairs.second[neg]
    _warm_numba()
    with Meter() as setup:
        gd = GraphDistances(lengths, seed=SEED)
    with Meter() as run:
        d = gd.pair_distances(src, dst)
    out = {"cells": n, "pairs": len(pairs), "negatives": int(neg.size), "radius": gd.radius,
           "landmarks": 0 if gd.landmark_dist is None else int(gd.landmark_dist.shape[0]),
           "setup_s": setup.seconds, "setup_trace_mb": setup.trace_mb,
           "setup_rss_mb": setup.rss_mb, "pairs_s": run.seconds, "pairs_trace_mb": run.trace_mb,
           "pairs_rss_mb": run.rss_mb, "within_radius": int(np.sum(d < gd.radius))}
    # Where the time goes: the landmark filter, then one bounded search per remaining pair.
    t0 = time.perf_counter()
    searched = np.ones(neg.size, dtype=bool)
    if gd.landmark_dist is not None:
        with np.errstate(invalid="ignore"):
            diff = np.abs(gd.landmark_dist[:, src] - gd.landmark_dist[:, dst])
        diff[np.isnan(diff)] = 0.0
        searched = diff.max(axis=0) < gd.radius
        del diff
    out["filter_s"] = time.perf_counter() - t0 if gd.landmark_dist is not None else 0.0
    out["searched"] = int(searched.sum())
    rng = np.random.default_rng(SEED)
    for name, sel in (("within", searched & (d < gd.radius)), ("beyond", searched & (d >= gd.radius))):
        idx = np.flatnonzero(sel)
        idx = rng.choice(idx, size=min(idx.size, 2000), replace=False) if idx.size else idx
        if idx.size == 0:
            out[f"ms_per_search_{name}"] = float("nan")
            continue
        t0 = time.perf_counter()
        gd.search(src[idx], dst[idx])
        out[f"ms_per_search_{name}"] = 1e3 * (time.perf_counter() - t0) / idx.size
    return out


def one_dense(n: int, work: Path) -> dict:
    from scipy.sparse.csgraph import dijkstra

    from minnet.margins import GraphDistances

    lengths = _load_graph(work, n)
    with Meter() as m:
        dense = dijkstra(lengths, directed=False)
    out = {"cells": n, "dense_s": m.seconds, "dense_trace_mb": m.trace_mb, "dense_rss_mb": m.rss_mb}
    pairs = _epoch_pairs(n)
    neg = np.flatnonzero(pairs.negative)
    src, dst = pairs.first[neg], pairs.second[neg]
    ref = dense[src, dst]
    del dense
    _warm_numba()

    def max_diff(a: np.ndarray, b: np.ndarray) -> float:
        both_inf = np.isinf(a) & np.isinf(b) & (np.sign(a) == np.sign(b))
        diff = np.abs(np.where(both_inf, 0.0, a - b))
        return float(diff.max()) if diff.size else 0.0

    t0 = time.perf_counter()
    exact = GraphDistances(lengths, radius=np.inf).pair_distances(src, dst)
    out["exact_pairs_s"] = time.perf_counter() - t0
    out["max_diff_exact"] = max_diff(exact, ref)
    auto = GraphDistances(lengths, seed=SEED)
    out["max_diff_auto"] = max_diff(auto.pair_distances(src, dst), np.minimum(ref, auto.radius))
    out["unreachable_pairs"] = int(np.isinf(ref).sum())
    return out


def _tile_rows(x: sp.csr_matrix, n: int) -> sp.csr_matrix:
    """Rows ``i % x.shape[0]`` for i < n, without any intermediate copy of the full result."""
    reps = math.ceil(n / x.shape[0])
    counts = np.tile(np.diff(x.indptr), reps)[:n]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    dtype = np.int32 if indptr[-1] < 2**31 else np.int64
    nnz = int(indptr[-1])
    indices = np.tile(x.indices.astype(dtype), reps)[:nnz]
    data = np.tile(x.data, reps)[:nnz]
    return sp.csr_matrix((data, indices, indptr.astype(dtype)), shape=(n, x.shape[1]), copy=False)


def one_epoch(n: int, work: Path, max_batches: int) -> dict:
    import torch

    from minnet.module import MinNetModule
    from minnet.pairs import sample_pairs
    from minnet.pp import Standardizer
    from minnet.runtime import torch_threads
    from minnet.settings import TrainSettings
    from minnet.step import PairedData, TrainingStep, pair_batches
    from minnet.train import fit

    p = _paths(work, n)
    x, y = sp.load_npz(p["x"]).tocsr(), sp.load_npz(p["y"]).tocsr()
    meta = np.load(p["meta"], allow_pickle=False)
    labels, batches = meta["labels"], meta["batches"]
    sx, sy = Standardizer.fit(x, batches), Standardizer.fit(y, batches)
    tiled = x.shape[0] < n
    if tiled:  # the statistics of a tiled matrix are those of its block
        base = x.shape[0]
        x, y = _tile_rows(x, n), _tile_rows(y, n)
        rows = np.arange(n) % base
        labels = labels[rows]
        sx.group_index, sy.group_index = sx.group_index[rows], sy.group_index[rows]
    # The margins' graph distances are timed by the "margins" measurement (the same call on one
    # epoch's pairs); here a stand-in returns a constant distance, so this times the rest.
    stand_in = SimpleNamespace(pair_distances=lambda src, dst: np.ones(len(src)))
    data = PairedData(x, y, sx, sy, labels, stand_in)
    n_classes = int(labels.max()) + 1
    settings = TrainSettings.from_kwargs(n_hidden=256, batch_size=64, epochs=1,
                                         validation_fraction=0.0, patience=None, seed=SEED)
    n_batches = sum(1 for _ in pair_batches(n, settings.optim.batch_size, None))
    dev = torch.device("cpu")
    rng = np.random.default_rng(SEED)
    torch.manual_seed(SEED)
    out = {"cells": n, "batches": n_batches, "tiled_inputs": tiled,
           "features": f"{x.shape[1]}+{y.shape[1]}"}
    with torch_threads(1), Meter(trace=False) as m:
        if n_batches <= max_batches:  # the library's own loop, one epoch
            fit(data, np.arange(n), np.array([], dtype=np.int64), settings, n_classes, dev, rng,
                False)
            run_batches = n_batches
        else:  # the library's training step, for the first max_batches mini-batches
            net, loss = settings.network, settings.loss
            module = MinNetModule((x.shape[1], y.shape[1]), n_classes, net.n_hidden,
                                  net.n_latent).to(dev)
            step = TrainingStep(module, data, loss, settings.optim, dev)
            module.train()
            pairs = sample_pairs(np.arange(n), rng, loss.positive_fraction, loss.negatives)
            margin = data.margins(pairs, loss)
            run_batches = 0
            for idx in pair_batches(len(pairs), settings.optim.batch_size, rng):
                step(pairs, idx, margin).total.item()
                run_batches += 1
                if run_batches == max_batches:
                    break
    out.update(run_batches=run_batches, extrapolated=run_batches < n_batches,
               network_s=m.seconds * n_batches / run_batches, measured_s=m.seconds,
               epoch_rss_mb=m.rss_mb)
    return out


# ----------------------------------------------------------------------------- driver


def _run_child(kind: str, n: int, args, work: Path) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--one", kind, str(n), "--work",
           str(work), "--real-max", str(args.real_max), "--max-batches", str(args.max_batches)]
    env = dict(os.environ, **{v: "1" for v in THREAD_VARS})
    log.info("%s n=%d ...", kind, n)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env,
                              timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"{kind}: timed out after {args.timeout} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": f"{kind}: exit {proc.returncode}"}
    res = json.loads(lines[-1])
    log.info("%s n=%d done in %.1f s: %s", kind, n, time.perf_counter() - t0, res)
    return res


def _table(rows: list[dict]) -> str:
    cols = [("cells", "cells"), ("edges", "edges"), ("radius", "radius"),
            ("landmarks", "landmarks"), ("pairs", "pairs (negatives)"),
            ("margin_setup_s", "margin setup s"), ("margin_pairs_s", "margin pairs s"),
            ("margin_peak", "margin peak MB (tracemalloc / RSS)"),
            ("dense_s", "dense all-pairs s"), ("dense_mb", "dense MB"),
            ("max_diff", "max abs diff (r=inf / auto)"), ("epoch", "epoch s (margins + network)")]
    lines = ["| " + " | ".join(c[1] for c in cols) + " |",
             "|" + "|".join("---:" for _ in cols) + "|"]
    for r in rows:
        cells = {
            "cells": _fmt(r["cells"]), "edges": _fmt(r.get("edges")),
            "radius": _fmt(r.get("radius")), "landmarks": _fmt(r.get("landmarks")),
            "pairs": f"{_fmt(r.get('pairs'))} ({_fmt(r.get('negatives'))})",
            "margin_setup_s": _fmt(r.get("setup_s")), "margin_pairs_s": _fmt(r.get("pairs_s")),
            "margin_peak": f"{_fmt(max(r.get('setup_trace_mb', math.nan), r.get('pairs_trace_mb', math.nan)))}"
                           f" / {_fmt(max(r.get('setup_rss_mb', math.nan), r.get('pairs_rss_mb', math.nan)))}",
            "dense_s": _fmt(r.get("dense_s")) if "dense_s" in r else r.get("dense_note", "–"),
            "dense_mb": (f"{_fmt(r.get('dense_trace_mb'))} / {_fmt(r.get('dense_rss_mb'))}"
                         if "dense_s" in r else "–"),
            "max_diff": (f"{_fmt(r.get('max_diff_exact'))} / {_fmt(r.get('max_diff_auto'))}"
                         if "max_diff_exact" in r else "–"),
            "epoch": (f"{_fmt(r.get('epoch_s'))} ({_fmt(r.get('pairs_s'))} + "
                      f"{_fmt(r.get('network_s'))})"
                      + (" extrapolated" if r.get("extrapolated") else "")
                      if "epoch_s" in r else "–"),
        }
        lines.append("| " + " | ".join(cells[c[0]] for c in cols) + " |")
    return "\n".join(lines)


def _details(rows: list[dict]) -> str:
    cols = [("cells", "cells"), ("graph", "graph"), ("graph_s", "graph build s"),
            ("components", "components"), ("searched", "pairs searched"),
            ("within_radius", "within radius"), ("filter_s", "landmark filter s"),
            ("ms_per_search_within", "ms/search (within)"),
            ("ms_per_search_beyond", "ms/search (beyond)"), ("exact_pairs_s", "pairs s, r=inf"),
            ("run_batches", "batches timed"), ("batches", "batches/epoch"),
            ("epoch_rss_mb", "epoch RSS MB")]
    lines = ["| " + " | ".join(c[1] for c in cols) + " |",
             "|" + "|".join("---" for _ in cols) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(c[0])) for c in cols) + " |")
    return "\n".join(lines)


def _machine() -> dict:
    import numba
    import scipy
    import torch

    mem = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) / 2**20
    return {"date": datetime.datetime.now().isoformat(timespec="seconds"),
            "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "ram_gb": round(mem, 1), "python": platform.python_version(),
            "torch": torch.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "numba": numba.__version__}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--quick", action="store_true", help="smoke run: sizes 2000,10000")
    p.add_argument("--real-max", type=int, default=100_000,
                   help="largest size with a graph of simulated data (larger: synthetic graph)")
    p.add_argument("--dense-max-gb", type=float, default=4.0)
    p.add_argument("--max-batches", type=int, default=4000,
                   help="mini-batches timed per epoch; longer epochs are extrapolated")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per measurement")
    p.add_argument("--out-dir", default=str(RESULTS))
    p.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    p.add_argument("--one", nargs=2, metavar=("KIND", "N"), help=argparse.SUPPRESS)
    p.add_argument("--methods", default=None,
                   help="measure whole methods instead (train + embed time and peak memory of "
                   "MinNet and the peers, 10k/50k/200k cells): 'all' or a comma-separated "
                   "list; runs benchmarks/scale_methods.py with these arguments (see its --help)")
    p.add_argument("--end-to-end", action="store_true",
                   help="the whole pipeline at 100k / 300k / 1M cells, time and peak memory per "
                   "phase (CPU, 2-process DDP, GPU): runs benchmarks/scale_e2e.py with the other "
                   "arguments (see its --help)")
    args, rest = p.parse_known_args()
    if args.end_to_end:
        argv = [a for a in sys.argv[1:] if a != "--end-to-end"]
        sys.exit(subprocess.call([sys.executable, str(Path(__file__).with_name("scale_e2e.py")),
                                  *argv]))
    if args.methods:
        # one implementation of the method comparison: scale_methods.py, with its defaults
        sys.exit(subprocess.call([sys.executable, str(Path(__file__).with_name("scale_methods.py")),
                                  *sys.argv[1:]]))
    if rest:
        p.error(f"unrecognized arguments: {' '.join(rest)} (options of the method comparison, "
                "scale_methods.py, need --methods)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s",
                        stream=sys.stderr)
    logging.getLogger("minnet").setLevel(logging.WARNING)

    if args.one:
        kind, n, work = args.one[0], int(args.one[1]), Path(args.work)
        import torch

        torch.set_num_threads(1)
        if kind == "prep":
            res = one_prep(n, work, args.real_max)
        elif kind == "margins":
            res = one_margins(n, work)
        elif kind == "dense":
            res = one_dense(n, work)
        elif kind == "epoch":
            res = one_epoch(n, work, args.max_batches)
        else:
            raise SystemExit(f"unknown measurement {kind!r}")
        res["peak_rss_total_mb"] = _maxrss_mb()
        print(json.dumps(res, default=float), flush=True)
        return

    sizes = [int(s) for s in args.sizes.split(",")]
    if args.quick:  # 10k: synthetic graph, no dense matrix, no exact check
        sizes, args.real_max, args.dense_max_gb = [2000, 10000], 2000, 0.1
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="minnet_scale_"))
    work.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    rows = []
    try:
        for n in sizes:
            row: dict = {"cells": n}
            errors = []
            prep = _run_child("prep", n, args, work)
            prep["prep_peak_rss_mb"] = prep.pop("peak_rss_total_mb", None)
            row.update(prep)
            if "error" in prep:
                rows.append(row)
                continue
            for kind in ("margins", "dense", "epoch"):
                if kind == "dense" and n * n * 8 > args.dense_max_gb * 1e9:
                    row["dense_note"] = f"would need {n * n * 8 / 1e9:,.0f} GB — skipped"
                    continue
                res = _run_child(kind, n, args, work)
                if "error" in res:
                    errors.append(res.pop("error"))
                row.update({k: v for k, v in res.items()
                            if k not in ("cells", "peak_rss_total_mb")})
            if "network_s" in row and "pairs_s" in row:
                row["epoch_s"] = row["pairs_s"] + row["network_s"]
            row["errors"] = "; ".join(errors) if errors else None
            rows.append(row)
            print(_table(rows[-1:]), flush=True)
            for path in _paths(work, n).values():
                path.unlink(missing_ok=True)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    total = time.perf_counter() - t_all

    machine = _machine()
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = "scale"
    df = pd.DataFrame(rows)
    df.to_csv(out_dir / f"{name}.csv", index=False)
    table, details = _table(rows), _details(rows)
    md = [
        "# MinNet scaling: graph margins and one training epoch", "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items())
        + f"; every measurement single-threaded in its own process; total {total:.0f} s.", "",
        table, "",
        "Margins: `GraphDistances(lengths)` (setup: radius estimation and landmarks) and "
        "`pair_distances` for one epoch's negative pairs. Dense: "
        "`scipy.sparse.csgraph.dijkstra(graph, directed=False)`, n × n float64. max abs diff: "
        "over the drawn pairs, `pair_distances` with `radius=inf` vs dense, and with "
        "`radius='auto'` vs `min(dense, radius)`. Memory: tracemalloc peak (Python/numpy "
        "allocations) / increase of `ru_maxrss` over the RSS before the measurement, with the "
        "high-water mark reset through `/proc/self/clear_refs`. Epoch: `minnet.train.fit` "
        "for one epoch (batch 64, hidden 256, 1 thread, CPU), preprocessing excluded; "
        "'extrapolated' = the first `--max-batches` mini-batches timed and scaled to the epoch.",
        "", "## Details", "", details, "",
    ]
    errs = [f"- {r['cells']}: {r['errors']}" for r in rows if r.get("errors")]
    if errs:
        md += ["## Errors", "", *errs, ""]
    (out_dir / f"{name}.md").write_text("\n".join(md))
    print()
    print(table)
    print()
    print(details)
    print(f"\nwrote {out_dir / (name + '.csv')} and {out_dir / (name + '.md')} ({total:.0f} s)")


if __name__ == "__main__":
    main()
