"""The user-facing trained model: embed new data, predict cell types, save and load."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from anndata import AnnData

from . import __version__
from ._utils import MinNetInputError, logger
from .ensemble import MinNetEnsemble
from .inputs import InputSpec, Scaling
from .io import TensorInfo, edited_or_damaged, read_model_file, write_model_file
from .lsi import PeakProjection
from .module import MinNetModule
from .pp._gene_activity import SETTINGS as GENE_ACTIVITY_SETTINGS
from .pp._scale import Standardizer
from .settings import GeneActivitySettings, TrainSettings
from .validation import (
    Modality,
    check_anndata,
    check_choice,
    check_modality,
    obs_column,
)

# Genes shared by the data and both training profiles needed before the modality check speaks.
_MIN_SHARED_FOR_CHECK = 20


class MinNetModel:
    """A trained MinNet: two encoders into one 32-d co-embedding.

    Create one with :func:`minnet.train` or :func:`minnet.load`.

    Attributes
    ----------
    inputs
        The fitted :class:`minnet.inputs.InputSpec` of each modality, RNA first.
    labels
        Cell-type categories of the classifier.
    settings
        The run's :class:`minnet.settings.TrainSettings` (``radius`` as resolved).
    summary
        Training summary (epochs run, best epoch, best validation loss and accuracy, history).
    modalities, features, feature_means, annotation, config
        Read-only views: the encoders' modalities in order (``("rna", "atac")`` or
        ``("rna", "adt")``), the features and training means per modality, the ATAC gene
        annotation (or None), and the flat settings dict stored in the model file.
    """

    def __init__(
        self,
        module: MinNetModule | MinNetEnsemble,
        inputs: dict[str, InputSpec],
        labels: list[str],
        settings: TrainSettings,
        summary: dict[str, Any] | None = None,
    ) -> None:
        self.module = module.cpu().eval()
        self.inputs = dict(inputs)
        self.labels = list(labels)
        self.settings = settings
        self.summary = dict(summary or {})

    @property
    def modalities(self) -> tuple[str, str]:
        """The encoders' modalities, in order."""
        return tuple(self.inputs)

    @property
    def features(self) -> dict[str, list[str]]:
        """The model's feature names per modality."""
        return {m: list(spec.features) for m, spec in self.inputs.items()}

    @property
    def feature_means(self) -> dict[str, list[float]] | None:
        """Mean normalised value of each feature in the training data, per modality."""
        if any(spec.feature_means is None for spec in self.inputs.values()):
            return None
        return {m: list(spec.feature_means) for m, spec in self.inputs.items()}

    @property
    def annotation(self) -> pd.DataFrame | None:
        """Gene annotation rows of the ATAC features (used to embed ATAC peaks), or None."""
        spec = self.inputs.get("atac")
        return None if spec is None else spec.annotation

    @property
    def config(self) -> dict[str, Any]:
        """Architecture and training settings as one flat dict (as stored in the model file)."""
        out = {**self.settings.flat(stored_only=True), "gene_activity": None, "atac_input": None}
        for spec in self.inputs.values():
            out.update(spec.config_entries())
        return out

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"MinNetModel({self.modalities[0]} + {self.modalities[1]}: "
            f"{len(self.features[self.modalities[0]])} + {len(self.features[self.modalities[1]])} "
            f"features, {len(self.labels)} cell types, hidden {self.config.get('n_hidden')}, "
            f"latent {self.config.get('n_latent')}{self._networks_text()}; best epoch {s.get('best_epoch')} of "
            f"{s.get('epochs_run')}, validation accuracy {s.get('best_val_accuracy') or float('nan'):.3f})"
        )

    def _networks_text(self) -> str:
        """``; k networks`` of an ensemble (its repr), else nothing."""
        if not isinstance(self.module, MinNetEnsemble):
            return ""
        return f"; {len(self.module.members)} networks"

    @property
    def fingerprint(self) -> str:
        """A short hash of the weights, features and cell types: what identifies this model.

        Embeddings record it (``uns["minnet"][key]["model"]``), so that tools can refuse to
        compare embeddings made by different models. Saving and loading keep it.
        """
        h = hashlib.sha256()
        for name, tensor in sorted(self.module.state_dict().items()):
            h.update(name.encode())
            h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        scaling = {m: [spec.scale_mean, spec.scale_std] for m, spec in self.inputs.items()}
        h.update(json.dumps([self.modalities, self.features, self.labels, scaling]).encode())
        return h.hexdigest()[:16]

    @property
    def history(self) -> pd.DataFrame:
        """Per-epoch training and validation losses."""
        return pd.DataFrame(self.summary.get("history", []))

    def _modality_index(self, modality: Modality) -> int:
        mod = check_modality(modality)
        if mod not in self.modalities:
            raise MinNetInputError(
                f"this model was trained on {self.modalities[0]} + {self.modalities[1]}; it cannot "
                f"embed modality {modality!r}. Use modality={self.modalities[0]!r} or "
                f"{self.modalities[1]!r}."
            )
        return self.modalities.index(mod)

    def prepare(
        self,
        adata: AnnData,
        modality: Modality,
        layer: str | None = None,
        normalized: bool = False,
        batch_key: str | None = None,
        min_overlap: float = 0.3,
        annotation: pd.DataFrame | str | None = None,
        verify_modality: bool = True,
        scaling: Scaling = "reference",
    ) -> tuple[int, Standardizer, sp.csr_matrix]:
        """Normalise and align ``adata`` for one encoder, and its scaler (see :meth:`embed`)."""
        check_anndata(adata, "adata")
        m = self._modality_index(modality)
        spec = self.inputs[self.modalities[m]]
        if annotation is not None:
            from .genomics import read_annotation

            annotation = read_annotation(annotation)
        x, names = spec.model_input(adata, layer, normalized, annotation, min_overlap)
        if verify_modality:
            self._verify_modality(spec.modality, x, names)
        _warn_empty_cells(x, spec.modality)
        scaling = _scaling_for(spec, check_choice(scaling, "scaling", ("reference", "query")))
        groups = None
        if batch_key is not None:
            groups = obs_column(adata, batch_key, "adata", "batch")
            if scaling == "reference":
                logger.info("batch_key is used with scaling='query' only; every cell is "
                            "scaled with the training statistics")
        if scaling == "query":
            _warn_small_query_groups(x.shape[0], groups)
        return m, spec.scaler(x, groups, scaling), x

    def _verify_modality(self, mod: str, x, names) -> None:
        """Refuse data whose feature profile matches the model's other modality far better.

        RNA and gene activity share gene names, so RNA passed as ``"atac"`` (or the reverse)
        would align without complaint and embed as nonsense. Mean expression across genes is
        a stable fingerprint of a modality: compare the data's with both training profiles on
        the genes the two modalities share.
        """
        if self.feature_means is None:
            return
        other = self.modalities[1 - self.modalities.index(mod)]
        own = pd.Series(self.feature_means[mod], index=self.features[mod])
        theirs = pd.Series(self.feature_means[other], index=self.features[other])
        present = pd.Index(self.features[mod]).isin(pd.Index(names))
        shared = own.index[present].intersection(theirs.index)
        if len(shared) < _MIN_SHARED_FOR_CHECK:
            return
        cols = pd.Index(self.features[mod]).get_indexer(shared)
        data_means = pd.Series(np.asarray(x[:, cols].mean(axis=0)).ravel(), index=shared)
        r_own = data_means.corr(own[shared], method="spearman")
        r_other = data_means.corr(theirs[shared], method="spearman")
        if np.isfinite(r_other) and r_other > 0.5 and r_other - np.nan_to_num(r_own) > 0.3:
            raise MinNetInputError(
                f"these data were given as modality={mod!r} but look like {other} data: across "
                f"the {len(shared)} genes both modalities share, their mean profile correlates "
                f"{r_other:.2f} with the model's {other} training data and {r_own:.2f} with its "
                f"{mod} training data. Pass modality={other!r}, or verify_modality=False if the "
                "data really are of this modality."
            )

    @torch.no_grad()
    def _forward(self, m: int, st: Standardizer, x, what: str, chunk: int = 4096):
        self.module.eval()
        zs, ps = [], []
        for start in range(0, x.shape[0], chunk):
            rows = np.arange(start, min(start + chunk, x.shape[0]))
            z, logits = self.module(torch.from_numpy(st.transform_rows(x, rows)), m)
            zs.append(z.numpy())
            ps.append(torch.softmax(logits, dim=1).numpy())
        return np.concatenate(zs).astype(np.float32), np.concatenate(ps).astype(np.float32)

    def embed(
        self,
        adata: AnnData,
        modality: Modality,
        layer: str | None = None,
        normalized: bool = False,
        batch_key: str | None = None,
        min_overlap: float = 0.3,
        annotation: pd.DataFrame | str | None = None,
        verify_modality: bool = True,
        scaling: Scaling = "reference",
    ) -> np.ndarray:
        """Co-embedding of (unpaired) cells of one modality.

        By default each cell's embedding depends on that cell alone: its normalised values are
        scaled with the statistics of the model's training cells. ``scaling="query"`` scales
        the query by its own statistics instead (each ``batch_key`` group on its own), a
        dataset-level adaptation that needs many cells of varied types.

        Parameters
        ----------
        adata
            Cells to embed (not modified). Raw counts in ``.X`` or ``layer``; ATAC may be peaks
            (gene activity is computed with the model's annotation) or gene activity. A backed
            AnnData (``read_h5ad(path, backed="r")``) is read in blocks of cells
            (:mod:`minnet.backed`; ``scaling="reference"`` only).
        modality
            ``"rna"``, ``"atac"`` or ``"adt"``; must be one of the model's modalities.
        layer
            Layer with the raw counts; ``None`` uses ``.X``.
        normalized
            Set when the data are already log-normalised (RNA, gene activity) / CLR (ADT).
        batch_key
            With ``scaling="query"``: ``obs`` column whose groups are scaled each on their own
            statistics (otherwise the whole object is one dataset).
        min_overlap
            Smallest fraction of the model's features that must be present.
        annotation
            Gene TSS table to turn ATAC peaks into gene activity; by default the one stored in
            the model at training (present when the model was trained on peaks).
        verify_modality
            Refuse data that look like the model's other modality (RNA given as gene activity
            or the reverse), judged from the mean profile over the genes both share.
        scaling
            ``"reference"`` (default): the training cells' statistics; ``"query"``: the
            query's own (warns when a group has too few cells to estimate them). Models of
            minnet 0.1.0 store no training statistics and always use ``"query"``.

        Returns
        -------
        ``n_cells × n_latent`` float32 array, rows in the order of ``adata``.
        """
        if getattr(adata, "isbacked", False):  # a file larger than memory: in blocks
            from .backed import embed_chunks

            return np.concatenate([z for _, z in embed_chunks(
                self, adata, modality, layer=layer, normalized=normalized, batch_key=batch_key,
                min_overlap=min_overlap, annotation=annotation, verify_modality=verify_modality,
                scaling=scaling)])
        m, st, x = self.prepare(adata, modality, layer, normalized, batch_key, min_overlap,
                                annotation, verify_modality, scaling)
        return self._forward(m, st, x, modality)[0]

    def class_probabilities(
        self,
        adata: AnnData,
        modality: Modality,
        layer: str | None = None,
        normalized: bool = False,
        batch_key: str | None = None,
        verify_modality: bool = True,
        scaling: Scaling = "reference",
    ) -> np.ndarray:
        """The classifier's probabilities, cells × ``self.labels`` (rows sum to 1)."""
        m, st, x = self.prepare(adata, modality, layer, normalized, batch_key,
                                verify_modality=verify_modality, scaling=scaling)
        return self._forward(m, st, x, modality)[1]

    def predict_labels(
        self,
        adata: AnnData,
        modality: Modality,
        layer: str | None = None,
        normalized: bool = False,
        batch_key: str | None = None,
        verify_modality: bool = True,
        scaling: Scaling = "reference",
    ) -> pd.DataFrame:
        """Cell types from the network's own classifier: columns ``label`` and ``probability``."""
        prob = self.class_probabilities(adata, modality, layer, normalized, batch_key,
                                        verify_modality, scaling)
        best = prob.argmax(axis=1)
        return pd.DataFrame(
            {"label": pd.Categorical(np.asarray(self.labels)[best], categories=self.labels),
             "probability": prob[np.arange(len(best)), best]},
            index=adata.obs_names.copy(),
        )

    # --- persistence -----------------------------------------------------------------------
    def _metadata(self) -> dict[str, Any]:
        """The model file's JSON metadata (everything but the weights); :meth:`load` checks
        each field against the others and against the weights."""
        proj = self._projection()
        ann = None
        if self.annotation is not None:
            ann = {c: self.annotation[c].tolist() for c in self.annotation.columns}
        return {
            "package_version": __version__,
            "modalities": list(self.modalities),
            "features": self.features,
            "labels": self.labels,
            "config": self.config,
            "summary": self.summary,
            "annotation": ann,
            "feature_means": self.feature_means,
            # the training cells' scaling statistics (absent from files of minnet 0.1.0)
            "scale_mean": _spec_lists(self.inputs, "scale_mean"),
            "scale_std": _spec_lists(self.inputs, "scale_std"),
            # peaks and idf of an LSI peak input (its components are a tensor of the file)
            "peak_projection": None if proj is None else {
                "peaks": proj.peaks, "idf": [float(v) for v in proj.idf],
                "unit_norm": proj.unit_norm},
        }

    def _projection(self) -> PeakProjection | None:
        """The LSI projection of the ATAC input, when the model reads peaks that way."""
        spec = self.inputs.get("atac")
        return None if spec is None else spec.peak_projection

    def save(self, path: str | os.PathLike) -> None:
        """Save to one file (safetensors + JSON metadata), atomically: temp file + rename.

        The file gets the permissions of any new file of the user (``0o666`` less the umask).
        """
        tensors, proj = dict(self.module.state_dict()), self._projection()
        if proj is not None:
            tensors[PROJECTION_TENSOR] = torch.from_numpy(proj.components)
        write_model_file(path, tensors, self._metadata())

    @classmethod
    def load(cls, path: str | os.PathLike) -> MinNetModel:
        """Load a model saved with :meth:`save`; never executes code from the file.

        Nothing in the file is trusted: the metadata is checked against itself, the tensors'
        declared shapes against the metadata before any tensor is read (the network's size
        comes from the shapes, so a number in the metadata never decides an allocation), and
        the weights are checked to be finite.

        Raises
        ------
        FileNotFoundError
            If the file does not exist.
        ModelFileError
            If the path is a folder or not a regular file, or the file is not a readable MinNet
            model file, or was edited or damaged (the message names the field or tensor).
        """
        parts: dict[str, Any] = {}

        def check(meta: dict[str, Any], declared: dict[str, TensorInfo]) -> None:
            with edited_or_damaged(path):
                parts.update(_model_parts(meta, declared))

        tensors, meta = read_model_file(path, check)
        with edited_or_damaged(path):
            components = tensors.pop(PROJECTION_TENSOR, None)
            if components is not None:
                stored = meta["peak_projection"]
                parts["inputs"]["atac"].peak_projection = PeakProjection(
                    list(stored["peaks"]), np.asarray(stored["idf"], dtype=np.float32),
                    components.numpy(), unit_norm=stored.get("unit_norm", False))
            module = _module_from(tensors, parts["sizes"])
        return cls(module, parts["inputs"], parts["labels"], parts["settings"], parts["summary"])

# The model file's tensor of an LSI peak input's components (beside the network's weights).
PROJECTION_TENSOR = "peak_projection.components"

# A query group smaller than this cannot estimate each feature's spread for scaling="query".
MIN_QUERY_CELLS = 50


def _scaling_for(spec: InputSpec, scaling: Scaling) -> Scaling:
    """``scaling``, or ``"query"`` for models of minnet 0.1.0 (no training statistics)."""
    if scaling == "reference" and spec.scale_mean is None:
        logger.warning(
            "this model (minnet 0.1.0) stores no training statistics: each query is scaled by "
            "its own, so a cell's embedding depends on the other cells embedded with it. "
            "Retrain the model with this minnet to embed cells independently.")
        return "query"
    return scaling


def _warn_empty_cells(x: sp.csr_matrix, modality: str) -> None:
    """Cells without any count in the model's features all land on one point."""
    empty = int(np.count_nonzero(np.diff(x.indptr) == 0))
    if empty:
        logger.warning(
            "%d of %d cells have no counts in the model's %s features: they all get the same "
            "embedding, which carries no information, and any label transferred to them is a "
            "guess. Filter out cells with (almost) no counts before embedding.",
            empty, x.shape[0], modality)


def _warn_small_query_groups(n_cells: int, groups: np.ndarray | None) -> None:
    sizes = (pd.Series(groups).value_counts() if groups is not None
             else pd.Series({"the query": n_cells}))
    small = sizes[sizes < MIN_QUERY_CELLS]
    if len(small):
        logger.warning(
            "scaling='query' estimates each feature's mean and spread from the cells embedded "
            "together, but %s has only %d cell(s) (fewer than %d): their embedding depends on "
            "which cells are in the query. Use scaling='reference' (the default).",
            small.index[0] if groups is not None else "the query", int(small.iloc[0]),
            MIN_QUERY_CELLS)


# Settings introduced after minnet 0.1.0, with the value that files without them were trained
# with (a model's config then tells the truth about how it was trained).
SETTINGS_BEFORE_THEY_EXISTED = {"input_dropout": 0.0, "hidden_dropout": 0.0, "class_balance": 0.0,
                                "n_networks": 1}


def _settings_from_config(config: dict[str, Any]) -> TrainSettings:
    """The run's settings from a model file's flat ``config`` (missing ones: defaults).

    Only the settings a model file stores are read (never e.g. ``device`` or ``n_threads``);
    the settings' own checks refuse non-numeric or non-finite values (``ValueError``).
    """
    stored = TrainSettings().flat(stored_only=True)
    for key in ("label_key", "batch_key"):  # names of obs columns: no dataclass check
        value = config.get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"config[{key!r}] is {value!r}, not a column name")
    # settings added after a file's version had these values in that version
    older = {k: v for k, v in SETTINGS_BEFORE_THEY_EXISTED.items() if k not in config}
    try:
        return TrainSettings.from_kwargs(
            **older, **{k: v for k, v in config.items() if k in stored})
    except MinNetInputError as err:
        raise ValueError(f"config: {err}") from None


def _spec_lists(inputs: dict[str, InputSpec], attr: str) -> dict[str, list[float]] | None:
    """One per-feature list of every spec (e.g. its scaling means), or None if any lacks it."""
    values = {m: getattr(spec, attr, None) for m, spec in inputs.items()}
    if any(v is None for v in values.values()):
        return None
    return {m: [float(x) for x in v] for m, v in values.items()}


def _model_parts(meta: dict[str, Any], declared: dict[str, TensorInfo]) -> dict[str, Any]:
    """Everything of a model but its weights, from metadata checked by ``check_metadata``.

    Runs before any tensor is read: the tensors' declared shapes must be those the metadata
    implies. Raises ``ValueError`` (or ``TypeError``) naming the contradiction.
    """
    modalities = tuple(meta["modalities"])
    features, labels, config = meta["features"], meta["labels"], meta["config"]
    settings = _settings_from_config(config)
    _check_projection(meta, declared)
    network = {k: v for k, v in declared.items() if k != PROJECTION_TENSOR}
    sizes = _network_sizes(network, tuple(len(features[m]) for m in modalities), len(labels),
                           settings, _members_declared(network, settings, meta.get("summary")))
    return {"sizes": sizes, "inputs": _input_specs(meta, modalities), "labels": list(labels),
            "settings": settings, "summary": meta.get("summary") or {}}


def _check_projection(meta: dict[str, Any], declared: dict[str, TensorInfo]) -> None:
    """An LSI peak input: metadata, config and the components tensor agree."""
    stored, lsi = meta.get("peak_projection"), meta["config"].get("atac_input") == "peak_lsi"
    if (stored is not None) != lsi or (PROJECTION_TENSOR in declared) != lsi:
        raise ValueError("config['atac_input'], 'peak_projection' and the tensor "
                         f"{PROJECTION_TENSOR!r} must be present together")
    if not lsi:
        return
    want = (len(meta["features"]["atac"]), len(stored["peaks"]))
    got = declared[PROJECTION_TENSOR]
    if tuple(got.shape) != want or got.dtype != torch.float32:
        raise ValueError(f"tensor {PROJECTION_TENSOR!r} is {_dtype_name(got.dtype)} of shape "
                         f"{list(got.shape)}, not float32 of shape {list(want)} (ATAC features "
                         "× peaks)")


def _members_declared(declared: dict[str, TensorInfo], settings: TrainSettings,
                      summary: Any) -> int | None:
    """How many networks of an ensemble the file holds (None: one plain network).

    Counted from the tensors' names; an ensemble's checkpoint may hold fewer than
    ``n_networks`` (training went on), and its summary records each of them.
    """
    if settings.network.n_networks == 1:
        return None
    members = {name.split(".")[1] for name in declared if name.startswith("members.")}
    k = len(members)
    if members != {str(i) for i in range(k)} or not 1 <= k <= settings.network.n_networks:
        raise ValueError(f"config n_networks is {settings.network.n_networks} but the tensors "
                         f"hold networks {sorted(members)[:5]}")
    records = (summary or {}).get("networks") or []  # types checked with the summary
    finished = (summary or {}).get("networks_finished")
    if len(records) != k or finished is None or not k - 1 <= finished <= k:
        raise ValueError(f"summary['networks'] and ['networks_finished'] do not describe the "
                         f"file's {k} network(s)")
    return k


def _network_sizes(declared: dict[str, TensorInfo], n_features: tuple[int, int],
                   n_classes: int, settings: TrainSettings, members: int | None) -> tuple:
    """``MinNetModule``'s arguments and the number of ``members`` of an ensemble (None: one
    plain network), checked against every declared tensor.

    Hidden width and latent dimension come from the tensors' shapes (whose bytes safetensors
    has checked are in the file), never from the metadata's numbers; the expected tensors
    come from a network built on the ``meta`` device, which allocates nothing.
    """
    prefix = "" if members is None else "members.0."
    for name in (f"{prefix}encoders.0.0.weight", f"{prefix}head.weight"):
        if name not in declared or len(declared[name].shape) != 2:
            raise ValueError(f"tensor {name!r} is missing or not a matrix")
    n_hidden = declared[f"{prefix}encoders.0.0.weight"].shape[0]
    n_latent = declared[f"{prefix}head.weight"].shape[0]
    for key, value in (("n_hidden", n_hidden), ("n_latent", n_latent)):
        if getattr(settings.network, key) != value:
            raise ValueError(f"config {key} is {getattr(settings.network, key)} but the weights "
                             f"have {value}")
    sizes = (n_features, n_classes, n_hidden, n_latent)
    with torch.device("meta"):
        expected = _network(sizes, members).state_dict()
    extra, missing = sorted(set(declared) - set(expected)), sorted(set(expected) - set(declared))
    if extra or missing:
        found = ([f"unexpected tensors {extra[:5]}"] if extra else []) + (
            [f"missing tensors {missing[:5]}"] if missing else [])
        raise ValueError(f"the file's tensors are not a MinNet network's: {'; '.join(found)}")
    for name, want in expected.items():
        got = declared[name]
        if tuple(got.shape) != tuple(want.shape) or got.dtype != want.dtype:
            raise ValueError(
                f"tensor {name!r} is {_dtype_name(got.dtype)} of shape {list(got.shape)} but "
                f"{n_features[0]} + {n_features[1]} features, {n_classes} cell types, hidden "
                f"width {n_hidden} and latent {n_latent} need {_dtype_name(want.dtype)} of "
                f"shape {list(want.shape)}")
    return sizes, members


def _network(sizes: tuple, members: int | None) -> MinNetModule | MinNetEnsemble:
    """An untrained network of these sizes, or an ensemble of ``members`` of them."""
    if members is None:
        return MinNetModule(*sizes)
    return MinNetEnsemble([MinNetModule(*sizes) for _ in range(members)])


def _dtype_name(dtype: torch.dtype | str) -> str:
    return str(dtype).removeprefix("torch.")


def _module_from(tensors: dict[str, torch.Tensor],
                 sizes: tuple[tuple, int | None]) -> MinNetModule | MinNetEnsemble:
    """The network (or ensemble) of the checked ``sizes`` holding the file's (finite)
    weights."""
    for name, tensor in tensors.items():
        # BatchNorm divides by sqrt(running_var + eps): a negative variance gives NaN outputs
        if name.endswith("running_var") and bool((tensor < 0).any()):
            raise ValueError(f"tensor {name!r} holds negative variances")
    module = _network(*sizes)
    module.load_state_dict(tensors, strict=True)
    return module


def _input_specs(meta: dict[str, Any], modalities: tuple[str, ...]) -> dict[str, InputSpec]:
    """The stored input spec of each modality (files of 0.1.0 included)."""
    config = meta["config"]
    if config.get("atac_input") not in (None, "peaks", "peak_lsi"):
        raise ValueError(f"config['atac_input'] is {config.get('atac_input')!r}, not 'peaks', "
                         "'peak_lsi' or null")
    _check_gene_activity(config.get("gene_activity"))
    from_peaks = "atac" in modalities and config.get("atac_input") == "peaks"
    annotation = _stored_annotation(meta.get("annotation"), meta["features"].get("atac"),
                                    from_peaks)
    means, scale_mean, scale_std = (meta.get(k) for k in ("feature_means", "scale_mean",
                                                           "scale_std"))
    return {m: InputSpec.from_model_metadata(
        m, meta["features"][m], None if means is None else means[m], config, annotation,
        None if scale_mean is None else (scale_mean[m], scale_std[m]))
        for m in modalities}


def _check_gene_activity(ga: Any) -> None:
    """The stored gene-activity settings: known keys, values the settings accept."""
    if ga is None:
        return
    if not isinstance(ga, dict) or not set(ga) <= set(GENE_ACTIVITY_SETTINGS):
        keys = sorted(ga) if isinstance(ga, dict) else type(ga).__name__
        raise ValueError(f"config['gene_activity'] has unknown settings {keys}; known: "
                         f"{list(GENE_ACTIVITY_SETTINGS)}")
    GeneActivitySettings(**ga)  # bounded windows, positive decay (a MinNetInputError)


def _stored_annotation(columns: dict[str, list] | None, atac_features: list[str] | None,
                       from_peaks: bool) -> pd.DataFrame | None:
    """The model's gene annotation, read as any annotation is (``genomics.read_annotation``).

    A model that turns peaks into gene activity needs every one of its ATAC genes in it;
    checked here so that a damaged annotation is blamed on the file, not on the user's data.
    """
    if not columns:
        if from_peaks:
            raise ValueError("the model computes gene activity from peaks but stores no gene "
                             "annotation")
        return None
    from .genomics import read_annotation

    try:
        annotation = read_annotation(pd.DataFrame(columns))
    except MinNetInputError as err:  # its hints are for a user's table, not a stored one
        raise ValueError(f"its gene annotation cannot be read ({err})") from None
    if from_peaks:
        absent = sorted(set(atac_features or ()) - set(annotation["gene_name"]))
        if absent:
            raise ValueError(f"{len(absent)} of the model's ATAC genes are not in its gene "
                             f"annotation, e.g. {absent[:5]}")
    return annotation


def load(path: str | os.PathLike) -> MinNetModel:
    """Load a model file written by :meth:`MinNetModel.save`."""
    return MinNetModel.load(path)
