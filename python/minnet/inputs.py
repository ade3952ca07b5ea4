"""The input spec: how a cell of one modality becomes the network's input.

An :class:`InputSpec` is fitted on the paired training data (normalisation, peaks → gene
activity, feature selection), stored in the model file and applied to any data of its modality
at embedding (the same normalisation and gene activity, feature alignment with the
missing-feature report, per-dataset scaling). ``minnet.train`` and ``MinNetModel.embed`` both go
through it, so a new kind of input (e.g. peaks read directly) is one more branch of
:meth:`InputSpec.normalized` and :meth:`InputSpec.fit`, not an edit of two code paths.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData
from tqdm.auto import tqdm

from ._utils import (
    MinNetInputError,
    get_matrix,
    logger,
    once_per_message,
    rows_in_memory,
    stack_rows,
    to_csr_float32,
)
from .genomics import map_peaks, mapped_counts
from .lsi import PeakProjection
from .pp._features import align_features, select_features
from .pp._normalize import PEAK_TOTALS, log_normalize_owned, normalized_matrix
from .pp._scale import Standardizer, column_means
from .settings import GeneActivitySettings, PeakInput
from .validation import Modality, check_counts

# how model input is scaled at embedding (see InputSpec.scaler)
Scaling = Literal["reference", "query"]

# Up to this fraction of the model's genes may lack query peaks before a build mismatch is
# suspected (a query of fewer, shallower cells misses some genes' peaks).
PEAK_COVERAGE_SLACK = 0.1

# Features (and the LSI projection) are fitted on at most this many cells, then the input is
# computed for all, a block of INPUT_BLOCK_CELLS at a time: so the memory of fitting does not
# grow with the cells (distance-weighted gene activity is ~70 % dense, a variable-feature
# search copies its matrix), and a backed (on-disk) AnnData is never read whole.
FEATURE_SELECTION_CELLS = 20_000
INPUT_BLOCK_CELLS = 20_000


@dataclass
class InputSpec:
    """How data of one modality become model input; fitted at training, stored in the model.

    Attributes
    ----------
    modality
        ``"rna"``, ``"atac"`` (gene activity, or peaks turned into it) or ``"adt"``.
    features
        The model's features, in the encoder's input order.
    feature_means
        Mean normalised value of each feature in the training data (notices data given with
        the wrong modality), or None.
    max_value
        Scaled values are clipped to ``±max_value``.
    gene_activity
        For ATAC: how peaks become gene activity (None for other modalities).
    annotation
        For ATAC trained with an annotation: its rows for the model's genes, so query peaks can
        be summarised the same way; else None.
    from_peaks
        True when training computed gene activity from peaks itself.
    scale_mean, scale_std
        Each feature's mean and standard deviation over the training cells: the reference
        scaling, which makes a cell's input independent of the other cells it is embedded
        with (None in models of minnet 0.1.0, which can only scale each query by its own).
    peak_projection
        For ATAC trained on peaks without gene activity: their TF-IDF projection (the
        features are then its dimensions); else None.
    """

    modality: Modality
    features: list[str]
    feature_means: list[float] | None = None
    max_value: float = 10.0
    gene_activity: GeneActivitySettings | None = None
    annotation: pd.DataFrame | None = None
    from_peaks: bool = False
    scale_mean: list[float] | None = None
    scale_std: list[float] | None = None
    peak_projection: PeakProjection | None = None

    # --- fitting on the paired training data ----------------------------------------------
    @classmethod
    def fit(
        cls,
        adata: AnnData,
        modality: Modality,
        *,
        layer: str | None = None,
        normalized: bool = False,
        annotation: pd.DataFrame | None = None,
        gene_activity: GeneActivitySettings | None = None,
        n_top_features: int = 2000,
        batches: np.ndarray | None = None,
        extra_features: Sequence[str] | None = None,
        max_value: float = 10.0,
        seed: int = 0,
        peak_input: PeakInput = "auto",
        n_lsi_components: int = 300,
        progress: bool = False,
        unpaired: AnnData | None = None,
    ) -> tuple[InputSpec, sp.csr_matrix]:
        """Fit the spec on training data; returns it and the training cells' model input.

        The input is the normalised matrix restricted to the chosen features (not yet scaled:
        see :meth:`scaler`). RNA and ATAC keep the ``n_top_features`` most variable features
        (per batch) plus ``extra_features``; ADT keeps every protein (or ``extra_features``).
        ATAC peaks become gene activity (with ``annotation``) or, with ``peak_input="lsi"`` or
        no annotation, ``n_lsi_components`` TF-IDF/LSI dimensions (:mod:`minnet.lsi`).
        Above ``FEATURE_SELECTION_CELLS`` cells the features and the projection are fitted on
        a random sample of that many (``seed``) and the input is computed in blocks of cells,
        each as at embedding; ``adata`` may be backed (``read_h5ad(path, backed="r")``).
        ``progress`` shows a bar over the blocks. ``unpaired``: cells of the same modality
        without partners (the query-aware mode's query; raw counts in ``layer``, peaks mapped
        onto the training cells' by overlap); the LSI projection is fitted on them too (at
        most ``FEATURE_SELECTION_CELLS`` of them), other inputs ignore them.
        """
        options = {"layer": layer, "normalized": normalized, "annotation": annotation,
                   "gene_activity": gene_activity, "n_top_features": n_top_features,
                   "extra_features": extra_features, "max_value": max_value, "seed": seed,
                   "peak_input": peak_input, "n_lsi_components": n_lsi_components,
                   "unpaired": unpaired}
        n = adata.n_obs
        if n <= FEATURE_SELECTION_CELLS:  # fitted and computed on every cell at once
            return cls._fit_cells(rows_in_memory(adata, None), modality, batches, options)
        sample = _sample_rows(n, np.random.default_rng(seed))
        spec, _ = cls._fit_cells(rows_in_memory(adata, sample), modality,
                                 None if batches is None else batches[sample], options)
        logger.info("%s: features chosen on %d of %d cells", modality, sample.size, n)
        x = stack_rows(spec._input_blocks(adata, layer, normalized, progress),
                       len(spec.features))
        spec._fit_statistics(x)
        return spec, x

    @classmethod
    def _fit_cells(cls, adata: AnnData, modality: Modality, batches: np.ndarray | None,
                   options: dict[str, Any]) -> tuple[InputSpec, sp.csr_matrix]:
        """:meth:`fit` on cells held in memory, all of them at once."""
        layer, annotation = options["layer"], options["annotation"]
        ga = options["gene_activity"] if modality == "atac" else None
        params = None if ga is None else ga.as_dict()
        peaks = (modality == "atac" and not options["normalized"]
                 and looks_like_peaks(adata.var_names))
        peak_input, extra = options["peak_input"], options["extra_features"]
        if peaks and (peak_input == "lsi" or (peak_input == "auto" and annotation is None)):
            return cls._fit_lsi(adata, layer, options["n_lsi_components"], extra,
                                options["max_value"], options["seed"], options["unpaired"])
        from_peaks = peaks and annotation is not None
        x, names = modality_matrix(adata, modality, layer, options["normalized"], annotation,
                                   params, modality)
        if modality == "adt":
            feat = list(extra) if extra is not None else list(names)
            feat = [f for f in feat if f in set(names)]
        else:
            feat = select_features(x, names, options["n_top_features"], batches, extra)
        x = _feature_columns(x, names, feat)
        ann = None
        if annotation is not None and modality == "atac":
            ann = annotation[annotation["gene_name"].isin(set(feat))].reset_index(drop=True)
        spec = cls(modality, feat, None, float(options["max_value"]), ga, ann, from_peaks)
        spec._fit_statistics(x)
        return spec, x

    def _fit_statistics(self, x: sp.csr_matrix) -> None:
        """Each feature's mean and reference scaling over the training cells' input ``x``."""
        self.feature_means = column_means(x).tolist()
        ref = Standardizer.fit(x, None, self.max_value)
        self.scale_mean, self.scale_std = ref.mean[0].tolist(), ref.std[0].tolist()

    def _input_blocks(self, adata: AnnData, layer: str | None, normalized: bool,
                      progress: bool) -> Iterator[sp.csr_matrix]:
        """Model input of ``adata`` (in memory or backed), a block of cells at a time."""
        n, step = adata.n_obs, INPUT_BLOCK_CELLS
        with once_per_message():  # the blocks' checks and reports, once
            for start in tqdm(range(0, n, step), desc=f"{self.modality} input", unit="block",
                              disable=not progress, leave=False):
                block = rows_in_memory(adata, slice(start, min(start + step, n)))
                yield self.model_input(block, layer, normalized, what=f"{self.modality} data")[0]

    @classmethod
    def _fit_lsi(cls, adata: AnnData, layer: str | None, n_components: int,
                 extra_features: Sequence[str] | None, max_value: float, seed: int,
                 unpaired: AnnData | None = None) -> tuple[InputSpec, sp.csr_matrix]:
        """The spec of ATAC peaks used through their LSI projection (fitted on ``unpaired``'s
        cells too)."""
        if extra_features:
            raise MinNetInputError(
                "other_features names genes or proteins to keep, but these ATAC peaks are used "
                "through their LSI projection, which keeps every peak; leave other_features "
                "unset (or pass gene activity / annotation= to use genes).")
        counts = get_matrix(adata, layer)
        check_counts(counts, "atac peaks")
        peaks = list(adata.var_names)
        more = None if unpaired is None else _counts_on_peaks(_sampled(unpaired, seed), layer,
                                                              peaks)
        proj, x = PeakProjection.fit(counts, peaks, n_components, seed, more)
        spec = cls("atac", proj.feature_names, None, float(max_value), None, None, False,
                   peak_projection=proj)
        spec._fit_statistics(x)
        return spec, x

    # --- applying to any data of the modality ----------------------------------------------
    def normalized(
        self,
        adata: AnnData,
        layer: str | None = None,
        normalized: bool = False,
        annotation: pd.DataFrame | None = None,
        what: str | None = None,
        min_overlap: float = 0.3,
    ) -> tuple[sp.csr_matrix, pd.Index]:
        """Normalised matrix of ``adata`` and its feature names (peaks → gene activity first).

        ``annotation`` replaces the one stored in the spec for turning peaks into genes.
        Peaks of a model trained on their LSI projection are projected (``min_overlap``: the
        smallest fraction of the model's peaks the query's must overlap).
        """
        what = what or f"{self.modality} data"
        if self.peak_projection is not None:
            return (self._projected(adata, layer, normalized, what, min_overlap),
                    pd.Index(self.features))
        params = None if self.gene_activity is None else self.gene_activity.as_dict()
        ann = annotation if annotation is not None else self.annotation
        self._refuse_malformed_peaks(adata.var_names)
        x, names = modality_matrix(adata, self.modality, layer, normalized, ann, params, what)
        if (self.from_peaks and not looks_like_peaks(adata.var_names)
                and PEAK_TOTALS not in adata.obs.columns):
            logger.warning(
                "this model computed gene activity from peaks itself (%s); the gene activity "
                "given here was made another way, so its values differ. Pass the peaks, or "
                "minnet.pp.gene_activity(peaks, annotation, **model.config['gene_activity']).",
                ", ".join(f"{k}={v}" for k, v in (params or {}).items()))
        return x, names

    def _projected(self, adata: AnnData, layer: str | None, normalized: bool,
                   what: str, min_overlap: float = 0.3) -> sp.csr_matrix:
        """LSI coordinates of a query's peak counts (peaks mapped onto the model's)."""
        if normalized or not looks_like_peaks(adata.var_names):
            if pd.Index(adata.var_names[:200]).str.lower().str.startswith("chr").mean() > 0.5:
                self._refuse_malformed_peaks(adata.var_names)  # peaks with typos: say which
            raise MinNetInputError(
                f"this model reads ATAC peaks (raw counts, {self.peak_projection.peaks[0]}, "
                f"...); {what} holds {'normalised values' if normalized else 'other features'}"
                f" ({adata.var_names[0]}, ...). Pass the query's peak counts.")
        counts = get_matrix(adata, layer)
        check_counts(counts, what)
        return self.peak_projection.transform(counts, list(adata.var_names), min_overlap, what)

    def _refuse_malformed_peaks(self, var_names: pd.Index) -> None:
        """ATAC features that are neither the model's genes nor parsable peaks: say which.

        Peak names with a typo (a trailing space, start > end, ``peak_1``) do not look like
        peaks, so they would be taken for gene activity and fail as "shares only 0 of the
        model's features"; the peak parser names the bad peaks and the accepted formats.
        """
        if self.modality != "atac" or looks_like_peaks(var_names):
            return
        if pd.Index(self.features).isin(var_names).any():
            return  # gene activity
        from .genomics import parse_peak_names

        parse_peak_names(list(var_names))

    def align(self, x: sp.csr_matrix, names: Sequence[str], min_overlap: float = 0.3,
              what: str | None = None, from_peaks: bool = False) -> sp.csr_matrix:
        """Columns of ``x`` in the model's feature order; absent features are 0 (and reported).

        ``from_peaks``: ``x`` is gene activity just computed from the query's peaks, so genes
        without any peak near them point at peaks of another genome build.
        """
        what = what or f"{self.modality} data"
        if from_peaks:
            self._check_peak_coverage(names, min_overlap, what)
        aligned, _ = align_features(x, names, self.features, what, min_overlap)
        return aligned

    def model_input(self, adata: AnnData, layer: str | None = None, normalized: bool = False,
                    annotation: pd.DataFrame | None = None, min_overlap: float = 0.3,
                    what: str | None = None) -> tuple[sp.csr_matrix, pd.Index]:
        """``adata`` normalised and aligned to the model's features (not yet scaled), and the
        features it had before alignment (for the missing-feature and modality checks)."""
        x, names = self.normalized(adata, layer, normalized, annotation, what, min_overlap)
        return self.align(x, names, min_overlap, what,
                          from_peaks=self.from_peaks_of(adata.var_names)), pd.Index(names)

    def from_peaks_of(self, var_names: pd.Index) -> bool:
        """Whether data with these features are turned into gene activity by this spec."""
        return (self.modality == "atac" and self.peak_projection is None
                and looks_like_peaks(var_names))

    def _check_peak_coverage(self, genes: Sequence[str], min_overlap: float, what: str) -> None:
        """Say so when few of the model's genes have peaks near them: another genome build?"""
        covered = float(pd.Index(self.features).isin(pd.Index(genes)).mean())
        if covered >= 1.0 - PEAK_COVERAGE_SLACK:
            return
        message = (
            f"{what}: only {covered:.0%} of the model's {len(self.features)} genes have a query "
            "peak near them (the training peaks covered all). The peaks may come from another "
            "genome build (e.g. hg19 vs hg38) or another organism than the model's annotation: "
            "lift the peaks over to the model's build, or pass the matching annotation=.")
        if covered < min_overlap:
            raise MinNetInputError(message)
        logger.warning(message)

    def scaler(self, x: sp.csr_matrix, groups: np.ndarray | None = None,
               scaling: Scaling = "reference") -> Standardizer:
        """Standardisation of the model input ``x``.

        ``"reference"``: with the training cells' statistics, so each cell is scaled on its own
        (``groups`` is not used); ``"query"``: with the statistics of ``x`` itself, or of each
        of its ``groups`` — then a cell's input depends on the other cells of its group.
        """
        if scaling == "reference":
            if self.scale_mean is None:
                raise MinNetInputError(
                    "this model (minnet 0.1.0) stores no training statistics, so it can only "
                    "scale each query by its own: use scaling='query', or retrain the model.")
            return Standardizer.fixed(self.scale_mean, self.scale_std, x.shape[0],
                                      self.max_value)
        return Standardizer.fit(x, groups, self.max_value)

    # --- the model file ---------------------------------------------------------------------
    def config_entries(self) -> dict[str, Any]:
        """The spec's entries of the model's flat ``config`` (other modalities add none)."""
        if self.modality != "atac":
            return {}
        route = "peak_lsi" if self.peak_projection is not None else (
            "peaks" if self.from_peaks else None)
        return {"gene_activity": None if self.gene_activity is None
                else self.gene_activity.as_dict(), "atac_input": route}

    @classmethod
    def from_model_metadata(cls, modality: Modality, features: list[str],
                            feature_means: list[float] | None, config: dict,
                            annotation: pd.DataFrame | None,
                            scale: tuple[list[float], list[float]] | None = None) -> InputSpec:
        """Rebuild a stored spec from the model file's entries (files of 0.1.0 included).

        ``scale``: the training statistics (mean, std); files of 0.1.0 have none.
        An LSI peak input's projection is read from the file's tensors by
        :meth:`minnet.MinNetModel.load`, which sets ``peak_projection``.
        """
        ga = config.get("gene_activity") if modality == "atac" else None
        mean, std = scale if scale is not None else (None, None)
        return cls(
            modality, list(features),
            None if feature_means is None else [float(v) for v in feature_means],
            float(config.get("max_value", 10.0)),
            None if ga is None else GeneActivitySettings(**ga),
            annotation if modality == "atac" else None,
            modality == "atac" and config.get("atac_input") == "peaks",
            None if mean is None else [float(v) for v in mean],
            None if std is None else [float(v) for v in std],
        )


def _sampled(adata: AnnData | None, seed: int) -> AnnData | None:
    """``adata`` in memory, or a random ``FEATURE_SELECTION_CELLS`` of its cells if more."""
    if adata is None:
        return None
    if adata.n_obs <= FEATURE_SELECTION_CELLS:
        return rows_in_memory(adata, None)
    # a stream of its own: the training cells' sample stays the one drawn without a query
    return rows_in_memory(adata, _sample_rows(adata.n_obs, np.random.default_rng([seed, 1])))


def _sample_rows(n: int, rng: np.random.Generator) -> np.ndarray:
    """``FEATURE_SELECTION_CELLS`` distinct rows of ``n``, in increasing order."""
    return np.sort(rng.choice(n, FEATURE_SELECTION_CELLS, replace=False))


def _counts_on_peaks(adata: AnnData, layer: str | None, peaks: Sequence[str]) -> sp.csr_matrix:
    """Counts of ``adata``'s cells on ``peaks``, its own peaks mapped onto them by overlap."""
    counts = get_matrix(adata, layer)
    check_counts(counts, "unpaired atac peaks")
    mapping = map_peaks(list(adata.var_names), peaks)
    if mapping.identical:
        return to_csr_float32(counts)
    logger.info("unpaired atac cells: their peaks overlap %.0f%% of the training peaks",
                100 * mapping.model_peaks_covered)
    return mapped_counts(counts, mapping)[0]


def looks_like_peaks(var_names: Sequence[str]) -> bool:
    """True when the feature names parse as genomic regions (``chr1-100-200`` and friends)."""
    from .genomics import parse_peak_names

    sample = list(pd.Index(var_names)[:200])
    try:
        parse_peak_names(sample)
    except (MinNetInputError, ValueError):
        return False
    return True


def modality_matrix(
    adata: AnnData,
    modality: Modality,
    layer: str | None,
    normalized: bool,
    annotation: pd.DataFrame | None,
    gene_activity_params: dict | None,
    what: str,
) -> tuple[sp.csr_matrix, pd.Index]:
    """Normalised matrix and feature names of one modality.

    ATAC given as peaks is first turned into gene activity with ``annotation``.
    """
    if modality == "atac" and looks_like_peaks(adata.var_names):
        if normalized:
            raise MinNetInputError(
                f"{what} holds ATAC peaks, which must be raw counts to compute gene activity; "
                "pass the counts (normalized=False) or a gene-activity object."
            )
        if annotation is None:
            raise MinNetInputError(
                f"{what} holds ATAC peaks ({adata.var_names[0]}, ...) but no gene annotation is "
                "available to compute gene activity. Pass annotation= (gene_name, chrom, tss, "
                "strand), or compute it first with minnet.pp.gene_activity()."
            )
        from .pp._gene_activity import gene_activity

        params = gene_activity_params or {}
        act = gene_activity(adata, annotation, layer=layer, **params)
        logger.info("%s: gene activity of %d genes from %d peaks", what, act.n_vars, adata.n_vars)
        # normalised like any gene activity from pp.gene_activity (peak-count size factors),
        # in place: the activity matrix is this function's own
        own = sp.isspmatrix_csr(act.X) and act.X.dtype == np.float32
        x = act.X if own else to_csr_float32(act.X)
        return log_normalize_owned(x, totals=act.obs[PEAK_TOTALS].to_numpy()), act.var_names
    x = normalized_matrix(adata, modality, layer=layer, normalized=normalized, what=what)
    return x, adata.var_names


def _feature_columns(x: sp.csr_matrix, names: Sequence[str], feat: Sequence[str]) -> sp.csr_matrix:
    """The columns ``feat`` of ``x`` (whose columns are ``names``); ``x`` itself when they are
    all of them in order, so the whole matrix is not copied."""
    idx = pd.Index(names).get_indexer(feat)
    if idx.size == x.shape[1] and np.array_equal(idx, np.arange(idx.size)):
        return x
    return x[:, idx]
