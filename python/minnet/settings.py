"""Every training setting and its default, once: frozen dataclasses grouped by concern.

``minnet.train`` takes these as scanpy-style keyword arguments, the CLI and the R wrapper take
their defaults from here (a test compares them), and the model file stores them as the flat
``config`` dict (each field name is unique across the groups). Whether a setting must match
when a run is resumed is a property of its field (``resume=True`` in the field's metadata).

Defaults were chosen by measurement (``benchmarks/sweep.py``); the paper's are in DESIGN.md §2.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ._utils import MinNetInputError
from .validation import (
    BATCH_CORRECTIONS,
    BatchCorrection,
    Negatives,
    check_choice,
    check_int,
    check_negatives,
    check_number,
    check_seed,
)

# the largest gene-activity window (upstream or distance), in bp
MAX_WINDOW_BP = 10_000_000

# how ATAC peaks become model input: "auto" is gene activity with an annotation, else LSI
PeakInput = Literal["auto", "lsi", "gene_activity"]
PEAK_INPUTS: tuple[str, ...] = ("auto", "lsi", "gene_activity")

# dropout of the LSI peak route (chosen on the real development set; see NetworkSettings)
LSI_DROPOUT = {"input_dropout": 0.3, "hidden_dropout": 0.2}

# seed ensembles (minnet.ensemble): networks trained up to ENSEMBLE_MAX_CELLS training cells
# ("auto"), one network above, where training time matters more (chosen on the real
# development set; see NetworkSettings)
AUTO_NETWORKS = 5
ENSEMBLE_MAX_CELLS = 100_000

# Mini-batches ("auto") grow with the training cells, doubling from BASE_BATCH_SIZE pairs at
# every doubling of the cells beyond BATCH_GROWTH_CELLS, up to MAX_AUTO_BATCH_SIZE; the learning
# rate ("auto") grows with the square root of the global mini-batch (Adam), so large data take
# fewer, larger steps per epoch and small data train as before (see OptimSettings)
BASE_BATCH_SIZE = 64
BASE_LR = 1e-3
BATCH_GROWTH_CELLS = 25_000
MAX_AUTO_BATCH_SIZE = 1024
# Epochs ("auto"): MAX_AUTO_EPOCHS up to EPOCH_BUDGET_PAIRS / MAX_AUTO_EPOCHS training cells,
# then as many as EPOCH_BUDGET_PAIRS pairs allow, at least MIN_AUTO_EPOCHS: an epoch of many
# cells is many steps, and the simulator's held-out FOSCTTM levels off within a few of them
MAX_AUTO_EPOCHS = 60
MIN_AUTO_EPOCHS = 5
EPOCH_BUDGET_PAIRS = 1_500_000

# which cells choose the best epoch: whole batches or cells stratified by type
ValidationSplit = Literal["auto", "batch", "cells"]
VALIDATION_SPLITS: tuple[str, ...] = ("auto", "batch", "cells")


def _setting(default: Any, resume: bool = False, stored: bool = True) -> Any:
    """A dataclass field; ``resume``: must match on resume; ``stored``: kept in the model file."""
    return field(default=default, metadata={"resume": resume, "stored": stored})


@dataclass(frozen=True)
class GeneActivitySettings:
    """How ATAC peaks become gene activity (see :func:`minnet.pp.gene_activity`).

    Peaks up to ``distance`` from the gene body (+ ``upstream`` promoter) count with weight
    ``exp(-gap / decay)``: ArchR's gene-score idea, chosen by ``benchmarks/sweep.py``.
    """

    upstream: int = 2000
    gene_body: bool = True
    distance: int = 100_000
    decay: float = 5000

    def __post_init__(self) -> None:
        # a window beyond MAX_WINDOW_BP would pair every peak with every gene of a chromosome
        check_int(self.upstream, "upstream", 0, allow_float=True)
        check_int(self.distance, "distance", 0, allow_float=True)
        for name in ("upstream", "distance"):
            if getattr(self, name) > MAX_WINDOW_BP:
                raise MinNetInputError(
                    f"gene activity {name}={getattr(self, name)} bp is beyond the "
                    f"{MAX_WINDOW_BP:,} bp MinNet allows; use a window of at most 10 Mb.")
        check_number(self.decay, "decay", 0.0, low_open=True)
        if not isinstance(self.gene_body, bool):
            raise MinNetInputError(f"gene_body must be True or False, got {self.gene_body!r}.")

    @classmethod
    def from_kwds(cls, kwds: dict | None) -> GeneActivitySettings:
        """The defaults updated with ``kwds``; unknown keys are an error naming the allowed."""
        if kwds is None:
            return cls()
        if not isinstance(kwds, dict):
            raise MinNetInputError(
                f"gene_activity_kwds must be a dict, got {type(kwds).__name__}."
            )
        allowed = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(kwds) - set(allowed))
        if unknown:
            raise MinNetInputError(
                f"gene_activity_kwds has unknown keys {unknown}; allowed: {sorted(allowed)}."
            )
        return cls(**kwds)

    def as_dict(self) -> dict[str, Any]:
        """The settings as ``pp.gene_activity`` keyword arguments."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class NetworkSettings:
    """The network's shape: hidden width ``h``, co-embedding dimension ``d``, dropout, and
    how many networks (seeds) are trained and averaged.

    Dropout on the encoders' input and hidden output: ``"auto"`` resolves to
    :data:`LSI_DROPOUT` when the ATAC input is the peaks' LSI projection and to 0 otherwise.
    Chosen by leave-libraries-out cross-validation on the real development set
    (``benchmarks/dev_cv.py``) for the LSI route; on the simulator and the starters the
    gene-activity and protein routes are best without it (``benchmarks/heldout.py``).
    ``n_networks`` networks are trained one after another from different seeds and averaged
    after alignment (:mod:`minnet.ensemble`); ``"auto"`` is :data:`AUTO_NETWORKS` up to
    :data:`ENSEMBLE_MAX_CELLS` training cells and 1 above (training takes ``n_networks``
    times as long). The model stores the values it resolved to.
    """

    n_hidden: int = _setting(256, resume=True)
    n_latent: int = _setting(32, resume=True)
    input_dropout: float | Literal["auto"] = _setting("auto")
    hidden_dropout: float | Literal["auto"] = _setting("auto")
    n_networks: int | Literal["auto"] = _setting("auto", resume=True)

    def __post_init__(self) -> None:
        check_int(self.n_hidden, "n_hidden", 1)
        check_int(self.n_latent, "n_latent", 1)
        for name in ("input_dropout", "hidden_dropout"):
            value = getattr(self, name)
            if not (isinstance(value, str) and value == "auto"):
                check_number(value, name, 0.0, 1.0, high_open=True)
        if not (isinstance(self.n_networks, str) and self.n_networks == "auto"):
            check_int(self.n_networks, "n_networks", 1)

    def resolved(self, lsi_input: bool) -> dict[str, float]:
        """The dropout rates ``"auto"`` stands for, given the ATAC route."""
        auto = LSI_DROPOUT if lsi_input else {"input_dropout": 0.0, "hidden_dropout": 0.0}
        return {k: auto[k] if getattr(self, k) == "auto" else float(getattr(self, k))
                for k in ("input_dropout", "hidden_dropout")}

    def networks_for(self, n_cells: int) -> int:
        """The number of networks ``"auto"`` stands for with ``n_cells`` training cells."""
        if self.n_networks != "auto":
            return int(self.n_networks)
        return AUTO_NETWORKS if n_cells <= ENSEMBLE_MAX_CELLS else 1


@dataclass(frozen=True)
class InputSettings:
    """Which obs columns hold labels and batches, and how features are chosen and scaled.

    ATAC peaks enter as gene activity (``peak_input="gene_activity"``, needs an annotation)
    or as ``n_lsi_components`` TF-IDF/LSI dimensions (``"lsi"``); ``"auto"`` takes gene
    activity when an annotation is given and LSI otherwise.
    """

    label_key: str = _setting("cell_type", resume=True)
    batch_key: str | None = _setting(None, resume=True)
    n_top_features: int = _setting(2000, resume=True)
    max_value: float = _setting(10.0, resume=True)
    peak_input: PeakInput = _setting("auto", resume=True)
    n_lsi_components: int = _setting(300, resume=True)

    def __post_init__(self) -> None:
        check_int(self.n_top_features, "n_top_features", 1)
        check_number(self.max_value, "max_value", 0.0, low_open=True)
        check_choice(self.peak_input, "peak_input", PEAK_INPUTS)
        check_int(self.n_lsi_components, "n_lsi_components", 2)


@dataclass(frozen=True)
class GraphSettings:
    """The batch-corrected RNA KNN graph whose shortest paths set the margins."""

    n_neighbors: int = _setting(15, resume=True)
    n_pcs: int = _setting(50, resume=True)
    batch_correction: BatchCorrection = _setting("combat", resume=True)
    # "auto": see minnet.margins.GraphDistances; the model stores the radius it resolved to
    radius: float | Literal["auto"] = _setting("auto")

    def __post_init__(self) -> None:
        check_int(self.n_neighbors, "n_neighbors", 2)
        check_int(self.n_pcs, "n_pcs", 2)
        check_choice(self.batch_correction, "batch_correction", BATCH_CORRECTIONS)
        if not (isinstance(self.radius, str) and self.radius == "auto"):
            # an infinite radius would give cells in different components infinite margins
            check_number(self.radius, "radius", 0.0, low_open=True)


@dataclass(frozen=True)
class LossSettings:
    """The contrastive loss: margins ``m0 · (graph distance + C · [types differ])``, pairs."""

    margin: float = _setting(2.0, resume=True)
    contrastive_weight: float = _setting(1.0, resume=True)
    celltype_margin: float = _setting(3.0, resume=True)
    negatives: Negatives = _setting("both", resume=True)
    positive_fraction: float = _setting(0.25, resume=True)
    # query-aware mode only (train(query=...)): weight of the query cells' label-free loss
    query_weight: float = _setting(1.0)
    # cross-entropy weights ∝ (1 / cells of the type) ** class_balance: 0 plain, 1 balanced
    class_balance: float = _setting(0.5, resume=True)

    def __post_init__(self) -> None:
        check_number(self.class_balance, "class_balance", 0.0, 1.0)
        check_number(self.margin, "margin", 0.0)
        check_number(self.query_weight, "query_weight", 0.0)
        check_number(self.contrastive_weight, "contrastive_weight", 0.0)
        check_number(self.celltype_margin, "celltype_margin", 0.0)
        check_number(self.positive_fraction, "positive_fraction", 0.0, 1.0, True, True)
        check_negatives(self.negatives)


@dataclass(frozen=True)
class OptimSettings:
    """Adam, mini-batches, epochs and early stopping on a validation split.

    ``batch_size="auto"`` is :data:`BASE_BATCH_SIZE` pairs up to twice
    :data:`BATCH_GROWTH_CELLS` training cells and doubles with every doubling of the cells
    beyond, up to :data:`MAX_AUTO_BATCH_SIZE` (the global mini-batch, shared by the ranks of a
    distributed run); ``lr="auto"`` is :data:`BASE_LR` times the square root of the global
    mini-batch over :data:`BASE_BATCH_SIZE` (at least :data:`BASE_LR`); ``epochs="auto"`` is
    :data:`MAX_AUTO_EPOCHS` up to 25,000 training cells, then :data:`EPOCH_BUDGET_PAIRS`
    divided by the cells, at least :data:`MIN_AUTO_EPOCHS` (early stopping may end sooner).
    The model stores the values they resolved to.
    """

    lr: float | Literal["auto"] = _setting("auto")
    weight_decay: float = _setting(1e-6)
    epochs: int | Literal["auto"] = _setting("auto")
    batch_size: int | Literal["auto"] = _setting("auto")
    validation_fraction: float = _setting(0.2, resume=True)
    # "batch": whole batches (libraries), so the epoch is chosen on unseen libraries; it was
    # within the folds' spread of "cells" on the real development set, so "cells" stays
    validation_split: ValidationSplit = _setting("cells", resume=True)
    patience: int | None = _setting(10)

    def __post_init__(self) -> None:
        if not _is_auto(self.epochs):
            check_int(self.epochs, "epochs", 1)
        if not _is_auto(self.batch_size):
            check_int(self.batch_size, "batch_size", 1)
        if not _is_auto(self.lr):
            check_number(self.lr, "lr", 0.0, low_open=True)
        check_number(self.weight_decay, "weight_decay", 0.0)
        check_number(self.validation_fraction, "validation_fraction", 0.0, 1.0, high_open=True)
        check_choice(self.validation_split, "validation_split", VALIDATION_SPLITS)
        if self.patience is not None:
            check_int(self.patience, "patience", 1)

    def resolved(self, n_cells: int, world_size: int = 1) -> dict[str, float | int]:
        """The per-rank ``batch_size``, the ``lr`` and the ``epochs`` that ``"auto"`` stands
        for with ``n_cells`` training cells over ``world_size`` ranks."""
        if _is_auto(self.batch_size):
            steps = max(0, int(np.floor(np.log2(max(n_cells, 1) / BATCH_GROWTH_CELLS))))
            total = min(BASE_BATCH_SIZE * 2**steps, MAX_AUTO_BATCH_SIZE)
            per_rank = max(1, -(-total // world_size))
        else:
            per_rank = int(self.batch_size)
        lr = (BASE_LR * max(1.0, np.sqrt(per_rank * world_size / BASE_BATCH_SIZE))
              if _is_auto(self.lr) else float(self.lr))
        epochs = (min(MAX_AUTO_EPOCHS, max(MIN_AUTO_EPOCHS, -(-EPOCH_BUDGET_PAIRS
                                                               // max(n_cells, 1))))
                  if _is_auto(self.epochs) else int(self.epochs))
        return {"batch_size": per_rank, "lr": float(lr), "epochs": epochs}


def _is_auto(value: Any) -> bool:
    return isinstance(value, str) and value == "auto"


@dataclass(frozen=True)
class RuntimeSettings:
    """Where and how training runs; only the seed is stored (it must match on resume)."""

    seed: int = _setting(0, resume=True)
    device: str = _setting("auto", stored=False)
    n_threads: int | None = _setting(1, stored=False)
    progress: bool = _setting(True, stored=False)

    def __post_init__(self) -> None:
        check_seed(self.seed)


_GROUPS = {"network": NetworkSettings, "inputs": InputSettings, "graph": GraphSettings,
           "loss": LossSettings, "optim": OptimSettings, "runtime": RuntimeSettings}


@dataclass(frozen=True)
class TrainSettings:
    """All settings of a training run, one group per concern."""

    network: NetworkSettings = field(default_factory=NetworkSettings)
    inputs: InputSettings = field(default_factory=InputSettings)
    graph: GraphSettings = field(default_factory=GraphSettings)
    loss: LossSettings = field(default_factory=LossSettings)
    optim: OptimSettings = field(default_factory=OptimSettings)
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> TrainSettings:
        """Build from flat keyword arguments (``n_hidden=…, lr=…``); unknown names refused."""
        groups: dict[str, dict[str, Any]] = {g: {} for g in _GROUPS}
        owner = setting_groups()
        for name, value in kwargs.items():
            if name not in owner:
                raise MinNetInputError(f"unknown training setting {name!r}.")
            groups[owner[name]][name] = value
        return cls(**{g: klass(**groups[g]) for g, klass in _GROUPS.items()})

    def flat(self, stored_only: bool = False) -> dict[str, Any]:
        """All fields as one flat dict (``stored_only``: those the model file keeps)."""
        out: dict[str, Any] = {}
        for g in _GROUPS:
            group = getattr(self, g)
            for f in dataclasses.fields(group):
                if not stored_only or f.metadata.get("stored", True):
                    out[f.name] = getattr(group, f.name)
        return out

    def replace(self, **kwargs: Any) -> TrainSettings:
        """A copy with some flat fields changed (e.g. the resolved ``radius``)."""
        return TrainSettings.from_kwargs(**{**self.flat(), **kwargs})


def setting_groups() -> dict[str, str]:
    """Each flat setting name → the name of its group."""
    return {f.name: g for g, klass in _GROUPS.items() for f in dataclasses.fields(klass)}


def resume_keys() -> tuple[str, ...]:
    """Names of the settings that must match between a run and its resumption."""
    return tuple(f.name for klass in _GROUPS.values() for f in dataclasses.fields(klass)
                 if f.metadata.get("resume"))


def defaults() -> dict[str, Any]:
    """Every training setting's default, flat, plus ``gene_activity`` (a dict)."""
    return {**TrainSettings().flat(), "gene_activity": GeneActivitySettings().as_dict()}
