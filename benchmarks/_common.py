"""Shared pieces of the benchmark scripts: datasets with a train/held-out split, a baseline, metrics."""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

import minnet
from minnet.metrics import evaluate_pair

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@dataclass
class Task:
    """A paired dataset split by batch: train on ``train`` cells, evaluate on held-out ones."""

    name: str
    rna: ad.AnnData
    other: ad.AnnData
    modality: str
    annotation: pd.DataFrame | None
    train_batches: list[str]
    layer: str | None = None

    @property
    def is_train(self) -> np.ndarray:
        return self.rna.obs["batch"].astype(str).isin(self.train_batches).to_numpy()


def simulated_task(batch_effect: str, n_cells: int = 3000, seed: int = 0,
                   n_batches: int = 3) -> Task:
    """Simulated multiome split by batch: train on ``batch0`` and ``batch1``, hold out the rest."""
    sim = minnet.datasets.simulate_multiome(n_cells=n_cells, n_batches=n_batches, seed=seed,
                                            batch_effect=batch_effect)
    return Task(f"sim_{batch_effect}", sim.rna, sim.atac, "atac", sim.annotation,
                ["batch0", "batch1"])


def simulated_cite_task(batch_effect: str, n_cells: int = 3000, seed: int = 0) -> Task:
    sim = minnet.datasets.simulate_citeseq(n_cells=n_cells, n_batches=3, seed=seed,
                                           batch_effect=batch_effect)
    return Task(f"simcite_{batch_effect}", sim.rna, sim.adt, "adt", None, ["batch0", "batch1"])


DEFAULT_ANNOTATION = SHARED / "annotation" / "hg38_tss.tsv"
OTHER_FILES = {"atac.h5ad": "atac", "adt.h5ad": "adt"}


class TaskError(ValueError):
    """A dataset folder that cannot be benchmarked; the message says why and what to do."""


@dataclass
class TaskSpec:
    """How to rebuild a task in another process: a simulator's name, size, batches and data
    seed, or a dataset folder (``source``) with its train / test batches (comma-separated)."""

    name: str
    n_cells: int = 3000
    n_batches: int = 3
    data_seed: int = 0
    source: str | None = None
    train_batches: str | None = None
    test_batches: str | None = None
    annotation: str | None = None

    def load(self) -> Task | None:
        """The task (``None`` for a starter whose folder is absent)."""
        if self.source is not None:
            return folder_task(self.name, self.source, _split(self.train_batches),
                               _split(self.test_batches), self.annotation)
        return task_by_name(self.name, self.n_cells, self.data_seed, self.n_batches)

    def runner_args(self) -> list[str]:
        """The command-line arguments that rebuild this task in a project runner."""
        args = ["--task", self.name, "--n-cells", str(self.n_cells), "--n-batches",
                str(self.n_batches), "--data-seed", str(self.data_seed)]
        for flag, value in (("--source", self.source), ("--train-batches", self.train_batches),
                            ("--test-batches", self.test_batches),
                            ("--annotation", self.annotation)):
            if value is not None:
                args += [flag, str(value)]
        return args


def spec_from_args(a) -> TaskSpec:
    """The task a project runner's parsed ``exchange.runner_args(exchange=False)`` names."""
    return TaskSpec(a.task, a.n_cells, a.n_batches, a.data_seed, a.source, a.train_batches,
                    a.test_batches, a.annotation)


def _split(batches: str | None) -> list[str] | None:
    return [b.strip() for b in batches.split(",") if b.strip()] if batches else None


def folder_task(name: str, folder: str | Path, train_batches: list[str] | None = None,
                test_batches: list[str] | None = None,
                annotation: str | Path | None = None) -> Task:
    """A paired dataset in the starters' layout, split by batch.

    ``folder`` holds ``rna.h5ad`` and one of ``atac.h5ad`` (peaks named ``chr-start-end``) or
    ``adt.h5ad``: the same cells in the same order, ``obs["cell_type"]`` and ``obs["batch"]``,
    raw counts in ``layers["counts"]`` (else in ``X``). MinNet trains on ``train_batches``
    (default: the first batch in sorted order); every method is scored on ``test_batches``
    (default: all the others). ATAC needs a TSS table (``annotation``; default the hg38 table
    in ``../shared/data/annotation``).

    Raises
    ------
    TaskError
        When a file, column or batch is missing, or the two modalities' cells differ.
    """
    folder = Path(folder)
    found = [f for f in OTHER_FILES if (folder / f).is_file()]
    if not (folder / "rna.h5ad").is_file() or len(found) != 1:
        raise TaskError(
            f"{folder}: expected rna.h5ad and exactly one of atac.h5ad / adt.h5ad (found "
            f"{sorted(p.name for p in folder.glob('*.h5ad')) if folder.is_dir() else 'no folder'})")
    rna, other = ad.read_h5ad(folder / "rna.h5ad"), ad.read_h5ad(folder / found[0])
    modality = OTHER_FILES[found[0]]
    for a, f in ((rna, "rna.h5ad"), (other, found[0])):
        missing = [c for c in ("cell_type", "batch") if c not in a.obs.columns]
        if missing:
            raise TaskError(f"{folder / f}: obs has no column {', '.join(missing)} (needed: "
                            "cell_type for scoring and label transfer, batch for the split)")
    if rna.n_obs != other.n_obs or not (rna.obs_names == other.obs_names).all():
        raise TaskError(f"{folder}: rna.h5ad and {found[0]} must hold the same cells in the "
                        "same order (paired data); reorder one with adata[other.obs_names]")
    batches = sorted(rna.obs["batch"].astype(str).unique())
    train = train_batches or batches[:1]
    test = test_batches or [b for b in batches if b not in train]
    unknown = sorted((set(train) | set(test)) - set(batches))
    if unknown or set(train) & set(test) or not test:
        raise TaskError(f"{folder}: train batches {train} and test batches {test} must be "
                        f"disjoint, non-empty batches of obs['batch'] ({', '.join(batches)})"
                        + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
    keep = rna.obs["batch"].astype(str).isin(train + test).to_numpy()
    if not keep.all():
        rna, other = rna[keep].copy(), other[keep].copy()
    layer = "counts" if "counts" in rna.layers and "counts" in other.layers else None
    ann = None
    if modality == "atac":
        path = Path(annotation) if annotation else DEFAULT_ANNOTATION
        if not path.is_file():
            raise TaskError(f"{path}: no TSS table for the ATAC peaks; pass --annotation TSV "
                            "(columns gene_name, chrom, tss, strand)")
        # kept as read (the peers get its columns as they are); validated by MinNet's reader
        ann = pd.read_csv(path, sep="\t")
        try:
            minnet.genomics.read_annotation(ann)
        except ValueError as err:
            raise TaskError(f"{path}: {err}") from err
    return Task(name, rna, other, modality, ann, list(train), layer=layer)


def starter_tasks() -> list[Task]:
    """The BMMC starters of ``../shared/data`` that are present (train s1d1, test s1d2)."""
    folders = {"bmmc_multiome": SHARED / "bmmc_multiome_starter",
               "bmmc_cite": SHARED / "bmmc_cite_starter"}
    return [folder_task(name, f, ["s1d1"]) for name, f in folders.items() if f.is_dir()]


def task_by_name(name: str, n_cells: int = 3000, seed: int = 0, n_batches: int = 3) -> Task | None:
    """Rebuild a task from its name (``sim_mild``, ``sim_strong``, ``simcite_strong`` or a
    starter's name); ``None`` when it is a starter whose data folder is absent."""
    if name.startswith("sim_"):
        return simulated_task(name.removeprefix("sim_"), n_cells=n_cells, seed=seed,
                              n_batches=n_batches)
    if name.startswith("simcite_"):
        return simulated_cite_task(name.removeprefix("simcite_"), n_cells=n_cells, seed=seed)
    return next((t for t in starter_tasks() if t.name == name), None)


def pca_baseline(rna: ad.AnnData, other: ad.AnnData, modality: str, annotation, layer=None,
                 n_comps: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """PCA on the features shared by both modalities (gene activity for ATAC), jointly."""
    from sklearn.decomposition import PCA

    from minnet.inputs import modality_matrix
    from minnet.pp import scale

    if modality == "adt" and "gene" in other.var.columns:  # proteins named after their genes
        other = other.copy()
        other.var_names = other.var["gene"].astype(str).to_numpy()
        other.var_names_make_unique()
    x, xn = modality_matrix(rna, "rna", layer, False, None, None, "rna")
    y, yn = modality_matrix(other, modality, layer, False, annotation,
                            {"upstream": 2000, "gene_body": True}, modality)
    shared = pd.Index(xn).intersection(pd.Index(yn))
    if len(shared) < 2:
        raise ValueError(f"only {len(shared)} shared features")
    xs = scale(x[:, pd.Index(xn).get_indexer(shared)])
    ys = scale(y[:, pd.Index(yn).get_indexer(shared)])
    k = int(min(n_comps, len(shared) - 1, xs.shape[0] + ys.shape[0] - 1))
    z = PCA(n_components=k, random_state=0).fit_transform(np.concatenate([xs, ys]))
    return z[: xs.shape[0]], z[xs.shape[0]:]


def fit_embed_minnet(task: Task, seed: int = 0, return_model: bool = False,
                     scaling: str = "reference", query_aware: bool = False, **kw):
    """Train on the task's training batches (paired); embed the held-out RNA and other modality
    separately, as unpaired data (``scaling``: see ``MinNetModel.embed``; ``query_aware``:
    training gets the held-out cells as unpaired, unlabelled query cells). Returns the two
    embedded copies (``obsm["X_minnet"]``), and the model when ``return_model``."""
    tr = task.is_train
    if query_aware:
        kw["query"] = {"rna": task.rna[~tr], task.modality: task.other[~tr]}
    model = minnet.train(task.rna[tr], task.other[tr], modality=task.modality,
                         label_key="cell_type", batch_key="batch", layer=task.layer,
                         other_layer=task.layer, annotation=task.annotation, seed=seed,
                         progress=False, **kw)
    rq = minnet.tl.embed(model, task.rna[~tr], "rna", layer=task.layer, scaling=scaling)
    oq = minnet.tl.embed(model, task.other[~tr], task.modality, layer=task.layer,
                         scaling=scaling)
    return (rq, oq, model) if return_model else (rq, oq)


def run_minnet(task: Task, seed: int = 0, **kw) -> tuple[dict, float, float, minnet.MinNetModel]:
    """Train on the task's training batches and evaluate on the held-out cells; returns the
    scores, seconds, peak memory (MB) and the model."""
    t0 = time.perf_counter()
    rq, oq, model = fit_embed_minnet(task, seed=seed, return_model=True, **kw)
    res = evaluate_pair(rq, oq)
    return res, time.perf_counter() - t0, peak_rss_mb(), model


def run_baseline(task: Task) -> dict:
    tr = task.is_train
    rq, oq = task.rna[~tr].copy(), task.other[~tr].copy()
    zx, zy = pca_baseline(rq, oq, task.modality, task.annotation, task.layer)
    rq.obsm["X_minnet"], oq.obsm["X_minnet"] = zx, zy
    return evaluate_pair(rq, oq)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
