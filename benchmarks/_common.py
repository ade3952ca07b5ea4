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


def starter_tasks() -> list[Task]:
    tasks = []
    mo = SHARED / "bmmc_multiome_starter"
    if mo.is_dir():
        ann = pd.read_csv(SHARED / "annotation" / "hg38_tss.tsv", sep="\t")
        rna, atac = ad.read_h5ad(mo / "rna.h5ad"), ad.read_h5ad(mo / "atac.h5ad")
        tasks.append(Task("bmmc_multiome", rna, atac, "atac", ann, ["s1d1"], layer="counts"))
    cite = SHARED / "bmmc_cite_starter"
    if cite.is_dir():
        rna, adt = ad.read_h5ad(cite / "rna.h5ad"), ad.read_h5ad(cite / "adt.h5ad")
        tasks.append(Task("bmmc_cite", rna, adt, "adt", None, ["s1d1"], layer="counts"))
    return tasks


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

    from minnet._inputs import modality_matrix
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


def fit_embed_minnet(task: Task, seed: int = 0, return_model: bool = False, **kw):
    """Train on the task's training batches (paired); embed the held-out RNA and other modality
    separately, as unpaired data. Returns the two embedded copies (``obsm["X_minnet"]``), and
    the model when ``return_model``."""
    tr = task.is_train
    model = minnet.train(task.rna[tr], task.other[tr], modality=task.modality,
                         label_key="cell_type", batch_key="batch", layer=task.layer,
                         other_layer=task.layer, annotation=task.annotation, seed=seed,
                         progress=False, **kw)
    rq = minnet.tl.embed(model, task.rna[~tr], "rna", layer=task.layer)
    oq = minnet.tl.embed(model, task.other[~tr], task.modality, layer=task.layer)
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
