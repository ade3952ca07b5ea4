"""Training a MinNet on paired data: inputs → graph margins → Siamese network.

:func:`train` is the user's entry point (scanpy-style keyword arguments, every default from
:mod:`minnet.settings`); :func:`fit` is the epoch loop around :class:`minnet.step.TrainingStep`.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from tqdm.auto import tqdm

from ._utils import MinNetInputError, logger
from .distributed import (
    SINGLE,
    Ranks,
    average_buffers,
    broadcast_floats,
    from_main,
    join_group,
    leave_group,
    sum_floats,
)
from .ensemble import align
from .graph import build_rna_graph
from .inputs import InputSpec, looks_like_peaks
from .loss import class_weights
from .margins import GraphDistances
from .model import MinNetModel
from .module import MinNetModule
from .multimodal import is_mudata, modality_of, resolve_mod_key, split_mudata
from .pairs import sample_pairs
from .runtime import resolve_device, torch_threads
from .settings import (
    BatchCorrection,
    GeneActivitySettings,
    GraphSettings,
    InputSettings,
    LossSettings,
    Negatives,
    NetworkSettings,
    OptimSettings,
    PeakInput,
    RuntimeSettings,
    TrainSettings,
    ValidationSplit,
    resume_keys,
)
from .step import PairedData, QueryCells, TrainingStep, pair_batches
from .validation import (
    check_anndata,
    check_group_sizes,
    check_modality,
    check_no_missing_strings,
    check_same_obs,
    obs_column,
)

if TYPE_CHECKING:
    from mudata import MuData

_D = TrainSettings()  # every default, once (minnet.settings)


def train(
    rna: AnnData | MuData,
    other: AnnData | None = None,
    modality: Literal["atac", "adt"] = "atac",
    label_key: str = _D.inputs.label_key,
    batch_key: str | None = _D.inputs.batch_key,
    *,
    layer: str | None = None,
    other_layer: str | None = None,
    normalized: bool = False,
    annotation: pd.DataFrame | str | None = None,
    gene_activity_kwds: dict | None = None,
    features: Sequence[str] | None = None,
    other_features: Sequence[str] | None = None,
    n_top_features: int = _D.inputs.n_top_features,
    n_hidden: int = _D.network.n_hidden,
    n_latent: int = _D.network.n_latent,
    input_dropout: float | Literal["auto"] = _D.network.input_dropout,
    hidden_dropout: float | Literal["auto"] = _D.network.hidden_dropout,
    n_networks: int | Literal["auto"] = _D.network.n_networks,
    margin: float = _D.loss.margin,
    contrastive_weight: float = _D.loss.contrastive_weight,
    celltype_margin: float = _D.loss.celltype_margin,
    lr: float | Literal["auto"] = _D.optim.lr,
    weight_decay: float = _D.optim.weight_decay,
    epochs: int | Literal["auto"] = _D.optim.epochs,
    batch_size: int | Literal["auto"] = _D.optim.batch_size,
    negatives: Negatives = _D.loss.negatives,
    positive_fraction: float = _D.loss.positive_fraction,
    query: dict[str, AnnData] | MuData | None = None,
    query_weight: float = _D.loss.query_weight,
    class_balance: float = _D.loss.class_balance,
    validation_fraction: float = _D.optim.validation_fraction,
    validation_split: ValidationSplit = _D.optim.validation_split,
    patience: int | None = _D.optim.patience,
    n_neighbors: int = _D.graph.n_neighbors,
    n_pcs: int = _D.graph.n_pcs,
    batch_correction: BatchCorrection = _D.graph.batch_correction,
    radius: float | Literal["auto"] = _D.graph.radius,
    max_value: float = _D.inputs.max_value,
    peak_input: PeakInput = _D.inputs.peak_input,
    n_lsi_components: int = _D.inputs.n_lsi_components,
    device: str = _D.runtime.device,
    seed: int = _D.runtime.seed,
    n_threads: int | None = _D.runtime.n_threads,
    progress: bool = _D.runtime.progress,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    rna_key: str = "rna",
    other_key: str | None = None,
    distributed: bool = False,
) -> MinNetModel:
    """Train a MinNet on paired data (the same cells measured in both modalities).

    Parameters
    ----------
    rna
        Paired RNA: raw counts in ``.X`` or ``layer`` (not modified); or a ``MuData`` holding
        both modalities (``mdata.mod[rna_key]`` and ``mdata.mod[other_key]``), then ``other``
        is not given.
    other
        The same cells' second modality: ATAC peak counts (``chr-start-end`` names) or gene
        activity for ``modality="atac"``, protein counts for ``modality="adt"``. Cells are
        matched by ``obs_names`` in any order. Both may be backed
        (``anndata.read_h5ad(path, backed="r")``, or a subset of one): their counts are then
        read 20,000 cells at a time, never whole (README, "Large data").
    modality
        ``"atac"`` or ``"adt"``.
    label_key
        ``rna.obs`` column with cell types (the classifier's targets and the margins' C term).
        Missing values, and strings that mean missing (``'nan'``, ``'None'``, ``''``), are
        refused.
    batch_key
        Optional ``rna.obs`` column of batches: the graph is batch-corrected; the network sees
        every cell scaled with the statistics of all training cells (as it embeds any query by
        default) and learns to ignore batch.
        Every batch needs at least two cells, and the column must not be ``label_key``.
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
        (:class:`minnet.settings.GeneActivitySettings`). Stored in the model, so query peaks are
        summarised the same way.
    features, other_features
        Features to use in addition to the highly variable ones (all ADT proteins are used).
    n_top_features
        Highly variable features per modality (cell_ranger flavour, per batch).
    n_hidden, n_latent
        Hidden width and co-embedding dimension.
    input_dropout, hidden_dropout
        Dropout on the encoders' input features and hidden output during training (sparse
        cells and shallower query libraries miss counts the network saw). ``"auto"``: 0.3 and
        0.2 when ATAC peaks enter through their LSI projection (chosen by leave-libraries-out
        cross-validation on real data, ``benchmarks/dev_cv.py``), else 0 (the paper's network:
        on the simulator dropout blurred the alignment of single cells).
    n_networks
        Networks trained one after another from different seeds (own initial weights, pairs
        and validation cells) and averaged after aligning their co-embeddings
        (:mod:`minnet.ensemble`): the embedding stays ``n_latent``-dimensional, the
        classifiers' probabilities are averaged, training takes ``n_networks`` times as long.
        ``"auto"``: 5 up to 100,000 cells, else 1 (on the real development set 5 networks
        lowered FOSCTTM by ~0.02 and raised transfer accuracy; BENCHMARKS.md).
    margin
        ``m0``: negative-pair margin is ``m0 · (graph distance + C · [types differ])``.
    contrastive_weight
        ``λ``: total loss is ``CE_rna + CE_other + λ · L_contrastive``.
    celltype_margin
        ``C``, added to the graph distance when the two cells' types differ.
    lr, weight_decay
        Adam's learning rate and weight decay. ``lr="auto"``: 1e-3 times the square root of
        the global mini-batch over 64 pairs (1e-3 up to 64).
    epochs, batch_size
        Maximum epochs and pairs per mini-batch. ``epochs="auto"``: 60 up to 25,000 training
        cells, then 1.5 million pairs' worth (100,000 cells: 15), at least 5: a large
        dataset's epoch is many steps. ``batch_size="auto"``: 64 pairs below 50,000
        training cells, doubling with every doubling of the cells beyond, up to 1,024 (from
        400,000 cells; :class:`minnet.settings.OptimSettings`), so large data take fewer,
        larger steps; in a distributed run it is the global mini-batch, split over the ranks.
    negatives
        ``"between"``, ``"within"`` or ``"both"`` (see :func:`minnet.pairs.sample_pairs`).
    positive_fraction
        Fraction of positive pairs each epoch (0.25: one positive to three negatives).
    query
        Query-aware mode: unpaired, unlabelled cells to integrate, ``{"rna": AnnData,
        "<modality>": AnnData}`` (either may be missing; raw counts in ``.X``, same
        ``layer``/``other_layer`` as the training data) or a MuData. Beside the paired losses,
        every step pulls the query's RNA and other-modality embeddings onto each other (MMD)
        and trains each query modality on its own confident predictions (self-training), so
        the model adapts to the query's libraries; embed the query with the returned model.
        ATAC peaks through their LSI projection: the query's ATAC cells take part in fitting
        it (idf and singular vectors; BENCHMARKS.md, "Real data").
        ``None`` (default): reference-only, a cell's embedding never depends on a query.
    query_weight
        Weight of the query cells' label-free loss.
    class_balance
        The classifier's cross-entropy weighs each cell type by ``(1 / its cells) **
        class_balance`` (0: plain; 1: every type equally): rare types are learnt rather than
        absorbed by abundant ones. 0.5 raised macro accuracy on every fold of the real
        development set, overall accuracy level (BENCHMARKS.md).
    validation_fraction
        Cells held out to choose the best epoch and stop early. Classes too small to give
        validation cells are named in a warning.
    validation_split
        ``"cells"``: cells stratified by type; ``"batch"``: whole batches are held out (in
        random order, as many as fit in ``validation_fraction``, at least one), so the epoch
        is chosen on libraries the network has not seen, as queries are; ``"auto"``:
        ``"batch"`` with ``batch_key`` and three or more batches, else ``"cells"``. On the
        real development set the two were within the folds' spread (BENCHMARKS.md).
    patience
        Stop after this many epochs without a better validation loss (``None``: never).
    n_neighbors, n_pcs, batch_correction
        The RNA KNN graph (see :func:`minnet.graph.build_rna_graph`).
    radius
        Graph distances saturate at this radius (``"auto"``: see
        :class:`minnet.margins.GraphDistances`).
    max_value
        Clip scaled values at ±``max_value``.
    peak_input
        How ATAC peaks become input: ``"lsi"`` (TF-IDF and ``n_lsi_components`` singular
        vectors fitted on the training cells and stored in the model; query peaks from another
        peak calling are mapped onto the model's by overlap), ``"gene_activity"`` (needs
        ``annotation``), ``"auto"``: gene activity when ``annotation`` is given, else LSI.
    n_lsi_components
        LSI dimensions of the peak input (the first, which follows depth, is dropped; 300
        was best of 200, 300 and 500 on the real development set).
    device
        ``"auto"`` (CUDA → MPS → CPU), ``"cpu"``, ``"cuda"``, ``"mps"``.
    seed
        Seeds every random step; on CPU the same seed gives the same model.
    n_threads
        CPU threads for torch during training (``None``: torch's default). Mini-batches are
        small, and more threads cost more in synchronisation than they gain (measured: one thread
        is ~10× faster than two on a 2-core machine).
    progress
        Show progress bars: over epochs, and over the blocks of cells the input of more than
        20,000 cells is read in.
    checkpoint
        Model file kept up to date during training: rewritten (atomically) whenever the
        validation loss improves, so an interrupted run (Ctrl-C, a killed job) leaves the best
        model so far on disk, loadable with :func:`minnet.load`.
    resume
        Continue the run saved in ``checkpoint`` (same data and settings): training restarts
        from its best weights after its last epoch, with a fresh optimiser, until ``epochs``;
        of several networks, each network the file holds continues likewise and the others
        are trained.
    rna_key, other_key
        With a ``MuData``: the keys of its RNA and other modality (``other_key`` default: the
        modality's name, else ``peaks``/``chromatin`` for ATAC, ``prot``/``protein`` for ADT).
    distributed
        Data-parallel training in a ``torchrun`` worker (:mod:`minnet.distributed`): every
        process calls ``train`` with the same data and arguments; each trains on its shard of
        every global mini-batch of ``batch_size × world size`` pairs (a number ``batch_size``
        is per process; ``"auto"`` is the global one), gradients are all-reduced, rank 0
        validates and alone writes ``checkpoint``. Every rank returns the same model. NCCL with CUDA (one GPU per process), gloo on CPU.

    Returns
    -------
    The trained :class:`minnet.MinNetModel` (weights of the best validation epoch). Ctrl-C
    stops training early and returns the best model so far (``summary["interrupted"]``).
    """
    t0 = time.perf_counter()
    mod = check_modality(modality)
    if mod == "rna":
        raise MinNetInputError("modality is the second modality: 'atac' or 'adt', not 'rna'.")
    rna, other = _two_modalities(rna, other, mod, rna_key, other_key)
    check_anndata(rna, "rna")
    check_anndata(other, mod)
    settings = TrainSettings(
        NetworkSettings(n_hidden, n_latent, input_dropout, hidden_dropout, n_networks),
        InputSettings(label_key, batch_key, n_top_features, max_value, peak_input,
                      n_lsi_components),
        GraphSettings(n_neighbors, n_pcs, batch_correction, radius),
        LossSettings(margin, contrastive_weight, celltype_margin, negatives, positive_fraction,
                     query_weight, class_balance),
        OptimSettings(lr, weight_decay, epochs, batch_size, validation_fraction,
                      validation_split, patience),
        RuntimeSettings(seed, device, n_threads, progress),
    )
    ga = GeneActivitySettings.from_kwds(gene_activity_kwds)
    dev = resolve_device(device)  # an unknown device fails here, before any work
    ranks, dev = join_group(dev) if distributed else (SINGLE, dev)
    if resume and checkpoint is None:
        raise MinNetInputError("resume=True needs checkpoint=, the file of the run to continue.")
    previous = _read_checkpoint(checkpoint) if resume else None
    features, other_features = _check_pairing(rna, other, mod, features, other_features)
    order = _pair_align(rna, other)
    other = other[order] if not np.array_equal(order, np.arange(other.n_obs)) else other
    categories, labels, batches = _cell_columns(rna, label_key, batch_key, validation_fraction)
    if annotation is not None:
        from .genomics import read_annotation

        annotation = read_annotation(annotation)

    common = {"normalized": normalized, "n_top_features": n_top_features, "batches": batches,
              "max_value": max_value, "seed": seed, "progress": progress and ranks.is_main}
    query = _query_dict(query, mod)  # checked before any fitting
    rna_spec, x = InputSpec.fit(rna, "rna", layer=layer, extra_features=features, **common)
    other_spec, y = InputSpec.fit(other, mod, layer=other_layer, annotation=annotation,
                                  gene_activity=ga, extra_features=other_features,
                                  peak_input=peak_input, n_lsi_components=n_lsi_components,
                                  unpaired=None if query is None else query.get(mod), **common)
    logger.info("features: %d rna, %d %s", x.shape[1], y.shape[1], mod)

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    g = settings.graph
    lengths = from_main(  # one graph for all ranks: built once, on rank 0
        lambda: build_rna_graph(x, batches, g.n_neighbors, g.n_pcs, g.batch_correction, seed),
        ranks, dev)
    # scaled with the training cells' statistics, as every query is by default: the network
    # meets batch and depth differences in training instead of having them scaled away
    data = PairedData(x, y, rna_spec.scaler(x), other_spec.scaler(y),
                      labels, GraphDistances(lengths, radius=g.radius, seed=seed))
    # the model stores the values "auto" resolved to
    settings = settings.replace(
        radius=data.distances.radius, n_networks=settings.network.networks_for(rna.n_obs),
        **settings.network.resolved(other_spec.peak_projection is not None),
        **settings.optim.resolved(rna.n_obs, ranks.world_size))
    inputs = {"rna": rna_spec, mod: other_spec}
    query_cells = _query_cells(query, inputs, mod, layer, other_layer, normalized,
                               query_weight, seed)
    starts = [] if previous is None else _resume_state(previous, checkpoint, inputs,
                                                       categories, settings)
    first_split = _split(labels, validation_fraction, rng, batches, validation_split)
    nets = _Networks(inputs, categories, settings, data, t0, {
        "n_cells": int(rna.n_obs), "n_train": int(first_split[0].size),
        "n_val": int(first_split[1].size), "device": str(dev),
        "distributed": ranks.describe() if ranks.distributed else None,
        "query_cells": None if query_cells is None else {
            m: int(query_cells.inputs[i][0].shape[0]) for i, m in enumerate(("rna", mod))
            if i in query_cells.inputs}})

    def fit_network(j: int, start: dict | None, on_best: OnBest | None) -> tuple:
        rng_j = rng if j == 0 else _network_rng(seed, j)
        split = first_split if j == 0 else _split(labels, validation_fraction, rng_j, batches,
                                                  validation_split)
        return fit(data, *split, settings, len(categories), dev, rng_j, progress, start=start,
                   on_best=on_best, query=query_cells, ranks=ranks, network=j)

    with torch_threads(n_threads if dev.type == "cpu" else None):
        interrupted = nets.train(fit_network, starts, checkpoint if ranks.is_main else None)
    model = nets.model(interrupted)
    if ranks.is_main:  # a distributed run writes one file
        _save_final(model, checkpoint)
    leave_group(ranks)
    return model


class _Networks:
    """A run's networks (one, or an ensemble's), trained one after another, and the model
    they make: network 0's training record is the summary's, every network's is in
    ``summary["networks"]``."""

    def __init__(self, inputs: dict[str, InputSpec], categories: list[str],
                 settings: TrainSettings, data: PairedData, t0: float,
                 fixed: dict[str, Any]) -> None:
        self.inputs, self.categories, self.settings, self.data = inputs, categories, settings, data
        self.t0 = t0
        self.fixed = fixed  # summary entries of the run as a whole
        self.runs: list[_Run] = []  # (network, history, best epoch) of each network trained
        self.finished = 0  # networks whose training ended (the last run may be cut short)

    def train(self, fit_network: Callable[[int, dict | None, OnBest | None], tuple],
              starts: list[dict], checkpoint: str | os.PathLike | None) -> bool:
        """Train every network, continuing those of a resumed run from ``starts`` (each one's
        earlier state); keep ``checkpoint`` up to date. Returns whether Ctrl-C stopped
        training."""
        def save(*state: Any) -> None:  # the finished networks and the one in training
            self.model(False, [*self.runs, state[:3]]).save(checkpoint)

        n = self.settings.network.n_networks
        for j in range(n):
            try:
                *run, interrupted = fit_network(j, starts[j] if j < len(starts) else None,
                                                save if checkpoint is not None else None)
            except KeyboardInterrupt:  # in a network's first epoch: keep the networks before
                if not self.runs:
                    raise
                return True
            self.runs.append(tuple(run))
            if interrupted:
                return True
            self.finished += 1
            if checkpoint is not None and n > 1:
                self.model(False).save(checkpoint)  # if the next is stopped in its 1st epoch
        return False

    def model(self, interrupted: bool, runs: list[_Run] | None = None) -> MinNetModel:
        """The model of ``runs`` (default: those trained so far)."""
        runs = self.runs if runs is None else runs
        module, history, best = runs[0]
        summary = {**_network_summary(history, best), **self.fixed,
                   "train_seconds": round(time.perf_counter() - self.t0, 2),
                   "interrupted": interrupted}
        if self.settings.network.n_networks > 1:
            module = align([r[0] for r in runs], self.data.rows,
                           np.arange(self.data.x.shape[0]),
                           np.random.default_rng([self.settings.runtime.seed, ALIGN_SEED_STREAM]))
            summary["networks"] = [_network_summary(*r[1:]) for r in runs]
            summary["networks_finished"] = min(self.finished, len(runs))
        return MinNetModel(module, self.inputs, self.categories, self.settings, summary)


def _network_rng(seed: int, network: int) -> np.random.Generator:
    """The random stream of network ``network`` > 0 of an ensemble (network 0: ``seed``'s);
    its initial weights are drawn from it too."""
    rng = np.random.default_rng([seed, network])
    torch.manual_seed(int(rng.integers(2**31)))
    return rng


def _network_summary(history: list[dict], best: dict) -> dict:
    """One network's training record (the summary's, and each of an ensemble's)."""
    return {"epochs_run": len(history), "best_epoch": best["epoch"],
            "best_val_loss": best.get("val_loss"), "best_val_accuracy": best.get("val_accuracy"),
            "history": history}


def _save_final(model: MinNetModel, checkpoint: str | os.PathLike | None) -> None:
    """The finished (or interrupted) run's model into ``checkpoint``, if given."""
    if checkpoint is None:
        return
    model.save(checkpoint)
    if model.summary["interrupted"]:
        logger.warning("the best model so far is in %s; continue with train(..., "
                       "checkpoint=%r, resume=True)", checkpoint, str(checkpoint))


# Query cells of each modality drawn beside every mini-batch of pairs (query-aware mode).
QUERY_CELLS_PER_STEP = 128
# keeps the query draws' random stream apart from the pairs' (same seed, other stream)
QUERY_SEED_STREAM = 7


def _query_dict(query: dict[str, AnnData] | MuData | None, mod: str
                ) -> dict[str, AnnData] | None:
    """The query-aware mode's unpaired cells by modality, checked (a MuData split)."""
    if query is None:
        return None
    if is_mudata(query):
        query = {m: modality_of(query, resolve_mod_key(query, m, None, "query"))
                 for m in ("rna", mod)}
    if not isinstance(query, dict) or not query or not set(query) <= {"rna", mod}:
        keys = sorted(query) if isinstance(query, dict) else type(query).__name__
        raise MinNetInputError(
            f"query must be a dict with keys 'rna' and/or {mod!r} (unpaired AnnData objects) "
            f"or a MuData; got {keys}.")
    for name, cells in query.items():
        check_anndata(cells, f"query[{name!r}]")
    return query


def _query_cells(query: dict[str, AnnData] | None, inputs: dict[str, InputSpec],
                 mod: str, layer: str | None, other_layer: str | None, normalized: bool,
                 weight: float, seed: int) -> QueryCells | None:
    """The query-aware mode's unpaired cells (:func:`_query_dict`) as model input (scaled as
    any query is)."""
    if query is None:
        return None
    cells = {}
    for i, name in enumerate(("rna", mod)):
        if name in query:
            spec = inputs[name]
            x, _ = spec.model_input(query[name], layer if i == 0 else other_layer, normalized,
                                    what=f"query[{name!r}]")
            cells[i] = (x, spec.scaler(x))
    logger.info("query-aware mode: %s", ", ".join(
        f"{x.shape[0]} {('rna', mod)[i]} cells" for i, (x, _) in cells.items()))
    return QueryCells(cells, weight, QUERY_CELLS_PER_STEP,
                      np.random.default_rng([seed, QUERY_SEED_STREAM]))



def _two_modalities(rna: AnnData | MuData, other: AnnData | None, mod: str, rna_key: str,
                    other_key: str | None) -> tuple[AnnData, AnnData]:
    """The RNA and other modality, from two AnnData objects or one MuData."""
    if is_mudata(rna):
        if other is not None:
            raise MinNetInputError(
                "pass either a MuData as the first argument (and no second object) or two "
                "AnnData objects (RNA, then ATAC/ADT).")
        return split_mudata(rna, mod, rna_key, other_key)
    if other is None:
        raise MinNetInputError(
            f"the {mod.upper()} AnnData (second argument) is missing: pass train(rna, {mod}, "
            f"modality={mod!r}), or a MuData holding both modalities.")
    return rna, other


def _pair_align(rna: AnnData, other: AnnData) -> np.ndarray:
    """Index of ``rna``'s cells in ``other``; error unless both hold exactly the same cells."""
    return check_same_obs(
        rna, other, ("rna", "the other modality (paired training data)"), "cells",
        "Subset both to their shared cells first, e.g. other[rna.obs_names].")


def _check_pairing(rna: AnnData, other: AnnData, mod: str, features: Sequence[str] | None,
                   other_features: Sequence[str] | None
                   ) -> tuple[list[str] | None, list[str] | None]:
    """Refuse swapped inputs (RNA that holds peaks, proteins that are peaks); extra features
    as lists (a single name given as a string is one feature, not its letters)."""
    if looks_like_peaks(rna.var_names):
        raise MinNetInputError(
            f"rna's features look like ATAC peaks ({rna.var_names[0]!r}, ...): the first "
            "argument of train is the RNA and the second the other modality, e.g. "
            "minnet.train(rna, atac, modality='atac'). Swap the two objects."
        )
    if mod == "adt" and looks_like_peaks(other.var_names):
        raise MinNetInputError(
            f"modality='adt' but the second object's features look like ATAC peaks "
            f"({other.var_names[0]!r}, ...); for ATAC pass modality='atac' (with annotation= "
            "to turn peaks into gene activity)."
        )

    def as_list(names: Sequence[str] | None) -> list[str] | None:
        return None if names is None else [names] if isinstance(names, str) else list(names)

    return as_list(features), as_list(other_features)


def _cell_columns(rna: AnnData, label_key: str, batch_key: str | None, fraction: float
                  ) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    """Cell types (names, codes) and batches of the training cells, checked.

    Refuses missing-looking values, a batch column that is the label column and batches of a
    single cell (ComBat and per-batch scaling need two); warns about classes too small to
    learn or to validate, and about batches that each hold one cell type.
    """
    if batch_key is not None and batch_key == label_key:
        raise MinNetInputError(
            f"label_key and batch_key are both {label_key!r}: batch correction would remove "
            "the differences between cell types that the model learns. Pass the column of "
            "samples / libraries as batch_key, or batch_key=None."
        )
    categories, labels = _label_codes(rna, label_key)
    _warn_about_classes(labels, categories, fraction, label_key)
    if batch_key is None:
        return categories, labels, None
    batches = obs_column(rna, batch_key, "rna", "batch")
    check_no_missing_strings(batches, "rna", batch_key, "batch")
    check_group_sizes(batches, "rna", batch_key, "batch")
    per_batch = pd.crosstab(batches, labels).gt(0).sum(axis=1)
    if len(per_batch) > 1 and (per_batch == 1).all():
        logger.warning(
            "every batch of rna.obs[%r] holds a single cell type of rna.obs[%r]: batches and "
            "cell types are confounded, so batch correction removes the cell-type differences "
            "of the RNA graph. Check batch_key, or pass batch_key=None.", batch_key, label_key)
    return categories, labels, batches


def _warn_about_classes(codes: np.ndarray, categories: list[str], fraction: float,
                        label_key: str) -> None:
    """Warn when classes are too small to learn or to get cells in the validation split, and
    when class names differ only by case or surrounding spaces."""
    sizes = np.bincount(codes, minlength=len(categories))
    n, k = int(codes.size), len(categories)
    tiny = [categories[i] for i in np.flatnonzero(sizes == 1)]
    if k > n / 5 or len(tiny) > k / 2:
        logger.warning(
            "rna.obs[%r] has %d classes for %d cells (%d with a single cell, e.g. %s): too few "
            "cells per class to learn the classifier or the cell-type margins. Use coarser "
            "labels (e.g. a broader annotation level).", label_key, k, n, len(tiny), tiny[:5])
    # the same count as _split: classes of one cell, or too small for the fraction, get none
    n_val = np.array([int(round(fraction * s)) if s > 1 else 0 for s in sizes])
    if fraction > 0 and n_val.sum() < 2:
        logger.warning(
            "validation_fraction=%g leaves %d validation cell(s), too few to validate (every "
            "class is too small): the best epoch and early stopping follow the training loss, "
            "which does not notice overfitting. Use coarser labels, or validation_fraction=0 "
            "to train on all cells on purpose.", fraction, int(n_val.sum()))
    elif fraction > 0 and (n_val == 0).any():
        none = [f"{categories[i]!r} ({sizes[i]})" for i in np.flatnonzero(n_val == 0)]
        logger.warning(
            "%d of %d classes of rna.obs[%r] are too small to get validation cells at "
            "validation_fraction=%g (%s): the best epoch is chosen without them. Merge rare "
            "classes into coarser labels if they matter.", len(none), k, label_key, fraction,
            ", ".join(none[:5]) + (", ..." if len(none) > 5 else ""))
    tidy = pd.Series(categories).str.strip().str.lower()
    variants = sorted(categories[i] for i in np.flatnonzero(tidy.duplicated(keep=False)))
    if variants:
        logger.warning(
            "rna.obs[%r] has labels that differ only by case or surrounding spaces (%s): they "
            "are trained as different classes. Tidy them first (e.g. .str.strip()).",
            label_key, variants[:6])


def _label_codes(rna: AnnData, label_key: str) -> tuple[list[str], np.ndarray]:
    """Sorted cell-type names and each cell's integer code; at least two types are needed."""
    label_str = obs_column(rna, label_key, "rna", "label")
    check_no_missing_strings(label_str, "rna", label_key, "label")
    categories = sorted(pd.unique(label_str))
    if len(categories) < 2:
        raise MinNetInputError(
            f"rna.obs[{label_key!r}] has a single class ({categories[0]!r}); MinNet needs at "
            "least two cell types to train its classifier and margins."
        )
    codes = pd.Categorical(label_str, categories=categories).codes.astype(np.int64)
    return categories, codes


def _split(labels: np.ndarray, fraction: float, rng: np.random.Generator,
           batches: np.ndarray | None = None,
           by: ValidationSplit = "cells") -> tuple[np.ndarray, np.ndarray]:
    """Train/validation split of cell indices: by whole batches or stratified by type."""
    n = labels.shape[0]
    if fraction <= 0:
        return np.arange(n), np.array([], dtype=np.int64)
    names = None if batches is None else np.unique(batches)
    if by == "batch" or (by == "auto" and names is not None and names.size >= 3):
        val = _batch_validation(labels, fraction, rng, batches)
    else:
        val = []
        for c in np.unique(labels):
            idx = rng.permutation(np.flatnonzero(labels == c))
            k = int(round(fraction * idx.size)) if idx.size > 1 else 0
            val.append(idx[:k])
        val = np.sort(np.concatenate(val))
    train = np.setdiff1d(np.arange(n), val)
    return train, val


def _batch_validation(labels: np.ndarray, fraction: float, rng: np.random.Generator,
                      batches: np.ndarray | None) -> np.ndarray:
    """Cells of whole batches held out for validation (random order, at least one batch,
    at most ``fraction`` of the cells beyond the first); a type found only there stays in
    training."""
    if batches is None or np.unique(batches).size < 2:
        raise MinNetInputError(
            "validation_split='batch' needs batch_key= with at least two batches (one is held "
            "out to choose the epoch); use validation_split='cells'.")
    order = rng.permutation(np.unique(batches))
    held: list = []
    for name in order[:-1]:  # at least one batch stays for training
        if held and np.isin(batches, [*held, name]).sum() > fraction * labels.shape[0]:
            break
        held.append(name)
    val = np.isin(batches, held)
    only_there = [c for c in np.unique(labels[val]) if not np.any(labels[~val] == c)]
    if only_there:
        logger.info("validation: %d cell type(s) found only in the held-out batches stay in "
                    "training", len(only_there))
        val &= ~np.isin(labels, only_there)
    logger.info("validation: batches %s (%d cells)", [str(b) for b in held], int(val.sum()))
    return np.flatnonzero(val)


def _read_checkpoint(path: str | os.PathLike) -> MinNetModel:
    if not os.path.exists(path):
        raise MinNetInputError(f"resume=True but the checkpoint {str(path)!r} does not exist; "
                               "start without resume=True to create it.")
    return MinNetModel.load(path)


def _resume_state(previous: MinNetModel, path: str | os.PathLike,
                  inputs: dict[str, InputSpec], categories: list[str],
                  settings: TrainSettings) -> list[dict]:
    """Check that ``previous`` belongs to this run; return the weights, history and best
    epoch of each of its networks (one, or an ensemble's trained so far)."""
    problems = []
    if tuple(previous.modalities) != tuple(inputs):
        problems.append(f"modalities {previous.modalities} vs {tuple(inputs)}")
    if previous.features != {m: spec.features for m, spec in inputs.items()}:
        problems.append("the selected features differ (other data?)")
    if list(previous.labels) != list(categories):
        problems.append("the cell types differ")
    config = settings.flat(stored_only=True)
    for k in resume_keys():
        if previous.config.get(k) != config.get(k):
            problems.append(f"{k}: {previous.config.get(k)!r} vs {config.get(k)!r}")
    if problems:
        raise MinNetInputError(
            f"the checkpoint {str(path)!r} is from another run: " + "; ".join(problems)
            + ". Resume with the same data and settings, or start a new run (resume=False)."
        )
    summary = previous.summary or {}
    if settings.network.n_networks == 1:
        return [_continued(previous.module, summary, path)]
    # every network the file holds continues (one cut short, or not begun, included)
    return [_continued(m, r, path) for m, r in
            zip(previous.module.members, summary["networks"], strict=True)]


def _continued(module: MinNetModule, record: dict, path: str | os.PathLike) -> dict:
    """Weights, history and best epoch of a network whose training continues."""
    if not record.get("history"):
        raise MinNetInputError(f"the checkpoint {str(path)!r} holds no training history.")
    return {"state": copy.deepcopy(module.state_dict()), "history": list(record["history"]),
            "best": _best_record(record)}


def _best_record(record: dict) -> dict:
    """The best epoch's history row of a network's record, with its ``score``."""
    best = next(dict(r) for r in record["history"] if r["epoch"] == record["best_epoch"])
    best["score"] = best.get("val_loss", best.get("train_loss"))
    return best


OnBest = Callable[[MinNetModule, list, dict, bool], None]
# one trained network of a run: the network, its history and its best epoch's record
_Run = tuple[MinNetModule, list[dict], dict]
# keeps the ensemble alignment's draw of cells apart from the networks' streams
ALIGN_SEED_STREAM = 11


def fit(
    data: PairedData,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    settings: TrainSettings,
    n_classes: int,
    dev: torch.device,
    rng: np.random.Generator,
    progress: bool = True,
    start: dict | None = None,
    on_best: OnBest | None = None,
    query: QueryCells | None = None,
    ranks: Ranks = SINGLE,
    network: int = 0,
) -> tuple[MinNetModule, list[dict], dict, bool]:
    """The training loop: epochs of freshly drawn pairs through :class:`TrainingStep`.

    ``start`` (weights, history and best epoch of an earlier run) continues that run;
    ``on_best(module, history, best, interrupted)`` is called with the best network (on the CPU)
    whenever the validation loss improves; ``query`` (query-aware mode) adds the query cells'
    label-free loss to every step. In a distributed run (``ranks``) each rank trains on its
    shard of every global mini-batch of ``batch_size · world_size`` pairs and rank 0's
    validation decides for all; ``network`` is the network's place in an ensemble (its own
    random stream on resume). Returns the best network, the history, the best epoch's record
    and whether Ctrl-C stopped the loop.
    """
    net, loss, optim = settings.network, settings.loss, settings.optim
    progress = progress and ranks.is_main
    module = MinNetModule((data.x.shape[1], data.y.shape[1]), n_classes, net.n_hidden,
                          net.n_latent, net.input_dropout, net.hidden_dropout).to(dev)
    loop = _Loop(module, start)
    if start is not None:
        # a resumed run draws its own pairs, reproducibly, from the seed and its first epoch
        rng = np.random.default_rng([settings.runtime.seed, loop.first] if network == 0 else
                                    [settings.runtime.seed, network, loop.first])
    auto = optim.resolved(data.x.shape[0], ranks.world_size)  # as train() stores them
    batch_size, epochs = auto["batch_size"], auto["epochs"]
    weight = class_weights(data.labels[train_idx], n_classes, loss.class_balance)
    step = TrainingStep(module, data, loss, optim, dev, query, weight, ranks)
    if ranks.distributed:  # same initial weights (DDP broadcasts them), own dropout draws
        torch.manual_seed(settings.runtime.seed + 7919 * ranks.rank)
    val_pairs = val_margin = None
    if val_idx.size >= 2 and ranks.is_main:
        val_pairs = sample_pairs(val_idx, np.random.default_rng(settings.runtime.seed + 1),
                                 loss.positive_fraction, loss.negatives)
        val_margin = data.margins(val_pairs, loss)
    name = "MinNet" if net.n_networks == 1 else f"MinNet {network + 1}/{net.n_networks}"
    bar = tqdm(range(loop.first, epochs + 1), desc=name, unit="epoch",
               disable=not progress, initial=loop.first - 1, total=epochs)
    try:
        for epoch in bar:
            rec = _train_epoch(step, data, train_idx, loss, batch_size, rng, epoch, ranks,
                               progress)
            average_buffers(module, ranks)
            if val_pairs is not None:
                rec.update(step.evaluate(val_pairs, val_margin))
            if val_idx.size >= 2 and ranks.distributed:  # rank 0's validation, on every rank
                got = broadcast_floats([rec.get("val_loss", 0.0), rec.get("val_accuracy", 0.0)],
                                       ranks, dev)
                rec.update(val_loss=got[0], val_accuracy=got[1])
            score = rec["val_loss"] if "val_loss" in rec else rec["train_loss"]
            _check_finite(rec["train_loss"], epoch)
            loop.record(rec, score, on_best if ranks.is_main else None)
            bar.set_postfix(loss=f"{rec['train_loss']:.3g}", val=f"{score:.3g}")
            if optim.patience is not None and loop.stale >= optim.patience:
                logger.info("early stop at epoch %d (best %d)", epoch, loop.best["epoch"])
                break
    except KeyboardInterrupt:
        if loop.best_state is None:  # nothing learnt yet: nothing to keep
            raise
        loop.interrupted = True
        logger.warning("training interrupted after %d epochs; keeping the best (epoch %d)",
                       len(loop.history), loop.best["epoch"])
    finally:
        bar.close()
    return loop.best_module(), loop.history, loop.best, loop.interrupted


# Epochs of at least this many mini-batches (large data) get a progress bar of their own.
EPOCH_BAR_MIN_BATCHES = 500


def _train_epoch(step: TrainingStep, data: PairedData, cells: np.ndarray, loss: LossSettings,
                 batch_size: int, rng: np.random.Generator, epoch: int,
                 ranks: Ranks = SINGLE, progress: bool = False) -> dict[str, float]:
    """One epoch: draw pairs of ``cells``, then one step per mini-batch.

    Every rank draws the same pairs and global mini-batches (same seed), then computes the
    margins of, and trains on, its own shard of each.
    """
    step.module.train()
    pairs = sample_pairs(cells, rng, loss.positive_fraction, loss.negatives)
    world = ranks.world_size
    batches = [ranks.shard(b) for b in
               pair_batches(len(pairs), batch_size * world, rng, min_last=2 * world)]
    margin = np.zeros(len(pairs), dtype=np.float32)
    mine = np.concatenate(batches)
    margin[mine] = data.margins(pairs.subset(mine), loss)
    sums = np.zeros(4)
    for idx in tqdm(batches, desc=f"epoch {epoch}", unit="batch", leave=False,
                    disable=not (progress and len(batches) >= EPOCH_BAR_MIN_BATCHES)):
        out = step(pairs, idx, margin)
        sums += np.array([out.total.item(), out.cross_entropy.item(), out.contrastive.item(),
                          1.0]) * len(idx)
    tot, ce_sum, lc_sum, n = sum_floats(sums.tolist(), ranks, step.device)
    return {"epoch": epoch, "train_loss": tot / n, "train_ce": ce_sum / n,
            "train_contrastive": lc_sum / n}


def _check_finite(train_loss: float, epoch: int) -> None:
    if not np.isfinite(train_loss):
        raise FloatingPointError(
            f"training diverged at epoch {epoch}: the loss is {train_loss}. "
            "Lower lr (e.g. lr=1e-4), or check the inputs for extreme values."
        )


class _Loop:
    """The loop's bookkeeping: history, best epoch and its weights, epochs without progress."""

    def __init__(self, module: MinNetModule, start: dict | None) -> None:
        self.module = module
        self.history: list[dict] = []
        self.best: dict | None = None
        self.best_state: dict | None = None
        self.stale, self.first, self.interrupted = 0, 1, False
        if start is not None:
            module.load_state_dict(start["state"])
            self.history, self.best = list(start["history"]), dict(start["best"])
            self.best_state = copy.deepcopy(module.state_dict())
            self.first = self.history[-1]["epoch"] + 1

    def best_module(self) -> MinNetModule:
        out = copy.deepcopy(self.module).cpu()
        out.load_state_dict(self.best_state)
        return out.eval()

    def record(self, rec: dict, score: float, on_best: OnBest | None) -> None:
        """Add an epoch; keep its weights when its score is the best so far."""
        self.history.append(rec)
        if self.best is None or score < self.best["score"] - 1e-6 * abs(self.best["score"]):
            self.best = {"score": score, **rec}
            self.best_state = copy.deepcopy(self.module.state_dict())
            self.stale = 0
            if on_best is not None:
                on_best(self.best_module(), self.history, self.best, False)
        else:
            self.stale += 1
