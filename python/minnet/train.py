"""Training a MinNet on paired data: inputs → graph margins → Siamese network."""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from anndata import AnnData
from torch.nn import functional as F
from tqdm.auto import tqdm

from ._inputs import check_anndata, looks_like_peaks, modality_matrix, obs_column
from ._utils import MinNetInputError, check_int, check_number, logger
from .graph import build_rna_graph
from .margins import GraphDistances
from .model import MinNetModel, resolve_device, torch_threads
from .module import MinNetModule, contrastive_loss
from .pairs import KIND_XX, KIND_YY, PairSet, sample_pairs
from .pp._features import select_features
from .pp._scale import Standardizer

# Defaults chosen by measurement (benchmarks/sweep.py); the paper's are in DESIGN.md §2.
DEFAULTS = {
    "n_hidden": 256,
    "n_latent": 32,
    "margin": 2.0,
    "contrastive_weight": 1.0,
    "celltype_margin": 3.0,
    "lr": 1e-3,
    "weight_decay": 1e-6,
    "epochs": 60,
    "batch_size": 64,
    "negatives": "both",
    "positive_fraction": 0.25,
    "validation_fraction": 0.2,
    "patience": 10,
    "n_neighbors": 15,
    "n_pcs": 50,
    "batch_correction": "combat",
    "n_top_features": 2000,
    "max_value": 10.0,
    # peaks -> gene activity (minnet.pp.gene_activity); see benchmarks/results/sweep/README.md
    "gene_activity": {"upstream": 2000, "gene_body": True, "distance": 100_000, "decay": 5000},
}


@dataclass
class _Data:
    """Model-ready paired data: normalised matrices, scalers, labels and the graph."""

    x: sp.csr_matrix
    y: sp.csr_matrix
    sx: Standardizer
    sy: Standardizer
    labels: np.ndarray  # integer codes
    distances: GraphDistances


def _pair_align(rna: AnnData, other: AnnData) -> np.ndarray:
    """Index of ``rna``'s cells in ``other``; error unless both hold exactly the same cells."""
    if rna.n_obs != other.n_obs or not rna.obs_names.isin(other.obs_names).all():
        only_rna = rna.obs_names.difference(other.obs_names)
        only_other = other.obs_names.difference(rna.obs_names)
        raise MinNetInputError(
            "paired training data must hold the same cells in both objects (matched by "
            f"obs_names): {len(only_rna)} cells only in rna (e.g. {list(only_rna[:3])}), "
            f"{len(only_other)} only in the other modality (e.g. {list(only_other[:3])}). "
            "Subset both to their shared cells first, e.g. other[rna.obs_names]."
        )
    return other.obs_names.get_indexer(rna.obs_names)


def _split(labels: np.ndarray, fraction: float, rng: np.random.Generator):
    """Stratified train/validation split of cell indices."""
    n = labels.shape[0]
    if fraction <= 0:
        return np.arange(n), np.array([], dtype=np.int64)
    val = []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(fraction * idx.size)) if idx.size > 1 else 0
        val.append(idx[:k])
    val = np.sort(np.concatenate(val))
    train = np.setdiff1d(np.arange(n), val)
    return train, val


def _margins(pairs: PairSet, data: _Data, m0: float, c: float) -> np.ndarray:
    margin = np.zeros(len(pairs), dtype=np.float32)
    neg = np.flatnonzero(pairs.negative)
    if neg.size:
        d = data.distances.pair_distances(pairs.first[neg], pairs.second[neg])
        differ = data.labels[pairs.first[neg]] != data.labels[pairs.second[neg]]
        margin[neg] = m0 * (d + c * differ)
    return margin


def _batch_loss(module, data, pairs, idx, margin, lam, device):
    """Total loss (CE_x + CE_y + λ·L_c) and its parts on the pairs ``idx``."""
    a, b = pairs.first[idx], pairs.second[idx]
    rows = np.concatenate([a, b])
    xb = torch.from_numpy(data.sx.transform_rows(data.x, rows)).to(device)
    yb = torch.from_numpy(data.sy.transform_rows(data.y, rows)).to(device)
    lab = torch.from_numpy(data.labels[rows]).to(device)
    zx, px = module(xb, 0)
    zy, py = module(yb, 1)
    n = len(idx)
    kind = torch.from_numpy(pairs.kind[idx]).to(device).unsqueeze(1)
    z1 = torch.where(kind == KIND_YY, zy[:n], zx[:n])
    z2 = torch.where(kind == KIND_XX, zx[n:], zy[n:])
    neg = torch.from_numpy(pairs.negative[idx].astype(np.float32)).to(device)
    m = torch.from_numpy(margin[idx]).to(device)
    ce = F.cross_entropy(px, lab) + F.cross_entropy(py, lab)
    lc = contrastive_loss(z1, z2, neg, m)
    acc = 0.5 * ((px.argmax(1) == lab).float().mean() + (py.argmax(1) == lab).float().mean())
    return ce + lam * lc, ce.detach(), lc.detach(), acc.detach()


def _batches(n: int, size: int, rng: np.random.Generator | None):
    order = rng.permutation(n) if rng is not None else np.arange(n)
    starts = list(range(0, n, size))
    if len(starts) > 1 and n - starts[-1] < 2:  # BatchNorm needs ≥ 2 rows: fold a lone pair in
        starts.pop()
    for i, s in enumerate(starts):
        e = starts[i + 1] if i + 1 < len(starts) else n
        yield order[s:e]


def train(
    rna: AnnData,
    other: AnnData,
    modality: str = "atac",
    label_key: str = "cell_type",
    batch_key: str | None = None,
    *,
    layer: str | None = None,
    other_layer: str | None = None,
    normalized: bool = False,
    annotation: pd.DataFrame | str | None = None,
    gene_activity_kwds: dict | None = None,
    features: Sequence[str] | None = None,
    other_features: Sequence[str] | None = None,
    n_top_features: int = DEFAULTS["n_top_features"],
    n_hidden: int = DEFAULTS["n_hidden"],
    n_latent: int = DEFAULTS["n_latent"],
    margin: float = DEFAULTS["margin"],
    contrastive_weight: float = DEFAULTS["contrastive_weight"],
    celltype_margin: float = DEFAULTS["celltype_margin"],
    lr: float = DEFAULTS["lr"],
    weight_decay: float = DEFAULTS["weight_decay"],
    epochs: int = DEFAULTS["epochs"],
    batch_size: int = DEFAULTS["batch_size"],
    negatives: str = DEFAULTS["negatives"],
    positive_fraction: float = DEFAULTS["positive_fraction"],
    validation_fraction: float = DEFAULTS["validation_fraction"],
    patience: int | None = DEFAULTS["patience"],
    n_neighbors: int = DEFAULTS["n_neighbors"],
    n_pcs: int = DEFAULTS["n_pcs"],
    batch_correction: str = DEFAULTS["batch_correction"],
    radius: float | str = "auto",
    max_value: float = DEFAULTS["max_value"],
    device: str = "auto",
    seed: int = 0,
    n_threads: int | None = 1,
    progress: bool = True,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
) -> MinNetModel:
    """Train a MinNet on paired data (the same cells measured in both modalities).

    Parameters
    ----------
    rna
        Paired RNA: raw counts in ``.X`` or ``layer`` (not modified).
    other
        The same cells' second modality: ATAC peaks (with ``annotation``) or gene activity for
        ``modality="atac"``, protein counts for ``modality="adt"``. Cells are matched by
        ``obs_names`` in any order.
    modality
        ``"atac"`` or ``"adt"``.
    label_key
        ``rna.obs`` column with cell types (the classifier's targets and the margins' C term).
    batch_key
        Optional ``rna.obs`` column of batches: the graph is batch-corrected and each batch is
        scaled on its own; the network itself sees uncorrected inputs and learns to ignore batch.
    layer, other_layer
        Layers holding raw counts (``None``: ``.X``).
    normalized
        Set when both inputs are already normalised (log-normalised RNA / gene activity, CLR ADT).
    annotation
        Gene annotation (``gene_name, chrom, tss, strand``, optional ``end``; DataFrame or TSV
        path) to turn ATAC peaks into gene activity; stored in the model for embedding peaks.
    gene_activity_kwds
        Settings of :func:`minnet.pp.gene_activity` for ATAC peaks (``upstream``,
        ``gene_body``, ``distance``, ``decay``); those not given keep MinNet's defaults
        (``minnet.train.DEFAULTS["gene_activity"]``). Stored in the model, so query peaks are
        summarised the same way.
    features, other_features
        Features to use in addition to the highly variable ones (all ADT proteins are used).
    n_top_features
        Highly variable features per modality (cell_ranger flavour, per batch).
    n_hidden, n_latent
        Hidden width and co-embedding dimension.
    margin
        ``m0``: negative-pair margin is ``m0 · (graph distance + C · [types differ])``.
    contrastive_weight
        ``λ``: total loss is ``CE_rna + CE_other + λ · L_contrastive``.
    celltype_margin
        ``C``, added to the graph distance when the two cells' types differ.
    lr, weight_decay
        Adam's learning rate and weight decay.
    epochs, batch_size
        Maximum epochs and pairs per mini-batch.
    negatives
        ``"between"``, ``"within"`` or ``"both"`` (see :func:`minnet.pairs.sample_pairs`).
    positive_fraction
        Fraction of positive pairs each epoch (0.25: one positive to three negatives).
    validation_fraction
        Cells held out (stratified by type) to choose the best epoch and stop early.
    patience
        Stop after this many epochs without a better validation loss (``None``: never).
    n_neighbors, n_pcs, batch_correction
        The RNA KNN graph (see :func:`minnet.graph.build_rna_graph`).
    radius
        Graph distances saturate at this radius (``"auto"``: see
        :class:`minnet.margins.GraphDistances`).
    max_value
        Clip scaled values at ±``max_value``.
    device
        ``"auto"`` (CUDA → MPS → CPU), ``"cpu"``, ``"cuda"``, ``"mps"``.
    seed
        Seeds every random step; on CPU the same seed gives the same model.
    n_threads
        CPU threads for torch during training (``None``: torch's default). Mini-batches are
        small, and more threads cost more in synchronisation than they gain (measured: one thread
        is ~10× faster than two on a 2-core machine).
    progress
        Show a progress bar over epochs.
    checkpoint
        Model file kept up to date during training: rewritten (atomically) whenever the
        validation loss improves, so an interrupted run (Ctrl-C, a killed job) leaves the best
        model so far on disk, loadable with :func:`minnet.load`.
    resume
        Continue the run saved in ``checkpoint`` (same data and settings): training restarts
        from its best weights after its last epoch, with a fresh optimiser, until ``epochs``.

    Returns
    -------
    The trained :class:`minnet.MinNetModel` (weights of the best validation epoch). Ctrl-C
    stops training early and returns the best model so far (``summary["interrupted"]``).
    """
    from .pp._normalize import check_modality

    t0 = time.perf_counter()
    mod = check_modality(modality)
    if mod == "rna":
        raise MinNetInputError("modality is the second modality: 'atac' or 'adt', not 'rna'.")
    check_anndata(rna, "rna")
    check_anndata(other, mod)
    for name, val in (("epochs", epochs), ("batch_size", batch_size), ("n_hidden", n_hidden),
                      ("n_latent", n_latent)):
        if int(val) < 1:
            raise MinNetInputError(f"{name} must be a positive integer, got {val!r}.")
    if not 0.0 <= validation_fraction < 1.0:
        raise MinNetInputError("validation_fraction must lie in [0, 1).")
    _check_hyperparameters(locals())
    dev = resolve_device(device)  # an unknown device fails here, before any work
    if resume and checkpoint is None:
        raise MinNetInputError("resume=True needs checkpoint=, the file of the run to continue.")
    previous = _read_checkpoint(checkpoint) if resume else None
    order = _pair_align(rna, other)
    other = other[order] if not np.array_equal(order, np.arange(other.n_obs)) else other

    label_str = obs_column(rna, label_key, "rna", "label")
    categories = sorted(pd.unique(label_str))
    if len(categories) < 2:
        raise MinNetInputError(
            f"rna.obs[{label_key!r}] has a single class ({categories[0]!r}); MinNet needs at "
            "least two cell types to train its classifier and margins."
        )
    labels = pd.Categorical(label_str, categories=categories).codes.astype(np.int64)
    batches = obs_column(rna, batch_key, "rna", "batch") if batch_key is not None else None

    if annotation is not None:
        from .genomics import read_annotation

        annotation = read_annotation(annotation)
    ga_params = _gene_activity_params(gene_activity_kwds)
    x, x_names = modality_matrix(rna, "rna", layer, normalized, None, None, "rna")
    x_feat = select_features(x, x_names, n_top_features, batches, features)
    from_peaks = (mod == "atac" and annotation is not None and not normalized
                  and looks_like_peaks(other.var_names))
    if from_peaks:
        y, y_names, y_feat = _peak_activity(other, other_layer, annotation, ga_params,
                                            n_top_features, batches, other_features, seed)
    else:
        y, y_names = modality_matrix(other, mod, other_layer, normalized, annotation, ga_params,
                                     mod)
        if mod == "adt":
            y_feat = list(other_features) if other_features is not None else list(y_names)
            y_feat = [f for f in y_feat if f in set(y_names)]
        else:
            y_feat = select_features(y, y_names, n_top_features, batches, other_features)
    x = x[:, pd.Index(x_names).get_indexer(x_feat)]
    y = y[:, pd.Index(y_names).get_indexer(y_feat)]
    logger.info("features: %d rna, %d %s", len(x_feat), len(y_feat), mod)

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    lengths = build_rna_graph(x, batches, n_neighbors, n_pcs, batch_correction, seed)
    data = _Data(
        x, y,
        Standardizer.fit(x, batches, max_value), Standardizer.fit(y, batches, max_value),
        labels, GraphDistances(lengths, radius=radius, seed=seed),
    )
    train_idx, val_idx = _split(labels, validation_fraction, rng)
    config = {
        "n_hidden": n_hidden, "n_latent": n_latent, "margin": margin,
        "contrastive_weight": contrastive_weight, "celltype_margin": celltype_margin, "lr": lr,
        "weight_decay": weight_decay, "epochs": epochs, "batch_size": batch_size,
        "negatives": negatives, "positive_fraction": positive_fraction,
        "validation_fraction": validation_fraction, "patience": patience,
        "n_neighbors": n_neighbors, "n_pcs": n_pcs, "batch_correction": batch_correction,
        "radius": data.distances.radius, "n_top_features": n_top_features,
        "max_value": max_value, "seed": seed, "label_key": label_key, "batch_key": batch_key,
        "gene_activity": ga_params if mod == "atac" else None,
        "atac_input": "peaks" if from_peaks else None,
    }
    ann = None
    if annotation is not None and mod == "atac":
        ann = annotation[annotation["gene_name"].isin(set(y_feat))].reset_index(drop=True)
    features_used = {"rna": x_feat, mod: y_feat}
    # each feature's mean in the training data: lets embed() notice a wrong modality=
    feature_means = {"rna": np.asarray(x.mean(axis=0)).ravel().tolist(),
                     mod: np.asarray(y.mean(axis=0)).ravel().tolist()}
    start = None
    if previous is not None:
        start = _resume_state(previous, checkpoint, ("rna", mod), features_used, categories,
                              config)

    def summary_of(history: list[dict], best: dict, interrupted: bool) -> dict:
        return {
            "epochs_run": len(history), "best_epoch": best["epoch"],
            "best_val_loss": best.get("val_loss"), "best_val_accuracy": best.get("val_accuracy"),
            "n_cells": int(rna.n_obs), "n_train": int(train_idx.size), "n_val": int(val_idx.size),
            "train_seconds": round(time.perf_counter() - t0, 2), "device": str(dev),
            "interrupted": interrupted, "history": history,
        }

    def save_checkpoint(module: torch.nn.Module, history: list[dict], best: dict,
                        interrupted: bool) -> None:
        MinNetModel(module, ("rna", mod), features_used, categories, config,
                    summary_of(history, best, interrupted), ann, feature_means).save(checkpoint)

    with torch_threads(n_threads if dev.type == "cpu" else None):
        module, history, best, interrupted = _fit(
            data, train_idx, val_idx, config, len(categories), dev, rng, progress,
            start=start, on_best=save_checkpoint if checkpoint is not None else None,
        )
    if checkpoint is not None:
        save_checkpoint(module, history, best, interrupted)
        if interrupted:
            logger.warning("the best model so far is in %s; continue with train(..., "
                           "checkpoint=%r, resume=True)", checkpoint, str(checkpoint))
    return MinNetModel(module, ("rna", mod), features_used, categories, config,
                       summary_of(history, best, interrupted), ann, feature_means)


# Distance-weighted gene activity is dense (a 100 kb window gives ~70 % of genes a non-zero
# value in a typical cell): genes are chosen on at most this many cells, then computed for all.
FEATURE_SELECTION_CELLS = 20_000


def _peak_activity(other: AnnData, layer, annotation: pd.DataFrame, params: dict,
                   n_top: int, batches, extra, seed: int):
    """Gene activity of ATAC peaks, highly variable genes chosen on a sample of cells.

    Size factors are each cell's total peak counts, so a gene's value does not depend on which
    other genes were computed: the sample's choice applies unchanged to all cells.
    """
    n = other.n_obs
    if n <= FEATURE_SELECTION_CELLS:
        y, names = modality_matrix(other, "atac", layer, False, annotation, params, "atac")
        return y, names, select_features(y, names, n_top, batches, extra)
    sample = np.sort(np.random.default_rng(seed).choice(n, FEATURE_SELECTION_CELLS,
                                                        replace=False))
    ys, names = modality_matrix(other[sample], "atac", layer, False, annotation, params, "atac")
    feat = select_features(ys, names, n_top, None if batches is None else batches[sample], extra)
    del ys
    logger.info("atac: %d genes chosen on %d of %d cells", len(feat), sample.size, n)
    chosen = annotation[annotation["gene_name"].isin(set(feat))].reset_index(drop=True)
    y, names = modality_matrix(other, "atac", layer, False, chosen, params, "atac")
    # a gene seen in the sample is seen in all cells, so every chosen gene is there
    return y, names, [f for f in feat if f in set(names)]


def _gene_activity_params(kwds: dict | None) -> dict:
    """MinNet's gene-activity settings updated with the user's; unknown keys are an error."""
    params = dict(DEFAULTS["gene_activity"])
    if kwds is None:
        return params
    if not isinstance(kwds, dict):
        raise MinNetInputError(
            f"gene_activity_kwds must be a dict, got {type(kwds).__name__}."
        )
    unknown = sorted(set(kwds) - set(params))
    if unknown:
        raise MinNetInputError(
            f"gene_activity_kwds has unknown keys {unknown}; allowed: {sorted(params)}."
        )
    params.update(kwds)
    return params


def _check_hyperparameters(args: dict) -> None:
    """Clear errors for hyper-parameters torch would reject late or turn into NaN silently."""
    check_number(args["lr"], "lr", 0.0, low_open=True)
    check_number(args["weight_decay"], "weight_decay", 0.0)
    check_number(args["margin"], "margin", 0.0)
    check_number(args["contrastive_weight"], "contrastive_weight", 0.0)
    check_number(args["celltype_margin"], "celltype_margin", 0.0)
    check_number(args["positive_fraction"], "positive_fraction", 0.0, 1.0, True, True)
    check_number(args["max_value"], "max_value", 0.0, low_open=True)
    check_int(args["n_neighbors"], "n_neighbors", 2)
    check_int(args["n_pcs"], "n_pcs", 2)
    check_int(args["n_top_features"], "n_top_features", 1)
    check_int(args["seed"], "seed", 0)
    if not (isinstance(args["radius"], str) and args["radius"] == "auto"):
        # an infinite radius would give cells in different graph components infinite margins
        check_number(args["radius"], "radius", 0.0, low_open=True)
    if args["patience"] is not None:
        check_int(args["patience"], "patience", 1)
    if args["negatives"] not in ("between", "within", "both"):
        raise MinNetInputError(
            f"negatives must be 'between', 'within' or 'both', got {args['negatives']!r}."
        )


def _read_checkpoint(path: str | os.PathLike) -> MinNetModel:
    if not os.path.exists(path):
        raise MinNetInputError(f"resume=True but the checkpoint {str(path)!r} does not exist; "
                               "start without resume=True to create it.")
    return MinNetModel.load(path)


# settings that must not change between a run and its resumption
_RESUME_KEYS = ("n_hidden", "n_latent", "margin", "contrastive_weight", "celltype_margin",
                "negatives", "positive_fraction", "validation_fraction", "n_neighbors", "n_pcs",
                "batch_correction", "n_top_features", "max_value", "seed", "label_key",
                "batch_key")


def _resume_state(previous: MinNetModel, path, modalities, features, categories,
                  config) -> dict:
    """Check that ``previous`` belongs to this run and return its weights and history."""
    problems = []
    if tuple(previous.modalities) != tuple(modalities):
        problems.append(f"modalities {previous.modalities} vs {modalities}")
    if previous.features != features:
        problems.append("the selected features differ (other data?)")
    if list(previous.labels) != list(categories):
        problems.append("the cell types differ")
    for k in _RESUME_KEYS:
        if previous.config.get(k) != config.get(k):
            problems.append(f"{k}: {previous.config.get(k)!r} vs {config.get(k)!r}")
    if problems:
        raise MinNetInputError(
            f"the checkpoint {str(path)!r} is from another run: " + "; ".join(problems)
            + ". Resume with the same data and settings, or start a new run (resume=False)."
        )
    history = list((previous.summary or {}).get("history") or [])
    if not history:
        raise MinNetInputError(f"the checkpoint {str(path)!r} holds no training history.")
    best_epoch = previous.summary["best_epoch"]
    best = next(dict(r) for r in history if r["epoch"] == best_epoch)
    best["score"] = best.get("val_loss", best.get("train_loss"))
    return {"state": copy.deepcopy(previous.module.state_dict()), "history": history,
            "best": best}


def _fit(data: _Data, train_idx: np.ndarray, val_idx: np.ndarray, hp: dict, n_classes: int,
         dev: torch.device, rng: np.random.Generator, progress: bool,
         start: dict | None = None, on_best=None):
    """The training loop.

    ``start`` (weights, history and best epoch of an earlier run) continues that run;
    ``on_best(module, history, best, interrupted)`` is called with the best network (on the CPU)
    whenever the validation loss improves. Returns the best network, the history, the best
    epoch's record and whether Ctrl-C stopped the loop.
    """
    module = MinNetModule((data.x.shape[1], data.y.shape[1]), n_classes, hp["n_hidden"],
                          hp["n_latent"]).to(dev)
    history, best, best_state, stale, first = [], None, None, 0, 1
    if start is not None:
        module.load_state_dict(start["state"])
        history, best = list(start["history"]), dict(start["best"])
        best_state = copy.deepcopy(module.state_dict())
        first = history[-1]["epoch"] + 1
        # a resumed run draws its own pairs, reproducibly, from the seed and its first epoch
        rng = np.random.default_rng([hp["seed"], first])
    opt = torch.optim.Adam(module.parameters(), lr=hp["lr"], weight_decay=hp["weight_decay"])
    m0, c, lam = hp["margin"], hp["celltype_margin"], hp["contrastive_weight"]
    val_pairs = val_margin = None
    if val_idx.size >= 2:
        val_pairs = sample_pairs(val_idx, np.random.default_rng(hp["seed"] + 1),
                                 hp["positive_fraction"], hp["negatives"])
        val_margin = _margins(val_pairs, data, m0, c)

    def best_module() -> torch.nn.Module:
        out = copy.deepcopy(module).cpu()
        out.load_state_dict(best_state)
        return out.eval()

    interrupted = False
    bar = tqdm(range(first, hp["epochs"] + 1), desc="MinNet", unit="epoch",
               disable=not progress, initial=first - 1, total=hp["epochs"])
    try:
        for epoch in bar:
            module.train()
            pairs = sample_pairs(train_idx, rng, hp["positive_fraction"], hp["negatives"])
            pair_margin = _margins(pairs, data, m0, c)
            tot = ce_sum = lc_sum = 0.0
            for idx in _batches(len(pairs), hp["batch_size"], rng):
                loss, ce, lc, _ = _batch_loss(module, data, pairs, idx, pair_margin, lam, dev)
                opt.zero_grad()
                loss.backward()
                opt.step()
                tot += loss.item() * len(idx)
                ce_sum += ce.item() * len(idx)
                lc_sum += lc.item() * len(idx)
            rec = {"epoch": epoch, "train_loss": tot / len(pairs),
                   "train_ce": ce_sum / len(pairs), "train_contrastive": lc_sum / len(pairs)}
            if val_pairs is not None:
                rec.update(_evaluate(module, data, val_pairs, val_margin, lam, dev))
                score = rec["val_loss"]
            else:
                score = rec["train_loss"]
            if not np.isfinite(rec["train_loss"]):
                raise FloatingPointError(
                    f"training diverged at epoch {epoch}: the loss is {rec['train_loss']}. "
                    "Lower lr (e.g. lr=1e-4), or check the inputs for extreme values."
                )
            history.append(rec)
            if best is None or score < best["score"] - 1e-6 * abs(best["score"]):
                best = {"score": score, **rec}
                best_state = copy.deepcopy(module.state_dict())
                stale = 0
                if on_best is not None:
                    on_best(best_module(), history, best, False)
            else:
                stale += 1
            bar.set_postfix(loss=f"{rec['train_loss']:.3g}", val=f"{score:.3g}")
            if hp["patience"] is not None and stale >= hp["patience"]:
                logger.info("early stop at epoch %d (best %d)", epoch, best["epoch"])
                break
    except KeyboardInterrupt:
        if best_state is None:  # nothing learnt yet: nothing to keep
            raise
        interrupted = True
        logger.warning("training interrupted after %d epochs; keeping the best (epoch %d)",
                       len(history), best["epoch"])
    finally:
        bar.close()
    return best_module(), history, best, interrupted


@torch.no_grad()
def _evaluate(module, data, pairs, margin, lam, dev, chunk: int = 1024) -> dict:
    module.eval()
    tot = acc = 0.0
    for idx in _batches(len(pairs), chunk, None):
        loss, _, _, a = _batch_loss(module, data, pairs, idx, margin, lam, dev)
        tot += loss.item() * len(idx)
        acc += a.item() * len(idx)
    return {"val_loss": tot / len(pairs), "val_accuracy": acc / len(pairs)}
