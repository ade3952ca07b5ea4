"""Exchange format between ``benchmarks/integration.py`` and the per-method runners.

The driver writes the held-out cells of a task into a folder that every runner (Python in either
environment, or R) can read without AnnData version issues:

``rna.mtx``, ``rna_features.txt``, ``rna_obs.csv``
    held-out RNA counts (cells × genes, Matrix Market), gene names, and ``cell, cell_type``
    (RNA is the labelled reference).
``other.mtx``, ``other_features.txt``, ``other_obs.csv``
    held-out counts of the other modality (ATAC peaks ``chr-start-end`` or ADT), its feature
    names and ``cell`` only: no labels. Its rows are shuffled with a permutation that only the
    driver knows, and its cell names differ from the RNA's, so no runner can use the pairing.
``activity.mtx``, ``activity_features.txt``
    (ATAC only) gene activity counts of ``other`` (``minnet.pp.gene_activity``: peaks over the
    gene body + 2 kb upstream of the TSS, as Signac's ``GeneActivity``), same row order.
``annotation.tsv``
    (ATAC only) the TSS table: ``gene_name chrom tss strand`` (+ ``end`` when known).
``meta.json``
    ``{"task": ..., "modality": "atac" | "adt"}``.

A runner writes into its output folder ``z_rna.csv`` and ``z_other.csv`` (embedding rows in the
input order, no header), ``info.json`` (method version, compute seconds, notes) and optionally
``pred_other.csv`` (``cell, predicted``: the method's own label transfer).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io
import scipy.sparse as sp

log = logging.getLogger("benchmarks.io")


def write_matrix(path: Path, x, features) -> None:
    """Write a cells × features count matrix (Matrix Market, integers) and its feature names."""
    x = sp.csr_matrix(x)
    if np.allclose(x.data, np.round(x.data)):
        x = x.astype(np.int64)
        field = "integer"
    else:
        field = "real"
    scipy.io.mmwrite(str(path), x, field=field)
    Path(str(path).replace(".mtx", "_features.txt")).write_text("\n".join(map(str, features)) + "\n")


def read_matrix(path: Path) -> tuple[sp.csr_matrix, list[str]]:
    """Read a matrix written by :func:`write_matrix` (float32 CSR) and its feature names."""
    x = sp.csr_matrix(scipy.io.mmread(str(path)), dtype=np.float32)
    feats = Path(str(path).replace(".mtx", "_features.txt")).read_text().split("\n")
    return x, [f for f in feats if f]


def write_inputs(folder: Path, *, task: str, modality: str, rna, rna_features, rna_obs: pd.DataFrame,
                 other, other_features, other_obs: pd.DataFrame, activity=None,
                 activity_features=None, annotation: pd.DataFrame | None = None) -> None:
    """Write one task's held-out cells in the exchange format (see the module docstring)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_matrix(folder / "rna.mtx", rna, rna_features)
    rna_obs.to_csv(folder / "rna_obs.csv", index=False)
    write_matrix(folder / "other.mtx", other, other_features)
    other_obs.to_csv(folder / "other_obs.csv", index=False)
    if activity is not None:
        write_matrix(folder / "activity.mtx", activity, activity_features)
    if annotation is not None:
        annotation.to_csv(folder / "annotation.tsv", sep="\t", index=False)
    (folder / "meta.json").write_text(json.dumps({"task": task, "modality": modality}))


def read_inputs(folder: Path) -> dict:
    """Read a task folder into AnnData objects: ``rna``, ``other``, ``activity`` (or None),
    ``annotation`` (or None), ``modality``, ``task``."""
    import anndata as ad

    folder = Path(folder)
    meta = json.loads((folder / "meta.json").read_text())
    out: dict = dict(meta)
    for name in ("rna", "other", "activity"):
        if not (folder / f"{name}.mtx").exists():
            out[name] = None
            continue
        x, feats = read_matrix(folder / f"{name}.mtx")
        obs = pd.read_csv(folder / ("rna_obs.csv" if name == "rna" else "other_obs.csv"))
        obs.index = obs["cell"].astype(str).to_numpy()
        out[name] = ad.AnnData(x, obs=obs.drop(columns="cell"), var=pd.DataFrame(index=feats))
    ann = folder / "annotation.tsv"
    out["annotation"] = pd.read_csv(ann, sep="\t") if ann.exists() else None
    return out


def write_result(out: Path, z_rna: np.ndarray, z_other: np.ndarray, info: dict,
                 pred_other: pd.DataFrame | None = None) -> None:
    """Write a runner's embeddings (input row order) and its ``info.json``."""
    out.mkdir(parents=True, exist_ok=True)
    np.savetxt(out / "z_rna.csv", np.asarray(z_rna, dtype=np.float64), delimiter=",")
    np.savetxt(out / "z_other.csv", np.asarray(z_other, dtype=np.float64), delimiter=",")
    if pred_other is not None:
        pred_other.to_csv(out / "pred_other.csv", index=False)
    (out / "info.json").write_text(json.dumps(info, default=str))


def read_result(out: Path) -> dict:
    """Read what a runner wrote: ``z_rna``, ``z_other``, ``info`` and ``pred_other`` (or None)."""
    out = Path(out)
    res = {"z_rna": np.loadtxt(out / "z_rna.csv", delimiter=",", ndmin=2),
           "z_other": np.loadtxt(out / "z_other.csv", delimiter=",", ndmin=2),
           "info": json.loads((out / "info.json").read_text())}
    pred = out / "pred_other.csv"
    res["pred_other"] = pd.read_csv(pred) if pred.exists() else None
    return res


def single_thread() -> None:
    """Keep a runner on one CPU thread (the benchmark machine is shared, 2 cores)."""
    import os

    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - every runner has torch
        pass


def runner_args(doc: str, *, exchange: bool, seed_help: str | None = None,
                iterations_help: str | None = None, scaling: bool = False):
    """The command line every runner shares, parsed; the runner is then kept on one thread.

    ``exchange=True``: runners reading the driver's exchange folder (``--data --seed --out
    --iterations``: GLUE, uniPort); ``False``: runners rebuilding the task in the project's
    environment (``--task --n-cells --n-batches --data-seed [--source --train-batches
    --test-batches --annotation] --seed --out``: MinNet, baseline; see ``_common.TaskSpec``).
    """
    import argparse

    p = argparse.ArgumentParser(description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    if exchange:
        p.add_argument("--data", type=Path, required=True)
    else:
        p.add_argument("--task", required=True)
        p.add_argument("--n-cells", type=int, default=3000)
        p.add_argument("--n-batches", type=int, default=3)
        p.add_argument("--data-seed", type=int, default=0)
        p.add_argument("--source", default=None, help="a dataset folder (rna.h5ad + atac/adt)")
        p.add_argument("--train-batches", default=None)
        p.add_argument("--test-batches", default=None)
        p.add_argument("--annotation", default=None)
    p.add_argument("--seed", type=int, default=0, help=seed_help)
    p.add_argument("--out", type=Path, required=True)
    if exchange:
        p.add_argument("--iterations", type=int, default=None, help=iterations_help)
    if scaling:  # MinNet: how the held-out cells are scaled (MinNetModel.embed's scaling=)
        p.add_argument("--scaling", choices=["reference", "query"], default="reference")
    args = p.parse_args()
    single_thread()
    return args
